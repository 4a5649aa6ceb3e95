//! `unlinkSocialAccount` (`POST verify/unlink {verifiedCredentialId, walletId?}` behind
//! `credential:unlink`), client against sandbox over HTTP: the account is gone and no longer
//! offered; refused without a token, with another scope's, for another user's credential,
//! for a credential that is not a social account, for an embedded wallet hint, and with a
//! spent single-use token, none of the refusals before the token spending it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use serde_json::json;
use stepup_client::{CredentialFormat, StepUpError, TokenScope, TokenVault as _, Verification};
use stepup_sandbox::{SandboxConfig, TokenPolicy, UserSpec};

const UNLINK: TokenScope = TokenScope::CredentialUnlink;

fn social_user(email: &str) -> UserSpec {
    UserSpec {
        email: email.into(),
        wallet: true,
        social: vec!["google".into(), "github".into()],
        ..Default::default()
    }
}

/// A single-use `credential:unlink` policy.
fn single_use_unlink() -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.token_policies.insert(
        UNLINK.as_str().to_owned(),
        TokenPolicy {
            single_use: true,
            ttl_secs: 600,
            required: true,
        },
    );
    config
}

/// An email-OTP step-up of `w`'s user for `scope` (a user without MFA).
async fn email_step_up(w: &World, scope: TokenScope) {
    let sent = w.client.send_email_otp(&w.user.email).await.unwrap();
    let v = Verification::EmailOtp {
        code: delivered_code(&w.sandbox, &sent),
        verification: sent,
    };
    w.client.verify(v, &[scope]).await.expect("email step-up");
}

fn oauth_ids(w: &World) -> Vec<String> {
    w.client
        .current_user()
        .unwrap()
        .verified_credentials
        .into_iter()
        .filter(|c| c.format == CredentialFormat::Oauth)
        .map(|c| c.id)
        .collect()
}

fn invalid_unlink(err: &StepUpError) -> bool {
    matches!(err, StepUpError::Api { code, status: 422, .. } if code == "invalid_unlink_request")
}

#[tokio::test]
async fn an_unlinked_account_is_gone_and_no_longer_offered() {
    let w = world(social_user("unlink@example.com")).await;
    let google = w.user.social_accounts[0].credential_id.clone();
    let check = w.client.check_step_up(TokenScope::WalletExport).await;
    assert!(
        check.credentials.iter().any(|c| c.id == google),
        "offered before"
    );

    let err = w
        .client
        .unlink_social_account(&google, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StepUpError::StepUpRequired { scope: UNLINK },
        "no token"
    );
    assert_eq!(oauth_ids(&w).len(), 2);

    email_step_up(&w, UNLINK).await;
    let before = stored(&w.vault).0;
    let user = w.client.unlink_social_account(&google, None).await.unwrap();
    assert!(user.verified_credentials.iter().all(|c| c.id != google));
    assert_eq!(
        oauth_ids(&w),
        [w.user.social_accounts[1].credential_id.clone()]
    );
    assert_ne!(stored(&w.vault).0, before, "the session rotated");
    let check = w.client.check_step_up(TokenScope::WalletExport).await;
    assert!(
        check.credentials.iter().all(|c| c.id != google),
        "not offered after"
    );
    // The same id again: not the user's credential any more.
    let err = w
        .client
        .unlink_social_account(&google, None)
        .await
        .unwrap_err();
    assert!(invalid_unlink(&err), "{err:?}");
}

#[tokio::test]
async fn a_token_of_another_scope_is_refused() {
    let w = world(social_user("scope@example.com")).await;
    email_step_up(&w, TokenScope::CredentialLink).await;
    let link = w.vault.load().unwrap().tokens[0].token.expose().to_owned();
    let (session, key) = stored(&w.vault);
    let google = &w.user.social_accounts[0].credential_id;
    let (status, body) = raw(
        &w.sandbox,
        reqwest::Method::POST,
        "verify/unlink",
        Some(&session),
        Some(&key),
        &[("x-dyn-elevated-access-token", link.as_str())],
        Some(json!({ "verifiedCredentialId": google })),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("step_up_required"))
    );
    assert_eq!(body["payload"]["scope"], "credential:unlink");
    // The client does not even send a credential:link token here.
    let err = w
        .client
        .unlink_social_account(google, None)
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::StepUpRequired { scope: UNLINK });
    assert_eq!(oauth_ids(&w).len(), 2);
}

