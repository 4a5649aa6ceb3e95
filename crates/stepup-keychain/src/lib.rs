//! The OS keychain as `stepup-client`'s [`TokenVault`]: the session, the elevated tokens and
//! the device key persist in the Secret Service (Linux), the login Keychain (macOS) or the
//! Credential Manager (Windows). There is no plaintext fallback.
//!
//! ```no_run
//! use stepup_client::vault::TokenVault;
//! use stepup_keychain::KeychainVault;
//!
//! # fn main() -> Result<(), stepup_client::vault::VaultError> {
//! let vault = KeychainVault::open_for_environment("com.stepup.desktop", "env-123")?;
//! let snapshot = vault.load()?; // VaultError::Locked when the keychain is locked
//! # let _ = snapshot; Ok(()) }
//! ```
//!
//! Every call **blocks** (and the Secret Service store can panic when called on a tokio
//! runtime thread if anything enables `zbus/tokio`): call it from `spawn_blocking`, with a
//! timeout, as `stepup_client`'s `TokenStore` does. [`KeychainVault::open_async`] does that
//! for opening.
//!
//! # Layout
//! - `layout`: how records are named and cut into entries of at most
//!   [`MAX_ENTRY_BYTES`] (the Windows limit), and the write order that survives a crash.
//! - `errors`: keyring errors as [`VaultError`], never formatting a secret.
//! - `platform`: the per-OS store and, on Linux, the locked-collection probe.
//!
//! ## Platform-specific
//! - **Linux**: reads of a locked Secret Service collection find nothing; the vault checks
//!   the default collection's `Locked` property and answers [`VaultError::Locked`] instead
//!   of an empty snapshot, without raising an unlock prompt.
//! - **macOS / Windows**: the lock state is not probed; the OS prompts (macOS) or has none.

mod errors;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod layout;
mod platform;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};
use stepup_client::passkey::PasskeyStateStore;
use stepup_client::vault::{ElevatedToken, SessionRecord, TokenVault, VaultError, VaultSnapshot};
use stepup_protocol::Secret;

pub use layout::MAX_ENTRY_BYTES;
use layout::{Header, Index, DEVICE_KEY, DEVICE_PASSKEY, INDEX, SESSION};
use platform::{LockState, Platform, WriteError, Writer};

/// The longest service name accepted (well under every platform's limit).
const MAX_SERVICE_LEN: usize = 200;
/// The most token entries an index may list (one per scope set; Dynamic has 34 scopes). An
/// index that lists more is damaged: it is not walked.
const MAX_INDEXED_TOKENS: usize = 64;

/// The session, tokens and device key of one environment, in the OS keychain.
///
/// Entries are keyed by the service name (one per app and environment, so two environments
/// never mix) and a record name; see the crate's `layout` module. `Debug` shows the service
/// name only.
pub struct KeychainVault {
    /// Keychain service name of every entry: `<app id>/<environment id>`, or as given.
    service: String,
    /// The platform's credential store.
    store: Arc<CredentialStore>,
    /// Lock probe (Linux) or nothing; `None` for a store given by a test.
    platform: Option<Platform>,
    /// Serialises this process's read-modify-write of the index.
    writes: Mutex<()>,
    /// What this process last read or wrote of each record: its head's header, or `None` when
    /// it is absent. A write needs the previous header (to drop its parts) and reads it only
    /// when it is not here. The app is a single instance: nothing else writes its entries.
    heads: Mutex<HashMap<String, Option<Header>>>,
    /// The index as last read or written; `None` until read. Token records it does not list
    /// are absent as far as this process knows (a crash can leave an orphan entry: `clear`
    /// sweeps it).
    index: Mutex<Option<Index>>,
    /// Item paths of the entries this process wrote (Linux), for one-call deletes.
    paths: Mutex<HashMap<String, String>>,
    /// Names of the damaged entries removed since the app last asked ([`Self::take_damage_reports`]);
    /// at most [`MAX_DAMAGE_REPORTS`].
    damaged: Mutex<Vec<String>>,
}

