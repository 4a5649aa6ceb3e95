//! [`StepUpError`]: every way a step-up can fail, one sentence each saying what to do.
//!
//! Variants mirror the SDK's error classes (§7 of the protocol doc); [`StepUpError::code`] gives
//! a stable machine string for UIs. No message ever contains a token, a code or a key.

use crate::vault::VaultError;
use stepup_protocol::error::codes;
use stepup_protocol::{ErrorBody, TokenScope};

/// The longest server message kept in [`StepUpError::Api`] (server text is hostile input).
const MAX_SERVER_MESSAGE: usize = 200;

/// Why a step-up operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepUpError {
    /// `mfa_invalid_code`: a wrong TOTP, recovery or passkey-MFA code (SDK `MfaInvalidOtpError`).
    #[error("{}", invalid_otp_message(*remaining_attempts))]
    InvalidOtp {
        /// `payload.remainingAttempts`, when the server says (the sandbox does; Dynamic's
        /// packages do not show whether it does).
        remaining_attempts: Option<u32>,
    },
    /// `mfa_rate_limited` or HTTP 429 (SDK `MfaRateLimitedError`).
    #[error("too many attempts: wait a few minutes and try again")]
    RateLimited,
    /// `wrong_email_verification_token` / `wrong_sms_verification_token`.
    #[error("{}", wrong_code_message(*remaining_attempts))]
    WrongCode {
        /// `payload.remainingAttempts`, when the server said.
        remaining_attempts: Option<u32>,
    },
    /// `too_many_*_verification_attempts`: this verification is dead.
    #[error("too many wrong codes: request a new code and try again")]
    TooManyAttempts,
    /// `invalid_email_verification` / `invalid_sms_verification`: unknown, expired or used.
    #[error("the code has expired or was already used: request a new code")]
    VerificationExpired,
    /// `invalid_scopes`: the server will not mint a token for the requested scopes this way.
    #[error(
        "this verification method cannot authorise the requested action: choose another method"
    )]
    InvalidScopes,
    /// `invalid_external_auth` (SDK `InvalidExternalAuthError`).
    #[error("your organisation's sign-in assertion was refused: sign in to your organisation again and retry")]
    InvalidExternalAuth,
    /// The server wants a fresh verification for `scope` before this call.
    #[error(
        "this action needs a fresh verification ({scope}): verify your identity and try again"
    )]
    StepUpRequired {
        /// The scope to verify for.
        scope: TokenScope,
    },
    /// HTTP 401: the session is missing, expired or revoked (SDK `UnauthorizedError`).
    #[error("your session is no longer valid: sign in again")]
    Unauthorized,
    /// The call needs a signed-in user and there is none (SDK `UserNotAuthenticatedError`).
    #[error("you are not signed in: sign in first")]
    NotSignedIn,
    /// The server offers no credential to verify with.
    #[error("your account has no way to verify this action: add a verification method first")]
    NoCredentials,
    /// No connection could be opened (refused, no route, DNS, TLS): nothing was sent.
    #[error("could not reach Dynamic ({0}): check your connection and try again")]
    Network(String),
    /// The connection broke off after the request was sent: before the answer, or in the
    /// middle of its body (a reset, a close before the announced length).
    #[error("the connection to Dynamic broke off ({0}): check your connection and try again")]
    ConnectionLost(String),
    /// A phase of the call ran out of time ([`TimeoutPhase`]: connecting, waiting for the
    /// answer, reading it).
    #[error("could not reach Dynamic (timed out {}): check your connection and try again", .0.doing())]
    TimedOut(TimeoutPhase),
    /// Any other refusal (SDK `APIError`); `code` is `unknown_error` when the body had none.
    /// A status of 500 or more is Dynamic failing, not a refusal ([`StepUpError::code`]
    /// `server_error`).
    #[error("{}", api_message(*status, code, message))]
    Api {
        /// HTTP status.
        status: u16,
        /// The body's machine code, or `unknown_error`.
        code: String,
        /// The body's message, truncated.
        message: String,
    },
    /// A 2xx answer that does not parse, or is too large.
    #[error(
        "Dynamic sent an answer this app cannot read ({0}): try again later or update the app"
    )]
    InvalidResponse(String),
    /// The elevated token is not a JWT, or none usable came back for the requested scopes.
    #[error("the server sent an unusable authorisation: verify again")]
    InvalidElevatedToken,
    /// The keychain failed; its message says what to do.
    #[error("{0}")]
    Vault(#[from] VaultError),
    /// The caller's input is invalid; nothing was sent.
    #[error("{0}: correct it and try again")]
    InvalidInput(String),
    /// The server lists no passkey for this user (SDK `NoPasskeyCredentialsFoundError`).
    #[error("no passkey is registered for this account: add one or choose another method")]
    NoPasskeyCredentials,
    /// The user cancelled the ceremony.
    #[error("the verification was cancelled: start it again when you are ready")]
    Cancelled,
    /// The authenticator did not verify the user (no PIN or biometric).
    #[error("the authenticator did not confirm it is you: try again and unlock it with your PIN, password or biometric")]
    UserNotVerified,
    /// The OS's user verification (polkit) cannot ask: no authentication agent runs in this
    /// desktop session, or polkit or the package's helper is gone. Nothing was released or
    /// signed.
    #[error("your system cannot confirm it is you right now (no polkit authentication agent runs, or Stepup Desktop's helper is not installed): start your desktop's agent or reinstall Stepup Desktop, or remove this device's passkey in the main window and add it again with a PIN")]
    OsVerificationUnavailable,
    /// The server refused the passkey's signature or attestation (`mfa_invalid_code` on a
    /// passkey call): bad signature, no user verification, or a counter that did not increase.
    #[error("the server did not accept this passkey: try again, or choose another method")]
    PasskeyRefused,
    /// The passkey ceremony was not confirmed within [`CEREMONY_TIMEOUT`] (60 s), or the
    /// authenticator gave up waiting for the user.
    ///
    /// [`CEREMONY_TIMEOUT`]: crate::passkey::CEREMONY_TIMEOUT
    #[error("the passkey was not confirmed within 60 seconds: try again")]
    CeremonyTimedOut,
    /// The authenticator itself failed (not a cancel, not a timeout).
    #[error("the passkey authenticator failed ({0}): try again, or choose another method")]
    Authenticator(String),
    /// The device passkey needs its PIN, and none was entered.
    #[error("enter the PIN of this device's passkey")]
    PinRequired,
    /// A wrong device passkey PIN; `tries_left` more lock it.
    #[error("{}", wrong_pin_message(*tries_left))]
    WrongPin {
        /// Wrong PINs left before the passkey locks.
        tries_left: u8,
    },
    /// The device passkey locked itself after 8 wrong PINs.
    #[error("this device's passkey is locked after 8 wrong PINs: remove it in the main window and add a new one, or choose another method")]
    PinLocked,
    /// A device passkey from before PINs: it cannot verify its user, so it signs nothing.
    #[error("this device's passkey has no PIN: remove it in the main window and add it again with a PIN, or choose another method")]
    PinNotSet,
    /// A new PIN that is refused; the text says why.
    #[error("{0}")]
    PinRejected(&'static str),
    /// An embedded wallet was chosen for a step-up (refused before any request).
    #[error("embedded wallets cannot be used for step-up authentication: choose an external wallet such as a browser extension, or another method")]
    EmbeddedWallet,
    /// The wallet is not one of the signed-in user's verified credentials (refused before
    /// any request).
    #[error("this wallet is not linked to your account: choose one of your verified wallets, or another method")]
    WalletNotLinked,
    /// The signature was made by another wallet than the one chosen.
    #[error("signed by another address {signer}, not by the wallet {expected}: sign with the wallet you chose")]
    WalletSignatureMismatch {
        /// The address whose key made the signature.
        signer: String,
        /// The address the message names.
        expected: String,
    },
    /// `reassign_wallet_confirm` (SDK `WalletAlreadyLinkedToAnotherUserError`).
    #[error("this wallet is linked to another account: choose another wallet")]
    WalletLinkedToAnotherUser,
    /// `merge_accounts_confirmation` (SDK `MergeAccountsConfirmationError`).
    #[error("this wallet belongs to another account, which would have to be merged with yours first: choose another wallet")]
    MergeAccountsConfirmation,
    /// `chainalysis_blocked_wallet` (SDK `WalletScreeningBlockedError`).
    #[error("this wallet was blocked by the project's screening: choose another wallet or method")]
    WalletScreeningBlocked,
    /// The environment's settings list no such social provider (the SDK's "Social provider
    /// … not supported"), or the server answered `provider_not_available`.
    #[error("sign-in with {provider} is not enabled for this app: choose another method")]
    SocialProviderUnavailable {
        /// The provider asked for (`google`).
        provider: String,
    },
    /// A server-issued assertion a link carried was not accepted here, before anything was
    /// sent: not signed by the environment's external-auth key, another issuer, audience,
    /// user or scope, expired or too long-lived, or the environment takes none.
    #[error("the confirmation from your app's server was refused: {0}")]
    AssertionRefused(String),
    /// The signed-in user has no linked account of this provider (refused before any request).
    #[error("no {provider} account is linked to your account: choose another method")]
    SocialAccountNotLinked {
        /// The provider asked for.
        provider: String,
    },
    /// `social_account_already_exists`: the account the browser signed in with is another
    /// user's.
    #[error("the account you chose in the browser is linked to another user: sign in there with your own account, or choose another method")]
    SocialAccountLinkedToAnotherUser,
    /// The browser came back with another `dynamicOauthState` than the one this sign-in drew
    /// (SDK `InvalidRedirectStorageStateError`).
    #[error("the browser came back from a sign-in this app did not start: start again")]
    SocialStateMismatch,
    /// The user pressed Deny at the provider (the redirect has no `dynamicOauthCode`, which
    /// the SDK reports as `MissingSocialUrlParamError`).
    #[error("the sign-in was declined in the browser: start again and allow it, or choose another method")]
    SocialDenied,
    /// The redirect lacks a parameter (SDK `MissingSocialUrlParamError`).
    #[error("the browser came back without {param}: start again")]
    SocialCallbackIncomplete {
        /// `dynamicOauthState` or `dynamicOauthCode`.
        param: &'static str,
    },
    /// `invalid_verification` on `providers/{p}/verify` (an expired or used code, a wrong
    /// PKCE verifier), or a provider error in the redirect.
    #[error("the sign-in with the provider was not accepted (it may have expired): start again")]
    SocialRefused,
    /// The system browser could not be opened.
    #[error("the browser could not be opened ({0}): open the sign-in page yourself, or choose another method")]
    BrowserUnavailable(String),
    /// No redirect came back from the browser in time.
    #[error("no answer came from the browser within {} minutes: start again", .0.as_secs() / 60)]
    BrowserTimedOut(std::time::Duration),
    /// No loopback port could be opened to receive the browser's answer.
    #[error("{0}")]
    LoopbackUnavailable(String),
}

fn wrong_pin_message(tries_left: u8) -> String {
    match tries_left {
        1 => "wrong PIN: one more wrong PIN locks this device's passkey".to_owned(),
        n => format!("wrong PIN: {n} tries left before this device's passkey locks"),
    }
}

/// Which phase of an HTTP call ran out of time; each has its own limit in
/// [`Config`](crate::Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// Opening the connection, TLS included ([`Config::connect_timeout`](crate::Config)).
    Connect,
    /// From the start of the call until the answer's status and headers
    /// ([`Config::first_byte_timeout`](crate::Config)).
    FirstByte,
    /// From the headers until the last byte of the body
    /// ([`Config::body_timeout`](crate::Config)).
    Body,
}

