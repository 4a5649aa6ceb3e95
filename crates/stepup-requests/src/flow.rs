//! The dialog's operations on a request, over the client: begin (ask the server), send a
//! code, verify, export. Each reads what it needs from the desk under its lock, talks to the
//! server without the lock, and moves the request along its lifecycle afterwards. The
//! commands of the app are one-line calls into these.

use crate::browser::{read_wallet_answer, wallet_page, BrowserWait, WalletPageAnswer};
use crate::desk::SharedDesk;
use crate::error::AppError;
use crate::link::SocialCallbackLink;
use crate::method::Method;
use crate::phone::phone_of;
use crate::request::Outcome;
use crate::views::{
    CheckView, CredentialView, ExportOffer, ExportedKeyView, HistoryEntry, SentView, VerifiedView,
    WalletMessageView,
};
use stepup_client::loopback::{
    Answer, CallbackRefused, LoopbackReceiver, ReceiveError, DEFAULT_WAIT,
};
use stepup_client::passkey::PasskeyConfirmation;
use stepup_client::verify::SocialRedirect;
use stepup_client::{
    CheckSource, CredentialFormat, CredentialMethod, OtpChannel, Secret, StepUpCheck, StepUpClient,
    StepUpCredential, StepUpCredentialExt, StepUpError, TokenScope, TokenStatus, Verification,
    WalletAccount, WalletChallenge,
};

/// Seconds before "send code" may be pressed again.
pub const RESEND_AFTER_SECONDS: u32 = 30;

/// The user's embedded wallet: the one an export reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedWallet {
    /// The wallet id the export names.
    pub id: String,
    /// Its address, when known.
    pub address: Option<String>,
}

/// What the user proves with, for an open request.
pub enum Proof {
    /// A typed code: authenticator app (for an offered device), email or SMS (the code sent
    /// for the request), or a recovery code (when an MFA method was offered).
    Code {
        /// Which method the code is for.
        method: Method,
        /// The offered credential (authenticator app only).
        credential_id: Option<String>,
        /// The code.
        code: Secret,
    },
    /// This device's passkey, for an offered passkey credential.
    Passkey {
        /// The offered credential.
        credential_id: String,
        /// The authenticator and the user's confirmation.
        confirmation: PasskeyConfirmation,
    },
    /// An external wallet's signature of the message [`wallet_message`] showed for an offered
    /// wallet credential (from the browser wallet's page, or pasted).
    Wallet {
        /// The offered wallet credential.
        credential_id: String,
        /// The signature (65 bytes of hex, checked before it is sent).
        signature: Secret,
    },
    /// The linked social account of an offered `oauth` credential, re-authenticated in the
    /// system browser (RFC 8252: loopback redirect, state, PKCE where the SDK uses it).
    Social {
        /// The offered social credential.
        credential_id: String,
        /// Where the redirect comes back: loopback, else the app's scheme.
        redirect: SocialRedirect,
    },
    /// The request's own server-issued assertion (its link's `assertion`), offered after it
    /// held every check of [`StepUpClient::check_external_assertion`]; checked once more, then
    /// exchanged (`externalAuth/verify`).
    ServerConfirmation,
}

/// The id the dialog gives the server's confirmation in its list of credentials.
pub const SERVER_CONFIRMATION_ID: &str = "server-confirmation";

/// Why an offered wallet credential cannot step up here, if it cannot: only the user's
/// external wallets can (an embedded wallet is Dynamic's own: "embedded wallets cannot be
/// used for step-up authentication").
fn wallet_unavailable(
    client: &StepUpClient,
    credential: &StepUpCredential,
) -> Option<&'static str> {
    if client
        .external_wallets()
        .iter()
        .any(|w| w.id == credential.id)
    {
        return None;
    }
    let embedded = client.current_user().is_some_and(|u| {
        u.verified_credentials.iter().any(|c| {
            c.id == credential.id
                && (c.embedded_wallet_id.is_some()
                    || c.wallet_provider.as_deref() == Some("embeddedWallet"))
        })
    });
    Some(if embedded {
        "an embedded wallet cannot be used to verify, only a wallet of your own (a browser wallet)"
    } else {
        "this wallet is not one of your account's verified wallets"
    })
}

