//! MFA devices: TOTP and recovery-code authentication, device lists, and TOTP registration.

use super::passkey::UserPasskey;
use crate::scope::TokenScope;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `CreateMfaToken` (legacy per-action flow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMfaToken {
    /// Whether the MFA token is single-use.
    pub single_use: bool,
}

/// `MFAAuthTotpDevicePostRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpAuthRequest {
    /// The TOTP device; the default one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The 6-digit code.
    pub code: Secret,
    /// Legacy MFA token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_mfa_token: Option<CreateMfaToken>,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `MFAAuthRecoveryDevicePostRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryAuthRequest {
    /// One of the user's recovery codes.
    pub code: Secret,
    /// Legacy MFA token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_mfa_token: Option<CreateMfaToken>,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `MFADevice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaDevice {
    /// `totp`, `passkey` or `email`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the device finished registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339 verification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// Whether this is the default device (JSON key `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Human label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// `GET users/mfa` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaDevicesResponse {
    /// Number of devices.
    pub count: u32,
    /// The devices.
    pub devices: Vec<MfaDevice>,
}

/// `GET users/mfa/register/totp` response (needs a `credential:link` token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpRegistration {
    /// The new device's id.
    pub id: String,
    /// Always `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Base32 shared secret.
    pub secret: Secret,
    /// `otpauth://` URI for authenticator apps.
    pub uri: Secret,
}

/// `POST users/mfa/register/totp` body: confirms the device with a first code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpRegisterVerifyRequest {
    /// Always `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A current code.
    pub code: Secret,
}

/// `GET users/mfa/methods[?verifiedOnly=true]` response (`MFAMethodsResponse`, the SDK's
/// `getMfaMethods`, which asks with `verifiedOnly=true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaMethodsResponse {
    /// The MFA devices that are not passkeys (TOTP).
    pub devices: Vec<MfaDevice>,
    /// The passkeys usable for MFA.
    pub passkeys: Vec<UserPasskey>,
    /// Whether the user has any verified MFA method.
    pub user_has_verified_mfa_methods: bool,
}

/// `GET|POST users/mfa/recovery` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesResponse {
    /// Number of codes.
    pub count: u32,
    /// The codes (returned once, at creation).
    pub recovery_codes: Vec<Secret>,
}

/// `PasskeyStorage`: where a passkey is kept (a password manager's name and icon).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyStorage {
    /// The store's name.
    pub name: String,
    /// Its icon's URL.
    pub icon: String,
    /// RFC 3339 time of the last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mfa_methods_have_the_api_keys() {
        let body = json!({
            "devices": [{"type": "totp", "id": "d1", "verified": true, "default": true}],
            "passkeys": [{"id": "p1", "credentialId": "Y3JlZA", "createdAt": "2026-12-02T17:00:00Z", "alias": "Passkey"}],
            "userHasVerifiedMfaMethods": true
        });
        let methods: MfaMethodsResponse = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(methods.devices[0].default, Some(true));
        assert_eq!(methods.passkeys[0].credential_id, "Y3JlZA");
        assert_eq!(serde_json::to_value(&methods).unwrap(), body);
    }

    #[test]
    fn totp_auth_request_sends_only_the_fields_it_has() {
        let totp = TotpAuthRequest {
            id: None,
            code: "1".into(),
            create_mfa_token: None,
            requested_scopes: None,
        };
        assert_eq!(serde_json::to_value(&totp).unwrap(), json!({"code": "1"}));
    }
}
