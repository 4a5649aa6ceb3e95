//! Social (OAuth) re-authentication: `initAuth`, then `verify` with the returned code.

use crate::scope::TokenScope;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `POST providers/{p}/initAuth` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthInitAuthRequest {
    /// 32 random alphanumerics, echoed back as `dynamicOauthState` (a [`Secret`]: whoever has
    /// it with the code could finish the sign-in; `Debug` redacts it).
    pub state: Secret,
    /// Where the authority sends the browser back.
    pub redirect_url: String,
}

/// `OauthRequest` for `POST providers/{p}/verify`. `Debug` shows no code, verifier or state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthVerifyRequest {
    /// `dynamicOauthCode`.
    pub code: Secret,
    /// PKCE verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<Secret>,
    /// `dynamicOauthState` (`Debug` redacts it).
    pub state: Secret,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_keys_are_the_sdks_and_debug_redacts() {
        let req = OauthVerifyRequest {
            code: Secret::new("code-123"),
            code_verifier: Some(Secret::new("verifier-456")),
            state: Secret::new("state-789"),
            requested_scopes: Some(vec![TokenScope::WalletExport]),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"code": "code-123", "codeVerifier": "verifier-456",
                "state": "state-789", "requestedScopes": ["wallet:export"]})
        );
        let dbg = format!("{req:?}");
        for secret in ["code-123", "verifier-456", "state-789"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        let init = OauthInitAuthRequest {
            state: Secret::new("state-789"),
            redirect_url: "http://127.0.0.1:1/t/callback".into(),
        };
        assert!(!format!("{init:?}").contains("state-789"));
        assert_eq!(
            serde_json::to_value(&init).unwrap(),
            serde_json::json!({"state": "state-789", "redirectUrl": "http://127.0.0.1:1/t/callback"})
        );
    }
}
