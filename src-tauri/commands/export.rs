//! Exporting the embedded wallet's private key after a `wallet:export` approval in the dialog.

use super::{now_ms, CommandResult};
use crate::state::AppState;
use stepup_requests::flow;
use stepup_requests::views::{ExportedKeyView, LinkEvent};
use tauri::State;

/// Exports the private key of the signed-in user's embedded wallet, for a `wallet:export`
/// request approved in this dialog: once per approval. A deep link cannot reach this: it only
/// opens a request, and only a verification in the dialog approves one.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn export_private_key(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<ExportedKeyView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    flow::export(&state.desk, client, request_id, backend.wallet(), now_ms()).await
}

/// "Verify again" after an export was refused: opens a new `wallet:export` request for the
/// same requester, only for a request whose one export was spent in this dialog.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn verify_export_again(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<LinkEvent> {
    state.desk.lock().reopen_export(request_id, now_ms())
}
