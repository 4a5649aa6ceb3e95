//! What survives a restart, and how it is written: one JSON file, replaced atomically
//! (temporary file in the same directory, fsync, rename; mode 0600 on Unix).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use stepup_protocol::Secret;

use crate::error::SandboxError;

/// Bumped when the file's shape changes incompatibly.
pub(crate) const STATE_VERSION: u32 = 1;

/// The persisted state of one environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersistedState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The environment this state belongs to.
    pub environment_id: String,
    /// The ES256 key that signs session JWTs and elevated tokens, 32-byte scalar hex.
    pub signing_key: Secret,
    /// Users by id.
    pub users: BTreeMap<String, UserRecord>,
    /// Live sessions by `sid`; a rotated or revoked session is removed.
    pub sessions: BTreeMap<String, SessionRecord>,
    /// `jti` of consumed single-use elevated tokens → their `exp` (pruned after it).
    pub used_token_jtis: BTreeMap<String, i64>,
    /// `jti` of accepted external-auth assertions → their `exp` (pruned after it).
    pub used_external_jtis: BTreeMap<String, i64>,
    /// The user created by `seed_demo`.
    pub demo_user_id: Option<String>,
    /// The demo user's device passkey as enrolled: a soft token's CBOR, base64url. Handed to
    /// the app once per sandbox state; the app keeps (and advances) its own copy.
    #[serde(default)]
    pub demo_passkey_state: Option<Secret>,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserRecord {
    /// User id (UUID).
    pub id: String,
    /// Creation time, unix ms.
    pub created_at_ms: i64,
    /// The email address, lower case; unique.
    pub email: Option<EmailRecord>,
    /// The phone number; unique.
    pub phone: Option<PhoneRecord>,
    /// MFA devices, oldest first; unverified ones are pending registrations.
    pub mfa_devices: Vec<MfaDeviceRecord>,
    /// Salted hashes of the recovery codes.
    pub recovery_codes: Vec<RecoveryCodeRecord>,
    /// Embedded wallets.
    pub wallets: Vec<WalletRecord>,
    /// Times (unix ms) of wrong MFA codes, for the 5-per-15-minutes limit.
    #[serde(default)]
    pub mfa_failures_ms: Vec<i64>,
    /// Registered passkeys (MFA devices of type `passkey`), oldest first.
    #[serde(default)]
    pub passkeys: Vec<PasskeyRecord>,
}

/// A registered passkey: an MFA device of type `passkey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasskeyRecord {
    /// MFA device id.
    pub id: String,
    /// The credential id, base64url (unique across users).
    pub credential_id: String,
    /// The public key and its **signature counter**, which is updated and saved after every
    /// accepted assertion (persisted as a `passkey` or an `ed25519` field).
    #[serde(flatten)]
    pub key: PasskeyKey,
    /// Human label.
    pub alias: Option<String>,
    /// Marked default by the user.
    pub default: bool,
    /// Registered through `users/mfa/register/passkey` (true) or `users/passkeys/register`.
    pub mfa: bool,
    /// Creation time, unix ms.
    pub created_at_ms: i64,
}

/// The key of a passkey, by who verifies it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum PasskeyKey {
    /// webauthn-rs's credential (ES256, ES384, RS256): public key, algorithm and counter.
    #[serde(rename = "passkey")]
    WebauthnRs(Box<webauthn_rs::prelude::Passkey>),
    /// An EdDSA (Ed25519) credential, which webauthn-rs 0.6 cannot verify: the sandbox does.
    #[serde(rename = "ed25519")]
    Ed25519(Ed25519Credential),
}

/// An EdDSA passkey's public key and counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ed25519Credential {
    /// The 32-byte Ed25519 public key, base64url.
    pub public_key: String,
    /// The last accepted signature counter.
    pub counter: u32,
}

/// An email credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmailRecord {
    /// Verified-credential id.
    pub credential_id: String,
    /// Lower-case address.
    pub address: String,
}

/// A phone credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PhoneRecord {
    /// Verified-credential id.
    pub credential_id: String,
    /// Dialling prefix without `+`.
    pub country_code: String,
    /// ISO 3166 alpha-2, upper case.
    pub iso_country_code: String,
    /// National number, digits only.
    pub number: String,
}

/// A TOTP device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MfaDeviceRecord {
    /// Device id.
    pub id: String,
    /// Base32 shared secret.
    pub secret_base32: Secret,
    /// Human label.
    pub alias: Option<String>,
    /// Registration finished (a first code was accepted).
    pub verified: bool,
    /// Marked default by the user.
    pub default: bool,
    /// Creation time, unix ms.
    pub created_at_ms: i64,
    /// Verification time, unix ms.
    pub verified_at_ms: Option<i64>,
    /// The last accepted TOTP step; only later steps are accepted (replay protection).
    pub last_step: Option<u64>,
}

