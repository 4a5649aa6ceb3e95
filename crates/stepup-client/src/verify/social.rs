//! Step-up with a linked social account in the system browser (§3.5 of the protocol doc; RFC
//! 8252: the system browser, never an embedded webview, a loopback redirect, `state`, PKCE).
//!
//! # API
//!
//! ```text
//! pub trait SystemBrowser: Send + Sync {
//!     fn open(&self, url: &str) -> Result<(), StepUpError>;
//! }
//! pub struct SocialAccount { credential_id, provider, account_name, display_name }
//! pub struct SocialPending { .. }           // Debug redacts; dropping it closes the port
//! impl SocialPending {
//!     pub fn provider(&self) -> &str;
//!     pub fn authorization_url(&self) -> &Secret;   // open it (again: "Open the page again")
//!     pub fn canceller(&self) -> ReceiverCancel;    // the dialog's Cancel
//!     pub fn uses_pkce(&self) -> bool;
//!     pub fn app_scheme_callback(&self) -> Option<SchemeCallback>; // the fallback's hand-in
//! }
//! pub struct SocialRedirect { .. }  // loopback_only, loopback_else_app_scheme, app_scheme_only, from_env
//! impl StepUpClient {
//!     pub fn social_accounts(&self) -> Vec<SocialAccount>;            // local, for the list
//!     pub async fn begin_social(&self, provider: &str, requested_scopes: &[TokenScope])
//!         -> Result<SocialPending, StepUpError>;             // loopback only
//!     pub async fn begin_social_with(&self, provider: &str, requested_scopes: &[TokenScope],
//!         redirect: &SocialRedirect) -> Result<SocialPending, StepUpError>;
//!     pub async fn complete_social(&self, pending: SocialPending, timeout: Duration)
//!         -> Result<VerifyOutcome, StepUpError>;
//!     pub async fn verify_social(&self, provider: &str, requested_scopes: &[TokenScope],
//!         browser: &dyn SystemBrowser) -> Result<VerifyOutcome, StepUpError>;
//! }
//! ```
//!
//! A dialog uses the two phases: [`StepUpClient::begin_social`], open
//! [`SocialPending::authorization_url`] with its browser, show "Continue in your browser"
//! with a way to open the page again and Cancel ([`SocialPending::canceller`]), then
//! [`StepUpClient::complete_social`] with [`loopback::DEFAULT_WAIT`] (5 minutes).
//! [`StepUpClient::verify_social`] does all of it with a [`SystemBrowser`].
//!
//! # What happens, as the SDK does it
//!
//! 1. Local checks (no request): signed in, at least one scope, a provider name, and a linked
//!    account of that provider among the user's verified credentials.
//! 2. The one-time loopback receiver ([`loopback::LoopbackReceiver`], [`Accept::Redirect`])
//!    is bound: its [`redirect_url`](loopback::LoopbackReceiver::redirect_url)
//!    (`http://127.0.0.1:{port}/{token}/callback`, RFC 8252 §7.3) is the app's redirect URL.
//!    Where no loopback port can be opened (or [`LOOPBACK_REDIRECT_ENV`] is `off`) and the
//!    [`SocialRedirect`] allows it, the app's own scheme is (RFC 8252 §7.1,
//!    `com.stepup.desktop://oauth-callback`, on the environment's mobile deep link allow-list):
//!    a [`loopback::SchemeReceiver`] bound to the state waits, and the app hands it the link
//!    the OS gives it ([`SocialPending::app_scheme_callback`]). A link of the scheme can come
//!    from anyone, so one with another state is refused there and the wait goes on.
//! 3. `state`: 32 random alphanumerics; PKCE only for `github` and `twitter` (the SDK's
//!    `providersRequiringPkce`): a verifier of 43 random alphanumerics, its S256 challenge.
//! 4. The environment's settings ([`StepUpClient::settings`]: read at most every 5 minutes);
//!    a provider turned off (`enabledAt: null`) or not listed is refused; the provider URL
//!    built from its entry in `settings.providers` exactly as the SDK's
//!    `buildOAuthUrl` (`getOAuthBaseUrl`, `addOAuthUrlParams`, then `state`,
//!    `response_type=code`, and the challenge), with `URLSearchParams.set` semantics. Stricter
//!    than the SDK: the URL must be `https`, or `http` on loopback.
//! 5. `POST providers/{p}/initAuth {state, redirectUrl}` (with the session, as the SDK).
//! 6. The browser goes to the provider; the user allows; Dynamic redirects to the receiver
//!    with `dynamicOauthCode` and `dynamicOauthState`. The receiver (either) takes **one**
//!    redirect and closes; the wait ends on it, on Cancel, or after the timeout. From here on
//!    both paths are one.
//! 7. `dynamicOauthState` must equal the state (else [`StepUpError::SocialStateMismatch`],
//!    the SDK's `InvalidRedirectStorageStateError`); no code is
//!    [`StepUpError::SocialDenied`] after a Deny (`dynamicOauthError=access_denied`), else
//!    [`StepUpError::SocialCallbackIncomplete`] (the SDK's `MissingSocialUrlParamError`).
//! 8. `POST providers/{p}/verify {code, codeVerifier?, state, requestedScopes}` with the stored
//!    `credential:link` token attached (and consumed if single-use), whatever the scopes, as
//!    the SDK's `createApiClient({ elevatedAccessTokenScope: credential:link })` does; the
//!    session rotates and the elevated token is stored like every other method's.
//!
//! The state, the verifier, the code and the provider URL (which carries the state) are never
//! logged; `Debug` of [`SocialPending`] shows none of them.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use stepup_protocol::{
    codes, CredentialFormat, OauthInitAuthRequest, OauthVerifyRequest, Secret, TokenScope,
};

