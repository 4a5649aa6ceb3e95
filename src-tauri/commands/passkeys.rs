//! The main window's "Add a passkey on this device".

use super::{now_ms, CommandResult};
use crate::state::AppState;
use crate::MAIN_WINDOW;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use stepup_client::passkey::{PasskeyConfirmation, PasskeyPrompt, UserPresence};
use stepup_client::{StepUpError, TokenScope};
use stepup_requests::views::{AddedPasskeyView, HistoryEntry, LinkEvent};
use stepup_requests::{AppError, Method, Outcome};
use tauri::{AppHandle, Emitter, Runtime, State};

/// Who the app's own requests come from, as the dialog names it.
pub const OWN_REQUESTER: &str = "Stepup Desktop (you)";
/// The main window's "Add a passkey on this device", as the end of "… asks to …".
pub const ADD_PASSKEY_ACTION: &str = "add a passkey on this device";

/// Registers a new MFA passkey with this device's authenticator. Registration needs a
/// `credential:link` token: when the server asks for one, the same step-up dialog as a deep
/// link's opens (requester: the app itself), and once it is approved the registration is
/// retried exactly once (the client's `retry_after_step_up`, with the dialog as the
/// verification).
///
/// Called only from the main window's "Create passkey" button, which says what happens: that
/// click is the user's presence confirmation for the new passkey.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn add_device_passkey<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<AddedPasskeyView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    let presence: Arc<dyn UserPresence> = Arc::new(|_: &PasskeyPrompt| true);
    let confirmation = PasskeyConfirmation::new(backend.passkey()?, presence);
    let stepped_up = AtomicBool::new(false);
    let dialog_error = Mutex::new(None);
    let registered = client
        .retry_after_step_up(
            || client.register_passkey(confirmation.clone()),
            |scope| async {
                stepped_up.store(true, Ordering::Relaxed);
                step_up_in_dialog(&app, &state, scope, ADD_PASSKEY_ACTION)
                    .await
                    .map_err(|error| {
                        let cancelled = StepUpError::Cancelled;
                        if let Ok(mut slot) = dialog_error.lock() {
                            *slot = Some(error);
                        }
                        cancelled
                    })
            },
        )
        .await;
    let registered = match registered {
        Ok(registered) => registered,
        Err(error) => {
            let dialog_error = dialog_error.lock().ok().and_then(|mut e| e.take());
            return Err(dialog_error.unwrap_or(error.into()));
        }
    };
    let alias = match &registered.device_id {
        Some(id) => client
            .mfa_devices()
            .await
            .ok()
            .and_then(|devices| devices.into_iter().find(|d| d.id.as_ref() == Some(id)))
            .and_then(|d| d.alias),
        None => None,
    };
    state.desk.lock().record(HistoryEntry {
        at_ms: now_ms(),
        requester: OWN_REQUESTER.to_owned(),
        scope: TokenScope::CredentialLink,
        method: Some(Method::Passkey),
        method_label: Some(Method::Passkey.label()),
        outcome: Outcome::PasskeyAdded,
        result: match &alias {
            Some(alias) => format!("Passkey added ({alias})"),
            None => "Passkey added".to_owned(),
        },
    });
    let stepped_up = stepped_up.load(Ordering::Relaxed);
    tracing::info!(stepped_up, "passkey added on this device");
    Ok(AddedPasskeyView {
        device_id: registered.device_id,
        alias,
        stepped_up,
    })
}

/// Opens the step-up dialog for one of the app's own actions and waits for it to end:
/// `Ok` when approved (or a stored token already covered `scope`), `cancelled` otherwise.
async fn step_up_in_dialog<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    scope: TokenScope,
    action: &'static str,
) -> Result<(), AppError> {
    let (event, ended) =
        state
            .desk
            .lock()
            .open_own_request(scope.clone(), OWN_REQUESTER, action, now_ms())?;
    tracing::info!(%scope, "own request opened");
    if let Err(error) = app.emit_to(MAIN_WINDOW, "deep-link", &event) {
        tracing::error!(%error, "could not hand the app's own request to the window");
        if let LinkEvent::Request { request } = &event {
            let _ = state
                .desk
                .lock()
                .close(request.id, Outcome::Cancelled, None, now_ms());
        }
        return Err(AppError::DialogUnavailable);
    }
    match ended.await {
        Ok(Outcome::Approved | Outcome::NotNeeded) => Ok(()),
        _ => Err(StepUpError::Cancelled.into()),
    }
}
