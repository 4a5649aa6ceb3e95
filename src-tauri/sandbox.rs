//! `--sandbox`: the local step-up authority embedded on 127.0.0.1, its two demo users, the
//! sign-in that reads the emailed code from the outbox in-process, and the outbox view that
//! lets a newcomer complete every flow alone.
//!
//! The authority is linked in only with the `sandbox` cargo feature (on by default: the demo,
//! the tests and every debug build have it). The package is built without it
//! (`--no-default-features`): there [`EmbeddedSandbox`] is a type with no values, so every
//! sandbox command answers `not_sandbox` and `--sandbox` says this build has none.

use serde::Serialize;

#[cfg(not(feature = "sandbox"))]
pub use absent::{EmbeddedSandbox, APP_ORIGIN};
#[cfg(feature = "sandbox")]
pub use embedded::{EmbeddedSandbox, APP_ORIGIN};

/// The PIN the demo user's device passkey is sealed under (shown in the outbox panel: the demo
/// must be completable alone; a real passkey's PIN is chosen by its user).
pub const DEMO_PASSKEY_PIN: &str = "246810";

/// One delivered code, as the outbox panel shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    /// `email` or `sms`.
    pub channel: &'static str,
    /// Address or number.
    pub to: String,
    /// The code (sandbox only: it exists so a newcomer can complete the flow).
    pub code: String,
    /// Delivery time, unix ms.
    pub sent_at_ms: i64,
}

/// The outbox panel.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxView {
    /// Newest first.
    pub messages: Vec<OutboxEntry>,
    /// The demo authenticator's current code.
    pub totp_code: Option<String>,
    /// Seconds until it changes.
    pub totp_valid_for_seconds: Option<u64>,
    /// Unused recovery codes of the demo user (three at most).
    pub recovery_codes: Vec<String>,
    /// Links to try the dialog with.
    pub example_links: Vec<String>,
    /// Who is signed in: `mfa` or `reauth`.
    pub persona_emails: [String; 2],
    /// The demo device passkey's PIN.
    pub passkey_pin: &'static str,
    /// The re-auth user's external wallet: its address and its private key (0x-hex; sandbox
    /// only, a throwaway key), to sign its wallet message with.
    pub demo_wallet: Option<DemoWalletView>,
}

/// The sandbox's demo external wallet.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoWalletView {
    /// Its address (EIP-55).
    pub address: String,
    /// Its private key (0x-hex).
    pub private_key: String,
}

impl std::fmt::Debug for DemoWalletView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoWalletView")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "sandbox")]
mod embedded {
    use super::{DemoWalletView, OutboxEntry, OutboxView, DEMO_PASSKEY_PIN};
    use crate::cli::SandboxPersona;
    use std::net::{Ipv4Addr, SocketAddr};
    use stepup_client::{OtpVerification, SdkUser, Secret, StepUpClient};
    use stepup_requests::flow::EmbeddedWallet;
    use stepup_requests::AppError;
    use stepup_sandbox::{RunningSandbox, Sandbox, SandboxConfig, UserSpec};

    /// The user without MFA (email, SMS, external-wallet and social re-authentication).
    const REAUTH_EMAIL: &str = "casey@stepup.example";
    /// How many delivered messages the outbox view shows.
    const OUTBOX_SHOWN: usize = 10;

    /// The embedded sandbox and the demo users' addresses.
    #[derive(Debug)]
    pub struct EmbeddedSandbox {
        running: RunningSandbox,
        mfa_email: String,
        /// The re-auth user's external wallet key (0x-hex): the sandbox's demo wallet, so that
        /// a newcomer (or a test) can sign as it with `cast wallet sign` or a test wallet.
        reauth_wallet_key: Option<Secret>,
    }

    /// The web origin passkey ceremonies carry against the sandbox.
    pub const APP_ORIGIN: &str = stepup_sandbox::DEFAULT_APP_ORIGIN;

