//! macOS and Windows: the native store; no lock probe (the OS prompts or has no lock).

use std::sync::Arc;

use keyring_core::CredentialStore;
use stepup_client::vault::VaultError;

use super::LockState;

/// No state of our own on these platforms.
#[derive(Clone)]
pub(crate) struct Platform;

impl Platform {
    /// Opens the platform's store.
    pub(crate) fn open() -> Result<(Self, Arc<CredentialStore>), VaultError> {
        #[cfg(target_os = "macos")]
        let store = apple_native_keyring_store::keychain::Store::new();
        #[cfg(target_os = "windows")]
        let store = windows_native_keyring_store::Store::new();
        #[cfg(not(any(target_os = "macos", target_os = "windows")))]
        let store: keyring_core::Result<Arc<CredentialStore>> = Err(
            keyring_core::Error::NotSupportedByStore("no keychain on this platform".into()),
        );
        let store: Arc<CredentialStore> =
            store.map_err(|e| VaultError::Unavailable(e.to_string()))?;
        Ok((Self, store))
    }

    /// No one-call writer here: the vault writes through the store.
    pub(crate) fn writer(&self) -> Option<&Writer> {
        None
    }

    /// These platforms cannot tell.
    pub(crate) fn lock_state(&self) -> Result<LockState, VaultError> {
        Ok(LockState::Unknown)
    }
}

/// No platform-specific classification beyond the generic one.
pub(crate) fn classify(_err: &keyring_core::Error) -> Option<VaultError> {
    None
}

/// The Linux one-call writer's interface; never built on these platforms.
pub(crate) enum Writer {}

/// What a write tells the vault.
#[allow(dead_code)]
pub(crate) enum WriteError {
    /// No default collection.
    NoCollection,
    /// Anything else.
    Vault(VaultError),
}

impl Writer {
    pub(crate) fn write(&self, _: &str, _: &str, _: &[u8]) -> Result<String, WriteError> {
        match *self {}
    }
    pub(crate) fn delete(&self, _: &str) -> Result<bool, VaultError> {
        match *self {}
    }
    pub(crate) fn search(&self, _: &str, _: &str) -> Result<Vec<String>, VaultError> {
        match *self {}
    }
}
