//! The dialog's step-up of one request: begin (ask the server), send a code, verify with a
//! method, or cancel. The rules live in `stepup_requests::flow`; these pass what the UI sent.

use super::{now_ms, CommandResult};
use crate::state::AppState;
use stepup_client::passkey::{entered_pin, PasskeyConfirmation, PinStatus};
use stepup_client::verify::SocialRedirect;
use stepup_client::Secret;
use stepup_requests::flow::{self, Proof};
use stepup_requests::link::SOCIAL_CALLBACK_URL;
use stepup_requests::views::{CheckView, SentView, VerifiedView, WalletMessageView};
use stepup_requests::{Method, Outcome};
use tauri::State;

/// Opens the dialog's work on a request: checks the scope and keeps the offered credentials.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn begin_step_up(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<CheckView> {
    // The dialog calls this as it shows a request (the installed-package test reads it).
    tracing::info!(
        request = request_id,
        at_ms = now_ms(),
        "the dialog shows a request"
    );
    let backend = state.backend().await?;
    let mut view = flow::begin(
        &state.desk,
        backend.client()?,
        request_id,
        backend.wallet(),
        now_ms(),
    )
    .await?;
    // Whether the passkey step asks a PIN or leaves it to the OS (one keychain read, only
    // when a passkey is offered).
    let passkey_offered = view.credentials.iter().any(|c| c.method == Method::Passkey);
    if let (true, true, Some(device)) =
        (view.is_required, passkey_offered, backend.device_passkey())
    {
        // A state that cannot be read says so in the passkey step itself, not here: the other
        // methods stay offered.
        view.passkey_by_os = match super::passkeys::device_status(device).await {
            Ok(status) => status == PinStatus::Os,
            Err(error) => {
                tracing::warn!(%error, "the device passkey's state could not be read");
                false
            }
        };
    }
    Ok(view)
}

/// Emails a step-up code for an open request.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn send_email_otp(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<SentView> {
    let backend = state.backend().await?;
    flow::send_code(
        &state.desk,
        backend.client()?,
        request_id,
        &credential_id,
        Method::EmailOtp,
    )
    .await
}

/// Texts a step-up code for an open request.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn send_sms_otp(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<SentView> {
    let backend = state.backend().await?;
    flow::send_code(
        &state.desk,
        backend.client()?,
        request_id,
        &credential_id,
        Method::SmsOtp,
    )
    .await
}

/// Verifies a typed code for an open request.
async fn verify_code(
    state: &AppState,
    request_id: u64,
    method: Method,
    credential_id: Option<String>,
    code: String,
) -> CommandResult<VerifiedView> {
    let backend = state.backend().await?;
    let proof = Proof::Code {
        method,
        credential_id,
        code: Secret::new(code),
    };
    let client = backend.client()?;
    flow::verify(
        &state.desk,
        client,
        request_id,
        proof,
        backend.wallet(),
        now_ms(),
    )
    .await
}

/// Verifies the emailed code of an open request.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_email_otp(
    state: State<'_, AppState>,
    request_id: u64,
    code: String,
) -> CommandResult<VerifiedView> {
    verify_code(&state, request_id, Method::EmailOtp, None, code).await
}

/// Verifies the texted code of an open request.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_sms_otp(
    state: State<'_, AppState>,
    request_id: u64,
    code: String,
) -> CommandResult<VerifiedView> {
    verify_code(&state, request_id, Method::SmsOtp, None, code).await
}

/// Verifies an authenticator (TOTP) code for an offered device of an open request.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_totp(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
    code: String,
) -> CommandResult<VerifiedView> {
    verify_code(&state, request_id, Method::Totp, Some(credential_id), code).await
}

/// Verifies a recovery code for an open request (offered to users with an MFA method).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_recovery_code(
    state: State<'_, AppState>,
    request_id: u64,
    code: String,
) -> CommandResult<VerifiedView> {
    verify_code(&state, request_id, Method::RecoveryCode, None, code).await
}

/// Approves an open request with the confirmation its link carried from the app's server (a
/// server-issued assertion), once the dialog offered it: checked again, then exchanged.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn approve_with_server_confirmation(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<VerifiedView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    flow::verify(
        &state.desk,
        client,
        request_id,
        Proof::ServerConfirmation,
        backend.wallet(),
        now_ms(),
    )
    .await
}

