//! The request lifecycle from the outside: the desk's rules, with time passed in and no window.
//! (The flow's rules against a real sandbox are in `flow.rs`.)

use stepup_protocol::TokenScope;
use stepup_requests::desk::{MAX_OPEN_REQUESTS, MAX_WAITING_LINKS, REQUEST_TTL_MS};
use stepup_requests::views::LinkEvent;
use stepup_requests::{
    AppError, Delivery, ExportRefusal, Method, Outcome, RequestDesk, ReturnToAllowList, Stage,
};

const LINK: &str = "com.stepup.desktop://step-up?scope=wallet:export&requester=Acme";
const LINK_LINK: &str = "com.stepup.desktop://step-up?scope=credential:link&requester=Acme";

fn allow() -> ReturnToAllowList {
    ReturnToAllowList::default()
}

fn ready_desk() -> RequestDesk {
    let mut desk = RequestDesk::default();
    desk.ui_ready();
    desk
}

/// Opens a link and offers it a TOTP device, as `begin_step_up` does when the server asks.
fn offered(desk: &mut RequestDesk, link: &str, now: i64) -> u64 {
    let id = match desk.receive_link(link, &allow(), now) {
        Delivery::Now(LinkEvent::Request { request }) => Some(request.id),
        _ => None,
    }
    .expect("a request");
    desk.get_mut(id).expect("open").offer(Vec::new(), true);
    id
}

#[test]
fn links_before_the_ui_is_ready_are_replayed_in_order() {
    let mut desk = RequestDesk::default();
    assert_eq!(desk.receive_link(LINK, &allow(), 0), Delivery::Queued);
    assert_eq!(
        desk.receive_link("com.stepup.desktop://nope", &allow(), 0),
        Delivery::Queued
    );
    assert_eq!(desk.receive_link(LINK, &allow(), 0), Delivery::Queued);
    let replay = desk.ui_ready();
    assert_eq!(replay.len(), 3);
    assert!(
        matches!(&replay[0], LinkEvent::Request { request } if request.id == 1 && request.action_text == "export the private key of your wallet" && !request.from_app)
    );
    assert!(matches!(&replay[1], LinkEvent::Invalid { .. }));
    assert!(matches!(&replay[2], LinkEvent::Request { request } if request.id == 2));
    assert!(matches!(
        desk.receive_link(LINK, &allow(), 0),
        Delivery::Now(LinkEvent::Request { .. })
    ));
    assert!(
        desk.ui_ready().is_empty(),
        "a second ui_ready replays nothing twice"
    );
}

#[test]
fn links_waiting_for_the_ui_are_bounded() {
    let mut desk = RequestDesk::default();
    for _ in 0..MAX_WAITING_LINKS + 50 {
        desk.receive_link("com.stepup.desktop://nope", &allow(), 0);
    }
    assert_eq!(desk.ui_ready().len(), MAX_WAITING_LINKS);
}

#[test]
fn an_invalid_link_opens_no_request() {
    let mut desk = ready_desk();
    let Delivery::Now(LinkEvent::Invalid { reason }) = desk.receive_link(
        "com.stepup.desktop://step-up?scope=x&requester=A",
        &allow(),
        0,
    ) else {
        panic!("expected an invalid-link event");
    };
    assert!(
        reason.starts_with("The link asks for a permission"),
        "{reason}"
    );
    assert_eq!(desk.open_count(), 0);
}

#[test]
fn a_request_is_approved_once_and_remembered_without_secrets() {
    let mut desk = ready_desk();
    let id = offered(&mut desk, LINK, 0);
    desk.get_mut(id).expect("open").count_wrong_code();
    desk.close(id, Outcome::Approved, Some(Method::Totp), 1_000)
        .expect("approved");
    assert_eq!(
        desk.close(id, Outcome::Approved, Some(Method::Totp), 1_001),
        Err(AppError::RequestNotFound),
        "approved at most once"
    );
    let history = desk.history();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].result, "Approved after 1 wrong code");
    assert_eq!(history[0].scope, TokenScope::WalletExport);
    assert_eq!(history[0].method, Some(Method::Totp));
    let json = serde_json::to_value(&history[0]).expect("json");
    assert_eq!(json["method"], "totp", "the UI's name for the method");
    assert_eq!(json["methodLabel"], "Authenticator app", "and its words");
}

