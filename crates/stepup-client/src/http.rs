//! The HTTP layer: builds `{api_base_url}/sdk/{env}/{path}` requests with the SDK's headers
//! (§6.2), times each phase of a call (connect, first byte, body), reads size-capped answers
//! and maps error answers and transport faults to [`StepUpError`].
//!
//! Logs carry method, path, status, error code and elapsed time only: never a header or a body.

use crate::config::Config;
use crate::device::DeviceHeaders;
use crate::error::{StepUpError, TimeoutPhase};
use rand::distr::{Alphanumeric, SampleString};
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, ETAG, ORIGIN, WWW_AUTHENTICATE,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use stepup_protocol::headers as h;
use stepup_protocol::{Secret, TokenScope};
use tokio::time::Instant;

/// The largest answer read; anything bigger is refused (answers are hostile input).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Length of `x-dyn-request-id`.
pub const REQUEST_ID_LEN: usize = 50;
/// Length of `x-dyn-session-id`.
pub const SESSION_ID_LEN: usize = 32;

/// `x-dyn-version` of this client.
pub fn client_version() -> String {
    format!("StepupDesktop/{}", env!("CARGO_PKG_VERSION"))
}

/// `n` random characters of `[A-Za-z0-9]`.
pub(crate) fn random_alphanumeric(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

/// One call to the API, before the session-dependent headers are added.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Relative to `/sdk/{env}/`, e.g. `stepUp/check`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    /// The scope whose elevated token is attached; also the scope a step-up rejection names.
    pub scope: Option<TokenScope>,
    pub extra_headers: Vec<(&'static str, String)>,
    /// Sent without `x-dyn-session-public-key` (the settings, as the SDK reads them at start,
    /// before it has session keys).
    pub without_session_key: bool,
}

impl ApiRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            scope: None,
            extra_headers: Vec::new(),
            without_session_key: false,
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }
    pub fn json<B: Serialize>(mut self, body: &B) -> Result<Self, StepUpError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|_| StepUpError::InvalidInput("the request could not be encoded".into()))?;
        self.body = Some(bytes);
        Ok(self)
    }
    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }
    pub fn scoped(mut self, scope: TokenScope) -> Self {
        self.scope = Some(scope);
        self
    }
    pub fn without_session_key(mut self) -> Self {
        self.without_session_key = true;
        self
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra_headers.push((name, value.into()));
        self
    }
}

/// The session-dependent credentials of one request.
#[derive(Debug, Default)]
pub(crate) struct Credentials {
    /// `Authorization: Bearer` (the `minifiedJwt`).
    pub bearer: Option<Secret>,
    /// `x-dyn-elevated-access-token`.
    pub elevated: Option<Secret>,
    /// `x-dynamic-device-*`.
    pub device: Option<DeviceHeaders>,
    /// `x-dyn-session-public-key`: the client's session key, on every call.
    pub session_public_key: Option<String>,
}

/// The API client: a reqwest client plus the per-instance session id.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    config: Config,
    /// `x-dyn-session-id`: fixed for the life of the client, not the auth session.
    session_id: String,
}

fn header_value(value: &str, what: &str) -> Result<HeaderValue, StepUpError> {
    HeaderValue::from_str(value)
        .map_err(|_| StepUpError::InvalidResponse(format!("the {what} cannot be sent in a header")))
}

/// Where a call was when its transport failed; it decides which fault the error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Connecting and sending, until the answer's headers.
    Request,
    /// Reading the answer's body.
    Body,
}

fn map_transport(err: reqwest::Error, stage: Stage) -> StepUpError {
    if err.is_timeout() {
        // Only reqwest's connect timeout is set: the other phases are timed here.
        return StepUpError::TimedOut(if err.is_connect() {
            TimeoutPhase::Connect
        } else if stage == Stage::Body {
            TimeoutPhase::Body
        } else {
            TimeoutPhase::FirstByte
        });
    }
    // The source chain says what went wrong (refused, DNS, TLS, reset); the URL is left out.
    let mut text = String::from(match (err.is_connect(), stage) {
        (true, _) => "connection failed",
        (false, Stage::Request) => "no answer",
        (false, Stage::Body) => "the answer was cut off",
    });
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    if err.is_connect() {
        StepUpError::Network(text)
    } else {
        StepUpError::ConnectionLost(text)
    }
}

