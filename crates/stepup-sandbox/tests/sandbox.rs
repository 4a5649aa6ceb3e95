//! Black-box tests of the sandbox over real HTTP on 127.0.0.1, with a manual clock.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;
use stepup_protocol::jwt::sign_es256;
use stepup_sandbox::{Channel, SandboxConfig, TokenPolicy, UserSpec};

// ---------------------------------------------------------------- public endpoints

#[tokio::test]
async fn settings_and_nonces_have_the_sdk_shape() {
    let h = start().await;
    let r = h.get("settings?sdkVersion=ClientSDK%2F1.27.1", None).await;
    assert_eq!(r.status, 200);
    for key in ["chains", "kyc"] {
        assert!(r.body[key].is_array(), "{key}");
    }
    for key in ["design", "general", "privacy", "sdk", "security"] {
        assert!(r.body[key].is_object(), "{key}");
    }
    assert!(r.body["security"]["mfa"].is_object());
    assert_eq!(
        r.body["security"]["auth"]["storage"],
        json!(["localstorage"])
    );

    let r = h.get("nonces?count=5", None).await;
    assert_eq!(r.status, 200);
    let nonces = r.body["nonces"].as_array().unwrap();
    assert_eq!(nonces.len(), 5);
    let mut unique: Vec<&str> = nonces.iter().map(|n| n.as_str().unwrap()).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    for bad in ["0", "21", "abc"] {
        let r = h.get(&format!("nonces?count={bad}"), None).await;
        assert_eq!(r.status, 422, "count={bad}");
        assert!(r.body["error"].is_string());
    }
    let r = h.get("nonce", None).await;
    assert!(r.body["nonce"].as_str().is_some_and(|n| !n.is_empty()));
}

#[tokio::test]
async fn unknown_environment_and_unknown_path_are_404_with_an_error_body() {
    let h = start().await;
    let url = format!(
        "{}/sdk/00000000-0000-0000-0000-000000000000/settings",
        h.sb.base_url()
    );
    let r = h.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].is_string());
    let r = h.get("no/such/thing", None).await;
    assert_eq!(r.status, 404);
    assert!(r.body["error"].is_string());
}

