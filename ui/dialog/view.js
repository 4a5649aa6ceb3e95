// Draws the dialog from the state of the request on screen: every text, every hidden and
// disabled follows from that one value (see dialog.js for its fields, phase.js for its phases).
// Focus is not drawn here: the step that changes the view moves it.

import { el } from './elements.js';
import { PHASES, isBusy, isDone, isSent } from './phase.js';
import { errorText, isFault, isSignedOut } from './errors.js';
import { renderExport } from './export.js';
import { renderBrowserWait } from './browser-step.js';
import { METHODS, PASSKEY_BY_OS, methodOf, credentialLabel } from '../methods.js';
import { setText } from '../dom.js';

/** The radios of the "Verify with" list, made when the list changes. */
let radios = [];

/** The chosen credential and its method (both undefined before a choice). */
export function chosen(state) {
  const credential = state.choices?.[state.choice];
  const method = credential && methodOf(credential);
  // This device's passkey, verified by the OS instead of a PIN (the backend said so).
  return { credential, method: method === METHODS.passkey && state.passkeyByOs ? PASSKEY_BY_OS : method };
}

/** Seconds until "Send code" may be pressed again (0: now). */
const resendWait = (state) => Math.max(0, Math.ceil((state.resendAt - Date.now()) / 1000));

/** Draws `state`; `previous` (or {}) says what is already drawn. */
export function render(state, previous = {}) {
  const { request, phase } = state;
  const { method } = chosen(state);
  const done = isDone(phase);
  const sent = Boolean(method?.send) && isSent(phase);

  el.dialog.dataset.requestId = String(request.id);
  el.dialog.dataset.phase = phase;
  if (done) el.dialog.dataset.result = 'approved'; else delete el.dialog.dataset.result;
  if (request !== previous.request) renderRequest(request);
  if (state.choices !== previous.choices) renderChoices(state);
  if (request !== previous.request || state.choice !== previous.choice) renderCodeInput(method?.code);

  // Number matching first: until the page's number is picked, no method, no code, no Verify.
  const locked = !state.matched;
  el.match.hidden = !request.matchChoices || state.matched || done || phase === PHASES.unavailable;
  for (const button of el.matchList.children) button.setAttribute('aria-disabled', String(!state.armed));
  el.unmatched.hidden = Boolean(request.matchChoices) || request.fromApp || done;

  el.methods.hidden = !state.choices || done || locked;
  el.methods.disabled = isBusy(phase);
  for (const radio of radios) radio.checked = Number(radio.value) === state.choice;
  // The chosen method alone until "Use a different method" (or when it is the only one).
  const collapsed = !state.expanded && state.choice >= 0 && radios.length > 1;
  for (const radio of radios) radio.parentElement.hidden = collapsed && !radio.checked;
  el.otherMethods.hidden = !collapsed;

  const wait = resendWait(state);
  el.sendRow.hidden = !method?.send || done || locked;
  el.send.disabled = wait > 0 || isBusy(phase);
  setText(el.send, wait > 0 ? `Resend in ${wait} s` : sent ? 'Resend code' : 'Send code');

  el.codeRow.hidden = !method?.code || done || locked || (Boolean(method.send) && !sent);
  el.code.readOnly = phase === PHASES.verifying;
  el.pinRow.hidden = !method?.pin || done || locked;
  el.pin.readOnly = phase === PHASES.verifying;
  if (request !== previous.request || state.choice !== previous.choice) el.pin.value = '';
  if (state.error?.code === 'wrong_pin') el.pin.setAttribute('aria-invalid', 'true'); else el.pin.removeAttribute('aria-invalid');
  if (state.codeInvalid) el.code.setAttribute('aria-invalid', 'true'); else el.code.removeAttribute('aria-invalid');

  // A wallet: the message in full, then the browser or the pasted signature.
  const wallet = Boolean(method?.wallet) && !done && !locked;
  el.walletRow.hidden = !wallet;
  const shown = wallet ? state.walletMessage : null;
  el.walletMessage.hidden = !shown;
  setText(el.walletMessage, shown?.message ?? '');
  setText(el.walletAddress, shown?.address ?? '');
  el.browserSign.disabled = isBusy(phase);
  el.browserSign.setAttribute('aria-disabled', String(!state.armed || !shown));
  el.pasteOpen.disabled = isBusy(phase);
  el.pasteOpen.setAttribute('aria-expanded', String(Boolean(state.pasting)));
  el.pasteRow.hidden = !wallet || !state.pasting;
  el.signature.readOnly = phase === PHASES.verifying;
  if (request !== previous.request || state.choice !== previous.choice) el.signature.value = '';
  const badSignature = ['invalid_input', 'wallet_signature_mismatch'].includes(state.error?.code) && state.pasting;
  if (badSignature) el.signature.setAttribute('aria-invalid', 'true'); else el.signature.removeAttribute('aria-invalid');
  renderBrowserWait(state, method?.browser);

  el.submit.hidden = done || locked || phase === PHASES.unavailable || (Boolean(method?.wallet) && !state.pasting);
  const approving = !(method?.send && !sent);
  el.submit.disabled = !method || isBusy(phase);
  // Focusable but inert until the request could be read (submit() ignores it until then).
  el.submit.setAttribute('aria-disabled', String(approving && !state.armed));
  el.dialog.dataset.armed = String(Boolean(state.armed));
  setText(el.submit, method?.send && !sent ? 'Send code' : method?.verify.submit ?? 'Verify');
  setText(el.cancel, done ? 'Close' : 'Cancel');
  el.deny.hidden = done;
  // Could not ask the server (offline, timed out, its error): say so and offer to ask again.
  el.retry.hidden = !(phase === PHASES.unavailable && isFault(state.error));
  // The session ended (a 401, or signed out meanwhile): the way on is to sign in again.
  el.signIn.hidden = !(state.error && isSignedOut(state.error));

  const progress = progressText(phase, method);
  el.progress.hidden = !progress;
  setText(el.progressText, progress);
  el.dialog.setAttribute('aria-busy', progress ? 'true' : 'false');

  setText(el.status, statusText(state, method, sent));
  setText(el.error, state.error ? errorText(state.error) : '');
  if (state.error) el.error.dataset.code = state.error.code; else delete el.error.dataset.code;

  el.wallet.hidden = !state.walletAddress || done;
  setText(el.wallet, state.walletAddress ? `Wallet to export: ${state.walletAddress}` : '');

  el.done.hidden = !done;
  setText(el.doneText, state.doneText);
  renderExport(state);
}

