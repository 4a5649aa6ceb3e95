//! EdDSA (Ed25519, COSE -8) passkeys against the sandbox over HTTP. webauthn-rs 0.6.2 cannot
//! verify Ed25519, so the sandbox checks these itself (WebAuthn §7.1 and §7.2); here a tiny
//! Ed25519 authenticator (a fixed key, a hand-encoded CBOR attestation object, `fmt: none` or
//! packed self-attestation) registers behind `credential:link`, steps up for `wallet:export`,
//! and every forged or replayed assertion is refused. Also: the creation options offer ES256,
//! EdDSA and RS256 (Windows Hello).

#![allow(clippy::unwrap_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::*;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use stepup_sandbox::{DemoUser, DEFAULT_APP_ORIGIN, DEFAULT_PASSKEY_RP_ID};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

// ---------------------------------------------------------------- a little CBOR

fn head(major: u8, len: usize) -> Vec<u8> {
    let m = major << 5;
    match len {
        0..=23 => vec![m | len as u8],
        24..=0xff => vec![m | 24, len as u8],
        _ => {
            let mut v = vec![m | 25];
            v.extend_from_slice(&(len as u16).to_be_bytes());
            v
        }
    }
}

fn int(i: i64) -> Vec<u8> {
    if i >= 0 {
        head(0, i as usize)
    } else {
        head(1, (-1 - i) as usize)
    }
}

fn bytes(b: &[u8]) -> Vec<u8> {
    let mut v = head(2, b.len());
    v.extend_from_slice(b);
    v
}

fn text(s: &str) -> Vec<u8> {
    let mut v = head(3, s.len());
    v.extend_from_slice(s.as_bytes());
    v
}

fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut v = head(5, entries.len());
    for (k, val) in entries {
        v.extend_from_slice(k);
        v.extend_from_slice(val);
    }
    v
}

// ---------------------------------------------------------------- the test authenticator

/// An Ed25519 authenticator with a fixed key and a counter.
struct EdAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    rp_id: String,
    origin: String,
}

impl EdAuthenticator {
    fn new(seed: u8) -> Self {
        EdAuthenticator {
            key: SigningKey::from_bytes(&[seed; 32]),
            credential_id: vec![
                seed, 0xed, 0x25, 0x51, 0x9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
            ],
            counter: 0,
            rp_id: DEFAULT_PASSKEY_RP_ID.into(),
            origin: DEFAULT_APP_ORIGIN.into(),
        }
    }

    fn cred_id(&self) -> String {
        B64.encode(&self.credential_id)
    }

    fn cose_key(&self) -> Vec<u8> {
        map(&[
            (int(1), int(1)),  // kty: OKP
            (int(3), int(-8)), // alg: EdDSA
            (int(-1), int(6)), // crv: Ed25519
            (int(-2), bytes(self.key.verifying_key().as_bytes())),
        ])
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
        let mut d = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        d.push(flags);
        d.extend_from_slice(&self.counter.to_be_bytes());
        if attested {
            d.extend_from_slice(&[0u8; 16]); // aaguid
            d.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            d.extend_from_slice(&self.credential_id);
            d.extend_from_slice(&self.cose_key());
        }
        d
    }

    fn sign(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
        let mut signed = auth_data.to_vec();
        signed.extend_from_slice(&Sha256::digest(client_data));
        self.key.sign(&signed).to_bytes().to_vec()
    }

    /// `(clientDataJSON, attestationObject)`, base64url; `packed` for self-attestation.
    fn attest(&self, challenge: &str, flags: u8, packed: bool) -> (String, String) {
        let client_data = self.client_data("webauthn.create", challenge);
        let auth_data = self.auth_data(flags, true);
        let (fmt, att_stmt) = if packed {
            let sig = self.sign(&auth_data, &client_data);
            (
                "packed",
                map(&[(text("alg"), int(-8)), (text("sig"), bytes(&sig))]),
            )
        } else {
            ("none", map(&[]))
        };
        let object = map(&[
            (text("fmt"), text(fmt)),
            (text("attStmt"), att_stmt),
            (text("authData"), bytes(&auth_data)),
        ]);
        (B64.encode(client_data), B64.encode(object))
    }