    impl EmbeddedSandbox {
        /// Starts the sandbox on a random loopback port, in memory, with both demo users, its
        /// environment with the `disabled` methods turned off.
        pub async fn start(disabled: &[String]) -> Result<Self, AppError> {
            let config = SandboxConfig {
                disabled_methods: disabled.iter().cloned().collect(),
                seed_demo: true,
                print_codes: false,
                state_path: None,
                // The demo's customer backend: links carrying a confirmation it signed.
                customer_backend: true,
                ..SandboxConfig::default()
            };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            let running = Sandbox::start(config, addr).await.map_err(|e| {
                AppError::SandboxFailed(format!(
                    "the sandbox could not start ({e}): restart the app"
                ))
            })?;
            let mfa_email = running.demo().map(|d| d.email).ok_or_else(|| {
                AppError::SandboxFailed("the sandbox has no demo user: restart the app".into())
            })?;
            let spec = UserSpec {
                email: REAUTH_EMAIL.into(),
                phone: Some(("44".into(), "GB".into(), "7700900123".into())),
                external_wallet: true,
                // Re-authentication in the system browser: a linked Google account (the
                // sandbox's own provider page). The MFA user has one too, but MFA users are
                // offered MFA only.
                social: vec!["google".into()],
                ..UserSpec::default()
            };
            let reauth = running.create_user(spec).map_err(|e| {
                AppError::SandboxFailed(format!(
                    "the sandbox could not create its demo user ({e}): restart the app"
                ))
            })?;
            Ok(Self {
                running,
                mfa_email,
                reauth_wallet_key: reauth.external_wallet_private_key,
            })
        }

        /// The demo user's device passkey as enrolled (authenticator state), if it has one.
        pub fn demo_device_passkey_state(&self) -> Option<Secret> {
            self.running.demo_device_passkey_state()
        }

        /// The demo user's embedded wallet (id, address), when `user_id` is the demo user.
        pub fn demo_wallet(&self, user_id: &str) -> Option<EmbeddedWallet> {
            let demo = self.running.demo().filter(|d| d.user_id == user_id)?;
            Some(EmbeddedWallet {
                id: demo.wallet_id?,
                address: demo.wallet_address,
            })
        }

        /// `http://127.0.0.1:PORT/api/v0`.
        pub fn base_url(&self) -> String {
            self.running.base_url()
        }

        /// A step-up link for `scope` carrying a confirmation the sandbox's customer backend
        /// signed for the user with `email` (valid 2 minutes): what the customer's web app
        /// would open.
        pub fn server_confirmed_link(&self, email: &str, scope: &str) -> Result<String, AppError> {
            self.running
                .customer_link(email, scope, "Acme Wallet")
                .map_err(|e| {
                    AppError::SandboxFailed(format!(
                        "the customer backend refused: {}",
                        e.body.error
                    ))
                })
        }

        /// The environment id it serves.
        pub fn environment_id(&self) -> &str {
            self.running.environment_id()
        }

        fn email_of(&self, persona: SandboxPersona) -> &str {
            match persona {
                SandboxPersona::Mfa => &self.mfa_email,
                SandboxPersona::Reauth => REAUTH_EMAIL,
            }
        }

        /// The re-auth user's external wallet (address, key), when it has one.
        fn reauth_wallet(&self) -> Option<(String, &Secret)> {
            let key = self.reauth_wallet_key.as_ref()?;
            let address = stepup_client::LocalKeySigner::from_hex(key).ok()?.address();
            Some((address, key))
        }

        /// The code delivered for a verification, read from the outbox in-process.
        pub fn code_for(&self, verification: &OtpVerification) -> Option<Secret> {
            self.running
                .outbox()
                .into_iter()
                .rev()
                .find(|m| m.verification_uuid == verification.verification_uuid)
                .map(|m| m.code)
        }

