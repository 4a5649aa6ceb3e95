//! Linux: the Secret Service (gnome-keyring, KWallet) through the zbus keyring store, plus a
//! direct look at the default collection's `Locked` property.
//!
//! Why the look: while the collection is locked, the store answers reads with "no entry",
//! which would read as "signed out". The vault asks [`Platform::lock_state`] before trusting
//! an absence.

use std::sync::Arc;
use std::time::Duration;

use keyring_core::CredentialStore;
use stepup_client::vault::VaultError;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::LockState;
use crate::errors::short;

const SECRETS_NAME: &str = "org.freedesktop.secrets";
const SECRETS_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_IFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_IFACE: &str = "org.freedesktop.Secret.Collection";

/// A Secret Service method call gives up after this long (our own connection only; the
/// store's has zbus's default). The client's own timeout is shorter; this bounds the thread.
const METHOD_TIMEOUT: Duration = Duration::from_secs(10);

/// Our own session-bus connection, for the lock state and the one-call writes.
#[derive(Clone)]
pub(crate) struct Platform {
    bus: zbus::blocking::Connection,
    /// `None` when no session could be opened: the vault then writes through the store.
    writer: Option<Arc<Writer>>,
}

impl Platform {
    /// Connects to the session bus and checks that a Secret Service answers, then opens the
    /// keyring store. Every failure here is [`VaultError::Unavailable`].
    pub(crate) fn open() -> Result<(Self, Arc<CredentialStore>), VaultError> {
        let bus = zbus::blocking::connection::Builder::session()
            .and_then(|b| b.method_timeout(METHOD_TIMEOUT).build())
            .map_err(|e| {
                VaultError::Unavailable(format!("no D-Bus session bus: {}", short(&e.to_string())))
            })?;
        let mut platform = Self { bus, writer: None };
        // Fails with ServiceUnknown when no Secret Service is running or activatable.
        platform.default_collection()?;
        platform.writer = match Writer::open(&platform) {
            Ok(writer) => Some(Arc::new(writer)),
            Err(e) => {
                tracing::debug!(error = %e, "no session of our own: writing through the store");
                None
            }
        };
        let store =
            zbus_secret_service_keyring_store::Store::new().map_err(|e| classify_open(&e))?;
        Ok((platform, store))
    }

    /// The one-call writer, when its session is open.
    pub(crate) fn writer(&self) -> Option<&Writer> {
        self.writer.as_deref()
    }

    /// Whether the default collection is locked, by its `Locked` property.
    pub(crate) fn lock_state(&self) -> Result<LockState, VaultError> {
        let Some(collection) = self.default_collection()? else {
            return Ok(LockState::NoDefaultCollection);
        };
        let reply = self
            .bus
            .call_method(
                Some(SECRETS_NAME),
                collection.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(COLLECTION_IFACE, "Locked"),
            )
            .map_err(|e| classify_bus(&e))?;
        let value: OwnedValue = reply
            .body()
            .deserialize()
            .map_err(|e| VaultError::Other(short(&e.to_string())))?;
        match bool::try_from(value) {
            Ok(true) => Ok(LockState::Locked),
            Ok(false) => Ok(LockState::Unlocked),
            Err(_) => Err(VaultError::Other(
                "the Secret Service sent a non-boolean `Locked`".into(),
            )),
        }
    }

    /// The path of the collection the `default` alias names; `None` when there is none yet.
    fn default_collection(&self) -> Result<Option<OwnedObjectPath>, VaultError> {
        read_default_collection(&self.bus)
    }
}

/// The collection the Secret Service's `default` alias names (`ReadAlias`); `None` when there
/// is none yet.
fn read_default_collection(
    bus: &zbus::blocking::Connection,
) -> Result<Option<OwnedObjectPath>, VaultError> {
    let reply = bus
        .call_method(
            Some(SECRETS_NAME),
            SECRETS_PATH,
            Some(SERVICE_IFACE),
            "ReadAlias",
            &("default",),
        )
        .map_err(|e| classify_bus(&e))?;
    let path: OwnedObjectPath = reply
        .body()
        .deserialize()
        .map_err(|e| VaultError::Other(short(&e.to_string())))?;
    Ok((path.as_str() != "/").then_some(path))
}

