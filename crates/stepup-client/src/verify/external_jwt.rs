//! [`Verification::ExternalJwt`](super::Verification::ExternalJwt): a customer-signed
//! assertion (BYOA, §9; `POST externalAuth/verify`). The session does not rotate. And
//! [`StepUpClient::sign_in_with_external_jwt`], the BYOA sign-in (`POST externalAuth/signin`).

use super::VerifyOutcome;
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use serde::Deserialize;
use stepup_protocol::jwks::Es256Key;
use stepup_protocol::jwt::{self, MAX_JWT_LEN};
use stepup_protocol::{
    ExternalAuthAssertionResponse, ExternalAuthSigninRequest, ExternalAuthVerifyRequest, SdkUser,
    Secret, TokenScope, VerifyResponse,
};

/// The assertion, trimmed, if it has the shape of a compact JWT.
fn checked_assertion(jwt: &Secret) -> Result<Secret, StepUpError> {
    let trimmed = jwt.expose().trim();
    if trimmed.is_empty() || trimmed.len() > MAX_JWT_LEN || trimmed.split('.').count() != 3 {
        return Err(StepUpError::InvalidInput(
            "the external assertion is not a JWT".into(),
        ));
    }
    Ok(Secret::new(trimmed))
}

impl StepUpClient {
    /// Signs in with a JWT the customer's backend signed for the user (the SDK's
    /// `signInWithExternalJwt`: `POST externalAuth/signin {jwt}`, device-signed). The session
    /// is bound to this client's session key, sent as `x-dyn-session-public-key` (the body's
    /// optional `sessionPublicKey` is left out, as the SDK does unless its caller passes one).
    pub async fn sign_in_with_external_jwt(&self, jwt: &Secret) -> Result<SdkUser, StepUpError> {
        let body = ExternalAuthSigninRequest {
            jwt: Some(checked_assertion(jwt)?),
            session_public_key: None,
        };
        let req = ApiRequest::post("externalAuth/signin").json(&body)?;
        let resp: VerifyResponse = self.inner.send_json(req).await?;
        let user = resp.user.clone();
        self.inner.apply_verify_response(resp, &[]).await?;
        Ok(user)
    }
}

/// Exchanges the assertion `jwt` for an elevated token. The scopes come from the assertion's
/// `scope` claim, so `scopes` is only checked against the token that comes back.
pub(super) async fn verify(
    client: &StepUpClient,
    jwt: &Secret,
    scopes: &[TokenScope],
) -> Result<VerifyOutcome, StepUpError> {
    let body = ExternalAuthVerifyRequest {
        jwt: checked_assertion(jwt)?,
    };
    let req = ApiRequest::post("externalAuth/verify").json(&body)?;
    let resp: ExternalAuthAssertionResponse = client.inner.send_json(req).await?;
    let token = client
        .inner
        .store_elevated_token(&resp.elevated_access_token, scopes)
        .await?;
    Ok(VerifyOutcome { user: None, token })
}

/// The longest a server-issued assertion may live from now: a link that carries one is a
/// moment's confirmation, not a credential to keep.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 10 * 60;
/// How long a fetched JWKS is used before it is fetched again.
const JWKS_MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// A `kid` not in a JWKS younger than this does not fetch it again (key rotation is rare; a
/// stream of unknown kids must not become a stream of fetches).
const JWKS_REFETCH_AFTER_MS: i64 = 60 * 1000;

/// The claims of a server-issued assertion this client checks before it is exchanged.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
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
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

/// A server-issued assertion that held every check of
/// [`StepUpClient::check_external_assertion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VouchedAssertion {
    /// Its issuer (`iss`), the environment's configured one when it names one.
    pub issuer: Option<String>,
    /// Its expiry (unix seconds).
    pub expires_at_secs: i64,
}

fn refused(why: impl Into<String>) -> StepUpError {
    StepUpError::AssertionRefused(why.into())
}

