//! `check_step_up` with a token present in the keychain: served from the client's in-memory
//! cache (no D-Bus), and cold (a fresh client that first loads the keychain, then checks).
//! Outside `with-keyring.sh` it fails rather than write into your own keyring.
//!
//! ```sh
//! dbus-run-session -- crates/stepup-keychain/with-keyring.sh cargo bench -p stepup-keychain --bench check
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use stepup_client::TokenScope;

fn check(c: &mut Criterion) {
    support::require_private_keyring();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let w = rt.block_on(async {
        let w = support::signed_in("bench@example.com", "bench-check").await;
        w.step_up(TokenScope::CredentialLink)
            .await
            .expect("step-up");
        w
    });
    c.bench_function("check_step_up/keychain token, cached", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(
                !w.client
                    .check_step_up(TokenScope::CredentialLink)
                    .await
                    .is_required
            );
        })
    });
    c.bench_function("check_step_up/keychain token, cold (load + check)", |b| {
        b.to_async(&rt).iter(|| async {
            let fresh = support::client_on(&w.config, &w.vault, &w.clock).await;
            assert!(
                !fresh
                    .check_step_up(TokenScope::CredentialLink)
                    .await
                    .is_required
            );
        })
    });
    rt.block_on(async {
        w.client.logout().await.expect("logout");
        w.sandbox.shutdown().await;
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = check
}
criterion_main!(benches);
