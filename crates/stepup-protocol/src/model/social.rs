//! Social (OAuth) re-authentication: `initAuth`, then `verify` with the returned code.

use crate::scope::TokenScope;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `POST providers/{p}/initAuth` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthInitAuthRequest {
    /// 32 random alphanumerics, echoed back as `dynamicOauthState`.
    pub state: String,
    /// Where the authority sends the browser back.
    pub redirect_url: String,
}

/// `OauthRequest` for `POST providers/{p}/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthVerifyRequest {
    /// `dynamicOauthCode`.
    pub code: Secret,
    /// PKCE verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<Secret>,
    /// `dynamicOauthState`.
    pub state: String,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}