/// Damaged-entry reports kept until the app shows them.
pub const MAX_DAMAGE_REPORTS: usize = 16;

impl std::fmt::Debug for KeychainVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainVault")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl KeychainVault {
    /// Opens the platform keychain for entries of `service`. Blocks (up to a few hundred ms
    /// when the keyring service must start); fails with [`VaultError::Unavailable`] when no
    /// keychain service is reachable.
    pub fn open(service: &str) -> Result<Self, VaultError> {
        check_name("service", service, |c| !c.is_control())?;
        if service.len() > MAX_SERVICE_LEN {
            return Err(VaultError::Other(format!(
                "the keychain service name is longer than {MAX_SERVICE_LEN} bytes"
            )));
        }
        let (platform, store) = Platform::open()?;
        Ok(Self::with_store(service, store, Some(platform)))
    }

    /// Opens the keychain for one app (`com.stepup.desktop`) and one environment: the
    /// service name is `<app_id>/<env_id>`. Both are non-empty ASCII letters, digits, `.`,
    /// `-` and `_`.
    pub fn open_for_environment(app_id: &str, env_id: &str) -> Result<Self, VaultError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        check_name("app id", app_id, plain)?;
        check_name("environment id", env_id, plain)?;
        Self::open(&format!("{app_id}/{env_id}"))
    }

    /// [`open_for_environment`](Self::open_for_environment) on a blocking thread, giving up
    /// with [`VaultError::TimedOut`] after `timeout` (opening connects to the keyring service,
    /// which can hang).
    pub async fn open_async(
        app_id: &str,
        env_id: &str,
        timeout: Duration,
    ) -> Result<Self, VaultError> {
        let (app_id, env_id) = (app_id.to_owned(), env_id.to_owned());
        stepup_client::run_blocking(timeout, move || {
            Self::open_for_environment(&app_id, &env_id)
        })
        .await?
    }

    fn with_store(service: &str, store: Arc<CredentialStore>, platform: Option<Platform>) -> Self {
        Self {
            service: service.to_owned(),
            store,
            platform,
            writes: Mutex::new(()),
            heads: Mutex::new(HashMap::new()),
            index: Mutex::new(None),
            paths: Mutex::new(HashMap::new()),
            damaged: Mutex::new(Vec::new()),
        }
    }

    /// The entries found damaged and removed since the last call, as sentences the app can
    /// show ("the stored entry `session` was damaged: it was removed"). Never their content.
    pub fn take_damage_reports(&self) -> Vec<String> {
        std::mem::take(&mut *self.damaged.lock().unwrap_or_else(PoisonError::into_inner))
            .into_iter()
            .map(|record| format!("the stored entry `{record}` was damaged: it was removed"))
            .collect()
    }

    /// The keychain service name of this vault's entries.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether the keychain is locked right now. `Ok(false)` also where the platform cannot
    /// tell (macOS, Windows).
    pub fn is_locked(&self) -> Result<bool, VaultError> {
        Ok(self.lock_state()? == LockState::Locked)
    }

    // ----- entries -------------------------------------------------------------------------

    fn entry(&self, user: &str) -> Result<Entry, VaultError> {
        Entry::new_in_store(&self.store, &self.service, user).map_err(|e| self.store_error(&e))
    }

    /// One entry's secret; `None` when there is no such entry.
    fn get_raw(&self, user: &str) -> Result<Option<String>, VaultError> {
        match self.entry(user)?.get_secret() {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| VaultError::Corrupt(format!("entry `{user}` is not UTF-8"))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.store_error(&e)),
        }
    }

    /// Stores bytes, not a "password": Windows stores passwords as UTF-16, doubling their size.
    /// On Linux one `CreateItem` (see `platform::Writer`); elsewhere, or without a default
    /// collection yet, through the store.
    fn set_raw(&self, user: &str, value: &str) -> Result<(), VaultError> {
        debug_assert!(value.len() <= MAX_ENTRY_BYTES);
        if let Some(writer) = self.writer() {
            match writer.write(&self.service, user, value.as_bytes()) {
                Ok(path) => {
                    lock(&self.paths).insert(user.to_owned(), path);
                    return Ok(());
                }
                Err(WriteError::Vault(e)) => return Err(e),
                Err(WriteError::NoCollection) => {}
            }
        }
        self.entry(user)?
            .set_secret(value.as_bytes())
            .map_err(|e| self.store_error(&e))
    }

    /// Deletes one entry; absent is fine. On Linux one `Delete` when this process wrote the
    /// entry (its path is known), else a search and a `Delete` per match.
    fn delete_raw(&self, user: &str) -> Result<(), VaultError> {
        if let Some(writer) = self.writer() {
            let known = lock(&self.paths).remove(user);
            if let Some(path) = known {
                if writer.delete(&path)? {
                    return Ok(());
                }
            }
            for path in writer.search(&self.service, user)? {
                writer.delete(&path)?;
            }
            return Ok(());
        }
        match self.entry(user)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.store_error(&e)),
        }
    }

    fn writer(&self) -> Option<&Writer> {
        self.platform.as_ref().and_then(Platform::writer)
    }

    /// The previous head of `record` as far as this process knows: `Some(None)` when absent,
    /// `None` when it must be read.
    fn known_head(&self, record: &str) -> Option<Option<Header>> {
        if let Some(known) = lock(&self.heads).get(record) {
            return Some(*known);
        }
        let key = record.strip_prefix(layout::TOKEN_PREFIX)?;
        lock(&self.index)
            .as_ref()
            .filter(|index| !index.tokens.iter().any(|k| k == key))
            .map(|_| None)
    }

    // ----- records -------------------------------------------------------------------------

    /// A whole record, reassembled from its parts; `None` when its head is absent.
    fn read_record(&self, record: &str) -> Result<Option<String>, VaultError> {
        let read = self.read_record_uncached(record);
        match &read {
            Ok(None) => {
                lock(&self.heads).insert(record.to_owned(), None);
            }
            Ok(Some(_)) => {}
            Err(_) => {
                lock(&self.heads).remove(record);
            }
        }
        read
    }

    fn read_record_uncached(&self, record: &str) -> Result<Option<String>, VaultError> {
        let Some(head) = self.get_raw(record)? else {
            return Ok(None);
        };
        // `parts` is bounded by `decode_head` (at most MAX_PARTS), so is this allocation.
        let (header, first) = layout::decode_head(record, &head)?;
        lock(&self.heads).insert(record.to_owned(), Some(header));
        let mut value = String::with_capacity(header.parts * MAX_ENTRY_BYTES);
        value.push_str(first);
        for i in 1..header.parts {
            match self.get_raw(&layout::part_entry(record, header.generation, i))? {
                Some(part) if part.len() > MAX_ENTRY_BYTES => {
                    return Err(VaultError::Corrupt(format!(
                        "entry `{record}` has an oversized part {i}"
                    )));
                }
                Some(part) => value.push_str(&part),
                // Locked between two reads looks exactly like this.
                None => {
                    self.ensure_unlocked()?;
                    return Err(VaultError::Corrupt(format!(
                        "entry `{record}` misses part {i}"
                    )));
                }
            }
        }
        Ok(Some(value))
    }

    /// Writes a record: new parts first, then the head (the commit), then drops the old parts.
    /// The previous head is read only when this process does not know it: a record of one
    /// part is then one write.
    fn write_record(&self, record: &str, value: &str) -> Result<(), VaultError> {
        let written = self.write_record_uncached(record, value);
        if written.is_err() {
            // Whatever is there now is unknown: read it next time.
            lock(&self.heads).remove(record);
        }
        written
    }

    fn write_record_uncached(&self, record: &str, value: &str) -> Result<(), VaultError> {
        let previous = match self.known_head(record) {
            Some(known) => known,
            None => self
                .get_raw(record)?
                .and_then(|head| layout::decode_head(record, &head).ok().map(|(h, _)| h)),
        };
        let generation = layout::next_generation(previous.map(|h| h.generation));
        let encoded = layout::encode(value, generation)?;
        for (i, part) in encoded.tail.iter().enumerate() {
            self.set_raw(&layout::part_entry(record, generation, i + 1), part)?;
        }
        self.set_raw(record, &encoded.head)?;
        lock(&self.heads).insert(
            record.to_owned(),
            Some(Header {
                generation,
                parts: encoded.tail.len() + 1,
            }),
        );
        if let Some(previous) = previous {
            for i in 1..previous.parts {
                // Committed already: a leftover part is an orphan that `clear` sweeps.
                if let Err(e) = self.delete_raw(&layout::part_entry(record, previous.generation, i))
                {
                    tracing::debug!(record, error = %e, "could not delete an old part");
                }
            }
        }
        Ok(())
    }

    /// Deletes a record: the head first, so a crash leaves only orphan parts. Without a read
    /// when this process knows the head.
    fn delete_record(&self, record: &str) -> Result<(), VaultError> {
        let header = match self.known_head(record) {
            Some(None) => return Ok(()),
            Some(Some(header)) => Some(header),
            None => {
                let Some(head) = self.get_raw(record)? else {
                    lock(&self.heads).insert(record.to_owned(), None);
                    return Ok(());
                };
                layout::decode_head(record, &head).ok().map(|(h, _)| h)
            }
        };
        // Unknown until the deletes are through.
        lock(&self.heads).remove(record);
        self.delete_raw(record)?;
        if let Some(header) = header {
            for i in 1..header.parts {
                self.delete_raw(&layout::part_entry(record, header.generation, i))?;
            }
        }
        lock(&self.heads).insert(record.to_owned(), None);
        Ok(())
    }

    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        record: &str,
    ) -> Result<Option<T>, VaultError> {
        self.read_record(record)?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            // Not serde_json's message: "invalid type: string \"...\"" would quote a secret.
            .map_err(|e| {
                VaultError::Corrupt(format!(
                    "entry `{record}`: {:?} error at {}:{}",
                    e.classify(),
                    e.line(),
                    e.column()
                ))
            })
    }

    fn write_json<T: serde::Serialize>(&self, record: &str, value: &T) -> Result<(), VaultError> {
        let json = serde_json::to_string(value)
            .map_err(|e| VaultError::Other(format!("cannot encode `{record}`: {e}")))?;
        self.write_record(record, &json)
    }

    /// `read`'s value, or `None` after removing `record` when it is damaged.
    fn discard_if_damaged<T>(
        &self,
        record: &str,
        read: Result<Option<T>, VaultError>,
    ) -> Result<Option<T>, VaultError> {
        match read {
            Err(VaultError::Corrupt(why)) => {
                self.discard(record, &why);
                Ok(None)
            }
            other => other,
        }
    }

    /// Removes a damaged record (its head; its parts, if the head names them sanely) and says
    /// so. The reason names the entry and the fault, never its content.
    fn discard(&self, record: &str, why: &str) {
        tracing::warn!(
            record,
            why,
            "the stored entry `{record}` is damaged: it was removed"
        );
        if let Err(e) = self.delete_record(record) {
            tracing::warn!(record, error = %e, "could not remove a damaged entry");
        }
        let mut damaged = self.damaged.lock().unwrap_or_else(PoisonError::into_inner);
        if damaged.len() < MAX_DAMAGE_REPORTS && !damaged.iter().any(|r| r == record) {
            // Record names are ours (`session`, `token:<scopes>`), bounded by the layout.
            damaged.push(record.chars().take(128).collect());
        }
    }

    /// Reads the index, and keeps it (absent: empty; unreadable: not kept).
    fn read_index(&self) -> Result<Option<Index>, VaultError> {
        let read = self.read_json::<Index>(INDEX);
        *lock(&self.index) = match &read {
            Ok(index) => Some(index.clone().unwrap_or_else(Index::empty)),
            Err(_) => None,
        };
        read
    }

    /// The index as kept, else as read.
    fn current_index(&self) -> Result<Index, VaultError> {
        if let Some(index) = lock(&self.index).clone() {
            return Ok(index);
        }
        Ok(self.read_index()?.unwrap_or_else(Index::empty))
    }

    fn write_index(&self, index: &Index) -> Result<(), VaultError> {
        let written = self.write_json(INDEX, index);
        *lock(&self.index) = written.is_ok().then(|| index.clone());
        written
    }

    /// Forgets what this process knew of the entries (after a failed `clear`).
    fn forget_known(&self) {
        lock(&self.heads).clear();
        *lock(&self.index) = None;
        lock(&self.paths).clear();
    }

    /// Before a write: on Linux the write itself answers `Locked` without a prompt (see
    /// `platform::Writer`), so the lock is not asked first; elsewhere as before.
    fn ensure_writable(&self) -> Result<(), VaultError> {
        if self.writer().is_some() {
            Ok(())
        } else {
            self.ensure_unlocked()
        }
    }

    // ----- lock state and errors -------------------------------------------------------------

    fn lock_state(&self) -> Result<LockState, VaultError> {
        self.platform
            .as_ref()
            .map_or(Ok(LockState::Unknown), Platform::lock_state)
    }

    /// [`VaultError::Locked`] when the keychain is locked: asked before trusting an absence
    /// and before writing (a write to a locked collection would raise an unlock prompt that
    /// outlives the caller's timeout).
    fn ensure_unlocked(&self) -> Result<(), VaultError> {
        match self.lock_state()? {
            LockState::Locked => Err(VaultError::Locked),
            LockState::Unlocked | LockState::NoDefaultCollection | LockState::Unknown => Ok(()),
        }
    }

    /// Maps a store error; a refusal while the keychain is locked is reported as locked.
    fn store_error(&self, err: &keyring_core::Error) -> VaultError {
        let mapped = platform::classify(err).unwrap_or_else(|| errors::generic(err));
        match mapped {
            VaultError::AccessDenied | VaultError::Other(_) | VaultError::Unavailable(_)
                if matches!(self.lock_state(), Ok(LockState::Locked)) =>
            {
                VaultError::Locked
            }
            other => other,
        }
    }

    fn write_guard(&self) -> MutexGuard<'_, ()> {
        // The guarded value is `()`: a panic elsewhere cannot leave it inconsistent.
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops index keys whose token entry is gone (crash, or deleted by hand), re-checking
    /// each under the write lock so a concurrent `put_token` is never undone.
    fn repair_index(&self, dangling: &[String]) -> Result<(), VaultError> {
        let _guard = self.write_guard();
        let Some(mut index) = self.read_index()? else {
            return Ok(());
        };
        let mut changed = false;
        for key in dangling {
            if self.get_raw(&layout::token_record(key))?.is_none() {
                changed |= index.remove(key);
            }
        }
        if changed {
            self.write_index(&index)?;
        }
        Ok(())
    }

    /// Deletes every entry of this service the store can find by search (orphan parts
    /// included). Stores without search (macOS, Windows) have nothing more to sweep than what
    /// `clear` deletes by name.
    fn sweep(&self) -> Result<(), VaultError> {
        let spec = HashMap::from([("service", self.service.as_str())]);
        let found = match Entry::search_in_store(&self.store, &spec) {
            Ok(found) => found,
            Err(keyring_core::Error::NotSupportedByStore(_) | keyring_core::Error::Invalid(..)) => {
                return Ok(())
            }
            Err(e) => return Err(self.store_error(&e)),
        };
        for entry in found {
            // Only our own service's entries: the search matched on it, check it anyway.
            if entry
                .get_specifiers()
                .is_some_and(|(service, _)| service == self.service)
            {
                match entry.delete_credential() {
                    Ok(()) | Err(keyring_core::Error::NoEntry) => {}
                    Err(e) => return Err(self.store_error(&e)),
                }
            }
        }
        Ok(())
    }
}

