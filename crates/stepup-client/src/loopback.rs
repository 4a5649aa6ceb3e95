//! The one-time loopback receiver: how the system browser hands an answer back to the app.
//!
//! A desktop app has no `window.ethereum` and must not run an OAuth flow in an embedded webview
//! (RFC 8252 §8.12), so both the wallet step-up and the social re-authentication send the user
//! to the system browser and wait here for the answer:
//! - the **wallet page** is served by the receiver itself (`GET /{token}/`), asks the browser
//!   wallet for a `personal_sign`, and POSTs the result back to `POST /{token}/answer`;
//! - the **social redirect** comes back as `GET /{token}/callback?…` (RFC 8252 §7.3).
//!
//! What it guarantees:
//! - it listens on `127.0.0.1` (else `[::1]`) on a port the OS picks, never on another interface;
//! - every path starts with a 256-bit random token, compared in constant time; a request for
//!   another path gets 404 and changes nothing;
//! - the `Host` header must name this very origin (DNS rebinding), a POST must come from this
//!   origin (`Origin`, `Sec-Fetch-Site`) with a JSON body of bounded length;
//! - every request is bounded before it is read (head 8 KiB, 64 headers, body 16 KiB), each
//!   connection has 10 s to send it, at most 16 are served at once;
//! - **one** answer is accepted: the first valid one ends the wait, the listener closes with it,
//!   and a second answer (even one racing the first) is refused with 409;
//! - the wait ends with an error on [`ReceiverCancel::cancel`] or after its timeout, and the port
//!   is closed then too;
//! - the pages are sent with a strict Content-Security-Policy (no third-party anything, inline
//!   script and style only with the nonce of this receiver), `no-store`, `no-referrer`, no frames.
//!
//! The answer is not logged: it carries a signature or an OAuth code.
//!
//! Where no loopback port can be opened, [`SchemeReceiver`] is the OAuth redirect's fallback
//! (RFC 8252 §7.1, the app's own scheme): the same one answer, Cancel and timeout, the answer
//! handed in by the app when the OS gives it the link.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify, Semaphore};

/// The longest request head (request line and headers) read.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most headers a request may have.
pub const MAX_HEADERS: usize = 64;
/// The longest POST body read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long one connection has to send its request.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The most connections served at once; more wait in the OS's backlog.
pub const MAX_CONNECTIONS: usize = 16;
/// The longest a caller may wait for an answer (the issues' "5 minutes").
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);

/// The placeholder a [`Page`]'s HTML uses where the receiver's CSP nonce goes
/// (`<script nonce="%CSP_NONCE%">`).
pub const NONCE_PLACEHOLDER: &str = "%CSP_NONCE%";

/// What the receiver takes as the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// A JSON body POSTed by the receiver's own page to `/{token}/answer`.
    Post,
    /// A browser navigation to `/{token}/callback?…` (an OAuth redirect).
    Redirect,
}

/// An HTML page the receiver serves.
#[derive(Clone)]
pub struct Page {
    html: String,
}

impl Page {
    /// A page from its HTML; every [`NONCE_PLACEHOLDER`] in it becomes the CSP nonce.
    pub fn new(html: impl Into<String>) -> Self {
        Self { html: html.into() }
    }
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Page({} bytes)", self.html.len())
    }
}

/// How a receiver is set up.
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    /// The answer it waits for.
    pub accept: Accept,
    /// The page at `/{token}/` (the wallet page); `None` answers 404 there.
    pub page: Option<Page>,
    /// The page sent in reply to the accepted answer (for a redirect: "You can close this tab").
    pub done_page: Page,
}

/// The answer the browser gave.
#[derive(Clone, PartialEq, Eq)]
pub enum Answer {
    /// The body of the accepted POST.
    Posted(Vec<u8>),
    /// The query string of the accepted redirect (without the `?`), still percent-encoded.
    Redirect(String),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Posted(body) => write!(f, "Posted(<{} bytes redacted>)", body.len()),
            Self::Redirect(query) => write!(f, "Redirect(<{} bytes redacted>)", query.len()),
        }
    }
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    /// No loopback address could be bound.
    #[error("the app could not open a port on this machine to receive the browser's answer: {0}")]
    Unavailable(String),
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
    /// No answer within the time allowed.
    #[error("no answer came from the browser within {} seconds", .0.as_secs())]
    TimedOut(Duration),
}

