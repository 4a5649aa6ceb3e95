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
    ExportPrivateKeyRequest, ExportPrivateKeyResponse, MfaDevice, MfaDevicesResponse, Secret,
    TokenScope, TotpRegisterVerifyRequest, TotpRegistration,
};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_ids_look_like_uuids() {
        let id = random_export_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, random_export_id());
    }
}