impl StepUpClient {
    /// Checks a server-issued assertion (BYOA) that came from outside, such as in a deep link,
    /// **before** anything is sent to the server: the environment's settings must turn external
    /// auth on and name a JWKS (`security.externalAuth.jwksUrl`, https or this machine); the
    /// assertion must be signed (ES256) by a key of that JWKS (the one its `kid` names), carry
    /// the settings' `iss` and `aud` where they name them, expire within
    /// [`MAX_ASSERTION_LIFETIME_SECS`] and not be expired, have a `jti`, be for the signed-in
    /// user (`sub`: the user's id, or the public identifier of the user's external-auth
    /// credential), and be for exactly `scope`, so that what the dialog shows is all it grants.
    /// Any other is [`StepUpError::AssertionRefused`] with the reason.
    pub async fn check_external_assertion(
        &self,
        jwt: &Secret,
        scope: &TokenScope,
    ) -> Result<VouchedAssertion, StepUpError> {
        let jwt = checked_assertion(jwt)?;
        let user = self.current_user().ok_or(StepUpError::NotSignedIn)?;
        let settings = self.settings().await?;
        let external = settings.external_auth().ok_or_else(|| {
            refused("this app's environment takes no confirmations from its server")
        })?;
        let jwks_url = external
            .jwks_url
            .as_deref()
            .ok_or_else(|| refused("this app's environment publishes no key for its server"))?;
        let jwks_url = url::Url::parse(jwks_url)
            .map_err(|_| refused("the environment's key address is not a URL"))?;
        let header = jwt::header_unverified(jwt.expose())
            .map_err(|_| refused("it is not a signed token"))?;
        if header.alg != "ES256" {
            return Err(refused("it is not signed with ES256"));
        }
        let keys = self
            .external_auth_keys(&jwks_url, header.kid.as_deref())
            .await?;
        let claims: AssertionClaims = keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid == header.kid)
            .find_map(|k| jwt::verify_es256(jwt.expose(), &k.key).ok())
            .ok_or_else(|| refused("it is not signed by a key of your app's server"))?;
        if let Some(issuer) = &external.iss {
            if claims.iss.as_deref() != Some(issuer.as_str()) {
                return Err(refused(
                    "it comes from another issuer than your app's server",
                ));
            }
        }
        if let Some(audience) = &external.aud {
            if !jwt::names_audience(claims.aud.as_ref(), audience) {
                return Err(refused("it is meant for another audience"));
            }
        }
        let now = self.inner.now_ms() / 1000;
        if claims.exp <= now {
            return Err(refused("it has expired"));
        }
        if claims.exp > now + MAX_ASSERTION_LIFETIME_SECS {
            return Err(refused("it lives longer than 10 minutes"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(refused("it has no jti"));
        }
        let external_ids = user
            .verified_credentials
            .iter()
            .filter(|c| c.format == stepup_protocol::CredentialFormat::ExternalUser)
            .filter_map(|c| c.public_identifier.as_deref());
        if claims.sub != user.id && !external_ids.into_iter().any(|id| id == claims.sub) {
            return Err(refused("it is for another user"));
        }
        let scopes = stepup_protocol::scope::split_scope_claim(&claims.scope);
        if scopes.len() != 1 || scopes.first().map(String::as_str) != Some(scope.as_str()) {
            return Err(refused(format!("it is not for exactly {scope}")));
        }
        Ok(VouchedAssertion {
            issuer: claims.iss,
            expires_at_secs: claims.exp,
        })
    }

    /// The ES256 keys of the JWKS at `url`: the last fetch while younger than 5 minutes (and
    /// naming `kid`, unless it is younger than a minute), else fetched again.
    async fn external_auth_keys(
        &self,
        url: &url::Url,
        kid: Option<&str>,
    ) -> Result<Vec<Es256Key>, StepUpError> {
        let now = self.inner.now_ms();
        let cached = self.inner.settings.jwks(url.as_str());
        if let Some((read_at, keys)) = &cached {
            let age = now - read_at;
            let names_kid =
                kid.is_none_or(|kid| keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
            if (0..JWKS_MAX_AGE_MS).contains(&age) && (names_kid || age < JWKS_REFETCH_AFTER_MS) {
                return Ok(keys.clone());
            }
        }
        let body =
            self.inner.api.fetch_public(url).await.map_err(|e| {
                refused(format!("your app's server's keys could not be read ({e})"))
            })?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| refused("your app's server's keys are not text"))?;
        let keys = stepup_protocol::jwks::es256_keys(text)
            .map_err(|e| refused(format!("your app's server's keys: {e}")))?;
        self.inner
            .settings
            .put_jwks(url.as_str(), now, keys.clone());
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use crate::test_server::{client, Reply, TestServer, ENV, EXP};
    use crate::tokens::test_tokens::make;
    use crate::verify::Verification;
    use serde_json::json;
    use stepup_protocol::{Secret, TokenScope};

    #[tokio::test]
    async fn external_auth_stores_the_token_without_rotating_the_session() {
        let token = make("wallet:sign", EXP, None);
        let reply = json!({"elevatedAccessToken": token.expose()});
        let server = TestServer::start(ENV, move |_| Reply::json(200, reply.clone())).await;
        let (client, _) = client(&server, true).await;
        let assertion = Secret::new("aaa.bbb.ccc");
        let outcome = client
            .verify(
                Verification::ExternalJwt { jwt: assertion },
                &[TokenScope::WalletSign],
            )
            .await
            .unwrap();
        assert_eq!(outcome.user, None);
        assert!(client.has_elevated_access_token(&TokenScope::WalletSign));
        assert_eq!(
            client.inner.store.session().unwrap().token.expose(),
            "session-1"
        );
        let req = &server.requests()[0];
        assert_eq!(
            (req.path.as_str(), req.json()),
            ("externalAuth/verify", json!({"jwt": "aaa.bbb.ccc"}))
        );
    }
}