#[test]
fn a_request_never_offered_a_verification_cannot_be_approved() {
    let mut desk = ready_desk();
    let Delivery::Now(LinkEvent::Request { request }) = desk.receive_link(LINK, &allow(), 0) else {
        panic!("expected a request");
    };
    assert!(matches!(
        desk.get(request.id).expect("open").stage(),
        Stage::Opened
    ));
    assert_eq!(
        desk.close(request.id, Outcome::Approved, Some(Method::Totp), 1),
        Err(AppError::CredentialNotOffered)
    );
    assert!(desk.get(request.id).is_ok(), "still open");
    // "Already allowed" is the answer before any offer, never after one.
    desk.close(request.id, Outcome::NotNeeded, None, 2)
        .expect("not needed");
    let id = offered(&mut desk, LINK, 3);
    assert_eq!(
        desk.close(id, Outcome::NotNeeded, None, 4),
        Err(AppError::CredentialNotOffered)
    );
    assert_eq!(
        desk.export_ready(request.id),
        Err(ExportRefusal::NotApproved)
    );
}

#[test]
fn a_code_is_verified_only_after_one_was_sent_on_its_channel() {
    let mut desk = ready_desk();
    let id = offered(&mut desk, LINK, 0);
    let open = desk.get(id).expect("open");
    assert_eq!(open.sent_code(Method::EmailOtp), Err(AppError::NoCodeSent));
    assert_eq!(
        open.credential("nope", Method::Totp).err(),
        Some(AppError::CredentialNotOffered)
    );
    assert!(
        !open.offers_mfa(),
        "nothing was offered, so no recovery code"
    );
    let sent = stepup_client::OtpVerification {
        verification_uuid: "v-1".into(),
        channel: stepup_client::OtpChannel::Email("a@example.com".into()),
    };
    desk.get_mut(id)
        .expect("open")
        .code_sent(sent)
        .expect("sent");
    let open = desk.get(id).expect("open");
    assert_eq!(
        open.sent_code(Method::EmailOtp)
            .map(|s| s.verification_uuid),
        Ok("v-1".to_owned())
    );
    assert_eq!(
        open.sent_code(Method::SmsOtp),
        Err(AppError::NoCodeSent),
        "other channel"
    );
    // A new offer forgets the sent code.
    desk.get_mut(id).expect("open").offer(Vec::new(), true);
    assert_eq!(
        desk.get(id).expect("open").sent_code(Method::EmailOtp),
        Err(AppError::NoCodeSent)
    );
}

#[test]
fn no_code_can_be_sent_before_the_server_offered_credentials() {
    let mut desk = ready_desk();
    let Delivery::Now(LinkEvent::Request { request }) = desk.receive_link(LINK, &allow(), 0) else {
        panic!("expected a request");
    };
    let sent = stepup_client::OtpVerification {
        verification_uuid: "v".into(),
        channel: stepup_client::OtpChannel::Email("a@example.com".into()),
    };
    assert_eq!(
        desk.get_mut(request.id).expect("open").code_sent(sent),
        Err(AppError::CredentialNotOffered)
    );
    assert!(matches!(
        desk.get(request.id).expect("open").stage(),
        Stage::Opened
    ));
}

#[test]
fn cancel_and_deny_end_a_request_once() {
    let mut desk = ready_desk();
    let a = offered(&mut desk, LINK, 0);
    let b = offered(&mut desk, LINK, 0);
    desk.close(a, Outcome::Cancelled, None, 1)
        .expect("cancelled");
    desk.close(b, Outcome::Denied, None, 2).expect("denied");
    assert_eq!(
        desk.close(a, Outcome::Cancelled, None, 3),
        Err(AppError::RequestNotFound)
    );
    let history = desk.history();
    assert_eq!(history[0].outcome, Outcome::Denied);
    assert_eq!(history[1].result, "Cancelled");
    assert_eq!(desk.export_ready(a), Err(ExportRefusal::NotApproved));
    assert_eq!(desk.export_ready(b), Err(ExportRefusal::NotApproved));
}

