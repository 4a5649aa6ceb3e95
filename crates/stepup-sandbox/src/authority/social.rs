//! Social (OAuth) re-authentication, §3.5 of the protocol doc: the sandbox plays the three
//! parties of the flow on its own loopback port.
//!
//! 1. The app: `POST providers/{p}/initAuth {state, redirectUrl}` (the session, if sent, binds
//!    the state to its user), then opens the browser at the provider URL it builds from
//!    `settings.providers` (the SDK's `buildOAuthUrl`).
//! 2. The provider (`GET sandbox/{env}/oauth/{p}/authorize`): checks `client_id`,
//!    `redirect_uri`, `response_type=code`, the state and, for GitHub (as the SDK sends PKCE
//!    for `github` and `twitter` only), an S256 `code_challenge`; shows a plain page naming the
//!    account (the initiating user's account of this provider, or the one `login_hint` names)
//!    with Allow and Deny. Allow sends the browser to the provider's `redirectUrl` with a
//!    provider code (60 s, single use, bound to `redirect_uri`, state, challenge, account);
//!    Deny with `error=access_denied`.
//! 3. Dynamic's side (`GET providers/{p}/redirect`): exchanges the provider code for a
//!    `dynamicOauthCode` (60 s, single use, bound to the state, the app's redirect URL given
//!    to `initAuth`, the challenge, the account and the initiating user) and redirects to the
//!    app's redirect URL with `dynamicOauthCode` and `dynamicOauthState`. After a Deny it
//!    redirects with `dynamicOauthState` and `dynamicOauthError=access_denied` and no code:
//!    the SDK's `completeSocialRedirect` then throws `MissingSocialUrlParamError`
//!    (`dynamicOauthCode`), which is how a refusal reaches an app.
//! 4. `POST providers/{p}/verify {code, codeVerifier?, state, requestedScopes}` (signed in):
//!    the code is spent on first sight; it must be live, of this provider and state, started
//!    by this user; its challenge must be met by `codeVerifier` (S256), and a code without a
//!    challenge takes no verifier; the account must be a verified social credential of the
//!    caller (another user's is `social_account_already_exists`). Then the grant.
//!
//! `credential:link`: the SDK attaches a stored `credential:link` token to this call whatever
//! scopes it asks for (it is the call that links a social account). The sandbox links no new
//! accounts (only already linked ones re-authenticate), so it does not require the token; one
//! that is sent is checked like any protected call's (valid, the caller's, covering
//! `credential:link`; spent if single-use), and a bad one is refused with `step_up_required`.
//!
//! Pending states, consents and codes are in memory only: they live 10 min (states, consents)
//! or 60 s (codes), so a restart loses at most a sign-in in progress, which the user starts
//! again. The linked accounts are in the state file with their users.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use stepup_protocol::{codes, OauthInitAuthRequest, OauthVerifyRequest, VerifyResponse};

use super::grant::Session;
use super::tokens::{CredentialLink, PresentedToken};
use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::expiring_map::ExpiringMap;
use crate::store::{SocialAccountRecord, UserRecord};
use crate::validation::{bounded, shown};

/// How long an `initAuth` state waits for the browser to come back.
const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// How long an authorisation page's consent stays answerable.
const CONSENT_TTL_MS: i64 = 10 * 60 * 1000;
/// How long a provider code or a `dynamicOauthCode` is valid.
pub(crate) const CODE_TTL_MS: i64 = 60 * 1000;
/// Entries kept at most in each table.
const MAX_PENDING: usize = 10_000;
/// The longest state accepted (the SDK's are 32 characters).
const MAX_STATE_LEN: usize = 128;
/// The shortest state accepted.
const MIN_STATE_LEN: usize = 16;
/// The longest redirect URL accepted.
const MAX_REDIRECT_URL_LEN: usize = 2048;
/// The longest code, PKCE verifier or challenge accepted.
const MAX_CODE_LEN: usize = 128;

/// A provider of this sandbox.
#[derive(Debug)]
pub(crate) struct ProviderInfo {
    /// `ProviderEnum` value: `google`, `github`.
    pub name: &'static str,
    /// The name its page shows.
    pub display: &'static str,
    /// Whether its authorisation needs PKCE (S256), as the SDK's `providersRequiringPkce`.
    pub pkce: bool,
    /// `scopes` in the settings.
    pub scopes: &'static str,
}

/// The providers in `settings.providers`.
pub(crate) const PROVIDERS: &[ProviderInfo] = &[
    ProviderInfo {
        name: "google",
        display: "Google",
        pkce: false,
        scopes: "openid email profile",
    },
    ProviderInfo {
        name: "github",
        display: "GitHub",
        pkce: true,
        scopes: "read:user user:email",
    },
];

/// The provider named in a path, or 422 `provider_not_available`.
fn provider(name: &str) -> Result<&'static ProviderInfo, ApiError> {
    PROVIDERS.iter().find(|p| p.name == name).ok_or_else(|| {
        ApiError::unprocessable(
            codes::PROVIDER_NOT_AVAILABLE,
            format!(
                "the provider {:?} is not enabled in this environment (google, github are)",
                shown(name)
            ),
        )
    })
}