#[tokio::test]
async fn malformed_and_hostile_bodies_are_422_with_a_clear_error() {
    let h = start().await;
    let r = h
        .http
        .post(h.url("emailVerifications/create"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request");
    assert!(body["error"].as_str().unwrap().contains("JSON"));

    let r = h.post("emailVerifications/create", None, json!({})).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"].as_str().unwrap().contains("email"));

    let long = format!("{}@example.com", "a".repeat(300));
    let r = h
        .post("emailVerifications/create", None, json!({ "email": long }))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_email"));

    let (_, token) = h.user(plain_user("hostile@example.com")).await;
    let r = h
        .post(
            "users/mfa/auth/totp",
            Some(&token),
            json!({ "code": "1".repeat(10_000) }),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = h
        .post(
            "users/mfa/auth/totp",
            Some(&token),
            json!({ "code": 123456 }),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_request"));
}

// ---------------------------------------------------------------- sign-in and sessions

#[tokio::test]
async fn email_sign_in_through_the_outbox_creates_a_user_and_a_session() {
    let h = start().await;
    let (uuid, code) = h.email_code("New.User@Example.com").await;
    let outbox = h.sb.outbox();
    let last = outbox.last().unwrap();
    assert_eq!(
        (last.channel, last.to.as_str()),
        (Channel::Email, "new.user@example.com")
    );
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));

    let r = h
        .post(
            "emailVerifications/signin",
            None,
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["email"], "new.user@example.com");
    assert!(r.body["user"]["sessionId"].is_string());
    assert!(r.body["jwt"].is_string());
    assert_eq!(r.body["expiresAt"].as_i64().unwrap(), T0_MS / 1000 + 3600);
    let creds = r.body["user"]["verifiedCredentials"].as_array().unwrap();
    assert_eq!(creds[0]["format"], "email");
    let token = token_of(&r.body);

    let me = h.get("users", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], r.body["user"]["id"]);

    let anon = h.get("users", None).await;
    assert_eq!((anon.status.as_u16(), anon.code()), (401, "unauthorized"));

    // The code was consumed.
    let again = h
        .post(
            "emailVerifications/signin",
            None,
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (422, "invalid_email_verification")
    );

    // The outbox is also served over HTTP.
    let url = format!(
        "{}/sandbox/{}/outbox",
        h.sb.base_url(),
        h.sb.environment_id()
    );
    let list: serde_json::Value = h.http.get(url).send().await.unwrap().json().await.unwrap();
    let item = &list.as_array().unwrap()[0];
    assert_eq!(
        (item["channel"].as_str(), item["to"].as_str()),
        (Some("email"), Some("new.user@example.com"))
    );
    assert_eq!(item["verificationUUID"], uuid.as_str());
    assert_eq!(item["code"], code.as_str());
}

#[tokio::test]
async fn sms_sign_in_finds_the_user_by_phone() {
    let h = start().await;
    let user =
        h.sb.create_user(UserSpec {
            email: "sms@example.com".into(),
            phone: Some(("1".into(), "US".into(), "5551234567".into())),
            ..UserSpec::default()
        })
        .unwrap();
    let r = h
        .post(
            "smsVerifications/create",
            None,
            json!({ "phoneCountryCode": "1", "phoneNumber": "5551234567", "isoCountryCode": "US" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["phoneCountryCode"], "1");
    let uuid = r.body["verificationUUID"].as_str().unwrap().to_owned();
    let msg = h.sb.outbox().pop().unwrap();
    assert_eq!(
        (msg.channel, msg.to.as_str()),
        (Channel::Sms, "+15551234567")
    );
    let r = h
        .post(
            "smsVerifications/signin",
            None,
            json!({ "verificationUUID": uuid, "verificationToken": msg.code.expose() }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"], user.user_id.as_str());
}

#[tokio::test]
async fn every_verification_rotates_the_session_and_the_old_jwt_is_dead() {
    let h = start().await;
    let (_, token) = h.user(plain_user("rotate@example.com")).await;
    let first_sid = h.get("users", Some(&token)).await.body["sessionId"].clone();

    let (uuid, code) = h.email_code("rotate@example.com").await;
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["nextView"], "done");
    assert!(r.body.get("elevatedAccessToken").is_none());
    let new_token = token_of(&r.body);
    assert_ne!(r.body["user"]["sessionId"], first_sid);
    assert_eq!((h.get("users", Some(&token)).await.status.as_u16()), 401);
    assert_eq!(h.get("users", Some(&new_token)).await.status, 200);

    // refresh rotates too; revoke ends the session.
    let r = h.post("refresh", Some(&new_token), json!({})).await;
    assert_eq!(r.status, 200);
    let refreshed = token_of(&r.body);
    assert_eq!(h.get("users", Some(&new_token)).await.status, 401);
    assert_eq!(
        h.post("revoke", Some(&refreshed), json!({})).await.status,
        204
    );
    assert_eq!(h.get("users", Some(&refreshed)).await.status, 401);
}

#[tokio::test]
async fn a_session_expires_after_an_hour() {
    let h = start().await;
    let (_, token) = h.user(plain_user("hour@example.com")).await;
    h.clock.advance_secs(3600);
    let r = h.get("users", Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "unauthorized"));
}

// ---------------------------------------------------------------- stepUp/check

#[tokio::test]
async fn check_offers_reauth_credentials_with_the_sign_in_credential_as_default() {
    let h = start().await;
    h.sb.create_user(UserSpec {
        email: "alice@example.com".into(),
        phone: Some(("1".into(), "US".into(), "5551234567".into())),
        ..UserSpec::default()
    })
    .unwrap();
    // Sign in by SMS: the phone becomes the default credential.
    h.post(
        "smsVerifications/create",
        None,
        json!({ "phoneCountryCode": "1", "phoneNumber": "5551234567", "isoCountryCode": "US" }),
    )
    .await;
    let msg = h.sb.outbox().pop().unwrap();
    let r = h.post("smsVerifications/signin", None, json!({ "verificationUUID": msg.verification_uuid, "verificationToken": msg.code.expose() })).await;
    let token = token_of(&r.body);
    let creds = r.body["user"]["verifiedCredentials"]
        .as_array()
        .unwrap()
        .clone();
    let phone_id = creds.iter().find(|c| c["format"] == "phoneNumber").unwrap()["id"].clone();

    let r = h
        .post(
            "stepUp/check",
            Some(&token),
            json!({ "scope": "wallet:export" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["isRequired"], true);
    let list = r.body["credentials"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["format"], "email");
    assert_eq!(list[0]["alias"], "a•••@example.com");
    assert_eq!(list[1]["format"], "phoneNumber");
    assert_eq!(list[1]["alias"], "+1 •••• 4567");
    assert_eq!(r.body["defaultCredentialId"], phone_id);

    // The same user signed in by email gets the email as default.
    let body = h.sign_in("alice@example.com").await;
    let r = h
        .post(
            "stepUp/check",
            Some(&token_of(&body)),
            json!({ "scope": "credential:link" }),
        )
        .await;
    assert_eq!(
        r.body["defaultCredentialId"],
        r.body["credentials"][0]["id"]
    );
}

#[tokio::test]
async fn check_offers_only_mfa_devices_to_a_user_with_mfa() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("mfa@example.com")).await;
    let r = h
        .post(
            "stepUp/check",
            Some(&token),
            json!({ "scope": "wallet:export" }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "isRequired": true,
            "credentials": [{ "id": user.totp_device_id.clone().unwrap(), "format": "totp", "type": "totp", "alias": "Authenticator app" }],
            "defaultCredentialId": user.totp_device_id.unwrap(),
        })
    );
}

#[tokio::test]
async fn check_with_an_unknown_scope_is_invalid_scopes_and_a_non_required_policy_is_not_required() {
    let h = start_with(|c: &mut SandboxConfig| {
        c.token_policies.insert(
            "user:update".into(),
            TokenPolicy {
                single_use: false,
                ttl_secs: 60,
                required: false,
            },
        );
    })
    .await;
    let (_, token) = h.user(plain_user("scopes@example.com")).await;
    let r = h
        .post(
            "stepUp/check",
            Some(&token),
            json!({ "scope": "wallet:teleport" }),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_scopes"));
    let r = h
        .post(
            "stepUp/check",
            Some(&token),
            json!({ "scope": "user:update" }),
        )
        .await;
    assert_eq!(r.body, json!({ "isRequired": false, "credentials": [] }));
    let r = h
        .post("stepUp/check", None, json!({ "scope": "wallet:export" }))
        .await;
    assert_eq!(r.status, 401);
}

// ---------------------------------------------------------------- TOTP

#[tokio::test]
async fn a_totp_code_is_accepted_once_and_mints_a_scoped_token() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("totp@example.com")).await;
    let code = h.totp(&user, 0);
    let r = h.totp_step_up(&token, &code, &["wallet:export"]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = claims(&elevated_of(&r.body));
    assert_eq!(
        (c.sub.as_str(), c.scope.as_str(), c.single_use),
        (user.user_id.as_str(), "wallet:export", Some(true))
    );
    assert_eq!(c.exp - c.iat, 300);
    assert!(!c.jti.is_empty());
    let token2 = token_of(&r.body);
    assert_eq!(
        h.get("users", Some(&token)).await.status,
        401,
        "TOTP rotates the session"
    );

    let replay = h.totp_step_up(&token2, &code, &["wallet:export"]).await;
    assert_eq!(
        (replay.status.as_u16(), replay.code()),
        (422, "mfa_invalid_code")
    );

    // A time-bound scope gets 600 s, not single-use.
    h.clock.advance_secs(30);
    let r = h
        .totp_step_up(
            &token2,
            &h.totp(&user, 0),
            &["credential:link", "credential:unlink"],
        )
        .await;
    let c = claims(&elevated_of(&r.body));
    assert_eq!(
        (c.scope.as_str(), c.single_use, c.exp - c.iat),
        ("credential:link credential:unlink", Some(false), 600)
    );
}

#[tokio::test]
async fn totp_accepts_one_step_either_side_but_never_an_older_step() {
    let h = start().await;
    let (user, mut token) = h.user(mfa_user("window@example.com")).await;
    let two_ago = h.totp(&user, -60);
    let r = h.totp_step_up(&token, &two_ago, &[]).await;
    assert_eq!(
        r.code(),
        "mfa_invalid_code",
        "two steps back is outside the window"
    );

    let prev = h.totp(&user, -30);
    let r = h.totp_step_up(&token, &prev, &[]).await;
    assert_eq!(r.status, 200, "previous step is accepted: {:?}", r.body);
    token = token_of(&r.body);

    let next = h.totp(&user, 30);
    let r = h.totp_step_up(&token, &next, &[]).await;
    assert_eq!(r.status, 200, "next step is accepted: {:?}", r.body);
    token = token_of(&r.body);

    let current = h.totp(&user, 0);
    let r = h.totp_step_up(&token, &current, &[]).await;
    assert_eq!(
        r.code(),
        "mfa_invalid_code",
        "a step before the last accepted one is refused"
    );
}

#[tokio::test]
async fn five_wrong_mfa_codes_rate_limit_until_the_window_passes() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("limit@example.com")).await;
    for _ in 0..5 {
        let r = h.totp_step_up(&token, "000000", &[]).await;
        // (000000 could be the real code with probability 3e-6 per call; the clock is fixed.)
        assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_code"));
    }
    let r = h.totp_step_up(&token, &h.totp(&user, 0), &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (429, "mfa_rate_limited"),
        "even a correct code is refused"
    );
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": user.recovery_codes[0].expose() }),
        )
        .await;
    assert_eq!(r.status, 429, "recovery codes share the limit");

    h.clock.advance_secs(15 * 60);
    let r = h.totp_step_up(&token, &h.totp(&user, 0), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn unknown_requested_scope_is_refused_before_the_code_is_used() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("early@example.com")).await;
    let code = h.totp(&user, 0);
    let r = h
        .totp_step_up(&token, &code, &["wallet:export", "wallet:teleport"])
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_scopes"));
    let r = h.totp_step_up(&token, &code, &["wallet:export"]).await;
    assert_eq!(r.status, 200, "the code was not consumed: {:?}", r.body);
}

