//! The device passkey: a CTAP2 software authenticator (`SoftToken`) whose whole state lives
//! in a [`PasskeyStateStore`] (the OS keychain), loaded for one ceremony and saved right
//! after it, before anything is sent: the signature counter never goes back.

use super::{
    map_authenticator_error, AuthenticatorKind, PasskeyAuthenticator, PasskeyCeremony,
    PasskeyPrompt, PasskeyStateStore, UserPresence,
};
use crate::error::StepUpError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use std::sync::{Arc, Mutex, PoisonError};
use stepup_protocol::Secret;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, WebauthnCError,
};
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;

/// A passkey held by this device, sealed in `store`. Ceremonies are serialised: two at once
/// would sign with the same counter, and the server would refuse the second as a clone.
pub struct DevicePasskey {
    /// Where the authenticator's state is sealed.
    store: Arc<dyn PasskeyStateStore>,
    /// One ceremony at a time (load → sign → save).
    ceremony: Mutex<()>,
}

impl std::fmt::Debug for DevicePasskey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePasskey").finish_non_exhaustive()
    }
}

impl DevicePasskey {
    /// A device passkey over `store`.
    pub fn new(store: Arc<dyn PasskeyStateStore>) -> Self {
        Self {
            store,
            ceremony: Mutex::new(()),
        }
    }

    /// Whether this device holds passkey state (it may hold no credential the server knows).
    pub fn is_enrolled(&self) -> Result<bool, StepUpError> {
        Ok(self.store.load()?.is_some())
    }

    /// Loads the token (or makes a new one if `create`), runs `f`, saves the token.
    fn with_token<T>(
        &self,
        create: bool,
        f: impl FnOnce(&mut SoftToken) -> Result<T, WebauthnCError>,
    ) -> Result<T, StepUpError> {
        let _one_at_a_time = self.ceremony.lock().unwrap_or_else(PoisonError::into_inner);
        let mut token = match self.store.load()? {
            Some(state) => {
                let cbor = B64
                    .decode(state.expose())
                    .map_err(|_| corrupt("not base64url"))?;
                SoftToken::from_cbor(&cbor).map_err(|_| corrupt("not a soft token"))?
            }
            // `true`: the token claims user verification; the dialog's confirmation is it.
            None if create => SoftToken::new(true)
                .map(|(token, _ca)| token)
                .map_err(|e| map_authenticator_error(&e))?,
            None => return Err(StepUpError::NoPasskeyCredentials),
        };
        let out = f(&mut token);
        // Saved whatever `f` answered: a failed signing may still have moved the counter.
        let cbor = token.to_cbor().map_err(|e| map_authenticator_error(&e))?;
        self.store.save(&Secret::new(B64.encode(cbor)))?;
        out.map_err(|e| match e {
            // The soft token's "Credential ID not found".
            WebauthnCError::Internal => StepUpError::NoPasskeyCredentials,
            other => map_authenticator_error(&other),
        })
    }
}

fn corrupt(what: &str) -> StepUpError {
    StepUpError::Vault(crate::vault::VaultError::Corrupt(format!(
        "the device passkey state is {what}"
    )))
}

fn confirm(
    presence: &dyn UserPresence,
    ceremony: PasskeyCeremony,
    rp_id: &str,
    origin: &Url,
) -> Result<(), StepUpError> {
    let prompt = PasskeyPrompt {
        ceremony,
        rp_id: rp_id.to_owned(),
        origin: origin.as_str().trim_end_matches('/').to_owned(),
    };
    if presence.confirm(&prompt) {
        Ok(())
    } else {
        Err(StepUpError::Cancelled)
    }
}

impl PasskeyAuthenticator for DevicePasskey {
    fn kind(&self) -> AuthenticatorKind {
        AuthenticatorKind::DevicePasskey
    }

    fn register(
        &self,
        origin: Url,
        options: CreationChallengeResponse,
        presence: &dyn UserPresence,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        let rp_id = options.public_key.rp.id.clone();
        confirm(presence, PasskeyCeremony::Register, &rp_id, &origin)?;
        self.with_token(true, |token| token.do_registration(origin, options))
    }

    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        presence: &dyn UserPresence,
    ) -> Result<PublicKeyCredential, StepUpError> {
        let rp_id = options.public_key.rp_id.clone();
        confirm(presence, PasskeyCeremony::Authenticate, &rp_id, &origin)?;
        self.with_token(false, |token| token.do_authentication(origin, options))
    }
}