/// A linked account of `provider` for `user` (named after its email).
pub(super) fn new_linked_account(
    provider_name: &str,
    user: &UserRecord,
) -> Result<SocialAccountRecord, String> {
    let info = provider(provider_name).map_err(|_| {
        format!(
            "unknown social provider {:?} (google, github)",
            shown(provider_name)
        )
    })?;
    if user.social_accounts.iter().any(|a| a.provider == info.name) {
        return Err(format!("the user already has a {} account", info.display));
    }
    let email = user
        .email
        .as_ref()
        .map(|e| e.address.clone())
        .unwrap_or_default();
    let local = email.split('@').next().unwrap_or("user");
    let (username, account_id) = match info.name {
        // A Google account's name is its email; its id a 21-digit number.
        "google" => {
            let digits: String = crypto::random_bytes::<21>()
                .iter()
                .map(|b| char::from(b'0' + b % 10))
                .collect();
            (email.clone(), format!("1{}", &digits[1..]))
        }
        // A GitHub login: the email's local part, sanitised, and 4 hex digits.
        _ => {
            let login: String = local
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .take(30)
                .collect();
            let suffix = hex::encode(crypto::random_bytes::<2>());
            let id = u32::from_be_bytes(crypto::random_bytes::<4>()) % 900_000_000 + 100_000_000;
            (format!("{login}-{suffix}"), id.to_string())
        }
    };
    Ok(SocialAccountRecord {
        credential_id: crypto::new_id(),
        provider: info.name.to_owned(),
        account_id,
        username,
        display_name: local.to_owned(),
    })
}

/// An `initAuth` waiting for the browser.
pub(crate) struct PendingAuth {
    provider: &'static str,
    /// The app's redirect URL, as given.
    redirect_url: url::Url,
    /// The signed-in user who started it, if any.
    user_id: Option<String>,
}

/// An authorisation page shown, waiting for Allow or Deny.
pub(crate) struct Consent {
    provider: &'static str,
    state: String,
    challenge: Option<String>,
    /// `(user id, account id)` of the account the page named; `None`: no account.
    account: Option<(String, String)>,
}

/// A code (provider's or Dynamic's) and what it is bound to.
pub(crate) struct Grant {
    provider: &'static str,
    state: String,
    challenge: Option<String>,
    /// The user whose account it is, and the account's id at the provider.
    account_user_id: String,
    account_id: String,
}

/// A `dynamicOauthCode`: a [`Grant`] for one initiator. It is bound to the app's redirect
/// URL by construction: it is made on the redirect that delivers it there, and only there.
pub(crate) struct DynamicCode {
    grant: Grant,
    initiator: Option<String>,
}

/// The in-memory tables of the flow. No `Debug`: they hold states and codes.
pub(crate) struct SocialTables {
    /// `initAuth` states (10 min).
    pending: ExpiringMap<PendingAuth>,
    /// Shown authorisation pages by consent id (10 min, single use).
    consents: ExpiringMap<Consent>,
    /// Provider codes (60 s, single use).
    provider_codes: ExpiringMap<Grant>,
    /// `dynamicOauthCode`s (60 s, single use).
    dynamic_codes: ExpiringMap<DynamicCode>,
}

impl SocialTables {
    pub(super) fn new() -> Self {
        Self {
            pending: ExpiringMap::new(STATE_TTL_MS, MAX_PENDING),
            consents: ExpiringMap::new(CONSENT_TTL_MS, MAX_PENDING),
            provider_codes: ExpiringMap::new(CODE_TTL_MS, MAX_PENDING),
            dynamic_codes: ExpiringMap::new(CODE_TTL_MS, MAX_PENDING),
        }
    }
}

/// What the authorisation page shows. `Debug` leaves out the consent id.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ConsentView {
    /// `Google`.
    pub provider: &'static str,
    /// The consent id the form posts back.
    pub consent_id: String,
    /// `(display name, username)` of the account; `None`: no account is signed in.
    pub account: Option<(String, String)>,
    /// The app asking.
    pub app_name: &'static str,
}

impl std::fmt::Debug for ConsentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentView")
            .field("provider", &self.provider)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A page of the flow that is not a redirect: an error shown in the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageError {
    /// HTTP status.
    pub status: u16,
    /// The sentence shown.
    pub message: String,
}

fn page_error(status: u16, message: impl Into<String>) -> PageError {
    PageError {
        status,
        message: message.into(),
    }
}

/// A random code: 32 bytes, base64url.
fn new_code() -> String {
    URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>())
}

/// `base64url(SHA-256(verifier))`, PKCE's S256.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A state: 16 to 128 characters of `[A-Za-z0-9_-]`.
fn valid_state(state: &str) -> bool {
    (MIN_STATE_LEN..=MAX_STATE_LEN).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A PKCE verifier (RFC 7636 §4.1): 43 to 128 unreserved characters.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge: 43 base64url characters.
fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The environment's mobile deep link allow-list (Dynamic's `deeplinkUrls`, on with
/// `mobile.deeplinkUrlsEnabled`): the app's own scheme, where a redirect comes back when no
/// loopback port can be opened (RFC 8252 §7.1).
const DEEPLINK_URLS: &[&str] = &["com.stepup.desktop://oauth-callback"];

/// A redirect URL on a scheme other than http(s): allowed only when it is on
/// [`DEEPLINK_URLS`] (scheme, host and path exactly; no userinfo, port, query nor fragment),
/// else Dynamic's 422 `unauthorized_mobile_deeplink_url`.
fn deeplink_redirect_url(url: &url::Url) -> Result<(), ApiError> {
    let listed = DEEPLINK_URLS.iter().any(|listed| {
        url::Url::parse(listed).is_ok_and(|listed| {
            listed.scheme() == url.scheme()
                && listed.host_str() == url.host_str()
                && listed.path() == url.path()
        })
    });
    let plain = url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    if listed && plain {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "unauthorized_mobile_deeplink_url",
            "redirectUrl is not on the environment's mobile deep link allow-list",
        ))
    }
}

