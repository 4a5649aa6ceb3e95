//! A local, Dynamic-compatible step-up authority with real verifiers.
//!
//! The sandbox serves the same paths as Dynamic (`/api/v0/sdk/{environmentId}/...`) for
//! everything Stepup Desktop and the official JS SDK use: settings, nonces, email/SMS sign-in,
//! sessions, `stepUp/check`, every step-up verification (email/SMS code, TOTP, recovery code,
//! external-auth assertion, external wallet, linked social account through the sandbox's own
//! provider pages) and the scope-protected actions (TOTP registration, MFA device
//! removal, wallet key export). Verification is real: RFC 6238 TOTP with replay protection,
//! attempt limits, hashed recovery codes, ES256 session and elevated-token JWTs with
//! single-use enforced server-side, device nonce signatures.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stepup_sandbox::SandboxError> {
//! use stepup_sandbox::{Sandbox, SandboxConfig, UserSpec};
//! let sandbox = Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! let alice = sandbox.create_user(UserSpec { email: "alice@example.com".into(), totp: true, ..UserSpec::default() })?;
//! println!("{} {}", sandbox.base_url(), alice.user_id);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`authority`](crate::authority) (private): every rule, as synchronous methods on one value
//!   kept behind a mutex, one file per rule in `authority/`:
//!   - `mod.rs`: the `Authority` value (each field's invariant),
//!     loading and saving its state.
//!   - `sessions.rs`: session JWTs, rotation, refresh, revoke, the `SdkUser` view.
//!   - `grant.rs`: the one path of every accepted verification: rotate (or open) the session,
//!     mint if scopes were asked for, persist, respond.
//!   - `tokens.rs`: scope policies, elevated tokens, and the typed scope
//!     (`PresentedToken<CredentialLink>` ...) of each protected call.
//!   - `device_signatures.rs`: nonces and the `x-dynamic-device-*` check.
//!   - `otp.rs`: email/SMS codes, the outbox, sign-in and step-up with a code.
//!   - `step_up_check.rs`: `stepUp/check`.
//!   - `mfa_attempts.rs`: 5 wrong MFA codes in 15 min lock MFA.
//!   - `mfa_devices.rs`: list, default and removal of MFA devices.
//!   - `totp.rs`, `recovery_codes.rs`, `external_auth.rs`: those step-up methods.
//!   - `passkeys.rs` with `passkeys/registration.rs`, `passkeys/assertion.rs` and
//!     `passkeys/eddsa.rs` (WebAuthn §7.1/§7.2 for Ed25519).
//!   - `wallets.rs`: the demo wallet and the key export.
//!   - `social.rs`: social re-authentication (providers, `initAuth`, the provider's page,
//!     Dynamic's redirect, `providers/{p}/verify`).
//!   - `settings.rs`: `GET settings`.
//!   - `users.rs`: creating users, finding them by email or phone.
//!   - `demo.rs`: the demo user's seed and view.
//! - `http` (private), thin: `http/router.rs` (the route table, request logging that never
//!   records a secret), `http/extractors.rs` (environment, session, device signature, the
//!   presented elevated token, JSON bodies; every failure an `{error, code}` body),
//!   `http/handlers.rs` (one function per route), `http/views.rs` (sandbox-only JSON views),
//!   `http/pages.rs` (the social provider's HTML and the flow's redirects).
//! - `expiring_map` (private): the one bounded in-memory table whose entries expire by age
//!   (nonces, pending email/SMS verifications, passkey ceremonies).
//! - `validation` (private): input bounds, email and phone normal forms.
//! - `time_format` (private): RFC 3339 dates without a date crate.
//! - `store` (private): the persisted state: snapshot (atomic write), journal, compaction.
//! - `crypto` (private): randomness, hashes, TOTP, masking. [`totp_code_at`] is public for tests.
//! - [`error`]: [`ApiError`] (what an HTTP caller sees) and [`SandboxError`].

#![warn(missing_docs)]

