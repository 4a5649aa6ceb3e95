//! EdDSA (Ed25519, COSE alg -8) passkeys, verified here: webauthn-rs 0.6.2 parses an OKP
//! credential key but cannot verify an Ed25519 signature, so registration (WebAuthn §7.1) and
//! authentication (§7.2) of these credentials are checked by the sandbox itself, with
//! `ed25519-dalek`'s strict verification. Everything else (ES256, ES384, RS256) stays with
//! webauthn-rs.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize as _;
use serde_cbor_2::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use webauthn_rs::prelude::Url;

use crate::store::Ed25519Credential;

/// COSE algorithm id of EdDSA.
pub(crate) const COSE_ALG_EDDSA: i64 = -8;
/// COSE key type OKP, and curve Ed25519 (RFC 8152 §13).
const COSE_KTY_OKP: i128 = 1;
const COSE_CRV_ED25519: i128 = 6;

/// Authenticator data flags (WebAuthn §6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;
const FLAG_ED: u8 = 0x80;
/// rpIdHash (32) + flags (1) + signCount (4).
const AUTH_DATA_MIN: usize = 37;
/// The longest credential id WebAuthn allows.
const MAX_CREDENTIAL_ID: usize = 1023;

/// Why an EdDSA registration or assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The body does not parse (base64, JSON, CBOR, authenticator data, COSE key).
    Malformed(&'static str),
    /// clientDataJSON `type` is not the ceremony's.
    WrongType,
    /// clientDataJSON carries another challenge than the outstanding one.
    WrongChallenge,
    /// clientDataJSON carries another origin than the configured one.
    WrongOrigin,
    /// rpIdHash is not SHA-256 of the rp id.
    WrongRelyingParty,
    /// The UP flag is missing.
    UserNotPresent,
    /// The UV flag is missing.
    UserNotVerified,
    /// The signature counter did not increase.
    CounterNotIncreased,
    /// The signature does not verify.
    BadSignature,
    /// The response's user handle is another user's.
    WrongUser,
    /// An attestation statement the sandbox does not verify.
    UnsupportedAttestation,
}

impl Refusal {
    /// In words a user can act on (never the signature itself).
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Malformed(what) => what,
            Self::WrongType => "clientDataJSON is for another kind of ceremony",
            Self::WrongChallenge => "clientDataJSON answers another challenge",
            Self::WrongOrigin => "clientDataJSON carries another origin than the app's",
            Self::WrongRelyingParty => "the response is for another relying party",
            Self::UserNotPresent => "the authenticator did not confirm user presence",
            Self::UserNotVerified => {
                "the authenticator did not verify the user (user verification is required)"
            }
            Self::CounterNotIncreased => {
                "the signature counter did not increase: this looks like a replayed or cloned authenticator"
            }
            Self::BadSignature => "the signature does not verify",
            Self::WrongUser => "the passkey answered for another user",
            Self::UnsupportedAttestation => {
                "only \"none\" and packed self-attestation are accepted for EdDSA passkeys"
            }
        }
    }
}

/// What the relying party expects of a ceremony.
pub(crate) struct Expected<'a> {
    /// The outstanding challenge (base64url, no padding).
    pub challenge: &'a str,
    /// The configured origins (one in practice).
    pub origins: &'a [Url],
    /// The rp id.
    pub rp_id: &'a str,
}

/// A verified EdDSA registration.
pub(crate) struct Registered {
    /// The credential id (raw bytes).
    pub credential_id: Vec<u8>,
    /// The credential to store.
    pub credential: Ed25519Credential,
}

/// The assertion fields, still base64url as they came.
pub(crate) struct Assertion<'a> {
    pub client_data_json: &'a str,
    pub authenticator_data: &'a str,
    pub signature: &'a str,
    pub user_handle: Option<&'a str>,
}

/// base64url (or standard base64), padded or not.
pub(crate) fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .ok()
}

fn b64(s: &str, what: &'static str) -> Result<Vec<u8>, Refusal> {
    decode_b64(s).ok_or(Refusal::Malformed(what))
}

