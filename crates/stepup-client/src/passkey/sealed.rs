//! The device passkey's state sealed under the user's PIN: real user verification for a
//! software authenticator.
//!
//! The soft token's CBOR (private keys and signature counter) is encrypted with AES-256-GCM
//! under a key derived from the PIN by Argon2id, so no signature can be made without the PIN:
//! the token's "user verified" flag is true only because nothing can sign without it. Like a
//! CTAP2 authenticator's PIN retries, [`PIN_TRIES`] wrong PINs in a row lock the passkey for
//! good (it must be removed and added again); a right PIN resets the count.
//!
//! What this protects against, and what not: someone at this desktop with the app (a stray
//! keystroke, a person who borrowed the session) cannot use the passkey without the PIN, and
//! guessing is cut off after eight tries. A process that can read the keychain item can copy
//! the envelope and guess offline, slowed only by Argon2id's cost; a process that can write
//! it can reset the counter. A hardware authenticator holds its counter where software cannot
//! reach; the OS's own verification (polkit, Windows Hello) is the better path where present.
//!
//! The envelope is JSON (it is stored as one keychain secret): version, Argon2id parameters,
//! salt, nonce, ciphertext, tries left. The header fields are the AEAD's associated data, so
//! they cannot be changed without the PIN (except `triesLeft`, which must change without it).

use super::os::OsVerifier;
use crate::error::StepUpError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use stepup_protocol::Secret;
use zeroize::Zeroizing;

/// Wrong PINs in a row that lock the passkey (CTAP2's PIN retries).
pub const PIN_TRIES: u8 = 8;
/// A new PIN has at least this many characters.
pub const MIN_PIN_CHARS: usize = 6;
/// A PIN has at most this many bytes (CTAP2's limit).
pub const MAX_PIN_BYTES: usize = 63;

/// The envelope's version.
const VERSION: u8 = 2;
/// Argon2id cost of new envelopes: OWASP's first recommendation (46 MiB, one pass).
const DEFAULT_KDF: Kdf = Kdf {
    m_kib: 47_104,
    t: 1,
    p: 1,
};
/// Bounds on the cost read from an envelope (a hostile entry must not make us allocate GBs).
const MAX_M_KIB: u32 = 256 * 1024;
const MIN_M_KIB: u32 = 8 * 1024;
const MAX_T: u32 = 8;
const MAX_P: u32 = 4;
/// The soft token's CBOR is about 3 KB; anything far bigger is not ours.
const MAX_CIPHERTEXT: usize = 64 * 1024;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Kdf {
    /// Memory, KiB.
    m_kib: u32,
    /// Passes.
    t: u32,
    /// Lanes.
    p: u32,
}

/// The stored form.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Envelope {
    v: u8,
    kdf: Kdf,
    salt: String,
    nonce: String,
    ct: String,
    tries_left: u8,
    /// Sealed by the OS's user verification (polkit) instead of a PIN: the key is the one the
    /// OS releases for `salt` after the user authenticated (`super::os`); `kdf` is unused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    os: bool,
}

/// What the store holds, as read.
pub(crate) enum Stored {
    /// A state from before PINs (plain base64url CBOR): it cannot verify its user.
    Unsealed,
    /// A sealed state.
    Sealed(Sealed),
}

/// A parsed envelope.
pub(crate) struct Sealed {
    kdf: Kdf,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    ct: Vec<u8>,
    tries_left: u8,
    os: bool,
}

/// The PIN's key, kept for one ceremony to seal the updated state again.
pub(crate) struct PinKey {
    kdf: Kdf,
    salt: [u8; SALT_LEN],
    key: Zeroizing<[u8; 32]>,
    /// Released by the OS's user verification rather than derived from a PIN.
    os: bool,
}

/// Whether a stored state is sealed, and how many tries it has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "state"
)]
pub enum PinStatus {
    /// No passkey on this device.
    NotEnrolled,
    /// A passkey from before PINs: it must be added again with a PIN.
    NoPin,
    /// Sealed; `tries_left` wrong PINs lock it.
    Set {
        /// Wrong PINs left before the passkey locks.
        tries_left: u8,
    },
    /// Locked after [`PIN_TRIES`] wrong PINs.
    Locked,
    /// Sealed by the OS's own user verification (polkit): no PIN; the OS asks.
    Os,
}

