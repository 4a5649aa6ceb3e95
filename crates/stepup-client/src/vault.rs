//! Where the session, the elevated tokens and the device key are kept.
//!
//! [`TokenVault`] is the storage backend: **blocking** calls, because the OS keychains are
//! blocking APIs (and keyring's can panic inside a tokio runtime). The client never calls a
//! vault directly from async code: `store::TokenStore` runs every call through
//! [`run_blocking`](crate::blocking::run_blocking) (a blocking thread, a timeout) and keeps an in-memory cache in front of it, so the fast paths
//! (`check_step_up`, `has_elevated_access_token`) never touch the backend.
//!
//! Implementations: [`MemoryVault`] here (tests, ephemeral sessions) and the OS keychain in
//! the `stepup-keychain` crate.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use stepup_protocol::{scope_set_key, SdkUser, Secret, TokenScope};

/// One elevated access token as the client keeps it (C:`state.d.ts` `elevatedAccessTokens[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElevatedToken {
    /// The raw JWT, sent as `x-dyn-elevated-access-token`.
    pub token: Secret,
    /// The scopes of the `scope` claim; never empty.
    pub scopes: Vec<TokenScope>,
    /// `exp` in unix milliseconds; the token is dropped at or after it.
    pub expires_at_ms: i64,
    /// Removed at its first use when true.
    pub single_use: bool,
}

impl ElevatedToken {
    /// The normalised scope-set key the token is stored under (one token per key).
    pub fn scope_key(&self) -> String {
        scope_set_key(
            &self
                .scopes
                .iter()
                .map(TokenScope::as_str)
                .collect::<Vec<_>>(),
        )
    }
    /// True while `now_ms < expires_at_ms` (no leeway, as the SDK).
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        now_ms < self.expires_at_ms
    }
    /// True when the token authorises `scope` (exact match, no hierarchy).
    pub fn covers(&self, scope: &TokenScope) -> bool {
        self.scopes.contains(scope)
    }
}

/// The signed-in session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// `minifiedJwt`: sent as `Authorization: Bearer`.
    pub token: Secret,
    /// `jwt`: the full session JWT, when the server sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_token: Option<Secret>,
    /// Session expiry, unix seconds.
    pub expires_at: i64,
    /// The signed-in user.
    pub user: SdkUser,
    /// The session key the session was signed in with (P-256 secret scalar, hex): its public
    /// half is the `x-dyn-session-public-key` every call of this session sends, since the
    /// server binds the session to it. `None` for a session stored before there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<Secret>,
}

/// Everything a vault holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VaultSnapshot {
    /// The session, if signed in.
    pub session: Option<SessionRecord>,
    /// Elevated tokens, at most one per scope-set key.
    pub tokens: Vec<ElevatedToken>,
    /// The device key used for nonce signatures: P-256 secret scalar, hex.
    pub device_key: Option<Secret>,
}

/// Why the vault could not answer. Each message says what the user can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The keychain exists but is locked.
    #[error("the keychain is locked: unlock it and try again")]
    Locked,
    /// No keychain service is reachable (no Secret Service on the session bus, ...).
    #[error(
        "no keychain is available ({0}): start your keyring (e.g. gnome-keyring) and try again"
    )]
    Unavailable(String),
    /// The keychain did not answer in time.
    #[error("the keychain did not answer within {0} ms: unlock it or restart it and try again")]
    TimedOut(u64),
    /// The user refused access in a keychain prompt.
    #[error("access to the keychain was refused: allow it and try again")]
    AccessDenied,
    /// An entry could not be read back.
    #[error("a keychain entry is damaged ({0}): sign out and in again")]
    Corrupt(String),
    /// Any other keychain failure.
    #[error("the keychain failed: {0}")]
    Other(String),
}