#[test]
fn an_unanswered_request_expires() {
    let mut desk = ready_desk();
    let id = offered(&mut desk, LINK, 1_000);
    desk.expire(1_000 + REQUEST_TTL_MS);
    assert!(desk.get(id).is_ok(), "not yet");
    desk.expire(1_001 + REQUEST_TTL_MS);
    assert_eq!(desk.get(id).err(), Some(AppError::RequestNotFound));
    assert_eq!(desk.history()[0].outcome, Outcome::Expired);
    assert_eq!(
        desk.close(
            id,
            Outcome::Approved,
            Some(Method::Totp),
            2_000 + REQUEST_TTL_MS
        ),
        Err(AppError::RequestNotFound),
        "an expired request cannot be approved"
    );
}

#[test]
fn the_apps_own_request_tells_its_waiter_once_how_it_ended() {
    let mut desk = ready_desk();
    let (LinkEvent::Request { request }, mut rx) = desk
        .open_own_request(
            TokenScope::CredentialLink,
            "Stepup Desktop (you)",
            "add a passkey on this device",
            0,
        )
        .expect("opened")
    else {
        panic!("expected a request");
    };
    assert_eq!(request.action_text, "add a passkey on this device");
    assert!(
        request.from_app,
        "the app's own request is not a link's claim"
    );
    assert!(rx.try_recv().is_err(), "nothing before the dialog ends");
    desk.get_mut(request.id)
        .expect("open")
        .offer(Vec::new(), true);
    desk.close(request.id, Outcome::Approved, Some(Method::Totp), 1_000)
        .expect("approved");
    assert_eq!(rx.try_recv(), Ok(Outcome::Approved));
    assert_eq!(desk.history()[0].requester, "Stepup Desktop (you)");

    let (LinkEvent::Request { request }, rx) = desk
        .open_own_request(
            TokenScope::CredentialLink,
            "Stepup Desktop (you)",
            "x",
            2_000,
        )
        .expect("opened")
    else {
        panic!("expected a request");
    };
    desk.close(request.id, Outcome::Cancelled, None, 2_000)
        .expect("cancelled");
    assert_eq!(rx.blocking_recv(), Ok(Outcome::Cancelled));
}

#[test]
fn only_an_approved_export_request_exports_and_only_once() {
    let mut desk = ready_desk();
    let id = offered(&mut desk, LINK, 0);
    assert_eq!(
        desk.take_export(id),
        Err(ExportRefusal::NotApproved),
        "still open"
    );
    desk.close(id, Outcome::Approved, Some(Method::Totp), 1_000)
        .expect("approved");
    assert_eq!(desk.export_ready(id), Ok(()));
    let grant = desk.take_export(id).expect("the one export");
    assert_eq!(grant.requester(), "Acme");
    assert_eq!(desk.take_export(id), Err(ExportRefusal::Spent));
    assert_eq!(desk.export_ready(id), Err(ExportRefusal::Spent));

    let other = offered(&mut desk, LINK_LINK, 0);
    desk.close(other, Outcome::Approved, Some(Method::Totp), 1_001)
        .expect("approved");
    assert_eq!(
        desk.take_export(other),
        Err(ExportRefusal::NotApproved),
        "other scope"
    );

    // Verify again: only after a spent export, as a new open request of the same requester.
    assert_eq!(
        desk.reopen_export(other, 2).err(),
        Some(AppError::RequestNotFound)
    );
    let LinkEvent::Request { request } = desk.reopen_export(id, 2).expect("reopened") else {
        panic!("expected a request");
    };
    assert_eq!(request.requester, "Acme");
    assert_eq!(request.scope, TokenScope::WalletExport);
    assert!(request.id > other);
    assert!(desk.get(request.id).is_ok());
    assert!(desk.reopen_export(id, 3).is_err(), "once");
    assert_eq!(
        desk.take_export(request.id),
        Err(ExportRefusal::NotApproved)
    );
}

