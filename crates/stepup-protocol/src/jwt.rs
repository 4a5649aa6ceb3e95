//! Compact ES256 JWS: signing and verifying (the sandbox) and decoding without verifying (the
//! client reads only `scope`, `exp`, `singleUse`, exactly as the SDK does, §3.8).
//!
//! Written on `p256` rather than a JWT crate so that the workspace has one ECDSA implementation
//! (the device key and the passkeys use the same one) and no RSA code. Only `alg: ES256` is
//! accepted: no `none`, no HMAC, so no algorithm confusion.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Tokens longer than this are refused before any decoding (hostile input).
pub const MAX_JWT_LEN: usize = 16 * 1024;

/// Why a JWT was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts, too long, or not JSON.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header names another algorithm than ES256.
    #[error("the token is not signed with ES256")]
    WrongAlgorithm,
    /// The signature does not verify with the expected key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The claims do not have the expected shape.
    #[error("the token's claims are invalid")]
    BadClaims,
}

/// The JOSE header we write and accept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Must be `ES256`.
    pub alg: String,
    /// `JWT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// The claims of an elevated access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElevatedTokenClaims {
    /// The user id.
    #[serde(default)]
    pub sub: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// Expiry, unix seconds.
    #[serde(default)]
    pub exp: i64,
    /// Issued at, unix seconds.
    #[serde(default)]
    pub iat: i64,
    /// Unique id; the authority refuses a single-use `jti` twice.
    #[serde(default)]
    pub jti: String,
    /// Whether the token is consumed by its first use. Absent means false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_use: Option<bool>,
}

/// The claims of a session JWT (`minifiedJwt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionClaims {
    /// The user id.
    pub sub: String,
    /// The session id; rotated by every verification.
    pub sid: String,
    /// The environment id.
    pub environment_id: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Space-separated session scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client session key the session is bound to (A:`MinifiedDynamicJwt.sessionPublicKey`):
    /// the `x-dyn-session-public-key` sent when it was signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_public_key: Option<String>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)
}

fn split(token: &str) -> Result<[&str; 3], JwtError> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() => Ok([h, p, s]),
        _ => Err(JwtError::Malformed),
    }
}

/// Signs `claims` as an ES256 compact JWS.
pub fn sign_es256<T: Serialize>(
    key: &SigningKey,
    kid: Option<&str>,
    claims: &T,
) -> Result<String, JwtError> {
    let header = Header {
        alg: "ES256".into(),
        typ: Some("JWT".into()),
        kid: kid.map(str::to_owned),
    };
    let header = serde_json::to_vec(&header).map_err(|_| JwtError::BadClaims)?;
    let payload = serde_json::to_vec(claims).map_err(|_| JwtError::BadClaims)?;
    let signing_input = format!("{}.{}", b64(&header), b64(&payload));
    let signature: Signature = key.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", b64(&signature.to_bytes())))
}

/// Verifies an ES256 compact JWS with `key` and returns its claims.
pub fn verify_es256<T: DeserializeOwned>(token: &str, key: &VerifyingKey) -> Result<T, JwtError> {
    let [h, p, s] = split(token)?;
    let header: Header = serde_json::from_slice(&unb64(h)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != "ES256" {
        return Err(JwtError::WrongAlgorithm);
    }
    let signature = Signature::from_slice(&unb64(s)?).map_err(|_| JwtError::BadSignature)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    key.verify(signing_input.as_bytes(), &signature)
        .map_err(|_| JwtError::BadSignature)?;
    serde_json::from_slice(&unb64(p)?).map_err(|_| JwtError::BadClaims)
}

/// Whether an `aud` claim names `audience`: a string, or one of at most 16 in an array (RFC
/// 7519 §4.1.3).
pub fn names_audience(aud: Option<&serde_json::Value>, audience: &str) -> bool {
    match aud {
        Some(serde_json::Value::String(a)) => a == audience,
        Some(serde_json::Value::Array(all)) => {
            all.iter().take(16).any(|a| a.as_str() == Some(audience))
        }
        _ => false,
    }
}

/// The header, **unverified**: to pick the key a token names (`kid`) before verifying with it.
pub fn header_unverified(token: &str) -> Result<Header, JwtError> {
    let [h, _, _] = split(token)?;
    serde_json::from_slice(&unb64(h)?).map_err(|_| JwtError::Malformed)
}

/// Decodes the payload **without verifying** the signature, as the SDK's `decodeJwt` does.
/// Use it only on tokens the client holds, never to authorise anything.
pub fn decode_unverified<T: DeserializeOwned>(token: &str) -> Result<T, JwtError> {
    let [_, p, _] = split(token)?;
    serde_json::from_slice(&unb64(p)?).map_err(|_| JwtError::BadClaims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn claims() -> ElevatedTokenClaims {
        ElevatedTokenClaims {
            sub: "u1".into(),
            scope: "wallet:export".into(),
            exp: 2_000_000_000,
            iat: 1_999_999_700,
            jti: "j1".into(),
            single_use: Some(true),
        }
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let k = key();
        let t = sign_es256(&k, Some("k1"), &claims()).unwrap();
        let back: ElevatedTokenClaims = verify_es256(&t, k.verifying_key()).unwrap();
        assert_eq!(back, claims());
        assert!(
            !t.contains("\"singleUse\""),
            "payload is base64url, not raw JSON"
        );
        let raw: serde_json::Value = decode_unverified(&t).unwrap();
        assert_eq!(raw["singleUse"], serde_json::json!(true));
    }

    #[test]
    fn tampered_payload_or_other_key_is_refused() {
        let k = key();
        let t = sign_es256(&k, None, &claims()).unwrap();
        let mut other = claims();
        other.scope = "wallet:export wallet:sign".into();
        let forged_payload = b64(&serde_json::to_vec(&other).unwrap());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            verify_es256::<ElevatedTokenClaims>(&forged, k.verifying_key()),
            Err(JwtError::BadSignature)
        );
        let k2 = SigningKey::from_slice(&[9u8; 32]).unwrap();
        assert_eq!(
            verify_es256::<ElevatedTokenClaims>(&t, k2.verifying_key()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        let k = key();
        let none_header = b64(br#"{"alg":"none"}"#);
        let payload = b64(&serde_json::to_vec(&claims()).unwrap());
        let t = format!("{none_header}.{payload}.");
        assert_eq!(
            verify_es256::<ElevatedTokenClaims>(&t, k.verifying_key()),
            Err(JwtError::WrongAlgorithm)
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.??.**",
            &"a".repeat(MAX_JWT_LEN + 1),
        ] {
            assert!(
                decode_unverified::<serde_json::Value>(bad).is_err(),
                "{bad:.20}"
            );
        }
    }
}
