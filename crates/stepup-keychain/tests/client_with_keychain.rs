//! The client on the keychain vault against the sandbox: a single-use token is consumed once
//! under 100 concurrent attach attempts, and the consumption reaches the keychain at once.
//!
//! Runs only inside `with-keyring.sh` (STEPUP_KEYCHAIN_TESTS=1).
#![cfg(target_os = "linux")]

use std::sync::Arc;
use stepup_client::vault::TokenVault;
use stepup_client::{
    Config, ManualClock, Secret, StepUpClient, StepUpError, TokenScope, Verification,
};
use stepup_keychain::KeychainVault;
use stepup_sandbox::{Sandbox, SandboxConfig, UserSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_use_token_is_consumed_once_by_a_hundred_concurrent_calls() {
    if std::env::var("STEPUP_KEYCHAIN_TESTS").as_deref() != Ok("1") {
        println!("SKIP (no private Secret Service)");
        return;
    }
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
            email: "race@example.com".into(),
            totp: true,
            wallet: true,
            ..Default::default()
        })
        .expect("user");
    let env = format!("race-{}", std::process::id());
    let vault =
        Arc::new(KeychainVault::open_for_environment("com.stepup.test", &env).expect("keychain"));
    let config = Config::new(sandbox.environment_id())
        .expect("config")
        .with_api_base_url(sandbox.base_url().parse().expect("url"));
    let client = StepUpClient::builder(config.clone())
        .vault(vault.clone() as Arc<dyn TokenVault>)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("client");
    let sent = client.send_email_otp(&user.email).await.expect("send");
    let code = sandbox.outbox().last().expect("code").code.clone();
    client
        .sign_in_with_email_otp(&sent, code)
        .await
        .expect("sign in");
    let totp = Secret::new(
        sandbox
            .totp_code(user.totp_secret_base32.as_ref().expect("totp").expose())
            .expect("code"),
    );
    client
        .verify(
            Verification::Totp {
                device_id: None,
                code: totp,
            },
            &[TokenScope::WalletExport],
        )
        .await
        .expect("step-up");
    assert_eq!(
        vault.load().expect("load").tokens.len(),
        1,
        "the token is in the keychain"
    );

    // A second client restored from the keychain sees the token too (a restart of the app).
    let restored = StepUpClient::builder(config)
        .vault(vault.clone() as Arc<dyn TokenVault>)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("restored client");
    assert!(restored.has_elevated_access_token(&TokenScope::WalletExport));

    let wallet = user.wallet_id.clone().expect("wallet");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let wallet = wallet.clone();
            tokio::spawn(async move { client.export_wallet_private_key(&wallet).await })
        })
        .collect();
    let mut exported = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => exported += 1,
            Err(e) => assert_eq!(
                e,
                StepUpError::StepUpRequired {
                    scope: TokenScope::WalletExport
                }
            ),
        }
    }
    assert_eq!(exported, 1);
    assert!(
        vault.load().expect("load").tokens.is_empty(),
        "consumption was written through to the keychain"
    );
    client.logout().await.expect("logout");
    sandbox.shutdown().await;
}
