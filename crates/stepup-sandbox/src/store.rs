//! What survives a restart, and how it is written: a snapshot and a journal beside it.
//!
//! - The snapshot (`state.json`): the whole [`PersistedState`] as JSON, replaced atomically
//!   (a new temporary file with a random name, `O_EXCL`/`O_NOFOLLOW`, mode 0600, fsync,
//!   rename, fsync of the directory).
//! - The journal (`state.json.journal`, written the same way when it starts, then appended
//!   to): one checksummed record per save holding only the entities that save changed
//!   ([`changes::Change`]), fsync'd before the save returns, so a save costs what it changed
//!   and not the whole state. Loading replays it over the snapshot.
//! - Compaction (at start, and when the journal outgrows the snapshot or 10,000 records):
//!   a new snapshot with the next generation, then a new empty journal of that generation.
//!   A crash between the two leaves a journal of an older generation, which the snapshot
//!   already holds: it is ignored. A torn last record (a crash mid-append) is dropped; damage
//!   anywhere else stops the load with an error that names it.
//!
//! Everything read is bounded before it is allocated: the snapshot and the journal sizes,
//! each record's length, the record count (`journal`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use stepup_protocol::Secret;

use crate::error::SandboxError;

mod changes;
mod journal;

pub(crate) use changes::Tracked;

/// Bumped when the file's shape changes incompatibly.
pub(crate) const STATE_VERSION: u32 = 1;

/// The largest snapshot read (10,000 users take about 13 MB).
const MAX_SNAPSHOT_BYTES: u64 = 256 << 20;
/// The largest journal read: above what compaction lets one grow to.
const MAX_JOURNAL_BYTES: u64 = 256 << 20;
/// A journal past this many bytes, and past the snapshot's size, is compacted.
const COMPACT_MIN_BYTES: u64 = 1 << 20;
/// A journal past this many bytes is compacted whatever the snapshot's size.
const COMPACT_MAX_BYTES: u64 = 64 << 20;
/// A journal of this many records is compacted.
const COMPACT_RECORDS: u64 = 10_000;

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
    /// The generation of the journal this snapshot goes with: a journal of this generation
    /// is replayed over it, one of an older generation is already in it (a compaction that
    /// stopped before starting the new journal). 0 in files from before the journal.
    #[serde(default)]
    pub journal_generation: u64,
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
    /// Verified external wallets (a browser extension's account), which can re-authenticate
    /// by signing a SIWE message (`POST wallets/verify`).
    #[serde(default)]
    pub external_wallets: Vec<ExternalWalletRecord>,
    /// Linked social (OAuth) accounts, verified credentials that re-authenticate through the
    /// provider's authorisation page (`providers/{p}/verify`).
    #[serde(default)]
    pub social_accounts: Vec<SocialAccountRecord>,
}

/// A linked social account: a verified `oauth` credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SocialAccountRecord {
    /// Verified-credential id.
    pub credential_id: String,
    /// The provider (`google`, `github`).
    pub provider: String,
    /// The provider's id of the account (its `sub`), unique per provider.
    pub account_id: String,
    /// The account's name at the provider (an email for Google, a login for GitHub).
    pub username: String,
    /// The name shown for the account.
    pub display_name: String,
}

/// A verified external wallet credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalWalletRecord {
    /// Verified-credential id.
    pub credential_id: String,
    /// EIP-55 address.
    pub address: String,
    /// `wallet_name` of the credential, e.g. `metamask`.
    pub wallet_name: String,
    /// The secp256k1 private key, 0x-hex, of a wallet the sandbox made (demo and tests): only
    /// the sandbox's demo view shows it, so that the demo can sign. `None` for a real wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo_private_key: Option<Secret>,
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
    /// The client session key (`x-dyn-session-public-key`, compressed P-256, lower-case hex)
    /// sent when the session was signed in; every later call of the session must send the
    /// same. `None`: signed in without one, and then no call is held to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_public_key: Option<String>,
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
            journal_generation: 0,
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

/// The journal beside the snapshot at `path`.
pub(crate) fn journal_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "state".into());
    name.push(".journal");
    path.with_file_name(name)
}

/// Reads at most `max` bytes of `path`; `Ok(None)` when it does not exist.
fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > max {
        return Err(format!(
            "{} is {len} bytes, more than {max}",
            path.display()
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("{} grew past {max} bytes", path.display()));
    }
    Ok(Some(bytes))
}