use super::{finish, requested, VerifyOutcome};
use crate::client::StepUpClient;
use crate::config::is_loopback;
use crate::error::StepUpError;
use crate::http::{random_alphanumeric, ApiRequest};
use crate::loopback::{
    self, query_param, Accept, Answer, LoopbackReceiver, Page, ReceiveError, ReceiverCancel,
    ReceiverOptions, SchemeCallback, SchemeReceiver,
};

/// The SDK's `providersRequiringPkce`.
const PROVIDERS_REQUIRING_PKCE: &[&str] = &["twitter", "github"];
/// Length of `state` (the SDK's `randomString({ length: 32 })`).
pub const STATE_LEN: usize = 32;
/// Length of the PKCE verifier (the SDK's `randomString({ length: 43 })`).
pub const CODE_VERIFIER_LEN: usize = 43;
/// The longest URL-ish setting accepted.
const MAX_SETTING_LEN: usize = 2048;
/// The longest `dynamicOauthCode` accepted.
const MAX_CODE_LEN: usize = 512;
/// The longest app-scheme redirect URL accepted.
const MAX_APP_REDIRECT_LEN: usize = 256;
/// The environment variable that turns the loopback redirect off (`off`): the app's scheme is
/// then used at once, as where no loopback port can be opened (for tests of the fallback).
pub const LOOPBACK_REDIRECT_ENV: &str = "STEPUP_LOOPBACK_REDIRECT";

/// Where Dynamic sends the browser back to after the provider: the one-time loopback receiver
/// (RFC 8252 §7.3), and, where no loopback port can be opened, the app's own scheme (RFC 8252
/// §7.1) if one is given. Made only by its constructors: an app-scheme URL is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialRedirect {
    /// Whether the loopback receiver is tried (false: turned off, the app's scheme at once).
    loopback: bool,
    /// The app-scheme URL to fall back to (a private-use scheme, reverse DNS, no query nor
    /// fragment); `None`: no fallback, a loopback failure ends the sign-in.
    app_scheme: Option<String>,
}

impl SocialRedirect {
    /// The loopback receiver only.
    pub fn loopback_only() -> Self {
        Self {
            loopback: true,
            app_scheme: None,
        }
    }

    /// The loopback receiver, else `app_url` (`com.stepup.desktop://oauth-callback`). Refused:
    /// a scheme that is not private-use reverse DNS (`http`, `javascript`, `myapp`), userinfo,
    /// a query or a fragment, more than 256 bytes.
    pub fn loopback_else_app_scheme(app_url: &str) -> Result<Self, StepUpError> {
        Ok(Self {
            loopback: true,
            app_scheme: Some(validate_app_redirect(app_url)?),
        })
    }

    /// `app_url` at once, no loopback receiver tried (what `STEPUP_LOOPBACK_REDIRECT=off`
    /// makes of [`SocialRedirect::from_env`]); validated as by
    /// [`SocialRedirect::loopback_else_app_scheme`].
    pub fn app_scheme_only(app_url: &str) -> Result<Self, StepUpError> {
        Ok(Self {
            loopback: false,
            app_scheme: Some(validate_app_redirect(app_url)?),
        })
    }

    /// [`SocialRedirect::loopback_else_app_scheme`], or [`SocialRedirect::app_scheme_only`]
    /// when [`LOOPBACK_REDIRECT_ENV`] is `off`.
    pub fn from_env(app_url: &str) -> Result<Self, StepUpError> {
        if std::env::var(LOOPBACK_REDIRECT_ENV).is_ok_and(|v| v == "off") {
            Self::app_scheme_only(app_url)
        } else {
            Self::loopback_else_app_scheme(app_url)
        }
    }

    /// Whether the redirect may come back on the app's scheme.
    pub fn has_app_scheme(&self) -> bool {
        self.app_scheme.is_some()
    }
}

/// An app-scheme redirect URL (RFC 8252 §7.1: a private-use scheme in reverse DNS).
fn validate_app_redirect(app_url: &str) -> Result<String, StepUpError> {
    let bad = || {
        StepUpError::InvalidInput("the app's redirect URL is not a private-use scheme URL".into())
    };
    if app_url.len() > MAX_APP_REDIRECT_LEN {
        return Err(bad());
    }
    let url = url::Url::parse(app_url).map_err(|_| bad())?;
    let private_use = url.scheme().contains('.')
        && !matches!(
            url.scheme(),
            "http" | "https" | "file" | "javascript" | "data"
        );
    if !private_use
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(app_url.to_owned())
}

/// What waits for the redirect: the loopback receiver, or the app's scheme.
enum RedirectReceiver {
    Loopback(LoopbackReceiver),
    AppScheme(SchemeReceiver),
}

impl RedirectReceiver {
    async fn wait(self, timeout: Duration) -> Result<Answer, ReceiveError> {
        match self {
            Self::Loopback(receiver) => receiver.wait(timeout).await,
            Self::AppScheme(receiver) => receiver.wait(timeout).await,
        }
    }
}

/// The page the browser shows once it has handed the redirect back.
const DONE_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Stepup Desktop</title></head><body><h1>You can close this tab</h1>\
<p>Stepup Desktop received the answer: return to the app.</p></body></html>";

