//! The rule of every test run: no client reaches a host beyond this machine. `cargo xtask`
//! sets `STEPUP_LOOPBACK_ONLY=1` for the Rust tests, the benches, the demo and the app's E2E
//! run; here the variable is set by this binary itself (its only test), and a client built with
//! the default configuration (Dynamic's real API) is refused before it sends anything.

use std::sync::Arc;
use stepup_client::{Config, MemoryVault, StepUpClient, StepUpError, LOOPBACK_ONLY_ENV};

#[tokio::test]
async fn with_loopback_only_set_a_client_for_a_real_host_is_refused() {
    std::env::set_var(LOOPBACK_ONLY_ENV, "1");
    let default = Config::new("2762a57b-faa4-41ce-9f16-abff9300e2c9").expect("config");
    let refused = StepUpClient::new(default.clone(), Arc::new(MemoryVault::new())).await;
    match refused {
        Err(StepUpError::InvalidInput(why)) => {
            assert!(why.contains("app.dynamicauth.com"), "{why}")
        }
        Err(other) => panic!("expected InvalidInput, got {other}"),
        Ok(_) => panic!("a client for Dynamic's real API was built in a test run"),
    }
    let staging = default
        .clone()
        .with_api_base_url("https://staging.example/api/v0".parse().expect("url"));
    assert!(StepUpClient::new(staging, Arc::new(MemoryVault::new()))
        .await
        .is_err());
    // Building a loopback client sends nothing (the vault is loaded, no request is made).
    let local = default.with_api_base_url("http://127.0.0.1:9/api/v0".parse().expect("url"));
    assert!(StepUpClient::new(local, Arc::new(MemoryVault::new()))
        .await
        .is_ok());
}
