//! External auth: an assertion signed by the customer's key (ES256 JWT `{sub, scope, jti,
//! exp}`) for the signed-in user becomes an elevated token (`externalAuth/verify`), and one
//! `{sub, jti, exp}` signs its user in (`externalAuth/signin`, the SDK's
//! `signInWithExternalJwt`); each `jti` is accepted once, by either.

use serde::Deserialize;
use stepup_protocol::jwt;
use stepup_protocol::scope::split_scope_claim;
use stepup_protocol::{
    codes, ExternalAuthAssertionResponse, ExternalAuthSigninRequest, Secret, VerifyResponse,
};

use super::grant::Session;
use super::{Authority, SessionCtx};
use crate::error::ApiError;
use crate::validation::{normalize_session_public_key, shown, MAX_SCOPES};

fn invalid(why: &str) -> ApiError {
    ApiError::unprocessable(
        codes::INVALID_EXTERNAL_AUTH,
        format!("invalid external auth assertion: {why}"),
    )
}

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
    #[serde(default)]
    iss: Option<String>,
    /// A string or an array of strings (RFC 7519 §4.1.3).
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

/// How long the demo customer backend's assertions live.
const CUSTOMER_ASSERTION_SECS: i64 = 120;

impl Authority {
    /// The claims of an assertion signed by the environment's external-auth key, unexpired,
    /// with a `jti` not used before (not yet marked used: the caller marks it once the rest
    /// of its checks passed).
    fn check_assertion(&self, assertion: &Secret) -> Result<ExternalAssertion, ApiError> {
        let key = self
            .external_auth_key
            .ok_or_else(|| invalid("external auth is not configured for this environment"))?;
        let claims: ExternalAssertion =
            jwt::verify_es256(assertion.expose(), &key).map_err(|e| invalid(&e.to_string()))?;
        if claims.exp <= self.now_secs() {
            return Err(invalid("it has expired (or has no exp)"));
        }
        if let Some(issuer) = &self.external_auth_issuer {
            if claims.iss.as_deref() != Some(issuer.as_str()) {
                return Err(invalid(
                    "its iss is not the environment's external-auth issuer",
                ));
            }
        }
        if let Some(audience) = &self.external_auth_audience {
            if !jwt::names_audience(claims.aud.as_ref(), audience) {
                return Err(invalid(
                    "its aud is not the environment's external-auth audience",
                ));
            }
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(invalid("it needs a jti of 1 to 256 characters"));
        }
        if self.state.used_external_jtis.contains_key(&claims.jti) {
            return Err(invalid("its jti was already used"));
        }
        Ok(claims)
    }

