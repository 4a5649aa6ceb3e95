//! The environment's settings, client against sandbox over HTTP: read once and kept five
//! minutes, then revalidated with the `ETag` (a `304`, no body); the last read kept when the
//! server is gone; a method the environment turned off is off in the settings and refused by
//! the server; a social provider turned off is not started.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use stepup_client::{CredentialMethod, StepUpError, TokenScope, Verification};
use stepup_sandbox::{Sandbox, SandboxConfig, SettingsReads, UserSpec};

fn turned_off(methods: &[&str]) -> SandboxConfig {
    SandboxConfig {
        disabled_methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        ..SandboxConfig::default()
    }
}

fn reads(full: u64, not_modified: u64) -> SettingsReads {
    SettingsReads { full, not_modified }
}

#[tokio::test]
async fn settings_are_read_once_in_five_minutes_then_revalidated_by_their_etag() {
    let w = world(mfa_user("settings@stepup.example")).await;
    assert!(w.client.cached_settings().is_none(), "nothing read yet");
    assert_eq!(w.sandbox.settings_reads(), reads(0, 0));

    let first = w.client.settings().await.unwrap();
    assert!(first.allows(CredentialMethod::Totp, None));
    assert!(first.allows_recovery_codes());
    assert_eq!(w.sandbox.settings_reads(), reads(1, 0));

    w.clock.advance_secs(299);
    w.client.settings().await.unwrap();
    assert_eq!(w.sandbox.settings_reads(), reads(1, 0), "fresh: no request");

    w.clock.advance_secs(1);
    let again = w.client.settings().await.unwrap();
    assert_eq!(
        w.sandbox.settings_reads(),
        reads(1, 1),
        "five minutes on: asked again with If-None-Match, answered 304"
    );
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "the 304 kept the read"
    );
    w.client.settings().await.unwrap();
    assert_eq!(
        w.sandbox.settings_reads(),
        reads(1, 1),
        "the 304 renewed it"
    );
}

#[tokio::test]
async fn the_last_read_is_used_when_the_server_is_gone_and_none_is_an_error() {
    let w = world(mfa_user("gone@stepup.example")).await;
    let read = w.client.settings().await.unwrap();
    let (clock, client) = (w.clock.clone(), w.client.clone());
    w.sandbox.shutdown().await;
    clock.advance_secs(600);
    let stale = client.settings().await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&read, &stale));

    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/api/v0", gone.local_addr().unwrap());
    drop(gone);
    let config = stepup_client::Config::new("env-gone")
        .unwrap()
        .with_api_base_url(dead.parse().unwrap());
    let fresh = stepup_client::StepUpClient::new(
        config,
        std::sync::Arc::new(stepup_client::MemoryVault::new()),
    )
    .await
    .unwrap();
    let err = fresh.settings().await.unwrap_err();
    assert_eq!(err.code(), "network_error", "{err}");
    assert!(fresh.cached_settings().is_none());
}

#[tokio::test]
async fn the_etag_answers_304_only_to_the_current_document() {
    let s = sandbox(SandboxConfig::default()).await;
    let url = format!("{}/sdk/{}/settings", s.base_url(), s.environment_id());
    let http = reqwest::Client::new();
    let first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    for (sent, status) in [
        (etag.clone(), 304),
        (format!("W/{etag}"), 304),
        (format!("\"other\", {etag}"), 304),
        ("*".to_owned(), 304),
        ("\"other\"".to_owned(), 200),
        (etag.trim_matches('"').to_owned(), 200),
    ] {
        let answer = http
            .get(&url)
            .header("if-none-match", &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status, "If-None-Match: {sent}");
        assert_eq!(answer.headers()["etag"], etag.as_str());
        let body = answer.bytes().await.unwrap();
        assert_eq!(body.is_empty(), status == 304, "{sent}");
    }
    // Another environment's document is another document.
    let other = sandbox(turned_off(&["totp"])).await;
    let url = format!(
        "{}/sdk/{}/settings",
        other.base_url(),
        other.environment_id()
    );
    let answer = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        200,
        "turning totp off changed the document"
    );
}

#[tokio::test]
async fn a_method_turned_off_is_off_in_the_settings_and_refused_by_the_server() {
    let w = world_with(
        turned_off(&["totp", "recovery-codes"]),
        mfa_user("off@stepup.example"),
    )
    .await;
    let settings = w.client.settings().await.unwrap();
    assert!(!settings.allows(CredentialMethod::Totp, None));
    assert!(settings.allows(CredentialMethod::Passkey, None));
    assert!(!settings.allows_recovery_codes());
    assert!(settings.allows(CredentialMethod::Email, None));

    // The server still lists the user's device; verifying with it is refused.
    let check = w.client.check_step_up(TokenScope::WalletExport).await;
    assert!(check
        .credentials
        .iter()
        .any(|c| c.format.as_str() == "totp"));
    let err = w
        .client
        .verify(
            Verification::Totp {
                device_id: None,
                code: w.totp_now(),
            },
            &[TokenScope::WalletExport],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("turned off"), "{err}");
    let code = w.user.recovery_codes[0].clone();
    let err = w
        .client
        .verify(
            Verification::RecoveryCode { code },
            &[TokenScope::WalletExport],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("turned off"), "{err}");
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn email_and_a_social_provider_turned_off_are_neither_offered_nor_started() {
    let spec = UserSpec {
        email: "social-off@stepup.example".into(),
        social: vec!["google".into(), "github".into()],
        ..Default::default()
    };
    let w = world_with(turned_off(&["email", "google"]), spec).await;
    let settings = w.client.settings().await.unwrap();
    assert!(!settings.allows(CredentialMethod::Email, None));
    assert!(!settings.allows(CredentialMethod::Social, Some("google")));
    assert!(settings.allows(CredentialMethod::Social, Some("github")));

    let sent = w.client.send_email_otp(&w.user.email).await.unwrap();
    let err = w
        .client
        .verify(
            Verification::EmailOtp {
                code: delivered_code(&w.sandbox, &sent),
                verification: sent,
            },
            &[TokenScope::CredentialLink],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("turned off"), "{err}");

    let err = w
        .client
        .begin_social("google", &[TokenScope::CredentialLink])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StepUpError::SocialProviderUnavailable { ref provider } if provider == "google"),
        "{err:?}"
    );
    let github = w
        .client
        .begin_social("github", &[TokenScope::CredentialLink])
        .await
        .expect("github is on");
    drop(github);
}

#[tokio::test]
async fn a_method_that_cannot_be_turned_off_is_refused_at_start() {
    let Err(err) = Sandbox::start(turned_off(&["fax"]), any_port()).await else {
        panic!("a sandbox that turns off \"fax\" started");
    };
    assert!(err.to_string().contains("\"fax\""), "{err}");
}
