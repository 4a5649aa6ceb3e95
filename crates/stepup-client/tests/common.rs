//! Shared set-up: a sandbox on 127.0.0.1 and a client, both on one clock the test controls.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use stepup_client::{
    Config, ManualClock, MemoryVault, OtpVerification, Secret, StepUpClient, TokenVault,
};
use stepup_sandbox::{DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec};

pub struct World {
    pub sandbox: RunningSandbox,
    pub client: StepUpClient,
    pub clock: ManualClock,
    pub vault: Arc<MemoryVault>,
    pub user: DemoUser,
}

pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub async fn sandbox(config: SandboxConfig) -> RunningSandbox {
    Sandbox::start(config, any_port())
        .await
        .expect("sandbox starts")
}

pub async fn client_for(
    sandbox: &RunningSandbox,
    clock: &ManualClock,
    vault: Arc<MemoryVault>,
) -> StepUpClient {
    let config = Config::new(sandbox.environment_id())
        .expect("config")
        .with_api_base_url(sandbox.base_url().parse().expect("url"))
        .with_app_origin("https://app.stepup.example");
    StepUpClient::builder(config)
        .vault(vault as Arc<dyn TokenVault>)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("client builds")
}

/// A sandbox with one user made from `spec`, and a client signed in as that user by email OTP.
pub async fn world(spec: UserSpec) -> World {
    world_with(SandboxConfig::default(), spec).await
}

pub async fn world_with(mut config: SandboxConfig, spec: UserSpec) -> World {
    let clock = ManualClock::now();
    config.clock = Arc::new(clock.clone());
    let sandbox = sandbox(config).await;
    let user = sandbox.create_user(spec).expect("user");
    let vault = Arc::new(MemoryVault::new());
    let client = client_for(&sandbox, &clock, vault.clone()).await;
    let verification = client
        .send_email_otp(&user.email)
        .await
        .expect("send sign-in code");
    let code = delivered_code(&sandbox, &verification);
    client
        .sign_in_with_email_otp(&verification, code)
        .await
        .expect("sign in");
    World {
        sandbox,
        client,
        clock,
        vault,
        user,
    }
}

/// The code the sandbox delivered for this verification.
pub fn delivered_code(sandbox: &RunningSandbox, verification: &OtpVerification) -> Secret {
    sandbox
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.verification_uuid == verification.verification_uuid)
        .expect("a delivered code")
        .code
}

/// A code that is not `code` (same length).
pub fn wrong(code: &Secret) -> Secret {
    let flipped: String = code
        .expose()
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    Secret::new(flipped)
}

pub fn mfa_user(email: &str) -> UserSpec {
    UserSpec {
        email: email.into(),
        totp: true,
        recovery_codes: true,
        wallet: true,
        ..Default::default()
    }
}

pub fn reauth_user(email: &str) -> UserSpec {
    UserSpec {
        email: email.into(),
        phone: Some(("1".into(), "US".into(), "5550123".into())),
        wallet: true,
        ..Default::default()
    }
}

impl World {
    pub fn totp_now(&self) -> Secret {
        let secret = self
            .user
            .totp_secret_base32
            .as_ref()
            .expect("a TOTP device");
        Secret::new(self.sandbox.totp_code(secret.expose()).expect("totp code"))
    }
    pub fn wallet_id(&self) -> String {
        self.user.wallet_id.clone().expect("a wallet")
    }
}