/// Opens a URL in the user's system browser (never an embedded webview, RFC 8252 §8.12).
/// The caller supplies it: `xdg-open`/`open`/the URL handler in the app, a scripted browser
/// in tests.
pub trait SystemBrowser: Send + Sync {
    /// Opens `url`; returns once the browser was asked to (not when the user is done).
    fn open(&self, url: &str) -> Result<(), StepUpError>;
}

/// A linked social account of the signed-in user (a verified `oauth` credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialAccount {
    /// Its verified-credential id (what `stepUp/check` lists).
    pub credential_id: String,
    /// The provider: `google`, `github`.
    pub provider: String,
    /// The account's name at the provider: `oauth_username`, else its email, else its id.
    pub account_name: String,
    /// `oauth_display_name`, if any.
    pub display_name: Option<String>,
}

/// A social sign-in in progress: the browser was (or is to be) sent to
/// [`SocialPending::authorization_url`] and the loopback receiver waits for the redirect.
/// Dropping it closes the port.
pub struct SocialPending {
    provider: String,
    scopes: Vec<TokenScope>,
    state: Secret,
    code_verifier: Option<Secret>,
    authorization_url: Secret,
    receiver: RedirectReceiver,
    cancel: ReceiverCancel,
    /// Set when the redirect comes back on the app's scheme: where the app hands it.
    app_scheme: Option<SchemeCallback>,
}

impl std::fmt::Debug for SocialPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialPending")
            .field("provider", &self.provider)
            .field("scopes", &self.scopes)
            .field("pkce", &self.code_verifier.is_some())
            .field("app_scheme", &self.app_scheme.is_some())
            .finish_non_exhaustive()
    }
}

impl SocialPending {
    /// The provider (`google`).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The provider's authorisation URL to open in the system browser (again, if the user
    /// closed the tab). It carries the state: not to be logged.
    pub fn authorization_url(&self) -> &Secret {
        &self.authorization_url
    }

    /// Ends [`StepUpClient::complete_social`]'s wait with [`StepUpError::Cancelled`] (also
    /// before it began).
    pub fn canceller(&self) -> ReceiverCancel {
        self.cancel.clone()
    }

    /// Whether this sign-in sends a PKCE verifier (GitHub, Twitter).
    pub fn uses_pkce(&self) -> bool {
        self.code_verifier.is_some()
    }

    /// Where the app hands the redirect when it comes back as a link of the app's scheme
    /// (no loopback port could be opened); `None` on the loopback path.
    pub fn app_scheme_callback(&self) -> Option<SchemeCallback> {
        self.app_scheme.clone()
    }
}

/// One entry of `settings.providers` (A:`Provider`), the fields `buildOAuthUrl` reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSettings {
    /// `ProviderEnum`.
    pub provider: String,
    /// `clientId`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Dynamic's redirect endpoint, sent as `redirect_uri`.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The provider's authorisation endpoint.
    #[serde(default)]
    pub base_auth_url: Option<String>,
    /// Telegram's instead of `baseAuthUrl`.
    #[serde(default)]
    pub authorization_url: Option<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scopes: Option<String>,
    /// Shopify's store, put into `baseAuthUrl`.
    #[serde(default)]
    pub shopify_store: Option<String>,
    /// When the environment turned the provider on: `Some(None)` when sent as `null` (turned
    /// off), `None` when not sent.
    #[serde(default, deserialize_with = "crate::settings::present_or_null")]
    pub enabled_at: Option<Option<String>>,
}

impl ProviderSettings {
    /// Whether the provider is on: not sent with `enabledAt: null`.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.enabled_at, Some(None))
    }
}

/// `URLSearchParams` with its `set` and `delete`: `set` replaces the first pair of that name
/// in place and drops the others, or appends.
struct SearchParams(Vec<(String, String)>);

impl SearchParams {
    fn of(url: &url::Url) -> Self {
        Self(url.query_pairs().into_owned().collect())
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.0.iter().position(|(k, _)| k == name) {
            Some(i) => {
                self.0[i].1 = value.to_owned();
                let mut seen = 0usize;
                self.0.retain(|(k, _)| {
                    if k != name {
                        return true;
                    }
                    seen += 1;
                    seen == 1
                });
            }
            None => self.0.push((name.to_owned(), value.to_owned())),
        }
    }

    fn delete(&mut self, name: &str) {
        self.0.retain(|(k, _)| k != name);
    }

    fn apply(self, url: &mut url::Url) {
        if self.0.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(self.0);
        }
    }
}

/// `base64url(SHA-256(verifier))` without padding (the SDK's `encodeBase64Url(digestSHA256)`).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether the SDK uses PKCE with `provider`.
pub fn uses_pkce(provider: &str) -> bool {
    PROVIDERS_REQUIRING_PKCE.contains(&provider)
}

fn missing(what: &str) -> StepUpError {
    StepUpError::InvalidResponse(format!("the provider settings have no {what}"))
}

