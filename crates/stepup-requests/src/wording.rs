//! The words the dialog and the main window show: what a scope allows, how a request ended.
//! Exhaustive matches, so a new scope or outcome cannot reach the user without words.

use crate::request::Outcome;
use stepup_protocol::TokenScope;

/// What a scope allows, as the end of "<requester> asks to …". Exhaustive, so a new scope in
/// the protocol crate cannot reach the dialog without words.
pub fn action_text(scope: &TokenScope) -> &'static str {
    use TokenScope as S;
    match scope {
        S::WalletExport => "export the private key of your wallet",
        S::WalletSign => "sign with your wallet",
        S::WalletDelete => "delete your wallet",
        S::WalletDelegate => "give another party access to your wallet",
        S::WalletRestore => "restore your wallet",
        S::CredentialLink => "link a new sign-in method to your account",
        S::CredentialUnlink => "remove a sign-in method from your account",
        S::CredentialUpdate => "change a sign-in method of your account",
        S::UserUpdate => "change your profile",
        S::UserDelete => "delete your account",
        S::BusinessAccountLinkWallet => "link a wallet to your business account",
        S::BusinessAccountMemberAdd => "add a member to your business account",
        S::BusinessAccountMemberRemove => "remove a member from your business account",
        S::BusinessAccountMemberRoleUpdate => "change a member's role in your business account",
        S::BusinessAccountSignerAdd => "add a signer to your business account",
        S::BusinessAccountSignerRemove => "remove a signer from your business account",
        S::BusinessAccountTransferOwnership => "transfer the ownership of your business account",
        S::BusinessAccountWalletRemove => "remove a wallet from your business account",
        S::ConsoleAdminActionReview => "review an administrator's action in the console",
        S::ConsoleApprovalWorkflowUpdate => "change the approval workflow in the console",
        S::ConsoleMemberInvite => "invite a member to the console",
        S::ConsoleMfaReset => "reset a member's multi-factor authentication",
        S::ConsoleProjectDelete => "delete a project",
        S::ConsoleSettingsUpdate => "change the project's settings",
        S::ConsoleSsoUpdate => "change the single sign-on settings",
        S::ConsoleUserDelete => "delete a user",
        S::Unknown(_) => "use a permission this app does not know",
    }
}

/// How a request ended, in words, with the number of wrong codes typed before.
pub fn outcome_text(outcome: Outcome, wrong_codes: u32) -> String {
    let wrong = match wrong_codes {
        0 => String::new(),
        1 => " after 1 wrong code".into(),
        n => format!(" after {n} wrong codes"),
    };
    match outcome {
        Outcome::Approved => format!("Approved{wrong}"),
        Outcome::NotNeeded => "Already allowed".into(),
        Outcome::Denied => format!("Denied: reported as not asked for{wrong}"),
        Outcome::Cancelled => format!("Cancelled{wrong}"),
        Outcome::Expired => format!("Expired unanswered{wrong}"),
        Outcome::NumberMismatch => "Refused: the number picked was not the page’s".into(),
        Outcome::PasskeyAdded => "Passkey added".into(),
        Outcome::KeyExported => "Private key exported".into(),
    }
}

/// A parser's sentence as the invalid-link view shows it: capitalised, with a full stop.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_scope_has_words() {
        for scope in TokenScope::KNOWN {
            assert!(!action_text(scope).contains("does not know"), "{scope}");
        }
        assert!(action_text(&TokenScope::parse("x:y")).contains("does not know"));
    }

    #[test]
    fn outcomes_count_wrong_codes() {
        assert_eq!(outcome_text(Outcome::Approved, 0), "Approved");
        assert_eq!(
            outcome_text(Outcome::Approved, 1),
            "Approved after 1 wrong code"
        );
        assert_eq!(
            outcome_text(Outcome::Cancelled, 3),
            "Cancelled after 3 wrong codes"
        );
        assert_eq!(sentence("the link is bad"), "The link is bad.");
    }
}
