// The main view's account content: the elevated-access tokens (their countdown redrawn every
// second), the recent step-ups, and the account's passkeys and authenticators.

import { call } from '../ipc.js';
import { byId, fillRow } from '../dom.js';
import { remaining, clockTime } from '../format.js';
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
};

/** The stored tokens, as token_status last listed them. */
let tokens = [];

/** Lists tokens, history and devices again (when signed in). */
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
  el.tokensBody.replaceChildren(...live.map((t) => {
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

function renderHistory(history) {
  el.historyEmpty.hidden = history.length > 0;
  el.historyTable.hidden = history.length === 0;
  el.historyBody.replaceChildren(...history.map((h) => {
    const row = fillRow(document.createElement('tr'), [clockTime(h.atMs), h.requester, h.scope, h.methodLabel ?? '—', h.result]);
    row.dataset.result = h.outcome;
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
