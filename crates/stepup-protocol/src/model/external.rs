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

/// `ExternalAuthAssertionResponse`. The session is not rotated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthAssertionResponse {
    /// The elevated token.
    pub elevated_access_token: Secret,
}
