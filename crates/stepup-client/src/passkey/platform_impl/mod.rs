//! Per-platform authenticators behind [`PasskeyAuthenticator`](super::PasskeyAuthenticator).

#[cfg(feature = "security-keys")]
pub(crate) mod security_key;
#[cfg(windows)]
pub(crate) mod windows;