/// What an offered social credential is called: its provider and the account's name there
/// ("Google: casey@stepup.example"), from the session user's linked accounts; `None` when the
/// user has no such linked account.
fn social_alias(client: &StepUpClient, credential: &StepUpCredential) -> Option<String> {
    let account = client
        .social_accounts()
        .into_iter()
        .find(|a| a.credential_id == credential.id)?;
    Some(format!(
        "{}: {}",
        provider_name(&account.provider),
        account.account_name
    ))
}

/// Whether the environment's settings, as last read, have turned off the method of
/// `credential` (none read: nothing is turned off, the server's offer stands).
fn turned_off(client: &StepUpClient, credential: &StepUpCredential) -> bool {
    let Some(settings) = client.cached_settings() else {
        return false;
    };
    let method = credential.method();
    let provider = (method == CredentialMethod::Social)
        .then(|| {
            client
                .social_accounts()
                .into_iter()
                .find(|a| a.credential_id == credential.id)
                .map(|a| a.provider)
        })
        .flatten();
    !settings.allows(method, provider.as_deref())
}

/// Whether recovery codes are on, as the settings last read say (on when none were read).
fn recovery_codes_on(client: &StepUpClient) -> bool {
    client
        .cached_settings()
        .is_none_or(|s| s.allows_recovery_codes())
}

/// A provider's name for people.
fn provider_name(provider: &str) -> String {
    match provider {
        "google" => "Google".into(),
        "github" => "GitHub".into(),
        "apple" => "Apple".into(),
        "twitter" => "X (Twitter)".into(),
        "discord" => "Discord".into(),
        "facebook" => "Facebook".into(),
        "microsoft" => "Microsoft".into(),
        "linkedin" => "LinkedIn".into(),
        other => {
            let mut chars = other.chars().filter(|c| c.is_ascii_alphanumeric()).take(32);
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + &chars.collect::<String>(),
                None => "Social account".into(),
            }
        }
    }
}

/// The signed-in user's embedded wallet: from the session user's verified credentials (the
/// `embedded_wallet_id` of a blockchain credential), else `fallback` (the sandbox's demo
/// wallet).
pub fn embedded_wallet(
    client: &StepUpClient,
    fallback: Option<EmbeddedWallet>,
) -> Option<EmbeddedWallet> {
    let user = client.current_user()?;
    let from_session = user.verified_credentials.iter().find_map(|c| {
        let id = (c.format == CredentialFormat::Blockchain)
            .then(|| c.embedded_wallet_id.clone())
            .flatten()?;
        Some(EmbeddedWallet {
            id,
            address: c.address.clone().or_else(|| c.public_identifier.clone()),
        })
    });
    from_session.or(fallback)
}

/// The view of a check for `scope`.
pub fn check_view(check: &StepUpCheck, client: &StepUpClient, scope: &TokenScope) -> CheckView {
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
            .map(|c| {
                let social = (Method::of(c) == Method::Social).then(|| social_alias(client, c));
                let unavailable = match (Method::of(c), &social) {
                    _ if turned_off(client, c) => Some(TURNED_OFF),
                    (Method::Wallet, _) => wallet_unavailable(client, c),
                    (Method::Social, Some(None)) => {
                        Some("this social account is not linked to your account")
                    }
                    _ => None,
                };
                CredentialView {
                    id: c.id.clone(),
                    format: c.format.as_str().to_owned(),
                    kind: c.kind.clone(),
                    alias: social.flatten().or_else(|| c.alias.clone()),
                    method: if unavailable.is_some() {
                        Method::Unsupported
                    } else {
                        Method::of(c)
                    },
                    unavailable,
                }
            })
            .collect(),
        default_credential_id: stepup_client::choose_method(check)
            .filter(|c| !turned_off(client, c))
            .or_else(|| check.credentials.iter().find(|c| !turned_off(client, c)))
            .map(|c| c.id.clone()),
        recovery_codes: recovery_codes_on(client),
        server_confirmation_until_ms: None,
        server_confirmation_refused: None,
        valid_until_ms,
        export: None,
        passkey_by_os: false,
    }
}

/// Why a credential whose method the environment turned off is listed but not offered.
const TURNED_OFF: &str = "this way of verifying is turned off for this app's environment";