impl TokenVault for KeychainVault {
    /// A damaged entry (hostile or half-written: a bad header, a part count over the bound,
    /// JSON that does not parse, a token under another scope set's name) never stops a load:
    /// it is removed and reported, and what it held is gone (the user signs in, or steps up,
    /// again).
    fn load(&self) -> Result<VaultSnapshot, VaultError> {
        self.ensure_unlocked()?;
        let index = self
            .discard_if_damaged(INDEX, self.read_index())?
            .filter(|index| {
                let bounded = index.tokens.len() <= MAX_INDEXED_TOKENS;
                if !bounded {
                    self.discard(INDEX, "it lists more tokens than the vault keeps");
                    *lock(&self.index) = Some(Index::empty());
                }
                bounded
            });
        let session = self.discard_if_damaged(SESSION, self.read_json::<SessionRecord>(SESSION))?;
        let device_key = self
            .discard_if_damaged(DEVICE_KEY, self.read_record(DEVICE_KEY))?
            .map(Secret::new);
        let mut tokens = Vec::new();
        let mut dangling = Vec::new();
        for key in index.iter().flat_map(|i| &i.tokens) {
            let record = layout::token_record(key);
            match self.discard_if_damaged(&record, self.read_json::<ElevatedToken>(&record))? {
                Some(token) if token.scope_key() == *key => tokens.push(token),
                Some(_) => {
                    self.discard(&record, "it holds another scope set's token");
                    dangling.push(key.clone());
                }
                None => dangling.push(key.clone()),
            }
        }
        // Absent pieces are only trustworthy if the keychain did not lock while we read.
        if index.is_none() || session.is_none() || device_key.is_none() || !dangling.is_empty() {
            self.ensure_unlocked()?;
        }
        if !dangling.is_empty() {
            tracing::debug!(scope_keys = ?dangling, "dropping index keys whose token entry is gone");
            if let Err(e) = self.repair_index(&dangling) {
                tracing::debug!(error = %e, "could not repair the token index");
            }
        }
        Ok(VaultSnapshot {
            session,
            tokens,
            device_key,
        })
    }

