//! The authority: every rule of the sandbox, as synchronous methods on one value that the HTTP
//! layer keeps behind a mutex. Nothing here knows about HTTP except the [`ApiError`] it returns.
//!
//! One file per rule, each adding methods to [`Authority`]:
//! - `sessions`: session JWTs, rotation, refresh and revoke, the `SdkUser` view.
//! - `grant`: the one way a verification pays off: rotate the session, mint, persist, respond.
//! - `tokens`: scope policies, minting elevated tokens, and checking (consuming) the token a
//!   scope-protected call presents.
//! - `device_signatures`: nonces and the `x-dynamic-device-*` signature check.
//! - `otp`: email/SMS codes: delivery, the outbox, sign-in and step-up with a code.
//! - `step_up_check`: `stepUp/check`, which credentials a user is offered.
//! - `mfa_attempts`: the limit on wrong MFA codes.
//! - `mfa_devices`: listing MFA devices and methods, removing and choosing the default.
//! - `totp`: TOTP step-up and registration.
//! - `recovery_codes`: recovery-code step-up, the codes a new user gets, and a new set.
//! - `external_auth`: customer-signed assertions.
//! - `passkeys` (with `passkeys/`): WebAuthn registration and step-up.
//! - `wallets`: the embedded wallet and its key export; step-up with an external wallet.
//! - `siwe`: the SIWE (EIP-4361) message parser, EIP-191 recovery, Keccak addresses.
//! - `social`: social (OAuth) re-authentication: `initAuth`, the provider's authorisation
//!   page, Dynamic's redirect, `providers/{p}/verify`.
//! - `unlink`: `verify/unlink`, unlinking a social account behind `credential:unlink`.
//! - `settings`: the project settings the SDK initialises against.
//! - `users`: creating users and finding them by email or phone.
//! - `demo`: the demo user's seed and its view.

use p256::ecdsa::{SigningKey, VerifyingKey};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use stepup_protocol::{Clock, Secret};

mod demo;
mod device_signatures;
pub(crate) mod external_auth;
mod grant;
mod mfa_attempts;
mod mfa_devices;
mod otp;
mod passkeys;
pub(crate) mod rate_limits;
mod recovery_codes;
mod sessions;
mod settings;
pub(crate) mod siwe;
pub(crate) mod social;
mod step_up_check;
mod tokens;
mod totp;
mod unlink;
mod users;
mod wallets;

pub(crate) use device_signatures::DeviceSignature;
pub(crate) use sessions::{SentSessionKey, SessionCtx};
pub(crate) use tokens::{
    CredentialLink, CredentialUnlink, PresentedToken, ProtectedScope, WalletExport,
};

use crate::error::{ApiError, SandboxError};
use crate::expiring_map::ExpiringMap;
use crate::store::{self, PersistedState, Store, Tracked, UserRecord};
use crate::validation::MAX_ID_LEN;
use crate::{crypto, OutboxMessage, Revocation, SandboxConfig, TokenPolicy};
use otp::OtpVerification;
use passkeys::Ceremony;

