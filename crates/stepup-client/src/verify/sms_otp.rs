//! [`Verification::SmsOtp`](super::Verification::SmsOtp): send a code to a phone
//! (`POST smsVerifications/create`), then verify it (`POST smsVerifications/verify`).

use super::otp::{verify_code, OtpChannel, OtpVerification};
use super::VerifyOutcome;
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use serde::{Deserialize, Serialize};
use stepup_protocol::{
    Secret, SmsVerificationCreateRequest, SmsVerificationCreateResponse, TokenScope,
};

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

/// Digits for the prefix (1–4) and the number (1–15), two upper-case letters for the country.
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

/// Where the code is checked.
const VERIFY: &str = "smsVerifications/verify";

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
}

/// Verifies the texted `code` of `verification`.
pub(super) async fn verify(
    client: &StepUpClient,
    verification: &OtpVerification,
    code: &Secret,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let sent_here = matches!(verification.channel, OtpChannel::Sms(_));
    verify_code(client, VERIFY, verification, sent_here, code, scopes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_checked() {
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
}