/// Reads the state: the snapshot, then the journal replayed over it. `Ok(None)` when there is
/// no snapshot yet. Leftover temporary copies of a crashed run are removed first.
pub(crate) fn load(path: &Path) -> Result<Option<PersistedState>, SandboxError> {
    let err = |reason: String| SandboxError::LoadState {
        path: path.display().to_string(),
        reason,
    };
    remove_leftovers(path);
    let Some(bytes) = read_bounded(path, MAX_SNAPSHOT_BYTES).map_err(err)? else {
        if journal_path(path).exists() {
            tracing::warn!(
                journal = %journal_path(path).display(),
                "a journal without its snapshot is ignored (a new state starts)"
            );
        }
        return Ok(None);
    };
    let mut state: PersistedState =
        serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
    if state.version != STATE_VERSION {
        return Err(err(format!("unsupported state version {}", state.version)));
    }
    let journal = journal_path(path);
    let Some(bytes) = read_bounded(&journal, MAX_JOURNAL_BYTES).map_err(err)? else {
        if state.journal_generation != 0 {
            tracing::warn!(journal = %journal.display(), "the journal is missing: the snapshot alone is loaded");
        }
        return Ok(Some(state));
    };
    let damaged = |reason: String| {
        err(format!(
            "{}: {reason} (moving it away loads the snapshot alone, without the changes since)",
            journal.display()
        ))
    };
    let parsed = journal::parse(&bytes).map_err(damaged)?;
    if parsed.generation < state.journal_generation {
        tracing::info!("the journal is older than the snapshot, which holds it: ignored");
        return Ok(Some(state));
    }
    if parsed.generation > state.journal_generation {
        return Err(damaged(format!(
            "the journal is of generation {}, newer than the snapshot's {}: the snapshot is not \
             the one it extends",
            parsed.generation, state.journal_generation
        )));
    }
    if parsed.torn_bytes > 0 {
        tracing::warn!(
            kept = parsed.valid_len,
            dropped = parsed.torn_bytes,
            "the journal's last record was cut short (a crash while saving): it is dropped"
        );
    }
    for changes in parsed.records {
        for change in changes {
            change.apply(&mut state);
        }
    }
    Ok(Some(state))
}

