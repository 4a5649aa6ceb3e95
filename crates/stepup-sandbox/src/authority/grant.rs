//! The grant: the one way every accepted verification pays off. The caller's session is
//! replaced (a verified user never keeps a token from before the verification), an elevated
//! token is minted if scopes were asked for, the state is saved, and only then is the
//! `VerifyResponse` built.

use stepup_protocol::VerifyResponse;

use super::{Authority, SessionCtx};
use crate::error::ApiError;

/// The session a grant ends in.
pub(super) enum Session<'a> {
    /// Step-up and refresh: the caller's session is rotated (new `sid`, the old token dies),
    /// keeping its sign-in credential.
    Rotate(&'a SessionCtx),
    /// Sign-in: a first session for `user_id`, signed in with `credential_id`, bound to the
    /// client's `session_key` (normal form) if it sent one.
    SignIn {
        user_id: &'a str,
        credential_id: Option<String>,
        session_key: Option<String>,
    },
}

impl Authority {
    /// Rotates or opens the session, mints an elevated token for `scopes` (validated, or
    /// chosen by the authority; none mints none), persists, and answers with `next_view`.
    pub(super) fn grant(
        &mut self,
        session: Session<'_>,
        scopes: &[String],
        next_view: Option<&str>,
    ) -> Result<VerifyResponse, ApiError> {
        let (sid, user_id) = match session {
            Session::Rotate(ctx) => (self.rotate(ctx), ctx.user_id.as_str()),
            Session::SignIn {
                user_id,
                credential_id,
                session_key,
            } => (
                self.open_session(user_id, credential_id, session_key, None),
                user_id,
            ),
        };
        let elevated = if scopes.is_empty() {
            None
        } else {
            Some(self.mint_elevated(user_id, scopes)?)
        };
        self.persist()?;
        self.verify_response(&sid, elevated, next_view)
    }
}
