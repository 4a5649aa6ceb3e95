//! The HTTP surface: Dynamic's paths under `/api/v0/sdk/{environmentId}/`, the sandbox-only
//! views under `/api/v0/sandbox/{environmentId}/`, extractors that turn every failure into a
//! `{error, code}` body, and request logging that never records a secret.

use axum::body::Bytes;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, RawPathParams, RawQuery, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::{Arc, Mutex, PoisonError};
use stepup_protocol::headers::{
    is_device_signed, X_DYNAMIC_DEVICE_NONCE, X_DYNAMIC_DEVICE_PUBLICKEY,
    X_DYNAMIC_DEVICE_SIGNED_NONCE, X_DYN_ELEVATED_ACCESS_TOKEN,
};
use stepup_protocol::{
    EmailVerificationCreateRequest, ExportPrivateKeyRequest, ExternalAuthVerifyRequest,
    MfaPasskeyRegisterRequest, OtpSignInRequest, OtpVerifyRequest, PasskeyAuthRequest,
    PasskeyRegisterRequest, RecoveryAuthRequest, SmsVerificationCreateRequest, StepUpCheckRequest,
    TokenScope, TotpAuthRequest, TotpRegisterVerifyRequest,
};

use crate::authority::{Authority, DeviceSignature, SessionCtx};
use crate::error::ApiError;
use crate::Channel;

/// Request bodies above this size are refused.
const BODY_LIMIT: usize = 64 * 1024;
/// Header values above this size are ignored as hostile.
const MAX_HEADER_LEN: usize = 16 * 1024;

/// What every handler shares.
pub(crate) struct Shared {
    /// The environment id this sandbox serves.
    pub env: String,
    /// The rules and state.
    pub authority: Mutex<Authority>,
}

impl Shared {
    /// Runs `f` with the authority locked. `f` is synchronous, so no lock is held across an await.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Authority) -> R) -> R {
        let mut guard = self
            .authority
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

type AppState = Arc<Shared>;

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
        .route("/refresh", post(refresh))
        .route("/users", get(get_user))
        .route("/revoke", post(revoke))
        .route("/stepUp/check", post(step_up_check))
        .route("/users/mfa/auth/totp", post(totp_auth))
        .route("/users/mfa/auth/recovery", post(recovery_auth))
        .route("/users/mfa/auth/passkey", post(passkey_auth))
        .route("/users/passkeys/authenticate", get(passkey_auth_options))
        .route(
            "/users/mfa/register/passkey",
            get(register_mfa_passkey).post(register_mfa_passkey_finish),
        )
        .route(
            "/users/passkeys/register",
            get(register_account_passkey).post(register_account_passkey_finish),
        )
        .route("/externalAuth/verify", post(external_auth_verify))
        .route(
            "/users/mfa/register/totp",
            get(register_totp).post(register_totp_verify),
        )
        .route("/users/mfa", get(list_mfa))
        .route(
            "/users/mfa/{device_id}",
            axum::routing::delete(delete_mfa).put(set_default_mfa),
        )
        .route(
            "/waas/{wallet_id}/privateKey/export",
            post(export_private_key),
        );
    let sandbox = Router::new()
        .route("/outbox", get(outbox))
        .route("/demo", get(demo));
    Router::new()
        .nest("/api/v0/sdk/{env}", sdk)
        .nest("/api/v0/sandbox/{env}", sandbox)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
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

// ---------------------------------------------------------------- extractors

/// The request's path parameters with the environment checked.
struct Env {
    params: Vec<(String, String)>,
}

impl Env {
    fn param(&self, name: &str) -> Result<&str, ApiError> {
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
        if params.iter().any(|(_, v)| v.len() > 128) {
            return Err(ApiError::invalid_request(
                "a path parameter is longer than 128 characters",
            ));
        }
        Ok(Self { params })
    }
}

/// A signed-in caller (a valid, live session JWT in `Authorization: Bearer`).
struct Authed(SessionCtx);

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
        state.with(|a| a.authenticate(bearer)).map(Authed)
    }
}

/// The device nonce signature of a path on the SDK's signed list, checked.
struct DeviceSigned;

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

/// A JSON body whose failures are 422 `{error, code:"invalid_request"}`, never axum's text.
struct ApiJson<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_HEADER_LEN)
}

// ---------------------------------------------------------------- public endpoints

async fn settings(State(s): State<AppState>, _env: Env) -> Json<serde_json::Value> {
    Json(s.with(|a| a.settings()))
}

