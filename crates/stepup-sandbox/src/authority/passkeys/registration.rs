//! Passkey registration: a `GET` starts a ceremony whose challenge the `POST` must answer, for
//! an MFA device (`users/mfa/register/passkey`) or an account passkey (`users/passkeys/register`).
//! The `credential:link` token is where the SDK sends it: for an account passkey on the `POST`
//! (C:`serverRegisterPasskey` builds its client with `elevatedAccessTokenScope`, the options'
//! `getPasskeyRegistrationOptions` without one), checked after the attestation and spent just
//! before the passkey is stored; for an MFA passkey (API only, no SDK wrapper) on the `GET`, as
//! for `users/mfa/register/totp`. EdDSA attestations are verified by [`eddsa`], every other by
//! webauthn-rs. The demo user's soft-token passkey goes through the same ceremony.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use stepup_protocol::{
    codes, MfaPasskeyRegisterRequest, MfaPasskeyRegistration, PasskeyCredentialParam,
    PasskeyRegisterRequest, PasskeyRegistrationOptions, Secret, VerifyResponse,
};
use webauthn_rs::prelude::{CredentialID, PasskeyRegistration, RegisterPublicKeyCredential};

use super::{check_len, eddsa, extensions, malformed, public_key_json, user_handle, CeremonyKind};
use crate::authority::tokens::{CredentialLink, PresentedToken};
use crate::authority::{Authority, SessionCtx};
use crate::crypto;
use crate::error::{ApiError, SandboxError};
use crate::store::{PasskeyKey, PasskeyRecord};

/// Label of the demo user's device passkey.
const DEMO_PASSKEY_ALIAS: &str = "This device (passkey)";

/// The new credential of a registration body, whichever endpoint it came to.
struct NewCredential<'a> {
    id: &'a str,
    raw_id: &'a str,
    kind: &'a str,
    client_data_json: &'a str,
    attestation_object: &'a str,
    client_extension_results: &'a serde_json::Value,
}

impl NewCredential<'_> {
    fn check_len(&self) -> Result<(), ApiError> {
        check_len(&[
            self.id,
            self.raw_id,
            self.client_data_json,
            self.attestation_object,
        ])
    }

    /// The `RegisterPublicKeyCredential` JSON webauthn-rs reads.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "rawId": self.raw_id, "type": self.kind,
            "response": {"clientDataJSON": self.client_data_json, "attestationObject": self.attestation_object},
            "clientExtensionResults": extensions(self.client_extension_results),
        })
    }
}

/// The ceremony a registration `POST` finishes, and what it adds.
struct Registration<'a> {
    /// The id the new device or passkey gets.
    device_id: String,
    /// The ceremony's challenge (base64url), already taken from the pending ones.
    challenge: &'a str,
    /// webauthn-rs's state of the ceremony.
    state: &'a PasskeyRegistration,
    /// An MFA device (`users/mfa/register/passkey`) rather than an account passkey.
    mfa: bool,
    /// The `credential:link` token of an endpoint that takes it on its `POST`.
    token: Option<&'a PresentedToken<CredentialLink>>,
}

fn no_pending_registration() -> ApiError {
    ApiError::unprocessable(
        codes::MFA_INVALID_REQUEST,
        "no pending passkey registration for this challenge (expired or already used): start again",
    )
}

impl Authority {
    fn start_registration(
        &self,
        user_id: &str,
    ) -> Result<(PasskeyRegistrationOptions, PasskeyRegistration), ApiError> {
        let user = self.user(user_id)?;
        let name = user
            .email
            .as_ref()
            .map(|e| e.address.clone())
            .unwrap_or_else(|| user.id.clone());
        let exclude: Vec<CredentialID> = user
            .passkeys
            .iter()
            .filter_map(|p| eddsa::decode_b64(&p.credential_id))
            .collect();
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(
                user_handle(user_id),
                &name,
                &name,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|_| ApiError::internal("the passkey registration could not start"))?;
        let mut options: PasskeyRegistrationOptions = public_key_json(&ccr)?;
        // webauthn-rs offers ES256, ES384 and RS256 (Windows Hello); EdDSA is verified here.
        if !options
            .pub_key_cred_params
            .iter()
            .any(|p| p.alg == eddsa::COSE_ALG_EDDSA)
        {
            options.pub_key_cred_params.push(PasskeyCredentialParam {
                alg: eddsa::COSE_ALG_EDDSA,
                kind: "public-key".into(),
            });
        }
        Ok((options, state))
    }