/// The app's redirect URL: `http(s)` on loopback (RFC 8252 §7.3), on the app's origin, or a
/// deep link on the environment's allow-list ([`DEEPLINK_URLS`], RFC 8252 §7.1). Anything
/// else would make the sandbox an open redirector.
fn app_redirect_url(raw: &str, app_origin: &url::Url) -> Result<url::Url, ApiError> {
    bounded("redirectUrl", raw, MAX_REDIRECT_URL_LEN)?;
    let url = url::Url::parse(raw)
        .map_err(|_| ApiError::invalid_request("redirectUrl is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        deeplink_redirect_url(&url)?;
        return Ok(url);
    }
    let loopback = matches!(url.scheme(), "http" | "https")
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
    let app = url.origin() == app_origin.origin();
    if !(loopback || app) || url.username() != "" || url.password().is_some() {
        return Err(ApiError::invalid_request(
            "redirectUrl must be a loopback http(s) URL or on the app's origin",
        ));
    }
    Ok(url)
}

/// `url` with `params` appended to its query (the ones already there kept).
fn with_params(url: &url::Url, params: &[(&str, &str)]) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
    }
    url.to_string()
}

/// One query parameter, given at most once and at most `max` bytes.
fn param<'a>(
    query: &'a [(String, String)],
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, PageError> {
    let mut found = query.iter().filter(|(k, _)| k == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(page_error(400, format!("{name} is given more than once")));
    }
    match first {
        Some((_, v)) if v.len() > max => Err(page_error(400, format!("{name} is too long"))),
        Some((_, v)) => Ok(Some(v.as_str())),
        None => Ok(None),
    }
}

/// A refused social verification: 422 `invalid_verification`.
fn refused(why: &str) -> ApiError {
    ApiError::unprocessable(
        codes::INVALID_VERIFICATION,
        format!("the social sign-in was not accepted: {why}"),
    )
}

impl Authority {
    /// The sandbox's own origin (`http://127.0.0.1:PORT`), which the provider URLs name.
    pub(crate) fn set_public_origin(&mut self, origin: String) {
        self.public_origin = origin;
    }

    /// The sandbox's own origin.
    pub(crate) fn public_origin(&self) -> &str {
        &self.public_origin
    }

    /// `client_id` of a provider.
    fn client_id(&self, info: &ProviderInfo) -> String {
        format!("stepup-sandbox-{}", info.name)
    }

    /// Dynamic's side of a provider: where the provider sends the browser back.
    fn provider_redirect_url(&self, info: &ProviderInfo) -> String {
        format!(
            "{}/api/v0/sdk/{}/providers/{}/redirect",
            self.public_origin, self.env, info.name
        )
    }

