//! The MFA methods and recovery-code regeneration, client against sandbox over HTTP:
//! `GET users/mfa/methods?verifiedOnly=true` (the SDK's `getMfaMethods`), `GET
//! users/mfa/recovery`, and `POST users/mfa/recovery` behind `credential:link`, with its
//! refusals (no token, another scope's, a spent single-use one, a user without MFA), and
//! the passkey list and `DELETE users/passkeys` (the SDK's `deletePasskey`) behind
//! `credential:unlink` (no token, another scope's, another user's passkey, a spent token).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use std::sync::Arc;
use stepup_client::passkey::{entered_pin, DevicePasskey, MemoryPasskeyStore, PasskeyConfirmation};
use stepup_client::{Secret, StepUpError, TokenScope, TokenVault as _, Verification};
use stepup_sandbox::{SandboxConfig, TokenPolicy};

const LINK: TokenScope = TokenScope::CredentialLink;

fn step_up_required() -> StepUpError {
    StepUpError::StepUpRequired { scope: LINK }
}

/// A TOTP step-up for `scope` (the sandbox takes each TOTP step once: move a step first).
async fn totp_step_up(w: &World, scope: TokenScope) {
    w.clock.advance_secs(30);
    let v = Verification::Totp {
        device_id: w.user.totp_device_id.clone(),
        code: w.totp_now(),
    };
    w.client.verify(v, &[scope]).await.expect("TOTP step-up");
}

async fn recovery_step_up(w: &World, code: &Secret) -> Result<(), StepUpError> {
    let v = Verification::RecoveryCode { code: code.clone() };
    w.client
        .verify(v, &[TokenScope::WalletExport])
        .await
        .map(drop)
}

#[tokio::test]
async fn mfa_methods_list_verified_totp_devices_and_passkeys() {
    let w = world(mfa_user("methods@example.com")).await;
    let methods = w.client.mfa_methods().await.expect("methods");
    assert!(methods.user_has_verified_mfa_methods);
    assert_eq!(methods.devices.len(), 1);
    assert_eq!(methods.devices[0].id, w.user.totp_device_id);
    assert_eq!(methods.devices[0].kind.as_deref(), Some("totp"));
    assert_eq!(methods.devices[0].verified, Some(true));
    assert!(methods.passkeys.is_empty());

    // A TOTP device whose registration is not confirmed is not a verified method.
    totp_step_up(&w, LINK).await;
    let pending = w.client.register_totp_device().await.expect("pending TOTP");
    let methods = w.client.mfa_methods().await.unwrap();
    assert_eq!(methods.devices.len(), 1, "verifiedOnly=true");
    assert!(methods
        .devices
        .iter()
        .all(|d| d.id.as_deref() != Some(pending.id.as_str())));

    let store: Arc<dyn stepup_client::passkey::PasskeyStateStore> =
        Arc::new(MemoryPasskeyStore::new());
    let confirmation = PasskeyConfirmation::new(
        Arc::new(DevicePasskey::new(store)),
        entered_pin(Secret::new("correct horse".to_owned())),
    );
    let registered = w.client.register_passkey(confirmation).await.unwrap();
    let methods = w.client.mfa_methods().await.unwrap();
    assert_eq!(methods.passkeys.len(), 1);
    assert_eq!(Some(methods.passkeys[0].id.clone()), registered.device_id);
    assert!(!methods.passkeys[0].credential_id.is_empty());
    assert_eq!(methods.devices.len(), 1, "passkeys are listed as passkeys");
}

#[tokio::test]
async fn a_user_without_mfa_has_no_verified_methods() {
    let w = world(reauth_user("nomfa@example.com")).await;
    let methods = w.client.mfa_methods().await.unwrap();
    assert!(!methods.user_has_verified_mfa_methods);
    assert!(methods.devices.is_empty() && methods.passkeys.is_empty());
}

