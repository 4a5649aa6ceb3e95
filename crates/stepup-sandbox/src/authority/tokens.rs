//! Elevated tokens: the policy of each scope, minting (ES256 JWT
//! `{sub, scope, exp, iat, jti, singleUse}`), and the check of the token a scope-protected call
//! presents, single-use ones consumed by `jti` server-side.
//!
//! A protected call's scope is a type ([`CredentialLink`], [`CredentialUnlink`],
//! [`WalletExport`]): the HTTP route names it in its signature as [`PresentedToken<S>`], and the
//! authority's rule for that call takes the same type, so the two cannot disagree.

use std::marker::PhantomData;
use stepup_protocol::jwt::{self, ElevatedTokenClaims};
use stepup_protocol::scope::split_scope_claim;
use stepup_protocol::{codes, scope_set_key, Secret, TokenScope};

use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::validation::{shown, MAX_SCOPES};
use crate::TokenPolicy;

/// `kid` of the sandbox's signing key.
pub(super) const KEY_ID: &str = "stepup-sandbox-1";

/// A scope that protects a call.
pub(crate) trait ProtectedScope {
    /// The scope the call's token must cover.
    const SCOPE: TokenScope;
}

/// `credential:link`: registering a TOTP device or a passkey.
pub(crate) struct CredentialLink;
/// `credential:unlink`: removing an MFA device.
pub(crate) struct CredentialUnlink;
/// `wallet:export`: exporting a wallet's private key.
pub(crate) struct WalletExport;

impl ProtectedScope for CredentialLink {
    const SCOPE: TokenScope = TokenScope::CredentialLink;
}
impl ProtectedScope for CredentialUnlink {
    const SCOPE: TokenScope = TokenScope::CredentialUnlink;
}
impl ProtectedScope for WalletExport {
    const SCOPE: TokenScope = TokenScope::WalletExport;
}

/// The elevated token a call protected by scope `S` presents (`x-dyn-elevated-access-token`),
/// not checked yet: the rule of the call checks it after its own preconditions, so a request
/// refused for another reason never spends a single-use token.
pub(crate) struct PresentedToken<S> {
    token: Option<String>,
    scope: PhantomData<S>,
}

impl<S: ProtectedScope> PresentedToken<S> {
    /// The token as sent, if any.
    pub(crate) fn new(token: Option<&str>) -> Self {
        Self {
            token: token.map(str::to_owned),
            scope: PhantomData,
        }
    }

    /// Whether a (non-empty) token was sent.
    pub(crate) fn is_present(&self) -> bool {
        self.token.as_deref().is_some_and(|t| !t.is_empty())
    }
}

impl Authority {
    /// The policy of a scope: the configured override, else the default for a known scope.
    /// `None` means the scope is unknown.
    pub(crate) fn policy_for(&self, scope: &str) -> Option<TokenPolicy> {
        if let Some(p) = self.policies.get(scope) {
            return Some(*p);
        }
        TokenScope::parse(scope)
            .is_known()
            .then(|| TokenPolicy::default_for(scope))
    }

    /// Checks `requestedScopes`; every scope must be known. Returns them as strings.
    pub(super) fn validate_scopes(
        &self,
        scopes: Option<&[TokenScope]>,
    ) -> Result<Vec<String>, ApiError> {
        let scopes = scopes.unwrap_or_default();
        if scopes.len() > MAX_SCOPES {
            return Err(ApiError::unprocessable(
                codes::INVALID_SCOPES,
                format!("at most {MAX_SCOPES} scopes can be requested"),
            ));
        }
        let mut out = Vec::with_capacity(scopes.len());
        for scope in scopes {
            if self.policy_for(scope.as_str()).is_none() {
                return Err(ApiError::unprocessable(
                    codes::INVALID_SCOPES,
                    format!("unknown scope {:?}", shown(scope.as_str())),
                ));
            }
            out.push(scope.as_str().to_owned());
        }
        Ok(out)
    }

    /// Signs an elevated token for `scopes` (already validated, non-empty).
    pub(super) fn mint_elevated(
        &self,
        user_id: &str,
        scopes: &[String],
    ) -> Result<Secret, ApiError> {
        let policies: Vec<TokenPolicy> = scopes.iter().filter_map(|s| self.policy_for(s)).collect();
        let single_use = policies.iter().any(|p| p.single_use);
        let ttl = policies.iter().map(|p| p.ttl_secs).min().unwrap_or(300);
        let now = self.now_secs();
        let claims = ElevatedTokenClaims {
            sub: user_id.to_owned(),
            scope: scope_set_key(scopes),
            exp: now + ttl,
            iat: now,
            jti: crypto::new_id(),
            single_use: Some(single_use),
        };
        jwt::sign_es256(&self.signing_key, Some(KEY_ID), &claims)
            .map(Secret::new)
            .map_err(|_| ApiError::internal("the sandbox could not sign a token"))
    }

    /// Accepts the token presented to a call protected by `S`, consuming it if single-use.
    /// Call it after the call's own checks and just before its effect.
    pub(super) fn require_elevated<S: ProtectedScope>(
        &mut self,
        ctx: &SessionCtx,
        presented: &PresentedToken<S>,
    ) -> Result<(), ApiError> {
        let scope = S::SCOPE;
        let scope = scope.as_str();
        match self.policy_for(scope) {
            Some(p) if !p.required => return Ok(()),
            _ => {}
        }
        let Some(token) = presented.token.as_deref().filter(|t| !t.is_empty()) else {
            return Err(ApiError::step_up_required(
                scope,
                "no elevated access token was sent",
            ));
        };
        let claims: ElevatedTokenClaims =
            jwt::verify_es256(token, self.signing_key.verifying_key()).map_err(|_| {
                ApiError::step_up_required(scope, "the elevated access token is not valid")
            })?;
        if claims.exp <= self.now_secs() {
            return Err(ApiError::step_up_required(
                scope,
                "the elevated access token has expired",
            ));
        }
        if claims.sub != ctx.user_id {
            return Err(ApiError::step_up_required(
                scope,
                "the elevated access token belongs to another user",
            ));
        }
        if !split_scope_claim(&claims.scope).iter().any(|s| s == scope) {
            return Err(ApiError::step_up_required(
                scope,
                "the elevated access token does not cover this scope",
            ));
        }
        if claims.single_use == Some(true) {
            if claims.jti.is_empty() || self.state.used_token_jtis.contains_key(&claims.jti) {
                return Err(ApiError::step_up_required(
                    scope,
                    "the single-use elevated access token was already used",
                ));
            }
            self.state.insert_used_token_jti(claims.jti, claims.exp);
            self.persist()?;
        }
        Ok(())
    }
}
