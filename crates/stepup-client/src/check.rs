//! "Is a step-up needed?": the local fast path, the server's answer, and failing closed (§1).

use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::ApiRequest;
use serde::{Deserialize, Serialize};
use stepup_protocol::{
    CredentialFormat, StepUpCheck, StepUpCheckRequest, StepUpCredential, TokenScope,
};

/// How a credential is verified, from its `format` and `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CredentialMethod {
    /// A TOTP authenticator app (MFA).
    Totp,
    /// A passkey (MFA).
    Passkey,
    /// An email one-time code (re-auth).
    Email,
    /// An SMS one-time code (re-auth).
    Sms,
    /// A wallet signature (re-auth).
    Wallet,
    /// A social (OAuth) account (re-auth).
    Social,
    /// The customer's own auth (BYOA assertion).
    ExternalAuth,
    /// A kind this build does not know.
    Unknown,
}

impl CredentialMethod {
    /// True for the MFA methods (TOTP, passkey).
    pub fn is_mfa(self) -> bool {
        matches!(self, Self::Totp | Self::Passkey)
    }
}

/// Helpers on the wire type [`StepUpCredential`].
pub trait StepUpCredentialExt {
    /// How this credential is verified. `type` (`totp`, `passkey`) wins over `format`, because
    /// it separates MFA device kinds that share a format.
    fn method(&self) -> CredentialMethod;
}

impl StepUpCredentialExt for StepUpCredential {
    fn method(&self) -> CredentialMethod {
        match self.kind.as_deref() {
            Some("totp") => return CredentialMethod::Totp,
            Some("passkey") => return CredentialMethod::Passkey,
            _ => {}
        }
        match self.format {
            CredentialFormat::Totp => CredentialMethod::Totp,
            CredentialFormat::Passkey => CredentialMethod::Passkey,
            CredentialFormat::Email => CredentialMethod::Email,
            CredentialFormat::PhoneNumber => CredentialMethod::Sms,
            CredentialFormat::Blockchain => CredentialMethod::Wallet,
            CredentialFormat::Oauth => CredentialMethod::Social,
            CredentialFormat::ExternalUser => CredentialMethod::ExternalAuth,
            CredentialFormat::Unknown(_) => CredentialMethod::Unknown,
        }
    }
}

/// The credential to offer first: the one named by `defaultCredentialId`; else the first MFA
/// credential (MFA users get MFA); else the first. `None` when there is none.
pub fn choose_method(check: &StepUpCheck) -> Option<&StepUpCredential> {
    let by_default = check
        .default_credential_id
        .as_deref()
        .and_then(|id| check.credentials.iter().find(|c| c.id == id));
    by_default
        .or_else(|| check.credentials.iter().find(|c| c.method().is_mfa()))
        .or_else(|| check.credentials.first())
}

/// Where the answer of a check came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSource {
    /// An unexpired stored token covers the scope: nothing was sent.
    StoredToken,
    /// The server answered, and the check is its answer.
    Server,
    /// The check could not be completed; the answer is "required" by failing closed (§1.3),
    /// with no credentials. The error says why: not signed in, a refusal, or a fault
    /// ([`StepUpError::is_fault`]: Dynamic unreachable, too slow, cut off, a 5xx, garbage).
    Failed(StepUpError),
}

/// A check and where its answer came from, so that a dialog can tell "the server says verify"
/// from "Dynamic could not be reached".
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    /// The answer: always "required" when `source` is [`CheckSource::Failed`].
    pub check: StepUpCheck,
    /// Where the answer came from.
    pub source: CheckSource,
}

