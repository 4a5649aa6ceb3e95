//! A server-issued assertion that came from outside (a deep link's `assertion=`), client
//! against sandbox over HTTP: checked against the environment's settings and published JWKS
//! before anything is exchanged (`check_external_assertion`), then exchanged for a token of
//! exactly the scope it names. Refused, each with its reason and nothing stored: another key's
//! signature, another issuer or audience, another user, another or a second scope, expired,
//! living too long, no jti, an environment that takes none. The sandbox checks `iss` and `aud`
//! too.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use p256::ecdsa::SigningKey;
use serde_json::{json, Value};
use stepup_client::protocol::jwt::sign_es256;
use stepup_client::{Clock, Secret, StepUpError, TokenScope, Verification};
use stepup_sandbox::{SandboxConfig, CUSTOMER_ISSUER};

const ISS: &str = "https://acme.example";
const AUD: &str = "stepup-desktop";

fn customer_key() -> SigningKey {
    SigningKey::from_slice(&[77u8; 32]).unwrap()
}

/// An environment whose external-auth key is `customer_key()` (kid `k1`), issuer and audience
/// set.
fn byoa() -> SandboxConfig {
    SandboxConfig {
        external_auth_key: Some(*customer_key().verifying_key()),
        external_auth_kid: Some("k1".into()),
        external_auth_issuer: Some(ISS.into()),
        external_auth_audience: Some(AUD.into()),
        ..SandboxConfig::default()
    }
}

fn sign(key: &SigningKey, kid: Option<&str>, claims: &Value) -> Secret {
    Secret::new(sign_es256(key, kid, claims).unwrap())
}

fn assertion_param(link: &str) -> Secret {
    let url = url::Url::parse(link).unwrap();
    let (_, value) = url
        .query_pairs()
        .find(|(k, _)| k == "assertion")
        .expect("an assertion in the link");
    Secret::new(value.into_owned())
}

#[tokio::test]
async fn the_demo_customer_backend_s_link_is_checked_then_exchanged_for_its_scope() {
    let config = SandboxConfig {
        customer_backend: true,
        ..SandboxConfig::default()
    };
    let w = world_with(config, mfa_user("customer@stepup.example")).await;
    let link = w
        .sandbox
        .customer_link(&w.user.email, "wallet:sign", "Acme Wallet")
        .unwrap();
    assert!(
        link.starts_with(
            "com.stepup.desktop://step-up?scope=wallet%3Asign&requester=Acme+Wallet&assertion="
        ),
        "{link}"
    );
    let jwt = assertion_param(&link);
    let vouched = w
        .client
        .check_external_assertion(&jwt, &TokenScope::WalletSign)
        .await
        .unwrap();
    assert_eq!(vouched.issuer.as_deref(), Some(CUSTOMER_ISSUER));
    assert!(
        w.client.elevated_tokens().is_empty(),
        "checking exchanges nothing"
    );
    w.client
        .verify(
            Verification::ExternalJwt { jwt: jwt.clone() },
            &[TokenScope::WalletSign],
        )
        .await
        .unwrap();
    let tokens = w.client.elevated_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].scopes, vec![TokenScope::WalletSign]);
    // The same assertion again: the server spent its jti.
    let again = w
        .client
        .verify(Verification::ExternalJwt { jwt }, &[TokenScope::WalletSign])
        .await
        .unwrap_err();
    assert_eq!(again.code(), "invalid_external_auth", "{again}");
    // The backend refuses what it does not know.
    assert!(w
        .sandbox
        .customer_link("nobody@stepup.example", "wallet:sign", "Acme")
        .is_err());
    assert!(w
        .sandbox
        .customer_link(&w.user.email, "wallet:teleport", "Acme")
        .is_err());
}