/// Names the Secret Service error inside a keyring error, when there is one.
pub(crate) fn secret_service_error(err: &keyring_core::Error) -> Option<&secret_service::Error> {
    match err {
        keyring_core::Error::PlatformFailure(inner)
        | keyring_core::Error::NoStorageAccess(inner) => {
            inner.downcast_ref::<secret_service::Error>()
        }
        _ => None,
    }
}

/// Classifies a keyring error from a store operation, by the Secret Service error inside it.
/// `None` when it has no Secret Service meaning (the caller falls back to the generic mapping).
pub(crate) fn classify(err: &keyring_core::Error) -> Option<VaultError> {
    use secret_service::Error as Ss;
    Some(match secret_service_error(err)? {
        Ss::Locked => VaultError::Locked,
        // Gnome-keyring dismisses the unlock prompt itself when it cannot show one.
        Ss::Prompt | Ss::PromptDisconnected => VaultError::AccessDenied,
        Ss::Unavailable => VaultError::Unavailable("no Secret Service on the session bus".into()),
        Ss::NoResult => {
            VaultError::Unavailable("the Secret Service has no default collection".into())
        }
        Ss::Zbus(e) => classify_bus(e),
        other => VaultError::Other(short(&other.to_string())),
    })
}

/// A failure of `Store::new()`: anything is "unavailable".
fn classify_open(err: &keyring_core::Error) -> VaultError {
    match classify(err) {
        Some(VaultError::Other(reason)) | Some(VaultError::Unavailable(reason)) => {
            VaultError::Unavailable(reason)
        }
        Some(other) => other,
        None => VaultError::Unavailable(short(&err.to_string())),
    }
}

/// Maps a D-Bus error by its name.
fn classify_bus(err: &zbus::Error) -> VaultError {
    match err {
        zbus::Error::MethodError(name, _, _) => match name.as_str() {
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner" => VaultError::Unavailable(
                "no Secret Service (e.g. gnome-keyring) on the session bus".into(),
            ),
            "org.freedesktop.Secret.Error.IsLocked" => VaultError::Locked,
            "org.freedesktop.DBus.Error.AccessDenied" => VaultError::AccessDenied,
            "org.freedesktop.DBus.Error.NoReply" | "org.freedesktop.DBus.Error.Timeout" => {
                VaultError::TimedOut(METHOD_TIMEOUT.as_millis() as u64)
            }
            other => VaultError::Other(format!("Secret Service error {other}")),
        },
        zbus::Error::InputOutput(_) | zbus::Error::Address(_) | zbus::Error::Handshake(_) => {
            VaultError::Unavailable(format!(
                "the session bus failed: {}",
                short(&err.to_string())
            ))
        }
        other => VaultError::Other(short(&other.to_string())),
    }
}

// ----- writes without a round trip too many --------------------------------------------------

const ITEM_IFACE: &str = "org.freedesktop.Secret.Item";
const PROMPT_IFACE: &str = "org.freedesktop.Secret.Prompt";
/// The Secret Service's DH session algorithm (the one keyring-core's store negotiates too).
const ALGORITHM_DH: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";
const LABEL_PROP: &str = "org.freedesktop.Secret.Item.Label";
const ATTRIBUTES_PROP: &str = "org.freedesktop.Secret.Item.Attributes";
/// The most items a search for one entry may return before it is refused.
const MAX_MATCHES: usize = 16;
/// The content type keyring-core's store gives its items.
const CONTENT_TYPE: &str = "application/octet-stream";

/// The 1024-bit MODP group of RFC 2409 §6.2 (generator 2): the Secret Service's DH group.
const DH_PRIME: [u8; 128] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x37, 0xED, 0x6B, 0x0B, 0xFF, 0x5C, 0xB6, 0xF4, 0x06, 0xB7, 0xED,
    0xEE, 0x38, 0x6B, 0xFB, 0x5A, 0x89, 0x9F, 0xA5, 0xAE, 0x9F, 0x24, 0x11, 0x7C, 0x4B, 0x1F, 0xE6,
    0x49, 0x28, 0x66, 0x51, 0xEC, 0xE6, 0x53, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// Writes and deletes items with one Secret Service call each, on our own connection and our
