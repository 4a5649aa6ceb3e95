//! Passkey step-up: `users/passkeys/authenticate` gives a challenge for the caller's
//! passkeys, and `users/mfa/auth/passkey` verifies the assertion against that spent challenge
//! (WebAuthn §7.2: by webauthn-rs, or by [`eddsa`] for Ed25519 credentials) and the stored
//! counter, saves the new counter and grants. An assertion refused for its content (no
//! pending challenge, an unknown passkey, a bad signature) counts as a failed MFA attempt.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use stepup_protocol::{
    codes, PasskeyAllowCredential, PasskeyAuthRequest, PasskeyAuthenticationOptions, VerifyResponse,
};
use webauthn_rs::prelude::{Passkey, PasskeyAuthentication, PublicKeyCredential, WebauthnError};

use super::{
    check_len, eddsa, extensions, malformed, public_key_json, user_handle, CeremonyKind,
    CEREMONY_TTL_MS,
};
use crate::authority::grant::Session;
use crate::authority::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::store::{Ed25519Credential, PasskeyKey};

/// The refusal of an assertion that answers no pending challenge.
const NO_CHALLENGE: &str =
    "no pending passkey challenge matches this assertion (expired, already used, or replayed)";

/// Why an assertion was refused, in words a user can act on (never the signature itself).
fn assertion_refusal(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::UserNotVerified => {
            "the authenticator did not verify the user (user verification is required)"
        }
        WebauthnError::CredentialPossibleCompromise => {
            "the signature counter did not increase: this looks like a replayed or cloned authenticator"
        }
        WebauthnError::InvalidRPOrigin => "clientDataJSON carries another origin than the app's",
        WebauthnError::InvalidRPIDHash => "the assertion is for another relying party",
        WebauthnError::AuthenticationFailure => "the signature does not verify",
        _ => "the passkey assertion is not valid",
    }
}

impl Authority {
    /// The user's passkeys that webauthn-rs verifies.
    fn passkeys_of(&self, user_id: &str) -> Result<Vec<Passkey>, ApiError> {
        Ok(self
            .user(user_id)?
            .passkeys
            .iter()
            .filter_map(|p| match &p.key {
                PasskeyKey::WebauthnRs(passkey) => Some(passkey.as_ref().clone()),
                PasskeyKey::Ed25519(_) => None,
            })
            .collect())
    }

    /// `GET users/passkeys/authenticate`: a challenge for the caller's passkeys. With none,
    /// `allowCredentials` is empty (the client then stops: `NoPasskeyCredentialsFoundError`).
    pub(crate) fn passkey_auth_options(
        &mut self,
        ctx: &SessionCtx,
    ) -> Result<PasskeyAuthenticationOptions, ApiError> {
        let passkeys = self.passkeys_of(&ctx.user_id)?;
        let ed25519: Vec<PasskeyAllowCredential> = self
            .user(&ctx.user_id)?
            .passkeys
            .iter()
            .filter(|p| matches!(p.key, PasskeyKey::Ed25519(_)))
            .map(|p| PasskeyAllowCredential {
                id: p.credential_id.clone(),
                transports: None,
            })
            .collect();
        let own_options = |allow: Vec<PasskeyAllowCredential>| PasskeyAuthenticationOptions {
            challenge: B64.encode(crypto::random_bytes::<32>()),
            timeout: Some(CEREMONY_TTL_MS.unsigned_abs()),
            rp_id: Some(self.passkey_rp_id.clone()),
            user_verification: Some("required".into()),
            allow_credentials: Some(allow),
        };
        if passkeys.is_empty() && ed25519.is_empty() {
            return Ok(own_options(Vec::new()));
        }
        let (options, state) = if passkeys.is_empty() {
            // Only EdDSA passkeys: the challenge is the sandbox's own.
            (own_options(ed25519), None)
        } else {
            let (rcr, state) = self
                .webauthn
                .start_passkey_authentication(&passkeys)
                .map_err(|_| ApiError::internal("the passkey authentication could not start"))?;
            let mut options: PasskeyAuthenticationOptions = public_key_json(&rcr)?;
            options
                .allow_credentials
                .get_or_insert_with(Vec::new)
                .extend(ed25519);
            (options, Some(state))
        };
        let kind = CeremonyKind::Authentication { state };
        self.remember(&ctx.user_id, &options.challenge, kind);
        Ok(options)
    }