/// One recovery code, hashed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecoveryCodeRecord {
    /// Random salt, hex.
    pub salt: String,
    /// hex(SHA-256(salt ‖ normalized code)).
    pub hash: String,
    /// Consumed.
    pub used: bool,
}

/// An embedded wallet with a plain demo key (Dynamic's are MPC; see the README).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WalletRecord {
    /// Wallet id (the `{walletId}` of WaaS paths).
    pub id: String,
    /// Verified-credential id.
    pub credential_id: String,
    /// 0x-hex address.
    pub address: String,
    /// 32-byte private key, 0x-hex.
    pub private_key: Secret,
}

/// A session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionRecord {
    /// The user.
    pub user_id: String,
    /// The credential the session signed in with (re-auth `defaultCredentialId`).
    pub signin_credential_id: Option<String>,
    /// Expiry, unix seconds.
    pub expires_at: i64,
}

impl PersistedState {
    /// A fresh state with a new signing key.
    pub fn new(environment_id: &str, signing_key: Secret) -> Self {
        Self {
            version: STATE_VERSION,
            environment_id: environment_id.to_owned(),
            signing_key,
            users: BTreeMap::new(),
            sessions: BTreeMap::new(),
            used_token_jtis: BTreeMap::new(),
            used_external_jtis: BTreeMap::new(),
            demo_user_id: None,
            demo_passkey_state: None,
        }
    }
}

/// The directory of the state file, and the name prefix of its temporary copies.
fn temp_prefix(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    (dir, format!(".{file_name}.tmp-"))
}

/// Removes the temporary copies a crashed run left beside the state file (they hold the
/// signing key and every TOTP secret). Links are removed, never followed.
fn remove_leftovers(path: &Path) {
    let (dir, prefix) = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(file = %entry.path().display(), "removed a leftover temporary state file")
                }
                Err(error) => {
                    tracing::warn!(%error, "could not remove a leftover temporary state file")
                }
            }
        }
    }
}

/// Reads the state file; `Ok(None)` when it does not exist yet. Leftover temporary copies of
/// a crashed run are removed first.
pub(crate) fn load(path: &Path) -> Result<Option<PersistedState>, SandboxError> {
    let err = |reason: String| SandboxError::LoadState {
        path: path.display().to_string(),
        reason,
    };
    remove_leftovers(path);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    let state: PersistedState = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
    if state.version != STATE_VERSION {
        return Err(err(format!("unsupported state version {}", state.version)));
    }
    Ok(Some(state))
}

/// Writes the state file atomically: a new temporary file beside it, fsync, rename over it.
pub(crate) fn save(path: &Path, state: &PersistedState) -> Result<(), SandboxError> {
    let err = |reason: String| SandboxError::SaveState {
        path: path.display().to_string(),
        reason,
    };
    let json = serde_json::to_vec_pretty(state).map_err(|e| err(e.to_string()))?;
    let (dir, prefix) = temp_prefix(path);
    // A name nobody can guess, created new (O_EXCL: never an existing file, never through a
    // planted link; O_NOFOLLOW on top), 0600 from the start.
    let tmp = dir.join(format!("{prefix}{:016x}", rand::random::<u64>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let write = || -> std::io::Result<()> {
        let mut f = options.open(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e.to_string())
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt as _};

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stepup-store-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("a test dir");
        dir
    }

    fn state() -> PersistedState {
        PersistedState::new("env", Secret::new("not a real key".to_owned()))
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_planted_world_readable_file_does_not_widen_the_state() {
        let dir = dir();
        let path = dir.join("state.json");
        // Planted at the name the sandbox used to write to (`.state.json.tmp-<pid>`), and at
        // the state's own path.
        for planted in [
            dir.join(format!(".state.json.tmp-{}", std::process::id())),
            path.clone(),
        ] {
            std::fs::write(&planted, b"{}").unwrap();
            std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        save(&path, &state()).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(load(&path).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_planted_at_the_old_temporary_name_receives_nothing() {
        let dir = dir();
        let path = dir.join("state.json");
        let stolen = dir.join("attacker-reads-this");
        std::fs::write(&stolen, b"").unwrap();
        // The name the sandbox used to write through: `.state.json.tmp-<pid>`.
        symlink(
            &stolen,
            dir.join(format!(".state.json.tmp-{}", std::process::id())),
        )
        .unwrap();
        save(&path, &state()).unwrap();
        assert_eq!(
            std::fs::read(&stolen).unwrap(),
            b"",
            "the state went through the link"
        );
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leftovers_of_a_crashed_run_are_removed_at_load() {
        let dir = dir();
        let path = dir.join("state.json");
        save(&path, &state()).unwrap();
        let leftover = dir.join(".state.json.tmp-0123456789abcdef");
        std::fs::write(&leftover, b"signing key and TOTP secrets").unwrap();
        let other = dir.join("unrelated.json");
        std::fs::write(&other, b"{}").unwrap();
        assert!(load(&path).unwrap().is_some());
        assert!(!leftover.exists(), "the leftover is gone");
        assert!(other.exists(), "nothing else is touched");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
