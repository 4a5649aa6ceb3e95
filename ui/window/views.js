// The window's views, one shown at a time, and its announcements for screen readers. When the
// view changes, the focus moves to its heading (tabindex=-1), unless the dialog holds it.

import { byId } from '../dom.js';

const VIEWS = new Map(['view-loading', 'view-fatal', 'view-setup', 'view-signin', 'view-invalid-link', 'view-main'].map((id) => {
  const section = byId(id);
  return [id, { section, heading: section.querySelector('h2') }];
}));
const appStatus = byId('app-status');
const dialog = byId('stepup-dialog');

/** The view on screen (its section's id). */
export const currentView = () => document.body.dataset.view;

/** Shows one view and hides the others. */
export function show(view) {
  const changed = currentView() !== view;
  for (const [id, { section }] of VIEWS) section.hidden = id !== view;
  document.body.dataset.view = view;
  if (changed && !dialog.open) VIEWS.get(view).heading?.focus();
}

/** Says something to screen readers (the page's status line). */
export function announce(text) { appStatus.textContent = text; }
