//! The client against the sandbox over real HTTP on 127.0.0.1: every verification method and
//! every failure the protocol defines. Time moves only when a test advances the shared clock.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use stepup_client::protocol::headers::X_DYN_ELEVATED_ACCESS_TOKEN;
use stepup_client::protocol::jwt::{sign_es256, ElevatedTokenClaims};
use stepup_client::{
    choose_method, CredentialFormat, CredentialMethod, PhoneNumber, Secret, StepUpCredentialExt,
    StepUpError, TokenScope, TokenVault, Verification,
};
use stepup_sandbox::SandboxConfig;

const EXPORT: TokenScope = TokenScope::WalletExport;

async fn totp_step_up(w: &World, scope: TokenScope) {
    let v = Verification::Totp {
        device_id: w.user.totp_device_id.clone(),
        code: w.totp_now(),
    };
    let outcome = w
        .client
        .verify(v, std::slice::from_ref(&scope))
        .await
        .expect("TOTP step-up");
    let token = outcome.token.expect("a token");
    assert!(token.scopes.contains(&scope));
}

#[tokio::test]
async fn mfa_user_is_offered_only_mfa_and_the_default_device_is_chosen() {
    let w = world(mfa_user("mfa@example.com")).await;
    let check = w.client.check_step_up(EXPORT).await;
    assert!(check.is_required);
    assert!(!check.credentials.is_empty());
    assert!(
        check.credentials.iter().all(|c| c.method().is_mfa()),
        "{:?}",
        check.credentials
    );
    let chosen = choose_method(&check).expect("a method");
    assert_eq!(Some(chosen.id.clone()), w.user.totp_device_id);
    assert_eq!(chosen.method(), CredentialMethod::Totp);
}

#[tokio::test]
async fn reauth_user_defaults_to_the_sign_in_email() {
    let w = world(reauth_user("reauth@example.com")).await;
    let check = w.client.check_step_up(TokenScope::CredentialLink).await;
    assert!(check.is_required);
    let formats: Vec<_> = check.credentials.iter().map(|c| c.format.clone()).collect();
    assert!(formats.contains(&CredentialFormat::Email));
    assert!(formats.contains(&CredentialFormat::PhoneNumber));
    let chosen = choose_method(&check).expect("a method");
    assert_eq!(
        chosen.format,
        CredentialFormat::Email,
        "signed in by email, so email is the default"
    );
    assert!(
        !chosen.alias.clone().unwrap_or_default().contains("reauth@"),
        "the alias is masked"
    );
}

#[tokio::test]
async fn totp_step_up_then_export_uses_the_single_use_token_once() {
    let w = world(mfa_user("export@example.com")).await;
    totp_step_up(&w, EXPORT).await;
    assert!(w.client.has_elevated_access_token(&EXPORT));
    let status = w.client.elevated_tokens();
    assert_eq!(status.len(), 1);
    assert!(status[0].single_use, "wallet scopes are single-use");

    let exported = w
        .client
        .export_wallet_private_key(&w.wallet_id())
        .await
        .expect("export");
    assert!(exported.private_key.expose().starts_with("0x"));
    assert!(
        !w.client.has_elevated_access_token(&EXPORT),
        "consumed by its first use"
    );
    assert!(
        w.vault.load().expect("vault").tokens.is_empty(),
        "and removed from the vault"
    );

    let again = w.client.export_wallet_private_key(&w.wallet_id()).await;
    assert_eq!(
        again.err(),
        Some(StepUpError::StepUpRequired { scope: EXPORT })
    );
}

#[tokio::test]
async fn a_single_use_token_is_accepted_once_by_the_server() {
    let w = world(mfa_user("replay@example.com")).await;
    totp_step_up(&w, EXPORT).await;
    // Keep a copy of the raw token, as an attacker who read it off the wire would.
    let raw = w.vault.load().expect("vault").tokens[0].token.clone();
    w.client
        .export_wallet_private_key(&w.wallet_id())
        .await
        .expect("first use");

    // The session's own key too: the refusal must be the token's, not the session's.
    let (session, key) = stored(&w.vault);
    let url = format!(
        "{}/sdk/{}/waas/{}/privateKey/export",
        w.sandbox.base_url(),
        w.sandbox.environment_id(),
        w.wallet_id()
    );
    let replay = reqwest::Client::new()
        .post(url)
        .bearer_auth(&session)
        .header("x-dyn-session-public-key", &key)
        .header(X_DYN_ELEVATED_ACCESS_TOKEN, raw.expose())
        .json(&serde_json::json!({"exportId": "replayed"}))
        .send()
        .await
        .expect("reply");
    assert_eq!(replay.status(), 403);
    let body: serde_json::Value = replay.json().await.expect("json");
    assert_eq!(body["code"], "step_up_required");
}

