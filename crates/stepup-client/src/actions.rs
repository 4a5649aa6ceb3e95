//! The scope-protected calls (§4): each takes the stored token of its scope (consuming it if
//! single-use) and sends it as `x-dyn-elevated-access-token`. A rejection is
//! [`StepUpError::StepUpRequired`]: nothing runs silently; [`StepUpClient::retry_after_step_up`]
//! verifies and retries once.

use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::verify::{validate_id, validate_otp_code};
use std::future::Future;
use stepup_protocol::headers::X_MFA_AUTH_TOKEN;
use stepup_protocol::{
    DeletePasskeyRequest, ExportPrivateKeyRequest, ExportPrivateKeyResponse, MfaDevice,
    MfaDevicesResponse, MfaMethodsResponse, RecoveryCodesResponse, SdkUser, Secret, TokenScope,
    TotpRegisterVerifyRequest, TotpRegistration, UserPasskey, UserPasskeysResponse, VerifyResponse,
    VerifyUnlinkRequest,
};

/// The most recovery codes one answer may carry (Dynamic and the sandbox give 10).
const MAX_RECOVERY_CODES: usize = 64;
/// The longest recovery code accepted from a server.
const MAX_RECOVERY_CODE_LEN: usize = 64;

/// A random id in the 8-4-4-4-12 shape of a UUID (an export's `exportId`).
fn random_export_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl StepUpClient {
    /// Starts a TOTP registration (`GET users/mfa/register/totp`, scope `credential:link`).
    /// Show the returned `uri` as a QR code, then call [`StepUpClient::confirm_totp_device`].
    pub async fn register_totp_device(&self) -> Result<TotpRegistration, StepUpError> {
        self.inner.require_session()?;
        let req = ApiRequest::get("users/mfa/register/totp").scoped(TokenScope::CredentialLink);
        self.inner.send_json(req).await
    }

    /// Confirms a new TOTP device with its first code (`POST users/mfa/register/totp`).
    pub async fn confirm_totp_device(&self, code: Secret) -> Result<MfaDevice, StepUpError> {
        self.inner.require_session()?;
        let body = TotpRegisterVerifyRequest {
            kind: "totp".into(),
            code: validate_otp_code(&code)?,
        };
        self.inner
            .send_json(ApiRequest::post("users/mfa/register/totp").json(&body)?)
            .await
    }

    /// The user's MFA devices (`GET users/mfa`).
    pub async fn mfa_devices(&self) -> Result<Vec<MfaDevice>, StepUpError> {
        self.inner.require_session()?;
        let resp: MfaDevicesResponse = self.inner.send_json(ApiRequest::get("users/mfa")).await?;
        Ok(resp.devices)
    }

    /// The user's verified MFA methods (the SDK's `getMfaMethods`:
    /// `GET users/mfa/methods?verifiedOnly=true`): TOTP devices, passkeys, and whether any
    /// method is verified.
    pub async fn mfa_methods(&self) -> Result<MfaMethodsResponse, StepUpError> {
        self.inner.require_session()?;
        let req = ApiRequest::get("users/mfa/methods").query("verifiedOnly", "true");
        self.inner.send_json(req).await
    }

    /// How many unused recovery codes the user has (the SDK's `getMfaRecoveryCodes`:
    /// `GET users/mfa/recovery`). Whatever codes the answer carries are checked like
    /// [`StepUpClient::regenerate_recovery_codes`]'s.
    pub async fn recovery_codes(&self) -> Result<RecoveryCodesResponse, StepUpError> {
        self.inner.require_session()?;
        let resp = self
            .inner
            .send_json(ApiRequest::get("users/mfa/recovery"))
            .await?;
        checked_recovery_codes(resp)
    }

    /// Replaces the user's recovery codes with a new set (the SDK's
    /// `createNewMfaRecoveryCodes`: `POST users/mfa/recovery`, no body), with the stored
    /// `credential:link` token attached: the old codes stop working. The new codes are in the
    /// answer only, as [`Secret`]s: show them once, when the user asks.
    pub async fn regenerate_recovery_codes(&self) -> Result<RecoveryCodesResponse, StepUpError> {
        self.inner.require_session()?;
        let req = ApiRequest::post("users/mfa/recovery").scoped(TokenScope::CredentialLink);
        let resp = self.inner.send_json(req).await?;
        checked_recovery_codes(resp)
    }

    /// The user's passkeys (the SDK's `getPasskeys`: `GET users/passkeys`).
    pub async fn passkeys(&self) -> Result<Vec<UserPasskey>, StepUpError> {
        self.inner.require_session()?;
        let resp: UserPasskeysResponse = self
            .inner
            .send_json(ApiRequest::get("users/passkeys"))
            .await?;
        Ok(resp.passkeys)
    }

    /// Deletes one of the user's passkeys (the SDK's `deletePasskey`: `DELETE users/passkeys`
    /// with the body `{passkeyId}`, scope `credential:unlink`). A passkey that is not the
    /// user's is the server's `passkey_not_found`.
    pub async fn delete_passkey(&self, passkey_id: &str) -> Result<(), StepUpError> {
        self.inner.require_session()?;
        let body = DeletePasskeyRequest {
            passkey_id: validate_id(passkey_id, "passkey id")?,
        };
        let req = ApiRequest::delete("users/passkeys")
            .json(&body)?
            .scoped(TokenScope::CredentialUnlink);
        self.inner.send(req).await.map(drop)
    }

    /// Unlinks one of the user's linked social accounts (the SDK's `unlinkSocialAccount`:
    /// `POST verify/unlink {verifiedCredentialId, walletId?}`, scope `credential:unlink`).
    /// `wallet_id` is the SDK's hint, the selected wallet's verified credential when it is not
    /// an embedded wallet. The answer rotates the session; the user without the account is
    /// returned.
    pub async fn unlink_social_account(
        &self,
        verified_credential_id: &str,
        wallet_id: Option<&str>,
    ) -> Result<SdkUser, StepUpError> {
        self.inner.require_session()?;
        let body = VerifyUnlinkRequest {
            verified_credential_id: Some(validate_id(
                verified_credential_id,
                "verified credential id",
            )?),
            wallet_id: wallet_id.map(|w| validate_id(w, "wallet id")).transpose()?,
        };
        let req = ApiRequest::post("verify/unlink")
            .json(&body)?
            .scoped(TokenScope::CredentialUnlink);
        let resp: VerifyResponse = self.inner.send_json(req).await?;
        let user = resp.user.clone();
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(user)
    }

    /// Deletes an MFA device (`DELETE users/mfa/{id}`, scope `credential:unlink`; sends
    /// `x-mfa-auth-token: ""` as the SDK does when it relies on the elevated token).
    pub async fn delete_mfa_device(&self, device_id: &str) -> Result<(), StepUpError> {
        self.inner.require_session()?;
        let id = validate_id(device_id, "MFA device id")?;
        let req = ApiRequest::delete(format!("users/mfa/{id}"))
            .scoped(TokenScope::CredentialUnlink)
            .header(X_MFA_AUTH_TOKEN, "");
        self.inner.send(req).await.map(drop)
    }

    /// Exports an embedded wallet's private key (`POST waas/{walletId}/privateKey/export`,
    /// scope `wallet:export`). The key is a [`Secret`]: show it only when the user asks.
    pub async fn export_wallet_private_key(
        &self,
        wallet_id: &str,
    ) -> Result<ExportPrivateKeyResponse, StepUpError> {
        self.inner.require_session()?;
        let id = validate_id(wallet_id, "wallet id")?;
        let body = ExportPrivateKeyRequest {
            export_id: random_export_id(),
            share_set_id: None,
            address_type: None,
        };
        let req = ApiRequest::post(format!("waas/{id}/privateKey/export"))
            .json(&body)?
            .scoped(TokenScope::WalletExport);
        self.inner.send_json(req).await
    }

    /// Runs `call`; if it is rejected with [`StepUpError::StepUpRequired`], runs
    /// `verify(scope)` once and, if that succeeds, runs `call` exactly once more. Every other
    /// error, and any error of `verify` or of the retry, is returned as is.
    pub async fn retry_after_step_up<T, C, CF, V, VF>(
        &self,
        call: C,
        verify: V,
    ) -> Result<T, StepUpError>
    where
        C: Fn() -> CF,
        CF: Future<Output = Result<T, StepUpError>>,
        V: FnOnce(TokenScope) -> VF,
        VF: Future<Output = Result<(), StepUpError>>,
    {
        match call().await {
            Err(StepUpError::StepUpRequired { scope }) => {
                verify(scope).await?;
                call().await
            }
            other => other,
        }
    }
}

