//! Passkeys, natively: the WebAuthn ceremonies a webview cannot run for the relying party.
//!
//! A [`PasskeyAuthenticator`] runs one ceremony (blocking; the client runs it with
//! [`run_blocking`] under a 60 s [`CEREMONY_TIMEOUT`]); [`platform_authenticator`] picks the one
//! this platform has. The client builds `clientDataJSON` with [`Config::app_origin`], which
//! must equal the relying party's origin.
//!
//! ## Platform-specific
//! - **Windows**: Windows Hello through webauthn.dll (`win10`); the OS dialog also offers
//!   security keys and phones. The OS asks for presence and verification itself.
//! - **Linux and macOS**: a *device passkey*: a CTAP2 software authenticator whose state
//!   (private keys and signature counter) is kept in the OS keychain through a
//!   [`PasskeyStateStore`] and saved after every use, **sealed under the user's PIN**
//!   (Argon2id + AES-256-GCM, 8 tries: `sealed.rs`). Each use asks the PIN through
//!   [`UserVerification`]; without it nothing can sign, which is what makes the "user
//!   verified" flag true. A click in the app's dialog is presence, not verification.
//! - **Security keys over USB** (any OS, cargo feature `security-keys`, off by default):
//!   `SecurityKey` in `platform_impl/security_key.rs`; PIN and touch go through callbacks.
//!
//! [`Config::app_origin`]: crate::Config::app_origin

mod device;
mod flows;
mod os;
mod platform_impl;
mod sealed;
pub(crate) mod wire;

use crate::blocking::{run_blocking, Stalled};
use crate::error::StepUpError;
use crate::vault::VaultError;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use stepup_protocol::{codes, Secret};

pub use device::DevicePasskey;
pub use flows::RegisteredPasskey;
pub use os::{OsVerifier, Polkit, POLKIT_HELPER, POLKIT_POLICY};
#[cfg(feature = "security-keys")]
pub use platform_impl::security_key::{SecurityKey, SecurityKeyPrompts};
#[cfg(windows)]
pub use platform_impl::windows::WindowsHello;
pub use sealed::{check_new_pin, PinStatus, MAX_PIN_BYTES, MIN_PIN_CHARS, PIN_TRIES};
/// The WebAuthn JSON types a custom [`PasskeyAuthenticator`] receives and returns.
pub use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, WebauthnCError,
};

/// How long one ceremony may take, the user's part included (WebAuthn's usual 60 s).
pub const CEREMONY_TIMEOUT: Duration = Duration::from_secs(60);

/// Which kind of authenticator ran a ceremony (for the dialog's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthenticatorKind {
    /// A software authenticator sealed in the OS keychain; verification confirmed in the app.
    DevicePasskey,
    /// Windows Hello (and what the Windows dialog offers).
    WindowsHello,
    /// A roaming security key over USB.
    SecurityKey,
    /// Anything else (tests, embedders).
    Custom,
}

/// Which ceremony the user is asked to confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PasskeyCeremony {
    /// Creating a new passkey.
    Register,
    /// Signing a challenge with an existing passkey.
    Authenticate,
}

/// What the user is asked to verify, right before the authenticator signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyPrompt {
    /// Register or authenticate.
    pub ceremony: PasskeyCeremony,
    /// The relying party (a domain).
    pub rp_id: String,
    /// The origin written into `clientDataJSON`.
    pub origin: String,
    /// Whether the answer sets a new PIN (the first passkey on this device) rather than
    /// entering the existing one.
    pub new_pin: bool,
}

/// The user's verification of one passkey use: the device passkey's PIN. Called on the
/// ceremony's worker thread (it may block, e.g. waiting for the dialog's answer); `None`
/// cancels ([`StepUpError::Cancelled`]). Authenticators with their own prompt (Windows Hello,
/// a key's PIN pad) do not call it.
pub trait UserVerification: Send + Sync {
    /// The PIN the user entered for `prompt` (a new one when `prompt.new_pin`).
    fn pin(&self, prompt: &PasskeyPrompt) -> Option<Secret>;
}

impl<F: Fn(&PasskeyPrompt) -> Option<Secret> + Send + Sync> UserVerification for F {
    fn pin(&self, prompt: &PasskeyPrompt) -> Option<Secret> {
        self(prompt)
    }
}