/// Opens the dialog's work on a request: asks the server whether the scope needs a step-up;
/// if not, the request ends as "already allowed", else it keeps the offered credentials.
///
/// A stored token answers "already allowed" only to the requester whose approval earned it
/// (same requester key, same scope, still live): for anyone else the server is asked, and the
/// dialog offers the credentials again. A `wallet:export` request of a user without an
/// embedded wallet is refused here, before any verification ([`AppError::NoWallet`]).
pub async fn begin(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    wallet: Option<EmbeddedWallet>,
    now_ms: i64,
) -> Result<CheckView, AppError> {
    let scope = {
        let mut desk = desk.lock();
        desk.expire(now_ms);
        // Beginning is the dialog saying it shows this request now.
        desk.show(id, now_ms)?;
        desk.get(id)?.request().scope().clone()
    };
    if !client.is_signed_in() {
        return Err(StepUpError::NotSignedIn.into());
    }
    let export = if scope == TokenScope::WalletExport {
        let wallet = wallet.ok_or(AppError::NoWallet)?;
        Some(ExportOffer {
            has_wallet: true,
            wallet_address: wallet.address,
        })
    } else {
        None
    };
    // The settings say which methods the environment has on (a read at most every 5
    // minutes; none read and none readable: the server's offer stands, it still decides).
    if let Err(e) = client.settings().await {
        tracing::warn!(
            error_code = e.code(),
            "the environment's settings could not be read: every offered method is listed"
        );
    }
    let mut outcome = client.check_step_up_outcome(scope.clone()).await;
    let mut approval = None;
    if outcome.source == CheckSource::StoredToken {
        approval = {
            let desk = desk.lock();
            // A request with a number to match always verifies: its approval is the match.
            let matching = desk.get(id)?.request().match_code().is_some();
            desk.approval_for(id, now_ms)?.filter(|a| {
                !matching
                    && (scope != TokenScope::WalletExport
                        || desk.export_ready(a.request_id).is_ok())
            })
        };
        if approval.is_none() {
            tracing::info!(request = id, %scope, "a stored token covers the scope, but not for this requester: asking again");
            outcome = client.check_step_up_with_server(scope.clone()).await;
        }
    }
    // A fault (network, timeout, server error, garbage) is said as such, never as "no way to
    // verify": the request stays open, nothing is approved, and the dialog offers to retry.
    if let Some(failure) = outcome.failure() {
        if failure.is_fault()
            || matches!(
                failure,
                StepUpError::NotSignedIn | StepUpError::Unauthorized
            )
        {
            return Err(failure.clone().into());
        }
    }
    let check = outcome.check;
    let mut view = check_view(&check, client, &scope);
    view.export = export;
    // A link's server-issued confirmation is offered only once it held every check against
    // the environment's published key; one that does not is said, and never sent.
    let assertion = desk.lock().get(id)?.request().assertion().cloned();
    let mut vouched = false;
    if let (true, Some(jwt)) = (check.is_required, assertion) {
        match client.check_external_assertion(&jwt, &scope).await {
            Ok(v) => {
                tracing::info!(
                    request = id,
                    "the link's confirmation from the app's server holds"
                );
                vouched = true;
                let alias = v
                    .issuer
                    .as_deref()
                    .and_then(|iss| url::Url::parse(iss).ok())
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .or(v.issuer.clone());
                view.credentials.insert(
                    0,
                    CredentialView {
                        id: SERVER_CONFIRMATION_ID.to_owned(),
                        format: "externalUser".to_owned(),
                        kind: None,
                        alias,
                        method: Method::ServerConfirmation,
                        unavailable: None,
                    },
                );
                view.default_credential_id = Some(SERVER_CONFIRMATION_ID.to_owned());
                view.server_confirmation_until_ms = Some(v.expires_at_secs.saturating_mul(1000));
            }
            Err(e) => {
                tracing::warn!(
                    request = id,
                    code = e.code(),
                    "the link's confirmation from the app's server was refused"
                );
                view.server_confirmation_refused = Some(match e {
                    StepUpError::AssertionRefused(why) => why,
                    other => other.to_string(),
                });
            }
        }
    }
    let mut desk = desk.lock();
    if check.is_required {
        let (on, off): (Vec<_>, Vec<_>) = check
            .credentials
            .into_iter()
            .partition(|c| !turned_off(client, c));
        if !off.is_empty() {
            tracing::info!(
                request = id,
                turned_off = off.len(),
                "credentials of methods the environment turned off are not offered"
            );
        }
        let open = desk.get_mut(id)?;
        open.offer(on, view.recovery_codes);
        open.set_server_confirmation(vouched);
    } else if let Some(approval) = approval {
        view.valid_until_ms = Some(approval.expires_at_ms);
        if !desk.close_as_already_approved(id, &approval, now_ms)? {
            view.export = None;
        }
    } else {
        desk.close(id, Outcome::NotNeeded, None, now_ms)?;
        // The server says no step-up is needed: nothing was approved here, so nothing to
        // export from this dialog.
        view.export = None;
    }
    tracing::info!(request = id, %scope, at_ms = now_ms, "dialog ready");
    Ok(view)
}