/// Creates a new file beside `path` under a name nobody can guess (never an existing file,
/// never through a planted link; O_NOFOLLOW on top), mode 0600 from the start, writes
/// `bytes`, fsyncs it and renames it to `path`. Returns the open file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let (dir, prefix) = temp_prefix(path);
    let tmp = dir.join(format!("{prefix}{:016x}", rand::random::<u64>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let write = || -> std::io::Result<File> {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        #[cfg(unix)]
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(f)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The writer of one state file: the open journal and what decides the next compaction.
#[derive(Debug)]
pub(crate) struct Store {
    /// The snapshot.
    path: PathBuf,
    /// The journal, open at its end; `None` after a failed write (or a compaction that
    /// stopped half way), when the next save must be a compaction.
    journal: Option<File>,
    /// Its length: the end of its last whole record.
    journal_bytes: u64,
    /// Its records.
    journal_records: u64,
    /// The last snapshot's length.
    snapshot_bytes: u64,
    /// [`COMPACT_RECORDS`] (lowered by tests).
    compact_records: u64,
}

impl Store {
    /// Starts writing the state at `path`: compacts `state` into a new snapshot and an empty
    /// journal (which also drops a torn record or a stale journal of the last run).
    pub(crate) fn create(path: &Path, state: &mut Tracked) -> Result<Self, SandboxError> {
        let mut store = Self {
            path: path.to_path_buf(),
            journal: None,
            journal_bytes: 0,
            journal_records: 0,
            snapshot_bytes: 0,
            compact_records: COMPACT_RECORDS,
        };
        store.compact(state)?;
        Ok(store)
    }

    fn error(&self, reason: String) -> SandboxError {
        SandboxError::SaveState {
            path: self.path.display().to_string(),
            reason,
        }
    }

    /// Saves what changed since the last save: one journal record, fsync'd; a compaction
    /// instead when the journal cannot take it, or after it when the journal has grown enough.
    pub(crate) fn save(&mut self, state: &mut Tracked) -> Result<(), SandboxError> {
        let changes = state.take_changes();
        if changes.is_empty() {
            return Ok(());
        }
        let generation = state.journal_generation;
        let payload = serde_json::to_vec(&changes).map_err(|e| self.error(e.to_string()))?;
        let (Some(file), Some(record)) =
            (self.journal.as_mut(), journal::frame(generation, &payload))
        else {
            return self.compact(state);
        };
        let appended = file.write_all(&record).and_then(|()| file.sync_data());
        if let Err(e) = appended {
            // A partial record must not be followed by others: the next save rewrites all.
            self.journal = None;
            return Err(self.error(format!("appending to the journal: {e}")));
        }
        self.journal_bytes += record.len() as u64;
        self.journal_records += 1;
        let bound = self
            .snapshot_bytes
            .clamp(COMPACT_MIN_BYTES, COMPACT_MAX_BYTES);
        if self.journal_bytes > bound || self.journal_records >= self.compact_records {
            if let Err(e) = self.compact(state) {
                // The record is saved; the next save tries again (as a compaction).
                tracing::warn!(error = %e, "the state journal could not be compacted");
            }
        }
        Ok(())
    }

    /// Writes the whole state as the snapshot of the next generation, then starts the
    /// journal of that generation.
    fn compact(&mut self, state: &mut Tracked) -> Result<(), SandboxError> {
        // From here until the new journal is in place, the open one may be stale.
        self.journal = None;
        state.forget_changes();
        let previous = state.journal_generation;
        let generation = previous + 1;
        state.set_generation(generation);
        let snapshot = serde_json::to_vec_pretty(&**state).map_err(|e| self.error(e.to_string()));
        let written = snapshot.and_then(|json| {
            write_atomically(&self.path, &json)
                .map(|_| json.len() as u64)
                .map_err(|e| self.error(e.to_string()))
        });
        let snapshot_bytes = match written {
            Ok(n) => n,
            Err(e) => {
                // The snapshot on disk is still the previous one (and `journal` is None, so
                // the next save tries a compaction again).
                state.set_generation(previous);
                return Err(e);
            }
        };
        self.snapshot_bytes = snapshot_bytes;
        let header = journal::header(generation);
        let mut file = write_atomically(&journal_path(&self.path), &header)
            .map_err(|e| self.error(format!("starting the journal: {e}")))?;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|e| self.error(e.to_string()))?;
        self.journal = Some(file);
        self.journal_bytes = header.len() as u64;
        self.journal_records = 0;
        Ok(())
    }
}

/// A journal of `generation` holding one record per payload (the fuzz targets' seeds). A
/// payload that a record cannot hold (empty, too long) is left out.
#[cfg(feature = "fuzzing")]
pub(crate) fn journal_bytes(generation: u64, payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = journal::header(generation);
    for payload in payloads {
        out.extend(journal::frame(generation, payload).unwrap_or_default());
    }
    out
}

/// Writes `state` at `path` as a fresh snapshot and empty journal (no writer kept).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn save(path: &Path, state: PersistedState) -> Result<PersistedState, SandboxError> {
    let mut tracked = Tracked::new(state);
    Store::create(path, &mut tracked)?;
    Ok(tracked.into_inner())
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
        save(&path, state()).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&journal_path(&path)), 0o600);
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
        save(&path, state()).unwrap();
        assert_eq!(
            std::fs::read(&stolen).unwrap(),
            b"",
            "the state went through the link"
        );
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_planted_at_the_journal_receives_nothing() {
        let dir = dir();
        let path = dir.join("state.json");
        let stolen = dir.join("attacker-reads-this");
        std::fs::write(&stolen, b"").unwrap();
        symlink(&stolen, journal_path(&path)).unwrap();
        let mut tracked = Tracked::new(state());
        let mut store = Store::create(&path, &mut tracked).unwrap();
        tracked.insert_used_token_jti("jti".into(), i64::MAX);
        store.save(&mut tracked).unwrap();
        assert_eq!(
            std::fs::read(&stolen).unwrap(),
            b"",
            "the journal went through the link"
        );
        let journal = journal_path(&path);
        assert!(!std::fs::symlink_metadata(&journal).unwrap().is_symlink());
        assert_eq!(mode(&journal), 0o600);
        assert!(load(&path)
            .unwrap()
            .unwrap()
            .used_token_jtis
            .contains_key("jti"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leftovers_of_a_crashed_run_are_removed_at_load() {
        let dir = dir();
        let path = dir.join("state.json");
        save(&path, state()).unwrap();
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
        assert_eq!(names.len(), 3, "state, journal, unrelated: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod crash_tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng as _};

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "stepup-journal-{name}-{:016x}",
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("a test dir");
        dir
    }

    fn user(i: u64) -> UserRecord {
        UserRecord {
            id: format!("user-{i}"),
            created_at_ms: i as i64,
            email: Some(EmailRecord {
                credential_id: format!("email-{i}"),
                address: format!("u{i}@example.com"),
            }),
            phone: None,
            mfa_devices: Vec::new(),
            recovery_codes: Vec::new(),
            wallets: Vec::new(),
            mfa_failures_ms: Vec::new(),
            passkeys: Vec::new(),
            external_wallets: Vec::new(),
            social_accounts: Vec::new(),
        }
    }

    fn session(user: u64, expires_at: i64) -> SessionRecord {
        SessionRecord {
            user_id: format!("user-{user}"),
            signin_credential_id: Some(format!("email-{user}")),
            expires_at,
            session_public_key: None,
        }
    }

    fn json(state: &PersistedState) -> serde_json::Value {
        serde_json::to_value(state).unwrap()
    }

    fn loaded(path: &Path) -> serde_json::Value {
        json(&load(path).unwrap().expect("a state"))
    }

    /// A store at `dir/state.json` with users 0..users.
    fn started(dir: &Path, users: u64) -> (PathBuf, Tracked, Store) {
        let path = dir.join("state.json");
        let mut tracked = Tracked::new(PersistedState::new("env", Secret::new("k".to_owned())));
        for i in 0..users {
            tracked.insert_user(user(i));
        }
        let store = Store::create(&path, &mut tracked).unwrap();
        (path, tracked, store)
    }

    #[test]
    fn a_restart_after_many_changes_loads_exactly_the_state_in_memory() {
        let dir = dir("round-trip");
        let (path, mut t, mut store) = started(&dir, 3);
        // Compact every 7 records, so that saves land before, across and after compactions.
        store.compact_records = 7;
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let mut now = 1_000i64;
        let mut next_user = 3u64;
        let mut compactions = 0;
        for round in 0..400 {
            for _ in 0..rng.random_range(0..4) {
                let known = rng.random_range(0..next_user);
                match rng.random_range(0..9) {
                    0 => {
                        t.insert_user(user(next_user));
                        next_user += 1;
                    }
                    1 | 2 => {
                        let u = t.user_mut(&format!("user-{known}")).unwrap();
                        u.mfa_failures_ms.push(now);
                        u.mfa_failures_ms.truncate(3);
                    }
                    3 | 4 => t.insert_session(
                        format!("sid-{round}-{}", rng.random::<u16>()),
                        session(known, now + rng.random_range(1..50)),
                    ),
                    5 => {
                        let sid = t.sessions.keys().next().cloned();
                        if let Some(sid) = sid {
                            t.remove_session(&sid);
                        }
                    }
                    6 => t.insert_used_token_jti(format!("t-{round}"), now + 20),
                    7 => t.insert_used_external_jti(format!("x-{round}"), now + 10),
                    _ => t.set_demo(
                        Some(format!("user-{known}")),
                        Some(Secret::new(format!("passkey {round}"))),
                    ),
                }
            }
            now += rng.random_range(0..5);
            t.prune(now);
            let generation = t.journal_generation;
            store.save(&mut t).unwrap();
            compactions += u64::from(t.journal_generation != generation);
            assert_eq!(loaded(&path), json(&t), "round {round}");
        }
        assert!(compactions > 10, "{compactions} compactions");
        // And after a restart that goes on writing.
        let mut again = Tracked::new(load(&path).unwrap().unwrap());
        let mut store = Store::create(&path, &mut again).unwrap();
        again.insert_user(user(next_user));
        store.save(&mut again).unwrap();
        t.insert_user(user(next_user));
        let mut expected = json(&t);
        expected["journalGeneration"] = json!(again.journal_generation);
        assert_eq!(loaded(&path), expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    use serde_json::json;

    #[test]
    fn a_crash_mid_append_loads_the_state_before_that_record() {
        let dir = dir("torn");
        let (path, mut t, mut store) = started(&dir, 2);
        t.insert_session("a".into(), session(0, i64::MAX));
        store.save(&mut t).unwrap();
        let before = json(&t);
        let journal = journal_path(&path);
        let len_before = std::fs::metadata(&journal).unwrap().len();
        t.insert_session("b".into(), session(1, i64::MAX));
        t.user_mut("user-1").unwrap().mfa_failures_ms.push(5);
        store.save(&mut t).unwrap();
        drop(store);
        let full = std::fs::read(&journal).unwrap();
        assert!(full.len() as u64 > len_before + 20);
        for cut in len_before as usize..full.len() {
            std::fs::write(&journal, &full[..cut]).unwrap();
            assert_eq!(loaded(&path), before, "cut at {cut} of {}", full.len());
        }
        // The file grew but the record's bytes never reached the disk.
        let mut zeroed = full.clone();
        zeroed[len_before as usize..].fill(0);
        std::fs::write(&journal, &zeroed).unwrap();
        assert_eq!(loaded(&path), before);

        // A restart drops the torn record for good, and what it saves next loads.
        std::fs::write(&journal, &full[..full.len() - 3]).unwrap();
        let mut t = Tracked::new(load(&path).unwrap().unwrap());
        let mut store = Store::create(&path, &mut t).unwrap();
        t.insert_session("c".into(), session(1, i64::MAX));
        store.save(&mut t).unwrap();
        let state = load(&path).unwrap().unwrap();
        assert!(state.sessions.contains_key("a") && state.sessions.contains_key("c"));
        assert!(!state.sessions.contains_key("b"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_record_followed_by_others_stops_the_load() {
        let dir = dir("damaged");
        let (path, mut t, mut store) = started(&dir, 2);
        let journal = journal_path(&path);
        let start = std::fs::metadata(&journal).unwrap().len() as usize;
        for sid in ["a", "b", "c"] {
            t.insert_session(sid.into(), session(0, i64::MAX));
            store.save(&mut t).unwrap();
        }
        let mut bytes = std::fs::read(&journal).unwrap();
        // A byte of the first record's payload.
        bytes[start + 20] ^= 0x01;
        std::fs::write(&journal, &bytes).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(
            e.contains("damaged") && e.contains("state.json.journal"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_compaction_cut_short_loads_a_consistent_state() {
        let dir = dir("compaction");
        let (path, mut t, mut store) = started(&dir, 2);
        let journal = journal_path(&path);
        for sid in ["a", "b"] {
            t.insert_session(sid.into(), session(0, i64::MAX));
            store.save(&mut t).unwrap();
        }
        let expected = json(&t);
        let old_snapshot = std::fs::read(&path).unwrap();
        let old_journal = std::fs::read(&journal).unwrap();

        store.compact(&mut t).unwrap();
        let new_snapshot = std::fs::read(&path).unwrap();
        let new_journal = std::fs::read(&journal).unwrap();
        let mut after_compaction = expected.clone();
        after_compaction["journalGeneration"] = json!(t.journal_generation);
        assert_eq!(loaded(&path), after_compaction);

        // Cut before the new snapshot's rename: its temporary copy is left beside the old
        // snapshot and journal.
        std::fs::write(&path, &old_snapshot).unwrap();
        std::fs::write(&journal, &old_journal).unwrap();
        let leftover = dir.join(".state.json.tmp-00000000deadbeef");
        std::fs::write(&leftover, &new_snapshot[..new_snapshot.len() / 2]).unwrap();
        assert_eq!(loaded(&path), expected);
        assert!(!leftover.exists());

        // Cut after the new snapshot, before the new journal: the old journal is stale, and
        // ignored (the snapshot holds it).
        std::fs::write(&path, &new_snapshot).unwrap();
        std::fs::write(&journal, &old_journal).unwrap();
        assert_eq!(loaded(&path), after_compaction);

        // A journal newer than its snapshot (the snapshot was put back by hand): an error,
        // not a state without the journal's changes.
        std::fs::write(&path, &old_snapshot).unwrap();
        std::fs::write(&journal, &new_journal).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("newer than the snapshot"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_append_makes_the_next_save_a_compaction() {
        let dir = dir("failed");
        let (path, mut t, mut store) = started(&dir, 1);
        // As after a failed write (for example a full disk).
        store.journal = None;
        t.insert_session("a".into(), session(0, i64::MAX));
        let generation = t.journal_generation;
        store.save(&mut t).unwrap();
        assert_eq!(t.journal_generation, generation + 1, "compacted");
        assert_eq!(loaded(&path), json(&t));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_save_writes_what_changed_not_the_whole_state() {
        let dir = dir("size");
        let (path, mut t, mut store) = started(&dir, 2_000);
        let snapshot = std::fs::metadata(&path).unwrap().len();
        let journal = journal_path(&path);
        let before = std::fs::metadata(&journal).unwrap().len();
        t.insert_session("a".into(), session(7, i64::MAX));
        t.user_mut("user-7").unwrap().mfa_failures_ms.push(1);
        store.save(&mut t).unwrap();
        let record = std::fs::metadata(&journal).unwrap().len() - before;
        assert!(snapshot > 300_000, "{snapshot}");
        assert!(record < 600, "one save wrote {record} bytes");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            snapshot,
            "snapshot untouched"
        );
        // Nothing changed: nothing written.
        store.save(&mut t).unwrap();
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), before + record);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hostile_journal_length_is_refused_before_it_is_read() {
        let dir = dir("bounds");
        let (path, _t, store) = started(&dir, 1);
        drop(store);
        let journal = journal_path(&path);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&journal)
            .unwrap();
        // Sparse: nothing is written, the length is what a hostile file claims.
        f.set_len(MAX_JOURNAL_BYTES + 1).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("more than"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
