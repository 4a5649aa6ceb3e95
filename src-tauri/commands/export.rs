//! Exporting the embedded wallet's private key after a `wallet:export` approval in the dialog.

use super::{now_ms, CommandResult};
use crate::state::AppState;
use crate::MAIN_WINDOW;
use std::time::Duration;
use stepup_requests::export::key_digest;
use stepup_requests::flow;
use stepup_requests::views::{ExportedKeyView, LinkEvent};
use stepup_requests::AppError;
use tauri::{AppHandle, Emitter, Runtime, State};
use tauri_plugin_clipboard_manager::ClipboardExt;

/// The clipboard is cleared this long after "Copy", if it still holds the key.
pub const CLIPBOARD_CLEAR_AFTER: Duration = Duration::from_secs(30);

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

/// "Copy" of the exported key: only the key this dialog exported for the request on screen.
/// Written with the clipboard managers' secret hint (kept out of their history); 30 s later the
/// backend clears the clipboard if it still holds the key (compared by digest), and tells the
/// window (`clipboard-cleared`: true when it cleared, false when the user had copied something
/// else since). The webview holds no clipboard permission at all.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn copy_exported_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request_id: u64,
    key: String,
) -> CommandResult<()> {
    let digest = state.desk.lock().exported_key_digest(request_id, &key)?;
    app.clipboard()
        .write_secret(key)
        .map_err(|_| AppError::ClipboardUnavailable)?;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLIPBOARD_CLEAR_AFTER).await;
        let clipboard = app.clipboard();
        let holds_key = clipboard
            .read_text()
            .is_ok_and(|text| key_digest(&text) == digest);
        if holds_key {
            if let Err(error) = clipboard.clear() {
                tracing::warn!(%error, "could not clear the clipboard");
            }
        }
        tracing::info!(
            cleared = holds_key,
            "clipboard checked after a copy of the key"
        );
        let _ = app.emit_to(MAIN_WINDOW, "clipboard-cleared", holds_key);
    });
    Ok(())
}