    /// `settings.providers`: each provider's `baseAuthUrl` (the sandbox's authorisation
    /// page), `clientId`, `redirectUrl` (Dynamic's side, on the sandbox) and `scopes`.
    pub(crate) fn provider_settings(&self) -> serde_json::Value {
        serde_json::Value::Array(
            PROVIDERS
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "id": format!("sandbox-provider-{}", p.name),
                        "provider": p.name,
                        "clientId": self.client_id(p),
                        "redirectUrl": self.provider_redirect_url(p),
                        "baseAuthUrl": format!(
                            "{}/api/v0/sandbox/{}/oauth/{}/authorize",
                            self.public_origin, self.env, p.name
                        ),
                        "scopes": p.scopes,
                    })
                })
                .collect(),
        )
    }

    /// `POST providers/{p}/initAuth`: remembers the state, its provider, the app's redirect
    /// URL and the signed-in user (if a session was sent) for 10 minutes.
    pub(crate) fn social_init_auth(
        &mut self,
        ctx: Option<&SessionCtx>,
        provider_name: &str,
        req: &OauthInitAuthRequest,
    ) -> Result<(), ApiError> {
        let info = provider(provider_name)?;
        self.require_method_on(info.name)?;
        let state = req.state.expose();
        if !valid_state(state) {
            return Err(ApiError::invalid_request(
                "state has 16 to 128 characters of A-Z, a-z, 0-9, - and _",
            ));
        }
        let redirect_url = app_redirect_url(&req.redirect_url, &self.app_origin)?;
        let now = self.now_ms();
        if self
            .social
            .pending
            .get_mut(state, now)
            .is_some_and(|f| !f.expired)
        {
            return Err(ApiError::invalid_request(
                "this state is already in use: draw a new one",
            ));
        }
        self.social.pending.insert(
            state.to_owned(),
            PendingAuth {
                provider: info.name,
                redirect_url,
                user_id: ctx.map(|c| c.user_id.clone()),
            },
            now,
        );
        Ok(())
    }

    /// The account an authorisation page names: the one `login_hint` names (its username or
    /// id), else the initiating user's account of this provider.
    fn consent_account(
        &self,
        info: &ProviderInfo,
        login_hint: Option<&str>,
        initiator: Option<&str>,
    ) -> Option<(String, &SocialAccountRecord)> {
        let users = self.state.users.values();
        match login_hint {
            Some(hint) => users
                .flat_map(|u| u.social_accounts.iter().map(move |a| (u, a)))
                .find(|(_, a)| {
                    a.provider == info.name
                        && (a.username.eq_ignore_ascii_case(hint) || a.account_id == hint)
                })
                .map(|(u, a)| (u.id.clone(), a)),
            None => {
                let user = self.state.users.get(initiator?)?;
                user.social_accounts
                    .iter()
                    .find(|a| a.provider == info.name)
                    .map(|a| (user.id.clone(), a))
            }
        }
    }

    /// `GET sandbox/{env}/oauth/{p}/authorize`: the provider's authorisation page.
    pub(crate) fn social_authorize(
        &mut self,
        provider_name: &str,
        query: &[(String, String)],
    ) -> Result<ConsentView, PageError> {
        let info = provider(provider_name).map_err(|e| page_error(404, e.body.error))?;
        let client_id = param(query, "client_id", 256)?;
        let redirect_uri = param(query, "redirect_uri", MAX_REDIRECT_URL_LEN)?;
        if client_id != Some(self.client_id(info).as_str())
            || redirect_uri != Some(self.provider_redirect_url(info).as_str())
        {
            // RFC 6749 §4.1.2.1: never redirect to an unchecked redirect_uri.
            return Err(page_error(
                400,
                "This application is not known here (client_id or redirect_uri do not match).",
            ));
        }
        if param(query, "response_type", 64)? != Some("code") {
            return Err(page_error(400, "response_type must be code."));
        }
        let state = param(query, "state", MAX_STATE_LEN)?.unwrap_or_default();
        let now = self.now_ms();
        let initiator = match self.social.pending.get_mut(state, now) {
            Some(found) if !found.expired && found.value.provider == info.name => {
                found.value.user_id.clone()
            }
            _ => {
                return Err(page_error(
                    400,
                    "This sign-in request is unknown or has expired: start again from the app.",
                ))
            }
        };
        let challenge = param(query, "code_challenge", MAX_CODE_LEN)?;
        let method = param(query, "code_challenge_method", 16)?;
        let challenge = match (challenge, method) {
            (Some(c), Some("S256")) if valid_challenge(c) => Some(c.to_owned()),
            (None, None) if !info.pkce => None,
            (None, None) => {
                return Err(page_error(
                    400,
                    format!(
                        "{} needs PKCE: code_challenge with code_challenge_method S256.",
                        info.display
                    ),
                ))
            }
            _ => return Err(page_error(
                400,
                "code_challenge must be 43 base64url characters with code_challenge_method S256.",
            )),
        };
        let login_hint = param(query, "login_hint", 256)?;
        let account = self
            .consent_account(info, login_hint, initiator.as_deref())
            .map(|(user_id, a)| {
                (
                    (user_id, a.account_id.clone()),
                    (a.display_name.clone(), a.username.clone()),
                )
            });
        let consent_id = new_code();
        self.social.consents.insert(
            consent_id.clone(),
            Consent {
                provider: info.name,
                state: state.to_owned(),
                challenge,
                account: account.as_ref().map(|(ids, _)| ids.clone()),
            },
            now,
        );
        Ok(ConsentView {
            provider: info.display,
            consent_id,
            account: account.map(|(_, shown)| shown),
            app_name: "Stepup Sandbox",
        })
    }

    /// `POST sandbox/{env}/oauth/{p}/authorize` (`consent`, `decision`): the page's answer.
    /// Returns where the browser goes: the provider's `redirectUrl` with a code, or with
    /// `error=access_denied`.
    pub(crate) fn social_decide(
        &mut self,
        provider_name: &str,
        consent_id: &str,
        allow: bool,
    ) -> Result<String, PageError> {
        let info = provider(provider_name).map_err(|e| page_error(404, e.body.error))?;
        let now = self.now_ms();
        let consent = self
            .social
            .consents
            .take(consent_id, now)
            .filter(|c| c.provider == info.name)
            .ok_or_else(|| {
                page_error(
                    400,
                    "This page was already answered or has expired: start again from the app.",
                )
            })?;
        let back = url::Url::parse(&self.provider_redirect_url(info))
            .map_err(|_| page_error(500, "The provider's redirect URL is not valid."))?;
        let account = consent.account.filter(|_| allow);
        let Some((account_user_id, account_id)) = account else {
            return Ok(with_params(
                &back,
                &[("error", "access_denied"), ("state", &consent.state)],
            ));
        };
        let code = new_code();
        self.social.provider_codes.insert(
            code.clone(),
            Grant {
                provider: info.name,
                state: consent.state.clone(),
                challenge: consent.challenge,
                account_user_id,
                account_id,
            },
            now,
        );
        Ok(with_params(
            &back,
            &[
                ("code", &code),
                ("state", &consent.state),
                ("scope", info.scopes),
            ],
        ))
    }

    /// `GET providers/{p}/redirect` (Dynamic's side): the provider's code becomes a
    /// `dynamicOauthCode` and the browser goes to the app's redirect URL with it and
    /// `dynamicOauthState`; a provider error goes there as `dynamicOauthError`, with no code.
    pub(crate) fn social_redirect(
        &mut self,
        provider_name: &str,
        query: &[(String, String)],
    ) -> Result<String, PageError> {
        let info = provider(provider_name).map_err(|e| page_error(404, e.body.error))?;
        let state = param(query, "state", MAX_STATE_LEN)?.unwrap_or_default();
        let now = self.now_ms();
        let pending = self
            .social
            .pending
            .take(state, now)
            .filter(|p| p.provider == info.name)
            .ok_or_else(|| {
                page_error(
                    400,
                    "This sign-in is unknown, was already completed or has expired: start again from the app.",
                )
            })?;
        let back = |error: &str| {
            with_params(
                &pending.redirect_url,
                &[("dynamicOauthState", state), ("dynamicOauthError", error)],
            )
        };
        if let Some(error) = param(query, "error", 64)? {
            let error = if error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                error
            } else {
                "server_error"
            };
            return Ok(back(error));
        }
        let code = param(query, "code", MAX_CODE_LEN)?.unwrap_or_default();
        let grant = match self.social.provider_codes.take(code, now) {
            Some(g) if g.provider == info.name && g.state == state => g,
            _ => return Ok(back("invalid_grant")),
        };
        let dynamic_code = new_code();
        let location = with_params(
            &pending.redirect_url,
            &[
                ("dynamicOauthCode", &dynamic_code),
                ("dynamicOauthState", state),
            ],
        );
        self.social.dynamic_codes.insert(
            dynamic_code,
            DynamicCode {
                grant,
                initiator: pending.user_id,
            },
            now,
        );
        Ok(location)
    }

    /// `POST providers/{p}/verify`: step-up with a linked social account (see the module's
    /// doc for every check).
    pub(crate) fn social_verify(
        &mut self,
        ctx: &SessionCtx,
        provider_name: &str,
        req: &OauthVerifyRequest,
        token: &PresentedToken<CredentialLink>,
    ) -> Result<VerifyResponse, ApiError> {
        let info = provider(provider_name)?;
        self.require_method_on(info.name)?;
        bounded("code", req.code.expose(), MAX_CODE_LEN)?;
        bounded("state", req.state.expose(), MAX_STATE_LEN)?;
        if let Some(v) = &req.code_verifier {
            bounded("codeVerifier", v.expose(), MAX_CODE_LEN)?;
        }
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        if scopes.is_empty() {
            return Err(ApiError::unprocessable(
                codes::INVALID_SCOPES,
                "the sandbox links no new social accounts: requestedScopes must name at least one scope",
            ));
        }
        let now = self.now_ms();
        // Spent on first sight, whatever follows (RFC 6749 §4.1.2: a code is used once).
        let expired = match self.social.dynamic_codes.get_mut(req.code.expose(), now) {
            Some(found) => found.expired,
            None => return Err(refused("the code is unknown or was already used")),
        };
        let code = self
            .social
            .dynamic_codes
            .remove(req.code.expose())
            .ok_or_else(|| refused("the code is unknown or was already used"))?;
        if expired {
            return Err(refused(
                "the code has expired (codes are valid for 60 seconds)",
            ));
        }
        let DynamicCode { grant, initiator } = code;
        if grant.provider != info.name {
            return Err(refused("the code was issued for another provider"));
        }
        if !crypto::ct_eq(grant.state.as_bytes(), req.state.expose().as_bytes()) {
            return Err(refused("the state does not match the code's"));
        }
        if initiator.as_deref().is_some_and(|u| u != ctx.user_id) {
            return Err(refused("the sign-in was started by another user"));
        }
        match (&grant.challenge, &req.code_verifier) {
            (Some(challenge), Some(verifier)) => {
                if !valid_verifier(verifier.expose())
                    || !crypto::ct_eq(s256(verifier.expose()).as_bytes(), challenge.as_bytes())
                {
                    return Err(refused(
                        "the PKCE code verifier does not match the challenge",
                    ));
                }
            }
            (Some(_), None) => return Err(refused("this code needs its PKCE code verifier")),
            (None, Some(_)) => {
                return Err(refused(
                    "a code verifier was sent for a sign-in that had no PKCE challenge",
                ))
            }
            (None, None) => {}
        }
        if grant.account_user_id != ctx.user_id {
            return Err(ApiError::unprocessable(
                codes::SOCIAL_ACCOUNT_ALREADY_EXISTS,
                format!(
                    "this {} account is linked to another user, not to the signed-in one",
                    info.display
                ),
            ));
        }
        let linked = self
            .user(&ctx.user_id)?
            .social_accounts
            .iter()
            .any(|a| a.provider == info.name && a.account_id == grant.account_id);
        if !linked {
            return Err(refused(
                "this account is not a verified credential of the signed-in user",
            ));
        }
        if token.is_present() {
            self.require_elevated(ctx, token)?;
        }
        tracing::info!(
            provider = info.name,
            scopes = scopes.len(),
            "social step-up accepted"
        );
        self.grant(Session::Rotate(ctx), &scopes, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn states_verifiers_and_challenges_are_bounded() {
        assert!(valid_state(&"a".repeat(32)));
        for bad in [
            "short",
            &"a".repeat(129),
            &format!("{}/", "a".repeat(31)),
            "",
        ] {
            assert!(!valid_state(bad), "{bad}");
        }
        assert!(valid_verifier(&"A".repeat(43)) && valid_verifier("a.b~c_d-e".repeat(5).as_str()));
        assert!(!valid_verifier(&"A".repeat(42)) && !valid_verifier(&"A".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "A".repeat(43))));
        assert!(valid_challenge(&s256(&"x".repeat(43))));
        assert!(!valid_challenge("abc") && !valid_challenge(&"=".repeat(43)));
    }

    #[test]
    fn only_loopback_or_the_app_origin_are_redirect_urls() {
        let app = url::Url::parse("https://app.stepup.example").unwrap();
        for ok in [
            "http://127.0.0.1:4242/tok/callback",
            "http://[::1]:9/x",
            "http://localhost:1/",
            "https://app.stepup.example/after?x=1",
        ] {
            assert!(app_redirect_url(ok, &app).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "http://app.stepup.example/",
            "javascript:alert(1)",
            "http://user:pw@127.0.0.1:1/",
            "http://127.0.0.1.evil.example/",
            "/relative",
            "",
        ] {
            assert!(app_redirect_url(bad, &app).is_err(), "{bad}");
        }
        // The app's scheme, as on the mobile deep link allow-list, and nothing near it.
        assert!(app_redirect_url("com.stepup.desktop://oauth-callback", &app).is_ok());
        for bad in [
            "com.stepup.desktop://oauth-callback/x",
            "com.stepup.desktop://step-up",
            "com.stepup.desktop://oauth-callback?dynamicOauthCode=forged",
            "com.stepup.desktop://oauth-callback#f",
            "com.stepup.desktop://u@oauth-callback",
            "com.stepup.desktop://oauth-callback:1",
            "com.evil.desktop://oauth-callback",
            "file:///etc/passwd",
        ] {
            let refused = app_redirect_url(bad, &app).expect_err(bad);
            assert_eq!(
                refused.body.code.as_deref(),
                Some("unauthorized_mobile_deeplink_url"),
                "{bad}"
            );
        }
        assert!(app_redirect_url(&format!("http://127.0.0.1/{}", "a".repeat(3000)), &app).is_err());
    }

    #[test]
    fn params_keep_the_existing_query_and_refuse_repeats() {
        let url = url::Url::parse("http://127.0.0.1:1/cb?keep=1#frag").unwrap();
        assert_eq!(
            with_params(
                &url,
                &[("dynamicOauthCode", "a b"), ("dynamicOauthState", "s")]
            ),
            "http://127.0.0.1:1/cb?keep=1&dynamicOauthCode=a+b&dynamicOauthState=s"
        );
        let q = vec![
            ("state".to_owned(), "a".to_owned()),
            ("state".to_owned(), "b".to_owned()),
        ];
        assert!(param(&q, "state", 10).is_err());
        let q = vec![("state".to_owned(), "abc".to_owned())];
        assert_eq!(param(&q, "state", 10).unwrap(), Some("abc"));
        assert!(param(&q, "state", 2).is_err());
        assert_eq!(param(&q, "code", 10).unwrap(), None);
    }

    #[test]
    fn unknown_providers_are_not_available() {
        assert_eq!(provider("google").unwrap().name, "google");
        assert!(provider("github").unwrap().pkce && !provider("google").unwrap().pkce);
        let e = provider("myspace").unwrap_err();
        assert_eq!(e.body.code.as_deref(), Some("provider_not_available"));
    }

    /// The rules end to end on one authority: a user with Google and GitHub accounts.
    mod flow {
        use super::super::*;
        use crate::{SandboxConfig, UserSpec};
        use std::sync::Arc;
        use stepup_protocol::{ManualClock, Secret, TokenScope};

        struct Fixture {
            authority: Authority,
            clock: ManualClock,
            ctx: SessionCtx,
            other: SessionCtx,
        }

        fn fixture() -> Fixture {
            let clock = ManualClock::now();
            let config = SandboxConfig {
                clock: Arc::new(clock.clone()),
                ..SandboxConfig::default()
            };
            let mut authority = Authority::new(&config).unwrap();
            authority.set_public_origin("http://127.0.0.1:9".into());
            let session = |email: &str, authority: &mut Authority| {
                let user = authority
                    .create_user(UserSpec {
                        email: email.into(),
                        social: vec!["google".into(), "github".into()],
                        ..UserSpec::default()
                    })
                    .unwrap();
                let sid = authority.open_session(&user.user_id, None, None, None);
                SessionCtx {
                    user_id: user.user_id,
                    sid,
                }
            };
            let ctx = session("a@example.com", &mut authority);
            let other = session("b@example.com", &mut authority);
            Fixture {
                authority,
                clock,
                ctx,
                other,
            }
        }

        fn pairs(url: &str) -> Vec<(String, String)> {
            url::Url::parse(url)
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect()
        }

        fn get(url: &str, name: &str) -> String {
            pairs(url)
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
                .unwrap()
        }

        const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

        impl Fixture {
            /// initAuth as `ctx`, the page's query for `provider`, with or without a challenge.
            fn start(&mut self, provider: &str, state: &str, pkce: bool) -> Vec<(String, String)> {
                let ctx = self.ctx.clone();
                self.authority
                    .social_init_auth(
                        Some(&ctx),
                        provider,
                        &OauthInitAuthRequest {
                            state: Secret::new(state),
                            redirect_url: "http://127.0.0.1:7/tok/callback".into(),
                        },
                    )
                    .unwrap();
                let info = super::super::provider(provider).unwrap();
                let mut q = vec![
                    ("client_id".to_owned(), self.authority.client_id(info)),
                    (
                        "redirect_uri".to_owned(),
                        self.authority.provider_redirect_url(info),
                    ),
                    ("response_type".to_owned(), "code".to_owned()),
                    ("state".to_owned(), state.to_owned()),
                ];
                if pkce {
                    q.push(("code_challenge".to_owned(), s256(VERIFIER)));
                    q.push(("code_challenge_method".to_owned(), "S256".to_owned()));
                }
                q
            }

            /// The page, a decision, Dynamic's redirect: the app's redirect URL.
            fn trip(&mut self, provider: &str, q: &[(String, String)], allow: bool) -> String {
                let view = self.authority.social_authorize(provider, q).unwrap();
                let back = self
                    .authority
                    .social_decide(provider, &view.consent_id, allow)
                    .unwrap();
                assert!(back.starts_with(
                    &self
                        .authority
                        .provider_redirect_url(super::super::provider(provider).unwrap())
                ));
                self.authority
                    .social_redirect(provider, &pairs(&back))
                    .unwrap()
            }

            fn verify(
                &mut self,
                provider: &str,
                app: &str,
                verifier: Option<&str>,
            ) -> Result<VerifyResponse, ApiError> {
                let ctx = self.ctx.clone();
                self.verify_as(&ctx, provider, app, verifier)
            }

            fn verify_as(
                &mut self,
                ctx: &SessionCtx,
                provider: &str,
                app: &str,
                verifier: Option<&str>,
            ) -> Result<VerifyResponse, ApiError> {
                let req = OauthVerifyRequest {
                    code: Secret::new(get(app, "dynamicOauthCode")),
                    code_verifier: verifier.map(Secret::new),
                    state: Secret::new(get(app, "dynamicOauthState")),
                    requested_scopes: Some(vec![TokenScope::WalletExport]),
                };
                self.authority
                    .social_verify(ctx, provider, &req, &PresentedToken::new(None))
            }
        }

        fn message(r: Result<VerifyResponse, ApiError>) -> String {
            r.err().map(|e| e.body.error).unwrap_or_default()
        }

        #[test]
        fn a_github_sign_in_mints_once() {
            let mut f = fixture();
            let q = f.start("github", &"s".repeat(32), true);
            let app = f.trip("github", &q, true);
            assert!(app.starts_with("http://127.0.0.1:7/tok/callback?dynamicOauthCode="));
            let ok = f.verify("github", &app, Some(VERIFIER)).unwrap();
            assert!(ok.elevated_access_token.is_some());
            let again = message(f.verify("github", &app, Some(VERIFIER)));
            assert!(again.contains("already used"), "{again}");
        }

        #[test]
        fn a_credential_link_token_is_not_needed_but_checked_when_sent() {
            let mut f = fixture();
            let q = f.start("google", &"x".repeat(32), false);
            let app = f.trip("google", &q, true);
            let req = OauthVerifyRequest {
                code: Secret::new(get(&app, "dynamicOauthCode")),
                code_verifier: None,
                state: Secret::new(get(&app, "dynamicOauthState")),
                requested_scopes: Some(vec![TokenScope::WalletExport]),
            };
            let ctx = f.ctx.clone();
            let forged = PresentedToken::new(Some("not.a.token"));
            let e = f
                .authority
                .social_verify(&ctx, "google", &req, &forged)
                .unwrap_err();
            assert_eq!(e.body.code.as_deref(), Some("step_up_required"));
            // A genuine one of the caller's is taken.
            let link = f
                .authority
                .mint_elevated(&ctx.user_id, &["credential:link".to_owned()])
                .unwrap();
            let q = f.start("google", &"y".repeat(32), false);
            let app = f.trip("google", &q, true);
            let req = OauthVerifyRequest {
                code: Secret::new(get(&app, "dynamicOauthCode")),
                state: Secret::new(get(&app, "dynamicOauthState")),
                ..req
            };
            let token = PresentedToken::new(Some(link.expose()));
            assert!(f
                .authority
                .social_verify(&ctx, "google", &req, &token)
                .is_ok());
        }

        #[test]
        fn pkce_is_required_for_github_and_checked() {
            let mut f = fixture();
            let q = f.start("github", &"p".repeat(32), false);
            let e = f.authority.social_authorize("github", &q).unwrap_err();
            assert!(e.message.contains("PKCE"), "{e:?}");
            let q = f.start("github", &"q".repeat(32), true);
            let app = f.trip("github", &q, true);
            assert!(message(f.verify("github", &app, Some(&"A".repeat(43)))).contains("PKCE"));
            let q = f.start("github", &"r".repeat(32), true);
            let app = f.trip("github", &q, true);
            assert!(message(f.verify("github", &app, None)).contains("verifier"));
            // Google without a challenge takes no verifier.
            let q = f.start("google", &"g".repeat(32), false);
            let app = f.trip("google", &q, true);
            assert!(message(f.verify("google", &app, Some(VERIFIER))).contains("no PKCE"));
        }

        #[test]
        fn codes_expire_after_60_seconds() {
            let mut f = fixture();
            let q = f.start("google", &"e".repeat(32), false);
            let app = f.trip("google", &q, true);
            f.clock.advance_millis(CODE_TTL_MS);
            assert!(message(f.verify("google", &app, None)).contains("expired"));
            assert!(message(f.verify("google", &app, None)).contains("already used"));
        }

        #[test]
        fn the_code_is_for_its_initiator_and_its_state() {
            let mut f = fixture();
            let q = f.start("google", &"i".repeat(32), false);
            let app = f.trip("google", &q, true);
            let other = f.other.clone();
            let e = message(f.verify_as(&other, "google", &app, None));
            assert!(e.contains("another user"), "{e}");
            let q = f.start("google", &"j".repeat(32), false);
            let app = f.trip("google", &q, true);
            let forged = app.replace(&"j".repeat(32), &"k".repeat(32));
            assert!(message(f.verify("google", &forged, None)).contains("state"));
            let q = f.start("google", &"l".repeat(32), false);
            let app = f.trip("google", &q, true);
            assert!(message(f.verify("github", &app, None)).contains("another provider"));
        }

        #[test]
        fn another_users_account_is_social_account_already_exists() {
            let mut f = fixture();
            let mut q = f.start("google", &"h".repeat(32), false);
            q.push(("login_hint".into(), "b@example.com".into()));
            let app = f.trip("google", &q, true);
            let e = f.verify("google", &app, None).unwrap_err();
            assert_eq!(
                e.body.code.as_deref(),
                Some("social_account_already_exists")
            );
        }

        #[test]
        fn deny_redirects_with_an_error_and_no_code() {
            let mut f = fixture();
            let q = f.start("google", &"d".repeat(32), false);
            let app = f.trip("google", &q, false);
            let p = pairs(&app);
            assert!(p.contains(&("dynamicOauthError".into(), "access_denied".into())));
            assert!(p.iter().all(|(k, _)| k != "dynamicOauthCode"));
            // The state is spent: Dynamic's redirect cannot be replayed.
            let e = f
                .authority
                .social_redirect("google", &[("state".into(), "d".repeat(32))])
                .unwrap_err();
            assert_eq!(e.status, 400);
        }

        #[test]
        fn the_page_checks_the_client_and_its_answer_is_single_use() {
            let mut f = fixture();
            let q = f.start("google", &"c".repeat(32), false);
            let mut bad = q.clone();
            bad[1].1 = "https://evil.example/cb".into();
            assert_eq!(
                f.authority
                    .social_authorize("google", &bad)
                    .unwrap_err()
                    .status,
                400
            );
            let mut bad = q.clone();
            bad[0].1 = "someone-else".into();
            assert_eq!(
                f.authority
                    .social_authorize("google", &bad)
                    .unwrap_err()
                    .status,
                400
            );
            let view = f.authority.social_authorize("google", &q).unwrap();
            assert_eq!(
                view.account.as_ref().map(|a| a.1.as_str()),
                Some("a@example.com")
            );
            f.authority
                .social_decide("google", &view.consent_id, true)
                .unwrap();
            assert!(f
                .authority
                .social_decide("google", &view.consent_id, true)
                .is_err());
            // The page opened again (the dialog's "open the page again") is answered too.
            let q = f.start("google", &"o".repeat(32), false);
            let _first = f.authority.social_authorize("google", &q).unwrap();
            let app = f.trip("google", &q, true);
            assert!(f.verify("google", &app, None).is_ok());
            // An unknown state gets no page.
            let mut unknown = q.clone();
            unknown[3].1 = "u".repeat(32);
            assert!(f.authority.social_authorize("google", &unknown).is_err());
        }

        #[test]
        fn a_state_is_taken_once_and_redirect_urls_are_checked() {
            let mut f = fixture();
            f.start("google", &"t".repeat(32), false);
            let ctx = f.ctx.clone();
            let again = f.authority.social_init_auth(
                Some(&ctx),
                "google",
                &OauthInitAuthRequest {
                    state: Secret::new("t".repeat(32)),
                    redirect_url: "http://127.0.0.1:7/x".into(),
                },
            );
            assert!(again.is_err(), "a state in use is refused");
            let open_redirect = f.authority.social_init_auth(
                None,
                "google",
                &OauthInitAuthRequest {
                    state: Secret::new("v".repeat(32)),
                    redirect_url: "https://evil.example/".into(),
                },
            );
            assert!(open_redirect.is_err());
        }

        #[test]
        fn settings_point_at_the_sandbox_itself() {
            let f = fixture();
            let providers = f.authority.provider_settings();
            let google = &providers[0];
            assert_eq!(google["provider"], "google");
            assert_eq!(
                google["baseAuthUrl"],
                format!(
                    "http://127.0.0.1:9/api/v0/sandbox/{}/oauth/google/authorize",
                    f.authority.env
                )
            );
            assert_eq!(
                google["redirectUrl"],
                format!(
                    "http://127.0.0.1:9/api/v0/sdk/{}/providers/google/redirect",
                    f.authority.env
                )
            );
            assert_eq!(providers[1]["provider"], "github");
        }
    }
}
