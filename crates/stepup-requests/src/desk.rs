//! The request desk: deep links waiting for the UI, requests open in the dialog, approved
//! exports, and the recent step-ups shown in the main window. Pure state: no window, no
//! network, time passed in.
//!
//! A deep link becomes a [`LinkEvent`] at once (validated, or refused with its reason). Until
//! the UI says it is ready, events wait here; afterwards they are handed over as they come.
//! Every request, from a link or from the app itself, is opened by one function
//! ([`RequestDesk::open`]): at most [`MAX_OPEN_REQUESTS`] at once, each closed exactly once.

use crate::error::AppError;
use crate::export::{ExportGrant, ExportRefusal, ExportSlot};
use crate::link::{DeepLinkError, ReturnToAllowList, StepUpRequest};
use crate::method::Method;
use crate::request::{OpenRequest, Outcome};
use crate::signed::RequesterKeys;
use crate::views::{HistoryEntry, LinkEvent, RequestView};
use crate::wording::{action_text, outcome_text, sentence};
use std::collections::{BTreeMap, VecDeque};
use stepup_client::TokenScope;
use tokio::sync::oneshot;

/// Open requests beyond this are refused: a flood of links must not grow memory.
pub const MAX_OPEN_REQUESTS: usize = 16;
/// Links that arrived before the UI was ready, kept at most (a flood before start is bounded).
pub const MAX_WAITING_LINKS: usize = 32;
/// How many recent step-ups the main window keeps.
pub const HISTORY_LEN: usize = 50;
/// Approved export requests kept beyond this are forgotten (oldest first).
pub const MAX_EXPORT_GRANTS: usize = 16;
/// A request must have been on screen this long before it can be approved (a stray Enter or
/// click, or a script, right after a link arrived approves nothing).
pub const MIN_SHOWN_MS: i64 = 800;
/// A request nobody answered within this long is closed as expired (15 minutes).
pub const REQUEST_TTL_MS: i64 = 15 * 60 * 1000;
/// Nonces of signed links remembered at most (until they expire); past this, new signed links
/// are refused until some expire (a flood cannot grow memory or evict a nonce early).
pub const MAX_SEEN_NONCES: usize = 512;
/// Live approvals remembered at most (oldest forgotten first; a forgotten one only means the
/// dialog asks again).
pub const MAX_APPROVALS: usize = 32;

/// An approval earned in this dialog: who earned it, for what, until when. A stored token
/// answers "already allowed" only to a request with the same requester key and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// [`StepUpRequest::requester_key`] of the request that earned it.
    pub requester_key: String,
    /// The scope approved.
    pub scope: TokenScope,
    /// When the token it earned expires (unix ms).
    pub expires_at_ms: i64,
    /// The request that earned it (its export grant, for `wallet:export`).
    pub request_id: u64,
}

/// What to do with a link event once the desk has taken it.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The UI is ready: send this event now.
    Now(LinkEvent),
    /// Kept until the UI calls `ui_ready`.
    Queued,
}

/// Deep links waiting for the UI, open requests, approved exports, recent step-ups.
#[derive(Debug, Default)]
pub struct RequestDesk {
    /// The last id handed out; ids are never reused.
    next_id: u64,
    /// The UI listens for link events (set once, by `ui_ready`).
    ui_ready: bool,
    /// Events of links that came before the UI was ready, oldest first; at most
    /// [`MAX_WAITING_LINKS`].
    waiting: Vec<LinkEvent>,
    /// Requests open in the dialog, by id; at most [`MAX_OPEN_REQUESTS`].
    open: BTreeMap<u64, OpenRequest>,
    /// Ended requests, newest first; at most [`HISTORY_LEN`].
    history: VecDeque<HistoryEntry>,
    /// Exports approved in this dialog, by the id of the request that earned them; at most
    /// [`MAX_EXPORT_GRANTS`] (ids grow, so the first is the oldest).
    exports: BTreeMap<u64, ExportSlot>,
    /// The request the dialog shows, and since when (unix ms): set by [`RequestDesk::show`],
    /// kept after the request ends (its done view may still offer the export) until another
    /// is shown. Only it may be verified, sent a code, or export.
    shown: Option<(u64, i64)>,
    /// The request whose key was exported last, and the key's SHA-256 (never the key): the
    /// one thing the dialog may put on the clipboard.
    exported: Option<(u64, [u8; 32])>,
    /// Approvals earned in this dialog, oldest first; at most [`MAX_APPROVALS`].
    approvals: VecDeque<Approval>,
    /// Opens a link's `return_to` after its request ends.
    return_opener: Option<ReturnOpener>,
    /// The keys registered for requesters (signed links).
    requester_keys: RequesterKeys,
    /// Nonces of the signed links accepted, with their expiry (unix s); at most
    /// [`MAX_SEEN_NONCES`].
    seen_nonces: BTreeMap<String, i64>,
}

