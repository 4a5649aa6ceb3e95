//! The device passkey: a CTAP2 software authenticator (`SoftToken`) whose whole state lives
//! in a [`PasskeyStateStore`] (the OS keychain), sealed under the user's PIN (`sealed.rs`),
//! opened for one ceremony and sealed and saved right after it, before anything is sent: the
//! signature counter never goes back. A wrong PIN is saved as one try fewer before the
//! ceremony ends.

use super::os::OsVerifier;
use super::sealed::{self, Opened, PinKey, PinStatus, Stored};
use super::{
    map_authenticator_error, AuthenticatorKind, PasskeyAuthenticator, PasskeyCeremony,
    PasskeyPrompt, PasskeyStateStore, UserVerification,
};
use crate::error::StepUpError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use stepup_protocol::Secret;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, WebauthnCError,
};
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use zeroize::Zeroizing;

/// A passkey held by this device, sealed in `store`. Ceremonies are serialised: two at once
/// would sign with the same counter, and the server would refuse the second as a clone.
pub struct DevicePasskey {
    /// Where the authenticator's state is sealed.
    store: Arc<dyn PasskeyStateStore>,
    /// One ceremony at a time (load → sign → save).
    ceremony: Mutex<()>,
    /// The OS's user verification (polkit), when the desktop has it: new passkeys are sealed
    /// by it instead of a PIN.
    os: Option<Arc<dyn OsVerifier>>,
    /// The OS said it cannot ask (no polkit agent in this session): new passkeys are sealed
    /// by a PIN from then on, and an OS-sealed one is offered for removal, until the OS
    /// answers again.
    os_cannot_ask: AtomicBool,
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
            os: None,
            os_cannot_ask: AtomicBool::new(false),
        }
    }

    /// The same passkey, verifying its user with the OS (`Polkit::detect()`): a new passkey
    /// is sealed by the OS instead of a PIN; one already sealed by a PIN keeps its PIN.
    pub fn with_os_verification(mut self, os: Arc<dyn OsVerifier>) -> Self {
        self.os = Some(os);
        self
    }

    /// Whether the OS verifies this device's passkey user now (no PIN asked; a new passkey is
    /// sealed by it): OS verification is on and has not said it cannot ask.
    pub fn os_can_verify(&self) -> bool {
        self.os.is_some() && !self.os_cannot_ask.load(Ordering::Relaxed)
    }

    /// Runs `ask` (a question to the OS); what the OS says of its own availability is kept.
    fn ask_os<T>(&self, ask: impl FnOnce() -> Result<T, StepUpError>) -> Result<T, StepUpError> {
        let answer = ask();
        match &answer {
            // No agent to ask: said, and new passkeys take a PIN.
            Err(StepUpError::OsVerificationUnavailable) => {
                self.os_cannot_ask.store(true, Ordering::Relaxed)
            }
            Err(_) => {}
            Ok(_) => self.os_cannot_ask.store(false, Ordering::Relaxed),
        }
        answer
    }

    /// Whether this device holds passkey state (it may hold no credential the server knows).
    pub fn is_enrolled(&self) -> Result<bool, StepUpError> {
        Ok(self.store.load()?.is_some())
    }

    /// Whether a PIN is set, and how many wrong PINs are left before the passkey locks.
    pub fn pin_status(&self) -> Result<PinStatus, StepUpError> {
        sealed::status(self.store.load()?.as_ref())
    }

    /// Removes this device's passkey state (a locked passkey, or one from before PINs, is
    /// removed and added again; the server keeps listing its credential until it is deleted
    /// there).
    pub fn remove(&self) -> Result<(), StepUpError> {
        let _one_at_a_time = self.ceremony.lock().unwrap_or_else(PoisonError::into_inner);
        self.store.remove()?;
        Ok(())
    }

    /// Seals an enrolled authenticator state (a soft token's CBOR, base64url, as the sandbox's
    /// demo hands it out) under a new `pin`, replacing what the store holds.
    pub fn import(&self, state: &Secret, pin: &Secret) -> Result<(), StepUpError> {
        let cbor = cbor_of(state)?;
        token_of(&cbor)?;
        let key = PinKey::new_pin(pin)?;
        let _one_at_a_time = self.ceremony.lock().unwrap_or_else(PoisonError::into_inner);
        self.store.save(&key.seal(&cbor)?)?;
        Ok(())
    }

    /// Opens the token with the user's PIN (or makes a new one under a new PIN if `create`
    /// and there is none), runs `f`, seals and saves the token.
    fn with_token<T>(
        &self,
        prompt: PasskeyPrompt,
        verification: &dyn UserVerification,
        f: impl FnOnce(&mut SoftToken) -> Result<T, WebauthnCError>,
    ) -> Result<T, StepUpError> {
        let create = prompt.ceremony == PasskeyCeremony::Register;
        let _one_at_a_time = self.ceremony.lock().unwrap_or_else(PoisonError::into_inner);
        let stored = self.store.load()?;
        let (mut token, key) = match stored.as_ref().map(sealed::parse).transpose()? {
            Some(Stored::Sealed(sealed)) if sealed.is_os() => {
                // No PIN: the OS asks (and refuses); no try is counted here. Without the OS
                // (its helper uninstalled), nothing opens it.
                let os = self
                    .os
                    .as_deref()
                    .ok_or(StepUpError::OsVerificationUnavailable)?;
                let (cbor, key) = self.ask_os(|| sealed.open_os(os))?;
                (token_of(&cbor)?, key)
            }
            Some(Stored::Sealed(sealed)) => {
                if sealed.tries_left() == 0 {
                    return Err(StepUpError::PinLocked);
                }
                let pin = ask(
                    verification,
                    PasskeyPrompt {
                        new_pin: false,
                        ..prompt
                    },
                )?;
                match sealed.open(&pin)? {
                    Opened::Open { cbor, key } => (token_of(&cbor)?, key),
                    Opened::Wrong { store, tries_left } => {
                        self.store.save(&store)?;
                        tracing::warn!(tries_left, "wrong device passkey PIN");
                        return Err(if tries_left == 0 {
                            StepUpError::PinLocked
                        } else {
                            StepUpError::WrongPin { tries_left }
                        });
                    }
                }
            }
            // A state from before PINs cannot verify its user: it signs nothing. Registering
            // again seals it under the new PIN (it was usable without one until now).
            Some(Stored::Unsealed) if !create => return Err(StepUpError::PinNotSet),
            None if !create => return Err(StepUpError::NoPasskeyCredentials),
            unsealed_or_none => {
                let os = self.os.as_deref().filter(|_| self.os_can_verify());
                let key = match os {
                    Some(os) => self.ask_os(|| PinKey::new_os(os))?,
                    None => PinKey::new_pin(&ask(
                        verification,
                        PasskeyPrompt {
                            new_pin: true,
                            ..prompt
                        },
                    )?)?,
                };
                let token = match (unsealed_or_none, stored.as_ref()) {
                    (Some(_), Some(state)) => token_of(&cbor_of(state)?)?,
                    // `true`: the token reports user verification, which the PIN now is:
                    // nothing can sign without it.
                    _ => SoftToken::new(true)
                        .map(|(token, _ca)| token)
                        .map_err(|e| map_authenticator_error(&e))?,
                };
                (token, key)
            }
        };
        let out = f(&mut token);
        // Saved whatever `f` answered: a failed signing may still have moved the counter.
        let cbor = Zeroizing::new(token.to_cbor().map_err(|e| map_authenticator_error(&e))?);
        self.store.save(&key.seal(&cbor)?)?;
        out.map_err(|e| match e {
            // The soft token's "Credential ID not found".
            WebauthnCError::Internal => StepUpError::NoPasskeyCredentials,
            other => map_authenticator_error(&other),
        })
    }
}