#[tokio::test]
async fn every_broken_assertion_is_refused_with_its_reason_before_anything_is_sent() {
    let w = world_with(byoa(), mfa_user("byoa@stepup.example")).await;
    let now = w.clock.now_secs();
    let user = w.user.user_id.clone();
    let good = json!({"iss": ISS, "aud": AUD, "sub": user, "scope": "wallet:export", "jti": "j-1", "exp": now + 120});
    let with = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    let key = customer_key();
    let stranger = SigningKey::from_slice(&[78u8; 32]).unwrap();
    let cases: Vec<(Secret, &str)> = vec![
        (sign(&stranger, Some("k1"), &good), "not signed by a key"),
        (sign(&stranger, None, &good), "not signed by a key"),
        (sign(&key, Some("k9"), &good), "not signed by a key"),
        (
            sign(
                &key,
                Some("k1"),
                &with("iss", json!("https://evil.example")),
            ),
            "another issuer",
        ),
        (
            sign(&key, Some("k1"), &with("aud", json!("someone-else"))),
            "another audience",
        ),
        (
            sign(&key, Some("k1"), &with("sub", json!("another-user"))),
            "another user",
        ),
        (
            sign(&key, Some("k1"), &with("scope", json!("wallet:sign"))),
            "not for exactly wallet:export",
        ),
        (
            sign(
                &key,
                Some("k1"),
                &with("scope", json!("wallet:export wallet:sign")),
            ),
            "not for exactly",
        ),
        (
            sign(&key, Some("k1"), &with("exp", json!(now - 1))),
            "expired",
        ),
        (
            sign(&key, Some("k1"), &with("exp", json!(now + 3600))),
            "longer than 10 minutes",
        ),
        (sign(&key, Some("k1"), &with("jti", json!(""))), "no jti"),
        (Secret::new("not.a.jwt"), "not a signed token"),
    ];
    for (jwt, why) in cases {
        let err = w
            .client
            .check_external_assertion(&jwt, &TokenScope::WalletExport)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StepUpError::AssertionRefused(reason) if reason.contains(why)),
            "{err} (wanted {why})"
        );
    }
    assert!(w.client.elevated_tokens().is_empty());
    // An audience list naming ours, and the good one, hold.
    let listed = sign(&key, Some("k1"), &with("aud", json!(["other", AUD])));
    w.client
        .check_external_assertion(&listed, &TokenScope::WalletExport)
        .await
        .unwrap();
    let jwt = sign(&key, Some("k1"), &good);
    w.client
        .check_external_assertion(&jwt, &TokenScope::WalletExport)
        .await
        .unwrap();
    w.client
        .verify(
            Verification::ExternalJwt { jwt },
            &[TokenScope::WalletExport],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sandbox_checks_issuer_and_audience_too() {
    let w = world_with(byoa(), mfa_user("byoa-server@stepup.example")).await;
    let now = w.clock.now_secs();
    let claims = |iss: &str, aud: &str, jti: &str| json!({"iss": iss, "aud": aud, "sub": w.user.user_id, "scope": "wallet:sign", "jti": jti, "exp": now + 120});
    for (c, why) in [
        (claims("https://evil.example", AUD, "a"), "iss"),
        (claims(ISS, "other", "b"), "aud"),
    ] {
        let jwt = sign(&customer_key(), Some("k1"), &c);
        // Straight to the server, past the client's own check.
        let (bearer, key) = stored(&w.vault);
        let (status, body) = raw(
            &w.sandbox,
            reqwest::Method::POST,
            "externalAuth/verify",
            Some(&bearer),
            Some(&key),
            &[],
            Some(json!({"jwt": jwt.expose()})),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["code"], "invalid_external_auth", "{body}");
        assert!(body["error"].as_str().unwrap().contains(why), "{body}");
    }
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn an_environment_without_external_auth_takes_no_assertion() {
    let w = world(mfa_user("no-byoa@stepup.example")).await;
    let jwt = sign(
        &customer_key(),
        None,
        &json!({"sub": w.user.user_id, "scope": "wallet:sign", "jti": "x", "exp": 1}),
    );
    let err = w
        .client
        .check_external_assertion(&jwt, &TokenScope::WalletSign)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("takes no confirmations"), "{err}");
}
