//! The social sign-in's fallback where no loopback port can be opened: the redirect comes back
//! as a link of the app's scheme (`com.stepup.desktop://oauth-callback?…`), against a real
//! sandbox over loopback HTTP. The link goes to the sign-in of the request shown, and only
//! there: never to the desk as a request; with no sign-in waiting it is refused; another
//! state, a second answer, a malformed or oversize link are refused; Cancel ends the wait.
//! The "browser" is a few raw HTTP requests doing what a browser does with the sandbox's
//! provider page (GET it, submit its form, follow the 303s).

use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepup_client::verify::SocialRedirect;
use stepup_client::{StepUpClient, StepUpError};
use stepup_requests::desk::MIN_SHOWN_MS;
use stepup_requests::flow;
use stepup_requests::link::{SocialCallbackLink, MAX_CALLBACK_PARAMS, SOCIAL_CALLBACK_URL};
use stepup_requests::views::{LinkEvent, VerifiedView};
use stepup_requests::{AppError, DeepLinkError, Delivery, Method, ReturnToAllowList, SharedDesk};
use stepup_sandbox::{RunningSandbox, UserSpec};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinHandle;

mod common;

const LINK: &str = "com.stepup.desktop://step-up?scope=credential:link&requester=Acme";

struct World {
    _sandbox: RunningSandbox,
    client: StepUpClient,
    desk: SharedDesk,
    opened: Arc<Mutex<Vec<String>>>,
}

async fn world(email: &str) -> Arc<World> {
    let common::SignedIn {
        sandbox, client, ..
    } = common::signed_in(UserSpec {
        email: email.into(),
        social: vec!["google".into()],
        ..Default::default()
    })
    .await;
    let (desk, opened) = common::recording_desk();
    Arc::new(World {
        _sandbox: sandbox,
        client,
        desk,
        opened,
    })
}

impl World {
    /// A request opened by a link and begun: its id and its offered social credential.
    async fn begin(&self) -> (u64, String) {
        let id = {
            let mut desk = self.desk.lock();
            desk.ui_ready();
            match desk.receive_link(LINK, &ReturnToAllowList::default(), 0) {
                Delivery::Now(LinkEvent::Request { request }) => Some(request.id),
                _ => None,
            }
            .expect("a request")
        };
        let view = flow::begin(&self.desk, &self.client, id, None, 0)
            .await
            .expect("begin");
        let social = view
            .credentials
            .iter()
            .find(|c| c.method == Method::Social)
            .expect("the Google account is offered");
        (id, social.id.clone())
    }

    /// The social sign-in of request `id` with the loopback forced off, running.
    fn sign_in(
        self: &Arc<Self>,
        id: u64,
        credential: &str,
    ) -> JoinHandle<Result<VerifiedView, AppError>> {
        let w = self.clone();
        let credential = credential.to_owned();
        tokio::spawn(async move {
            let redirect =
                SocialRedirect::app_scheme_only(SOCIAL_CALLBACK_URL).expect("the app's scheme");
            flow::sign_in_social(
                &w.desk,
                &w.client,
                id,
                &credential,
                &redirect,
                None,
                &|| MIN_SHOWN_MS,
            )
            .await
        })
    }

    /// The page the flow opened in the "system browser".
    async fn opened_url(&self) -> String {
        for _ in 0..500 {
            if let Some(url) = self.opened.lock().expect("opened").first() {
                return url.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.opened
            .lock()
            .expect("opened")
            .first()
            .cloned()
            .expect("a page was opened")
    }
}

/// One HTTP/1.1 request over a fresh connection: the status and the whole response.
async fn http(method: &str, url: &str, form: Option<&str>) -> (u16, String) {
    let parsed = url::Url::parse(url).expect("url");
    let host = format!(
        "{}:{}",
        parsed.host_str().expect("host"),
        parsed.port().expect("port")
    );
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let body = form.unwrap_or_default();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply).await;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, reply)
}

