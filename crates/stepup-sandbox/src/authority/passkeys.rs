//! Passkeys, verified with `webauthn-rs` (EdDSA ones by [`eddsa`]): MFA and account registration (both behind a
//! `credential:link` token, checked by the HTTP layer), authentication options, and the
//! passkey step-up. Ceremony state stays here, in memory: single use, 60 s.
//!
//! User verification is required (webauthn-rs's passkey ceremonies demand it), and the
//! signature counter of each credential is saved after every accepted assertion, so a replayed
//! assertion (its challenge is spent) or a cloned authenticator (its counter is not above the
//! stored one) is refused.

mod eddsa;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use std::time::Duration;
use stepup_protocol::{
    codes, CredentialFormat, MfaDevice, MfaPasskeyRegisterRequest, MfaPasskeyRegistration,
    PasskeyAllowCredential, PasskeyAuthRequest, PasskeyAuthenticationOptions,
    PasskeyCredentialParam, PasskeyRegisterRequest, PasskeyRegistrationOptions, Secret,
    StepUpCredential, VerifyResponse,
};
use webauthn_rs::prelude::{
    CredentialID, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::{rfc3339, Authority, SessionCtx};
use crate::crypto;
use crate::error::{ApiError, SandboxError};
use crate::store::{PasskeyKey, PasskeyRecord};

/// How long a ceremony may take (the options' `timeout`, and the life of its state).
pub(crate) const CEREMONY_TTL_MS: i64 = 60_000;
/// Pending ceremonies kept at most (oldest dropped first).
const MAX_CEREMONIES: usize = 10_000;
/// The longest base64url field accepted in a passkey body.
const MAX_FIELD_LEN: usize = 16 * 1024;
/// Label of the demo user's device passkey.
pub(crate) const DEMO_PASSKEY_ALIAS: &str = "This device (passkey)";

/// What a pending ceremony will finish.
pub(crate) enum CeremonyKind {
    /// `users/mfa/register/passkey`, for MFA device `device_id`.
    MfaRegistration {
        device_id: String,
        state: PasskeyRegistration,
    },
    /// `users/passkeys/register`.
    AccountRegistration { state: PasskeyRegistration },
    /// `users/passkeys/authenticate` → `users/mfa/auth/passkey`; webauthn-rs's state when
    /// the user has passkeys it verifies (none when all of them are EdDSA).
    Authentication {
        state: Option<PasskeyAuthentication>,
    },
}

/// A started ceremony, keyed by its challenge (base64url).
pub(crate) struct Ceremony {
    user_id: String,
    created_at_ms: i64,
    kind: CeremonyKind,
}

/// The relying party of a sandbox: refuses an rp id that is not the origin's host or a
/// registrable suffix of it, and IP addresses.
pub(crate) fn relying_party(rp_id: &str, origin: &str) -> Result<Webauthn, SandboxError> {
    let url = Url::parse(origin)
        .map_err(|e| SandboxError::Config(format!("passkey_origin {origin:?}: {e}")))?;
    WebauthnBuilder::new(rp_id, &url)
        .and_then(|b| {
            b.rp_name("Stepup Sandbox")
                .timeout(Duration::from_millis(CEREMONY_TTL_MS.unsigned_abs()))
                .build()
        })
        .map_err(|e| {
            SandboxError::Config(format!(
                "passkey_rp_id {rp_id:?} does not fit passkey_origin {origin:?} ({e}): use a domain, never an IP"
            ))
        })
}

/// The user handle of a user id: its UUID when it is one, else a UUID made from its hash.
fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let hash = crypto::salted_hash(b"stepup-user-handle", user_id);
        let mut bytes = [0u8; 16];
        for (b, pair) in bytes.iter_mut().zip(hash.as_bytes().chunks(2)) {
            *b = std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or(0);
        }
        Uuid::from_bytes(bytes)
    })
}