impl TimeoutPhase {
    /// A stable machine name: `connect`, `first_byte`, `body`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::FirstByte => "first_byte",
            Self::Body => "body",
        }
    }

    /// What the client was doing, for the user's sentence.
    fn doing(self) -> &'static str {
        match self {
            Self::Connect => "connecting",
            Self::FirstByte => "waiting for the answer",
            Self::Body => "reading the answer",
        }
    }
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn api_message(status: u16, code: &str, message: &str) -> String {
    if status >= 500 {
        format!("Dynamic could not handle the request (HTTP {status}): try again in a few minutes")
    } else {
        format!("the server refused the request ({code}, HTTP {status}): {message}")
    }
}

fn invalid_otp_message(remaining: Option<u32>) -> String {
    match remaining {
        Some(0) => {
            "the code is not correct, and no attempt is left: wait before trying again".into()
        }
        Some(1) => {
            "the code is not correct, 1 attempt left: check your authenticator and try again".into()
        }
        Some(n) => format!(
            "the code is not correct, {n} attempts left: check your authenticator and try again"
        ),
        None => "the code is not correct: check your authenticator and try again".into(),
    }
}

fn wrong_code_message(remaining: Option<u32>) -> String {
    match remaining {
        Some(1) => "the code is not correct, 1 attempt left: check the code and try again".into(),
        Some(n) => {
            format!("the code is not correct, {n} attempts left: check the code and try again")
        }
        None => "the code is not correct: check the code and try again".into(),
    }
}

