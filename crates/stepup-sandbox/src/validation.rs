//! Input bounds and the normal forms of email addresses and phone numbers: what every rule
//! checks before it looks anything up.

use crate::error::ApiError;

/// The longest email address accepted.
pub(crate) const MAX_EMAIL_LEN: usize = 254;
/// The longest code (email/SMS, TOTP, recovery) accepted.
pub(crate) const MAX_CODE_LEN: usize = 64;
/// The longest id (verification, device, path parameter) accepted.
pub(crate) const MAX_ID_LEN: usize = 128;
/// The most scopes one request may ask for.
pub(crate) const MAX_SCOPES: usize = 32;

/// Validates and normalises an email address (trimmed, lower case).
pub(crate) fn normalize_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(format!(
            "an email address has 1 to {MAX_EMAIL_LEN} characters"
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("an email address needs an @".into());
    };
    let ok_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_graphic() && c != '@' && c != '"' && c != ':')
    };
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || !ok_chars(local)
        || !ok_chars(domain)
    {
        return Err("this is not a valid email address".into());
    }
    Ok(email.to_ascii_lowercase())
}

/// Validates a phone number; returns (country code, ISO, national digits).
pub(crate) fn normalize_phone(
    country_code: &str,
    iso: &str,
    number: &str,
) -> Result<(String, String, String), String> {
    let cc = country_code.trim().trim_start_matches('+');
    if cc.is_empty() || cc.len() > 4 || !cc.chars().all(|c| c.is_ascii_digit()) {
        return Err("phoneCountryCode is 1 to 4 digits, without +".into());
    }
    let iso = iso.trim();
    if iso.len() != 2 || !iso.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err("isoCountryCode is two letters (US, GB ...)".into());
    }
    if number.len() > 32
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || " -().".contains(c))
    {
        return Err("phoneNumber has only digits (and spaces or dashes)".into());
    }
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if !(4..=15).contains(&digits.len()) {
        return Err("phoneNumber has 4 to 15 digits".into());
    }
    Ok((cc.to_owned(), iso.to_ascii_uppercase(), digits))
}

/// Refuses an empty `field`, or one longer than `max`.
pub(crate) fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid_request(format!("{field} is empty")));
    }
    if value.len() > max {
        return Err(ApiError::invalid_request(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Shortens a hostile string before it is echoed in an error.
pub(crate) fn shown(s: &str) -> String {
    let short: String = s.chars().take(64).collect();
    if short.len() < s.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// The normal form (lower-case hex) of an `x-dyn-session-public-key`: 66 hex characters that
/// are a compressed SEC1 point on P-256 (`02`/`03` prefix), as the SDK's keychain makes it
/// (C:`createKeychainService`: `compressRawPublicKey`, `bufferToHex`).
pub(crate) fn normalize_session_public_key(hex_key: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::unprocessable(
            stepup_protocol::codes::INVALID_SESSION_PUBLIC_KEY,
            "the session public key must be a compressed P-256 point in hex (66 characters)",
        )
    };
    if hex_key.len() != 66 {
        return Err(invalid());
    }
    let bytes = hex::decode(hex_key).map_err(|_| invalid())?;
    if !matches!(bytes[0], 2 | 3) {
        return Err(invalid());
    }
    p256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| invalid())?;
    Ok(hex_key.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_and_phone_validation() {
        assert_eq!(
            normalize_email(" Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "no-at",
            "@x.io",
            "a@b",
            &format!("{}@x.io", "a".repeat(300)),
            "a b@x.io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_phone("+1", "us", "555-0100").unwrap(),
            ("1".into(), "US".into(), "5550100".into())
        );
        assert!(normalize_phone("1", "USA", "5550100").is_err());
        assert!(normalize_phone("1", "US", "12").is_err());
    }
}
