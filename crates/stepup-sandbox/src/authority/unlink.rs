//! `POST verify/unlink` (the SDK's `unlinkSocialAccount`): removes one of the caller's linked
//! social accounts, behind a `credential:unlink` token that is checked (and spent if
//! single-use) only once the request is known to be one the sandbox would carry out.

use stepup_protocol::{codes, VerifyResponse, VerifyUnlinkRequest};

use super::grant::Session;
use super::tokens::{CredentialUnlink, PresentedToken};
use super::{Authority, SessionCtx};
use crate::error::ApiError;
use crate::validation::MAX_ID_LEN;

fn refused(message: &str) -> ApiError {
    ApiError::unprocessable(codes::INVALID_UNLINK_REQUEST, message)
}

impl Authority {
    /// The rules, in order; none of the refusals spends the token:
    /// 1. `verifiedCredentialId` names a linked social account of the caller (another user's
    ///    credential is as unknown as one that does not exist: 422 `invalid_unlink_request`).
    ///    The sandbox unlinks social accounts only: email, phone and wallets are refused.
    /// 2. `walletId`, if sent, is one of the caller's external wallets (an embedded wallet is
    ///    refused as Dynamic refuses it, "Cannot remove an embedded wallet ... using this
    ///    unlink method"; the SDK leaves it out then).
    /// 3. The account is not the user's last sign-in credential (422
    ///    `cannot_delete_last_sign_in_verified_credential`).
    /// 4. The `credential:unlink` token (403 `step_up_required`, spent if single-use).
    ///
    /// Then the account is gone (it no longer re-authenticates, nor is it offered by
    /// `stepUp/check`) and the session rotates, answering with the user without it.
    pub(crate) fn unlink_credential(
        &mut self,
        ctx: &SessionCtx,
        req: &VerifyUnlinkRequest,
        token: &PresentedToken<CredentialUnlink>,
    ) -> Result<VerifyResponse, ApiError> {
        let id = req
            .verified_credential_id
            .as_deref()
            .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
            .ok_or_else(|| refused("verifiedCredentialId names the credential to unlink"))?;
        let user = self.user(&ctx.user_id)?;
        if !user.social_accounts.iter().any(|a| a.credential_id == id) {
            let own_other = user.email.as_ref().is_some_and(|e| e.credential_id == id)
                || user.phone.as_ref().is_some_and(|p| p.credential_id == id)
                || user.wallets.iter().any(|w| w.credential_id == id)
                || user.external_wallets.iter().any(|w| w.credential_id == id);
            return Err(refused(if own_other {
                "the sandbox unlinks linked social accounts only"
            } else {
                "no such credential for this user"
            }));
        }
        if let Some(wallet) = req.wallet_id.as_deref() {
            let wallet = wallet.strip_suffix("-zerodev").unwrap_or(wallet);
            if user
                .wallets
                .iter()
                .any(|w| w.credential_id == wallet || w.id == wallet)
            {
                return Err(refused(
                    "Cannot remove an embedded wallet from a user using this unlink method",
                ));
            }
            if !user
                .external_wallets
                .iter()
                .any(|w| w.credential_id == wallet)
            {
                return Err(refused("walletId is not a wallet of this user"));
            }
        }
        let sign_in_credentials = usize::from(user.email.is_some())
            + usize::from(user.phone.is_some())
            + user.external_wallets.len()
            + user.social_accounts.len();
        if sign_in_credentials <= 1 {
            return Err(ApiError::unprocessable(
                codes::CANNOT_DELETE_LAST_SIGN_IN_VERIFIED_CREDENTIAL,
                "this is the user's last sign-in credential",
            ));
        }
        self.require_elevated(ctx, token)?;
        self.user_mut(&ctx.user_id)?
            .social_accounts
            .retain(|a| a.credential_id != id);
        tracing::info!("social account unlinked");
        self.grant(Session::Rotate(ctx), &[], None)
    }
}
