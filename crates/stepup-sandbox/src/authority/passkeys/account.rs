//! The user's passkeys as the SDK manages them: the list (`GET users/passkeys`, the SDK's
//! `getPasskeys`) and removal (`DELETE users/passkeys {passkeyId}`, the SDK's `deletePasskey`),
//! which needs a `credential:unlink` token, checked (and spent if single-use) only once the
//! passkey is known to be the caller's.

use stepup_protocol::{codes, UserPasskeysResponse};

use super::user_passkey_view;
use crate::authority::tokens::{CredentialUnlink, PresentedToken};
use crate::authority::{Authority, SessionCtx};
use crate::error::ApiError;
use crate::validation::MAX_ID_LEN;

fn no_such_passkey() -> ApiError {
    ApiError::unprocessable(codes::PASSKEY_NOT_FOUND, "no such passkey for this user")
}

impl Authority {
    /// `GET users/passkeys`: every passkey of the caller, account and MFA ones alike.
    pub(crate) fn list_passkeys(&self, ctx: &SessionCtx) -> Result<UserPasskeysResponse, ApiError> {
        let user = self.user(&ctx.user_id)?;
        let passkeys: Vec<_> = user.passkeys.iter().map(user_passkey_view).collect();
        Ok(UserPasskeysResponse {
            count: u32::try_from(passkeys.len()).unwrap_or(u32::MAX),
            passkeys,
        })
    }

    /// `DELETE users/passkeys {passkeyId}`: the passkey must be the caller's (another user's
    /// is as unknown as one that does not exist: 422 `passkey_not_found`, nothing spent)
    /// before the `credential:unlink` token is checked; then it is removed, and with it any
    /// pending ceremony can no longer use it.
    pub(crate) fn delete_passkey(
        &mut self,
        ctx: &SessionCtx,
        passkey_id: &str,
        token: &PresentedToken<CredentialUnlink>,
    ) -> Result<(), ApiError> {
        if passkey_id.is_empty() || passkey_id.len() > MAX_ID_LEN {
            return Err(no_such_passkey());
        }
        let user = self.user(&ctx.user_id)?;
        if !user.passkeys.iter().any(|p| p.id == passkey_id) {
            return Err(no_such_passkey());
        }
        self.require_elevated(ctx, token)?;
        self.user_mut(&ctx.user_id)?
            .passkeys
            .retain(|p| p.id != passkey_id);
        self.persist()?;
        tracing::info!("passkey removed");
        Ok(())
    }
}
