//! `x-dyn-logout-reason` on `POST revoke`, client against sandbox over HTTP: the client's
//! `logout` sends `user-intent` (the SDK's `logout`), `logout_with_reason` the reason given;
//! the sandbox records each revocation with its reason, a malformed reason as none (the
//! session still ends), and a reason of an extension's own as sent.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use stepup_client::LogoutReason;

async fn get_user(w: &World, bearer: &str, key: &str) -> u16 {
    raw(
        &w.sandbox,
        reqwest::Method::GET,
        "users",
        Some(bearer),
        Some(key),
        &[],
        None,
    )
    .await
    .0
}

#[tokio::test]
async fn sign_out_sends_its_reason() {
    let w = world(reauth_user("logout@example.com")).await;
    w.client.logout().await.unwrap();
    let revoked = w.sandbox.revocations();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].user_id, w.user.user_id);
    assert_eq!(revoked[0].reason.as_deref(), Some("user-intent"));

    sign_in_again(&w).await;
    w.client
        .logout_with_reason(LogoutReason::DeviceRevoked)
        .await
        .unwrap();
    assert_eq!(
        w.sandbox.revocations().last().unwrap().reason.as_deref(),
        Some("device-revoked")
    );
}

/// Signs `w`'s client in again; returns its session token and key.
async fn sign_in_again(w: &World) -> (String, String) {
    let sent = w.client.send_email_otp(&w.user.email).await.unwrap();
    let code = delivered_code(&w.sandbox, &sent);
    w.client.sign_in_with_email_otp(&sent, code).await.unwrap();
    stored(&w.vault)
}

/// `POST revoke` with `reason` as `x-dyn-logout-reason`; returns the status.
async fn revoke_with(w: &World, session: &str, key: &str, reason: &str) -> u16 {
    raw(
        &w.sandbox,
        reqwest::Method::POST,
        "revoke",
        Some(session),
        Some(key),
        &[("x-dyn-logout-reason", reason)],
        None,
    )
    .await
    .0
}

#[tokio::test]
async fn a_malformed_logout_reason_is_recorded_as_none_and_the_session_still_ends() {
    let w = world(reauth_user("reason@example.com")).await;
    let long = "a".repeat(65);
    for bad in ["User Intent", long.as_str(), "user_intent", "a.b"] {
        let (session, key) = sign_in_again(&w).await;
        assert_eq!(revoke_with(&w, &session, &key, bad).await, 204, "{bad:?}");
        assert_eq!(
            w.sandbox.revocations().last().unwrap().reason,
            None,
            "{bad:?}"
        );
        assert_eq!(get_user(&w, &session, &key).await, 401, "revoked");
    }
    // An extension may name its own reason (the SDK lets it): kept as sent.
    let (session, key) = sign_in_again(&w).await;
    assert_eq!(
        revoke_with(&w, &session, &key, "kiosk-timeout-2").await,
        204
    );
    assert_eq!(
        w.sandbox.revocations().last().unwrap().reason.as_deref(),
        Some("kiosk-timeout-2")
    );
    assert_eq!(w.sandbox.revocations().len(), 5);
}