impl RequestDesk {
    /// Sets the keys registered for requesters: links signed by one are shown as verified.
    pub fn set_requester_keys(&mut self, keys: RequesterKeys) {
        self.requester_keys = keys;
    }

    /// Checks a parsed link's signature, if it has one, and its nonce (used once).
    fn check_signature(
        &mut self,
        request: &mut StepUpRequest,
        now_ms: i64,
    ) -> Result<(), DeepLinkError> {
        if request.signature().is_none() {
            return Ok(());
        }
        let now_secs = now_ms.div_euclid(1000);
        let verified = crate::signed::verify(request, &self.requester_keys, now_secs)?;
        self.seen_nonces.retain(|_, exp| *exp > now_secs);
        if self.seen_nonces.contains_key(&verified.nonce) {
            return Err(DeepLinkError::SignatureRefused("it was already used"));
        }
        if self.seen_nonces.len() >= MAX_SEEN_NONCES {
            return Err(DeepLinkError::SignatureRefused(
                "too many signed links arrived: wait a few minutes",
            ));
        }
        self.seen_nonces.insert(verified.nonce, verified.exp);
        request.set_verified_by(verified.kid);
        Ok(())
    }

    /// Validates a raw link and files it. Nothing else happens: a link only opens a dialog.
    pub fn receive_link(
        &mut self,
        raw: &str,
        allow_list: &ReturnToAllowList,
        now_ms: i64,
    ) -> Delivery {
        self.expire(now_ms);
        let parsed = StepUpRequest::parse(raw, allow_list).and_then(|mut request| {
            self.check_signature(&mut request, now_ms)?;
            Ok(request)
        });
        let event = match parsed {
            Ok(request) => {
                let action = action_text(request.scope());
                match self.open(request, action, None, now_ms) {
                    Ok(event) => event,
                    Err(error) => LinkEvent::Invalid {
                        reason: sentence(&error.to_string()),
                    },
                }
            }
            Err(error) => LinkEvent::Invalid {
                reason: sentence(&error.to_string()),
            },
        };
        if self.ui_ready {
            Delivery::Now(event)
        } else {
            if self.waiting.len() < MAX_WAITING_LINKS {
                self.waiting.push(event);
            }
            Delivery::Queued
        }
    }

    /// Opens a request of the app itself (the main window's own actions that need a step-up):
    /// the same dialog as a deep link's, with `action` in the app's words. The receiver hears
    /// how it ended, once; dropped unanswered, the request counts as cancelled.
    pub fn open_own_request(
        &mut self,
        scope: TokenScope,
        requester: &'static str,
        action: &'static str,
        now_ms: i64,
    ) -> Result<(LinkEvent, oneshot::Receiver<Outcome>), AppError> {
        self.expire(now_ms);
        let (tx, rx) = oneshot::channel();
        let event = self.open(
            StepUpRequest::own(scope, requester),
            action,
            Some(tx),
            now_ms,
        )?;
        Ok((event, rx))
    }

