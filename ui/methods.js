// The verification methods, one entry each: what the user sees, which command sends a code and
// which verifies (with which arguments), and what the user types. The keys are the backend's
// method names (`StepUpCredentialView.method`, src-tauri/commands.rs); no other file in ui/
// names a method.

/** A typed code of six digits: the dialog verifies by itself on the sixth. */
const sixDigits = (label) => ({
  length: 6,
  inputMode: 'numeric',
  label,
  hint: 'The dialog verifies by itself on the sixth digit.',
  missing: 'Type all 6 digits of the code.',
});

/** ` (alias)`, or nothing. */
const aside = (alias) => (alias ? ` (${alias})` : '');

/** What "Send code" says before a code is sent. */
const SEND_PROMPT = 'Press “Send code”: we send a 6-digit code to you.';

/**
 * The methods the dialog can run, by the backend's name.
 * - `label(alias)`: the choice in the "Verify with" list.
 * - `send`: the command that sends a code first (`{requestId, credentialId}` → `{destination,
 *   resendAfterSeconds}`), or absent when nothing is sent.
 * - `verify.command`, `verify.args`: the command that verifies, and the arguments it takes, by
 *   name, from `{requestId, credentialId, code}`.
 * - `code`: what the user types (length, input mode, words), or absent when nothing is typed.
 * - `pin`: the method asks the device passkey's PIN (the user verification that unseals it).
 * - `prompt(request)`: the status line before the user acts, if any.
 * - `unlocksRecovery`: a user who has this method may fall back on a recovery code.
 * - `confirm`: nothing to type or sign: the user approves (the server's confirmation).
 * - `deliberate`: nothing to type: only a press of the submit button itself starts the method
 *   (never the Enter of an implicit submission; that shows this note instead), and the focus
 *   does not start on it.
 * - `social`: the method runs only in the system browser (`browser`, see social-step.js).
 * - `wallet`: the method signs a message the dialog shows first (`message.command`); it is
 *   signed in the browser (`browser`: a command that waits for a page in the system browser,
 *   see browser-step.js) or pasted (`verify`, with `{signature}`).
 */
export const METHODS = {
  totp: {
    label: (alias) => (/^authenticator app$/i.test(alias ?? '') ? 'Authenticator app' : `Authenticator app${aside(alias)}`),
    code: sixDigits('The 6-digit code your authenticator app shows'),
    verify: { command: 'verify_totp', args: ['requestId', 'credentialId', 'code'] },
    unlocksRecovery: true,
  },
  email_otp: {
    label: (alias) => `Email a code${alias ? ` to ${alias}` : ''}`,
    send: { command: 'send_email_otp', progress: 'Sending the email…' },
    code: sixDigits('The 6-digit code we sent you'),
    verify: { command: 'verify_email_otp', args: ['requestId', 'code'] },
    prompt: () => SEND_PROMPT,
  },
  sms_otp: {
    label: (alias) => `Text a code${alias ? ` to ${alias}` : ''}`,
    send: { command: 'send_sms_otp', progress: 'Sending the text message…' },
    code: sixDigits('The 6-digit code we sent you'),
    verify: { command: 'verify_sms_otp', args: ['requestId', 'code'] },
    prompt: () => SEND_PROMPT,
  },
  recovery_code: {
    label: () => 'A recovery code',
    code: {
      length: null,
      inputMode: 'text',
      label: 'One of your recovery codes',
      hint: 'Each recovery code works once.',
      missing: 'Type one of your recovery codes.',
    },
    verify: { command: 'verify_recovery_code', args: ['requestId', 'code'] },
  },
  passkey: {
    label: (alias) => (/passkey/i.test(alias ?? '') ? alias : `Passkey on this device${aside(alias)}`),
    verify: {
      command: 'verify_passkey',
      args: ['requestId', 'credentialId', 'pin'],
      submit: 'Verify with passkey',
      progress: 'Signing with this device’s passkey…',
    },
    pin: true,
    prompt: (request) => `Type this device’s passkey PIN, then press “Verify with passkey” to let ${request.requester} ${request.actionText}.`,
    unlocksRecovery: true,
  },
  wallet: {
    label: (alias) => `Sign with your wallet${alias ? ` ${alias}` : ''}`,
    wallet: true,
    message: { command: 'wallet_message', progress: 'Preparing the message to sign…' },
    browser: {
      command: 'sign_with_browser_wallet',
      args: ['requestId', 'credentialId'],
      progress: 'Waiting for your browser wallet…',
      waiting: 'A page opened in your web browser: press “Sign with my wallet” there and confirm in your wallet. This dialog finishes by itself once the page answers.',
    },
    verify: {
      command: 'verify_wallet_signature',
      args: ['requestId', 'credentialId', 'signature'],
      submit: 'Verify signature',
      progress: 'Checking the signature…',
      missing: 'Paste the signature: 0x followed by 130 hexadecimal digits.',
    },
    prompt: (request) => `To let ${request.requester} ${request.actionText}, sign the message below with your wallet: in your browser wallet, or paste a signature made elsewhere.`,
  },
  server_confirmation: {
    label: (alias) => `Confirmation from your app’s server${aside(alias)}`,
    confirm: true,
    deliberate: 'Press “Approve” to use your app server’s confirmation.',
    verify: {
      command: 'approve_with_server_confirmation',
      args: ['requestId'],
      submit: 'Approve',
      progress: 'Exchanging your app server’s confirmation…',
    },
    prompt: (request) => `Your app’s server confirmed this request for you: the link carries its confirmation, checked against your environment’s published key. Press “Approve” to let ${request.requester} ${request.actionText}, or choose another method.`,
  },
  social: {
    label: (alias) => (alias ? `Sign in with ${alias}` : 'Sign in with your social account'),
    social: true,
    browser: {
      command: 'sign_in_social',
      args: ['requestId', 'credentialId'],
      progress: 'Waiting for your browser…',
      waiting: 'A sign-in page opened in your web browser: sign in there if it asks, then press “Allow”. This dialog finishes by itself once the browser comes back.',
    },
    // The button's words only: pressing it runs `browser`.
    verify: { submit: 'Continue in your browser' },
    prompt: (request) => `To let ${request.requester} ${request.actionText}, sign in again with your social account in your web browser: press “Continue in your browser”.`,
  },
};