    /// A `PasskeyAuthRequest` for `challenge` with the counter advanced first.
    fn assert(&mut self, challenge: &str, flags: u8, scopes: &[&str]) -> Value {
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.auth_data(flags, false);
        let sig = self.sign(&auth_data, &client_data);
        self.body(&client_data, &auth_data, &sig, scopes)
    }

    fn body(&self, client_data: &[u8], auth_data: &[u8], sig: &[u8], scopes: &[&str]) -> Value {
        json!({
            "id": self.cred_id(), "rawId": self.cred_id(), "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "authenticatorData": B64.encode(auth_data),
                "signature": B64.encode(sig),
            },
            "clientExtensionResults": {},
            "requestedScopes": scopes,
        })
    }
}

// ---------------------------------------------------------------- flows

/// An MFA user, signed in, with a `credential:link` token; returns (user, session, token).
async fn linked(h: &Harness, email: &str) -> (DemoUser, String, String) {
    let (user, token) = h.user(mfa_user(email)).await;
    let r = h
        .totp_step_up(&token, &h.totp(&user, 0), &["credential:link"])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (user, token_of(&r.body), elevated_of(&r.body))
}

async fn get_elevated(h: &Harness, rel: &str, token: &str, elevated: &str) -> Reply {
    let hdr = [("x-dyn-elevated-access-token", elevated)];
    h.send(reqwest::Method::GET, rel, Some(token), &hdr, None)
        .await
}

fn algs(options: &Value) -> Vec<i64> {
    options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "public-key");
            p["alg"].as_i64().unwrap()
        })
        .collect()
}

/// Registers `a` as an MFA passkey (`fmt: none`, UP+UV+AT); returns the POST's reply.
async fn register_mfa(
    h: &Harness,
    token: &str,
    elevated: &str,
    a: &EdAuthenticator,
    flags: u8,
    packed: bool,
) -> Reply {
    let r = get_elevated(h, "users/mfa/register/passkey", token, elevated).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let options = &r.body["registration"];
    assert!(algs(options).contains(&-8), "EdDSA offered: {options}");
    let (client_data, object) = a.attest(options["challenge"].as_str().unwrap(), flags, packed);
    h.post(
        "users/mfa/register/passkey",
        Some(token),
        json!({
            "id": r.body["id"],
            "attestation": {
                "id": a.cred_id(), "rawId": a.cred_id(), "type": "public-key",
                "response": { "clientDataJSON": client_data, "attestationObject": object },
                "clientExtensionResults": {},
            },
        }),
    )
    .await
}

/// Registers `a` as an account passkey as the SDK's `registerPasskey` does: the options'
/// `GET` without a token, the `POST` with `elevated` (if any); returns the POST's reply.
async fn register_account(
    h: &Harness,
    token: &str,
    elevated: Option<&str>,
    a: &EdAuthenticator,
    flags: u8,
) -> Reply {
    let r = h.get("users/passkeys/register", Some(token)).await;
    assert_eq!(r.status, 200, "the options need no token: {:?}", r.body);
    let (client_data, object) = a.attest(r.body["challenge"].as_str().unwrap(), flags, false);
    let hdr: Vec<(&str, &str)> = elevated
        .map(|e| ("x-dyn-elevated-access-token", e))
        .into_iter()
        .collect();
    h.send(
        reqwest::Method::POST,
        "users/passkeys/register",
        Some(token),
        &hdr,
        Some(json!({
            "id": a.cred_id(), "rawId": a.cred_id(), "type": "public-key",
            "response": { "clientDataJson": client_data, "attestationObject": object },
            "clientExtensionResults": {},
        })),
    )
    .await
}

/// How many passkeys the caller can authenticate with.
async fn passkey_count(h: &Harness, token: &str) -> usize {
    let r = h.get("users/passkeys/authenticate", Some(token)).await;
    r.body["allowCredentials"].as_array().map_or(0, Vec::len)
}

fn step_up_required(r: &Reply, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "step_up_required"),
        "{what}: {:?}",
        r.body
    );
    assert_eq!(r.body["payload"]["scope"], "credential:link", "{what}");
}

/// A fresh authentication challenge for the caller.
async fn challenge(h: &Harness, token: &str) -> String {
    let r = h.get("users/passkeys/authenticate", Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["userVerification"], "required");
    r.body["challenge"].as_str().unwrap().to_owned()
}

