//! Signed links and number matching, through the desk as the app uses it: a requester is shown
//! as verified only when its registered key signed exactly this request, recently, once; a bad
//! signature, an expired one, one by another requester's key, a changed field and a replay are
//! refused with the reason. A link's number must be picked before anything is verified.

use p256::ecdsa::SigningKey;
use serde_json::json;
use stepup_protocol::jwt::sign_es256;
use stepup_requests::signed::RequesterKeys;
use stepup_requests::views::LinkEvent;
use stepup_requests::{AppError, Delivery, Outcome, RequestDesk, ReturnToAllowList};

const NOW_MS: i64 = 1_800_000_000_000;
const NOW: i64 = NOW_MS / 1000;

fn key(byte: u8) -> SigningKey {
    SigningKey::from_slice(&[byte; 32]).expect("key")
}

fn desk() -> RequestDesk {
    let mut keys = RequesterKeys::none();
    keys.insert("acme-1", "Acme Wallet", *key(1).verifying_key());
    keys.insert("other-1", "Other App", *key(2).verifying_key());
    let mut desk = RequestDesk::default();
    desk.set_requester_keys(keys);
    desk.ui_ready();
    desk
}

fn claims(nonce: &str) -> serde_json::Value {
    json!({
        "requester": "Acme Wallet", "scope": "wallet:export", "return_to": null, "match": "42",
        "nonce": nonce, "iat": NOW - 10, "exp": NOW + 110,
    })
}

fn link(sig: &str) -> String {
    format!("com.stepup.desktop://step-up?scope=wallet:export&requester=Acme%20Wallet&match=42&sig={sig}")
}

fn receive(desk: &mut RequestDesk, link: &str) -> LinkEvent {
    match desk.receive_link(link, &ReturnToAllowList::default(), NOW_MS) {
        Delivery::Now(event) => Some(event),
        Delivery::Queued => None,
    }
    .expect("the UI is ready")
}

fn refusal(desk: &mut RequestDesk, link: &str) -> String {
    match receive(desk, link) {
        LinkEvent::Invalid { reason } => Some(reason),
        LinkEvent::Request { .. } => None,
    }
    .expect("the link is refused")
}

#[test]
fn a_link_signed_by_the_requesters_key_is_verified_and_an_unsigned_one_is_a_claim() {
    let mut desk = desk();
    let sig = sign_es256(&key(1), Some("acme-1"), &claims("nonce-0000000000001")).expect("sign");
    let LinkEvent::Request { request } = receive(&mut desk, &link(&sig)) else {
        panic!("refused")
    };
    assert!(request.verified);
    let LinkEvent::Request { request } = receive(
        &mut desk,
        "com.stepup.desktop://step-up?scope=wallet:export&requester=Acme%20Wallet",
    ) else {
        panic!("refused")
    };
    assert!(!request.verified, "unsigned: never verified");
    assert_eq!(request.match_choices, None, "no number: unmatched");
}

#[test]
fn every_broken_signature_is_refused_with_its_reason() {
    let mut desk = desk();
    let nonce = |n: u32| format!("nonce-{n:014}");
    // Signed by another requester's registered key, naming it as its kid.
    let other = sign_es256(&key(2), Some("other-1"), &claims(&nonce(1))).expect("sign");
    assert!(refusal(&mut desk, &link(&other)).contains("key of another requester"));
    // Signed by another key, claiming Acme's kid.
    let forged = sign_es256(&key(3), Some("acme-1"), &claims(&nonce(2))).expect("sign");
    assert!(refusal(&mut desk, &link(&forged)).contains("does not verify"));
    // A key nobody registered.
    let unknown = sign_es256(&key(1), Some("acme-9"), &claims(&nonce(3))).expect("sign");
    assert!(refusal(&mut desk, &link(&unknown)).contains("key this app does not know"));
    // Expired.
    let mut old = claims(&nonce(4));
    old["iat"] = json!(NOW - 200);
    old["exp"] = json!(NOW - 1);
    let expired = sign_es256(&key(1), Some("acme-1"), &old).expect("sign");
    assert!(refusal(&mut desk, &link(&expired)).contains("expired"));
    // Valid too long.
    let mut long = claims(&nonce(5));
    long["exp"] = json!(NOW + 3600);
    let long = sign_es256(&key(1), Some("acme-1"), &long).expect("sign");
    assert!(refusal(&mut desk, &link(&long)).contains("validity period"));
    // Signed for another scope than the link asks.
    let mut link_scope = claims(&nonce(6));
    link_scope["scope"] = json!("credential:link");
    let moved = sign_es256(&key(1), Some("acme-1"), &link_scope).expect("sign");
    assert!(refusal(&mut desk, &link(&moved)).contains("differs"));
    // A tampered payload.
    let good = sign_es256(&key(1), Some("acme-1"), &claims(&nonce(7))).expect("sign");
    let mut parts: Vec<&str> = good.split('.').collect();
    let swapped = sign_es256(&key(1), Some("acme-1"), &claims(&nonce(8))).expect("sign");
    parts[1] = swapped.split('.').nth(1).expect("payload");
    assert!(refusal(&mut desk, &link(&parts.join("."))).contains("does not verify"));
    // Replayed: the same signed link twice.
    assert!(matches!(
        receive(&mut desk, &link(&good)),
        LinkEvent::Request { .. }
    ));
    assert!(refusal(&mut desk, &link(&good)).contains("already used"));
    // Not a JWS at all.
    assert!(refusal(&mut desk, &link("abc")).contains("not well formed"));
}

