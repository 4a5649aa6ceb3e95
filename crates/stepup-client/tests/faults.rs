//! A fault-injecting server on 127.0.0.1 in front of a signed-in client: every fault of the
//! network or the server fails the check closed ("required") within its phase timeout, and
//! `try_check_step_up` says which fault it was (so the dialog can say "could not reach the
//! server: try again" instead of "no way to verify").

mod common;

use common::{mfa_user, world};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepup_client::{Config, StepUpClient, TokenScope, TokenVault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Short phase timeouts, so that each fault ends fast: connect and next-bytes 300 ms, the
/// whole exchange 1 s.
const CONNECT: Duration = Duration::from_millis(300);
const READ: Duration = Duration::from_millis(300);
const TOTAL: Duration = Duration::from_millis(1_000);

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Nothing listens on the port.
    Refuse,
    /// Accepts, reads the request, never answers.
    NeverAnswer,
    /// Sends the headers of a 200, then nothing.
    StallAfterHeaders,
    /// Sends a 200 body one byte every 200 ms (each wait under the read timeout).
    TrickleBody,
    /// Sends half the body, then resets the connection.
    ResetMidBody,
    /// 503 with a JSON error.
    ServerError,
    /// A 200 whose JSON stops in the middle.
    TruncatedJson,
}

const BODY: &str = r#"{"isRequired":false,"credentials":[]}"#;

async fn read_request(socket: &mut TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    // The body of stepUp/check is small and follows the headers at once.
    tokio::time::sleep(Duration::from_millis(20)).await;
}

fn headers(status: &str, length: usize) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

/// Serves `fault` on a fresh loopback port; returns the API base URL.
async fn serve(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    if matches!(fault, Fault::Refuse) {
        drop(listener);
        return format!("http://{addr}/api/v0");
    }
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_request(&mut socket).await;
                match fault {
                    Fault::Refuse => {}
                    Fault::NeverAnswer => tokio::time::sleep(Duration::from_secs(60)).await,
                    Fault::StallAfterHeaders => {
                        let _ = socket
                            .write_all(headers("200 OK", BODY.len()).as_bytes())
                            .await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    Fault::TrickleBody => {
                        let _ = socket
                            .write_all(headers("200 OK", BODY.len()).as_bytes())
                            .await;
                        for b in BODY.bytes() {
                            if socket.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    Fault::ResetMidBody => {
                        let _ = socket
                            .write_all(headers("200 OK", BODY.len()).as_bytes())
                            .await;
                        let _ = socket.write_all(&BODY.as_bytes()[..10]).await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        // Linger 0: drop sends RST, which is the fault (and does not block).
                        #[allow(deprecated)]
                        let _ = socket.set_linger(Some(Duration::ZERO));
                        drop(socket);
                    }
                    Fault::ServerError => {
                        let body = r#"{"error":"the server is overloaded","code":"unknown_error"}"#;
                        let reply =
                            format!("{}{body}", headers("503 Service Unavailable", body.len()));
                        let _ = socket.write_all(reply.as_bytes()).await;
                    }
                    Fault::TruncatedJson => {
                        let body = &BODY[..20];
                        let reply = format!("{}{body}", headers("200 OK", body.len()));
                        let _ = socket.write_all(reply.as_bytes()).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}/api/v0")
}

#[tokio::test]
async fn every_fault_fails_closed_within_its_phase_timeout_and_says_which() {
    // A session from the real sandbox, in a vault a second client shares.
    let w = world(mfa_user("faults@stepup.example")).await;
    let mut table = Vec::new();
    for (fault, code) in [
        (Fault::Refuse, "network_error"),
        (Fault::NeverAnswer, "timed_out"),
        (Fault::StallAfterHeaders, "timed_out"),
        (Fault::TrickleBody, "timed_out"),
        (Fault::ResetMidBody, "network_error"),
        (Fault::ServerError, "api_error"),
        (Fault::TruncatedJson, "invalid_response"),
    ] {
        let base = serve(fault).await;
        let config = Config::new(w.sandbox.environment_id())
            .expect("config")
            .with_api_base_url(base.parse().expect("url"))
            .with_connect_timeout(CONNECT)
            .with_read_timeout(READ)
            .with_http_timeout(TOTAL);
        let client = StepUpClient::builder(config)
            .vault(w.vault.clone() as Arc<dyn TokenVault>)
            .clock(Arc::new(w.clock.clone()))
            .build()
            .await
            .expect("client");
        assert!(client.is_signed_in(), "the shared session");
        let started = Instant::now();
        let error = client
            .try_check_step_up(TokenScope::WalletExport)
            .await
            .expect_err("a fault");
        let elapsed = started.elapsed();
        assert_eq!(error.code(), code, "{fault:?}: {error}");
        assert!(
            elapsed < TOTAL + Duration::from_millis(500),
            "{fault:?} took {elapsed:?}"
        );
        let check = client.check_step_up(TokenScope::WalletExport).await;
        assert!(
            check.is_required && check.credentials.is_empty(),
            "{fault:?} fails closed"
        );
        table.push(format!(
            "{fault:?}: {} ms, {}: {error}",
            elapsed.as_millis(),
            error.code()
        ));
    }
    // The figures, for `cargo test -p stepup-client --test faults -- --nocapture`.
    println!("{}", table.join("\n"));
}

#[test]
fn the_default_phase_timeouts_are_those_the_dialog_can_wait() {
    let c = Config::new("env").expect("config");
    assert_eq!(
        (c.connect_timeout, c.read_timeout, c.http_timeout),
        (
            Duration::from_secs(3),
            Duration::from_secs(5),
            Duration::from_secs(10)
        )
    );
    assert!(c
        .with_read_timeout(Duration::ZERO)
        .validate_with(false)
        .is_err());
}
