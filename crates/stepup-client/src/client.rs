//! [`StepUpClient`]: the handle every task shares, and the one path every request takes
//! (session bearer, device signature, elevated token, error mapping).

use crate::config::Config;
use crate::device::{sign_nonce, DeviceHeaders, DeviceSigner, NONCE_BATCH};
use crate::error::StepUpError;
use crate::http::{parse_body, Api, ApiRequest, Credentials};
use crate::store::TokenStore;
use crate::tokens::TokenStatus;
use crate::vault::{MemoryVault, SessionRecord, TokenVault};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use stepup_protocol::headers::is_device_signed;
use stepup_protocol::{Clock, NoncesResponse, SdkUser, SystemClock, TokenScope};

/// The step-up client. Cheap to clone: clones share one session, token store and HTTP pool,
/// so many tasks can use it at once.
#[derive(Clone)]
pub struct StepUpClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) api: Api,
    pub(crate) store: TokenStore,
    pub(crate) device: DeviceSigner,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StepUpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpClient")
            .field("environment_id", &self.inner.config.environment_id)
            .field("api_base_url", &self.inner.config.api_base_url.as_str())
            .field("signed_in", &self.inner.store.session().is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`StepUpClient`]: `StepUpClient::builder(config).vault(v).clock(c).build().await`.