    fn put_session(&self, session: &SessionRecord) -> Result<(), VaultError> {
        self.ensure_writable()?;
        let _guard = self.write_guard();
        self.write_json(SESSION, session)
    }

    /// The token entry first, then the index: a crash in between leaves an orphan entry, never
    /// an index key without a token. The index is written only when it gains the key (kept
    /// in memory since the load: no re-read).
    fn put_token(&self, token: &ElevatedToken) -> Result<(), VaultError> {
        self.ensure_writable()?;
        let _guard = self.write_guard();
        let key = token.scope_key();
        self.write_json(&layout::token_record(&key), token)?;
        let mut index = self.current_index()?;
        if index.insert(&key) {
            self.write_index(&index)?;
        }
        Ok(())
    }

    /// The token entry only: the index keeps the key. The index lists a superset of the
    /// tokens (a key whose entry is gone is dropped by the next `load`), so a used single-use
    /// token costs one delete, and using the scope again needs no index write.
    fn remove_token(&self, scope_key: &str) -> Result<(), VaultError> {
        self.ensure_writable()?;
        let _guard = self.write_guard();
        self.delete_record(&layout::token_record(scope_key))
    }

    fn put_device_key(&self, key: &Secret) -> Result<(), VaultError> {
        self.ensure_writable()?;
        let _guard = self.write_guard();
        self.write_record(DEVICE_KEY, key.expose())
    }