/// §7.1 steps 7-10 / §7.2 steps 11-14: type, challenge and origin of clientDataJSON.
fn check_client_data(bytes: &[u8], kind: &str, expected: &Expected<'_>) -> Result<(), Refusal> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ClientData {
        #[serde(rename = "type")]
        kind: String,
        challenge: String,
        origin: String,
        #[serde(default)]
        cross_origin: Option<bool>,
    }
    let cd: ClientData = serde_json::from_slice(bytes)
        .map_err(|_| Refusal::Malformed("clientDataJSON is not valid client data"))?;
    if cd.kind != kind {
        return Err(Refusal::WrongType);
    }
    if cd.challenge.trim_end_matches('=') != expected.challenge.trim_end_matches('=') {
        return Err(Refusal::WrongChallenge);
    }
    let origin = Url::parse(&cd.origin).map_err(|_| Refusal::WrongOrigin)?;
    if !expected
        .origins
        .iter()
        .any(|o| o.origin() == origin.origin())
        || cd.cross_origin == Some(true)
    {
        return Err(Refusal::WrongOrigin);
    }
    Ok(())
}

/// Parsed authenticator data; `rest` is what follows signCount.
struct AuthData<'a> {
    flags: u8,
    sign_count: u32,
    rest: &'a [u8],
}

/// rpIdHash, UP and UV (both required), signCount.
fn parse_auth_data<'a>(bytes: &'a [u8], rp_id: &str) -> Result<AuthData<'a>, Refusal> {
    let (Some(rp_id_hash), Some(&flags), Some(count), Some(rest)) = (
        bytes.get(..32),
        bytes.get(32),
        bytes.get(33..AUTH_DATA_MIN),
        bytes.get(AUTH_DATA_MIN..),
    ) else {
        return Err(Refusal::Malformed("the authenticator data is too short"));
    };
    if rp_id_hash != Sha256::digest(rp_id.as_bytes()).as_slice() {
        return Err(Refusal::WrongRelyingParty);
    }
    if flags & FLAG_UP == 0 {
        return Err(Refusal::UserNotPresent);
    }
    if flags & FLAG_UV == 0 {
        return Err(Refusal::UserNotVerified);
    }
    let sign_count = count
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| Refusal::Malformed("the authenticator data is too short"))?;
    Ok(AuthData {
        flags,
        sign_count,
        rest,
    })
}

fn int(map: &BTreeMap<Value, Value>, key: i128) -> Option<i128> {
    match map.get(&Value::Integer(key)) {
        Some(Value::Integer(i)) => Some(*i),
        _ => None,
    }
}

/// The attested credential data: (credential id, COSE key map). Extensions, when the ED flag
/// says so, may follow the key; nothing else may.
fn attested_credential(auth: &AuthData<'_>) -> Result<(Vec<u8>, BTreeMap<Value, Value>), Refusal> {
    const BAD: Refusal = Refusal::Malformed("the attested credential data is malformed");
    if auth.flags & FLAG_AT == 0 {
        return Err(Refusal::Malformed(
            "the authenticator data carries no attested credential",
        ));
    }
    // aaguid (16), credentialIdLength (2, big endian), credentialId, credentialPublicKey.
    let len: [u8; 2] = auth
        .rest
        .get(16..18)
        .and_then(|l| l.try_into().ok())
        .ok_or(BAD)?;
    let len = usize::from(u16::from_be_bytes(len));
    if len == 0 || len > MAX_CREDENTIAL_ID {
        return Err(BAD);
    }
    let id = auth.rest.get(18..18 + len).ok_or(BAD)?.to_vec();
    let key_bytes = auth.rest.get(18 + len..).ok_or(BAD)?;
    let mut de = serde_cbor_2::Deserializer::from_slice(key_bytes);
    let key = Value::deserialize(&mut de).map_err(|_| BAD)?;
    let trailing = key_bytes.len() > de.byte_offset();
    if trailing && auth.flags & FLAG_ED == 0 {
        return Err(BAD);
    }
    match key {
        Value::Map(map) => Ok((id, map)),
        _ => Err(BAD),
    }
}