/** The device passkey where the OS verifies its user (polkit): no PIN; the desktop asks for
 * the user's password when "Verify with passkey" is pressed. */
export const PASSKEY_BY_OS = {
  ...METHODS.passkey,
  pin: false,
  deliberate: 'Press “Verify with passkey” to have your system confirm it’s you.',
  verify: { ...METHODS.passkey.verify, progress: 'Waiting for your system to confirm it’s you (type your password when it asks)…' },
  prompt: (request) => `Press “Verify with passkey”, then confirm it’s you when your system asks for your password, to let ${request.requester} ${request.actionText}.`,
};

/** The method the dialog runs for a credential, or undefined when this app cannot run it. */
export const methodOf = (credential) => METHODS[credential.method];

/** The recovery-code choice, which no credential lists: it is the account's, not a device's. */
const RECOVERY_CHOICE = Object.freeze({ id: '', format: 'recovery', method: 'recovery_code', alias: null });

/** The "Verify with" list: the request's credentials and, for users with an authenticator or a
 * passkey, a recovery code, unless the environment turned recovery codes off. */
export function choicesFor(credentials, recoveryCodes = true) {
  const choices = credentials.slice();
  if (recoveryCodes && choices.some((c) => methodOf(c)?.unlocksRecovery)) choices.push(RECOVERY_CHOICE);
  return choices;
}

/** What formats this app cannot verify with yet are called. */
const UNSUPPORTED_FORMATS = {
  passkey: 'Passkey',
  blockchain: 'Wallet',
  oauth: 'Social account',
  externalUser: 'Your organisation’s sign-in',
  totp: 'Authenticator app',
  email: 'Email code',
  phoneNumber: 'Text message code',
};

/** What a credential is called in the "Verify with" list; one the app cannot use says why
 * (the backend's clause, e.g. an embedded wallet's), else that it is not available yet. */
export function credentialLabel(credential) {
  const method = methodOf(credential);
  if (method) return method.label(credential.alias);
  const kind = UNSUPPORTED_FORMATS[credential.format] ?? credential.format;
  const alias = credential.alias && credential.alias.toLowerCase() !== kind.toLowerCase() ? credential.alias : null;
  const name = `${kind}${aside(alias)}`;
  return `${name}: ${credential.unavailable ?? 'not available in this app yet'}`;
}

/** The arguments of a step's command (`method.verify`, `method.browser`), taken from what the
 * dialog knows. */
export function stepArgs(step, known) {
  return Object.fromEntries(step.args.map((name) => [name, known[name]]));
}

/** The kinds of MFA device the server lists (`mfa_devices`), for people. */
const DEVICE_KINDS = { passkey: 'Passkey', totp: 'Authenticator app', email: 'Email' };

/** What a device of the account's list is called: its kind for people, else the server's word. */
export const deviceKindName = (kind) => DEVICE_KINDS[kind] ?? kind ?? 'Unknown';