pub struct StepUpClientBuilder {
    config: Config,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for StepUpClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpClientBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl StepUpClientBuilder {
    /// Where the session and tokens are kept ([`MemoryVault`] when not set).
    pub fn vault(mut self, vault: Arc<dyn TokenVault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The wall clock token expiry is judged by ([`SystemClock`] when not set).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Validates the configuration and loads the vault. A locked keychain is an error here,
    /// never a silently empty client.
    pub async fn build(self) -> Result<StepUpClient, StepUpError> {
        self.config.validate()?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let vault = self.vault.unwrap_or_else(|| Arc::new(MemoryVault::new()));
        let store = TokenStore::new(vault, self.config.vault_timeout);
        store.load(clock.now_millis()).await?;
        let api = Api::new(self.config.clone())?;
        let inner = Inner {
            config: self.config,
            api,
            store,
            device: DeviceSigner::default(),
            clock,
        };
        Ok(StepUpClient {
            inner: Arc::new(inner),
        })
    }
}

impl StepUpClient {
    /// A client for `config` over `vault`, with the system clock; loads the vault.
    pub async fn new(config: Config, vault: Arc<dyn TokenVault>) -> Result<Self, StepUpError> {
        Self::builder(config).vault(vault).build().await
    }

    /// A builder, for a custom clock or vault.
    pub fn builder(config: Config) -> StepUpClientBuilder {
        StepUpClientBuilder {
            config,
            vault: None,
            clock: None,
        }
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The signed-in user, from the local session (no network).
    pub fn current_user(&self) -> Option<SdkUser> {
        self.inner.live_session().map(|s| s.user)
    }

    /// True when a user is signed in locally.
    pub fn is_signed_in(&self) -> bool {
        self.inner.live_session().is_some()
    }

    /// The unexpired elevated tokens, without their secrets.
    pub fn elevated_tokens(&self) -> Vec<TokenStatus> {
        self.inner.store.token_statuses(self.inner.now_ms())
    }
}

impl Inner {
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    /// The session, unless it has expired (the SDK logs out at `sessionExpiresAt`).
    pub(crate) fn live_session(&self) -> Option<SessionRecord> {
        self.store
            .session()
            .filter(|s| s.expires_at.saturating_mul(1000) > self.now_ms())
    }

    /// Fails with [`StepUpError::NotSignedIn`] when there is no unexpired session.
    pub(crate) fn require_session(&self) -> Result<(), StepUpError> {
        if self.live_session().is_some() {
            Ok(())
        } else {
            Err(StepUpError::NotSignedIn)
        }
    }

    /// A signed nonce for one device-signed request; refills the pool when it is empty.
    async fn device_headers(&self) -> Result<DeviceHeaders, StepUpError> {
        let key = self.device.key(&self.store).await?;
        if let Some(nonce) = self.device.take_nonce(self.now_ms()) {
            return Ok(sign_nonce(&key, &nonce));
        }
        let _refilling = self.device.refill_lock.lock().await;
        // Another task may have refilled while this one waited.
        if let Some(nonce) = self.device.take_nonce(self.now_ms()) {
            return Ok(sign_nonce(&key, &nonce));
        }
        let req = ApiRequest::get("nonces").query("count", NONCE_BATCH.to_string());
        let body = self.api.execute(&req, &self.base_credentials()).await?;
        let fetched: NoncesResponse = parse_body(&body)?;
        self.device.refill(fetched.nonces, self.now_ms());
        match self.device.take_nonce(self.now_ms()) {
            Some(nonce) => Ok(sign_nonce(&key, &nonce)),
            None => Err(StepUpError::InvalidResponse(
                "the server sent no usable nonce".into(),
            )),
        }
    }

    fn base_credentials(&self) -> Credentials {
        Credentials {
            bearer: self.live_session().map(|s| s.token),
            ..Credentials::default()
        }
    }

    /// Sends one request: the session bearer when signed in, device headers on the paths the
    /// SDK signs, and, for a scoped request, the elevated token of its scope, taken (consumed
    /// if single-use) **before** sending, as the SDK does (§10.2).
    pub(crate) async fn send(&self, req: ApiRequest) -> Result<Vec<u8>, StepUpError> {
        let mut creds = self.base_credentials();
        if is_device_signed(&req.path) {
            creds.device = Some(self.device_headers().await?);
        }
        if let Some(scope) = &req.scope {
            creds.elevated = self.store.take(scope, self.now_ms()).await.map(|t| t.token);
        }
        self.api.execute(&req, &creds).await
    }

    /// [`Inner::send`] and parse the JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        req: ApiRequest,
    ) -> Result<T, StepUpError> {
        parse_body(&self.send(req).await?)
    }

    /// Whether a token for `scope` is stored (local only).
    pub(crate) fn has_token(&self, scope: &TokenScope) -> bool {
        self.store.peek(scope, self.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{Recorded, Reply, TestServer};
    use crate::tokens::test_tokens::make;
    use crate::verify::{OtpChannel, OtpVerification, Verification};
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use stepup_protocol::{ManualClock, Secret, StepUpCheck};

    const ENV: &str = "env-test";
    const NOW_MS: i64 = 1_700_000_000_000;
    const EXP: i64 = 1_700_000_300;

    fn user_json(session: &str) -> serde_json::Value {
        json!({"id": "user-1", "email": "a@example.com", "sessionId": session, "verifiedCredentials": []})
    }

    fn verify_response(minified: Option<&str>, elevated: Option<Secret>) -> serde_json::Value {
        let mut v =
            json!({"user": user_json("s2"), "expiresAt": 1_700_086_400, "jwt": "full-jwt-2"});
        if let Some(m) = minified {
            v["minifiedJwt"] = json!(m);
        }
        if let Some(e) = elevated {
            v["elevatedAccessToken"] = json!(e.expose());
        }
        v
    }

    fn nonces() -> Reply {
        Reply::json(200, json!({"nonces": ["n1", "n2", "n3", "n4", "n5"]}))
    }

    async fn client(server: &TestServer, signed_in: bool) -> (StepUpClient, Arc<MemoryVault>) {
        let vault = Arc::new(MemoryVault::new());
        if signed_in {
            let user = serde_json::from_value(user_json("s1")).unwrap();
            let session = SessionRecord {
                token: "session-1".into(),
                legacy_token: None,
                expires_at: 1_700_086_400,
                user,
            };
            vault.put_session(&session).unwrap();
        }
        let config = Config::new(ENV)
            .unwrap()
            .with_api_base_url(server.base_url.clone());
        let client = StepUpClient::builder(config)
            .vault(vault.clone())
            .clock(Arc::new(ManualClock::at_millis(NOW_MS)))
            .build()
            .await
            .unwrap();
        (client, vault)
    }

    fn otp(email: bool) -> OtpVerification {
        let channel = if email {
            OtpChannel::Email("a@example.com".into())
        } else {
            OtpChannel::Sms(crate::PhoneNumber {
                country_code: "1".into(),
                iso_country_code: "US".into(),
                number: "5555550100".into(),
            })
        };
        OtpVerification {
            verification_uuid: "0b5c3a1e-7a51-4c8e-9a51-0c1f1d2e3f40".into(),
            channel,
        }
    }

    fn assert_device_signed(r: &Recorded) {
        let nonce = r.header("x-dynamic-device-nonce").expect("nonce header");
        let key = hex::decode(r.header("x-dynamic-device-publickey").unwrap()).unwrap();
        let sig = hex::decode(r.header("x-dynamic-device-signed-nonce").unwrap()).unwrap();
        let vk = VerifyingKey::from_sec1_bytes(&key).unwrap();
        assert!(vk
            .verify(nonce.as_bytes(), &Signature::from_slice(&sig).unwrap())
            .is_ok());
    }

    #[tokio::test]
    async fn email_sign_in_signs_a_device_nonce_and_starts_a_session() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "nonces" => nonces(),
            "emailVerifications/create" => Reply::json(
                200,
                json!({"verificationUUID": "v-1", "email": "a@example.com"}),
            ),
            "emailVerifications/signin" => {
                Reply::json(200, verify_response(Some("session-2"), None))
            }
            "users/mfa" => Reply::json(200, json!({"count": 0, "devices": []})),
            _ => Reply::raw(404, ""),
        })
        .await;
        let (client, vault) = client(&server, false).await;
        let sent = client.send_email_otp(" a@example.com ").await.unwrap();
        assert_eq!(sent.channel, OtpChannel::Email("a@example.com".into()));
        let user = client
            .sign_in_with_email_otp(&sent, " 123456 ".into())
            .await
            .unwrap();
        assert_eq!(user.id, "user-1");
        assert_eq!(client.current_user().map(|u| u.id), Some("user-1".into()));
        client.mfa_devices().await.unwrap();

        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            [
                "POST emailVerifications/create",
                "GET nonces",
                "POST emailVerifications/signin",
                "GET users/mfa"
            ]
        );
        assert_eq!(reqs[0].json(), json!({"email": "a@example.com"}));
        assert_eq!(reqs[0].header("authorization"), None);
        assert_eq!(reqs[1].query, "count=5");
        assert_eq!(
            reqs[2].json(),
            json!({"verificationUUID": "v-1", "verificationToken": "123456"})
        );
        assert_device_signed(&reqs[2]);
        assert_eq!(reqs[2].header("x-dynamic-device-nonce"), Some("n1"));
        assert_eq!(
            reqs[0].header("x-dynamic-device-nonce"),
            None,
            "create is not device-signed"
        );
        assert_eq!(reqs[3].header("authorization"), Some("Bearer session-2"));
        let stored = vault.load().unwrap();
        assert_eq!(
            stored.session.map(|s| s.token.expose().to_owned()),
            Some("session-2".into())
        );
        assert!(stored.device_key.is_some());
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

    #[tokio::test]
    async fn a_verify_answer_without_minified_jwt_keeps_the_session_token() {
        let server =
            TestServer::start(ENV, |_| Reply::json(200, verify_response(None, None))).await;
        let (client, _) = client(&server, true).await;
        client
            .verify(
                Verification::Totp {
                    device_id: None,
                    code: "123456".into(),
                },
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            client.inner.store.session().unwrap().token.expose(),
            "session-1"
        );
        let req = &server.requests()[0];
        assert_eq!(req.path, "users/mfa/auth/totp");
        assert_eq!(
            req.json(),
            json!({"code": "123456"}),
            "requestedScopes is left out when empty"
        );
    }

    #[tokio::test]
    async fn a_malformed_or_missing_token_is_an_error_but_the_session_still_rotates() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let server = TestServer::start(ENV, move |_| {
            let elevated = match c.fetch_add(1, Ordering::SeqCst) {
                0 => Some(Secret::new("not.a.jwt")),
                1 => None,
                2 => Some(make("wallet:sign", EXP, None)),
                _ => Some(make("wallet:export", 1_600_000_000, None)),
            };
            Reply::json(200, verify_response(Some("session-2"), elevated))
        })
        .await;
        let (client, _) = client(&server, true).await;
        for _ in 0..4 {
            let v = Verification::RecoveryCode {
                code: "ABCD-EFGH".into(),
            };
            assert_eq!(
                client.verify(v, &[TokenScope::WalletExport]).await,
                Err(StepUpError::InvalidElevatedToken)
            );
        }
        assert_eq!(
            client.inner.store.session().unwrap().token.expose(),
            "session-2"
        );
        assert!(
            client.elevated_tokens().is_empty(),
            "no unusable or foreign-scope token is stored"
        );
    }

