//! The session: email-OTP sign-in, refresh, logout, and `apply_verify_response`, the one
//! place a `VerifyResponse` changes the client's state.

use crate::client::{Inner, StepUpClient};
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::tokens::{covers_all, parse_elevated_token, TokenStatus};
use crate::vault::SessionRecord;
use crate::verify::{validate_otp_code, OtpChannel, OtpVerification};
use stepup_protocol::{
    EmailVerificationCreateRequest, EmailVerificationCreateResponse, OtpSignInRequest, SdkUser,
    Secret, TokenScope, VerifyResponse,
};

/// The longest email address accepted (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

pub(crate) fn validate_email(email: &str) -> Result<String, StepUpError> {
    let email = email.trim();
    let ok = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if ok {
        Ok(email.to_owned())
    } else {
        Err(StepUpError::InvalidInput(
            "the email address is not valid".into(),
        ))
    }
}

impl Inner {
    /// Applies a `VerifyResponse` (C:`updateAuthFromVerifyResponse`): rotates the session, then
    /// stores the elevated token.
    ///
    /// - The session **rotates** to `minifiedJwt` / `jwt` / `expiresAt` / `user`. Deliberate
    ///   deviation from the SDK (§10.4): a response without `minifiedJwt` keeps the current
    ///   session token instead of nulling it (with no current session, `jwt` is used; with
    ///   neither, the response is invalid).
    /// - The elevated token is parsed (§3.8): malformed → [`StepUpError::InvalidElevatedToken`];
    ///   expired or scope-less → dropped. When `requested` is not empty and no stored token
    ///   covers all of it → [`StepUpError::InvalidElevatedToken`]. The session is rotated
    ///   before either error, because the server has already rotated it.
    pub(crate) async fn apply_verify_response(
        &self,
        resp: VerifyResponse,
        requested: &[TokenScope],
    ) -> Result<Option<TokenStatus>, StepUpError> {
        let current = self.store.session();
        let token = resp
            .minified_jwt
            .clone()
            .or_else(|| current.as_ref().map(|s| s.token.clone()))
            .or_else(|| resp.jwt.clone())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                StepUpError::InvalidResponse("the answer carries no session token".into())
            })?;
        let legacy_token = resp
            .jwt
            .clone()
            .or_else(|| current.and_then(|s| s.legacy_token));
        let session = SessionRecord {
            token,
            legacy_token,
            expires_at: resp.expires_at,
            user: resp.user,
        };
        let saved = self.store.save_session(session).await;
        let stored = match &resp.elevated_access_token {
            Some(raw) => self.store_elevated_token(raw, requested).await,
            None if requested.is_empty() => Ok(None),
            None => Err(StepUpError::InvalidElevatedToken),
        };
        saved?;
        stored
    }

    /// Parses and stores one elevated token; checks that it covers `requested`.
    pub(crate) async fn store_elevated_token(
        &self,
        raw: &Secret,
        requested: &[TokenScope],
    ) -> Result<Option<TokenStatus>, StepUpError> {
        match parse_elevated_token(raw, self.now_ms())? {
            Some(token) if covers_all(&token, requested) => {
                let status = TokenStatus::from(&token);
                self.store.upsert(token).await?;
                Ok(Some(status))
            }
            // A token for other scopes than asked is not stored: it is not what the user approved.
            Some(_) => Err(StepUpError::InvalidElevatedToken),
            None if requested.is_empty() => Ok(None),
            None => Err(StepUpError::InvalidElevatedToken),
        }
    }
}

impl StepUpClient {
    /// Sends a one-time code to `email` (`POST emailVerifications/create`), for sign-in or for
    /// a step-up. Keep the returned value for the verify call.
    pub async fn send_email_otp(&self, email: &str) -> Result<OtpVerification, StepUpError> {
        let email = validate_email(email)?;
        let body = EmailVerificationCreateRequest {
            email,
            captcha_token: None,
        };
        let req = ApiRequest::post("emailVerifications/create").json(&body)?;
        let resp: EmailVerificationCreateResponse = self.inner.send_json(req).await?;
        Ok(OtpVerification {
            verification_uuid: resp.verification_uuid,
            channel: OtpChannel::Email(resp.email),
        })
    }

    /// Signs in with the emailed code (`POST emailVerifications/signin`, device-signed).
    pub async fn sign_in_with_email_otp(
        &self,
        verification: &OtpVerification,
        code: Secret,
    ) -> Result<SdkUser, StepUpError> {
        if !matches!(verification.channel, OtpChannel::Email(_)) {
            return Err(StepUpError::InvalidInput(
                "this verification was not sent by email".into(),
            ));
        }
        let code = validate_otp_code(&code)?;
        let body = OtpSignInRequest {
            verification_uuid: verification.verification_uuid.clone(),
            verification_token: code,
            allow_new_mfa_linking: None,
        };
        let req = ApiRequest::post("emailVerifications/signin").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await?;
        let user = resp.user.clone();
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(user)
    }

    /// Renews the session (`POST refresh`, no body, device-signed).
    pub async fn refresh(&self) -> Result<SdkUser, StepUpError> {
        self.inner.require_session()?;
        let resp: VerifyResponse = self.inner.send_json(ApiRequest::post("refresh")).await?;
        let user = resp.user.clone();
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(user)
    }

    /// Signs out: revokes the session on the server (best effort), then forgets the session,
    /// every elevated token and the device key, locally and in the vault, even when the
    /// network fails. Only a vault failure is returned.
    pub async fn logout(&self) -> Result<(), StepUpError> {
        if self.inner.store.session().is_some() {
            if let Err(e) = self.inner.send(ApiRequest::post("revoke")).await {
                tracing::info!(
                    error_code = e.code(),
                    "session revoke failed; signing out locally anyway"
                );
            }
        }
        self.inner.device.reset().await;
        self.inner.store.clear().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(validate_email("  a@b.example ").unwrap(), "a@b.example");
        for bad in [
            "",
            "ab",
            "@b",
            "a@",
            "a b@c",
            "a@\nb",
            &format!("{}@b", "a".repeat(260)),
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
