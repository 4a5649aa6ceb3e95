//! Benchmarks: the local fast path of `check_step_up`, and a full TOTP step-up
//! (check → verify → export) against an in-process sandbox over loopback HTTP.

use criterion::{criterion_group, criterion_main, Criterion};
use std::net::SocketAddr;
use std::sync::Arc;
use stepup_client::{
    Config, ManualClock, MemoryVault, Secret, StepUpClient, TokenScope, TokenVault, Verification,
};
use stepup_sandbox::{DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec};

struct Bench {
    rt: tokio::runtime::Runtime,
    sandbox: RunningSandbox,
    client: StepUpClient,
    clock: ManualClock,
    user: DemoUser,
}

fn setup() -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let clock = ManualClock::now();
    let (sandbox, client, user) = rt.block_on(async {
        let config = SandboxConfig {
            clock: Arc::new(clock.clone()),
            ..Default::default()
        };
        let sandbox = Sandbox::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("sandbox");
        let user = sandbox
            .create_user(UserSpec {
                email: "bench@example.com".into(),
                totp: true,
                wallet: true,
                ..Default::default()
            })
            .expect("user");
        let config = Config::new(sandbox.environment_id())
            .expect("config")
            .with_api_base_url(sandbox.base_url().parse().expect("url"));
        let client = StepUpClient::builder(config)
            .vault(Arc::new(MemoryVault::new()) as Arc<dyn TokenVault>)
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
        (sandbox, client, user)
    });
    Bench {
        rt,
        sandbox,
        client,
        clock,
        user,
    }
}

impl Bench {
    fn totp(&self) -> Secret {
        let secret = self.user.totp_secret_base32.as_ref().expect("totp");
        Secret::new(self.sandbox.totp_code(secret.expose()).expect("code"))
    }
}

fn benches(c: &mut Criterion) {
    let b = setup();
    // A time-bound token, so that the fast path keeps finding it.
    b.rt.block_on(async {
        let v = Verification::Totp {
            device_id: None,
            code: b.totp(),
        };
        b.client
            .verify(v, &[TokenScope::CredentialLink])
            .await
            .expect("step-up");
    });
    c.bench_function("check_step_up/token_present (local, no HTTP)", |bench| {
        bench.to_async(&b.rt).iter(|| async {
            let check = b.client.check_step_up(TokenScope::CredentialLink).await;
            assert!(!check.is_required);
        })
    });
    c.bench_function("has_elevated_access_token", |bench| {
        bench.iter(|| {
            assert!(b
                .client
                .has_elevated_access_token(&TokenScope::CredentialLink))
        })
    });
    c.bench_function("check_step_up/no_token (POST stepUp/check)", |bench| {
        bench.to_async(&b.rt).iter(|| async {
            assert!(
                b.client
                    .check_step_up(TokenScope::WalletExport)
                    .await
                    .is_required
            );
        })
    });
    let wallet = b.user.wallet_id.clone().expect("wallet");
    c.bench_function("full TOTP step-up: check → verify → export", |bench| {
        bench.to_async(&b.rt).iter(|| async {
            // Each iteration needs a fresh TOTP step: a code is accepted once.
            b.clock.advance_secs(30);
            let check = b.client.check_step_up(TokenScope::WalletExport).await;
            assert!(check.is_required);
            let v = Verification::Totp {
                device_id: None,
                code: b.totp(),
            };
            b.client
                .verify(v, &[TokenScope::WalletExport])
                .await
                .expect("verify");
            b.client
                .export_wallet_private_key(&wallet)
                .await
                .expect("export");
        })
    });
}

criterion_group! {
    name = step_up;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(step_up);
