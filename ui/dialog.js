// The step-up dialog: who asks and for what, the credentials, the chosen method's step.
// One request at a time; later ones wait in a queue. Nothing here approves by itself: every
// approval needs a code the user typed, checked by the server.

import { call } from './ipc.js';
import { credentialLabel, remaining, clockTime, shortAddress } from './format.js';

const $ = (id) => document.getElementById(id);

/** Methods whose step is "type a 6-digit code". */
const SIX_DIGITS = new Set(['totp', 'email_otp', 'sms_otp']);
/** Methods with no code to type: the Verify click is the user's confirmation. */
const NO_CODE = new Set(['passkey']);
/** Methods that need "send code" first. */
const SENT_CODE = new Set(['email_otp', 'sms_otp']);
/** Seconds before "send code" may be pressed again when the backend does not say. */
const DEFAULT_RESEND_SECONDS = 30;
/** What the key field shows until "Show key": never derived from the key (not even its length). */
const KEY_MASK = '•'.repeat(32);
/** The clipboard is cleared this long after "Copy", if it still holds the key. */
const CLIPBOARD_CLEAR_MS = 30_000;

/** What the user should do, per error code, beyond the backend's own sentence. */
const ERROR_HINTS = {
  invalid_otp: 'Type the code your authenticator shows now.',
  wrong_code: null,
  too_many_attempts: 'Send a new code to try again.',
  verification_expired: 'Send a new code to try again.',
  rate_limited: null,
  network_error: 'Press Verify to try again when you are back online.',
  timed_out: 'Press Verify to try again.',
  passkey_timed_out: null,
  keychain_locked: 'Unlock your keyring (e.g. GNOME Keyring), then verify again.',
  keychain_unavailable: 'Start your keyring (e.g. GNOME Keyring), then verify again.',
  keychain_timed_out: 'Unlock or restart your keyring, then verify again.',
};

export class StepUpDialog {
  /** @param {{onFinished: () => void, onSignedOut: () => void, onCodeSent: () => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.queue = [];
    this.current = null; // {request, check, method, credentialId, sent, busy, done}
    this.resendTimer = null;
    this.dialog = $('stepup-dialog');
    this.code = $('dlg-code');

    $('dlg-form').addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    $('dlg-cancel').addEventListener('click', () => this.cancel());
    // Esc: the dialog's cancel event. Handle it ourselves so the backend hears about it.
    this.dialog.addEventListener('cancel', (e) => { e.preventDefault(); this.cancel(); });
    $('dlg-send').addEventListener('click', () => this.send());
    this.code.addEventListener('input', () => this.onCodeInput());
    this.code.addEventListener('paste', (e) => this.onPaste(e));
    $('dlg-method-list').addEventListener('change', (e) => {
      if (e.target.name === 'dlg-method') this.choose(e.target.value);
    });
    // The export after an approved wallet:export request. The key lives only in `this.secret`
    // and, after "Show key", in the key field; both are wiped on Hide (the field) and on close.
    this.secret = null; // {address, privateKey} once exported
    this.clipboardTimer = null;
    $('dlg-export-go').addEventListener('click', () => this.exportKey());
    $('dlg-key-show').addEventListener('click', () => this.toggleKey());
    $('dlg-key-copy').addEventListener('click', () => this.copyKey());
    $('dlg-export-again').addEventListener('click', () => this.verifyAgain());
  }

  /** Queues a request; shows it at once when no other dialog is open. */
  enqueue(request) {
    this.queue.push(request);
    if (!this.current) this.next();
  }

  /** True while a request is on screen. */
  get isOpen() { return Boolean(this.current); }

  async next() {
    const request = this.queue.shift();
    if (!request) return;
    this.current = { request, check: null, method: null, credentialId: null, sent: false, busy: false, done: false };
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
    this.dialog.dataset.requestId = String(request.id);
    this.progress('Checking what is needed…');
    try {
      const check = await call('begin_step_up', { requestId: request.id });
      if (this.current?.request !== request) return;
      this.current.check = check;
      this.progress(null);
      if (!check.isRequired) {
        this.finish(check.validUntilMs
          ? `No new verification needed: you already allowed this until ${clockTime(check.validUntilMs)}.`
          : 'No verification is needed for this.');
        return;
      }
      this.renderMethods(check);
    } catch (error) {
      if (this.current?.request !== request) return;
      this.progress(null);
      this.showError(error);
      if (error.code === 'not_signed_in' || error.code === 'unauthorized') this.hooks.onSignedOut();
    }
  }

