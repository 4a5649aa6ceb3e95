//! Between the API's JSON models (`stepup-protocol`) and the WebAuthn types the authenticator
//! crate speaks. Both are WebAuthn JSON, so the conversion goes through `serde_json`.

use crate::error::StepUpError;
use crate::passkey::AuthenticatorKind;
use serde_json::{json, Value};
use stepup_protocol::{
    MfaPasskeyRegisterRequest, PasskeyAssertionResponse, PasskeyAttestation,
    PasskeyAttestationResponse, PasskeyAuthRequest, PasskeyAuthenticationOptions,
    PasskeyRegisterRequest, PasskeyRegisterResponse, PasskeyRegistrationOptions, TokenScope,
};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};

fn unreadable(what: &str) -> StepUpError {
    StepUpError::InvalidResponse(format!("the passkey {what} cannot be read"))
}

/// The configured app origin as a URL (required for passkeys).
pub(crate) fn app_origin(origin: Option<&str>) -> Result<Url, StepUpError> {
    let origin = origin.ok_or_else(|| {
        StepUpError::InvalidInput("passkeys need the app origin in the configuration".into())
    })?;
    Url::parse(origin).map_err(|_| StepUpError::InvalidInput("the app origin is not a URL".into()))
}

/// Authentication options for the authenticator. User verification is always required here,
/// whatever the server says: a step-up never accepts presence alone.
pub(crate) fn request_options(
    options: &PasskeyAuthenticationOptions,
    origin: &Url,
) -> Result<RequestChallengeResponse, StepUpError> {
    let allow: Vec<Value> = options
        .allow_credentials
        .iter()
        .flatten()
        .map(|c| json!({"type": "public-key", "id": c.id}))
        .collect();
    if allow.is_empty() {
        return Err(StepUpError::NoPasskeyCredentials);
    }
    let rp_id = options
        .rp_id
        .clone()
        .or_else(|| origin.domain().map(str::to_owned))
        .ok_or_else(|| unreadable("relying party"))?;
    serde_json::from_value(json!({"publicKey": {
        "challenge": options.challenge,
        "timeout": options.timeout.unwrap_or(60_000).min(60_000),
        "rpId": rp_id,
        "allowCredentials": allow,
        "userVerification": "required",
    }}))
    .map_err(|_| unreadable("authentication options"))
}

/// `POST users/mfa/auth/passkey` body from an assertion, with the attachment of `kind` as a
/// browser reports it (the SDK sends `@simplewebauthn/browser`'s `startAuthentication` output).
pub(crate) fn assertion_request(
    credential: &PublicKeyCredential,
    kind: AuthenticatorKind,
    scopes: Option<Vec<TokenScope>>,
) -> Result<PasskeyAuthRequest, StepUpError> {
    let v = serde_json::to_value(credential).map_err(|_| unreadable("assertion"))?;
    let text = |ptr: &str| v.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
    let field = |ptr: &str| text(ptr).ok_or_else(|| unreadable("assertion"));
    Ok(PasskeyAuthRequest {
        id: field("/id")?,
        raw_id: field("/rawId")?,
        response: PasskeyAssertionResponse {
            client_data_json: field("/response/clientDataJSON")?,
            authenticator_data: field("/response/authenticatorData")?,
            signature: field("/response/signature")?,
            user_handle: text("/response/userHandle"),
        },
        authenticator_attachment: kind_attachment(kind).0.map(str::to_owned),
        client_extension_results: json!({}),
        kind: "public-key".into(),
        requested_scopes: scopes,
    })
}

/// Creation options for the authenticator.
pub(crate) fn creation_options(
    options: &PasskeyRegistrationOptions,
) -> Result<CreationChallengeResponse, StepUpError> {
    let mut public_key = serde_json::to_value(options).map_err(|_| unreadable("options"))?;
    if let Some(map) = public_key.as_object_mut() {
        // Hints and transports this build does not know must not make the options unreadable.
        map.remove("hints");
        if let Some(Value::Array(list)) = map.get_mut("excludeCredentials") {
            for c in list.iter_mut().filter_map(Value::as_object_mut) {
                c.remove("transports");
            }
        }
    }
    serde_json::from_value(json!({ "publicKey": public_key }))
        .map_err(|_| unreadable("registration options"))
}

