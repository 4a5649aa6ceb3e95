//! One handler per route: extract, call the authority's rule under the lock, serialise.
//! Extractors run in signature order, so `Env` (404) comes before `DeviceSigned` (401)
//! before `Authed` (401) before the body (422). A scope-protected route says its scope in
//! its signature, as the `PresentedToken<S>` it hands to the authority.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use stepup_protocol::{
    DeletePasskeyRequest, EmailVerificationCreateRequest, EmailVerificationCreateResponse,
    ExportPrivateKeyRequest, ExportPrivateKeyResponse, ExternalAuthAssertionResponse,
    ExternalAuthSigninRequest, ExternalAuthVerifyRequest, MfaDevice, MfaDevicesResponse,
    MfaMethodsResponse, MfaPasskeyRegisterRequest, MfaPasskeyRegistration, NonceResponse,
    NoncesResponse, OauthInitAuthRequest, OauthVerifyRequest, OtpSignInRequest, OtpVerifyRequest,
    PasskeyAuthRequest, PasskeyAuthenticationOptions, PasskeyRegisterRequest,
    PasskeyRegistrationOptions, RecoveryAuthRequest, RecoveryCodesResponse, SdkUser,
    SmsVerificationCreateRequest, SmsVerificationCreateResponse, StepUpCheck, StepUpCheckRequest,
    TotpAuthRequest, TotpRegisterVerifyRequest, TotpRegistration, UserPasskeysResponse,
    VerifyResponse, VerifyUnlinkRequest, WalletVerifyRequest,
};

use super::extractors::{
    form_pairs, ApiJson, Authed, ClientAddr, DeviceSigned, Env, MaybeAuthed, QueryPairs, SessionKey,
};
use super::{pages, views, AppState};
use crate::authority::{CredentialLink, CredentialUnlink, PresentedToken, WalletExport};
use crate::error::ApiError;
use crate::Channel;

/// What a handler answers: a JSON body, or the `{error, code}` of its refusal.
type Reply<T> = Result<Json<T>, ApiError>;

// ---------------------------------------------------------------- public endpoints

/// `GET settings`, with an `ETag` (the document's SHA-256, cut to 128 bits) and `304 Not
/// Modified` to an `If-None-Match` that names it (or `*`).
pub(super) async fn settings(
    State(s): State<AppState>,
    _env: Env,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
    use axum::response::IntoResponse as _;
    use sha2::Digest as _;
    let body = serde_json::to_vec(&s.with(|a| a.settings())).unwrap_or_default();
    let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(&body)[..16]));
    let not_modified = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 1024)
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .take(16)
                .any(|t| t == etag || t == "*")
        });
    s.with(|a| {
        let reads = &mut a.settings_reads;
        if not_modified {
            reads.not_modified += 1;
        } else {
            reads.full += 1;
        }
    });
    let cache = [(ETAG, etag), (CACHE_CONTROL, "private, max-age=300".into())];
    if not_modified {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        StatusCode::OK,
        cache,
        [(CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

pub(super) async fn nonces(
    State(s): State<AppState>,
    _env: Env,
    RawQuery(query): RawQuery,
) -> Reply<NoncesResponse> {
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
    Ok(Json(NoncesResponse { nonces }))
}

pub(super) async fn nonce(State(s): State<AppState>, _env: Env) -> Json<NonceResponse> {
    let nonce = s
        .with(|a| a.issue_nonces(1))
        .into_iter()
        .next()
        .unwrap_or_default();
    Json(NonceResponse { nonce })
}

pub(super) async fn email_create(
    State(s): State<AppState>,
    _env: Env,
    client: ClientAddr,
    ApiJson(req): ApiJson<EmailVerificationCreateRequest>,
) -> Reply<EmailVerificationCreateResponse> {
    s.with(|a| a.create_email_verification(&req.email, client.0))
        .map(Json)
}

pub(super) async fn sms_create(
    State(s): State<AppState>,
    _env: Env,
    client: ClientAddr,
    ApiJson(req): ApiJson<SmsVerificationCreateRequest>,
) -> Reply<SmsVerificationCreateResponse> {
    s.with(|a| a.create_sms_verification(&req, client.0))
        .map(Json)
}

pub(super) async fn email_signin(
    State(s): State<AppState>,
    _env: Env,
    SessionKey(key): SessionKey,
    _sig: DeviceSigned,
    ApiJson(req): ApiJson<OtpSignInRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.otp_sign_in(Channel::Email, &req, key))
        .map(Json)
}

pub(super) async fn sms_signin(
    State(s): State<AppState>,
    _env: Env,
    SessionKey(key): SessionKey,
    _sig: DeviceSigned,
    ApiJson(req): ApiJson<OtpSignInRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.otp_sign_in(Channel::Sms, &req, key)).map(Json)
}

/// `POST externalAuth/signin` (the SDK's `signInWithExternalJwt`; device-signed).
pub(super) async fn external_auth_signin(
    State(s): State<AppState>,
    _env: Env,
    SessionKey(key): SessionKey,
    _sig: DeviceSigned,
    ApiJson(req): ApiJson<ExternalAuthSigninRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.external_auth_sign_in(&req, key)).map(Json)
}