/// A user with `a` registered; returns (user, session).
async fn with_eddsa_passkey(h: &Harness, email: &str, a: &EdAuthenticator) -> (DemoUser, String) {
    let (user, token, elevated) = linked(h, email).await;
    let r = register_mfa(h, &token, &elevated, a, UP | UV | AT, false).await;
    assert_eq!(r.status, 200, "EdDSA registration: {:?}", r.body);
    (user, token_of(&r.body))
}

async fn export(h: &Harness, user: &DemoUser, token: &str, elevated: &str) -> Reply {
    let path = format!("waas/{}/privateKey/export", user.wallet_id.clone().unwrap());
    let hdr = [("x-dyn-elevated-access-token", elevated)];
    h.send(
        reqwest::Method::POST,
        &path,
        Some(token),
        &hdr,
        Some(json!({ "exportId": "ed" })),
    )
    .await
}

fn refused(r: &Reply, code: &str, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, code),
        "{what}: {:?}",
        r.body
    );
    assert!(r.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(r.body.get("elevatedAccessToken").is_none());
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn creation_options_offer_es256_eddsa_and_rs256_for_windows_hello() {
    let h = start().await;
    let (_user, token, elevated) = linked(&h, "algs@example.com").await;
    for rel in ["users/mfa/register/passkey", "users/passkeys/register"] {
        // The account passkey's options take no token (the SDK sends none there).
        let r = if rel.contains("mfa") {
            get_elevated(&h, rel, &token, &elevated).await
        } else {
            h.get(rel, Some(&token)).await
        };
        assert_eq!(r.status, 200, "{rel}: {:?}", r.body);
        let options = if rel.contains("mfa") {
            &r.body["registration"]
        } else {
            &r.body
        };
        let algs = algs(options);
        assert_eq!(algs.first(), Some(&-7), "{rel}: ES256 preferred: {algs:?}");
        assert!(algs.contains(&-8), "{rel}: EdDSA offered: {algs:?}");
        assert!(
            algs.contains(&-257),
            "{rel}: RS256 offered (Windows Hello): {algs:?}"
        );
    }
    // Without the credential:link token, no options.
    let r = h.get("users/mfa/register/passkey", Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "step_up_required"));
}

#[tokio::test]
async fn an_eddsa_passkey_registers_steps_up_for_wallet_export_and_the_export_succeeds() {
    let h = start().await;
    let mut a = EdAuthenticator::new(7);
    let (user, token) = with_eddsa_passkey(&h, "ed@example.com", &a).await;

    // It is an MFA device, offered by stepUp/check and listed by users/mfa.
    let r = h
        .post(
            "stepUp/check",
            Some(&token),
            json!({ "scope": "wallet:export" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body.to_string().contains("\"passkey\""),
        "the passkey is offered: {:?}",
        r.body
    );
    let r = h.get("users/passkeys/authenticate", Some(&token)).await;
    let allowed: Vec<&str> = r.body["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(allowed, [a.cred_id().as_str()]);
    let c = r.body["challenge"].as_str().unwrap().to_owned();

    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    assert_eq!(r.status, 200, "EdDSA step-up: {:?}", r.body);
    let new_token = token_of(&r.body);
    assert_ne!(new_token, token, "the session rotates");
    let elevated = elevated_of(&r.body);
    assert_eq!(claims(&elevated).scope, "wallet:export");

    let r = export(&h, &user, &new_token, &elevated).await;
    assert_eq!(r.status, 200, "export with the EdDSA token: {:?}", r.body);
    assert!(r.body["privateKey"].as_str().unwrap().starts_with("0x"));

    // Again, with a higher counter: accepted.
    let c = challenge(&h, &new_token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&new_token),
            a.assert(&c, UP | UV, &[]),
        )
        .await;
    assert_eq!(r.status, 200, "second step-up: {:?}", r.body);
}

#[tokio::test]
async fn a_replayed_eddsa_assertion_or_one_with_the_same_counter_is_refused() {
    let h = start().await;
    let mut a = EdAuthenticator::new(8);
    let (_user, token) = with_eddsa_passkey(&h, "replay@example.com", &a).await;
    let c = challenge(&h, &token).await;
    let accepted = a.assert(&c, UP | UV, &["wallet:export"]);
    let r = h
        .post("users/mfa/auth/passkey", Some(&token), accepted.clone())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = token_of(&r.body);

    // The same assertion again: its challenge is spent.
    let r = h
        .post("users/mfa/auth/passkey", Some(&token), accepted)
        .await;
    refused(&r, "mfa_invalid_code", "replayed assertion");

    // A fresh challenge, but the counter did not move (a cloned authenticator).
    let c = challenge(&h, &token).await;
    a.counter -= 1;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "same counter");
    assert!(r.body["error"].as_str().unwrap().contains("counter"));

    // A counter behind the stored one is refused too.
    let c = challenge(&h, &token).await;
    a.counter = 0;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &[]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "counter regression");
}