fn location(reply: &str) -> String {
    reply
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .expect("a Location")
        .trim()
        .to_owned()
}

/// The browser's trip: the provider page, `decision` pressed, the provider's redirect to
/// Dynamic's side; returns where Dynamic sends the browser (the app's scheme link).
async fn authorize(url: &str, decision: &str) -> String {
    let (status, page) = http("GET", url, None).await;
    assert_eq!(status, 200, "the authorisation page: {page}");
    let consent = page
        .split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's form")
        .to_owned();
    let form = format!("consent={consent}&decision={decision}");
    let (status, answered) = http("POST", url, Some(&form)).await;
    assert_eq!(status, 303, "{answered}");
    let (status, back) = http("GET", &location(&answered), None).await;
    assert_eq!(status, 303, "{back}");
    location(&back)
}

fn state_of(link: &str) -> String {
    url::Url::parse(link)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "dynamicOauthState")
        .map(|(_, v)| v.into_owned())
        .expect("a state")
}

#[test]
fn callback_links_are_told_apart_and_bounded() {
    let state = "s".repeat(32);
    let good = format!("{SOCIAL_CALLBACK_URL}?dynamicOauthCode=c%2B1&dynamicOauthState={state}");
    assert!(SocialCallbackLink::is_callback(&good));
    assert!(SocialCallbackLink::is_callback(
        "COM.STEPUP.DESKTOP://oauth-callback/?x"
    ));
    assert!(!SocialCallbackLink::is_callback(LINK));
    assert!(!SocialCallbackLink::is_callback(
        "com.stepup.desktop://oauth-callbackx?dynamicOauthState=s"
    ));
    let parsed = SocialCallbackLink::parse(&good).expect("a callback");
    assert_eq!(
        parsed.query(),
        format!("dynamicOauthCode=c%2B1&dynamicOauthState={state}")
    );
    assert!(
        !format!("{parsed:?}").contains(&state),
        "Debug redacts the code and the state"
    );
    let denied =
        format!("{SOCIAL_CALLBACK_URL}/?dynamicOauthState={state}&dynamicOauthError=access_denied");
    assert!(SocialCallbackLink::parse(&denied).is_ok());
    let cases: Vec<(String, DeepLinkError)> = vec![
        (
            format!("{good}&x={}", "a".repeat(2048)),
            DeepLinkError::TooLong(good.len() + 3 + 2048),
        ),
        (
            format!("{good}&x=a b"),
            DeepLinkError::BadCharacter(good.len() + 4),
        ),
        (format!("{good}#frag"), DeepLinkError::UnexpectedParts),
        (
            format!("{SOCIAL_CALLBACK_URL}/more?dynamicOauthState={state}"),
            DeepLinkError::UnexpectedParts,
        ),
        (
            format!("{good}&dynamicOauthState={state}"),
            DeepLinkError::DuplicateParameter("dynamicOauthState"),
        ),
        (
            format!("{good}&dynamicOauthCode=c2"),
            DeepLinkError::DuplicateParameter("dynamicOauthCode"),
        ),
        (
            format!("{SOCIAL_CALLBACK_URL}?dynamicOauthCode=c"),
            DeepLinkError::MissingParameter("dynamicOauthState"),
        ),
        (
            format!("{good}{}", "&x=1".repeat(MAX_CALLBACK_PARAMS)),
            DeepLinkError::TooManyParameters,
        ),
        (
            "https://evil.example/oauth-callback".to_owned(),
            DeepLinkError::WrongScheme,
        ),
    ];
    for (link, expected) in cases {
        assert_eq!(
            SocialCallbackLink::parse(&link).err(),
            Some(expected),
            "{link:.120}"
        );
    }
}