    /// `POST users/mfa/auth/passkey`: verifies the assertion against the spent challenge and
    /// the stored counter, saves the new counter, rotates the session and mints the token.
    pub(crate) fn passkey_auth(
        &mut self,
        ctx: &SessionCtx,
        req: &PasskeyAuthRequest,
    ) -> Result<VerifyResponse, ApiError> {
        let r = &req.response;
        check_len(&[
            &req.id,
            &req.raw_id,
            &r.client_data_json,
            &r.authenticator_data,
            &r.signature,
        ])?;
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        self.require_method_on("passkey")?;
        self.mfa_guard(&ctx.user_id)?;
        let Some((challenge, CeremonyKind::Authentication { state })) =
            self.take_ceremony(ctx, &r.client_data_json)
        else {
            return Err(self.mfa_failed(&ctx.user_id, codes::MFA_INVALID_CODE, NO_CHALLENGE));
        };
        let raw_id = eddsa::decode_b64(&req.raw_id).ok_or_else(|| malformed("credential id"))?;
        let raw_id = B64.encode(raw_id);
        let Some((index, key)) = self
            .user(&ctx.user_id)?
            .passkeys
            .iter()
            .enumerate()
            .find(|(_, p)| p.credential_id == raw_id)
            .map(|(i, p)| (i, p.key.clone()))
        else {
            return Err(self.mfa_failed(
                &ctx.user_id,
                codes::PASSKEY_NOT_FOUND,
                "this passkey is not registered for the signed-in user",
            ));
        };
        let key = match key {
            PasskeyKey::WebauthnRs(_) => {
                let Some(state) = state else {
                    return Err(self.mfa_failed(
                        &ctx.user_id,
                        codes::MFA_INVALID_CODE,
                        NO_CHALLENGE,
                    ));
                };
                self.verify_webauthn_assertion(ctx, req, &state, index)?
            }
            PasskeyKey::Ed25519(credential) => {
                let assertion = eddsa::Assertion {
                    client_data_json: &r.client_data_json,
                    authenticator_data: &r.authenticator_data,
                    signature: &r.signature,
                    user_handle: r.user_handle.as_deref(),
                };
                let handle = user_handle(&ctx.user_id);
                let verified = eddsa::verify_assertion(
                    &self.expected(&challenge),
                    &credential,
                    handle.as_bytes(),
                    &assertion,
                );
                match verified {
                    Ok(counter) => PasskeyKey::Ed25519(Ed25519Credential {
                        counter,
                        ..credential
                    }),
                    Err(e) => {
                        tracing::info!(error = ?e, "EdDSA passkey assertion refused");
                        return Err(self.mfa_failed(
                            &ctx.user_id,
                            codes::MFA_INVALID_CODE,
                            e.message(),
                        ));
                    }
                }
            }
        };
        self.passkey_accepted(ctx, index, key, &scopes)
    }

    /// webauthn-rs's verification of an assertion by passkey `index` of the caller; returns
    /// the key with its counter advanced.
    fn verify_webauthn_assertion(
        &mut self,
        ctx: &SessionCtx,
        req: &PasskeyAuthRequest,
        state: &PasskeyAuthentication,
        index: usize,
    ) -> Result<PasskeyKey, ApiError> {
        let r = &req.response;
        let credential: PublicKeyCredential = serde_json::from_value(serde_json::json!({
            "id": req.id, "rawId": req.raw_id, "type": req.kind,
            "response": {
                "clientDataJSON": r.client_data_json, "authenticatorData": r.authenticator_data,
                "signature": r.signature, "userHandle": r.user_handle,
            },
            "clientExtensionResults": extensions(&req.client_extension_results),
        }))
        .map_err(|_| malformed("assertion"))?;
        let result = match self
            .webauthn
            .finish_passkey_authentication(&credential, state)
        {
            Ok(result) if result.user_verified() => result,
            Ok(_) => {
                return Err(self.mfa_failed(
                    &ctx.user_id,
                    codes::MFA_INVALID_CODE,
                    assertion_refusal(&WebauthnError::UserNotVerified),
                ))
            }
            Err(e) => {
                tracing::info!(error = ?e, "passkey assertion refused");
                return Err(self.mfa_failed(
                    &ctx.user_id,
                    codes::MFA_INVALID_CODE,
                    assertion_refusal(&e),
                ));
            }
        };
        let mut passkey = match self.user(&ctx.user_id)?.passkeys.get(index).map(|p| &p.key) {
            Some(PasskeyKey::WebauthnRs(passkey)) => passkey.clone(),
            _ => return Err(ApiError::internal("the passkey changed during its use")),
        };
        passkey.update_credential(&result);
        Ok(PasskeyKey::WebauthnRs(passkey))
    }

    /// An accepted assertion by passkey `index`, whatever verified it: saves its `key` (the
    /// next assertion must count higher), rotates the session and mints the elevated token.
    fn passkey_accepted(
        &mut self,
        ctx: &SessionCtx,
        index: usize,
        key: PasskeyKey,
        scopes: &[String],
    ) -> Result<VerifyResponse, ApiError> {
        if let Some(record) = self.user_mut(&ctx.user_id)?.passkeys.get_mut(index) {
            record.key = key;
        }
        self.grant(Session::Rotate(ctx), scopes, None)
    }
}
