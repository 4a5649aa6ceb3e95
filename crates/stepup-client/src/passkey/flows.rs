//! Passkey registration (§5): an MFA passkey and an account passkey. The passkey step-up
//! (§3.6) is a verification: `verify/passkey.rs`.

use super::{passkey_error, wire, PasskeyConfirmation};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::verify::validate_id;
use stepup_protocol::{
    MfaPasskeyRegistration, PasskeyRegistrationOptions, TokenScope, VerifyResponse,
};

/// A passkey registered by [`StepUpClient::register_passkey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredPasskey {
    /// The new MFA device's id (`None` for an account passkey, whose API returns none).
    pub device_id: Option<String>,
}

impl StepUpClient {
    /// Registers a new MFA passkey (`GET`/`POST users/mfa/register/passkey`, scope
    /// `credential:link`: the stored token is attached; without one the answer is
    /// [`StepUpError::StepUpRequired`], so step up for `credential:link` first).
    pub async fn register_passkey(
        &self,
        confirmation: PasskeyConfirmation,
    ) -> Result<RegisteredPasskey, StepUpError> {
        self.inner.require_session()?;
        let origin = wire::app_origin(self.inner.config.app_origin.as_deref())?;
        let req = ApiRequest::get("users/mfa/register/passkey").scoped(TokenScope::CredentialLink);
        let registration: MfaPasskeyRegistration = self.inner.send_json(req).await?;
        let device_id = validate_id(&registration.id, "MFA device id")?;
        let options = wire::creation_options(&registration.registration)?;
        let credential = confirmation.register(origin, options).await?;
        let body = wire::mfa_register_request(&device_id, &credential)?;
        let req = ApiRequest::post("users/mfa/register/passkey").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await.map_err(passkey_error)?;
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(RegisteredPasskey {
            device_id: Some(device_id),
        })
    }

    /// Registers an account passkey (the SDK's `registerPasskey`: `GET`/`POST
    /// users/passkeys/register`, scope `credential:link`). The body's `clientDataJson` is
    /// spelled as the API wants.
    pub async fn register_account_passkey(
        &self,
        confirmation: PasskeyConfirmation,
    ) -> Result<RegisteredPasskey, StepUpError> {
        self.inner.require_session()?;
        let origin = wire::app_origin(self.inner.config.app_origin.as_deref())?;
        let req = ApiRequest::get("users/passkeys/register").scoped(TokenScope::CredentialLink);
        let options: PasskeyRegistrationOptions = self.inner.send_json(req).await?;
        let options = wire::creation_options(&options)?;
        let credential = confirmation.register(origin, options).await?;
        let body = wire::account_register_request(&credential)?;
        let req = ApiRequest::post("users/passkeys/register").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await.map_err(passkey_error)?;
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(RegisteredPasskey { device_id: None })
    }
}
