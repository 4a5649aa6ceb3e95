//! Email and SMS one-time codes: create a verification, then verify or sign in with its code.

use crate::scope::TokenScope;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `EmailVerificationCreateRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerificationCreateRequest {
    /// Where the code goes.
    pub email: String,
    /// Captcha token, when the project requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
}

/// `EmailVerificationCreateResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerificationCreateResponse {
    /// Identifies this verification in the verify call. Note the upper-case `UUID`.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// The address the code was sent to.
    pub email: String,
}

/// `SmsVerificationCreateRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsVerificationCreateRequest {
    /// Dialling prefix without `+` (`"1"`, `"44"`).
    pub phone_country_code: String,
    /// National number.
    pub phone_number: String,
    /// ISO 3166 alpha-2 (`"US"`).
    pub iso_country_code: String,
    /// Captcha token, when the project requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
}

/// `SmsVerificationCreateResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsVerificationCreateResponse {
    /// Identifies this verification in the verify call.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// National number.
    pub phone_number: String,
    /// Dialling prefix.
    pub phone_country_code: String,
    /// ISO country.
    pub iso_country_code: String,
}

/// `EmailVerificationVerifyRequest` / `SmsVerificationVerifyRequest` (signed-in step-up path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpVerifyRequest {
    /// From the create response.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// The 6-digit code.
    pub verification_token: Secret,
    /// Scopes to mint an elevated token for; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `emailVerifications/signin` / `smsVerifications/signin` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpSignInRequest {
    /// From the create response.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// The 6-digit code.
    pub verification_token: Secret,
    /// Ask for a `credential:link` token when MFA is optional and the user has none.
    #[serde(
        rename = "allowNewMFALinking",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_new_mfa_linking: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn otp_requests_use_the_exact_wire_keys() {
        let otp = OtpVerifyRequest {
            verification_uuid: "u".into(),
            verification_token: "123456".into(),
            requested_scopes: Some(vec![TokenScope::WalletExport]),
        };
        assert_eq!(
            serde_json::to_value(&otp).unwrap(),
            json!({"verificationUUID": "u", "verificationToken": "123456", "requestedScopes": ["wallet:export"]})
        );
        let signin = OtpSignInRequest {
            verification_uuid: "u".into(),
            verification_token: "1".into(),
            allow_new_mfa_linking: Some(true),
        };
        assert_eq!(
            serde_json::to_value(&signin).unwrap()["allowNewMFALinking"],
            json!(true)
        );
    }
}
