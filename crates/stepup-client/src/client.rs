//! [`StepUpClient`]: the handle every task shares, and the one path every request takes
//! (session bearer, device signature, elevated token, error mapping).

use crate::config::Config;
use crate::device::{sign_nonce, DeviceHeaders, DeviceSigner, NONCE_BATCH};
use crate::error::StepUpError;
use crate::http::{parse_body, Answer, Api, ApiRequest, Credentials};
use crate::session_key::SessionKey;
use crate::settings::SettingsCache;
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
    /// The session key: the stored session's, else a new one; renewed at sign-out.
    pub(crate) session_key: SessionKey,
    pub(crate) clock: Arc<dyn Clock>,
    /// The environment's settings, as last read (`GET settings`).
    pub(crate) settings: SettingsCache,
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
        let session_key =
            SessionKey::restore_or_generate(store.session().and_then(|s| s.session_key).as_ref())?;
        let api = Api::new(self.config.clone())?;
        let inner = Inner {
            config: self.config,
            api,
            store,
            device: DeviceSigner::default(),
            session_key,
            clock,
            settings: SettingsCache::default(),
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

    /// Revokes stored elevated access on this device: the token for exactly `scopes`, or
    /// every token (`None`, "Revoke all elevated access"). Local: the token leaves the cache
    /// and the keychain and is never attached again (Dynamic has no endpoint that revokes an
    /// elevated token; it expires within minutes on the server's side). Returns how many were
    /// removed.
    pub async fn revoke_elevated_access(
        &self,
        scopes: Option<&[TokenScope]>,
    ) -> Result<usize, StepUpError> {
        let removed = self.inner.store.revoke(scopes).await?;
        tracing::info!(removed, all = scopes.is_none(), "elevated access revoked");
        Ok(removed)
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

    /// One single-use nonce from the pool, refilled with `GET nonces?count=5` when empty
    /// (the SDK's `getNonce`): device signatures and wallet messages draw from it alike.
    pub(crate) async fn take_nonce(&self) -> Result<String, StepUpError> {
        if let Some(nonce) = self.device.take_nonce(self.now_ms()) {
            return Ok(nonce);
        }
        let _refilling = self.device.refill_lock.lock().await;
        // Another task may have refilled while this one waited.
        if let Some(nonce) = self.device.take_nonce(self.now_ms()) {
            return Ok(nonce);
        }
        let req = ApiRequest::get("nonces").query("count", NONCE_BATCH.to_string());
        let body = self.api.execute(&req, &self.base_credentials()).await?;
        let fetched: NoncesResponse = parse_body(&body)?;
        self.device.refill(fetched.nonces, self.now_ms());
        self.device
            .take_nonce(self.now_ms())
            .ok_or_else(|| StepUpError::InvalidResponse("the server sent no usable nonce".into()))
    }

    /// A signed nonce for one device-signed request.
    async fn device_headers(&self) -> Result<DeviceHeaders, StepUpError> {
        let key = self.device.key(&self.store).await?;
        let nonce = self.take_nonce().await?;
        Ok(sign_nonce(&key, &nonce))
    }

    fn base_credentials(&self) -> Credentials {
        Credentials {
            bearer: self.live_session().map(|s| s.token),
            session_public_key: Some(self.session_key.public_key_hex()),
            ..Credentials::default()
        }
    }

    /// Forgets the session, every elevated token and the device key (locally and in the
    /// vault), and takes a new session key for the next sign-in, as the SDK's sign-out does.
    pub(crate) async fn sign_out_locally(&self) -> Result<(), StepUpError> {
        self.device.reset().await;
        let cleared = self.store.clear().await;
        if let Err(e) = self.session_key.renew() {
            tracing::warn!(error = %e, "no new session key: the old one is kept");
        }
        cleared.map_err(StepUpError::from)
    }

    /// Sends one request: the session bearer when signed in, device headers on the paths the
    /// SDK signs, and, for a scoped request, the elevated token of its scope, taken (consumed
    /// if single-use) **before** sending, as the SDK does (§10.2).
    pub(crate) async fn send(&self, req: ApiRequest) -> Result<Vec<u8>, StepUpError> {
        self.send_answer(req).await?.into_body()
    }

    /// [`Inner::send`], with the answer's `ETag` and a 304 as an answer (for `If-None-Match`).
    pub(crate) async fn send_answer(&self, req: ApiRequest) -> Result<Answer, StepUpError> {
        let mut creds = self.base_credentials();
        if req.without_session_key {
            creds.session_public_key = None;
        }
        if is_device_signed(&req.path) {
            creds.device = Some(self.device_headers().await?);
        }
        if let Some(scope) = &req.scope {
            creds.elevated = self.store.take(scope, self.now_ms()).await.map(|t| t.token);
        }
        let result = self.api.execute_answer(&req, &creds).await;
        if creds.bearer.is_some() && result.as_ref().err() == Some(&StepUpError::Unauthorized) {
            // The server no longer knows this session (revoked, or rotated by a verification
            // that never came back): keeping it would say "signed in" while every call fails.
            // Signed out here too, so the app asks to sign in again.
            tracing::warn!(path = %req.path, "the session was refused (401): signed out locally");
            if let Err(e) = self.sign_out_locally().await {
                tracing::warn!(error = %e, "could not forget the refused session in the vault");
            }
        }
        result
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
        self.store.peek_on(scope, self.clock.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{client, verify_response, Reply, TestServer, ENV, NOW_MS};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use stepup_protocol::ManualClock;

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

    #[tokio::test]
    async fn the_fast_path_on_the_system_clock_drops_a_token_at_its_expiry() {
        // The app's clock (SystemClock, whose expiry test reads the coarse clock far from the
        // deadline): a token 150 ms from expiry is found while the precise clock is before its
        // expiry and never after it.
        use crate::vault::{ElevatedToken, TokenVault};
        let vault = Arc::new(MemoryVault::new());
        let expires_at_ms = SystemClock.now_millis() + 150;
        vault
            .put_token(&ElevatedToken {
                token: "t".into(),
                scopes: vec![TokenScope::CredentialLink],
                expires_at_ms,
                single_use: false,
            })
            .unwrap();
        let config = Config::new(ENV)
            .unwrap()
            .with_api_base_url(url::Url::parse("http://127.0.0.1:1/api/v0").unwrap());
        let client = StepUpClient::builder(config)
            .vault(vault)
            .build()
            .await
            .unwrap();
        let (mut found, mut gone) = (0u32, 0u32);
        while SystemClock.now_millis() < expires_at_ms + 60 {
            let pre = SystemClock.now_millis();
            let has = client.has_elevated_access_token(&TokenScope::CredentialLink);
            let post = SystemClock.now_millis();
            if has {
                assert!(
                    pre < expires_at_ms,
                    "served at {pre}, expiry {expires_at_ms}"
                );
                assert_eq!(gone, 0, "found again after it was gone");
                found += 1;
            } else {
                assert!(
                    post >= expires_at_ms,
                    "gone at {post}, expiry {expires_at_ms}"
                );
                gone += 1;
            }
        }
        assert!(found > 0 && gone > 0);
        // Not signed in: past the token, the check fails closed without a request.
        assert!(
            client
                .check_step_up(TokenScope::CredentialLink)
                .await
                .is_required
        );
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
