//! Sessions: the ES256 session JWT (1 h), its check on every signed-in call, rotation (new
//! `sid`, the old token is dead), refresh and revoke, and the `SdkUser` a session answers with.

use stepup_protocol::jwt::{self, SessionClaims};
use stepup_protocol::{CredentialFormat, JwtVerifiedCredential, SdkUser, Secret, VerifyResponse};

use super::tokens::KEY_ID;
use super::Authority;
use crate::crypto;
use crate::error::ApiError;
use crate::store::SessionRecord;

/// Revocations kept for [`Authority::revocations`].
pub(super) const REVOCATIONS_CAP: usize = 100;
/// The longest logout reason recorded.
const MAX_LOGOUT_REASON_LEN: usize = 64;

/// Session lifetime.
const SESSION_TTL_SECS: i64 = 3600;
/// The session scope every sandbox session carries.
const SESSION_SCOPE: &str = "user:basic";

/// Who is calling: the result of checking the session JWT.
#[derive(Debug, Clone)]
pub(crate) struct SessionCtx {
    /// The signed-in user.
    pub user_id: String,
    /// The session id (`sid`).
    pub sid: String,
}

/// What a call sent as `x-dyn-session-public-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SentSessionKey<'a> {
    /// No header.
    Absent,
    /// A header that is not a compressed P-256 point (it matches no session's key).
    Malformed,
    /// A valid key, in its normal form (lower-case hex).
    Key(&'a str),
}

impl Authority {
    /// Checks a session JWT, and that the call sends the session key the session was signed
    /// in with, if it was signed in with one: the session is bound to that client's key
    /// (A:`MinifiedDynamicJwt.sessionPublicKey`), so its bearer token alone, sent by a client
    /// holding another key or none, is refused like an ended session (401).
    pub(crate) fn authenticate(
        &self,
        bearer: Option<&str>,
        sent_key: SentSessionKey<'_>,
    ) -> Result<SessionCtx, ApiError> {
        let token = bearer.ok_or_else(|| {
            ApiError::unauthorized("sign in first: no Authorization: Bearer session token")
        })?;
        let claims: SessionClaims = jwt::verify_es256(token, self.signing_key.verifying_key())
            .map_err(|_| ApiError::unauthorized("the session token is not valid"))?;
        if claims.environment_id != self.env {
            return Err(ApiError::unauthorized(
                "the session token belongs to another environment",
            ));
        }
        if claims.exp <= self.now_secs() {
            return Err(ApiError::unauthorized(
                "the session has expired: sign in again",
            ));
        }
        let session =
            match self.state.sessions.get(&claims.sid) {
                Some(s) if s.user_id == claims.sub && s.expires_at > self.now_secs() => s,
                _ => return Err(ApiError::unauthorized(
                    "this session has ended (rotated, revoked or expired): use the latest token",
                )),
            };
        if let Some(bound) = &session.session_public_key {
            if sent_key != SentSessionKey::Key(bound) {
                return Err(ApiError::unauthorized(
                    "this session is bound to another session key: send the \
                     x-dyn-session-public-key it was signed in with",
                ));
            }
        }
        Ok(SessionCtx {
            user_id: claims.sub,
            sid: claims.sid,
        })
    }

    /// Opens a new session bound to `session_public_key` (if given), ending `replacing` if
    /// given. Returns the new `sid`.
    pub(super) fn open_session(
        &mut self,
        user_id: &str,
        signin_credential_id: Option<String>,
        session_public_key: Option<String>,
        replacing: Option<&str>,
    ) -> String {
        if let Some(old) = replacing {
            self.state.remove_session(old);
        }
        let sid = crypto::new_id();
        let expires_at = self.now_secs() + SESSION_TTL_SECS;
        self.state.insert_session(
            sid.clone(),
            SessionRecord {
                user_id: user_id.to_owned(),
                signin_credential_id,
                expires_at,
                session_public_key,
            },
        );
        sid
    }

    /// The credential the caller's session was signed in with.
    pub(super) fn signin_credential(&self, ctx: &SessionCtx) -> Option<String> {
        self.state
            .sessions
            .get(&ctx.sid)
            .and_then(|s| s.signin_credential_id.clone())
    }

    /// Rotates the caller's session, keeping its sign-in credential and its session key.
    pub(super) fn rotate(&mut self, ctx: &SessionCtx) -> String {
        let old = self.state.sessions.get(&ctx.sid);
        let signin = old.and_then(|s| s.signin_credential_id.clone());
        let key = old.and_then(|s| s.session_public_key.clone());
        self.open_session(&ctx.user_id, signin, key, Some(&ctx.sid))
    }

    /// The VerifyResponse of session `sid`.
    pub(super) fn verify_response(
        &self,
        sid: &str,
        elevated: Option<Secret>,
        next_view: Option<&str>,
    ) -> Result<VerifyResponse, ApiError> {
        let session = self
            .state
            .sessions
            .get(sid)
            .ok_or_else(|| ApiError::internal("the new session is missing"))?;
        let claims = SessionClaims {
            sub: session.user_id.clone(),
            sid: sid.to_owned(),
            environment_id: self.env.clone(),
            exp: session.expires_at,
            iat: self.now_secs(),
            scope: Some(SESSION_SCOPE.into()),
            session_public_key: session.session_public_key.clone(),
        };
        let token = jwt::sign_es256(&self.signing_key, Some(KEY_ID), &claims)
            .map_err(|_| ApiError::internal("the sandbox could not sign a session"))?;
        let user = self.sdk_user(&session.user_id, Some(sid))?;
        Ok(VerifyResponse {
            user,
            expires_at: session.expires_at,
            jwt: Some(Secret::new(token.clone())),
            minified_jwt: Some(Secret::new(token)),
            mfa_token: None,
            elevated_access_token: elevated,
            next_view: next_view.map(str::to_owned),
        })
    }

