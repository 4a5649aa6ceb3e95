//! The request desk: deep links waiting for the UI, step-up requests open in the dialog, and
//! the recent step-ups shown in the main window. Pure state, no Tauri and no network.
//!
//! A deep link becomes a [`LinkEvent`] at once (validated, or refused with its reason). Until
//! the UI says it is ready, events wait here; afterwards they are handed over as they come.
//! A request stays open until it is approved or cancelled, and is approved at most once.

use crate::deep_link::{ReturnToAllowList, StepUpRequest};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use stepup_client::{OtpVerification, StepUpCredential, TokenScope};
use tokio::sync::oneshot;

/// Open requests beyond this are refused: a flood of links must not grow memory.
pub const MAX_OPEN_REQUESTS: usize = 16;
/// How many recent step-ups the main window keeps.
pub const HISTORY_LEN: usize = 50;

/// A request as the dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// The desk's id for the request; the dialog names it in every command.
    pub id: u64,
    /// The scope asked for.
    pub scope: TokenScope,
    /// Who asks, verbatim from the link.
    pub requester: String,
    /// What the scope allows, in words: "export the private key of your wallet".
    pub action_text: &'static str,
    /// Where to go back afterwards (allow-listed).
    pub return_to: Option<String>,
}

/// What the UI hears about a deep link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum LinkEvent {
    /// A valid request: open the dialog.
    Request {
        /// The request.
        request: RequestView,
    },
    /// A refused link: show the error view, nothing else.
    Invalid {
        /// Why, in words.
        reason: String,
    },
}

/// How a step-up ended, for the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Verified; a token was issued.
    Approved,
    /// A valid token already covered the scope.
    NotNeeded,
    /// The user closed the dialog.
    Cancelled,
    /// Not a step-up: the app added a passkey on this device (after its own step-up).
    PasskeyAdded,
    /// Not a step-up: the dialog exported a wallet's private key (after its approval).
    KeyExported,
}

/// One line of the recent step-ups. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When it ended, unix ms.
    pub at_ms: i64,
    /// Who asked.
    pub requester: String,
    /// The scope.
    pub scope: TokenScope,
    /// The method used (`totp`, `email_otp`, ...), if any.
    pub method: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The outcome in words, with the number of wrong codes.
    pub result: String,
}

/// A request open in the dialog.
#[derive(Debug)]
pub struct OpenRequest {
    /// The validated request.
    pub request: StepUpRequest,
    /// The credentials the server offered for it (set by `begin_step_up`).
    pub credentials: Vec<StepUpCredential>,
    /// The email or SMS code sent for it, if any.
    pub sent_code: Option<OtpVerification>,
    /// Wrong codes so far.
    pub failed_attempts: u32,
    /// For the app's own requests: who waits for the outcome to go on (at most once).
    pub after_close: Option<oneshot::Sender<Outcome>>,
}

/// A `wallet:export` request approved in the dialog: it may export once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportGrant {
    /// Who asked.
    pub requester: String,
    /// Where to go back afterwards.
    pub return_to: Option<String>,
    /// The one export it allows was attempted (or the server refused it).
    pub spent: bool,
}

/// Why a request cannot export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRefusal {
    /// Not a `wallet:export` request approved in this dialog.
    NotApproved,
    /// Its one export was already attempted.
    Spent,
}

/// Approved export requests kept beyond this are forgotten (oldest first).
pub const MAX_EXPORT_GRANTS: usize = 16;

/// Deep links waiting for the UI, open requests, recent step-ups.
#[derive(Debug, Default)]
pub struct RequestDesk {
    next_id: u64,
    ui_ready: bool,
    waiting: Vec<LinkEvent>,
    open: BTreeMap<u64, OpenRequest>,
    history: VecDeque<HistoryEntry>,
    exports: BTreeMap<u64, ExportGrant>,
}

