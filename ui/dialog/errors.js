// What the dialog says about a failed command: the backend's sentence and what to do next.

/** What the user should do, per error code, beyond the backend's own sentence. */
const HINTS = {
  invalid_otp: 'Type the code your authenticator shows now.',
  too_many_attempts: 'Send a new code to try again.',
  verification_expired: 'Send a new code to try again.',
  network_error: 'Press Verify to try again when you are back online.',
  timed_out: 'Press Verify to try again.',
  connection_lost: 'Press Verify to try again.',
  server_error: 'Try again in a few minutes.',
  keychain_locked: 'Unlock your keyring (e.g. GNOME Keyring), then verify again.',
  keychain_unavailable: 'Start your keyring (e.g. GNOME Keyring), then verify again.',
  keychain_timed_out: 'Unlock or restart your keyring, then verify again.',
  pin_locked: 'You can still verify with another method from the list.',
  os_verification_unavailable: 'You can still verify with another method from the list.',
  wallet_signature_mismatch: 'Sign the message with the wallet it names, or choose another method.',
  embedded_wallet: 'Choose another method from the list.',
};

/** The error line for `{code, message}`. */
export function errorText(error) {
  const message = error.message || 'Something went wrong: try again.';
  const hint = HINTS[error.code];
  return hint ? `${message} ${hint}` : message;
}

/** The session is gone: the main window must show the sign-in again. */
export const isSignedOut = (error) => error.code === 'not_signed_in' || error.code === 'unauthorized';

/** The code sent is used up or expired: a new one must be sent. */
export const needsNewCode = (error) => error.code === 'too_many_attempts' || error.code === 'verification_expired';

/** A fault on the way to the server (not an answer about the user): "try again" is the fix. */
export const isFault = (error) => ['network_error', 'connection_lost', 'timed_out', 'server_error', 'invalid_response'].includes(error?.code);
