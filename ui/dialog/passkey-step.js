// The step of a method with nothing to type (this device's passkey): the user's click on
// "Verify with passkey", in a dialog that names the requester and the action, is the presence
// confirmation; the backend signs.

import { el } from './elements.js';

/** Verifies with the chosen passkey; after a failure the button is ready to try again. */
export async function verifyPasskey(dialog) {
  const { request } = dialog.state;
  const error = await dialog.verify({});
  if (error && dialog.showing(request)) el.submit.focus();
}
