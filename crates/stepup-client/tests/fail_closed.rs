//! `check_step_up` fails closed: whatever goes wrong between the client and the server, the
//! answer is "required". The session is real (signed in against the sandbox); the broken servers
//! are canned HTTP responders on 127.0.0.1 that answer every request the same way.

mod common;

use common::*;
use std::net::SocketAddr;
use stepup_client::TokenScope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `response` (a full HTTP/1.1 response) to every connection; returns the address.
async fn canned(response: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(any_port()).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

fn http(status: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

/// A signed-in vault, then a client on that vault pointed at `base`.
async fn signed_in_client_against(base: String) -> stepup_client::StepUpClient {
    let w = world(mfa_user("closed@example.com")).await;
    let config = stepup_client::Config::new(w.sandbox.environment_id())
        .expect("config")
        .with_api_base_url(base.parse().expect("url"))
        .with_http_timeout(std::time::Duration::from_secs(2));
    let client = stepup_client::StepUpClient::builder(config)
        .vault(w.vault.clone())
        .clock(std::sync::Arc::new(w.clock.clone()))
        .build()
        .await
        .expect("client");
    assert!(
        client.is_signed_in(),
        "the session came from the real sandbox"
    );
    client
}

async fn check_against(response: &'static str) -> stepup_client::StepUpCheck {
    let addr = canned(response).await;
    let client = signed_in_client_against(format!("http://{addr}/api/v0")).await;
    client.check_step_up(TokenScope::WalletExport).await
}

#[tokio::test]
async fn the_real_server_says_required_with_credentials() {
    // The control: against the sandbox the same client gets real credentials, so the empty
    // lists below come from failing closed, not from a user without credentials.
    let w = world(mfa_user("control@example.com")).await;
    let check = w.client.check_step_up(TokenScope::WalletExport).await;
    assert!(check.is_required && !check.credentials.is_empty());
}

#[tokio::test]
async fn server_down_means_required() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = signed_in_client_against(format!("http://{addr}/api/v0")).await;
    let check = client.check_step_up(TokenScope::WalletExport).await;
    assert!(check.is_required && check.credentials.is_empty());
}

#[tokio::test]
async fn server_error_means_required() {
    let check = check_against(http("500 Internal Server Error", r#"{"error":"boom"}"#)).await;
    assert!(check.is_required && check.credentials.is_empty());
}

#[tokio::test]
async fn garbage_means_required() {
    let check = check_against(http("200 OK", "<html>not json</html>")).await;
    assert!(check.is_required && check.credentials.is_empty());
}

#[tokio::test]
async fn missing_credentials_means_required_even_if_the_server_says_not_required() {
    let check = check_against(http("200 OK", r#"{"isRequired":false}"#)).await;
    assert!(check.is_required);
}

#[tokio::test]
async fn a_well_formed_not_required_answer_is_honoured() {
    // The counterpart that makes the tests above meaningful: the canned server can say "no".
    let check = check_against(http("200 OK", r#"{"isRequired":false,"credentials":[]}"#)).await;
    assert!(!check.is_required);
}

#[tokio::test]
async fn an_oversized_answer_means_required() {
    let huge = format!(
        r#"{{"isRequired":false,"credentials":[],"pad":"{}"}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let check = check_against(http("200 OK", &huge)).await;
    assert!(check.is_required);
}
