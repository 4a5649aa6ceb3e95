//! The route table. A route protected by a scope names it in its handler's signature
//! (`PresentedToken<CredentialLink>` ...), listed here beside each route.

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;

use super::handlers::*;
use super::AppState;
use crate::error::ApiError;

/// Request bodies above this size are refused.
const BODY_LIMIT: usize = 64 * 1024;

/// The router of a sandbox.
pub(crate) fn router(shared: AppState) -> Router {
    let sdk = Router::new()
        .route("/settings", get(settings))
        .route("/nonces", get(nonces))
        .route("/nonce", get(nonce))
        .route("/emailVerifications/create", post(email_create))
        .route("/emailVerifications/signin", post(email_signin))
        .route("/emailVerifications/verify", post(email_verify))
        .route("/smsVerifications/create", post(sms_create))
        .route("/smsVerifications/signin", post(sms_signin))
        .route("/smsVerifications/verify", post(sms_verify))
        .route("/wallets/verify", post(wallet_verify))
        .route("/providers/{provider}/initAuth", post(provider_init_auth))
        .route("/providers/{provider}/redirect", get(provider_redirect))
        // POST: credential:link, checked when sent (the SDK attaches it), not required.
        .route("/providers/{provider}/verify", post(provider_verify))
        .route("/refresh", post(refresh))
        .route("/users", get(get_user))
        .route("/revoke", post(revoke))
        .route("/stepUp/check", post(step_up_check))
        .route("/users/mfa/auth/totp", post(totp_auth))
        .route("/users/mfa/auth/recovery", post(recovery_auth))
        .route("/users/mfa/auth/passkey", post(passkey_auth))
        .route("/users/passkeys/authenticate", get(passkey_auth_options))
        // GET: credential:link. POST: answers the GET's challenge.
        .route(
            "/users/mfa/register/passkey",
            get(register_mfa_passkey).post(register_mfa_passkey_finish),
        )
        // GET: the options, no token (as the SDK sends it). POST: credential:link, and
        // answers the GET's challenge.
        .route(
            "/users/passkeys/register",
            get(register_account_passkey).post(register_account_passkey_finish),
        )
        // GET: the list. DELETE {passkeyId}: credential:unlink.
        .route("/users/passkeys", get(list_passkeys).delete(delete_passkey))
        .route("/externalAuth/verify", post(external_auth_verify))
        .route("/externalAuth/signin", post(external_auth_signin))
        // POST: credential:unlink (the SDK's unlinkSocialAccount).
        .route("/verify/unlink", post(unlink))
        // GET: credential:link. POST: the pending device's first code.
        .route(
            "/users/mfa/register/totp",
            get(register_totp).post(register_totp_verify),
        )
        .route("/users/mfa", get(list_mfa))
        // Before `users/mfa/{device_id}` in meaning: a static segment wins over the capture,
        // so these two never reach the device route (which would answer 405).
        .route("/users/mfa/methods", get(mfa_methods))
        // GET: the count. POST: credential:link, a new set of codes.
        .route(
            "/users/mfa/recovery",
            get(recovery_codes).post(regenerate_recovery_codes),
        )
        // DELETE: credential:unlink.
        .route(
            "/users/mfa/{device_id}",
            delete(delete_mfa).put(set_default_mfa),
        )
        // POST: wallet:export.
        .route(
            "/waas/{wallet_id}/privateKey/export",
            post(export_private_key),
        );
    let sandbox = Router::new()
        .route("/outbox", get(outbox))
        .route("/demo", get(demo))
        // The customer's external-auth key, as `security.externalAuth.jwksUrl` names it.
        .route("/external-auth/jwks.json", get(external_auth_jwks))
        // The demo's customer backend (--customer-backend): a signed step-up link for a user.
        .route("/customer/assertion", post(customer_assertion))
        // The social provider's authorisation page (a stand-in for Google's, GitHub's).
        .route(
            "/oauth/{provider}/authorize",
            get(oauth_authorize).post(oauth_decide),
        );
    Router::new()
        .nest("/api/v0/sdk/{env}", sdk)
        .nest("/api/v0/sandbox/{env}", sandbox)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(loopback_host_only))
        .layer(middleware::from_fn(log_request))
        .with_state(shared)
}

/// Logs method, path and status. The query string and headers are never logged: they may
/// carry codes or tokens.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), "request");
    response
}

/// Answers only requests addressed to this machine by name: `Host` must be 127.0.0.1,
/// localhost or [::1] (any port). A page on another site that rebinds its own name to
/// 127.0.0.1 (DNS rebinding) sends its own name as `Host`, and is refused before any handler
/// runs: it cannot read `/sandbox/{env}/demo` (the TOTP secret) or the outbox, nor call the API.
async fn loopback_host_only(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        next.run(request).await
    } else {
        tracing::warn!("refused a request addressed to another host");
        axum::response::IntoResponse::into_response(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "host_not_allowed",
            "the sandbox answers only requests addressed to 127.0.0.1, localhost or [::1]",
        ))
    }
}

/// `host[:port]` where host is 127.0.0.1, localhost or [::1].
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let (name, port) = if host.starts_with('[') {
        match host.split_once(']') {
            Some((inner, "")) => (format!("{inner}]"), None),
            Some((inner, after)) => match after.strip_prefix(':') {
                Some(port) => (format!("{inner}]"), Some(port)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name.to_owned(), Some(port)),
            None => (host.to_owned(), None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && matches!(
            name.to_ascii_lowercase().as_str(),
            "127.0.0.1" | "localhost" | "[::1]"
        )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint in the sandbox")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept this method",
    )
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8787",
            "localhost:1",
            "LOCALHOST",
            "[::1]",
            "[::1]:9",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8787",
            "127.0.0.1.nip.io",
            "localhost.evil",
            "127.0.0.1:x",
            "127.0.0.1:",
            "[::1]x",
            "[::2]:80",
            "0.0.0.0:80",
            "127.0.0.1:8787:1",
            "[::1]:123456",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