#[tokio::test]
async fn an_eddsa_assertion_without_user_verification_is_refused() {
    let h = start().await;
    let mut a = EdAuthenticator::new(9);
    let (_user, token) = with_eddsa_passkey(&h, "nouv-ed@example.com", &a).await;
    let c = challenge(&h, &token).await;
    // Validly signed, only user presence.
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "no UV");
    assert!(r.body["error"].as_str().unwrap().contains("verif"));
    // And no user presence either.
    let c = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UV, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "no UP");
}

#[tokio::test]
async fn an_eddsa_signature_over_another_challenge_is_refused() {
    let h = start().await;
    let mut a = EdAuthenticator::new(10);
    let (_user, token) = with_eddsa_passkey(&h, "challenge-ed@example.com", &a).await;
    let live = challenge(&h, &token).await;

    // Signed over clientDataJSON for another challenge, sent with the live one's.
    a.counter += 1;
    let auth_data = a.auth_data(UP | UV, false);
    let other = B64.encode([0x42u8; 32]);
    let sig = a.sign(&auth_data, &a.client_data("webauthn.get", &other));
    let sent = a.client_data("webauthn.get", &live);
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.body(&sent, &auth_data, &sig, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "signature over another challenge");
    assert!(r.body["error"].as_str().unwrap().contains("signature"));

    // A consistent assertion for a challenge the sandbox never issued.
    let _live = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&other, UP | UV, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "unknown challenge");
}

