//! Device signatures: single-use nonces, and the `x-dynamic-device-*` headers of the SDK's
//! signed paths, which (if present, or always when required) must carry an issued, unused
//! nonce signed by the given P-256 key.

use axum::http::StatusCode;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use stepup_protocol::codes;

use super::Authority;
use crate::crypto;
use crate::error::ApiError;
use crate::expiring_map::ExpiringMap;

/// Nonces are remembered this long.
const NONCE_TTL_MS: i64 = 24 * 3600 * 1000;
/// Nonces kept at most (oldest forgotten first).
const MAX_NONCES: usize = 10_000;

/// The issued nonces of a new authority.
pub(super) fn nonce_table() -> ExpiringMap<()> {
    ExpiringMap::new(NONCE_TTL_MS, MAX_NONCES)
}

/// The device-signature headers of one request.
#[derive(Debug, Clone)]
pub(crate) struct DeviceSignature {
    /// `x-dynamic-device-nonce`.
    pub nonce: String,
    /// `x-dynamic-device-publickey`: a compressed P-256 point, hex.
    pub public_key_hex: String,
    /// `x-dynamic-device-signed-nonce`: `r‖s`, hex.
    pub signature_hex: String,
}

impl Authority {
    /// Issues `count` single-use nonces. A client that hoards nonces loses its oldest first.
    pub(crate) fn issue_nonces(&mut self, count: usize) -> Vec<String> {
        let now = self.now_ms();
        (0..count)
            .map(|_| {
                let n = hex::encode(crypto::random_bytes::<16>());
                self.nonces.insert(n.clone(), (), now);
                n
            })
            .collect()
    }

    /// Checks the `x-dynamic-device-*` headers of a device-signed path.
    pub(crate) fn check_device_signature(
        &mut self,
        sig: Option<DeviceSignature>,
    ) -> Result<(), ApiError> {
        let invalid = |why: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::INVALID_DEVICE_SIGNATURE,
                format!("invalid device signature: {why}"),
            )
        };
        let Some(sig) = sig else {
            return if self.require_device_signature {
                Err(invalid(
                    "the x-dynamic-device-nonce, -publickey and -signed-nonce headers are required",
                ))
            } else {
                Ok(())
            };
        };
        let now = self.now_ms();
        if self.nonces.take(&sig.nonce, now).is_none() {
            return Err(invalid(
                "the nonce was not issued by this server, or was already used",
            ));
        }
        let key_bytes =
            hex::decode(&sig.public_key_hex).map_err(|_| invalid("the public key is not hex"))?;
        if key_bytes.len() != 33 {
            return Err(invalid("the public key is not a compressed P-256 point"));
        }
        let key = VerifyingKey::from_sec1_bytes(&key_bytes)
            .map_err(|_| invalid("the public key is not a P-256 point"))?;
        let sig_bytes =
            hex::decode(&sig.signature_hex).map_err(|_| invalid("the signature is not hex"))?;
        let signature = Signature::from_slice(&sig_bytes)
            .map_err(|_| invalid("the signature is not 64 bytes r‖s"))?;
        key.verify(sig.nonce.as_bytes(), &signature)
            .map_err(|_| invalid("the signature does not verify"))
    }
}
