//! Recovery codes: 10 × `XXXXX-XXXXX` (base32), stored as salted SHA-256 hashes, each
//! accepted once; a wrong one counts as a failed MFA attempt.

use stepup_protocol::{RecoveryAuthRequest, Secret, VerifyResponse};

use super::grant::Session;
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

impl Authority {
    /// `POST users/mfa/auth/recovery`.
    pub(crate) fn recovery_auth(
        &mut self,
        ctx: &SessionCtx,
        req: &RecoveryAuthRequest,
    ) -> Result<VerifyResponse, ApiError> {
        bounded("code", req.code.expose(), MAX_CODE_LEN)?;
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
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
