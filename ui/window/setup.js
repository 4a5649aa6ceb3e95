// The first-run setup and Settings: the Dynamic environment this app talks to (its id, and
// optionally the API base URL and the app's origin), saved by the backend in the settings
// file. The backend checks every field; this view only shows what it says.

import { call, sentence } from '../ipc.js';
import { byId } from '../dom.js';
import { show } from './views.js';

const el = {
  title: byId('setup-title'),
  intro: byId('setup-intro'),
  form: byId('setup-form'),
  environment: byId('setup-environment'),
  api: byId('setup-api'),
  origin: byId('setup-origin'),
  advanced: byId('setup-advanced'),
  dashboardUrl: byId('setup-dashboard-url'),
  help: byId('setup-help'),
  override: byId('setup-override'),
  signOutNote: byId('setup-signout-note'),
  save: byId('setup-save'),
  cancel: byId('setup-cancel'),
  error: byId('setup-error'),
  path: byId('setup-path'),
  settings: byId('settings'),
};

/** True when the app has no environment yet: the window asks for one (never in the sandbox). */
export const needsSetup = (status) => Boolean(status && !status.sandbox && !status.user
  && status.startupError?.code === 'not_configured');

/** Shows the form: `settings` for a change from the main window (Cancel goes back), else the
 * first run. */
export async function showSetup({ settings = false } = {}) {
  const view = await call('setup_status');
  el.title.textContent = settings ? 'Settings: your Dynamic environment' : 'Set up Stepup Desktop';
  el.intro.hidden = settings;
  el.cancel.hidden = !settings;
  el.signOutNote.hidden = !settings;
  el.environment.value = view.environmentId;
  el.api.value = view.apiBaseUrl;
  el.origin.value = view.appOrigin;
  el.advanced.open = Boolean(view.apiBaseUrl || view.appOrigin);
  el.dashboardUrl.textContent = view.dashboardUrl;
  el.path.textContent = view.path;
  el.override.hidden = view.overriddenBy.length === 0;
  el.override.textContent = view.overriddenBy.length
    ? `Set in this app’s environment, and used instead of what is saved here: ${view.overriddenBy.join(', ')}.`
    : '';
  el.error.textContent = view.problem ? sentence(`the saved settings cannot be used: ${view.problem}`) : '';
  show('view-setup');
  el.environment.focus();
}

/** `onSaved` shows what the new environment calls for (the sign-in); `onCancel` goes back. */
export function wireSetup({ onSaved, onCancel }) {
  el.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    el.error.textContent = '';
    el.save.disabled = true;
    try {
      await call('save_setup', {
        environmentId: el.environment.value,
        apiBaseUrl: el.api.value || null,
        appOrigin: el.origin.value || null,
      });
      await onSaved();
    } catch (error) {
      el.error.textContent = error.message;
      el.environment.focus();
    } finally {
      el.save.disabled = false;
    }
  });
  el.cancel.addEventListener('click', () => onCancel());
  el.help.addEventListener('click', () => call('open_setup_help').catch((error) => { el.error.textContent = error.message; }));
  el.settings.addEventListener('click', () => showSetup({ settings: true }).catch((error) => { el.error.textContent = error.message; }));
}

/** The Settings button shows outside the sandbox only. */
export function showSettingsButton(status) {
  el.settings.hidden = !status || status.sandbox;
}
