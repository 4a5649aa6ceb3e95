//! Sign-in latency against a state-file-backed sandbox with 100 and with 10,000 users: how
//! much a state write costs as the state grows. Ignored by default (it measures, it does not
//! check a rule); run it with
//!
//! ```sh
//! cargo test --release -p stepup-sandbox --test latency -- --ignored --nocapture
//! ```
//!
//! `STEPUP_LATENCY_DIR` picks the directory of the state file (default: the temp dir), so the
//! fsync cost of a given disk can be measured.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use stepup_sandbox::{UserSpec, VerificationLimits};

/// Sign-ins measured per user count.
const SIGN_INS: usize = 50;

fn state_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("STEPUP_LATENCY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!(
        "stepup-sandbox-latency-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn generous_limits() -> VerificationLimits {
    VerificationLimits {
        per_target: 1_000,
        per_client: 1_000_000,
        global: 1_000_000,
        window_ms: 1_000,
    }
}

fn email(i: usize) -> String {
    format!("user{i}@latency.example")
}

/// A state file holding `users` users shaped like a real one (email, ten hashed recovery
/// codes, a wallet): one is created through the sandbox, the others are its copies under new
/// ids, written into the file between two runs.
async fn seeded_state(users: usize) -> PathBuf {
    let path = state_dir(&users.to_string()).join("state.json");
    let p = path.clone();
    let h = start_with(move |c| c.state_path = Some(p)).await;
    let template =
        h.sb.create_user(UserSpec {
            email: email(0),
            recovery_codes: true,
            wallet: true,
            ..UserSpec::default()
        })
        .unwrap();
    h.sb.shutdown().await;
    // A start writes the whole state into the snapshot (with a journal, it compacts).
    let p = path.clone();
    start_with(move |c| c.state_path = Some(p))
        .await
        .sb
        .shutdown()
        .await;

    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let template = state["users"][&template.user_id].clone();
    let map = state["users"].as_object_mut().unwrap();
    for i in 1..users {
        let mut user = template.clone();
        let id = format!("00000000-0000-4000-8000-{i:012}");
        user["id"] = json!(id);
        user["email"]["credentialId"] = json!(format!("00000000-0000-4000-9000-{i:012}"));
        user["email"]["address"] = json!(email(i));
        user["wallets"][0]["id"] = json!(format!("00000000-0000-4000-a000-{i:012}"));
        user["wallets"][0]["credentialId"] = json!(format!("00000000-0000-4000-b000-{i:012}"));
        map.insert(id, user);
    }
    assert_eq!(map.len(), users);
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    path
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p95, max) of `SIGN_INS` email sign-ins (create the verification, sign in with
/// its code), each by another seeded user.
async fn measure(users: usize) -> (Duration, Duration, Duration) {
    let path = seeded_state(users).await;
    let p = path.clone();
    let h = start_with(move |c| {
        c.state_path = Some(p);
        c.verification_limits = generous_limits();
    })
    .await;
    // One sign-in to warm the connection pool and the allocator.
    h.sign_in(&email(users - 1)).await;
    let mut times = Vec::with_capacity(SIGN_INS);
    for i in 0..SIGN_INS {
        let user = email(i * (users / SIGN_INS).max(1) % users);
        let started = Instant::now();
        let body = h.sign_in(&user).await;
        times.push(started.elapsed());
        assert_eq!(body["user"]["email"], json!(user));
    }
    h.sb.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    times.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        *times.last().unwrap(),
    )
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn sign_in_latency_with_100_and_10000_users() {
    let mut rows = Vec::new();
    for users in [100, 10_000] {
        rows.push((users, measure(users).await));
    }
    println!("sign-in (email code: create + signin), {SIGN_INS} sign-ins per row");
    println!("| users | median ms | p95 ms | max ms |");
    println!("|---:|---:|---:|---:|");
    for (users, (median, p95, max)) in rows {
        println!(
            "| {users} | {:.2} | {:.2} | {:.2} |",
            ms(median),
            ms(p95),
            ms(max)
        );
    }
}