/// Sends an email or SMS code to an offered credential of an open request.
pub async fn send_code(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    credential_id: &str,
    method: Method,
) -> Result<SentView, AppError> {
    if !method.sends_code() {
        return Err(AppError::CredentialNotOffered);
    }
    let credential = {
        let desk = desk.lock();
        desk.require_shown(id)?;
        desk.require_matched(id)?;
        desk.get(id)?.credential(credential_id, method)?.clone()
    };
    let sent = match (method, destination_of(client, &credential)?) {
        (Method::EmailOtp, Destination::Email(email)) => client.send_email_otp(&email).await?,
        (Method::SmsOtp, Destination::Sms(phone)) => client.send_sms_otp(phone).await?,
        _ => return Err(AppError::CredentialNotOffered),
    };
    let destination = match &sent.channel {
        OtpChannel::Email(address) => address.clone(),
        OtpChannel::Sms(phone) => format!("+{} {}", phone.country_code, phone.number),
    };
    desk.lock().get_mut(id)?.code_sent(sent)?;
    Ok(SentView {
        destination,
        resend_after_seconds: RESEND_AFTER_SECONDS,
    })
}

enum Destination {
    Email(String),
    Sms(stepup_client::PhoneNumber),
}

/// The email address or phone number of one of the user's credentials.
fn destination_of(
    client: &StepUpClient,
    credential: &StepUpCredential,
) -> Result<Destination, AppError> {
    let user = client.current_user().ok_or(StepUpError::NotSignedIn)?;
    let verified = user
        .verified_credentials
        .iter()
        .find(|c| c.id == credential.id);
    match Method::of(credential) {
        Method::EmailOtp => verified
            .and_then(|c| c.email.clone())
            .or(user.email)
            .map(Destination::Email)
            .ok_or(AppError::CredentialNotOffered),
        Method::SmsOtp => {
            let verified = verified.ok_or(AppError::CredentialNotOffered)?;
            phone_of(
                verified.public_identifier.as_deref(),
                verified.phone_number.as_deref(),
            )
            .map(Destination::Sms)
            .ok_or(AppError::UnsupportedPhone)
        }
        _ => Err(AppError::CredentialNotOffered),
    }
}

/// Verifies `proof` for an open request. On success the request ends approved (and a
/// `wallet:export` one says whether there is a wallet to export); a wrong code counts as a
/// failed attempt, a fault on the way (network, server) does not.
pub async fn verify(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    proof: Proof,
    wallet: Option<EmbeddedWallet>,
    now_ms: i64,
) -> Result<VerifiedView, AppError> {
    verify_then(desk, client, id, proof, wallet, now_ms, &|| now_ms).await
}

/// "Continue in your browser" with the linked social account of the offered credential
/// `credential_id`: the provider's page in the system browser, the redirect on a one-time
/// loopback receiver (else on the app's scheme, as `redirect` allows: see
/// [`receive_social_callback`]), then the verification, as [`verify`] does (the request shown,
/// read, matched). The request ends when the answer came (`now_ms` is read then): one that
/// expired while the browser was open is not approved.
pub async fn sign_in_social(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    credential_id: &str,
    redirect: &SocialRedirect,
    wallet: Option<EmbeddedWallet>,
    now_ms: &(dyn Fn() -> i64 + Send + Sync),
) -> Result<VerifiedView, AppError> {
    let proof = Proof::Social {
        credential_id: credential_id.to_owned(),
        redirect: redirect.clone(),
    };
    verify_then(desk, client, id, proof, wallet, now_ms(), now_ms).await
}