/** Who asks, for what, and where the user goes back to. */
function renderRequest(request) {
  const who = document.createElement('strong');
  who.textContent = request.requester;
  // A link names whoever it likes: its requester is shown as a claim, never as fact.
  // …unless its link was signed by the key registered for that name.
  const claim = request.fromApp || request.verified ? [] : ['A link that names itself '];
  const from = request.origin ? ` (${request.origin})` : '';
  el.purpose.replaceChildren(...claim, who, `${from} asks to ${request.actionText}.`);
  el.verified.hidden = !request.verified;
  el.verified.textContent = request.verified ? `✓ Verified: this request is signed with the key registered for ${request.requester}.` : '';
  el.matchLegend.textContent = `Which number does ${request.requester} show you now?`;
  el.matchList.replaceChildren(...(request.matchChoices ?? []).map((n) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary match-number';
    button.textContent = String(n).padStart(2, '0');
    button.dataset.number = String(n);
    return button;
  }));
  el.unmatched.textContent = 'This request has no number to compare with the page that sent it: approve it only if you just asked for it.';
  // The scope in words (its code is for tests and tools, never shown or read out).
  el.scope.textContent = request.actionText;
  el.scope.dataset.scope = request.scope;
  el.returnTo.textContent = request.returnTo ? `Afterwards you can go back to ${new URL(request.returnTo).origin}.` : '';
}

/** The "Verify with" list; a credential this app cannot verify with is listed, disabled. */
function renderChoices({ choices, defaultId }) {
  const labels = (choices ?? []).map((credential, i) => {
    const radio = document.createElement('input');
    radio.type = 'radio';
    radio.name = 'dlg-method';
    radio.value = String(i);
    radio.id = `dlg-method-${i}`;
    radio.dataset.method = credential.method;
    radio.dataset.credentialId = credential.id;
    radio.disabled = !methodOf(credential);
    const label = document.createElement('label');
    if (radio.disabled) label.classList.add('unsupported');
    const text = document.createElement('span');
    text.textContent = credentialLabel(credential) + (credential.id && credential.id === defaultId ? ', your default' : '');
    label.append(radio, text);
    return label;
  });
  radios = labels.map((label) => label.firstChild);
  el.methodList.replaceChildren(...labels);
}

/** The code field for a method's code (emptied: a new choice starts over). */
function renderCodeInput(code) {
  el.code.value = '';
  if (!code) return;
  if (code.length) {
    el.code.maxLength = code.length;
    el.code.setAttribute('pattern', `[0-9]{${code.length}}`);
  } else {
    el.code.removeAttribute('maxlength');
    el.code.removeAttribute('pattern');
  }
  el.code.classList.toggle('code-input', Boolean(code.length));
  el.code.inputMode = code.inputMode;
  el.codeLabel.textContent = code.label;
  el.codeHint.textContent = code.hint;
}

/** What the spinner says while a command is on its way ('' when none is). */
function progressText(phase, method) {
  switch (phase) {
    case PHASES.checking: return 'Checking what is needed…';
    case PHASES.sending:
    case PHASES.resending: return method.send.progress;
    case PHASES.preparing: return method.message.progress;
    case PHASES.browser: return method.browser.progress;
    case PHASES.verifying: return method.verify.progress ?? 'Verifying…';
    case PHASES.exporting: return 'Exporting the private key…';
    default: return '';
  }
}

/** The status line: what to do now with the chosen method. */
function statusText(state, method, sent) {
  if (!method || isDone(state.phase)) return '';
  if (state.note) return state.note;
  if (sent) return `Code sent${state.sentTo ? ` to ${state.sentTo}` : ''}. Type it below.`;
  return method.prompt?.(state.request) ?? '';
}
