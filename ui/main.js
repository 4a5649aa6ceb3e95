// The app window: start-up, sign-in, the main view (user, tokens, recent step-ups, sandbox
// outbox), the invalid-link view, and the hand-off of deep-link requests to the dialog.

import { call, on, inApp, sentence } from './ipc.js';
import { StepUpDialog } from './dialog.js';
import { remaining, clockTime, fillRow } from './format.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['view-loading', 'view-fatal', 'view-signin', 'view-invalid-link', 'view-main'];

let status = null;
let tokens = [];
let viewBeforeError = 'view-main';

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  document.body.dataset.view = view;
}

function announce(text) { $('app-status').textContent = text; }

const dialog = new StepUpDialog({
  onFinished: () => refreshMain(),
  onSignedOut: () => refreshStatus(),
  onCodeSent: () => refreshOutbox(),
});

/** A deep link, forwarded by the backend: a validated request, or the reason it was refused. */
function onDeepLink(event) {
  if (event.kind === 'request') {
    dialog.enqueue(event.request);
  } else {
    if (!$('view-invalid-link').hidden) { /* already showing one */ } else {
      viewBeforeError = document.body.dataset.view || 'view-main';
    }
    $('invalid-link-reason').textContent = event.reason;
    show('view-invalid-link');
    announce('A link could not be used.');
    $('invalid-link-close').focus();
  }
}

async function refreshStatus() {
  status = await call('app_status');
  $('sandbox-badge').hidden = !status.sandbox;
  $('header-user').textContent = status.user ? status.user.label : '';
  const problem = status.keychainError ?? status.startupError;
  $('keychain-banner').hidden = !problem;
  $('keychain-banner').textContent = problem ? sentence(problem.message) : '';
  $('keychain-banner').dataset.code = problem ? problem.code : '';
  if (status.keychainError) {
    // Tokens live only in the OS keychain: without it nothing can work, and nothing falls
    // back to plain files.
    $('fatal-title').textContent = 'Your keychain is not available';
    $('fatal-message').textContent = `${sentence(status.keychainError.message)} Stepup Desktop keeps your session and tokens only in the system keychain, never in plain files; restart the app once the keychain works.`;
    $('fatal-message').dataset.code = status.keychainError.code;
    $('fatal-retry').hidden = true;
    show('view-fatal');
    return;
  }
  if (status.user) {
    $('main-user').textContent = status.user.label;
    $('main-environment').textContent = `${status.environmentId}${status.sandbox ? ' (local sandbox)' : ''}`;
    $('outbox').hidden = !status.sandbox;
    if (document.body.dataset.view !== 'view-invalid-link') show('view-main');
    await refreshMain();
  } else {
    $('signin-error').textContent = problem ? sentence(problem.message) : '';
    if (document.body.dataset.view !== 'view-invalid-link') show('view-signin');
  }
}

async function refreshMain() {
  if (!status?.user) return;
  try {
    const [tokenList, history] = await Promise.all([call('token_status'), call('step_up_history')]);
    tokens = tokenList;
    renderTokens();
    renderHistory(history);
    // The device list is the server's: a network hiccup leaves the last one on screen.
    call('mfa_devices').then(renderDevices).catch(() => {});
    if (status.keychainError === null) $('keychain-banner').hidden = true;
  } catch (error) {
    $('keychain-banner').hidden = false;
    $('keychain-banner').textContent = error.message;
    $('keychain-banner').dataset.code = error.code;
  }
}

function renderTokens() {
  const now = Date.now();
  const live = tokens.filter((t) => t.expiresAtMs > now);
  $('tokens-empty').hidden = live.length > 0;
  $('tokens-table').hidden = live.length === 0;
  $('tokens-body').replaceChildren(...live.map((t) => {
    const row = fillRow(document.createElement('tr'), [
      t.actions.join('; ') + (t.singleUse ? ' (once)' : ''),
      t.scopes.join(' '),
      `in ${remaining(t.expiresAtMs - now)} (${clockTime(t.expiresAtMs)})`,
    ]);
    row.dataset.scopes = t.scopes.join(' ');
    row.dataset.expiresAtMs = String(t.expiresAtMs);
    return row;
  }));
}