/// [`verify`], the request read at `started_ms` and ended at `now_ms()` after the proof ran.
async fn verify_then(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    proof: Proof,
    wallet: Option<EmbeddedWallet>,
    started_ms: i64,
    now_ms: &(dyn Fn() -> i64 + Send + Sync),
) -> Result<VerifiedView, AppError> {
    let (scope, requester_key, method, run) = {
        let desk = desk.lock();
        desk.require_read(id, started_ms)?;
        let open = desk.get(id)?;
        let (method, run) = match proof {
            Proof::Code {
                method: Method::Totp,
                credential_id,
                code,
            } => {
                let device =
                    open.credential(credential_id.as_deref().unwrap_or(""), Method::Totp)?;
                let device_id = Some(device.id.clone());
                (
                    Method::Totp,
                    Run::Client(Verification::Totp { device_id, code }),
                )
            }
            Proof::Code {
                method: method @ (Method::EmailOtp | Method::SmsOtp),
                code,
                ..
            } => {
                let verification = open.sent_code(method)?;
                let v = if method == Method::EmailOtp {
                    Verification::EmailOtp { verification, code }
                } else {
                    Verification::SmsOtp { verification, code }
                };
                (method, Run::Client(v))
            }
            Proof::Code {
                method: Method::RecoveryCode,
                code,
                ..
            } if open.offers_mfa() => (
                Method::RecoveryCode,
                Run::Client(Verification::RecoveryCode { code }),
            ),
            Proof::Passkey {
                credential_id,
                confirmation,
            } => {
                open.credential(&credential_id, Method::Passkey)?;
                (
                    Method::Passkey,
                    Run::Client(Verification::Passkey(confirmation)),
                )
            }
            Proof::Wallet {
                credential_id,
                signature,
            } => {
                open.credential(&credential_id, Method::Wallet)?;
                let challenge = open.wallet_message(&credential_id)?.clone();
                (Method::Wallet, Run::Wallet(challenge, signature))
            }
            Proof::Social {
                credential_id,
                redirect,
            } => {
                open.credential(&credential_id, Method::Social)?;
                let provider = client
                    .social_accounts()
                    .into_iter()
                    .find(|a| a.credential_id == credential_id)
                    .map(|a| a.provider)
                    .ok_or_else(|| StepUpError::SocialAccountNotLinked {
                        provider: "such social".into(),
                    })?;
                (Method::Social, Run::Social(provider, redirect))
            }
            Proof::ServerConfirmation => {
                let jwt = open
                    .server_confirmation()
                    .ok_or(AppError::CredentialNotOffered)?
                    .clone();
                (Method::ServerConfirmation, Run::ServerConfirmation(jwt))
            }
            Proof::Code { .. } => return Err(AppError::CredentialNotOffered),
        };
        let request = open.request();
        (
            request.scope().clone(),
            request.requester_key(),
            method,
            run,
        )
    };
    let scopes = std::slice::from_ref(&scope);
    let outcome = match run {
        Run::Client(verification) => client.verify(verification, scopes).await,
        Run::Wallet(challenge, signature) => {
            let sent = client
                .verify_wallet_signature(&challenge, signature.expose(), scopes)
                .await;
            // Refused here (not 65 bytes of hex, another address): nothing went out, the same
            // message may be signed again. Anything else reached the server with its nonce.
            let local = matches!(
                sent,
                Err(StepUpError::InvalidInput(_) | StepUpError::WalletSignatureMismatch { .. })
            );
            if sent.is_err() && !local {
                if let Ok(open) = desk.lock().get_mut(id) {
                    open.forget_wallet_message();
                }
            }
            sent
        }
        Run::Social(provider, redirect) => {
            social_in_browser(desk, client, id, &provider, &redirect, scopes).await
        }
        Run::ServerConfirmation(jwt) => {
            // Checked again: it may have expired, or the environment's key changed, since
            // the dialog offered it.
            match client.check_external_assertion(&jwt, &scope).await {
                Ok(_) => {
                    client
                        .verify(Verification::ExternalJwt { jwt }, scopes)
                        .await
                }
                Err(e) => Err(e),
            }
        }
    }
    .map_err(AppError::from);
    let now_ms = now_ms();
    let mut desk = desk.lock();
    match outcome {
        Ok(outcome) => {
            let mut view = verified_view(outcome.token)?;
            if scope == TokenScope::WalletExport {
                view.export = Some(ExportOffer {
                    has_wallet: wallet.is_some(),
                    wallet_address: wallet.and_then(|w| w.address),
                });
            }
            desk.close(id, Outcome::Approved, Some(method), now_ms)?;
            desk.remember_approval(id, requester_key, scope.clone(), view.expires_at_ms);
            tracing::info!(request = id, %scope, %method, "step-up approved");
            Ok(view)
        }
        Err(error) => {
            if error.is_wrong_code() {
                if let Ok(open) = desk.get_mut(id) {
                    open.count_wrong_code();
                }
            }
            tracing::info!(request = id, code = error.code(), "verification failed");
            Err(error)
        }
    }
}

