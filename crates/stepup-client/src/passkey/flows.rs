//! The passkey calls of [`StepUpClient`]: step-up (§3.6) and registration (§5).

use super::{run_ceremony, wire, PasskeyConfirmation};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::verify::{Verification, VerifyOutcome};
use stepup_protocol::{
    codes, MfaPasskeyRegistration, PasskeyAuthenticationOptions, PasskeyRegistrationOptions,
    TokenScope, VerifyResponse,
};

/// A passkey registered by [`StepUpClient::register_passkey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredPasskey {
    /// The new MFA device's id (`None` for an account passkey, whose API returns none).
    pub device_id: Option<String>,
}

/// A server refusal of a passkey call, in passkey words.
fn passkey_error(e: StepUpError) -> StepUpError {
    match e {
        StepUpError::InvalidOtp => StepUpError::PasskeyRefused,
        StepUpError::Api { ref code, .. } if code == codes::PASSKEY_NOT_FOUND => {
            StepUpError::NoPasskeyCredentials
        }
        StepUpError::Api { ref code, .. } if code == codes::MFA_INVALID_REQUEST => {
            StepUpError::PasskeyRefused
        }
        other => other,
    }
}

impl StepUpClient {
    /// `authenticatePasskeyMFA({ requestedScopes })`: `GET users/passkeys/authenticate`; no
    /// passkey listed → [`StepUpError::NoPasskeyCredentials`] with no further request; else
    /// the authenticator signs (on a blocking thread, 60 s at most: `CeremonyTimedOut`; the user said
    /// no: `Cancelled`; no PIN/biometric: `UserNotVerified`), then
    /// `POST users/mfa/auth/passkey` rotates the session and stores the elevated token.
    /// Same as `verify(Verification::Passkey(confirmation), scopes)`.
    pub async fn authenticate_passkey_mfa(
        &self,
        requested_scopes: &[TokenScope],
        confirmation: PasskeyConfirmation,
    ) -> Result<VerifyOutcome, StepUpError> {
        self.verify(Verification::Passkey(confirmation), requested_scopes)
            .await
    }

    /// The passkey authentication options (`GET users/passkeys/authenticate`): the dialog
    /// can tell from `allowCredentials` whether a passkey step is possible at all.
    pub async fn passkey_authentication_options(
        &self,
    ) -> Result<PasskeyAuthenticationOptions, StepUpError> {
        self.inner.require_session()?;
        self.inner
            .send_json(ApiRequest::get("users/passkeys/authenticate"))
            .await
    }

    pub(crate) async fn verify_passkey(
        &self,
        confirmation: PasskeyConfirmation,
        scopes: &[TokenScope],
    ) -> Result<VerifyOutcome, StepUpError> {
        let origin = wire::app_origin(self.inner.config.app_origin.as_deref())?;
        let options = self.passkey_authentication_options().await?;
        let options = wire::request_options(&options, &origin)?;
        let PasskeyConfirmation {
            authenticator,
            presence,
        } = confirmation;
        let credential =
            run_ceremony(move || authenticator.authenticate(origin, options, presence.as_ref()))
                .await?;
        let requested = (!scopes.is_empty()).then(|| scopes.to_vec());
        let body = wire::assertion_request(&credential, requested)?;
        let req = ApiRequest::post("users/mfa/auth/passkey").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await.map_err(passkey_error)?;
        let user = resp.user.clone();
        let token = self.inner.apply_verify_response(resp, scopes).await?;
        Ok(VerifyOutcome {
            user: Some(user),
            token,
        })
    }

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
        let device_id = crate::verify::validate_id(&registration.id, "MFA device id")?;
        let options = wire::creation_options(&registration.registration)?;
        let PasskeyConfirmation {
            authenticator,
            presence,
        } = confirmation;
        let credential =
            run_ceremony(move || authenticator.register(origin, options, presence.as_ref()))
                .await?;
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
        let PasskeyConfirmation {
            authenticator,
            presence,
        } = confirmation;
        let credential =
            run_ceremony(move || authenticator.register(origin, options, presence.as_ref()))
                .await?;
        let body = wire::account_register_request(&credential)?;
        let req = ApiRequest::post("users/passkeys/register").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await.map_err(passkey_error)?;
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(RegisteredPasskey { device_id: None })
    }
}
