//! Test harness: a sandbox on 127.0.0.1 with a manual clock, and a small JSON HTTP client.
#![allow(dead_code, clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use stepup_protocol::jwt::ElevatedTokenClaims;
use stepup_protocol::ManualClock;
use stepup_sandbox::{DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec};

/// The start of a TOTP step (1_700_000_010 is a multiple of 30), plus 5 s.
pub const T0_MS: i64 = 1_700_000_015_000;

pub struct Harness {
    pub sb: RunningSandbox,
    pub clock: ManualClock,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

pub async fn start() -> Harness {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut SandboxConfig)) -> Harness {
    let clock = ManualClock::at_millis(T0_MS);
    let mut config = SandboxConfig {
        clock: Arc::new(clock.clone()),
        ..SandboxConfig::default()
    };
    f(&mut config);
    let sb = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Harness {
        sb,
        clock,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    pub fn url(&self, rel: &str) -> String {
        format!(
            "{}/sdk/{}/{}",
            self.sb.base_url(),
            self.sb.environment_id(),
            rel
        )
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        rel: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(rel));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, rel: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(reqwest::Method::POST, rel, token, &[], Some(body))
            .await
    }

    pub async fn get(&self, rel: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, rel, token, &[], None).await
    }

    /// Sends an email code and returns (verificationUUID, code) from the outbox.
    pub async fn email_code(&self, email: &str) -> (String, String) {
        let r = self
            .post("emailVerifications/create", None, json!({ "email": email }))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let uuid = r.body["verificationUUID"].as_str().unwrap().to_owned();
        let msg = self
            .sb
            .outbox()
            .into_iter()
            .rev()
            .find(|m| m.verification_uuid == uuid)
            .unwrap();
        (uuid, msg.code.expose().to_owned())
    }

    /// Signs in by email; returns the VerifyResponse body.
    pub async fn sign_in(&self, email: &str) -> Value {
        let (uuid, code) = self.email_code(email).await;
        let r = self
            .post(
                "emailVerifications/signin",
                None,
                json!({ "verificationUUID": uuid, "verificationToken": code }),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    /// Creates a user and signs them in; returns (user, session token).
    pub async fn user(&self, spec: UserSpec) -> (DemoUser, String) {
        let email = spec.email.clone();
        let user = self.sb.create_user(spec).unwrap();
        let body = self.sign_in(&email).await;
        (user, token_of(&body))
    }

    /// The TOTP code of `user` at the sandbox's current time plus `offset_secs`.
    pub fn totp(&self, user: &DemoUser, offset_secs: i64) -> String {
        let secret = user.totp_secret_base32.as_ref().unwrap().expose();
        let now = stepup_protocol::Clock::now_secs(&self.clock);
        stepup_sandbox::totp_code_at(secret, now + offset_secs).unwrap()
    }

    /// A TOTP step-up for `scopes`; returns the reply.
    pub async fn totp_step_up(&self, token: &str, code: &str, scopes: &[&str]) -> Reply {
        self.post(
            "users/mfa/auth/totp",
            Some(token),
            json!({ "code": code, "requestedScopes": scopes }),
        )
        .await
    }
}

pub fn token_of(verify_response: &Value) -> String {
    verify_response["minifiedJwt"].as_str().unwrap().to_owned()
}

pub fn elevated_of(verify_response: &Value) -> String {
    verify_response["elevatedAccessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn claims(token: &str) -> ElevatedTokenClaims {
    stepup_protocol::jwt::decode_unverified(token).unwrap()
}

pub fn mfa_user(email: &str) -> UserSpec {
    UserSpec {
        email: email.into(),
        totp: true,
        recovery_codes: true,
        wallet: true,
        phone: None,
        passkey: false,
        external_wallet: false,
        social: Vec::new(),
    }
}

pub fn plain_user(email: &str) -> UserSpec {
    UserSpec {
        email: email.into(),
        ..UserSpec::default()
    }
}