// ---------------------------------------------------------------- signed-in endpoints

pub(super) async fn email_verify(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<OtpVerifyRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.otp_verify(&ctx, Channel::Email, &req))
        .map(Json)
}

pub(super) async fn sms_verify(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<OtpVerifyRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.otp_verify(&ctx, Channel::Sms, &req)).map(Json)
}

/// `POST wallets/verify`: step-up with an external wallet's SIWE signature (device-signed).
pub(super) async fn wallet_verify(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<WalletVerifyRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.wallet_verify(&ctx, &req)).map(Json)
}

pub(super) async fn refresh(
    State(s): State<AppState>,
    _env: Env,
    _sig: DeviceSigned,
    Authed(ctx): Authed,
) -> Reply<VerifyResponse> {
    s.with(|a| a.refresh(&ctx)).map(Json)
}

pub(super) async fn get_user(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Reply<SdkUser> {
    s.with(|a| a.sdk_user(&ctx.user_id, Some(&ctx.sid)))
        .map(Json)
}

/// `POST revoke`, with the SDK's `x-dyn-logout-reason`.
pub(super) async fn revoke(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let reason = headers
        .get(stepup_protocol::headers::X_DYN_LOGOUT_REASON)
        .and_then(|v| v.to_str().ok());
    s.with(|a| a.revoke(&ctx, reason))
        .map(|()| StatusCode::NO_CONTENT)
}

pub(super) async fn step_up_check(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<StepUpCheckRequest>,
) -> Reply<StepUpCheck> {
    s.with(|a| a.step_up_check(&ctx, &req.scope)).map(Json)
}

pub(super) async fn totp_auth(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<TotpAuthRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.totp_auth(&ctx, &req)).map(Json)
}

pub(super) async fn recovery_auth(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<RecoveryAuthRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.recovery_auth(&ctx, &req)).map(Json)
}

pub(super) async fn external_auth_verify(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<ExternalAuthVerifyRequest>,
) -> Reply<ExternalAuthAssertionResponse> {
    s.with(|a| a.external_auth_verify(&ctx, &req.jwt)).map(Json)
}

pub(super) async fn passkey_auth_options(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Reply<PasskeyAuthenticationOptions> {
    s.with(|a| a.passkey_auth_options(&ctx)).map(Json)
}

pub(super) async fn passkey_auth(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<PasskeyAuthRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.passkey_auth(&ctx, &req)).map(Json)
}

pub(super) async fn register_mfa_passkey_finish(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<MfaPasskeyRegisterRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.passkey_mfa_register_finish(&ctx, &req))
        .map(Json)
}

pub(super) async fn register_totp_verify(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    ApiJson(req): ApiJson<TotpRegisterVerifyRequest>,
) -> Reply<MfaDevice> {
    s.with(|a| a.register_totp_verify(&ctx, &req)).map(Json)
}

pub(super) async fn list_mfa(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Reply<MfaDevicesResponse> {
    s.with(|a| a.list_mfa(&ctx)).map(Json)
}

/// `GET users/mfa/methods[?verifiedOnly=true|false]` (the SDK's `getMfaMethods`).
pub(super) async fn mfa_methods(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    QueryPairs(query): QueryPairs,
) -> Reply<MfaMethodsResponse> {
    let verified_only = match query
        .iter()
        .find(|(k, _)| k == "verifiedOnly")
        .map(|(_, v)| v.as_str())
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_request("verifiedOnly is true or false")),
    };
    s.with(|a| a.mfa_methods(&ctx, verified_only)).map(Json)
}

