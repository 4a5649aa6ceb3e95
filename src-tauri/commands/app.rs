//! The app as a whole: status, the UI's readiness, the tokens and history it lists, sign-out.

use super::{now_ms, CommandResult};
use crate::state::AppState;
use stepup_client::TokenScope;
use stepup_requests::views::{AppStatus, DeviceView, HistoryEntry, LinkEvent, TokenView, UserView};
use stepup_requests::wording::scope_words;
use tauri::{AppHandle, Emitter, Runtime, State};

/// The app's status: environment, user, sandbox, keychain.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    Ok(state.backend().await?.status())
}

/// The UI listens for `deep-link` events now: returns the links that arrived before.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn ui_ready(state: State<'_, AppState>) -> Vec<LinkEvent> {
    let waiting = state.desk.lock().ui_ready();
    tracing::info!(replayed = waiting.len(), at_ms = now_ms(), "ui ready");
    waiting
}

/// The stored elevated tokens: scopes and expiry, never the token.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn token_status(state: State<'_, AppState>) -> CommandResult<Vec<TokenView>> {
    let backend = state.backend().await?;
    Ok(backend
        .client()?
        .elevated_tokens()
        .into_iter()
        .map(|t| TokenView {
            actions: t.scopes.iter().map(scope_words).collect(),
            scopes: t.scopes,
            expires_at_ms: t.expires_at_ms,
            single_use: t.single_use,
        })
        .collect())
}

/// "Revoke" (one token, by its scopes) and "Revoke all elevated access" (`scopes`: none): the
/// tokens leave the keychain and are never attached again, and the approvals they stood for are
/// forgotten (a new request asks again). Returns how many tokens were removed.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn revoke_elevated_access(
    state: State<'_, AppState>,
    scopes: Option<Vec<TokenScope>>,
) -> CommandResult<usize> {
    let backend = state.backend().await?;
    let removed = backend
        .client()?
        .revoke_elevated_access(scopes.as_deref())
        .await?;
    state.desk.lock().forget_approvals(scopes.as_deref());
    Ok(removed)
}

/// Recent step-ups, newest first (memory only, no secrets).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn step_up_history(state: State<'_, AppState>) -> Vec<HistoryEntry> {
    state.desk.lock().history()
}

/// The user's MFA devices (authenticator apps, passkeys).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn mfa_devices(state: State<'_, AppState>) -> CommandResult<Vec<DeviceView>> {
    let backend = state.backend().await?;
    let devices = backend.client()?.mfa_devices().await?;
    Ok(devices
        .into_iter()
        .map(|d| DeviceView {
            id: d.id,
            kind: d.kind,
            alias: d.alias,
            is_default: d.default.unwrap_or(false),
        })
        .collect())
}

/// Signs out: the session and every token leave the keychain.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn logout<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<()> {
    state.backend().await?.client()?.logout().await?;
    let _ = app.emit("app-state", ());
    Ok(())
}

/// Quit: the app ends (closing the window only makes it resident in the background).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn quit_app<R: Runtime>(app: AppHandle<R>) {
    crate::resident::quit(&app);
}

/// The signed-in user of the backend, for the sign-in commands' answers.
pub(super) fn signed_in_user(client: &stepup_client::StepUpClient) -> CommandResult<UserView> {
    UserView::of(client).ok_or_else(|| stepup_client::StepUpError::NotSignedIn.into())
}