#[tokio::test]
async fn a_callback_with_no_sign_in_waiting_is_refused_and_opens_nothing() {
    let desk = SharedDesk::default();
    desk.lock().ui_ready();
    let link = format!(
        "{SOCIAL_CALLBACK_URL}?dynamicOauthCode=c&dynamicOauthState={}",
        "s".repeat(32)
    );
    let refused = flow::receive_social_callback(&desk, &link).unwrap_err();
    assert_eq!(refused, AppError::NoSocialSignInWaiting);
    assert_eq!(refused.code(), "no_social_sign_in_waiting");
    assert!(
        refused.to_string().contains("approves nothing"),
        "{refused}"
    );
    let oversize = format!("{link}&x={}", "a".repeat(4096));
    assert!(matches!(
        flow::receive_social_callback(&desk, &oversize),
        Err(AppError::SocialCallbackRefused(m)) if m.contains("too long")
    ));
    assert_eq!(
        desk.lock().open_count(),
        0,
        "a callback never opens a request"
    );
    assert!(desk.lock().history().is_empty());
}

#[tokio::test]
async fn the_app_scheme_redirect_reaches_the_shown_request_s_sign_in_once() {
    let w = world("hal@stepup.example").await;
    let (id, credential) = w.begin().await;
    let signing = w.sign_in(id, &credential);
    let url = w.opened_url().await;
    let back = authorize(&url, "allow").await;
    assert!(
        back.starts_with(&format!("{SOCIAL_CALLBACK_URL}?")),
        "Dynamic sends the browser to the app's scheme: {back}"
    );
    // Any page can open the app's scheme: a link with another state is refused, and the
    // sign-in still waits for the genuine one.
    let forged = back.replace(&state_of(&back), &"x".repeat(32));
    assert!(matches!(
        flow::receive_social_callback(&w.desk, &forged),
        Err(AppError::SocialCallbackRefused(m)) if m.contains("not for the sign-in waiting")
    ));
    assert!(!signing.is_finished());
    assert_eq!(w.desk.lock().open_count(), 1, "nothing new on the desk");
    flow::receive_social_callback(&w.desk, &back).expect("the genuine redirect");
    let second = flow::receive_social_callback(&w.desk, &back);
    assert!(second.is_err(), "a second redirect is refused: {second:?}");
    let verified = signing.await.expect("task").expect("approved");
    assert!(verified
        .scopes
        .iter()
        .any(|s| s.as_str() == "credential:link"));
    assert!(w
        .client
        .elevated_tokens()
        .iter()
        .any(|t| t.scopes.iter().any(|s| s.as_str() == "credential:link")));
    // The sign-in is over: the same link again finds no one, and opens nothing.
    assert_eq!(
        flow::receive_social_callback(&w.desk, &back),
        Err(AppError::NoSocialSignInWaiting)
    );
    assert_eq!(w.desk.lock().open_count(), 0);
}

#[tokio::test]
async fn cancel_ends_the_app_scheme_wait_and_a_late_redirect_approves_nothing() {
    let w = world("ida@stepup.example").await;
    let (id, credential) = w.begin().await;
    let signing = w.sign_in(id, &credential);
    let url = w.opened_url().await;
    let back = authorize(&url, "allow").await;
    flow::cancel_browser(&w.desk, id).expect("cancel");
    assert_eq!(
        signing.await.expect("task").err(),
        Some(AppError::Client(StepUpError::Cancelled))
    );
    assert_eq!(
        flow::receive_social_callback(&w.desk, &back),
        Err(AppError::NoSocialSignInWaiting)
    );
    assert!(w.client.elevated_tokens().is_empty(), "nothing approved");
    assert_eq!(
        w.desk.lock().open_count(),
        1,
        "the request stays open for another way"
    );
}

#[tokio::test]
async fn a_deny_on_the_app_scheme_is_said() {
    let w = world("jo@stepup.example").await;
    let (id, credential) = w.begin().await;
    let signing = w.sign_in(id, &credential);
    let url = w.opened_url().await;
    let back = authorize(&url, "deny").await;
    flow::receive_social_callback(&w.desk, &back).expect("taken");
    assert_eq!(
        signing.await.expect("task").err(),
        Some(AppError::Client(StepUpError::SocialDenied))
    );
    assert!(w.client.elevated_tokens().is_empty());
}