/// `publicKey` of a webauthn-rs challenge, as the API's JSON model.
fn public_key_json<T: serde::Serialize, O: serde::de::DeserializeOwned>(
    challenge: &T,
) -> Result<O, ApiError> {
    let mut value = serde_json::to_value(challenge)
        .map_err(|_| ApiError::internal("the passkey options could not be encoded"))?;
    let public_key = value
        .get_mut("publicKey")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    serde_json::from_value(public_key)
        .map_err(|_| ApiError::internal("the passkey options could not be encoded"))
}

/// The challenge inside a base64url `clientDataJSON`.
fn challenge_of(client_data_b64: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ClientData {
        challenge: String,
    }
    let bytes = B64.decode(client_data_b64.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<ClientData>(&bytes)
        .ok()
        .map(|c| c.challenge.trim_end_matches('=').to_owned())
}

/// A 422 for a passkey body that is malformed.
fn malformed(what: &str) -> ApiError {
    ApiError::unprocessable(
        codes::MFA_INVALID_REQUEST,
        format!("malformed passkey {what}"),
    )
}

fn check_len(fields: &[&str]) -> Result<(), ApiError> {
    if fields
        .iter()
        .any(|f| f.is_empty() || f.len() > MAX_FIELD_LEN)
    {
        return Err(malformed("credential: a field is empty or too long"));
    }
    Ok(())
}

/// `clientExtensionResults` as webauthn-rs reads it: an object (null becomes `{}`).
fn extensions(value: &serde_json::Value) -> serde_json::Value {
    if value.is_object() {
        value.clone()
    } else {
        serde_json::json!({})
    }
}

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
    fn remember(&mut self, challenge: String, user_id: &str, kind: CeremonyKind) {
        let now = self.now_ms();
        self.ceremonies
            .retain(|_, c| now - c.created_at_ms < CEREMONY_TTL_MS);
        if self.ceremonies.len() >= MAX_CEREMONIES {
            let oldest = self
                .ceremonies
                .iter()
                .min_by_key(|(_, c)| c.created_at_ms)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.ceremonies.remove(&k);
            }
        }
        self.ceremonies.insert(
            challenge,
            Ceremony {
                user_id: user_id.to_owned(),
                created_at_ms: now,
                kind,
            },
        );
    }

    /// Takes (single use) the caller's live ceremony for the challenge in `client_data`:
    /// (its challenge, what it finishes).
    fn take_ceremony(
        &mut self,
        ctx: &SessionCtx,
        client_data_b64: &str,
    ) -> Option<(String, CeremonyKind)> {
        let challenge = challenge_of(client_data_b64)?;
        let ceremony = self.ceremonies.remove(&challenge)?;
        let live = self.now_ms() - ceremony.created_at_ms < CEREMONY_TTL_MS;
        (live && ceremony.user_id == ctx.user_id).then_some((challenge, ceremony.kind))
    }

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

    /// What an EdDSA ceremony must carry: `challenge`, the origin, the rp id.
    fn expected<'a>(&'a self, challenge: &'a str) -> eddsa::Expected<'a> {
        eddsa::Expected {
            challenge,
            origins: self.webauthn.get_allowed_origins(),
            rp_id: &self.passkey_rp_id,
        }
    }

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

    /// `GET users/mfa/register/passkey` (after the `credential:link` check).
    pub(crate) fn passkey_mfa_register_start(
        &mut self,
        ctx: &SessionCtx,
    ) -> Result<MfaPasskeyRegistration, ApiError> {
        let (options, state) = self.start_registration(&ctx.user_id)?;
        let device_id = crypto::new_id();
        self.remember(
            options.challenge.clone(),
            &ctx.user_id,
            CeremonyKind::MfaRegistration {
                device_id: device_id.clone(),
                state,
            },
        );
        Ok(MfaPasskeyRegistration {
            id: device_id,
            kind: "passkey".into(),
            registration: options,
        })
    }

    /// `GET users/passkeys/register` (after the `credential:link` check).
    pub(crate) fn passkey_account_register_start(
        &mut self,
        ctx: &SessionCtx,
    ) -> Result<PasskeyRegistrationOptions, ApiError> {
        let (options, state) = self.start_registration(&ctx.user_id)?;
        self.remember(
            options.challenge.clone(),
            &ctx.user_id,
            CeremonyKind::AccountRegistration { state },
        );
        Ok(options)
    }

    /// `POST users/mfa/register/passkey`: verifies the attestation, adds the MFA device.
    pub(crate) fn passkey_mfa_register_finish(
        &mut self,
        ctx: &SessionCtx,
        req: &MfaPasskeyRegisterRequest,
    ) -> Result<VerifyResponse, ApiError> {
        let a = &req.attestation;
        check_len(&[
            &req.id,
            &a.id,
            &a.raw_id,
            &a.response.client_data_json,
            &a.response.attestation_object,
        ])?;
        let no_ceremony = || {
            ApiError::unprocessable(
                codes::MFA_INVALID_REQUEST,
                "no pending passkey registration for this challenge (expired or already used): start again",
            )
        };
        let (challenge, device_id, state) =
            match self.take_ceremony(ctx, &a.response.client_data_json) {
                Some((challenge, CeremonyKind::MfaRegistration { device_id, state }))
                    if device_id == req.id =>
                {
                    (challenge, device_id, state)
                }
                _ => return Err(no_ceremony()),
            };
        let credential = serde_json::json!({
            "id": a.id, "rawId": a.raw_id, "type": a.kind,
            "response": {"clientDataJSON": a.response.client_data_json, "attestationObject": a.response.attestation_object},
            "clientExtensionResults": extensions(&a.client_extension_results),
        });
        self.finish_registration(ctx, device_id, credential, (&challenge, &state), true)
    }

    /// `POST users/passkeys/register`: verifies the attestation, adds the passkey.
    pub(crate) fn passkey_account_register_finish(
        &mut self,
        ctx: &SessionCtx,
        req: &PasskeyRegisterRequest,
    ) -> Result<VerifyResponse, ApiError> {
        check_len(&[
            &req.id,
            &req.raw_id,
            &req.response.client_data_json,
            &req.response.attestation_object,
        ])?;
        let (challenge, state) = match self.take_ceremony(ctx, &req.response.client_data_json) {
            Some((challenge, CeremonyKind::AccountRegistration { state })) => (challenge, state),
            _ => {
                return Err(ApiError::unprocessable(
                    codes::MFA_INVALID_REQUEST,
                    "no pending passkey registration for this challenge (expired or already used): start again",
                ))
            }
        };
        let credential = serde_json::json!({
            "id": req.id, "rawId": req.raw_id, "type": req.kind,
            "response": {"clientDataJSON": req.response.client_data_json, "attestationObject": req.response.attestation_object},
            "clientExtensionResults": extensions(&req.client_extension_results),
        });
        self.finish_registration(
            ctx,
            crypto::new_id(),
            credential,
            (&challenge, &state),
            false,
        )
    }

    /// Verifies a registration answering `challenge`: an EdDSA credential here, any other
    /// with webauthn-rs and its `state`; then stores it.
    fn finish_registration(
        &mut self,
        ctx: &SessionCtx,
        device_id: String,
        credential: serde_json::Value,
        (challenge, state): (&str, &PasskeyRegistration),
        mfa: bool,
    ) -> Result<VerifyResponse, ApiError> {
        let refused = |e: &dyn std::fmt::Display| {
            ApiError::unprocessable(
                codes::MFA_INVALID_REQUEST,
                format!("the passkey attestation was refused: {e}"),
            )
        };
        let field = |ptr: &str| credential.pointer(ptr).and_then(|v| v.as_str());
        let (raw_id, client_data, attestation_object) = (
            field("/rawId").unwrap_or_default(),
            field("/response/clientDataJSON").unwrap_or_default(),
            field("/response/attestationObject").unwrap_or_default(),
        );
        let (credential_id, key) = if eddsa::is_okp_registration(attestation_object) {
            let registered = eddsa::verify_registration(
                &self.expected(challenge),
                raw_id,
                client_data,
                attestation_object,
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
                serde_json::from_value(credential).map_err(|_| malformed("attestation"))?;
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
        self.remember(
            options.challenge.clone(),
            &ctx.user_id,
            CeremonyKind::Authentication { state },
        );
        Ok(options)
    }

    /// Records a failed MFA attempt and returns a 422 with `code` and `message`.
    fn passkey_failed(&mut self, user_id: &str, code: &str, message: &str) -> ApiError {
        let now = self.now_ms();
        if let Ok(user) = self.user_mut(user_id) {
            user.mfa_failures_ms.push(now);
        }
        if let Err(e) = self.persist() {
            return e;
        }
        ApiError::unprocessable(code, message.to_owned())
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
        self.mfa_guard(&ctx.user_id)?;
        let Some((challenge, CeremonyKind::Authentication { state })) =
            self.take_ceremony(ctx, &r.client_data_json)
        else {
            return Err(self.passkey_failed(
                &ctx.user_id,
                codes::MFA_INVALID_CODE,
                "no pending passkey challenge matches this assertion (expired, already used, or replayed)",
            ));
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
            return Err(self.passkey_failed(
                &ctx.user_id,
                codes::PASSKEY_NOT_FOUND,
                "this passkey is not registered for the signed-in user",
            ));
        };
        let key = match key {
            PasskeyKey::WebauthnRs(_) => {
                let Some(state) = state else {
                    return Err(self.passkey_failed(
                        &ctx.user_id,
                        codes::MFA_INVALID_CODE,
                        "no pending passkey challenge matches this assertion (expired, already used, or replayed)",
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
                    Ok(counter) => PasskeyKey::Ed25519(crate::store::Ed25519Credential {
                        counter,
                        ..credential
                    }),
                    Err(e) => {
                        tracing::info!(error = ?e, "EdDSA passkey assertion refused");
                        return Err(self.passkey_failed(
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
                return Err(self.passkey_failed(
                    &ctx.user_id,
                    codes::MFA_INVALID_CODE,
                    assertion_refusal(&WebauthnError::UserNotVerified),
                ))
            }
            Err(e) => {
                tracing::info!(error = ?e, "passkey assertion refused");
                return Err(self.passkey_failed(
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
        let sid = self.rotate(ctx);
        let elevated = if scopes.is_empty() {
            None
        } else {
            Some(self.mint_elevated(&ctx.user_id, scopes)?)
        };
        self.persist()?;
        self.verify_response(&sid, elevated, None)
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
            .users
            .get_mut(user_id)
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

/// The `stepUp/check` credential of a passkey.
pub(crate) fn passkey_credential(p: &PasskeyRecord) -> StepUpCredential {
    StepUpCredential {
        id: p.id.clone(),
        format: CredentialFormat::Passkey,
        kind: Some("passkey".into()),
        alias: p.alias.clone(),
    }
}

/// The `MFADevice` view of a passkey.
pub(crate) fn passkey_device_view(p: &PasskeyRecord) -> MfaDevice {
    MfaDevice {
        kind: Some("passkey".into()),
        verified: Some(true),
        id: Some(p.id.clone()),
        created_at: Some(rfc3339(p.created_at_ms)),
        verified_at: Some(rfc3339(p.created_at_ms)),
        default: Some(p.default),
        alias: p.alias.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_refuses_ips_and_foreign_origins() {
        assert!(relying_party("app.stepup.example", "https://app.stepup.example").is_ok());
        assert!(relying_party("localhost", "http://localhost:1420").is_ok());
        assert!(relying_party("127.0.0.1", "http://127.0.0.1:1420").is_err());
        assert!(relying_party("example.com", "https://app.stepup.example").is_err());
    }

    #[test]
    fn the_challenge_is_read_from_client_data() {
        let cd = B64.encode(br#"{"type":"webauthn.get","challenge":"abc_-","origin":"x"}"#);
        assert_eq!(challenge_of(&cd).as_deref(), Some("abc_-"));
        assert_eq!(challenge_of("%%%"), None);
    }
}
