// The app window: start-up, and the hand-off of deep-link requests to the step-up dialog.
//
// Layout: window/ holds the window's views (views.js shows one; app-status.js picks it;
// sign-in.js, account.js, add-passkey.js, outbox.js, invalid-link.js fill them); dialog/ the
// step-up dialog (dialog/dialog.js); methods.js the verification methods; ipc.js the door to
// the backend; dom.js and format.js small helpers.

import { call, on, inApp } from './ipc.js';
import { byId } from './dom.js';
import { StepUpDialog } from './dialog/dialog.js';
import { show, announce } from './window/views.js';
import { refreshStatus, showFatal, appStatus } from './window/app-status.js';
import { refreshAccount, renderTokens } from './window/account.js';
import { wireSignIn } from './window/sign-in.js';
import { wireAddPasskey } from './window/add-passkey.js';
import { refreshOutbox, wirePersonaSwitch } from './window/outbox.js';
import { showInvalidLink, wireInvalidLink } from './window/invalid-link.js';
import { needsSetup, wireSetup } from './window/setup.js';

const mainView = byId('view-main');

/** Requests that arrived before the app was set up: kept until the user is signed in. */
const held = [];
const heldNotice = byId('held-notice');

/** The status, then the view it calls for, with the account content when signed in; the
 * requests held during setup go to the dialog once someone is signed in. */
const refresh = () => refreshStatus(refreshAccount).then(releaseHeld);
/** The same, where a failure is left for the next event or poll. */
const refreshQuietly = () => refresh().catch(() => {});

const dialog = new StepUpDialog({
  onFinished: () => refreshAccount(),
  onSignedOut: () => refresh(),
  onCodeSent: () => refreshOutbox(),
});

/** A deep link, forwarded by the backend: a validated request, or the reason it was refused.
 * Before setup (and the sign-in after it) a request is held, and said. */
function onDeepLink(event) {
  if (event.kind === 'request' && (needsSetup(appStatus()) || (held.length > 0 && !appStatus()?.user))) {
    held.push(event.request);
    renderHeld();
  } else if (event.kind === 'request') dialog.enqueue(event.request);
  else showInvalidLink(event.reason);
}

function renderHeld() {
  heldNotice.hidden = held.length === 0;
  const who = [...new Set(held.map((r) => r.requester))].join(', ');
  heldNotice.textContent = held.length === 0 ? ''
    : `${held.length === 1 ? 'A request' : `${held.length} requests`} from ${who} ${held.length === 1 ? 'is waiting: it opens' : 'are waiting: they open'} once Stepup Desktop is set up and you are signed in.`;
}

function releaseHeld() {
  if (held.length === 0 || !appStatus()?.user) return;
  for (const request of held.splice(0)) dialog.enqueue(request);
  renderHeld();
}

async function boot() {
  if (!inApp) {
    showFatal('This page only works inside Stepup Desktop.');
    return;
  }
  wireSignIn(refresh);
  wireAddPasskey(refreshAccount);
  wirePersonaSwitch(refreshQuietly);
  wireInvalidLink(refreshQuietly);
  wireSetup({ onSaved: refresh, onCancel: refreshQuietly });
  byId('logout').addEventListener('click', async () => {
    try { await call('logout'); } catch (error) { announce(error.message); }
    await refresh();
  });
  byId('quit-app').title = byId('quit-note').textContent;
  byId('quit-app').addEventListener('click', () => call('quit_app').catch((error) => announce(error.message)));
  byId('fatal-retry').addEventListener('click', () => start());
  // Listen first, then tell the backend we are ready: it answers with the links that arrived
  // before (a cold start), and sends later ones as events.
  await on('deep-link', onDeepLink);
  await on('app-state', refreshQuietly);
  await start();
  setInterval(() => { if (!mainView.hidden) renderTokens(); }, 1000);
  setInterval(() => { if (!mainView.hidden) refreshOutbox(); }, 1500);
  setInterval(() => { if (!mainView.hidden && !dialog.isOpen) refreshAccount(); }, 10000);
}

async function start() {
  show('view-loading');
  // The status decides where a link goes (setup, sign-in, the dialog): it comes first. The
  // account's lists (tokens, history, devices) and the outbox load while the links that
  // waited are handed over, so that a link to a windowless app is not kept waiting on them.
  let account = Promise.resolve();
  try {
    await refreshStatus(() => { account = refreshAccount(); });
    releaseHeld();
  } catch (error) {
    showFatal(error.message);
  }
  try {
    const pending = await call('ui_ready');
    for (const event of pending) onDeepLink(event);
  } catch (error) {
    announce(error.message);
  }
  try {
    await account;
    await refreshOutbox();
  } catch (error) {
    showFatal(error.message);
  }
  document.body.dataset.ready = 'true';
}

boot();
