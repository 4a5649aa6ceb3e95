//! The dialog's wallet step against a real sandbox over loopback HTTP, with real secp256k1
//! signatures: the message is shown first and kept with the request; a pasted signature of it
//! by the chosen wallet approves; one by another address is refused with the signer named,
//! and the same message may then be signed again; the browser wallet's page is served on a
//! one-time loopback receiver, answers once, and its signature approves; Cancel and every
//! ending of the request close the page; only the shown request, once read, can be signed.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepup_client::{LocalKeySigner, Secret, StepUpClient, StepUpError};
use stepup_requests::desk::MIN_SHOWN_MS;
use stepup_requests::flow::{self, Proof};
use stepup_requests::views::LinkEvent;
use stepup_requests::{AppError, Delivery, Method, Outcome, ReturnToAllowList, SharedDesk};
use stepup_sandbox::{DemoUser, RunningSandbox, UserSpec};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod common;

const LINK: &str = "com.stepup.desktop://step-up?scope=credential:link&requester=Acme";

struct World {
    _sandbox: RunningSandbox,
    client: StepUpClient,
    user: DemoUser,
    desk: SharedDesk,
    opened: Arc<Mutex<Vec<String>>>,
}

async fn world() -> World {
    let common::SignedIn {
        sandbox,
        client,
        user,
    } = common::signed_in(UserSpec {
        email: "wallet@stepup.example".into(),
        external_wallet: true,
        wallet: true,
        ..Default::default()
    })
    .await;
    let (desk, opened) = common::recording_desk();
    World {
        _sandbox: sandbox,
        client,
        user,
        desk,
        opened,
    }
}

impl World {
    /// A request opened by a link, begun (shown at 0 ms): its offered wallet credential.
    async fn begin(&self) -> (u64, String) {
        let id = {
            let mut desk = self.desk.lock();
            desk.ui_ready();
            match desk.receive_link(LINK, &ReturnToAllowList::default(), 0) {
                Delivery::Now(LinkEvent::Request { request }) => Some(request.id),
                _ => None,
            }
            .expect("a request")
        };
        let view = flow::begin(&self.desk, &self.client, id, None, 0)
            .await
            .expect("begin");
        let wallet = view
            .credentials
            .iter()
            .find(|c| c.method == Method::Wallet)
            .expect("the external wallet is offered");
        assert_eq!(wallet.unavailable, None);
        (id, wallet.id.clone())
    }

    fn key(&self) -> LocalKeySigner {
        LocalKeySigner::from_hex(
            self.user
                .external_wallet_private_key
                .as_ref()
                .expect("demo key"),
        )
        .expect("key")
    }

    fn paste(&self, credential_id: &str, signature: String) -> Proof {
        Proof::Wallet {
            credential_id: credential_id.to_owned(),
            signature: Secret::new(signature),
        }
    }
}