    /// Starts a registration ceremony that finishes `kind`.
    fn begin_registration(
        &mut self,
        ctx: &SessionCtx,
        kind: impl FnOnce(PasskeyRegistration) -> CeremonyKind,
    ) -> Result<PasskeyRegistrationOptions, ApiError> {
        let (options, state) = self.start_registration(&ctx.user_id)?;
        self.remember(&ctx.user_id, &options.challenge, kind(state));
        Ok(options)
    }

    /// `GET users/mfa/register/passkey`: a ceremony for a new MFA device.
    pub(crate) fn passkey_mfa_register_start(
        &mut self,
        ctx: &SessionCtx,
        token: &PresentedToken<CredentialLink>,
    ) -> Result<MfaPasskeyRegistration, ApiError> {
        self.require_elevated(ctx, token)?;
        let device_id = crypto::new_id();
        let registration = self.begin_registration(ctx, |state| {
            let device_id = device_id.clone();
            CeremonyKind::MfaRegistration { device_id, state }
        })?;
        Ok(MfaPasskeyRegistration {
            id: device_id,
            kind: "passkey".into(),
            registration,
        })
    }

    /// `GET users/passkeys/register`: a ceremony for a new account passkey. No token: the
    /// SDK sends none here; the `POST` that would add the passkey needs it.
    pub(crate) fn passkey_account_register_start(
        &mut self,
        ctx: &SessionCtx,
    ) -> Result<PasskeyRegistrationOptions, ApiError> {
        self.begin_registration(ctx, |state| CeremonyKind::AccountRegistration { state })
    }

    /// `POST users/mfa/register/passkey`: verifies the attestation, adds the MFA device.
    pub(crate) fn passkey_mfa_register_finish(
        &mut self,
        ctx: &SessionCtx,
        req: &MfaPasskeyRegisterRequest,
    ) -> Result<VerifyResponse, ApiError> {
        let a = &req.attestation;
        let credential = NewCredential {
            id: &a.id,
            raw_id: &a.raw_id,
            kind: &a.kind,
            client_data_json: &a.response.client_data_json,
            attestation_object: &a.response.attestation_object,
            client_extension_results: &a.client_extension_results,
        };
        check_len(&[&req.id])?;
        credential.check_len()?;
        let (challenge, device_id, state) =
            match self.take_ceremony(ctx, credential.client_data_json) {
                Some((challenge, CeremonyKind::MfaRegistration { device_id, state }))
                    if device_id == req.id =>
                {
                    (challenge, device_id, state)
                }
                _ => return Err(no_pending_registration()),
            };
        let registration = Registration {
            device_id,
            challenge: &challenge,
            state: &state,
            mfa: true,
            token: None,
        };
        self.finish_registration(ctx, &credential, registration)
    }

    /// `POST users/passkeys/register` (`credential:link`): verifies the attestation, then
    /// the token (so a refused attestation never spends it), then adds the passkey.
    pub(crate) fn passkey_account_register_finish(
        &mut self,
        ctx: &SessionCtx,
        req: &PasskeyRegisterRequest,
        token: &PresentedToken<CredentialLink>,
    ) -> Result<VerifyResponse, ApiError> {
        let credential = NewCredential {
            id: &req.id,
            raw_id: &req.raw_id,
            kind: &req.kind,
            client_data_json: &req.response.client_data_json,
            attestation_object: &req.response.attestation_object,
            client_extension_results: &req.client_extension_results,
        };
        credential.check_len()?;
        let (challenge, state) = match self.take_ceremony(ctx, credential.client_data_json) {
            Some((challenge, CeremonyKind::AccountRegistration { state })) => (challenge, state),
            _ => return Err(no_pending_registration()),
        };
        let registration = Registration {
            device_id: crypto::new_id(),
            challenge: &challenge,
            state: &state,
            mfa: false,
            token: Some(token),
        };
        self.finish_registration(ctx, &credential, registration)
    }

