//! With the default configuration, a server that accepts and never answers, or stalls or
//! trickles its body, fails the check closed within the default phase limits (first byte 5 s,
//! body 10 s), not after the 30 s whole-call limit. Real time: the three run at once, about
//! 10 s in all. Only the API that existed before the phase limits is used here, so this file
//! also runs against the old client, where it fails (every case took 30 s).

mod common;
mod fault_proxy;

use common::*;
use fault_proxy::{Fault, FaultProxy};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepup_client::{Config, StepUpClient, TokenScope};

/// Scheduling and a debug build.
const SLACK: Duration = Duration::from_secs(1);

async fn time_to_fail_closed(fault: Fault, i: usize) -> Duration {
    let w = world(mfa_user(&format!("fault-default-{i}@example.com"))).await;
    let proxy = FaultProxy::start(w.sandbox.local_addr(), fault).await;
    let config = Config::new(w.sandbox.environment_id())
        .expect("config")
        .with_api_base_url(proxy.base_url().parse().expect("url"));
    let client = StepUpClient::builder(config)
        .vault(w.vault.clone())
        .clock(Arc::new(w.clock.clone()))
        .build()
        .await
        .expect("client");
    let started = Instant::now();
    let check = client.check_step_up(TokenScope::WalletExport).await;
    let elapsed = started.elapsed();
    assert!(
        check.is_required && check.credentials.is_empty(),
        "{}: fails closed",
        fault.name()
    );
    elapsed
}

#[tokio::test]
async fn with_the_defaults_a_stalled_server_fails_the_check_within_the_phase_limits() {
    let (silent, stalled, trickled) = tokio::join!(
        time_to_fail_closed(Fault::Silent, 0),
        time_to_fail_closed(Fault::StallAfterHeaders, 1),
        time_to_fail_closed(Fault::Trickle(Duration::from_millis(500)), 2),
    );
    println!(
        "accept, never answer {silent:?}; stall after headers {stalled:?}; trickle {trickled:?}"
    );
    let first_byte = Duration::from_secs(5);
    let body = Duration::from_secs(10);
    assert!(
        silent >= first_byte && silent <= first_byte + SLACK,
        "accept, never answer: {silent:?}"
    );
    // The headers come at once; the body limit runs from them.
    for (what, took) in [("stall after headers", stalled), ("trickle", trickled)] {
        assert!(
            took >= body && took <= body + SLACK,
            "{what}: {took:?}, expected about {body:?}"
        );
    }
}
