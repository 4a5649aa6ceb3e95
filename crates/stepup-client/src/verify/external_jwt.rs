//! [`Verification::ExternalJwt`](super::Verification::ExternalJwt): a customer-signed
//! assertion (BYOA, §9; `POST externalAuth/verify`). The session does not rotate. And
//! [`StepUpClient::sign_in_with_external_jwt`], the BYOA sign-in (`POST externalAuth/signin`).

use super::VerifyOutcome;
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use stepup_protocol::jwt::MAX_JWT_LEN;
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
