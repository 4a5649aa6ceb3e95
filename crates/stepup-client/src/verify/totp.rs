//! [`Verification::Totp`](super::Verification::Totp): a code from an authenticator app
//! (`POST users/mfa/auth/totp`).

use super::{finish, requested, validate_id, validate_otp_code, VerifyOutcome};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use stepup_protocol::{Secret, TokenScope, TotpAuthRequest};

/// Verifies `code` of the TOTP device `device_id` (the default device when `None`).
pub(super) async fn verify(
    client: &StepUpClient,
    device_id: Option<&str>,
    code: &Secret,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let body = TotpAuthRequest {
        id: device_id
            .map(|id| validate_id(id, "MFA device id"))
            .transpose()?,
        code: validate_otp_code(code)?,
        create_mfa_token: None,
        requested_scopes: requested(scopes),
    };
    let req = ApiRequest::post("users/mfa/auth/totp").json(&body)?;
    finish(client, req, scopes).await
}
