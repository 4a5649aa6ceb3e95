//! Bodies of the scope-protected actions: deleting a passkey, exporting a wallet's private key.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// `DELETE users/passkeys` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePasskeyRequest {
    /// The passkey to remove.
    pub passkey_id: String,
}

/// `ExportWaasWalletPrivateKeyRequest` for `POST waas/{walletId}/privateKey/export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportPrivateKeyRequest {
    /// Caller-chosen id of this export.
    pub export_id: String,
    /// Key share set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_set_id: Option<String>,
    /// Address type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
}

/// What the sandbox answers to an export. Dynamic runs an MPC ceremony over SSE here; the
/// sandbox holds a plain demo key and returns it in JSON (see the sandbox README).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportPrivateKeyResponse {
    /// The export's id, echoed.
    pub export_id: String,
    /// The wallet's address.
    pub address: String,
    /// The private key, 0x-hex.
    pub private_key: Secret,
}