        /// Signs `persona` in: sends the email code, reads it from the outbox, signs in.
        pub async fn sign_in(
            &self,
            client: &StepUpClient,
            persona: SandboxPersona,
        ) -> Result<SdkUser, AppError> {
            let sent = client.send_email_otp(self.email_of(persona)).await?;
            let code = self.code_for(&sent).ok_or_else(|| {
                AppError::SandboxFailed(
                    "the sandbox delivered no sign-in code: restart the app".into(),
                )
            })?;
            Ok(client.sign_in_with_email_otp(&sent, code).await?)
        }

        /// The outbox panel: delivered codes, the demo TOTP code, example links.
        pub fn outbox_view(&self, now_ms: i64) -> OutboxView {
            let messages = self
                .running
                .outbox()
                .into_iter()
                .rev()
                .take(OUTBOX_SHOWN)
                .map(|m| OutboxEntry {
                    channel: m.channel.as_str(),
                    to: m.to,
                    code: m.code.expose().to_owned(),
                    sent_at_ms: m.created_at_ms,
                })
                .collect();
            let demo = self.running.demo();
            let totp_code = demo
                .as_ref()
                .and_then(|d| d.totp_secret_base32.as_ref())
                .and_then(|secret| self.running.totp_code(secret.expose()));
            let seconds = u64::try_from(now_ms / 1000).unwrap_or(0);
            let recovery_codes = demo
                .map(|d| {
                    d.recovery_codes
                        .iter()
                        .take(3)
                        .map(|c| c.expose().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            OutboxView {
                messages,
                totp_valid_for_seconds: totp_code.as_ref().map(|_| 30 - seconds % 30),
                totp_code,
                recovery_codes,
                example_links: vec![
                    "com.stepup.desktop://step-up?scope=wallet:export&requester=Acme%20Wallet"
                        .into(),
                    "com.stepup.desktop://step-up?scope=credential:link&requester=Acme%20Wallet"
                        .into(),
                    "com.stepup.desktop://step-up?scope=wallet:teleport&requester=Acme%20Wallet"
                        .into(),
                ],
                persona_emails: [self.mfa_email.clone(), REAUTH_EMAIL.into()],
                passkey_pin: DEMO_PASSKEY_PIN,
                demo_wallet: self.reauth_wallet().map(|(address, key)| DemoWalletView {
                    address,
                    private_key: key.expose().to_owned(),
                }),
            }
        }
    }
}

#[cfg(not(feature = "sandbox"))]
mod absent {
    use super::OutboxView;
    use crate::cli::SandboxPersona;
    use stepup_client::{OtpVerification, SdkUser, Secret, StepUpClient};
    use stepup_requests::flow::EmbeddedWallet;
    use stepup_requests::AppError;

    /// A build without the `sandbox` feature has no embedded sandbox: this type has no values.
    #[derive(Debug)]
    pub enum EmbeddedSandbox {}

    /// Unused without a sandbox (no value of [`EmbeddedSandbox`] exists).
    pub const APP_ORIGIN: &str = "";

    impl EmbeddedSandbox {
        /// Always refused: this build has no sandbox.
        pub async fn start(_disabled: &[String]) -> Result<Self, AppError> {
            Err(AppError::SandboxFailed(
                "this build has no sandbox (it is the installed app): start it without --sandbox"
                    .into(),
            ))
        }
        pub fn demo_device_passkey_state(&self) -> Option<Secret> {
            match *self {}
        }
        pub fn demo_wallet(&self, _user_id: &str) -> Option<EmbeddedWallet> {
            match *self {}
        }
        pub fn base_url(&self) -> String {
            match *self {}
        }
        pub fn server_confirmed_link(
            &self,
            _email: &str,
            _scope: &str,
        ) -> Result<String, AppError> {
            match *self {}
        }
        pub fn environment_id(&self) -> &str {
            match *self {}
        }
        pub fn code_for(&self, _verification: &OtpVerification) -> Option<Secret> {
            match *self {}
        }
        pub async fn sign_in(
            &self,
            _client: &StepUpClient,
            _persona: SandboxPersona,
        ) -> Result<SdkUser, AppError> {
            match *self {}
        }
        pub fn outbox_view(&self, _now_ms: i64) -> OutboxView {
            match *self {}
        }
    }
}