impl StepUpError {
    /// A stable machine string for UIs (never the server's free text).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidOtp { .. } => "invalid_otp",
            Self::RateLimited => "rate_limited",
            Self::WrongCode { .. } => "wrong_code",
            Self::TooManyAttempts => "too_many_attempts",
            Self::VerificationExpired => "verification_expired",
            Self::InvalidScopes => "invalid_scopes",
            Self::InvalidExternalAuth => "invalid_external_auth",
            Self::StepUpRequired { .. } => "step_up_required",
            Self::Unauthorized => "unauthorized",
            Self::NotSignedIn => "not_signed_in",
            Self::NoCredentials => "no_credentials",
            Self::Network(_) => "network_error",
            Self::ConnectionLost(_) => "connection_lost",
            Self::TimedOut(_) => "timed_out",
            Self::Api { status, .. } if *status >= 500 => "server_error",
            Self::Api { .. } => "api_error",
            Self::InvalidResponse(_) => "invalid_response",
            Self::InvalidElevatedToken => "invalid_elevated_token",
            Self::Vault(VaultError::Locked) => "keychain_locked",
            Self::Vault(VaultError::Unavailable(_)) => "keychain_unavailable",
            Self::Vault(VaultError::TimedOut(_)) => "keychain_timed_out",
            Self::Vault(VaultError::AccessDenied) => "keychain_access_denied",
            Self::Vault(VaultError::Corrupt(_)) => "keychain_corrupt",
            Self::Vault(VaultError::Other(_)) => "keychain_error",
            Self::InvalidInput(_) => "invalid_input",
            Self::NoPasskeyCredentials => "no_passkey_credentials",
            Self::Cancelled => "cancelled",
            Self::UserNotVerified => "user_not_verified",
            Self::OsVerificationUnavailable => "os_verification_unavailable",
            Self::PasskeyRefused => "passkey_refused",
            Self::CeremonyTimedOut => "passkey_timed_out",
            Self::Authenticator(_) => "authenticator_error",
            Self::PinRequired => "pin_required",
            Self::WrongPin { .. } => "wrong_pin",
            Self::PinLocked => "pin_locked",
            Self::PinNotSet => "pin_not_set",
            Self::PinRejected(_) => "pin_rejected",
            Self::EmbeddedWallet => "embedded_wallet",
            Self::WalletNotLinked => "wallet_not_linked",
            Self::WalletSignatureMismatch { .. } => "wallet_signature_mismatch",
            Self::WalletLinkedToAnotherUser => "wallet_already_linked_to_another_user",
            Self::MergeAccountsConfirmation => "merge_accounts_confirmation",
            Self::WalletScreeningBlocked => "wallet_screening_blocked",
            Self::SocialProviderUnavailable { .. } => "social_provider_unavailable",
            Self::SocialAccountNotLinked { .. } => "social_account_not_linked",
            Self::AssertionRefused(_) => "assertion_refused",
            Self::SocialAccountLinkedToAnotherUser => "social_account_already_exists",
            Self::SocialStateMismatch => "invalid_redirect_storage_state",
            Self::SocialDenied => "social_denied",
            Self::SocialCallbackIncomplete { .. } => "missing_social_url_param",
            Self::SocialRefused => "social_refused",
            Self::BrowserUnavailable(_) => "browser_unavailable",
            Self::BrowserTimedOut(_) => "browser_timed_out",
            Self::LoopbackUnavailable(_) => "loopback_unavailable",
        }
    }

    /// True when the call failed on the way to or from Dynamic, not because of what was
    /// asked: unreachable, too slow, cut off, a 5xx, or an answer that cannot be read. Trying
    /// again may work; a dialog offers Retry and never reads this as "no way to verify".
    pub fn is_fault(&self) -> bool {
        match self {
            Self::Network(_)
            | Self::ConnectionLost(_)
            | Self::TimedOut(_)
            | Self::InvalidResponse(_) => true,
            Self::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Maps an HTTP error answer (status ≥ 400) to a variant.
    ///
    /// `scope` is the scope the call was made for; a step-up rejection (`code: step_up_required`,
    /// or RFC 9470's `WWW-Authenticate: ... insufficient_user_authentication` on 401/403) becomes
    /// [`StepUpError::StepUpRequired`] for it, or for `payload.scope` when the call had none.
    pub(crate) fn from_http_error(
        status: u16,
        body: &[u8],
        www_authenticate: Option<&str>,
        scope: Option<&TokenScope>,
    ) -> Self {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let payload_scope = parsed
            .as_ref()
            .and_then(|b| b.payload.as_ref())
            .and_then(|p| p.get("scope"))
            .and_then(|s| s.as_str())
            .map(TokenScope::parse);
        let step_up_scope = scope.cloned().or(payload_scope);
        let code = parsed.as_ref().and_then(|b| b.code.as_deref());
        let rfc9470 = matches!(status, 401 | 403)
            && www_authenticate.is_some_and(|h| {
                h.contains(stepup_protocol::headers::INSUFFICIENT_USER_AUTHENTICATION)
            });
        if code == Some(codes::STEP_UP_REQUIRED) || rfc9470 {
            if let Some(scope) = step_up_scope {
                return Self::StepUpRequired { scope };
            }
        }
        let Some(body) = parsed else {
            return match status {
                401 => Self::Unauthorized,
                429 => Self::RateLimited,
                _ => Self::Api {
                    status,
                    code: "unknown_error".into(),
                    message: format!("HTTP {status}"),
                },
            };
        };
        let remaining_attempts = body
            .payload
            .as_ref()
            .and_then(|p| p.get("remainingAttempts"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        match body.code.as_deref() {
            Some(codes::MFA_INVALID_CODE) => Self::InvalidOtp { remaining_attempts },
            Some(codes::MFA_RATE_LIMITED) | Some(codes::TOO_MANY_REQUESTS) => Self::RateLimited,
            Some(codes::WRONG_EMAIL_VERIFICATION_TOKEN)
            | Some(codes::WRONG_SMS_VERIFICATION_TOKEN) => Self::WrongCode { remaining_attempts },
            Some(codes::TOO_MANY_EMAIL_VERIFICATION_ATTEMPTS)
            | Some(codes::TOO_MANY_SMS_VERIFICATION_ATTEMPTS)
            | Some("too_many_verification_attempts") => Self::TooManyAttempts,
            Some(codes::INVALID_EMAIL_VERIFICATION) | Some(codes::INVALID_SMS_VERIFICATION) => {
                Self::VerificationExpired
            }
            Some(codes::INVALID_SCOPES) => Self::InvalidScopes,
            Some(codes::INVALID_EXTERNAL_AUTH) => Self::InvalidExternalAuth,
            Some(codes::REASSIGN_WALLET_CONFIRM) => Self::WalletLinkedToAnotherUser,
            Some(codes::MERGE_ACCOUNTS_CONFIRMATION) => Self::MergeAccountsConfirmation,
            Some(codes::CHAINALYSIS_BLOCKED_WALLET) => Self::WalletScreeningBlocked,
            Some(codes::SOCIAL_ACCOUNT_ALREADY_EXISTS) => Self::SocialAccountLinkedToAnotherUser,
            Some(codes::UNAUTHORIZED) if status == 401 => Self::Unauthorized,
            _ if status == 429 => Self::RateLimited,
            code => Self::Api {
                status,
                code: code.map(sanitize).unwrap_or_else(|| "unknown_error".into()),
                message: sanitize(&body.error),
            },
        }
    }
}

/// Server text shown to a user: control characters dropped, length bounded.
fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SERVER_MESSAGE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(status: u16, body: serde_json::Value) -> StepUpError {
        StepUpError::from_http_error(
            status,
            body.to_string().as_bytes(),
            None,
            Some(&TokenScope::WalletExport),
        )
    }

    #[test]
    fn sdk_codes_map_to_their_variants() {
        assert_eq!(
            map(422, json!({"error": "x", "code": "mfa_invalid_code"})),
            StepUpError::InvalidOtp {
                remaining_attempts: None
            }
        );
        assert_eq!(
            map(
                422,
                json!({"error": "x", "code": "mfa_invalid_code", "payload": {"remainingAttempts": 3}})
            )
            .to_string(),
            "the code is not correct, 3 attempts left: check your authenticator and try again"
        );
        assert_eq!(
            map(422, json!({"error": "x", "code": "mfa_rate_limited"})),
            StepUpError::RateLimited
        );
        assert_eq!(
            map(
                422,
                json!({"error": "x", "code": "wrong_email_verification_token", "payload": {"remainingAttempts": 2}})
            ),
            StepUpError::WrongCode {
                remaining_attempts: Some(2)
            }
        );
        assert_eq!(
            map(
                422,
                json!({"error": "x", "code": "wrong_sms_verification_token"})
            ),
            StepUpError::WrongCode {
                remaining_attempts: None
            }
        );
        for code in [
            "too_many_email_verification_attempts",
            "too_many_sms_verification_attempts",
        ] {
            assert_eq!(
                map(422, json!({"error": "x", "code": code})),
                StepUpError::TooManyAttempts
            );
        }
        for code in ["invalid_email_verification", "invalid_sms_verification"] {
            assert_eq!(
                map(422, json!({"error": "x", "code": code})),
                StepUpError::VerificationExpired
            );
        }
        assert_eq!(
            map(422, json!({"error": "x", "code": "invalid_scopes"})),
            StepUpError::InvalidScopes
        );
        assert_eq!(
            map(400, json!({"error": "x", "code": "invalid_external_auth"})),
            StepUpError::InvalidExternalAuth
        );
    }

    #[test]
    fn unknown_codes_and_missing_codes_become_api_errors() {
        assert_eq!(
            map(
                422,
                json!({"error": "nope", "code": "mfa_device_not_found"})
            ),
            StepUpError::Api {
                status: 422,
                code: "mfa_device_not_found".into(),
                message: "nope".into()
            }
        );
        assert_eq!(
            map(500, json!({"error": "boom"})),
            StepUpError::Api {
                status: 500,
                code: "unknown_error".into(),
                message: "boom".into()
            }
        );
        // An error body with a JSON error is an API error even on 401, as in the SDK.
        assert!(matches!(
            map(401, json!({"error": "bad"})),
            StepUpError::Api { status: 401, .. }
        ));
    }

    #[test]
    fn unauthorized_and_rate_limits_without_a_body() {
        assert_eq!(
            StepUpError::from_http_error(401, b"", None, None),
            StepUpError::Unauthorized
        );
        assert_eq!(
            StepUpError::from_http_error(401, b"<html>", None, None),
            StepUpError::Unauthorized
        );
        assert_eq!(
            map(401, json!({"error": "x", "code": "unauthorized"})),
            StepUpError::Unauthorized
        );
        assert_eq!(
            StepUpError::from_http_error(429, b"", None, None),
            StepUpError::RateLimited
        );
        assert_eq!(
            map(429, json!({"error": "slow down"})),
            StepUpError::RateLimited
        );
        assert!(matches!(
            StepUpError::from_http_error(502, b"<html>bad gateway", None, None),
            StepUpError::Api { status: 502, .. }
        ));
    }

    #[test]
    fn step_up_rejections_name_the_scope_of_the_call() {
        assert_eq!(
            map(
                403,
                json!({"error": "x", "code": "step_up_required", "payload": {"scope": "wallet:sign"}})
            ),
            StepUpError::StepUpRequired {
                scope: TokenScope::WalletExport
            }
        );
        let header = r#"Bearer error="insufficient_user_authentication""#;
        assert_eq!(
            StepUpError::from_http_error(
                403,
                b"",
                Some(header),
                Some(&TokenScope::CredentialUnlink)
            ),
            StepUpError::StepUpRequired {
                scope: TokenScope::CredentialUnlink
            }
        );
        assert_eq!(
            StepUpError::from_http_error(
                403,
                br#"{"error":"x","code":"step_up_required","payload":{"scope":"wallet:sign"}}"#,
                None,
                None
            ),
            StepUpError::StepUpRequired {
                scope: TokenScope::WalletSign
            }
        );
        // Without any scope to name, it stays an API error rather than a guess.
        assert!(matches!(
            StepUpError::from_http_error(
                403,
                br#"{"error":"x","code":"step_up_required"}"#,
                None,
                None
            ),
            StepUpError::Api { status: 403, .. }
        ));
    }

    #[test]
    fn server_text_is_bounded_and_stripped() {
        let long = format!("a\r\nb{}", "x".repeat(1000));
        let StepUpError::Api { message, .. } = map(500, json!({"error": long})) else {
            panic!()
        };
        assert!(message.len() <= MAX_SERVER_MESSAGE && !message.contains('\n'));
    }

    #[test]
    fn codes_are_stable_and_messages_say_what_to_do() {
        assert_eq!(
            StepUpError::Vault(VaultError::Locked).code(),
            "keychain_locked"
        );
        assert_eq!(
            StepUpError::Vault(VaultError::Locked).to_string(),
            "the keychain is locked: unlock it and try again"
        );
        assert_eq!(
            StepUpError::WrongCode {
                remaining_attempts: Some(1)
            }
            .code(),
            "wrong_code"
        );
        assert!(StepUpError::WrongCode {
            remaining_attempts: Some(3)
        }
        .to_string()
        .contains("3 attempts left"));
        assert!(StepUpError::StepUpRequired {
            scope: TokenScope::WalletExport
        }
        .to_string()
        .contains("wallet:export"));
        assert_eq!(StepUpError::CeremonyTimedOut.code(), "passkey_timed_out");
        assert_eq!(
            StepUpError::CeremonyTimedOut.to_string(),
            "the passkey was not confirmed within 60 seconds: try again"
        );
        assert_ne!(
            StepUpError::CeremonyTimedOut.code(),
            StepUpError::TimedOut(TimeoutPhase::FirstByte).code(),
            "a slow server and a passkey nobody confirmed are different problems"
        );
    }

    #[test]
    fn faults_have_their_own_codes_and_say_what_to_do() {
        let faults = [
            (
                StepUpError::Network("refused".into()),
                "network_error",
                "could not reach Dynamic",
            ),
            (
                StepUpError::ConnectionLost("reset".into()),
                "connection_lost",
                "broke off",
            ),
            (
                StepUpError::TimedOut(TimeoutPhase::Connect),
                "timed_out",
                "timed out connecting",
            ),
            (
                StepUpError::TimedOut(TimeoutPhase::FirstByte),
                "timed_out",
                "timed out waiting for the answer",
            ),
            (
                StepUpError::TimedOut(TimeoutPhase::Body),
                "timed_out",
                "timed out reading the answer",
            ),
            (
                map(503, json!({"error": "down"})),
                "server_error",
                "HTTP 503",
            ),
            (
                StepUpError::from_http_error(502, b"<html>", None, None),
                "server_error",
                "HTTP 502",
            ),
            (
                StepUpError::InvalidResponse("truncated JSON".into()),
                "invalid_response",
                "truncated JSON",
            ),
        ];
        for (error, code, says) in faults {
            assert_eq!(error.code(), code, "{error}");
            assert!(error.is_fault(), "{error}");
            let sentence = error.to_string();
            assert!(
                sentence.contains(says) && sentence.contains("try again"),
                "{sentence}"
            );
        }
        // Refusals and a missing session are answers, not faults.
        for answer in [
            StepUpError::Unauthorized,
            StepUpError::NotSignedIn,
            StepUpError::NoCredentials,
            StepUpError::RateLimited,
            map(422, json!({"error": "x", "code": "mfa_device_not_found"})),
        ] {
            assert!(!answer.is_fault(), "{answer}");
        }
        assert_eq!(
            map(422, json!({"error": "nope", "code": "x"})).code(),
            "api_error"
        );
    }
}
