//! Passkey registration (§5): an MFA passkey and an account passkey. The passkey step-up
//! (§3.6) is a verification: `verify/passkey.rs`.

use super::{passkey_error, wire, PasskeyConfirmation};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::verify::validate_id;
use stepup_protocol::{
    MfaPasskeyRegistration, PasskeyRegistrationOptions, TokenScope, VerifyResponse,
};

/// A passkey registered by [`StepUpClient::register_passkey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredPasskey {
    /// The new MFA device's id (`None` for an account passkey, whose API returns none).
    pub device_id: Option<String>,
}

impl StepUpClient {
    /// Registers a new MFA passkey (`GET`/`POST users/mfa/register/passkey`, scope
    /// `credential:link`: the stored token is attached; without one the answer is
    /// [`StepUpError::StepUpRequired`], so step up for `credential:link` first).
    pub async fn register_passkey(
        &self,
        confirmation: PasskeyConfirmation,
    ) -> Result<RegisteredPasskey, StepUpError> {
        self.inner.require_session()?;
        let origin = wire::app_origin(self.inner.config.app_origin.as_deref())?;
        let req = ApiRequest::get("users/mfa/register/passkey").scoped(TokenScope::CredentialLink);
        let registration: MfaPasskeyRegistration = self.inner.send_json(req).await?;
        let device_id = validate_id(&registration.id, "MFA device id")?;
        let options = wire::creation_options(&registration.registration)?;
        let credential = confirmation.register(origin, options).await?;
        let body = wire::mfa_register_request(&device_id, &credential)?;
        let req = ApiRequest::post("users/mfa/register/passkey").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await.map_err(passkey_error)?;
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(RegisteredPasskey {
            device_id: Some(device_id),
        })
    }

    /// Registers an account passkey (the SDK's `registerPasskey`): `GET users/passkeys/register`
    /// without a token, the ceremony, then `POST users/passkeys/register` with the stored
    /// `credential:link` token (taken, and spent if single-use, as the SDK's
    /// `serverRegisterPasskey` does). The body's `clientDataJson` is spelled as the API wants.
    ///
    /// Without a stored token the server is asked first (`stepUp/check`): when it requires
    /// one the answer is [`StepUpError::StepUpRequired`] before any ceremony, so the
    /// authenticator never creates a credential that the `POST` would then refuse.
    pub async fn register_account_passkey(
        &self,
        confirmation: PasskeyConfirmation,
    ) -> Result<RegisteredPasskey, StepUpError> {
        self.inner.require_session()?;
        let origin = wire::app_origin(self.inner.config.app_origin.as_deref())?;
        self.require_link_before_ceremony().await?;
        let options: PasskeyRegistrationOptions = self
            .inner
            .send_json(ApiRequest::get("users/passkeys/register"))
            .await?;
        let options = wire::creation_options(&options)?;
        let kind = confirmation.authenticator.kind();
        let credential = confirmation.register(origin, options).await?;
        let body = wire::account_register_request(&credential, kind)?;
        let req = ApiRequest::post("users/passkeys/register")
            .scoped(TokenScope::CredentialLink)
            .json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await.map_err(passkey_error)?;
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(RegisteredPasskey { device_id: None })
    }