/// The state and rules of one environment.
pub(crate) struct Authority {
    /// The environment id served: 1 to 128 characters without `/`; a session JWT of another
    /// environment is refused.
    env: String,
    /// The time source of every rule (expiries, TOTP steps, windows); nothing here reads the
    /// system clock itself, so tests move time with a `ManualClock`.
    clock: Arc<dyn Clock>,
    /// Per-scope overrides of [`TokenPolicy::default_for`]: each has a positive ttl and a
    /// scope without spaces (refused otherwise in [`Authority::new`]).
    policies: BTreeMap<String, TokenPolicy>,
    /// Device-signed paths that come without the `x-dynamic-device-*` headers are refused.
    require_device_signature: bool,
    /// The customer's key for `externalAuth/verify` assertions; `None` refuses them all.
    external_auth_key: Option<VerifyingKey>,
    /// The `kid` the external-auth key is published under, if any.
    external_auth_kid: Option<String>,
    /// The `iss` and `aud` every external-auth assertion must carry, when set.
    external_auth_issuer: Option<String>,
    external_auth_audience: Option<String>,
    /// The demo customer backend's signing key (its public half is `external_auth_key`).
    customer_key: Option<SigningKey>,
    /// The methods turned off (names of `SWITCHABLE_METHODS`, checked at build).
    disabled_methods: BTreeSet<String>,
    /// `GET settings` answers so far (memory only).
    pub(crate) settings_reads: crate::SettingsReads,
    /// Delivered codes are also printed to stderr: the standalone binary's delivery channel,
    /// never a tracing event (logs must not carry a code).
    print_codes: bool,
    /// Where [`Authority::state`] is written after every change (the state file's snapshot
    /// and journal); `None` keeps it in memory.
    store: Option<Store>,
    /// What survives a restart. Every change a response reports is saved (`persist`) before
    /// that response is built, so a restart never forgets what a client was told. Changed only
    /// through `Tracked`'s methods, which note what a save must write.
    state: Tracked,
    /// The ES256 key of session JWTs and elevated tokens: always the key in
    /// `state.signing_key`, so tokens outlive a restart.
    signing_key: SigningKey,
    /// Issued, unused device nonces (24 h, at most 10 000): a nonce is taken by the first
    /// signature that names it, good or bad.
    nonces: ExpiringMap<()>,
    /// Pending email/SMS verifications by uuid (10 min, at most 10 000); memory only: a
    /// restart forgets them, as their codes are nowhere else but the outbox.
    verifications: ExpiringMap<OtpVerification>,
    /// How many verifications may still be created, per address, per client and in all.
    verification_limits: rate_limits::VerificationRateLimiter,
    /// Delivered codes, oldest first, at most `OUTBOX_CAP` (memory only).
    outbox: VecDeque<OutboxMessage>,
    /// Revoked sessions with their logout reasons, oldest first, at most
    /// `sessions::REVOCATIONS_CAP` (memory only: what a test or the demo reads back).
    revocations: VecDeque<Revocation>,
    /// The demo user's plaintext recovery codes not used yet (memory only: the state keeps
    /// hashes); empty when the demo was not seeded by this process.
    demo_recovery_codes: Vec<Secret>,
    /// The passkey relying party: its rp id fits its one accepted origin (checked at build).
    webauthn: webauthn_rs::prelude::Webauthn,
    /// The passkey rp id, as configured (what the EdDSA checks compare against).
    passkey_rp_id: String,
    /// Pending passkey ceremonies by challenge (60 s, at most 10 000, single use; memory only).
    ceremonies: ExpiringMap<Ceremony>,
    /// The app's URL (the configured passkey origin, parsed): a SIWE message must name its
    /// host as the domain and it as the URI.
    app_origin: url::Url,
    /// Accepted SIWE messages by salted SHA-256 (11 min, at most 10 000; memory only): a
    /// message is accepted once.
    used_siwe_messages: ExpiringMap<()>,
    /// Pending social sign-ins: `initAuth` states (10 min), shown authorisation pages
    /// (10 min), provider codes and `dynamicOauthCode`s (60 s, single use); memory only.
    social: social::SocialTables,
    /// `http://HOST:PORT` of this sandbox as bound: what the providers' URLs in `settings`
    /// name (the authorisation page, Dynamic's redirect). Set once the port is known.
    public_origin: String,
}