    /// The one way a request opens: a new id, its view, bounded.
    fn open(
        &mut self,
        request: StepUpRequest,
        action: &'static str,
        waiter: Option<oneshot::Sender<Outcome>>,
        now_ms: i64,
    ) -> Result<LinkEvent, AppError> {
        if self.open.len() >= MAX_OPEN_REQUESTS {
            return Err(AppError::TooManyRequests);
        }
        self.next_id += 1;
        let id = self.next_id;
        let match_choices = request.match_code().map(match_choices);
        let view = RequestView {
            id,
            scope: request.scope().clone(),
            requester: request.requester().to_owned(),
            from_app: request.is_own(),
            action_text: action,
            return_to: request.return_to().map(str::to_owned),
            origin: request.origin(),
            verified: request.verified_by().is_some(),
            match_choices,
        };
        let mut open = OpenRequest::new(request, now_ms, waiter);
        if let Some(choices) = match_choices {
            open.set_match_choices(choices);
        }
        self.open.insert(id, open);
        Ok(LinkEvent::Request { request: view })
    }

    /// The UI is listening: hands over what waited, in arrival order; later links go out at once.
    pub fn ui_ready(&mut self) -> Vec<LinkEvent> {
        self.ui_ready = true;
        std::mem::take(&mut self.waiting)
    }

    /// The window closed (the app stays resident without it, its webview destroyed): every
    /// request it was handed ends as [`Outcome::Cancelled`], as its Cancel would end it (a
    /// browser wait stops, a `return_to` hears "cancelled", the app's own waiter hears it),
    /// nothing is shown any more, and later links wait for the next window's
    /// [`RequestDesk::ui_ready`]. Requests whose links still wait (the window closed before
    /// its page was ready) stay open for the next window. Returns how many were cancelled.
    ///
    /// Approvals and unspent exports stay: a new link within the token's life finds them.
    pub fn ui_closed(&mut self, now_ms: i64) -> usize {
        self.ui_ready = false;
        let waiting: Vec<u64> = self
            .waiting
            .iter()
            .filter_map(|event| match event {
                LinkEvent::Request { request } => Some(request.id),
                LinkEvent::Invalid { .. } => None,
            })
            .collect();
        let handed: Vec<u64> = self
            .open
            .keys()
            .copied()
            .filter(|id| !waiting.contains(id))
            .collect();
        let mut cancelled = 0;
        for id in handed {
            if self.close(id, Outcome::Cancelled, None, now_ms).is_ok() {
                cancelled += 1;
            }
        }
        self.shown = None;
        self.exported = None;
        cancelled
    }

    /// Whether link events wait for a window (one must be opened for them).
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The newest link event waiting for the UI (what a notification names).
    pub fn newest_waiting(&self) -> Option<&LinkEvent> {
        self.waiting.last()
    }

    /// The dialog shows request `id` now (`begin_step_up` says so). Refused while another
    /// request it showed is still open: the dialog shows one request at a time, and a queued
    /// one comes on screen only once the one before it has ended.
    pub fn show(&mut self, id: u64, now_ms: i64) -> Result<(), AppError> {
        self.get(id)?;
        match self.shown {
            Some((shown, _)) if shown == id => Ok(()),
            Some((shown, _)) if self.open.contains_key(&shown) => Err(AppError::NotShown),
            _ => {
                self.shown = Some((id, now_ms));
                Ok(())
            }
        }
    }

    /// The request the dialog shows (kept after it ended, until another is shown), if any:
    /// where an answer that arrives as a link (a social sign-in on the app's scheme) goes.
    pub fn shown_id(&self) -> Option<u64> {
        self.shown.map(|(id, _)| id)
    }

    /// Refuses a command for a request the dialog is not showing.
    pub fn require_shown(&self, id: u64) -> Result<(), AppError> {
        match self.shown {
            Some((shown, _)) if shown == id => Ok(()),
            _ => Err(AppError::NotShown),
        }
    }

    /// Refuses an approval of a request not shown, shown for less than [`MIN_SHOWN_MS`], or
    /// whose number was not matched yet.
    pub fn require_read(&self, id: u64, now_ms: i64) -> Result<(), AppError> {
        self.require_on_screen_long_enough(id, now_ms)?;
        self.require_matched(id)
    }

    fn require_on_screen_long_enough(&self, id: u64, now_ms: i64) -> Result<(), AppError> {
        self.require_shown(id)?;
        match self.shown {
            Some((_, since)) if now_ms.saturating_sub(since) >= MIN_SHOWN_MS => Ok(()),
            _ => Err(AppError::TooSoon),
        }
    }

