//! [`Verification::RecoveryCode`](super::Verification::RecoveryCode): one of the user's
//! recovery codes (`POST users/mfa/auth/recovery`).

use super::{finish, requested, VerifyOutcome};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use stepup_protocol::{RecoveryAuthRequest, Secret, TokenScope};

/// The longest recovery code accepted.
const MAX_CODE_LEN: usize = 64;

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

/// Verifies one recovery `code`.
pub(super) async fn verify(
    client: &StepUpClient,
    code: &Secret,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let body = RecoveryAuthRequest {
        code: validate_recovery_code(code)?,
        create_mfa_token: None,
        requested_scopes: requested(scopes),
    };
    let req = ApiRequest::post("users/mfa/auth/recovery").json(&body)?;
    finish(client, req, scopes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_trimmed_printable_and_bounded() {
        assert!(validate_recovery_code(&Secret::new(" ABCD-1234 ")).is_ok());
        assert!(validate_recovery_code(&Secret::new("x".repeat(65))).is_err());
        assert!(validate_recovery_code(&Secret::new("a\u{7}b")).is_err());
    }
}
