// "Add a passkey on this device": explain, then the user's "Create passkey" click is the
// presence confirmation; the backend opens the step-up dialog itself when it needs one.

import { call } from '../ipc.js';
import { byId } from '../dom.js';
import { announce } from './views.js';

const el = {
  start: byId('add-passkey'),
  confirm: byId('add-passkey-confirm'),
  create: byId('add-passkey-create'),
  cancel: byId('add-passkey-cancel'),
  progress: byId('add-passkey-progress'),
  progressText: byId('add-passkey-progress-text'),
  status: byId('add-passkey-status'),
  error: byId('add-passkey-error'),
};

/** Back to the "Add a passkey" button. */
function idle() {
  el.confirm.hidden = true;
  el.progress.hidden = true;
  el.start.hidden = false;
  el.start.disabled = false;
}

/** `refresh` lists the devices again once a registration ends. */
export function wireAddPasskey(refresh) {
  el.start.addEventListener('click', () => {
    el.status.textContent = '';
    el.error.textContent = '';
    delete el.error.dataset.code;
    el.start.hidden = true;
    el.confirm.hidden = false;
    el.create.disabled = false;
    el.create.focus();
  });
  el.cancel.addEventListener('click', () => {
    idle();
    announce('No passkey was added.');
    el.start.focus();
  });
  el.create.addEventListener('click', async () => {
    el.create.disabled = true;
    el.confirm.hidden = true;
    el.progress.hidden = false;
    el.progressText.textContent = 'Adding the passkey (confirm it’s you if the dialog asks)…';
    document.body.dataset.addPasskey = 'busy';
    try {
      const added = await call('add_device_passkey');
      el.status.textContent = `Passkey added${added.alias ? `: ${added.alias}` : ''}. You can now use it to confirm it’s you.`;
      document.body.dataset.addPasskey = 'added';
    } catch (error) {
      el.error.textContent = error.message;
      el.error.dataset.code = error.code;
      document.body.dataset.addPasskey = 'failed';
    } finally {
      idle();
      await refresh();
    }
  });
}
