//! Social step-up against the real sandbox on 127.0.0.1: the client's loopback receiver, the
//! sandbox's provider page, Dynamic's redirect and `providers/{p}/verify`, all over real HTTP.
//! The "browser" is reqwest doing what a browser does with the page (GET it, submit its form,
//! follow the 303s one by one, so that a test can stop or change a step).

mod common;

use std::sync::Mutex;

use common::{stored, world, World};
use serde_json::{json, Value};
use stepup_client::{
    CredentialFormat, StepUpError, SystemBrowser, TokenScope, TokenVault, VerifyOutcome,
};
use stepup_sandbox::{SocialAccount, UserSpec, SOCIAL_CODE_TTL_MS};
use tokio::task::JoinHandle;

const EXPORT: [TokenScope; 1] = [TokenScope::WalletExport];
const LINK: [TokenScope; 1] = [TokenScope::CredentialLink];

fn social_user(email: &str, providers: &[&str]) -> UserSpec {
    UserSpec {
        email: email.into(),
        wallet: true,
        social: providers.iter().map(|p| (*p).to_owned()).collect(),
        ..Default::default()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status().as_u16(), 303, "a redirect");
    response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("a Location")
        .to_owned()
}

/// What the browser saw on its way back to the app.
#[derive(Debug, Clone)]
struct Trip {
    /// The page's text.
    page: String,
    /// Dynamic's side, where the provider sent the browser.
    dynamic: String,
    /// The app's redirect URL with `dynamicOauthCode` and `dynamicOauthState`.
    app: String,
}

/// Opens the provider page (with `login_hint`, if given), presses `decision`, follows the
/// provider's redirect to Dynamic's side; returns before the app's redirect URL is loaded.
async fn authorize(url: &str, decision: &str, login_hint: Option<&str>) -> Trip {
    let http = http();
    let url = match login_hint {
        Some(hint) => {
            let mut u = url::Url::parse(url).expect("a URL");
            u.query_pairs_mut().append_pair("login_hint", hint);
            u.to_string()
        }
        None => url.to_owned(),
    };
    let page = http.get(&url).send().await.expect("the page");
    assert_eq!(page.status().as_u16(), 200, "the authorisation page");
    let page = page.text().await.expect("its HTML");
    let consent = page
        .split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's form")
        .to_owned();
    // The form has no action: a browser posts it to the page's own URL.
    let body = format!("consent={consent}&decision={decision}");
    let answered = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("the form");
    let dynamic = location(&answered);
    let back = http.get(&dynamic).send().await.expect("Dynamic's side");
    let app = location(&back);
    Trip { page, dynamic, app }
}