// ---------------------------------------------------------------- recovery codes

#[tokio::test]
async fn a_recovery_code_works_once() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("recovery@example.com")).await;
    assert_eq!(user.recovery_codes.len(), 10);
    let code = user.recovery_codes[3].expose().to_lowercase();
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": code, "requestedScopes": ["wallet:export"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(claims(&elevated_of(&r.body)).scope, "wallet:export");
    let token = token_of(&r.body);
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": code }),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_code"));
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": user.recovery_codes[4].expose() }),
        )
        .await;
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------- email / SMS step-up

#[tokio::test]
async fn email_step_up_mints_a_token_for_the_users_own_email_only() {
    let h = start().await;
    let (_, token) = h.user(plain_user("own@example.com")).await;
    let (uuid, code) = h.email_code("own@example.com").await;
    let r = h
        .post("emailVerifications/verify", Some(&token), json!({ "verificationUUID": uuid, "verificationToken": code, "requestedScopes": ["wallet:export"] }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["nextView"], "done");
    assert_eq!(claims(&elevated_of(&r.body)).scope, "wallet:export");
    let token = token_of(&r.body);

    let (uuid, code) = h.email_code("someone-else@example.com").await;
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "invalid_email_verification")
    );
}

#[tokio::test]
async fn a_wrong_email_code_counts_down_and_the_fifth_kills_the_verification() {
    let h = start().await;
    let (_, token) = h.user(plain_user("tries@example.com")).await;
    let (uuid, code) = h.email_code("tries@example.com").await;
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for remaining in [4, 3, 2, 1] {
        let r = h
            .post(
                "emailVerifications/verify",
                Some(&token),
                json!({ "verificationUUID": uuid, "verificationToken": wrong }),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "wrong_email_verification_token")
        );
        assert_eq!(r.body["payload"]["remainingAttempts"], remaining);
    }
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": uuid, "verificationToken": wrong }),
        )
        .await;
    assert_eq!(r.code(), "too_many_email_verification_attempts");
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(
        r.code(),
        "too_many_email_verification_attempts",
        "even the right code is refused now"
    );
}

