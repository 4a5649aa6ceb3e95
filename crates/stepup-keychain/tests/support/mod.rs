//! Shared set-up of the keychain tests and benches: a sandbox on 127.0.0.1 and a client whose
//! vault is the real keychain, signed in by email OTP, both on one clock the caller controls.
#![allow(dead_code)]

use std::sync::Arc;
use stepup_client::vault::TokenVault;
use stepup_client::{
    Config, ManualClock, Secret, StepUpClient, StepUpError, TokenScope, Verification,
};
use stepup_keychain::KeychainVault;
use stepup_sandbox::{DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec};

/// Fails the test unless it runs inside `with-keyring.sh` (which sets `STEPUP_KEYCHAIN_TESTS=1`):
/// a keychain test never touches a developer's own keyring, and never passes without running.
/// The tests are `#[ignore]`d for that reason; `cargo xtask test` runs them with
/// `--include-ignored` inside `with-keyring.sh`.
pub fn require_private_keyring() {
    assert_eq!(
        std::env::var("STEPUP_KEYCHAIN_TESTS").as_deref(),
        Ok("1"),
        "needs a private Secret Service: run inside \
         dbus-run-session -- crates/stepup-keychain/with-keyring.sh"
    );
}

pub struct OnKeychain {
    pub sandbox: RunningSandbox,
    pub client: StepUpClient,
    pub config: Config,
    pub vault: Arc<KeychainVault>,
    pub user: DemoUser,
    pub clock: ManualClock,
    /// The code the sign-in used.
    pub sign_in_code: Secret,
}

/// A user with a TOTP device and a wallet, signed in; the vault is a keychain service of its own.
pub async fn signed_in(email: &str, env_tag: &str) -> OnKeychain {
    let clock = ManualClock::now();
    let config = SandboxConfig {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    };
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let user = sandbox
        .create_user(UserSpec {
            email: email.into(),
            totp: true,
            wallet: true,
            ..Default::default()
        })
        .expect("user");
    let env = format!("{env_tag}-{}", std::process::id());
    let vault =
        Arc::new(KeychainVault::open_for_environment("com.stepup.test", &env).expect("keychain"));
    let config = Config::new(sandbox.environment_id())
        .expect("config")
        .with_api_base_url(sandbox.base_url().parse().expect("url"));
    let client = client_on(&config, &vault, &clock).await;
    let sent = client.send_email_otp(&user.email).await.expect("send");
    let sign_in_code = sandbox.outbox().last().expect("code").code.clone();
    client
        .sign_in_with_email_otp(&sent, sign_in_code.clone())
        .await
        .expect("sign in");
    OnKeychain {
        sandbox,
        client,
        config,
        vault,
        user,
        clock,
        sign_in_code,
    }
}

/// A fresh client on the same keychain (what a restart of the app does).
pub async fn client_on(
    config: &Config,
    vault: &Arc<KeychainVault>,
    clock: &ManualClock,
) -> StepUpClient {
    StepUpClient::builder(config.clone())
        .vault(vault.clone() as Arc<dyn TokenVault>)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("client")
}

impl OnKeychain {
    /// The current TOTP code of the user's device.
    pub fn totp_now(&self) -> Secret {
        let secret = self.user.totp_secret_base32.as_ref().expect("totp");
        Secret::new(self.sandbox.totp_code(secret.expose()).expect("code"))
    }

    /// A TOTP step-up for `scope`; returns the code it used.
    pub async fn step_up(&self, scope: TokenScope) -> Result<Secret, StepUpError> {
        let code = self.totp_now();
        self.client
            .verify(
                Verification::Totp {
                    device_id: None,
                    code: code.clone(),
                },
                &[scope],
            )
            .await
            .map(|_| code)
    }
}
