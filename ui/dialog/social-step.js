// The step of a linked social account: "Continue in your browser" opens the provider's sign-in
// page in the system browser (never in this window: RFC 8252), and the dialog waits for the
// browser to come back to this computer (see browser-step.js: progress, open again, stop).
// Nothing starts by itself: the user presses the button, after the read guard.

import { el } from './elements.js';
import { isBusy } from './phase.js';
import { chosen } from './view.js';
import { continueInBrowser } from './browser-step.js';

/** "Continue in your browser". */
export async function continueSocial(dialog) {
  const state = dialog.state;
  const { method } = chosen(state ?? {});
  if (!method?.social || isBusy(state.phase) || !state.armed) return;
  const { request } = state;
  const error = await continueInBrowser(dialog, method.browser);
  if (!error || !dialog.showing(request)) return;
  if (error.code === 'cancelled') dialog.update({ error: null, note: 'Stopped waiting for the browser. Continue again, or choose another method.' });
  el.submit.focus();
  el.error.scrollIntoView({ block: 'nearest' });
}
