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

/// Our own session-bus connection, for the lock state.
#[derive(Clone)]
pub(crate) struct Platform {
    bus: zbus::blocking::Connection,
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
        let platform = Self { bus };
        // Fails with ServiceUnknown when no Secret Service is running or activatable.
        platform.default_collection()?;
        let store =
            zbus_secret_service_keyring_store::Store::new().map_err(|e| classify_open(&e))?;
        Ok((platform, store))
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
        let reply = self
            .bus
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