fn corrupt(what: &str) -> StepUpError {
    StepUpError::Vault(crate::vault::VaultError::Corrupt(format!(
        "the device passkey state {what}"
    )))
}

/// Reads what the store holds (bounded: the store's own limits, then ours).
pub(crate) fn parse(stored: &Secret) -> Result<Stored, StepUpError> {
    let text = stored.expose();
    if !text.starts_with('{') {
        return Ok(Stored::Unsealed);
    }
    if text.len() > MAX_CIPHERTEXT * 2 {
        return Err(corrupt("is too large"));
    }
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|_| corrupt("is not a sealed passkey"))?;
    if envelope.v != VERSION {
        return Err(corrupt("has an unknown version"));
    }
    let Kdf { m_kib, t, p } = envelope.kdf;
    if !(MIN_M_KIB..=MAX_M_KIB).contains(&m_kib)
        || !(1..=MAX_T).contains(&t)
        || !(1..=MAX_P).contains(&p)
    {
        return Err(corrupt("has out-of-range key derivation parameters"));
    }
    if envelope.tries_left > PIN_TRIES || envelope.ct.len() > MAX_CIPHERTEXT * 4 / 3 + 4 {
        return Err(corrupt("is malformed"));
    }
    let fixed = |field: &str, value: &str, len: usize| -> Result<Vec<u8>, StepUpError> {
        B64.decode(value)
            .ok()
            .filter(|bytes| bytes.len() == len)
            .ok_or_else(|| corrupt(&format!("has a malformed {field}")))
    };
    let mut salt = [0; SALT_LEN];
    salt.copy_from_slice(&fixed("salt", &envelope.salt, SALT_LEN)?);
    let mut nonce = [0; NONCE_LEN];
    nonce.copy_from_slice(&fixed("nonce", &envelope.nonce, NONCE_LEN)?);
    let ct = B64
        .decode(&envelope.ct)
        .map_err(|_| corrupt("has a malformed ciphertext"))?;
    Ok(Stored::Sealed(Sealed {
        kdf: envelope.kdf,
        salt,
        nonce,
        ct,
        tries_left: envelope.tries_left,
        os: envelope.os,
    }))
}

/// The status of what the store holds.
pub(crate) fn status(stored: Option<&Secret>) -> Result<PinStatus, StepUpError> {
    Ok(match stored.map(parse).transpose()? {
        None => PinStatus::NotEnrolled,
        Some(Stored::Unsealed) => PinStatus::NoPin,
        Some(Stored::Sealed(s)) if s.os => PinStatus::Os,
        Some(Stored::Sealed(s)) if s.tries_left == 0 => PinStatus::Locked,
        Some(Stored::Sealed(s)) => PinStatus::Set {
            tries_left: s.tries_left,
        },
    })
}

/// Refuses a new PIN that is too short, too long, or trivially guessed (one repeated
/// character, or a run such as 123456 or 654321).
pub fn check_new_pin(pin: &Secret) -> Result<(), StepUpError> {
    let pin = pin.expose();
    let chars: Vec<char> = pin.chars().take(MAX_PIN_BYTES + 1).collect();
    if chars.len() < MIN_PIN_CHARS {
        return Err(StepUpError::PinRejected(
            "choose a PIN of at least 6 characters",
        ));
    }
    if pin.len() > MAX_PIN_BYTES {
        return Err(StepUpError::PinRejected(
            "choose a shorter PIN (at most 63 bytes)",
        ));
    }
    if chars.iter().any(|c| c.is_control()) {
        return Err(StepUpError::PinRejected(
            "a PIN cannot contain control characters",
        ));
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0])))
        .collect();
    if steps.iter().all(|&d| d == steps[0]) && steps[0].abs() <= 1 {
        return Err(StepUpError::PinRejected(
            "choose a PIN that is not one repeated character or a run like 123456",
        ));
    }
    Ok(())
}

