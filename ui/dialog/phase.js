// Where the request on screen is: one value, from which the view follows.
//
//   checking ─┬─ unavailable                        (no way to verify, or the check failed)
//             ├─ ready ─ verifying ─ approved        (a method that needs no code sent)
//             ├─ ready ─ sending ─ code-sent ⇄ resending
//             │                     └─ verifying ─ approved
//             └─ approved                           (nothing to verify)
//             ├─ ready ─ preparing ─ ready ─┬─ browser ─ approved   (a wallet: the message first,
//             │                             └─ verifying ─ approved   then the browser, or pasted)
//   approved ─ exporting ─ exported | export-refused (after a wallet:export approval)
//
// A failed step goes back to where it started (`verifying` → `ready` or `code-sent`; a code that
// is used up or expired → `ready`, to send a new one).

export const PHASES = Object.freeze({
  /** begin_step_up is on its way. */
  checking: 'checking',
  /** The request cannot be verified here: only Cancel is left. */
  unavailable: 'unavailable',
  /** A method is chosen; for a method that sends a code, none is sent yet. */
  ready: 'ready',
  /** The first code is being sent. */
  sending: 'sending',
  /** A code was sent and waits to be typed. */
  codeSent: 'code-sent',
  /** Another code is being sent; the one sent before may still be typed. */
  resending: 'resending',
  /** The message a wallet signs is being made (a nonce from the server). */
  preparing: 'preparing',
  /** A page in the system browser waits for the user (the wallet page). */
  browser: 'browser',
  /** The verify command is on its way. */
  verifying: 'verifying',
  /** Verified (or nothing to verify): the request is approved. */
  approved: 'approved',
  /** export_private_key is on its way. */
  exporting: 'exporting',
  /** The key was exported; it is shown only on "Show key". */
  exported: 'exported',
  /** The approval was spent or expired: "Verify again". */
  exportRefused: 'export-refused',
});

const BUSY = new Set([PHASES.checking, PHASES.sending, PHASES.resending, PHASES.preparing, PHASES.browser, PHASES.verifying, PHASES.exporting]);
const DONE = new Set([PHASES.approved, PHASES.exporting, PHASES.exported, PHASES.exportRefused]);
const SENT = new Set([PHASES.codeSent, PHASES.resending, PHASES.verifying]);

/** A command is on its way: the user waits. */
export const isBusy = (phase) => BUSY.has(phase);
/** The request is approved: what is left is the export, if any, and Close. */
export const isDone = (phase) => DONE.has(phase);
/** For a method that sends a code: one was sent (`verifying` is reached only after that). */
export const isSent = (phase) => SENT.has(phase);