/// Ends a receiver's wait from elsewhere (the dialog's Cancel).
#[derive(Debug, Clone, Default)]
pub struct ReceiverCancel {
    cancelled: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl ReceiverCancel {
    /// Ends the wait with [`ReceiveError::Cancelled`] (also before the wait began).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    /// Whether [`ReceiverCancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// A bound, one-time receiver. Dropping it closes the port.
pub struct LoopbackReceiver {
    listener: TcpListener,
    origin: String,
    host: String,
    token: String,
    nonce: String,
    options: ReceiverOptions,
    cancel: ReceiverCancel,
}

impl std::fmt::Debug for LoopbackReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackReceiver")
            .field("origin", &self.origin)
            .field("accept", &self.options.accept)
            .finish_non_exhaustive()
    }
}

impl LoopbackReceiver {
    /// Binds `127.0.0.1:0` (else `[::1]:0`) and draws the path token and the CSP nonce.
    pub async fn bind(options: ReceiverOptions) -> Result<Self, ReceiveError> {
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 0));
        let listener = match TcpListener::bind(v4).await {
            Ok(listener) => listener,
            Err(v4_error) => TcpListener::bind(v6).await.map_err(|v6_error| {
                ReceiveError::Unavailable(format!("127.0.0.1: {v4_error}; [::1]: {v6_error}"))
            })?,
        };
        let local = listener
            .local_addr()
            .map_err(|e| ReceiveError::Unavailable(e.to_string()))?;
        let host = match local {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        Ok(Self {
            listener,
            origin: format!("http://{host}"),
            host,
            token: random_token(32),
            nonce: random_token(18),
            options,
            cancel: ReceiverCancel::default(),
        })
    }

    /// `http://127.0.0.1:{port}`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The page's URL, `http://127.0.0.1:{port}/{token}/`: what the browser is opened at.
    /// It is a capability: whoever has it can answer, so it is not logged.
    pub fn page_url(&self) -> String {
        format!("{}/{}/", self.origin, self.token)
    }

    /// The redirect URL, `http://127.0.0.1:{port}/{token}/callback` (RFC 8252 §7.3).
    pub fn redirect_url(&self) -> String {
        format!("{}/{}/callback", self.origin, self.token)
    }

    /// A handle that ends the wait.
    pub fn canceller(&self) -> ReceiverCancel {
        self.cancel.clone()
    }

    /// Serves until the first valid answer, a cancel, or `timeout`; the port closes when it
    /// returns.
    pub async fn wait(self, timeout: Duration) -> Result<Answer, ReceiveError> {
        let Self {
            listener,
            origin,
            host,
            token,
            nonce,
            options,
            cancel,
        } = self;
        if cancel.is_cancelled() {
            return Err(ReceiveError::Cancelled);
        }
        let shared = Arc::new(Shared {
            origin,
            host,
            token,
            nonce,
            options,
            answered: AtomicBool::new(false),
        });
        let (answers, mut answered) = mpsc::channel::<Answer>(1);
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tasks = tokio::task::JoinSet::new();
        let result = loop {
            tokio::select! {
                Some(answer) = answered.recv() => break Ok(answer),
                () = &mut deadline => break Err(ReceiveError::TimedOut(timeout)),
                () = cancel.notify.notified() => {
                    if cancel.is_cancelled() {
                        break Err(ReceiveError::Cancelled);
                    }
                }
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        // Too many at once: drop this one rather than queue without bound.
                        drop(stream);
                        continue;
                    };
                    let shared = shared.clone();
                    let answers = answers.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        let served =
                            tokio::time::timeout(REQUEST_DEADLINE, serve(stream, &shared, &answers))
                                .await;
                        if served.is_err() {
                            tracing::debug!("loopback receiver: a connection sent no request in time");
                        }
                    });
                }
            }
        };
        drop(listener);
        // Let the accepted answer's reply (the done page) reach the browser before the tasks go.
        let drain = async { while tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        tasks.abort_all();
        result
    }
}

