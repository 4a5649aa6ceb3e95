//! Exporting the embedded wallet's private key after a `wallet:export` approval in the dialog.

use super::{now_ms, CommandResult};
use crate::state::AppState;
use crate::MAIN_WINDOW;
use std::time::Duration;
use stepup_requests::flow;
use stepup_requests::views::{ExportedKeyView, LinkEvent};
use tauri::{AppHandle, Emitter, Runtime, State};

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
/// backend clears the clipboard if it still holds the key (see [`clipboard`]), and tells the
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
    state.desk.lock().exported_key_digest(request_id, &key)?;
    let copy = clipboard::write_secret(&app, key).await?;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(CLIPBOARD_CLEAR_AFTER).await;
        let cleared = match clipboard::clear_if_still_ours(&app, copy).await {
            Ok(cleared) => cleared,
            Err(error) => {
                tracing::warn!(%error, "could not clear the clipboard");
                false
            }
        };
        tracing::info!(cleared, "clipboard checked after a copy of the key");
        let _ = app.emit_to(MAIN_WINDOW, "clipboard-cleared", cleared);
    });
    Ok(())
}

/// The system clipboard, for the one thing the app copies: an exported key.
///
/// Linux: GTK's own clipboard (the toolkit the window already runs on), on the main thread.
/// The key is offered as text together with the `x-kde-passwordManagerHint` target set to
/// `secret`, which clipboard managers (Klipper, GPaste, CopyQ, …) read as "keep this out of
/// the history". Whether the clipboard still holds our key is known without reading it: GTK
/// drops our data (and so flips `owned`) the moment another app takes the clipboard.
#[cfg(target_os = "linux")]
mod clipboard {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use gtk::gdk;
    use stepup_requests::AppError;
    use tauri::{AppHandle, Runtime};

    /// The target that tells clipboard managers the text is a secret.
    const SECRET_HINT: &str = "x-kde-passwordManagerHint";
    const TEXT_INFO: u32 = 0;
    const HINT_INFO: u32 = 1;

    /// Set while the clipboard holds what one copy put there; false once it was replaced
    /// or cleared.
    pub struct Copy(Arc<AtomicBool>);

    /// Dropped with our clipboard data (GTK's clear callback): the clipboard moved on.
    struct Owned(Arc<AtomicBool>);

    impl Drop for Owned {
        fn drop(&mut self) {
            self.0.store(false, Ordering::SeqCst);
        }
    }

    /// Runs `f` on the main thread (GTK's) and waits for its answer.
    async fn on_main<R: Runtime, T: Send + 'static>(
        app: &AppHandle<R>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        app.run_on_main_thread(move || {
            let _ = tx.send(f());
        })
        .map_err(|_| AppError::ClipboardUnavailable)?;
        rx.await.map_err(|_| AppError::ClipboardUnavailable)
    }

    /// Puts `secret` on the clipboard, marked as a secret for clipboard managers.
    pub async fn write_secret<R: Runtime>(
        app: &AppHandle<R>,
        secret: String,
    ) -> Result<Copy, AppError> {
        let owned = Arc::new(AtomicBool::new(true));
        let guard = Owned(owned.clone());
        let set = on_main(app, move || {
            let clipboard = gtk::Clipboard::get(&gdk::SELECTION_CLIPBOARD);
            let flags = gtk::TargetFlags::empty();
            let targets = [
                gtk::TargetEntry::new("UTF8_STRING", flags, TEXT_INFO),
                gtk::TargetEntry::new("text/plain;charset=utf-8", flags, TEXT_INFO),
                gtk::TargetEntry::new("STRING", flags, TEXT_INFO),
                gtk::TargetEntry::new("TEXT", flags, TEXT_INFO),
                gtk::TargetEntry::new(SECRET_HINT, flags, HINT_INFO),
            ];
            clipboard.set_with_data(&targets, move |_, selection, info| {
                let _held = &guard;
                if info == HINT_INFO {
                    selection.set(&selection.target(), 8, b"secret");
                } else {
                    selection.set_text(&secret);
                }
            })
        })
        .await?;
        if set && owned.load(Ordering::SeqCst) {
            Ok(Copy(owned))
        } else {
            Err(AppError::ClipboardUnavailable)
        }
    }

    /// Clears the clipboard if it still holds what `copy` put there; returns whether it did.
    pub async fn clear_if_still_ours<R: Runtime>(
        app: &AppHandle<R>,
        copy: Copy,
    ) -> Result<bool, AppError> {
        on_main(app, move || {
            let ours = copy.0.load(Ordering::SeqCst);
            if ours {
                gtk::Clipboard::get(&gdk::SELECTION_CLIPBOARD).clear();
            }
            ours
        })
        .await
    }
}

/// Elsewhere: the clipboard plugin (arboard), with its secret hint, and a read-back.
#[cfg(not(target_os = "linux"))]
mod clipboard {
    use stepup_requests::export::key_digest;
    use stepup_requests::AppError;
    use tauri::{AppHandle, Runtime};
    use tauri_plugin_clipboard_manager::ClipboardExt;

    /// The digest of what one copy put on the clipboard.
    pub struct Copy([u8; 32]);

    pub async fn write_secret<R: Runtime>(
        app: &AppHandle<R>,
        secret: String,
    ) -> Result<Copy, AppError> {
        let digest = key_digest(&secret);
        app.clipboard()
            .write_secret(secret)
            .map_err(|_| AppError::ClipboardUnavailable)?;
        Ok(Copy(digest))
    }

    pub async fn clear_if_still_ours<R: Runtime>(
        app: &AppHandle<R>,
        copy: Copy,
    ) -> Result<bool, AppError> {
        let clipboard = app.clipboard();
        let ours = clipboard
            .read_text()
            .is_ok_and(|text| key_digest(&text) == copy.0);
        if ours {
            clipboard
                .clear()
                .map_err(|_| AppError::ClipboardUnavailable)?;
        }
        Ok(ours)
    }
}
