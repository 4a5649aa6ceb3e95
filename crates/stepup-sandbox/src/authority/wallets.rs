//! Embedded wallets: a demo wallet per user who asks for one, and the export of its private
//! key, which needs a `wallet:export` token that is consumed only if the wallet is the
//! caller's. The key is returned as JSON (Dynamic runs an MPC ceremony instead).

use stepup_protocol::{codes, ExportPrivateKeyRequest, ExportPrivateKeyResponse, Secret};

use super::tokens::{PresentedToken, WalletExport};
use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::store::{UserRecord, WalletRecord};

/// A wallet with a random key; its address is derived from the key by SHA-256 (not Keccak:
/// the sandbox holds no secp256k1 code).
pub(super) fn new_demo_wallet() -> WalletRecord {
    let key = crypto::random_bytes::<32>();
    let digest = crypto::salted_hash(b"stepup-sandbox-address", &hex::encode(key));
    WalletRecord {
        id: crypto::new_id(),
        credential_id: crypto::new_id(),
        address: format!("0x{}", &digest[24..]),
        private_key: Secret::new(format!("0x{}", hex::encode(key))),
    }
}

fn own_wallet<'a>(user: &'a UserRecord, wallet_id: &str) -> Result<&'a WalletRecord, ApiError> {
    user.wallets
        .iter()
        .find(|w| w.id == wallet_id)
        .ok_or_else(|| {
            ApiError::unprocessable(
                codes::INVALID_WALLET_ID,
                "this wallet is not one of the signed-in user's wallets",
            )
        })
}

impl Authority {
    /// `POST waas/{walletId}/privateKey/export`: a valid `exportId`, then the caller's own
    /// wallet, and only then the `wallet:export` token (spent if single-use).
    pub(crate) fn export_key(
        &mut self,
        ctx: &SessionCtx,
        wallet_id: &str,
        req: &ExportPrivateKeyRequest,
        token: &PresentedToken<WalletExport>,
    ) -> Result<ExportPrivateKeyResponse, ApiError> {
        if req.export_id.is_empty() || req.export_id.len() > 128 {
            return Err(ApiError::invalid_request(
                "exportId has 1 to 128 characters",
            ));
        }
        own_wallet(self.user(&ctx.user_id)?, wallet_id)?;
        self.require_elevated(ctx, token)?;
        let wallet = own_wallet(self.user(&ctx.user_id)?, wallet_id)?;
        Ok(ExportPrivateKeyResponse {
            export_id: req.export_id.clone(),
            address: wallet.address.clone(),
            private_key: wallet.private_key.clone(),
        })
    }
}
