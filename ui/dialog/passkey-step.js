// The step of this device's passkey: the user types the passkey's PIN (it unseals the key: the
// user verification the passkey reports) in a dialog that names the requester and the action,
// then "Verify with passkey"; the backend signs. The PIN leaves the field after every try.
// Where the OS verifies the user (polkit), there is no PIN: the desktop asks for the user's
// password when "Verify with passkey" is pressed.

import { el } from './elements.js';
import { chosen } from './view.js';

/** Verifies with the chosen passkey and the typed PIN; after a failure the PIN field is
 * empty and focused, ready for another try. */
export async function verifyPasskey(dialog) {
  const { request } = dialog.state;
  // Verified by the OS (the chosen method asks no PIN): the desktop asks for the password.
  if (!chosen(dialog.state).method.pin) {
    const error = await dialog.verify({ pin: '' });
    if (error && dialog.showing(request)) el.submit.focus();
    return;
  }
  const pin = el.pin.value;
  if (!pin) {
    dialog.update({ error: { code: 'pin_required', message: 'Type the PIN of this device’s passkey.' } });
    el.pin.focus();
    return;
  }
  el.pin.value = '';
  const error = await dialog.verify({ pin });
  if (error && dialog.showing(request)) (el.pinRow.hidden ? el.submit : el.pin).focus();
}