  render() {
    const { request } = this.current;
    const purpose = $('dlg-purpose');
    const who = document.createElement('strong');
    who.textContent = request.requester;
    purpose.replaceChildren(who, ` asks to ${request.actionText}.`);
    $('dlg-scope').textContent = request.scope;
    $('dlg-return').textContent = request.returnTo ? `Afterwards you can go back to ${new URL(request.returnTo).origin}.` : '';
    $('dlg-methods').hidden = true;
    $('dlg-method-list').replaceChildren();
    $('dlg-send-row').hidden = true;
    $('dlg-code-row').hidden = true;
    $('dlg-done').hidden = true;
    this.wipeKey();
    $('dlg-export').hidden = true;
    $('dlg-submit').hidden = false;
    $('dlg-submit').disabled = true;
    $('dlg-cancel').textContent = 'Cancel';
    this.code.value = '';
    this.code.removeAttribute('aria-invalid');
    this.setStatus('');
    this.clearError();
  }

  renderMethods(check) {
    const list = $('dlg-method-list');
    const choices = check.credentials.slice();
    // Users with MFA (an authenticator or a passkey) can fall back on a recovery code.
    if (choices.some((c) => c.method === 'totp' || c.method === 'passkey')) {
      choices.push({ id: '', format: 'recovery', method: 'recovery_code', alias: null });
    }
    if (choices.length === 0) {
      this.showError({ code: 'no_credentials', message: 'Your account has no way to verify this action: add a verification method first.' });
      return;
    }
    const supported = choices.filter((c) => c.method !== 'unsupported');
    const preferred = supported.find((c) => c.id === check.defaultCredentialId) ?? supported[0];
    for (const [i, credential] of choices.entries()) {
      const label = document.createElement('label');
      const radio = document.createElement('input');
      radio.type = 'radio';
      radio.name = 'dlg-method';
      radio.value = String(i);
      radio.id = `dlg-method-${i}`;
      radio.dataset.method = credential.method;
      radio.dataset.credentialId = credential.id;
      radio.disabled = credential.method === 'unsupported';
      radio.checked = credential === preferred;
      if (radio.disabled) label.classList.add('unsupported');
      const text = document.createElement('span');
      text.textContent = credentialLabel(credential) + (credential.id && credential.id === check.defaultCredentialId ? ' (default)' : '');
      label.append(radio, text);
      list.append(label);
    }
    this.choices = choices;
    $('dlg-methods').hidden = false;
    if (preferred) {
      this.choose(String(choices.indexOf(preferred)), true);
    }
  }

  /** Shows the step of the chosen method. Focus moves to that step only when the dialog opens:
   * a keyboard user arrowing through the methods keeps the focus in the list. */
  choose(index, moveFocus = false) {
    const credential = this.choices[Number(index)];
    const state = this.current;
    if (!credential || !state) return;
    state.method = credential.method;
    state.credentialId = credential.id;
    state.sent = false;
    this.clearError();
    this.stopResendCountdown();
    const needsSend = SENT_CODE.has(credential.method);
    const noCode = NO_CODE.has(credential.method);
    $('dlg-send-row').hidden = !needsSend;
    $('dlg-send').disabled = false;
    $('dlg-send').textContent = 'Send code';
    $('dlg-send-note').textContent = '';
    $('dlg-code-row').hidden = needsSend || noCode;
    this.configureCodeInput(credential.method);
    $('dlg-submit').disabled = false;
    $('dlg-submit').textContent = needsSend ? 'Send code' : noCode ? 'Verify with passkey' : 'Verify';
    this.setStatus(needsSend ? 'Press “Send code”: we send a 6-digit code to you.'
      : noCode ? `Press “Verify with passkey” to let ${this.current.request.requester} ${this.current.request.actionText} with this device’s passkey.` : '');
    if (moveFocus) (needsSend ? $('dlg-send') : noCode ? $('dlg-submit') : this.code).focus();
  }