#[test]
fn a_full_desk_refuses_new_requests_of_links_and_of_the_app() {
    let mut desk = ready_desk();
    for _ in 0..MAX_OPEN_REQUESTS {
        assert!(matches!(
            desk.receive_link(LINK, &allow(), 0),
            Delivery::Now(LinkEvent::Request { .. })
        ));
    }
    let Delivery::Now(LinkEvent::Invalid { reason }) = desk.receive_link(LINK, &allow(), 0) else {
        panic!("expected a refusal");
    };
    assert!(reason.starts_with("Too many requests"), "{reason}");
    assert_eq!(
        desk.open_own_request(TokenScope::CredentialLink, "me", "x", 0)
            .err(),
        Some(AppError::TooManyRequests)
    );
    assert_eq!(desk.open_count(), MAX_OPEN_REQUESTS);
}

#[test]
fn one_request_is_shown_at_a_time_and_must_be_read_before_approval() {
    use stepup_requests::desk::MIN_SHOWN_MS;
    let mut desk = ready_desk();
    let a = offered(&mut desk, LINK, 0);
    let b = offered(&mut desk, LINK, 0);
    assert_eq!(
        desk.require_shown(a),
        Err(AppError::NotShown),
        "nothing shown yet"
    );
    desk.show(a, 100).expect("shown");
    desk.show(a, 500)
        .expect("shown again: same request, same start");
    assert_eq!(
        desk.show(b, 200),
        Err(AppError::NotShown),
        "a is still open"
    );
    assert_eq!(
        desk.require_read(a, 100 + MIN_SHOWN_MS - 1),
        Err(AppError::TooSoon)
    );
    assert_eq!(desk.require_read(a, 100 + MIN_SHOWN_MS), Ok(()));
    assert_eq!(desk.require_read(b, 10_000), Err(AppError::NotShown));
    desk.close(a, Outcome::Cancelled, None, 1_000)
        .expect("closed");
    desk.show(b, 1_001)
        .expect("b comes on screen once a has ended");
    assert_eq!(desk.require_shown(a), Err(AppError::NotShown));
    assert_eq!(desk.show(99, 1_002), Err(AppError::RequestNotFound));
}

#[test]
fn return_to_is_opened_after_every_ending_with_the_status_and_id_only() {
    use std::sync::{Arc, Mutex};
    let opened = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = opened.clone();
    let mut desk = ready_desk();
    desk.set_return_opener(stepup_requests::desk::ReturnOpener(Arc::new(
        move |url: &str| {
            log.lock().expect("log").push(url.to_owned());
        },
    )));
    let allow = ReturnToAllowList::new(["https://app.example.com"]);
    let link = |scope: &str| {
        format!("com.stepup.desktop://step-up?scope={scope}&requester=Acme&return_to=https%3A%2F%2Fapp.example.com%2Fdone%3Fx%3D1")
    };
    let open = |desk: &mut RequestDesk, scope: &str| {
        let id = match desk.receive_link(&link(scope), &allow, 0) {
            Delivery::Now(LinkEvent::Request { request }) => Some(request.id),
            _ => None,
        }
        .expect("a request");
        desk.get_mut(id).expect("open").offer(Vec::new(), true);
        id
    };
    let taken =
        |opened: &Arc<Mutex<Vec<String>>>| std::mem::take(&mut *opened.lock().expect("log"));

    let denied = open(&mut desk, "credential:link");
    desk.close(denied, Outcome::Denied, None, 1).expect("deny");
    assert_eq!(
        taken(&opened),
        vec![format!(
            "https://app.example.com/done?x=1&status=denied&request_id={denied}"
        )]
    );
    let cancelled = open(&mut desk, "credential:link");
    desk.close(cancelled, Outcome::Cancelled, None, 2)
        .expect("cancel");
    assert_eq!(
        taken(&opened),
        vec![format!(
            "https://app.example.com/done?x=1&status=cancelled&request_id={cancelled}"
        )]
    );
    let approved = open(&mut desk, "credential:link");
    desk.close(approved, Outcome::Approved, Some(Method::Totp), 3)
        .expect("approve");
    assert_eq!(
        taken(&opened),
        vec![format!(
            "https://app.example.com/done?x=1&status=approved&request_id={approved}"
        )]
    );
    // An approved export returns once the key was exported, not over the reveal.
    let export = open(&mut desk, "wallet:export");
    desk.close(export, Outcome::Approved, Some(Method::Totp), 4)
        .expect("approve");
    assert!(taken(&opened).is_empty(), "not before the export");
    desk.take_export(export).expect("export");
    assert_eq!(
        taken(&opened),
        vec![format!(
            "https://app.example.com/done?x=1&status=approved&request_id={export}"
        )]
    );
    // A link without return_to opens nothing.
    let plain = offered(&mut desk, LINK_LINK, 5);
    desk.close(plain, Outcome::Denied, None, 6).expect("deny");
    assert!(taken(&opened).is_empty());
}

