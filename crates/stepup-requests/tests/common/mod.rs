//! What the request-flow tests against a real sandbox share: a sandbox on loopback with one
//! user signed in by an emailed code, and a desk whose `return_to` pages are recorded.

use std::sync::{Arc, Mutex};
use stepup_client::{Config, ManualClock, MemoryVault, StepUpClient, TokenVault};
use stepup_requests::desk::ReturnOpener;
use stepup_requests::SharedDesk;
use stepup_sandbox::{DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec};

/// A sandbox, the user made from `spec` and a client signed in as that user.
// Each test file is its own crate: one that does not read a field would warn.
#[allow(dead_code)]
pub struct SignedIn {
    pub sandbox: RunningSandbox,
    pub client: StepUpClient,
    pub user: DemoUser,
}

/// Starts a sandbox on a manual clock, makes `spec`'s user and signs a client in with the
/// code the sandbox emailed.
pub async fn signed_in(spec: UserSpec) -> SignedIn {
    let clock = ManualClock::now();
    let sandbox = Sandbox::start(
        SandboxConfig {
            clock: Arc::new(clock.clone()),
            ..SandboxConfig::default()
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .expect("sandbox");
    let user = sandbox.create_user(spec).expect("user");
    let config = Config::new(sandbox.environment_id())
        .expect("config")
        .with_api_base_url(sandbox.base_url().parse().expect("url"))
        .with_app_origin(stepup_sandbox::DEFAULT_APP_ORIGIN);
    let client = StepUpClient::builder(config)
        .vault(Arc::new(MemoryVault::new()) as Arc<dyn TokenVault>)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("client");
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
    SignedIn {
        sandbox,
        client,
        user,
    }
}

/// A desk whose opener records every page it would open in the browser.
pub fn recording_desk() -> (SharedDesk, Arc<Mutex<Vec<String>>>) {
    let desk = SharedDesk::default();
    let opened = Arc::new(Mutex::new(Vec::new()));
    let seen = opened.clone();
    desk.lock()
        .set_return_opener(ReturnOpener(Arc::new(move |url: &str| {
            seen.lock().expect("opened").push(url.to_owned());
        })));
    (desk, opened)
}