    /// Refuses work on a request that asks for number matching before the number was matched
    /// (no code is sent, nothing verified).
    pub fn require_matched(&self, id: u64) -> Result<(), AppError> {
        if self.get(id)?.is_matched() {
            Ok(())
        } else {
            Err(AppError::NumberNotMatched)
        }
    }

    /// Number matching: the user picked `number`. The page's number unlocks the request's
    /// verification (`Ok(true)`); any other ends the request as
    /// [`Outcome::NumberMismatch`] (`Ok(false)`): a wrong pick is not retried, the requesting
    /// page must ask again. Like an approval, a pick needs the request read first.
    pub fn pick_number(&mut self, id: u64, number: u8, now_ms: i64) -> Result<bool, AppError> {
        self.require_on_screen_long_enough(id, now_ms)?;
        let open = self.get_mut(id)?;
        let Some(code) = open.request().match_code() else {
            return Err(AppError::NoNumberToMatch);
        };
        if number == code {
            open.set_matched();
            Ok(true)
        } else {
            self.close(id, Outcome::NumberMismatch, None, now_ms)?;
            Ok(false)
        }
    }

    /// An open request.
    pub fn get(&self, id: u64) -> Result<&OpenRequest, AppError> {
        self.open.get(&id).ok_or(AppError::RequestNotFound)
    }

    /// An open request, to move along its lifecycle.
    pub fn get_mut(&mut self, id: u64) -> Result<&mut OpenRequest, AppError> {
        self.open.get_mut(&id).ok_or(AppError::RequestNotFound)
    }

