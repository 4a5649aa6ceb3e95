//! The dialog's operations against a real sandbox over loopback HTTP: a wrong code counts as a
//! failed attempt and a network failure does not; an approval exports once; no wallet is
//! refused before the grant is taken.

use std::sync::Arc;
use stepup_client::{Config, ManualClock, MemoryVault, Secret, StepUpClient, TokenVault};
use stepup_requests::desk::MIN_SHOWN_MS;
use stepup_requests::flow::{self, EmbeddedWallet, Proof};
use stepup_requests::views::LinkEvent;
use stepup_requests::{AppError, Delivery, Method, ReturnToAllowList, SharedDesk};
use stepup_sandbox::{DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec};

const LINK: &str = "com.stepup.desktop://step-up?scope=wallet:export&requester=Acme";

struct World {
    sandbox: RunningSandbox,
    client: StepUpClient,
    vault: Arc<MemoryVault>,
    clock: ManualClock,
    user: DemoUser,
    desk: SharedDesk,
}

async fn client(
    base_url: &str,
    env: &str,
    vault: Arc<MemoryVault>,
    clock: &ManualClock,
) -> StepUpClient {
    let config = Config::new(env)
        .expect("config")
        .with_api_base_url(base_url.parse().expect("url"));
    StepUpClient::builder(config)
        .vault(vault as Arc<dyn TokenVault>)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("client")
}

async fn world() -> World {
    world_with(&[]).await
}

/// [`world`] in an environment that turned `disabled` off (`SWITCHABLE_METHODS` names).
async fn world_with(disabled: &[&str]) -> World {
    world_of(SandboxConfig {
        disabled_methods: disabled.iter().map(|m| (*m).to_owned()).collect(),
        ..SandboxConfig::default()
    })
    .await
}

/// [`world`] with the sandbox of `config` (its clock replaced by the world's).
async fn world_of(config: SandboxConfig) -> World {
    let clock = ManualClock::now();
    let config = SandboxConfig {
        clock: Arc::new(clock.clone()),
        ..config
    };
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sandbox");
    let user = sandbox
        .create_user(UserSpec {
            email: "flow@stepup.example".into(),
            totp: true,
            recovery_codes: true,
            wallet: true,
            ..Default::default()
        })
        .expect("user");
    let vault = Arc::new(MemoryVault::new());
    let client = client(
        &sandbox.base_url(),
        sandbox.environment_id(),
        vault.clone(),
        &clock,
    )
    .await;
    let sent = client.send_email_otp(&user.email).await.expect("send");
    let code = sandbox
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.verification_uuid == sent.verification_uuid)
        .expect("delivered")
        .code;
    client
        .sign_in_with_email_otp(&sent, code)
        .await
        .expect("sign in");
    World {
        sandbox,
        client,
        vault,
        clock,
        user,
        desk: SharedDesk::default(),
    }
}

impl World {
    fn open(&self) -> u64 {
        self.open_link(LINK)
    }

    fn open_link(&self, link: &str) -> u64 {
        let mut desk = self.desk.lock();
        desk.ui_ready();
        match desk.receive_link(link, &ReturnToAllowList::default(), 0) {
            Delivery::Now(LinkEvent::Request { request }) => Some(request.id),
            _ => None,
        }
        .expect("a request")
    }

    fn totp(&self, right: bool) -> Proof {
        let secret = self.user.totp_secret_base32.as_ref().expect("totp");
        let code = self.sandbox.totp_code(secret.expose()).expect("code");
        let code = if right {
            code
        } else {
            code.chars()
                .map(|c| if c == '0' { '1' } else { '0' })
                .collect()
        };
        Proof::Code {
            method: Method::Totp,
            credential_id: Some(self.totp_device()),
            code: Secret::new(code),
        }
    }

    fn totp_device(&self) -> String {
        let desk = self.desk.lock();
        let id = *desk_ids(&desk).first().expect("open");
        desk.get(id)
            .expect("open")
            .credentials()
            .expect("offered")
            .iter()
            .find(|c| Method::of(c) == Method::Totp)
            .expect("a TOTP device")
            .id
            .clone()
    }

    fn wallet(&self) -> Option<EmbeddedWallet> {
        Some(EmbeddedWallet {
            id: self.user.wallet_id.clone().expect("wallet"),
            address: None,
        })
    }
}

fn desk_ids(desk: &stepup_requests::RequestDesk) -> Vec<u64> {
    (1..=64).filter(|id| desk.get(*id).is_ok()).collect()
}

