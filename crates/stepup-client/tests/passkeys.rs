//! Passkeys, client against sandbox over HTTP: registration behind `credential:link`, the
//! passkey step-up for `wallet:export`, and every refusal (old counter, no user verification,
//! no passkey, cancelled). The authenticator is the real device passkey (a CTAP2 soft token)
//! over an in-memory state store; `webauthn-rs` verifies on the sandbox side.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use stepup_client::passkey::{
    entered_pin, AuthenticatorKind, CreationChallengeResponse, DevicePasskey, MemoryPasskeyStore,
    OsVerifier, PasskeyAuthenticator, PasskeyCeremony, PasskeyConfirmation, PasskeyPrompt,
    PasskeyStateStore, PinStatus, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, UserVerification, PIN_TRIES,
};
use stepup_client::{
    choose_method, CredentialFormat, CredentialMethod, Secret, StepUpCredentialExt, StepUpError,
    TokenScope, TokenVault as _, Verification,
};
use stepup_sandbox::SandboxConfig;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

const EXPORT: TokenScope = TokenScope::WalletExport;

/// The PIN every device passkey of these tests is sealed under.
const PIN: &str = "correct horse";

fn confirmed() -> Arc<dyn UserVerification> {
    entered_pin(Secret::new(PIN.to_owned()))
}

fn device(store: &Arc<MemoryPasskeyStore>) -> PasskeyConfirmation {
    let store: Arc<dyn PasskeyStateStore> = store.clone();
    PasskeyConfirmation::new(Arc::new(DevicePasskey::new(store)), confirmed())
}

async fn totp_step_up(w: &World, scope: TokenScope) {
    let v = Verification::Totp {
        device_id: w.user.totp_device_id.clone(),
        code: w.totp_now(),
    };
    w.client.verify(v, &[scope]).await.expect("TOTP step-up");
}

/// An MFA user with a device passkey registered (after a TOTP step-up for `credential:link`).
async fn with_passkey(email: &str) -> (World, Arc<MemoryPasskeyStore>) {
    let w = world(mfa_user(email)).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    // Registered after the TOTP device: the newest device is the default.
    w.clock.advance_secs(1);
    let store = Arc::new(MemoryPasskeyStore::new());
    let registered = w
        .client
        .register_passkey(device(&store))
        .await
        .expect("passkey registered");
    assert!(registered.device_id.is_some());
    (w, store)
}

#[tokio::test]
async fn registered_passkey_steps_up_for_wallet_export_and_the_export_succeeds() {
    let (w, store) = with_passkey("pk@example.com").await;
    let state = store.load().unwrap().expect("state sealed in the store");
    assert!(state.expose().len() > 1000, "the soft token state is saved");

    // The passkey is an MFA device: listed next to TOTP, and the newest, so the default.
    let check = w.client.check_step_up(EXPORT).await;
    let passkey = check
        .credentials
        .iter()
        .find(|c| c.format == CredentialFormat::Passkey)
        .expect("the passkey is offered");
    assert_eq!(passkey.kind.as_deref(), Some("passkey"));
    assert_eq!(passkey.alias.as_deref(), Some("Passkey"));
    assert_eq!(passkey.method(), CredentialMethod::Passkey);
    assert!(check
        .credentials
        .iter()
        .any(|c| c.method() == CredentialMethod::Totp));
    assert_eq!(
        choose_method(&check).map(|c| c.id.clone()),
        Some(passkey.id.clone())
    );
    let devices = w.client.mfa_devices().await.unwrap();
    assert!(devices.iter().any(|d| d.kind.as_deref() == Some("passkey")));

    let session_before = w.client.current_user().and_then(|u| u.session_id);
    let outcome = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .expect("passkey step-up");
    assert!(outcome.token.expect("a token").scopes.contains(&EXPORT));
    assert_ne!(
        w.client.current_user().and_then(|u| u.session_id),
        session_before,
        "the session rotates"
    );
    assert_ne!(
        store.load().unwrap(),
        Some(state),
        "the counter moved and was saved"
    );
    let exported = w
        .client
        .export_wallet_private_key(&w.wallet_id())
        .await
        .expect("export with the passkey's token");
    assert!(exported.private_key.expose().starts_with("0x"));
}