impl Authority {
    /// Builds the authority: loads the state file (or starts a new one) and seeds the demo user.
    pub(crate) fn new(config: &SandboxConfig) -> Result<Self, SandboxError> {
        if config.environment_id.is_empty()
            || config.environment_id.len() > MAX_ID_LEN
            || config.environment_id.contains('/')
        {
            return Err(SandboxError::Config(
                "environment_id must be 1 to 128 characters without '/'".into(),
            ));
        }
        if let Some(unknown) = config
            .disabled_methods
            .iter()
            .find(|m| !crate::SWITCHABLE_METHODS.contains(&m.as_str()))
        {
            return Err(SandboxError::Config(format!(
                "no method {unknown:?} can be turned off (these can: {})",
                crate::SWITCHABLE_METHODS.join(", ")
            )));
        }
        for (scope, policy) in &config.token_policies {
            if policy.ttl_secs <= 0 || scope.is_empty() || scope.contains(' ') {
                return Err(SandboxError::Config(format!(
                    "token policy for {scope:?} needs a positive ttl and a scope without spaces"
                )));
            }
        }
        let loaded = match &config.state_path {
            Some(path) => store::load(path)?,
            None => None,
        };
        let state = match loaded {
            Some(s) if s.environment_id != config.environment_id => {
                return Err(SandboxError::EnvironmentMismatch {
                    expected: config.environment_id.clone(),
                    found: s.environment_id,
                });
            }
            Some(s) => s,
            None => {
                let key = crypto::new_signing_key();
                PersistedState::new(
                    &config.environment_id,
                    Secret::new(hex::encode(key.to_bytes())),
                )
            }
        };
        let key_bytes = hex::decode(state.signing_key.expose()).ok();
        let signing_key = key_bytes
            .and_then(|b| SigningKey::from_slice(&b).ok())
            .ok_or_else(|| SandboxError::LoadState {
                path: config
                    .state_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                reason: "the signing key in the state file is not a P-256 scalar".into(),
            })?;
        let webauthn = passkeys::relying_party(&config.passkey_rp_id, &config.passkey_origin)?;
        let app_origin = url::Url::parse(&config.passkey_origin).map_err(|_| {
            SandboxError::Config("passkey_origin must be a URL (the app's origin)".into())
        })?;
        let mut state = Tracked::new(state);
        state.prune(config.clock.now_secs());
        let store = match &config.state_path {
            Some(path) => Some(Store::create(path, &mut state)?),
            None => None,
        };
        let customer_key = config.customer_backend.then(crypto::new_signing_key);
        let mut authority = Self {
            env: config.environment_id.clone(),
            clock: config.clock.clone(),
            policies: config.token_policies.clone(),
            require_device_signature: config.require_device_signature,
            external_auth_key: customer_key
                .as_ref()
                .map(|k| *k.verifying_key())
                .or(config.external_auth_key),
            external_auth_kid: config.external_auth_kid.clone().or_else(|| {
                config
                    .customer_backend
                    .then(|| crate::CUSTOMER_KID.to_owned())
            }),
            external_auth_issuer: config.external_auth_issuer.clone().or_else(|| {
                config
                    .customer_backend
                    .then(|| crate::CUSTOMER_ISSUER.to_owned())
            }),
            external_auth_audience: config.external_auth_audience.clone().or_else(|| {
                config
                    .customer_backend
                    .then(|| config.environment_id.clone())
            }),
            customer_key,
            disabled_methods: config.disabled_methods.clone(),
            settings_reads: crate::SettingsReads::default(),
            print_codes: config.print_codes,
            store,
            state,
            signing_key,
            nonces: device_signatures::nonce_table(),
            verifications: otp::verification_table(),
            verification_limits: rate_limits::VerificationRateLimiter::new(
                config.verification_limits,
            ),
            outbox: VecDeque::new(),
            revocations: VecDeque::new(),
            demo_recovery_codes: Vec::new(),
            webauthn,
            passkey_rp_id: config.passkey_rp_id.clone(),
            ceremonies: passkeys::ceremony_table(),
            app_origin,
            used_siwe_messages: wallets::used_message_table(),
            social: social::SocialTables::new(),
            public_origin: "http://127.0.0.1".into(),
        };
        if config.seed_demo {
            authority.seed_demo()?;
        }
        authority.save()?;
        Ok(authority)
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Prunes what has expired and saves what changed since the last save (if there is a
    /// state file).
    fn save(&mut self) -> Result<(), SandboxError> {
        self.state.prune(self.now_secs());
        match &mut self.store {
            Some(store) => store.save(&mut self.state),
            None => {
                self.state.take_changes();
                Ok(())
            }
        }
    }

    /// Persists after a mutation; a write failure becomes a 500 that names no secret.
    fn persist(&mut self) -> Result<(), ApiError> {
        self.save().map_err(|e| {
            tracing::error!(error = %e, "state not saved");
            ApiError::internal("the sandbox could not save its state")
        })
    }

    fn user(&self, user_id: &str) -> Result<&UserRecord, ApiError> {
        self.state
            .users
            .get(user_id)
            .ok_or_else(|| ApiError::unauthorized("the session's user no longer exists"))
    }

    fn user_mut(&mut self, user_id: &str) -> Result<&mut UserRecord, ApiError> {
        self.state
            .user_mut(user_id)
            .ok_or_else(|| ApiError::unauthorized("the session's user no longer exists"))
    }
}