async fn nonces(
    State(s): State<AppState>,
    _env: Env,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let count = match query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "count")
            .map(|(_, v)| v.into_owned())
    }) {
        None => 1,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=20).contains(&n) => n,
            _ => return Err(ApiError::invalid_request("count is a number from 1 to 20")),
        },
    };
    let nonces = s.with(|a| a.issue_nonces(count));
    Ok(Json(stepup_protocol::NoncesResponse { nonces }).into_response())
}

async fn nonce(State(s): State<AppState>, _env: Env) -> Json<stepup_protocol::NonceResponse> {
    let nonce = s
        .with(|a| a.issue_nonces(1))
        .into_iter()
        .next()
        .unwrap_or_default();
    Json(stepup_protocol::NonceResponse { nonce })
}

async fn email_create(
    State(s): State<AppState>,
    _env: Env,
    ApiJson(req): ApiJson<EmailVerificationCreateRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.create_email_verification(&req.email))
        .map(|r| Json(r).into_response())
}

async fn sms_create(
    State(s): State<AppState>,
    _env: Env,
    ApiJson(req): ApiJson<SmsVerificationCreateRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.create_sms_verification(&req))
        .map(|r| Json(r).into_response())
}

async fn email_signin(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    ApiJson(req): ApiJson<OtpSignInRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.otp_sign_in(Channel::Email, &req))
        .map(|r| Json(r).into_response())
}

async fn sms_signin(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    ApiJson(req): ApiJson<OtpSignInRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.otp_sign_in(Channel::Sms, &req))
        .map(|r| Json(r).into_response())
}

// ---------------------------------------------------------------- signed-in endpoints

async fn email_verify(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<OtpVerifyRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.otp_verify(&ctx, Channel::Email, &req))
        .map(|r| Json(r).into_response())
}

async fn sms_verify(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<OtpVerifyRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.otp_verify(&ctx, Channel::Sms, &req))
        .map(|r| Json(r).into_response())
}

async fn refresh(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
) -> Result<Response, ApiError> {
    s.with(|a| a.refresh(&ctx)).map(|r| Json(r).into_response())
}

async fn get_user(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Result<Response, ApiError> {
    s.with(|a| a.sdk_user(&ctx.user_id, Some(&ctx.sid)))
        .map(|r| Json(r).into_response())
}

async fn revoke(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Result<StatusCode, ApiError> {
    s.with(|a| a.revoke(&ctx)).map(|()| StatusCode::NO_CONTENT)
}

async fn step_up_check(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<StepUpCheckRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.step_up_check(&ctx, &req.scope))
        .map(|r| Json(r).into_response())
}

async fn totp_auth(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<TotpAuthRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.totp_auth(&ctx, &req))
        .map(|r| Json(r).into_response())
}

async fn recovery_auth(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<RecoveryAuthRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.recovery_auth(&ctx, &req))
        .map(|r| Json(r).into_response())
}

async fn external_auth_verify(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<ExternalAuthVerifyRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.external_auth_verify(&ctx, &req.jwt))
        .map(|r| Json(r).into_response())
}

async fn passkey_auth_options(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Result<Response, ApiError> {
    s.with(|a| a.passkey_auth_options(&ctx))
        .map(|r| Json(r).into_response())
}

async fn passkey_auth(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<PasskeyAuthRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.passkey_auth(&ctx, &req))
        .map(|r| Json(r).into_response())
}

// ---------------------------------------------------------------- scope-protected endpoints

/// Passkey registration, MFA flavour: `GET` needs a `credential:link` token; the `POST`
/// finishes the ceremony that `GET` started (its challenge is the proof).
async fn register_mfa_passkey(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.with(|a| {
        a.require_elevated(
            &ctx,
            TokenScope::CredentialLink.as_str(),
            elevated(&headers),
        )?;
        a.passkey_mfa_register_start(&ctx)
    })
    .map(|r| Json(r).into_response())
}

async fn register_mfa_passkey_finish(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<MfaPasskeyRegisterRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.passkey_mfa_register_finish(&ctx, &req))
        .map(|r| Json(r).into_response())
}

/// Account passkeys (the SDK's `registerPasskey`): same rule, `PasskeyRegisterRequest` body.
async fn register_account_passkey(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.with(|a| {
        a.require_elevated(
            &ctx,
            TokenScope::CredentialLink.as_str(),
            elevated(&headers),
        )?;
        a.passkey_account_register_start(&ctx)
    })
    .map(|r| Json(r).into_response())
}

