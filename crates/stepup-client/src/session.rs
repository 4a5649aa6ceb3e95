//! The session: email-OTP sign-in (`verify/email_otp.rs` sends the code), refresh, logout,
//! and `apply_verify_response`, the one place a `VerifyResponse` changes the client's state.

use crate::client::{Inner, StepUpClient};
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::tokens::{covers_all, parse_elevated_token, TokenStatus};
use crate::vault::SessionRecord;
use crate::verify::{validate_otp_code, OtpChannel, OtpVerification};
use stepup_protocol::headers::{LogoutReason, X_DYN_LOGOUT_REASON};
use stepup_protocol::{OtpSignInRequest, SdkUser, Secret, TokenScope, VerifyResponse};

impl Inner {
    /// Applies a `VerifyResponse` (C:`updateAuthFromVerifyResponse`): rotates the session, then
    /// stores the elevated token.
    ///
    /// - The session **rotates** to `minifiedJwt` / `jwt` / `expiresAt` / `user`. Deliberate
    ///   deviation from the SDK (§10.4): a response without `minifiedJwt` keeps the current
    ///   session token instead of nulling it (with no current session, `jwt` is used; with
    ///   neither, the response is invalid).
    /// - The elevated token is parsed (§3.8): malformed → [`StepUpError::InvalidElevatedToken`];
    ///   expired or scope-less → dropped. When `requested` is not empty and no stored token
    ///   covers all of it → [`StepUpError::InvalidElevatedToken`]. The session is rotated
    ///   before either error, because the server has already rotated it.
    pub(crate) async fn apply_verify_response(
        &self,
        resp: VerifyResponse,
        requested: &[TokenScope],
    ) -> Result<Option<TokenStatus>, StepUpError> {
        let current = self.store.session();
        let token = resp
            .minified_jwt
            .clone()
            .or_else(|| current.as_ref().map(|s| s.token.clone()))
            .or_else(|| resp.jwt.clone())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                StepUpError::InvalidResponse("the answer carries no session token".into())
            })?;
        let legacy_token = resp
            .jwt
            .clone()
            .or_else(|| current.and_then(|s| s.legacy_token));
        let session = SessionRecord {
            token,
            legacy_token,
            expires_at: resp.expires_at,
            user: resp.user,
            // The key this client sent: the session is bound to it from its sign-in on.
            session_key: Some(self.session_key.secret()),
        };
        let saved = self.store.save_session(session).await;
        let stored = match &resp.elevated_access_token {
            Some(raw) => self.store_elevated_token(raw, requested).await,
            None if requested.is_empty() => Ok(None),
            None => Err(StepUpError::InvalidElevatedToken),
        };
        saved?;
        stored
    }

    /// Parses and stores one elevated token; checks that it covers `requested`.
    pub(crate) async fn store_elevated_token(
        &self,
        raw: &Secret,
        requested: &[TokenScope],
    ) -> Result<Option<TokenStatus>, StepUpError> {
        match parse_elevated_token(raw, self.now_ms())? {
            Some(token) if covers_all(&token, requested) => {
                let status = TokenStatus::from(&token);
                self.store.upsert(token).await?;
                Ok(Some(status))
            }
            // A token for other scopes than asked is not stored: it is not what the user approved.
            Some(_) => Err(StepUpError::InvalidElevatedToken),
            None if requested.is_empty() => Ok(None),
            None => Err(StepUpError::InvalidElevatedToken),
        }
    }
}

/// What a sign-in with a code ended in.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The signed-in user.
    pub user: SdkUser,
    /// The `credential:link` token the server gave for `allowNewMFALinking`, if any.
    pub token: Option<TokenStatus>,
}

impl StepUpClient {
    /// Signs in with the emailed code (`POST emailVerifications/signin`, device-signed).
    pub async fn sign_in_with_email_otp(
        &self,
        verification: &OtpVerification,
        code: Secret,
    ) -> Result<SdkUser, StepUpError> {
        if !matches!(verification.channel, OtpChannel::Email(_)) {
            return Err(StepUpError::InvalidInput(
                "this verification was not sent by email".into(),
            ));
        }
        Ok(self.sign_in_with_otp(verification, code, None).await?.user)
    }

    /// Signs in with the texted code (`POST smsVerifications/signin`, device-signed).
    pub async fn sign_in_with_sms_otp(
        &self,
        verification: &OtpVerification,
        code: Secret,
    ) -> Result<SdkUser, StepUpError> {
        if !matches!(verification.channel, OtpChannel::Sms(_)) {
            return Err(StepUpError::InvalidInput(
                "this verification was not sent by SMS".into(),
            ));
        }
        Ok(self.sign_in_with_otp(verification, code, None).await?.user)
    }