#[tokio::test]
async fn a_wrong_code_counts_and_a_network_failure_does_not() {
    let w = world().await;
    let id = w.open();
    let check = flow::begin(&w.desk, &w.client, id, w.wallet(), 0)
        .await
        .expect("begin");
    assert!(check.is_required);
    assert!(check.credentials.iter().any(|c| c.method == Method::Totp));

    let wrong = flow::verify(&w.desk, &w.client, id, w.totp(false), w.wallet(), 1001).await;
    assert!(
        wrong.as_ref().err().is_some_and(AppError::is_wrong_code),
        "{wrong:?}"
    );
    assert_eq!(w.desk.lock().get(id).expect("open").wrong_codes(), 1);

    // The same session, through a client whose server is gone: a fault, not a wrong code.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/api/v0", gone.local_addr().expect("addr"));
    drop(gone);
    let offline = client(&dead, w.sandbox.environment_id(), w.vault.clone(), &w.clock).await;
    let fault = flow::verify(&w.desk, &offline, id, w.totp(true), w.wallet(), 1002).await;
    let fault = fault.expect_err("no server");
    assert!(!fault.is_wrong_code(), "{fault:?}");
    assert_eq!(fault.code(), "network_error", "{fault}");
    assert_eq!(
        w.desk.lock().get(id).expect("open").wrong_codes(),
        1,
        "not counted"
    );

    let view = flow::verify(&w.desk, &w.client, id, w.totp(true), w.wallet(), 1003)
        .await
        .expect("approved");
    assert!(view.export.as_ref().is_some_and(|e| e.has_wallet));
    let history = w.desk.lock().history();
    assert_eq!(history[0].result, "Approved after 1 wrong code");
}

#[tokio::test]
async fn an_approval_exports_once_and_no_wallet_keeps_the_grant() {
    let w = world().await;
    let id = w.open();
    flow::begin(&w.desk, &w.client, id, w.wallet(), 0)
        .await
        .expect("begin");
    assert_eq!(
        flow::export(&w.desk, &w.client, id, w.wallet(), 1000)
            .await
            .err(),
        Some(AppError::ExportNotApproved),
        "not approved yet"
    );
    flow::verify(&w.desk, &w.client, id, w.totp(true), w.wallet(), 1001)
        .await
        .expect("approved");
    assert_eq!(
        flow::export(&w.desk, &w.client, id, None, 1002).await.err(),
        Some(AppError::NoWallet)
    );
    let key = flow::export(&w.desk, &w.client, id, w.wallet(), 1003)
        .await
        .expect("exported");
    assert_eq!(key.private_key.len(), 66, "0x + 32 bytes");
    // Only this key, for this request, may be copied.
    assert!(w
        .desk
        .lock()
        .exported_key_digest(id, &key.private_key)
        .is_ok());
    assert_eq!(
        w.desk
            .lock()
            .exported_key_digest(id, "0xsomething else")
            .err(),
        Some(AppError::NotTheExportedKey)
    );
    assert_eq!(
        w.desk
            .lock()
            .exported_key_digest(id + 1, &key.private_key)
            .err(),
        Some(AppError::NotShown)
    );
    assert_eq!(
        flow::export(&w.desk, &w.client, id, w.wallet(), 1004)
            .await
            .err(),
        Some(AppError::ExportSpent)
    );
    let history = w.desk.lock().history();
    assert_eq!(history[0].result, "Private key exported");
    assert!(
        !format!("{history:?}").contains(&key.private_key[2..]),
        "no key in the history"
    );
}

#[tokio::test]
async fn a_recovery_code_needs_an_offered_mfa_method_and_a_code_its_sent_code() {
    let w = world().await;
    let id = w.open();
    let before_offer = Proof::Code {
        method: Method::RecoveryCode,
        credential_id: None,
        code: Secret::new(String::from("AAAA-BBBB")),
    };
    assert_eq!(
        flow::verify(&w.desk, &w.client, id, before_offer, None, 1000)
            .await
            .err(),
        Some(AppError::NotShown),
        "never shown (begin), so never verified"
    );
    flow::begin(&w.desk, &w.client, id, w.wallet(), 0)
        .await
        .expect("begin");
    let email = Proof::Code {
        method: Method::EmailOtp,
        credential_id: None,
        code: Secret::new(String::from("123456")),
    };
    assert_eq!(
        flow::verify(&w.desk, &w.client, id, email, None, 1001)
            .await
            .err(),
        Some(AppError::NoCodeSent)
    );
    let codes = w.user.recovery_codes.clone();
    let code = codes.first().expect("recovery codes").clone();
    let recovery = Proof::Code {
        method: Method::RecoveryCode,
        credential_id: None,
        code,
    };
    flow::verify(&w.desk, &w.client, id, recovery, None, 1002)
        .await
        .expect("approved with a recovery code");
    assert_eq!(
        w.desk.lock().history()[0].method,
        Some(Method::RecoveryCode)
    );
}