/// Reads the body chunk by chunk until `deadline`, refusing more than [`MAX_RESPONSE_BYTES`]
/// before buffering it: answers are hostile input.
async fn read_capped(
    mut resp: reqwest::Response,
    deadline: Instant,
) -> Result<Vec<u8>, StepUpError> {
    let too_large = || {
        StepUpError::InvalidResponse(format!(
            "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .map_err(|_| StepUpError::TimedOut(TimeoutPhase::Body))?
            .map_err(|e| map_transport(e, Stage::Body))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
}

/// Parses a 2xx body; anything that does not parse is [`StepUpError::InvalidResponse`].
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, StepUpError> {
    serde_json::from_slice(body).map_err(|e| {
        StepUpError::InvalidResponse(format!(
            "{} at line {} column {}",
            classify(&e),
            e.line(),
            e.column()
        ))
    })
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

impl Api {
    pub fn new(config: Config) -> Result<Self, StepUpError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            // The other phases (first byte, body, the whole call) are timed in `execute`,
            // where the phase that ran out is known.
            .connect_timeout(config.connect_timeout)
            // Never forward the session or an elevated token to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StepUpError::Network(format!("the HTTP client could not start: {e}")))?;
        Ok(Self {
            client,
            config,
            session_id: random_alphanumeric(SESSION_ID_LEN),
        })
    }

    /// `{api_base_url}/sdk/{env}/{path}` with the query.
    pub fn url(&self, req: &ApiRequest) -> Result<url::Url, StepUpError> {
        let base = self.config.api_base_url.as_str().trim_end_matches('/');
        let mut url = url::Url::parse(&format!(
            "{base}/sdk/{}/{}",
            self.config.environment_id, req.path
        ))
        .map_err(|_| StepUpError::InvalidInput("the request path is not valid".into()))?;
        if !req.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(req.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Every header of one request (§6.2, plus §4 and §6.5 when given).
    pub fn headers(&self, req: &ApiRequest, creds: &Credentials) -> Result<HeaderMap, StepUpError> {
        let mut map = HeaderMap::new();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        map.insert(
            h::X_DYN_VERSION,
            header_value(&client_version(), "client version")?,
        );
        map.insert(
            h::X_DYN_API_VERSION,
            HeaderValue::from_static(h::API_VERSION),
        );
        map.insert(h::X_DYNAMIC_PLATFORM, HeaderValue::from_static("web"));
        map.insert(
            h::X_DYN_REQUEST_ID,
            header_value(&random_alphanumeric(REQUEST_ID_LEN), "request id")?,
        );
        map.insert(
            h::X_DYN_SESSION_ID,
            header_value(&self.session_id, "session id")?,
        );
        if let Some(origin) = &self.config.app_origin {
            map.insert(ORIGIN, header_value(origin, "app origin")?);
        }
        if let Some(bearer) = &creds.bearer {
            let mut v = header_value(&format!("Bearer {}", bearer.expose()), "session token")?;
            v.set_sensitive(true);
            map.insert(reqwest::header::AUTHORIZATION, v);
        }
        if let Some(elevated) = &creds.elevated {
            let mut v = header_value(elevated.expose(), "elevated token")?;
            v.set_sensitive(true);
            map.insert(h::X_DYN_ELEVATED_ACCESS_TOKEN, v);
        }
        if let Some(key) = &creds.session_public_key {
            map.insert(
                h::X_DYN_SESSION_PUBLIC_KEY,
                header_value(key, "session public key")?,
            );
        }
        if let Some(d) = &creds.device {
            map.insert(
                h::X_DYNAMIC_DEVICE_NONCE,
                header_value(&d.nonce, "device nonce")?,
            );
            map.insert(
                h::X_DYNAMIC_DEVICE_PUBLICKEY,
                header_value(&d.public_key, "device key")?,
            );
            map.insert(
                h::X_DYNAMIC_DEVICE_SIGNED_NONCE,
                header_value(&d.signed_nonce, "device signature")?,
            );
        }
        for (name, value) in &req.extra_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| StepUpError::InvalidInput("a header name is not valid".into()))?;
            map.insert(name, header_value(value, "header")?);
        }
        Ok(map)
    }

    /// Sends `req` and returns the body of a 2xx answer; anything else is an error.
    ///
    /// Each phase has its own limit ([`Config::connect_timeout`], `first_byte_timeout`,
    /// `body_timeout`) and none waits past `http_timeout` from the start.
    pub async fn execute(
        &self,
        req: &ApiRequest,
        creds: &Credentials,
    ) -> Result<Vec<u8>, StepUpError> {
        self.execute_answer(req, creds).await?.into_body()
    }

    /// `GET url` of a public document outside the API (the customer's JWKS): none of the
    /// SDK's headers, no credentials, no redirects, the same time limits and size cap. Only
    /// `https`, or `http` to this machine.
    pub async fn fetch_public(&self, url: &url::Url) -> Result<Vec<u8>, StepUpError> {
        if url.scheme() != "https" && !crate::config::is_loopback(url) {
            return Err(StepUpError::InvalidInput(
                "only an https address (or http on this machine) is fetched".into(),
            ));
        }
        let loopback_only = std::env::var(crate::config::LOOPBACK_ONLY_ENV).is_ok_and(|v| v == "1");
        if loopback_only && !crate::config::is_loopback(url) {
            return Err(StepUpError::InvalidInput(format!(
                "{}=1 (a test run): only this machine is fetched",
                crate::config::LOOPBACK_ONLY_ENV
            )));
        }
        let started = Instant::now();
        let call_deadline = started + self.config.http_timeout;
        let headers_deadline = call_deadline.min(started + self.config.first_byte_timeout);
        let resp = tokio::time::timeout_at(headers_deadline, self.client.get(url.clone()).send())
            .await
            .map_err(|_| StepUpError::TimedOut(TimeoutPhase::FirstByte))?
            .map_err(|e| map_transport(e, Stage::Request))?;
        let status = resp.status().as_u16();
        tracing::debug!(status, "public document fetched");
        if !(200..300).contains(&status) {
            return Err(StepUpError::InvalidResponse(format!(
                "unexpected HTTP status {status}"
            )));
        }
        let body_deadline = call_deadline.min(Instant::now() + self.config.body_timeout);
        read_capped(resp, body_deadline).await
    }

    /// [`Api::execute`], with the answer's `ETag` and a `304 Not Modified` (empty body) as an
    /// answer rather than an error, for a request that sent `If-None-Match`.
    pub async fn execute_answer(
        &self,
        req: &ApiRequest,
        creds: &Credentials,
    ) -> Result<Answer, StepUpError> {
        let url = self.url(req)?;
        let headers = self.headers(req, creds)?;
        let mut builder = self
            .client
            .request(req.method.clone(), url)
            .headers(headers);
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let call_deadline = started + self.config.http_timeout;
        let headers_deadline = call_deadline.min(started + self.config.first_byte_timeout);
        let sent = tokio::time::timeout_at(headers_deadline, builder.send())
            .await
            .map_err(|_| StepUpError::TimedOut(TimeoutPhase::FirstByte))
            .and_then(|r| r.map_err(|e| map_transport(e, Stage::Request)));
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                tracing::debug!(
                    method = %req.method,
                    path = %req.path,
                    error_code = e.code(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "dynamic api call failed before an answer"
                );
                return Err(e);
            }
        };
        let status = resp.status().as_u16();
        tracing::debug!(method = %req.method, path = %req.path, status, "dynamic api call");
        let www_authenticate = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= MAX_ETAG_LEN)
            .map(str::to_owned);
        if status == 304 {
            return Ok(Answer {
                not_modified: true,
                etag,
                body: Vec::new(),
            });
        }
        let body_deadline = call_deadline.min(Instant::now() + self.config.body_timeout);
        let body = read_capped(resp, body_deadline).await;
        if let Err(e) = &body {
            tracing::debug!(
                method = %req.method,
                path = %req.path,
                status,
                error_code = e.code(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "dynamic api answer could not be read"
            );
        }
        if status >= 400 {
            // An unreadable error body still maps by its status.
            let body = body.unwrap_or_default();
            return Err(StepUpError::from_http_error(
                status,
                &body,
                www_authenticate.as_deref(),
                req.scope.as_ref(),
            ));
        }
        if !(200..300).contains(&status) {
            return Err(StepUpError::InvalidResponse(format!(
                "unexpected HTTP status {status}"
            )));
        }
        Ok(Answer {
            not_modified: false,
            etag,
            body: body?,
        })
    }
}

/// The longest `ETag` kept; a longer one is ignored (answers are hostile input).
pub const MAX_ETAG_LEN: usize = 256;

/// A 2xx or 304 answer, as [`Api::execute_answer`] gives it.
#[derive(Debug)]
pub(crate) struct Answer {
    /// `304 Not Modified`: what the request's `If-None-Match` named is still current.
    pub not_modified: bool,
    /// The answer's `ETag`, if it had a short one.
    pub etag: Option<String>,
    /// The body (empty for a 304).
    pub body: Vec<u8>,
}

impl Answer {
    /// The body of a 2xx answer; a 304 (to a request that did not expect one) is an error.
    pub fn into_body(self) -> Result<Vec<u8>, StepUpError> {
        if self.not_modified {
            return Err(StepUpError::InvalidResponse(
                "unexpected HTTP status 304".into(),
            ));
        }
        Ok(self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        let config = Config::new("env-1")
            .unwrap()
            .with_app_origin("https://app.example");
        Api::new(config).unwrap()
    }

    #[test]
    fn request_ids_are_fifty_alphanumerics_and_differ() {
        let a = random_alphanumeric(REQUEST_ID_LEN);
        let b = random_alphanumeric(REQUEST_ID_LEN);
        assert_eq!(a.len(), 50);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn standard_headers_are_all_present() {
        let api = api();
        let req = ApiRequest::get("users/mfa");
        let creds = Credentials {
            bearer: Some("jwt-1".into()),
            ..Credentials::default()
        };
        let h1 = api.headers(&req, &creds).unwrap();
        let h2 = api.headers(&req, &Credentials::default()).unwrap();
        assert_eq!(h1["content-type"], "application/json");
        assert_eq!(
            h1["x-dyn-version"],
            format!("StepupDesktop/{}", env!("CARGO_PKG_VERSION")).as_str()
        );
        assert_eq!(h1["x-dyn-api-version"], "API/0.0.1125");
        assert_eq!(h1["x-dynamic-platform"], "web");
        assert_eq!(h1["origin"], "https://app.example");
        assert_eq!(h1["authorization"], "Bearer jwt-1");
        assert!(h1["authorization"].is_sensitive());
        let (r1, r2) = (
            h1["x-dyn-request-id"].to_str().unwrap(),
            h2["x-dyn-request-id"].to_str().unwrap(),
        );
        assert_eq!(r1.len(), 50);
        assert_ne!(r1, r2, "a new request id per request");
        assert_eq!(h1["x-dyn-session-id"].len(), 32);
        assert_eq!(
            h1["x-dyn-session-id"], h2["x-dyn-session-id"],
            "one session id per client"
        );
        assert!(!h2.contains_key("authorization"));
        assert!(!h2.contains_key("x-dyn-elevated-access-token"));
    }

    #[test]
    fn urls_put_the_environment_in_the_path() {
        let api = api();
        let req = ApiRequest::get("nonces").query("count", "5");
        assert_eq!(
            api.url(&req).unwrap().as_str(),
            "https://app.dynamicauth.com/api/v0/sdk/env-1/nonces?count=5"
        );
        let config = Config::new("e")
            .unwrap()
            .with_api_base_url(url::Url::parse("http://127.0.0.1:9/api/v0/").unwrap());
        let api = Api::new(config).unwrap();
        assert_eq!(
            api.url(&ApiRequest::post("stepUp/check")).unwrap().as_str(),
            "http://127.0.0.1:9/api/v0/sdk/e/stepUp/check"
        );
    }

    #[test]
    fn a_token_with_a_newline_is_refused_not_sent() {
        let creds = Credentials {
            elevated: Some("a\r\nx-evil: 1".into()),
            ..Credentials::default()
        };
        assert!(matches!(
            api().headers(&ApiRequest::get("x"), &creds),
            Err(StepUpError::InvalidResponse(_))
        ));
    }

    #[test]
    fn garbage_bodies_are_invalid_responses() {
        assert!(matches!(
            parse_body::<stepup_protocol::StepUpCheck>(b"<html>"),
            Err(StepUpError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_body::<stepup_protocol::StepUpCheck>(b"{}"),
            Err(StepUpError::InvalidResponse(_))
        ));
    }
}
