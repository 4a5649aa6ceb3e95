//! The MFA attempt limit: 5 wrong TOTP codes, recovery codes or passkey assertions in
//! 15 minutes lock MFA (429 `mfa_rate_limited`) until the oldest leaves the window. The
//! failures are persisted with the user, so a restart does not reset the count.

use axum::http::StatusCode;
use stepup_protocol::codes;

use super::Authority;
use crate::error::ApiError;

/// Wrong MFA codes are counted over this window...
const MFA_WINDOW_MS: i64 = 15 * 60 * 1000;
/// ...and this many lock MFA until the oldest leaves the window.
const MFA_MAX_FAILURES: usize = 5;

impl Authority {
    /// Refuses while the user has too many recent wrong MFA codes.
    pub(super) fn mfa_guard(&mut self, user_id: &str) -> Result<(), ApiError> {
        let now = self.now_ms();
        let user = self.user_mut(user_id)?;
        user.mfa_failures_ms.retain(|t| now - *t < MFA_WINDOW_MS);
        if user.mfa_failures_ms.len() >= MFA_MAX_FAILURES {
            let oldest = user.mfa_failures_ms.iter().min().copied().unwrap_or(now);
            let retry = (oldest + MFA_WINDOW_MS - now).div_euclid(1000) + 1;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                codes::MFA_RATE_LIMITED,
                format!("too many wrong MFA codes: try again in {retry} s"),
            )
            .with_payload(serde_json::json!({ "retryAfterSecs": retry })));
        }
        Ok(())
    }

    /// Records a failed MFA attempt and returns the 422 to send, with `code` and `message`
    /// (or the 500 of a state that could not be saved).
    pub(super) fn mfa_failed(&mut self, user_id: &str, code: &str, message: &str) -> ApiError {
        let now = self.now_ms();
        if let Ok(user) = self.user_mut(user_id) {
            user.mfa_failures_ms.push(now);
        }
        if let Err(e) = self.persist() {
            return e;
        }
        ApiError::unprocessable(code, message.to_owned())
    }

    /// A wrong TOTP or recovery code, with the attempts left before the limit
    /// (`payload.remainingAttempts`, the key Dynamic uses for email and SMS codes; a sandbox
    /// extension for MFA codes, which the client shows when a server sends it).
    pub(super) fn wrong_mfa_code(&mut self, user_id: &str) -> ApiError {
        let error = self.mfa_failed(user_id, codes::MFA_INVALID_CODE, "invalid code");
        let now = self.now_ms();
        let used = self.user(user_id).map_or(MFA_MAX_FAILURES, |u| {
            u.mfa_failures_ms
                .iter()
                .filter(|t| now - **t < MFA_WINDOW_MS)
                .count()
        });
        if error.body.code.as_deref() != Some(codes::MFA_INVALID_CODE) {
            return error; // the state could not be saved: that 500 stands
        }
        error.with_payload(serde_json::json!({
            "remainingAttempts": MFA_MAX_FAILURES.saturating_sub(used)
        }))
    }
}
