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

/// Reads the state file; `Ok(None)` when it does not exist yet.
pub(crate) fn load(path: &Path) -> Result<Option<PersistedState>, SandboxError> {
    let err = |reason: String| SandboxError::LoadState {
        path: path.display().to_string(),
        reason,
    };
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

/// Writes the state file atomically.
pub(crate) fn save(path: &Path, state: &PersistedState) -> Result<(), SandboxError> {
    let err = |reason: String| SandboxError::SaveState {
        path: path.display().to_string(),
        reason,
    };
    let json = serde_json::to_vec_pretty(state).map_err(|e| err(e.to_string()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
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
