// After an approved wallet:export request: the user's wallet, the acknowledgement, "Export the
// private key" (once per approval, only while the acknowledgement is ticked), and "Verify again"
// when the approval is spent or expired.

import { call } from '../ipc.js';
import { shortAddress } from '../format.js';
import { el } from './elements.js';
import { PHASES, isBusy } from './phase.js';
import { isSignedOut } from './errors.js';

/** The export section's `data-state`, per phase (a wallet being exported is still offered). */
const SECTION_STATE = { [PHASES.exported]: 'exported', [PHASES.exportRefused]: 'step-up-required' };

/** The request the acknowledgement box was last drawn for: each request starts unticked. */
let ackRequest = null;

/** "Export the private key" is armed only while the acknowledgement is ticked; like the
 * approval button before its guard time, it stays focusable but inert (aria-disabled; exportKey
 * ignores it), and the line beside it says why. Unticking disarms it again. */
function armExport() {
  const acknowledged = el.exportAck.checked;
  el.exportGo.setAttribute('aria-disabled', String(!acknowledged));
  el.exportGoHint.hidden = acknowledged;
  el.exportSection.dataset.acknowledged = String(acknowledged);
}
el.exportAck.addEventListener('change', armExport);

/** Draws the export offer of `state` (`offer`: `{hasWallet, walletAddress}` from the
 * verification; `wallet`: the address the export answered with). */
export function renderExport({ request = null, phase, offer, wallet }) {
  el.exportSection.hidden = !offer;
  if (!offer || request !== ackRequest) {
    ackRequest = offer ? request : null;
    el.exportAck.checked = false;
  }
  if (!offer) {
    delete el.exportSection.dataset.state;
    delete el.exportSection.dataset.acknowledged;
    return;
  }
  el.exportSection.dataset.state = offer.hasWallet ? SECTION_STATE[phase] ?? 'offered' : 'no-wallet';
  const address = wallet ?? offer.walletAddress;
  el.exportWallet.textContent = offer.hasWallet ? shortAddress(address) : '';
  el.exportWallet.title = address ?? '';
  el.exportExplain.hidden = !offer.hasWallet;
  el.exportNone.hidden = offer.hasWallet;
  const offering = offer.hasWallet && phase !== PHASES.exported && phase !== PHASES.exportRefused;
  el.exportGoRow.hidden = !offering;
  el.exportGo.hidden = !offering;
  el.exportGo.disabled = phase === PHASES.exporting;
  el.exportAck.disabled = phase === PHASES.exporting;
  armExport();
  el.exportAgainRow.hidden = phase !== PHASES.exportRefused;
}

/** "Export the private key", once the acknowledgement is ticked: the key goes to `reveal`,
 * hidden; a spent approval is refused with step_up_required, which offers "Verify again". */
export async function exportKey(dialog, reveal) {
  const { request, phase } = dialog.state ?? {};
  if (phase !== PHASES.approved || !el.exportAck.checked) return;
  dialog.update({ phase: PHASES.exporting, error: null });
  try {
    const exported = await call('export_private_key', { requestId: request.id });
    if (!dialog.showing(request)) return; // closed meanwhile: the key is dropped here
    reveal.hold(exported.privateKey, request.id);
    dialog.update({ phase: PHASES.exported, wallet: exported.address });
    el.keyHold.focus();
    dialog.hooks.onFinished();
  } catch (error) {
    if (!dialog.showing(request)) return;
    const refused = error.code === 'step_up_required';
    dialog.update({ phase: refused ? PHASES.exportRefused : PHASES.approved, error });
    (refused ? el.exportAgain : el.exportGo).focus();
    if (isSignedOut(error)) dialog.hooks.onSignedOut();
  }
}

/** "Verify again": a new wallet:export request for the same requester, verified in this
 * dialog at once. */
export async function verifyAgain(dialog) {
  const { request, phase } = dialog.state ?? {};
  if (!request || isBusy(phase)) return;
  try {
    const event = await call('verify_export_again', { requestId: request.id });
    if (dialog.showing(request) && event.kind === 'request') dialog.open(event.request);
  } catch (error) {
    if (dialog.showing(request)) dialog.update({ error });
  }
}