    /// Ok when a `credential:link` token is stored or the server says none is needed; the
    /// check's failure, or [`StepUpError::StepUpRequired`], otherwise.
    async fn require_link_before_ceremony(&self) -> Result<(), StepUpError> {
        let scope = TokenScope::CredentialLink;
        let outcome = self.check_step_up_outcome(scope.clone()).await;
        if let Some(e) = outcome.failure() {
            return Err(e.clone());
        }
        if outcome.check.is_required {
            return Err(StepUpError::StepUpRequired { scope });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passkey::{entered_pin, DevicePasskey, MemoryPasskeyStore, PasskeyStateStore};
    use crate::test_server::{user_json, verify_response, Reply, TestServer, ENV, NOW_MS};
    use crate::vault::{ElevatedToken, MemoryVault, SessionRecord, TokenVault};
    use crate::Config;
    use serde_json::json;
    use std::sync::Arc;
    use stepup_protocol::{ManualClock, Secret};

    /// Creation options as Dynamic sends them for `users/passkeys/register`.
    fn options() -> serde_json::Value {
        json!({
            "challenge": "Y2hhbGxlbmdlLW9mLXRoZS10ZXN0LXNlcnZlcg",
            "rp": {"id": "app.stepup.example", "name": "Test"},
            "user": {"id": "dXNlci0x", "name": "a@example.com", "displayName": "a@example.com"},
            "pubKeyCredParams": [{"alg": -7, "type": "public-key"}],
            "timeout": 60000,
            "attestation": "none",
            "authenticatorSelection": {"residentKey": "discouraged", "requireResidentKey": false, "userVerification": "required"},
            "excludeCredentials": []
        })
    }

    async fn signed_in_client(server: &TestServer, link: bool) -> StepUpClient {
        let vault = Arc::new(MemoryVault::new());
        let session = SessionRecord {
            token: "session-1".into(),
            legacy_token: None,
            expires_at: 1_700_086_400,
            user: serde_json::from_value(user_json("s1")).unwrap(),
            session_key: None,
        };
        vault.put_session(&session).unwrap();
        if link {
            vault
                .put_token(&ElevatedToken {
                    token: "link-token".into(),
                    scopes: vec![TokenScope::CredentialLink],
                    expires_at_ms: NOW_MS + 300_000,
                    single_use: true,
                })
                .unwrap();
        }
        let config = Config::new(ENV)
            .unwrap()
            .with_api_base_url(server.base_url.clone())
            .with_app_origin("https://app.stepup.example");
        StepUpClient::builder(config)
            .vault(vault)
            .clock(Arc::new(ManualClock::at_millis(NOW_MS)))
            .build()
            .await
            .unwrap()
    }

    fn device() -> PasskeyConfirmation {
        let store: Arc<dyn PasskeyStateStore> = Arc::new(MemoryPasskeyStore::new());
        PasskeyConfirmation::new(
            Arc::new(DevicePasskey::new(store)),
            entered_pin(Secret::new("correct horse".to_owned())),
        )
    }

    #[tokio::test]
    async fn an_account_passkey_sends_credential_link_on_the_post_and_none_on_the_get() {
        let server = TestServer::start(ENV, |r| match (r.method.as_str(), r.path.as_str()) {
            ("GET", "users/passkeys/register") => Reply::json(200, options()),
            ("POST", "users/passkeys/register") => {
                Reply::json(200, verify_response(Some("session-2"), None))
            }
            _ => Reply::json(404, json!({"error": "unexpected"})),
        })
        .await;
        let client = signed_in_client(&server, true).await;
        client.register_account_passkey(device()).await.unwrap();
        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            [
                "GET users/passkeys/register",
                "POST users/passkeys/register"
            ]
        );
        assert_eq!(reqs[0].header("x-dyn-elevated-access-token"), None);
        assert_eq!(
            reqs[1].header("x-dyn-elevated-access-token"),
            Some("link-token")
        );
        let body = reqs[1].json();
        assert!(body["response"]["clientDataJson"].is_string(), "{body}");
        assert!(body["response"]["attestationObject"].is_string(), "{body}");
        assert!(
            !client.has_elevated_access_token(&TokenScope::CredentialLink),
            "single use: taken by the POST"
        );
    }

    #[tokio::test]
    async fn without_a_token_the_server_is_asked_and_no_ceremony_or_post_follows() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "stepUp/check" => Reply::json(200, json!({"isRequired": true, "credentials": []})),
            _ => Reply::json(200, options()),
        })
        .await;
        let client = signed_in_client(&server, false).await;
        let err = client.register_account_passkey(device()).await.unwrap_err();
        assert_eq!(
            err,
            StepUpError::StepUpRequired {
                scope: TokenScope::CredentialLink
            }
        );
        assert_eq!(server.paths(), ["POST stepUp/check"]);
    }

    #[tokio::test]
    async fn a_server_that_needs_no_token_gets_the_post_without_one() {
        let server = TestServer::start(ENV, |r| match (r.method.as_str(), r.path.as_str()) {
            ("POST", "stepUp/check") => {
                Reply::json(200, json!({"isRequired": false, "credentials": []}))
            }
            ("GET", _) => Reply::json(200, options()),
            _ => Reply::json(200, verify_response(Some("session-2"), None)),
        })
        .await;
        let client = signed_in_client(&server, false).await;
        client.register_account_passkey(device()).await.unwrap();
        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            [
                "POST stepUp/check",
                "GET users/passkeys/register",
                "POST users/passkeys/register"
            ]
        );
        assert!(reqs
            .iter()
            .all(|r| r.header("x-dyn-elevated-access-token").is_none()));
    }
}