#[tokio::test]
async fn the_backend_verifies_and_exports_only_the_request_the_dialog_shows() {
    let w = world().await;
    let first = w.open();
    let queued = w.open();
    flow::begin(&w.desk, &w.client, first, w.wallet(), 0)
        .await
        .expect("begin");
    // The queued request cannot come on screen, be verified, or be sent a code while the first
    // is open: a script that skips the dialog gets nothing.
    assert_eq!(
        flow::begin(&w.desk, &w.client, queued, w.wallet(), 10)
            .await
            .err(),
        Some(AppError::NotShown)
    );
    let for_queued =
        flow::verify(&w.desk, &w.client, queued, w.totp(true), w.wallet(), 5_000).await;
    assert_eq!(for_queued.err(), Some(AppError::NotShown));
    assert_eq!(
        flow::send_code(&w.desk, &w.client, queued, "any", Method::EmailOtp)
            .await
            .err(),
        Some(AppError::NotShown)
    );
    // Approving right after it appeared is refused, and is not a wrong code.
    let early = flow::verify(
        &w.desk,
        &w.client,
        first,
        w.totp(true),
        w.wallet(),
        MIN_SHOWN_MS - 1,
    )
    .await;
    assert_eq!(early.err(), Some(AppError::TooSoon));
    assert_eq!(w.desk.lock().get(first).expect("open").wrong_codes(), 0);
    flow::verify(
        &w.desk,
        &w.client,
        first,
        w.totp(true),
        w.wallet(),
        MIN_SHOWN_MS,
    )
    .await
    .expect("approved once read");
    // The first has ended: the queued one may come on screen now, and then the first's
    // export is no longer the one shown.
    flow::begin(&w.desk, &w.client, queued, w.wallet(), 6_000)
        .await
        .expect("begin queued");
    assert_eq!(
        flow::export(&w.desk, &w.client, first, w.wallet(), 6_001)
            .await
            .err(),
        Some(AppError::NotShown)
    );
}

#[tokio::test]
async fn a_fault_on_the_way_is_said_as_such_and_the_request_can_be_asked_again() {
    let w = world().await;
    let id = w.open();
    let gone = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/api/v0", gone.local_addr().expect("addr"));
    drop(gone);
    let offline = client(&dead, w.sandbox.environment_id(), w.vault.clone(), &w.clock).await;
    // Not "no way to verify" (an empty list of credentials): the fault itself.
    let fault = flow::begin(&w.desk, &offline, id, w.wallet(), 0)
        .await
        .expect_err("offline");
    assert_eq!(fault.code(), "network_error", "{fault}");
    assert!(fault.to_string().contains("try again"), "{fault}");
    assert!(w.desk.lock().get(id).is_ok(), "the request stays open");
    // Retry, online: the same request goes on.
    let check = flow::begin(&w.desk, &w.client, id, w.wallet(), 1)
        .await
        .expect("retry");
    assert!(check.is_required && !check.credentials.is_empty());
}

