//! A headless Rust port of Dynamic's step-up authentication client.
//!
//! **Check → verify → proceed**: [`StepUpClient::check_step_up`] answers from a stored token
//! without any network call, else asks the server, and fails closed. A verification stores
//! the elevated token it earns; the scope-protected calls attach it by themselves.
//!
//! # Layout
//! - `config`: environment, API base URL, app origin, timeouts.
//! - `vault`: the [`TokenVault`] storage trait, its types, and [`MemoryVault`].
//! - `store`: the in-memory cache in front of a vault (spawn_blocking + timeout).
//! - `http`: the API client: the SDK's headers, device nonce signatures, error mapping.
//! - `device`: the P-256 device key and the nonce pool.
//! - `session`: email-OTP sign-in, refresh, logout, session rotation.
//! - `tokens`: parsing elevated tokens and attaching them.
//! - `verify`: one variant per verification method.
//! - `actions`: the scope-protected calls and the retry-after-step-up helper.
//! - `error`: [`StepUpError`], one sentence per variant.

pub mod vault;

pub use stepup_protocol as protocol;
pub use vault::{ElevatedToken, MemoryVault, SessionRecord, TokenVault, VaultError, VaultSnapshot};
