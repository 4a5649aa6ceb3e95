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

/// `VerifyUnlinkRequest`, the `POST verify/unlink` body of the SDK's `unlinkSocialAccount`:
/// the credential to unlink, and the selected wallet as a hint (the SDK leaves it out for an
/// embedded wallet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyUnlinkRequest {
    /// The verified credential to unlink (every field of the model is optional; a server
    /// needs this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_credential_id: Option<String>,
    /// The selected wallet's verified credential, when it is not an embedded wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_id: Option<String>,
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
