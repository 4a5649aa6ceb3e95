// The step-up dialog: who asks and for what, the credentials, the chosen method's step. One
// request at a time; later ones wait in a queue. Nothing here approves by itself: every approval
// needs a code the user typed (or the passkey click), checked by the server.
//
// Layout: phase.js (where a request is), view.js (draws a state), code-step.js,
// passkey-step.js, wallet-step.js and social-step.js (the methods' steps; methods.js says which runs),
// browser-step.js ("continue in your browser": progress, open again, stop), export.js and reveal.js
// (after a wallet:export approval), errors.js (what a failure says), elements.js.

import { call } from '../ipc.js';
import { clockTime, remaining } from '../format.js';
import { choicesFor, methodOf, stepArgs } from '../methods.js';
import { el } from './elements.js';
import { PHASES, isBusy, isDone } from './phase.js';
import { isSignedOut } from './errors.js';
import { render, chosen } from './view.js';
import { sendCode, verifyCode, onCodeInput, onCodePaste } from './code-step.js';
import { verifyPasskey } from './passkey-step.js';
import { prepareWallet, signInBrowser, togglePaste, verifyPasted } from './wallet-step.js';
import { openPageAgain, stopWaiting } from './browser-step.js';
import { continueSocial } from './social-step.js';
import { exportKey, verifyAgain, renderExport } from './export.js';
import { KeyReveal } from './reveal.js';

/** A request must be on screen this long before it can be approved (the backend refuses
 * earlier approvals: `MIN_SHOWN_MS`, 800 ms, counted from begin_step_up; a little more here). */
const READ_GUARD_MS = 900;

/** The state of a request just put on screen. */
const opened = (request) => ({
  /** The request on screen (from a deep link or the app itself). */
  request,
  /** Where it is: one of PHASES. */
  phase: PHASES.checking,
  /** The "Verify with" list (null until begin_step_up answers, or when there is none). */
  choices: null,
  /** The index of the chosen credential in `choices` (-1: none). */
  choice: -1,
  /** The server's default credential, marked ", your default". */
  defaultId: null,
  /** Where the code went, as the backend says it ('' when it does not). */
  sentTo: '',
  /** When "Send code" may be pressed again (ms since the epoch; 0: now). */
  resendAt: 0,
  /** The server refused the typed code. */
  codeInvalid: false,
  /** The last failure, `{code, message}`, or null. */
  error: null,
  /** What the approval allows, once approved. */
  doneText: '',
  /** The export offer of an approved wallet:export request, or null. */
  offer: null,
  /** The wallet address the export answered with. */
  wallet: null,
  /** The request has been on screen for READ_GUARD_MS: a verification may be submitted. */
  armed: false,
  /** For wallet:export: the wallet that would be exported, said before verifying. */
  walletAddress: null,
  /** When the approval on screen expires (unix ms), for the live countdown. */
  expiresAtMs: null,
  /** The whole "Verify with" list is shown (else the chosen method alone, with "Use a
   * different method"). */
  expanded: false,
  /** Number matching: the page's number was picked (true at once when there is none). */
  matched: !request.matchChoices,
  /** For a wallet: the message it signs, `{credentialId, address, message}`, once made. */
  walletMessage: null,
  /** For a wallet: the "Paste a signature" field is open. */
  pasting: false,
  /** A line for the status after a step stopped without an error ("Stopped waiting…"). */
  note: '',
});

export class StepUpDialog {
  /** @param {{onFinished: () => void, onSignedOut: () => void, onCodeSent: () => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    /** Requests waiting for the one on screen to close. */
    this.queue = [];
    /** The request on screen and where it is (see `opened`), or null when closed. */
    this.state = null;
    this.reveal = new KeyReveal();

