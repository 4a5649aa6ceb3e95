//! [`Verification::EmailOtp`](super::Verification::EmailOtp): send a code to an address
//! (`POST emailVerifications/create`, also the first step of sign-in), then verify it
//! (`POST emailVerifications/verify`).

use super::otp::{verify_code, OtpChannel, OtpVerification};
use super::VerifyOutcome;
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use stepup_protocol::{
    EmailVerificationCreateRequest, EmailVerificationCreateResponse, Secret, TokenScope,
};

/// The longest email address accepted (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;

/// A trimmed address with one `@` between a non-empty local part and domain.
fn validate_email(email: &str) -> Result<String, StepUpError> {
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

/// Where the code is checked.
const VERIFY: &str = "emailVerifications/verify";

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
}

/// Verifies the emailed `code` of `verification`.
pub(super) async fn verify(
    client: &StepUpClient,
    verification: &OtpVerification,
    code: &Secret,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let sent_here = matches!(verification.channel, OtpChannel::Email(_));
    verify_code(client, VERIFY, verification, sent_here, code, scopes).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{
        assert_device_signed, client, nonces, otp, verify_response, Reply, TestServer, ENV, EXP,
    };
    use crate::tokens::test_tokens::make;
    use crate::vault::TokenVault;
    use crate::verify::Verification;
    use serde_json::json;
    use stepup_protocol::TokenScope;

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

    #[tokio::test]
    async fn email_step_up_rotates_the_session_and_then_checks_locally() {
        let token = make("wallet:export", EXP, Some(true));
        let reply = verify_response(Some("session-2"), Some(token));
        let server = TestServer::start(ENV, move |r| match r.path.as_str() {
            "nonces" => nonces(),
            "emailVerifications/verify" => Reply::json(200, reply.clone()),
            _ => Reply::raw(500, ""),
        })
        .await;
        let (client, vault) = client(&server, true).await;
        let v = Verification::EmailOtp {
            verification: otp(true),
            code: "123456".into(),
        };
        let outcome = client.verify(v, &[TokenScope::WalletExport]).await.unwrap();
        assert_eq!(outcome.user.and_then(|u| u.session_id), Some("s2".into()));
        let status = outcome.token.unwrap();
        assert_eq!(
            (status.scopes, status.expires_at_ms, status.single_use),
            (vec![TokenScope::WalletExport], EXP * 1000, true)
        );

        let verify_req = server
            .requests()
            .into_iter()
            .find(|r| r.path == "emailVerifications/verify")
            .unwrap();
        assert_eq!(verify_req.header("authorization"), Some("Bearer session-1"));
        assert_eq!(
            verify_req.json()["requestedScopes"],
            json!(["wallet:export"])
        );
        assert_device_signed(&verify_req);
        assert_eq!(
            vault.load().unwrap().session.unwrap().token.expose(),
            "session-2"
        );
        assert_eq!(vault.load().unwrap().tokens.len(), 1);

        let before = server.requests().len();
        assert!(client.has_elevated_access_token(&TokenScope::WalletExport));
        assert!(
            !client
                .check_step_up(TokenScope::WalletExport)
                .await
                .is_required
        );
        assert!(
            client.has_elevated_access_token(&TokenScope::WalletExport),
            "peeking consumes nothing"
        );
        assert_eq!(
            server.requests().len(),
            before,
            "the fast path makes no request"
        );
    }
}
