//! Wallet step-up (SIWE, EIP-191) against the real sandbox on 127.0.0.1, with real secp256k1
//! signatures: the client's path end to end, and the sandbox's refusals, some of them sent raw
//! (the client refuses those itself before sending).

mod common;

use common::{stored, world, World};
use serde_json::{json, Value};
use stepup_client::verify::{sign_in_statement, SignInMessage, SIWE_APP_NAME};
use stepup_client::{
    Clock, CredentialFormat, LocalKeySigner, Secret, StepUpError, TokenScope, TokenVault,
    WalletAccount,
};
use stepup_sandbox::UserSpec;

const EXPORT: [TokenScope; 1] = [TokenScope::WalletExport];

fn wallet_user(email: &str) -> UserSpec {
    UserSpec {
        email: email.into(),
        wallet: true,
        external_wallet: true,
        ..Default::default()
    }
}

fn signer(w: &World) -> LocalKeySigner {
    let key = w
        .user
        .external_wallet_private_key
        .clone()
        .expect("the user has an external wallet");
    LocalKeySigner::from_hex(&key).expect("a secp256k1 key")
}

fn account(w: &World) -> WalletAccount {
    WalletAccount::browser_extension(
        w.user.external_wallet_address.clone().expect("address"),
        "MetaMask",
    )
}

fn random_key() -> LocalKeySigner {
    let bytes: [u8; 32] = rand::random();
    LocalKeySigner::from_hex(&Secret::new(hex::encode(bytes))).expect("key")
}

/// The session bearer the client holds now (the sandbox rotates it on every step-up).
fn bearer(w: &World) -> String {
    w.vault
        .load()
        .expect("vault")
        .session
        .expect("signed in")
        .token
        .expose()
        .to_owned()
}

fn sdk_url(w: &World, path: &str) -> String {
    format!(
        "{}/sdk/{}/{path}",
        w.sandbox.base_url(),
        w.sandbox.environment_id()
    )
}

/// A nonce straight from the sandbox (`GET nonces?count=1`).
async fn raw_nonce(w: &World) -> String {
    let v: Value = reqwest::get(sdk_url(w, "nonces?count=1"))
        .await
        .expect("nonces")
        .json()
        .await
        .expect("json");
    v["nonces"][0].as_str().expect("a nonce").to_owned()
}

/// A message laid out as the SDK lays it out, for this sandbox's app and environment unless
/// told otherwise.
fn message(address: &str, nonce: &str, issued_at: &str, request_id: &str) -> String {
    let statement = sign_in_statement(SIWE_APP_NAME);
    SignInMessage {
        domain: "app.stepup.example",
        blockchain_name: "Ethereum",
        address,
        uri: "https://app.stepup.example/",
        chain_id: Some("1"),
        nonce,
        issued_at: Some(issued_at),
        request_id: Some(request_id),
        statement: Some(&statement),
    }
    .format()
}

fn now_iso(w: &World) -> String {
    stepup_client::verify::iso_8601_ms(w.clock.now_millis())
}

