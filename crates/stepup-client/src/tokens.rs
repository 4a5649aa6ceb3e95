//! Elevated access tokens: parsing them as the SDK does (§3.8) and describing them without
//! their secret.

use crate::error::StepUpError;
use crate::vault::ElevatedToken;
use serde::{Deserialize, Serialize};
use stepup_protocol::jwt::{self, ElevatedTokenClaims};
use stepup_protocol::scope::split_scope_claim;
use stepup_protocol::{Secret, TokenScope};

/// What the UI may know about a stored token: everything but the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenStatus {
    /// The scopes it authorises.
    pub scopes: Vec<TokenScope>,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: i64,
    /// Whether its first use consumes it.
    pub single_use: bool,
}

impl From<&ElevatedToken> for TokenStatus {
    fn from(token: &ElevatedToken) -> Self {
        Self {
            scopes: token.scopes.clone(),
            expires_at_ms: token.expires_at_ms,
            single_use: token.single_use,
        }
    }
}

/// Parses an elevated token without verifying its signature (the server does; the client only
/// reads `scope`, `exp` and `singleUse`, as the SDK does).
///
/// - not a JWT, or claims of the wrong shape → [`StepUpError::InvalidElevatedToken`];
/// - no scope, `exp` missing or 0, or `exp * 1000 <= now_ms` → `Ok(None)`: dropped, not stored.
pub fn parse_elevated_token(
    raw: &Secret,
    now_ms: i64,
) -> Result<Option<ElevatedToken>, StepUpError> {
    let claims: ElevatedTokenClaims =
        jwt::decode_unverified(raw.expose()).map_err(|_| StepUpError::InvalidElevatedToken)?;
    let scopes: Vec<TokenScope> = split_scope_claim(&claims.scope)
        .iter()
        .map(|s| TokenScope::parse(s))
        .collect();
    let expires_at_ms = claims.exp.saturating_mul(1000);
    if scopes.is_empty() || claims.exp <= 0 || expires_at_ms <= now_ms {
        return Ok(None);
    }
    Ok(Some(ElevatedToken {
        token: raw.clone(),
        scopes,
        expires_at_ms,
        single_use: claims.single_use.unwrap_or(false),
    }))
}

/// True when `token` authorises every scope of `scopes`.
pub(crate) fn covers_all(token: &ElevatedToken, scopes: &[TokenScope]) -> bool {
    scopes.iter().all(|s| token.covers(s))
}

#[cfg(test)]
pub(crate) mod test_tokens {
    use p256::ecdsa::SigningKey;
    use stepup_protocol::jwt::{sign_es256, ElevatedTokenClaims};
    use stepup_protocol::Secret;

    /// A signed elevated token (the client does not check the signature, but the shape is real).
    pub fn make(scope: &str, exp_secs: i64, single_use: Option<bool>) -> Secret {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let claims = ElevatedTokenClaims {
            sub: "user-1".into(),
            scope: scope.into(),
            exp: exp_secs,
            iat: exp_secs - 300,
            jti: format!("jti-{scope}-{exp_secs}"),
            single_use,
        };
        Secret::new(sign_es256(&key, None, &claims).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::test_tokens::make;
    use super::*;

    const NOW_MS: i64 = 1_700_000_000_000;

    #[test]
    fn a_valid_token_is_parsed_with_its_scopes_and_flags() {
        let t = parse_elevated_token(
            &make("wallet:export  wallet:sign", 1_700_000_300, Some(true)),
            NOW_MS,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            t.scopes,
            vec![TokenScope::WalletExport, TokenScope::WalletSign]
        );
        assert_eq!(t.expires_at_ms, 1_700_000_300_000);
        assert!(t.single_use);
        let t = parse_elevated_token(&make("credential:link", 1_700_000_300, None), NOW_MS)
            .unwrap()
            .unwrap();
        assert!(!t.single_use);
    }

    #[test]
    fn expired_scope_less_and_exp_less_tokens_are_dropped() {
        assert_eq!(
            parse_elevated_token(&make("wallet:export", 1_700_000_000, None), NOW_MS),
            Ok(None)
        );
        assert_eq!(
            parse_elevated_token(&make("wallet:export", 1_600_000_000, None), NOW_MS),
            Ok(None)
        );
        assert_eq!(
            parse_elevated_token(&make("", 1_700_000_300, None), NOW_MS),
            Ok(None)
        );
        assert_eq!(
            parse_elevated_token(&make("   ", 1_700_000_300, None), NOW_MS),
            Ok(None)
        );
        assert_eq!(
            parse_elevated_token(&make("wallet:export", 0, None), NOW_MS),
            Ok(None)
        );
        assert_eq!(
            parse_elevated_token(&make("wallet:export", i64::MAX, None), NOW_MS)
                .map(|t| t.is_some()),
            Ok(true)
        );
    }

    #[test]
    fn malformed_tokens_are_an_error() {
        for bad in [
            "",
            "not-a-jwt",
            "a.b.c",
            "eyJhbGciOiJFUzI1NiJ9.eyJzY29wZSI6NX0.sig",
        ] {
            assert_eq!(
                parse_elevated_token(&Secret::new(bad), NOW_MS),
                Err(StepUpError::InvalidElevatedToken),
                "{bad}"
            );
        }
    }

    #[test]
    fn status_never_carries_the_token() {
        let t = parse_elevated_token(&make("wallet:export", 1_700_000_300, None), NOW_MS)
            .unwrap()
            .unwrap();
        let json = serde_json::to_string(&TokenStatus::from(&t)).unwrap();
        assert!(!json.contains(t.token.expose()));
        assert_eq!(
            json,
            r#"{"scopes":["wallet:export"],"expiresAtMs":1700000300000,"singleUse":false}"#
        );
    }
}