/// The longest redirect query a [`SchemeCallback`] takes.
pub const MAX_SCHEME_QUERY_BYTES: usize = 2048;

/// Why a redirect handed to a [`SchemeCallback`] was refused. None of them ends the wait:
/// the one redirect it waits for may still come.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefused {
    /// Longer than [`MAX_SCHEME_QUERY_BYTES`].
    #[error(
        "the sign-in answer is too long ({0} bytes; at most {MAX_SCHEME_QUERY_BYTES} are accepted)"
    )]
    TooLong(usize),
    /// Its bound parameter (`dynamicOauthState`) is missing, repeated, or another value.
    #[error(
        "the sign-in answer is not for the sign-in waiting (its state is another): it was refused"
    )]
    NotThisWait,
    /// The one answer was already taken.
    #[error("the sign-in already received its answer: a second one was refused")]
    AlreadyAnswered,
    /// The wait is over (cancelled, timed out, or its sign-in ended).
    #[error("no sign-in is waiting for this answer any more: it was refused")]
    NotWaiting,
}

/// The fallback where no loopback port can be opened (RFC 8252 §7.1): the redirect comes back
/// as a link of the app's own scheme (`com.stepup.desktop://oauth-callback?…`), which the OS
/// hands to the app, and the app hands its query to the [`SchemeCallback`] of this receiver.
///
/// A link of the app's scheme can be opened by anyone (any page, any local program), so,
/// unlike the loopback path whose URL is a capability, the receiver is bound to one parameter
/// of the redirect (its OAuth `state`): a query without it, or with another value, is refused
/// and the wait goes on; the first one that has it is the answer, and every later one is
/// refused. The wait ends as the loopback receiver's does: on the answer, on
/// [`ReceiverCancel::cancel`], or after its timeout; a callback after that is refused.
pub struct SchemeReceiver {
    answer: tokio::sync::oneshot::Receiver<String>,
    slot: Arc<SchemeSlot>,
    cancel: ReceiverCancel,
}

struct SchemeSlot {
    /// Taken by the one accepted answer; `None` after it.
    sender: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<String>>>,
    /// The parameter the answer must carry, and its value (compared in constant time).
    bound_param: &'static str,
    bound_value: stepup_protocol::Secret,
}

/// Hands a redirect that came in as a link of the app's scheme to its [`SchemeReceiver`].
/// Clones share the one receiver. `Debug` shows nothing of the bound value.
#[derive(Clone)]
pub struct SchemeCallback {
    slot: Arc<SchemeSlot>,
}

impl std::fmt::Debug for SchemeReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemeReceiver").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SchemeCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemeCallback").finish_non_exhaustive()
    }
}

impl SchemeReceiver {
    /// A receiver whose answer must carry `bound_param` equal to `bound_value` (once).
    pub fn new(bound_param: &'static str, bound_value: stepup_protocol::Secret) -> Self {
        let (sender, answer) = tokio::sync::oneshot::channel();
        Self {
            answer,
            slot: Arc::new(SchemeSlot {
                sender: std::sync::Mutex::new(Some(sender)),
                bound_param,
                bound_value,
            }),
            cancel: ReceiverCancel::default(),
        }
    }

    /// The handle the app delivers the link's query to.
    pub fn callback(&self) -> SchemeCallback {
        SchemeCallback {
            slot: self.slot.clone(),
        }
    }

    /// A handle that ends the wait.
    pub fn canceller(&self) -> ReceiverCancel {
        self.cancel.clone()
    }

    /// Waits until the first accepted answer ([`Answer::Redirect`]), a cancel, or `timeout`;
    /// a callback after it returns is refused ([`CallbackRefused::NotWaiting`]).
    pub async fn wait(self, timeout: Duration) -> Result<Answer, ReceiveError> {
        // The slot (and so the sender) stays alive while this waits: the answer channel
        // closes only by an answer.
        let Self {
            mut answer,
            cancel,
            slot: _slot,
        } = self;
        if cancel.is_cancelled() {
            return Err(ReceiveError::Cancelled);
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                received = &mut answer => {
                    // The sender lives in the slot this receiver shares: it goes only by sending.
                    return received.map(Answer::Redirect).map_err(|_| ReceiveError::Cancelled);
                }
                () = &mut deadline => return Err(ReceiveError::TimedOut(timeout)),
                () = cancel.notify.notified() => {
                    if cancel.is_cancelled() {
                        return Err(ReceiveError::Cancelled);
                    }
                }
            }
        }
    }
}

