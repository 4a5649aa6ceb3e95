//! Shared set-up: a sandbox on 127.0.0.1 and a client, both on one clock the test controls.

#![allow(dead_code)]

use p256::ecdsa::SigningKey;
use serde_json::Value;
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

/// Another user made from `spec` in `w`'s sandbox, and a client (with a vault) of its own
/// signed in as that user by email OTP: the intruder of the "another user's …" tests.
#[allow(dead_code)] // each test file is its own crate; not all of them have an intruder
pub async fn another_user(w: &World, spec: UserSpec) -> (StepUpClient, Arc<MemoryVault>, DemoUser) {
    let user = w.sandbox.create_user(spec).expect("user");
    let vault = Arc::new(MemoryVault::new());
    let client = client_for(&w.sandbox, &w.clock, vault.clone()).await;
    let sent = client.send_email_otp(&user.email).await.expect("send");
    client
        .sign_in_with_email_otp(&sent, delivered_code(&w.sandbox, &sent))
        .await
        .expect("sign in");
    (client, vault, user)
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

/// The compressed public key (hex) of a stored session key.
pub fn public_hex(secret_hex: &str) -> String {
    let key = SigningKey::from_slice(&hex::decode(secret_hex).expect("test helper"))
        .expect("test helper");
    hex::encode(key.verifying_key().to_sec1_point(true).as_bytes())
}

/// The session token and the public half of its key, as the client stored them.
pub fn stored(vault: &MemoryVault) -> (String, String) {
    let session = vault
        .load()
        .expect("test helper")
        .session
        .expect("a session");
    let key = session.session_key.expect("a session key");
    (session.token.expose().to_owned(), public_hex(key.expose()))
}

/// The JWT's claims, unverified.
pub fn claims(token: &str) -> Value {
    stepup_protocol::jwt::decode_unverified(token).expect("test helper")
}

/// A raw call to `path` with `bearer` and, if given, `x-dyn-session-public-key`.
pub async fn raw(
    sandbox: &RunningSandbox,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    key: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!(
        "{}/sdk/{}/{path}",
        sandbox.base_url(),
        sandbox.environment_id()
    );
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("content-type", "application/json");
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    if let Some(k) = key {
        req = req.header("x-dyn-session-public-key", k);
    }
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    let resp = req.send().await.expect("test helper");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("test helper");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
