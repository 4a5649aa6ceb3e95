// The step of an external wallet: the exact message it signs, shown in full (made by the
// backend with a fresh nonce as soon as the wallet is chosen), then one of two ways to sign it:
// "Sign in your browser wallet" (a page in the system browser, see browser-step.js) or "Paste
// a signature" made elsewhere (checked by the backend: 65 bytes of hex, by the chosen wallet).
// Nothing is signed by itself: each way starts with the user's press, after the read guard.

import { call } from '../ipc.js';
import { el } from './elements.js';
import { PHASES, isBusy } from './phase.js';
import { chosen } from './view.js';
import { continueInBrowser } from './browser-step.js';

/** Failures decided before anything reached the server: the message shown is still the one
 * to sign. After any other, the backend dropped it (its nonce was spent) and a new one is made. */
const KEEPS_MESSAGE = new Set(['wallet_signature_mismatch', 'invalid_input', 'cancelled', 'wallet_refused',
  'approved_too_soon', 'request_not_shown', 'number_not_matched', 'not_signed_in', 'unauthorized']);

/** Makes the message for the chosen wallet when it has none yet (or one for another wallet). */
export async function prepareWallet(dialog) {
  const state = dialog.state;
  const { credential, method } = chosen(state ?? {});
  if (!method?.wallet || !state.matched || state.phase !== PHASES.ready || state.walletMessage?.credentialId === credential.id) return;
  const { request } = state;
  dialog.update({ phase: PHASES.preparing, walletMessage: null });
  try {
    const shown = await call(method.message.command, { requestId: request.id, credentialId: credential.id });
    if (!dialog.showing(request) || chosen(dialog.state).credential !== credential) return;
    dialog.update({ phase: PHASES.ready, walletMessage: { credentialId: credential.id, address: shown.address, message: shown.message } });
  } catch (error) {
    if (dialog.showing(request)) dialog.update({ phase: PHASES.ready, error });
  }
}

/** "Sign in your browser wallet". */
export async function signInBrowser(dialog) {
  const state = dialog.state;
  const { method } = chosen(state ?? {});
  if (!method?.wallet || isBusy(state.phase) || !state.armed) return;
  if (!state.walletMessage) { prepareWallet(dialog); return; }
  const { request } = state;
  const error = await continueInBrowser(dialog, method.browser);
  afterFailure(dialog, request, error);
  if (error && dialog.showing(request)) { el.browserSign.focus(); el.error.scrollIntoView({ block: 'nearest' }); }
}

/** "Paste a signature": opens (or closes) the field. */
export function togglePaste(dialog) {
  const state = dialog.state;
  if (!state || isBusy(state.phase)) return;
  const pasting = !state.pasting;
  dialog.update({ pasting });
  (pasting ? el.signature : el.pasteOpen).focus();
}

/** Verifies the pasted signature (the backend checks it is 65 bytes of hex first). */
export async function verifyPasted(dialog) {
  const state = dialog.state;
  const { method } = chosen(state);
  if (!state.walletMessage) { prepareWallet(dialog); return; }
  const typed = el.signature.value.trim();
  if (!typed) {
    dialog.update({ error: { code: 'invalid_input', message: method.verify.missing } });
    el.signature.focus();
    return;
  }
  const { request } = state;
  const error = await dialog.verify({ signature: typed });
  afterFailure(dialog, request, error);
  if (error && dialog.showing(request)) { el.signature.focus(); el.signature.select(); el.error.scrollIntoView({ block: 'nearest' }); }
}

function afterFailure(dialog, request, error) {
  if (!error || !dialog.showing(request)) return;
  if (error.code === 'cancelled') dialog.update({ error: null, note: 'Stopped waiting for the browser. Sign again, or paste a signature.' });
  if (!KEEPS_MESSAGE.has(error.code)) {
    dialog.update({ walletMessage: null });
    prepareWallet(dialog);
  }
}
