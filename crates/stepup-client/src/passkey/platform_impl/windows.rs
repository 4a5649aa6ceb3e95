//! Windows Hello through webauthn.dll (`win10`). Windows shows its own dialog (Hello PIN or
//! biometric, security keys, phones), so [`UserVerification`] is not asked. Built for Windows
//! only; not run on this project's Linux CI.

use crate::error::StepUpError;
use crate::passkey::{
    map_authenticator_error, AuthenticatorKind, PasskeyAuthenticator, UserVerification,
};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::win10::Win10;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

/// The Windows platform authenticator.
#[derive(Debug, Default, Clone, Copy)]
pub struct WindowsHello;

impl PasskeyAuthenticator for WindowsHello {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::WindowsHello
    }

    fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        _verification: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        Win10::default()
            .do_registration(origin, options)
            .map_err(|e| map_authenticator_error(&e))
    }

    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        _verification: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError> {
        Win10::default()
            .do_authentication(origin, options)
            .map_err(|e| map_authenticator_error(&e))
    }
}