#[tokio::test]
async fn new_recovery_codes_need_credential_link_and_the_old_ones_stop_working() {
    let w = world(mfa_user("regen@example.com")).await;
    let old = w.user.recovery_codes.clone();
    assert_eq!(old.len(), 10);
    assert_eq!(w.client.recovery_codes().await.unwrap().count, 10);

    assert_eq!(
        w.client.regenerate_recovery_codes().await.unwrap_err(),
        step_up_required(),
        "no token"
    );
    totp_step_up(&w, TokenScope::CredentialUnlink).await;
    assert_eq!(
        w.client.regenerate_recovery_codes().await.unwrap_err(),
        step_up_required(),
        "a credential:unlink token is not sent for credential:link"
    );
    // Refused: nothing changed, an old code still works.
    recovery_step_up(&w, &old[0])
        .await
        .expect("old code before");

    totp_step_up(&w, LINK).await;
    let fresh = w
        .client
        .regenerate_recovery_codes()
        .await
        .expect("new codes");
    assert_eq!(fresh.count, 10);
    assert_eq!(fresh.recovery_codes.len(), 10);
    assert!(!format!("{fresh:?}").contains(fresh.recovery_codes[0].expose()));
    let status = w.client.recovery_codes().await.unwrap();
    assert_eq!(status.count, 10);
    assert!(status.recovery_codes.is_empty(), "codes are shown once");

    for code in &old[1..3] {
        let err = recovery_step_up(&w, code).await.unwrap_err();
        assert!(matches!(err, StepUpError::InvalidOtp { .. }), "{err:?}");
    }
    recovery_step_up(&w, &fresh.recovery_codes[0])
        .await
        .expect("a new code works");
    assert_eq!(w.client.recovery_codes().await.unwrap().count, 9);
}

#[tokio::test]
async fn a_spent_single_use_credential_link_token_makes_no_new_codes() {
    let mut config = SandboxConfig::default();
    config.token_policies.insert(
        LINK.as_str().to_owned(),
        TokenPolicy {
            single_use: true,
            ttl_secs: 600,
            required: true,
        },
    );
    let w = world_with(config, mfa_user("regen-once@example.com")).await;
    totp_step_up(&w, LINK).await;
    let held = w.vault.load().unwrap().tokens;
    let first = w.client.regenerate_recovery_codes().await.expect("once");
    assert!(!w.client.has_elevated_access_token(&LINK), "taken");
    assert_eq!(
        w.client.regenerate_recovery_codes().await.unwrap_err(),
        step_up_required()
    );

    // The spent token sent again (a copy put back): refused by the sandbox.
    for token in held {
        w.vault.put_token(&token).unwrap();
    }
    let replay = client_for(&w.sandbox, &w.clock, w.vault.clone()).await;
    assert!(replay.has_elevated_access_token(&LINK));
    assert_eq!(
        replay.regenerate_recovery_codes().await.unwrap_err(),
        step_up_required()
    );
    // The codes of the first regeneration were not replaced.
    let v = Verification::RecoveryCode {
        code: first.recovery_codes[0].clone(),
    };
    replay.verify(v, &[]).await.expect("first set still valid");
}