/// What to do with a link event once the desk has taken it.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The UI is ready: send this event now.
    Now(LinkEvent),
    /// Kept until the UI calls `ui_ready`.
    Queued,
}

impl RequestDesk {
    /// Validates a raw link and files it. Nothing else happens: a link only opens a dialog.
    pub fn receive_link(&mut self, raw: &str, allow_list: &ReturnToAllowList) -> Delivery {
        let event = match StepUpRequest::parse(raw, allow_list) {
            Ok(_) if self.open.len() >= MAX_OPEN_REQUESTS => LinkEvent::Invalid {
                reason: "too many requests are already open: finish or cancel them first".into(),
            },
            Ok(request) => {
                self.next_id += 1;
                let id = self.next_id;
                let view = RequestView {
                    id,
                    scope: request.scope.clone(),
                    requester: request.requester.clone(),
                    action_text: action_text(&request.scope),
                    return_to: request.return_to.clone(),
                };
                self.open.insert(
                    id,
                    OpenRequest {
                        request,
                        credentials: Vec::new(),
                        sent_code: None,
                        failed_attempts: 0,
                        after_close: None,
                    },
                );
                LinkEvent::Request { request: view }
            }
            Err(error) => LinkEvent::Invalid {
                reason: capitalise(&error.to_string()),
            },
        };
        if self.ui_ready {
            Delivery::Now(event)
        } else {
            self.waiting.push(event);
            Delivery::Queued
        }
    }

    /// Opens a request of the app itself (the main window's own actions that need a step-up):
    /// the same dialog as a deep link's, with `action_text` in the app's words. The receiver
    /// hears how it ended once (approved, not needed, cancelled); dropped unanswered, the
    /// request counts as cancelled.
    pub fn open_own_request(
        &mut self,
        scope: TokenScope,
        requester: &str,
        action_text: &'static str,
    ) -> Option<(LinkEvent, oneshot::Receiver<Outcome>)> {
        if self.open.len() >= MAX_OPEN_REQUESTS {
            return None;
        }
        self.next_id += 1;
        let id = self.next_id;
        let (tx, rx) = oneshot::channel();
        let view = RequestView {
            id,
            scope: scope.clone(),
            requester: requester.to_owned(),
            action_text,
            return_to: None,
        };
        self.open.insert(
            id,
            OpenRequest {
                request: StepUpRequest {
                    scope,
                    requester: requester.to_owned(),
                    return_to: None,
                },
                credentials: Vec::new(),
                sent_code: None,
                failed_attempts: 0,
                after_close: Some(tx),
            },
        );
        Some((LinkEvent::Request { request: view }, rx))
    }

    /// Records something the app did after its own step-up (not a request), e.g. a new passkey.
    pub fn record(&mut self, entry: HistoryEntry) {
        self.history.push_front(entry);
        self.history.truncate(HISTORY_LEN);
    }

    /// The UI is listening: hands over what waited, in arrival order; later links go out at once.
    pub fn ui_ready(&mut self) -> Vec<LinkEvent> {
        self.ui_ready = true;
        std::mem::take(&mut self.waiting)
    }

    /// An open request.
    pub fn open_request(&self, id: u64) -> Option<&OpenRequest> {
        self.open.get(&id)
    }

    /// An open request, to update.
    pub fn open_request_mut(&mut self, id: u64) -> Option<&mut OpenRequest> {
        self.open.get_mut(&id)
    }