#[tokio::test]
async fn a_stored_approval_answers_only_the_requester_that_earned_it() {
    let w = world().await;
    let first = w.open();
    let check = flow::begin(&w.desk, &w.client, first, w.wallet(), 0)
        .await
        .expect("begin");
    assert!(check.is_required);
    assert!(
        check.export.is_some(),
        "the wallet is named before verifying"
    );
    flow::verify(&w.desk, &w.client, first, w.totp(true), w.wallet(), 1001)
        .await
        .expect("approved");
    assert!(w
        .client
        .has_elevated_access_token(&stepup_client::TokenScope::WalletExport));

    // Another requester, same scope, while the token lives: asked again, credentials offered.
    let other =
        w.open_link("com.stepup.desktop://step-up?scope=wallet:export&requester=Evil%20Corp");
    let check = flow::begin(&w.desk, &w.client, other, w.wallet(), 1002)
        .await
        .expect("begin");
    assert!(
        check.is_required,
        "another requester is not told \"already allowed\""
    );
    assert!(!check.credentials.is_empty());
    w.desk
        .lock()
        .close(other, stepup_requests::Outcome::Cancelled, None, 1003)
        .expect("cancel");

    // The same requester again, in a new dialog: already allowed, and its unused export
    // moved to the new dialog, which exports (once).
    let again = w.open();
    let check = flow::begin(&w.desk, &w.client, again, w.wallet(), 1004)
        .await
        .expect("begin");
    assert!(!check.is_required);
    assert!(
        check.export.is_some(),
        "the export is offered in the new dialog"
    );
    assert!(check.valid_until_ms.is_some());
    assert!(
        w.desk.lock().export_ready(first).is_err(),
        "the old dialog's grant moved"
    );
    assert!(w.desk.lock().export_ready(again).is_ok());
    flow::export(&w.desk, &w.client, again, w.wallet(), 1006)
        .await
        .expect("exported from the second dialog");
    assert_eq!(
        flow::export(&w.desk, &w.client, again, w.wallet(), 1007)
            .await
            .err(),
        Some(AppError::ExportSpent)
    );
}

#[tokio::test]
async fn an_export_without_a_wallet_is_refused_before_any_verification() {
    let w = world().await;
    let id = w.open();
    assert_eq!(
        flow::begin(&w.desk, &w.client, id, None, 0).await.err(),
        Some(AppError::NoWallet)
    );
    assert!(
        w.desk.lock().get(id).expect("open").credentials().is_none(),
        "nothing offered: no verification can run"
    );
}

#[tokio::test]
async fn revoking_all_elevated_access_forgets_the_tokens_and_the_approvals() {
    let w = world().await;
    let first = w.open();
    flow::begin(&w.desk, &w.client, first, w.wallet(), 0)
        .await
        .expect("begin");
    flow::verify(&w.desk, &w.client, first, w.totp(true), w.wallet(), 1001)
        .await
        .expect("approved");
    assert_eq!(
        w.client.revoke_elevated_access(None).await.expect("revoke"),
        1
    );
    w.desk.lock().forget_approvals(None);
    assert!(w.vault.load().expect("vault").tokens.is_empty());
    let again = w.open();
    let check = flow::begin(&w.desk, &w.client, again, w.wallet(), 1002)
        .await
        .expect("begin");
    assert!(check.is_required, "asked again after the revoke");
    assert!(
        w.desk.lock().export_ready(first).is_err(),
        "the grant is gone"
    );
}

#[tokio::test]
async fn a_method_the_environment_turned_off_is_listed_as_such_and_cannot_run() {
    // With everything on: the authenticator app is offered, preselected, with recovery codes.
    let on = world().await;
    let id = on.open();
    let view = flow::begin(&on.desk, &on.client, id, on.wallet(), 0)
        .await
        .expect("begin");
    let totp = view
        .credentials
        .iter()
        .find(|c| c.format == "totp")
        .expect("a TOTP device");
    assert_eq!(totp.method, Method::Totp);
    assert_eq!(totp.unavailable, None);
    assert!(view.recovery_codes);
    assert_eq!(
        view.default_credential_id.as_deref(),
        Some(totp.id.as_str())
    );

    // The environment turned the authenticator app and recovery codes off: the server still
    // lists the device, the dialog says it is off, preselects nothing off, and runs neither.
    let off = world_with(&["totp", "recovery-codes"]).await;
    assert_eq!(off.sandbox.settings_reads().full, 0, "nothing read before");
    let id = off.open();
    let view = flow::begin(&off.desk, &off.client, id, off.wallet(), 0)
        .await
        .expect("begin");
    assert_eq!(off.sandbox.settings_reads().full, 1, "read by the dialog");
    let totp = view
        .credentials
        .iter()
        .find(|c| c.format == "totp")
        .expect("still listed");
    assert_eq!(totp.method, Method::Unsupported);
    assert!(
        totp.unavailable
            .is_some_and(|why| why.contains("turned off")),
        "{totp:?}"
    );
    assert!(!view.recovery_codes);
    assert_ne!(
        view.default_credential_id.as_deref(),
        Some(totp.id.as_str())
    );
    let secret = off.user.totp_secret_base32.as_ref().expect("totp");
    let code = off.sandbox.totp_code(secret.expose()).expect("code");
    let proof = Proof::Code {
        method: Method::Totp,
        credential_id: Some(totp.id.clone()),
        code: Secret::new(code),
    };
    assert_eq!(
        flow::verify(&off.desk, &off.client, id, proof, off.wallet(), 1001)
            .await
            .err(),
        Some(AppError::CredentialNotOffered)
    );
    let recovery = Proof::Code {
        method: Method::RecoveryCode,
        credential_id: None,
        code: off.user.recovery_codes[0].clone(),
    };
    assert_eq!(
        flow::verify(&off.desk, &off.client, id, recovery, off.wallet(), 1002)
            .await
            .err(),
        Some(AppError::CredentialNotOffered)
    );
    assert!(off.client.elevated_tokens().is_empty(), "nothing approved");
}

