// The step of a method whose code the user types: "Send code" (and its resend timer) for a
// method that sends one, the code field (digits only, pasted with spaces or not, verified by
// itself once complete), and its verification.

import { call } from '../ipc.js';
import { el } from './elements.js';
import { PHASES, isBusy } from './phase.js';
import { needsNewCode } from './errors.js';
import { chosen } from './view.js';

/** Seconds before "Send code" may be pressed again when the backend does not say. */
const DEFAULT_RESEND_SECONDS = 30;

/** Redraws "Resend in N s" every second while the wait lasts. */
let resendTicker = null;

/** Sends a code (again) with the chosen method. */
export async function sendCode(dialog) {
  const state = dialog.state;
  const { credential, method } = chosen(state ?? {});
  if (!method?.send || isBusy(state.phase) || state.resendAt > Date.now()) return;
  const { request } = state;
  const before = state.phase;
  dialog.update({ phase: before === PHASES.ready ? PHASES.sending : PHASES.resending, error: null });
  try {
    const sent = await call(method.send.command, { requestId: request.id, credentialId: credential.id });
    if (!dialog.showing(request)) return;
    const wait = sent.resendAfterSeconds ?? DEFAULT_RESEND_SECONDS;
    dialog.update({ phase: PHASES.codeSent, sentTo: sent.destination ?? '', resendAt: Date.now() + wait * 1000 });
    tickUntilResend(dialog);
    dialog.hooks.onCodeSent();
    el.code.focus();
  } catch (error) {
    if (dialog.showing(request)) dialog.update({ phase: before, error });
  }
}

function tickUntilResend(dialog) {
  clearInterval(resendTicker);
  resendTicker = setInterval(() => {
    const state = dialog.state;
    if (!state || state.resendAt <= Date.now()) {
      clearInterval(resendTicker);
      resendTicker = null;
    }
    if (state) dialog.update({});
  }, 1000);
}

/** The code the method wants is typed in full (all its digits, or anything for a free one). */
function isComplete(code, typed) {
  return code.length ? new RegExp(`^\\d{${code.length}}$`).test(typed) : typed.length > 0;
}

/** Verifies the typed code; a used-up or expired code goes back to "Send code". */
export async function verifyCode(dialog) {
  const { request } = dialog.state;
  const { method } = chosen(dialog.state);
  const typed = el.code.value.trim();
  if (!isComplete(method.code, typed)) {
    dialog.update({ error: { code: 'invalid_input', message: method.code.missing } });
    el.code.focus();
    return;
  }
  const error = await dialog.verify({ code: typed });
  if (!error || !dialog.showing(request)) return;
  if (method.send && needsNewCode(error)) {
    el.code.value = '';
    dialog.update({ phase: PHASES.ready, resendAt: 0 });
    el.send.focus();
  } else {
    dialog.update({ codeInvalid: true });
    el.code.focus();
    el.code.select();
  }
}

/** Typing: digits only, up to the length; the last digit verifies. */
export function onCodeInput(dialog) {
  const state = dialog.state;
  const { method } = chosen(state ?? {});
  if (!method?.code?.length) return;
  const digits = el.code.value.replace(/\D/g, '').slice(0, method.code.length);
  if (digits !== el.code.value) el.code.value = digits;
  if (state.codeInvalid) dialog.update({ codeInvalid: false });
  const waiting = method.send ? PHASES.codeSent : PHASES.ready;
  if (digits.length === method.code.length && state.phase === waiting) verifyCode(dialog);
}

/** Pasting "123 456": maxlength would cut it to "123 4", so the digits are kept here. */
export function onCodePaste(dialog, event) {
  const { method } = chosen(dialog.state ?? {});
  if (!method?.code?.length) return;
  event.preventDefault();
  el.code.value = (event.clipboardData?.getData('text') ?? '').replace(/\D/g, '').slice(0, method.code.length);
  onCodeInput(dialog);
}