    /// The index first (so nothing points at half-deleted tokens), then each token, the
    /// session, the device key, and finally whatever a search still finds (orphan parts).
    fn clear(&self) -> Result<(), VaultError> {
        self.ensure_unlocked()?;
        let _guard = self.write_guard();
        // A damaged index must not stop a logout: the sweep finds its tokens anyway.
        let known = lock(&self.index).clone();
        let keys = known
            .or_else(|| self.read_index().ok().flatten())
            .map(|i| i.tokens)
            .unwrap_or_default();
        self.delete_record(INDEX)?;
        for key in &keys {
            self.delete_record(&layout::token_record(key))?;
        }
        let cleared = self
            .delete_record(SESSION)
            .and_then(|()| self.delete_record(DEVICE_KEY))
            .and_then(|()| self.sweep());
        self.forget_known();
        if cleared.is_ok() {
            // Everything of this service is gone.
            let mut heads = lock(&self.heads);
            for record in [INDEX, SESSION, DEVICE_KEY] {
                heads.insert(record.to_owned(), None);
            }
            drop(heads);
            *lock(&self.index) = Some(Index::empty());
        }
        cleared
    }
}

/// The device passkey's authenticator state (private keys and signature counter, about 3 KB,
/// so two or three chunked entries) in the OS keychain, under its own service name
/// `<app id>/<environment id>/passkey`: a logout ([`TokenVault::clear`]) never deletes the
/// passkey, which the server still lists. Every call blocks; the client calls it from its
/// ceremony's blocking thread.
pub struct KeychainPasskeyStore {
    /// A vault on the passkey's own service (only its record helpers are used).
    vault: KeychainVault,
}