/// What a verification runs: a client verification, or a wallet's signature of the message
/// the dialog showed.
enum Run {
    Client(Verification),
    Wallet(WalletChallenge, Secret),
    /// The social account's provider (`google`, `github`) and where its redirect comes back.
    Social(String, SocialRedirect),
    /// The request's server-issued assertion.
    ServerConfirmation(Secret),
}

/// The social re-authentication of request `id` in the system browser: the provider's page
/// opened there, the one redirect awaited on the loopback receiver (at most 5 minutes;
/// [`cancel_browser`] or any ending of the request stops it), then `providers/{p}/verify`.
/// While it waits, "Open the page again" opens the provider's page once more.
async fn social_in_browser(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    provider: &str,
    redirect: &SocialRedirect,
    scopes: &[TokenScope],
) -> Result<stepup_client::VerifyOutcome, StepUpError> {
    let pending = client.begin_social_with(provider, scopes, redirect).await?;
    let url = pending.authorization_url().expose().to_owned();
    let app_scheme = pending.app_scheme_callback();
    let on_app_scheme = app_scheme.is_some();
    let wait = BrowserWait::new(url, pending.canceller()).with_app_scheme(app_scheme);
    start_browser_wait(desk, id, wait).map_err(|_| StepUpError::Cancelled)?;
    tracing::info!(
        request = id,
        provider,
        app_scheme = on_app_scheme,
        "social sign-in page opened; waiting for the redirect"
    );
    let outcome = client.complete_social(pending, DEFAULT_WAIT).await;
    end_browser_wait(desk, id);
    outcome
}

/// A social sign-in's redirect that came back as a link of the app's scheme
/// ([`SocialCallbackLink`], the fallback where no loopback port could be opened), handed to
/// the sign-in of the request shown that waits for it, and to nothing else: it never opens a
/// request. Refused, approving nothing: a malformed or too long link, no sign-in waiting on
/// the app's scheme (none started, or it ended by its answer, Cancel, the 5 minutes, or the
/// request's end), a request not shown, a state other than the sign-in's, a second answer.
/// What is accepted ends the sign-in's wait; it then checks the answer on the one path the
/// loopback redirect takes too (the state again, the code, `providers/{p}/verify`).
pub fn receive_social_callback(desk: &SharedDesk, raw: &str) -> Result<(), AppError> {
    let link = SocialCallbackLink::parse(raw).map_err(|e| {
        AppError::SocialCallbackRefused(format!("the sign-in answer is refused: {e}"))
    })?;
    let (id, callback) = {
        let desk = desk.lock();
        let id = desk.shown_id().ok_or(AppError::NoSocialSignInWaiting)?;
        let callback = desk
            .get(id)
            .ok()
            .and_then(|open| open.browser())
            .and_then(|wait| wait.app_scheme_callback())
            .cloned()
            .ok_or(AppError::NoSocialSignInWaiting)?;
        (id, callback)
    };
    match callback.deliver(link.query()) {
        Ok(()) => {
            tracing::info!(
                request = id,
                "social sign-in answer received on the app's scheme"
            );
            Ok(())
        }
        Err(CallbackRefused::NotWaiting) => Err(AppError::NoSocialSignInWaiting),
        Err(refused) => {
            tracing::warn!(request = id, %refused, "a social sign-in answer on the app's scheme was refused");
            Err(AppError::SocialCallbackRefused(refused.to_string()))
        }
    }
}