#[tokio::test]
async fn an_eddsa_assertion_with_another_origin_or_rp_is_refused() {
    let h = start().await;
    let mut a = EdAuthenticator::new(11);
    let (_user, token) = with_eddsa_passkey(&h, "origin-ed@example.com", &a).await;

    // clientDataJSON tampered after signing: the origin changed, the signature breaks.
    let c = challenge(&h, &token).await;
    let body = a.assert(&c, UP | UV, &["wallet:export"]);
    let mut cd: Value = serde_json::from_slice(
        &B64.decode(body["response"]["clientDataJSON"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    cd["origin"] = "https://evil.example".into();
    let mut tampered = body.clone();
    tampered["response"]["clientDataJSON"] = B64.encode(cd.to_string()).into();
    let r = h
        .post("users/mfa/auth/passkey", Some(&token), tampered)
        .await;
    refused(&r, "mfa_invalid_code", "tampered origin");
    let e = r.body["error"].as_str().unwrap();
    assert!(e.contains("origin") || e.contains("signature"), "{e}");

    // Signed by the authenticator, but for another origin (a phishing page).
    let c = challenge(&h, &token).await;
    a.origin = "https://app.stepup.example.evil.example".into();
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "another origin");
    assert!(r.body["error"].as_str().unwrap().contains("origin"));

    // The right origin but another relying party's rpIdHash.
    a.origin = DEFAULT_APP_ORIGIN.into();
    a.rp_id = "evil.example".into();
    let c = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "another rp id");
    assert!(r.body["error"].as_str().unwrap().contains("relying party"));

    // After all that, the real authenticator still works (the counter never regressed).
    a.rp_id = DEFAULT_PASSKEY_RP_ID.into();
    let c = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn an_unknown_eddsa_credential_is_passkey_not_found() {
    let h = start().await;
    let a = EdAuthenticator::new(12);
    let (_user, token) = with_eddsa_passkey(&h, "unknown-ed@example.com", &a).await;
    let mut stranger = EdAuthenticator::new(13);
    let c = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            stranger.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    refused(&r, "passkey_not_found", "unknown credential");
}

#[tokio::test]
async fn eddsa_registrations_are_checked_like_any_other() {
    let h = start().await;
    let (_user, token, elevated) = linked(&h, "reg-ed@example.com").await;
    let a = EdAuthenticator::new(14);

    // Without user verification.
    let r = register_mfa(&h, &token, &elevated, &a, UP | AT, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_request"));
    // For another origin.
    let mut phished = EdAuthenticator::new(14);
    phished.origin = "https://evil.example".into();
    let r = register_mfa(&h, &token, &elevated, &phished, UP | UV | AT, false).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_request"));
    // Packed self-attestation signed by another key.
    let mut forged = EdAuthenticator::new(14);
    forged.key = SigningKey::from_bytes(&[99; 32]);
    let r = get_elevated(&h, "users/mfa/register/passkey", &token, &elevated).await;
    let options = &r.body["registration"];
    let c = options["challenge"].as_str().unwrap();
    let client_data = a.client_data("webauthn.create", c);
    let auth_data = a.auth_data(UP | UV | AT, true);
    let sig = forged.sign(&auth_data, &client_data);
    let object = map(&[
        (text("fmt"), text("packed")),
        (
            text("attStmt"),
            map(&[(text("alg"), int(-8)), (text("sig"), bytes(&sig))]),
        ),
        (text("authData"), bytes(&auth_data)),
    ]);
    let r = h
        .post(
            "users/mfa/register/passkey",
            Some(&token),
            json!({
                "id": r.body["id"],
                "attestation": {
                    "id": a.cred_id(), "rawId": a.cred_id(), "type": "public-key",
                    "response": {
                        "clientDataJSON": B64.encode(client_data),
                        "attestationObject": B64.encode(object),
                    },
                    "clientExtensionResults": {},
                },
            }),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_request"));

    // Packed self-attestation by the credential key itself: accepted, once.
    let r = register_mfa(&h, &token, &elevated, &a, UP | UV | AT, true).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = register_mfa(&h, &token, &elevated, &a, UP | UV | AT, false).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "mfa_invalid_request"),
        "already registered"
    );

    // The account-passkey endpoint takes EdDSA too.
    let b = EdAuthenticator::new(15);
    let r = register_account(&h, &token, Some(&elevated), &b, UP | UV | AT).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = h.get("users/passkeys/authenticate", Some(&token)).await;
    assert_eq!(r.body["allowCredentials"].as_array().unwrap().len(), 2);
}

/// The account passkey's `credential:link` token is on the `POST`, where the SDK's
/// `serverRegisterPasskey` sends it: without it, with another scope's, with another user's,
/// or with a spent single-use one, nothing is stored; a refused attestation spends nothing.
#[tokio::test]
async fn an_account_passkey_needs_credential_link_on_its_post() {
    let h = start_with(|c| {
        c.token_policies.insert(
            "credential:link".into(),
            stepup_sandbox::TokenPolicy {
                single_use: true,
                ttl_secs: 600,
                required: true,
            },
        );
    })
    .await;
    let (user, token, elevated) = linked(&h, "acct-link@example.com").await;
    assert_eq!(claims(&elevated).single_use, Some(true));
    let a = EdAuthenticator::new(21);

    let r = register_account(&h, &token, None, &a, UP | UV | AT).await;
    step_up_required(&r, "no token");
    assert!(r.headers.get("www-authenticate").is_some());

    let r = h
        .totp_step_up(&token, &h.totp(&user, 30), &["credential:unlink"])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (token, unlink) = (token_of(&r.body), elevated_of(&r.body));
    let r = register_account(&h, &token, Some(&unlink), &a, UP | UV | AT).await;
    step_up_required(&r, "a credential:unlink token");

    let (_other, _other_session, foreign) = linked(&h, "acct-other@example.com").await;
    let r = register_account(&h, &token, Some(&foreign), &a, UP | UV | AT).await;
    step_up_required(&r, "another user's token");
    assert_eq!(passkey_count(&h, &token).await, 0, "nothing was stored");

    // A refused attestation (no user verification) is refused before the token is looked at.
    let r = register_account(&h, &token, Some(&elevated), &a, UP | AT).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_request"));
    let r = register_account(&h, &token, Some(&elevated), &a, UP | UV | AT).await;
    assert_eq!(r.status, 200, "the token was not spent: {:?}", r.body);
    assert!(r.body.get("elevatedAccessToken").is_none());
    assert_eq!(passkey_count(&h, &token).await, 1);

    // Single use: the same token does not register a second passkey.
    let b = EdAuthenticator::new(22);
    let r = register_account(&h, &token, Some(&elevated), &b, UP | UV | AT).await;
    step_up_required(&r, "a spent single-use token");
    assert!(r.body["error"].as_str().unwrap().contains("already used"));
    assert_eq!(passkey_count(&h, &token).await, 1);
}

/// `DELETE users/passkeys {passkeyId}` needs a `credential:unlink` token: none, or another
/// scope's, is 403; another user's passkey is 422 `passkey_not_found`; then 204 and gone.
#[tokio::test]
async fn a_passkey_is_deleted_only_by_its_owner_with_credential_unlink() {
    let h = start().await;
    let (user, token, link) = linked(&h, "del-ed@example.com").await;
    let a = EdAuthenticator::new(31);
    let r = register_account(&h, &token, Some(&link), &a, UP | UV | AT).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = h.get("users/passkeys", Some(&token)).await;
    assert_eq!(r.body["count"], 1, "{:?}", r.body);
    let id = r.body["passkeys"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["passkeys"][0]["credentialId"], a.cred_id());
    let delete = |session: String, elevated: Option<String>, passkey: String| {
        let h = &h;
        async move {
            let hdr: Vec<(&str, &str)> = elevated
                .as_deref()
                .map(|e| ("x-dyn-elevated-access-token", e))
                .into_iter()
                .collect();
            h.send(
                reqwest::Method::DELETE,
                "users/passkeys",
                Some(&session),
                &hdr,
                Some(json!({ "passkeyId": passkey })),
            )
            .await
        }
    };
    let r = delete(token.clone(), None, id.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "step_up_required"));
    assert_eq!(r.body["payload"]["scope"], "credential:unlink");
    let r = delete(token.clone(), Some(link.clone()), id.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "step_up_required"),
        "credential:link"
    );

    let (other, other_session) = h.user(mfa_user("del-other@example.com")).await;
    let step = h
        .totp_step_up(&other_session, &h.totp(&other, 0), &["credential:unlink"])
        .await;
    let (other_session, other_unlink) = (token_of(&step.body), elevated_of(&step.body));
    let r = delete(other_session, Some(other_unlink), id.clone()).await;
    refused(&r, "passkey_not_found", "another user's passkey");
    // An unknown id, and a hostile one, are as unknown.
    let r = delete(token.clone(), None, "x".repeat(500)).await;
    assert_eq!(r.status.as_u16(), 422, "{:?}", r.body);

    let step = h
        .totp_step_up(&token, &h.totp(&user, 30), &["credential:unlink"])
        .await;
    let (token, unlink) = (token_of(&step.body), elevated_of(&step.body));
    let r = delete(token.clone(), Some(unlink.clone()), id.clone()).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(passkey_count(&h, &token).await, 0);
    assert_eq!(h.get("users/passkeys", Some(&token)).await.body["count"], 0);
    let r = delete(token, Some(unlink), id).await;
    refused(&r, "passkey_not_found", "already deleted");
}

