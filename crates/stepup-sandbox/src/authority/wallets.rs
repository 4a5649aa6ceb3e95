//! Wallets: the embedded (demo) wallet and the export of its private key, which needs a
//! `wallet:export` token that is consumed only if the wallet is the caller's (the key is
//! returned as JSON; Dynamic runs an MPC ceremony instead); and step-up with an external
//! wallet's signature of a SIWE message (`POST wallets/verify`).

use stepup_protocol::{
    codes, ExportPrivateKeyRequest, ExportPrivateKeyResponse, Secret, VerifyResponse,
    WalletVerifyRequest,
};

use super::grant::Session;
use super::siwe;
use super::tokens::{PresentedToken, WalletExport};
use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::expiring_map::ExpiringMap;
use crate::store::{ExternalWalletRecord, UserRecord, WalletRecord};
use crate::validation::bounded;

/// How far `Issued At` may lie in the past.
const ISSUED_AT_MAX_AGE_MS: i64 = 10 * 60 * 1000;
/// How far in the future `Issued At` may lie (clock skew).
const ISSUED_AT_MAX_SKEW_MS: i64 = 60 * 1000;
/// Accepted messages are remembered this long (past the `Issued At` window, after which they
/// would be refused anyway).
const USED_MESSAGE_TTL_MS: i64 = ISSUED_AT_MAX_AGE_MS + ISSUED_AT_MAX_SKEW_MS;
/// Accepted messages kept at most.
const MAX_USED_MESSAGES: usize = 10_000;
/// The EVM network of this environment: the one chain id a message may name.
pub(crate) const EVM_CHAIN_ID: &str = "1";
/// Dynamic's documentation: "Embedded wallets cannot be used for step-up authentication."
const EMBEDDED_REFUSED: &str = "Embedded wallets cannot be used for step-up authentication";

/// The table of accepted SIWE messages (by SHA-256) of a new authority.
pub(super) fn used_message_table() -> ExpiringMap<()> {
    ExpiringMap::new(USED_MESSAGE_TTL_MS, MAX_USED_MESSAGES)
}

/// A random secp256k1 key, 0x-hex, and its Keccak-256 address (EIP-55).
fn new_secp256k1_key() -> (Secret, String) {
    loop {
        let bytes = crypto::random_bytes::<32>();
        if let Ok(key) = k256::ecdsa::SigningKey::from_slice(&bytes) {
            let address = siwe::address_of_signing_key(&key);
            return (Secret::new(format!("0x{}", hex::encode(bytes))), address);
        }
    }
}

/// An embedded wallet with a random secp256k1 key; its address is derived from the key with
/// Keccak-256, as a real Ethereum address is.
pub(super) fn new_demo_wallet() -> WalletRecord {
    let (private_key, address) = new_secp256k1_key();
    WalletRecord {
        id: crypto::new_id(),
        credential_id: crypto::new_id(),
        address,
        private_key,
    }
}

/// A verified external wallet (`metamask`) with a random key the sandbox keeps for the demo.
pub(super) fn new_demo_external_wallet() -> ExternalWalletRecord {
    let (private_key, address) = new_secp256k1_key();
    ExternalWalletRecord {
        credential_id: crypto::new_id(),
        address,
        wallet_name: "metamask".into(),
        demo_private_key: Some(private_key),
    }
}

