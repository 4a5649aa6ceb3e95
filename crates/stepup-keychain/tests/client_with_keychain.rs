//! The client on the keychain vault against the sandbox: a single-use token is consumed once
//! under 100 concurrent attach attempts, and the consumption reaches the keychain at once.
//!
//! Ignored unless asked for: runs with `--include-ignored` inside `with-keyring.sh` (as
//! `cargo xtask test` does), and fails outside it rather than touch your own keyring.
#![cfg(target_os = "linux")]

mod support;

use stepup_client::vault::TokenVault;
use stepup_client::{StepUpError, TokenScope};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
async fn a_single_use_token_is_consumed_once_by_a_hundred_concurrent_calls() {
    support::require_private_keyring();
    let w = support::signed_in("race@example.com", "race").await;
    w.step_up(TokenScope::WalletExport).await.expect("step-up");
    assert_eq!(
        w.vault.load().expect("load").tokens.len(),
        1,
        "the token is in the keychain"
    );

    // A second client restored from the keychain sees the token too (a restart of the app).
    let restored = support::client_on(&w.config, &w.vault, &w.clock).await;
    assert!(restored.has_elevated_access_token(&TokenScope::WalletExport));

    let wallet = w.user.wallet_id.clone().expect("wallet");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = w.client.clone();
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
        w.vault.load().expect("load").tokens.is_empty(),
        "consumption was written through to the keychain"
    );
    w.client.logout().await.expect("logout");
    w.sandbox.shutdown().await;
}