/// A server's recovery codes, bounded: at most [`MAX_RECOVERY_CODES`], each non-empty and at
/// most [`MAX_RECOVERY_CODE_LEN`] printable ASCII characters.
fn checked_recovery_codes(
    resp: RecoveryCodesResponse,
) -> Result<RecoveryCodesResponse, StepUpError> {
    let bad = |what: &str| StepUpError::InvalidResponse(format!("recovery codes: {what}"));
    if resp.recovery_codes.len() > MAX_RECOVERY_CODES {
        return Err(bad("too many"));
    }
    let printable = |c: &Secret| {
        let c = c.expose();
        !c.is_empty() && c.len() <= MAX_RECOVERY_CODE_LEN && c.bytes().all(|b| b.is_ascii_graphic())
    };
    if !resp.recovery_codes.iter().all(printable) {
        return Err(bad("a code is empty, too long or not printable"));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StepUpError;
    use crate::test_server::{client, verify_response, Reply, TestServer, ENV, EXP};
    use crate::tokens::test_tokens::make;
    use crate::verify::Verification;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use stepup_protocol::TokenScope;

    #[test]
    fn export_ids_look_like_uuids() {
        let id = random_export_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, random_export_id());
    }

    #[tokio::test]
    async fn a_single_use_token_is_attached_once_then_the_call_needs_step_up() {
        let server = TestServer::start(ENV, |r| match r.header("x-dyn-elevated-access-token") {
            Some(_) => Reply::json(200, json!({"exportId": "e", "address": "0xabc", "privateKey": "0xkey"})),
            None => Reply::json(403, json!({"error": "step up", "code": "step_up_required", "payload": {"scope": "wallet:export"}})),
        })
        .await;
        let (client, _) = client(&server, true).await;
        let token = make("wallet:export", EXP, Some(true));
        client
            .inner
            .store_elevated_token(&token, &[TokenScope::WalletExport])
            .await
            .unwrap();
        let exported = client.export_wallet_private_key("wallet-1").await.unwrap();
        assert_eq!(exported.private_key.expose(), "0xkey");
        assert!(!format!("{exported:?}").contains("0xkey"));
        assert_eq!(
            client
                .export_wallet_private_key("wallet-1")
                .await
                .unwrap_err(),
            StepUpError::StepUpRequired {
                scope: TokenScope::WalletExport
            }
        );
        let reqs = server.requests();
        assert_eq!(reqs[0].path, "waas/wallet-1/privateKey/export");
        assert_eq!(
            reqs[0].header("x-dyn-elevated-access-token"),
            Some(token.expose())
        );
        assert_eq!(reqs[0].json()["exportId"].as_str().map(str::len), Some(36));
        assert_eq!(reqs[1].header("x-dyn-elevated-access-token"), None);
        assert!(matches!(
            client.export_wallet_private_key("../users").await,
            Err(StepUpError::InvalidInput(_))
        ));
        assert_eq!(server.requests().len(), 2, "invalid input sends nothing");
    }

    #[tokio::test]
    async fn recovery_codes_are_asked_for_as_the_sdk_does_and_bounded() {
        let server = TestServer::start(ENV, |r| match (r.method.as_str(), r.path.as_str()) {
            ("GET", "users/mfa/methods") => Reply::json(
                200,
                json!({"devices": [], "passkeys": [], "userHasVerifiedMfaMethods": false}),
            ),
            ("GET", _) => Reply::json(
                200,
                json!({"count": 100, "recoveryCodes": vec!["AAAAA-BBBBB"; 100]}),
            ),
            _ => Reply::json(200, json!({"count": 1, "recoveryCodes": ["AAAAA\nBBBBB"]})),
        })
        .await;
        let (client, _) = client(&server, true).await;
        let token = make("credential:link", EXP, None);
        client
            .inner
            .store_elevated_token(&token, &[TokenScope::CredentialLink])
            .await
            .unwrap();
        assert!(
            !client
                .mfa_methods()
                .await
                .unwrap()
                .user_has_verified_mfa_methods
        );
        assert!(matches!(
            client.recovery_codes().await,
            Err(StepUpError::InvalidResponse(_))
        ));
        assert!(matches!(
            client.regenerate_recovery_codes().await,
            Err(StepUpError::InvalidResponse(_))
        ));
        let reqs = server.requests();
        assert_eq!(
            server.paths(),
            [
                "GET users/mfa/methods",
                "GET users/mfa/recovery",
                "POST users/mfa/recovery"
            ]
        );
        assert_eq!(reqs[0].query, "verifiedOnly=true");
        assert_eq!(reqs[1].header("x-dyn-elevated-access-token"), None);
        assert_eq!(
            reqs[2].header("x-dyn-elevated-access-token"),
            Some(token.expose())
        );
        assert_eq!(reqs[2].body, "", "no body, as the SDK sends none");
    }

    #[tokio::test]
    async fn delete_passkey_sends_the_sdks_body_and_the_credential_unlink_token() {
        let server = TestServer::start(ENV, |_| Reply::raw(204, "")).await;
        let (client, _) = client(&server, true).await;
        let token = make("credential:unlink", EXP, None);
        client
            .inner
            .store_elevated_token(&token, &[TokenScope::CredentialUnlink])
            .await
            .unwrap();
        client.delete_passkey("pk-1").await.unwrap();
        let reqs = server.requests();
        assert_eq!(server.paths(), ["DELETE users/passkeys"]);
        assert_eq!(reqs[0].json(), json!({"passkeyId": "pk-1"}));
        assert_eq!(
            reqs[0].header("x-dyn-elevated-access-token"),
            Some(token.expose())
        );
        assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    }

    #[tokio::test]
    async fn retry_after_step_up_verifies_once_and_retries_once() {
        let token = make("credential:unlink", EXP, None);
        let reply = verify_response(Some("session-2"), Some(token));
        let server = TestServer::start(ENV, move |r| {
            match (r.path.as_str(), r.header("x-dyn-elevated-access-token")) {
                ("users/mfa/auth/totp", _) => Reply::json(200, reply.clone()),
                ("users/mfa/dev-1", Some(_)) => Reply::raw(204, ""),
                _ => Reply {
                    status: 401,
                    headers: vec![(
                        "www-authenticate".into(),
                        r#"Bearer error="insufficient_user_authentication""#.into(),
                    )],
                    body: String::new(),
                },
            }
        })
        .await;
        let (client, _) = client(&server, true).await;
        let verifies = AtomicUsize::new(0);
        let result = client
            .retry_after_step_up(
                || client.delete_mfa_device("dev-1"),
                |scope| {
                    verifies.fetch_add(1, Ordering::SeqCst);
                    let client = client.clone();
                    async move {
                        assert_eq!(scope, TokenScope::CredentialUnlink);
                        let v = Verification::Totp {
                            device_id: Some("dev-9".into()),
                            code: "654321".into(),
                        };
                        client.verify(v, &[scope]).await.map(drop)
                    }
                },
            )
            .await;
        assert_eq!(result, Ok(()));
        assert_eq!(verifies.load(Ordering::SeqCst), 1);
        assert_eq!(
            server.paths(),
            [
                "DELETE users/mfa/dev-1",
                "POST users/mfa/auth/totp",
                "DELETE users/mfa/dev-1"
            ]
        );
        let reqs = server.requests();
        assert_eq!(
            reqs[1].json(),
            json!({"id": "dev-9", "code": "654321", "requestedScopes": ["credential:unlink"]})
        );
        assert_eq!(reqs[2].header("x-mfa-auth-token"), Some(""));
        assert_eq!(reqs[2].header("authorization"), Some("Bearer session-2"));

        // A second rejection after the retry is returned, not looped on.
        let again = client
            .retry_after_step_up(|| client.register_totp_device(), |_| async { Ok(()) })
            .await;
        assert_eq!(
            again.unwrap_err(),
            StepUpError::StepUpRequired {
                scope: TokenScope::CredentialLink
            }
        );
    }
}