#[tokio::test]
async fn an_email_code_expires_after_ten_minutes() {
    let h = start().await;
    let (_, token) = h.user(plain_user("late@example.com")).await;
    let (uuid, code) = h.email_code("late@example.com").await;
    h.clock.advance_secs(600);
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "invalid_email_verification")
    );
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": "never-issued", "verificationToken": "123456" }),
        )
        .await;
    assert_eq!(r.code(), "invalid_email_verification");
}

#[tokio::test]
async fn an_mfa_user_cannot_get_a_token_by_email_and_keeps_the_code() {
    let h = start().await;
    let (_, token) = h.user(mfa_user("mfa-email@example.com")).await;
    let (uuid, code) = h.email_code("mfa-email@example.com").await;
    let r = h
        .post("emailVerifications/verify", Some(&token), json!({ "verificationUUID": uuid, "verificationToken": code, "requestedScopes": ["wallet:export"] }))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_scopes"));
    assert!(r.body["error"].as_str().unwrap().contains("MFA"));
    let r = h
        .post(
            "emailVerifications/verify",
            Some(&token),
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(r.status, 200, "the code was not consumed: {:?}", r.body);
}

// ---------------------------------------------------------------- protected endpoints

#[tokio::test]
async fn export_with_a_single_use_token_works_once_then_step_up_is_required() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("export@example.com")).await;
    let wallet = user.wallet_id.clone().unwrap();
    let path = format!("waas/{wallet}/privateKey/export");

    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            &[],
            Some(json!({ "exportId": "e1" })),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "step_up_required"));
    assert_eq!(r.body["payload"], json!({ "scope": "wallet:export" }));
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer error=\"insufficient_user_authentication\""
    );

    let r = h
        .totp_step_up(&token, &h.totp(&user, 0), &["wallet:export"])
        .await;
    let token = token_of(&r.body);
    let elevated = elevated_of(&r.body);
    let hdr = [("x-dyn-elevated-access-token", elevated.as_str())];
    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "e1" })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["exportId"], "e1");
    assert_eq!(
        r.body["address"],
        user.wallet_address.clone().unwrap().as_str()
    );
    let key = r.body["privateKey"].as_str().unwrap();
    assert!(key.starts_with("0x") && key.len() == 66);

    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "e2" })),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "step_up_required"),
        "single-use token replayed"
    );

    // Another user's wallet is refused outright.
    let (other, other_token) = h.user(plain_user("other@example.com")).await;
    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&other_token),
            &hdr,
            Some(json!({ "exportId": "e3" })),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_wallet_id"));
    assert!(other.wallet_id.is_none());
}

#[tokio::test]
async fn expired_wrong_scope_and_foreign_tokens_are_refused() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("expiry@example.com")).await;
    let path = format!("waas/{}/privateKey/export", user.wallet_id.clone().unwrap());

    let r = h
        .totp_step_up(&token, &h.totp(&user, 0), &["wallet:export"])
        .await;
    let token = token_of(&r.body);
    let elevated = elevated_of(&r.body);
    h.clock.advance_secs(301);
    let hdr = [("x-dyn-elevated-access-token", elevated.as_str())];
    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "x" })),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "step_up_required"));
    assert!(r.body["error"].as_str().unwrap().contains("expired"));

    let r = h
        .totp_step_up(&token, &h.totp(&user, 0), &["credential:link"])
        .await;
    let token = token_of(&r.body);
    let link = elevated_of(&r.body);
    let hdr = [("x-dyn-elevated-access-token", link.as_str())];
    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "x" })),
        )
        .await;
    assert_eq!(
        r.code(),
        "step_up_required",
        "a credential:link token does not cover wallet:export"
    );

    // A token of another user with the right scope is refused too.
    let (other, other_token) = h.user(mfa_user("thief@example.com")).await;
    let r = h
        .totp_step_up(&other_token, &h.totp(&other, 0), &["wallet:export"])
        .await;
    let stolen = elevated_of(&r.body);
    let hdr = [("x-dyn-elevated-access-token", stolen.as_str())];
    let r = h
        .send(
            reqwest::Method::POST,
            &path,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "x" })),
        )
        .await;
    assert_eq!(r.code(), "step_up_required");
    assert!(r.body["error"].as_str().unwrap().contains("another user"));
}