#[tokio::test]
async fn an_assertion_with_an_old_counter_is_refused() {
    let (w, store) = with_passkey("clone@example.com").await;
    let snapshot = store.load().unwrap().expect("state");
    for _ in 0..2 {
        w.client
            .authenticate_passkey_mfa(&[], device(&store))
            .await
            .expect("step-up");
    }
    // A copy of the authenticator taken before those two uses: its counter is behind.
    store.save(&snapshot).unwrap();
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PasskeyRefused, "{err}");
    assert!(!w.client.has_elevated_access_token(&EXPORT));
}

/// A soft token that drops user verification: it asks itself for "discouraged", so it signs
/// with only the user-present flag. Its signature is valid; only the UV flag is missing.
struct NoUserVerification {
    token: Mutex<SoftToken>,
}

impl PasskeyAuthenticator for NoUserVerification {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::Custom
    }
    fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        _verification: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        let mut token = self.token.lock().expect("token lock");
        token
            .do_registration(origin, options)
            .map_err(|e| StepUpError::Authenticator(e.to_string()))
    }
    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        _verification: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError> {
        let mut v = serde_json::to_value(&options).expect("options to JSON");
        v["publicKey"]["userVerification"] = "discouraged".into();
        let options: RequestChallengeResponse =
            serde_json::from_value(v).expect("options from JSON");
        let mut token = self.token.lock().expect("token lock");
        token
            .do_authentication(origin, options)
            .map_err(|e| StepUpError::Authenticator(e.to_string()))
    }
}

#[tokio::test]
async fn an_assertion_without_user_verification_is_refused() {
    let w = world(mfa_user("nouv@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let (token, _ca) = SoftToken::new(true).unwrap();
    let weak: Arc<dyn PasskeyAuthenticator> = Arc::new(NoUserVerification {
        token: Mutex::new(token),
    });
    w.client
        .register_passkey(PasskeyConfirmation::new(weak.clone(), confirmed()))
        .await
        .expect("registration (with UV) succeeds");
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], PasskeyConfirmation::new(weak, confirmed()))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PasskeyRefused, "{err}");
    assert!(!w.client.has_elevated_access_token(&EXPORT));
}

/// An authenticator that must never be reached.
struct Untouchable(AtomicUsize);

impl PasskeyAuthenticator for Untouchable {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::Custom
    }
    fn register(
        &self,
        _: Url,
        _: CreationChallengeResponse,
        _: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(StepUpError::Cancelled)
    }
    fn authenticate(
        &self,
        _: Url,
        _: RequestChallengeResponse,
        _: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(StepUpError::Cancelled)
    }
}

#[tokio::test]
async fn no_registered_passkey_gives_no_passkey_credentials_before_any_ceremony_or_post() {
    let w = world(mfa_user("none@example.com")).await;
    let options = w.client.passkey_authentication_options().await.unwrap();
    assert_eq!(options.allow_credentials.map(|c| c.len()), Some(0));
    let untouchable = Arc::new(Untouchable(AtomicUsize::new(0)));
    let err = w
        .client
        .authenticate_passkey_mfa(
            &[EXPORT],
            PasskeyConfirmation::new(untouchable.clone(), confirmed()),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::NoPasskeyCredentials);
    assert_eq!(untouchable.0.load(Ordering::SeqCst), 0, "no ceremony ran");
    // Nothing was posted: a POST would have counted as a failed MFA attempt (5 lock MFA).
    for _ in 0..5 {
        let again = w
            .client
            .authenticate_passkey_mfa(
                &[EXPORT],
                PasskeyConfirmation::new(untouchable.clone(), confirmed()),
            )
            .await;
        assert_eq!(again.unwrap_err(), StepUpError::NoPasskeyCredentials);
    }
    totp_step_up(&w, EXPORT).await;
}

#[tokio::test]
async fn passkey_registration_needs_a_credential_link_token() {
    let w = world(mfa_user("link@example.com")).await;
    let store = Arc::new(MemoryPasskeyStore::new());
    let err = w.client.register_passkey(device(&store)).await.unwrap_err();
    assert_eq!(
        err,
        StepUpError::StepUpRequired {
            scope: TokenScope::CredentialLink
        }
    );
    assert_eq!(store.load().unwrap(), None, "no authenticator was created");
}