const DEVICE_KINDS = { passkey: 'Passkey', totp: 'Authenticator app', email: 'Email' };

function renderDevices(devices) {
  $('devices-empty').hidden = devices.length > 0;
  $('devices-list').replaceChildren(...devices.map((d) => {
    const li = document.createElement('li');
    const kind = DEVICE_KINDS[d.kind] ?? d.kind ?? 'Unknown';
    li.textContent = `${d.alias ?? kind}${d.alias && d.alias.toLowerCase().includes(kind.toLowerCase()) ? '' : ` (${kind.toLowerCase()})`}${d.isDefault ? ', default' : ''}`;
    li.dataset.kind = d.kind ?? '';
    li.dataset.alias = d.alias ?? '';
    li.dataset.deviceId = d.id ?? '';
    return li;
  }));
}

/** "Add a passkey on this device": explain, then the user's "Create passkey" click is the
 * presence confirmation; the backend opens the step-up dialog itself when it needs one. */
function wireAddPasskey() {
  const idle = () => {
    $('add-passkey-confirm').hidden = true;
    $('add-passkey-progress').hidden = true;
    $('add-passkey').hidden = false;
    $('add-passkey').disabled = false;
  };
  $('add-passkey').addEventListener('click', () => {
    $('add-passkey-status').textContent = '';
    $('add-passkey-error').textContent = '';
    delete $('add-passkey-error').dataset.code;
    $('add-passkey').hidden = true;
    $('add-passkey-confirm').hidden = false;
    $('add-passkey-create').disabled = false;
    $('add-passkey-create').focus();
  });
  $('add-passkey-cancel').addEventListener('click', () => {
    idle();
    announce('No passkey was added.');
    $('add-passkey').focus();
  });
  $('add-passkey-create').addEventListener('click', async () => {
    $('add-passkey-create').disabled = true;
    $('add-passkey-confirm').hidden = true;
    $('add-passkey-progress').hidden = false;
    $('add-passkey-progress-text').textContent = 'Adding the passkey (confirm it’s you if the dialog asks)…';
    document.body.dataset.addPasskey = 'busy';
    try {
      const added = await call('add_device_passkey');
      $('add-passkey-status').textContent = `Passkey added${added.alias ? `: ${added.alias}` : ''}. You can now use it to confirm it’s you.`;
      document.body.dataset.addPasskey = 'added';
    } catch (error) {
      $('add-passkey-error').textContent = error.message;
      $('add-passkey-error').dataset.code = error.code;
      document.body.dataset.addPasskey = 'failed';
    } finally {
      idle();
      await refreshMain();
    }
  });
}

function renderHistory(history) {
  $('history-empty').hidden = history.length > 0;
  $('history-table').hidden = history.length === 0;
  $('history-body').replaceChildren(...history.map((h) => {
    const row = fillRow(document.createElement('tr'), [clockTime(h.atMs), h.requester, h.scope, h.method ?? '—', h.result]);
    row.dataset.result = h.outcome;
    return row;
  }));
}

async function refreshOutbox() {
  if (!status?.sandbox || $('outbox').hidden) return;
  try {
    const outbox = await call('sandbox_outbox');
    $('outbox-totp').textContent = outbox.totpCode ?? '——————';
    $('outbox-recovery').textContent = outbox.recoveryCodes.join('  ') || 'none left';
    const [mfaEmail, reauthEmail] = outbox.personaEmails;
    const isMfa = status.user?.label === mfaEmail;
    const other = isMfa ? { persona: 'reauth', email: reauthEmail, note: 'a user without an authenticator: verifies by email or text message' }
      : { persona: 'mfa', email: mfaEmail, note: 'the demo user with an authenticator app and recovery codes' };
    const button = $('switch-persona');
    button.hidden = false;
    button.textContent = `Sign in as ${other.email} instead`;
    button.dataset.persona = other.persona;
    $('switch-persona-note').textContent = `(${other.note})`;
    $('outbox-totp-left').textContent = outbox.totpValidForSeconds != null ? `(changes in ${outbox.totpValidForSeconds} s)` : '';
    $('outbox-list').replaceChildren(...outbox.messages.map((m) => {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.className = 'big-code';
      code.textContent = m.code;
      li.append(`${clockTime(m.sentAtMs)} ${m.channel === 'sms' ? 'Text message' : 'Email'} to ${m.to}: `, code);
      li.dataset.channel = m.channel;
      li.dataset.code = m.code;
      return li;
    }));
    if (!$('outbox-examples').childElementCount) {
      $('outbox-examples').replaceChildren(...outbox.exampleLinks.map((link) => {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'secondary';
        button.textContent = 'Open';
        button.addEventListener('click', () => call('sandbox_open_link', { link }).catch((e) => announce(e.message)));
        const code = document.createElement('code');
        code.textContent = link;
        li.append(button, ' ', code);
        return li;
      }));
    }
  } catch { /* the next poll retries */ }
}

