//! External auth: an assertion signed by the customer's key (ES256 JWT `{sub, scope, jti,
//! exp}`) for the signed-in user becomes an elevated token; each `jti` is accepted once.

use serde::Deserialize;
use stepup_protocol::jwt;
use stepup_protocol::scope::split_scope_claim;
use stepup_protocol::{codes, ExternalAuthAssertionResponse, Secret};

use super::{Authority, SessionCtx};
use crate::error::ApiError;
use crate::validation::{shown, MAX_SCOPES};

/// The claims of a customer's external-auth assertion.
#[derive(Debug, Deserialize)]
struct ExternalAssertion {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    jti: String,
    #[serde(default)]
    exp: i64,
}

impl Authority {
    /// `POST externalAuth/verify`: a customer-signed assertion becomes an elevated token. The
    /// session is not rotated: no user verification happened here.
    pub(crate) fn external_auth_verify(
        &mut self,
        ctx: &SessionCtx,
        assertion: &Secret,
    ) -> Result<ExternalAuthAssertionResponse, ApiError> {
        let invalid = |why: &str| {
            ApiError::unprocessable(
                codes::INVALID_EXTERNAL_AUTH,
                format!("invalid external auth assertion: {why}"),
            )
        };
        let key = self
            .external_auth_key
            .ok_or_else(|| invalid("external auth is not configured for this environment"))?;
        let claims: ExternalAssertion =
            jwt::verify_es256(assertion.expose(), &key).map_err(|e| invalid(&e.to_string()))?;
        let now = self.now_secs();
        if claims.exp <= now {
            return Err(invalid("it has expired (or has no exp)"));
        }
        if claims.sub != ctx.user_id {
            return Err(invalid("its sub is not the signed-in user"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(invalid("it needs a jti of 1 to 256 characters"));
        }
        if self.state.used_external_jtis.contains_key(&claims.jti) {
            return Err(invalid("its jti was already used"));
        }
        let scopes = split_scope_claim(&claims.scope);
        if scopes.is_empty() || scopes.len() > MAX_SCOPES {
            return Err(invalid("it needs a space-separated scope claim"));
        }
        if let Some(unknown) = scopes.iter().find(|s| self.policy_for(s).is_none()) {
            return Err(invalid(&format!("unknown scope {:?}", shown(unknown))));
        }
        self.state.insert_used_external_jti(claims.jti, claims.exp);
        let token = self.mint_elevated(&ctx.user_id, &scopes)?;
        self.persist()?;
        Ok(ExternalAuthAssertionResponse {
            elevated_access_token: token,
        })
    }
}
