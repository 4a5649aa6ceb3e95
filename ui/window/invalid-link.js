// The view for a link that is not a valid step-up request: why, and "Back" to where the user was.

import { byId } from '../dom.js';
import { show, announce, currentView } from './views.js';

const reason = byId('invalid-link-reason');
const close = byId('invalid-link-close');

/** The view to go back to. */
let viewBefore = 'view-main';

/** Shows why a link was refused. */
export function showInvalidLink(why) {
  if (currentView() !== 'view-invalid-link') viewBefore = currentView() || 'view-main';
  reason.textContent = why;
  show('view-invalid-link');
  announce('A link could not be used.');
}

/** "Back": the view before, then a fresh status (`refresh`). */
export function wireInvalidLink(refresh) {
  close.addEventListener('click', () => {
    show(viewBefore);
    refresh();
  });
}
