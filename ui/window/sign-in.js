// The sign-in view: an email address, then the 6-digit code emailed to it (signs in by itself
// on the sixth digit).

import { call } from '../ipc.js';
import { byId } from '../dom.js';

const el = {
  emailForm: byId('signin-email-form'),
  email: byId('signin-email'),
  send: byId('signin-send'),
  codeForm: byId('signin-code-form'),
  code: byId('signin-code'),
  echo: byId('signin-email-echo'),
  verify: byId('signin-verify'),
  error: byId('signin-error'),
};

/** `onSignedIn` shows what the new session calls for. */
export function wireSignIn(onSignedIn) {
  el.emailForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const email = el.email.value.trim();
    el.error.textContent = '';
    el.send.disabled = true;
    try {
      await call('sign_in_send_email_otp', { email });
      el.echo.textContent = email;
      el.codeForm.hidden = false;
      el.code.focus();
    } catch (error) {
      el.error.textContent = error.message;
    } finally {
      el.send.disabled = false;
    }
  });
  const verify = async () => {
    el.error.textContent = '';
    el.verify.disabled = true;
    try {
      await call('sign_in_verify_email_otp', { code: el.code.value.trim() });
      el.code.value = '';
      el.codeForm.hidden = true;
      await onSignedIn();
    } catch (error) {
      el.error.textContent = error.message;
      el.code.select();
    } finally {
      el.verify.disabled = false;
    }
  };
  el.codeForm.addEventListener('submit', (e) => { e.preventDefault(); verify(); });
  el.code.addEventListener('input', () => {
    const digits = el.code.value.replace(/\D/g, '').slice(0, 6);
    el.code.value = digits;
    if (digits.length === 6) verify();
  });
}
