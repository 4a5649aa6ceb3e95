//! The device passkey sealed by polkit, end to end, run as an ordinary user by
//! `tests/polkit/run.sh` (real system bus, polkitd, pkexec, PAM and the package's helper; the
//! harness plays the desktop's authentication agent with `pkttyagent`, typing the right
//! password, then a wrong one, then the right one). Against the sandbox on 127.0.0.1:
//!
//! 1. a passkey is registered: the OS asks (right password), no PIN is asked, and the state is
//!    stored sealed by the OS;
//! 2. a passkey step-up with a wrong password signs nothing and issues no token;
//! 3. with the right password it steps up and the export works (the sandbox's webauthn-rs
//!    requires user verification).
//!
//! Prints `pid N` and waits for `go` on standard input (the agent registers for this
//! process first); exits 0 only when every step went as above.

#[path = "../tests/common.rs"]
mod common;

use common::*;
use std::io::BufRead as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use stepup_client::passkey::{
    DevicePasskey, MemoryPasskeyStore, PasskeyConfirmation, PasskeyPrompt, PasskeyStateStore,
    PinStatus, Polkit, UserVerification,
};
use stepup_client::{Secret, StepUpError, TokenScope, Verification};

/// Counts PIN requests: with the OS verifying, there must be none.
struct NoPin(AtomicUsize);
impl UserVerification for NoPin {
    fn pin(&self, _: &PasskeyPrompt) -> Option<Secret> {
        self.0.fetch_add(1, Ordering::SeqCst);
        None
    }
}

fn fail(what: String) -> ! {
    println!("FAIL {what}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    let polkit = Polkit::detect()
        .unwrap_or_else(|| fail("polkit not detected (pkexec, helper, policy, system bus)".into()));
    println!("pid {}", std::process::id());
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() != "go" {
        fail(format!("expected go, got {line:?}"));
    }

    let w = world(mfa_user("polkit@example.com")).await;
    let v = Verification::Totp {
        device_id: w.user.totp_device_id.clone(),
        code: w.totp_now(),
    };
    w.client
        .verify(v, &[TokenScope::CredentialLink])
        .await
        .unwrap_or_else(|e| fail(format!("TOTP step-up: {e}")));
    w.clock.advance_secs(1);

    let store = Arc::new(MemoryPasskeyStore::new());
    let pins = Arc::new(NoPin(AtomicUsize::new(0)));
    let confirmation = || {
        let store: Arc<dyn PasskeyStateStore> = store.clone();
        PasskeyConfirmation::new(
            Arc::new(DevicePasskey::new(store).with_os_verification(Arc::new(polkit.clone()))),
            pins.clone(),
        )
    };
    let status = || {
        let store: Arc<dyn PasskeyStateStore> = store.clone();
        DevicePasskey::new(store).pin_status()
    };

    // 1. Registered after the OS verified the user.
    w.client
        .register_passkey(confirmation())
        .await
        .unwrap_or_else(|e| fail(format!("registration: {e}")));
    let sealed = store
        .load()
        .ok()
        .flatten()
        .unwrap_or_else(|| fail("nothing stored".into()));
    if !sealed.expose().contains("\"os\":true") || matches!(status(), Ok(s) if s != PinStatus::Os) {
        fail("the state is not sealed by the OS".into());
    }
    println!("registered: sealed by the OS");

    // 2. A wrong password: refused, no token.
    const EXPORT: TokenScope = TokenScope::WalletExport;
    match w
        .client
        .authenticate_passkey_mfa(&[EXPORT], confirmation())
        .await
    {
        // polkit's "not authorised", not a dismissal.
        Err(StepUpError::UserNotVerified) => {}
        Err(e) => fail(format!("a wrong password gave {e}")),
        Ok(_) => fail("a wrong password stepped up".into()),
    }
    if !w.client.check_step_up(EXPORT).await.is_required {
        fail("a token after a wrong password".into());
    }
    if store.load().ok().flatten().as_ref().map(Secret::expose) != Some(sealed.expose()) {
        fail("a refused verification changed the stored state".into());
    }
    println!("wrong password: refused, no token");

    // 3. The right password: a token, and the export works.
    let outcome = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], confirmation())
        .await
        .unwrap_or_else(|e| fail(format!("right password: {e}")));
    if !outcome.token.is_some_and(|t| t.scopes.contains(&EXPORT)) {
        fail("no wallet:export token".into());
    }
    let exported = w
        .client
        .export_wallet_private_key(&w.wallet_id())
        .await
        .unwrap_or_else(|e| fail(format!("export: {e}")));
    if !exported.private_key.expose().starts_with("0x") {
        fail("no key exported".into());
    }
    println!("right password: stepped up and exported");
    let asked = pins.0.load(Ordering::SeqCst);
    if asked != 0 {
        fail(format!("a PIN was asked {asked} times"));
    }
    println!("OK");
}