mod authority;
mod crypto;
pub mod error;
mod expiring_map;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod store;
mod time_format;
mod validation;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepup_protocol::{Clock, Secret, SystemClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use authority::external_auth::external_auth_key_from_jwks;
pub use authority::rate_limits::VerificationLimits;
pub use crypto::totp_code_at;
pub use error::{ApiError, SandboxError};
/// JWKS reading, for the binary's `--external-auth-jwks`.
pub use stepup_protocol::jwks as protocol_jwks;

/// How long a social sign-in's code (the provider's, and `dynamicOauthCode`) is valid, ms.
pub const SOCIAL_CODE_TTL_MS: i64 = authority::social::CODE_TTL_MS;
pub use http::listener::ConnectionLimits;

/// The environment id the sandbox serves by default.
pub const DEFAULT_ENVIRONMENT_ID: &str = "4f8a5d0e-9c1b-4c3e-8f2a-5b6d7e8f9a0b";

/// The relying party id of passkeys by default (the app's origin's host).
pub const DEFAULT_PASSKEY_RP_ID: &str = "app.stepup.example";

/// The origin passkey ceremonies must carry in `clientDataJSON` by default; the client's
/// `Config::app_origin` must equal it.
pub const DEFAULT_APP_ORIGIN: &str = "https://app.stepup.example";

/// How tokens for one scope behave (`MFASettingsActions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// The token is consumed by its first use (server-side, by `jti`).
    pub single_use: bool,
    /// Lifetime in seconds (positive).
    pub ttl_secs: i64,
    /// Whether `stepUp/check` says "required" and the protected endpoint demands a token.
    pub required: bool,
}

impl TokenPolicy {
    /// Dynamic's defaults: `wallet:*` single-use for 300 s, everything else time-bound for 600 s.
    pub fn default_for(scope: &str) -> Self {
        if scope.starts_with("wallet:") {
            Self {
                single_use: true,
                ttl_secs: 300,
                required: true,
            }
        } else {
            Self {
                single_use: false,
                ttl_secs: 600,
                required: true,
            }
        }
    }
}

/// How a sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The environment id served under `/sdk/{environmentId}`; others get 404.
    pub environment_id: String,
    /// The JSON state file (a snapshot, with its journal beside it as `<name>.journal`);
    /// `None` keeps everything in memory.
    pub state_path: Option<PathBuf>,
    /// The time source of every rule (TOTP steps, expiries, windows).
    pub clock: Arc<dyn Clock>,
    /// Per-scope overrides of [`TokenPolicy::default_for`]. A scope listed here is accepted
    /// even if `TokenScope` does not know it.
    pub token_policies: BTreeMap<String, TokenPolicy>,
    /// Refuse device-signed paths that come without the `x-dynamic-device-*` headers.
    pub require_device_signature: bool,
    /// The customer's key for `externalAuth/verify` assertions (ES256); `None` refuses them.
    pub external_auth_key: Option<p256::ecdsa::VerifyingKey>,
    /// The `kid` the customer's key is published under (the sandbox serves its JWKS).
    pub external_auth_kid: Option<String>,
    /// The `iss` every customer assertion must carry (`security.externalAuth.iss`); `None`
    /// checks none.
    pub external_auth_issuer: Option<String>,
    /// The `aud` every customer assertion must carry (`security.externalAuth.aud`); `None`
    /// checks none.
    pub external_auth_audience: Option<String>,
    /// The sandbox also plays the customer's backend (the demo's): it makes a key of its own
    /// at start, which becomes the external-auth key (issuer [`CUSTOMER_ISSUER`], audience the
    /// environment id unless set), and signs assertions for its users on request
    /// ([`RunningSandbox::customer_link`], `POST /api/v0/sandbox/{env}/customer/assertion`).
    pub customer_backend: bool,
    /// Print delivered email/SMS codes to stderr (the standalone binary's delivery channel).
    pub print_codes: bool,
    /// Create the demo user if the state has none.
    pub seed_demo: bool,
    /// Passkey relying party id: a domain equal to, or a registrable suffix of, the host of
    /// `passkey_origin` (never an IP address).
    pub passkey_rp_id: String,
    /// The app's origin: the only origin accepted in passkey `clientDataJSON` (scheme, host
    /// and port must match), and the URL a wallet's SIWE message must name (its host as the
    /// domain, the URL as `URI:`), as the SDK's `universalLink`.
    pub passkey_origin: String,
    /// Limits on creating email and SMS verifications (429 past them).
    pub verification_limits: VerificationLimits,
    /// Connections at once, and how long one may idle or live.
    pub connection_limits: ConnectionLimits,
    /// Verification methods this environment has turned off, by the names of
    /// [`SWITCHABLE_METHODS`]: its settings say so, and its step-up verifications are refused
    /// (422). Sign-in is not changed.
    pub disabled_methods: BTreeSet<String>,
}

/// The `iss` of the assertions the sandbox's own customer backend signs.
pub const CUSTOMER_ISSUER: &str = "https://customer.stepup.example";
/// The `kid` of the sandbox's customer backend key.
pub const CUSTOMER_KID: &str = "stepup-sandbox-customer";

/// How many times `GET settings` was answered ([`RunningSandbox::settings_reads`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsReads {
    /// Answered with the document (200).
    pub full: u64,
    /// Answered `304 Not Modified` (the client's `If-None-Match` named the current document).
    pub not_modified: u64,
}