/// The CBOR of an unsealed state (base64url, as the sandbox's demo and older builds wrote it).
fn cbor_of(state: &Secret) -> Result<Zeroizing<Vec<u8>>, StepUpError> {
    B64.decode(state.expose())
        .map(Zeroizing::new)
        .map_err(|_| corrupt("is not base64url"))
}

/// The soft token a state's CBOR holds.
fn token_of(cbor: &[u8]) -> Result<SoftToken, StepUpError> {
    SoftToken::from_cbor(cbor).map_err(|_| corrupt("is not a soft token"))
}

fn corrupt(what: &str) -> StepUpError {
    StepUpError::Vault(crate::vault::VaultError::Corrupt(format!(
        "the device passkey state {what}"
    )))
}

/// The user's PIN for `prompt`; no answer cancels.
fn ask(verification: &dyn UserVerification, prompt: PasskeyPrompt) -> Result<Secret, StepUpError> {
    match verification.pin(&prompt) {
        Some(pin) if pin.expose().is_empty() => Err(StepUpError::PinRequired),
        Some(pin) => Ok(pin),
        None => Err(StepUpError::Cancelled),
    }
}

fn prompt(ceremony: PasskeyCeremony, rp_id: &str, origin: &Url) -> PasskeyPrompt {
    PasskeyPrompt {
        ceremony,
        rp_id: rp_id.to_owned(),
        origin: origin.as_str().trim_end_matches('/').to_owned(),
        new_pin: false,
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
        verification: &dyn UserVerification,
    ) -> Result<RegisterPublicKeyCredential, StepUpError> {
        let prompt = prompt(
            PasskeyCeremony::Register,
            &options.public_key.rp.id,
            &origin,
        );
        self.with_token(prompt, verification, |token| {
            token.do_registration(origin, options)
        })
    }

    fn authenticate(
        &self,
        origin: Url,
        options: RequestChallengeResponse,
        verification: &dyn UserVerification,
    ) -> Result<PublicKeyCredential, StepUpError> {
        let prompt = prompt(
            PasskeyCeremony::Authenticate,
            &options.public_key.rp_id,
            &origin,
        );
        self.with_token(prompt, verification, |token| {
            token.do_authentication(origin, options)
        })
    }
}
