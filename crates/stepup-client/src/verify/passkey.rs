//! [`Verification::Passkey`](super::Verification::Passkey): the SDK's
//! `authenticatePasskeyMFA` (§3.6): `GET users/passkeys/authenticate`, the authenticator
//! signs, `POST users/mfa/auth/passkey`.

use super::{requested, rotated, Verification, VerifyOutcome};
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use crate::passkey::{passkey_error, wire, PasskeyConfirmation};
use stepup_protocol::{PasskeyAuthenticationOptions, TokenScope, VerifyResponse};

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
}

/// Signs the server's challenge with `confirmation`'s authenticator and sends the assertion.
pub(super) async fn verify(
    client: &StepUpClient,
    confirmation: PasskeyConfirmation,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let origin = wire::app_origin(client.inner.config.app_origin.as_deref())?;
    let options = client.passkey_authentication_options().await?;
    let options = wire::request_options(&options, &origin)?;
    let kind = confirmation.authenticator.kind();
    let credential = confirmation.authenticate(origin, options).await?;
    let body = wire::assertion_request(&credential, kind, requested(scopes))?;
    let req = ApiRequest::post("users/mfa/auth/passkey").json(&body)?;
    let resp: VerifyResponse = client.inner.send_json(req).await.map_err(passkey_error)?;
    rotated(client, resp, scopes).await
}