    /// How many requests are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Closes the requests opened more than [`REQUEST_TTL_MS`] ago as expired.
    pub fn expire(&mut self, now_ms: i64) {
        let stale: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, r)| now_ms.saturating_sub(r.opened_at_ms()) > REQUEST_TTL_MS)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            let _ = self.close(id, Outcome::Expired, None, now_ms);
        }
    }

    /// Closes a request and records how it ended. `Approved` needs the request to have been
    /// offered a verification; `NotNeeded` needs it not to have been (the server said no
    /// step-up was needed before any was offered). An approved `wallet:export` request earns
    /// one export.
    ///
    /// A link's `return_to` is opened (through the [`ReturnOpener`]) with the ending's status
    /// and the request id, except after an approved `wallet:export`: that one returns once the
    /// key was exported, so the browser does not come up over the reveal.
    pub fn close(
        &mut self,
        id: u64,
        outcome: Outcome,
        method: Option<Method>,
        now_ms: i64,
    ) -> Result<(), AppError> {
        let defer = outcome == Outcome::Approved;
        self.close_returning(id, outcome, method, now_ms, defer)
    }

    fn close_returning(
        &mut self,
        id: u64,
        outcome: Outcome,
        method: Option<Method>,
        now_ms: i64,
        defer_export_return: bool,
    ) -> Result<(), AppError> {
        let open = self.open.get(&id).ok_or(AppError::RequestNotFound)?;
        let offered = open.credentials().is_some();
        match outcome {
            Outcome::Approved if !offered => return Err(AppError::CredentialNotOffered),
            Outcome::NotNeeded if offered => return Err(AppError::CredentialNotOffered),
            Outcome::PasskeyAdded | Outcome::KeyExported => return Err(AppError::RequestNotFound),
            _ => {}
        }
        let closed = self.open.remove(&id).ok_or(AppError::RequestNotFound)?;
        let (request, wrong_codes) = closed.end(outcome);
        if outcome == Outcome::Approved && *request.scope() == TokenScope::WalletExport {
            let grant = ExportGrant::new(
                request.requester().to_owned(),
                request.return_to().map(str::to_owned),
            );
            self.exports.insert(id, ExportSlot::Ready(grant));
            while self.exports.len() > MAX_EXPORT_GRANTS {
                self.exports.pop_first();
            }
        }
        let deferred = defer_export_return && *request.scope() == TokenScope::WalletExport;
        if !deferred {
            self.open_return(request.return_to(), id, outcome);
        }
        self.record(HistoryEntry {
            at_ms: now_ms,
            requester: request.requester().to_owned(),
            origin: request.origin(),
            verified: request.verified_by().is_some(),
            scope: request.scope().clone(),
            scope_text: action_text(request.scope()),
            method,
            method_label: method.map(Method::label),
            outcome,
            result: outcome_text(outcome, wrong_codes),
        });
        Ok(())
    }

    /// Records something the app did after a step-up (not a request): a new passkey, an export.
    pub fn record(&mut self, entry: HistoryEntry) {
        self.history.push_front(entry);
        self.history.truncate(HISTORY_LEN);
    }

    /// Whether request `id` may export now (without taking the grant).
    pub fn export_ready(&self, id: u64) -> Result<(), ExportRefusal> {
        match self.exports.get(&id) {
            Some(ExportSlot::Ready(_)) => Ok(()),
            Some(ExportSlot::Spent(_)) => Err(ExportRefusal::Spent),
            None => Err(ExportRefusal::NotApproved),
        }
    }

    /// Takes the one export request `id` earned: only a `wallet:export` request closed as
    /// approved has one, and only once. What is left is the record that it was spent.
    pub fn take_export(&mut self, id: u64) -> Result<ExportGrant, ExportRefusal> {
        let slot = self
            .exports
            .get_mut(&id)
            .ok_or(ExportRefusal::NotApproved)?;
        match slot {
            ExportSlot::Spent(_) => Err(ExportRefusal::Spent),
            ExportSlot::Ready(grant) => {
                let grant = grant.clone();
                *slot = ExportSlot::Spent(grant.clone());
                self.open_return(grant.return_to(), id, Outcome::Approved);
                Ok(grant)
            }
        }
    }

    /// "Verify again" after a spent export: opens a new `wallet:export` request for the same
    /// requester (the dialog shows it as any other). The spent record is forgotten.
    pub fn reopen_export(&mut self, id: u64, now_ms: i64) -> Result<LinkEvent, AppError> {
        let Some(ExportSlot::Spent(grant)) = self.exports.get(&id) else {
            return Err(AppError::RequestNotFound);
        };
        let request = StepUpRequest::reopened_export(grant.requester(), grant.return_to());
        let event = self.open(
            request,
            action_text(&TokenScope::WalletExport),
            None,
            now_ms,
        )?;
        self.exports.remove(&id);
        Ok(event)
    }

    /// Sets who opens a link's `return_to` in the system browser (the app), once at start.
    pub fn set_return_opener(&mut self, opener: ReturnOpener) {
        self.return_opener = Some(opener);
    }

    /// Opens `url` in the system browser with the app's opener (a page the dialog sends the
    /// user to, as "Sign in your browser wallet" does); false when no opener is set.
    pub fn open_in_browser(&self, url: &str) -> bool {
        match &self.return_opener {
            Some(opener) => {
                opener.0(url);
                true
            }
            None => false,
        }
    }

    fn open_return(&self, return_to: Option<&str>, id: u64, outcome: Outcome) {
        let (Some(opener), Some(url)) = (&self.return_opener, return_url(return_to, id, outcome))
        else {
            return;
        };
        opener.0(&url);
    }

    /// Remembers that request `id` exported the key with this digest.
    pub fn remember_export(&mut self, id: u64, digest: [u8; 32]) {
        self.exported = Some((id, digest));
    }

    /// The digest of `key` if it is the key request `id` exported and that request is shown:
    /// the dialog may copy nothing else.
    pub fn exported_key_digest(&self, id: u64, key: &str) -> Result<[u8; 32], AppError> {
        self.require_shown(id)?;
        let digest = crate::export::key_digest(key);
        match self.exported {
            Some((exported, known)) if exported == id && known == digest => Ok(digest),
            _ => Err(AppError::NotTheExportedKey),
        }
    }

    /// Remembers that request `id` (still open or just closed) earned an approval of `scope`
    /// for `requester_key` until `expires_at_ms`.
    pub fn remember_approval(
        &mut self,
        id: u64,
        requester_key: String,
        scope: TokenScope,
        expires_at_ms: i64,
    ) {
        self.approvals
            .retain(|a| !(a.requester_key == requester_key && a.scope == scope));
        self.approvals.push_back(Approval {
            requester_key,
            scope,
            expires_at_ms,
            request_id: id,
        });
        while self.approvals.len() > MAX_APPROVALS {
            self.approvals.pop_front();
        }
    }

    /// The live approval of `scope` that request `id`'s requester earned, if any.
    pub fn approval_for(&self, id: u64, now_ms: i64) -> Result<Option<Approval>, AppError> {
        let request = self.get(id)?.request();
        let key = request.requester_key();
        Ok(self
            .approvals
            .iter()
            .find(|a| {
                a.requester_key == key && &a.scope == request.scope() && a.expires_at_ms > now_ms
            })
            .cloned())
    }

    /// Forgets the approvals of `scopes` (or all): their tokens were revoked.
    pub fn forget_approvals(&mut self, scopes: Option<&[TokenScope]>) {
        self.approvals
            .retain(|a| scopes.is_some_and(|s| !s.contains(&a.scope)));
        if scopes.is_none_or(|s| s.contains(&TokenScope::WalletExport)) {
            self.exports
                .retain(|_, slot| matches!(slot, ExportSlot::Spent(_)));
        }
    }

    /// Closes request `id` as not needed on the strength of `approval` (same requester, same
    /// scope, still live): for `wallet:export`, the unused export of the request that earned it
    /// moves to this one, so the new dialog can export. Returns whether an export is ready.
    pub fn close_as_already_approved(
        &mut self,
        id: u64,
        approval: &Approval,
        now_ms: i64,
    ) -> Result<bool, AppError> {
        let ready = matches!(
            self.exports.get(&approval.request_id),
            Some(ExportSlot::Ready(_))
        );
        self.close_returning(id, Outcome::NotNeeded, None, now_ms, ready)?;
        let carried = match self.exports.get(&approval.request_id) {
            Some(ExportSlot::Ready(_)) => self.exports.remove(&approval.request_id),
            _ => None,
        };
        let ready = carried.is_some();
        if let Some(slot) = carried {
            self.exports.insert(id, slot);
            for a in self.approvals.iter_mut() {
                if a.request_id == approval.request_id {
                    a.request_id = id;
                }
            }
        }
        Ok(ready)
    }

    /// Recent step-ups, newest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.history.iter().cloned().collect()
    }
}