/// A sandbox whose `credential:link` tokens are single-use, and an MFA user signed in to it.
async fn single_use_link_world(email: &str) -> World {
    let mut config = SandboxConfig::default();
    config.token_policies.insert(
        TokenScope::CredentialLink.as_str().to_owned(),
        stepup_sandbox::TokenPolicy {
            single_use: true,
            ttl_secs: 600,
            required: true,
        },
    );
    world_with(config, mfa_user(email)).await
}

fn untouchable() -> (Arc<Untouchable>, PasskeyConfirmation) {
    let untouchable = Arc::new(Untouchable(AtomicUsize::new(0)));
    let confirmation = PasskeyConfirmation::new(untouchable.clone(), confirmed());
    (untouchable, confirmation)
}

#[tokio::test]
async fn an_account_passkey_without_a_credential_link_token_asks_for_a_step_up_before_any_ceremony()
{
    let w = world(mfa_user("acct-none@example.com")).await;
    let (touched, confirmation) = untouchable();
    let err = w
        .client
        .register_account_passkey(confirmation.clone())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StepUpError::StepUpRequired {
            scope: TokenScope::CredentialLink
        }
    );
    // Another scope's token is no credential:link token.
    totp_step_up(&w, TokenScope::CredentialUnlink).await;
    let err = w
        .client
        .register_account_passkey(confirmation)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StepUpError::StepUpRequired {
            scope: TokenScope::CredentialLink
        }
    );
    assert_eq!(touched.0.load(Ordering::SeqCst), 0, "no ceremony ran");
    assert!(w
        .client
        .has_elevated_access_token(&TokenScope::CredentialUnlink));
}

#[tokio::test]
async fn an_account_passkey_spends_a_single_use_credential_link_token_on_its_post() {
    let w = single_use_link_world("acct-once@example.com").await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let held = w.vault.load().unwrap().tokens;
    assert!(held
        .iter()
        .any(|t| t.single_use && t.covers(&TokenScope::CredentialLink)));
    let store = Arc::new(MemoryPasskeyStore::new());
    w.client
        .register_account_passkey(device(&store))
        .await
        .expect("account passkey registered with the token");
    assert!(
        !w.client
            .has_elevated_access_token(&TokenScope::CredentialLink),
        "taken by the POST"
    );
    let options = w.client.passkey_authentication_options().await.unwrap();
    assert_eq!(options.allow_credentials.map(|c| c.len()), Some(1));

    // Used up here too: the next registration asks for a step-up before any ceremony.
    let (touched, confirmation) = untouchable();
    let err = w
        .client
        .register_account_passkey(confirmation)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StepUpError::StepUpRequired {
            scope: TokenScope::CredentialLink
        }
    );
    assert_eq!(touched.0.load(Ordering::SeqCst), 0);

    // The spent token put back (a copy kept elsewhere): the sandbox refuses it on the POST,
    // and nothing is added.
    for token in held {
        w.vault.put_token(&token).unwrap();
    }
    let replay = client_for(&w.sandbox, &w.clock, w.vault.clone()).await;
    assert!(replay.has_elevated_access_token(&TokenScope::CredentialLink));
    let other = Arc::new(MemoryPasskeyStore::new());
    let err = replay
        .register_account_passkey(device(&other))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StepUpError::StepUpRequired {
            scope: TokenScope::CredentialLink
        }
    );
    let options = replay.passkey_authentication_options().await.unwrap();
    assert_eq!(options.allow_credentials.map(|c| c.len()), Some(1));
}