/// `GET users/mfa/recovery` (the SDK's `getMfaRecoveryCodes`): the count of unused codes.
pub(super) async fn recovery_codes(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Reply<RecoveryCodesResponse> {
    s.with(|a| a.recovery_codes_status(&ctx)).map(Json)
}

/// `PUT users/mfa/{id}` body; the SDK's `setDefaultMfaDevice` sends none, meaning "default".
#[derive(Deserialize)]
struct SetDefaultBody {
    #[serde(default)]
    default: Option<bool>,
}

pub(super) async fn set_default_mfa(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    body: Bytes,
) -> Reply<MfaDevice> {
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
    s.with(|a| a.set_default_mfa(&ctx, &id, default)).map(Json)
}

// ---------------------------------------------------------------- scope-protected endpoints

/// `GET users/mfa/register/passkey` (`credential:link`); the `POST` finishes the ceremony
/// this starts (its challenge is the proof).
pub(super) async fn register_mfa_passkey(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialLink>,
) -> Reply<MfaPasskeyRegistration> {
    s.with(|a| a.passkey_mfa_register_start(&ctx, &token))
        .map(Json)
}

/// `GET users/passkeys/register`: the options of an account passkey (the SDK's
/// `registerPasskey` sends no token here).
pub(super) async fn register_account_passkey(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Reply<PasskeyRegistrationOptions> {
    s.with(|a| a.passkey_account_register_start(&ctx)).map(Json)
}

/// `POST users/passkeys/register` (`credential:link`, where the SDK's `serverRegisterPasskey`
/// attaches it): answers the GET's challenge.
pub(super) async fn register_account_passkey_finish(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialLink>,
    ApiJson(req): ApiJson<PasskeyRegisterRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.passkey_account_register_finish(&ctx, &req, &token))
        .map(Json)
}

/// `GET users/mfa/register/totp` (`credential:link`).
pub(super) async fn register_totp(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialLink>,
) -> Reply<TotpRegistration> {
    s.with(|a| a.register_totp_start(&ctx, &token)).map(Json)
}

/// `POST users/mfa/recovery` (`credential:link`; the SDK's `createNewMfaRecoveryCodes`, which
/// sends no body): a new set of codes, the old ones dead.
pub(super) async fn regenerate_recovery_codes(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialLink>,
) -> Reply<RecoveryCodesResponse> {
    s.with(|a| a.regenerate_recovery_codes(&ctx, &token))
        .map(Json)
}

/// `DELETE users/mfa/{id}` (`credential:unlink`).
pub(super) async fn delete_mfa(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialUnlink>,
) -> Result<StatusCode, ApiError> {
    let id = env.param("device_id")?.to_owned();
    s.with(|a| a.delete_mfa(&ctx, &id, &token))
        .map(|()| StatusCode::NO_CONTENT)
}

/// `GET users/passkeys` (the SDK's `getPasskeys`).
pub(super) async fn list_passkeys(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
) -> Reply<UserPasskeysResponse> {
    s.with(|a| a.list_passkeys(&ctx)).map(Json)
}

/// `DELETE users/passkeys {passkeyId}` (`credential:unlink`; the SDK's `deletePasskey`).
pub(super) async fn delete_passkey(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialUnlink>,
    ApiJson(req): ApiJson<DeletePasskeyRequest>,
) -> Result<StatusCode, ApiError> {
    s.with(|a| a.delete_passkey(&ctx, &req.passkey_id, &token))
        .map(|()| StatusCode::NO_CONTENT)
}

/// `POST verify/unlink {verifiedCredentialId, walletId?}` (`credential:unlink`; the SDK's
/// `unlinkSocialAccount`).
pub(super) async fn unlink(
    State(s): State<AppState>,
    _env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialUnlink>,
    ApiJson(req): ApiJson<VerifyUnlinkRequest>,
) -> Reply<VerifyResponse> {
    s.with(|a| a.unlink_credential(&ctx, &req, &token))
        .map(Json)
}

/// `POST waas/{walletId}/privateKey/export` (`wallet:export`).
pub(super) async fn export_private_key(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<WalletExport>,
    ApiJson(req): ApiJson<ExportPrivateKeyRequest>,
) -> Reply<ExportPrivateKeyResponse> {
    let wallet_id = env.param("wallet_id")?.to_owned();
    s.with(|a| a.export_key(&ctx, &wallet_id, &req, &token))
        .map(Json)
}

// ---------------------------------------------------------------- social sign-in

/// `POST providers/{p}/initAuth`: the state, the app's redirect URL, and the user if signed in.
pub(super) async fn provider_init_auth(
    State(s): State<AppState>,
    env: Env,
    MaybeAuthed(ctx): MaybeAuthed,
    ApiJson(req): ApiJson<OauthInitAuthRequest>,
) -> Result<StatusCode, ApiError> {
    let provider = env.param("provider")?.to_owned();
    s.with(|a| a.social_init_auth(ctx.as_ref(), &provider, &req))
        .map(|()| StatusCode::NO_CONTENT)
}

/// `GET providers/{p}/redirect` (Dynamic's side): the provider's code becomes a
/// `dynamicOauthCode` on its way to the app.
pub(super) async fn provider_redirect(
    State(s): State<AppState>,
    env: Env,
    QueryPairs(query): QueryPairs,
) -> axum::response::Response {
    let provider = match env.param("provider") {
        Ok(p) => p.to_owned(),
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    match s.with(|a| a.social_redirect(&provider, &query)) {
        Ok(location) => pages::redirect(&location),
        Err(e) => pages::error(&e),
    }
}

/// `POST providers/{p}/verify` (`credential:link` attached by the SDK; checked if sent).
pub(super) async fn provider_verify(
    State(s): State<AppState>,
    env: Env,
    Authed(ctx): Authed,
    token: PresentedToken<CredentialLink>,
    ApiJson(req): ApiJson<OauthVerifyRequest>,
) -> Reply<VerifyResponse> {
    let provider = env.param("provider")?.to_owned();
    s.with(|a| a.social_verify(&ctx, &provider, &req, &token))
        .map(Json)
}

/// `GET sandbox/{env}/oauth/{p}/authorize`: the provider's authorisation page.
pub(super) async fn oauth_authorize(
    State(s): State<AppState>,
    env: Env,
    QueryPairs(query): QueryPairs,
) -> axum::response::Response {
    let provider = match env.param("provider") {
        Ok(p) => p.to_owned(),
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    match s.with(|a| a.social_authorize(&provider, &query)) {
        Ok(view) => pages::consent(&view),
        Err(e) => pages::error(&e),
    }
}

/// `POST sandbox/{env}/oauth/{p}/authorize` (a form: `consent`, `decision=allow|deny`), from
/// the page itself: a browser's `Origin`, when sent, must be this sandbox's.
pub(super) async fn oauth_decide(
    State(s): State<AppState>,
    env: Env,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let refuse = |status: u16, message: &str| {
        pages::error(&crate::authority::social::PageError {
            status,
            message: message.into(),
        })
    };
    let Ok(provider) = env.param("provider").map(str::to_owned) else {
        return refuse(500, "missing provider");
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        if origin.to_str().ok() != Some(format!("http://{host}").as_str()) {
            return refuse(403, "Only the authorisation page itself can answer it.");
        }
    }
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return refuse(415, "The answer must be the page's form.");
    }
    let Ok(pairs) = form_pairs(&body) else {
        return refuse(400, "The form is too long.");
    };
    let field = |name: &str| {
        let mut values = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    };
    let allow = match field("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return refuse(400, "The form says neither Allow nor Deny."),
    };
    let Some(consent) = field("consent").filter(|c| c.len() <= 128) else {
        return refuse(400, "The form has no consent.");
    };
    match s.with(|a| a.social_decide(&provider, consent, allow)) {
        Ok(location) => pages::redirect(&location),
        Err(e) => pages::error(&e),
    }
}

// ---------------------------------------------------------------- sandbox-only views

pub(super) async fn outbox(State(s): State<AppState>, _env: Env) -> Json<serde_json::Value> {
    Json(views::outbox(&s.with(|a| a.outbox())))
}

pub(super) async fn demo(State(s): State<AppState>, _env: Env) -> Reply<serde_json::Value> {
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
    Ok(Json(views::demo(&demo, code)))
}

// ---------------------------------------------------------------- the customer's side

/// `GET /api/v0/sandbox/{env}/external-auth/jwks.json`: the customer's key (404 without one).
pub(super) async fn external_auth_jwks(
    State(s): State<AppState>,
    _env: Env,
) -> Reply<serde_json::Value> {
    s.with(|a| a.external_auth_jwks())
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no external-auth key is configured"))
}

/// The body of `POST /api/v0/sandbox/{env}/customer/assertion`.
#[derive(Debug, Deserialize)]
pub(super) struct CustomerAssertionRequest {
    email: String,
    scope: String,
    #[serde(default)]
    requester: Option<String>,
}

/// `POST /api/v0/sandbox/{env}/customer/assertion {email, scope, requester?}` → `{link}`: the
/// demo customer backend signs an assertion for its user and gives the step-up link that
/// carries it. Refused (403) from a page of another origin: a site the user visits must not
/// mint links with the demo's key.
pub(super) async fn customer_assertion(
    State(s): State<AppState>,
    _env: Env,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<CustomerAssertionRequest>,
) -> Reply<serde_json::Value> {
    let cross_site = headers.get(axum::http::header::ORIGIN).is_some_and(|o| {
        o.to_str()
            .map_or(true, |o| s.with(|a| a.public_origin() != o))
    });
    if cross_site {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a page of another origin cannot ask the customer backend for a link",
        ));
    }
    let requester = req.requester.as_deref().unwrap_or("Acme Wallet");
    let link = s.with(|a| a.customer_link(&req.email, &req.scope, requester))?;
    Ok(Json(serde_json::json!({ "link": link })))
}
