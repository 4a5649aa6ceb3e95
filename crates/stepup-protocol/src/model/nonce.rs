//! Single-use nonces the device signs (`GET nonce`, `GET nonces`).

use serde::{Deserialize, Serialize};

/// `GET nonces?count=N` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoncesResponse {
    /// Single-use nonces.
    pub nonces: Vec<String>,
}

/// `GET nonce` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// One single-use nonce.
    pub nonce: String,
}