/// Opens a URL in the system browser (set by the app; none in tests that do not care).
#[derive(Clone)]
pub struct ReturnOpener(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for ReturnOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReturnOpener")
    }
}

/// Where a link's user goes back after its request ended: its `return_to` with `status`
/// (`approved`, `denied`, `cancelled`, `expired`, `refused`) and `request_id` added, and
/// nothing else: never a token or a code. `None` for what is not a request's ending.
pub fn return_url(return_to: Option<&str>, id: u64, outcome: Outcome) -> Option<String> {
    let status = match outcome {
        Outcome::Approved | Outcome::NotNeeded => "approved",
        Outcome::Denied => "denied",
        Outcome::Cancelled => "cancelled",
        Outcome::Expired => "expired",
        Outcome::NumberMismatch => "refused",
        Outcome::PasskeyAdded | Outcome::KeyExported => return None,
    };
    let mut url = url::Url::parse(return_to?).ok()?;
    url.query_pairs_mut()
        .append_pair("status", status)
        .append_pair("request_id", &id.to_string());
    Some(url.into())
}

/// Number matching's choices for `code`: it and two other two-digit numbers, all different,
/// in random order.
fn match_choices(code: u8) -> [u8; 3] {
    use rand::seq::SliceRandom as _;
    use rand::Rng as _;
    let mut rng = rand::rng();
    let mut choices = vec![code];
    while choices.len() < 3 {
        let other = rng.random_range(10..=99);
        if !choices.contains(&other) {
            choices.push(other);
        }
    }
    choices.shuffle(&mut rng);
    [choices[0], choices[1], choices[2]]
}

/// The desk as the app shares it between commands. A poisoned lock is recovered: no desk
/// method leaves it half-changed when it panics (none does: no unwrap, no panic).
#[derive(Debug, Default)]
pub struct SharedDesk(std::sync::Mutex<RequestDesk>);

impl SharedDesk {
    /// The desk, locked. Never held across an `.await`.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, RequestDesk> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
