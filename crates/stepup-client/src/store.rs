//! [`TokenStore`]: the in-memory cache of the session, the elevated tokens and the device key,
//! in front of a blocking [`TokenVault`].
//!
//! Reads for the fast paths ([`TokenStore::peek`], [`TokenStore::session`]) never touch the
//! vault. Writes update the cache first, then go through to the vault with [`run_blocking`],
//! so a locked or hung keychain is an error after `vault_timeout`, never a hang.
//! The cache lock is a std `Mutex` that is never held across an `.await`. The check's fast
//! path takes no lock at all: it reads one atomic expiry per scope ([`TokenStore::peek_on`]).

use crate::blocking::run_blocking;
use crate::tokens::TokenStatus;
use crate::vault::{ElevatedToken, SessionRecord, TokenVault, VaultError, VaultSnapshot};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use stepup_protocol::{Clock, Secret, TokenScope};

/// The cache in front of a vault. Cheap to share behind an `Arc`.
pub struct TokenStore {
    vault: Arc<dyn TokenVault>,
    timeout: Duration,
    cache: Mutex<VaultSnapshot>,
    /// Per known scope (at [`TokenScope::known_index`]), the latest expiry in unix ms of a
    /// cached token that covers it, [`NO_TOKEN`] when none does. Rewritten under the cache lock
    /// by every change of the cached tokens, before the lock is released, so it never claims a
    /// token the cache has not held; a reader racing a change sees the tokens just before or
    /// just after it, as it would by taking the lock a moment earlier or later.
    expiries: [AtomicI64; KNOWN_SCOPES],
}

