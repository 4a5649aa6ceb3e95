//! A fault-injecting HTTP proxy on 127.0.0.1, between a client and the sandbox: it forwards
//! each request to the sandbox and delivers the real answer with one [`Fault`] — or withholds
//! it. Plain tokio TCP: it speaks just enough HTTP/1.1 (a `content-length` request, a
//! `content-length` answer, one request per connection) for the client's calls.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to each answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards the answer untouched: the control that shows the proxy itself works.
    Pass,
    /// Accepts, reads the request, and never answers (the connection stays open).
    Silent,
    /// Sends the real headers, then the body one byte every `interval`.
    Trickle(Duration),
    /// Sends the real headers, then nothing (the connection stays open).
    StallAfterHeaders,
    /// Sends the real headers and half the body, then resets the connection (RST).
    ResetMidBody,
    /// Answers `503 Service Unavailable` with a JSON error, without asking the sandbox.
    ServiceUnavailable,
    /// Forwards the answer with its JSON cut in half, well framed (`content-length` fits the
    /// cut body): the transfer succeeds, the JSON does not parse.
    TruncatedJson,
}

impl Fault {
    /// A short name for tables and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass (control)",
            Self::Silent => "accept, never answer",
            Self::Trickle(_) => "trickle body (1 B / 50 ms)",
            Self::StallAfterHeaders => "stall after headers",
            Self::ResetMidBody => "reset mid-body",
            Self::ServiceUnavailable => "HTTP 503",
            Self::TruncatedJson => "truncated JSON",
        }
    }
}

/// A running proxy; it serves until the test's runtime ends.
pub struct FaultProxy {
    /// Where the client connects.
    pub addr: SocketAddr,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`, applying `fault` to every
    /// request.
    pub async fn start(upstream: SocketAddr, fault: Fault) -> Self {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, upstream, fault));
            }
        });
        Self { addr }
    }

    /// The API base URL to give the client.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v0", self.addr)
    }
}

/// A loopback address where nothing listens: connecting is refused.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// One HTTP/1.1 message: its head (start line and headers, without the blank line) and body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n\r\n", self.head).into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// The head with `content-length` set to `len` and `connection: close`.
    fn head_with_length(&self, len: usize) -> String {
        let mut lines: Vec<String> = self
            .head
            .split("\r\n")
            .filter(|l| {
                let name = l.split(':').next().unwrap_or("").trim();
                !name.eq_ignore_ascii_case("content-length")
                    && !name.eq_ignore_ascii_case("connection")
            })
            .map(str::to_owned)
            .collect();
        lines.push(format!("content-length: {len}"));
        lines.push("connection: close".into());
        lines.join("\r\n")
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one message with a `content-length` body (or none); `to_eof` reads the body until
/// the peer closes instead (an answer sent with `connection: close`).
async fn read_message(stream: &mut (impl AsyncRead + Unpin), to_eof: bool) -> Option<Message> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8(seen[..head_end].to_vec()).ok()?;
    let mut body = seen[head_end + 4..].to_vec();
    assert!(
        header(&head, "transfer-encoding").is_none(),
        "the fault proxy speaks content-length only"
    );
    let want = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok());
    while to_eof || body.len() < want.unwrap_or(0) {
        if want.is_some_and(|w| body.len() >= w) {
            break;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    Some(Message { head, body })
}

/// The sandbox's answer to `request`, on a connection of its own.
async fn ask_upstream(upstream: SocketAddr, request: &Message) -> Option<Message> {
    let mut conn = TcpStream::connect(upstream).await.ok()?;
    let forwarded = Message {
        head: request.head_with_length(request.body.len()),
        body: request.body.clone(),
    };
    conn.write_all(&forwarded.to_bytes()).await.ok()?;
    read_message(&mut conn, true).await
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, fault: Fault) {
    let Some(request) = read_message(&mut client, false).await else {
        return;
    };
    if fault == Fault::Silent {
        return hold_open(client).await;
    }
    if fault == Fault::ServiceUnavailable {
        let body = br#"{"error":"the service is unavailable"}"#;
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close",
            body.len()
        );
        let answer = Message {
            head,
            body: body.to_vec(),
        };
        let _ = client.write_all(&answer.to_bytes()).await;
        return;
    }
    let Some(answer) = ask_upstream(upstream, &request).await else {
        return;
    };
    let full_head = answer.head_with_length(answer.body.len());
    let half = answer.body.len() / 2;
    match fault {
        Fault::Pass => {
            let _ = client.write_all(&answer.to_bytes()).await;
        }
        Fault::TruncatedJson => {
            let cut = Message {
                head: answer.head_with_length(half),
                body: answer.body[..half].to_vec(),
            };
            let _ = client.write_all(&cut.to_bytes()).await;
        }
        Fault::StallAfterHeaders => {
            let _ = client
                .write_all(format!("{full_head}\r\n\r\n").as_bytes())
                .await;
            hold_open(client).await;
        }
        Fault::Trickle(interval) => {
            if client
                .write_all(format!("{full_head}\r\n\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            for byte in &answer.body {
                tokio::time::sleep(interval).await;
                if client.write_all(std::slice::from_ref(byte)).await.is_err() {
                    return; // the client gave up: that is the point
                }
            }
        }
        Fault::ResetMidBody => {
            let mut partial = format!("{full_head}\r\n\r\n").into_bytes();
            partial.extend_from_slice(&answer.body[..half]);
            let _ = client.write_all(&partial).await;
            let _ = client.flush().await;
            // Let the client read the head and the first half before the reset arrives.
            tokio::time::sleep(Duration::from_millis(50)).await;
            // SO_LINGER 0: closing sends RST, not FIN. With a zero linger close never blocks,
            // which is what tokio's deprecation warns about.
            #[allow(deprecated)]
            let _ = client.set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Fault::Silent | Fault::ServiceUnavailable => unreachable!("answered above"),
    }
}

/// Keeps the connection open, answering nothing, until the client leaves.
async fn hold_open(mut client: TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = client.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}
