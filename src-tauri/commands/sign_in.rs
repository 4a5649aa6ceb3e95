//! Signing in with an emailed code (outside the sandbox, the user signs in here first).

use super::app::signed_in_user;
use super::CommandResult;
use crate::state::AppState;
use stepup_client::{OtpChannel, Secret};
use stepup_requests::flow::RESEND_AFTER_SECONDS;
use stepup_requests::views::{SentView, UserView};
use stepup_requests::AppError;
use tauri::{AppHandle, Emitter, Runtime, State};

/// Sign-in, step 1: emails a code.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sign_in_send_email_otp(
    state: State<'_, AppState>,
    email: String,
) -> CommandResult<SentView> {
    let backend = state.backend().await?;
    let sent = backend.client()?.send_email_otp(&email).await?;
    let destination = match &sent.channel {
        OtpChannel::Email(address) => address.clone(),
        OtpChannel::Sms(_) => email,
    };
    *state.sign_in.lock().await = Some(sent);
    Ok(SentView {
        destination,
        resend_after_seconds: RESEND_AFTER_SECONDS,
    })
}

/// Sign-in, step 2: the emailed code.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sign_in_verify_email_otp<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    code: String,
) -> CommandResult<UserView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    let sent = state
        .sign_in
        .lock()
        .await
        .clone()
        .ok_or(AppError::NoCodeSent)?;
    client
        .sign_in_with_email_otp(&sent, Secret::new(code))
        .await?;
    *state.sign_in.lock().await = None;
    let _ = app.emit("app-state", ());
    signed_in_user(client)
}