fn temp_state_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "stepup-sandbox-eddsa-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.json")
}

#[tokio::test]
async fn an_eddsa_passkey_and_its_counter_survive_a_restart() {
    let path = temp_state_path("restart");
    let p = path.clone();
    let h = start_with(move |c| c.state_path = Some(p)).await;
    let mut a = EdAuthenticator::new(16);
    let (_user, token) = with_eddsa_passkey(&h, "restart-ed@example.com", &a).await;
    a.counter = 41;
    let c = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &[]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = token_of(&r.body);
    // The snapshot and the journal of changes since it.
    let mut saved = std::fs::read(&path).unwrap();
    saved.extend(std::fs::read(path.with_file_name("state.json.journal")).unwrap());
    assert!(
        String::from_utf8_lossy(&saved).contains("\"ed25519\""),
        "stored as an EdDSA key"
    );
    h.sb.shutdown().await;

    let p = path.clone();
    let h = start_with(move |c| c.state_path = Some(p)).await;
    // Counter 42 was saved: 42 again is refused, 43 accepted.
    let c = challenge(&h, &token).await;
    a.counter = 41;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &[]),
        )
        .await;
    refused(&r, "mfa_invalid_code", "counter after restart");
    let c = challenge(&h, &token).await;
    let r = h
        .post(
            "users/mfa/auth/passkey",
            Some(&token),
            a.assert(&c, UP | UV, &["wallet:export"]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    h.sb.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