#[tokio::test]
async fn another_users_credential_is_refused_and_spends_nothing() {
    let w = world_with(single_use_unlink(), social_user("owner@example.com")).await;
    let owners_google = w.user.social_accounts[0].credential_id.clone();

    let (intruder, vault, other) = another_user(&w, social_user("intruder@example.com")).await;
    let sent = intruder.send_email_otp(&other.email).await.unwrap();
    let v = Verification::EmailOtp {
        code: delivered_code(&w.sandbox, &sent),
        verification: sent,
    };
    intruder.verify(v, &[UNLINK]).await.unwrap();
    let held = vault.load().unwrap().tokens;

    let err = intruder
        .unlink_social_account(&owners_google, None)
        .await
        .unwrap_err();
    assert!(invalid_unlink(&err), "{err:?}");
    let owner = w.client.refresh().await.unwrap();
    assert!(owner
        .verified_credentials
        .iter()
        .any(|c| c.id == owners_google));

    // The single-use token left the intruder's client with the call, but the sandbox did not
    // spend it: put back, it unlinks the intruder's own account.
    for token in held {
        vault.put_token(&token).unwrap();
    }
    let again = client_for(&w.sandbox, &w.clock, vault).await;
    again
        .unlink_social_account(&other.social_accounts[0].credential_id, None)
        .await
        .expect("the refused call spent nothing");
}

#[tokio::test]
async fn a_spent_single_use_token_unlinks_nothing_more() {
    let w = world_with(single_use_unlink(), social_user("spent@example.com")).await;
    email_step_up(&w, UNLINK).await;
    let token = w.vault.load().unwrap().tokens[0].token.expose().to_owned();
    let [google, github] = [0, 1].map(|i| w.user.social_accounts[i].credential_id.clone());
    w.client.unlink_social_account(&google, None).await.unwrap();
    assert!(
        !w.client.has_elevated_access_token(&UNLINK),
        "consumed by the client"
    );

    // The same token again, sent by hand: the sandbox has spent its jti.
    let (session, key) = stored(&w.vault);
    let (status, body) = raw(
        &w.sandbox,
        reqwest::Method::POST,
        "verify/unlink",
        Some(&session),
        Some(&key),
        &[("x-dyn-elevated-access-token", token.as_str())],
        Some(json!({ "verifiedCredentialId": github })),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("step_up_required"))
    );
    assert_eq!(oauth_ids(&w), std::slice::from_ref(&github));
    let err = w
        .client
        .unlink_social_account(&github, None)
        .await
        .unwrap_err();
    assert_eq!(err, StepUpError::StepUpRequired { scope: UNLINK });
}

#[tokio::test]
async fn only_social_accounts_unlink_and_an_embedded_wallet_hint_is_refused() {
    let w = world_with(single_use_unlink(), social_user("kinds@example.com")).await;
    email_step_up(&w, UNLINK).await;
    let user = w.client.current_user().unwrap();
    let of = |format: CredentialFormat| {
        user.verified_credentials
            .iter()
            .find(|c| c.format == format)
            .map(|c| c.id.clone())
            .unwrap()
    };
    let (email, embedded) = (
        of(CredentialFormat::Email),
        of(CredentialFormat::Blockchain),
    );
    let google = w.user.social_accounts[0].credential_id.clone();
    let held = w.vault.load().unwrap().tokens;
    for (id, wallet) in [
        (email.as_str(), None),
        (embedded.as_str(), None),
        (google.as_str(), Some(embedded.as_str())),
        (
            google.as_str(),
            Some("00000000-0000-4000-8000-000000000000"),
        ),
    ] {
        let err = w
            .client
            .unlink_social_account(id, wallet)
            .await
            .unwrap_err();
        assert!(invalid_unlink(&err), "{id} {wallet:?}: {err:?}");
    }
    assert_eq!(oauth_ids(&w).len(), 2, "nothing unlinked");
    // The first attempt took the single-use token with it; every refusal came before the
    // sandbox looked at it, so it is unspent: put back, it unlinks the account.
    for token in held {
        w.vault.put_token(&token).unwrap();
    }
    let again = client_for(&w.sandbox, &w.clock, w.vault.clone()).await;
    again
        .unlink_social_account(&google, None)
        .await
        .expect("nothing was spent");
    // Bad ids never leave the client.
    assert!(matches!(
        w.client.unlink_social_account("a/b", None).await,
        Err(StepUpError::InvalidInput(_))
    ));
}
