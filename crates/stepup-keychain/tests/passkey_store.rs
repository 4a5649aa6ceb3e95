//! The device passkey's state in a real gnome-keyring: registered and used against the
//! sandbox, reloaded by a fresh store (the counter continues), chunked, and untouched by a
//! logout.
//!
//! ```sh
//! dbus-run-session -- crates/stepup-keychain/with-keyring.sh cargo test -p stepup-keychain --test passkey_store -- --include-ignored
//! ```
//! Ignored unless asked for (`-- --include-ignored`, as `cargo xtask test` does); outside
//! `with-keyring.sh` it fails rather than touch your own keyring.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::Arc;
use stepup_client::passkey::{entered_pin, DevicePasskey, PasskeyConfirmation, PasskeyStateStore};
use stepup_client::vault::TokenVault;
use stepup_client::{
    Config, ManualClock, MemoryVault, Secret, StepUpClient, TokenScope, Verification,
};
use stepup_keychain::{KeychainPasskeyStore, KeychainVault, MAX_ENTRY_BYTES};
use stepup_sandbox::{Sandbox, SandboxConfig, UserSpec};

const APP: &str = "com.stepup.test";

fn confirmation(store: Arc<KeychainPasskeyStore>) -> PasskeyConfirmation {
    let store: Arc<dyn PasskeyStateStore> = store;
    PasskeyConfirmation::new(
        Arc::new(DevicePasskey::new(store)),
        entered_pin(Secret::new("correct horse".to_owned())),
    )
}

#[tokio::test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
async fn device_passkey_state_round_trips_through_the_keychain() {
    support::require_private_keyring();
    let env = format!("passkey-{}", std::process::id());
    let clock = ManualClock::now();
    let config = SandboxConfig {
        clock: Arc::new(clock.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let user = sandbox
        .create_user(UserSpec {
            email: "kc@example.com".into(),
            totp: true,
            wallet: true,
            ..UserSpec::default()
        })
        .unwrap();
    let client = StepUpClient::builder(
        Config::new(sandbox.environment_id())
            .unwrap()
            .with_api_base_url(sandbox.base_url().parse().unwrap())
            .with_app_origin(stepup_sandbox::DEFAULT_APP_ORIGIN),
    )
    .vault(Arc::new(MemoryVault::new()))
    .clock(Arc::new(clock.clone()))
    .build()
    .await
    .unwrap();
    let sent = client.send_email_otp(&user.email).await.unwrap();
    let code = sandbox
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.verification_uuid == sent.verification_uuid)
        .unwrap()
        .code;
    client.sign_in_with_email_otp(&sent, code).await.unwrap();
    let totp = sandbox
        .totp_code(user.totp_secret_base32.as_ref().unwrap().expose())
        .unwrap();
    let v = Verification::Totp {
        device_id: user.totp_device_id.clone(),
        code: Secret::new(totp),
    };
    client
        .verify(v, &[TokenScope::CredentialLink])
        .await
        .unwrap();

    let store = Arc::new(
        tokio::task::spawn_blocking({
            let env = env.clone();
            move || KeychainPasskeyStore::open_for_environment(APP, &env).unwrap()
        })
        .await
        .unwrap(),
    );
    assert_eq!(store.service(), format!("{APP}/{env}/passkey"));
    client
        .register_passkey(confirmation(store.clone()))
        .await
        .unwrap();
    let registered = store.load().unwrap().expect("sealed after registration");
    assert!(
        registered.expose().len() > MAX_ENTRY_BYTES,
        "the state spans several entries"
    );

    client
        .authenticate_passkey_mfa(&[TokenScope::WalletExport], confirmation(store.clone()))
        .await
        .unwrap();
    let after_one = store.load().unwrap().unwrap();
    assert_ne!(after_one, registered, "saved after the use");

    // A fresh store (another app start) continues from the saved counter.
    let reopened = Arc::new(KeychainPasskeyStore::open_for_environment(APP, &env).unwrap());
    assert_eq!(reopened.load().unwrap(), Some(after_one));
    client
        .authenticate_passkey_mfa(&[TokenScope::WalletExport], confirmation(reopened.clone()))
        .await
        .unwrap();

    // A logout clears the token vault of the environment, not the passkey.
    let vault = KeychainVault::open_for_environment(APP, &env).unwrap();
    vault.clear().unwrap();
    assert!(reopened.load().unwrap().is_some());
    reopened.delete().unwrap();
    assert_eq!(reopened.load().unwrap(), None);
}
