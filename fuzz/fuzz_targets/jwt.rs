//! The JWT parsers: `jwt::decode_unverified` for elevated-token and session claims (the client
//! reads tokens it holds), `jwt::verify_es256` (the sandbox checks session, elevated and
//! external-auth tokens), and the client's `tokens::parse_elevated_token`.
//!
//! Asserts: no panic; nothing verifies under a key the input cannot know; a token that
//! verifies (the seeds hold some, signed with the fixed key) decodes to the same claims without
//! verifying; a parsed elevated token has scopes, expires after `now`, and keeps the raw token;
//! decoded claims re-sign and verify to the same claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::{SigningKey, VerifyingKey};
use std::sync::OnceLock;
use stepup_client::tokens::parse_elevated_token;
use stepup_protocol::jwt::{self, ElevatedTokenClaims, JwtError, SessionClaims};
use stepup_protocol::Secret;

/// The seeds' key (scalar 7…7): tokens mutated from a seed may still verify.
fn seed_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_slice(&[7u8; 32]).expect("key"))
}

/// A key no seed was signed with.
fn other_key() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| *SigningKey::from_slice(&[9u8; 32]).expect("key").verifying_key())
}

const NOW_MS: i64 = 1_700_000_000_000;

fn check<T>(token: &str)
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let unverified = jwt::decode_unverified::<T>(token);
    assert!(
        jwt::verify_es256::<T>(token, other_key()).is_err(),
        "a token verified under a key it was not signed with"
    );
    if let Ok(claims) = jwt::verify_es256::<T>(token, seed_key().verifying_key()) {
        assert_eq!(unverified.as_ref().ok(), Some(&claims), "verify and decode disagree");
    }
    if let Ok(claims) = unverified {
        let signed = jwt::sign_es256(seed_key(), Some("k"), &claims).expect("sign");
        let back: T = jwt::verify_es256(&signed, seed_key().verifying_key()).expect("re-verify");
        assert_eq!(back, claims, "claims change through sign and verify");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    check::<ElevatedTokenClaims>(token);
    check::<SessionClaims>(token);
    if token.len() > jwt::MAX_JWT_LEN {
        assert_eq!(
            jwt::decode_unverified::<serde_json::Value>(token).err(),
            Some(JwtError::Malformed)
        );
    }
    let raw = Secret::new(token);
    if let Ok(Some(t)) = parse_elevated_token(&raw, NOW_MS) {
        assert!(!t.scopes.is_empty(), "a token without scopes was kept");
        assert!(t.expires_at_ms > NOW_MS, "an expired token was kept");
        assert_eq!(t.token.expose(), token, "the stored token is not the raw one");
    }
});
