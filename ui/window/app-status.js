// The app's status (user, sandbox, keychain) in the header, the banner and the choice of view:
// the keychain error, the first-run setup, the sign-in, or the main view.

import { call, sentence } from '../ipc.js';
import { byId } from '../dom.js';
import { show, currentView } from './views.js';
import { needsSetup, showSetup, showSettingsButton } from './setup.js';

const el = {
  badge: byId('sandbox-badge'),
  headerUser: byId('header-user'),
  banner: byId('keychain-banner'),
  fatalTitle: byId('fatal-title'),
  fatalMessage: byId('fatal-message'),
  fatalRetry: byId('fatal-retry'),
  mainUser: byId('main-user'),
  environment: byId('main-environment'),
  outbox: byId('outbox'),
  signInError: byId('signin-error'),
  notice: byId('keychain-notice'),
};

/** The last `app_status` answer (null before the first). */
let status = null;

/** The last status the backend gave. */
export const appStatus = () => status;

/** Shows a problem in the banner above the main view (null: none). */
export function showBanner(problem) {
  el.banner.hidden = !problem;
  el.banner.textContent = problem ? sentence(problem.message) : '';
  el.banner.dataset.code = problem ? problem.code : '';
}

/** Asks the backend for its status and shows the view it calls for; `onSignedIn` refreshes the
 * main view's content. */
export async function refreshStatus(onSignedIn) {
  status = await call('app_status');
  el.badge.hidden = !status.sandbox;
  el.headerUser.textContent = status.user ? status.user.label : '';
  const problem = status.keychainError ?? status.startupError;
  showSettingsButton(status);
  if (needsSetup(status)) {
    // No environment yet: the setup asks for one (said there, not in a banner).
    showBanner(null);
    if (currentView() !== 'view-setup' && currentView() !== 'view-invalid-link') await showSetup();
    return;
  }
  showBanner(problem);
  const notices = status.keychainNotices ?? [];
  el.notice.hidden = notices.length === 0;
  el.notice.textContent = notices.length
    ? `${notices.map(sentence).join(' ')} Stepup Desktop went on without it; sign in again if you are asked to.`
    : '';
  if (status.keychainError) {
    // Tokens live only in the OS keychain: without it nothing can work, and nothing falls
    // back to plain files.
    el.fatalTitle.textContent = 'Your keychain is not available';
    el.fatalMessage.textContent = `${sentence(status.keychainError.message)} Stepup Desktop keeps your session and tokens only in the system keychain, never in plain files; restart the app once the keychain works.`;
    el.fatalMessage.dataset.code = status.keychainError.code;
    el.fatalRetry.hidden = true;
    show('view-fatal');
    return;
  }
  const stayOnLinkError = currentView() === 'view-invalid-link';
  if (status.user) {
    el.mainUser.textContent = status.user.label;
    el.environment.textContent = `${status.environmentId}${status.sandbox ? ' (local sandbox)' : ''}`;
    el.outbox.hidden = !status.sandbox;
    if (!stayOnLinkError) show('view-main');
    await onSignedIn();
  } else {
    el.signInError.textContent = problem ? sentence(problem.message) : '';
    if (!stayOnLinkError) show('view-signin');
  }
}

/** The window cannot start: why. */
export function showFatal(message) {
  el.fatalMessage.textContent = message;
  show('view-fatal');
}
