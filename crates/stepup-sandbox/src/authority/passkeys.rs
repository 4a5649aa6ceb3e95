//! Passkeys, verified with `webauthn-rs` (EdDSA ones by [`eddsa`]): MFA and account
//! registration (both behind a `credential:link` token), authentication options, the
//! passkey step-up, and the list and removal (behind `credential:unlink`). Ceremony state stays here, in memory: single use, 60 s.
//!
//! User verification is required (webauthn-rs's passkey ceremonies demand it), and the
//! signature counter of each credential is saved after every accepted assertion, so a replayed
//! assertion (its challenge is spent) or a cloned authenticator (its counter is not above the
//! stored one) is refused.
//!
//! - this file: the relying party, ceremony state, and what registration and assertion share.
//! - `registration`: `users/mfa/register/passkey`, `users/passkeys/register`, and the demo
//!   user's soft-token passkey.
//! - `assertion`: `users/passkeys/authenticate` and `users/mfa/auth/passkey`.
//! - `account`: `users/passkeys`: the list, and removal behind `credential:unlink`.
//! - `eddsa`: WebAuthn §7.1/§7.2 for Ed25519 credentials, which webauthn-rs cannot verify.

mod account;
mod assertion;
mod eddsa;
mod registration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use std::time::Duration;
use stepup_protocol::{codes, CredentialFormat, MfaDevice, StepUpCredential, UserPasskey};
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::{ApiError, SandboxError};
use crate::expiring_map::ExpiringMap;
use crate::store::PasskeyRecord;
use crate::time_format::rfc3339;

/// How long a ceremony may take (the options' `timeout`, and the life of its state).
pub(crate) const CEREMONY_TTL_MS: i64 = 60_000;
/// Pending ceremonies kept at most (oldest dropped first).
const MAX_CEREMONIES: usize = 10_000;
/// The longest base64url field accepted in a passkey body.
const MAX_FIELD_LEN: usize = 16 * 1024;

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
    /// Only this user may finish it.
    user_id: String,
    kind: CeremonyKind,
}

/// The pending ceremonies of a new authority.
pub(super) fn ceremony_table() -> ExpiringMap<Ceremony> {
    ExpiringMap::new(CEREMONY_TTL_MS, MAX_CEREMONIES)
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

impl Authority {
    /// Keeps a started ceremony under its `challenge`, for `user_id` only.
    fn remember(&mut self, user_id: &str, challenge: &str, kind: CeremonyKind) {
        let now = self.now_ms();
        let ceremony = Ceremony {
            user_id: user_id.to_owned(),
            kind,
        };
        self.ceremonies.insert(challenge.to_owned(), ceremony, now);
    }

    /// Takes (single use) the caller's live ceremony for the challenge in `client_data`:
    /// (its challenge, what it finishes).
    fn take_ceremony(
        &mut self,
        ctx: &SessionCtx,
        client_data_b64: &str,
    ) -> Option<(String, CeremonyKind)> {
        let challenge = challenge_of(client_data_b64)?;
        let now = self.now_ms();
        let ceremony = self.ceremonies.take(&challenge, now)?;
        (ceremony.user_id == ctx.user_id).then_some((challenge, ceremony.kind))
    }

    /// What an EdDSA ceremony must carry: `challenge`, the origin, the rp id.
    fn expected<'a>(&'a self, challenge: &'a str) -> eddsa::Expected<'a> {
        eddsa::Expected {
            challenge,
            origins: self.webauthn.get_allowed_origins(),
            rp_id: &self.passkey_rp_id,
        }
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

/// The `UserPasskey` view of a passkey (`users/mfa/methods`, `users/passkeys`).
pub(crate) fn user_passkey_view(p: &PasskeyRecord) -> UserPasskey {
    UserPasskey {
        id: p.id.clone(),
        alias: p.alias.clone(),
        user_agent: None,
        origin: None,
        credential_id: p.credential_id.clone(),
        created_at: rfc3339(p.created_at_ms),
        updated_at: None,
        storage: None,
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
