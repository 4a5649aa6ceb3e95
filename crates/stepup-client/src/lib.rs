//! A headless Rust port of Dynamic's step-up authentication client.
//!
//! **Check → verify → proceed**: [`StepUpClient::check_step_up`] answers from a stored token
//! without any network call, else asks the server, and fails closed. A verification stores
//! the elevated token it earns; the scope-protected calls attach it by themselves.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stepup_client::StepUpError> {
//! use std::sync::Arc;
//! use stepup_client::prelude::*;
//!
//! let client = StepUpClient::new(Config::new("my-environment-id")?, Arc::new(MemoryVault::new())).await?;
//! let sent = client.send_email_otp("user@example.com").await?;
//! client.sign_in_with_email_otp(&sent, "123456".into()).await?;
//!
//! let check = client.check_step_up(TokenScope::WalletExport).await;
//! if check.is_required {
//!     let _method = choose_method(&check); // what the dialog preselects
//!     let code = client.send_email_otp("user@example.com").await?;
//!     let verification = Verification::EmailOtp { verification: code, code: "654321".into() };
//!     client.verify(verification, &[TokenScope::WalletExport]).await?;
//! }
//! let exported = client.export_wallet_private_key("wallet-id").await?;
//! # let _ = exported; Ok(()) }
//! ```
//!
//! # Layout
//! - `prelude`: what a caller needs, in one `use stepup_client::prelude::*`.
//! - `config`: environment, API base URL, app origin, timeouts.
//! - `vault`: the [`TokenVault`] storage trait, its types, and [`MemoryVault`].
//! - `blocking`: [`run_blocking`], the one way blocking work (a keychain call, a passkey
//!   ceremony) runs from async code: on a blocking thread, under a time limit.
//! - `store`: the in-memory cache in front of a vault, every vault call through `run_blocking`.
//! - `http`: the API client: the SDK's headers, a time limit per phase (connect, first byte,
//!   body), size-capped answers, error mapping.
//! - `device`: the P-256 device key and the nonce pool.
//! - `session_key`: the P-256 session key, whose public half (`x-dyn-session-public-key`)
//!   every call sends and the server binds the session to.
//! - `client`: [`StepUpClient`], its builder, and the one path every request takes.
//! - `session`: email-OTP sign-in, refresh, logout, session rotation.
//! - `settings`: the environment's project settings, read at start and kept 5 minutes
//!   (revalidated by `ETag`): which methods are on, the social providers, external auth.
//! - `tokens`: parsing elevated tokens; [`TokenStatus`].
//! - `verify/`: one [`Verification`] variant per method, one file each (as mini-redis's
//!   `cmd/`): `email_otp` (also sends the code), `sms_otp`, `otp` (what the two share),
//!   `totp`, `recovery_code`, `external_jwt`, `passkey`; `wallet`: step-up with an external
//!   wallet's SIWE signature ([`WalletSigner`], [`StepUpClient::verify_wallet`]); `social`:
//!   re-authentication with a linked social account in the system browser
//!   ([`SystemBrowser`], [`StepUpClient::verify_social`], or [`StepUpClient::begin_social`] and
//!   [`StepUpClient::complete_social`] for a dialog with Cancel).
//! - `check`: `check_step_up` (and `check_step_up_outcome`, which says whether a "required"
//!   came from the server or from failing closed), `has_elevated_access_token`,
//!   [`choose_method`].
//! - `passkey/`: native passkey ceremonies: [`passkey::PasskeyAuthenticator`] per platform
//!   (`platform_impl/`), the keychain-sealed device passkey (`device`), the WebAuthn JSON
//!   conversions (`wire`), and passkey registration (`flows`).
//! - `actions`: the scope-protected calls and the retry-after-step-up helper.
//! - `error`: [`StepUpError`], one sentence per variant.
//!
//! Each module's unit tests sit at its bottom; the ones that need a server run against
//! `test_server`, a canned HTTP server with the fixtures they share. The black-box tests
//! against the sandbox are in `tests/`.

pub mod actions;
pub mod blocking;
pub mod check;
pub mod client;
pub mod config;
pub mod device;
pub mod error;
pub mod http;
pub mod loopback;
pub mod passkey;
pub mod prelude;
pub mod session;
mod session_key;
pub mod settings;
pub mod store;
pub mod tokens;
pub mod vault;
pub mod verify;

#[cfg(test)]
mod test_server;

pub use blocking::{run_blocking, Stalled};
pub use check::{choose_method, CheckOutcome, CheckSource, CredentialMethod, StepUpCredentialExt};
pub use client::{StepUpClient, StepUpClientBuilder};
pub use config::{is_loopback, Config, DEFAULT_API_BASE_URL, LOOPBACK_ONLY_ENV};
pub use error::{StepUpError, TimeoutPhase};
pub use session::SignIn;
pub use settings::{EnvironmentSettings, ExternalAuthSettings};
pub use stepup_protocol as protocol;
pub use stepup_protocol::headers::LogoutReason;
pub use stepup_protocol::{
    Clock, CredentialFormat, ExportPrivateKeyResponse, ManualClock, MfaDevice, MfaMethodsResponse,
    RecoveryCodesResponse, SdkUser, Secret, StepUpCheck, StepUpCredential, SystemClock, TokenScope,
    TotpRegistration, UserPasskey,
};
pub use store::TokenStore;
pub use tokens::TokenStatus;
pub use vault::{ElevatedToken, MemoryVault, SessionRecord, TokenVault, VaultError, VaultSnapshot};
pub use verify::{
    LocalKeySigner, OtpChannel, OtpVerification, PhoneNumber, SocialAccount, SocialPending,
    SystemBrowser, Verification, VerifyOutcome, WalletAccount, WalletChallenge, WalletSigner,
};
