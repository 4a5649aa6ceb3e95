//! Verifications: one [`Verification`] variant per method, one private function per variant.
//! Every verification asks for `requested_scopes` and stores the elevated token it earns; all
//! but external auth also rotate the session.

use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::tokens::TokenStatus;
use serde::{Deserialize, Serialize};
use stepup_protocol::jwt::MAX_JWT_LEN;
use stepup_protocol::{
    ExternalAuthAssertionResponse, ExternalAuthVerifyRequest, OtpVerifyRequest,
    RecoveryAuthRequest, SdkUser, Secret, SmsVerificationCreateRequest,
    SmsVerificationCreateResponse, TokenScope, TotpAuthRequest, VerifyResponse,
};

/// The longest code of any kind accepted.
const MAX_CODE_LEN: usize = 64;
/// The longest MFA device id accepted.
const MAX_ID_LEN: usize = 128;

/// A phone number to send an SMS code to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumber {
    /// Dialling prefix without `+` (`"1"`, `"44"`).
    pub country_code: String,
    /// ISO 3166 alpha-2 country (`"US"`).
    pub iso_country_code: String,
    /// National number, digits only.
    pub number: String,
}

/// Where a one-time code went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OtpChannel {
    /// The email address the server confirmed.
    Email(String),
    /// The phone number the server confirmed.
    Sms(PhoneNumber),
}

/// A sent one-time code, to hand back with the code (C:`OTPVerification`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpVerification {
    /// `verificationUUID` from the create call.
    pub verification_uuid: String,
    /// Where the code went.
    pub channel: OtpChannel,
}

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

/// A trimmed 6-digit code.
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

