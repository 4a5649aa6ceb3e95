//! The session key and the logout reason, client against sandbox over HTTP:
//! `x-dyn-session-public-key` on every call, the session bound at sign-in to the key sent
//! (the JWT's `sessionPublicKey`), kept through rotation and a restart, refused from a
//! caller with another key, none, or a malformed one; a new key after sign-out.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use p256::ecdsa::SigningKey;
use serde_json::{json, Value};
use std::sync::Arc;
use stepup_client::{MemoryVault, StepUpError, TokenScope, TokenVault as _, Verification};
use stepup_sandbox::RunningSandbox;

async fn get_user(sandbox: &RunningSandbox, bearer: &str, key: Option<&str>) -> (u16, Value) {
    raw(
        sandbox,
        reqwest::Method::GET,
        "users",
        Some(bearer),
        key,
        &[],
        None,
    )
    .await
}

fn other_key() -> String {
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    hex::encode(key.verifying_key().to_sec1_point(true).as_bytes())
}

#[tokio::test]
async fn sign_in_binds_the_session_to_the_key_the_client_sent() {
    let w = world(reauth_user("bound@example.com")).await;
    let (token, key) = stored(&w.vault);
    assert_eq!(key.len(), 66);
    assert_eq!(
        claims(&token)["sessionPublicKey"],
        json!(key),
        "the JWT names the key"
    );

    assert_eq!(get_user(&w.sandbox, &token, Some(&key)).await.0, 200);
    assert_eq!(
        get_user(&w.sandbox, &token, Some(&key.to_ascii_uppercase()))
            .await
            .0,
        200,
        "hex in either case"
    );
    for (sent, why) in [
        (None, "no key"),
        (Some(other_key()), "another valid key"),
        (Some("02zz".to_owned()), "a malformed key"),
    ] {
        let (status, body) = get_user(&w.sandbox, &token, sent.as_deref()).await;
        assert_eq!(status, 401, "{why}");
        assert_eq!(body["code"], "unauthorized", "{why}");
    }
    // Refusing a stolen bearer did not end the session of the client that holds the key.
    assert!(w.client.mfa_devices().await.is_ok());
}

#[tokio::test]
async fn a_step_up_rotates_the_session_and_keeps_its_key() {
    let w = world(reauth_user("rotate@example.com")).await;
    let (before, key) = stored(&w.vault);
    let sent = w.client.send_email_otp(&w.user.email).await.unwrap();
    let v = Verification::EmailOtp {
        code: delivered_code(&w.sandbox, &sent),
        verification: sent,
    };
    w.client
        .verify(v, &[TokenScope::CredentialLink])
        .await
        .unwrap();
    let (after, key_after) = stored(&w.vault);
    assert_ne!(after, before, "rotated");
    assert_eq!(key_after, key, "same key");
    assert_eq!(claims(&after)["sessionPublicKey"], json!(key));
    assert_eq!(get_user(&w.sandbox, &after, None).await.0, 401);
    assert_eq!(get_user(&w.sandbox, &after, Some(&key)).await.0, 200);
}

#[tokio::test]
async fn a_restarted_client_sends_its_stored_key_and_a_copied_bearer_is_signed_out() {
    let w = world(reauth_user("restart@example.com")).await;
    let again = client_for(&w.sandbox, &w.clock, w.vault.clone()).await;
    assert!(
        again.mfa_devices().await.is_ok(),
        "the key came back with the session"
    );

    // The session without its key, in another vault: that client sends its own key.
    let mut session = w.vault.load().unwrap().session.unwrap();
    session.session_key = None;
    let thief_vault = Arc::new(MemoryVault::new());
    thief_vault.put_session(&session).unwrap();
    let thief = client_for(&w.sandbox, &w.clock, thief_vault.clone()).await;
    assert!(thief.is_signed_in());
    assert_eq!(thief.mfa_devices().await, Err(StepUpError::Unauthorized));
    assert!(!thief.is_signed_in(), "refused: signed out locally");
    assert!(thief_vault.load().unwrap().session.is_none());
    assert!(
        w.client.mfa_devices().await.is_ok(),
        "the owner is still signed in"
    );
}

#[tokio::test]
async fn a_malformed_key_at_sign_in_is_refused_before_the_code_is_spent() {
    let w = world(reauth_user("malformed@example.com")).await;
    let vault = Arc::new(MemoryVault::new());
    let client = client_for(&w.sandbox, &w.clock, vault.clone()).await;
    let sent = client.send_email_otp(&w.user.email).await.unwrap();
    let code = delivered_code(&w.sandbox, &sent);
    let body =
        json!({"verificationUUID": sent.verification_uuid, "verificationToken": code.expose()});
    let not_on_the_curve = format!("02{}", "ff".repeat(32));
    for bad in ["", "zz", "04aa", not_on_the_curve.as_str(), &"0".repeat(66)] {
        let (status, reply) = raw(
            &w.sandbox,
            reqwest::Method::POST,
            "emailVerifications/signin",
            None,
            Some(bad),
            &[],
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (422, Some("invalid_session_public_key")),
            "{bad:?}"
        );
    }
    client
        .sign_in_with_email_otp(&sent, code)
        .await
        .expect("the code still signs in");
    let (token, key) = stored(&vault);
    assert_eq!(claims(&token)["sessionPublicKey"], json!(key));
}

#[tokio::test]
async fn a_session_signed_in_without_a_key_is_held_to_none() {
    // What a client older than the session key does: no header at sign-in, none after.
    let w = world(reauth_user("keyless@example.com")).await;
    let client = client_for(&w.sandbox, &w.clock, Arc::new(MemoryVault::new())).await;
    let sent = client.send_email_otp(&w.user.email).await.unwrap();
    let code = delivered_code(&w.sandbox, &sent);
    let (status, reply) = raw(
        &w.sandbox,
        reqwest::Method::POST,
        "emailVerifications/signin",
        None,
        None,
        &[],
        Some(
            json!({"verificationUUID": sent.verification_uuid, "verificationToken": code.expose()}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let token = reply["minifiedJwt"].as_str().unwrap().to_owned();
    assert!(claims(&token).get("sessionPublicKey").is_none());
    assert_eq!(get_user(&w.sandbox, &token, None).await.0, 200);
    assert_eq!(
        get_user(&w.sandbox, &token, Some(&other_key())).await.0,
        200
    );
}

#[tokio::test]
async fn sign_out_takes_a_new_key_for_the_next_session() {
    let w = world(reauth_user("logout@example.com")).await;
    let (old_token, first_key) = stored(&w.vault);
    w.client.logout().await.unwrap();
    assert_eq!(
        get_user(&w.sandbox, &old_token, Some(&first_key)).await.0,
        401,
        "revoked"
    );

    let sent = w.client.send_email_otp(&w.user.email).await.unwrap();
    let code = delivered_code(&w.sandbox, &sent);
    w.client.sign_in_with_email_otp(&sent, code).await.unwrap();
    let (token, second_key) = stored(&w.vault);
    assert_ne!(second_key, first_key, "a new key after sign-out");
    assert_eq!(claims(&token)["sessionPublicKey"], json!(second_key));
    assert_eq!(
        get_user(&w.sandbox, &token, Some(&first_key)).await.0,
        401,
        "not the old key"
    );
}