/// The Ed25519 key of a COSE key map: kty OKP, alg EdDSA, crv Ed25519, x 32 bytes, a valid
/// and not weak point.
fn ed25519_key(map: &BTreeMap<Value, Value>) -> Result<VerifyingKey, Refusal> {
    const BAD: Refusal = Refusal::Malformed("the credential key is not an Ed25519 COSE key");
    if int(map, 1) != Some(COSE_KTY_OKP)
        || int(map, 3) != Some(i128::from(COSE_ALG_EDDSA))
        || int(map, -1) != Some(COSE_CRV_ED25519)
    {
        return Err(BAD);
    }
    let x: [u8; 32] = match map.get(&Value::Integer(-2)) {
        Some(Value::Bytes(x)) => x.as_slice().try_into().map_err(|_| BAD)?,
        _ => return Err(BAD),
    };
    let key = VerifyingKey::from_bytes(&x).map_err(|_| BAD)?;
    if key.is_weak() {
        return Err(BAD);
    }
    Ok(key)
}

fn verify(key: &VerifyingKey, auth_data: &[u8], client_data: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    let mut signed = Vec::with_capacity(auth_data.len() + 32);
    signed.extend_from_slice(auth_data);
    signed.extend_from_slice(&Sha256::digest(client_data));
    key.verify_strict(&signed, &sig).is_ok()
}

/// The decoded attestation object: `fmt`, `attStmt`, `authData`.
struct AttestationObject {
    fmt: String,
    att_stmt: BTreeMap<Value, Value>,
    auth_data: Vec<u8>,
}

fn attestation_object(bytes: &[u8]) -> Result<AttestationObject, Refusal> {
    const BAD: Refusal = Refusal::Malformed("the attestation object is malformed");
    let Value::Map(mut map) = serde_cbor_2::from_slice::<Value>(bytes).map_err(|_| BAD)? else {
        return Err(BAD);
    };
    let mut take = |k: &str| map.remove(&Value::Text(k.to_owned()));
    match (take("fmt"), take("attStmt"), take("authData")) {
        (Some(Value::Text(fmt)), Some(Value::Map(att_stmt)), Some(Value::Bytes(auth_data))) => {
            Ok(AttestationObject {
                fmt,
                att_stmt,
                auth_data,
            })
        }
        _ => Err(BAD),
    }
}

/// Whether a registration's credential key is an OKP (EdDSA) key: those are verified here,
/// everything else by webauthn-rs. Unreadable bodies go to webauthn-rs, which refuses them.
pub(crate) fn is_okp_registration(attestation_object_b64: &str) -> bool {
    let Some(bytes) = decode_b64(attestation_object_b64) else {
        return false;
    };
    let Ok(att) = attestation_object(&bytes) else {
        return false;
    };
    let Some(flags) = att.auth_data.get(32) else {
        return false;
    };
    let auth = AuthData {
        flags: *flags,
        sign_count: 0,
        rest: att.auth_data.get(AUTH_DATA_MIN..).unwrap_or_default(),
    };
    attested_credential(&auth).is_ok_and(|(_, key)| int(&key, 1) == Some(COSE_KTY_OKP))
}