#[test]
fn closing_the_window_cancels_what_it_showed_and_later_links_wait_for_the_next() {
    use std::sync::{Arc, Mutex};
    let opened = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = opened.clone();
    let mut desk = ready_desk();
    desk.set_return_opener(stepup_requests::desk::ReturnOpener(Arc::new(
        move |url: &str| {
            log.lock().expect("log").push(url.to_owned());
        },
    )));
    let allow = ReturnToAllowList::new(["https://app.example.com"]);
    let with_return = "com.stepup.desktop://step-up?scope=credential:link&requester=Acme&return_to=https%3A%2F%2Fapp.example.com%2Fdone";
    let shown = match desk.receive_link(with_return, &allow, 0) {
        Delivery::Now(LinkEvent::Request { request }) => request.id,
        other => panic!("expected a request, got {other:?}"),
    };
    desk.get_mut(shown).expect("open").offer(Vec::new(), true);
    desk.show(shown, 0).expect("shown");
    let (LinkEvent::Request { request: own }, mut own_rx) = desk
        .open_own_request(TokenScope::CredentialLink, "Stepup Desktop (you)", "x", 0)
        .expect("opened")
    else {
        panic!("expected a request");
    };
    // An approved export not taken yet survives the window (a new link can still export).
    let export = offered(&mut desk, LINK, 0);
    desk.close(export, Outcome::Approved, Some(Method::Totp), 10)
        .expect("approved");

    assert_eq!(desk.ui_closed(5_000), 2, "the two open requests");
    assert_eq!(desk.open_count(), 0);
    assert!(desk.get(shown).is_err() && desk.get(own.id).is_err());
    assert_eq!(
        own_rx.try_recv(),
        Ok(Outcome::Cancelled),
        "the app's waiter hears it"
    );
    assert_eq!(
        *opened.lock().expect("log"),
        vec![format!(
            "https://app.example.com/done?status=cancelled&request_id={shown}"
        )],
        "the requester hears 'cancelled'"
    );
    assert_eq!(desk.history()[0].outcome, Outcome::Cancelled);
    assert_eq!(desk.require_shown(shown), Err(AppError::NotShown));
    assert_eq!(desk.export_ready(export), Ok(()));

    // Links that come while no window listens wait for the next one, and are not cancelled
    // by a second close that happens before that window was ready.
    assert!(!desk.has_waiting());
    assert_eq!(
        desk.receive_link(LINK_LINK, &allow, 6_000),
        Delivery::Queued
    );
    assert!(desk.has_waiting());
    assert!(matches!(
        desk.newest_waiting(),
        Some(LinkEvent::Request { request }) if request.scope == TokenScope::CredentialLink
    ));
    assert_eq!(desk.ui_closed(6_500), 0, "a waiting link is not cancelled");
    let replay = desk.ui_ready();
    assert_eq!(replay.len(), 1);
    let LinkEvent::Request { request } = &replay[0] else {
        panic!("expected a request");
    };
    assert!(
        desk.get(request.id).is_ok(),
        "still open for the new window"
    );
    assert!(!desk.has_waiting());
}
