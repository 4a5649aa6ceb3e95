//! External auth: a customer-signed assertion exchanged for an elevated token.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `POST externalAuth/verify` body: a customer-signed assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthVerifyRequest {
    /// The assertion JWT (`sub`, `scope`, `jti`, `exp`).
    pub jwt: Secret,
}

/// `ExternalAuthSigninRequest`, the `POST externalAuth/signin` body of the SDK's
/// `signInWithExternalJwt` (BYOA sign-in): both fields are optional in the model (cookie
/// mode needs no `jwt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthSigninRequest {
    /// The customer-signed JWT of the user (`sub`, `jti`, `exp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Secret>,
    /// The session key to bind the session to, when the caller passes one (else the
    /// `x-dyn-session-public-key` header is the one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_public_key: Option<String>,
}

/// `ExternalAuthAssertionResponse`. The session is not rotated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthAssertionResponse {
    /// The elevated token.
    pub elevated_access_token: Secret,
}