/// A trimmed recovery code: 1–64 printable ASCII characters.
fn validate_recovery_code(code: &Secret) -> Result<Secret, StepUpError> {
    let trimmed = code.expose().trim();
    if !trimmed.is_empty()
        && trimmed.len() <= MAX_CODE_LEN
        && trimmed.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        Ok(Secret::new(trimmed))
    } else {
        Err(StepUpError::InvalidInput(
            "the recovery code must be 1 to 64 letters, digits or dashes".into(),
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

fn validate_phone(phone: &PhoneNumber) -> Result<(), StepUpError> {
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let iso = phone.iso_country_code.len() == 2
        && phone
            .iso_country_code
            .bytes()
            .all(|b| b.is_ascii_uppercase());
    if digits(&phone.country_code, 4) && digits(&phone.number, 15) && iso {
        Ok(())
    } else {
        Err(StepUpError::InvalidInput(
            "the phone number must be digits with a country code like 1 / US".into(),
        ))
    }
}

/// `None` for no scopes, so that `requestedScopes` is left out of the JSON.
fn requested(scopes: &[TokenScope]) -> Option<Vec<TokenScope>> {
    (!scopes.is_empty()).then(|| scopes.to_vec())
}

impl StepUpClient {
    /// Sends a one-time code by SMS (`POST smsVerifications/create`).
    pub async fn send_sms_otp(&self, phone: PhoneNumber) -> Result<OtpVerification, StepUpError> {
        validate_phone(&phone)?;
        let body = SmsVerificationCreateRequest {
            phone_country_code: phone.country_code,
            phone_number: phone.number,
            iso_country_code: phone.iso_country_code,
            captcha_token: None,
        };
        let req = ApiRequest::post("smsVerifications/create").json(&body)?;
        let resp: SmsVerificationCreateResponse = self.inner.send_json(req).await?;
        Ok(OtpVerification {
            verification_uuid: resp.verification_uuid,
            channel: OtpChannel::Sms(PhoneNumber {
                country_code: resp.phone_country_code,
                iso_country_code: resp.iso_country_code,
                number: resp.phone_number,
            }),
        })
    }

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
                self.verify_otp(
                    "emailVerifications/verify",
                    &verification,
                    &code,
                    scopes,
                    true,
                )
                .await
            }
            Verification::SmsOtp { verification, code } => {
                self.verify_otp(
                    "smsVerifications/verify",
                    &verification,
                    &code,
                    scopes,
                    false,
                )
                .await
            }
            Verification::Totp { device_id, code } => {
                self.verify_totp(device_id, &code, scopes).await
            }
            Verification::RecoveryCode { code } => self.verify_recovery_code(&code, scopes).await,
            Verification::ExternalJwt { jwt } => self.verify_external_jwt(&jwt, scopes).await,
            Verification::Passkey(confirmation) => self.verify_passkey(confirmation, scopes).await,
        }
    }

    async fn finish(
        &self,
        req: ApiRequest,
        scopes: &[TokenScope],
    ) -> Result<VerifyOutcome, StepUpError> {
        let resp: VerifyResponse = self.inner.send_json(req).await?;
        let user = resp.user.clone();
        let token = self.inner.apply_verify_response(resp, scopes).await?;
        Ok(VerifyOutcome {
            user: Some(user),
            token,
        })
    }

    async fn verify_otp(
        &self,
        path: &str,
        verification: &OtpVerification,
        code: &Secret,
        scopes: &[TokenScope],
        email: bool,
    ) -> Result<VerifyOutcome, StepUpError> {
        let channel_matches = matches!(
            (&verification.channel, email),
            (OtpChannel::Email(_), true) | (OtpChannel::Sms(_), false)
        );
        if !channel_matches {
            return Err(StepUpError::InvalidInput(
                "the code was sent by another channel".into(),
            ));
        }
        let body = OtpVerifyRequest {
            verification_uuid: validate_id(&verification.verification_uuid, "verification id")?,
            verification_token: validate_otp_code(code)?,
            requested_scopes: requested(scopes),
        };
        self.finish(ApiRequest::post(path).json(&body)?, scopes)
            .await
    }

    async fn verify_totp(
        &self,
        device_id: Option<String>,
        code: &Secret,
        scopes: &[TokenScope],
    ) -> Result<VerifyOutcome, StepUpError> {
        let body = TotpAuthRequest {
            id: device_id
                .as_deref()
                .map(|id| validate_id(id, "MFA device id"))
                .transpose()?,
            code: validate_otp_code(code)?,
            create_mfa_token: None,
            requested_scopes: requested(scopes),
        };
        self.finish(ApiRequest::post("users/mfa/auth/totp").json(&body)?, scopes)
            .await
    }

    async fn verify_recovery_code(
        &self,
        code: &Secret,
        scopes: &[TokenScope],
    ) -> Result<VerifyOutcome, StepUpError> {
        let body = RecoveryAuthRequest {
            code: validate_recovery_code(code)?,
            create_mfa_token: None,
            requested_scopes: requested(scopes),
        };
        self.finish(
            ApiRequest::post("users/mfa/auth/recovery").json(&body)?,
            scopes,
        )
        .await
    }

    /// BYOA (§9): the scopes come from the assertion's `scope` claim, so `scopes` is only
    /// checked against the token that comes back; the session does not rotate.
    async fn verify_external_jwt(
        &self,
        jwt: &Secret,
        scopes: &[TokenScope],
    ) -> Result<VerifyOutcome, StepUpError> {
        let trimmed = jwt.expose().trim();
        if trimmed.is_empty() || trimmed.len() > MAX_JWT_LEN || trimmed.split('.').count() != 3 {
            return Err(StepUpError::InvalidInput(
                "the external assertion is not a JWT".into(),
            ));
        }
        let body = ExternalAuthVerifyRequest {
            jwt: Secret::new(trimmed),
        };
        let req = ApiRequest::post("externalAuth/verify").json(&body)?;
        let resp: ExternalAuthAssertionResponse = self.inner.send_json(req).await?;
        let token = self
            .inner
            .store_elevated_token(&resp.elevated_access_token, scopes)
            .await?;
        Ok(VerifyOutcome { user: None, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(validate_recovery_code(&Secret::new(" ABCD-1234 ")).is_ok());
        assert!(validate_recovery_code(&Secret::new("x".repeat(65))).is_err());
        assert!(validate_recovery_code(&Secret::new("a\u{7}b")).is_err());
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
    fn ids_and_phones_are_checked() {
        assert!(validate_id("0b2f-aa_1", "id").is_ok());
        for bad in ["", "a/b", "../x", "a b", "a?b"] {
            assert!(validate_id(bad, "id").is_err(), "{bad}");
        }
        let ok = PhoneNumber {
            country_code: "1".into(),
            iso_country_code: "US".into(),
            number: "5555550100".into(),
        };
        assert!(validate_phone(&ok).is_ok());
        assert!(validate_phone(&PhoneNumber {
            number: "555-0100".into(),
            ..ok.clone()
        })
        .is_err());
        assert!(validate_phone(&PhoneNumber {
            iso_country_code: "usa".into(),
            ..ok
        })
        .is_err());
    }

    #[test]
    fn empty_scopes_are_left_out() {
        assert_eq!(requested(&[]), None);
        assert_eq!(
            requested(&[TokenScope::WalletExport]),
            Some(vec![TokenScope::WalletExport])
        );
    }
}