impl std::fmt::Debug for KeychainPasskeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainPasskeyStore")
            .field("service", &self.vault.service)
            .finish_non_exhaustive()
    }
}

impl KeychainPasskeyStore {
    /// Opens the device passkey store of one app and environment (same name rules as
    /// [`KeychainVault::open_for_environment`]).
    pub fn open_for_environment(app_id: &str, env_id: &str) -> Result<Self, VaultError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        check_name("app id", app_id, plain)?;
        check_name("environment id", env_id, plain)?;
        Ok(Self {
            vault: KeychainVault::open(&format!("{app_id}/{env_id}/passkey"))?,
        })
    }

    /// The keychain service name of the passkey's entries.
    pub fn service(&self) -> &str {
        &self.vault.service
    }

    /// Deletes the device passkey (the server still lists it until it is removed there).
    pub fn delete(&self) -> Result<(), VaultError> {
        self.vault.ensure_unlocked()?;
        let _guard = self.vault.write_guard();
        self.vault.delete_record(DEVICE_PASSKEY)?;
        self.vault.sweep()
    }
}

impl PasskeyStateStore for KeychainPasskeyStore {
    fn load(&self) -> Result<Option<Secret>, VaultError> {
        self.vault.ensure_unlocked()?;
        let state = self.vault.read_record(DEVICE_PASSKEY)?;
        if state.is_none() {
            // An absence is only trustworthy if the keychain did not lock while we read.
            self.vault.ensure_unlocked()?;
        }
        Ok(state.map(Secret::new))
    }

    /// New parts first, then the head: a crash keeps the previous state whole. The previous
    /// state has a lower counter, which the server refuses: a crash costs a re-registration,
    /// never a silently reused counter.
    fn save(&self, state: &Secret) -> Result<(), VaultError> {
        self.vault.ensure_writable()?;
        let _guard = self.vault.write_guard();
        self.vault.write_record(DEVICE_PASSKEY, state.expose())
    }

    fn remove(&self) -> Result<(), VaultError> {
        self.delete()
    }
}

/// A lock on plain data that a panic elsewhere cannot leave inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Rejects an empty name or one with characters `allowed` refuses.
fn check_name(what: &str, value: &str, allowed: impl Fn(char) -> bool) -> Result<(), VaultError> {
    if value.is_empty() || !value.chars().all(allowed) {
        return Err(VaultError::Other(format!("invalid keychain {what}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