/// own encrypted session (opened once).
///
/// keyring-core's store spends five to seven calls on a write (search, then set the found item
/// or read the default alias, its `Locked` property and create) and four on a delete, and the
/// vault asked the lock state (two more) before each. Here a write is one `CreateItem` with
/// `replace` (the Secret Service replaces the item with the same attributes, the ones
/// keyring-core's store gives its items and searches by: `service`, `username`), and a delete
/// of an item whose path we know is one `Delete`.
///
/// A locked collection is answered without raising a prompt: gnome-keyring refuses with
/// `IsLocked`, other services return a prompt, which is dismissed, never shown; either is
/// [`VaultError::Locked`].
pub(crate) struct Writer {
    bus: zbus::blocking::Connection,
    session: OwnedObjectPath,
    key: [u8; 16],
    /// The default collection's path; re-read when the service says it is gone.
    collection: std::sync::Mutex<Option<OwnedObjectPath>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// What a write tells the vault.
pub(crate) enum WriteError {
    /// No default collection: the vault writes through keyring-core's store, which creates it.
    NoCollection,
    /// Anything else.
    Vault(VaultError),
}

impl Writer {
    /// Opens an encrypted session (one `OpenSession`, DH key agreement, HKDF-SHA256,
    /// AES-128-CBC: as keyring-core's store does).
    pub(crate) fn open(platform: &Platform) -> Result<Self, VaultError> {
        use num_bigint::BigUint;
        let prime = BigUint::from_bytes_be(&DH_PRIME);
        let mut private = [0u8; 128];
        getrandom::fill(&mut private)
            .map_err(|_| VaultError::Other("no randomness for the keychain session".into()))?;
        let private = BigUint::from_bytes_be(&private);
        let public = BigUint::from(2u32).modpow(&private, &prime);
        let reply = platform
            .bus
            .call_method(
                Some(SECRETS_NAME),
                SECRETS_PATH,
                Some(SERVICE_IFACE),
                "OpenSession",
                &(
                    ALGORITHM_DH,
                    zbus::zvariant::Value::from(public.to_bytes_be()),
                ),
            )
            .map_err(|e| classify_bus(&e))?;
        let (output, session): (OwnedValue, OwnedObjectPath) = reply
            .body()
            .deserialize()
            .map_err(|e| VaultError::Other(short(&e.to_string())))?;
        let server: Vec<u8> = output
            .try_into()
            .map_err(|_| VaultError::Other("the Secret Service sent no DH public key".into()))?;
        // Bounded: a 1024-bit group's public key is at most 128 bytes.
        if server.is_empty() || server.len() > DH_PRIME.len() {
            return Err(VaultError::Other(
                "the Secret Service sent a malformed DH public key".into(),
            ));
        }
        let shared = BigUint::from_bytes_be(&server).modpow(&private, &prime);
        let shared = shared.to_bytes_be();
        let mut ikm = vec![0u8; DH_PRIME.len().saturating_sub(shared.len())];
        ikm.extend_from_slice(&shared);
        let mut key = [0u8; 16];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &ikm)
            .expand(&[], &mut key)
            .map_err(|_| VaultError::Other("keychain session key derivation failed".into()))?;
        Ok(Self {
            bus: platform.bus.clone(),
            session,
            key,
            collection: std::sync::Mutex::new(platform.default_collection()?),
        })
    }

    fn collection(&self, refresh: bool) -> Result<Option<OwnedObjectPath>, VaultError> {
        let mut cached = self
            .collection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if refresh || cached.is_none() {
            *cached = read_default_collection(&self.bus)?;
        }
        Ok(cached.clone())
    }