    el.form.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    // The server's confirmation (and the passkey the OS verifies) needs nothing typed: only a
    // press of "Approve" ("Verify with passkey") itself (a pointer click, or Enter/Space on
    // the focused button) starts it, never the Enter of an implicit submission from another
    // control (its synthetic click has no detail and the focus elsewhere).
    el.submit.addEventListener('click', (e) => { this.deliberate = e.detail > 0 || document.activeElement === el.submit; });
    el.cancel.addEventListener('click', () => this.cancel());
    el.deny.addEventListener('click', () => this.deny());
    el.retry.addEventListener('click', () => { if (this.state) this.open(this.state.request); });
    el.signIn.addEventListener('click', async () => {
      await this.cancel();
      this.hooks.onSignedOut();
      document.getElementById('signin-email')?.focus();
    });
    // Esc: the dialog's cancel event. Handle it ourselves so the backend hears about it.
    el.dialog.addEventListener('cancel', (e) => { e.preventDefault(); this.cancel(); });
    el.methodList.addEventListener('change', (e) => {
      if (e.target.name === 'dlg-method') this.choose(Number(e.target.value));
    });
    el.send.addEventListener('click', () => sendCode(this));
    el.code.addEventListener('input', () => onCodeInput(this));
    el.code.addEventListener('paste', (e) => onCodePaste(this, e));
    el.exportGo.addEventListener('click', () => exportKey(this, this.reveal));
    el.keyShow.addEventListener('click', () => this.reveal.toggle());
    el.keyCopy.addEventListener('click', () => this.reveal.copy());
    el.exportAgain.addEventListener('click', () => verifyAgain(this));
    el.browserSign.addEventListener('click', () => signInBrowser(this));
    el.pasteOpen.addEventListener('click', () => togglePaste(this));
    el.signature.addEventListener('input', () => { if (this.state?.error) this.update({ error: null }); });
    el.browserAgain.addEventListener('click', () => openPageAgain(this));
    el.browserStop.addEventListener('click', () => stopWaiting(this));
    setInterval(() => this.tickExpiry(), 1000);
    el.otherMethods.addEventListener('click', () => {
      if (!this.state) return;
      this.update({ expanded: true });
      el.methodList.querySelector('input[name=dlg-method]:checked')?.focus();
    });
    el.matchList.addEventListener('click', (e) => {
      const number = e.target.closest?.('button[data-number]')?.dataset.number;
      if (number !== undefined) this.pickNumber(Number(number));
    });
  }

  /** Queues a request; shows it at once when no other is on screen. */
  enqueue(request) {
    this.queue.push(request);
    if (!this.state) this.next();
    this.renderQueue();
  }

  /** "1 more request waiting": the requests behind the one on screen. */
  renderQueue() {
    const n = this.queue.length;
    el.queue.hidden = n === 0;
    el.queue.textContent = n === 1 ? '1 more request is waiting after this one.' : n > 1 ? `${n} more requests are waiting after this one.` : '';
  }

  /** True while a request is on screen. */
  get isOpen() { return Boolean(this.state); }

  /** True while `request` is the one on screen (an answer for another one is dropped). */
  showing(request) { return this.state?.request === request; }

  /** Changes the state of the request on screen and draws it. */
  update(change) {
    const previous = this.state;
    this.state = { ...previous, ...change };
    render(this.state, previous ?? {});
  }

  next() {
    const request = this.queue.shift();
    this.renderQueue();
    if (request) this.open(request);
  }

  /** Puts `request` on screen, in place of the one there if any ("Verify again" does). */
  async open(request) {
    this.reveal.wipe();
    this.state = null;
    this.update(opened(request));
    if (!el.dialog.open) {
      // Where the focus goes back when the dialog closes (not the body: Tab would do nothing).
      const active = document.activeElement;
      this.returnFocus = active && active !== document.body && !el.dialog.contains(active) ? active : null;
      el.dialog.showModal();
    }
    // On the title while it checks (nothing that approves has the focus); the step's first
    // control gets it when the methods come, unless the user moved it meanwhile.
    el.title.focus();
    try {
      const check = await call('begin_step_up', { requestId: request.id });
      if (!this.showing(request)) return;
      // A stray Enter or click right after the dialog appeared approves nothing.
      setTimeout(() => { if (this.showing(request)) this.update({ armed: true }); }, READ_GUARD_MS);
      this.update({ walletAddress: check.export?.walletAddress ?? null, expiresAtMs: check.validUntilMs ?? null });
      if (!check.isRequired) {
        this.finish(check.validUntilMs
          ? `No new verification needed: you already allowed ${request.requester} this until ${clockTime(check.validUntilMs)}.`
          : 'No verification is needed for this.', check.export ?? null);
        return;
      }
      const choices = choicesFor(check.credentials, check.recoveryCodes !== false);
      if (choices.length === 0) {
        this.update({ phase: PHASES.unavailable, error: { code: 'no_credentials', message: 'Your account has no way to verify this action: add a verification method first.' } });
        el.title.focus();
        return;
      }
      if (check.serverConfirmationRefused) {
        this.update({ note: `This link carried a confirmation from your app’s server, and it was not accepted (${check.serverConfirmationRefused}). Verify yourself instead.` });
      }
      const supported = choices.filter(methodOf);
      const preferred = supported.find((c) => c.id === check.defaultCredentialId) ?? supported[0];
      this.update({
        phase: preferred ? PHASES.ready : PHASES.unavailable,
        choices,
        choice: choices.indexOf(preferred),
        defaultId: check.defaultCredentialId,
        passkeyByOs: Boolean(check.passkeyByOs),
      });
      // The methods may arrive late: the focus moves only if the user has not moved it.
      const untouched = [el.title, document.body, null].includes(document.activeElement);
      if (untouched) this.focusStep();
      prepareWallet(this);
    } catch (error) {
      if (!this.showing(request)) return;
      this.update({ phase: PHASES.unavailable, error });
      el.title.focus();
      if (isSignedOut(error)) this.hooks.onSignedOut();
    }
  }

  /** Number matching: the user picked `number`. Too early (the read guard) counts for nothing;
   * the page's number unlocks the methods; another ends the request, refused. */
  async pickNumber(number) {
    const state = this.state;
    if (!state || state.matched || !state.armed || isBusy(state.phase)) return;
    const { request } = state;
    try {
      const matched = await call('match_number', { requestId: request.id, number });
      if (!this.showing(request)) return;
      if (matched) {
        this.update({ matched: true });
        this.focusStep();
        prepareWallet(this);
      } else {
        this.update({ phase: PHASES.unavailable, error: { code: 'number_mismatch', message: `That is not the number ${request.requester} shows: the request was refused and nothing was approved. If you did not ask for it, someone else may be trying to.` } });
        el.title.focus();
        this.hooks.onFinished();
      }
    } catch (error) {
      if (this.showing(request)) this.update({ error });
    }
  }

  /** Another method from the list: its step starts over. */
  choose(index) {
    const state = this.state;
    if (!state || isBusy(state.phase) || isDone(state.phase) || !methodOf(state.choices[index] ?? {})) return;
    this.update({ phase: PHASES.ready, choice: index, expanded: true, sentTo: '', resendAt: 0, codeInvalid: false, error: null, pasting: false, note: '' });
    prepareWallet(this);
  }

  /** Focus to the first control of the chosen method's step, only when the dialog opens: a
   * keyboard user arrowing through the methods keeps the focus in the list. */
  focusStep() {
    const { method } = chosen(this.state);
    // With a number to match, nothing is preselected for the keyboard: the user picks.
    if (!method || !this.state.matched) el.title.focus();
    // Nothing to type (the server's confirmation, the passkey the OS verifies): the focus
    // stays on the title, so that approving takes a move to the button first.
    else if (method.deliberate) el.title.focus();
    else (method.send ? el.send : method.code ? el.code : method.pin ? el.pin : method.wallet ? el.browserSign : el.submit).focus();
  }

  /** Enter: close when done, send the code when one is needed and not sent yet, else verify. */
  submit() {
    const state = this.state;
    if (!state || isBusy(state.phase)) return;
    if (isDone(state.phase)) { this.close(); return; }
    const { method } = chosen(state);
    if (!method) return;
    if (method.send && state.phase === PHASES.ready) sendCode(this);
    else if (!state.armed) return; // too soon to approve: the submit button says so
    else if (method.wallet) { if (state.pasting) verifyPasted(this); }
    else if (method.social) continueSocial(this);
    else if (method.deliberate && !this.takeDeliberate()) this.update({ note: method.deliberate });
    else if (method.confirm) this.verify({});
    else if (method.code) verifyCode(this);
    else verifyPasskey(this);
  }

  /** Whether the submission being handled is a press of the submit button itself; read once. */
  takeDeliberate() {
    const deliberate = this.deliberate;
    this.deliberate = false;
    return deliberate;
  }

  /** Runs the chosen method's verify command (or `step`, another command that ends in an
   * approval: the browser wallet's) with what the step adds (`{code}`); resolves to the error,
   * after drawing it, or to null once approved. */
  async verify(typed, step) {
    const { request, phase } = this.state;
    const { credential, method } = chosen(this.state);
    const run = step ?? method.verify;
    this.update({ phase: run === method.verify ? PHASES.verifying : PHASES.browser, error: null, note: '' });
    try {
      const args = stepArgs(run, { requestId: request.id, credentialId: credential.id, ...typed });
      const verified = await call(run.command, args);
      if (this.showing(request)) {
        this.update({ expiresAtMs: verified.expiresAtMs });
        this.finish(`Verified. ${request.requester} may now ${request.actionText}, until ${clockTime(verified.expiresAtMs)}.`,
          verified.export ?? null);
      }
      return null;
    } catch (error) {
      if (!this.showing(request)) return error;
      this.update({ phase, error });
      if (isSignedOut(error)) this.hooks.onSignedOut();
      return error;
    }
  }

  /** Approved: what it allows, the export offer if any; focus to the done view's heading. */
  finish(text, offer) {
    const { request } = this.state;
    const { returnTo } = request;
    const back = returnTo
      ? request.scope === 'wallet:export' && offer
        ? ` Your browser takes you back to ${new URL(returnTo).origin} after the export.`
        : ` Your browser takes you back to ${new URL(returnTo).origin}.`
      : '';
    this.update({ phase: PHASES.approved, doneText: text + back, offer, resendAt: 0 });
    this.tickExpiry();
    el.doneTitle.focus();
    this.hooks.onFinished();
  }

  /** The done view's "Expires in …", redrawn every second while an approval is on screen. */
  tickExpiry() {
    const state = this.state;
    const at = state && isDone(state.phase) ? state.expiresAtMs : null;
    el.expires.textContent = at ? (at > Date.now() ? `Expires in ${remaining(at - Date.now())}.` : 'This approval has expired.') : '';
  }

  async cancel() {
    const state = this.state;
    if (!state) return;
    if (!isDone(state.phase)) {
      try { await call('cancel_step_up', { requestId: state.request.id }); } catch { /* the dialog closes either way */ }
    }
    if (this.showing(state.request)) this.close();
  }

  /** "I didn't ask for this": the request ends as denied, reported in the history. */
  async deny() {
    const state = this.state;
    if (!state || isDone(state.phase)) return;
    try { await call('deny_step_up', { requestId: state.request.id }); } catch { /* closed either way */ }
    if (this.showing(state.request)) this.close();
  }

  close() {
    this.reveal.wipe();
    el.pin.value = '';
    el.signature.value = '';
    renderExport({ offer: null });
    this.state = null;
    delete el.dialog.dataset.requestId;
    delete el.dialog.dataset.result;
    el.dialog.close();
    this.hooks.onFinished();
    this.next();
    if (!this.state) this.restoreFocus();
  }

  /** After the last close: back where the user was, else the history (where the request
   * just ended is listed). */
  restoreFocus() {
    const back = this.returnFocus;
    this.returnFocus = null;
    const visible = back?.isConnected && !back.closest('[hidden]') && !back.disabled;
    (visible ? back : document.getElementById('history-title') ?? document.body).focus();
  }
}