fn derive(
    pin: &Secret,
    kdf: Kdf,
    salt: &[u8; SALT_LEN],
) -> Result<Zeroizing<[u8; 32]>, StepUpError> {
    let pin = pin.expose();
    if pin.is_empty() {
        return Err(StepUpError::PinRequired);
    }
    if pin.len() > MAX_PIN_BYTES {
        // No PIN this long was ever accepted: not a try.
        return Err(StepUpError::PinRejected("a PIN has at most 63 bytes"));
    }
    let params = Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32))
        .map_err(|_| corrupt("has unusable key derivation parameters"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, key.as_mut())
        .map_err(|_| corrupt("could not derive its key"))?;
    Ok(key)
}

/// The associated data: every header field but the tries.
fn aad(kdf: Kdf, salt: &[u8; SALT_LEN], os: bool) -> Vec<u8> {
    let mut aad = format!(
        "stepup-device-passkey/v{VERSION}/{}/{}/{}/{}",
        kdf.m_kib,
        kdf.t,
        kdf.p,
        if os { "os/" } else { "" }
    )
    .into_bytes();
    aad.extend_from_slice(salt);
    aad
}

impl PinKey {
    /// A key for a new PIN (a new salt), after [`check_new_pin`].
    pub(crate) fn new_pin(pin: &Secret) -> Result<Self, StepUpError> {
        check_new_pin(pin)?;
        let mut salt = [0; SALT_LEN];
        rand::rng().fill_bytes(&mut salt);
        let key = derive(pin, DEFAULT_KDF, &salt)?;
        Ok(Self {
            kdf: DEFAULT_KDF,
            salt,
            key,
            os: false,
        })
    }

    /// A key the OS releases (after the user authenticated to it) for a new salt.
    pub(crate) fn new_os(os: &dyn OsVerifier) -> Result<Self, StepUpError> {
        let mut salt = [0; SALT_LEN];
        rand::rng().fill_bytes(&mut salt);
        let key = os.release(&salt)?;
        Ok(Self {
            kdf: DEFAULT_KDF,
            salt,
            key,
            os: true,
        })
    }

    /// Seals `cbor` (a fresh nonce every time), with all tries.
    pub(crate) fn seal(&self, cbor: &[u8]) -> Result<Secret, StepUpError> {
        let cipher = Aes256Gcm::new_from_slice(self.key.as_ref())
            .map_err(|_| corrupt("could not be sealed"))?;
        let mut nonce = [0; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad(self.kdf, &self.salt, self.os);
        let ct = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: cbor,
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt("could not be sealed"))?;
        let envelope = Envelope {
            v: VERSION,
            kdf: self.kdf,
            salt: B64.encode(self.salt),
            nonce: B64.encode(nonce),
            ct: B64.encode(ct),
            tries_left: PIN_TRIES,
            os: self.os,
        };
        serde_json::to_string(&envelope)
            .map(Secret::new)
            .map_err(|_| corrupt("could not be sealed"))
    }
}

/// What [`Sealed::open`] found.
pub(crate) enum Opened {
    /// The right PIN: the CBOR and the key to seal it again.
    Open {
        cbor: Zeroizing<Vec<u8>>,
        key: PinKey,
    },
    /// A wrong PIN: the envelope to store with one try fewer (zero: locked).
    Wrong { store: Secret, tries_left: u8 },
}

impl Sealed {
    /// Wrong PINs left before the passkey locks.
    pub(crate) fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// Whether the OS's user verification sealed it (no PIN).
    pub(crate) fn is_os(&self) -> bool {
        self.os
    }

    /// Asks the OS to verify the user and release the key; a refusal opens nothing and costs
    /// no try (the OS counts its own). A released key that does not open the envelope means
    /// the OS's secret is not the one that sealed it (another machine, a reinstalled helper).
    pub(crate) fn open_os(
        &self,
        os: &dyn OsVerifier,
    ) -> Result<(Zeroizing<Vec<u8>>, PinKey), StepUpError> {
        if !self.os {
            return Err(corrupt("is sealed by a PIN"));
        }
        let key = os.release(&self.salt)?;
        match self.decrypt(key)? {
            Opened::Open { cbor, key } => Ok((cbor, key)),
            Opened::Wrong { .. } => Err(corrupt(
                "was sealed by another OS secret: remove the passkey and add it again",
            )),
        }
    }