#[tokio::test]
async fn declining_the_dialog_cancels_without_signing() {
    let (w, store) = with_passkey("cancel@example.com").await;
    let before = store.load().unwrap();
    let asked = Arc::new(Mutex::new(Vec::<PasskeyPrompt>::new()));
    let log = asked.clone();
    let declined: Arc<dyn UserVerification> = Arc::new(move |p: &PasskeyPrompt| {
        log.lock().unwrap().push(p.clone());
        None
    });
    let store_dyn: Arc<dyn PasskeyStateStore> = store.clone();
    let confirmation = PasskeyConfirmation::new(Arc::new(DevicePasskey::new(store_dyn)), declined);
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], confirmation)
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::Cancelled);
    assert_eq!(store.load().unwrap(), before, "nothing was signed");
    let prompts = asked.lock().unwrap().clone();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].ceremony, PasskeyCeremony::Authenticate);
    assert_eq!(prompts[0].rp_id, "app.stepup.example");
    assert_eq!(prompts[0].origin, "https://app.stepup.example");
    // A later, confirmed attempt works.
    w.client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .expect("step-up after a cancel");
}

fn with_pin(store: &Arc<MemoryPasskeyStore>, pin: &str) -> PasskeyConfirmation {
    let store: Arc<dyn PasskeyStateStore> = store.clone();
    PasskeyConfirmation::new(
        Arc::new(DevicePasskey::new(store)),
        entered_pin(Secret::new(pin.to_owned())),
    )
}

fn pin_status(store: &Arc<MemoryPasskeyStore>) -> PinStatus {
    let store: Arc<dyn PasskeyStateStore> = store.clone();
    DevicePasskey::new(store).pin_status().expect("pin status")
}

#[tokio::test]
async fn the_device_passkey_signs_nothing_without_its_pin_and_locks_after_eight_wrong_ones() {
    let (w, store) = with_passkey("pin@example.com").await;
    assert_eq!(pin_status(&store), PinStatus::Set { tries_left: 8 });
    let sealed = store.load().unwrap().unwrap();
    assert!(
        !sealed.expose().contains("\"cred"),
        "the stored state is sealed, not the soft token's CBOR"
    );
    // No PIN: nothing is signed, nothing is counted.
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], with_pin(&store, ""))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PinRequired);
    assert_eq!(store.load().unwrap(), Some(sealed.clone()));
    // A wrong PIN: refused before any request, one try fewer.
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], with_pin(&store, "wrong horse"))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::WrongPin { tries_left: 7 });
    assert!(!w.client.has_elevated_access_token(&EXPORT));
    // The right PIN resets the count.
    w.client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .expect("the right PIN verifies");
    assert_eq!(pin_status(&store), PinStatus::Set { tries_left: 8 });
    // Eight wrong PINs in a row lock it: the last says locked, and so does the right PIN.
    for left in (1..PIN_TRIES).rev() {
        let err = w
            .client
            .authenticate_passkey_mfa(&[EXPORT], with_pin(&store, "nope nope"))
            .await
            .unwrap_err();
        assert_eq!(err, StepUpError::WrongPin { tries_left: left });
    }
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], with_pin(&store, "nope nope"))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PinLocked);
    assert_eq!(pin_status(&store), PinStatus::Locked);
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PinLocked, "locked for good");
    // Removed and added again, it works with a new PIN.
    let store_dyn: Arc<dyn PasskeyStateStore> = store.clone();
    DevicePasskey::new(store_dyn).remove().unwrap();
    assert_eq!(pin_status(&store), PinStatus::NotEnrolled);
}

/// The OS's answers in turn, as polkit would give them: a key per salt, a refusal, or "no
/// agent can ask". (The real polkit path is tests/polkit/run.sh's.)
struct ScriptedOs(Mutex<Vec<Result<u8, StepUpError>>>, AtomicUsize);
impl OsVerifier for ScriptedOs {
    fn release(&self, salt: &[u8; 16]) -> Result<zeroize::Zeroizing<[u8; 32]>, StepUpError> {
        self.1.fetch_add(1, Ordering::Relaxed);
        let secret = self.0.lock().expect("answers").remove(0)?;
        let mut key = zeroize::Zeroizing::new([secret; 32]);
        key[..16].copy_from_slice(salt);
        Ok(key)
    }
}