    /// Signs in with an emailed or texted code, as the SDK's `verifyOTP` does when no one is
    /// signed in (C:`verifyOTPForUserSignIn`): `POST emailVerifications/signin` or
    /// `smsVerifications/signin` by the channel the code went to, body `{verificationUUID,
    /// verificationToken, allowNewMFALinking?}` (the key only when given, `false` included).
    ///
    /// `allow_new_mfa_linking: Some(true)` asks the server for a `credential:link` token when
    /// MFA is optional and the user has no MFA method, to enrol one; it is stored and returned.
    /// A token for any other scopes is refused ([`StepUpError::InvalidElevatedToken`], the
    /// session kept), and a token the sign-in did not ask for is not stored.
    pub async fn sign_in_with_otp(
        &self,
        verification: &OtpVerification,
        code: Secret,
        allow_new_mfa_linking: Option<bool>,
    ) -> Result<SignIn, StepUpError> {
        let code = validate_otp_code(&code)?;
        let path = match verification.channel {
            OtpChannel::Email(_) => "emailVerifications/signin",
            OtpChannel::Sms(_) => "smsVerifications/signin",
        };
        let body = OtpSignInRequest {
            verification_uuid: verification.verification_uuid.clone(),
            verification_token: code,
            allow_new_mfa_linking,
        };
        let req = ApiRequest::post(path).json(&body)?;
        let mut resp: VerifyResponse = self.inner.send_json(req).await?;
        let user = resp.user.clone();
        if allow_new_mfa_linking != Some(true) {
            resp.elevated_access_token = None;
        }
        let token = self.inner.apply_verify_response(resp, &[]).await?;
        if let Some(status) = &token {
            if status.scopes != [TokenScope::CredentialLink] {
                self.inner.store.revoke(Some(&status.scopes)).await?;
                return Err(StepUpError::InvalidElevatedToken);
            }
        }
        Ok(SignIn { user, token })
    }

    /// Renews the session (`POST refresh`, no body, device-signed).
    pub async fn refresh(&self) -> Result<SdkUser, StepUpError> {
        self.inner.require_session()?;
        let resp: VerifyResponse = self.inner.send_json(ApiRequest::post("refresh")).await?;
        let user = resp.user.clone();
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(user)
    }

    /// Signs out because the user asked to (the SDK's `logout`: reason `user-intent`, or
    /// `token-expired` for a session already past its expiry). See
    /// [`StepUpClient::logout_with_reason`].
    pub async fn logout(&self) -> Result<(), StepUpError> {
        let reason = if self.inner.store.session().is_some() && !self.is_signed_in() {
            LogoutReason::TokenExpired
        } else {
            LogoutReason::UserIntent
        };
        self.logout_with_reason(reason).await
    }

    /// Signs out (the SDK's `logoutWithReason`): revokes the session on the server (best
    /// effort; `POST revoke` with `x-dyn-logout-reason: <reason>`), then forgets the session,
    /// every elevated token and the device key, locally and in the vault, even when the
    /// network fails, and takes a new session key. Only a vault failure is returned.
    pub async fn logout_with_reason(&self, reason: LogoutReason) -> Result<(), StepUpError> {
        if self.inner.store.session().is_some() {
            let req = ApiRequest::post("revoke").header(X_DYN_LOGOUT_REASON, reason.as_str());
            if let Err(e) = self.inner.send(req).await {
                tracing::info!(
                    error_code = e.code(),
                    "session revoke failed; signing out locally anyway"
                );
            }
        }
        self.inner.sign_out_locally().await
    }
}

#[cfg(test)]
mod tests {
    use crate::error::StepUpError;
    use crate::test_server::{
        assert_device_signed, client, nonces, otp, verify_response, Reply, TestServer, ENV, EXP,
    };
    use crate::tokens::test_tokens::make;
    use crate::vault::TokenVault;
    use crate::verify::{OtpChannel, Verification};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use stepup_protocol::{Secret, TokenScope};

