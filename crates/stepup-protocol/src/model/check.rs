//! The step-up check: `POST users/stepUp/check` and the credentials it offers.

use super::CredentialFormat;
use crate::scope::TokenScope;
use serde::{Deserialize, Serialize};

/// `StepUpCheckRequest`: the only field is the scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepUpCheckRequest {
    /// The scope the caller is about to use.
    pub scope: TokenScope,
}

/// `StepUpCheckResponse`. `credentials` is required: a body without it does not parse, which
/// the client turns into "required" (the SDK's behaviour, §1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepUpCheck {
    /// Whether the caller must verify before using the scope.
    pub is_required: bool,
    /// The credentials the user may verify with.
    pub credentials: Vec<StepUpCredential>,
    /// The recommended credential: MFA: default or newest device; re-auth: the sign-in credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_credential_id: Option<String>,
}

impl StepUpCheck {
    /// The fail-closed answer: required, with no credentials.
    pub fn required() -> Self {
        Self {
            is_required: true,
            credentials: Vec::new(),
            default_credential_id: None,
        }
    }
    /// The answer of the local fast path: not required.
    pub fn satisfied() -> Self {
        Self {
            is_required: false,
            credentials: Vec::new(),
            default_credential_id: None,
        }
    }
}

/// `StepUpCredential`: one way the user can verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpCredential {
    /// Credential or MFA device id.
    pub id: String,
    /// What kind of credential it is.
    pub format: CredentialFormat,
    /// Separates MFA device kinds that share a format (`totp`, `passkey`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A human label (device alias, masked email or phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_up_check_parses_the_sdk_shape_and_unknown_formats() {
        let v = json!({"isRequired": true, "credentials": [
            {"id": "d1", "format": "totp", "type": "totp", "alias": "Phone"},
            {"id": "c2", "format": "retina"}
        ], "defaultCredentialId": "d1", "extra": 1});
        let c: StepUpCheck = serde_json::from_value(v).unwrap();
        assert!(c.is_required);
        assert_eq!(
            c.credentials[1].format,
            CredentialFormat::Unknown("retina".into())
        );
        assert_eq!(c.default_credential_id.as_deref(), Some("d1"));
    }

    #[test]
    fn step_up_check_without_credentials_does_not_parse() {
        assert!(serde_json::from_value::<StepUpCheck>(json!({"isRequired": false})).is_err());
    }
}
