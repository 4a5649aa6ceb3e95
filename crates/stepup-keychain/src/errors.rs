//! Keyring errors as [`VaultError`]s, without ever formatting a secret.
//!
//! `keyring_core::Error::BadEncoding` and `BadDataFormat` carry the stored bytes: they are
//! mapped by variant only, never through `Debug`.

use stepup_client::vault::VaultError;

/// The mapping when the platform has nothing more precise to say (see `platform::classify`).
pub(crate) fn generic(err: &keyring_core::Error) -> VaultError {
    use keyring_core::Error as E;
    match err {
        E::NoStorageAccess(inner) => {
            // The variant cannot carry the platform's detail: keep it in the debug log.
            tracing::debug!(detail = %short(&inner.to_string()), "keychain access refused");
            VaultError::AccessDenied
        }
        E::PlatformFailure(inner) => VaultError::Other(short(&inner.to_string())),
        E::NoEntry => VaultError::Other("an entry vanished while it was being used".into()),
        E::BadEncoding(_) | E::BadDataFormat(..) => {
            VaultError::Corrupt("an entry is not UTF-8".into())
        }
        E::BadStoreFormat(reason) => VaultError::Corrupt(short(reason)),
        E::Ambiguous(items) => {
            VaultError::Corrupt(format!("{} keychain items match one entry", items.len()))
        }
        E::TooLong(what, limit) => {
            VaultError::Other(format!("`{what}` exceeds the keychain's limit of {limit}"))
        }
        E::Invalid(what, reason) => {
            VaultError::Other(format!("`{what}` is invalid: {}", short(reason)))
        }
        E::NoDefaultStore => VaultError::Unavailable("no keychain store".into()),
        E::NotSupportedByStore(what) => {
            VaultError::Other(format!("unsupported by the keychain: {}", short(what)))
        }
        _ => VaultError::Other(short(&err.to_string())),
    }
}

/// Error texts from the platform carry no secrets, but may be long: keep the first line, capped.
pub(crate) fn short(text: &str) -> String {
    const MAX: usize = 160;
    let line = text.lines().next().unwrap_or_default();
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut cut = MAX;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &line[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_encoding_never_shows_the_bytes() {
        let mapped = generic(&keyring_core::Error::BadEncoding(
            b"super-secret-\xff".to_vec(),
        ));
        assert!(matches!(mapped, VaultError::Corrupt(_)));
        assert!(!format!("{mapped:?} {mapped}").contains("super-secret"));
    }

    #[test]
    fn short_cuts_long_text_at_a_character_boundary() {
        let long = "é".repeat(200);
        let s = short(&long);
        assert!(s.len() <= 160 + "…".len());
        assert!(short("a\nb") == "a");
    }
}
