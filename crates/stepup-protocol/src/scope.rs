//! `TokenScope` (A:`src/models/TokenScope.d.ts`, all 34 of sdk-api-core 0.40.0) and the scope-set key tokens are stored under.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

macro_rules! token_scopes {
    ($($variant:ident => $wire:literal),* $(,)?) => {
        /// What an elevated access token authorises. Unknown values from a server are kept
        /// as [`TokenScope::Unknown`] so that parsing never fails.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum TokenScope {
            $(#[doc = concat!("`", $wire, "`")] $variant,)*
            /// A scope this build does not know.
            Unknown(String),
        }

        impl TokenScope {
            /// Every scope this build knows, in the SDK's order.
            pub const KNOWN: &'static [TokenScope] = &[$(TokenScope::$variant),*];

            /// The position of a known scope in [`TokenScope::KNOWN`]; `None` for `Unknown`.
            /// A table indexed by it answers for a scope without comparing strings.
            pub fn known_index(&self) -> Option<usize> {
                #[allow(dead_code)]
                #[repr(usize)]
                enum Index { $($variant,)* }
                match self {
                    $(TokenScope::$variant => Some(Index::$variant as usize),)*
                    TokenScope::Unknown(_) => None,
                }
            }

            /// The wire string, e.g. `"wallet:export"`.
            pub fn as_str(&self) -> &str {
                match self {
                    $(TokenScope::$variant => $wire,)*
                    TokenScope::Unknown(s) => s,
                }
            }

            /// Parses a wire string; anything unrecognised becomes `Unknown`.
            pub fn parse(s: &str) -> TokenScope {
                match s {
                    $($wire => TokenScope::$variant,)*
                    other => TokenScope::Unknown(other.to_owned()),
                }
            }
        }
    };
}

token_scopes! {
    BusinessAccountGovernanceUpdate => "business_account:governance:update",
    BusinessAccountLinkWallet => "business_account:link_wallet",
    BusinessAccountMemberAdd => "business_account:member:add",
    BusinessAccountMemberRemove => "business_account:member:remove",
    BusinessAccountMemberRoleUpdate => "business_account:member:role:update",
    BusinessAccountProposalApprove => "business_account:proposal:approve",
    BusinessAccountProposalVeto => "business_account:proposal:veto",
    BusinessAccountRoleDefine => "business_account:role:define",
    BusinessAccountRoleDelete => "business_account:role:delete",
    BusinessAccountSignerAdd => "business_account:signer:add",
    BusinessAccountSignerRemove => "business_account:signer:remove",
    BusinessAccountTransferOwnership => "business_account:transfer_ownership",
    BusinessAccountWalletCreate => "business_account:wallet:create",
    BusinessAccountWalletRemove => "business_account:wallet:remove",
    ConsoleAdminActionReview => "console:admin_action:review",
    ConsoleApprovalWorkflowUpdate => "console:approval_workflow:update",
    ConsoleMemberInvite => "console:member:invite",
    ConsoleMfaReset => "console:mfa:reset",
    ConsoleProjectDelete => "console:project:delete",
    ConsoleSettingsUpdate => "console:settings:update",
    ConsoleSsoUpdate => "console:sso:update",
    ConsoleUserDelete => "console:user:delete",
    CredentialLink => "credential:link",
    CredentialUpdate => "credential:update",
    CredentialUnlink => "credential:unlink",
    UserUpdate => "user:update",
    UserDelete => "user:delete",
    WalletExport => "wallet:export",
    WalletDelete => "wallet:delete",
    WalletRefresh => "wallet:refresh",
    WalletReshare => "wallet:reshare",
    WalletDelegate => "wallet:delegate",
    WalletSign => "wallet:sign",
    WalletRestore => "wallet:restore",
}

impl TokenScope {
    /// True for a scope this build knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, TokenScope::Unknown(_))
    }

    /// True for the wallet scopes, whose tokens are single-use by default (A:`MFASettingsActions`).
    pub fn is_wallet(&self) -> bool {
        self.as_str().starts_with("wallet:")
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(TokenScope::parse(s))
    }
}

impl Serialize for TokenScope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenScope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(TokenScope::parse(&s))
    }
}

/// The key one token is stored under: the scope strings deduplicated, sorted and joined with
/// spaces (C:`normalizeScopes`). A new token replaces the old one with the same key.
pub fn scope_set_key<S: AsRef<str>>(scopes: &[S]) -> String {
    let mut v: Vec<&str> = scopes
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| !s.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// Splits a space-separated `scope` claim, dropping empty parts (C:`parseElevatedAccessToken`).
pub fn split_scope_claim(claim: &str) -> Vec<String> {
    claim
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_index_is_the_position_in_known() {
        for (i, scope) in TokenScope::KNOWN.iter().enumerate() {
            assert_eq!(scope.known_index(), Some(i), "{scope}");
        }
        assert_eq!(TokenScope::parse("wallet:teleport").known_index(), None);
    }

    #[test]
    fn known_scopes_round_trip_through_json() {
        for scope in TokenScope::KNOWN {
            let json = serde_json::to_string(scope).unwrap_or_default();
            let back: TokenScope =
                serde_json::from_str(&json).unwrap_or(TokenScope::Unknown(String::new()));
            assert_eq!(&back, scope);
            assert!(back.is_known());
        }
        // Every scope of @dynamic-labs/sdk-api-core 0.40.0 (src/models/TokenScope.js), in its
        // order.
        let wire: Vec<&str> = TokenScope::KNOWN.iter().map(TokenScope::as_str).collect();
        assert_eq!(
            wire,
            [
                "business_account:governance:update",
                "business_account:link_wallet",
                "business_account:member:add",
                "business_account:member:remove",
                "business_account:member:role:update",
                "business_account:proposal:approve",
                "business_account:proposal:veto",
                "business_account:role:define",
                "business_account:role:delete",
                "business_account:signer:add",
                "business_account:signer:remove",
                "business_account:transfer_ownership",
                "business_account:wallet:create",
                "business_account:wallet:remove",
                "console:admin_action:review",
                "console:approval_workflow:update",
                "console:member:invite",
                "console:mfa:reset",
                "console:project:delete",
                "console:settings:update",
                "console:sso:update",
                "console:user:delete",
                "credential:link",
                "credential:update",
                "credential:unlink",
                "user:update",
                "user:delete",
                "wallet:export",
                "wallet:delete",
                "wallet:refresh",
                "wallet:reshare",
                "wallet:delegate",
                "wallet:sign",
                "wallet:restore",
            ]
        );
    }

    #[test]
    fn unknown_scope_parses_and_is_kept_verbatim() {
        let s: TokenScope =
            serde_json::from_str("\"wallet:teleport\"").unwrap_or(TokenScope::WalletExport);
        assert_eq!(s, TokenScope::Unknown("wallet:teleport".into()));
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            "\"wallet:teleport\""
        );
    }

    #[test]
    fn scope_set_key_is_sorted_and_deduplicated() {
        assert_eq!(
            scope_set_key(&["wallet:sign", "wallet:export", "wallet:sign", ""]),
            "wallet:export wallet:sign"
        );
        assert_eq!(
            split_scope_claim(" wallet:export  credential:link "),
            vec!["wallet:export", "credential:link"]
        );
    }
}