#[tokio::test]
async fn check_answers_locally_while_a_token_is_valid() {
    let w = world(mfa_user("fast@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let World {
        sandbox,
        client,
        clock,
        ..
    } = w;
    sandbox.shutdown().await;
    // The server is gone: only the local fast path can say "not required".
    let check = client.check_step_up(TokenScope::CredentialLink).await;
    assert!(!check.is_required);
    assert!(check.credentials.is_empty());
    // Another scope is not covered, and with no server the answer fails closed.
    assert!(client.check_step_up(EXPORT).await.is_required);
    clock.advance_secs(601);
    assert!(
        client
            .check_step_up(TokenScope::CredentialLink)
            .await
            .is_required,
        "expired after 600 s"
    );
}

#[tokio::test]
async fn an_expired_token_is_never_attached() {
    let w = world(mfa_user("expired@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialUnlink).await;
    let device = w.user.totp_device_id.clone().expect("device");
    w.clock.advance_secs(600);
    assert!(!w
        .client
        .has_elevated_access_token(&TokenScope::CredentialUnlink));
    let result = w.client.delete_mfa_device(&device).await;
    assert_eq!(
        result.err(),
        Some(StepUpError::StepUpRequired {
            scope: TokenScope::CredentialUnlink
        })
    );
    assert!(w.client.elevated_tokens().is_empty());
    assert!(
        w.vault.load().expect("vault").tokens.is_empty(),
        "pruned from the vault too"
    );
    assert_eq!(
        w.client.mfa_devices().await.expect("devices").len(),
        1,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn a_time_bound_token_authorises_its_scope_until_it_expires() {
    let w = world(mfa_user("unlink@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let first = w
        .client
        .register_totp_device()
        .await
        .expect("register with credential:link");
    assert_eq!(first.kind, "totp");
    w.clock.advance_secs(300);
    w.client
        .register_totp_device()
        .await
        .expect("still valid after 300 s (time-bound, 600 s)");
    assert!(w
        .client
        .has_elevated_access_token(&TokenScope::CredentialLink));
}

#[tokio::test]
async fn a_totp_code_is_accepted_once() {
    let w = world(mfa_user("totp-replay@example.com")).await;
    let code = w.totp_now();
    let v = || Verification::Totp {
        device_id: None,
        code: code.clone(),
    };
    w.client.verify(v(), &[EXPORT]).await.expect("first use");
    assert!(matches!(
        w.client.verify(v(), &[EXPORT]).await.err(),
        Some(StepUpError::InvalidOtp { .. })
    ));
    w.clock.advance_secs(30);
    w.client
        .verify(
            Verification::Totp {
                device_id: None,
                code: w.totp_now(),
            },
            &[EXPORT],
        )
        .await
        .expect("next step");
}

#[tokio::test]
async fn wrong_totp_codes_are_rate_limited_until_the_window_passes() {
    let w = world(mfa_user("ratelimit@example.com")).await;
    let bad = wrong(&w.totp_now());
    for left in (0..5).rev() {
        let r = w
            .client
            .verify(
                Verification::Totp {
                    device_id: None,
                    code: bad.clone(),
                },
                &[EXPORT],
            )
            .await;
        // Each wrong code says how many are left before the limit.
        assert_eq!(
            r.err(),
            Some(StepUpError::InvalidOtp {
                remaining_attempts: Some(left)
            })
        );
    }
    let good = Verification::Totp {
        device_id: None,
        code: w.totp_now(),
    };
    assert_eq!(
        w.client.verify(good, &[EXPORT]).await.err(),
        Some(StepUpError::RateLimited),
        "even a right code"
    );
    w.clock.advance_secs(15 * 60 + 30);
    w.client
        .verify(
            Verification::Totp {
                device_id: None,
                code: w.totp_now(),
            },
            &[EXPORT],
        )
        .await
        .expect("after the window");
}

#[tokio::test]
async fn email_otp_step_up_wrong_code_counts_down_then_succeeds() {
    let w = world(reauth_user("email@example.com")).await;
    let sent = w.client.send_email_otp(&w.user.email).await.expect("send");
    let code = delivered_code(&w.sandbox, &sent);
    let wrong_try = Verification::EmailOtp {
        verification: sent.clone(),
        code: wrong(&code),
    };
    assert_eq!(
        w.client
            .verify(wrong_try, &[TokenScope::CredentialLink])
            .await
            .err(),
        Some(StepUpError::WrongCode {
            remaining_attempts: Some(4)
        })
    );
    let session_before = w
        .vault
        .load()
        .expect("vault")
        .session
        .expect("session")
        .token;
    let outcome = w
        .client
        .verify(
            Verification::EmailOtp {
                verification: sent,
                code,
            },
            &[TokenScope::CredentialLink],
        )
        .await
        .expect("right code");
    assert!(!outcome.token.expect("token").single_use);
    let session_after = w
        .vault
        .load()
        .expect("vault")
        .session
        .expect("session")
        .token;
    assert_ne!(
        session_before, session_after,
        "every verification rotates the session"
    );
    w.client
        .register_totp_device()
        .await
        .expect("credential:link attached");
}

#[tokio::test]
async fn email_otp_expires_after_ten_minutes() {
    let w = world(reauth_user("late@example.com")).await;
    let sent = w.client.send_email_otp(&w.user.email).await.expect("send");
    let code = delivered_code(&w.sandbox, &sent);
    w.clock.advance_secs(10 * 60 + 1);
    let r = w
        .client
        .verify(
            Verification::EmailOtp {
                verification: sent,
                code,
            },
            &[TokenScope::CredentialLink],
        )
        .await;
    assert_eq!(r.err(), Some(StepUpError::VerificationExpired));
    assert!(!w
        .client
        .has_elevated_access_token(&TokenScope::CredentialLink));
}

#[tokio::test]
async fn five_wrong_email_codes_kill_the_verification() {
    let w = world(reauth_user("limit@example.com")).await;
    let sent = w.client.send_email_otp(&w.user.email).await.expect("send");
    let code = delivered_code(&w.sandbox, &sent);
    let mut errors = Vec::new();
    for _ in 0..5 {
        let v = Verification::EmailOtp {
            verification: sent.clone(),
            code: wrong(&code),
        };
        errors.push(
            w.client
                .verify(v, &[TokenScope::CredentialLink])
                .await
                .err(),
        );
    }
    assert_eq!(
        errors[3],
        Some(StepUpError::WrongCode {
            remaining_attempts: Some(1)
        })
    );
    assert_eq!(errors[4], Some(StepUpError::TooManyAttempts));
    let late = w
        .client
        .verify(
            Verification::EmailOtp {
                verification: sent,
                code,
            },
            &[TokenScope::CredentialLink],
        )
        .await;
    assert!(
        matches!(
            late,
            Err(StepUpError::TooManyAttempts | StepUpError::VerificationExpired)
        ),
        "the right code is refused once the verification is dead: {late:?}"
    );
}

#[tokio::test]
async fn sms_otp_step_up_succeeds() {
    let w = world(reauth_user("sms@example.com")).await;
    let phone = PhoneNumber {
        country_code: "1".into(),
        iso_country_code: "US".into(),
        number: "5550123".into(),
    };
    let sent = w.client.send_sms_otp(phone).await.expect("send sms");
    let code = delivered_code(&w.sandbox, &sent);
    let outcome = w
        .client
        .verify(
            Verification::SmsOtp {
                verification: sent,
                code,
            },
            &[TokenScope::CredentialLink],
        )
        .await
        .expect("sms step-up");
    assert!(outcome.token.is_some());
}

#[tokio::test]
async fn an_mfa_user_cannot_step_up_with_email() {
    let w = world(mfa_user("mfa-email@example.com")).await;
    let sent = w.client.send_email_otp(&w.user.email).await.expect("send");
    let code = delivered_code(&w.sandbox, &sent);
    let r = w
        .client
        .verify(
            Verification::EmailOtp {
                verification: sent,
                code,
            },
            &[EXPORT],
        )
        .await;
    assert_eq!(r.err(), Some(StepUpError::InvalidScopes));
    assert!(!w.client.has_elevated_access_token(&EXPORT));
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let w = world(mfa_user("recovery@example.com")).await;
    let code = w.user.recovery_codes[0].clone();
    w.client
        .verify(
            Verification::RecoveryCode { code: code.clone() },
            &[TokenScope::CredentialUnlink],
        )
        .await
        .expect("first use");
    let again = w
        .client
        .verify(
            Verification::RecoveryCode { code },
            &[TokenScope::CredentialUnlink],
        )
        .await;
    assert!(matches!(again.err(), Some(StepUpError::InvalidOtp { .. })));
    let device = w.user.totp_device_id.clone().expect("device");
    w.client
        .delete_mfa_device(&device)
        .await
        .expect("credential:unlink attached");
    assert!(w.client.mfa_devices().await.expect("devices").is_empty());
}

#[tokio::test]
async fn an_external_assertion_is_exchanged_once() {
    let key = p256::ecdsa::SigningKey::from_slice(&[42u8; 32]).expect("key");
    let config = SandboxConfig {
        external_auth_key: Some(*key.verifying_key()),
        ..Default::default()
    };
    let w = world_with(config, reauth_user("byoa@example.com")).await;
    let now = w.clock_now_secs();
    let claims = ElevatedTokenClaims {
        sub: w.user.user_id.clone(),
        scope: "credential:link".into(),
        exp: now + 120,
        iat: now,
        jti: "assertion-1".into(),
        single_use: None,
    };
    let jwt = Secret::new(sign_es256(&key, None, &claims).expect("sign"));
    let session_before = w
        .vault
        .load()
        .expect("vault")
        .session
        .expect("session")
        .token;
    let outcome = w
        .client
        .verify(Verification::ExternalJwt { jwt: jwt.clone() }, &[])
        .await
        .expect("exchange");
    assert!(
        outcome.user.is_none(),
        "external auth does not rotate the session"
    );
    assert_eq!(
        w.vault
            .load()
            .expect("vault")
            .session
            .expect("session")
            .token,
        session_before
    );
    assert!(w
        .client
        .has_elevated_access_token(&TokenScope::CredentialLink));
    let replay = w
        .client
        .verify(Verification::ExternalJwt { jwt }, &[])
        .await;
    assert_eq!(replay.err(), Some(StepUpError::InvalidExternalAuth));

    let other = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("key");
    let forged = Secret::new(
        sign_es256(
            &other,
            None,
            &ElevatedTokenClaims {
                jti: "assertion-2".into(),
                ..claims
            },
        )
        .expect("sign"),
    );
    assert_eq!(
        w.client
            .verify(Verification::ExternalJwt { jwt: forged }, &[])
            .await
            .err(),
        Some(StepUpError::InvalidExternalAuth)
    );
}

#[tokio::test]
async fn unknown_scopes_are_refused_before_the_code_is_spent() {
    let w = world(mfa_user("scopes@example.com")).await;
    let code = w.totp_now();
    let odd = TokenScope::Unknown("wallet:teleport".into());
    let r = w
        .client
        .verify(
            Verification::Totp {
                device_id: None,
                code: code.clone(),
            },
            std::slice::from_ref(&odd),
        )
        .await;
    assert_eq!(r.err(), Some(StepUpError::InvalidScopes));
    assert!(w.client.check_step_up(odd).await.is_required);
    w.client
        .verify(
            Verification::Totp {
                device_id: None,
                code,
            },
            &[EXPORT],
        )
        .await
        .expect("the code was not spent");
}

#[tokio::test]
async fn a_rejected_call_steps_up_once_and_retries_once() {
    let w = world(mfa_user("retry@example.com")).await;
    let verifications = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    let wallet = w.wallet_id();
    let exported = w
        .client
        .retry_after_step_up(
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                w.client.export_wallet_private_key(&wallet)
            },
            |scope| {
                verifications.fetch_add(1, Ordering::SeqCst);
                let v = Verification::Totp {
                    device_id: None,
                    code: w.totp_now(),
                };
                let client = w.client.clone();
                async move { client.verify(v, &[scope]).await.map(|_| ()) }
            },
        )
        .await
        .expect("export after step-up");
    assert!(exported.private_key.expose().starts_with("0x"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(verifications.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_step_up_is_not_retried() {
    let w = world(mfa_user("noretry@example.com")).await;
    let calls = AtomicUsize::new(0);
    let wallet = w.wallet_id();
    let bad = wrong(&w.totp_now());
    let r = w
        .client
        .retry_after_step_up(
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                w.client.export_wallet_private_key(&wallet)
            },
            |scope| {
                let client = w.client.clone();
                async move {
                    client
                        .verify(
                            Verification::Totp {
                                device_id: None,
                                code: bad,
                            },
                            &[scope],
                        )
                        .await
                        .map(|_| ())
                }
            },
        )
        .await;
    assert!(matches!(r.err(), Some(StepUpError::InvalidOtp { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_exports_use_one_single_use_token_once() {
    let w = world(mfa_user("race@example.com")).await;
    totp_step_up(&w, EXPORT).await;
    let wallet = w.wallet_id();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = w.client.clone();
            let wallet = wallet.clone();
            tokio::spawn(async move { client.export_wallet_private_key(&wallet).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e, StepUpError::StepUpRequired { scope: EXPORT }),
        }
    }
    assert_eq!(ok, 1, "exactly one export carried the token");
}

#[tokio::test]
async fn logout_removes_every_token_and_ends_the_session() {
    let w = world(mfa_user("logout@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let (session, key) = stored(&w.vault);
    w.client.logout().await.expect("logout");
    let snapshot = w.vault.load().expect("vault");
    assert!(
        snapshot.session.is_none() && snapshot.tokens.is_empty() && snapshot.device_key.is_none()
    );
    assert!(!w
        .client
        .has_elevated_access_token(&TokenScope::CredentialLink));
    assert!(
        w.client
            .check_step_up(TokenScope::CredentialLink)
            .await
            .is_required
    );
    let url = format!(
        "{}/sdk/{}/users",
        w.sandbox.base_url(),
        w.sandbox.environment_id()
    );
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(&session)
        .header("x-dyn-session-public-key", &key)
        .send()
        .await
        .expect("reply");
    assert_eq!(r.status(), 401, "the old session is revoked on the server");
}

#[tokio::test]
async fn device_signatures_satisfy_a_strict_sandbox() {
    let config = SandboxConfig {
        require_device_signature: true,
        ..Default::default()
    };
    let w = world_with(config, reauth_user("device@example.com")).await;
    assert!(
        w.client.is_signed_in(),
        "email sign-in carried a valid device nonce signature"
    );
    assert!(
        w.vault.load().expect("vault").device_key.is_some(),
        "the device key is kept in the vault"
    );
    let sent = w.client.send_email_otp(&w.user.email).await.expect("send");
    let code = delivered_code(&w.sandbox, &sent);
    w.client
        .verify(
            Verification::EmailOtp {
                verification: sent,
                code,
            },
            &[TokenScope::CredentialLink],
        )
        .await
        .expect("emailVerifications/verify is device-signed too");
}

#[tokio::test]
async fn the_client_survives_a_restart_from_its_vault() {
    let w = world(mfa_user("restart@example.com")).await;
    totp_step_up(&w, TokenScope::CredentialLink).await;
    let reopened = client_for(&w.sandbox, &w.clock, w.vault.clone()).await;
    assert!(reopened.is_signed_in());
    assert!(reopened.has_elevated_access_token(&TokenScope::CredentialLink));
    reopened
        .register_totp_device()
        .await
        .expect("the restored token is attached");
}

trait ClockNow {
    fn clock_now_secs(&self) -> i64;
}
impl ClockNow for World {
    fn clock_now_secs(&self) -> i64 {
        use stepup_client::Clock;
        self.clock.now_secs()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Arc<stepup_client::StepUpClient>>();
}

#[tokio::test]
async fn refresh_rotates_the_session_and_the_old_one_dies() {
    let w = world(reauth_user("refresh@example.com")).await;
    let before = w.vault.load().expect("vault").session.expect("session");
    let user = w.client.refresh().await.expect("refresh");
    let after = w.vault.load().expect("vault").session.expect("session");
    assert_ne!(before.token, after.token, "a new session JWT");
    assert_ne!(before.user.session_id, user.session_id, "a new session id");
    let url = format!(
        "{}/sdk/{}/users",
        w.sandbox.base_url(),
        w.sandbox.environment_id()
    );
    // Both with the session's key (the session is bound to it): only rotation decides.
    let key = public_hex(after.session_key.as_ref().expect("a session key").expose());
    let old = reqwest::Client::new()
        .get(&url)
        .bearer_auth(before.token.expose())
        .header("x-dyn-session-public-key", &key)
        .send()
        .await
        .expect("reply");
    assert_eq!(old.status(), 401, "the rotated-out session is refused");
    let new = reqwest::Client::new()
        .get(&url)
        .bearer_auth(after.token.expose())
        .header("x-dyn-session-public-key", &key)
        .send()
        .await
        .expect("reply");
    assert_eq!(new.status(), 200);
}
