//! SMS sign-in (`POST smsVerifications/signin`) and `allowNewMFALinking` on sign-in, client
//! against sandbox over HTTP: the session is the phone's user's, signed in with the phone
//! credential and bound to the client's session key; wrong codes count down and kill the
//! verification; an email verification does not sign in at the SMS path; a user without MFA
//! who allows linking gets a `credential:link` token that enrols a TOTP device, an MFA user
//! gets none, and neither does a sign-in that does not ask.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use serde_json::json;
use std::sync::Arc;
use stepup_client::{
    MemoryVault, OtpChannel, OtpVerification, PhoneNumber, StepUpClient, StepUpError, TokenScope,
};
use stepup_sandbox::{DemoUser, SandboxConfig, UserSpec};

fn phone() -> PhoneNumber {
    PhoneNumber {
        country_code: "1".into(),
        iso_country_code: "US".into(),
        number: "5550123".into(),
    }
}

/// A sandbox with `spec`'s user and a client that is not signed in.
async fn signed_out(
    spec: UserSpec,
) -> (
    stepup_sandbox::RunningSandbox,
    StepUpClient,
    Arc<MemoryVault>,
    DemoUser,
    stepup_client::ManualClock,
) {
    let clock = stepup_client::ManualClock::now();
    let config = SandboxConfig {
        clock: Arc::new(clock.clone()),
        ..SandboxConfig::default()
    };
    let sandbox = sandbox(config).await;
    let user = sandbox.create_user(spec).unwrap();
    let vault = Arc::new(MemoryVault::new());
    let client = client_for(&sandbox, &clock, vault.clone()).await;
    (sandbox, client, vault, user, clock)
}

#[tokio::test]
async fn a_texted_code_signs_in_the_phones_user_with_the_phone_credential() {
    let (sandbox, client, vault, user, _) = signed_out(reauth_user("sms@example.com")).await;
    let sent = client.send_sms_otp(phone()).await.unwrap();
    assert!(matches!(&sent.channel, OtpChannel::Sms(p) if p.number == "5550123"));
    let signed = client
        .sign_in_with_sms_otp(&sent, delivered_code(&sandbox, &sent))
        .await
        .unwrap();
    assert_eq!(signed.id, user.user_id);
    let (token, key) = stored(&vault);
    assert_eq!(claims(&token)["sessionPublicKey"], json!(key));
    let phone_credential = signed
        .verified_credentials
        .iter()
        .find(|c| c.format == stepup_client::CredentialFormat::PhoneNumber)
        .map(|c| c.id.clone())
        .unwrap();
    let check = client.check_step_up(TokenScope::WalletExport).await;
    assert!(check.is_required);
    assert_eq!(
        check.default_credential_id,
        Some(phone_credential),
        "re-authenticate with what the session signed in with"
    );
    // The code is single use.
    let again = client
        .sign_in_with_sms_otp(&sent, delivered_code(&sandbox, &sent))
        .await
        .unwrap_err();
    assert_eq!(again, StepUpError::VerificationExpired);
}

#[tokio::test]
async fn wrong_texted_codes_count_down_then_kill_the_verification() {
    let (sandbox, client, _, _, _) = signed_out(reauth_user("wrong-sms@example.com")).await;
    let sent = client.send_sms_otp(phone()).await.unwrap();
    let code = delivered_code(&sandbox, &sent);
    for left in (1..5).rev() {
        let err = client
            .sign_in_with_sms_otp(&sent, wrong(&code))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StepUpError::WrongCode {
                remaining_attempts: Some(left)
            }
        );
    }
    let err = client
        .sign_in_with_sms_otp(&sent, wrong(&code))
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::TooManyAttempts);
    let err = client.sign_in_with_sms_otp(&sent, code).await.unwrap_err();
    assert_eq!(
        err,
        StepUpError::TooManyAttempts,
        "dead, even for the right code"
    );
    assert!(!client.is_signed_in());
}

#[tokio::test]
async fn an_email_verification_does_not_sign_in_at_the_sms_path() {
    let (sandbox, client, _, user, _) = signed_out(reauth_user("mixed@example.com")).await;
    let email = client.send_email_otp(&user.email).await.unwrap();
    let code = delivered_code(&sandbox, &email);
    // Refused by the client before any request...
    assert!(matches!(
        client.sign_in_with_sms_otp(&email, code.clone()).await,
        Err(StepUpError::InvalidInput(_))
    ));
    // ...and by the sandbox when the uuid is sent there anyway.
    let posing = OtpVerification {
        verification_uuid: email.verification_uuid.clone(),
        channel: OtpChannel::Sms(phone()),
    };
    let err = client
        .sign_in_with_otp(&posing, code.clone(), None)
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::VerificationExpired);
    assert!(!client.is_signed_in());
    client
        .sign_in_with_email_otp(&email, code)
        .await
        .expect("the email code was not spent");
}

#[tokio::test]
async fn allowing_new_mfa_linking_gives_a_user_without_mfa_a_credential_link_token() {
    let (sandbox, client, _, _, _) = signed_out(reauth_user("linking@example.com")).await;
    let sent = client.send_sms_otp(phone()).await.unwrap();
    let signed = client
        .sign_in_with_otp(&sent, delivered_code(&sandbox, &sent), Some(true))
        .await
        .unwrap();
    let token = signed.token.expect("a credential:link token");
    assert_eq!(token.scopes, [TokenScope::CredentialLink]);
    assert!(client.has_elevated_access_token(&TokenScope::CredentialLink));
    // It is what enrols the first MFA method.
    let pending = client
        .register_totp_device()
        .await
        .expect("TOTP registration");
    assert!(!pending.secret.expose().is_empty());
}

#[tokio::test]
async fn no_linking_token_for_an_mfa_user_or_a_sign_in_that_does_not_ask() {
    let spec = UserSpec {
        phone: Some(("1".into(), "US".into(), "5550123".into())),
        ..mfa_user("has-mfa@example.com")
    };
    let (sandbox, client, _, _, _) = signed_out(spec).await;
    let sent = client.send_sms_otp(phone()).await.unwrap();
    let signed = client
        .sign_in_with_otp(&sent, delivered_code(&sandbox, &sent), Some(true))
        .await
        .unwrap();
    assert!(signed.token.is_none(), "the user has MFA already");

    let (sandbox, client, _, _, _) = signed_out(reauth_user("not-asked@example.com")).await;
    for allow in [None, Some(false)] {
        let sent = client.send_sms_otp(phone()).await.unwrap();
        let signed = client
            .sign_in_with_otp(&sent, delivered_code(&sandbox, &sent), allow)
            .await
            .unwrap();
        assert!(signed.token.is_none(), "{allow:?}");
        assert!(client.elevated_tokens().is_empty());
        let err = client.register_totp_device().await.unwrap_err();
        assert_eq!(
            err,
            StepUpError::StepUpRequired {
                scope: TokenScope::CredentialLink
            }
        );
    }
}