#[test]
fn number_matching_needs_the_pages_number_before_anything_and_a_wrong_pick_ends_it() {
    let mut desk = desk();
    let open = |desk: &mut RequestDesk| match receive(
        desk,
        "com.stepup.desktop://step-up?scope=credential:link&requester=Acme%20Wallet&match=42",
    ) {
        LinkEvent::Request { request } => request,
        other => panic!("{other:?}"),
    };
    let first = open(&mut desk);
    let choices = first.match_choices.expect("three numbers");
    assert!(choices.contains(&42));
    assert!(choices[0] != choices[1] && choices[1] != choices[2] && choices[0] != choices[2]);
    desk.show(first.id, NOW_MS).expect("shown");
    assert_eq!(
        desk.pick_number(first.id, 42, NOW_MS + 100).err(),
        Some(AppError::TooSoon),
        "a pick right after the dialog appeared counts for nothing"
    );
    assert_eq!(
        desk.require_read(first.id, NOW_MS + 1000).err(),
        Some(AppError::NumberNotMatched),
        "nothing is verified before the number"
    );
    let wrong = choices.iter().copied().find(|n| *n != 42).expect("a decoy");
    assert_eq!(desk.pick_number(first.id, wrong, NOW_MS + 1000), Ok(false));
    assert!(
        desk.get(first.id).is_err(),
        "a wrong number ends the request"
    );
    assert_eq!(desk.history()[0].outcome, Outcome::NumberMismatch);

    let second = open(&mut desk);
    desk.show(second.id, NOW_MS + 2000).expect("shown");
    assert_eq!(desk.pick_number(second.id, 42, NOW_MS + 3000), Ok(true));
    assert_eq!(desk.require_read(second.id, NOW_MS + 3000), Ok(()));
    // A request without a number needs no pick, and takes none.
    let LinkEvent::Request { request: plain } = receive(
        &mut desk,
        "com.stepup.desktop://step-up?scope=credential:link&requester=Acme%20Wallet",
    ) else {
        panic!("refused")
    };
    assert_eq!(
        desk.pick_number(plain.id, 42, NOW_MS + 3000).err(),
        Some(AppError::NotShown)
    );
}

#[test]
fn a_match_must_be_two_digits() {
    let mut desk = desk();
    for bad in ["4", "042", "4a", "-1", ""] {
        let reason = refusal(
            &mut desk,
            &format!("com.stepup.desktop://step-up?scope=wallet:export&requester=Acme&match={bad}"),
        );
        assert!(reason.contains("two digits"), "{bad:?}: {reason}");
    }
}

#[test]
fn the_settings_file_is_read_with_bounds() {
    use p256::pkcs8::EncodePublicKey as _;
    let pem = key(1)
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .expect("pem");
    let file =
        json!([{"kid": "acme-1", "requester": "Acme Wallet", "publicKeyPem": pem}]).to_string();
    assert_eq!(RequesterKeys::from_json(&file).expect("read").len(), 1);
    for bad in [
        json!([{"kid": "acme 1", "requester": "Acme", "publicKeyPem": pem}]).to_string(),
        json!([{"kid": "acme-1", "requester": "Acme\u{202e}", "publicKeyPem": pem}]).to_string(),
        json!([{"kid": "acme-1", "requester": "Acme", "publicKeyPem": "not a key"}]).to_string(),
        json!([{"kid": "a", "requester": "A", "publicKeyPem": pem, "extra": 1}]).to_string(),
        serde_json::to_string(&vec![
            json!({"kid": "k", "requester": "R", "publicKeyPem": pem});
            65
        ])
        .expect("json"),
        "{".into(),
    ] {
        assert!(RequesterKeys::from_json(&bad).is_err(), "{bad:.80}");
    }
}