impl SchemeCallback {
    /// Hands `query` (the link's query string without `?`, still percent-encoded) to the
    /// waiting receiver. Bounded first; then it must carry the bound parameter with its value;
    /// then it must be the first such answer while the receiver still waits.
    pub fn deliver(&self, query: &str) -> Result<(), CallbackRefused> {
        if query.len() > MAX_SCHEME_QUERY_BYTES {
            return Err(CallbackRefused::TooLong(query.len()));
        }
        let mut sender = self
            .slot
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(waiting) = sender.as_ref() else {
            return Err(CallbackRefused::AlreadyAnswered);
        };
        if waiting.is_closed() {
            return Err(CallbackRefused::NotWaiting);
        }
        let bound = query_param(query, self.slot.bound_param).is_some_and(|value| {
            constant_time_eq(value.as_bytes(), self.slot.bound_value.expose().as_bytes())
        });
        if !bound {
            return Err(CallbackRefused::NotThisWait);
        }
        let waiting = sender.take().ok_or(CallbackRefused::AlreadyAnswered)?;
        waiting
            .send(query.to_owned())
            .map_err(|_| CallbackRefused::NotWaiting)
    }

    /// Whether the receiver still waits for its answer.
    pub fn is_waiting(&self) -> bool {
        self.slot
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_some_and(|s| !s.is_closed())
    }
}

struct Shared {
    origin: String,
    host: String,
    token: String,
    nonce: String,
    options: ReceiverOptions,
    answered: AtomicBool,
}

/// A parsed request head.
#[derive(Debug)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request was refused (the status line and a sentence for the browser).
#[derive(Debug, PartialEq, Eq)]
struct Refusal(u16, &'static str);

async fn serve(mut stream: TcpStream, shared: &Shared, answers: &mpsc::Sender<Answer>) {
    let (head, rest) = match read_head(&mut stream).await {
        Ok(read) => read,
        Err(Refusal(status, text)) => {
            let _ = respond_text(&mut stream, status, text).await;
            return;
        }
    };
    let request = match parse_head(&head) {
        Ok(request) => request,
        Err(Refusal(status, text)) => {
            let _ = respond_text(&mut stream, status, text).await;
            return;
        }
    };
    match route(&request, shared) {
        Err(Refusal(status, text)) => {
            let _ = respond_text(&mut stream, status, text).await;
        }
        Ok(Route::Page) => {
            let page = shared
                .options
                .page
                .as_ref()
                .map(|p| p.html.replace(NONCE_PLACEHOLDER, &shared.nonce));
            match page {
                Some(html) => {
                    let _ = respond(
                        &mut stream,
                        200,
                        "text/html; charset=utf-8",
                        html.as_bytes(),
                        &shared.nonce,
                    )
                    .await;
                }
                None => {
                    let _ = respond_text(&mut stream, 404, "Not found.").await;
                }
            }
        }
        Ok(Route::Answer(answer)) => {
            let answer = match answer {
                Pending::Redirect(query) => Answer::Redirect(query),
                Pending::Post(length) => match read_body(&mut stream, rest, length).await {
                    Ok(body) => Answer::Posted(body),
                    Err(Refusal(status, text)) => {
                        let _ = respond_text(&mut stream, status, text).await;
                        return;
                    }
                },
            };
            if shared
                .answered
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                let _ = respond_text(&mut stream, 409, "An answer was already received.").await;
                return;
            }
            let done = shared
                .options
                .done_page
                .html
                .replace(NONCE_PLACEHOLDER, &shared.nonce);
            let _ = respond(
                &mut stream,
                200,
                "text/html; charset=utf-8",
                done.as_bytes(),
                &shared.nonce,
            )
            .await;
            let _ = answers.send(answer).await;
        }
    }
}

