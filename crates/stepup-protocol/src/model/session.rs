//! Users and sessions: the signed-in user, their credentials, and `VerifyResponse`.

use super::CredentialFormat;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `JwtVerifiedCredential`, the fields we use. Note the snake_case keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtVerifiedCredential {
    /// Credential id.
    pub id: String,
    /// Credential kind.
    pub format: CredentialFormat,
    /// Whether it can be used to sign in.
    #[serde(default)]
    pub sign_in_enabled: bool,
    /// Wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Chain of a wallet (`EVM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number (national part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `public_identifier` (snake_case on the wire).
    #[serde(
        rename = "public_identifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub public_identifier: Option<String>,
    /// `wallet_name` (snake_case on the wire).
    #[serde(
        rename = "wallet_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_name: Option<String>,
    /// `wallet_provider` (snake_case on the wire).
    #[serde(
        rename = "wallet_provider",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_provider: Option<String>,
    /// `oauth_provider` (snake_case on the wire).
    #[serde(
        rename = "oauth_provider",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_provider: Option<String>,
    /// `oauth_username` (snake_case on the wire).
    #[serde(
        rename = "oauth_username",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_username: Option<String>,
    /// `oauth_display_name` (snake_case on the wire).
    #[serde(
        rename = "oauth_display_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_display_name: Option<String>,
    /// `oauth_emails` (snake_case on the wire).
    #[serde(
        rename = "oauth_emails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_emails: Option<Vec<String>>,
    /// `oauth_account_id` (snake_case on the wire).
    #[serde(
        rename = "oauth_account_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_account_id: Option<String>,
    /// `embedded_wallet_id` (snake_case on the wire).
    #[serde(
        rename = "embedded_wallet_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub embedded_wallet_id: Option<String>,
}

/// `SdkUser`, the fields we use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkUser {
    /// User id.
    pub id: String,
    /// Environment (project) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// Primary email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Primary phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Session id; changes when a step-up rotates the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Space-separated session scopes (`requiresAdditionalAuth` ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The user's credentials.
    #[serde(default)]
    pub verified_credentials: Vec<JwtVerifiedCredential>,
}

/// `VerifyResponse` (and the superset `UpdateSelfResponse`): what every sign-in and
/// verification returns. The client replaces its session with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// The signed-in user.
    pub user: SdkUser,
    /// Session expiry, unix **seconds**.
    pub expires_at: i64,
    /// Full session JWT (`legacyToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Secret>,
    /// The session JWT sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minified_jwt: Option<Secret>,
    /// The legacy per-action MFA token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<Secret>,
    /// The elevated access token minted for `requestedScopes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevated_access_token: Option<Secret>,
    /// `UpdateSelfResponse.nextView` on post-login OTP verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_view: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verified_credential_reads_the_snake_case_keys() {
        let cred: JwtVerifiedCredential = serde_json::from_value(json!({
            "id": "w", "format": "blockchain", "signInEnabled": true, "wallet_name": "metamask", "public_identifier": "0xabc"
        })).unwrap();
        assert_eq!(cred.wallet_name.as_deref(), Some("metamask"));
        assert_eq!(cred.public_identifier.as_deref(), Some("0xabc"));
    }
}
