//! Latency of the keychain vault against a real gnome-keyring.
//!
//! ```sh
//! dbus-run-session -- crates/stepup-keychain/with-keyring.sh cargo bench -p stepup-keychain --bench keychain
//! ```
//! Outside `with-keyring.sh` (no `STEPUP_KEYCHAIN_TESTS=1`) it fails before it opens a keyring:
//! it must never write into a developer's own keyring, nor report success having measured nothing.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use criterion::{criterion_group, Criterion};
use stepup_client::vault::{ElevatedToken, SessionRecord, TokenVault};
use stepup_keychain::KeychainVault;
use stepup_protocol::{SdkUser, Secret, TokenScope};

const APP: &str = "com.stepup.bench";

fn jwt(len: usize) -> Secret {
    Secret::new("x".repeat(len))
}

fn token(scopes: &[TokenScope]) -> ElevatedToken {
    ElevatedToken {
        token: jwt(800),
        scopes: scopes.to_vec(),
        expires_at_ms: 2_000_000_000_000,
        single_use: false,
    }
}

fn session() -> Option<SessionRecord> {
    let user: SdkUser =
        serde_json::from_value(serde_json::json!({"id": "user-1", "email": "a@example.com"}))
            .ok()?;
    Some(SessionRecord {
        token: jwt(900),
        legacy_token: Some(jwt(1_800)),
        expires_at: 2_000_000_000,
        user,
        session_key: None,
    })
}

fn keychain(c: &mut Criterion) {
    let env = format!("bench-{}", std::process::id());
    let vault = KeychainVault::open_for_environment(APP, &env)
        .expect("the private keyring of with-keyring.sh is unavailable");
    let mut group = c.benchmark_group("keychain");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));

    group.bench_function("open", |b| {
        b.iter(|| KeychainVault::open_for_environment(APP, &env).map(drop))
    });

    let wallet_export = token(&[TokenScope::WalletExport]);
    group.bench_function("put_token (replace, 1 entry + index unchanged)", |b| {
        b.iter(|| vault.put_token(&wallet_export))
    });

    group.bench_function("load (empty vault except 1 token)", |b| {
        b.iter(|| vault.load().map(|s| s.tokens.len()))
    });

    if let Some(session) = session() {
        let _ = vault.put_session(&session);
    }
    let _ = vault.put_token(&token(&[TokenScope::WalletSign]));
    let _ = vault.put_token(&token(&[TokenScope::CredentialLink]));
    let _ = vault.put_device_key(&Secret::new("ab".repeat(32)));
    group.bench_function("load (session in 2 entries, 3 tokens, device key)", |b| {
        b.iter(|| vault.load().map(|s| s.tokens.len()))
    });
    group.finish();
    let _ = vault.clear();
}

criterion_group!(benches, keychain);

fn main() {
    support::require_private_keyring();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