/// The provider URL, as the SDK's `buildOAuthUrl` builds it (C:`.../buildOAuthUrl/*.ts`):
/// `getOAuthBaseUrl` (Telegram's `authorizationUrl`, Shopify's store in `baseAuthUrl`, only
/// http(s)), `addOAuthUrlParams` (`client_id` or TikTok's `client_key`, `response_type`,
/// `redirect_uri`, Google's `access_type=offline` and, with Google Drive backup,
/// `prompt=consent`, Apple's `response_mode`/`response_type`, `scope`), then `state`,
/// `response_type=code` and, with a verifier, `code_challenge` and `code_challenge_method`.
pub fn build_oauth_url(
    provider: &ProviderSettings,
    google_drive_backup: bool,
    state: &str,
    code_verifier: Option<&str>,
) -> Result<url::Url, StepUpError> {
    let kind = provider.provider.as_str();
    let base = if kind == "telegram" {
        provider
            .authorization_url
            .clone()
            .ok_or_else(|| missing("authorizationUrl"))?
    } else {
        let base = provider
            .base_auth_url
            .clone()
            .ok_or_else(|| missing("baseAuthUrl"))?;
        if kind == "shopify" {
            let store = provider
                .shopify_store
                .as_deref()
                .ok_or_else(|| missing("shopifyStore"))?;
            base.replace("{{shopifyStore}}", store)
        } else {
            base
        }
    };
    if base.len() > MAX_SETTING_LEN {
        return Err(StepUpError::InvalidResponse(
            "the provider's URL is too long".into(),
        ));
    }
    let mut url = url::Url::parse(&base)
        .map_err(|_| StepUpError::InvalidResponse("the provider's URL is not a URL".into()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(StepUpError::InvalidResponse(
            "the provider's URL is not http(s): it is not opened".into(),
        ));
    }
    let client_id = provider
        .client_id
        .as_deref()
        .ok_or_else(|| missing("clientId"))?;
    let redirect_uri = provider
        .redirect_url
        .as_deref()
        .ok_or_else(|| missing("redirectUrl"))?;
    let mut params = SearchParams::of(&url);
    params.set("client_id", client_id);
    params.set("response_type", "code");
    params.set("redirect_uri", redirect_uri);
    if kind == "tiktok" {
        params.delete("client_id");
        params.set("client_key", client_id);
    }
    if kind == "google" {
        params.set("access_type", "offline");
        if google_drive_backup {
            params.set("prompt", "consent");
        }
    }
    if kind == "apple" {
        params.set("response_mode", "form_post");
        params.set("response_type", "code id_token");
    }
    if let Some(scopes) = provider.scopes.as_deref().filter(|s| !s.is_empty()) {
        params.set("scope", scopes);
    }
    params.set("state", state);
    params.set("response_type", "code");
    if let Some(verifier) = code_verifier {
        params.set("code_challenge", &pkce_challenge(verifier));
        params.set("code_challenge_method", "S256");
    }
    params.apply(&mut url);
    Ok(url)
}

/// A provider name safe as one path segment: 1 to 32 of `[a-z0-9]`.
fn validate_provider(provider: &str) -> Result<(), StepUpError> {
    let ok = !provider.is_empty()
        && provider.len() <= 32
        && provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StepUpError::InvalidInput(
            "the social provider's name is not valid".into(),
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the redirect's query says: the code, or why there is none.
fn read_redirect(query: &str, state: &Secret) -> Result<Secret, StepUpError> {
    let got_state =
        query_param(query, "dynamicOauthState").ok_or(StepUpError::SocialCallbackIncomplete {
            param: "dynamicOauthState",
        })?;
    if !constant_time_eq(got_state.as_bytes(), state.expose().as_bytes()) {
        return Err(StepUpError::SocialStateMismatch);
    }
    match query_param(query, "dynamicOauthCode") {
        Some(code) if !code.is_empty() => {
            if code.len() > MAX_CODE_LEN || !code.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                return Err(StepUpError::SocialRefused);
            }
            Ok(Secret::new(code))
        }
        _ => match query_param(query, "dynamicOauthError").as_deref() {
            Some("access_denied") => Err(StepUpError::SocialDenied),
            Some(_) => Err(StepUpError::SocialRefused),
            None => Err(StepUpError::SocialCallbackIncomplete {
                param: "dynamicOauthCode",
            }),
        },
    }
}

/// The receiver `redirect` asks for: the loopback one if it binds (and is not turned off),
/// else the app's scheme, bound to `state`, if `redirect` has one.
async fn bind_redirect_receiver(
    redirect: &SocialRedirect,
    state: &Secret,
) -> Result<RedirectReceiver, StepUpError> {
    let unavailable = if redirect.loopback {
        let bound = LoopbackReceiver::bind(ReceiverOptions {
            accept: Accept::Redirect,
            page: None,
            done_page: Page::new(DONE_PAGE),
        })
        .await;
        match bound {
            Ok(receiver) => return Ok(RedirectReceiver::Loopback(receiver)),
            Err(e) => e.to_string(),
        }
    } else {
        format!("the loopback redirect is turned off ({LOOPBACK_REDIRECT_ENV}=off)")
    };
    if redirect.app_scheme.is_none() {
        return Err(StepUpError::LoopbackUnavailable(unavailable));
    }
    tracing::warn!(reason = %unavailable, "no loopback redirect: the app's scheme receives it");
    Ok(RedirectReceiver::AppScheme(SchemeReceiver::new(
        "dynamicOauthState",
        state.clone(),
    )))
}

/// The social verify's refusals, as the SDK's callers see them.
fn social_error(e: StepUpError, provider: &str) -> StepUpError {
    match e {
        StepUpError::Api { ref code, .. } if code == codes::INVALID_VERIFICATION => {
            StepUpError::SocialRefused
        }
        StepUpError::Api { ref code, .. } if code == codes::PROVIDER_NOT_AVAILABLE => {
            StepUpError::SocialProviderUnavailable {
                provider: provider.to_owned(),
            }
        }
        other => other,
    }
}

impl StepUpClient {
    /// The signed-in user's linked social accounts (verified `oauth` credentials), for the
    /// dialog's list. Local, no request.
    pub fn social_accounts(&self) -> Vec<SocialAccount> {
        self.current_user()
            .map(|u| u.verified_credentials)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.format == CredentialFormat::Oauth)
            .filter_map(|c| {
                let provider = c.oauth_provider.clone()?;
                let account_name = c
                    .oauth_username
                    .clone()
                    .or_else(|| c.oauth_emails.as_ref().and_then(|e| e.first().cloned()))
                    .or_else(|| c.public_identifier.clone())
                    .or_else(|| c.oauth_account_id.clone())?;
                Some(SocialAccount {
                    credential_id: c.id,
                    provider,
                    account_name,
                    display_name: c.oauth_display_name,
                })
            })
            .collect()
    }

    /// Starts a social step-up with the loopback redirect only: see
    /// [`StepUpClient::begin_social_with`].
    pub async fn begin_social(
        &self,
        provider: &str,
        requested_scopes: &[TokenScope],
    ) -> Result<SocialPending, StepUpError> {
        self.begin_social_with(provider, requested_scopes, &SocialRedirect::loopback_only())
            .await
    }

    /// Starts a social step-up: local checks, the redirect's receiver (the loopback one, else
    /// the app's scheme as `redirect` allows), `GET settings`, the provider URL, `POST
    /// providers/{p}/initAuth`. The caller opens [`SocialPending::authorization_url`] and then
    /// calls [`StepUpClient::complete_social`]; on the app's scheme it hands the redirect link
    /// to [`SocialPending::app_scheme_callback`].
    pub async fn begin_social_with(
        &self,
        provider: &str,
        requested_scopes: &[TokenScope],
        redirect: &SocialRedirect,
    ) -> Result<SocialPending, StepUpError> {
        self.inner.require_session()?;
        validate_provider(provider)?;
        if requested_scopes.is_empty() {
            return Err(StepUpError::InvalidInput(
                "a social step-up must ask for a scope".into(),
            ));
        }
        if !self
            .social_accounts()
            .iter()
            .any(|a| a.provider == provider)
        {
            return Err(StepUpError::SocialAccountNotLinked {
                provider: provider.to_owned(),
            });
        }
        let state = Secret::new(random_alphanumeric(STATE_LEN));
        let receiver = bind_redirect_receiver(redirect, &state).await?;
        let (redirect_url, app_scheme) = match &receiver {
            RedirectReceiver::Loopback(loopback) => (loopback.redirect_url(), None),
            RedirectReceiver::AppScheme(scheme) => (
                redirect.app_scheme.clone().unwrap_or_default(),
                Some(scheme.callback()),
            ),
        };
        let settings = self.settings().await?;
        let settings_entry = settings.social_provider(provider).ok_or_else(|| {
            StepUpError::SocialProviderUnavailable {
                provider: provider.to_owned(),
            }
        })?;
        let google_drive_backup = settings.google_drive_backup();
        let code_verifier =
            uses_pkce(provider).then(|| Secret::new(random_alphanumeric(CODE_VERIFIER_LEN)));
        let url = build_oauth_url(
            settings_entry,
            google_drive_backup,
            state.expose(),
            code_verifier.as_ref().map(Secret::expose),
        )?;
        // Stricter than the SDK's http(s) check: plain http only to this machine.
        if url.scheme() != "https" && !is_loopback(&url) {
            return Err(StepUpError::InvalidResponse(
                "the provider's page is not https: it is not opened".into(),
            ));
        }
        let body = OauthInitAuthRequest {
            state: state.clone(),
            redirect_url,
        };
        let path = format!("providers/{provider}/initAuth");
        self.inner
            .send(ApiRequest::post(path).json(&body)?)
            .await
            .map_err(|e| social_error(e, provider))?;
        tracing::info!(
            provider,
            pkce = code_verifier.is_some(),
            app_scheme = app_scheme.is_some(),
            "social sign-in started"
        );
        let cancel = match &receiver {
            RedirectReceiver::Loopback(loopback) => loopback.canceller(),
            RedirectReceiver::AppScheme(scheme) => scheme.canceller(),
        };
        Ok(SocialPending {
            provider: provider.to_owned(),
            scopes: requested_scopes.to_vec(),
            state,
            code_verifier,
            authorization_url: Secret::new(url.to_string()),
            receiver,
            cancel,
            app_scheme,
        })
    }

    /// Waits (at most `timeout`, or until cancelled) for the browser's redirect, checks its
    /// `dynamicOauthState`, and sends `POST providers/{p}/verify` with the stored
    /// `credential:link` token attached; stores the elevated token for the scopes.
    pub async fn complete_social(
        &self,
        pending: SocialPending,
        timeout: Duration,
    ) -> Result<VerifyOutcome, StepUpError> {
        let SocialPending {
            provider,
            scopes,
            state,
            code_verifier,
            receiver,
            ..
        } = pending;
        let answer = receiver.wait(timeout).await.map_err(|e| match e {
            ReceiveError::Cancelled => StepUpError::Cancelled,
            ReceiveError::TimedOut(d) => StepUpError::BrowserTimedOut(d),
            ReceiveError::Unavailable(m) => StepUpError::LoopbackUnavailable(m),
        })?;
        let Answer::Redirect(query) = answer else {
            return Err(StepUpError::SocialCallbackIncomplete {
                param: "dynamicOauthCode",
            });
        };
        let code = match read_redirect(&query, &state) {
            Ok(code) => code,
            Err(e) => {
                tracing::info!(provider = %provider, error = e.code(), "social sign-in ended without a code");
                return Err(e);
            }
        };
        self.inner.require_session()?;
        let body = OauthVerifyRequest {
            code,
            code_verifier,
            state,
            requested_scopes: requested(&scopes),
        };
        let req = ApiRequest::post(format!("providers/{provider}/verify"))
            .json(&body)?
            .scoped(TokenScope::CredentialLink);
        finish(self, req, &scopes)
            .await
            .map_err(|e| social_error(e, &provider))
    }

    /// Steps up with the user's linked `provider` account: [`StepUpClient::begin_social`],
    /// `browser` opens the provider's page, [`StepUpClient::complete_social`] waits 5 minutes
    /// ([`loopback::DEFAULT_WAIT`]).
    pub async fn verify_social(
        &self,
        provider: &str,
        requested_scopes: &[TokenScope],
        browser: &dyn SystemBrowser,
    ) -> Result<VerifyOutcome, StepUpError> {
        let pending = self.begin_social(provider, requested_scopes).await?;
        browser.open(pending.authorization_url().expose())?;
        self.complete_social(pending, loopback::DEFAULT_WAIT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{client, verify_response, Reply, TestServer, ENV};
    use serde_json::json;

    fn google() -> ProviderSettings {
        ProviderSettings {
            provider: "google".into(),
            client_id: Some("cid".into()),
            redirect_url: Some("https://dyn.example/redirect".into()),
            base_auth_url: Some("https://accounts.example/o/oauth2/v2/auth?hl=en".into()),
            scopes: Some("openid email".into()),
            ..ProviderSettings::default()
        }
    }

    #[test]
    fn the_url_is_built_as_build_oauth_url_builds_it() {
        let url = build_oauth_url(&google(), false, "S", None).unwrap();
        assert_eq!(
            url.as_str(),
            "https://accounts.example/o/oauth2/v2/auth?hl=en&client_id=cid&response_type=code&redirect_uri=https%3A%2F%2Fdyn.example%2Fredirect&access_type=offline&scope=openid+email&state=S"
        );
        let drive = build_oauth_url(&google(), true, "S", None).unwrap();
        assert!(drive
            .as_str()
            .contains("&access_type=offline&prompt=consent&"));
        let github = ProviderSettings {
            provider: "github".into(),
            base_auth_url: Some("https://gh.example/login/oauth/authorize".into()),
            ..google()
        };
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let url = build_oauth_url(&github, false, "S", Some(verifier)).unwrap();
        assert!(url.as_str().ends_with(
            "&scope=openid+email&state=S&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ), "{url}");
        // Apple's "code id_token" is overwritten by the final response_type=code, in place.
        let apple = ProviderSettings {
            provider: "apple".into(),
            ..github.clone()
        };
        let url = build_oauth_url(&apple, false, "S", None).unwrap();
        assert!(url
            .as_str()
            .contains("?client_id=cid&response_type=code&redirect_uri="));
        assert!(url.as_str().contains("&response_mode=form_post&scope="));
        let tiktok = ProviderSettings {
            provider: "tiktok".into(),
            ..github.clone()
        };
        let url = build_oauth_url(&tiktok, false, "S", None).unwrap();
        assert!(
            url.as_str().contains("?response_type=code&redirect_uri=")
                && url.as_str().contains("&client_key=cid&")
        );
        let shopify = ProviderSettings {
            provider: "shopify".into(),
            base_auth_url: Some("https://{{shopifyStore}}.example/auth".into()),
            shopify_store: Some("shop1".into()),
            ..github.clone()
        };
        assert!(build_oauth_url(&shopify, false, "S", None)
            .unwrap()
            .as_str()
            .starts_with("https://shop1.example/auth?"));
        let js = ProviderSettings {
            base_auth_url: Some("javascript:alert(1)".into()),
            ..google()
        };
        assert!(build_oauth_url(&js, false, "S", None).is_err());
        let no_client = ProviderSettings {
            client_id: None,
            ..google()
        };
        assert!(build_oauth_url(&no_client, false, "S", None).is_err());
    }

    #[test]
    fn only_private_use_scheme_urls_are_app_redirects() {
        let ok = SocialRedirect::loopback_else_app_scheme("com.stepup.desktop://oauth-callback")
            .expect("the app's scheme");
        assert!(ok.has_app_scheme() && ok.loopback);
        let forced = SocialRedirect::app_scheme_only("com.stepup.desktop://oauth-callback")
            .expect("the app's scheme");
        assert!(!forced.loopback);
        assert!(!SocialRedirect::loopback_only().has_app_scheme());
        for bad in [
            "https://app.example/cb",
            "http://127.0.0.1:1/cb",
            "myapp://cb",
            "javascript:alert(1)",
            "com.stepup.desktop://oauth-callback?dynamicOauthCode=x",
            "com.stepup.desktop://oauth-callback#x",
            "com.stepup.desktop://user@oauth-callback",
            "not a url",
        ] {
            assert!(
                matches!(
                    SocialRedirect::app_scheme_only(bad),
                    Err(StepUpError::InvalidInput(_))
                ),
                "{bad}"
            );
        }
        let long = format!("com.stepup.desktop://{}", "a".repeat(MAX_APP_REDIRECT_LEN));
        assert!(SocialRedirect::app_scheme_only(&long).is_err());
    }

    #[tokio::test]
    async fn with_the_loopback_off_the_app_scheme_takes_the_redirect() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "settings" => Reply::json(
                200,
                json!({"providers": [{"provider": "google", "clientId": "cid",
                    "redirectUrl": "http://127.0.0.1:9/r", "baseAuthUrl": "http://127.0.0.1:9/auth"}]}),
            ),
            "providers/google/initAuth" => Reply::raw(204, ""),
            _ => Reply::json(
                200,
                verify_response(
                    Some("session-2"),
                    Some(crate::tokens::test_tokens::make(
                        "wallet:export",
                        crate::test_server::EXP,
                        Some(true),
                    )),
                ),
            ),
        })
        .await;
        let client = google_client(&server).await;
        // With no fallback, a loopback that is off is said as such.
        let off = SocialRedirect {
            loopback: false,
            app_scheme: None,
        };
        assert!(matches!(
            client
                .begin_social_with("google", &[TokenScope::WalletExport], &off)
                .await,
            Err(StepUpError::LoopbackUnavailable(_))
        ));
        let redirect =
            SocialRedirect::app_scheme_only("com.stepup.desktop://oauth-callback").unwrap();
        let pending = client
            .begin_social_with("google", &[TokenScope::WalletExport], &redirect)
            .await
            .unwrap();
        let callback = pending.app_scheme_callback().expect("on the app's scheme");
        let reqs = server.requests();
        let init = reqs
            .iter()
            .find(|r| r.path == "providers/google/initAuth")
            .unwrap();
        assert_eq!(
            init.json()["redirectUrl"],
            json!("com.stepup.desktop://oauth-callback")
        );
        let state = init.json()["state"].as_str().unwrap().to_owned();
        // Another state is refused and the wait goes on; the right one is taken once.
        assert_eq!(
            callback.deliver(&format!(
                "dynamicOauthCode=evil&dynamicOauthState={}",
                "t".repeat(32)
            )),
            Err(loopback::CallbackRefused::NotThisWait)
        );
        assert_eq!(
            callback.deliver("dynamicOauthCode=evil"),
            Err(loopback::CallbackRefused::NotThisWait)
        );
        assert!(callback.is_waiting());
        callback
            .deliver(&format!(
                "dynamicOauthCode=code-1&dynamicOauthState={state}"
            ))
            .expect("taken");
        assert_eq!(
            callback.deliver(&format!(
                "dynamicOauthCode=code-2&dynamicOauthState={state}"
            )),
            Err(loopback::CallbackRefused::AlreadyAnswered)
        );
        let outcome = client
            .complete_social(pending, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            outcome.token.map(|t| t.scopes),
            Some(vec![TokenScope::WalletExport])
        );
        let reqs = server.requests();
        let verify = reqs
            .iter()
            .find(|r| r.path == "providers/google/verify")
            .unwrap();
        assert_eq!(
            verify.json()["code"],
            json!("code-1"),
            "the accepted answer's code"
        );
    }

    #[test]
    fn pkce_is_for_github_and_twitter_only() {
        assert!(uses_pkce("github") && uses_pkce("twitter"));
        assert!(!uses_pkce("google") && !uses_pkce("apple"));
    }

    #[test]
    fn the_redirect_is_read_state_first() {
        let state = Secret::new("s".repeat(32));
        let ok = format!("dynamicOauthCode=c1&dynamicOauthState={}", "s".repeat(32));
        assert_eq!(read_redirect(&ok, &state).unwrap().expose(), "c1");
        let other = format!("dynamicOauthCode=c1&dynamicOauthState={}", "t".repeat(32));
        assert_eq!(
            read_redirect(&other, &state),
            Err(StepUpError::SocialStateMismatch)
        );
        let denied = format!(
            "dynamicOauthState={}&dynamicOauthError=access_denied",
            "s".repeat(32)
        );
        assert_eq!(
            read_redirect(&denied, &state),
            Err(StepUpError::SocialDenied)
        );
        let forged_deny = format!(
            "dynamicOauthState={}&dynamicOauthError=access_denied",
            "t".repeat(32)
        );
        assert_eq!(
            read_redirect(&forged_deny, &state),
            Err(StepUpError::SocialStateMismatch)
        );
        assert_eq!(
            read_redirect("dynamicOauthCode=c1", &state),
            Err(StepUpError::SocialCallbackIncomplete {
                param: "dynamicOauthState"
            })
        );
        let twice = format!("{ok}&dynamicOauthState={}", "s".repeat(32));
        assert!(
            read_redirect(&twice, &state).is_err(),
            "a repeated state is refused"
        );
        let no_code = format!("dynamicOauthState={}", "s".repeat(32));
        assert_eq!(
            read_redirect(&no_code, &state),
            Err(StepUpError::SocialCallbackIncomplete {
                param: "dynamicOauthCode"
            })
        );
    }

    #[tokio::test]
    async fn refused_before_any_request() {
        let server = TestServer::start(ENV, |_| Reply::raw(500, "")).await;
        let (client, _) = client(&server, true).await;
        // The fixture user has no social account.
        assert_eq!(
            client
                .begin_social("google", &[TokenScope::WalletExport])
                .await
                .unwrap_err(),
            StepUpError::SocialAccountNotLinked {
                provider: "google".into()
            }
        );
        assert!(matches!(
            client
                .begin_social("Goo/gle", &[TokenScope::WalletExport])
                .await,
            Err(StepUpError::InvalidInput(_))
        ));
        assert!(matches!(
            client.begin_social("google", &[]).await,
            Err(StepUpError::InvalidInput(_))
        ));
        let (signed_out, _) = client_signed_out(&server).await;
        assert_eq!(
            signed_out
                .begin_social("google", &[TokenScope::WalletExport])
                .await
                .unwrap_err(),
            StepUpError::NotSignedIn
        );
        assert!(server.requests().is_empty());
    }

    async fn client_signed_out(
        server: &TestServer,
    ) -> (StepUpClient, std::sync::Arc<crate::MemoryVault>) {
        client(server, false).await
    }

    /// A client signed in as a user with a linked Google account.
    async fn google_client(server: &TestServer) -> StepUpClient {
        use crate::vault::{SessionRecord, TokenVault as _};
        let vault = std::sync::Arc::new(crate::MemoryVault::new());
        let mut user = crate::test_server::user_json("s1");
        user["verifiedCredentials"] = json!([{"id": "cred-g", "format": "oauth",
            "oauth_provider": "google", "oauth_username": "a@example.com",
            "oauth_display_name": "A"}]);
        vault
            .put_session(&SessionRecord {
                token: "session-1".into(),
                legacy_token: None,
                expires_at: 1_700_086_400,
                user: serde_json::from_value(user).unwrap(),
                session_key: None,
            })
            .unwrap();
        let config = crate::Config::new(ENV)
            .unwrap()
            .with_api_base_url(server.base_url.clone());
        StepUpClient::builder(config)
            .vault(vault)
            .clock(std::sync::Arc::new(crate::ManualClock::at_millis(
                crate::test_server::NOW_MS,
            )))
            .build()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_redirect_is_verified_with_the_credential_link_token_attached() {
        use crate::test_server::EXP;
        use crate::tokens::test_tokens::make;
        let minted = make("wallet:export", EXP, Some(true));
        let reply = verify_response(Some("session-2"), Some(minted.clone()));
        let server = TestServer::start(ENV, move |r| match r.path.as_str() {
            "settings" => Reply::json(
                200,
                json!({"providers": [{"provider": "google", "clientId": "cid",
                    "redirectUrl": "http://127.0.0.1:9/r", "baseAuthUrl": "http://127.0.0.1:9/auth",
                    "scopes": "openid"}]}),
            ),
            "providers/google/initAuth" => Reply::raw(204, ""),
            _ => Reply::json(200, reply.clone()),
        })
        .await;
        let client = google_client(&server).await;
        assert_eq!(
            client.social_accounts(),
            vec![SocialAccount {
                credential_id: "cred-g".into(),
                provider: "google".into(),
                account_name: "a@example.com".into(),
                display_name: Some("A".into()),
            }]
        );
        let link = make("credential:link", EXP, Some(false));
        client
            .inner
            .store_elevated_token(&link, &[TokenScope::CredentialLink])
            .await
            .unwrap();
        let pending = client
            .begin_social("google", &[TokenScope::WalletExport])
            .await
            .unwrap();
        assert!(!pending.uses_pkce());
        let url = url::Url::parse(pending.authorization_url().expose()).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(state.len(), STATE_LEN);
        assert!(state.bytes().all(|b| b.is_ascii_alphanumeric()));
        let dbg = format!("{pending:?}");
        assert!(!dbg.contains(&state) && dbg.contains("google"), "{dbg}");
        let reqs = server.requests();
        let init = reqs
            .iter()
            .find(|r| r.path == "providers/google/initAuth")
            .unwrap();
        assert_eq!(init.json()["state"], json!(state));
        let redirect = init.json()["redirectUrl"].as_str().unwrap().to_owned();
        assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
        let browser = tokio::spawn(async move {
            reqwest::get(format!(
                "{redirect}?dynamicOauthCode=code-1&dynamicOauthState={state}"
            ))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
        });
        let outcome = client
            .complete_social(pending, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(browser.await.unwrap().contains("You can close this tab"));
        assert_eq!(
            outcome.token.map(|t| t.scopes),
            Some(vec![TokenScope::WalletExport])
        );
        let reqs = server.requests();
        let verify = reqs
            .iter()
            .find(|r| r.path == "providers/google/verify")
            .unwrap();
        assert_eq!(
            verify.header("x-dyn-elevated-access-token"),
            Some(link.expose()),
            "the credential:link token goes along whatever the scopes, as in the SDK"
        );
        let body = verify.json();
        assert_eq!(body["code"], json!("code-1"));
        assert_eq!(body["requestedScopes"], json!(["wallet:export"]));
        assert!(body.get("codeVerifier").is_none(), "no PKCE for Google");
    }

    #[tokio::test]
    async fn cancel_and_timeout_end_the_wait() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "settings" => Reply::json(
                200,
                json!({"providers": [{"provider": "google", "clientId": "cid",
                    "redirectUrl": "http://127.0.0.1:9/r", "baseAuthUrl": "http://127.0.0.1:9/auth"}]}),
            ),
            _ => Reply::raw(204, ""),
        })
        .await;
        let client = google_client(&server).await;
        let pending = client
            .begin_social("google", &[TokenScope::WalletExport])
            .await
            .unwrap();
        let cancel = pending.canceller();
        let waiting = tokio::spawn({
            let client = client.clone();
            async move {
                client
                    .complete_social(pending, Duration::from_secs(30))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
        assert_eq!(waiting.await.unwrap(), Err(StepUpError::Cancelled));
        let pending = client
            .begin_social("google", &[TokenScope::WalletExport])
            .await
            .unwrap();
        assert_eq!(
            client
                .complete_social(pending, Duration::from_millis(100))
                .await,
            Err(StepUpError::BrowserTimedOut(Duration::from_millis(100)))
        );
        let unknown = client
            .begin_social("github", &[TokenScope::WalletExport])
            .await
            .unwrap_err();
        assert_eq!(
            unknown,
            StepUpError::SocialAccountNotLinked {
                provider: "github".into()
            }
        );
    }
}
