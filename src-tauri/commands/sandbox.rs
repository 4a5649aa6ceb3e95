//! `--sandbox` only (granted by the sandbox capability, added at run time in that mode): the
//! outbox panel, links opened from it, and switching the demo user.

use super::{now_ms, CommandResult};
use crate::cli::SandboxPersona;
use crate::sandbox::OutboxView;
use crate::state::AppState;
use stepup_requests::views::UserView;
use tauri::{AppHandle, Emitter, Runtime, State};

/// The delivered codes and the demo authenticator's current code.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sandbox_outbox(state: State<'_, AppState>) -> CommandResult<OutboxView> {
    Ok(state.backend().await?.sandbox()?.outbox_view(now_ms()))
}

/// Opens a link as if it came from outside (it goes through the same parser).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sandbox_open_link<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    link: String,
) -> CommandResult<()> {
    state.backend().await?.sandbox()?;
    crate::receive_link(&app, &link);
    Ok(())
}

/// A link for `scope` that carries a confirmation the sandbox's customer backend signed for
/// the signed-in user, as the customer's web app would open it.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sandbox_server_confirmed_link(
    state: State<'_, AppState>,
    scope: String,
) -> CommandResult<String> {
    let backend = state.backend().await?;
    let email = backend
        .client()?
        .current_user()
        .and_then(|u| u.email)
        .ok_or(stepup_client::StepUpError::NotSignedIn)?;
    backend.sandbox()?.server_confirmed_link(&email, &scope)
}

/// Signs the other demo user in (`mfa`: authenticator; `reauth`: email/SMS).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sandbox_sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    persona: SandboxPersona,
) -> CommandResult<UserView> {
    let backend = state.backend().await?;
    backend.switch_sandbox_user(persona).await?;
    let _ = app.emit("app-state", ());
    super::app::signed_in_user(backend.client()?)
}
