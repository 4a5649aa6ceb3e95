//! The device key and its nonce signatures (§6.5): on the endpoints the SDK lists, a request
//! carries a server nonce signed with this installation's P-256 key.
//!
//! The key is generated from OS randomness on first use and persisted through the store (as
//! the hex scalar); nonces come from `GET nonces?count=5`, are single-use and the pool is
//! considered fresh for 24 h, as in the SDK.

use crate::error::StepUpError;
use crate::store::TokenStore;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::TryRngCore;
use std::collections::VecDeque;
use std::sync::Mutex;
use stepup_protocol::Secret;

/// How many nonces one refill asks for.
pub(crate) const NONCE_BATCH: usize = 5;
/// How long a fetched pool is used (C:`src/utils/getNonce`).
const NONCE_POOL_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest nonce accepted from the server (it goes into a header).
const MAX_NONCE_LEN: usize = 256;

/// The three `x-dynamic-device-*` header values of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceHeaders {
    /// `x-dynamic-device-nonce`.
    pub nonce: String,
    /// `x-dynamic-device-publickey`: compressed SEC1 point, hex (66 characters).
    pub public_key: String,
    /// `x-dynamic-device-signed-nonce`: ECDSA P-256/SHA-256 over the UTF-8 nonce, P1363 r‖s hex
    /// (128 characters).
    pub signed_nonce: String,
}

/// Signs `nonce` with `key` into the three header values.
pub fn sign_nonce(key: &SigningKey, nonce: &str) -> DeviceHeaders {
    let signature: Signature = key.sign(nonce.as_bytes());
    DeviceHeaders {
        nonce: nonce.to_owned(),
        public_key: hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        signed_nonce: hex::encode(signature.to_bytes().as_slice()),
    }
}

/// A fresh key from the operating system's randomness.
pub(crate) fn generate_key() -> Result<SigningKey, StepUpError> {
    // A random 32-byte string is a valid scalar except with probability ~2^-32; retry then.
    for _ in 0..8 {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|_| {
            StepUpError::InvalidInput("the operating system has no randomness available".into())
        })?;
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return Ok(key);
        }
    }
    Err(StepUpError::InvalidInput(
        "could not generate a device key".into(),
    ))
}

pub(crate) fn key_to_secret(key: &SigningKey) -> Secret {
    Secret::new(hex::encode(key.to_bytes().as_slice()))
}

pub(crate) fn key_from_secret(secret: &Secret) -> Result<SigningKey, StepUpError> {
    let bytes = hex::decode(secret.expose())
        .map_err(|_| StepUpError::Vault(crate::VaultError::Corrupt("device key".into())))?;
    SigningKey::from_slice(&bytes)
        .map_err(|_| StepUpError::Vault(crate::VaultError::Corrupt("device key".into())))
}

/// True for a nonce that can travel in a header.
fn is_usable_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce.bytes().all(|b| (0x21..0x7f).contains(&b))
}

#[derive(Default)]
struct NoncePool {
    nonces: VecDeque<String>,
    fetched_at_ms: i64,
}

/// The device key (loaded or generated once) and the nonce pool.
#[derive(Default)]
pub(crate) struct DeviceSigner {
    key: tokio::sync::Mutex<Option<SigningKey>>,
    pool: Mutex<NoncePool>,
    /// Serialises refills so that concurrent callers do not all fetch.
    pub(crate) refill_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSigner([redacted])")
    }
}

impl DeviceSigner {
    /// The device key: the stored one, else a new one persisted through `store`.
    pub(crate) async fn key(&self, store: &TokenStore) -> Result<SigningKey, StepUpError> {
        let mut slot = self.key.lock().await;
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        let key = match store.device_key() {
            Some(secret) => key_from_secret(&secret)?,
            None => {
                let key = generate_key()?;
                store.save_device_key(key_to_secret(&key)).await?;
                key
            }
        };
        *slot = Some(key.clone());
        Ok(key)
    }

    /// Takes one fresh nonce from the pool, if any.
    pub(crate) fn take_nonce(&self, now_ms: i64) -> Option<String> {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now_ms.saturating_sub(pool.fetched_at_ms) >= NONCE_POOL_TTL_MS {
            pool.nonces.clear();
        }
        pool.nonces.pop_front()
    }

    /// Replaces the pool with freshly fetched nonces (unusable ones are dropped); returns how
    /// many were kept.
    pub(crate) fn refill(&self, nonces: Vec<String>, now_ms: i64) -> usize {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pool.nonces = nonces.into_iter().filter(|n| is_usable_nonce(n)).collect();
        pool.fetched_at_ms = now_ms;
        pool.nonces.len()
    }

    /// Forgets the key and the pool (logout clears the vault's copy).
    pub(crate) async fn reset(&self) {
        *self.key.lock().await = None;
        *self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = NoncePool::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{MemoryVault, TokenVault};
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn device_signature_verifies_with_the_published_key() {
        let key = generate_key().unwrap();
        let h = sign_nonce(&key, "nonce-123");
        assert_eq!(h.public_key.len(), 66);
        assert!(h.public_key.starts_with("02") || h.public_key.starts_with("03"));
        assert_eq!(h.signed_nonce.len(), 128);
        let vk = VerifyingKey::from_sec1_bytes(&hex::decode(&h.public_key).unwrap()).unwrap();
        let sig = Signature::from_slice(&hex::decode(&h.signed_nonce).unwrap()).unwrap();
        assert!(vk.verify(b"nonce-123", &sig).is_ok());
        assert!(vk.verify(b"nonce-124", &sig).is_err());
    }

    #[tokio::test]
    async fn key_is_generated_once_and_persisted() {
        let vault = Arc::new(MemoryVault::new());
        let store = TokenStore::new(vault.clone(), Duration::from_secs(2));
        let d = DeviceSigner::default();
        let k1 = d.key(&store).await.unwrap();
        let k2 = d.key(&store).await.unwrap();
        assert_eq!(k1.to_bytes(), k2.to_bytes());
        let stored = vault.load().unwrap().device_key.unwrap();
        assert_eq!(stored.expose(), hex::encode(k1.to_bytes().as_slice()));
        // A second process restores the same key from the vault.
        let store2 = TokenStore::new(vault, Duration::from_secs(2));
        store2.load(0).await.unwrap();
        let k3 = DeviceSigner::default().key(&store2).await.unwrap();
        assert_eq!(k1.to_bytes(), k3.to_bytes());
    }

    #[test]
    fn nonces_are_single_use_and_expire_after_a_day() {
        let d = DeviceSigner::default();
        assert_eq!(
            d.refill(
                vec!["a".into(), "b".into(), "bad\nnonce".into(), String::new()],
                0
            ),
            2
        );
        assert_eq!(d.take_nonce(1).as_deref(), Some("a"));
        assert_eq!(d.take_nonce(1).as_deref(), Some("b"));
        assert_eq!(d.take_nonce(1), None);
        d.refill(vec!["c".into()], 0);
        assert_eq!(d.take_nonce(NONCE_POOL_TTL_MS), None);
    }
}