    /// Closes a request and records how it ended.
    pub fn close(
        &mut self,
        id: u64,
        outcome: Outcome,
        method: Option<&str>,
        now_ms: i64,
    ) -> Option<OpenRequest> {
        let mut closed = self.open.remove(&id)?;
        if outcome == Outcome::Approved && closed.request.scope == TokenScope::WalletExport {
            self.exports.insert(
                id,
                ExportGrant {
                    requester: closed.request.requester.clone(),
                    return_to: closed.request.return_to.clone(),
                    spent: false,
                },
            );
            while self.exports.len() > MAX_EXPORT_GRANTS {
                self.exports.pop_first();
            }
        }
        if let Some(waiting) = closed.after_close.take() {
            // The waiting command may be gone (the app is closing): nothing to tell then.
            let _ = waiting.send(outcome);
        }
        let wrong = match closed.failed_attempts {
            0 => String::new(),
            1 => " after 1 wrong code".into(),
            n => format!(" after {n} wrong codes"),
        };
        let result = match outcome {
            Outcome::Approved => format!("Approved{wrong}"),
            Outcome::NotNeeded => "Already allowed".into(),
            Outcome::Cancelled => format!("Cancelled{wrong}"),
            Outcome::PasskeyAdded => "Passkey added".into(),
            Outcome::KeyExported => "Private key exported".into(),
        };
        self.history.push_front(HistoryEntry {
            at_ms: now_ms,
            requester: closed.request.requester.clone(),
            scope: closed.request.scope.clone(),
            method: method.map(str::to_owned),
            outcome,
            result,
        });
        self.history.truncate(HISTORY_LEN);
        Some(closed)
    }

    /// Spends the one export a request approved in the dialog allows: only a `wallet:export`
    /// request closed as approved has one, and only once.
    pub fn spend_export(&mut self, id: u64) -> Result<ExportGrant, ExportRefusal> {
        let grant = self
            .exports
            .get_mut(&id)
            .ok_or(ExportRefusal::NotApproved)?;
        if grant.spent {
            return Err(ExportRefusal::Spent);
        }
        grant.spent = true;
        Ok(grant.clone())
    }

    /// Gives an unspent export back (nothing was sent: e.g. the user has no wallet).
    pub fn unspend_export(&mut self, id: u64) {
        if let Some(grant) = self.exports.get_mut(&id) {
            grant.spent = false;
        }
    }

    /// "Verify again" after a spent export: opens a new `wallet:export` request for the same
    /// requester (the dialog shows it as any other). The spent grant is forgotten.
    pub fn reopen_export(&mut self, id: u64) -> Result<LinkEvent, ExportRefusal> {
        match self.exports.get(&id) {
            None => return Err(ExportRefusal::NotApproved),
            Some(grant) if !grant.spent => return Err(ExportRefusal::NotApproved),
            Some(_) => {}
        }
        if self.open.len() >= MAX_OPEN_REQUESTS {
            return Err(ExportRefusal::NotApproved);
        }
        let grant = self.exports.remove(&id).ok_or(ExportRefusal::NotApproved)?;
        self.next_id += 1;
        let id = self.next_id;
        let scope = TokenScope::WalletExport;
        let view = RequestView {
            id,
            scope: scope.clone(),
            requester: grant.requester.clone(),
            action_text: action_text(&scope),
            return_to: grant.return_to.clone(),
        };
        self.open.insert(
            id,
            OpenRequest {
                request: StepUpRequest {
                    scope,
                    requester: grant.requester,
                    return_to: grant.return_to,
                },
                credentials: Vec::new(),
                sent_code: None,
                failed_attempts: 0,
                after_close: None,
            },
        );
        Ok(LinkEvent::Request { request: view })
    }