    #[tokio::test]
    async fn email_sign_in_signs_a_device_nonce_and_starts_a_session() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "nonces" => nonces(),
            "emailVerifications/create" => Reply::json(
                200,
                json!({"verificationUUID": "v-1", "email": "a@example.com"}),
            ),
            "emailVerifications/signin" => {
                Reply::json(200, verify_response(Some("session-2"), None))
            }
            "users/mfa" => Reply::json(200, json!({"count": 0, "devices": []})),
            _ => Reply::raw(404, ""),
        })
        .await;
        let (client, vault) = client(&server, false).await;
        let sent = client.send_email_otp(" a@example.com ").await.unwrap();
        assert_eq!(sent.channel, OtpChannel::Email("a@example.com".into()));
        let user = client
            .sign_in_with_email_otp(&sent, " 123456 ".into())
            .await
            .unwrap();
        assert_eq!(user.id, "user-1");
        assert_eq!(client.current_user().map(|u| u.id), Some("user-1".into()));
        client.mfa_devices().await.unwrap();

        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            [
                "POST emailVerifications/create",
                "GET nonces",
                "POST emailVerifications/signin",
                "GET users/mfa"
            ]
        );
        assert_eq!(reqs[0].json(), json!({"email": "a@example.com"}));
        assert_eq!(reqs[0].header("authorization"), None);
        assert_eq!(reqs[1].query, "count=5");
        assert_eq!(
            reqs[2].json(),
            json!({"verificationUUID": "v-1", "verificationToken": "123456"})
        );
        assert_device_signed(&reqs[2]);
        assert_eq!(reqs[2].header("x-dynamic-device-nonce"), Some("n1"));
        assert_eq!(
            reqs[0].header("x-dynamic-device-nonce"),
            None,
            "create is not device-signed"
        );
        assert_eq!(reqs[3].header("authorization"), Some("Bearer session-2"));
        let stored = vault.load().unwrap();
        assert_eq!(
            stored.session.map(|s| s.token.expose().to_owned()),
            Some("session-2".into())
        );
        assert!(stored.device_key.is_some());
    }

    #[tokio::test]
    async fn otp_sign_in_takes_the_channels_path_and_sends_allow_new_mfa_linking_only_when_given() {
        let link = make("credential:link", EXP, Some(true));
        let server = TestServer::start(ENV, move |r| match r.path.as_str() {
            "nonces" => nonces(),
            "emailVerifications/signin" | "smsVerifications/signin" => {
                Reply::json(200, verify_response(Some("session-2"), Some(link.clone())))
            }
            _ => Reply::raw(404, ""),
        })
        .await;
        let (client, _) = client(&server, false).await;
        let sms = otp(false);
        let email = otp(true);
        let signed = client
            .sign_in_with_otp(&sms, "123456".into(), Some(true))
            .await
            .unwrap();
        assert_eq!(
            signed.token.map(|t| t.scopes),
            Some(vec![TokenScope::CredentialLink])
        );
        client.logout().await.unwrap();
        let signed = client
            .sign_in_with_otp(&email, "123456".into(), Some(false))
            .await
            .unwrap();
        assert!(
            signed.token.is_none(),
            "a token not asked for is not stored"
        );
        assert!(client.elevated_tokens().is_empty());
        client
            .sign_in_with_sms_otp(&sms, "123456".into())
            .await
            .unwrap();
        assert!(matches!(
            client.sign_in_with_sms_otp(&email, "123456".into()).await,
            Err(StepUpError::InvalidInput(_))
        ));
        let signins: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/signin"))
            .collect();
        assert_eq!(
            signins.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            [
                "smsVerifications/signin",
                "emailVerifications/signin",
                "smsVerifications/signin"
            ]
        );
        assert_eq!(signins[0].json()["allowNewMFALinking"], json!(true));
        assert_eq!(signins[1].json()["allowNewMFALinking"], json!(false));
        assert!(signins[2].json().get("allowNewMFALinking").is_none());
        for r in &signins {
            assert_device_signed(r);
            let key = r.header("x-dyn-session-public-key").unwrap();
            assert_eq!(key.len(), 66);
        }
        assert_ne!(
            signins[0].header("x-dyn-session-public-key"),
            signins[1].header("x-dyn-session-public-key"),
            "a new session key after the logout between them"
        );
    }

    #[tokio::test]
    async fn a_sign_in_token_for_other_scopes_is_refused_and_not_kept() {
        let export = make("wallet:export", EXP, None);
        let server = TestServer::start(ENV, move |r| match r.path.as_str() {
            "nonces" => nonces(),
            _ => Reply::json(
                200,
                verify_response(Some("session-2"), Some(export.clone())),
            ),
        })
        .await;
        let (client, _) = client(&server, false).await;
        assert_eq!(
            client
                .sign_in_with_otp(&otp(true), "123456".into(), Some(true))
                .await
                .unwrap_err(),
            StepUpError::InvalidElevatedToken
        );
        assert!(client.is_signed_in(), "the session is kept");
        assert!(client.elevated_tokens().is_empty());
    }

    #[tokio::test]
    async fn every_call_sends_the_session_public_key_and_a_sign_out_takes_a_new_one() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "revoke" => Reply::raw(204, ""),
            "nonces" => nonces(),
            "emailVerifications/signin" => {
                Reply::json(200, verify_response(Some("session-2"), None))
            }
            _ => Reply::json(200, json!({"count": 0, "devices": []})),
        })
        .await;
        let (client, vault) = client(&server, true).await;
        client.mfa_devices().await.unwrap();
        client.logout().await.unwrap();
        client
            .sign_in_with_email_otp(&otp(true), "123456".into())
            .await
            .unwrap();
        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            [
                "GET users/mfa",
                "POST revoke",
                "GET nonces",
                "POST emailVerifications/signin"
            ]
        );
        let key = |i: usize| reqs[i].header("x-dyn-session-public-key").unwrap();
        assert_eq!(key(0).len(), 66);
        assert_eq!(key(1), key(0), "the session's key until it ends");
        assert_ne!(key(2), key(0), "a new key after sign-out");
        assert_eq!(key(3), key(2), "the nonces and the sign-in share it");
        let stored = vault.load().unwrap().session.unwrap().session_key.unwrap();
        let stored =
            p256::ecdsa::SigningKey::from_slice(&hex::decode(stored.expose()).unwrap()).unwrap();
        assert_eq!(
            hex::encode(stored.verifying_key().to_sec1_point(true).as_bytes()),
            key(3),
            "the new session is stored with the key it was signed in with"
        );
    }

    #[tokio::test]
    async fn logout_sends_its_reason_on_the_revoke_only() {
        let server = TestServer::start(ENV, |r| match r.path.as_str() {
            "revoke" => Reply::raw(204, ""),
            _ => Reply::json(200, json!({"count": 0, "devices": []})),
        })
        .await;
        let (client, vault) = client(&server, true).await;
        client.mfa_devices().await.unwrap();
        client.logout().await.unwrap();
        let (signed_in_again, _) = crate::test_server::client(&server, true).await;
        signed_in_again
            .logout_with_reason(crate::LogoutReason::SessionRefreshUnauthorized)
            .await
            .unwrap();
        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            ["GET users/mfa", "POST revoke", "POST revoke"]
        );
        assert_eq!(reqs[0].header("x-dyn-logout-reason"), None);
        assert_eq!(reqs[1].header("x-dyn-logout-reason"), Some("user-intent"));
        assert_eq!(
            reqs[2].header("x-dyn-logout-reason"),
            Some("session-refresh-unauthorized")
        );
        assert!(vault.load().unwrap().session.is_none());
        // Signed out, a logout sends nothing.
        client.logout().await.unwrap();
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn a_verify_answer_without_minified_jwt_keeps_the_session_token() {
        let server =
            TestServer::start(ENV, |_| Reply::json(200, verify_response(None, None))).await;
        let (client, _) = client(&server, true).await;
        client
            .verify(
                Verification::Totp {
                    device_id: None,
                    code: "123456".into(),
                },
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            client.inner.store.session().unwrap().token.expose(),
            "session-1"
        );
        let req = &server.requests()[0];
        assert_eq!(req.path, "users/mfa/auth/totp");
        assert_eq!(
            req.json(),
            json!({"code": "123456"}),
            "requestedScopes is left out when empty"
        );
    }

    #[tokio::test]
    async fn a_malformed_or_missing_token_is_an_error_but_the_session_still_rotates() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let server = TestServer::start(ENV, move |_| {
            let elevated = match c.fetch_add(1, Ordering::SeqCst) {
                0 => Some(Secret::new("not.a.jwt")),
                1 => None,
                2 => Some(make("wallet:sign", EXP, None)),
                _ => Some(make("wallet:export", 1_600_000_000, None)),
            };
            Reply::json(200, verify_response(Some("session-2"), elevated))
        })
        .await;
        let (client, _) = client(&server, true).await;
        for _ in 0..4 {
            let v = Verification::RecoveryCode {
                code: "ABCD-EFGH".into(),
            };
            assert_eq!(
                client.verify(v, &[TokenScope::WalletExport]).await,
                Err(StepUpError::InvalidElevatedToken)
            );
        }
        assert_eq!(
            client.inner.store.session().unwrap().token.expose(),
            "session-2"
        );
        assert!(
            client.elevated_tokens().is_empty(),
            "no unusable or foreign-scope token is stored"
        );
    }
}