    /// `POST externalAuth/verify`: a customer-signed assertion becomes an elevated token. The
    /// session is not rotated: no user verification happened here.
    pub(crate) fn external_auth_verify(
        &mut self,
        ctx: &SessionCtx,
        assertion: &Secret,
    ) -> Result<ExternalAuthAssertionResponse, ApiError> {
        let claims = self.check_assertion(assertion)?;
        if claims.sub != ctx.user_id {
            return Err(invalid("its sub is not the signed-in user"));
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

    /// `POST externalAuth/signin` (the SDK's `signInWithExternalJwt`, BYOA sign-in): an
    /// assertion whose `sub` is a user of this environment (the sandbox's external users are
    /// its users, by id) opens a session for that user, bound to the session key in the body's
    /// `sessionPublicKey` or, without one, to `header_key` (the `x-dyn-session-public-key`).
    /// Refused (422 `invalid_external_auth`): no `jwt` (the sandbox has no cookie mode), a
    /// signature not by the configured key, an expired assertion, a used `jti`, a `sub` that
    /// is no user. A body key that is malformed, or another than the header's: 422
    /// `invalid_session_public_key`. The `jti` is spent only by a sign-in that succeeds.
    pub(crate) fn external_auth_sign_in(
        &mut self,
        req: &ExternalAuthSigninRequest,
        header_key: Option<String>,
    ) -> Result<VerifyResponse, ApiError> {
        let session_key = match req.session_public_key.as_deref() {
            None => header_key,
            Some(body) => {
                let body = normalize_session_public_key(body)?;
                if header_key.as_ref().is_some_and(|h| *h != body) {
                    return Err(ApiError::unprocessable(
                        codes::INVALID_SESSION_PUBLIC_KEY,
                        "sessionPublicKey is not the x-dyn-session-public-key of this request",
                    ));
                }
                Some(body)
            }
        };
        let assertion = req
            .jwt
            .as_ref()
            .filter(|j| !j.expose().is_empty())
            .ok_or_else(|| invalid("no jwt was sent (the sandbox has no cookie sign-in)"))?;
        let claims = self.check_assertion(assertion)?;
        if claims.sub.is_empty() || !self.state.users.contains_key(&claims.sub) {
            return Err(invalid("its sub is no user of this environment"));
        }
        self.state.insert_used_external_jti(claims.jti, claims.exp);
        tracing::info!("external-auth sign-in accepted");
        let session = Session::SignIn {
            user_id: &claims.sub,
            credential_id: None,
            session_key,
        };
        self.grant(session, &[], None)
    }
}

impl Authority {
    /// `security.externalAuth` of the settings, when a customer key is configured: on, its
    /// issuer and audience, and where its JWKS is served (by this sandbox).
    pub(crate) fn external_auth_settings(&self) -> Option<serde_json::Value> {
        self.external_auth_key?;
        Some(serde_json::json!({
            "enabled": true,
            "iss": self.external_auth_issuer,
            "aud": self.external_auth_audience,
            "jwksUrl": format!(
                "{}/api/v0/sandbox/{}/external-auth/jwks.json",
                self.public_origin, self.env
            ),
        }))
    }

    /// The customer's key as a JWKS, when one is configured.
    pub(crate) fn external_auth_jwks(&self) -> Option<serde_json::Value> {
        let key = self.external_auth_key?;
        Some(stepup_protocol::jwks::jwks_of(
            &key,
            self.external_auth_kid.as_deref(),
        ))
    }

    /// The demo customer backend: an assertion for the user with `email` and `scope`, signed
    /// with its key, and the step-up link that carries it (`assertion=`). 404 without a
    /// customer backend; 422 for an unknown user or scope.
    pub(crate) fn customer_link(
        &self,
        email: &str,
        scope: &str,
        requester: &str,
    ) -> Result<String, ApiError> {
        let key = self.customer_key.as_ref().ok_or_else(|| {
            ApiError::not_found("this sandbox plays no customer backend (--customer-backend)")
        })?;
        let email = crate::validation::normalize_email(email)
            .map_err(|e| ApiError::unprocessable(codes::INVALID_EMAIL, e))?;
        let user_id = self
            .find_user_by_target(&super::otp::OtpTarget::Email(email))
            .ok_or_else(|| ApiError::invalid_request("no user has this email"))?;
        if self.policy_for(scope).is_none() || scope.contains(' ') {
            return Err(ApiError::invalid_request(format!(
                "unknown scope {:?}",
                shown(scope)
            )));
        }
        if requester.is_empty() || requester.chars().count() > 64 {
            return Err(ApiError::invalid_request(
                "requester has 1 to 64 characters",
            ));
        }
        let now = self.now_secs();
        let claims = serde_json::json!({
            "iss": self.external_auth_issuer,
            "aud": self.external_auth_audience,
            "sub": user_id,
            "scope": scope,
            "jti": crate::crypto::new_id(),
            "iat": now,
            "exp": now + CUSTOMER_ASSERTION_SECS,
        });
        let assertion = jwt::sign_es256(key, self.external_auth_kid.as_deref(), &claims)
            .map_err(|_| ApiError::internal("the assertion could not be signed"))?;
        let mut link = url::Url::parse("com.stepup.desktop://step-up")
            .map_err(|_| ApiError::internal("the link could not be made"))?;
        link.query_pairs_mut()
            .append_pair("scope", scope)
            .append_pair("requester", requester)
            .append_pair("assertion", &assertion);
        Ok(link.to_string())
    }
}

/// The customer's ES256 key from a JWKS (RFC 7517): the first EC P-256 signing key
/// ([`stepup_protocol::jwks::es256_keys`], bounded); anything else is an error naming what is
/// missing.
pub fn external_auth_key_from_jwks(text: &str) -> Result<p256::ecdsa::VerifyingKey, String> {
    stepup_protocol::jwks::es256_keys(text)?
        .into_iter()
        .next()
        .map(|k| k.key)
        .ok_or_else(|| "the JWKS has no EC P-256 signing key".to_owned())
}