/// A [`UserVerification`] that answers with a PIN the user already typed (the dialog collects
/// it before the ceremony starts).
pub fn entered_pin(pin: Secret) -> Arc<dyn UserVerification> {
    Arc::new(move |_: &PasskeyPrompt| Some(pin.clone()))
}

/// One authenticator. Both calls **block** (a key waits for a touch); the client runs them on
/// a blocking thread. Errors are already [`StepUpError`]s (see [`map_authenticator_error`]).
pub trait PasskeyAuthenticator: Send + Sync {
    /// What this is.
    fn kind(&self) -> AuthenticatorKind;
    /// Creates a credential for `options`, with `clientDataJSON` carrying `origin`.
    fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        verification: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError>;
    /// Signs `options`' challenge with one of `allowCredentials`.
    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        verification: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError>;
}

/// Where a device passkey's authenticator state lives: one opaque secret (base64url CBOR,
/// about 3 KB) holding private keys and the signature counter. `stepup-keychain` implements it
/// over the OS keychain. Both calls block.
pub trait PasskeyStateStore: Send + Sync {
    /// The stored state; `None` when this device has no passkey yet.
    fn load(&self) -> Result<Option<Secret>, VaultError>;
    /// Replaces the stored state (after every use: the counter moved; after a wrong PIN:
    /// one try fewer).
    fn save(&self, state: &Secret) -> Result<(), VaultError>;
    /// Removes the stored state (a locked passkey is removed and added again).
    fn remove(&self) -> Result<(), VaultError>;
}

/// A [`PasskeyStateStore`] in memory (tests; a demo without a keychain).
#[derive(Debug, Default)]
pub struct MemoryPasskeyStore {
    state: Mutex<Option<Secret>>,
}

