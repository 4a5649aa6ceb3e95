//! Extractors. Each turns its failure into the `{error, code}` body every Dynamic error has,
//! never axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use stepup_protocol::headers::{
    is_device_signed, X_DYNAMIC_DEVICE_NONCE, X_DYNAMIC_DEVICE_PUBLICKEY,
    X_DYNAMIC_DEVICE_SIGNED_NONCE, X_DYN_ELEVATED_ACCESS_TOKEN, X_DYN_SESSION_PUBLIC_KEY,
};

use super::AppState;
use crate::authority::{
    DeviceSignature, PresentedToken, ProtectedScope, SentSessionKey, SessionCtx,
};
use crate::error::ApiError;
use crate::validation::{normalize_session_public_key, MAX_ID_LEN};

/// Header values above this size are ignored as hostile.
const MAX_HEADER_LEN: usize = 16 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_HEADER_LEN)
}

/// The request's path parameters, with the environment checked (unknown: 404).
pub(super) struct Env {
    params: Vec<(String, String)>,
}

impl Env {
    /// The path parameter `name` (`device_id`, `wallet_id`).
    pub(super) fn param(&self, name: &str) -> Result<&str, ApiError> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::internal(format!("missing path parameter {name}")))
    }
}

impl FromRequestParts<AppState> for Env {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_request("the path is not valid UTF-8"))?;
        let params: Vec<(String, String)> = raw
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let env = params
            .iter()
            .find(|(k, _)| k == "env")
            .map(|(_, v)| v.as_str());
        if env != Some(state.env.as_str()) {
            return Err(ApiError::not_found("unknown environment id"));
        }
        if params.iter().any(|(_, v)| v.len() > MAX_ID_LEN) {
            return Err(ApiError::invalid_request(
                "a path parameter is longer than 128 characters",
            ));
        }
        Ok(Self { params })
    }
}

/// A signed-in caller (a valid, live session JWT in `Authorization: Bearer`).
pub(super) struct Authed(pub SessionCtx);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = header(&parts.headers, "authorization").and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let key = header(&parts.headers, X_DYN_SESSION_PUBLIC_KEY)
            .map(|k| normalize_session_public_key(k).ok());
        let sent = match &key {
            None => SentSessionKey::Absent,
            Some(None) => SentSessionKey::Malformed,
            Some(Some(k)) => SentSessionKey::Key(k),
        };
        state.with(|a| a.authenticate(bearer, sent)).map(Authed)
    }
}

/// The `x-dyn-session-public-key` of a sign-in, which the new session is bound to: absent is
/// `None`; one that is not a compressed P-256 point is refused (422
/// `invalid_session_public_key`) before anything else of the sign-in is looked at.
pub(super) struct SessionKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SessionKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(X_DYN_SESSION_PUBLIC_KEY) {
            None => Ok(SessionKey(None)),
            Some(v) => {
                let text = v.to_str().unwrap_or_default();
                normalize_session_public_key(text).map(|k| SessionKey(Some(k)))
            }
        }
    }
}

/// A caller who may be signed in: no `Authorization` is anonymous, a bearer that is sent must
/// be a valid, live session (401 otherwise), as for [`Authed`].
pub(super) struct MaybeAuthed(pub Option<SessionCtx>);

impl FromRequestParts<AppState> for MaybeAuthed {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.get("authorization").is_none() {
            return Ok(MaybeAuthed(None));
        }
        Authed::from_request_parts(parts, state)
            .await
            .map(|Authed(ctx)| MaybeAuthed(Some(ctx)))
    }
}

/// The query string as pairs: at most 8 KiB and 32 pairs (hostile input).
pub(super) struct QueryPairs(pub Vec<(String, String)>);

/// The longest query string read.
const MAX_QUERY_LEN: usize = 8 * 1024;
/// The most query pairs read.
const MAX_QUERY_PAIRS: usize = 32;

/// Pairs of an `application/x-www-form-urlencoded` text, bounded like a query.
pub(super) fn form_pairs(text: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    if text.len() > MAX_QUERY_LEN {
        return Err(ApiError::invalid_request("the query or form is too long"));
    }
    let mut pairs = Vec::new();
    for (k, v) in url::form_urlencoded::parse(text) {
        if pairs.len() == MAX_QUERY_PAIRS {
            return Err(ApiError::invalid_request(
                "the query or form has too many parameters",
            ));
        }
        pairs.push((k.into_owned(), v.into_owned()));
    }
    Ok(pairs)
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        form_pairs(parts.uri.query().unwrap_or_default().as_bytes()).map(QueryPairs)
    }
}

/// The device nonce signature of a path on the SDK's signed list, checked.
pub(super) struct DeviceSigned;

impl FromRequestParts<AppState> for DeviceSigned {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let prefix = format!("/api/v0/sdk/{}/", state.env);
        // Inside `nest` the URI may or may not still carry the prefix; accept both.
        let path = parts.uri.path();
        let relative = path
            .strip_prefix(&prefix)
            .unwrap_or_else(|| path.trim_start_matches('/'));
        if !is_device_signed(relative) {
            return Ok(DeviceSigned);
        }
        let nonce = header(&parts.headers, X_DYNAMIC_DEVICE_NONCE);
        let public_key = header(&parts.headers, X_DYNAMIC_DEVICE_PUBLICKEY);
        let signature = header(&parts.headers, X_DYNAMIC_DEVICE_SIGNED_NONCE);
        let sig = match (nonce, public_key, signature) {
            (None, None, None) => None,
            (n, p, s) => Some(DeviceSignature {
                nonce: n.unwrap_or_default().to_owned(),
                public_key_hex: p.unwrap_or_default().to_owned(),
                signature_hex: s.unwrap_or_default().to_owned(),
            }),
        };
        state
            .with(|a| a.check_device_signature(sig))
            .map(|()| DeviceSigned)
    }
}

/// The `x-dyn-elevated-access-token` of a route protected by scope `S`: read here, checked
/// (and spent) by the authority's rule for the route.
impl<S: ProtectedScope> FromRequestParts<AppState> for PresentedToken<S> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PresentedToken::new(header(
            &parts.headers,
            X_DYN_ELEVATED_ACCESS_TOKEN,
        )))
    }
}

/// A JSON body whose failures are 422 `{error, code:"invalid_request"}`, never axum's text.
pub(super) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // JSON only as JSON: a `text/plain` body is what a cross-site form or a no-preflight
        // `fetch` can send, so it is refused before it is read.
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "the request body must be sent as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the request body is too large or unreadable",
            )
        })?;
        if bytes.is_empty() {
            return Err(ApiError::invalid_request("this endpoint needs a JSON body"));
        }
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => {
                    // "missing field `code`" is useful; the value itself is not echoed.
                    let msg = e.to_string();
                    let msg = msg.split(" at line").next().unwrap_or("").to_owned();
                    if msg.contains("invalid type") || msg.contains("invalid value") {
                        "a field has the wrong type or value".to_owned()
                    } else {
                        msg
                    }
                }
                _ => "the body is not valid JSON".to_owned(),
            };
            ApiError::invalid_request(format!("malformed request body: {what}"))
        })
    }
}

/// `Content-Type: application/json`, with parameters (`; charset=utf-8`) or without.
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The client's IP address, when the server knows it (always, served with connect info).
pub(super) struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<super::listener::PeerAddr>>()
                .map(|info| info.0 .0.ip()),
        ))
    }
}