/// WebAuthn §7.1 for an EdDSA credential: clientDataJSON (`webauthn.create`, challenge,
/// origin), the attestation (`none`, or packed self-attestation checked with the new key),
/// rpIdHash, UP, UV and AT; returns the credential id and key with its counter. `raw_id` must
/// be the attested credential id.
pub(crate) fn verify_registration(
    expected: &Expected<'_>,
    raw_id: &str,
    client_data_json: &str,
    attestation_object_b64: &str,
) -> Result<Registered, Refusal> {
    let client_data = b64(client_data_json, "clientDataJSON is not base64url")?;
    check_client_data(&client_data, "webauthn.create", expected)?;
    let att = attestation_object(&b64(
        attestation_object_b64,
        "the attestation object is not base64url",
    )?)?;
    let auth = parse_auth_data(&att.auth_data, expected.rp_id)?;
    let (credential_id, cose_key) = attested_credential(&auth)?;
    if decode_b64(raw_id).as_deref() != Some(credential_id.as_slice()) {
        return Err(Refusal::Malformed(
            "rawId is not the attested credential id",
        ));
    }
    let key = ed25519_key(&cose_key)?;
    match att.fmt.as_str() {
        "none" if att.att_stmt.is_empty() => {}
        "packed" if !att.att_stmt.contains_key(&Value::Text("x5c".into())) => {
            let alg = match att.att_stmt.get(&Value::Text("alg".into())) {
                Some(Value::Integer(alg)) => Some(*alg),
                _ => None,
            };
            let sig = match att.att_stmt.get(&Value::Text("sig".into())) {
                Some(Value::Bytes(sig)) => sig.as_slice(),
                _ => &[],
            };
            if alg != Some(i128::from(COSE_ALG_EDDSA)) {
                return Err(Refusal::UnsupportedAttestation);
            }
            if !verify(&key, &att.auth_data, &client_data, sig) {
                return Err(Refusal::BadSignature);
            }
        }
        _ => return Err(Refusal::UnsupportedAttestation),
    }
    Ok(Registered {
        credential_id,
        credential: Ed25519Credential {
            public_key: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            counter: auth.sign_count,
        },
    })
}

/// WebAuthn §7.2 for an EdDSA credential already found among the user's: user handle (when
/// given), clientDataJSON (`webauthn.get`, challenge, origin), rpIdHash, UP and UV, the
/// counter (as webauthn-rs: when either it or the stored one is non-zero it must be above the
/// stored one) and the Ed25519 signature over authData ‖ SHA-256(clientDataJSON). Returns the
/// new counter, to be saved.
pub(crate) fn verify_assertion(
    expected: &Expected<'_>,
    credential: &Ed25519Credential,
    user_handle: &[u8],
    assertion: &Assertion<'_>,
) -> Result<u32, Refusal> {
    if let Some(handle) = assertion.user_handle.filter(|h| !h.is_empty()) {
        if decode_b64(handle).as_deref() != Some(user_handle) {
            return Err(Refusal::WrongUser);
        }
    }
    let client_data = b64(
        assertion.client_data_json,
        "clientDataJSON is not base64url",
    )?;
    check_client_data(&client_data, "webauthn.get", expected)?;
    let auth_data = b64(
        assertion.authenticator_data,
        "the authenticator data is not base64url",
    )?;
    let auth = parse_auth_data(&auth_data, expected.rp_id)?;
    let public_key: [u8; 32] = decode_b64(&credential.public_key)
        .and_then(|k| k.try_into().ok())
        .ok_or(Refusal::Malformed("the stored Ed25519 key is unreadable"))?;
    let key = VerifyingKey::from_bytes(&public_key)
        .map_err(|_| Refusal::Malformed("the stored Ed25519 key is unreadable"))?;
    let sig = b64(assertion.signature, "the signature is not base64url")?;
    if !verify(&key, &auth_data, &client_data, &sig) {
        return Err(Refusal::BadSignature);
    }
    if (auth.sign_count > 0 || credential.counter > 0) && auth.sign_count <= credential.counter {
        return Err(Refusal::CounterNotIncreased);
    }
    Ok(auth.sign_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_foreign_authenticator_data_is_refused() {
        assert!(matches!(
            parse_auth_data(&[0; 10], "rp"),
            Err(Refusal::Malformed(_))
        ));
        let mut data = Sha256::digest(b"rp").to_vec();
        data.extend_from_slice(&[FLAG_UP | FLAG_UV, 0, 0, 0, 7]);
        assert_eq!(
            parse_auth_data(&data, "rp").map(|a| a.sign_count).ok(),
            Some(7)
        );
        assert!(matches!(
            parse_auth_data(&data, "other"),
            Err(Refusal::WrongRelyingParty)
        ));
        data[32] = FLAG_UP;
        assert!(matches!(
            parse_auth_data(&data, "rp"),
            Err(Refusal::UserNotVerified)
        ));
    }

    #[test]
    fn garbage_is_not_an_okp_registration() {
        assert!(!is_okp_registration("%%%"));
        assert!(!is_okp_registration("oA"));
    }
}