const KNOWN_SCOPES: usize = TokenScope::KNOWN.len();
/// The expiry slot of a scope no cached token covers.
const NO_TOKEN: i64 = i64::MIN;

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    /// An empty store in front of `vault`; call [`TokenStore::load`] before use.
    pub fn new(vault: Arc<dyn TokenVault>, timeout: Duration) -> Self {
        Self {
            vault,
            timeout,
            cache: Mutex::new(VaultSnapshot::default()),
            expiries: std::array::from_fn(|_| AtomicI64::new(NO_TOKEN)),
        }
    }

    /// Changes the cached tokens under the lock and republishes the fast path's expiries
    /// before the lock is released. Every change of `tokens` goes through here.
    fn change_tokens<R>(&self, change: impl FnOnce(&mut VaultSnapshot) -> R) -> R {
        let mut cache = self.cache();
        let result = change(&mut cache);
        let mut latest = [NO_TOKEN; KNOWN_SCOPES];
        for token in &cache.tokens {
            for scope in &token.scopes {
                if let Some(slot) = scope.known_index().and_then(|i| latest.get_mut(i)) {
                    *slot = (*slot).max(token.expires_at_ms);
                }
            }
        }
        for (published, expiry) in self.expiries.iter().zip(latest) {
            published.store(expiry, Ordering::Release);
        }
        result
    }

    /// The latest expiry of a cached token covering `scope`, read without the lock; `None`
    /// for a scope this build does not know (the caller scans the cache for those).
    fn latest_expiry(&self, scope: &TokenScope) -> Option<i64> {
        let slot = self.expiries.get(scope.known_index()?)?;
        Some(slot.load(Ordering::Acquire))
    }

    // A poisoned lock only means another thread panicked mid-update of plain data; the data is
    // still a valid snapshot, so keep going rather than turning every later call into an error.
    fn cache(&self) -> MutexGuard<'_, VaultSnapshot> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs one blocking vault call off the runtime, bounded by the vault timeout.
    async fn run<T, F>(&self, call: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn TokenVault) -> Result<T, VaultError> + Send + 'static,
    {
        let vault = Arc::clone(&self.vault);
        run_blocking(self.timeout, move || call(vault.as_ref())).await?
    }

    /// Reads the vault into the cache (at client start). A session that expired by `now_ms`
    /// is not restored, and neither are tokens that expired (they are removed from the vault,
    /// best effort). A locked vault is an error, never an empty store.
    pub async fn load(&self, now_ms: i64) -> Result<(), VaultError> {
        let mut snapshot = self.run(|v| v.load()).await?;
        if snapshot
            .session
            .as_ref()
            .is_some_and(|s| s.expires_at.saturating_mul(1000) <= now_ms)
        {
            snapshot.session = None;
            snapshot.tokens.clear();
        }
        let expired: Vec<String> = snapshot
            .tokens
            .iter()
            .filter(|t| !t.is_valid_at(now_ms))
            .map(ElevatedToken::scope_key)
            .collect();
        snapshot.tokens.retain(|t| t.is_valid_at(now_ms));
        self.change_tokens(|cache| *cache = snapshot);
        self.remove_from_vault(expired).await;
        Ok(())
    }

    /// True when an unexpired token covering `scope` is cached. No vault I/O, nothing consumed.
    pub fn peek(&self, scope: &TokenScope, now_ms: i64) -> bool {
        match self.latest_expiry(scope) {
            Some(expiry) => now_ms < expiry,
            None => self
                .cache()
                .tokens
                .iter()
                .any(|t| t.is_valid_at(now_ms) && t.covers(scope)),
        }
    }

    /// [`TokenStore::peek`] on `clock`, read only for a token that covers `scope`, through
    /// [`Clock::is_before`] (the system clock answers from its coarse reading when the expiry
    /// is far): the check's fast path.
    pub fn peek_on(&self, scope: &TokenScope, clock: &dyn Clock) -> bool {
        match self.latest_expiry(scope) {
            // No token: no clock read either.
            Some(NO_TOKEN) => false,
            Some(expiry) => clock.is_before(expiry),
            None => self
                .cache()
                .tokens
                .iter()
                .any(|t| t.covers(scope) && clock.is_before(t.expires_at_ms)),
        }
    }

    /// Takes the first unexpired token covering `scope`, to attach to one request.
    ///
    /// A single-use token is removed from the cache under the lock before anything else, so
    /// among any number of concurrent takers exactly one gets it; the removal is then written
    /// through to the vault. Expired tokens are pruned from cache and vault on the way. Vault
    /// failures here are logged, not returned: the server enforces single use, and a token the
    /// keychain failed to forget expires within minutes.
    pub async fn take(&self, scope: &TokenScope, now_ms: i64) -> Option<ElevatedToken> {
        let (found, to_remove) = self.change_tokens(|cache| {
            let mut to_remove: Vec<String> = cache
                .tokens
                .iter()
                .filter(|t| !t.is_valid_at(now_ms))
                .map(ElevatedToken::scope_key)
                .collect();
            cache.tokens.retain(|t| t.is_valid_at(now_ms));
            let found = match cache.tokens.iter().position(|t| t.covers(scope)) {
                Some(i) if cache.tokens[i].single_use => {
                    let token = cache.tokens.remove(i);
                    to_remove.push(token.scope_key());
                    Some(token)
                }
                Some(i) => Some(cache.tokens[i].clone()),
                None => None,
            };
            (found, to_remove)
        });
        self.remove_from_vault(to_remove).await;
        found
    }

    async fn remove_from_vault(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let result = self
            .run(move |v| keys.iter().try_for_each(|k| v.remove_token(k)))
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not remove a used or expired token from the vault");
        }
    }

    /// Stores `token`, replacing the one with the same scope-set key, in the cache and then the
    /// vault. On a vault error the token stays usable in memory for this process.
    pub async fn upsert(&self, token: ElevatedToken) -> Result<(), VaultError> {
        self.change_tokens(|cache| {
            let key = token.scope_key();
            cache.tokens.retain(|t| t.scope_key() != key);
            cache.tokens.push(token.clone());
        });
        self.run(move |v| v.put_token(&token)).await
    }

    /// The cached session, if any.
    pub fn session(&self) -> Option<SessionRecord> {
        self.cache().session.clone()
    }

    /// Replaces the session in the cache and then the vault.
    pub async fn save_session(&self, session: SessionRecord) -> Result<(), VaultError> {
        self.cache().session = Some(session.clone());
        self.run(move |v| v.put_session(&session)).await
    }

    /// The cached device key (P-256 scalar, hex).
    pub fn device_key(&self) -> Option<Secret> {
        self.cache().device_key.clone()
    }

    /// Stores the device key in the cache and then the vault.
    pub async fn save_device_key(&self, key: Secret) -> Result<(), VaultError> {
        self.cache().device_key = Some(key.clone());
        self.run(move |v| v.put_device_key(&key)).await
    }

    /// Removes the tokens whose scope set is `scopes` (normalised as the vault keys them), or
    /// every token when `scopes` is `None`: from the cache first (they stop being attached at
    /// once), then from the vault. Returns how many were removed; a vault failure is returned
    /// (the user asked for it, so it must not pass silently).
    pub async fn revoke(&self, scopes: Option<&[TokenScope]>) -> Result<usize, VaultError> {
        let wanted = scopes.map(|s| {
            stepup_protocol::scope_set_key(&s.iter().map(TokenScope::as_str).collect::<Vec<_>>())
        });
        let keys: Vec<String> = self.change_tokens(|cache| {
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut cache.tokens)
                .into_iter()
                .partition(|t| wanted.as_ref().is_none_or(|w| *w == t.scope_key()));
            cache.tokens = kept;
            gone.iter().map(ElevatedToken::scope_key).collect()
        });
        let removed = keys.len();
        if removed > 0 {
            self.run(move |v| keys.iter().try_for_each(|k| v.remove_token(k)))
                .await?;
        }
        Ok(removed)
    }

    /// Forgets everything (logout): the cache is emptied first, whatever the vault says.
    pub async fn clear(&self) -> Result<(), VaultError> {
        self.change_tokens(|cache| *cache = VaultSnapshot::default());
        self.run(|v| v.clear()).await
    }

    /// The unexpired tokens, without their secrets.
    pub fn token_statuses(&self, now_ms: i64) -> Vec<TokenStatus> {
        self.cache()
            .tokens
            .iter()
            .filter(|t| t.is_valid_at(now_ms))
            .map(TokenStatus::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MemoryVault;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    fn token(scopes: &[TokenScope], exp_ms: i64, single_use: bool) -> ElevatedToken {
        ElevatedToken {
            token: Secret::new(format!("jwt-{exp_ms}")),
            scopes: scopes.to_vec(),
            expires_at_ms: exp_ms,
            single_use,
        }
    }

    fn store(vault: Arc<dyn TokenVault>) -> TokenStore {
        TokenStore::new(vault, Duration::from_secs(2))
    }

    #[tokio::test]
    async fn peek_does_not_consume_and_ignores_expired_tokens() {
        let s = store(Arc::new(MemoryVault::new()));
        s.upsert(token(&[TokenScope::WalletExport], 1_000, true))
            .await
            .unwrap();
        assert!(s.peek(&TokenScope::WalletExport, 999));
        assert!(s.peek(&TokenScope::WalletExport, 999));
        assert!(!s.peek(&TokenScope::WalletExport, 1_000));
        assert!(!s.peek(&TokenScope::WalletSign, 0));
        // The fast path's form: the same answers on a clock.
        let clock = stepup_protocol::ManualClock::at_millis(999);
        assert!(s.peek_on(&TokenScope::WalletExport, &clock));
        assert!(!s.peek_on(&TokenScope::WalletSign, &clock));
        clock.advance_millis(1);
        assert!(!s.peek_on(&TokenScope::WalletExport, &clock));
    }

    /// The lock-free answer against a scan of the cache, for every known scope and an
    /// unknown one, at times around every expiry.
    fn assert_fast_path_agrees(s: &TokenStore, times: &[i64], when: &str) {
        let unknown = TokenScope::parse("wallet:teleport");
        for scope in TokenScope::KNOWN.iter().chain([&unknown]) {
            for &now in times {
                let scanned = s
                    .cache()
                    .tokens
                    .iter()
                    .any(|t| t.is_valid_at(now) && t.covers(scope));
                assert_eq!(s.peek(scope, now), scanned, "{when}: {scope} at {now}");
                let clock = stepup_protocol::ManualClock::at_millis(now);
                assert_eq!(
                    s.peek_on(scope, &clock),
                    scanned,
                    "{when}: {scope} on a clock at {now}"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_lock_free_fast_path_agrees_with_the_cache_after_every_change() {
        use TokenScope::*;
        let vault = Arc::new(MemoryVault::new());
        let s = store(vault.clone());
        let times = [0, 499, 500, 999, 1_000, 1_999, 2_000, 5_000];
        let unknown = TokenScope::parse("wallet:teleport");
        assert_fast_path_agrees(&s, &times, "empty");
        s.upsert(token(&[WalletExport], 1_000, true)).await.unwrap();
        s.upsert(token(&[WalletExport, WalletSign], 2_000, false))
            .await
            .unwrap();
        s.upsert(token(&[CredentialLink, unknown.clone()], 500, false))
            .await
            .unwrap();
        assert_fast_path_agrees(&s, &times, "three upserts");
        assert!(s.peek(&unknown, 499) && !s.peek(&unknown, 500));
        // The same scope set again, with an earlier expiry: the later one is gone.
        s.upsert(token(&[WalletExport, WalletSign], 700, false))
            .await
            .unwrap();
        assert_fast_path_agrees(&s, &times, "replaced");
        assert!(!s.peek(&WalletSign, 700));
        // The single-use token taken: wallet:export only through the other token now.
        assert!(s.take(&WalletExport, 0).await.is_some_and(|t| t.single_use));
        assert_fast_path_agrees(&s, &times, "taken");
        // Taking at 600 prunes the credential:link token that expired at 500.
        assert!(s.take(&WalletSign, 600).await.is_some());
        assert_fast_path_agrees(&s, &times, "pruned");
        assert!(s.cache().tokens.iter().all(|t| !t.covers(&CredentialLink)));
        s.revoke(Some(&[WalletExport, WalletSign])).await.unwrap();
        assert_fast_path_agrees(&s, &times, "revoked");
        assert!(!s.peek(&WalletExport, 0));
        s.upsert(token(&[WalletExport], 1_000, false))
            .await
            .unwrap();
        // A fresh store loads the vault: the table is filled from it.
        let loaded = store(vault.clone());
        loaded.load(0).await.unwrap();
        assert!(loaded.peek(&WalletExport, 999));
        assert_fast_path_agrees(&loaded, &times, "loaded");
        s.clear().await.unwrap();
        assert_fast_path_agrees(&s, &times, "cleared");
        assert!(!s.peek(&WalletExport, 0));
    }

    #[tokio::test]
    async fn single_use_token_is_taken_once_and_removed_from_the_vault() {
        let vault = Arc::new(MemoryVault::new());
        let s = store(vault.clone());
        s.upsert(token(&[TokenScope::WalletExport], 1_000, true))
            .await
            .unwrap();
        assert!(s.take(&TokenScope::WalletExport, 0).await.is_some());
        assert!(s.take(&TokenScope::WalletExport, 0).await.is_none());
        assert!(vault.load().unwrap().tokens.is_empty());
    }

    #[tokio::test]
    async fn revoke_removes_one_scope_set_or_all_from_cache_and_vault() {
        let vault = Arc::new(MemoryVault::new());
        let s = store(vault.clone());
        s.upsert(token(&[TokenScope::WalletExport], 1_000, true))
            .await
            .unwrap();
        s.upsert(token(&[TokenScope::CredentialLink], 1_000, false))
            .await
            .unwrap();
        assert_eq!(
            s.revoke(Some(&[TokenScope::CredentialLink])).await.unwrap(),
            1
        );
        assert!(!s.peek(&TokenScope::CredentialLink, 0));
        assert!(s.peek(&TokenScope::WalletExport, 0));
        assert_eq!(vault.load().unwrap().tokens.len(), 1);
        assert_eq!(
            s.revoke(Some(&[TokenScope::CredentialLink])).await.unwrap(),
            0
        );
        assert_eq!(s.revoke(None).await.unwrap(), 1);
        assert!(!s.peek(&TokenScope::WalletExport, 0));
        assert!(vault.load().unwrap().tokens.is_empty());
    }

    #[tokio::test]
    async fn time_bound_token_is_reused_until_it_expires_then_pruned() {
        let vault = Arc::new(MemoryVault::new());
        let s = store(vault.clone());
        s.upsert(token(&[TokenScope::CredentialLink], 1_000, false))
            .await
            .unwrap();
        assert!(s.take(&TokenScope::CredentialLink, 0).await.is_some());
        assert!(s.take(&TokenScope::CredentialLink, 999).await.is_some());
        assert!(s.take(&TokenScope::CredentialLink, 1_000).await.is_none());
        assert!(
            vault.load().unwrap().tokens.is_empty(),
            "the expired token is pruned from the vault"
        );
        assert!(s.token_statuses(0).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn hundred_concurrent_takers_get_a_single_use_token_exactly_once() {
        let s = Arc::new(store(Arc::new(MemoryVault::new())));
        s.upsert(token(&[TokenScope::WalletExport], i64::MAX, true))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    s.take(&TokenScope::WalletExport, 0).await.is_some()
                })
            })
            .collect();
        let mut winners = 0;
        for h in handles {
            winners += usize::from(h.await.unwrap());
        }
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn upsert_keeps_one_token_per_scope_set() {
        let s = store(Arc::new(MemoryVault::new()));
        s.upsert(token(
            &[TokenScope::WalletSign, TokenScope::WalletExport],
            10,
            false,
        ))
        .await
        .unwrap();
        s.upsert(token(
            &[TokenScope::WalletExport, TokenScope::WalletSign],
            20,
            false,
        ))
        .await
        .unwrap();
        s.upsert(token(&[TokenScope::WalletExport], 30, false))
            .await
            .unwrap();
        let statuses = s.token_statuses(0);
        assert_eq!(statuses.len(), 2);
        assert!(statuses.iter().any(|t| t.expires_at_ms == 20));
    }

    #[tokio::test]
    async fn load_restores_a_live_session_and_drops_an_expired_one() {
        let vault = Arc::new(MemoryVault::new());
        let user: stepup_protocol::SdkUser =
            serde_json::from_value(serde_json::json!({"id": "u"})).unwrap();
        let session = SessionRecord {
            token: "s".into(),
            legacy_token: None,
            expires_at: 100,
            user,
            session_key: None,
        };
        vault.put_session(&session).unwrap();
        vault
            .put_token(&token(&[TokenScope::WalletExport], 50_000, false))
            .unwrap();
        vault
            .put_token(&token(&[TokenScope::WalletSign], 10_000, false))
            .unwrap();
        let s = store(vault.clone());
        s.load(20_000).await.unwrap();
        assert_eq!(s.session(), Some(session));
        assert!(s.peek(&TokenScope::WalletExport, 20_000));
        assert_eq!(
            vault.load().unwrap().tokens.len(),
            1,
            "the expired token left the vault"
        );
        let s = store(vault);
        s.load(100_000).await.unwrap();
        assert_eq!(s.session(), None);
        assert!(s.token_statuses(0).is_empty());
    }

    #[tokio::test]
    async fn clear_empties_cache_and_vault() {
        let vault = Arc::new(MemoryVault::new());
        let s = store(vault.clone());
        s.upsert(token(&[TokenScope::WalletExport], 1_000, false))
            .await
            .unwrap();
        s.save_device_key(Secret::new("00")).await.unwrap();
        s.clear().await.unwrap();
        assert!(s.token_statuses(0).is_empty());
        assert_eq!(s.device_key(), None);
        assert_eq!(vault.load().unwrap(), VaultSnapshot::default());
    }

    /// A vault whose every call blocks until the test releases it (a locked Secret Service).
    struct HungVault {
        release: Mutex<mpsc::Receiver<()>>,
        calls: AtomicUsize,
    }

    impl HungVault {
        fn hang(&self) -> Result<(), VaultError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let rx = self.release.lock().unwrap();
            let _ = rx.recv_timeout(Duration::from_secs(10));
            Ok(())
        }
    }

    impl TokenVault for HungVault {
        fn load(&self) -> Result<VaultSnapshot, VaultError> {
            self.hang().map(|_| VaultSnapshot::default())
        }
        fn put_session(&self, _: &SessionRecord) -> Result<(), VaultError> {
            self.hang()
        }
        fn put_token(&self, _: &ElevatedToken) -> Result<(), VaultError> {
            self.hang()
        }
        fn remove_token(&self, _: &str) -> Result<(), VaultError> {
            self.hang()
        }
        fn put_device_key(&self, _: &Secret) -> Result<(), VaultError> {
            self.hang()
        }
        fn clear(&self) -> Result<(), VaultError> {
            self.hang()
        }
    }

    // tokio's `test-util` (time::pause) is not enabled for this crate, so the timeout is short
    // and real; the vault would otherwise hang for 10 s.
    #[tokio::test]
    async fn a_hung_vault_times_out_instead_of_hanging() {
        let (tx, rx) = mpsc::channel();
        let vault = Arc::new(HungVault {
            release: Mutex::new(rx),
            calls: AtomicUsize::new(0),
        });
        let s = TokenStore::new(vault.clone(), Duration::from_millis(50));
        let started = std::time::Instant::now();
        assert_eq!(s.load(0).await, Err(VaultError::TimedOut(50)));
        // Writes time out too, but the cache already holds the new token.
        let err = s
            .upsert(token(&[TokenScope::WalletExport], 1_000, false))
            .await;
        assert_eq!(err, Err(VaultError::TimedOut(50)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(s.peek(&TokenScope::WalletExport, 0));
        assert!(vault.calls.load(Ordering::SeqCst) >= 1);
        drop(tx); // lets the blocked threads finish so the runtime can shut down
    }
}
