//! Small primitives: randomness, constant-time comparison, salted hashes, TOTP, masking.

use p256::ecdsa::SigningKey;
use rand::Rng;
use sha2::{Digest, Sha256};
use stepup_protocol::Secret;

/// RFC 4648 base32 alphabet, used for recovery codes.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `n` random bytes from the OS-seeded CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill(&mut out[..]);
    out
}

/// A fresh random id (UUID v4).
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new random P-256 key (JWT signing).
pub(crate) fn new_signing_key() -> SigningKey {
    loop {
        // A random 32-byte string is a valid scalar except with negligible probability.
        if let Ok(key) = SigningKey::from_slice(&random_bytes::<32>()) {
            return key;
        }
    }
}

/// Six random decimal digits.
pub(crate) fn otp_code() -> Secret {
    Secret::new(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
}

/// A recovery code `XXXXX-XXXXX` (50 bits, base32).
pub(crate) fn recovery_code() -> Secret {
    let bytes = random_bytes::<10>();
    let chars: String = bytes
        .iter()
        .map(|b| BASE32[usize::from(b & 31)] as char)
        .collect();
    Secret::new(format!("{}-{}", &chars[..5], &chars[5..]))
}

/// Canonical form of a typed recovery code: upper case, no separators or spaces.
pub(crate) fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// hex(SHA-256(salt ‖ value)).
pub(crate) fn salted_hash(salt: &[u8], value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(value.as_bytes());
    hex::encode(h.finalize())
}

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// TOTP step length, seconds (RFC 6238 default).
pub(crate) const TOTP_STEP_SECS: i64 = 30;

/// A TOTP generator for a base32 secret: SHA-1, 6 digits, 30 s, no skew (the caller walks the
/// ±1 window itself so that it can refuse already-used steps).
fn totp_for(secret_base32: &str) -> Option<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32.trim_end_matches('=')).ok()?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_skew(0)
        .build()
        .ok()
}

/// The RFC 6238 code of `secret_base32` at unix time `unix_secs`; `None` for a bad secret.
pub fn totp_code_at(secret_base32: &str, unix_secs: i64) -> Option<String> {
    let t = u64::try_from(unix_secs).ok()?;
    Some(totp_for(secret_base32)?.generate(t).to_string())
}

/// Checks `code` against the steps `now-1 ..= now+1` that are strictly after `last_step`,
/// and returns the matched step.
pub(crate) fn totp_match(
    secret_base32: &str,
    code: &str,
    now_secs: i64,
    last_step: Option<u64>,
) -> Option<u64> {
    let totp = totp_for(secret_base32)?;
    let now_step = u64::try_from(now_secs.div_euclid(TOTP_STEP_SECS)).ok()?;
    let step_secs = u64::try_from(TOTP_STEP_SECS).ok()?;
    (now_step.saturating_sub(1)..=now_step + 1)
        .filter(|s| last_step.is_none_or(|last| *s > last))
        .find(|s| totp.check(code, s * step_secs).is_some())
}

/// A new TOTP secret (160 bits), base32 without padding.
pub(crate) fn new_totp_secret() -> Secret {
    Secret::new(
        totp_rs::Secret::from(random_bytes::<20>())
            .to_base32()
            .trim_end_matches('=')
            .to_owned(),
    )
}

/// `alice@example.com` → `a•••@example.com`.
pub(crate) fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// (`1`, `5551234567`) → `+1 •••• 4567`.
pub(crate) fn mask_phone(country_code: &str, number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("+{country_code} •••• {tail}")
}

/// `0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed` → `0x5aAe…BeAed` (an address is public; the
/// short form is what wallets show).
pub(crate) fn mask_address(address: &str) -> String {
    match (
        address.get(..6),
        address.get(address.len().saturating_sub(5)..),
    ) {
        (Some(head), Some(tail)) if address.len() > 12 => format!("{head}…{tail}"),
        _ => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890", T = 59 → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(totp_code_at(secret, 59).as_deref(), Some("287082"));
        assert_eq!(
            totp_code_at(secret, 1_111_111_109).as_deref(),
            Some("081804")
        );
    }

    #[test]
    fn totp_window_and_replay() {
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let now = 1_700_000_000;
        let prev = totp_code_at(secret, now - 30).unwrap();
        let step = totp_match(secret, &prev, now, None).unwrap();
        assert_eq!(step, u64::try_from(now / 30 - 1).unwrap());
        assert_eq!(totp_match(secret, &prev, now, Some(step)), None);
        let far = totp_code_at(secret, now - 90).unwrap();
        assert_eq!(totp_match(secret, &far, now, None), None);
    }

    #[test]
    fn masks_and_codes() {
        assert_eq!(mask_email("alice@example.com"), "a•••@example.com");
        assert_eq!(mask_phone("1", "5551234567"), "+1 •••• 4567");
        let code = recovery_code();
        assert_eq!(code.expose().len(), 11);
        assert_eq!(
            normalize_recovery_code(&code.expose().to_lowercase()).len(),
            10
        );
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
    }
}
