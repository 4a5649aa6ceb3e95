//! The main window's "Add a passkey on this device".

use super::{now_ms, CommandResult};
use crate::state::AppState;
use crate::MAIN_WINDOW;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepup_client::passkey::{
    check_new_pin, entered_pin, DevicePasskey, PasskeyConfirmation, PinStatus,
};
use stepup_client::{run_blocking, Secret, StepUpError, TokenScope, VaultError};
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
/// Called only from the main window's "Create passkey" button, which says what happens. `pin`
/// is the PIN the user chose for this device's first passkey (typed twice there), or the
/// existing one when this device already holds a passkey: it seals the key.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn add_device_passkey<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    pin: String,
) -> CommandResult<AddedPasskeyView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    let pin = Secret::new(pin);
    if let Some(device) = backend.device_passkey() {
        // A weak new PIN is refused before the step-up dialog, not after it (none is asked
        // where the OS seals the new passkey).
        if !device.os_can_verify() && device_status(device.clone()).await? == PinStatus::NotEnrolled
        {
            check_new_pin(&pin)?;
        }
    }
    let confirmation = PasskeyConfirmation::new(backend.passkey()?, entered_pin(pin));
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
        origin: None,
        verified: false,
        scope: TokenScope::CredentialLink,
        scope_text: stepup_requests::wording::action_text(&TokenScope::CredentialLink),
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

/// How long a device passkey status or removal may take (a keychain call).
const KEYCHAIN_CALL: Duration = Duration::from_secs(10);

/// `device_passkey_status`: the device passkey's [`PinStatus`] (`state`, `triesLeft`), and
/// whether the OS verifies its user instead of a PIN.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePasskeyView {
    /// Whether a PIN is set, and how many tries are left.
    #[serde(flatten)]
    pub status: PinStatus,
    /// The OS asks (polkit), and can now: for this passkey (`state` is `os`), or for a new one
    /// (`state` is `notEnrolled`). No PIN field is shown then.
    pub by_os: bool,
}

/// This device's passkey, as "Add a passkey" and the passkey step need to know it: whether a
/// PIN is set (choose one, or enter it) and how many tries are left, or whether the OS asks
/// instead. `None` where the OS authenticates (Windows Hello).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn device_passkey_status(
    state: State<'_, AppState>,
) -> CommandResult<Option<DevicePasskeyView>> {
    let backend = state.backend().await?;
    let Some(device) = backend.device_passkey() else {
        return Ok(None);
    };
    let status = device_status(device.clone()).await?;
    // An OS-sealed passkey whose OS cannot ask now (no agent, the helper uninstalled) is
    // `os` without `byOs`: the window offers its removal.
    let by_os = match status {
        PinStatus::Os | PinStatus::NotEnrolled => device.os_can_verify(),
        PinStatus::NoPin | PinStatus::Set { .. } | PinStatus::Locked => false,
    };
    Ok(Some(DevicePasskeyView { status, by_os }))
}

/// "Remove this device's passkey" (a locked one, or one from before PINs): the local key is
/// deleted; the account keeps listing the passkey until it is deleted there.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn remove_device_passkey(state: State<'_, AppState>) -> CommandResult<()> {
    let backend = state.backend().await?;
    let Some(device) = backend.device_passkey() else {
        return Ok(());
    };
    run_blocking(KEYCHAIN_CALL, move || device.remove())
        .await
        .map_err(VaultError::from)??;
    tracing::info!("device passkey removed");
    Ok(())
}

pub(super) async fn device_status(device: Arc<DevicePasskey>) -> Result<PinStatus, AppError> {
    Ok(run_blocking(KEYCHAIN_CALL, move || device.pin_status())
        .await
        .map_err(VaultError::from)??)
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
