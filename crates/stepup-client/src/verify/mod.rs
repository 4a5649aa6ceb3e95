//! Verifications: one [`Verification`] variant per method, one file per variant (as
//! mini-redis's `cmd/`): `email_otp`, `sms_otp` (with `otp`, what the two share), `totp`,
//! `recovery_code`, `external_jwt`, `passkey`; `wallet` (SIWE), which has its own
//! methods because a dialog shows the message before the wallet signs it; and `social`
//! (the system browser and a loopback redirect), two phases so a dialog can wait with Cancel. Each checks its input before any request, asks
//! for `requested_scopes` and stores the elevated token it earns; all but external auth also
//! rotate the session.

mod email_otp;
mod external_jwt;
pub use external_jwt::{VouchedAssertion, MAX_ASSERTION_LIFETIME_SECS};
mod otp;
mod passkey;
mod recovery_code;
mod sms_otp;
mod social;
mod totp;
mod wallet;

pub use otp::{OtpChannel, OtpVerification};
pub use sms_otp::PhoneNumber;
pub use social::{
    build_oauth_url, pkce_challenge, uses_pkce, ProviderSettings, SocialAccount, SocialPending,
    SocialRedirect, SystemBrowser, CODE_VERIFIER_LEN, LOOPBACK_REDIRECT_ENV, STATE_LEN,
};
pub use wallet::{
    domain_and_uri, eip55, iso_8601_ms, normalize_signature, personal_message_hash,
    recover_personal_signer, sign_in_statement, wallet_name_with_chain, LocalKeySigner, SignFuture,
    SignInMessage, WalletAccount, WalletChallenge, WalletSigner, SIWE_APP_NAME,
};

use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::tokens::TokenStatus;
use stepup_protocol::{SdkUser, Secret, TokenScope, VerifyResponse};

/// The longest MFA device id accepted.
const MAX_ID_LEN: usize = 128;

/// One way to prove it is the user. Codes are [`Secret`]s: `Debug` never prints them.
#[derive(Debug, Clone)]
pub enum Verification {
    /// The code from [`StepUpClient::send_email_otp`] (`POST emailVerifications/verify`).
    EmailOtp {
        /// The sent verification.
        verification: OtpVerification,
        /// The 6-digit code.
        code: Secret,
    },
    /// The code from [`StepUpClient::send_sms_otp`] (`POST smsVerifications/verify`).
    SmsOtp {
        /// The sent verification.
        verification: OtpVerification,
        /// The 6-digit code.
        code: Secret,
    },
    /// A TOTP code (`POST users/mfa/auth/totp`).
    Totp {
        /// The MFA device; the default one when `None`.
        device_id: Option<String>,
        /// The 6-digit code.
        code: Secret,
    },
    /// A recovery code (`POST users/mfa/auth/recovery`).
    RecoveryCode {
        /// One of the user's recovery codes.
        code: Secret,
    },
    /// A customer-signed assertion (`POST externalAuth/verify`); the session is not rotated.
    ExternalJwt {
        /// The assertion JWT.
        jwt: Secret,
    },
    /// A passkey (`GET users/passkeys/authenticate`, the authenticator signs,
    /// `POST users/mfa/auth/passkey`); see [`StepUpClient::authenticate_passkey_mfa`].
    Passkey(crate::passkey::PasskeyConfirmation),
}

/// What a verification changed.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyOutcome {
    /// The user after the session rotated (`None` for external auth, which does not rotate).
    pub user: Option<SdkUser>,
    /// The elevated token stored, if one came back.
    pub token: Option<TokenStatus>,
}

impl StepUpClient {
    /// Verifies the user with `verification` and asks for an elevated token for `scopes`
    /// (none: the session only rotates). Input is checked before any request; a signed-in
    /// session is required.
    pub async fn verify(
        &self,
        verification: Verification,
        scopes: &[TokenScope],
    ) -> Result<VerifyOutcome, StepUpError> {
        self.inner.require_session()?;
        match verification {
            Verification::EmailOtp { verification, code } => {
                email_otp::verify(self, &verification, &code, scopes).await
            }
            Verification::SmsOtp { verification, code } => {
                sms_otp::verify(self, &verification, &code, scopes).await
            }
            Verification::Totp { device_id, code } => {
                totp::verify(self, device_id.as_deref(), &code, scopes).await
            }
            Verification::RecoveryCode { code } => recovery_code::verify(self, &code, scopes).await,
            Verification::ExternalJwt { jwt } => external_jwt::verify(self, &jwt, scopes).await,
            Verification::Passkey(confirmation) => {
                passkey::verify(self, confirmation, scopes).await
            }
        }
    }
}

/// Sends a verification and applies its `VerifyResponse`.
async fn finish(
    client: &StepUpClient,
    req: ApiRequest,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let resp: VerifyResponse = client.inner.send_json(req).await?;
    rotated(client, resp, scopes).await
}