  configureCodeInput(method) {
    const six = SIX_DIGITS.has(method);
    this.code.value = '';
    this.code.removeAttribute('aria-invalid');
    if (six) {
      this.code.maxLength = 6;
      this.code.inputMode = 'numeric';
      this.code.setAttribute('pattern', '[0-9]{6}');
      this.code.classList.add('code-input');
      $('dlg-code-label').textContent = method === 'totp' ? 'The 6-digit code your authenticator app shows' : 'The 6-digit code we sent you';
      $('dlg-code-hint').textContent = 'The dialog verifies by itself on the sixth digit.';
    } else {
      this.code.removeAttribute('maxLength');
      this.code.inputMode = 'text';
      this.code.removeAttribute('pattern');
      this.code.classList.remove('code-input');
      $('dlg-code-label').textContent = 'One of your recovery codes';
      $('dlg-code-hint').textContent = 'Each recovery code works once.';
    }
  }

  onPaste(event) {
    const state = this.current;
    if (!state || !SIX_DIGITS.has(state.method)) return;
    // maxlength would cut "123 456" to "123 4": keep the digits ourselves.
    const text = (event.clipboardData?.getData('text') ?? '').replace(/\D/g, '').slice(0, 6);
    event.preventDefault();
    this.code.value = text;
    this.onCodeInput();
  }

  onCodeInput() {
    const state = this.current;
    if (!state || !SIX_DIGITS.has(state.method)) return;
    const digits = this.code.value.replace(/\D/g, '').slice(0, 6);
    if (digits !== this.code.value) this.code.value = digits;
    this.code.removeAttribute('aria-invalid');
    if (digits.length === 6 && !state.busy) this.verify();
  }

  /** Enter: send the code when one is needed and not sent yet, else verify. */
  submit() {
    const state = this.current;
    if (!state || state.busy) return;
    if (state.done) { this.close(); return; }
    if (SENT_CODE.has(state.method) && !state.sent) { this.send(); return; }
    this.verify();
  }

  async send() {
    const state = this.current;
    if (!state || state.busy || !SENT_CODE.has(state.method)) return;
    state.busy = true;
    this.clearError();
    this.progress(state.method === 'email_otp' ? 'Sending the email…' : 'Sending the text message…');
    try {
      const command = state.method === 'email_otp' ? 'send_email_otp' : 'send_sms_otp';
      const sent = await call(command, { requestId: state.request.id, credentialId: state.credentialId });
      if (this.current !== state) return;
      state.sent = true;
      $('dlg-code-row').hidden = false;
      $('dlg-submit').textContent = 'Verify';
      this.setStatus(`Code sent${sent.destination ? ` to ${sent.destination}` : ''}. Type it below.`);
      this.startResendCountdown(sent.resendAfterSeconds ?? DEFAULT_RESEND_SECONDS);
      this.hooks.onCodeSent();
      this.code.focus();
    } catch (error) {
      if (this.current === state) this.showError(error);
    } finally {
      state.busy = false;
      if (this.current === state) this.progress(null);
    }
  }

  startResendCountdown(seconds) {
    this.stopResendCountdown();
    const button = $('dlg-send');
    let left = seconds;
    const tick = () => {
      if (left <= 0) {
        this.stopResendCountdown();
        return;
      }
      button.disabled = true;
      button.textContent = `Resend in ${left} s`;
      left -= 1;
    };
    tick();
    this.resendTimer = setInterval(tick, 1000);
  }

  stopResendCountdown() {
    if (this.resendTimer) clearInterval(this.resendTimer);
    this.resendTimer = null;
    const button = $('dlg-send');
    button.disabled = false;
    button.textContent = this.current?.sent ? 'Resend code' : 'Send code';
  }