function wireSignIn() {
  let email = '';
  $('signin-email-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    email = $('signin-email').value.trim();
    $('signin-error').textContent = '';
    $('signin-send').disabled = true;
    try {
      await call('sign_in_send_email_otp', { email });
      $('signin-email-echo').textContent = email;
      $('signin-code-form').hidden = false;
      $('signin-code').focus();
    } catch (error) {
      $('signin-error').textContent = error.message;
    } finally {
      $('signin-send').disabled = false;
    }
  });
  const verify = async () => {
    $('signin-error').textContent = '';
    $('signin-verify').disabled = true;
    try {
      await call('sign_in_verify_email_otp', { code: $('signin-code').value.trim() });
      $('signin-code').value = '';
      $('signin-code-form').hidden = true;
      await refreshStatus();
    } catch (error) {
      $('signin-error').textContent = error.message;
      $('signin-code').select();
    } finally {
      $('signin-verify').disabled = false;
    }
  };
  $('signin-code-form').addEventListener('submit', (e) => { e.preventDefault(); verify(); });
  $('signin-code').addEventListener('input', () => {
    const digits = $('signin-code').value.replace(/\D/g, '').slice(0, 6);
    $('signin-code').value = digits;
    if (digits.length === 6) verify();
  });
}

async function boot() {
  if (!inApp) {
    $('fatal-message').textContent = 'This page only works inside Stepup Desktop.';
    show('view-fatal');
    return;
  }
  wireSignIn();
  wireAddPasskey();
  $('logout').addEventListener('click', async () => {
    try { await call('logout'); } catch (error) { announce(error.message); }
    await refreshStatus();
  });
  $('invalid-link-close').addEventListener('click', () => {
    show(viewBeforeError === 'view-invalid-link' ? 'view-main' : viewBeforeError);
    refreshStatus().catch(() => {});
  });
  $('fatal-retry').addEventListener('click', () => start());
  $('switch-persona').addEventListener('click', async () => {
    const button = $('switch-persona');
    button.disabled = true;
    try {
      await call('sandbox_sign_in', { persona: button.dataset.persona });
      announce(`Signed in as ${button.textContent.replace(/^Sign in as | instead$/g, '')}.`);
    } catch (error) {
      announce(error.message);
    } finally {
      button.disabled = false;
      await refreshStatus().catch(() => {});
    }
  });
  // Listen first, then tell the backend we are ready: it answers with the links that arrived
  // before (a cold start), and sends later ones as events.
  await on('deep-link', onDeepLink);
  await on('app-state', () => refreshStatus().catch(() => {}));
  await start();
  setInterval(() => { if (!$('view-main').hidden) renderTokens(); }, 1000);
  setInterval(() => { if (!$('view-main').hidden) refreshOutbox(); }, 1500);
  setInterval(() => { if (!$('view-main').hidden && !dialog.isOpen) refreshMain(); }, 10000);
}

async function start() {
  show('view-loading');
  try {
    await refreshStatus();
    await refreshOutbox();
  } catch (error) {
    $('fatal-message').textContent = error.message;
    show('view-fatal');
  }
  try {
    const pending = await call('ui_ready');
    for (const event of pending) onDeepLink(event);
  } catch (error) {
    announce(error.message);
  }
  document.body.dataset.ready = 'true';
}

boot();
