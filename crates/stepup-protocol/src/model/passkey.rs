//! Passkeys (WebAuthn as JSON): authentication options and assertions, registration options and attestations, for MFA and account passkeys.

use crate::scope::TokenScope;
use serde::{Deserialize, Serialize};

/// One entry of `allowCredentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyAllowCredential {
    /// base64url credential id.
    pub id: String,
    /// `usb`, `internal`, `hybrid` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// `GetPasskeyAuthenticationOptionsResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAuthenticationOptions {
    /// base64url challenge.
    pub challenge: String,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Relying party id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// `discouraged|preferred|required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
    /// The user's passkeys; empty or absent means "no passkey credentials".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<Vec<PasskeyAllowCredential>>,
}

/// `AuthenticatorAssertionResponse` (all base64url).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAssertionResponse {
    /// Note the capital `JSON`.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// Authenticator data.
    pub authenticator_data: String,
    /// Signature.
    pub signature: String,
    /// User handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<String>,
}

/// `PasskeyAuthRequest` for `POST users/mfa/auth/passkey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAuthRequest {
    /// Credential id (base64url).
    pub id: String,
    /// Same as `id`.
    pub raw_id: String,
    /// The assertion.
    pub response: PasskeyAssertionResponse,
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension results (an object, usually empty).
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `PublicKeyCredentialRpEntity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyRelyingParty {
    /// The RP id (a domain); the origin's host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
}

/// `PublicKeyCredentialUserEntity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyUser {
    /// base64url user handle (opaque, not the user id as text).
    pub id: String,
    /// Account name (`alice@example.com`).
    pub name: String,
    /// Human name.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters`: one acceptable COSE algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyCredentialParam {
    /// COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256 ...
    pub alg: i64,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `PublicKeyCredentialDescriptor` (`excludeCredentials`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyCredentialDescriptor {
    /// base64url credential id.
    pub id: String,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `usb`, `internal`, `hybrid` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAuthenticatorSelection {
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Legacy resident-key flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resident_key: Option<bool>,
    /// `discouraged|preferred|required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<String>,
    /// `discouraged|preferred|required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// `PublicKeyCredentialCreationOptions` as JSON: `GET users/passkeys/register`, and the
/// `registration` of `GET users/mfa/register/passkey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegistrationOptions {
    /// base64url challenge.
    pub challenge: String,
    /// The relying party.
    pub rp: PasskeyRelyingParty,
    /// The account the passkey is for.
    pub user: PasskeyUser,
    /// Acceptable algorithms, preferred first.
    pub pub_key_cred_params: Vec<PasskeyCredentialParam>,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// `none|indirect|direct|enterprise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// Which authenticators may answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<PasskeyAuthenticatorSelection>,
    /// Credentials the user already has (an authenticator holding one must refuse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_credentials: Option<Vec<PasskeyCredentialDescriptor>>,
    /// Registration extensions, passed through as they came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Value>,
    /// `hybrid|security-key|client-device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Vec<String>>,
}

/// `GET users/mfa/register/passkey` response (needs a `credential:link` token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaPasskeyRegistration {
    /// The new MFA device's id, echoed in the POST.
    pub id: String,
    /// Always `passkey`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The creation options.
    pub registration: PasskeyRegistrationOptions,
}

/// `AuthenticatorAttestationResponse` of the MFA registration (all base64url).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAttestationResponse {
    /// Note the capital `JSON` (unlike [`PasskeyRegisterResponse`]).
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// CBOR attestation object.
    pub attestation_object: String,
    /// Authenticator data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_data: Option<String>,
    /// COSE algorithm of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_algorithm: Option<i64>,
    /// SPKI of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// `usb`, `internal` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// The new credential of `POST users/mfa/register/passkey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAttestation {
    /// Credential id (base64url).
    pub id: String,
    /// Same as `id`.
    pub raw_id: String,
    /// The attestation.
    pub response: PasskeyAttestationResponse,
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension results (an object, usually empty).
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST users/mfa/register/passkey` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaPasskeyRegisterRequest {
    /// The device id from the GET.
    pub id: String,
    /// The new credential.
    pub attestation: PasskeyAttestation,
}

/// The attestation inside `PasskeyRegisterRequest` (account passkeys). Note **`clientDataJson`**.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegisterResponse {
    /// Lower-case `son`: the SDK renames the field for this model.
    #[serde(rename = "clientDataJson")]
    pub client_data_json: String,
    /// CBOR attestation object.
    pub attestation_object: String,
    /// `usb`, `internal` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
    /// SPKI of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// `PasskeyRegisterRequest` for `POST users/passkeys/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegisterRequest {
    /// Credential id (base64url).
    pub id: String,
    /// Same as `id`.
    pub raw_id: String,
    /// The attestation.
    pub response: PasskeyRegisterResponse,
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension results (an object, usually empty).
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `UserPasskey`: one of the user's passkeys (`GET users/passkeys`, `users/mfa/methods`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPasskey {
    /// The passkey's id (what `DELETE users/passkeys` names as `passkeyId`).
    pub id: String,
    /// The user's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The user agent that registered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The origin it was registered on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The WebAuthn credential id (base64url).
    pub credential_id: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Where it is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::model::PasskeyStorage>,
}

/// `GET users/passkeys` response (`GetUserPasskeysResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPasskeysResponse {
    /// The passkeys.
    pub passkeys: Vec<UserPasskey>,
    /// How many there are.
    pub count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passkey_bodies_use_the_exact_wire_keys() {
        let auth = PasskeyAuthRequest {
            id: "c".into(),
            raw_id: "c".into(),
            response: PasskeyAssertionResponse {
                client_data_json: "cd".into(),
                authenticator_data: "ad".into(),
                signature: "sg".into(),
                user_handle: None,
            },
            authenticator_attachment: None,
            client_extension_results: json!({}),
            kind: "public-key".into(),
            requested_scopes: Some(vec![TokenScope::WalletExport]),
        };
        assert_eq!(
            serde_json::to_value(&auth).unwrap(),
            json!({"id": "c", "rawId": "c", "type": "public-key", "clientExtensionResults": {},
                   "response": {"clientDataJSON": "cd", "authenticatorData": "ad", "signature": "sg"},
                   "requestedScopes": ["wallet:export"]})
        );
        let account = PasskeyRegisterRequest {
            id: "c".into(),
            raw_id: "c".into(),
            response: PasskeyRegisterResponse {
                client_data_json: "cd".into(),
                attestation_object: "ao".into(),
                transports: None,
                public_key: None,
            },
            authenticator_attachment: Some("platform".into()),
            client_extension_results: json!({}),
            kind: "public-key".into(),
        };
        let v = serde_json::to_value(&account).unwrap();
        assert_eq!(
            v["response"],
            json!({"clientDataJson": "cd", "attestationObject": "ao"})
        );
        assert_eq!(v["rawId"], json!("c"));
        assert_eq!(v["authenticatorAttachment"], json!("platform"));
        let mfa = MfaPasskeyRegisterRequest {
            id: "d1".into(),
            attestation: PasskeyAttestation {
                id: "c".into(),
                raw_id: "c".into(),
                response: PasskeyAttestationResponse {
                    client_data_json: "cd".into(),
                    attestation_object: "ao".into(),
                    authenticator_data: None,
                    public_key_algorithm: Some(-7),
                    public_key: None,
                    transports: None,
                },
                authenticator_attachment: None,
                client_extension_results: json!({}),
                kind: "public-key".into(),
            },
        };
        let v = serde_json::to_value(&mfa).unwrap();
        assert_eq!(
            v["attestation"]["response"],
            json!({"clientDataJSON": "cd", "attestationObject": "ao", "publicKeyAlgorithm": -7})
        );
        assert_eq!(v["attestation"]["clientExtensionResults"], json!({}));
    }

    #[test]
    fn passkey_options_parse_the_api_shapes() {
        let reg: MfaPasskeyRegistration = serde_json::from_value(json!({
            "id": "d1", "type": "passkey", "registration": {
                "challenge": "Y2g", "rp": {"id": "app.stepup.example", "name": "Stepup"},
                "user": {"id": "dQ", "name": "a@example.com", "displayName": "A"},
                "pubKeyCredParams": [{"alg": -7, "type": "public-key"}, {"alg": -257, "type": "public-key"}],
                "timeout": 60000, "attestation": "none",
                "authenticatorSelection": {"residentKey": "discouraged", "requireResidentKey": false, "userVerification": "required"},
                "excludeCredentials": [{"id": "eA", "type": "public-key"}],
                "extensions": {"credProps": true}
            }
        })).unwrap();
        assert_eq!(reg.registration.user.display_name, "A");
        assert_eq!(reg.registration.pub_key_cred_params[1].alg, -257);
        let sel = reg.registration.authenticator_selection.unwrap();
        assert_eq!(sel.user_verification.as_deref(), Some("required"));
        let opts: PasskeyAuthenticationOptions = serde_json::from_value(json!({
            "challenge": "Y2g", "timeout": 60000, "rpId": "app.stepup.example",
            "userVerification": "required", "allowCredentials": [{"id": "eA", "type": "public-key"}]
        }))
        .unwrap();
        assert_eq!(opts.allow_credentials.map(|c| c.len()), Some(1));
    }
}
