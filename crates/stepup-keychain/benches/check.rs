//! `check_step_up` with a token present in the keychain: served from the client's in-memory
//! cache (no D-Bus), and cold (a fresh client that first loads the keychain, then checks).
//!
//! ```sh
//! dbus-run-session -- crates/stepup-keychain/with-keyring.sh cargo bench -p stepup-keychain --bench check
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use stepup_client::vault::TokenVault;
use stepup_client::{Config, ManualClock, Secret, StepUpClient, TokenScope, Verification};
use stepup_keychain::KeychainVault;
use stepup_sandbox::{Sandbox, SandboxConfig, UserSpec};

fn check(c: &mut Criterion) {
    if std::env::var("STEPUP_KEYCHAIN_TESTS").as_deref() != Ok("1") {
        println!("SKIP (no private Secret Service: run inside with-keyring.sh)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let clock = ManualClock::now();
    let env = format!("bench-check-{}", std::process::id());
    let (sandbox, client, config, vault) = rt.block_on(async {
        let sandbox = Sandbox::start(
            SandboxConfig {
                clock: Arc::new(clock.clone()),
                ..Default::default()
            },
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .expect("sandbox");
        let user = sandbox
            .create_user(UserSpec {
                email: "bench@example.com".into(),
                totp: true,
                ..Default::default()
            })
            .expect("user");
        let vault: Arc<dyn TokenVault> = Arc::new(
            KeychainVault::open_for_environment("com.stepup.bench", &env).expect("keychain"),
        );
        let config = Config::new(sandbox.environment_id())
            .expect("config")
            .with_api_base_url(sandbox.base_url().parse().expect("url"));
        let client = StepUpClient::builder(config.clone())
            .vault(vault.clone())
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
                &[TokenScope::CredentialLink],
            )
            .await
            .expect("step-up");
        (sandbox, client, config, vault)
    });

    c.bench_function("check_step_up/keychain token, cached", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(
                !client
                    .check_step_up(TokenScope::CredentialLink)
                    .await
                    .is_required
            );
        })
    });
    c.bench_function("check_step_up/keychain token, cold (load + check)", |b| {
        b.to_async(&rt).iter(|| async {
            let fresh = StepUpClient::builder(config.clone())
                .vault(vault.clone())
                .clock(Arc::new(clock.clone()))
                .build()
                .await
                .expect("client");
            assert!(
                !fresh
                    .check_step_up(TokenScope::CredentialLink)
                    .await
                    .is_required
            );
        })
    });
    rt.block_on(async {
        client.logout().await.expect("logout");
        sandbox.shutdown().await;
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = check
}
criterion_main!(benches);