  async verify() {
    const state = this.current;
    if (!state || state.busy || state.done) return;
    const code = this.code.value.trim();
    const six = SIX_DIGITS.has(state.method);
    const noCode = NO_CODE.has(state.method);
    if (!noCode && ((six && !/^\d{6}$/.test(code)) || (!six && code.length === 0))) {
      this.showError({ code: 'invalid_input', message: six ? 'Type all 6 digits of the code.' : 'Type one of your recovery codes.' });
      this.code.focus();
      return;
    }
    const commands = { totp: 'verify_totp', email_otp: 'verify_email_otp', sms_otp: 'verify_sms_otp', recovery_code: 'verify_recovery_code', passkey: 'verify_passkey' };
    const command = commands[state.method];
    if (!command) return;
    state.busy = true;
    this.clearError();
    this.code.readOnly = true;
    $('dlg-submit').disabled = true;
    this.progress(noCode ? 'Signing with this device’s passkey…' : 'Verifying…');
    try {
      const verified = await call(command, { requestId: state.request.id, credentialId: state.credentialId, code });
      if (this.current !== state) return;
      this.finish(`Verified. ${state.request.requester} may now ${state.request.actionText}, until ${clockTime(verified.expiresAtMs)} (${remaining(verified.expiresAtMs - Date.now())}).`);
      if (verified.export) this.offerExport(verified.export);
    } catch (error) {
      if (this.current !== state) return;
      this.showError(error);
      if (!noCode) {
        this.code.setAttribute('aria-invalid', 'true');
        this.code.select();
      }
      if (error.code === 'too_many_attempts' || error.code === 'verification_expired') {
        state.sent = false;
        this.code.value = '';
        $('dlg-code-row').hidden = true;
        $('dlg-submit').textContent = 'Send code';
        this.stopResendCountdown();
        $('dlg-send').focus();
      } else {
        (noCode ? $('dlg-submit') : this.code).focus();
      }
      if (error.code === 'not_signed_in' || error.code === 'unauthorized') this.hooks.onSignedOut();
    } finally {
      state.busy = false;
      this.code.readOnly = false;
      if (this.current === state && !state.done) $('dlg-submit').disabled = false;
      if (this.current === state) this.progress(null);
    }
  }

  finish(text) {
    const state = this.current;
    state.done = true;
    this.stopResendCountdown();
    $('dlg-methods').hidden = true;
    $('dlg-send-row').hidden = true;
    $('dlg-code-row').hidden = true;
    $('dlg-done').hidden = false;
    $('dlg-done-text').textContent = text;
    if (state.request.returnTo) {
      $('dlg-done-text').textContent += ` You can now go back to ${new URL(state.request.returnTo).origin}.`;
    }
    $('stepup-dialog').dataset.result = 'approved';
    $('dlg-submit').hidden = true;
    $('dlg-cancel').textContent = 'Close';
    this.setStatus('Verification complete.');
    $('dlg-cancel').focus();
    this.hooks.onFinished();
  }

  async cancel() {
    const state = this.current;
    if (!state) return;
    if (!state.done) {
      try { await call('cancel_step_up', { requestId: state.request.id }); } catch { /* the dialog closes either way */ }
    }
    this.close();
  }

  /** The done state of an approved wallet:export request: the user's wallet and "Export". */
  offerExport(offer) {
    const section = $('dlg-export');
    section.hidden = false;
    section.dataset.state = offer.hasWallet ? 'offered' : 'no-wallet';
    $('dlg-export-wallet').textContent = offer.hasWallet ? shortAddress(offer.walletAddress) : '';
    if (offer.walletAddress) $('dlg-export-wallet').title = offer.walletAddress;
    $('dlg-export-explain').hidden = !offer.hasWallet;
    $('dlg-export-none').hidden = offer.hasWallet;
    $('dlg-export-go').hidden = !offer.hasWallet;
    $('dlg-export-go').disabled = false;
    $('dlg-export-again-row').hidden = true;
    $('dlg-key').hidden = true;
  }

  async exportKey() {
    const state = this.current;
    if (!state || !state.done || state.busy) return;
    state.busy = true;
    this.clearError();
    $('dlg-export-go').disabled = true;
    this.progress('Exporting the private key…');
    try {
      const exported = await call('export_private_key', { requestId: state.request.id });
      if (this.current !== state) return; // closed meanwhile: the key is dropped here
      this.secret = { address: exported.address, privateKey: exported.privateKey };
      $('dlg-export-go').hidden = true;
      $('dlg-export-wallet').textContent = shortAddress(exported.address);
      $('dlg-export-wallet').title = exported.address;
      this.maskKey();
      $('dlg-key').hidden = false;
      $('dlg-key-note').textContent = 'Exported. The key stays hidden until you press “Show key”.';
      $('dlg-export').dataset.state = 'exported';
      this.setStatus('');
      $('dlg-key-show').focus();
      this.hooks.onFinished();
    } catch (error) {
      if (this.current !== state) return;
      this.showError(error);
      if (error.code === 'step_up_required') {
        $('dlg-export-go').hidden = true;
        $('dlg-export-again-row').hidden = false;
        $('dlg-export').dataset.state = 'step-up-required';
        $('dlg-export-again').focus();
      } else {
        $('dlg-export-go').disabled = false;
      }
      if (error.code === 'not_signed_in' || error.code === 'unauthorized') this.hooks.onSignedOut();
    } finally {
      state.busy = false;
      if (this.current === state) this.progress(null);
    }
  }