#[tokio::test]
async fn totp_registration_and_removal_need_their_scopes() {
    let h = start().await;
    h.sb.create_user(plain_user("enrol@example.com")).unwrap();
    let (uuid, code) = h.email_code("enrol@example.com").await;
    let r = h
        .post("emailVerifications/signin", None, json!({ "verificationUUID": uuid, "verificationToken": code, "allowNewMFALinking": true }))
        .await;
    let token = token_of(&r.body);
    let link = elevated_of(&r.body);
    assert_eq!(claims(&link).scope, "credential:link");

    let r = h.get("users/mfa/register/totp", Some(&token)).await;
    assert_eq!(r.code(), "step_up_required");
    let r = h
        .send(
            reqwest::Method::GET,
            "users/mfa/register/totp",
            Some(&token),
            &[("x-dyn-elevated-access-token", &link)],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["type"], "totp");
    assert!(r.body["uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let device_id = r.body["id"].as_str().unwrap().to_owned();

    let now = stepup_protocol::Clock::now_secs(&h.clock);
    let first = stepup_sandbox::totp_code_at(&secret, now).unwrap();
    let r = h
        .post(
            "users/mfa/register/totp",
            Some(&token),
            json!({ "type": "totp", "code": first }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["id"].as_str(), r.body["verified"].as_bool()),
        (Some(device_id.as_str()), Some(true))
    );

    let r = h.get("users/mfa", Some(&token)).await;
    assert_eq!(r.body["count"], 1);
    let r = h
        .post(
            "stepUp/check",
            Some(&token),
            json!({ "scope": "credential:unlink" }),
        )
        .await;
    assert_eq!(r.body["credentials"][0]["format"], "totp");

    let del = format!("users/mfa/{device_id}");
    let r = h
        .send(reqwest::Method::DELETE, &del, Some(&token), &[], None)
        .await;
    assert_eq!(r.code(), "step_up_required");
    h.clock.advance_secs(30);
    let code = stepup_sandbox::totp_code_at(&secret, now + 30).unwrap();
    let r = h.totp_step_up(&token, &code, &["credential:unlink"]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = token_of(&r.body);
    let unlink = elevated_of(&r.body);
    let r = h
        .send(
            reqwest::Method::DELETE,
            &del,
            Some(&token),
            &[("x-dyn-elevated-access-token", &unlink)],
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(h.get("users/mfa", Some(&token)).await.body["count"], 0);
}

#[tokio::test]
async fn a_single_use_token_is_spent_only_on_the_callers_own_wallet_or_device() {
    let h = start_with(|c| {
        c.token_policies.insert(
            "credential:unlink".into(),
            TokenPolicy {
                single_use: true,
                ttl_secs: 300,
                required: true,
            },
        );
    })
    .await;
    let (user, token) = h.user(mfa_user("spend@example.com")).await;
    let wallet = user.wallet_id.clone().unwrap();
    let device = user.totp_device_id.clone().unwrap();

    let r = h
        .totp_step_up(&token, &h.totp(&user, 0), &["wallet:export"])
        .await;
    let (token, export) = (token_of(&r.body), elevated_of(&r.body));
    let hdr = [("x-dyn-elevated-access-token", export.as_str())];
    let r = h
        .send(
            reqwest::Method::POST,
            "waas/not-my-wallet/privateKey/export",
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "e1" })),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_wallet_id"));
    let r = h
        .send(
            reqwest::Method::POST,
            &format!("waas/{wallet}/privateKey/export"),
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "e2" })),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the refused call did not spend the token: {:?}",
        r.body
    );

    h.clock.advance_secs(30);
    let r = h
        .totp_step_up(&token, &h.totp(&user, 0), &["credential:unlink"])
        .await;
    let (token, unlink) = (token_of(&r.body), elevated_of(&r.body));
    assert_eq!(claims(&unlink).single_use, Some(true));
    let hdr = [("x-dyn-elevated-access-token", unlink.as_str())];
    let r = h
        .send(
            reqwest::Method::DELETE,
            "users/mfa/no-such-device",
            Some(&token),
            &hdr,
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_device_not_found"));
    let del = format!("users/mfa/{device}");
    let r = h
        .send(reqwest::Method::DELETE, &del, Some(&token), &hdr, None)
        .await;
    assert_eq!(
        r.status, 204,
        "the refused call did not spend the token: {:?}",
        r.body
    );
    let r = h
        .send(reqwest::Method::DELETE, &del, Some(&token), &hdr, None)
        .await;
    assert_eq!(r.code(), "mfa_device_not_found");
}