/// Keeps request `id`'s wait on a page in the browser (for "Open the page again" and Cancel)
/// and opens its page there.
fn start_browser_wait(desk: &SharedDesk, id: u64, wait: BrowserWait) -> Result<(), AppError> {
    let url = wait.url().to_owned();
    let mut desk = desk.lock();
    desk.get_mut(id)?.set_browser(wait);
    if !desk.open_in_browser(&url) {
        tracing::warn!(request = id, "no system browser to open the page in");
    }
    Ok(())
}

/// Ends request `id`'s wait on a page in the browser, if the request is still open.
fn end_browser_wait(desk: &SharedDesk, id: u64) {
    if let Ok(open) = desk.lock().get_mut(id) {
        open.end_browser();
    }
}

/// The wallet account of an offered wallet credential, from the session user's verified
/// credential of the same id (its address, wallet name and provider type).
fn wallet_account(
    client: &StepUpClient,
    credential: &StepUpCredential,
) -> Result<WalletAccount, AppError> {
    let user = client.current_user().ok_or(StepUpError::NotSignedIn)?;
    let verified = user
        .verified_credentials
        .iter()
        .find(|c| c.id == credential.id && c.format == CredentialFormat::Blockchain)
        .ok_or(StepUpError::WalletNotLinked)?;
    let address = verified
        .address
        .clone()
        .or_else(|| verified.public_identifier.clone())
        .ok_or(StepUpError::WalletNotLinked)?;
    let mut account = WalletAccount::browser_extension(
        address,
        verified
            .wallet_name
            .clone()
            .unwrap_or_else(|| "wallet".into()),
    );
    if let Some(provider) = verified.wallet_provider.clone() {
        account.provider = provider;
    }
    Ok(account)
}

/// The exact message the offered wallet credential `credential_id` is asked to sign, for the
/// dialog to show before anything is signed; kept with the request, so that the signature
/// checked is of this very message. A new one replaces the one before (and ends a browser
/// page still waiting for it). An embedded wallet, or one that is not the user's, is refused
/// by the client before any request.
pub async fn wallet_message(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    credential_id: &str,
) -> Result<WalletMessageView, AppError> {
    let credential = {
        let desk = desk.lock();
        desk.require_shown(id)?;
        desk.require_matched(id)?;
        desk.get(id)?
            .credential(credential_id, Method::Wallet)?
            .clone()
    };
    let account = wallet_account(client, &credential)?;
    let challenge = client.wallet_challenge(&account).await?;
    let view = WalletMessageView {
        address: challenge.address.clone(),
        message: challenge.message.clone(),
    };
    let mut desk = desk.lock();
    let open = desk.get_mut(id)?;
    open.end_browser();
    open.set_wallet_message(credential_id, challenge);
    Ok(view)
}

