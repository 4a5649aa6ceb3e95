// "Add a passkey on this device": explain, ask the passkey's PIN (a new one, typed twice, for
// the first passkey on this device; else the existing one), then "Create passkey"; the backend
// opens the step-up dialog itself when it needs one. Where the OS verifies the user (polkit),
// no PIN is asked: the desktop asks for the user's password when the passkey is sealed and
// at every use; a desktop with no agent to ask says so, and the next try takes a PIN. A locked
// passkey (8 wrong PINs) or one from before PINs is offered for removal, so that a new one
// can be added.

import { call } from '../ipc.js';
import { byId } from '../dom.js';
import { announce } from './views.js';

const el = {
  start: byId('add-passkey'),
  confirm: byId('add-passkey-confirm'),
  pinExplain: byId('add-passkey-pin-explain'),
  pinLabel: byId('add-passkey-pin-label'),
  pin: byId('add-passkey-pin'),
  pin2Row: byId('add-passkey-pin2-row'),
  pin2: byId('add-passkey-pin2'),
  create: byId('add-passkey-create'),
  cancel: byId('add-passkey-cancel'),
  locked: byId('device-passkey-locked'),
  lockedText: byId('device-passkey-locked-text'),
  remove: byId('device-passkey-remove'),
  progress: byId('add-passkey-progress'),
  progressText: byId('add-passkey-progress-text'),
  status: byId('add-passkey-status'),
  error: byId('add-passkey-error'),
};

/** The device passkey's status (`{state, triesLeft, byOs}`), or null where the OS's own
 * authenticator holds passkeys (Windows Hello). */
let pinStatus = null;

/** Whether a PIN field is shown: a device passkey that the OS does not verify. */
const asksPin = () => Boolean(pinStatus) && !pinStatus.byOs;

/** Back to the "Add a passkey" button. */
function idle() {
  el.confirm.hidden = true;
  el.progress.hidden = true;
  el.start.hidden = false;
  el.start.disabled = false;
  el.pin.value = '';
  el.pin2.value = '';
}

function showError(error) {
  el.error.textContent = error.message;
  el.error.dataset.code = error.code;
}

function clearMessages() {
  el.status.textContent = '';
  el.error.textContent = '';
  delete el.error.dataset.code;
}

/** Shows the removal offer when the device passkey cannot be used. */
export async function refreshDevicePasskey() {
  try {
    pinStatus = await call('device_passkey_status');
  } catch {
    pinStatus = null;
  }
  const state = pinStatus?.state;
  // Sealed by the OS, which cannot ask now (no authentication agent, or the helper is gone).
  const osGone = state === 'os' && !pinStatus.byOs;
  el.locked.hidden = state !== 'locked' && state !== 'noPin' && !osGone;
  el.lockedText.textContent = state === 'locked'
    ? 'This device’s passkey is locked after 8 wrong PINs. Remove it, then add a new one (and delete the old one from your account).'
    : state === 'noPin'
      ? 'This device’s passkey was created before passkeys had a PIN and cannot be used. Remove it, then add a new one.'
      : osGone
        ? 'This device’s passkey is protected by your system’s sign-in, which cannot ask right now (no authentication agent runs, or Stepup Desktop’s helper is not installed). Start your desktop’s agent or reinstall Stepup Desktop, or remove the passkey and add a new one with a PIN.'
        : '';
  el.start.disabled = !el.locked.hidden;
  // An earlier "Passkey added" is no longer the news.
  if (!el.locked.hidden) el.status.textContent = '';
}

/** `refresh` lists the devices again once a registration ends. */
export function wireAddPasskey(refresh) {
  el.start.addEventListener('click', async () => {
    clearMessages();
    await refreshDevicePasskey();
    if (!el.locked.hidden) return;
    const pin = asksPin();
    const newPin = pin && pinStatus.state === 'notEnrolled';
    el.pinLabel.textContent = newPin ? 'Choose a PIN for this device’s passkey' : 'PIN of this device’s passkey';
    el.pinExplain.textContent = pinStatus?.byOs
      ? 'Your system protects the passkey on this device: it asks for your password (or fingerprint) when the passkey is created and at every use.'
      : newPin
        ? 'The PIN protects the passkey on this device: it is asked at every use, and 8 wrong PINs in a row lock it. At least 6 characters, not 123456 or 111111.'
        : pin ? 'This device already holds a passkey: type its PIN to add another one.' : '';
    el.pin.autocomplete = newPin ? 'new-password' : 'off';
    el.pin2Row.hidden = !newPin;
    el.pinLabel.hidden = !pin;
    el.pin.hidden = !pin;
    el.start.hidden = true;
    el.confirm.hidden = false;
    el.create.disabled = false;
    (pin ? el.pin : el.create).focus();
  });
  el.cancel.addEventListener('click', () => {
    idle();
    announce('No passkey was added.');
    el.start.focus();
  });
  el.remove.addEventListener('click', async () => {
    clearMessages();
    try {
      await call('remove_device_passkey');
      el.status.textContent = 'This device’s passkey was removed. You can add a new one.';
    } catch (error) {
      showError(error);
    }
    await refreshDevicePasskey();
    await refresh();
    el.start.focus();
  });
  el.create.addEventListener('click', async () => {
    clearMessages();
    const pin = asksPin() ? el.pin.value : '';
    if (asksPin() && !pin) {
      showError({ code: 'pin_required', message: 'Type the PIN first.' });
      el.pin.focus();
      return;
    }
    if (!el.pin2Row.hidden && pin !== el.pin2.value) {
      showError({ code: 'pin_mismatch', message: 'The two PINs differ: type the same PIN twice.' });
      el.pin2.value = '';
      el.pin2.focus();
      return;
    }
    el.create.disabled = true;
    el.confirm.hidden = true;
    el.progress.hidden = false;
    el.progressText.textContent = pinStatus?.byOs
      ? 'Adding the passkey (confirm it’s you if the dialog asks, then type your password when your system asks)…'
      : 'Adding the passkey (confirm it’s you if the dialog asks)…';
    document.body.dataset.addPasskey = 'busy';
    try {
      const added = await call('add_device_passkey', { pin });
      el.status.textContent = `Passkey added${added.alias ? `: ${added.alias}` : ''}. You can now use it to confirm it’s you.`;
      document.body.dataset.addPasskey = 'added';
    } catch (error) {
      showError(error.code === 'os_verification_unavailable'
        ? { code: error.code, message: 'Your desktop has no authentication agent running, so your system cannot protect the passkey. Nothing was added: press “Add a passkey on this device” again and choose a PIN instead.' }
        : error);
      document.body.dataset.addPasskey = 'failed';
    } finally {
      idle();
      await refreshDevicePasskey();
      await refresh();
    }
  });
}
