//! The Tauri commands: thin wrappers over `stepup-client`. Each one checks what the UI sent
//! against the open request, calls the client, and answers with a view that holds no secret
//! (token statuses carry scopes and expiry, never the token). Errors are `{code, message}`.
//!
//! The step-up commands name a request (`request_id`), not a scope: the scope is the one the
//! validated deep link asked for and the dialog showed, so what the user sees is what they
//! approve.

use crate::cli::SandboxPersona;
use crate::error::CommandError;
use crate::requests::{action_text, ExportRefusal, HistoryEntry, LinkEvent, Outcome};
use crate::sandbox::OutboxView;
use crate::state::{AppState, Backend};
use crate::MAIN_WINDOW;
use serde::Serialize;
use std::sync::Arc;
use stepup_client::passkey::{PasskeyConfirmation, PasskeyPrompt, UserPresence};
use stepup_client::{
    CredentialFormat, CredentialMethod, OtpChannel, OtpVerification, PhoneNumber, Secret,
    StepUpCheck, StepUpClient, StepUpCredential, StepUpCredentialExt, StepUpError, TokenScope,
    TokenStatus, Verification,
};
use tauri::{AppHandle, Emitter, Runtime, State};

/// Who the app's own requests come from, as the dialog names it.
pub const OWN_REQUESTER: &str = "Stepup Desktop (you)";
/// The main window's "Add a passkey on this device", as the end of "… asks to …".
pub const ADD_PASSKEY_ACTION: &str = "add a passkey on this device";

/// Seconds before "send code" may be pressed again.
const RESEND_AFTER_SECONDS: u32 = 30;

type CommandResult<T> = Result<T, CommandError>;

/// The signed-in user, for display.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Email, else phone, else id.
    pub label: String,
}

/// `app_status`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// Environment id.
    pub environment_id: String,
    /// API base URL.
    pub api_base_url: String,
    /// True with `--sandbox`.
    pub sandbox: bool,
    /// The signed-in user.
    pub user: Option<UserView>,
    /// The keychain cannot be used (no plaintext fallback: nothing works until it can).
    pub keychain_error: Option<CommandError>,
    /// Another start-up failure (configuration, sandbox).
    pub startup_error: Option<CommandError>,
}

/// One credential of a step-up check, with the method the dialog uses for it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    /// Credential or MFA device id.
    pub id: String,
    /// Wire format (`email`, `phoneNumber`, `totp`, ...).
    pub format: String,
    /// Wire type, when given.
    pub kind: Option<String>,
    /// Alias, masked email or masked phone.
    pub alias: Option<String>,
    /// `totp`, `email_otp`, `sms_otp`, or `unsupported`.
    pub method: &'static str,
}

/// `check_step_up` / `begin_step_up`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    /// Whether a verification is needed.
    pub is_required: bool,
    /// The credentials to offer.
    pub credentials: Vec<CredentialView>,
    /// The one to preselect.
    pub default_credential_id: Option<String>,
    /// When not required: until when the stored token covers the scope (unix ms).
    pub valid_until_ms: Option<i64>,
}

/// `send_email_otp` / `send_sms_otp`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentView {
    /// Where the code went (as the server confirmed it).
    pub destination: String,
    /// Seconds before a resend.
    pub resend_after_seconds: u32,
}

/// A successful verification.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedView {
    /// The token's scopes.
    pub scopes: Vec<TokenScope>,
    /// Its expiry, unix ms.
    pub expires_at_ms: i64,
    /// Whether its first use consumes it.
    pub single_use: bool,
    /// For an approved `wallet:export` request: what the dialog may export now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportOffer>,
}

/// What an approved `wallet:export` request may export: the user's embedded wallet.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportOffer {
    /// The user has an embedded wallet this app can export.
    pub has_wallet: bool,
    /// Its address, when known.
    pub wallet_address: Option<String>,
}

/// `export_private_key`: the one place the key leaves the backend.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedKeyView {
    /// The wallet's address.
    pub address: String,
    /// The private key, 0x-hex.
    pub private_key: String,
}