/// A PIN answer that must never be asked for.
struct NoPinAsked(AtomicUsize);
impl UserVerification for NoPinAsked {
    fn pin(&self, _prompt: &PasskeyPrompt) -> Option<Secret> {
        self.0.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[tokio::test]
async fn with_no_polkit_agent_a_new_passkey_is_sealed_by_a_pin_instead() {
    let w = world(mfa_user("noagent@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let store = Arc::new(MemoryPasskeyStore::new());
    let store_dyn: Arc<dyn PasskeyStateStore> = store.clone();
    let os = Arc::new(ScriptedOs(
        Mutex::new(vec![
            Err(StepUpError::OsVerificationUnavailable),
            Ok(7),
            Ok(7),
        ]),
        AtomicUsize::new(0),
    ));
    let device = Arc::new(DevicePasskey::new(store_dyn.clone()).with_os_verification(os.clone()));
    assert!(device.os_can_verify());
    let asked = Arc::new(NoPinAsked(AtomicUsize::new(0)));
    // No agent: nothing is created, and the device says new passkeys now take a PIN.
    let err = w
        .client
        .register_passkey(PasskeyConfirmation::new(device.clone(), asked.clone()))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::OsVerificationUnavailable);
    assert_eq!(store.load().unwrap(), None);
    assert_eq!(
        asked.0.load(Ordering::Relaxed),
        0,
        "no PIN was asked on the OS path"
    );
    assert!(!device.os_can_verify());
    // The next try is sealed by the PIN the user chose, and the OS is not asked again.
    w.client
        .register_passkey(PasskeyConfirmation::new(device.clone(), confirmed()))
        .await
        .expect("registered with a PIN");
    assert_eq!(os.1.load(Ordering::Relaxed), 1);
    assert_eq!(pin_status(&store), PinStatus::Set { tries_left: 8 });
    w.client
        .authenticate_passkey_mfa(&[EXPORT], PasskeyConfirmation::new(device, confirmed()))
        .await
        .expect("the PIN verifies");
    // A device whose OS can ask seals by the OS, and asks it (not a PIN) at every use.
    let fresh = Arc::new(MemoryPasskeyStore::new());
    let fresh_dyn: Arc<dyn PasskeyStateStore> = fresh.clone();
    let device = Arc::new(DevicePasskey::new(fresh_dyn).with_os_verification(os.clone()));
    w.clock.advance_secs(30); // the next TOTP code
    totp_step_up(&w, TokenScope::CredentialLink).await;
    w.client
        .register_passkey(PasskeyConfirmation::new(device.clone(), asked.clone()))
        .await
        .expect("registered, the OS asked");
    assert_eq!(pin_status(&fresh), PinStatus::Os);
    w.client
        .authenticate_passkey_mfa(&[EXPORT], PasskeyConfirmation::new(device, asked.clone()))
        .await
        .expect("the OS verifies");
    assert_eq!(os.1.load(Ordering::Relaxed), 3);
    assert_eq!(
        asked.0.load(Ordering::Relaxed),
        0,
        "no PIN was asked on the OS path"
    );
    // The OS-sealed passkey where the OS cannot ask (no agent now; the helper uninstalled):
    // nothing is signed, no PIN is asked, the state is untouched, and the device says so.
    let sealed = fresh.load().unwrap();
    let fresh_dyn: Arc<dyn PasskeyStateStore> = fresh.clone();
    let os = Arc::new(ScriptedOs(
        Mutex::new(vec![Err(StepUpError::OsVerificationUnavailable), Ok(7)]),
        AtomicUsize::new(0),
    ));
    let device = Arc::new(DevicePasskey::new(fresh_dyn.clone()).with_os_verification(os.clone()));
    for device in [device.clone(), Arc::new(DevicePasskey::new(fresh_dyn))] {
        let err = w
            .client
            .authenticate_passkey_mfa(
                &[EXPORT],
                PasskeyConfirmation::new(device.clone(), asked.clone()),
            )
            .await
            .unwrap_err();
        assert_eq!(err, StepUpError::OsVerificationUnavailable);
        assert!(!device.os_can_verify());
        assert_eq!(fresh.load().unwrap(), sealed);
    }
    assert_eq!(
        asked.0.load(Ordering::Relaxed),
        0,
        "no PIN was asked on the OS path"
    );
    // Once the OS answers again, it verifies, and the device says it can.
    w.client
        .authenticate_passkey_mfa(
            &[EXPORT],
            PasskeyConfirmation::new(device.clone(), asked.clone()),
        )
        .await
        .expect("the OS verifies again");
    assert!(device.os_can_verify());
}

#[tokio::test]
async fn a_weak_new_pin_is_refused_before_anything_is_created() {
    let w = world(mfa_user("weakpin@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let store = Arc::new(MemoryPasskeyStore::new());
    let err = w
        .client
        .register_passkey(with_pin(&store, "123456"))
        .await
        .unwrap_err();
    assert!(matches!(err, StepUpError::PinRejected(_)), "{err:?}");
    assert_eq!(store.load().unwrap(), None);
}

#[tokio::test]
async fn a_state_from_before_pins_signs_nothing() {
    let (w, store) = with_passkey("legacy@example.com").await;
    // What an older build stored: the soft token's CBOR, unsealed.
    let (token, _ca) = SoftToken::new(true).unwrap();
    use base64::Engine as _;
    let legacy = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_cbor().unwrap());
    store.save(&Secret::new(legacy)).unwrap();
    assert_eq!(pin_status(&store), PinStatus::NoPin);
    let err = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PinNotSet);
}

#[tokio::test]
async fn an_account_passkey_also_steps_up() {
    let w = world(mfa_user("account@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let store = Arc::new(MemoryPasskeyStore::new());
    w.client
        .register_account_passkey(device(&store))
        .await
        .expect("account passkey registered");
    assert!(
        !w.client.has_elevated_access_token(&EXPORT),
        "no wallet:export token before the passkey step-up"
    );
    let outcome = w
        .client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .expect("step-up with the account passkey");
    let token = outcome.token.expect("the step-up earns a token");
    assert_eq!(token.scopes, vec![EXPORT]);
    assert!(w.client.has_elevated_access_token(&EXPORT));
    let exported = w
        .client
        .export_wallet_private_key(&w.wallet_id())
        .await
        .expect("export with the account passkey's token");
    assert!(exported.private_key.expose().starts_with("0x"));
}

#[tokio::test]
async fn an_assertion_from_another_origin_is_refused_by_the_server() {
    let (w, store) = with_passkey("origin@example.com").await;
    let config = stepup_client::Config::new(w.sandbox.environment_id())
        .unwrap()
        .with_api_base_url(w.sandbox.base_url().parse().unwrap())
        // Inside the rp id, so the authenticator signs; not the app's origin, so the server refuses.
        .with_app_origin("https://evil.app.stepup.example");
    let other = stepup_client::StepUpClient::builder(config)
        .vault(w.vault.clone())
        .clock(Arc::new(w.clock.clone()))
        .build()
        .await
        .unwrap();
    let err = other
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PasskeyRefused, "{err}");
}

/// Signs correctly, but only after the ceremony's 60 s are over (on the sandbox clock).
struct Slow {
    inner: DevicePasskey,
    clock: stepup_client::ManualClock,
}

impl PasskeyAuthenticator for Slow {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::Custom
    }
    fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        verification: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        self.inner.register(origin, options, verification)
    }
    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        verification: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError> {
        self.clock.advance_secs(61);
        self.inner.authenticate(origin, options, verification)
    }
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let (w, store) = with_passkey("slow@example.com").await;
    let store_dyn: Arc<dyn PasskeyStateStore> = store.clone();
    let slow = Slow {
        inner: DevicePasskey::new(store_dyn),
        clock: w.clock.clone(),
    };
    let err = w
        .client
        .authenticate_passkey_mfa(
            &[EXPORT],
            PasskeyConfirmation::new(Arc::new(slow), confirmed()),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::PasskeyRefused, "{err}");
}

#[tokio::test]
async fn the_demo_users_device_passkey_is_handed_to_the_app_and_works() {
    let clock = stepup_client::ManualClock::now();
    let config = SandboxConfig {
        seed_demo: true,
        clock: Arc::new(clock.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox(config).await;
    let demo = sandbox.demo().expect("demo user");
    let state = sandbox
        .demo_device_passkey_state()
        .expect("demo passkey state");
    let store = Arc::new(MemoryPasskeyStore::new());
    // As the app takes it: sealed under a PIN at once.
    let store_dyn: Arc<dyn PasskeyStateStore> = store.clone();
    DevicePasskey::new(store_dyn)
        .import(&state, &Secret::new(PIN.to_owned()))
        .unwrap();
    let vault = Arc::new(stepup_client::MemoryVault::new());
    let client = client_for(&sandbox, &clock, vault).await;
    let sent = client.send_email_otp(&demo.email).await.unwrap();
    client
        .sign_in_with_email_otp(&sent, delivered_code(&sandbox, &sent))
        .await
        .unwrap();
    let check = client.check_step_up(EXPORT).await;
    let chosen = choose_method(&check).expect("a method");
    assert_eq!(chosen.method(), CredentialMethod::Passkey, "{check:?}");
    assert_eq!(Some(chosen.id.clone()), demo.passkey_device_id);
    client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .expect("demo passkey step-up");
    client
        .export_wallet_private_key(demo.wallet_id.as_deref().unwrap())
        .await
        .expect("export");
}

/// The app's "Add a passkey on this device" against the demo user: its device already holds
/// the demo passkey, and the same soft token takes a second credential (the sandbox lists the
/// first in `excludeCredentials`; the device passkey holds both). Without a `credential:link`
/// token the registration asks for a step-up; after one (TOTP) it is retried once and works,
/// and either passkey then steps up for `wallet:export`.
#[tokio::test]
async fn a_second_passkey_on_the_demo_users_device_after_a_credential_link_step_up() {
    let clock = stepup_client::ManualClock::now();
    let config = SandboxConfig {
        seed_demo: true,
        clock: Arc::new(clock.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox(config).await;
    let demo = sandbox.demo().expect("demo user");
    let store = Arc::new(MemoryPasskeyStore::new());
    store
        .save(&sandbox.demo_device_passkey_state().expect("demo state"))
        .unwrap();
    let vault = Arc::new(stepup_client::MemoryVault::new());
    let client = client_for(&sandbox, &clock, vault).await;
    let sent = client.send_email_otp(&demo.email).await.unwrap();
    client
        .sign_in_with_email_otp(&sent, delivered_code(&sandbox, &sent))
        .await
        .unwrap();
    let passkeys = |devices: Vec<stepup_client::MfaDevice>| {
        devices
            .into_iter()
            .filter(|d| d.kind.as_deref() == Some("passkey"))
            .count()
    };
    assert_eq!(passkeys(client.mfa_devices().await.unwrap()), 1);
    let verified = AtomicUsize::new(0);
    let registered = client
        .retry_after_step_up(
            || client.register_passkey(device(&store)),
            |scope| {
                verified.fetch_add(1, Ordering::SeqCst);
                assert_eq!(scope, TokenScope::CredentialLink);
                let code = sandbox
                    .totp_code(demo.totp_secret_base32.as_ref().unwrap().expose())
                    .unwrap();
                let v = Verification::Totp {
                    device_id: demo.totp_device_id.clone(),
                    code: stepup_client::Secret::new(code),
                };
                let client = &client;
                async move { client.verify(v, &[scope]).await.map(drop) }
            },
        )
        .await
        .expect("second passkey registered");
    assert_eq!(verified.load(Ordering::SeqCst), 1, "one step-up");
    assert!(registered.device_id.is_some());
    assert_ne!(registered.device_id, demo.passkey_device_id);
    assert_eq!(passkeys(client.mfa_devices().await.unwrap()), 2);
    client
        .authenticate_passkey_mfa(&[EXPORT], device(&store))
        .await
        .expect("passkey step-up with two credentials on the device");
}

/// Latency of one passkey step-up against the local sandbox (GET options, soft-token signing
/// with the state loaded and saved, POST verify). `cargo test -p stepup-client --test passkeys
/// -- --ignored --nocapture passkey_step_up_latency`
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn passkey_step_up_latency() {
    let (w, store) = with_passkey("latency@example.com").await;
    let runs = 20u32;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        w.client
            .authenticate_passkey_mfa(&[EXPORT], device(&store))
            .await
            .expect("step-up");
    }
    println!(
        "passkey step-up: {:?} per step-up ({runs} runs)",
        start.elapsed() / runs
    );
}
