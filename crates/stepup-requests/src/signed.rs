//! Signed links: the only way a requester is shown as verified.
//!
//! A link may carry `sig`, a compact JWS (ES256 only) whose header names a key id (`kid`) the
//! user or the environment registered for one requester ([`RequesterKeys`], read from the
//! app's settings), and whose claims repeat the request's fields:
//!
//! ```json
//! {"requester": "Acme Wallet", "scope": "wallet:export", "return_to": "https://…" | null,
//!  "match": "42" | null, "nonce": "<16–64 chars>", "iat": 1700000000, "exp": 1700000120}
//! ```
//!
//! It holds only if: the key is registered, for this very requester; the signature verifies
//! with it; every field equals the link's (a signed link cannot be re-pointed at another scope
//! or place); `iat ≤ now + skew`, `now < exp`, and `exp − iat ≤` [`MAX_LIFETIME_SECS`]; and the
//! nonce was not seen before (the desk remembers nonces until they expire). A link that is
//! signed and fails any of this is refused with the reason; a link without `sig` is a claim.

use crate::link::{DeepLinkError, StepUpRequest};
use serde::Deserialize;
use std::collections::BTreeMap;
use stepup_protocol::jwt::{header_unverified, verify_es256, JwtError};

/// The longest `sig` accepted, in bytes.
pub const MAX_SIGNATURE_BYTES: usize = 1536;
/// A signed link lives at most this long (`exp − iat`).
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clocks may differ by this much (`iat` in the future).
pub const CLOCK_SKEW_SECS: i64 = 60;
/// At most this many registered requester keys are read from the settings.
pub const MAX_REGISTERED_KEYS: usize = 64;

/// The registered key of one requester.
#[derive(Debug, Clone)]
pub struct RegisteredKey {
    /// The requester the key speaks for (exactly as links name it).
    pub requester: String,
    /// Its ES256 public key.
    pub key: p256::ecdsa::VerifyingKey,
}

/// Requester keys by key id.
#[derive(Debug, Clone, Default)]
pub struct RequesterKeys {
    keys: BTreeMap<String, RegisteredKey>,
}

/// One entry of the settings file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyEntry {
    kid: String,
    requester: String,
    /// SEC1 / SPKI PEM of a P-256 public key.
    public_key_pem: String,
}

impl RequesterKeys {
    /// No keys: every link is a claim.
    pub fn none() -> Self {
        Self::default()
    }

    /// Registers `key` under `kid` for `requester`.
    pub fn insert(&mut self, kid: &str, requester: &str, key: p256::ecdsa::VerifyingKey) {
        self.keys.insert(
            kid.to_owned(),
            RegisteredKey {
                requester: requester.to_owned(),
                key,
            },
        );
    }

    /// Reads the settings file's JSON: `[{"kid", "requester", "publicKeyPem"}, …]`. Bounded:
    /// at most [`MAX_REGISTERED_KEYS`] entries and 256 KiB of text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        use p256::pkcs8::DecodePublicKey as _;
        if text.len() > 256 * 1024 {
            return Err("the requester key file is too large".into());
        }
        let entries: Vec<KeyEntry> = serde_json::from_str(text)
            .map_err(|e| format!("the requester key file is not valid: {e}"))?;
        if entries.len() > MAX_REGISTERED_KEYS {
            return Err(format!(
                "the requester key file lists more than {MAX_REGISTERED_KEYS} keys"
            ));
        }
        let mut keys = Self::default();
        for entry in entries {
            let valid_kid = !entry.kid.is_empty()
                && entry.kid.len() <= 64
                && entry
                    .kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid_kid {
                return Err("a requester key id must be 1–64 letters, digits, - _ or .".into());
            }
            crate::link::validate_requester(&entry.requester)
                .map_err(|e| format!("key {}: {e}", entry.kid))?;
            let key = p256::ecdsa::VerifyingKey::from_public_key_pem(&entry.public_key_pem)
                .map_err(|_| format!("key {}: not a P-256 public key (PEM)", entry.kid))?;
            keys.insert(&entry.kid, &entry.requester, key);
        }
        Ok(keys)
    }

    /// How many keys are registered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The claims of a signed link.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkClaims {
    requester: String,
    scope: String,
    #[serde(default)]
    return_to: Option<String>,
    #[serde(default, rename = "match")]
    match_code: Option<String>,
    nonce: String,
    iat: i64,
    exp: i64,
}

/// What a verified signature proves: the key, and the nonce with its expiry (for the desk's
/// replay check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The registered key id.
    pub kid: String,
    /// The link's nonce.
    pub nonce: String,
    /// When the signed link expires (unix seconds).
    pub exp: i64,
}

fn refused(why: &'static str) -> DeepLinkError {
    DeepLinkError::SignatureRefused(why)
}

/// Verifies `request`'s signature (it must have one) with `keys` at `now_secs`.
pub fn verify(
    request: &StepUpRequest,
    keys: &RequesterKeys,
    now_secs: i64,
) -> Result<Verified, DeepLinkError> {
    let jws = request
        .signature()
        .ok_or(DeepLinkError::MalformedSignature)?;
    let header = header_unverified(jws).map_err(|_| DeepLinkError::MalformedSignature)?;
    if header.alg != "ES256" {
        return Err(refused("it is not an ES256 signature"));
    }
    let kid = header
        .kid
        .ok_or(refused("it does not say which key signed it"))?;
    let registered = keys
        .keys
        .get(&kid)
        .ok_or(refused("it is signed by a key this app does not know"))?;
    if registered.requester != request.requester() {
        return Err(refused(
            "it is signed by the key of another requester than the one it names",
        ));
    }
    let claims: LinkClaims = verify_es256(jws, &registered.key).map_err(|e| match e {
        JwtError::BadSignature => refused("the signature does not verify"),
        _ => refused("its signed content is not a request"),
    })?;
    let same = claims.requester == request.requester()
        && claims.scope == request.scope().as_str()
        && claims.return_to.as_deref() == request.return_to()
        && claims
            .match_code
            .as_deref()
            .map(str::parse::<u8>)
            .transpose()
            .ok()
            .flatten()
            == request.match_code()
        && claims.match_code.as_ref().is_none_or(|m| m.len() == 2);
    if !same {
        return Err(refused("the signed request differs from the link's"));
    }
    if !(16..=64).contains(&claims.nonce.len())
        || !claims
            .nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(refused("its nonce is not acceptable"));
    }
    if claims.exp <= now_secs {
        return Err(refused("it has expired"));
    }
    if claims.iat > now_secs + CLOCK_SKEW_SECS
        || claims.exp <= claims.iat
        || claims.exp - claims.iat > MAX_LIFETIME_SECS
    {
        return Err(refused("its validity period is not acceptable"));
    }
    Ok(Verified {
        kid,
        nonce: claims.nonce,
        exp: claims.exp,
    })
}