enum Pending {
    Post(usize),
    Redirect(String),
}

enum Route {
    Page,
    Answer(Pending),
}

/// Which of the receiver's three paths a request is for, and whether it may have it.
fn route(request: &Request, shared: &Shared) -> Result<Route, Refusal> {
    if request.header("host") != Some(shared.host.as_str()) {
        return Err(Refusal(
            421,
            "This page is only served to this machine's own address.",
        ));
    }
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.target.as_str(), None),
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Refusal(404, "Not found."));
    };
    let (token, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !constant_time_eq(token.as_bytes(), shared.token.as_bytes()) {
        return Err(Refusal(404, "Not found."));
    }
    match (request.method.as_str(), tail, shared.options.accept) {
        ("GET", "", _) => Ok(Route::Page),
        ("GET", "callback", Accept::Redirect) => Ok(Route::Answer(Pending::Redirect(
            query.unwrap_or_default().to_owned(),
        ))),
        ("POST", "answer", Accept::Post) => {
            if request.header("origin") != Some(shared.origin.as_str()) {
                return Err(Refusal(403, "Only this page may answer."));
            }
            if request
                .header("sec-fetch-site")
                .is_some_and(|site| site != "same-origin")
            {
                return Err(Refusal(403, "Only this page may answer."));
            }
            let json = request.header("content-type").is_some_and(|t| {
                t.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
            if !json {
                return Err(Refusal(415, "The answer must be JSON."));
            }
            if request.header("transfer-encoding").is_some() {
                return Err(Refusal(411, "The answer needs a Content-Length."));
            }
            let length = request
                .header("content-length")
                .ok_or(Refusal(411, "The answer needs a Content-Length."))?
                .parse::<usize>()
                .map_err(|_| Refusal(400, "Bad Content-Length."))?;
            if length > MAX_BODY_BYTES {
                return Err(Refusal(413, "The answer is too long."));
            }
            Ok(Route::Answer(Pending::Post(length)))
        }
        (_, "", _) | (_, "callback", Accept::Redirect) | (_, "answer", Accept::Post) => {
            Err(Refusal(405, "Method not allowed."))
        }
        _ => Err(Refusal(404, "Not found.")),
    }
}

/// Reads up to the end of the head (`\r\n\r\n`), at most [`MAX_HEAD_BYTES`]; returns the head
/// and whatever of the body came with it.
async fn read_head(stream: &mut TcpStream) -> Result<(Vec<u8>, Vec<u8>), Refusal> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Refusal(400, "Bad request."))?;
        if n == 0 {
            return Err(Refusal(400, "Bad request."));
        }
        let searched_from = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buffer[searched_from..], b"\r\n\r\n") {
            let end = searched_from + end;
            if end > MAX_HEAD_BYTES {
                return Err(Refusal(431, "The request is too long."));
            }
            let rest = buffer.split_off(end + 4);
            buffer.truncate(end);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(Refusal(431, "The request is too long."));
        }
    }
}

async fn read_body(
    stream: &mut TcpStream,
    mut body: Vec<u8>,
    length: usize,
) -> Result<Vec<u8>, Refusal> {
    if body.len() > length {
        return Err(Refusal(400, "The body is longer than its Content-Length."));
    }
    body.reserve_exact(length - body.len());
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        let n = stream
            .read(&mut chunk[..want])
            .await
            .map_err(|_| Refusal(400, "Bad request."))?;
        if n == 0 {
            return Err(Refusal(400, "The body is shorter than its Content-Length."));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(body)
}

/// The request line and headers of an HTTP/1.1 head; anything else is refused.
fn parse_head(head: &[u8]) -> Result<Request, Refusal> {
    let head = std::str::from_utf8(head).map_err(|_| Refusal(400, "Bad request."))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal(400, "Bad request."));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Refusal(505, "HTTP/1.1 only."));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Refusal(400, "Bad request."));
    }
    if !target.starts_with('/') {
        return Err(Refusal(400, "Bad request."));
    }
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(Refusal(431, "Too many headers."));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Refusal(400, "Bad header."));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(Refusal(400, "Bad header."));
        }
        let name = name.to_ascii_lowercase();
        // One Host, one Origin, one Content-Length: a repeated one is an attack or a bug.
        if matches!(name.as_str(), "host" | "origin" | "content-length")
            && headers.iter().any(|(n, _)| n == &name)
        {
            return Err(Refusal(400, "Repeated header."));
        }
        headers.push((name, value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
    })
}

fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    nonce: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nPragma: no-cache\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
         Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Resource-Policy: same-origin\r\n\
         Content-Security-Policy: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len(),
        content_security_policy(nonce),
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

async fn respond_text(stream: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    respond(
        stream,
        status,
        "text/plain; charset=utf-8",
        text.as_bytes(),
        "-",
    )
    .await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Decodes one parameter of a redirect's query string (`application/x-www-form-urlencoded`);
/// `None` when it is absent or given more than once.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    let mut found = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == name {
            if found.is_some() {
                return None;
            }
            found = Some(value.into_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(accept: Accept) -> ReceiverOptions {
        ReceiverOptions {
            accept,
            page: Some(Page::new(
                "<!doctype html><script nonce=\"%CSP_NONCE%\">1</script>",
            )),
            done_page: Page::new("<p>You can close this tab.</p>"),
        }
    }

    /// Sends raw bytes and returns the status code and the whole response.
    async fn raw(origin: &str, request: String) -> (u16, String) {
        let address = origin.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        (status, response)
    }

    fn path_of(url: &str) -> String {
        let after = url.trim_start_matches("http://");
        after[after.find('/').expect("a path")..].to_owned()
    }

    fn host_of(url: &str) -> String {
        let after = url.trim_start_matches("http://");
        after[..after.find('/').expect("a path")].to_owned()
    }

    fn post(path: &str, host: &str, origin: &str, body: &str) -> String {
        format!(
            "POST {path}answer HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn the_page_is_served_with_its_nonce_and_a_strict_policy() {
        let receiver = LoopbackReceiver::bind(options(Accept::Post))
            .await
            .expect("bind");
        let url = receiver.page_url();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let origin = receiver.origin().to_owned();
        let cancel = receiver.canceller();
        let waiting = tokio::spawn(receiver.wait(Duration::from_secs(30)));
        let (status, response) = raw(
            &origin,
            format!(
                "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
                path_of(&url),
                host_of(&url)
            ),
        )
        .await;
        assert_eq!(status, 200, "{response}");
        let nonce = response
            .split("nonce-")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("a nonce in the CSP");
        assert!(
            response.contains(&format!("<script nonce=\"{nonce}\">")),
            "{response}"
        );
        assert!(!response.contains(NONCE_PLACEHOLDER));
        assert!(response.contains("default-src 'none'"));
        assert!(response.contains("frame-ancestors 'none'"));
        assert!(response.contains("Cache-Control: no-store"));
        cancel.cancel();
        assert_eq!(waiting.await.expect("join"), Err(ReceiveError::Cancelled));
    }

    #[tokio::test]
    async fn one_answer_is_taken_and_the_port_closes_with_it() {
        let receiver = LoopbackReceiver::bind(options(Accept::Post))
            .await
            .expect("bind");
        let url = receiver.page_url();
        let origin = receiver.origin().to_owned();
        let waiting = tokio::spawn(receiver.wait(Duration::from_secs(30)));
        let (path, host) = (path_of(&url), host_of(&url));
        let (status, response) = raw(&origin, post(&path, &host, &origin, "{\"a\":1}")).await;
        assert_eq!(status, 200, "{response}");
        assert!(response.contains("You can close this tab."));
        let answer = waiting.await.expect("join").expect("an answer");
        assert_eq!(answer, Answer::Posted(b"{\"a\":1}".to_vec()));
        assert!(!format!("{answer:?}").contains("\"a\""), "Debug redacts");
        let address = origin.trim_start_matches("http://");
        assert!(
            TcpStream::connect(address).await.is_err(),
            "the port is closed after the answer"
        );
    }

    #[tokio::test]
    async fn hostile_requests_are_refused_and_change_nothing() {
        let receiver = LoopbackReceiver::bind(options(Accept::Post))
            .await
            .expect("bind");
        let url = receiver.page_url();
        let origin = receiver.origin().to_owned();
        let waiting = tokio::spawn(receiver.wait(Duration::from_secs(30)));
        let (path, host) = (path_of(&url), host_of(&url));
        let wrong_token = format!("/{}/", "A".repeat(43));
        let cases: Vec<(String, u16)> = vec![
            // another path token
            (post(&wrong_token, &host, &origin, "{}"), 404),
            // DNS rebinding: the right path under another Host
            (post(&path, "evil.example:80", &origin, "{}"), 421),
            // another origin's page posting to us
            (post(&path, &host, "http://evil.example", "{}"), 403),
            // a form post (no CORS preflight) instead of JSON
            (
                format!(
                    "POST {path}answer HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
                     Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}"
                ),
                415,
            ),
            // too long a body
            (
                format!(
                    "POST {path}answer HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
                     Content-Type: application/json\r\nContent-Length: 999999\r\n\r\n"
                ),
                413,
            ),
            // chunked
            (
                format!(
                    "POST {path}answer HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
                     Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                ),
                411,
            ),
            // two Host headers
            (
                format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\n\r\n"),
                400,
            ),
            // a redirect to a receiver that waits for a POST
            (
                format!("GET {path}callback?code=1 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
                404,
            ),
            // a head longer than the bound
            (
                format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}\r\nX: {}\r\n\r\n",
                    "a".repeat(MAX_HEAD_BYTES)
                ),
                431,
            ),
            // too many headers
            (
                format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}\r\n{}\r\n",
                    "X: 1\r\n".repeat(MAX_HEADERS + 1)
                ),
                431,
            ),
            (
                format!("DELETE {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
                405,
            ),
            ("GARBAGE\r\n\r\n".to_owned(), 400),
        ];
        for (request, expected) in cases {
            let (status, response) = raw(&origin, request.clone()).await;
            assert_eq!(status, expected, "{request:.200}\n→ {response}");
        }
        // Still waiting, and still takes the one good answer.
        let (status, _) = raw(&origin, post(&path, &host, &origin, "{\"ok\":true}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            waiting.await.expect("join").expect("an answer"),
            Answer::Posted(b"{\"ok\":true}".to_vec())
        );
    }

    #[tokio::test]
    async fn a_redirect_receiver_takes_the_query_once() {
        let receiver = LoopbackReceiver::bind(ReceiverOptions {
            page: None,
            ..options(Accept::Redirect)
        })
        .await
        .expect("bind");
        let url = receiver.redirect_url();
        let origin = receiver.origin().to_owned();
        let waiting = tokio::spawn(receiver.wait(Duration::from_secs(30)));
        let (path, host) = (path_of(&url), host_of(&url));
        let page = path.trim_end_matches("callback").to_owned();
        let (status, _) = raw(
            &origin,
            format!("GET {page} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 404, "no page on a redirect receiver");
        let (status, _) = raw(&origin, post(&page, &host, &origin, "{}")).await;
        assert_eq!(status, 404, "no POST answers on a redirect receiver");
        let (status, response) = raw(
            &origin,
            format!("GET {path}?dynamicOauthCode=c%2B1&dynamicOauthState=s HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 200, "{response}");
        let Answer::Redirect(query) = waiting.await.expect("join").expect("an answer") else {
            panic!("a redirect answer");
        };
        assert_eq!(
            query_param(&query, "dynamicOauthCode").as_deref(),
            Some("c+1")
        );
        assert_eq!(
            query_param(&query, "dynamicOauthState").as_deref(),
            Some("s")
        );
        assert_eq!(
            query_param("a=1&a=2", "a"),
            None,
            "a repeated parameter is refused"
        );
        assert_eq!(query_param("a=1", "b"), None);
    }

    #[tokio::test]
    async fn silence_times_out_and_cancel_ends_the_wait() {
        let receiver = LoopbackReceiver::bind(options(Accept::Post))
            .await
            .expect("bind");
        let origin = receiver.origin().to_owned();
        // A connection that never sends anything does not hold the wait open.
        let _idle = TcpStream::connect(origin.trim_start_matches("http://"))
            .await
            .expect("connect");
        assert_eq!(
            receiver.wait(Duration::from_millis(200)).await,
            Err(ReceiveError::TimedOut(Duration::from_millis(200)))
        );
        let receiver = LoopbackReceiver::bind(options(Accept::Post))
            .await
            .expect("bind");
        let cancel = receiver.canceller();
        cancel.cancel();
        assert_eq!(
            receiver.wait(Duration::from_secs(30)).await,
            Err(ReceiveError::Cancelled)
        );
    }

    fn scheme_receiver() -> SchemeReceiver {
        SchemeReceiver::new(
            "dynamicOauthState",
            stepup_protocol::Secret::new("s".repeat(32)),
        )
    }

    #[tokio::test]
    async fn a_scheme_receiver_takes_one_answer_with_its_state() {
        let receiver = scheme_receiver();
        let callback = receiver.callback();
        let good = format!(
            "dynamicOauthCode=c%2B1&dynamicOauthState={}",
            "s".repeat(32)
        );
        let waiting = tokio::spawn(receiver.wait(Duration::from_secs(30)));
        let refused = [
            format!("dynamicOauthCode=c&dynamicOauthState={}", "t".repeat(32)),
            format!("dynamicOauthCode=c&dynamicOauthState={}", "s".repeat(31)),
            "dynamicOauthCode=c".to_owned(),
            // A repeated state is no state.
            format!("{good}&dynamicOauthState={}", "s".repeat(32)),
        ];
        for query in &refused {
            assert_eq!(
                callback.deliver(query),
                Err(CallbackRefused::NotThisWait),
                "{query}"
            );
        }
        let long = format!("{good}&x={}", "a".repeat(MAX_SCHEME_QUERY_BYTES));
        assert_eq!(
            callback.deliver(&long),
            Err(CallbackRefused::TooLong(long.len()))
        );
        assert!(callback.is_waiting(), "refusals leave the wait as it was");
        callback.deliver(&good).expect("taken");
        assert_eq!(
            callback.clone().deliver(&good),
            Err(CallbackRefused::AlreadyAnswered)
        );
        assert!(!callback.is_waiting());
        let answer = waiting.await.expect("join").expect("an answer");
        assert_eq!(answer, Answer::Redirect(good));
        assert!(
            !format!("{callback:?}{answer:?}").contains("sss"),
            "Debug redacts"
        );
    }

    #[tokio::test]
    async fn a_scheme_receiver_ends_on_cancel_and_timeout_and_refuses_after() {
        let good = format!("dynamicOauthCode=c&dynamicOauthState={}", "s".repeat(32));
        let receiver = scheme_receiver();
        let callback = receiver.callback();
        let cancel = receiver.canceller();
        let waiting = tokio::spawn(receiver.wait(Duration::from_secs(30)));
        tokio::task::yield_now().await;
        cancel.cancel();
        assert_eq!(waiting.await.expect("join"), Err(ReceiveError::Cancelled));
        assert_eq!(callback.deliver(&good), Err(CallbackRefused::NotWaiting));

        let receiver = scheme_receiver();
        let callback = receiver.callback();
        assert_eq!(
            receiver.wait(Duration::from_millis(100)).await,
            Err(ReceiveError::TimedOut(Duration::from_millis(100)))
        );
        assert_eq!(callback.deliver(&good), Err(CallbackRefused::NotWaiting));
        assert!(!callback.is_waiting());
    }

    #[test]
    fn the_head_parser_bounds_and_refuses() {
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: a").is_ok());
        assert_eq!(
            parse_head(b"GET / HTTP/2\r\n").map(|_| ()),
            Err(Refusal(505, "HTTP/1.1 only."))
        );
        assert!(parse_head(b"get / HTTP/1.1").is_err());
        assert!(parse_head(b"GET http://x/ HTTP/1.1").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nBad Header: 1").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2").is_err());
        assert!(parse_head(&[0xff, 0xfe]).is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
