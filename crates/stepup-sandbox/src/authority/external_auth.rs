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
}

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

/// The customer's ES256 key from a JWKS (RFC 7517): the first key with `kty: EC`,
/// `crv: P-256`, whose `use` (if any) is `sig` and `alg` (if any) `ES256`. At most 64 KiB and
/// 32 keys are read; anything else is an error naming what is missing.
pub fn external_auth_key_from_jwks(text: &str) -> Result<p256::ecdsa::VerifyingKey, String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    if text.len() > 64 * 1024 {
        return Err("the JWKS is larger than 64 KiB".into());
    }
    let jwks: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "the JWKS is not JSON".to_owned())?;
    let keys = jwks["keys"]
        .as_array()
        .ok_or_else(|| "the JWKS has no \"keys\" array".to_owned())?;
    if keys.len() > 32 {
        return Err("the JWKS has more than 32 keys".into());
    }
    let field = |k: &serde_json::Value, name: &str| k[name].as_str().map(str::to_owned);
    for k in keys {
        let fits = field(k, "kty").as_deref() == Some("EC")
            && field(k, "crv").as_deref() == Some("P-256")
            && field(k, "use").as_deref().is_none_or(|u| u == "sig")
            && field(k, "alg").as_deref().is_none_or(|a| a == "ES256");
        if !fits {
            continue;
        }
        let coordinate = |name: &str| {
            field(k, name)
                .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                .filter(|c| c.len() == 32)
                .ok_or_else(|| format!("the P-256 key's {name} is not 32 bytes of base64url"))
        };
        let mut point = vec![4u8];
        point.extend(coordinate("x")?);
        point.extend(coordinate("y")?);
        return p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
            .map_err(|_| "the P-256 key is not a point on the curve".to_owned());
    }
    Err("the JWKS has no EC P-256 signing key (kty EC, crv P-256, ES256)".into())
}

#[cfg(test)]
mod tests {
    use super::external_auth_key_from_jwks;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn the_first_p256_signing_key_of_a_jwks_is_taken_and_others_are_refused() {
        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let point = key.verifying_key().to_sec1_point(false);
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point.as_bytes()[1..33]),
            URL_SAFE_NO_PAD.encode(&point.as_bytes()[33..65]),
        );
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "x": x, "y": y},
            {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "x": x, "y": y, "kid": "k1"},
        ]});
        let found = external_auth_key_from_jwks(&jwks.to_string()).unwrap();
        assert_eq!(&found, key.verifying_key());
        for bad in [
            "not json".to_owned(),
            "{}".to_owned(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-384", "x": x, "y": y}]})
                .to_string(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": x}]})
                .to_string(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": y}]})
                .to_string(),
            "x".repeat(70_000),
        ] {
            assert!(
                external_auth_key_from_jwks(&bad).is_err(),
                "{}",
                &bad[..bad.len().min(60)]
            );
        }
    }
}