impl CheckOutcome {
    /// The error that made the check fail closed, if it did.
    pub fn failure(&self) -> Option<&StepUpError> {
        match &self.source {
            CheckSource::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// True when "required" comes from a fault on the way to or from Dynamic, not from the
    /// server: the dialog says "could not reach Dynamic" and offers Retry.
    pub fn is_fault(&self) -> bool {
        self.failure().is_some_and(StepUpError::is_fault)
    }

    fn failed(error: StepUpError) -> Self {
        Self {
            check: StepUpCheck::required(),
            source: CheckSource::Failed(error),
        }
    }
}

impl StepUpClient {
    /// Whether the user must verify before using `scope`. Never fails:
    ///
    /// 1. an unexpired stored token covering `scope` → not required, without any request or
    ///    vault access (nothing is consumed);
    /// 2. else `POST stepUp/check {scope}`;
    /// 3. any failure (not signed in, network, a timeout, non-2xx, garbage, a body without
    ///    `credentials`) → required, with no credentials (§1.3: "default to requiring
    ///    step-up").
    ///
    /// [`StepUpClient::check_step_up_outcome`] also says which of these it was.
    pub async fn check_step_up(&self, scope: TokenScope) -> StepUpCheck {
        if self.inner.has_token(&scope) {
            return StepUpCheck::satisfied();
        }
        // Boxed: the server path's future (the HTTP request's state) is kilobytes; inline,
        // every call of the fast path would carry it.
        Box::pin(self.check_step_up_with_server(scope)).await.check
    }

    /// [`StepUpClient::check_step_up`], with where its answer came from: the caller can tell
    /// a server that says "required" from a check that failed closed, and why it failed.
    pub async fn check_step_up_outcome(&self, scope: TokenScope) -> CheckOutcome {
        if self.inner.has_token(&scope) {
            return CheckOutcome {
                check: StepUpCheck::satisfied(),
                source: CheckSource::StoredToken,
            };
        }
        self.check_step_up_with_server(scope).await
    }

    /// Asks the server (`POST stepUp/check`) even when a stored token covers `scope`: for a
    /// caller that may not use that token (a dialog whose requester did not earn it must offer
    /// the credentials). Fails closed like [`StepUpClient::check_step_up`].
    pub async fn check_step_up_with_server(&self, scope: TokenScope) -> CheckOutcome {
        if let Err(e) = self.inner.require_session() {
            return CheckOutcome::failed(e);
        }
        let req = match ApiRequest::post("stepUp/check").json(&StepUpCheckRequest { scope }) {
            Ok(req) => req,
            Err(e) => return CheckOutcome::failed(e),
        };
        match self.inner.send_json::<StepUpCheck>(req).await {
            Ok(check) => CheckOutcome {
                check,
                source: CheckSource::Server,
            },
            Err(e) => {
                tracing::info!(
                    error_code = e.code(),
                    fault = e.is_fault(),
                    "step-up check failed; requiring step-up"
                );
                CheckOutcome::failed(e)
            }
        }
    }

    /// True when an unexpired token for `scope` is stored. Local only, synchronous.
    pub fn has_elevated_access_token(&self, scope: &TokenScope) -> bool {
        self.inner.has_token(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{client, Reply, TestServer, ENV};
    use crate::vault::TokenVault;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use stepup_protocol::{StepUpCheck, TokenScope};

    fn cred(id: &str, format: &str, kind: Option<&str>) -> StepUpCredential {
        StepUpCredential {
            id: id.into(),
            format: CredentialFormat::parse(format),
            kind: kind.map(Into::into),
            alias: None,
        }
    }

    #[test]
    fn methods_come_from_type_then_format() {
        assert_eq!(
            cred("a", "totp", Some("totp")).method(),
            CredentialMethod::Totp
        );
        assert_eq!(
            cred("a", "passkey", None).method(),
            CredentialMethod::Passkey
        );
        assert_eq!(cred("a", "email", None).method(), CredentialMethod::Email);
        assert_eq!(
            cred("a", "phoneNumber", None).method(),
            CredentialMethod::Sms
        );
        assert_eq!(
            cred("a", "blockchain", None).method(),
            CredentialMethod::Wallet
        );
        assert_eq!(cred("a", "oauth", None).method(), CredentialMethod::Social);
        assert_eq!(
            cred("a", "externalUser", None).method(),
            CredentialMethod::ExternalAuth
        );
        assert_eq!(
            cred("a", "retina", None).method(),
            CredentialMethod::Unknown
        );
        assert_eq!(
            cred("a", "retina", Some("passkey")).method(),
            CredentialMethod::Passkey
        );
    }

    #[test]
    fn choose_method_prefers_the_default_then_mfa_then_the_first() {
        let mut check = StepUpCheck {
            is_required: true,
            credentials: vec![
                cred("e", "email", None),
                cred("t", "totp", Some("totp")),
                cred("p", "passkey", None),
            ],
            default_credential_id: Some("p".into()),
        };
        assert_eq!(choose_method(&check).map(|c| c.id.as_str()), Some("p"));
        check.default_credential_id = Some("gone".into());
        assert_eq!(choose_method(&check).map(|c| c.id.as_str()), Some("t"));
        check.credentials.truncate(1);
        assert_eq!(choose_method(&check).map(|c| c.id.as_str()), Some("e"));
        assert_eq!(choose_method(&StepUpCheck::required()), None);
    }

    #[tokio::test]
    async fn a_refused_session_signs_the_client_out_and_the_check_fails_closed() {
        let server = TestServer::start(ENV, |_| Reply::raw(401, "")).await;
        let (client, vault) = client(&server, true).await;
        assert!(client.is_signed_in());
        let outcome = client.check_step_up_outcome(TokenScope::WalletExport).await;
        assert_eq!(outcome.check, StepUpCheck::required());
        assert_eq!(outcome.failure(), Some(&StepUpError::Unauthorized));
        assert!(!client.is_signed_in(), "a 401 ends the local session too");
        use crate::vault::TokenVault as _;
        assert!(
            vault.load().expect("vault").session.is_none(),
            "and the vault's"
        );
        // The next check asks nothing of the server: there is no session to send.
        let before = server.requests().len();
        let outcome = client.check_step_up_outcome(TokenScope::WalletExport).await;
        assert_eq!(outcome.failure(), Some(&StepUpError::NotSignedIn));
        assert_eq!(server.requests().len(), before);
    }

    #[tokio::test]
    async fn check_fails_closed_on_every_kind_of_failure() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let server = TestServer::start(ENV, move |_| match c.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::raw(200, "<html>garbage"),
            1 => Reply::json(200, json!({"isRequired": false})),
            2 => Reply::json(500, json!({"error": "down"})),
            _ => Reply::json(200, json!({"isRequired": false, "credentials": []})),
        })
        .await;
        let (client, _) = client(&server, true).await;
        for _ in 0..3 {
            assert_eq!(
                client.check_step_up(TokenScope::WalletExport).await,
                StepUpCheck::required()
            );
        }
        assert!(
            !client
                .check_step_up(TokenScope::WalletExport)
                .await
                .is_required
        );
        let req = &server.requests()[0];
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "stepUp/check")
        );
        assert_eq!(req.json(), json!({"scope": "wallet:export"}));
        assert_eq!(req.header("x-dyn-elevated-access-token"), None);

        let (signed_out, _) = crate::test_server::client(&server, false).await;
        let before = server.requests().len();
        assert_eq!(
            signed_out.check_step_up(TokenScope::WalletExport).await,
            StepUpCheck::required()
        );
        assert_eq!(
            server.requests().len(),
            before,
            "no request without a session"
        );
    }

    #[tokio::test]
    async fn check_fails_closed_when_the_server_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base =
            url::Url::parse(&format!("http://{}/api/v0", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let server = TestServer {
            base_url: base,
            requests: Default::default(),
        };
        let (client, vault) = client(&server, true).await;
        assert_eq!(
            client.check_step_up(TokenScope::WalletExport).await,
            StepUpCheck::required()
        );
        assert!(matches!(
            client.mfa_devices().await,
            Err(StepUpError::Network(_))
        ));
        // Logout still forgets everything locally.
        client.logout().await.unwrap();
        assert!(client.current_user().is_none());
        assert_eq!(vault.load().unwrap(), crate::VaultSnapshot::default());
    }
}