/// Loads the app's redirect URL (the loopback receiver): its status and text.
async fn deliver(app_url: &str) -> (u16, String) {
    let r = http()
        .get(app_url)
        .send()
        .await
        .expect("the app's receiver");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// A browser that does the whole trip when opened, pressing `decision`.
struct ScriptedBrowser {
    decision: &'static str,
    trip: Mutex<Option<JoinHandle<Trip>>>,
}

impl ScriptedBrowser {
    fn pressing(decision: &'static str) -> Self {
        Self {
            decision,
            trip: Mutex::new(None),
        }
    }

    async fn trip(&self) -> Trip {
        let handle = self
            .trip
            .lock()
            .expect("lock")
            .take()
            .expect("the browser was opened");
        handle.await.expect("the browser's trip")
    }
}

impl SystemBrowser for ScriptedBrowser {
    fn open(&self, url: &str) -> Result<(), StepUpError> {
        let url = url.to_owned();
        let decision = self.decision;
        let handle = tokio::spawn(async move {
            let trip = authorize(&url, decision, None).await;
            let (status, page) = deliver(&trip.app).await;
            assert_eq!(status, 200);
            assert!(page.contains("You can close this tab"), "{page}");
            trip
        });
        *self.trip.lock().expect("lock") = Some(handle);
        Ok(())
    }
}

fn query(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .expect("the parameter is in the URL")
}

fn account(w: &World, provider: &str) -> SocialAccount {
    w.user
        .social_accounts
        .iter()
        .find(|a| a.provider == provider)
        .cloned()
        .expect("a linked account")
}

fn bearer(w: &World) -> String {
    w.vault
        .load()
        .expect("vault")
        .session
        .expect("signed in")
        .token
        .expose()
        .to_owned()
}

/// `POST providers/{p}/verify` sent raw, as the signed-in user (with its session key).
async fn raw_verify(w: &World, provider: &str, body: Value) -> (u16, Value) {
    let url = format!(
        "{}/sdk/{}/providers/{provider}/verify",
        w.sandbox.base_url(),
        w.sandbox.environment_id()
    );
    let r = http()
        .post(url)
        .bearer_auth(bearer(w))
        .header("x-dyn-session-public-key", stored(&w.vault).1)
        .json(&body)
        .send()
        .await
        .expect("verify");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn scopes_of(outcome: &VerifyOutcome) -> Vec<TokenScope> {
    outcome
        .token
        .as_ref()
        .map(|t| t.scopes.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn google_gives_a_credential_link_token() {
    let w = world(social_user("ann@example.com", &["google"])).await;
    let google = account(&w, "google");
    let accounts = w.client.social_accounts();
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (
            accounts[0].provider.as_str(),
            accounts[0].account_name.as_str()
        ),
        ("google", google.username.as_str())
    );
    let check = w.client.check_step_up(TokenScope::CredentialLink).await;
    assert!(check.is_required);
    assert!(
        check
            .credentials
            .iter()
            .any(|c| c.format == CredentialFormat::Oauth && c.id == google.credential_id),
        "stepUp/check offers the Google account: {check:?}"
    );
    let session_before = bearer(&w);
    let browser = ScriptedBrowser::pressing("allow");
    let outcome = w
        .client
        .verify_social("google", &LINK, &browser)
        .await
        .expect("social step-up");
    let trip = browser.trip().await;
    assert!(
        trip.page.contains(&google.username),
        "the page names the account"
    );
    assert!(trip.dynamic.contains("/providers/google/redirect?code="));
    assert_eq!(scopes_of(&outcome), LINK.to_vec());
    assert_ne!(bearer(&w), session_before, "the session rotated");
    let again = w.client.check_step_up(TokenScope::CredentialLink).await;
    assert!(!again.is_required, "the stored token answers locally");
    // The sandbox takes the token where credential:link is required.
    w.client
        .register_totp_device()
        .await
        .expect("TOTP registration with the credential:link token");
}

#[tokio::test]
async fn github_with_pkce_gives_a_wallet_export_token_that_exports() {
    let w = world(social_user("ben@example.com", &["github"])).await;
    let pending = w
        .client
        .begin_social("github", &EXPORT)
        .await
        .expect("begin");
    assert!(pending.uses_pkce());
    let url = pending.authorization_url().expose().to_owned();
    assert_eq!(query(&url, "code_challenge_method"), "S256");
    assert_eq!(query(&url, "code_challenge").len(), 43);
    assert_eq!(query(&url, "state").len(), 32);
    let trip = tokio::spawn(async move {
        let trip = authorize(&url, "allow", None).await;
        deliver(&trip.app).await;
        trip
    });
    let outcome = w
        .client
        .complete_social(pending, std::time::Duration::from_secs(30))
        .await
        .expect("social step-up");
    trip.await.expect("the browser");
    assert_eq!(scopes_of(&outcome), EXPORT.to_vec());
    let exported = w
        .client
        .export_wallet_private_key(&w.wallet_id())
        .await
        .expect("the export takes the token");
    assert_eq!(Some(exported.address), w.user.wallet_address.clone());
}

#[tokio::test]
async fn another_state_is_refused_and_the_receiver_takes_one_redirect() {
    let w = world(social_user("cat@example.com", &["google"])).await;
    let pending = w
        .client
        .begin_social("google", &EXPORT)
        .await
        .expect("begin");
    let trip = authorize(pending.authorization_url().expose(), "allow", None).await;
    let state = query(&trip.app, "dynamicOauthState");
    let forged = trip.app.replace(&state, &"x".repeat(32));
    let app = trip.app.clone();
    let browser = tokio::spawn(async move {
        let first = deliver(&forged).await;
        // The receiver closed with the first redirect: the genuine one finds no one.
        let second = http().get(&app).send().await.map(|r| r.status().as_u16());
        (first, second)
    });
    assert_eq!(
        w.client
            .complete_social(pending, std::time::Duration::from_secs(30))
            .await,
        Err(StepUpError::SocialStateMismatch)
    );
    let ((status, _), second) = browser.await.expect("browser");
    assert_eq!(status, 200);
    assert!(second.as_ref().map_or(true, |s| *s == 409), "{second:?}");
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn a_code_is_used_once() {
    let w = world(social_user("dan@example.com", &["google"])).await;
    let browser = ScriptedBrowser::pressing("allow");
    w.client
        .verify_social("google", &EXPORT, &browser)
        .await
        .expect("first use");
    let trip = browser.trip().await;
    let (status, body) = raw_verify(
        &w,
        "google",
        json!({
            "code": query(&trip.app, "dynamicOauthCode"),
            "state": query(&trip.app, "dynamicOauthState"),
            "requestedScopes": ["wallet:export"],
        }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_verification");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("already used"),
        "{body}"
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_and_spends_the_code() {
    let w = world(social_user("eve@example.com", &["github"])).await;
    let pending = w
        .client
        .begin_social("github", &EXPORT)
        .await
        .expect("begin");
    let trip = authorize(pending.authorization_url().expose(), "allow", None).await;
    let code = query(&trip.app, "dynamicOauthCode");
    let state = query(&trip.app, "dynamicOauthState");
    let (status, body) = raw_verify(
        &w,
        "github",
        json!({"code": code, "state": state, "codeVerifier": "A".repeat(43),
               "requestedScopes": ["wallet:export"]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("PKCE"),
        "{body}"
    );
    // The genuine verifier comes too late: the code was spent by the wrong one.
    let app = trip.app.clone();
    let browser = tokio::spawn(async move { deliver(&app).await });
    assert_eq!(
        w.client
            .complete_social(pending, std::time::Duration::from_secs(30))
            .await,
        Err(StepUpError::SocialRefused)
    );
    browser.await.expect("browser");
}

#[tokio::test]
async fn a_pkce_code_without_its_verifier_is_refused() {
    let w = world(social_user("fay@example.com", &["github"])).await;
    let pending = w
        .client
        .begin_social("github", &EXPORT)
        .await
        .expect("begin");
    let trip = authorize(pending.authorization_url().expose(), "allow", None).await;
    let (status, body) = raw_verify(
        &w,
        "github",
        json!({"code": query(&trip.app, "dynamicOauthCode"),
               "state": query(&trip.app, "dynamicOauthState"),
               "requestedScopes": ["wallet:export"]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("verifier"),
        "{body}"
    );
    drop(pending);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let w = world(social_user("gil@example.com", &["google"])).await;
    let pending = w
        .client
        .begin_social("google", &EXPORT)
        .await
        .expect("begin");
    let trip = authorize(pending.authorization_url().expose(), "allow", None).await;
    w.clock.advance_millis(SOCIAL_CODE_TTL_MS + 1_000);
    let (status, body) = raw_verify(
        &w,
        "google",
        json!({"code": query(&trip.app, "dynamicOauthCode"),
               "state": query(&trip.app, "dynamicOauthState"),
               "requestedScopes": ["wallet:export"]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("expired"),
        "{body}"
    );
    let app = trip.app.clone();
    let browser = tokio::spawn(async move { deliver(&app).await });
    // The client gets the same code afterwards: refused (expired, and spent by now).
    assert_eq!(
        w.client
            .complete_social(pending, std::time::Duration::from_secs(30))
            .await,
        Err(StepUpError::SocialRefused)
    );
    browser.await.expect("browser");
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn another_users_account_is_refused() {
    let w = world(social_user("hal@example.com", &["google"])).await;
    let other = w
        .sandbox
        .create_user(social_user("ivy@example.com", &["google"]))
        .expect("another user");
    let theirs = other.social_accounts[0].clone();
    let pending = w
        .client
        .begin_social("google", &EXPORT)
        .await
        .expect("begin");
    // The browser is signed in to Google as the other user.
    let trip = authorize(
        pending.authorization_url().expose(),
        "allow",
        Some(&theirs.username),
    )
    .await;
    assert!(
        trip.page.contains(&theirs.username),
        "the page names their account"
    );
    let app = trip.app.clone();
    let browser = tokio::spawn(async move { deliver(&app).await });
    assert_eq!(
        w.client
            .complete_social(pending, std::time::Duration::from_secs(30))
            .await,
        Err(StepUpError::SocialAccountLinkedToAnotherUser)
    );
    browser.await.expect("browser");
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn deny_ends_the_sign_in() {
    let w = world(social_user("jo@example.com", &["google"])).await;
    let browser = ScriptedBrowser::pressing("deny");
    assert_eq!(
        w.client.verify_social("google", &EXPORT, &browser).await,
        Err(StepUpError::SocialDenied)
    );
    let trip = browser.trip().await;
    assert!(
        trip.dynamic.contains("error=access_denied"),
        "{}",
        trip.dynamic
    );
    assert!(
        url::Url::parse(&trip.app)
            .expect("url")
            .query_pairs()
            .all(|(k, _)| k != "dynamicOauthCode"),
        "no code after Deny"
    );
    assert!(w.client.elevated_tokens().is_empty());
}

#[tokio::test]
async fn a_provider_without_a_linked_account_sends_nothing() {
    let w = world(social_user("kim@example.com", &["google"])).await;
    let browser = ScriptedBrowser::pressing("allow");
    assert_eq!(
        w.client.verify_social("github", &EXPORT, &browser).await,
        Err(StepUpError::SocialAccountNotLinked {
            provider: "github".into()
        })
    );
    assert!(
        browser.trip.lock().expect("lock").is_none(),
        "no browser opened"
    );
}

#[tokio::test]
async fn the_page_is_answered_only_from_itself() {
    let w = world(social_user("lou@example.com", &["google"])).await;
    let pending = w
        .client
        .begin_social("google", &EXPORT)
        .await
        .expect("begin");
    let url = pending.authorization_url().expose().to_owned();
    let page = http().get(&url).send().await.expect("the page");
    assert_eq!(
        page.headers()
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("same-origin"),
        "a browser then sends the page's own Origin with the form"
    );
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.expect("html");
    assert!(!html.contains("<script"), "no script on the page");
    let consent = html
        .split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form")
        .to_owned();
    let answer = |origin: Option<&'static str>| {
        let mut r = http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("consent={consent}&decision=allow"));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let cross = answer(Some("http://evil.example")).await.expect("post");
    assert_eq!(cross.status().as_u16(), 403);
    let null = answer(Some("null")).await.expect("post");
    assert_eq!(null.status().as_u16(), 403);
    // Refused before the consent was used: the page itself still answers.
    let sandbox_origin = format!("http://{}", w.sandbox.local_addr());
    let own = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", sandbox_origin)
        .body(format!("consent={consent}&decision=allow"))
        .send()
        .await
        .expect("post");
    assert_eq!(own.status().as_u16(), 303);
    assert_eq!(
        own.headers()
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("no-referrer")
    );
    drop(pending);
}

const APP_SCHEME: &str = "com.stepup.desktop://oauth-callback";

/// The query of an app-scheme redirect link (what the OS hands the app).
fn scheme_query(link: &str) -> String {
    link.strip_prefix(&format!("{APP_SCHEME}?"))
        .expect("Dynamic redirects to the app's scheme")
        .to_owned()
}

#[tokio::test]
async fn with_the_loopback_off_the_app_scheme_brings_the_redirect_back_once() {
    use stepup_client::loopback::CallbackRefused;
    use stepup_client::verify::SocialRedirect;
    let w = world(social_user("fay@example.com", &["github"])).await;
    let redirect = SocialRedirect::app_scheme_only(APP_SCHEME).expect("the app's scheme");
    let pending = w
        .client
        .begin_social_with("github", &EXPORT, &redirect)
        .await
        .expect("the sandbox takes the app's scheme as redirectUrl");
    assert!(pending.uses_pkce());
    let callback = pending.app_scheme_callback().expect("on the app's scheme");
    let trip = authorize(pending.authorization_url().expose(), "allow", None).await;
    let genuine = scheme_query(&trip.app);
    let state = query(&trip.app, "dynamicOauthState");
    // A link forged with another state (any page can open the scheme) changes nothing.
    assert_eq!(
        callback.deliver(&genuine.replace(&state, &"x".repeat(32))),
        Err(CallbackRefused::NotThisWait)
    );
    callback.deliver(&genuine).expect("the genuine redirect");
    assert_eq!(
        callback.deliver(&genuine),
        Err(CallbackRefused::AlreadyAnswered)
    );
    let outcome = w
        .client
        .complete_social(pending, std::time::Duration::from_secs(30))
        .await
        .expect("social step-up over the app's scheme");
    assert_eq!(scopes_of(&outcome), EXPORT.to_vec());
}

#[tokio::test]
async fn a_deny_on_the_app_scheme_is_said_and_another_scheme_is_refused() {
    use stepup_client::verify::SocialRedirect;
    let w = world(social_user("gus@example.com", &["google"])).await;
    let redirect = SocialRedirect::app_scheme_only(APP_SCHEME).expect("the app's scheme");
    let pending = w
        .client
        .begin_social_with("google", &EXPORT, &redirect)
        .await
        .expect("begin");
    let callback = pending.app_scheme_callback().expect("on the app's scheme");
    let trip = authorize(pending.authorization_url().expose(), "deny", None).await;
    callback.deliver(&scheme_query(&trip.app)).expect("taken");
    assert_eq!(
        w.client
            .complete_social(pending, std::time::Duration::from_secs(30))
            .await,
        Err(StepUpError::SocialDenied)
    );
    // A private-use scheme that is not on the environment's deep link allow-list.
    let other = SocialRedirect::app_scheme_only("com.evil.app://oauth-callback").expect("valid");
    let refused = w
        .client
        .begin_social_with("google", &EXPORT, &other)
        .await
        .expect_err("not on the allow-list");
    assert!(
        matches!(&refused, StepUpError::Api { status: 422, code, .. } if code == "unauthorized_mobile_deeplink_url"),
        "{refused:?}"
    );
    assert!(w.client.elevated_tokens().is_empty());
}