// ---------------------------------------------------------------- device signatures

fn signed_headers(key: &SigningKey, nonce: &str) -> [(String, String); 3] {
    let sig: Signature = key.sign(nonce.as_bytes());
    [
        ("x-dynamic-device-nonce".into(), nonce.to_owned()),
        (
            "x-dynamic-device-publickey".into(),
            hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        ),
        (
            "x-dynamic-device-signed-nonce".into(),
            hex::encode(sig.to_bytes()),
        ),
    ]
}

#[tokio::test]
async fn device_nonce_signatures_are_verified_when_present() {
    let h = start().await;
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let nonces = h.get("nonces?count=3", None).await.body["nonces"].clone();
    let n0 = nonces[0].as_str().unwrap();

    let signin = |headers: [(String, String); 3]| {
        let h = &h;
        async move {
            let (uuid, code) = h.email_code("device@example.com").await;
            let hdrs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            h.send(
                reqwest::Method::POST,
                "emailVerifications/signin",
                None,
                &hdrs,
                Some(json!({ "verificationUUID": uuid, "verificationToken": code })),
            )
            .await
        }
    };
    let r = signin(signed_headers(&key, n0)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let r = signin(signed_headers(&key, n0)).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_device_signature"),
        "a nonce is single-use"
    );

    let r = signin(signed_headers(&key, "never-issued")).await;
    assert_eq!(r.code(), "invalid_device_signature");

    let mut forged = signed_headers(&key, nonces[1].as_str().unwrap());
    let other = signed_headers(
        &SigningKey::from_slice(&[9u8; 32]).unwrap(),
        nonces[1].as_str().unwrap(),
    );
    forged[1] = other[1].clone();
    let r = signin(forged).await;
    assert_eq!(
        r.code(),
        "invalid_device_signature",
        "signature by another key"
    );

    // Absent headers are fine unless required.
    let body = h.sign_in("device@example.com").await;
    assert!(body["minifiedJwt"].is_string());

    let strict = start_with(|c| c.require_device_signature = true).await;
    let (uuid, code) = strict.email_code("strict@example.com").await;
    let r = strict
        .post(
            "emailVerifications/signin",
            None,
            json!({ "verificationUUID": uuid, "verificationToken": code }),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_device_signature")
    );
    let n = strict.get("nonce", None).await.body["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let hdrs = signed_headers(&key, &n);
    let hdrs: Vec<(&str, &str)> = hdrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = strict
        .send(
            reqwest::Method::POST,
            "emailVerifications/signin",
            None,
            &hdrs,
            Some(json!({ "verificationUUID": uuid, "verificationToken": code })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

// ---------------------------------------------------------------- external auth

#[tokio::test]
async fn external_auth_assertions_are_verified_and_their_jti_used_once() {
    let customer = SigningKey::from_slice(&[5u8; 32]).unwrap();
    let vk = *customer.verifying_key();
    let h = start_with(move |c| c.external_auth_key = Some(vk)).await;
    let (user, token) = h.user(plain_user("byoa@example.com")).await;
    let now = T0_MS / 1000;
    let assertion = |sub: &str, scope: &str, jti: &str, exp: i64| {
        sign_es256(
            &customer,
            None,
            &json!({ "sub": sub, "scope": scope, "jti": jti, "exp": exp, "iat": now }),
        )
        .unwrap()
    };

    let r = h
        .post(
            "externalAuth/verify",
            Some(&token),
            json!({ "jwt": assertion(&user.user_id, "wallet:export wallet:sign", "j1", now + 60) }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = claims(r.body["elevatedAccessToken"].as_str().unwrap());
    assert_eq!(
        (c.scope.as_str(), c.sub.as_str()),
        ("wallet:export wallet:sign", user.user_id.as_str())
    );
    assert_eq!(
        h.get("users", Some(&token)).await.status,
        200,
        "no session rotation"
    );

    for (jwt, why) in [
        (assertion(&user.user_id, "wallet:export", "j1", now + 60), "replayed jti"),
        (assertion("someone-else", "wallet:export", "j2", now + 60), "wrong sub"),
        (assertion(&user.user_id, "wallet:teleport", "j3", now + 60), "unknown scope"),
        (assertion(&user.user_id, "wallet:export", "j4", now - 1), "expired"),
        (sign_es256(&SigningKey::from_slice(&[6u8; 32]).unwrap(), None, &json!({ "sub": user.user_id, "scope": "wallet:export", "jti": "j5", "exp": now + 60 })).unwrap(), "other key"),
    ] {
        let r = h.post("externalAuth/verify", Some(&token), json!({ "jwt": jwt })).await;
        assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_external_auth"), "{why}");
    }

    let unconfigured = start().await;
    let (u2, t2) = unconfigured.user(plain_user("nokey@example.com")).await;
    let r = unconfigured
        .post(
            "externalAuth/verify",
            Some(&t2),
            json!({ "jwt": assertion(&u2.user_id, "wallet:export", "j9", now + 60) }),
        )
        .await;
    assert_eq!(r.code(), "invalid_external_auth");
}

// ---------------------------------------------------------------- persistence and demo

fn temp_state_path(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("stepup-sandbox-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.json")
}

#[tokio::test]
async fn state_survives_a_restart() {
    let path = temp_state_path("restart");
    let p = path.clone();
    let h = start_with(move |c| {
        c.state_path = Some(p);
        c.seed_demo = true;
    })
    .await;
    let demo = h.sb.demo().unwrap();
    assert_eq!(demo.email, "demo@stepup.example");
    assert_eq!(demo.recovery_codes.len(), 10);
    let body = h.sign_in("demo@stepup.example").await;
    let token = token_of(&body);
    let code = h.totp(&demo, 0);
    let r = h.totp_step_up(&token, &code, &["wallet:export"]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = token_of(&r.body);
    let elevated = elevated_of(&r.body);
    let path_export = format!("waas/{}/privateKey/export", demo.wallet_id.clone().unwrap());
    let hdr = [("x-dyn-elevated-access-token", elevated.as_str())];
    let r = h
        .send(
            reqwest::Method::POST,
            &path_export,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "a" })),
        )
        .await;
    assert_eq!(r.status, 200);
    let key_before = r.body["privateKey"].clone();
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": demo.recovery_codes[0].expose() }),
        )
        .await;
    assert_eq!(r.status, 200);
    let token = token_of(&r.body);
    let clock = h.clock.clone();
    h.sb.shutdown().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The snapshot and the journal of changes since it.
    let mut raw = std::fs::read(&path).unwrap();
    raw.extend(std::fs::read(path.with_file_name("state.json.journal")).unwrap());
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.contains(&demo.user_id),
        "the state is where the test looks"
    );
    assert!(
        !raw.contains(demo.recovery_codes[1].expose()),
        "recovery codes are stored hashed"
    );

    let p = path.clone();
    let c2 = clock.clone();
    let h2 = start_with(move |c| {
        c.state_path = Some(p);
        c.seed_demo = true;
        c.clock = std::sync::Arc::new(c2);
    })
    .await;
    let again = h2.sb.demo().unwrap();
    assert_eq!(again.user_id, demo.user_id, "the demo user is created once");
    assert_eq!(
        h2.get("users", Some(&token)).await.status,
        200,
        "session and signing key survive"
    );
    let r = h2.totp_step_up(&token, &code, &[]).await;
    assert_eq!(r.code(), "mfa_invalid_code", "the last TOTP step survives");
    let r = h2
        .send(
            reqwest::Method::POST,
            &path_export,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "b" })),
        )
        .await;
    assert_eq!(r.code(), "step_up_required", "used jtis survive");
    let r = h2
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": demo.recovery_codes[0].expose() }),
        )
        .await;
    assert_eq!(r.code(), "mfa_invalid_code", "used recovery codes survive");
    let token = token_of(
        &h2.post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": demo.recovery_codes[1].expose() }),
        )
        .await
        .body,
    );

    h2.clock.advance_secs(30);
    let r = h2
        .totp_step_up(&token, &h2.totp(&demo, 0), &["wallet:export"])
        .await;
    let token = token_of(&r.body);
    let hdr = [(
        "x-dyn-elevated-access-token",
        r.body["elevatedAccessToken"].as_str().unwrap(),
    )];
    let r = h2
        .send(
            reqwest::Method::POST,
            &path_export,
            Some(&token),
            &hdr,
            Some(json!({ "exportId": "c" })),
        )
        .await;
    assert_eq!(r.body["privateKey"], key_before, "the wallet key survives");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn the_demo_endpoint_shows_the_current_totp_code_and_remaining_recovery_codes() {
    let h = start_with(|c| c.seed_demo = true).await;
    let demo = h.sb.demo().unwrap();
    assert_eq!(
        demo.phone,
        Some(("1".into(), "US".into(), "5550100".into()))
    );
    let url = format!("{}/sandbox/{}/demo", h.sb.base_url(), h.sb.environment_id());
    let body: serde_json::Value = h.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["email"], "demo@stepup.example");
    assert_eq!(body["totpCode"], h.totp(&demo, 0).as_str());
    assert_eq!(body["recoveryCodes"].as_array().unwrap().len(), 10);

    let token = token_of(&h.sign_in("demo@stepup.example").await);
    h.post(
        "users/mfa/auth/recovery",
        Some(&token),
        json!({ "code": demo.recovery_codes[0].expose() }),
    )
    .await;
    let body: serde_json::Value = h.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["recoveryCodes"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn json_sent_as_text_plain_is_refused_before_it_is_read() {
    let h = start().await;
    let body = r#"{"email":"victim@stepup.example"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = h.http.post(h.url("emailVerifications/create")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 415, "{content_type:?}");
        let reply: serde_json::Value = r.json().await.unwrap();
        assert_eq!(reply["code"], "invalid_request");
    }
    assert!(h.sb.outbox().is_empty(), "no code was sent");
    let r = h
        .http
        .post(h.url("emailVerifications/create"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "JSON as JSON still works");
}

#[tokio::test]
async fn a_rebound_host_name_reads_neither_the_demo_nor_the_api() {
    let h = start_with(|c| c.seed_demo = true).await;
    let demo = format!(
        "{}/sandbox/{}/demo",
        h.sb.base_url().trim_end_matches('/'),
        h.sb.environment_id()
    );
    let outbox = demo.replace("/demo", "/outbox");
    for url in [demo.as_str(), outbox.as_str(), h.url("settings").as_str()] {
        // A page on evil.example whose name now resolves to 127.0.0.1 sends its own name.
        let r = h
            .http
            .get(url)
            .header("host", "evil.example:8787")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "{url}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("totp"), "{body}");
        assert!(body.contains("host_not_allowed"), "{body}");
    }
    // Addressed to this machine, the same requests are answered.
    for url in [demo.as_str(), h.url("settings").as_str()] {
        assert_eq!(h.http.get(url).send().await.unwrap().status(), 200, "{url}");
        let r = h
            .http
            .get(url)
            .header("host", "localhost")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
    }
}

#[tokio::test]
async fn creating_verification_codes_is_rate_limited_with_retry_after() {
    let h = start_with(|c| {
        c.verification_limits = stepup_sandbox::VerificationLimits {
            per_target: 3,
            per_client: 5,
            global: 100,
            window_ms: 60_000,
        }
    })
    .await;
    let create =
        |email: &'static str| h.post("emailVerifications/create", None, json!({ "email": email }));
    for _ in 0..3 {
        assert_eq!(create("victim@stepup.example").await.status, 200);
    }
    // A fourth code for the same address: 429, with when to try again. Brute force of one
    // address's codes is bounded to 3 × 5 guesses a minute here.
    let r = create("victim@stepup.example").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.code(), "too_many_requests");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other addresses from the same client until the per-client limit (5).
    assert_eq!(create("a@stepup.example").await.status, 200);
    assert_eq!(create("b@stepup.example").await.status, 200);
    assert_eq!(create("c@stepup.example").await.status, 429, "per client");
    let sms = h
        .post(
            "smsVerifications/create",
            None,
            json!({ "phoneCountryCode": "1", "isoCountryCode": "US", "phoneNumber": "5550123" }),
        )
        .await;
    assert_eq!(sms.status, 429, "SMS counts against the same client");
    assert_eq!(h.sb.outbox().len(), 5, "no code went out past the limits");
    // The window slides.
    h.clock.advance_secs(61);
    assert_eq!(create("victim@stepup.example").await.status, 200);
}