    /// Creates or replaces the item of (`service`, `user`) with `secret`: one `CreateItem`.
    /// Its path comes back, for a later [`Writer::delete`].
    pub(crate) fn write(
        &self,
        service: &str,
        user: &str,
        secret: &[u8],
    ) -> Result<String, WriteError> {
        use aes::cipher::block_padding::Pkcs7;
        use aes::cipher::{BlockModeEncrypt, KeyIvInit};
        let mut iv = [0u8; 16];
        getrandom::fill(&mut iv).map_err(|_| {
            WriteError::Vault(VaultError::Other("no randomness for the keychain".into()))
        })?;
        let sealed = cbc::Encryptor::<aes::Aes128>::new(&self.key.into(), &iv.into())
            .encrypt_padded_vec::<Pkcs7>(secret);
        let attributes: std::collections::HashMap<&str, &str> =
            [("service", service), ("username", user)].into();
        let label = format!("keyring:{user}@{service}");
        let mut properties: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> =
            std::collections::HashMap::new();
        properties.insert(LABEL_PROP, label.as_str().into());
        properties.insert(
            ATTRIBUTES_PROP,
            zbus::zvariant::Dict::from(attributes).into(),
        );
        let secret = (self.session.as_ref(), iv.to_vec(), sealed, CONTENT_TYPE);
        for attempt in 0..2 {
            let Some(collection) = self.collection(attempt > 0).map_err(WriteError::Vault)? else {
                return Err(WriteError::NoCollection);
            };
            let reply = self.bus.call_method(
                Some(SECRETS_NAME),
                collection.as_str(),
                Some(COLLECTION_IFACE),
                "CreateItem",
                &(&properties, &secret, true),
            );
            let reply = match reply {
                // The alias moved, or the collection was deleted: read the alias again, once.
                Err(zbus::Error::MethodError(name, _, _))
                    if name.as_str() == "org.freedesktop.DBus.Error.UnknownObject"
                        && attempt == 0 =>
                {
                    continue
                }
                other => other.map_err(|e| WriteError::Vault(classify_bus(&e)))?,
            };
            let (item, prompt): (OwnedObjectPath, OwnedObjectPath) = reply
                .body()
                .deserialize()
                .map_err(|e| WriteError::Vault(VaultError::Other(short(&e.to_string()))))?;
            if item.as_str() == "/" {
                // Locked: the service wants to prompt. Never shown: dismissed.
                self.dismiss(&prompt);
                return Err(WriteError::Vault(VaultError::Locked));
            }
            return Ok(item.as_str().to_owned());
        }
        Err(WriteError::Vault(VaultError::Unavailable(
            "the Secret Service's default collection keeps vanishing".into(),
        )))
    }

    /// Deletes an item by its path: one `Delete`. `Ok(false)` when it was gone already.
    pub(crate) fn delete(&self, item: &str) -> Result<bool, VaultError> {
        let reply =
            match self
                .bus
                .call_method(Some(SECRETS_NAME), item, Some(ITEM_IFACE), "Delete", &())
            {
                Err(zbus::Error::MethodError(name, _, _))
                    if name.as_str() == "org.freedesktop.DBus.Error.UnknownObject"
                        || name.as_str() == "org.freedesktop.Secret.Error.NoSuchObject" =>
                {
                    return Ok(false)
                }
                other => other.map_err(|e| classify_bus(&e))?,
            };
        let prompt: OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(|e| VaultError::Other(short(&e.to_string())))?;
        if prompt.as_str() != "/" {
            self.dismiss(&prompt);
            return Err(VaultError::Locked);
        }
        Ok(true)
    }

    /// The items of (`service`, `user`): one `SearchItems`. A locked match is
    /// [`VaultError::Locked`] (unlocking would prompt).
    pub(crate) fn search(&self, service: &str, user: &str) -> Result<Vec<String>, VaultError> {
        let attributes: std::collections::HashMap<&str, &str> =
            [("service", service), ("username", user)].into();
        let reply = self
            .bus
            .call_method(
                Some(SECRETS_NAME),
                SECRETS_PATH,
                Some(SERVICE_IFACE),
                "SearchItems",
                &(attributes,),
            )
            .map_err(|e| classify_bus(&e))?;
        let (unlocked, locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) = reply
            .body()
            .deserialize()
            .map_err(|e| VaultError::Other(short(&e.to_string())))?;
        if !locked.is_empty() {
            return Err(VaultError::Locked);
        }
        // One (service, username) names one item; a service that answers with more is not
        // walked item by item.
        if unlocked.len() > MAX_MATCHES {
            return Err(VaultError::Other(format!(
                "the Secret Service found {} items for one entry",
                unlocked.len()
            )));
        }
        Ok(unlocked.iter().map(|p| p.as_str().to_owned()).collect())
    }

    fn dismiss(&self, prompt: &OwnedObjectPath) {
        if prompt.as_str() == "/" {
            return;
        }
        if let Err(e) = self.bus.call_method(
            Some(SECRETS_NAME),
            prompt.as_str(),
            Some(PROMPT_IFACE),
            "Dismiss",
            &(),
        ) {
            tracing::debug!(error = %short(&e.to_string()), "could not dismiss a keychain prompt");
        }
    }
}