/// Applies a verification's `VerifyResponse`: the session rotates, the token is stored.
async fn rotated(
    client: &StepUpClient,
    resp: VerifyResponse,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let user = resp.user.clone();
    let token = client.inner.apply_verify_response(resp, scopes).await?;
    Ok(VerifyOutcome {
        user: Some(user),
        token,
    })
}

/// A trimmed 6-digit code (email, SMS, TOTP).
pub(crate) fn validate_otp_code(code: &Secret) -> Result<Secret, StepUpError> {
    let trimmed = code.expose().trim();
    if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Secret::new(trimmed))
    } else {
        Err(StepUpError::InvalidInput(
            "the code must be 6 digits".into(),
        ))
    }
}

/// An id that is safe as one URL path segment or a JSON string: `[A-Za-z0-9_-]`, 1–128.
pub(crate) fn validate_id(id: &str, what: &str) -> Result<String, StepUpError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(StepUpError::InvalidInput(format!(
            "the {what} is not valid"
        )))
    }
}

/// `None` for no scopes, so that `requestedScopes` is left out of the JSON.
fn requested(scopes: &[TokenScope]) -> Option<Vec<TokenScope>> {
    (!scopes.is_empty()).then(|| scopes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StepUpError;
    use crate::test_server::{client, nonces, otp, Reply, TestServer, ENV};
    use crate::verify::Verification;
    use serde_json::json;
    use stepup_protocol::TokenScope;

    #[test]
    fn codes_are_trimmed_six_digits() {
        assert_eq!(
            validate_otp_code(&Secret::new(" 123456\n"))
                .unwrap()
                .expose(),
            "123456"
        );
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert!(validate_otp_code(&Secret::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_input_messages_never_echo_the_code() {
        let err = validate_otp_code(&Secret::new("98765x")).unwrap_err();
        assert!(!err.to_string().contains("98765"));
    }

    #[test]
    fn verification_debug_redacts_codes() {
        let v = Verification::Totp {
            device_id: Some("d1".into()),
            code: Secret::new("424242"),
        };
        let dbg = format!("{v:?}");
        assert!(!dbg.contains("424242") && dbg.contains("d1"));
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("0b2f-aa_1", "id").is_ok());
        for bad in ["", "a/b", "../x", "a b", "a?b"] {
            assert!(validate_id(bad, "id").is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_scopes_are_left_out() {
        assert_eq!(requested(&[]), None);
        assert_eq!(
            requested(&[TokenScope::WalletExport]),
            Some(vec![TokenScope::WalletExport])
        );
    }

    #[tokio::test]
    async fn server_error_codes_surface_as_variants_and_bad_input_sends_nothing() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "users/mfa/auth/totp" => Reply::json(422, json!({"error": "bad", "code": "mfa_invalid_code"})),
            "smsVerifications/verify" => Reply::json(422, json!({"error": "bad", "code": "wrong_sms_verification_token", "payload": {"remainingAttempts": 2}})),
            "nonces" => nonces(),
            _ => Reply::raw(200, &"x".repeat(crate::http::MAX_RESPONSE_BYTES + 1)),
        })
        .await;
        let (client, _) = client(&server, true).await;
        let totp = Verification::Totp {
            device_id: None,
            code: "111111".into(),
        };
        assert_eq!(
            client.verify(totp, &[TokenScope::WalletSign]).await,
            Err(StepUpError::InvalidOtp {
                remaining_attempts: None
            })
        );
        let sms = Verification::SmsOtp {
            verification: otp(false),
            code: "111111".into(),
        };
        assert_eq!(
            client.verify(sms, &[]).await,
            Err(StepUpError::WrongCode {
                remaining_attempts: Some(2)
            })
        );
        assert!(
            matches!(
                client.mfa_devices().await,
                Err(StepUpError::InvalidResponse(_))
            ),
            "oversized answers are refused"
        );

        let before = server.requests().len();
        for bad in [
            Verification::Totp {
                device_id: None,
                code: "12345".into(),
            },
            Verification::EmailOtp {
                verification: otp(false),
                code: "123456".into(),
            },
            Verification::RecoveryCode { code: "   ".into() },
            Verification::ExternalJwt { jwt: "nope".into() },
        ] {
            assert!(matches!(
                client.verify(bad, &[]).await,
                Err(StepUpError::InvalidInput(_))
            ));
        }
        assert_eq!(server.requests().len(), before);
        let (signed_out, _) = crate::test_server::client(&server, false).await;
        let v = Verification::Totp {
            device_id: None,
            code: "123456".into(),
        };
        assert_eq!(
            signed_out.verify(v, &[]).await,
            Err(StepUpError::NotSignedIn)
        );
    }
}