/// "Sign in your browser wallet": serves the wallet page for the message shown (a one-time
/// loopback receiver), opens it in the system browser, waits for its one answer (at most 5
/// minutes; [`cancel_browser`] or any ending of the request stops it), and verifies the
/// signature it brings as [`verify`] does (the request shown, read, matched). `now_ms` is read
/// when the answer came.
pub async fn sign_in_browser(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    credential_id: &str,
    wallet: Option<EmbeddedWallet>,
    now_ms: &(dyn Fn() -> i64 + Send + Sync),
) -> Result<VerifiedView, AppError> {
    let receiver = {
        let desk = desk.lock();
        desk.require_read(id, now_ms())?;
        let open = desk.get(id)?;
        open.credential(credential_id, Method::Wallet)?;
        wallet_page(open.wallet_message(credential_id)?)
    };
    let receiver = LoopbackReceiver::bind(receiver)
        .await
        .map_err(|e| AppError::WalletPage(e.to_string()))?;
    let url = receiver.page_url();
    start_browser_wait(desk, id, BrowserWait::new(url, receiver.canceller()))?;
    tracing::info!(
        request = id,
        origin = receiver.origin(),
        "wallet page served; waiting for its answer"
    );
    let answer = receiver.wait(DEFAULT_WAIT).await;
    end_browser_wait(desk, id);
    let body = match answer {
        Ok(Answer::Posted(body)) => body,
        Ok(Answer::Redirect(_)) => return Err(AppError::NoBrowserPage),
        Err(ReceiveError::Cancelled) => {
            tracing::info!(request = id, "wallet page cancelled");
            return Err(StepUpError::Cancelled.into());
        }
        Err(error) => return Err(AppError::WalletPage(error.to_string())),
    };
    match read_wallet_answer(&body)? {
        WalletPageAnswer::Signed { signature } => {
            let proof = Proof::Wallet {
                credential_id: credential_id.to_owned(),
                signature,
            };
            verify(desk, client, id, proof, wallet, now_ms()).await
        }
        WalletPageAnswer::Refused(error) => {
            tracing::info!(request = id, "the browser wallet did not sign");
            Err(error)
        }
    }
}

/// "Open the page again": the page still waiting for request `id`, opened once more.
pub fn open_browser_again(desk: &SharedDesk, id: u64) -> Result<(), AppError> {
    let desk = desk.lock();
    desk.require_shown(id)?;
    let url = desk
        .get(id)?
        .browser()
        .ok_or(AppError::NoBrowserPage)?
        .url()
        .to_owned();
    desk.open_in_browser(&url);
    Ok(())
}

/// Cancel while a page waits: the wait ends ([`sign_in_browser`] answers "cancelled") and the
/// page's port closes; the request stays open for another way.
pub fn cancel_browser(desk: &SharedDesk, id: u64) -> Result<(), AppError> {
    desk.lock().get_mut(id)?.end_browser();
    Ok(())
}

fn verified_view(token: Option<TokenStatus>) -> Result<VerifiedView, AppError> {
    let token = token.ok_or(StepUpError::InvalidElevatedToken)?;
    Ok(VerifiedView {
        scopes: token.scopes,
        expires_at_ms: token.expires_at_ms,
        single_use: token.single_use,
        export: None,
    })
}

/// Exports the private key of `wallet` for a `wallet:export` request approved in this dialog:
/// once per approval (the grant is taken before the call, and the elevated token is
/// single-use). The key is in the answer and nowhere else: never logged, never stored.
pub async fn export(
    desk: &SharedDesk,
    client: &StepUpClient,
    id: u64,
    wallet: Option<EmbeddedWallet>,
    now_ms: i64,
) -> Result<ExportedKeyView, AppError> {
    {
        let desk = desk.lock();
        desk.require_shown(id)?;
        desk.export_ready(id)?;
    }
    // Nothing to export: refused before the grant is taken, so it stays usable.
    let wallet = wallet.ok_or(AppError::NoWallet)?;
    let grant = desk.lock().take_export(id)?;
    let exported = match client.export_wallet_private_key(&wallet.id).await {
        Ok(exported) => exported,
        Err(StepUpError::StepUpRequired { .. }) => {
            tracing::info!(request = id, "export refused: a new step-up is needed");
            return Err(AppError::ExportSpent);
        }
        Err(error) => return Err(error.into()),
    };
    let mut locked = desk.lock();
    locked.remember_export(id, crate::export::key_digest(exported.private_key.expose()));
    locked.record(HistoryEntry {
        at_ms: now_ms,
        requester: grant.requester().to_owned(),
        origin: crate::link::origin_of(grant.return_to()),
        verified: false,
        scope: TokenScope::WalletExport,
        scope_text: crate::wording::action_text(&TokenScope::WalletExport),
        method: None,
        method_label: None,
        outcome: Outcome::KeyExported,
        result: crate::wording::outcome_text(Outcome::KeyExported, 0),
    });
    drop(locked);
    tracing::info!(request = id, address = %exported.address, "private key exported");
    Ok(ExportedKeyView {
        address: exported.address,
        private_key: exported.private_key.expose().to_owned(),
    })
}