    /// The SdkUser view of a user.
    pub(crate) fn sdk_user(&self, user_id: &str, sid: Option<&str>) -> Result<SdkUser, ApiError> {
        let u = self.user(user_id)?;
        let blank = |id: &str, format: CredentialFormat| JwtVerifiedCredential {
            id: id.to_owned(),
            format,
            sign_in_enabled: true,
            address: None,
            chain: None,
            email: None,
            phone_number: None,
            public_identifier: None,
            wallet_name: None,
            wallet_provider: None,
            oauth_provider: None,
            oauth_username: None,
            oauth_display_name: None,
            oauth_emails: None,
            oauth_account_id: None,
            embedded_wallet_id: None,
        };
        let mut creds = Vec::new();
        if let Some(e) = &u.email {
            let mut c = blank(&e.credential_id, CredentialFormat::Email);
            c.email = Some(e.address.clone());
            c.public_identifier = Some(e.address.clone());
            creds.push(c);
        }
        if let Some(p) = &u.phone {
            let mut c = blank(&p.credential_id, CredentialFormat::PhoneNumber);
            c.phone_number = Some(p.number.clone());
            c.public_identifier = Some(format!("+{}{}", p.country_code, p.number));
            creds.push(c);
        }
        for w in &u.wallets {
            let mut c = blank(&w.credential_id, CredentialFormat::Blockchain);
            c.sign_in_enabled = false;
            c.address = Some(w.address.clone());
            c.chain = Some("eip155".into());
            c.public_identifier = Some(w.address.clone());
            c.wallet_name = Some("dynamicwaas".into());
            c.wallet_provider = Some("embeddedWallet".into());
            c.embedded_wallet_id = Some(w.id.clone());
            creds.push(c);
        }
        for w in &u.external_wallets {
            let mut c = blank(&w.credential_id, CredentialFormat::Blockchain);
            c.address = Some(w.address.clone());
            c.chain = Some("eip155".into());
            c.public_identifier = Some(w.address.clone());
            c.wallet_name = Some(w.wallet_name.clone());
            c.wallet_provider = Some("browserExtension".into());
            creds.push(c);
        }
        for a in &u.social_accounts {
            let mut c = blank(&a.credential_id, CredentialFormat::Oauth);
            c.public_identifier = Some(a.username.clone());
            c.oauth_provider = Some(a.provider.clone());
            c.oauth_username = Some(a.username.clone());
            c.oauth_display_name = Some(a.display_name.clone());
            c.oauth_account_id = Some(a.account_id.clone());
            if a.username.contains('@') {
                c.oauth_emails = Some(vec![a.username.clone()]);
            }
            creds.push(c);
        }
        Ok(SdkUser {
            id: u.id.clone(),
            environment_id: Some(self.env.clone()),
            email: u.email.as_ref().map(|e| e.address.clone()),
            phone_number: u.phone.as_ref().map(|p| p.number.clone()),
            session_id: sid.map(str::to_owned),
            scope: Some(SESSION_SCOPE.into()),
            verified_credentials: creds,
        })
    }

    /// `POST refresh`: a new session for the same user (a grant without scopes).
    pub(crate) fn refresh(&mut self, ctx: &SessionCtx) -> Result<VerifyResponse, ApiError> {
        self.grant(super::grant::Session::Rotate(ctx), &[], None)
    }

    /// `POST revoke`: ends the session, and records why the client signed out
    /// (`x-dyn-logout-reason`, which the SDK sends so the revocation is attributed instead of
    /// inferred from later 401s). A reason that is not 1 to 64 of `[a-z0-9-]` is recorded as
    /// absent, not refused: signing out must not fail over a label.
    pub(crate) fn revoke(
        &mut self,
        ctx: &SessionCtx,
        reason: Option<&str>,
    ) -> Result<(), ApiError> {
        self.state.remove_session(&ctx.sid);
        self.persist()?;
        let reason = reason
            .filter(|r| {
                !r.is_empty()
                    && r.len() <= MAX_LOGOUT_REASON_LEN
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .map(str::to_owned);
        tracing::info!(
            reason = reason.as_deref().unwrap_or("(none)"),
            known = reason
                .as_deref()
                .and_then(stepup_protocol::headers::LogoutReason::parse)
                .is_some(),
            "session revoked"
        );
        self.revocations.push_back(crate::Revocation {
            user_id: ctx.user_id.clone(),
            reason,
            at_ms: self.now_ms(),
        });
        while self.revocations.len() > REVOCATIONS_CAP {
            self.revocations.pop_front();
        }
        Ok(())
    }

    /// The revocations kept, oldest first.
    pub(crate) fn revocations(&self) -> Vec<crate::Revocation> {
        self.revocations.iter().cloned().collect()
    }
}