struct Attested {
    id: String,
    raw_id: String,
    client_data_json: String,
    attestation_object: String,
}

fn attested(credential: &RegisterPublicKeyCredential) -> Result<Attested, StepUpError> {
    let v = serde_json::to_value(credential).map_err(|_| unreadable("attestation"))?;
    let field = |ptr: &str| {
        v.pointer(ptr)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| unreadable("attestation"))
    };
    Ok(Attested {
        id: field("/id")?,
        raw_id: field("/rawId")?,
        client_data_json: field("/response/clientDataJSON")?,
        attestation_object: field("/response/attestationObject")?,
    })
}

/// `POST users/mfa/register/passkey` body (`clientDataJSON`).
pub(crate) fn mfa_register_request(
    device_id: &str,
    credential: &RegisterPublicKeyCredential,
) -> Result<MfaPasskeyRegisterRequest, StepUpError> {
    let a = attested(credential)?;
    Ok(MfaPasskeyRegisterRequest {
        id: device_id.to_owned(),
        attestation: PasskeyAttestation {
            id: a.id,
            raw_id: a.raw_id,
            response: PasskeyAttestationResponse {
                client_data_json: a.client_data_json,
                attestation_object: a.attestation_object,
                authenticator_data: None,
                public_key_algorithm: None,
                public_key: None,
                transports: None,
            },
            authenticator_attachment: None,
            client_extension_results: json!({}),
            kind: "public-key".into(),
        },
    })
}

/// The `authenticatorAttachment` and `response.transports` a browser reports for a credential
/// of this kind of authenticator (the SDK sends what `@simplewebauthn/browser`'s
/// `startRegistration` read from `credential.authenticatorAttachment` and
/// `response.getTransports()`); the credential's own transports win when it has them.
fn attachment(
    kind: AuthenticatorKind,
    credential: &RegisterPublicKeyCredential,
) -> (Option<String>, Option<Vec<String>>) {
    let own = serde_json::to_value(credential)
        .ok()
        .and_then(|v| v.pointer("/response/transports").cloned())
        .and_then(|t| serde_json::from_value::<Vec<String>>(t).ok())
        .filter(|t| !t.is_empty() && t.len() <= 8);
    let (attachment, transports) = kind_attachment(kind);
    (
        attachment.map(str::to_owned),
        own.or_else(|| transports.map(|t| vec![t.to_owned()])),
    )
}

/// A browser's `authenticatorAttachment` and transport for this kind of authenticator.
fn kind_attachment(kind: AuthenticatorKind) -> (Option<&'static str>, Option<&'static str>) {
    match kind {
        AuthenticatorKind::DevicePasskey | AuthenticatorKind::WindowsHello => {
            (Some("platform"), Some("internal"))
        }
        AuthenticatorKind::SecurityKey => (Some("cross-platform"), Some("usb")),
        AuthenticatorKind::Custom => (None, None),
    }
}

/// `POST users/passkeys/register` body (`clientDataJson`, lower-case), with the attachment and
/// transports of `kind` as a browser reports them.
pub(crate) fn account_register_request(
    credential: &RegisterPublicKeyCredential,
    kind: AuthenticatorKind,
) -> Result<PasskeyRegisterRequest, StepUpError> {
    let a = attested(credential)?;
    let (authenticator_attachment, transports) = attachment(kind, credential);
    Ok(PasskeyRegisterRequest {
        id: a.id,
        raw_id: a.raw_id,
        response: PasskeyRegisterResponse {
            client_data_json: a.client_data_json,
            attestation_object: a.attestation_object,
            transports,
            public_key: None,
        },
        authenticator_attachment,
        client_extension_results: json!({}),
        kind: "public-key".into(),
    })
}