impl std::fmt::Debug for ExportedKeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedKeyView")
            .field("address", &self.address)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// A stored token, without the token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// Scopes.
    pub scopes: Vec<TokenScope>,
    /// What they allow, in words.
    pub actions: Vec<&'static str>,
    /// Expiry, unix ms.
    pub expires_at_ms: i64,
    /// Consumed by its first use.
    pub single_use: bool,
}

/// One of the user's MFA devices (`GET users/mfa`), for the main window's list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Device id.
    pub id: Option<String>,
    /// `totp`, `passkey`, ...
    pub kind: Option<String>,
    /// Its label.
    pub alias: Option<String>,
    /// The server's default method.
    pub is_default: bool,
}

/// `add_device_passkey`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedPasskeyView {
    /// The new MFA device's id.
    pub device_id: Option<String>,
    /// Its label, as the server lists it.
    pub alias: Option<String>,
    /// Whether the registration waited for a step-up in the dialog first.
    pub stepped_up: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn user_view(client: &StepUpClient) -> Option<UserView> {
    client.current_user().map(|u| UserView {
        label: u
            .email
            .clone()
            .or_else(|| u.phone_number.clone())
            .unwrap_or_else(|| u.id.clone()),
        id: u.id,
    })
}

fn method_name(method: CredentialMethod) -> &'static str {
    match method {
        CredentialMethod::Totp => "totp",
        CredentialMethod::Email => "email_otp",
        CredentialMethod::Sms => "sms_otp",
        CredentialMethod::Passkey => "passkey",
        _ => "unsupported",
    }
}

fn check_view(check: &StepUpCheck, client: &StepUpClient, scope: &TokenScope) -> CheckView {
    let valid_until_ms = (!check.is_required)
        .then(|| {
            client
                .elevated_tokens()
                .iter()
                .filter(|t| t.scopes.contains(scope))
                .map(|t| t.expires_at_ms)
                .max()
        })
        .flatten();
    CheckView {
        is_required: check.is_required,
        credentials: check
            .credentials
            .iter()
            .map(|c| CredentialView {
                id: c.id.clone(),
                format: c.format.as_str().to_owned(),
                kind: c.kind.clone(),
                alias: c.alias.clone(),
                method: method_name(c.method()),
            })
            .collect(),
        default_credential_id: stepup_client::choose_method(check).map(|c| c.id.clone()),
        valid_until_ms,
    }
}

fn verified_view(token: Option<TokenStatus>) -> CommandResult<VerifiedView> {
    let token = token.ok_or_else(|| CommandError::from(StepUpError::InvalidElevatedToken))?;
    Ok(VerifiedView {
        scopes: token.scopes,
        expires_at_ms: token.expires_at_ms,
        single_use: token.single_use,
        export: None,
    })
}

/// The signed-in user's embedded wallet (id, address): from the session user's verified
/// credentials (`embedded_wallet_id` of a blockchain credential), else, in the sandbox, the
/// demo user's.
fn embedded_wallet(backend: &Backend) -> Option<(String, Option<String>)> {
    let user = backend.client.as_ref().ok()?.current_user()?;
    let from_session = user.verified_credentials.iter().find_map(|c| {
        (c.format == CredentialFormat::Blockchain)
            .then(|| c.embedded_wallet_id.clone())
            .flatten()
            .map(|id| {
                (
                    id,
                    c.address.clone().or_else(|| c.public_identifier.clone()),
                )
            })
    });
    from_session.or_else(|| backend.sandbox.as_ref()?.demo_wallet(&user.id))
}

/// Why an export was refused, in words the dialog shows with "Verify again".
fn export_again_error() -> CommandError {
    CommandError::new(
        "step_up_required",
        "the permission to export was used or has expired (it works once): verify again to export the key",
    )
}

/// The open request's scope, and the credential the UI named, if it was offered for it.
fn offered(
    state: &AppState,
    request_id: u64,
    credential_id: Option<&str>,
) -> CommandResult<(TokenScope, Option<StepUpCredential>)> {
    let desk = state.desk();
    let open = desk
        .open_request(request_id)
        .ok_or_else(CommandError::request_not_found)?;
    let credential = match credential_id {
        Some(id) => Some(
            open.credentials
                .iter()
                .find(|c| c.id == id)
                .cloned()
                .ok_or_else(CommandError::credential_not_offered)?,
        ),
        None => None,
    };
    Ok((open.request.scope.clone(), credential))
}