#[tokio::test]
async fn a_user_without_mfa_gets_no_recovery_codes() {
    let w = world(reauth_user("regen-nomfa@example.com")).await;
    let sent = w.client.send_email_otp(&w.user.email).await.unwrap();
    let v = Verification::EmailOtp {
        code: delivered_code(&w.sandbox, &sent),
        verification: sent,
    };
    w.client.verify(v, &[LINK]).await.expect("email step-up");
    let err = w.client.regenerate_recovery_codes().await.unwrap_err();
    assert!(
        matches!(&err, StepUpError::Api { code, .. } if code == "mfa_invalid_request"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- deletePasskey

fn device_passkey() -> PasskeyConfirmation {
    let store: Arc<dyn stepup_client::passkey::PasskeyStateStore> =
        Arc::new(MemoryPasskeyStore::new());
    PasskeyConfirmation::new(
        Arc::new(DevicePasskey::new(store)),
        entered_pin(Secret::new("correct horse".to_owned())),
    )
}

/// An MFA user with one account passkey; returns the world and the passkey's id.
async fn with_account_passkey(email: &str) -> (World, String) {
    let w = world(mfa_user(email)).await;
    totp_step_up(&w, LINK).await;
    w.client
        .register_account_passkey(device_passkey())
        .await
        .expect("account passkey");
    let passkeys = w.client.passkeys().await.unwrap();
    assert_eq!(passkeys.len(), 1);
    let id = passkeys[0].id.clone();
    (w, id)
}

const UNLINK: TokenScope = TokenScope::CredentialUnlink;

#[tokio::test]
async fn a_passkey_is_deleted_with_a_credential_unlink_token_and_is_gone() {
    let (w, id) = with_account_passkey("delpk@example.com").await;
    let unlink_required = StepUpError::StepUpRequired { scope: UNLINK };
    assert_eq!(
        w.client.delete_passkey(&id).await.unwrap_err(),
        unlink_required,
        "no token"
    );
    // The credential:link token of the registration is another scope's.
    assert!(w.client.has_elevated_access_token(&LINK));
    assert_eq!(
        w.client.delete_passkey(&id).await.unwrap_err(),
        unlink_required,
        "a credential:link token"
    );
    assert_eq!(w.client.passkeys().await.unwrap().len(), 1);

    totp_step_up(&w, UNLINK).await;
    w.client.delete_passkey(&id).await.expect("deleted");
    assert!(w.client.passkeys().await.unwrap().is_empty());
    let options = w.client.passkey_authentication_options().await.unwrap();
    assert_eq!(options.allow_credentials.map(|c| c.len()), Some(0));
    assert!(w.client.mfa_methods().await.unwrap().passkeys.is_empty());
    // Gone: a second delete names no passkey.
    let err = w.client.delete_passkey(&id).await.unwrap_err();
    assert!(
        matches!(&err, StepUpError::Api { code, .. } if code == "passkey_not_found"),
        "{err:?}"
    );
    assert!(matches!(
        w.client.delete_passkey("../users").await,
        Err(StepUpError::InvalidInput(_))
    ));
}

/// A client signed in as a new MFA user of `w`'s sandbox, with a single-use
/// `credential:unlink` token (the policy of `w`'s sandbox decides); returns it and its vault.
async fn intruder(w: &World) -> (stepup_client::StepUpClient, Arc<stepup_client::MemoryVault>) {
    let (client, vault, other) = another_user(w, mfa_user("intruder@example.com")).await;
    let code = w
        .sandbox
        .totp_code(other.totp_secret_base32.as_ref().unwrap().expose())
        .unwrap();
    let v = Verification::Totp {
        device_id: other.totp_device_id.clone(),
        code: Secret::new(code),
    };
    client.verify(v, &[UNLINK]).await.unwrap();
    (client, vault)
}

#[tokio::test]
async fn another_users_passkey_is_not_found_and_spends_nothing_and_a_spent_token_deletes_nothing() {
    let mut config = SandboxConfig::default();
    config.token_policies.insert(
        UNLINK.as_str().to_owned(),
        TokenPolicy {
            single_use: true,
            ttl_secs: 600,
            required: true,
        },
    );
    let w = world_with(config, mfa_user("owner@example.com")).await;
    totp_step_up(&w, LINK).await;
    for _ in 0..2 {
        w.client
            .register_account_passkey(device_passkey())
            .await
            .unwrap();
    }
    let owners: Vec<String> = w
        .client
        .passkeys()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(owners.len(), 2);

    // Another user, with a single-use credential:unlink token, names the owner's passkey.
    let (intruder, vault) = intruder(&w).await;
    let held = vault.load().unwrap().tokens;
    let err = intruder.delete_passkey(&owners[0]).await.unwrap_err();
    assert!(
        matches!(&err, StepUpError::Api { code, .. } if code == "passkey_not_found"),
        "{err:?}"
    );
    assert_eq!(
        w.client.passkeys().await.unwrap().len(),
        2,
        "nothing deleted"
    );
    // Its token was taken by its client, but not spent by the sandbox: put back, it still
    // removes the intruder's own TOTP device.
    for token in held {
        vault.put_token(&token).unwrap();
    }
    let again = client_for(&w.sandbox, &w.clock, vault).await;
    let own = again.mfa_devices().await.unwrap()[0].id.clone().unwrap();
    again
        .delete_mfa_device(&own)
        .await
        .expect("the refused call spent nothing");

    // The owner's single-use token deletes one passkey; the same token again deletes nothing.
    totp_step_up(&w, UNLINK).await;
    let owner_tokens = w.vault.load().unwrap().tokens;
    w.client.delete_passkey(&owners[0]).await.expect("deleted");
    assert_eq!(
        w.client.delete_passkey(&owners[1]).await.unwrap_err(),
        StepUpError::StepUpRequired { scope: UNLINK },
        "taken locally"
    );
    for token in owner_tokens {
        w.vault.put_token(&token).unwrap();
    }
    let replay = client_for(&w.sandbox, &w.clock, w.vault.clone()).await;
    assert!(replay.has_elevated_access_token(&UNLINK));
    assert_eq!(
        replay.delete_passkey(&owners[1]).await.unwrap_err(),
        StepUpError::StepUpRequired { scope: UNLINK },
        "spent on the server"
    );
    assert_eq!(w.client.passkeys().await.unwrap().len(), 1);
}
