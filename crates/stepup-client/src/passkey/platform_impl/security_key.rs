//! Security keys over USB HID (CTAP2), behind the cargo feature `security-keys`. The key
//! asks for its PIN and a touch through [`SecurityKeyPrompts`]; that is its user verification,
//! so [`UserVerification`] is not asked. Built here (Linux, libudev-dev); never run against a real
//! key on this project's machines (none is attached).

use crate::error::StepUpError;
use crate::passkey::{
    map_authenticator_error, AuthenticatorKind, PasskeyAuthenticator, UserVerification,
};
use std::sync::Arc;
use webauthn_authenticator_rs::ctap2::{select_one_device, CtapAuthenticator};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, WebauthnCError,
};
use webauthn_authenticator_rs::transport::Transport as _;
use webauthn_authenticator_rs::types::{CableRequestType, CableState, EnrollSampleStatus};
use webauthn_authenticator_rs::ui::UiCallback;
use webauthn_authenticator_rs::usb::{USBToken, USBTransport};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

/// What a security key needs from the dialog. Called on the ceremony's worker thread.
pub trait SecurityKeyPrompts: Send + Sync {
    /// The key's PIN, or `None` to cancel.
    fn pin(&self) -> Option<String>;
    /// "Touch your security key" (show it; the key blinks).
    fn touch(&self);
}

/// The first security key the user touches.
pub struct SecurityKey {
    prompts: Arc<dyn SecurityKeyPrompts>,
}

impl SecurityKey {
    /// A security-key authenticator asking `prompts` for PIN and touch.
    pub fn new(prompts: Arc<dyn SecurityKeyPrompts>) -> Self {
        Self { prompts }
    }

    fn with_key<T>(
        &self,
        f: impl FnOnce(&mut CtapAuthenticator<'_, USBToken, Ui>) -> Result<T, WebauthnCError>,
    ) -> Result<T, StepUpError> {
        let ui = Ui(self.prompts.clone());
        // Ceremonies run on `spawn_blocking`, inside the client's runtime.
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StepUpError::Authenticator("no async runtime".into()))?;
        let transport = runtime
            .block_on(USBTransport::new())
            .map_err(|e| map_authenticator_error(&e))?;
        let devices = runtime
            .block_on(transport.watch())
            .map_err(|e| map_authenticator_error(&e))?;
        let mut key = runtime
            .block_on(select_one_device(devices, &ui))
            .ok_or_else(|| StepUpError::Authenticator("no security key was found".into()))?;
        f(&mut key).map_err(|e| map_authenticator_error(&e))
    }
}

impl PasskeyAuthenticator for SecurityKey {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::SecurityKey
    }

    fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        _verification: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        self.with_key(|key| key.do_registration(origin, options))
    }

    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        _verification: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError> {
        self.with_key(|key| key.do_authentication(origin, options))
    }
}

/// The authenticator crate's UI callback, forwarding PIN and touch to the dialog.
struct Ui(Arc<dyn SecurityKeyPrompts>);

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityKeyUi")
    }
}

impl UiCallback for Ui {
    fn request_pin(&self) -> Option<String> {
        self.0.pin()
    }
    fn request_touch(&self) {
        self.0.touch();
    }
    fn processing(&self) {}
    fn fingerprint_enrollment_feedback(&self, _: u32, _: Option<EnrollSampleStatus>) {}
    fn cable_qr_code(&self, _: CableRequestType, _: String) {}
    fn dismiss_qr_code(&self) {}
    fn cable_status_update(&self, _: CableState) {}
}