/// `POST wallets/verify` sent raw, as any client could; returns (status, body).
async fn raw_verify(w: &World, address: &str, msg: &str, signature: &str) -> (u16, Value) {
    let body = json!({
        "signedMessage": signature,
        "messageToSign": msg,
        "publicWalletAddress": address,
        "chain": "EVM",
        "walletName": "metamaskevm",
        "walletProvider": "browserExtension",
        "network": "1",
        "requestedScopes": ["wallet:export"],
    });
    let resp = reqwest::Client::new()
        .post(sdk_url(w, "wallets/verify"))
        .bearer_auth(bearer(w))
        .header("x-dyn-session-public-key", stored(&w.vault).1)
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Whether `err` is the sandbox's 422 `code` whose message says `words`.
fn is_refusal(err: &StepUpError, code: &str, words: &str) -> bool {
    matches!(err, StepUpError::Api { status: 422, code: c, message } if c == code && message.contains(words))
}

#[tokio::test]
async fn wallet_step_up_for_export_succeeds_and_the_export_then_works() {
    let w = world(wallet_user("wallet-ok@example.com")).await;
    let check = w.client.check_step_up(TokenScope::WalletExport).await;
    assert!(check.is_required);
    let offered = check
        .credentials
        .iter()
        .find(|c| c.format == CredentialFormat::Blockchain)
        .expect("the external wallet is offered for re-auth");
    let wallets = w.client.external_wallets();
    assert_eq!(
        wallets.len(),
        1,
        "the embedded wallet is not an external one"
    );
    assert_eq!(offered.id, wallets[0].id);

    let outcome = w
        .client
        .verify_wallet(&account(&w), &EXPORT, &signer(&w))
        .await
        .expect("the wallet step-up is accepted");
    let token = outcome.token.expect("an elevated token is stored");
    assert_eq!(token.scopes, vec![TokenScope::WalletExport]);
    assert!(w
        .client
        .has_elevated_access_token(&TokenScope::WalletExport));
    assert_eq!(w.vault.load().expect("vault").tokens.len(), 1);

    let wallet_id = w.user.wallet_id.clone().expect("embedded wallet");
    let exported = w
        .client
        .export_wallet_private_key(&wallet_id)
        .await
        .expect("the export works with the wallet's token");
    // The embedded wallet's address is derived from its key with Keccak, as a real one.
    let embedded = LocalKeySigner::from_hex(&exported.private_key).expect("secp256k1 key");
    assert_eq!(embedded.address(), exported.address);
    assert!(
        !w.client
            .has_elevated_access_token(&TokenScope::WalletExport),
        "single-use: spent by the export"
    );
}

#[tokio::test]
async fn another_addresss_signature_is_refused_by_the_client_and_by_the_sandbox() {
    let w = world(wallet_user("wallet-other-sig@example.com")).await;
    let other = random_key();
    let challenge = w
        .client
        .wallet_challenge(&account(&w))
        .await
        .expect("challenge");
    let err = w
        .client
        .verify_wallet_signature(&challenge, &other.sign(&challenge.message), &EXPORT)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StepUpError::WalletSignatureMismatch {
            signer: other.address(),
            expected: challenge.address.clone()
        }
    );

    // Sent anyway, the sandbox recovers the signer and refuses it.
    let msg = message(
        &challenge.address,
        &raw_nonce(&w).await,
        &now_iso(&w),
        w.sandbox.environment_id(),
    );
    let (status, body) = raw_verify(&w, &challenge.address, &msg, &other.sign(&msg)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_verification");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("another address"),
        "{body}"
    );
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let w = world(wallet_user("wallet-nonce@example.com")).await;
    let signer = signer(&w);
    let challenge = w
        .client
        .wallet_challenge(&account(&w))
        .await
        .expect("challenge");
    w.client
        .verify_wallet_signature(&challenge, &signer.sign(&challenge.message), &EXPORT)
        .await
        .expect("first use of the nonce");
    // A new message (a second later) with the same nonce.
    w.clock.advance_secs(1);
    let mut again = challenge.clone();
    let nonce = challenge
        .message
        .lines()
        .find_map(|l| l.strip_prefix("Nonce: "))
        .expect("nonce line");
    again.message = message(
        &challenge.address,
        nonce,
        &now_iso(&w),
        w.sandbox.environment_id(),
    );
    assert_ne!(again.message, challenge.message);
    let err = w
        .client
        .verify_wallet_signature(&again, &signer.sign(&again.message), &EXPORT)
        .await
        .unwrap_err();
    assert!(
        is_refusal(&err, "invalid_verification", "already used"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_replayed_message_is_refused() {
    let w = world(wallet_user("wallet-replay@example.com")).await;
    let signer = signer(&w);
    let challenge = w
        .client
        .wallet_challenge(&account(&w))
        .await
        .expect("challenge");
    let signature = signer.sign(&challenge.message);
    w.client
        .verify_wallet_signature(&challenge, &signature, &EXPORT)
        .await
        .expect("accepted once");
    let err = w
        .client
        .verify_wallet_signature(&challenge, &signature, &EXPORT)
        .await
        .unwrap_err();
    assert!(
        is_refusal(&err, "invalid_verification", "already accepted"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_expired_issued_at_is_refused() {
    let w = world(wallet_user("wallet-expired@example.com")).await;
    let challenge = w
        .client
        .wallet_challenge(&account(&w))
        .await
        .expect("challenge");
    w.clock.advance_secs(10 * 60 + 1);
    let err = w
        .client
        .verify_wallet_signature(&challenge, &signer(&w).sign(&challenge.message), &EXPORT)
        .await
        .unwrap_err();
    assert!(
        is_refusal(&err, "invalid_verification", "10 minutes"),
        "{err:?}"
    );
    // Within the window it would have passed: a fresh challenge now is accepted.
    let fresh = w
        .client
        .wallet_challenge(&account(&w))
        .await
        .expect("challenge");
    w.client
        .verify_wallet_signature(&fresh, &signer(&w).sign(&fresh.message), &EXPORT)
        .await
        .expect("a fresh message is accepted");
}

#[tokio::test]
async fn another_environments_request_id_is_refused() {
    let w = world(wallet_user("wallet-env@example.com")).await;
    let mut challenge = w
        .client
        .wallet_challenge(&account(&w))
        .await
        .expect("challenge");
    let env = w.sandbox.environment_id().to_owned();
    challenge.message = challenge.message.replace(
        &format!("Request ID: {env}"),
        "Request ID: 2762a57b-faa4-41ce-9f16-abff9300e2c9",
    );
    assert!(!challenge.message.contains(&env));
    let err = w
        .client
        .verify_wallet_signature(&challenge, &signer(&w).sign(&challenge.message), &EXPORT)
        .await
        .unwrap_err();
    assert!(
        is_refusal(&err, "invalid_verification", "request id"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_embedded_wallet_is_refused_by_the_client_and_by_the_sandbox() {
    let w = world(wallet_user("wallet-embedded@example.com")).await;
    let embedded = w.user.wallet_address.clone().expect("embedded wallet");
    let as_account = WalletAccount::browser_extension(embedded.clone(), "Dynamic");
    assert_eq!(
        w.client
            .verify_wallet(&as_account, &EXPORT, &signer(&w))
            .await,
        Err(StepUpError::EmbeddedWallet)
    );
    // Raw, with the embedded wallet's own key (exported after an email step-up would be
    // needed; the sandbox refuses before looking at the signature anyway).
    let msg = message(
        &embedded,
        &raw_nonce(&w).await,
        &now_iso(&w),
        w.sandbox.environment_id(),
    );
    let (status, body) = raw_verify(&w, &embedded, &msg, &random_key().sign(&msg)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        "Embedded wallets cannot be used for step-up authentication"
    );
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn a_wallet_that_is_not_the_users_is_refused_by_the_client_and_by_the_sandbox() {
    let w = world(wallet_user("wallet-mine@example.com")).await;
    let someone = w
        .sandbox
        .create_user(wallet_user("wallet-theirs@example.com"))
        .expect("second user");
    let their_key = LocalKeySigner::from_hex(
        &someone
            .external_wallet_private_key
            .expect("their wallet key"),
    )
    .expect("key");
    let theirs = WalletAccount::browser_extension(their_key.address(), "MetaMask");
    assert_eq!(
        w.client.verify_wallet(&theirs, &EXPORT, &their_key).await,
        Err(StepUpError::WalletNotLinked)
    );
    // Raw, correctly signed by the other user's wallet: not this user's credential.
    let address = their_key.address();
    let msg = message(
        &address,
        &raw_nonce(&w).await,
        &now_iso(&w),
        w.sandbox.environment_id(),
    );
    let (status, body) = raw_verify(&w, &address, &msg, &their_key.sign(&msg)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_wallet_address");
    assert!(w.client.elevated_tokens().is_empty());
}
