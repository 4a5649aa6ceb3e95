// The main view's account content: the elevated-access tokens (their countdown redrawn every
// second), the recent step-ups, and the account's passkeys and authenticators.

import { call } from '../ipc.js';
import { byId, fillRow } from '../dom.js';
import { remaining, clockTime, dateTime } from '../format.js';
import { deviceKindName } from '../methods.js';
import { appStatus, showBanner } from './app-status.js';
import { refreshDevicePasskey } from './add-passkey.js';

const el = {
  tokensEmpty: byId('tokens-empty'),
  tokensTable: byId('tokens-table'),
  tokensBody: byId('tokens-body'),
  historyEmpty: byId('history-empty'),
  historyTable: byId('history-table'),
  historyBody: byId('history-body'),
  devicesEmpty: byId('devices-empty'),
  devicesList: byId('devices-list'),
  revokeAll: byId('revoke-all'),
  tokensStatus: byId('tokens-status'),
};

/** What the token rows were drawn from: redrawn only when it changes (the countdown is
 * updated in place, so a focused Revoke button keeps its focus). */
let drawnTokens = '';

/** The stored tokens, as token_status last listed them. */
let tokens = [];

/** Lists tokens, history and devices again (when signed in). */
el.revokeAll.addEventListener('click', () => revokeAccess(null));

export async function refreshAccount() {
  const status = appStatus();
  if (!status?.user) return;
  try {
    const [tokenList, history] = await Promise.all([call('token_status'), call('step_up_history')]);
    tokens = tokenList;
    renderTokens();
    renderHistory(history);
    // The device list is the server's: a network hiccup leaves the last one on screen.
    call('mfa_devices').then(renderDevices).catch(() => {});
    refreshDevicePasskey();
    if (status.keychainError === null) showBanner(null);
  } catch (error) {
    showBanner(error);
  }
}

/** The tokens still valid, with the time each has left. */
export function renderTokens() {
  const now = Date.now();
  const live = tokens.filter((t) => t.expiresAtMs > now);
  el.tokensEmpty.hidden = live.length > 0;
  el.tokensTable.hidden = live.length === 0;
  el.revokeAll.hidden = live.length === 0;
  const expires = (t) => `in ${remaining(t.expiresAtMs - now)} (${clockTime(t.expiresAtMs)})`;
  const key = JSON.stringify(live.map((t) => [t.scopes, t.expiresAtMs]));
  if (key === drawnTokens) {
    [...el.tokensBody.rows].forEach((row, i) => { row.cells[2].textContent = expires(live[i]); });
    return;
  }
  drawnTokens = key;
  el.tokensBody.replaceChildren(...live.map((t) => {
    const row = fillRow(document.createElement('tr'), [
      t.actions.join('; ') + (t.singleUse ? ' (once)' : ''),
      t.singleUse ? 'Once' : 'Until it expires',
      expires(t),
    ]);
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'secondary';
    revoke.textContent = 'Revoke';
    revoke.setAttribute('aria-label', `Revoke: ${t.actions.join('; ')}`);
    revoke.addEventListener('click', () => revokeAccess(t.scopes));
    const cell = document.createElement('td');
    cell.append(revoke);
    row.append(cell);
    row.dataset.scopes = t.scopes.join(' ');
    row.dataset.expiresAtMs = String(t.expiresAtMs);
    return row;
  }));
}

/** "Revoke" (one token's scopes) or "Revoke all elevated access" (`scopes`: null). */
async function revokeAccess(scopes) {
  try {
    const removed = await call('revoke_elevated_access', { scopes });
    el.tokensStatus.textContent = scopes
      ? 'Revoked: that access is no longer attached to any call.'
      : `All elevated access revoked (${removed} removed from the keychain).`;
  } catch (error) {
    el.tokensStatus.textContent = error.message;
  }
  await refreshAccount();
  // The button pressed may be gone: the focus goes to the section's heading.
  if (!document.activeElement || document.activeElement === document.body) byId('tokens-title').focus();
}

function renderHistory(history) {
  el.historyEmpty.hidden = history.length > 0;
  el.historyTable.hidden = history.length === 0;
  el.historyBody.replaceChildren(...history.map((h) => {
    // The name as a link gave it: a claim, marked as such unless a signature verified it.
    const who = `${h.requester}${h.verified ? ' ✓' : ''}${h.origin ? ` (${h.origin})` : ''}`;
    const row = fillRow(document.createElement('tr'), [dateTime(h.atMs), who, h.scopeText, h.methodLabel ?? '—', h.result]);
    row.dataset.result = h.outcome;
    row.dataset.scope = h.scope;
    return row;
  }));
}

function renderDevices(devices) {
  el.devicesEmpty.hidden = devices.length > 0;
  el.devicesList.replaceChildren(...devices.map((d) => {
    const li = document.createElement('li');
    const kind = deviceKindName(d.kind);
    const named = d.alias && d.alias.toLowerCase().includes(kind.toLowerCase());
    li.textContent = `${d.alias ?? kind}${named ? '' : ` (${kind.toLowerCase()})`}${d.isDefault ? ', default' : ''}`;
    li.dataset.kind = d.kind ?? '';
    li.dataset.alias = d.alias ?? '';
    li.dataset.deviceId = d.id ?? '';
    return li;
  }));
}
