//! The platform's keychain behind one API: open the store, tell whether it is locked, and
//! classify the store's errors.
//!
//! ## Platform-specific
//! - **Linux**: the Secret Service through `zbus-secret-service-keyring-store`; the lock state is
//!   the default collection's `Locked` property (see `linux.rs`).
//! - **macOS**: the login keychain (`apple-native-keyring-store`, `keychain` feature). A locked
//!   keychain makes the OS prompt; the lock state is not probed ([`LockState::Unknown`]).
//! - **Windows**: the Credential Manager (`windows-native-keyring-store`); it has no lock state.

/// Whether the keychain would answer reads truthfully right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockState {
    /// Unlocked: an absent entry is really absent.
    Unlocked,
    /// Locked: reads find nothing, writes fail or prompt.
    Locked,
    /// The Secret Service has no default collection yet (nothing was ever stored).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    NoDefaultCollection,
    /// This platform cannot tell.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    Unknown,
}

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::{classify, Platform, WriteError, Writer};

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::{classify, Platform, WriteError, Writer};
