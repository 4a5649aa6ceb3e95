// "Continue in your browser": a step whose command waits while a page in the system browser
// does the work (the wallet page; the social sign-in's redirect is the next). While it waits,
// the dialog shows the step's progress, what to do in the browser, "Open the page again" and
// "Stop waiting"; the dialog's own Cancel ends the request, and the page with it. The
// backend's commands are generic: they name the request, not the method.

import { call } from '../ipc.js';
import { setText } from '../dom.js';
import { el } from './elements.js';
import { PHASES } from './phase.js';

/** Runs `step` (a method's `{command, args, progress, waiting}`) through the dialog's verify:
 * resolves to the error, or to null once approved. */
export const continueInBrowser = (dialog, step, typed = {}) => dialog.verify(typed, step);

/** "Open the page again": the page still waiting, opened once more in the browser. */
export async function openPageAgain(dialog) {
  const state = dialog.state;
  if (state?.phase !== PHASES.browser) return;
  try {
    await call('open_browser_page_again', { requestId: state.request.id });
  } catch (error) {
    if (dialog.showing(state.request)) dialog.update({ error });
  }
}

/** "Stop waiting": the page's wait ends (its command answers `cancelled`); the request stays
 * open, the focus goes back to the step. */
export async function stopWaiting(dialog) {
  const state = dialog.state;
  if (state?.phase !== PHASES.browser) return;
  try { await call('cancel_browser_page', { requestId: state.request.id }); } catch { /* the wait ends with the request anyway */ }
}

/** Draws the waiting block of `step` (shown only while the page waits). */
export function renderBrowserWait(state, step) {
  const waiting = state.phase === PHASES.browser && Boolean(step);
  el.browserWait.hidden = !waiting;
  setText(el.browserWaitText, waiting ? step.waiting ?? '' : '');
}
