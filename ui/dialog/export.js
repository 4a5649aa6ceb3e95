// After an approved wallet:export request: the user's wallet, "Export the private key" (once per
// approval), and "Verify again" when the approval is spent or expired.

import { call } from '../ipc.js';
import { shortAddress } from '../format.js';
import { el } from './elements.js';
import { PHASES, isBusy } from './phase.js';
import { isSignedOut } from './errors.js';

/** The export section's `data-state`, per phase (a wallet being exported is still offered). */
const SECTION_STATE = { [PHASES.exported]: 'exported', [PHASES.exportRefused]: 'step-up-required' };

/** Draws the export offer of `state` (`offer`: `{hasWallet, walletAddress}` from the
 * verification; `wallet`: the address the export answered with). */
export function renderExport({ phase, offer, wallet }) {
  el.exportSection.hidden = !offer;
  if (!offer) {
    delete el.exportSection.dataset.state;
    return;
  }
  el.exportSection.dataset.state = offer.hasWallet ? SECTION_STATE[phase] ?? 'offered' : 'no-wallet';
  const address = wallet ?? offer.walletAddress;
  el.exportWallet.textContent = offer.hasWallet ? shortAddress(address) : '';
  el.exportWallet.title = address ?? '';
  el.exportExplain.hidden = !offer.hasWallet;
  el.exportNone.hidden = offer.hasWallet;
  el.exportGo.hidden = !offer.hasWallet || phase === PHASES.exported || phase === PHASES.exportRefused;
  el.exportGo.disabled = phase === PHASES.exporting;
  el.exportAgainRow.hidden = phase !== PHASES.exportRefused;
}

/** "Export the private key": the key goes to `reveal`, masked; a spent approval is refused
 * with step_up_required, which offers "Verify again". */
export async function exportKey(dialog, reveal) {
  const { request, phase } = dialog.state ?? {};
  if (phase !== PHASES.approved) return;
  dialog.update({ phase: PHASES.exporting, error: null });
  try {
    const exported = await call('export_private_key', { requestId: request.id });
    if (!dialog.showing(request)) return; // closed meanwhile: the key is dropped here
    reveal.hold(exported.privateKey, request.id);
    dialog.update({ phase: PHASES.exported, wallet: exported.address });
    el.keyShow.focus();
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
