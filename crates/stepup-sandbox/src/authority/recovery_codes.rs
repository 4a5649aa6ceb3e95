//! Recovery codes: 10 × `XXXXX-XXXXX` (base32), stored as salted SHA-256 hashes, each
//! accepted once; a wrong one counts as a failed MFA attempt. A new set (behind a
//! `credential:link` token) replaces the old one, whose codes stop working.

use stepup_protocol::{codes, RecoveryAuthRequest, RecoveryCodesResponse, Secret, VerifyResponse};

use super::grant::Session;
use super::tokens::{CredentialLink, PresentedToken};
use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::store::RecoveryCodeRecord;
use crate::validation::{bounded, MAX_CODE_LEN};

/// Number of recovery codes a user gets.
const RECOVERY_CODE_COUNT: usize = 10;

/// A new user's recovery codes: the records to store and the plaintext codes, which only the
/// caller ever sees.
pub(super) fn new_recovery_codes() -> (Vec<RecoveryCodeRecord>, Vec<Secret>) {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let code = crypto::recovery_code();
            let salt = crypto::random_bytes::<16>();
            let record = RecoveryCodeRecord {
                salt: hex::encode(salt),
                hash: crypto::salted_hash(&salt, &crypto::normalize_recovery_code(code.expose())),
                used: false,
            };
            (record, code)
        })
        .unzip()
}

/// A count as the API's `count`.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Authority {
    /// `GET users/mfa/recovery`: how many unused codes the user has. The codes themselves are
    /// not in it (`recoveryCodes: []`): the sandbox keeps only their hashes, so a code is
    /// shown once, by the `POST` that makes it.
    pub(crate) fn recovery_codes_status(
        &self,
        ctx: &SessionCtx,
    ) -> Result<RecoveryCodesResponse, ApiError> {
        let user = self.user(&ctx.user_id)?;
        Ok(RecoveryCodesResponse {
            count: count(user.recovery_codes.iter().filter(|r| !r.used).count()),
            recovery_codes: Vec::new(),
        })
    }

    /// `POST users/mfa/recovery` (`credential:link`): a new set of codes, returned once,
    /// replacing every old code (used or not), which stops working. Only for a user with an
    /// MFA method (the codes stand in for one); the token is checked, and spent if
    /// single-use, after that.
    pub(crate) fn regenerate_recovery_codes(
        &mut self,
        ctx: &SessionCtx,
        token: &PresentedToken<CredentialLink>,
    ) -> Result<RecoveryCodesResponse, ApiError> {
        self.user(&ctx.user_id)?;
        if !self.has_mfa(&ctx.user_id) {
            return Err(ApiError::unprocessable(
                codes::MFA_INVALID_REQUEST,
                "recovery codes stand in for an MFA method, and this user has none",
            ));
        }
        self.require_elevated(ctx, token)?;
        let (records, plain) = new_recovery_codes();
        self.user_mut(&ctx.user_id)?.recovery_codes = records;
        if self.is_demo(&ctx.user_id) {
            self.demo_recovery_codes = plain.clone();
        }
        self.persist()?;
        tracing::info!("recovery codes replaced");
        Ok(RecoveryCodesResponse {
            count: count(plain.len()),
            recovery_codes: plain,
        })
    }

    /// `POST users/mfa/auth/recovery`.
    pub(crate) fn recovery_auth(
        &mut self,
        ctx: &SessionCtx,
        req: &RecoveryAuthRequest,
    ) -> Result<VerifyResponse, ApiError> {
        bounded("code", req.code.expose(), MAX_CODE_LEN)?;
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        self.require_method_on("recovery-codes")?;
        self.mfa_guard(&ctx.user_id)?;
        let typed = crypto::normalize_recovery_code(req.code.expose());
        let user = self.user_mut(&ctx.user_id)?;
        let hit = user
            .recovery_codes
            .iter_mut()
            .filter(|r| !r.used)
            .find(|r| {
                let salt = hex::decode(&r.salt).unwrap_or_default();
                crypto::ct_eq(
                    crypto::salted_hash(&salt, &typed).as_bytes(),
                    r.hash.as_bytes(),
                )
            });
        match hit {
            Some(r) => r.used = true,
            None => return Err(self.wrong_mfa_code(&ctx.user_id)),
        }
        if self.is_demo(&ctx.user_id) {
            self.demo_recovery_codes
                .retain(|c| crypto::normalize_recovery_code(c.expose()) != typed);
        }
        self.grant(Session::Rotate(ctx), &scopes, None)
    }
}