#[tokio::test]
async fn a_link_s_server_confirmation_is_offered_once_it_holds_and_refused_when_it_does_not() {
    let w = world_of(SandboxConfig {
        customer_backend: true,
        ..SandboxConfig::default()
    })
    .await;
    let link = w
        .sandbox
        .customer_link(&w.user.email, "wallet:export", "Acme")
        .expect("a link");

    // Tampered with: the signature's last character changed. Said, not offered, not sent.
    let (head, last) = link.split_at(link.len() - 1);
    let tampered = format!("{head}{}", if last == "A" { "B" } else { "A" });
    let id = w.open_link(&tampered);
    let view = flow::begin(&w.desk, &w.client, id, w.wallet(), 0)
        .await
        .expect("begin");
    assert!(
        view.server_confirmation_refused
            .as_deref()
            .is_some_and(|why| why.contains("not signed by a key")),
        "{view:?}"
    );
    assert!(view
        .credentials
        .iter()
        .all(|c| c.id != flow::SERVER_CONFIRMATION_ID));
    assert_eq!(
        flow::verify(
            &w.desk,
            &w.client,
            id,
            Proof::ServerConfirmation,
            w.wallet(),
            1001
        )
        .await
        .err(),
        Some(AppError::CredentialNotOffered)
    );
    assert!(w.client.elevated_tokens().is_empty());
    w.desk
        .lock()
        .close(id, stepup_requests::Outcome::Cancelled, None, 1002)
        .expect("cancel");

    // As signed: offered first and preselected, approved only by the user's press (after the
    // read guard), with its own words in the history.
    let id = w.open_link(&link);
    let view = flow::begin(&w.desk, &w.client, id, w.wallet(), 2000)
        .await
        .expect("begin");
    assert_eq!(view.server_confirmation_refused, None);
    let first = &view.credentials[0];
    assert_eq!(first.id, flow::SERVER_CONFIRMATION_ID);
    assert_eq!(first.method, Method::ServerConfirmation);
    assert_eq!(first.alias.as_deref(), Some("customer.stepup.example"));
    assert_eq!(
        view.default_credential_id.as_deref(),
        Some(flow::SERVER_CONFIRMATION_ID)
    );
    assert!(view.server_confirmation_until_ms.is_some());
    assert!(
        w.client.elevated_tokens().is_empty(),
        "nothing exchanged yet"
    );
    let early = flow::verify(
        &w.desk,
        &w.client,
        id,
        Proof::ServerConfirmation,
        w.wallet(),
        2001,
    )
    .await;
    assert!(early.is_err(), "{early:?}");
    assert!(
        w.client.elevated_tokens().is_empty(),
        "not approved within the read guard"
    );
    let view = flow::verify(
        &w.desk,
        &w.client,
        id,
        Proof::ServerConfirmation,
        w.wallet(),
        2000 + MIN_SHOWN_MS + 1,
    )
    .await
    .expect("approved");
    assert_eq!(view.scopes, vec![stepup_client::TokenScope::WalletExport]);
    assert_eq!(
        w.desk.lock().history()[0].method,
        Some(Method::ServerConfirmation)
    );
}

#[tokio::test]
async fn a_link_without_a_confirmation_offers_none() {
    let w = world().await;
    let id = w.open();
    let view = flow::begin(&w.desk, &w.client, id, w.wallet(), 0)
        .await
        .expect("begin");
    assert_eq!(view.server_confirmation_refused, None);
    assert_eq!(
        flow::verify(
            &w.desk,
            &w.client,
            id,
            Proof::ServerConfirmation,
            w.wallet(),
            1001
        )
        .await
        .err(),
        Some(AppError::CredentialNotOffered)
    );
}