    /// Verifies a registration answering its ceremony: an EdDSA credential here, any other
    /// with webauthn-rs and the ceremony's state; then the `credential:link` token the
    /// endpoint takes on its `POST` (if it does); then stores the passkey. The session is not
    /// rotated: a registration proves no user verification.
    fn finish_registration(
        &mut self,
        ctx: &SessionCtx,
        credential: &NewCredential<'_>,
        registration: Registration<'_>,
    ) -> Result<VerifyResponse, ApiError> {
        let Registration {
            device_id,
            challenge,
            state,
            mfa,
            token,
        } = registration;
        let refused = |e: &dyn std::fmt::Display| {
            ApiError::unprocessable(
                codes::MFA_INVALID_REQUEST,
                format!("the passkey attestation was refused: {e}"),
            )
        };
        let (credential_id, key) = if eddsa::is_okp_registration(credential.attestation_object) {
            let registered = eddsa::verify_registration(
                &self.expected(challenge),
                credential.raw_id,
                credential.client_data_json,
                credential.attestation_object,
            )
            .map_err(|e| {
                tracing::info!(error = ?e, "EdDSA passkey registration refused");
                refused(&e.message())
            })?;
            (
                B64.encode(&registered.credential_id),
                PasskeyKey::Ed25519(registered.credential),
            )
        } else {
            let credential: RegisterPublicKeyCredential =
                serde_json::from_value(credential.to_json())
                    .map_err(|_| malformed("attestation"))?;
            let passkey = self
                .webauthn
                .finish_passkey_registration(&credential, state)
                .map_err(|e| {
                    tracing::info!(error = ?e, "passkey registration refused");
                    refused(&e)
                })?;
            (
                B64.encode(passkey.cred_id()),
                PasskeyKey::WebauthnRs(Box::new(passkey)),
            )
        };
        let taken = self
            .state
            .users
            .values()
            .any(|u| u.passkeys.iter().any(|p| p.credential_id == credential_id));
        if taken {
            return Err(ApiError::unprocessable(
                codes::MFA_INVALID_REQUEST,
                "this passkey is already registered",
            ));
        }
        if let Some(token) = token {
            self.require_elevated(ctx, token)?;
        }
        let now = self.now_ms();
        let user = self.user_mut(&ctx.user_id)?;
        let alias = match user.passkeys.len() {
            0 => "Passkey".to_owned(),
            n => format!("Passkey {}", n + 1),
        };
        user.passkeys.push(PasskeyRecord {
            id: device_id,
            credential_id,
            key,
            alias: Some(alias),
            default: false,
            mfa,
            created_at_ms: now,
        });
        self.persist()?;
        self.verify_response(&ctx.sid, None, None)
    }

    /// Enrols a device passkey for `user_id` with a fresh soft token, through the same
    /// ceremony as the HTTP registration, marked as the default MFA device. Returns the
    /// device id and the token's state.
    pub(crate) fn enrol_soft_passkey(
        &mut self,
        user_id: &str,
    ) -> Result<(String, Secret), SandboxError> {
        use webauthn_authenticator_rs::softtoken::SoftToken;
        use webauthn_authenticator_rs::WebauthnAuthenticator as _;
        let fail = |what: &str| SandboxError::Config(format!("demo passkey: {what}"));
        let (options, state) = self
            .start_registration(user_id)
            .map_err(|e| fail(&e.body.error))?;
        let ccr = serde_json::from_value(serde_json::json!({ "publicKey": options }))
            .map_err(|e| fail(&e.to_string()))?;
        let (mut token, _ca) = SoftToken::new(true).map_err(|e| fail(&e.to_string()))?;
        let origin = self.webauthn.get_allowed_origins().first().cloned();
        let origin = origin.ok_or_else(|| fail("no origin"))?;
        let credential = token
            .do_registration(origin, ccr)
            .map_err(|e| fail(&e.to_string()))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| fail(&e.to_string()))?;
        let cbor = token.to_cbor().map_err(|e| fail(&e.to_string()))?;
        let now = self.now_ms();
        let id = crypto::new_id();
        let user = self
            .state
            .user_mut(user_id)
            .ok_or_else(|| fail("no such user"))?;
        user.passkeys.push(PasskeyRecord {
            id: id.clone(),
            credential_id: B64.encode(passkey.cred_id()),
            key: PasskeyKey::WebauthnRs(Box::new(passkey)),
            alias: Some(DEMO_PASSKEY_ALIAS.into()),
            // The demo's step-ups default to it (the card: MFA users default to passkeys).
            default: true,
            mfa: true,
            created_at_ms: now,
        });
        Ok((id, Secret::new(B64.encode(cbor))))
    }
}