impl MemoryPasskeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl PasskeyStateStore for MemoryPasskeyStore {
    fn load(&self) -> Result<Option<Secret>, VaultError> {
        Ok(self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn save(&self, state: &Secret) -> Result<(), VaultError> {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(state.clone());
        Ok(())
    }
    fn remove(&self) -> Result<(), VaultError> {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// This platform's authenticator: Windows Hello on Windows, else the device passkey over
/// `store`. (Security keys are opt-in: build with `security-keys` and use `SecurityKey`.)
pub fn platform_authenticator(store: Arc<dyn PasskeyStateStore>) -> Arc<dyn PasskeyAuthenticator> {
    #[cfg(windows)]
    {
        let _ = store;
        Arc::new(WindowsHello)
    }
    #[cfg(not(windows))]
    {
        Arc::new(DevicePasskey::new(store))
    }
}

/// The authenticator and the confirmation one passkey ceremony uses.
#[derive(Clone)]
pub struct PasskeyConfirmation {
    /// Who signs.
    pub authenticator: Arc<dyn PasskeyAuthenticator>,
    /// Who verifies the user (the dialog's PIN).
    pub verification: Arc<dyn UserVerification>,
}

impl PasskeyConfirmation {
    /// A confirmation with `authenticator` and `verification`.
    pub fn new(
        authenticator: Arc<dyn PasskeyAuthenticator>,
        verification: Arc<dyn UserVerification>,
    ) -> Self {
        Self {
            authenticator,
            verification,
        }
    }

    /// Runs a registration ceremony ([`run_ceremony`]: a blocking thread, [`CEREMONY_TIMEOUT`]).
    pub(crate) async fn register(
        self,
        origin: Url,
        options: CreationChallengeResponse,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        let Self {
            authenticator,
            verification,
        } = self;
        run_ceremony(move || authenticator.register(origin, options, verification.as_ref())).await
    }

    /// Runs an authentication ceremony ([`run_ceremony`]: a blocking thread, [`CEREMONY_TIMEOUT`]).
    pub(crate) async fn authenticate(
        self,
        origin: Url,
        options: RequestChallengeResponse,
    ) -> Result<PublicKeyCredential, StepUpError> {
        let Self {
            authenticator,
            verification,
        } = self;
        run_ceremony(move || authenticator.authenticate(origin, options, verification.as_ref()))
            .await
    }
}

impl std::fmt::Debug for PasskeyConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyConfirmation")
            .field("authenticator", &self.authenticator.kind())
            .finish_non_exhaustive()
    }
}

/// An authenticator's failure as a [`StepUpError`] the dialog can explain.
pub fn map_authenticator_error(e: &WebauthnCError) -> StepUpError {
    use webauthn_authenticator_rs::error::CtapError;
    match e {
        WebauthnCError::Cancelled => StepUpError::Cancelled,
        // An authenticator that cannot do UV; a key without PIN/biometric refuses it.
        WebauthnCError::NotSupported
        | WebauthnCError::Ctap(CtapError::Ctap2PinInvalid)
        | WebauthnCError::Ctap(CtapError::Ctap2PinBlocked)
        | WebauthnCError::Ctap(CtapError::Ctap2PinAuthBlocked)
        | WebauthnCError::Ctap(CtapError::Ctap2PinNotSet)
        | WebauthnCError::Ctap(CtapError::Ctap2PUATRequired) => StepUpError::UserNotVerified,
        WebauthnCError::Ctap(CtapError::Ctap2OperationDenied)
        | WebauthnCError::Ctap(CtapError::Ctap2KeepAliveCancel) => StepUpError::Cancelled,
        WebauthnCError::Ctap(CtapError::Ctap2UserActionTimeout) => StepUpError::CeremonyTimedOut,
        WebauthnCError::Ctap(CtapError::Ctap2NoCredentials) => StepUpError::NoPasskeyCredentials,
        other => StepUpError::Authenticator(other.to_string()),
    }
}

/// A server refusal of a passkey call, in passkey words.
pub(crate) fn passkey_error(e: StepUpError) -> StepUpError {
    match e {
        StepUpError::InvalidOtp { .. } => StepUpError::PasskeyRefused,
        StepUpError::Api { ref code, .. } if code == codes::PASSKEY_NOT_FOUND => {
            StepUpError::NoPasskeyCredentials
        }
        StepUpError::Api { ref code, .. } if code == codes::MFA_INVALID_REQUEST => {
            StepUpError::PasskeyRefused
        }
        other => other,
    }
}

/// Runs a blocking ceremony on a blocking thread, giving up after [`CEREMONY_TIMEOUT`].
pub(crate) async fn run_ceremony<T: Send + 'static>(
    ceremony: impl FnOnce() -> Result<T, StepUpError> + Send + 'static,
) -> Result<T, StepUpError> {
    run_ceremony_within(CEREMONY_TIMEOUT, ceremony).await
}

/// [`run_ceremony`] with another limit: [`run_blocking`], its failures in ceremony words.
async fn run_ceremony_within<T: Send + 'static>(
    limit: Duration,
    ceremony: impl FnOnce() -> Result<T, StepUpError> + Send + 'static,
) -> Result<T, StepUpError> {
    match run_blocking(limit, ceremony).await {
        Ok(result) => result,
        Err(Stalled::TimedOut(_)) => Err(StepUpError::CeremonyTimedOut),
        Err(Stalled::Crashed) => Err(StepUpError::Authenticator(
            "the authenticator thread failed".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ceremony_that_outlives_its_limit_times_out() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let result = run_ceremony_within(Duration::from_millis(50), move || {
            let _ = wait.recv_timeout(Duration::from_secs(5));
            Ok(())
        })
        .await;
        assert_eq!(result, Err(StepUpError::CeremonyTimedOut));
        let _ = release.send(());
    }

    #[test]
    fn authenticator_errors_map_to_what_the_dialog_says() {
        use webauthn_authenticator_rs::error::CtapError;
        assert_eq!(
            map_authenticator_error(&WebauthnCError::Cancelled),
            StepUpError::Cancelled
        );
        assert_eq!(
            map_authenticator_error(&WebauthnCError::NotSupported),
            StepUpError::UserNotVerified
        );
        assert_eq!(
            map_authenticator_error(&WebauthnCError::Ctap(CtapError::Ctap2PinNotSet)),
            StepUpError::UserNotVerified
        );
        assert_eq!(
            map_authenticator_error(&WebauthnCError::Ctap(CtapError::Ctap2UserActionTimeout)),
            StepUpError::CeremonyTimedOut
        );
    }

    #[test]
    fn empty_allow_credentials_means_no_passkey() {
        let options = stepup_protocol::PasskeyAuthenticationOptions {
            challenge: "Y2g".into(),
            timeout: Some(60_000),
            rp_id: Some("app.stepup.example".into()),
            user_verification: Some("required".into()),
            allow_credentials: Some(Vec::new()),
        };
        let origin = Url::parse("https://app.stepup.example").ok();
        let origin = origin
            .as_ref()
            .map(|o| wire::request_options(&options, o).err());
        assert_eq!(origin, Some(Some(StepUpError::NoPasskeyCredentials)));
    }
}
