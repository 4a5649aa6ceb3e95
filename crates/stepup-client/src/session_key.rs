//! The session key (C:`src/modules/sessionKeys/*`): a P-256 key pair of this client whose
//! public half, compressed and in hex (C:`createKeychainService`: `compressRawPublicKey`,
//! `bufferToHex`), goes in `x-dyn-session-public-key` on every call (C:`createBaseApiClient`).
//! The server binds a session to the key sent when it was signed in (the session JWT's
//! `sessionPublicKey` claim), so the key lives as long as the session does.
//!
//! As in the SDK, the key exists before any sign-in (the SDK makes it at start,
//! `generateSessionKeys`), is kept through every rotation of the session, and is replaced
//! by a new one when the user signs out (`logoutWithReason`: `removeKey('session')`, then
//! `generateSessionKeys`). It is stored with the session ([`SessionRecord::session_key`]), so a
//! restarted app goes on sending the key its session is bound to.
//!
//! [`SessionRecord::session_key`]: crate::vault::SessionRecord::session_key

use crate::device::{generate_key, key_from_secret, key_to_secret};
use crate::error::StepUpError;
use p256::ecdsa::SigningKey;
use std::sync::Mutex;
use stepup_protocol::Secret;

/// The client's current session key.
pub(crate) struct SessionKey {
    /// Never empty once built: a client always has a key to send.
    key: Mutex<SigningKey>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

impl SessionKey {
    /// The key of a stored session, else a new one. A stored key that does not parse is
    /// replaced (the server then refuses the session with 401, which signs the client out).
    pub(crate) fn restore_or_generate(stored: Option<&Secret>) -> Result<Self, StepUpError> {
        let key = match stored.map(key_from_secret) {
            Some(Ok(key)) => key,
            Some(Err(_)) => {
                tracing::warn!("the stored session key is damaged: a new one is used");
                generate_key()?
            }
            None => generate_key()?,
        };
        Ok(Self {
            key: Mutex::new(key),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SigningKey> {
        self.key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `x-dyn-session-public-key`: the compressed SEC1 point, lower-case hex (66 characters).
    pub(crate) fn public_key_hex(&self) -> String {
        hex::encode(self.lock().verifying_key().to_sec1_point(true).as_bytes())
    }

    /// The secret scalar, to store with the session it is bound to.
    pub(crate) fn secret(&self) -> Secret {
        key_to_secret(&self.lock())
    }

    /// A new key after signing out: the next session is bound to it, not to the old one.
    pub(crate) fn renew(&self) -> Result<(), StepUpError> {
        let fresh = generate_key()?;
        *self.lock() = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_key_is_a_compressed_p256_point_and_renewal_changes_it() {
        let key = SessionKey::restore_or_generate(None).unwrap();
        let first = key.public_key_hex();
        assert_eq!(first.len(), 66);
        assert!(first.starts_with("02") || first.starts_with("03"));
        let point = hex::decode(&first).unwrap();
        assert!(p256::PublicKey::from_sec1_bytes(&point).is_ok());
        let restored = SessionKey::restore_or_generate(Some(&key.secret())).unwrap();
        assert_eq!(restored.public_key_hex(), first, "a stored key is kept");
        key.renew().unwrap();
        assert_ne!(key.public_key_hex(), first);
        let damaged = SessionKey::restore_or_generate(Some(&Secret::new("zz"))).unwrap();
        assert_eq!(damaged.public_key_hex().len(), 66);
    }
}
