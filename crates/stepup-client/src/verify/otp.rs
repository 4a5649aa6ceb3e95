//! What email and SMS codes share: the sent verification handed back with the code, and the
//! verify call (`POST {email,sms}Verifications/verify`) both channels make.

use super::PhoneNumber;
use super::{finish, requested, validate_id, validate_otp_code, VerifyOutcome};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use serde::{Deserialize, Serialize};
use stepup_protocol::{OtpVerifyRequest, Secret, TokenScope};

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

/// Verifies `code` at `path`. `sent_here` says whether `verification` was sent by the
/// channel of `path`: a code is never checked against another channel's verification.
pub(super) async fn verify_code(
    client: &StepUpClient,
    path: &str,
    verification: &OtpVerification,
    sent_here: bool,
    code: &Secret,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    if !sent_here {
        return Err(StepUpError::InvalidInput(
            "the code was sent by another channel".into(),
        ));
    }
    let body = OtpVerifyRequest {
        verification_uuid: validate_id(&verification.verification_uuid, "verification id")?,
        verification_token: validate_otp_code(code)?,
        requested_scopes: requested(scopes),
    };
    finish(client, ApiRequest::post(path).json(&body)?, scopes).await
}