/// Runs a verification for an open request; on success closes it and records it, on a wrong
/// code counts the attempt.
async fn verify_request(
    state: &AppState,
    backend: &Backend,
    request_id: u64,
    scope: TokenScope,
    method: &str,
    verification: Verification,
) -> CommandResult<VerifiedView> {
    let client = backend.client()?;
    match client
        .verify(verification, std::slice::from_ref(&scope))
        .await
    {
        Ok(outcome) => {
            let mut view = verified_view(outcome.token)?;
            if scope == TokenScope::WalletExport {
                let wallet = embedded_wallet(backend);
                view.export = Some(ExportOffer {
                    has_wallet: wallet.is_some(),
                    wallet_address: wallet.and_then(|(_, address)| address),
                });
            }
            state
                .desk()
                .close(request_id, Outcome::Approved, Some(method), now_ms());
            eprintln!("STEPUP step-up approved request={request_id} scope={scope} method={method}");
            Ok(view)
        }
        Err(error) => {
            if let Some(open) = state.desk().open_request_mut(request_id) {
                open.failed_attempts += 1;
            }
            Err(error.into())
        }
    }
}

/// The app's status: environment, user, sandbox, keychain.
#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    let backend = state.backend().await?;
    let (keychain_error, client_error) = match &backend.client {
        Ok(_) => (None, None),
        Err(e) if e.is_keychain() => (Some(e.clone()), None),
        Err(e) => (None, Some(e.clone())),
    };
    Ok(AppStatus {
        environment_id: backend.environment_id.clone(),
        api_base_url: backend.api_base_url.clone(),
        sandbox: backend.sandbox.is_some(),
        user: backend.client.as_ref().ok().and_then(user_view),
        keychain_error,
        startup_error: backend.startup_error.clone().or(client_error),
    })
}

/// The UI listens for `deep-link` events now: returns the links that arrived before.
#[tauri::command]
pub fn ui_ready(state: State<'_, AppState>) -> Vec<LinkEvent> {
    let waiting = state.desk().ui_ready();
    eprintln!("STEPUP ui ready, replaying {} link(s)", waiting.len());
    waiting
}

/// Sign-in, step 1: emails a code.
#[tauri::command]
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
pub async fn sign_in_verify_email_otp<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    code: String,
) -> CommandResult<UserView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    let sent = state.sign_in.lock().await.clone().ok_or_else(|| {
        CommandError::new("no_code_sent", "no code was sent yet: ask for a code first")
    })?;
    client
        .sign_in_with_email_otp(&sent, Secret::new(code))
        .await?;
    *state.sign_in.lock().await = None;
    let _ = app.emit("app-state", ());
    user_view(client).ok_or_else(|| StepUpError::NotSignedIn.into())
}

/// Whether `scope` needs a step-up (the client's answer; fails closed).
#[tauri::command]
pub async fn check_step_up(state: State<'_, AppState>, scope: String) -> CommandResult<CheckView> {
    let scope = TokenScope::parse(&scope);
    if !scope.is_known() {
        return Err(CommandError::new(
            "invalid_scope",
            "this permission is not one this app knows",
        ));
    }
    let backend = state.backend().await?;
    let client = backend.client()?;
    let check = client.check_step_up(scope.clone()).await;
    Ok(check_view(&check, client, &scope))
}

