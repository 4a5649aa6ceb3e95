// The sandbox outbox panel (sandbox mode only): the authenticator code now, the recovery codes,
// the codes "sent" by email and text message, the example links, and the switch to the other
// demo persona.

import { call } from '../ipc.js';
import { byId } from '../dom.js';
import { clockTime } from '../format.js';
import { announce } from './views.js';
import { appStatus } from './app-status.js';

const el = {
  panel: byId('outbox'),
  totp: byId('outbox-totp'),
  totpLeft: byId('outbox-totp-left'),
  recovery: byId('outbox-recovery'),
  passkeyPin: byId('outbox-passkey-pin'),
  list: byId('outbox-list'),
  examples: byId('outbox-examples'),
  switchPersona: byId('switch-persona'),
  switchNote: byId('switch-persona-note'),
  dialogOutbox: byId('dlg-outbox'),
  dialogTotp: byId('dlg-outbox-totp'),
  dialogLast: byId('dlg-outbox-last'),
  dialogLastTo: byId('dlg-outbox-last-to'),
  dialogPin: byId('dlg-outbox-pin'),
  dialogRecovery: byId('dlg-outbox-recovery'),
};

/** What the outbox calls a delivery channel. */
const CHANNELS = { sms: 'Text message', email: 'Email' };

/** Reads the outbox again (while the panel is shown); a failure waits for the next poll. */
export async function refreshOutbox() {
  const status = appStatus();
  if (!status?.sandbox || el.panel.hidden) return;
  try {
    const outbox = await call('sandbox_outbox');
    el.totp.textContent = outbox.totpCode ?? '——————';
    el.totpLeft.textContent = outbox.totpValidForSeconds != null ? `(changes in ${outbox.totpValidForSeconds} s)` : '';
    el.recovery.textContent = outbox.recoveryCodes.join('  ') || 'none left';
    el.passkeyPin.textContent = outbox.passkeyPin;
    // The same, inside the dialog (the main window is inert while it is open).
    el.dialogOutbox.hidden = false;
    el.dialogTotp.textContent = el.totp.textContent;
    el.dialogPin.textContent = outbox.passkeyPin;
    el.dialogRecovery.textContent = outbox.recoveryCodes[0] ?? 'none left';
    const last = outbox.messages[0];
    el.dialogLast.textContent = last ? last.code : '—';
    el.dialogLastTo.textContent = last ? `(${CHANNELS[last.channel] ?? last.channel} to ${last.to}, ${clockTime(last.sentAtMs)})` : '';
    renderPersonaSwitch(outbox.personaEmails, status.user?.label);
    el.list.replaceChildren(...outbox.messages.map((m) => {
      const li = document.createElement('li');
      const code = document.createElement('code');
      code.className = 'big-code';
      code.textContent = m.code;
      li.append(`${clockTime(m.sentAtMs)} ${CHANNELS[m.channel] ?? m.channel} to ${m.to}: `, code);
      li.dataset.channel = m.channel;
      li.dataset.code = m.code;
      return li;
    }));
    if (!el.examples.childElementCount) renderExamples(outbox.exampleLinks);
  } catch { /* the next poll retries */ }
}

/** "Sign in as <the other persona> instead". */
function renderPersonaSwitch([mfaEmail, reauthEmail], user) {
  const other = user === mfaEmail
    ? { persona: 'reauth', email: reauthEmail, note: 'a user without an authenticator: verifies by email or text message' }
    : { persona: 'mfa', email: mfaEmail, note: 'the demo user with an authenticator app and recovery codes' };
  el.switchPersona.hidden = false;
  el.switchPersona.textContent = `Sign in as ${other.email} instead`;
  el.switchPersona.dataset.persona = other.persona;
  el.switchPersona.dataset.email = other.email;
  el.switchNote.textContent = `(${other.note})`;
}

function renderExamples(links) {
  el.examples.replaceChildren(...links.map((link) => {
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

/** The persona switch; `refresh` shows the new session. */
export function wirePersonaSwitch(refresh) {
  const button = el.switchPersona;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await call('sandbox_sign_in', { persona: button.dataset.persona });
      announce(`Signed in as ${button.dataset.email}.`);
    } catch (error) {
      announce(error.message);
    } finally {
      button.disabled = false;
      await refresh();
    }
  });
}
