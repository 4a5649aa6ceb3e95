//! A canned HTTP/1.1 server for unit tests: records every request and answers with a
//! closure's reply, and the fixtures the client's unit tests share. Not a Dynamic
//! implementation (that is `stepup-sandbox`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path after `/sdk/{env}/`, without the query.
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A reply: status, extra headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
    pub fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct TestServer {
    pub base_url: url::Url,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub async fn start(
        env: &str,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let prefix = format!("/api/v0/sdk/{env}/");
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (handler, recorded, prefix) =
                    (Arc::clone(&handler), Arc::clone(&recorded), prefix.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock, &prefix).await else {
                        return;
                    };
                    let reply = handler(&req);
                    recorded.lock().unwrap().push(req);
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&reply.body);
                    let _ = sock.write_all(out.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        let base_url = url::Url::parse(&format!("http://{addr}/api/v0")).unwrap();
        Self { base_url, requests }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream, prefix: &str) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    Some(Recorded {
        method,
        path: path.strip_prefix(prefix).unwrap_or(path).to_owned(),
        query: query.to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

// ---------------------------------------------------------------- client fixtures
// What the mock-server tests next to each module share: a client over a `TestServer`, and
// the answers they reply with.

use crate::config::Config;
use crate::vault::{MemoryVault, SessionRecord, TokenVault};
use crate::verify::{OtpChannel, OtpVerification, PhoneNumber};
use crate::StepUpClient;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::json;
use stepup_protocol::{ManualClock, Secret};

/// The environment every unit-test client uses.
pub const ENV: &str = "env-test";
/// The manual clock's start.
pub const NOW_MS: i64 = 1_700_000_000_000;
/// An elevated token's expiry (unix seconds), five minutes after [`NOW_MS`].
pub const EXP: i64 = 1_700_000_300;

/// The `SdkUser` of every fixture, in session `session`.
pub fn user_json(session: &str) -> serde_json::Value {
    json!({"id": "user-1", "email": "a@example.com", "sessionId": session, "verifiedCredentials": []})
}

/// A `VerifyResponse` in session `s2`, with `minifiedJwt` and `elevatedAccessToken` if given.
pub fn verify_response(minified: Option<&str>, elevated: Option<Secret>) -> serde_json::Value {
    let mut v = json!({"user": user_json("s2"), "expiresAt": 1_700_086_400, "jwt": "full-jwt-2"});
    if let Some(m) = minified {
        v["minifiedJwt"] = json!(m);
    }
    if let Some(e) = elevated {
        v["elevatedAccessToken"] = json!(e.expose());
    }
    v
}

/// A batch of five nonces.
pub fn nonces() -> Reply {
    Reply::json(200, json!({"nonces": ["n1", "n2", "n3", "n4", "n5"]}))
}

/// A client of `server` on a manual clock at [`NOW_MS`], signed in (session `session-1`) or not.
pub async fn client(server: &TestServer, signed_in: bool) -> (StepUpClient, Arc<MemoryVault>) {
    let vault = Arc::new(MemoryVault::new());
    if signed_in {
        let user = serde_json::from_value(user_json("s1")).unwrap();
        let session = SessionRecord {
            token: "session-1".into(),
            legacy_token: None,
            expires_at: 1_700_086_400,
            user,
            session_key: None,
        };
        vault.put_session(&session).unwrap();
    }
    let config = Config::new(ENV)
        .unwrap()
        .with_api_base_url(server.base_url.clone());
    let client = StepUpClient::builder(config)
        .vault(vault.clone())
        .clock(Arc::new(ManualClock::at_millis(NOW_MS)))
        .build()
        .await
        .unwrap();
    (client, vault)
}

/// A sent code: by email, or by SMS.
pub fn otp(email: bool) -> OtpVerification {
    let channel = if email {
        OtpChannel::Email("a@example.com".into())
    } else {
        OtpChannel::Sms(PhoneNumber {
            country_code: "1".into(),
            iso_country_code: "US".into(),
            number: "5555550100".into(),
        })
    };
    OtpVerification {
        verification_uuid: "0b5c3a1e-7a51-4c8e-9a51-0c1f1d2e3f40".into(),
        channel,
    }
}

/// Asserts that `r` carries a device nonce signed by the key it names.
pub fn assert_device_signed(r: &Recorded) {
    let nonce = r.header("x-dynamic-device-nonce").expect("nonce header");
    let key = hex::decode(r.header("x-dynamic-device-publickey").unwrap()).unwrap();
    let sig = hex::decode(r.header("x-dynamic-device-signed-nonce").unwrap()).unwrap();
    let vk = VerifyingKey::from_sec1_bytes(&key).unwrap();
    assert!(vk
        .verify(nonce.as_bytes(), &Signature::from_slice(&sig).unwrap())
        .is_ok());
}