    #[tokio::test]
    async fn check_fails_closed_on_every_kind_of_failure() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let server = TestServer::start(ENV, move |_| match c.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::raw(200, "<html>garbage"),
            1 => Reply::json(200, json!({"isRequired": false})),
            2 => Reply::json(500, json!({"error": "down"})),
            3 => Reply::raw(401, ""),
            _ => Reply::json(200, json!({"isRequired": false, "credentials": []})),
        })
        .await;
        let (client, _) = client(&server, true).await;
        for _ in 0..4 {
            assert_eq!(
                client.check_step_up(TokenScope::WalletExport).await,
                StepUpCheck::required()
            );
        }
        assert!(
            !client
                .check_step_up(TokenScope::WalletExport)
                .await
                .is_required
        );
        let req = &server.requests()[0];
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "stepUp/check")
        );
        assert_eq!(req.json(), json!({"scope": "wallet:export"}));
        assert_eq!(req.header("x-dyn-elevated-access-token"), None);

        let (signed_out, _) = super::tests::client(&server, false).await;
        let before = server.requests().len();
        assert_eq!(
            signed_out.check_step_up(TokenScope::WalletExport).await,
            StepUpCheck::required()
        );
        assert_eq!(
            server.requests().len(),
            before,
            "no request without a session"
        );
    }

    #[tokio::test]
    async fn check_fails_closed_when_the_server_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base =
            url::Url::parse(&format!("http://{}/api/v0", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let server = TestServer {
            base_url: base,
            requests: Default::default(),
        };
        let (client, vault) = client(&server, true).await;
        assert_eq!(
            client.check_step_up(TokenScope::WalletExport).await,
            StepUpCheck::required()
        );
        assert!(matches!(
            client.mfa_devices().await,
            Err(StepUpError::Network(_))
        ));
        // Logout still forgets everything locally.
        client.logout().await.unwrap();
        assert!(client.current_user().is_none());
        assert_eq!(vault.load().unwrap(), crate::VaultSnapshot::default());
    }

    #[tokio::test]
    async fn a_single_use_token_is_attached_once_then_the_call_needs_step_up() {
        let server = TestServer::start(ENV, |r| match r.header("x-dyn-elevated-access-token") {
            Some(_) => Reply::json(200, json!({"exportId": "e", "address": "0xabc", "privateKey": "0xkey"})),
            None => Reply::json(403, json!({"error": "step up", "code": "step_up_required", "payload": {"scope": "wallet:export"}})),
        })
        .await;
        let (client, _) = client(&server, true).await;
        let token = make("wallet:export", EXP, Some(true));
        client
            .inner
            .store_elevated_token(&token, &[TokenScope::WalletExport])
            .await
            .unwrap();
        let exported = client.export_wallet_private_key("wallet-1").await.unwrap();
        assert_eq!(exported.private_key.expose(), "0xkey");
        assert!(!format!("{exported:?}").contains("0xkey"));
        assert_eq!(
            client
                .export_wallet_private_key("wallet-1")
                .await
                .unwrap_err(),
            StepUpError::StepUpRequired {
                scope: TokenScope::WalletExport
            }
        );
        let reqs = server.requests();
        assert_eq!(reqs[0].path, "waas/wallet-1/privateKey/export");
        assert_eq!(
            reqs[0].header("x-dyn-elevated-access-token"),
            Some(token.expose())
        );
        assert_eq!(reqs[0].json()["exportId"].as_str().map(str::len), Some(36));
        assert_eq!(reqs[1].header("x-dyn-elevated-access-token"), None);
        assert!(matches!(
            client.export_wallet_private_key("../users").await,
            Err(StepUpError::InvalidInput(_))
        ));
        assert_eq!(server.requests().len(), 2, "invalid input sends nothing");
    }

    #[tokio::test]
    async fn retry_after_step_up_verifies_once_and_retries_once() {
        let token = make("credential:unlink", EXP, None);
        let reply = verify_response(Some("session-2"), Some(token));
        let server = TestServer::start(ENV, move |r| {
            match (r.path.as_str(), r.header("x-dyn-elevated-access-token")) {
                ("users/mfa/auth/totp", _) => Reply::json(200, reply.clone()),
                ("users/mfa/dev-1", Some(_)) => Reply::raw(204, ""),
                _ => Reply {
                    status: 401,
                    headers: vec![(
                        "www-authenticate".into(),
                        r#"Bearer error="insufficient_user_authentication""#.into(),
                    )],
                    body: String::new(),
                },
            }
        })
        .await;
        let (client, _) = client(&server, true).await;
        let verifies = AtomicUsize::new(0);
        let result = client
            .retry_after_step_up(
                || client.delete_mfa_device("dev-1"),
                |scope| {
                    verifies.fetch_add(1, Ordering::SeqCst);
                    let client = client.clone();
                    async move {
                        assert_eq!(scope, TokenScope::CredentialUnlink);
                        let v = Verification::Totp {
                            device_id: Some("dev-9".into()),
                            code: "654321".into(),
                        };
                        client.verify(v, &[scope]).await.map(drop)
                    }
                },
            )
            .await;
        assert_eq!(result, Ok(()));
        assert_eq!(verifies.load(Ordering::SeqCst), 1);
        assert_eq!(
            server.paths(),
            [
                "DELETE users/mfa/dev-1",
                "POST users/mfa/auth/totp",
                "DELETE users/mfa/dev-1"
            ]
        );
        let reqs = server.requests();
        assert_eq!(
            reqs[1].json(),
            json!({"id": "dev-9", "code": "654321", "requestedScopes": ["credential:unlink"]})
        );
        assert_eq!(reqs[2].header("x-mfa-auth-token"), Some(""));
        assert_eq!(reqs[2].header("authorization"), Some("Bearer session-2"));

        // A second rejection after the retry is returned, not looped on.
        let again = client
            .retry_after_step_up(|| client.register_totp_device(), |_| async { Ok(()) })
            .await;
        assert_eq!(
            again.unwrap_err(),
            StepUpError::StepUpRequired {
                scope: TokenScope::CredentialLink
            }
        );
    }

    #[tokio::test]
    async fn server_error_codes_surface_as_variants_and_bad_input_sends_nothing() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "users/mfa/auth/totp" => Reply::json(422, json!({"error": "bad", "code": "mfa_invalid_code"})),
            "smsVerifications/verify" => Reply::json(422, json!({"error": "bad", "code": "wrong_sms_verification_token", "payload": {"remainingAttempts": 2}})),
            "nonces" => nonces(),
            _ => Reply::raw(200, &"x".repeat(crate::http::MAX_RESPONSE_BYTES + 1)),
        })
        .await;
        let (client, _) = client(&server, true).await;
        let totp = Verification::Totp {
            device_id: None,
            code: "111111".into(),
        };
        assert_eq!(
            client.verify(totp, &[TokenScope::WalletSign]).await,
            Err(StepUpError::InvalidOtp)
        );
        let sms = Verification::SmsOtp {
            verification: otp(false),
            code: "111111".into(),
        };
        assert_eq!(
            client.verify(sms, &[]).await,
            Err(StepUpError::WrongCode {
                remaining_attempts: Some(2)
            })
        );
        assert!(
            matches!(
                client.mfa_devices().await,
                Err(StepUpError::InvalidResponse(_))
            ),
            "oversized answers are refused"
        );

        let before = server.requests().len();
        for bad in [
            Verification::Totp {
                device_id: None,
                code: "12345".into(),
            },
            Verification::EmailOtp {
                verification: otp(false),
                code: "123456".into(),
            },
            Verification::RecoveryCode { code: "   ".into() },
            Verification::ExternalJwt { jwt: "nope".into() },
        ] {
            assert!(matches!(
                client.verify(bad, &[]).await,
                Err(StepUpError::InvalidInput(_))
            ));
        }
        assert_eq!(server.requests().len(), before);
        let (signed_out, _) = super::tests::client(&server, false).await;
        let v = Verification::Totp {
            device_id: None,
            code: "123456".into(),
        };
        assert_eq!(
            signed_out.verify(v, &[]).await,
            Err(StepUpError::NotSignedIn)
        );
    }

    #[tokio::test]
    async fn external_auth_stores_the_token_without_rotating_the_session() {
        let token = make("wallet:sign", EXP, None);
        let reply = json!({"elevatedAccessToken": token.expose()});
        let server = TestServer::start(ENV, move |_| Reply::json(200, reply.clone())).await;
        let (client, _) = client(&server, true).await;
        let assertion = Secret::new("aaa.bbb.ccc");
        let outcome = client
            .verify(
                Verification::ExternalJwt { jwt: assertion },
                &[TokenScope::WalletSign],
            )
            .await
            .unwrap();
        assert_eq!(outcome.user, None);
        assert!(client.has_elevated_access_token(&TokenScope::WalletSign));
        assert_eq!(
            client.inner.store.session().unwrap().token.expose(),
            "session-1"
        );
        let req = &server.requests()[0];
        assert_eq!(
            (req.path.as_str(), req.json()),
            ("externalAuth/verify", json!({"jwt": "aaa.bbb.ccc"}))
        );
    }

    #[tokio::test]
    async fn concurrent_device_signed_calls_use_distinct_nonces() {
        let batch = Arc::new(AtomicUsize::new(0));
        let server = TestServer::start(ENV, move |r| match r.path.as_str() {
            "nonces" => {
                let b = batch.fetch_add(1, Ordering::SeqCst);
                Reply::json(
                    200,
                    json!({"nonces": (0..5).map(|i| format!("b{b}-n{i}")).collect::<Vec<_>>()}),
                )
            }
            _ => Reply::json(200, verify_response(Some("session-2"), None)),
        })
        .await;
        let (client, _) = client(&server, true).await;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.refresh().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let reqs = server.requests();
        let mut used: Vec<_> = reqs
            .iter()
            .filter_map(|r| r.header("x-dynamic-device-nonce"))
            .collect();
        let total = used.len();
        used.sort_unstable();
        used.dedup();
        assert_eq!((total, used.len()), (8, 8), "a nonce is never reused");
        assert_eq!(
            reqs.iter().filter(|r| r.path == "nonces").count(),
            2,
            "5 per refill"
        );
    }

    #[tokio::test]
    async fn an_expired_session_is_not_used() {
        let server = TestServer::start(ENV, |_| {
            Reply::json(200, json!({"count": 0, "devices": []}))
        })
        .await;
        let (_, vault) = client(&server, true).await;
        let clock = ManualClock::at_millis(NOW_MS);
        let config = Config::new(ENV)
            .unwrap()
            .with_api_base_url(server.base_url.clone());
        let client = StepUpClient::builder(config)
            .vault(vault)
            .clock(Arc::new(clock.clone()))
            .build()
            .await
            .unwrap();
        assert!(client.is_signed_in());
        clock.advance_secs(86_400);
        assert!(!client.is_signed_in() && client.current_user().is_none());
        assert_eq!(client.mfa_devices().await, Err(StepUpError::NotSignedIn));
        assert!(server.requests().is_empty());
    }

    #[test]
    fn client_debug_shows_no_secret() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let server = TestServer {
                base_url: url::Url::parse("http://127.0.0.1:1/api/v0").unwrap(),
                requests: Default::default(),
            };
            let (client, _) = client(&server, true).await;
            let dbg = format!("{client:?}");
            assert!(dbg.contains("signed_in: true") && !dbg.contains("session-1"));
        });
    }
}