async fn closed_within(stream: &mut tokio::net::TcpStream, bound: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // an error page first is fine; the close is what counts
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_idle_timeout() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let h = start_with(|c| {
        c.connection_limits = stepup_sandbox::ConnectionLimits {
            max_connections: 8,
            idle_timeout: Duration::from_millis(300),
            max_lifetime: Duration::from_secs(2),
        }
    })
    .await;
    // Headers that never end.
    let mut half = tokio::net::TcpStream::connect(h.sb.local_addr())
        .await
        .unwrap();
    half.write_all(b"GET /api/v0/sdk/x/settings HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut half, Duration::from_secs(2)).await,
        "headers that never end"
    );
    // A body that never comes.
    let mut body = tokio::net::TcpStream::connect(h.sb.local_addr())
        .await
        .unwrap();
    body.write_all(
        b"POST /api/v0/sdk/x/emailVerifications/create HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    assert!(
        closed_within(&mut body, Duration::from_secs(2)).await,
        "a body that never comes"
    );
    // A trickle under the idle timeout ends at the lifetime.
    let mut trickle = tokio::net::TcpStream::connect(h.sb.local_addr())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for b in b"GET /api/v0/sdk/x/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if trickle.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    assert!(
        closed || closed_within(&mut trickle, Duration::from_millis(500)).await,
        "a trickle ends at the lifetime"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn past_the_connection_limit_a_connection_waits_until_one_closes() {
    use std::time::Duration;
    let h = start_with(|c| {
        c.connection_limits = stepup_sandbox::ConnectionLimits {
            max_connections: 2,
            idle_timeout: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(60),
        }
    })
    .await;
    let a = tokio::net::TcpStream::connect(h.sb.local_addr())
        .await
        .unwrap();
    let b = tokio::net::TcpStream::connect(h.sb.local_addr())
        .await
        .unwrap();
    // Let the server take both.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(
        fresh.get(h.url("settings")).send().await.is_err(),
        "a third waits"
    );
    drop(a);
    drop(b);
    let r = reqwest::Client::new()
        .get(h.url("settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "served once the others closed");
}