async fn register_account_passkey_finish(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<PasskeyRegisterRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.passkey_account_register_finish(&ctx, &req))
        .map(|r| Json(r).into_response())
}

fn elevated(headers: &HeaderMap) -> Option<&str> {
    header(headers, X_DYN_ELEVATED_ACCESS_TOKEN)
}

async fn register_totp(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.with(|a| {
        a.require_elevated(
            &ctx,
            TokenScope::CredentialLink.as_str(),
            elevated(&headers),
        )?;
        a.register_totp_start(&ctx)
    })
    .map(|r| Json(r).into_response())
}

async fn register_totp_verify(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<TotpRegisterVerifyRequest>,
) -> Result<Response, ApiError> {
    s.with(|a| a.register_totp_verify(&ctx, &req))
        .map(|r| Json(r).into_response())
}

async fn list_mfa(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Result<Response, ApiError> {
    s.with(|a| a.list_mfa(&ctx))
        .map(|r| Json(r).into_response())
}

async fn delete_mfa(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = env.param("device_id")?.to_owned();
    s.with(|a| {
        a.has_device(&ctx, &id)?;
        a.require_elevated(
            &ctx,
            TokenScope::CredentialUnlink.as_str(),
            elevated(&headers),
        )?;
        a.delete_mfa(&ctx, &id)
    })
    .map(|()| StatusCode::NO_CONTENT)
}

/// `PUT users/mfa/{id}` body; the SDK's `setDefaultMfaDevice` sends none, meaning "default".
#[derive(Deserialize)]
struct SetDefaultBody {
    #[serde(default)]
    default: Option<bool>,
}

async fn set_default_mfa(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = env.param("device_id")?.to_owned();
    let default = if body.is_empty() {
        true
    } else {
        serde_json::from_slice::<SetDefaultBody>(&body)
            .map_err(|_| {
                ApiError::invalid_request("malformed request body: expected {\"default\": bool}")
            })?
            .default
            .unwrap_or(true)
    };
    s.with(|a| a.set_default_mfa(&ctx, &id, default))
        .map(|r| Json(r).into_response())
}

async fn export_private_key(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ExportPrivateKeyRequest>,
) -> Result<Response, ApiError> {
    let wallet_id = env.param("wallet_id")?.to_owned();
    if req.export_id.is_empty() || req.export_id.len() > 128 {
        return Err(ApiError::invalid_request(
            "exportId has 1 to 128 characters",
        ));
    }
    s.with(|a| {
        a.own_wallet(&ctx, &wallet_id)?;
        a.require_elevated(&ctx, TokenScope::WalletExport.as_str(), elevated(&headers))?;
        a.export_key(&ctx, &wallet_id, &req)
    })
    .map(|r| Json(r).into_response())
}

// ---------------------------------------------------------------- sandbox-only views

async fn outbox(State(s): State<AppState>, _env: Env) -> Json<serde_json::Value> {
    let messages = s.with(|a| a.outbox());
    Json(serde_json::Value::Array(
        messages
            .iter()
            .map(|m| {
                serde_json::json!({
                    "channel": m.channel.as_str(),
                    "to": m.to,
                    "code": m.code.expose(),
                    "verificationUUID": m.verification_uuid,
                    "createdAt": m.created_at_ms,
                })
            })
            .collect(),
    ))
}

async fn demo(State(s): State<AppState>, _env: Env) -> Result<Response, ApiError> {
    let (demo, code) = s.with(|a| {
        let demo = a.demo();
        let code = demo
            .as_ref()
            .and_then(|d| d.totp_secret_base32.as_ref())
            .and_then(|sec| a.totp_now(sec.expose()));
        (demo, code)
    });
    let demo = demo.ok_or_else(|| {
        ApiError::not_found("this sandbox has no demo user (start it with --seed-demo)")
    })?;
    Ok(Json(serde_json::json!({
        "userId": demo.user_id,
        "email": demo.email,
        "phone": demo.phone.as_ref().map(|(cc, iso, n)| serde_json::json!({"phoneCountryCode": cc, "isoCountryCode": iso, "phoneNumber": n})),
        "totpDeviceId": demo.totp_device_id,
        "totpSecret": demo.totp_secret_base32.as_ref().map(|s| s.expose().to_owned()),
        "totpCode": code,
        "recoveryCodes": demo.recovery_codes.iter().map(|c| c.expose().to_owned()).collect::<Vec<_>>(),
        "walletId": demo.wallet_id,
        "walletAddress": demo.wallet_address,
        "passkeyDeviceId": demo.passkey_device_id,
    }))
    .into_response())
}
