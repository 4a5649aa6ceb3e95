//! Wallet step-up: a SIWE-style signed message (`POST wallets/verify`).

use crate::scope::TokenScope;
use serde::{Deserialize, Serialize};

/// `VerifyRequest` for `POST wallets/verify` (step-up with an external wallet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletVerifyRequest {
    /// EIP-191 signature, 0x-hex.
    pub signed_message: String,
    /// The SIWE-style message that was signed.
    pub message_to_sign: String,
    /// The wallet's address.
    pub public_wallet_address: String,
    /// `EVM`, `SOL` ...
    pub chain: String,
    /// Lower-case name plus chain, e.g. `metamaskevm`.
    pub wallet_name: String,
    /// `browserExtension`, `walletConnect` ...
    pub wallet_provider: String,
    /// Chain id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// More addresses of the same wallet (Bitcoin's ordinals/payment pair); none for EVM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_wallet_addresses: Option<Vec<WalletAdditionalAddress>>,
    /// A captcha token, when the project asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `WalletAdditionalAddress` (A:`src/models/WalletAdditionalAddress.d.ts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletAdditionalAddress {
    /// The address.
    pub address: String,
    /// Its public key, if the wallet gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// `WalletAddressType` (`ordinals`, `payment` ...).
    #[serde(rename = "type")]
    pub kind: String,
}