  maskKey() {
    const field = $('dlg-key-field');
    field.value = KEY_MASK;
    field.dataset.revealed = 'false';
    $('dlg-key-show').textContent = 'Show key';
    $('dlg-key-show').setAttribute('aria-pressed', 'false');
  }

  toggleKey() {
    if (!this.secret) return;
    const field = $('dlg-key-field');
    if (field.dataset.revealed === 'true') {
      this.maskKey();
      return;
    }
    field.value = this.secret.privateKey;
    field.dataset.revealed = 'true';
    $('dlg-key-show').textContent = 'Hide';
    $('dlg-key-show').setAttribute('aria-pressed', 'true');
  }

  /** Copies the key (hinting clipboard managers to keep it out of their history); 30 s later
   * clears the clipboard if it still holds the key, compared by digest so that the timer keeps
   * no copy of the key once the dialog closes. */
  async copyKey() {
    if (!this.secret) return;
    const key = this.secret.privateKey;
    try {
      await call('plugin:clipboard-manager|write_secret', { text: key });
    } catch {
      $('dlg-key-note').textContent = 'The key could not be copied: press “Show key” and copy it by hand.';
      return;
    }
    const digest = await sha256(key);
    if (this.clipboardTimer) clearTimeout(this.clipboardTimer);
    this.clipboardTimer = setTimeout(() => this.clearClipboard(digest), CLIPBOARD_CLEAR_MS);
    $('dlg-key-note').textContent = `Copied. The clipboard is cleared in ${CLIPBOARD_CLEAR_MS / 1000} s.`;
    document.body.dataset.clipboard = 'copied';
  }

  async clearClipboard(digest) {
    this.clipboardTimer = null;
    let holdsKey;
    try {
      holdsKey = (await sha256(await call('plugin:clipboard-manager|read_text'))) === digest;
    } catch {
      holdsKey = false; // empty, or not text: nothing of ours to clear
    }
    if (holdsKey) {
      try { await call('plugin:clipboard-manager|clear'); } catch { /* nothing more to do */ }
    }
    document.body.dataset.clipboard = holdsKey ? 'cleared' : 'kept';
    if (this.secret && holdsKey) $('dlg-key-note').textContent = 'The clipboard was cleared.';
  }

  /** The key leaves JS memory (our references) and the DOM. */
  wipeKey() {
    this.secret = null;
    const field = $('dlg-key-field');
    field.value = '';
    delete field.dataset.revealed;
    $('dlg-key').hidden = true;
    $('dlg-key-note').textContent = '';
    delete $('dlg-export').dataset.state;
  }

  /** After a refused export: a new wallet:export request for the same requester, verified in
   * this dialog again. */
  async verifyAgain() {
    const state = this.current;
    if (!state || state.busy) return;
    try {
      const event = await call('verify_export_again', { requestId: state.request.id });
      if (this.current !== state || event.kind !== 'request') return;
      this.wipeKey();
      this.current = null;
      this.queue.unshift(event.request);
      this.next();
    } catch (error) {
      if (this.current === state) this.showError(error);
    }
  }

  close() {
    this.stopResendCountdown();
    this.wipeKey();
    this.current = null;
    delete this.dialog.dataset.requestId;
    delete this.dialog.dataset.result;
    this.dialog.close();
    this.hooks.onFinished();
    if (this.queue.length) this.next();
  }

  progress(text) {
    $('dlg-progress').hidden = !text;
    $('dlg-progress-text').textContent = text ?? '';
    this.dialog.setAttribute('aria-busy', text ? 'true' : 'false');
  }

  setStatus(text) { $('dlg-status').textContent = text; }

  clearError() {
    $('dlg-error').textContent = '';
    delete $('dlg-error').dataset.code;
  }

  showError(error) {
    const hint = ERROR_HINTS[error.code];
    const message = error.message || 'Something went wrong: try again.';
    $('dlg-error').textContent = hint ? `${message} ${hint}` : message;
    $('dlg-error').dataset.code = error.code;
  }
}

/** Hex SHA-256 of a string (to recognise the key in the clipboard without keeping it). */
async function sha256(text) {
  const bytes = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