/// A refused wallet verification: 422 `invalid_verification` with the reason.
fn refused(why: &str) -> ApiError {
    ApiError::unprocessable(
        codes::INVALID_VERIFICATION,
        format!("the wallet signature was not accepted: {why}"),
    )
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

    /// The domain (`host[:port]`) and URI the SDK writes for this environment's app URL
    /// (`new URL(universalLink)`: `.host`, `.toString()`).
    fn siwe_domain_and_uri(&self) -> (String, String) {
        let url = &self.app_origin;
        let host = url.host_str().unwrap_or_default();
        let domain = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        (domain, url.to_string())
    }

    /// `POST wallets/verify`: step-up with an external wallet's `personal_sign` of a SIWE
    /// message. The wallet must be a verified external wallet of the caller (an embedded one
    /// is refused); the message must name this environment (domain, URI, chain, request id),
    /// carry a nonce this sandbox issued and nobody used, be issued within the last 10
    /// minutes and never have been accepted before; the signature must recover to the
    /// wallet's address. Then the grant: the session rotates and a token is minted for
    /// `requestedScopes`.
    pub(crate) fn wallet_verify(
        &mut self,
        ctx: &SessionCtx,
        req: &WalletVerifyRequest,
    ) -> Result<VerifyResponse, ApiError> {
        bounded(
            "messageToSign",
            &req.message_to_sign,
            siwe::MAX_MESSAGE_BYTES,
        )?;
        bounded("signedMessage", &req.signed_message, 256)?;
        bounded("publicWalletAddress", &req.public_wallet_address, 128)?;
        bounded("chain", &req.chain, 32)?;
        bounded("walletName", &req.wallet_name, 128)?;
        bounded("walletProvider", &req.wallet_provider, 64)?;
        if let Some(network) = &req.network {
            bounded("network", network, 64)?;
        }
        if req
            .additional_wallet_addresses
            .as_ref()
            .is_some_and(|a| a.len() > 8)
        {
            return Err(ApiError::invalid_request(
                "additionalWalletAddresses has at most 8 entries",
            ));
        }
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        if scopes.is_empty() {
            return Err(ApiError::unprocessable(
                codes::INVALID_SCOPES,
                "wallets/verify is step-up: requestedScopes must name at least one scope",
            ));
        }
        if req.chain != "EVM" {
            return Err(refused("only EVM wallets can step up in this sandbox"));
        }
        self.require_method_on("wallet")?;
        let claimed = req.public_wallet_address.as_str();
        if !siwe::is_hex_address(claimed) {
            return Err(ApiError::invalid_request(
                "publicWalletAddress is not an 0x address",
            ));
        }
        let user = self.user(&ctx.user_id)?;
        let is_embedded = user
            .wallets
            .iter()
            .any(|w| w.address.eq_ignore_ascii_case(claimed));
        if is_embedded || req.wallet_provider == "embeddedWallet" {
            return Err(ApiError::unprocessable(
                codes::INVALID_VERIFICATION,
                EMBEDDED_REFUSED,
            ));
        }
        if !user
            .external_wallets
            .iter()
            .any(|w| w.address.eq_ignore_ascii_case(claimed))
        {
            return Err(ApiError::unprocessable(
                codes::INVALID_WALLET_ADDRESS,
                "this wallet is not a verified credential of the signed-in user",
            ));
        }
        let message = siwe::parse(&req.message_to_sign).map_err(refused)?;
        if !message.address.eq_ignore_ascii_case(claimed) {
            return Err(refused("the message names another address"));
        }
        let (domain, uri) = self.siwe_domain_and_uri();
        if message.domain != domain || message.uri != uri {
            return Err(refused("the message's domain or URI is not this app's"));
        }
        if message.request_id.as_deref() != Some(self.env.as_str()) {
            return Err(refused("the message's request id is not this environment"));
        }
        if message.chain_id.as_deref() != Some(EVM_CHAIN_ID)
            || req.network.as_deref().is_some_and(|n| n != EVM_CHAIN_ID)
        {
            return Err(refused(
                "the chain id is not this environment's network (1)",
            ));
        }
        let now = self.now_ms();
        let issued = message
            .issued_at_ms
            .ok_or_else(|| refused("the message has no Issued At"))?;
        if issued < now - ISSUED_AT_MAX_AGE_MS || issued > now + ISSUED_AT_MAX_SKEW_MS {
            return Err(refused(
                "the message was not issued within the last 10 minutes",
            ));
        }
        let digest = crypto::salted_hash(b"stepup-sandbox-siwe", &req.message_to_sign);
        if self
            .used_siwe_messages
            .get_mut(&digest, now)
            .is_some_and(|found| !found.expired)
        {
            return Err(refused("this message was already accepted once"));
        }
        // The nonce is spent by the first signature that names it, good or bad.
        if self.nonces.take(&message.nonce, now).is_none() {
            return Err(refused(
                "the nonce was not issued by this server, or was already used",
            ));
        }
        let signer = siwe::recover_personal_signer(&req.message_to_sign, &req.signed_message)
            .map_err(refused)?;
        if !signer.eq_ignore_ascii_case(claimed) {
            return Err(refused("the signature was made by another address"));
        }
        self.used_siwe_messages.insert(digest, (), now);
        tracing::info!(scopes = scopes.len(), "wallet step-up accepted");
        self.grant(Session::Rotate(ctx), &scopes, None)
    }
}