/// The methods an environment can turn off ([`SandboxConfig::disabled_methods`]): the MFA
/// methods, recovery codes, the email and SMS codes, the wallet signature, and each social
/// provider.
pub const SWITCHABLE_METHODS: &[&str] = &[
    "totp",
    "passkey",
    "recovery-codes",
    "email",
    "sms",
    "wallet",
    "google",
    "github",
];

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            environment_id: DEFAULT_ENVIRONMENT_ID.to_owned(),
            state_path: None,
            clock: Arc::new(SystemClock),
            token_policies: BTreeMap::new(),
            require_device_signature: false,
            external_auth_key: None,
            external_auth_kid: None,
            external_auth_issuer: None,
            external_auth_audience: None,
            customer_backend: false,
            print_codes: false,
            seed_demo: false,
            passkey_rp_id: DEFAULT_PASSKEY_RP_ID.to_owned(),
            passkey_origin: DEFAULT_APP_ORIGIN.to_owned(),
            verification_limits: VerificationLimits::default(),
            connection_limits: ConnectionLimits::default(),
            disabled_methods: BTreeSet::new(),
        }
    }
}

/// Where a code was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// An email.
    Email,
    /// A text message.
    Sms,
}

impl Channel {
    /// `email` or `sms`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// A delivered email/SMS code (the sandbox's outbox; in memory, the last 100).
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Email or SMS.
    pub channel: Channel,
    /// The address (`alice@example.com`) or number (`+15550100`).
    pub to: String,
    /// The 6-digit code.
    pub code: Secret,
    /// The verification the code belongs to.
    pub verification_uuid: String,
    /// Delivery time, unix ms (sandbox clock).
    pub created_at_ms: i64,
}

/// A session ended by `POST revoke` (in memory, the last 100), with the reason the client gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The signed-in user whose session ended.
    pub user_id: String,
    /// `x-dyn-logout-reason`, when the client sent one: one of the SDK's
    /// [`LogoutReason`](stepup_protocol::headers::LogoutReason) values, or another value of 1
    /// to 64 characters of `[a-z0-9-]` (the SDK lets extensions name their own). Anything
    /// else is recorded as absent: the revocation is not refused for it.
    pub reason: Option<String>,
    /// When, unix ms (sandbox clock).
    pub at_ms: i64,
}

/// A user created by the sandbox, with the secrets a test or demo needs to act as them.
#[derive(Debug, Clone)]
pub struct DemoUser {
    /// User id (the `sub` of its tokens).
    pub user_id: String,
    /// Email address (lower case).
    pub email: String,
    /// (country code `"1"`, ISO `"US"`, national number `"5550100"`).
    pub phone: Option<(String, String, String)>,
    /// The verified TOTP device.
    pub totp_device_id: Option<String>,
    /// Its base32 secret.
    pub totp_secret_base32: Option<Secret>,
    /// Plaintext recovery codes: only known at creation (the sandbox stores hashes).
    pub recovery_codes: Vec<Secret>,
    /// The embedded wallet's id (the `{walletId}` of `waas/{walletId}/privateKey/export`).
    pub wallet_id: Option<String>,
    /// The embedded wallet's address.
    pub wallet_address: Option<String>,
    /// The enrolled device passkey's MFA device id.
    pub passkey_device_id: Option<String>,
    /// The external wallet's address (EIP-55), a verified credential that re-authenticates
    /// by signing a SIWE message.
    pub external_wallet_address: Option<String>,
    /// Its secp256k1 private key (0x-hex), so that a test or the demo can sign as the wallet.
    pub external_wallet_private_key: Option<Secret>,
    /// The device passkey's authenticator as enrolled (soft-token CBOR, base64url): the
    /// sandbox cannot hold the user's authenticator, so it hands it to the app, which seals it
    /// in its keychain (`PasskeyStateStore::save`). Only the demo user has one.
    pub device_passkey_state: Option<Secret>,
    /// Linked social accounts (verified `oauth` credentials), in [`UserSpec::social`]'s order.
    pub social_accounts: Vec<SocialAccount>,
}

/// A linked social account, as the sandbox's provider pages know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialAccount {
    /// `google` or `github`.
    pub provider: String,
    /// The provider's id of the account (what `login_hint` may name, with the username).
    pub account_id: String,
    /// The account's name at the provider: an email for Google, a login for GitHub.
    pub username: String,
    /// The name its authorisation page shows.
    pub display_name: String,
    /// Its verified-credential id.
    pub credential_id: String,
}