/// Verifies with this device's passkey for an open request.
///
/// `pin` is the device passkey's PIN, typed into the dialog that names the requester and the
/// action: it opens the sealed key (8 wrong PINs lock it), which is the user verification the
/// passkey reports. Authenticators with their own prompt (Windows Hello) ignore it.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_passkey(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
    pin: String,
) -> CommandResult<VerifiedView> {
    let backend = state.backend().await?;
    let proof = Proof::Passkey {
        credential_id,
        confirmation: PasskeyConfirmation::new(backend.passkey()?, entered_pin(Secret::new(pin))),
    };
    let client = backend.client()?;
    flow::verify(
        &state.desk,
        client,
        request_id,
        proof,
        backend.wallet(),
        now_ms(),
    )
    .await
}

/// The exact message an offered wallet credential is asked to sign, for the dialog to show
/// before anything is signed (a fresh nonce; kept with the request for the signature check).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn wallet_message(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<WalletMessageView> {
    let backend = state.backend().await?;
    flow::wallet_message(&state.desk, backend.client()?, request_id, &credential_id).await
}

/// "Sign in your browser wallet": serves the one-time wallet page on loopback, opens it in the
/// system browser, waits (at most 5 minutes, or until cancelled) for its answer, and verifies
/// the signature it brings.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sign_with_browser_wallet(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<VerifiedView> {
    let backend = state.backend().await?;
    flow::sign_in_browser(
        &state.desk,
        backend.client()?,
        request_id,
        &credential_id,
        backend.wallet(),
        &now_ms,
    )
    .await
}

/// "Continue in your browser" with a linked social account: the provider's page in the system
/// browser, the redirect back over loopback (else, where no loopback port can be opened or
/// `--no-loopback-redirect` or `STEPUP_LOOPBACK_REDIRECT=off`, on the app's scheme: `com.stepup.desktop://oauth-callback`,
/// which `receive_link` hands to this sign-in), then the verification.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sign_in_social(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<VerifiedView> {
    let backend = state.backend().await?;
    let redirect = if state.launch.no_loopback_redirect {
        SocialRedirect::app_scheme_only(SOCIAL_CALLBACK_URL)?
    } else {
        SocialRedirect::from_env(SOCIAL_CALLBACK_URL)?
    };
    flow::sign_in_social(
        &state.desk,
        backend.client()?,
        request_id,
        &credential_id,
        &redirect,
        backend.wallet(),
        &now_ms,
    )
    .await
}

/// "Open the page again": the page still waiting in the browser, opened once more.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn open_browser_page_again(state: State<'_, AppState>, request_id: u64) -> CommandResult<()> {
    flow::open_browser_again(&state.desk, request_id)
}

/// Cancel while a page waits in the browser: the wait ends, the request stays open.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn cancel_browser_page(state: State<'_, AppState>, request_id: u64) -> CommandResult<()> {
    flow::cancel_browser(&state.desk, request_id)
}

/// A pasted signature of the wallet message shown (65 bytes of hex, checked before it is
/// sent; made by the chosen wallet).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_wallet_signature(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
    signature: String,
) -> CommandResult<VerifiedView> {
    let backend = state.backend().await?;
    let proof = Proof::Wallet {
        credential_id,
        signature: Secret::new(signature),
    };
    flow::verify(
        &state.desk,
        backend.client()?,
        request_id,
        proof,
        backend.wallet(),
        now_ms(),
    )
    .await
}

/// Number matching: the user picked `number` of the three. The requesting page's number
/// unlocks the verification (`true`); another ends the request as refused (`false`).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn match_number(
    state: State<'_, AppState>,
    request_id: u64,
    number: u8,
) -> CommandResult<bool> {
    let matched = state
        .desk
        .lock()
        .pick_number(request_id, number, now_ms())?;
    tracing::info!(request = request_id, matched, "number picked");
    Ok(matched)
}

/// The user closed the dialog without approving.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn cancel_step_up(state: State<'_, AppState>, request_id: u64) -> CommandResult<()> {
    state
        .desk
        .lock()
        .close(request_id, Outcome::Cancelled, None, now_ms())
}

/// "I didn't ask for this": ends the request as denied and records it as reported, with the
/// name the link claimed and where it wanted the user back.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn deny_step_up(state: State<'_, AppState>, request_id: u64) -> CommandResult<()> {
    let mut desk = state.desk.lock();
    let request = desk.get(request_id)?.request().clone();
    desk.close(request_id, Outcome::Denied, None, now_ms())?;
    tracing::warn!(
        request = request_id,
        claimed_requester = request.requester(),
        return_to = request.return_to().unwrap_or("-"),
        scope = %request.scope(),
        "a request the user did not ask for was denied and reported"
    );
    Ok(())
}