/// POSTs `body` to the wallet page's answer path as the page's own script does (same origin).
async fn post_answer(page_url: &str, body: &str) -> u16 {
    let url = url::Url::parse(page_url).expect("url");
    let host = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let request = format!(
        "POST {}answer HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        url.path(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn get_page(page_url: &str) -> String {
    let url = url::Url::parse(page_url).expect("url");
    let host = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let request = format!("GET {} HTTP/1.1\r\nHost: {host}\r\n\r\n", url.path());
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    reply
}

/// Waits for the page the flow opened.
async fn opened_url(w: &World, count: usize) -> String {
    for _ in 0..200 {
        if let Some(url) = w.opened.lock().expect("opened").get(count - 1) {
            return url.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.opened
        .lock()
        .expect("opened")
        .get(count - 1)
        .cloned()
        .expect("a page was opened")
}

#[tokio::test]
async fn a_pasted_signature_by_the_chosen_wallet_approves_and_another_address_is_named() {
    let w = world().await;
    let (id, credential) = w.begin().await;
    // No message shown yet: nothing to sign.
    let early = flow::verify(
        &w.desk,
        &w.client,
        id,
        w.paste(&credential, w.key().sign("anything")),
        None,
        MIN_SHOWN_MS,
    )
    .await;
    assert_eq!(early.err(), Some(AppError::NoWalletMessage));
    let shown = flow::wallet_message(&w.desk, &w.client, id, &credential)
        .await
        .expect("message");
    assert_eq!(shown.address, w.key().address());
    assert!(shown
        .message
        .starts_with("app.stepup.example wants you to sign in with your Ethereum account:\n"));
    // Signed by another key: refused before it is sent, naming the signer; the message stays.
    let mut other = [7u8; 32];
    other[0] = 1;
    let stranger = LocalKeySigner::from_hex(&Secret::new(hex_of(&other))).expect("key");
    let refused = flow::verify(
        &w.desk,
        &w.client,
        id,
        w.paste(&credential, stranger.sign(&shown.message)),
        None,
        MIN_SHOWN_MS,
    )
    .await
    .expect_err("another address");
    assert_eq!(refused.code(), "wallet_signature_mismatch");
    assert!(
        refused
            .to_string()
            .starts_with(&format!("signed by another address {}", stranger.address())),
        "{refused}"
    );
    // Not 65 bytes of hex: refused before it is sent.
    let short = flow::verify(
        &w.desk,
        &w.client,
        id,
        w.paste(&credential, "0x1234".into()),
        None,
        MIN_SHOWN_MS,
    )
    .await
    .expect_err("short");
    assert_eq!(short.code(), "invalid_input");
    // Too soon after it appeared: refused, whatever the signature.
    w.desk.lock().show(id, 0).expect("shown");
    let signature = w.key().sign(&shown.message);
    assert_eq!(
        flow::verify(
            &w.desk,
            &w.client,
            id,
            w.paste(&credential, signature.clone()),
            None,
            MIN_SHOWN_MS - 1
        )
        .await
        .err(),
        Some(AppError::TooSoon)
    );
    // The right wallet's signature of the very message shown: approved, token stored.
    let verified = flow::verify(
        &w.desk,
        &w.client,
        id,
        w.paste(&credential, signature),
        None,
        MIN_SHOWN_MS,
    )
    .await
    .expect("approved");
    assert!(verified
        .scopes
        .iter()
        .any(|s| s.as_str() == "credential:link"));
    assert!(w.desk.lock().get(id).is_err(), "the request ended");
    let history = w.desk.lock().history();
    assert_eq!(
        history.first().map(|h| (h.outcome, h.method)),
        Some((Outcome::Approved, Some(Method::Wallet)))
    );
}

#[tokio::test]
async fn the_browser_wallet_page_answers_once_and_its_signature_approves() {
    let w = Arc::new(world().await);
    let (id, credential) = w.begin().await;
    let shown = flow::wallet_message(&w.desk, &w.client, id, &credential)
        .await
        .expect("message");
    // Before the request could be read, no page is served.
    w.desk.lock().show(id, 0).expect("shown");
    let too_soon = flow::sign_in_browser(&w.desk, &w.client, id, &credential, None, &|| {
        MIN_SHOWN_MS - 1
    })
    .await;
    assert_eq!(too_soon.err(), Some(AppError::TooSoon));
    assert!(w.opened.lock().expect("opened").is_empty());

    let signing = {
        let w = w.clone();
        let credential = credential.clone();
        tokio::spawn(async move {
            flow::sign_in_browser(&w.desk, &w.client, id, &credential, None, &|| MIN_SHOWN_MS).await
        })
    };
    let url = opened_url(&w, 1).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // The page shows the message as text, under the receiver's CSP.
    let page = get_page(&url).await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Content-Security-Policy: default-src 'none'; script-src 'nonce-"));
    assert!(page.contains(&shown.address));
    // "Open the page again" opens the same page.
    flow::open_browser_again(&w.desk, id).expect("again");
    assert_eq!(opened_url(&w, 2).await, url);
    let body = format!(
        r#"{{"signature":"{}","address":"{}"}}"#,
        w.key().sign(&shown.message),
        shown.address
    );
    assert_eq!(post_answer(&url, &body).await, 200);
    let verified = signing.await.expect("task").expect("approved");
    assert!(verified
        .scopes
        .iter()
        .any(|s| s.as_str() == "credential:link"));
    // The receiver is gone with its answer: a second answer finds no one.
    let url2 = url::Url::parse(&url).expect("url");
    let again = tokio::net::TcpStream::connect((
        url2.host_str().expect("host"),
        url2.port().expect("port"),
    ))
    .await;
    assert!(again.is_err(), "the port closed");
    assert_eq!(
        flow::open_browser_again(&w.desk, id).err(),
        Some(AppError::RequestNotFound)
    );
}

#[tokio::test]
async fn cancel_ends_the_wait_and_the_wallet_s_refusal_is_said() {
    let w = Arc::new(world().await);
    let (id, credential) = w.begin().await;
    flow::wallet_message(&w.desk, &w.client, id, &credential)
        .await
        .expect("message");
    let start = |w: Arc<World>, credential: String| {
        tokio::spawn(async move {
            flow::sign_in_browser(&w.desk, &w.client, id, &credential, None, &|| MIN_SHOWN_MS).await
        })
    };
    // Cancel: the wait ends as cancelled, the port closes, the request stays open.
    let signing = start(w.clone(), credential.clone());
    let url = opened_url(&w, 1).await;
    flow::cancel_browser(&w.desk, id).expect("cancel");
    let cancelled = signing.await.expect("task").expect_err("cancelled");
    assert_eq!(cancelled, AppError::Client(StepUpError::Cancelled));
    let u = url::Url::parse(&url).expect("url");
    assert!(
        tokio::net::TcpStream::connect((u.host_str().expect("h"), u.port().expect("p")))
            .await
            .is_err()
    );
    assert!(w.desk.lock().get(id).is_ok());
    assert_eq!(
        flow::open_browser_again(&w.desk, id).err(),
        Some(AppError::NoBrowserPage)
    );
    // The wallet refuses: said as such, the request stays open.
    let signing = start(w.clone(), credential.clone());
    let url = opened_url(&w, 2).await;
    assert_eq!(
        post_answer(
            &url,
            r#"{"error":"User rejected the request.","code":4001}"#
        )
        .await,
        200
    );
    let refused = signing.await.expect("task").expect_err("refused");
    assert_eq!(refused.code(), "wallet_refused");
    assert!(
        refused.to_string().contains("you refused the signature"),
        "{refused}"
    );
    // Closing the request (Cancel in the dialog) ends a page still waiting.
    let signing = start(w.clone(), credential.clone());
    opened_url(&w, 3).await;
    w.desk
        .lock()
        .close(id, Outcome::Cancelled, None, MIN_SHOWN_MS)
        .expect("close");
    assert_eq!(
        signing.await.expect("task").err(),
        Some(AppError::Client(StepUpError::Cancelled))
    );
}

#[tokio::test]
async fn an_embedded_wallet_is_listed_as_unavailable_with_the_reason() {
    // The sandbox offers only external wallets; a server that offered the embedded one would
    // see it listed, disabled, with why (check_view on a check naming it).
    let w = world().await;
    let embedded = w
        .client
        .current_user()
        .expect("user")
        .verified_credentials
        .into_iter()
        .find(|c| c.embedded_wallet_id.is_some())
        .expect("the embedded wallet");
    let check = stepup_client::StepUpCheck {
        is_required: true,
        credentials: vec![stepup_client::StepUpCredential {
            id: embedded.id.clone(),
            format: stepup_client::CredentialFormat::Blockchain,
            kind: None,
            alias: None,
        }],
        default_credential_id: None,
    };
    let view = flow::check_view(
        &check,
        &w.client,
        &stepup_client::TokenScope::CredentialLink,
    );
    assert_eq!(view.credentials[0].method, Method::Unsupported);
    assert!(view.credentials[0]
        .unavailable
        .is_some_and(|why| why.starts_with("an embedded wallet cannot be used to verify")));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
