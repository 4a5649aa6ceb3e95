//! `signInWithExternalJwt` (`POST externalAuth/signin {jwt, sessionPublicKey?}`), client
//! against sandbox over HTTP: a JWT the customer's key signed for a user signs that user in,
//! the session bound to the client's session key; refused when the sandbox has no key, for
//! another key's signature, an expired JWT, a used `jti` (also one spent by
//! `externalAuth/verify`), a `sub` that is no user, and a body key other than the header's.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use p256::ecdsa::SigningKey;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use stepup_client::protocol::jwt::sign_es256;
use stepup_client::{Clock, MemoryVault, Secret, StepUpClient, StepUpError, Verification};
use stepup_sandbox::{DemoUser, RunningSandbox, SandboxConfig};

#[derive(Serialize)]
struct Assertion<'a> {
    sub: &'a str,
    jti: &'a str,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

fn customer_key() -> SigningKey {
    SigningKey::from_slice(&[42u8; 32]).unwrap()
}

struct Byoa {
    sandbox: RunningSandbox,
    clock: stepup_client::ManualClock,
    user: DemoUser,
}

async fn byoa(key: Option<&SigningKey>) -> Byoa {
    let clock = stepup_client::ManualClock::now();
    let config = SandboxConfig {
        clock: Arc::new(clock.clone()),
        external_auth_key: key.map(|k| *k.verifying_key()),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox(config).await;
    let user = sandbox
        .create_user(reauth_user("byoa@example.com"))
        .unwrap();
    Byoa {
        sandbox,
        clock,
        user,
    }
}

impl Byoa {
    fn jwt(&self, key: &SigningKey, sub: &str, jti: &str, ttl: i64) -> Secret {
        let claims = Assertion {
            sub,
            jti,
            exp: self.clock.now_secs() + ttl,
            scope: Some("wallet:sign"),
        };
        Secret::new(sign_es256(key, None, &claims).unwrap())
    }
    async fn client(&self) -> (StepUpClient, Arc<MemoryVault>) {
        let vault = Arc::new(MemoryVault::new());
        (
            client_for(&self.sandbox, &self.clock, vault.clone()).await,
            vault,
        )
    }
}

/// The SDK's `InvalidExternalAuthError` (422 `invalid_external_auth`).
fn invalid_external_auth(err: &StepUpError) -> bool {
    matches!(err, StepUpError::InvalidExternalAuth)
}

#[tokio::test]
async fn a_customer_signed_jwt_signs_its_user_in_bound_to_the_session_key() {
    let key = customer_key();
    let b = byoa(Some(&key)).await;
    let (client, vault) = b.client().await;
    let jwt = b.jwt(&key, &b.user.user_id, "signin-1", 120);
    let user = client.sign_in_with_external_jwt(&jwt).await.unwrap();
    assert_eq!(user.id, b.user.user_id);
    assert!(client.is_signed_in());
    let (token, session_key) = stored(&vault);
    assert_eq!(claims(&token)["sessionPublicKey"], json!(session_key));
    assert!(client.mfa_devices().await.is_ok(), "a working session");

    // The same JWT again: its jti is spent.
    let (other, _) = b.client().await;
    let err = other.sign_in_with_external_jwt(&jwt).await.unwrap_err();
    assert!(invalid_external_auth(&err), "{err:?}");
    assert!(!other.is_signed_in());
}

#[tokio::test]
async fn bad_assertions_sign_no_one_in_and_spend_no_jti() {
    let key = customer_key();
    let b = byoa(Some(&key)).await;
    let (client, _) = b.client().await;
    let stranger = SigningKey::from_slice(&[7u8; 32]).unwrap();
    for (jwt, why) in [
        (b.jwt(&stranger, &b.user.user_id, "j", 120), "another key"),
        (b.jwt(&key, &b.user.user_id, "j", -1), "expired"),
        (
            b.jwt(&key, "no-such-user", "j", 120),
            "a sub that is no user",
        ),
        (b.jwt(&key, "", "j", 120), "no sub"),
        (b.jwt(&key, &b.user.user_id, "", 120), "no jti"),
    ] {
        let err = client.sign_in_with_external_jwt(&jwt).await.unwrap_err();
        assert!(invalid_external_auth(&err), "{why}: {err:?}");
        assert!(!client.is_signed_in(), "{why}");
    }
    assert!(matches!(
        client
            .sign_in_with_external_jwt(&Secret::new("not-a-jwt"))
            .await,
        Err(StepUpError::InvalidInput(_))
    ));
    // None of the refusals spent the jti "j".
    let ok = b.jwt(&key, &b.user.user_id, "j", 120);
    client
        .sign_in_with_external_jwt(&ok)
        .await
        .expect("j unspent");
}

#[tokio::test]
async fn without_a_configured_key_every_assertion_is_refused() {
    let b = byoa(None).await;
    let (client, _) = b.client().await;
    let jwt = b.jwt(&customer_key(), &b.user.user_id, "k", 120);
    let err = client.sign_in_with_external_jwt(&jwt).await.unwrap_err();
    assert!(invalid_external_auth(&err), "{err:?}");
    let (status, body) = raw(
        &b.sandbox,
        reqwest::Method::POST,
        "externalAuth/signin",
        None,
        None,
        &[],
        Some(json!({ "jwt": jwt.expose() })),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_external_auth"))
    );
    assert!(
        body["error"].as_str().unwrap().contains("not configured"),
        "{body}"
    );
}

#[tokio::test]
async fn a_jti_spent_by_an_elevated_token_exchange_does_not_sign_in() {
    let key = customer_key();
    let b = byoa(Some(&key)).await;
    let (client, _) = b.client().await;
    client
        .sign_in_with_external_jwt(&b.jwt(&key, &b.user.user_id, "first", 120))
        .await
        .unwrap();
    let shared = b.jwt(&key, &b.user.user_id, "shared", 120);
    client
        .verify(
            Verification::ExternalJwt {
                jwt: shared.clone(),
            },
            &[],
        )
        .await
        .expect("exchanged for wallet:sign");
    let (other, _) = b.client().await;
    let err = other.sign_in_with_external_jwt(&shared).await.unwrap_err();
    assert!(invalid_external_auth(&err), "{err:?}");
}

#[tokio::test]
async fn a_body_session_key_must_be_the_headers_and_a_valid_point() {
    let key = customer_key();
    let b = byoa(Some(&key)).await;
    let mine = SigningKey::from_slice(&[5u8; 32]).unwrap();
    let mine = hex::encode(mine.verifying_key().to_sec1_point(true).as_bytes());
    let theirs = SigningKey::from_slice(&[6u8; 32]).unwrap();
    let theirs = hex::encode(theirs.verifying_key().to_sec1_point(true).as_bytes());
    let signin = |jwt: Secret, body_key: Option<String>, header_key: Option<String>| {
        let sandbox = &b.sandbox;
        async move {
            let mut body = json!({ "jwt": jwt.expose() });
            if let Some(k) = body_key {
                body["sessionPublicKey"] = json!(k);
            }
            raw(
                sandbox,
                reqwest::Method::POST,
                "externalAuth/signin",
                None,
                header_key.as_deref(),
                &[],
                Some(body),
            )
            .await
        }
    };
    let uid = b.user.user_id.clone();
    let (status, reply) = signin(
        b.jwt(&key, &uid, "a", 120),
        Some(theirs.clone()),
        Some(mine.clone()),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("invalid_session_public_key"))
    );
    let (status, reply) = signin(b.jwt(&key, &uid, "a", 120), Some("02ab".into()), None).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("invalid_session_public_key"))
    );
    // The body's key alone binds the session (as the SDK's sessionPublicKey parameter).
    let (status, reply) = signin(b.jwt(&key, &uid, "a", 120), Some(mine.clone()), None).await;
    assert_eq!(status, 200, "{reply}");
    let token = reply["minifiedJwt"].as_str().unwrap();
    assert_eq!(claims(token)["sessionPublicKey"], json!(mine));
    let users = |key: &str| {
        let token = token.to_owned();
        let key = key.to_owned();
        let sandbox = &b.sandbox;
        async move {
            raw(
                sandbox,
                reqwest::Method::GET,
                "users",
                Some(&token),
                Some(&key),
                &[],
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(users(&mine).await, 200);
    assert_eq!(users(&theirs).await, 401);
}