/// Opens the dialog's work on a request: checks the scope and keeps the offered credentials.
#[tauri::command]
pub async fn begin_step_up(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<CheckView> {
    let (scope, _) = offered(&state, request_id, None)?;
    let backend = state.backend().await?;
    let client = backend.client()?;
    if !client.is_signed_in() {
        return Err(StepUpError::NotSignedIn.into());
    }
    let check = client.check_step_up(scope.clone()).await;
    let view = check_view(&check, client, &scope);
    {
        let mut desk = state.desk();
        if !check.is_required {
            desk.close(request_id, Outcome::NotNeeded, None, now_ms());
        } else if let Some(open) = desk.open_request_mut(request_id) {
            open.credentials = check.credentials.clone();
        }
    }
    eprintln!(
        "STEPUP dialog ready request={request_id} scope={scope} at_ms={}",
        now_ms()
    );
    Ok(view)
}

/// Finds the email address or phone number of one of the user's credentials.
fn destination_of(
    client: &StepUpClient,
    credential: &StepUpCredential,
) -> CommandResult<Destination> {
    let user = client
        .current_user()
        .ok_or_else(|| CommandError::from(StepUpError::NotSignedIn))?;
    let verified = user
        .verified_credentials
        .iter()
        .find(|c| c.id == credential.id);
    match credential.method() {
        CredentialMethod::Email => verified
            .and_then(|c| c.email.clone())
            .or(user.email)
            .map(Destination::Email)
            .ok_or_else(CommandError::credential_not_offered),
        CredentialMethod::Sms => {
            let verified = verified.ok_or_else(CommandError::credential_not_offered)?;
            phone_of(
                verified.public_identifier.as_deref(),
                verified.phone_number.as_deref(),
            )
            .map(Destination::Sms)
            .ok_or_else(|| {
                CommandError::new(
                    "unsupported_phone",
                    "this app cannot text this phone number yet: choose another method",
                )
            })
        }
        _ => Err(CommandError::credential_not_offered()),
    }
}

enum Destination {
    Email(String),
    Sms(PhoneNumber),
}

/// Rebuilds a phone number from `+<country><national>` and the national part. The ISO country
/// comes from the dialling prefix for the common ones (the credential does not carry it).
fn phone_of(public_identifier: Option<&str>, national: Option<&str>) -> Option<PhoneNumber> {
    let national = national?;
    let country_code = public_identifier?
        .strip_prefix('+')?
        .strip_suffix(national)?;
    let iso = match country_code {
        "1" => "US",
        "7" => "RU",
        "31" => "NL",
        "32" => "BE",
        "33" => "FR",
        "34" => "ES",
        "39" => "IT",
        "41" => "CH",
        "44" => "GB",
        "45" => "DK",
        "46" => "SE",
        "47" => "NO",
        "49" => "DE",
        "52" => "MX",
        "55" => "BR",
        "61" => "AU",
        "81" => "JP",
        "82" => "KR",
        "86" => "CN",
        "91" => "IN",
        "353" => "IE",
        _ => return None,
    };
    Some(PhoneNumber {
        country_code: country_code.to_owned(),
        iso_country_code: iso.to_owned(),
        number: national.to_owned(),
    })
}

async fn send_code(
    state: &AppState,
    request_id: u64,
    credential_id: &str,
    want: CredentialMethod,
) -> CommandResult<SentView> {
    let (_, credential) = offered(state, request_id, Some(credential_id))?;
    let credential = credential.ok_or_else(CommandError::credential_not_offered)?;
    if credential.method() != want {
        return Err(CommandError::credential_not_offered());
    }
    let backend = state.backend().await?;
    let client = backend.client()?;
    let sent = match destination_of(client, &credential)? {
        Destination::Email(email) => client.send_email_otp(&email).await?,
        Destination::Sms(phone) => client.send_sms_otp(phone).await?,
    };
    let destination = match &sent.channel {
        OtpChannel::Email(address) => address.clone(),
        OtpChannel::Sms(phone) => format!("+{} {}", phone.country_code, phone.number),
    };
    let mut desk = state.desk();
    let open = desk
        .open_request_mut(request_id)
        .ok_or_else(CommandError::request_not_found)?;
    open.sent_code = Some(sent);
    Ok(SentView {
        destination,
        resend_after_seconds: RESEND_AFTER_SECONDS,
    })
}

fn sent_code(state: &AppState, request_id: u64, email: bool) -> CommandResult<OtpVerification> {
    let desk = state.desk();
    let open = desk
        .open_request(request_id)
        .ok_or_else(CommandError::request_not_found)?;
    open.sent_code
        .clone()
        .filter(|s| {
            matches!(
                (&s.channel, email),
                (OtpChannel::Email(_), true) | (OtpChannel::Sms(_), false)
            )
        })
        .ok_or_else(|| {
            CommandError::new(
                "no_code_sent",
                "no code was sent yet: press “Send code” first",
            )
        })
}

/// Emails a step-up code for an open request.
#[tauri::command]
pub async fn send_email_otp(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<SentView> {
    send_code(&state, request_id, &credential_id, CredentialMethod::Email).await
}

/// Verifies the emailed code of an open request.
#[tauri::command]
pub async fn verify_email_otp(
    state: State<'_, AppState>,
    request_id: u64,
    code: String,
) -> CommandResult<VerifiedView> {
    let (scope, _) = offered(&state, request_id, None)?;
    let verification = sent_code(&state, request_id, true)?;
    let backend = state.backend().await?;
    let v = Verification::EmailOtp {
        verification,
        code: Secret::new(code),
    };
    verify_request(&state, &backend, request_id, scope, "email_otp", v).await
}

/// Texts a step-up code for an open request.
#[tauri::command]
pub async fn send_sms_otp(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<SentView> {
    send_code(&state, request_id, &credential_id, CredentialMethod::Sms).await
}

/// Verifies the texted code of an open request.
#[tauri::command]
pub async fn verify_sms_otp(
    state: State<'_, AppState>,
    request_id: u64,
    code: String,
) -> CommandResult<VerifiedView> {
    let (scope, _) = offered(&state, request_id, None)?;
    let verification = sent_code(&state, request_id, false)?;
    let backend = state.backend().await?;
    let v = Verification::SmsOtp {
        verification,
        code: Secret::new(code),
    };
    verify_request(&state, &backend, request_id, scope, "sms_otp", v).await
}

/// Verifies an authenticator (TOTP) code for an open request.
#[tauri::command]
pub async fn verify_totp(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
    code: String,
) -> CommandResult<VerifiedView> {
    let (scope, credential) = offered(&state, request_id, Some(&credential_id))?;
    if credential.as_ref().map(StepUpCredentialExt::method) != Some(CredentialMethod::Totp) {
        return Err(CommandError::credential_not_offered());
    }
    let backend = state.backend().await?;
    let v = Verification::Totp {
        device_id: Some(credential_id),
        code: Secret::new(code),
    };
    verify_request(&state, &backend, request_id, scope, "totp", v).await
}

/// Verifies with this device's passkey for an open request.
///
/// The user's click on "Verify" in the dialog, which names the requester and the action, is the
/// presence confirmation the device passkey asks for: this command is called only from there,
/// so the ceremony's own confirmation answers yes.
#[tauri::command]
pub async fn verify_passkey(
    state: State<'_, AppState>,
    request_id: u64,
    credential_id: String,
) -> CommandResult<VerifiedView> {
    let (scope, credential) = offered(&state, request_id, Some(&credential_id))?;
    if credential.as_ref().map(StepUpCredentialExt::method) != Some(CredentialMethod::Passkey) {
        return Err(CommandError::credential_not_offered());
    }
    let backend = state.backend().await?;
    let presence: Arc<dyn UserPresence> = Arc::new(|_: &PasskeyPrompt| true);
    let v = Verification::Passkey(PasskeyConfirmation::new(backend.passkey()?, presence));
    verify_request(&state, &backend, request_id, scope, "passkey", v).await
}

/// The user's MFA devices (authenticator apps, passkeys).
#[tauri::command]
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

/// Opens the step-up dialog for one of the app's own actions and waits for it to end:
/// `Ok` when approved (or a stored token already covered `scope`), `cancelled` otherwise.
async fn step_up_in_dialog<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    scope: TokenScope,
    action: &'static str,
) -> CommandResult<()> {
    let opened = state
        .desk()
        .open_own_request(scope.clone(), OWN_REQUESTER, action);
    let (event, ended) = opened.ok_or_else(|| {
        CommandError::new(
            "too_many_requests",
            "too many requests are already open: finish or cancel them first",
        )
    })?;
    eprintln!("STEPUP own request opened scope={scope}");
    if let Err(error) = app.emit_to(MAIN_WINDOW, "deep-link", &event) {
        eprintln!("STEPUP could not hand the app's own request to the window: {error}");
        if let LinkEvent::Request { request } = &event {
            state
                .desk()
                .close(request.id, Outcome::Cancelled, None, now_ms());
        }
        return Err(CommandError::new(
            "internal",
            "the verification dialog could not open: restart the app and try again",
        ));
    }
    match ended.await {
        Ok(Outcome::Approved | Outcome::NotNeeded) => Ok(()),
        _ => Err(StepUpError::Cancelled.into()),
    }
}

/// The main window's "Add a passkey on this device": registers a new MFA passkey with this
/// device's authenticator. Registration needs a `credential:link` token: when the server
/// asks for one, the same step-up dialog as a deep link's opens (requester: the app itself),
/// and once it is approved the registration is retried exactly once (the client's
/// `retry_after_step_up` semantics, with the dialog as the verification).
///
/// Called only from the main window's "Create passkey" button, which says what happens: that
/// click is the user's presence confirmation for the new passkey.
#[tauri::command]
pub async fn add_device_passkey<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<AddedPasskeyView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    let presence: Arc<dyn UserPresence> = Arc::new(|_: &PasskeyPrompt| true);
    let confirmation = PasskeyConfirmation::new(backend.passkey()?, presence);
    let register = || client.register_passkey(confirmation.clone());
    let (registered, stepped_up) = match register().await {
        Err(StepUpError::StepUpRequired { scope }) => {
            step_up_in_dialog(&app, &state, scope, ADD_PASSKEY_ACTION).await?;
            (register().await?, true)
        }
        other => (other?, false),
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
    state.desk().record(HistoryEntry {
        at_ms: now_ms(),
        requester: OWN_REQUESTER.to_owned(),
        scope: TokenScope::CredentialLink,
        method: Some("passkey".to_owned()),
        outcome: Outcome::PasskeyAdded,
        result: match &alias {
            Some(alias) => format!("Passkey added ({alias})"),
            None => "Passkey added".to_owned(),
        },
    });
    eprintln!("STEPUP passkey added on this device (after a step-up: {stepped_up})");
    Ok(AddedPasskeyView {
        device_id: registered.device_id,
        alias,
        stepped_up,
    })
}

/// Verifies a recovery code for an open request (offered to users with an authenticator).
#[tauri::command]
pub async fn verify_recovery_code(
    state: State<'_, AppState>,
    request_id: u64,
    code: String,
) -> CommandResult<VerifiedView> {
    let offers_mfa = {
        let desk = state.desk();
        let open = desk
            .open_request(request_id)
            .ok_or_else(CommandError::request_not_found)?;
        open.credentials.iter().any(|c| c.method().is_mfa())
    };
    if !offers_mfa {
        return Err(CommandError::credential_not_offered());
    }
    let (scope, _) = offered(&state, request_id, None)?;
    let backend = state.backend().await?;
    let v = Verification::RecoveryCode {
        code: Secret::new(code),
    };
    verify_request(&state, &backend, request_id, scope, "recovery_code", v).await
}

/// Exports the private key of the signed-in user's embedded wallet, for a `wallet:export`
/// request approved in this dialog: once per approval (the elevated token is single-use, and
/// the approval is spent before the call). A deep link cannot reach this: it only opens a
/// request, and only a verification in the dialog approves one. The key is in the answer and
/// nowhere else: never logged, never stored.
#[tauri::command]
pub async fn export_private_key(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<ExportedKeyView> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    let grant = state
        .desk()
        .spend_export(request_id)
        .map_err(|refusal| match refusal {
            ExportRefusal::Spent => export_again_error(),
            ExportRefusal::NotApproved => CommandError::new(
                "export_not_approved",
                "this request was not approved for an export here: verify in the dialog first",
            ),
        })?;
    let Some((wallet_id, _)) = embedded_wallet(&backend) else {
        state.desk().unspend_export(request_id);
        return Err(CommandError::new(
            "no_wallet",
            "your account has no embedded wallet to export",
        ));
    };
    let exported = match client.export_wallet_private_key(&wallet_id).await {
        Ok(exported) => exported,
        Err(StepUpError::StepUpRequired { .. }) => {
            eprintln!("STEPUP export refused request={request_id}: a new step-up is needed");
            return Err(export_again_error());
        }
        Err(error) => return Err(error.into()),
    };
    state.desk().record(HistoryEntry {
        at_ms: now_ms(),
        requester: grant.requester,
        scope: TokenScope::WalletExport,
        method: None,
        outcome: Outcome::KeyExported,
        result: "Private key exported".to_owned(),
    });
    eprintln!(
        "STEPUP private key exported request={request_id} address={}",
        exported.address
    );
    Ok(ExportedKeyView {
        address: exported.address,
        private_key: exported.private_key.expose().to_owned(),
    })
}

/// "Verify again" after an export was refused: opens a new `wallet:export` request for the
/// same requester, only for a request whose one export was spent in this dialog.
#[tauri::command]
pub fn verify_export_again(
    state: State<'_, AppState>,
    request_id: u64,
) -> CommandResult<LinkEvent> {
    state
        .desk()
        .reopen_export(request_id)
        .map_err(|_| CommandError::request_not_found())
}

/// The user closed the dialog without approving.
#[tauri::command]
pub fn cancel_step_up(state: State<'_, AppState>, request_id: u64) -> CommandResult<()> {
    state
        .desk()
        .close(request_id, Outcome::Cancelled, None, now_ms())
        .map(|_| ())
        .ok_or_else(CommandError::request_not_found)
}

/// The stored elevated tokens: scopes and expiry, never the token.
#[tauri::command]
pub async fn token_status(state: State<'_, AppState>) -> CommandResult<Vec<TokenView>> {
    let backend = state.backend().await?;
    let client = backend.client()?;
    Ok(client
        .elevated_tokens()
        .into_iter()
        .map(|t| TokenView {
            actions: t.scopes.iter().map(action_text).collect(),
            scopes: t.scopes,
            expires_at_ms: t.expires_at_ms,
            single_use: t.single_use,
        })
        .collect())
}

/// Recent step-ups, newest first (memory only, no secrets).
#[tauri::command]
pub fn step_up_history(state: State<'_, AppState>) -> Vec<HistoryEntry> {
    state.desk().history()
}

/// Signs out: the session and every token leave the keychain.
#[tauri::command]
pub async fn logout<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<()> {
    let backend = state.backend().await?;
    backend.client()?.logout().await?;
    let _ = app.emit("app-state", ());
    Ok(())
}

/// Sandbox only: the delivered codes and the demo authenticator's current code.
#[tauri::command]
pub async fn sandbox_outbox(state: State<'_, AppState>) -> CommandResult<OutboxView> {
    let backend = state.backend().await?;
    Ok(backend.sandbox()?.outbox_view(now_ms()))
}

/// Sandbox only: opens a link as if it came from outside (it goes through the same parser).
#[tauri::command]
pub async fn sandbox_open_link<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    link: String,
) -> CommandResult<()> {
    let backend = state.backend().await?;
    backend.sandbox()?;
    crate::receive_link(&app, &link);
    Ok(())
}

/// Sandbox only: signs the other demo user in (`mfa`: authenticator; `reauth`: email/SMS).
#[tauri::command]
pub async fn sandbox_sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    persona: SandboxPersona,
) -> CommandResult<UserView> {
    let backend: Arc<Backend> = state.backend().await?;
    backend.switch_sandbox_user(persona).await?;
    let _ = app.emit("app-state", ());
    user_view(backend.client()?).ok_or_else(|| StepUpError::NotSignedIn.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_key_is_never_in_debug_output() {
        let view = ExportedKeyView {
            address: "0xabc".into(),
            private_key: format!("0x{}", "1f".repeat(32)),
        };
        let debug = format!("{view:?}");
        assert!(!debug.contains("1f1f"), "{debug}");
        assert!(debug.contains("0xabc") && debug.contains("redacted"));
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["privateKey"].as_str().map(str::len), Some(66));
    }

    #[test]
    fn phone_numbers_are_rebuilt_from_the_credential() {
        let p = phone_of(Some("+447700900123"), Some("7700900123")).unwrap();
        assert_eq!(
            (p.country_code.as_str(), p.iso_country_code.as_str()),
            ("44", "GB")
        );
        assert!(phone_of(Some("+9997700900123"), Some("7700900123")).is_none());
        assert!(phone_of(Some("447700900123"), Some("7700900123")).is_none());
    }
}
