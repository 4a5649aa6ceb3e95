//! The two error types: [`ApiError`] (what an HTTP caller sees) and [`SandboxError`] (what the
//! embedding program sees when starting the sandbox or creating users).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use stepup_protocol::{codes, ErrorBody};

/// Why the sandbox could not start or could not do what its owner asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The state file exists but cannot be read or parsed.
    #[error("cannot load the sandbox state from {path}: {reason}")]
    LoadState {
        /// The state file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The state file could not be written.
    #[error("cannot save the sandbox state to {path}: {reason}")]
    SaveState {
        /// The state file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The state file belongs to another environment.
    #[error(
        "the state file belongs to environment {found}, not {expected}: use another --state file"
    )]
    EnvironmentMismatch {
        /// The configured environment id.
        expected: String,
        /// The one in the file.
        found: String,
    },
    /// The configuration is not usable.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    /// A user with this email or phone number already exists.
    #[error("a user with {0} already exists")]
    UserExists(String),
    /// A user spec field is invalid (bad email, bad phone ...).
    #[error("invalid user: {0}")]
    InvalidUser(String),
}

/// An HTTP error: status plus the `{error, code, payload?}` body every Dynamic error has.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: ErrorBody,
    /// Adds RFC 9470's `WWW-Authenticate: Bearer error="insufficient_user_authentication"`.
    pub step_up_challenge: bool,
    /// Adds `retry-after: <seconds>` (a 429).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with a status, a machine code and a sentence.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message),
            step_up_challenge: false,
            retry_after_s: None,
        }
    }

    /// 429 `too_many_requests`, with `retry-after`.
    pub fn rate_limited(what: &str, retry_after_s: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many {what}: try again in {retry_after_s} s"),
        );
        e.retry_after_s = Some(retry_after_s);
        e
    }

    /// 422 with a code.
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 422 for a malformed or out-of-bounds field (`invalid_request`).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::unprocessable("invalid_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403 `step_up_required` for `scope`, with the RFC 9470 challenge header.
    pub fn step_up_required(scope: &str, why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            codes::STEP_UP_REQUIRED,
            format!("this action needs a fresh verification for scope {scope}: {why}"),
        );
        e.body.payload = Some(serde_json::json!({ "scope": scope }));
        e.step_up_challenge = true;
        e
    }

    /// Attaches a JSON payload.
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.body.payload = Some(payload);
        self
    }

    /// 500, for a state file that cannot be written; the message names no secret.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.step_up_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_user_authentication\""),
            );
        }
        if let Some(seconds) = self.retry_after_s {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