    /// Tries `pin`. A locked envelope refuses without trying.
    pub(crate) fn open(&self, pin: &Secret) -> Result<Opened, StepUpError> {
        if self.os {
            return Err(corrupt(
                "is sealed by the OS's user verification, not a PIN",
            ));
        }
        if self.tries_left == 0 {
            return Err(StepUpError::PinLocked);
        }
        self.decrypt(derive(pin, self.kdf, &self.salt)?)
    }

    fn decrypt(&self, key: Zeroizing<[u8; 32]>) -> Result<Opened, StepUpError> {
        let cipher =
            Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| corrupt("could not be opened"))?;
        let aad = aad(self.kdf, &self.salt, self.os);
        match cipher.decrypt(
            &Nonce::from(self.nonce),
            Payload {
                msg: &self.ct,
                aad: &aad,
            },
        ) {
            Ok(cbor) => Ok(Opened::Open {
                cbor: Zeroizing::new(cbor),
                key: PinKey {
                    kdf: self.kdf,
                    salt: self.salt,
                    key,
                    os: self.os,
                },
            }),
            Err(_) => {
                let tries_left = self.tries_left.saturating_sub(1);
                Ok(Opened::Wrong {
                    store: self.with_tries(tries_left)?,
                    tries_left,
                })
            }
        }
    }

    /// The same envelope with `tries_left`.
    fn with_tries(&self, tries_left: u8) -> Result<Secret, StepUpError> {
        let envelope = Envelope {
            v: VERSION,
            kdf: self.kdf,
            salt: B64.encode(self.salt),
            nonce: B64.encode(self.nonce),
            ct: B64.encode(&self.ct),
            tries_left,
            os: self.os,
        };
        serde_json::to_string(&envelope)
            .map(Secret::new)
            .map_err(|_| corrupt("could not be written"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(s: &str) -> Secret {
        Secret::new(s.to_owned())
    }

    fn sealed(stored: &Secret) -> Sealed {
        match parse(stored) {
            Ok(Stored::Sealed(s)) => s,
            _ => panic!("not sealed"),
        }
    }

    #[test]
    fn the_right_pin_opens_and_a_wrong_one_costs_a_try_until_locked() {
        let key = PinKey::new_pin(&pin("correct horse")).expect("key");
        let mut stored = key.seal(b"soft token cbor").expect("seal");
        assert_eq!(
            status(Some(&stored)).expect("status"),
            PinStatus::Set { tries_left: 8 }
        );
        for expected in (0..PIN_TRIES).rev() {
            match sealed(&stored).open(&pin("wrong pin!")).expect("open") {
                Opened::Wrong { store, tries_left } => {
                    assert_eq!(tries_left, expected);
                    stored = store;
                }
                Opened::Open { .. } => panic!("a wrong PIN opened the passkey"),
            }
        }
        assert_eq!(status(Some(&stored)).expect("status"), PinStatus::Locked);
        // Locked: even the right PIN is refused, without deriving anything.
        assert!(matches!(
            sealed(&stored).open(&pin("correct horse")),
            Err(StepUpError::PinLocked)
        ));
    }

    #[test]
    fn a_right_pin_returns_the_state_and_reseals_with_all_tries() {
        let key = PinKey::new_pin(&pin("correct horse")).expect("key");
        let stored = key.seal(b"soft token cbor").expect("seal");
        let Opened::Wrong { store, .. } = sealed(&stored).open(&pin("nope nope")).expect("open")
        else {
            panic!("wrong PIN opened")
        };
        let Opened::Open { cbor, key } = sealed(&store).open(&pin("correct horse")).expect("open")
        else {
            panic!("right PIN refused")
        };
        assert_eq!(cbor.as_slice(), b"soft token cbor");
        let resealed = key.seal(&cbor).expect("seal");
        assert_eq!(
            status(Some(&resealed)).expect("status"),
            PinStatus::Set { tries_left: 8 }
        );
        assert_ne!(
            resealed.expose(),
            stored.expose(),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn the_header_is_bound_to_the_ciphertext() {
        let key = PinKey::new_pin(&pin("correct horse")).expect("key");
        let stored = key.seal(b"soft token cbor").expect("seal");
        // Cheaper parameters written in by someone without the PIN: the right PIN no longer
        // opens it (the AEAD refuses), so a downgrade is not silent.
        let tampered = stored.expose().replace("\"t\":1", "\"t\":2");
        assert_ne!(tampered, stored.expose());
        assert!(matches!(
            sealed(&Secret::new(tampered)).open(&pin("correct horse")),
            Ok(Opened::Wrong { .. })
        ));
    }

    #[test]
    fn hostile_envelopes_are_refused_before_any_work() {
        for bad in [
            r#"{"v":2,"kdf":{"mKib":4294967295,"t":1,"p":1},"salt":"","nonce":"","ct":"","triesLeft":8}"#,
            r#"{"v":2,"kdf":{"mKib":47104,"t":100,"p":1},"salt":"","nonce":"","ct":"","triesLeft":8}"#,
            r#"{"v":2,"kdf":{"mKib":47104,"t":1,"p":1},"salt":"AAAA","nonce":"AAAA","ct":"","triesLeft":8}"#,
            r#"{"v":2,"kdf":{"mKib":47104,"t":1,"p":1},"salt":"","nonce":"","ct":"","triesLeft":200}"#,
            r#"{"v":3}"#,
            "{",
        ] {
            assert!(
                matches!(
                    parse(&Secret::new(bad.to_owned())),
                    Err(StepUpError::Vault(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(&Secret::new("b64cbor".to_owned())),
            Ok(Stored::Unsealed)
        ));
    }

    /// A stand-in for the OS in this unit test: a key per machine secret and salt, or a refusal.
    struct FakeOs(Option<u8>);
    impl OsVerifier for FakeOs {
        fn release(&self, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, StepUpError> {
            let secret = self.0.ok_or(StepUpError::UserNotVerified)?;
            let mut key = Zeroizing::new([secret; 32]);
            key[..16].copy_from_slice(salt);
            Ok(key)
        }
    }

    #[test]
    fn an_os_sealed_state_opens_only_with_the_oss_yes_and_never_with_a_pin() {
        let key = PinKey::new_os(&FakeOs(Some(1))).expect("key");
        let stored = key.seal(b"soft token cbor").expect("seal");
        assert_eq!(status(Some(&stored)).expect("status"), PinStatus::Os);
        let (cbor, key) = sealed(&stored)
            .open_os(&FakeOs(Some(1)))
            .expect("the OS's key opens it");
        assert_eq!(cbor.as_slice(), b"soft token cbor");
        assert_eq!(
            status(Some(&key.seal(&cbor).expect("reseal"))).expect("status"),
            PinStatus::Os,
            "resealed by the OS again"
        );
        // The OS says no: nothing opens, and the envelope is not touched (no tries).
        assert!(matches!(
            sealed(&stored).open_os(&FakeOs(None)),
            Err(StepUpError::UserNotVerified)
        ));
        // Another machine's secret: a clear error, not a wrong try.
        assert!(matches!(
            sealed(&stored).open_os(&FakeOs(Some(2))),
            Err(StepUpError::Vault(_))
        ));
        // No PIN opens it, and taking the flag off (to guess PINs) breaks the AEAD.
        assert!(matches!(
            sealed(&stored).open(&pin("correct horse")),
            Err(StepUpError::Vault(_))
        ));
        let unflagged = stored.expose().replace(",\"os\":true", "");
        assert_ne!(unflagged, stored.expose());
        let Opened::Wrong { .. } = sealed(&Secret::new(unflagged))
            .open(&pin("anything"))
            .expect("tried")
        else {
            panic!("a PIN opened an OS-sealed state")
        };
        // And a PIN-sealed state is not opened by the OS.
        let pinned = PinKey::new_pin(&pin("correct horse")).expect("key");
        let pinned = pinned.seal(b"x").expect("seal");
        assert!(sealed(&pinned).open_os(&FakeOs(Some(1))).is_err());
    }

    #[test]
    fn weak_new_pins_are_refused_with_the_reason() {
        for weak in [
            "", "12345", "111111", "123456", "654321", "abcdef", "zzzzzzzz",
        ] {
            assert!(
                matches!(check_new_pin(&pin(weak)), Err(StepUpError::PinRejected(_))),
                "{weak:?}"
            );
        }
        assert!(check_new_pin(&pin(&"x1".repeat(40))).is_err(), "too long");
        for good in ["135790", "correct horse", "2468 1357", "pässwörd"] {
            assert!(check_new_pin(&pin(good)).is_ok(), "{good:?}");
        }
    }
}