/// What [`RunningSandbox::create_user`] creates.
#[derive(Debug, Clone, Default)]
pub struct UserSpec {
    /// Email address (required, unique).
    pub email: String,
    /// (country code without `+`, ISO alpha-2, national number), unique.
    pub phone: Option<(String, String, String)>,
    /// Add a verified TOTP device ("Authenticator app"): the user then has MFA.
    pub totp: bool,
    /// Add 10 recovery codes.
    pub recovery_codes: bool,
    /// Add an embedded wallet with a random demo key.
    pub wallet: bool,
    /// Add a verified external wallet (a browser extension's account, `metamask`) with a
    /// random secp256k1 key, shown in [`DemoUser::external_wallet_private_key`].
    pub external_wallet: bool,
    /// Enrol a device passkey (a soft token), marked as the default MFA device; its state
    /// comes back in [`DemoUser::device_passkey_state`].
    pub passkey: bool,
    /// Link a social account of each of these providers (`google`, `github`: the sandbox's
    /// providers), named after the email (`alice@gmail.example`, `alice-gh`).
    pub social: Vec<String>,
}

/// The sandbox server.
pub struct Sandbox;

impl Sandbox {
    /// Loads the state, binds `addr` (use port 0 for any free port) and serves in a task.
    pub async fn start(
        config: SandboxConfig,
        addr: SocketAddr,
    ) -> Result<RunningSandbox, SandboxError> {
        let mut authority = authority::Authority::new(&config)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        // The social providers' pages are this sandbox's own: their URLs name its address.
        authority.set_public_origin(format!("http://{local}"));
        let shared = Arc::new(http::Shared {
            env: config.environment_id.clone(),
            authority: Mutex::new(authority),
        });
        let router = http::router(shared.clone());
        let connection_limits = config.connection_limits;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<http::listener::PeerAddr>();
            let listener = http::listener::BoundedListener::new(listener, connection_limits);
            let server = axum::serve(listener, service).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = server.await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(addr = %local, env = %config.environment_id, "sandbox listening");
        Ok(RunningSandbox {
            shared,
            addr: local,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A serving sandbox. Dropping it (or [`RunningSandbox::shutdown`]) stops the server.
pub struct RunningSandbox {
    shared: Arc<http::Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSandbox")
            .field("addr", &self.addr)
            .field("env", &self.shared.env)
            .finish()
    }
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT/api/v0`: the client's `api_base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v0", self.addr)
    }

    /// The socket the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The environment id served.
    pub fn environment_id(&self) -> &str {
        &self.shared.env
    }

    /// Delivered email/SMS codes, newest last.
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.shared.with(|a| a.outbox())
    }

    /// How many times `GET settings` was answered: with the document, and with `304 Not
    /// Modified` (memory only: what a test of a client's cache reads back).
    pub fn settings_reads(&self) -> SettingsReads {
        self.shared.with(|a| a.settings_reads)
    }

    /// A step-up link that carries an assertion the sandbox's customer backend signed for the
    /// user with `email`, for `scope`, valid 2 minutes (only with
    /// [`SandboxConfig::customer_backend`]): what the customer's web app would open.
    pub fn customer_link(
        &self,
        email: &str,
        scope: &str,
        requester: &str,
    ) -> Result<String, ApiError> {
        self.shared
            .with(|a| a.customer_link(email, scope, requester))
    }

    /// Sessions ended by `POST revoke`, newest last, with their logout reasons.
    pub fn revocations(&self) -> Vec<Revocation> {
        self.shared.with(|a| a.revocations())
    }

    /// The demo user (if seeded), with its not-yet-used plaintext recovery codes.
    pub fn demo(&self) -> Option<DemoUser> {
        self.shared.with(|a| a.demo())
    }

    /// The demo user's device passkey state as enrolled (soft-token CBOR, base64url), for the
    /// app to store in its keychain when it has none. `None` without a seeded demo user.
    pub fn demo_device_passkey_state(&self) -> Option<Secret> {
        self.shared
            .with(|a| a.demo().and_then(|d| d.device_passkey_state))
    }

    /// The current TOTP code of a base32 secret, computed with the sandbox clock.
    pub fn totp_code(&self, secret_base32: &str) -> Option<String> {
        self.shared.with(|a| a.totp_now(secret_base32))
    }

    /// Creates a user directly, returning its secrets (plaintext recovery codes only here).
    pub fn create_user(&self, spec: UserSpec) -> Result<DemoUser, SandboxError> {
        self.shared.with(|a| a.create_user(spec))
    }

    /// Stops the server and waits (at most 5 s) for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Idle keep-alive connections must not keep a dropped sandbox alive.
            task.abort();
        }
    }
}