/// A storage backend for the session, the tokens and the device key. Calls block.
///
/// Writes must be durable when they return. `put_token` replaces the token stored under the
/// same [`ElevatedToken::scope_key`].
pub trait TokenVault: Send + Sync + 'static {
    /// Reads everything. A locked store is [`VaultError::Locked`], never an empty snapshot.
    fn load(&self) -> Result<VaultSnapshot, VaultError>;
    /// Replaces the session.
    fn put_session(&self, session: &SessionRecord) -> Result<(), VaultError>;
    /// Inserts or replaces the token stored under its scope-set key.
    fn put_token(&self, token: &ElevatedToken) -> Result<(), VaultError>;
    /// Removes the token stored under `scope_key`; absent is not an error.
    fn remove_token(&self, scope_key: &str) -> Result<(), VaultError>;
    /// Stores the device key (P-256 scalar, hex).
    fn put_device_key(&self, key: &Secret) -> Result<(), VaultError>;
    /// Removes every entry: session, tokens and device key (logout).
    fn clear(&self) -> Result<(), VaultError>;
}

/// A vault in process memory: gone when the process ends.
#[derive(Debug, Default)]
pub struct MemoryVault {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    session: Option<SessionRecord>,
    tokens: BTreeMap<String, ElevatedToken>,
    device_key: Option<Secret>,
}

impl MemoryVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryInner) -> T) -> Result<T, VaultError> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| VaultError::Other("memory vault poisoned".into()))?;
        Ok(f(&mut guard))
    }
}

impl TokenVault for MemoryVault {
    fn load(&self) -> Result<VaultSnapshot, VaultError> {
        self.with(|m| VaultSnapshot {
            session: m.session.clone(),
            tokens: m.tokens.values().cloned().collect(),
            device_key: m.device_key.clone(),
        })
    }
    fn put_session(&self, session: &SessionRecord) -> Result<(), VaultError> {
        self.with(|m| m.session = Some(session.clone()))
    }
    fn put_token(&self, token: &ElevatedToken) -> Result<(), VaultError> {
        self.with(|m| {
            m.tokens.insert(token.scope_key(), token.clone());
        })
    }
    fn remove_token(&self, scope_key: &str) -> Result<(), VaultError> {
        self.with(|m| {
            m.tokens.remove(scope_key);
        })
    }
    fn put_device_key(&self, key: &Secret) -> Result<(), VaultError> {
        self.with(|m| m.device_key = Some(key.clone()))
    }
    fn clear(&self) -> Result<(), VaultError> {
        self.with(|m| *m = MemoryInner::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(scopes: &[TokenScope], exp: i64) -> ElevatedToken {
        ElevatedToken {
            token: Secret::new("t"),
            scopes: scopes.to_vec(),
            expires_at_ms: exp,
            single_use: false,
        }
    }

    #[test]
    fn memory_vault_keeps_one_token_per_scope_set() {
        let v = MemoryVault::new();
        v.put_token(&token(
            &[TokenScope::WalletSign, TokenScope::WalletExport],
            1,
        ))
        .unwrap();
        v.put_token(&token(
            &[TokenScope::WalletExport, TokenScope::WalletSign],
            2,
        ))
        .unwrap();
        v.put_token(&token(&[TokenScope::CredentialLink], 3))
            .unwrap();
        let snap = v.load().unwrap();
        assert_eq!(snap.tokens.len(), 2);
        v.remove_token("wallet:export wallet:sign").unwrap();
        assert_eq!(v.load().unwrap().tokens.len(), 1);
        v.clear().unwrap();
        assert_eq!(v.load().unwrap(), VaultSnapshot::default());
    }

    #[test]
    fn token_validity_has_no_leeway() {
        let t = token(&[TokenScope::WalletExport], 1_000);
        assert!(t.is_valid_at(999));
        assert!(!t.is_valid_at(1_000));
        assert!(t.covers(&TokenScope::WalletExport));
        assert!(!t.covers(&TokenScope::WalletSign));
    }
}