    /// Recent step-ups, newest first.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.history.iter().cloned().collect()
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

/// What a scope allows, as the end of "<requester> asks to …". Exhaustive, so a new scope in
/// the protocol crate cannot reach the dialog without words.
pub fn action_text(scope: &TokenScope) -> &'static str {
    use TokenScope as S;
    match scope {
        S::WalletExport => "export the private key of your wallet",
        S::WalletSign => "sign with your wallet",
        S::WalletDelete => "delete your wallet",
        S::WalletDelegate => "give another party access to your wallet",
        S::WalletRestore => "restore your wallet",
        S::CredentialLink => "link a new sign-in method to your account",
        S::CredentialUnlink => "remove a sign-in method from your account",
        S::CredentialUpdate => "change a sign-in method of your account",
        S::UserUpdate => "change your profile",
        S::UserDelete => "delete your account",
        S::BusinessAccountLinkWallet => "link a wallet to your business account",
        S::BusinessAccountMemberAdd => "add a member to your business account",
        S::BusinessAccountMemberRemove => "remove a member from your business account",
        S::BusinessAccountMemberRoleUpdate => "change a member's role in your business account",
        S::BusinessAccountSignerAdd => "add a signer to your business account",
        S::BusinessAccountSignerRemove => "remove a signer from your business account",
        S::BusinessAccountTransferOwnership => "transfer the ownership of your business account",
        S::BusinessAccountWalletRemove => "remove a wallet from your business account",
        S::ConsoleAdminActionReview => "review an administrator's action in the console",
        S::ConsoleApprovalWorkflowUpdate => "change the approval workflow in the console",
        S::ConsoleMemberInvite => "invite a member to the console",
        S::ConsoleMfaReset => "reset a member's multi-factor authentication",
        S::ConsoleProjectDelete => "delete a project",
        S::ConsoleSettingsUpdate => "change the project's settings",
        S::ConsoleSsoUpdate => "change the single sign-on settings",
        S::ConsoleUserDelete => "delete a user",
        S::Unknown(_) => "use a permission this app does not know",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "com.stepup.desktop://step-up?scope=wallet:export&requester=Acme";

    fn allow() -> ReturnToAllowList {
        ReturnToAllowList::default()
    }

    #[test]
    fn links_before_the_ui_is_ready_are_replayed_in_order() {
        let mut desk = RequestDesk::default();
        assert_eq!(desk.receive_link(LINK, &allow()), Delivery::Queued);
        assert_eq!(
            desk.receive_link("com.stepup.desktop://nope", &allow()),
            Delivery::Queued
        );
        assert_eq!(desk.receive_link(LINK, &allow()), Delivery::Queued);
        let replay = desk.ui_ready();
        assert_eq!(replay.len(), 3);
        assert!(
            matches!(&replay[0], LinkEvent::Request { request } if request.id == 1 && request.action_text == "export the private key of your wallet")
        );
        assert!(matches!(&replay[1], LinkEvent::Invalid { .. }));
        assert!(matches!(&replay[2], LinkEvent::Request { request } if request.id == 2));
        assert!(matches!(
            desk.receive_link(LINK, &allow()),
            Delivery::Now(LinkEvent::Request { .. })
        ));
        assert!(
            desk.ui_ready().is_empty(),
            "a second ui_ready replays nothing twice"
        );
    }

    #[test]
    fn an_invalid_link_opens_no_request() {
        let mut desk = RequestDesk::default();
        desk.ui_ready();
        let Delivery::Now(LinkEvent::Invalid { reason }) =
            desk.receive_link("com.stepup.desktop://step-up?scope=x&requester=A", &allow())
        else {
            panic!("expected an invalid-link event");
        };
        assert!(
            reason.starts_with("The link asks for a permission"),
            "{reason}"
        );
        assert!(desk.open.is_empty());
    }

    #[test]
    fn a_request_is_closed_once_and_remembered_without_secrets() {
        let mut desk = RequestDesk::default();
        desk.ui_ready();
        desk.receive_link(LINK, &allow());
        desk.open_request_mut(1).unwrap().failed_attempts = 1;
        assert!(desk
            .close(1, Outcome::Approved, Some("totp"), 1_000)
            .is_some());
        assert!(
            desk.close(1, Outcome::Approved, Some("totp"), 1_001)
                .is_none(),
            "approved at most once"
        );
        let history = desk.history();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].result, "Approved after 1 wrong code");
        assert_eq!(history[0].scope, TokenScope::WalletExport);
    }

    #[test]
    fn the_apps_own_request_tells_its_waiter_once_how_it_ended() {
        let mut desk = RequestDesk::default();
        desk.ui_ready();
        let (LinkEvent::Request { request }, mut rx) = desk
            .open_own_request(
                TokenScope::CredentialLink,
                "Stepup Desktop (you)",
                "add a passkey on this device",
            )
            .unwrap()
        else {
            panic!("expected a request");
        };
        assert_eq!(request.action_text, "add a passkey on this device");
        assert!(rx.try_recv().is_err(), "nothing before the dialog ends");
        desk.close(request.id, Outcome::Approved, Some("totp"), 1_000);
        assert_eq!(rx.try_recv(), Ok(Outcome::Approved));
        assert!(desk
            .close(request.id, Outcome::Approved, Some("totp"), 1_001)
            .is_none());
        assert_eq!(desk.history()[0].requester, "Stepup Desktop (you)");

        let (LinkEvent::Request { request }, rx) = desk
            .open_own_request(TokenScope::CredentialLink, "Stepup Desktop (you)", "x")
            .unwrap()
        else {
            panic!("expected a request");
        };
        desk.close(request.id, Outcome::Cancelled, None, 2_000);
        assert_eq!(rx.blocking_recv(), Ok(Outcome::Cancelled));
    }

    #[test]
    fn only_an_approved_export_request_exports_and_only_once() {
        let mut desk = RequestDesk::default();
        desk.ui_ready();
        desk.receive_link(LINK, &allow());
        assert_eq!(
            desk.spend_export(1),
            Err(ExportRefusal::NotApproved),
            "still open"
        );
        desk.close(1, Outcome::Approved, Some("totp"), 1_000);
        let grant = desk.spend_export(1).unwrap();
        assert_eq!(grant.requester, "Acme");
        assert_eq!(desk.spend_export(1), Err(ExportRefusal::Spent));
        desk.receive_link(
            "com.stepup.desktop://step-up?scope=credential:link&requester=Acme",
            &allow(),
        );
        desk.close(2, Outcome::Approved, Some("totp"), 1_001);
        assert_eq!(
            desk.spend_export(2),
            Err(ExportRefusal::NotApproved),
            "other scope"
        );
        desk.receive_link(LINK, &allow());
        desk.close(3, Outcome::Cancelled, None, 1_002);
        assert_eq!(
            desk.spend_export(3),
            Err(ExportRefusal::NotApproved),
            "cancelled"
        );
        desk.receive_link(LINK, &allow());
        desk.close(4, Outcome::NotNeeded, None, 1_003);
        assert_eq!(
            desk.spend_export(4),
            Err(ExportRefusal::NotApproved),
            "not approved here"
        );
        // Verify again: only after a spent export, as a new open request of the same requester.
        assert!(desk.reopen_export(2).is_err());
        let LinkEvent::Request { request } = desk.reopen_export(1).unwrap() else {
            panic!("expected a request");
        };
        assert_eq!((request.id, request.requester.as_str()), (5, "Acme"));
        assert_eq!(request.scope, TokenScope::WalletExport);
        assert!(desk.open_request(5).is_some());
        assert!(desk.reopen_export(1).is_err(), "once");
        assert_eq!(desk.spend_export(5), Err(ExportRefusal::NotApproved));
    }

    #[test]
    fn a_flood_of_links_is_bounded() {
        let mut desk = RequestDesk::default();
        desk.ui_ready();
        for _ in 0..MAX_OPEN_REQUESTS {
            assert!(matches!(
                desk.receive_link(LINK, &allow()),
                Delivery::Now(LinkEvent::Request { .. })
            ));
        }
        assert!(matches!(
            desk.receive_link(LINK, &allow()),
            Delivery::Now(LinkEvent::Invalid { .. })
        ));
        assert_eq!(desk.open.len(), MAX_OPEN_REQUESTS);
    }

    #[test]
    fn every_known_scope_has_words() {
        for scope in TokenScope::KNOWN {
            assert!(!action_text(scope).contains("does not know"), "{scope}");
        }
    }
}
