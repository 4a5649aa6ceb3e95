//! The words the dialog and the main window show: what a scope allows, how a request ended.
//! Exhaustive matches, so a new scope or outcome cannot reach the user without words.

use crate::request::Outcome;
use crate::views::LinkEvent;
use std::borrow::Cow;
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
        S::WalletRefresh => "refresh your wallet's key shares",
        S::WalletReshare => "reshare your wallet's key among its signers",
        S::CredentialLink => "link a new sign-in method to your account",
        S::CredentialUnlink => "remove a sign-in method from your account",
        S::CredentialUpdate => "change a sign-in method of your account",
        S::UserUpdate => "change your profile",
        S::UserDelete => "delete your account",
        S::BusinessAccountGovernanceUpdate => {
            "change the governance rules of your business account"
        }
        S::BusinessAccountProposalApprove => "approve a business-account proposal",
        S::BusinessAccountProposalVeto => "veto a business-account proposal",
        S::BusinessAccountRoleDefine => "define a role in your business account",
        S::BusinessAccountRoleDelete => "delete a role from your business account",
        S::BusinessAccountWalletCreate => "create a wallet for your business account",
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

/// The longest unknown scope [`scope_words`] quotes (a server chose it: it is cut, not trusted).
pub const UNKNOWN_SCOPE_CHARS: usize = 64;

/// What a scope allows, as a list shows it (the main window's tokens): the words of
/// [`action_text`] for a scope this build knows, and for any other "an action this app does
/// not know: <scope>", quoting the scope with control and invisible characters replaced and
/// cut to [`UNKNOWN_SCOPE_CHARS`]. (A deep link naming an unknown scope never reaches the
/// dialog: the parser refuses it.)
pub fn scope_words(scope: &TokenScope) -> Cow<'static, str> {
    match scope {
        TokenScope::Unknown(raw) => {
            let mut quoted: String = raw
                .chars()
                .take(UNKNOWN_SCOPE_CHARS)
                .map(|c| {
                    if c.is_control() || is_invisible(c) {
                        '\u{FFFD}'
                    } else {
                        c
                    }
                })
                .collect();
            if raw.chars().count() > UNKNOWN_SCOPE_CHARS {
                quoted.push('…');
            }
            Cow::Owned(format!("an action this app does not know: {quoted}"))
        }
        known => Cow::Borrowed(action_text(known)),
    }
}

/// Characters that change how text around them reads without showing themselves: zero-width
/// ones and bidirectional controls.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
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

/// The longest requester name a notification quotes (a link chose it: it is cut, not trusted).
pub const NOTIFICATION_NAME_CHARS: usize = 48;

/// The desktop notification for a request that arrived while the user was elsewhere: a title
/// and a body, as plain text with `&`, `<` and `>` escaped (notification servers may read the
/// body as markup). The requester's name is quoted as a claim unless the link was signed, and
/// cut to [`NOTIFICATION_NAME_CHARS`]; the body says that nothing is approved by the
/// notification. `None` for a refused link: there is nothing to come to.
pub fn notification_text(event: &LinkEvent) -> Option<(String, String)> {
    let LinkEvent::Request { request } = event else {
        return None;
    };
    let who = if request.from_app {
        "Stepup Desktop".to_owned()
    } else {
        let name: String = request
            .requester
            .chars()
            .filter(|c| !c.is_control())
            .take(NOTIFICATION_NAME_CHARS)
            .collect();
        let cut = if request.requester.chars().count() > NOTIFICATION_NAME_CHARS {
            "…"
        } else {
            ""
        };
        if request.verified {
            format!("{name}{cut} (verified)")
        } else {
            format!("A link naming itself “{name}{cut}”")
        }
    };
    let body = format!(
        "{who} asks to {}. Open Stepup Desktop to review it: nothing is approved until you verify it is you there.",
        request.action_text
    );
    Some((
        "A request is waiting for you".to_owned(),
        escape_markup(&body),
    ))
}

/// `&`, `<`, `>` as entities: the notification spec's body markup is a subset of HTML.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
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
    use crate::views::RequestView;

    #[test]
    fn every_known_scope_has_words() {
        for scope in TokenScope::KNOWN {
            assert!(!action_text(scope).contains("does not know"), "{scope}");
        }
        assert!(action_text(&TokenScope::parse("x:y")).contains("does not know"));
    }

    #[test]
    fn every_scope_of_sdk_api_core_0_40_0_has_its_own_words() {
        let mut seen = std::collections::BTreeSet::new();
        for scope in TokenScope::KNOWN {
            let words = scope_words(scope);
            assert_eq!(words, action_text(scope), "{scope}");
            assert!(seen.insert(words.into_owned()), "{scope}: words shared");
        }
        assert_eq!(seen.len(), 34);
        for (scope, words) in [
            ("wallet:delete", "delete your wallet"),
            (
                "business_account:proposal:approve",
                "approve a business-account proposal",
            ),
            (
                "business_account:proposal:veto",
                "veto a business-account proposal",
            ),
            (
                "wallet:reshare",
                "reshare your wallet's key among its signers",
            ),
        ] {
            assert_eq!(scope_words(&TokenScope::parse(scope)), words);
        }
    }

    #[test]
    fn an_unknown_scope_is_named_as_unknown_and_quoted_safely() {
        assert_eq!(
            scope_words(&TokenScope::parse("wallet:teleport")),
            "an action this app does not know: wallet:teleport"
        );
        let hostile = format!("a\u{202E}b\n{}", "x".repeat(200));
        let words = scope_words(&TokenScope::parse(&hostile));
        assert!(words.starts_with("an action this app does not know: a\u{FFFD}b\u{FFFD}x"));
        assert!(words.ends_with('…'));
        assert_eq!(
            words.chars().count(),
            "an action this app does not know: ".len() + UNKNOWN_SCOPE_CHARS + 1
        );
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

    fn request(requester: &str, verified: bool) -> LinkEvent {
        LinkEvent::Request {
            request: RequestView {
                id: 1,
                scope: TokenScope::WalletSign,
                requester: requester.to_owned(),
                from_app: false,
                action_text: action_text(&TokenScope::WalletSign),
                return_to: None,
                origin: None,
                verified,
                match_choices: None,
            },
        }
    }

    #[test]
    fn a_notification_quotes_a_claim_as_a_claim_and_escapes_markup() {
        let (title, body) =
            notification_text(&request("<b>MetaMask</b> & Co", false)).expect("a request");
        assert_eq!(title, "A request is waiting for you");
        assert_eq!(
            body,
            "A link naming itself “&lt;b&gt;MetaMask&lt;/b&gt; &amp; Co” asks to sign with your wallet. \
             Open Stepup Desktop to review it: nothing is approved until you verify it is you there."
        );
        let (_, body) = notification_text(&request("Acme Wallet", true)).expect("a request");
        assert!(
            body.starts_with("Acme Wallet (verified) asks to sign"),
            "{body}"
        );
        let long = "x".repeat(500) + "\n\u{7}";
        let (_, body) = notification_text(&request(&long, false)).expect("a request");
        assert!(
            body.contains(&format!("“{}…”", "x".repeat(NOTIFICATION_NAME_CHARS))),
            "{body}"
        );
        assert!(!body.contains('\n') && !body.contains('\u{7}'));
        let invalid = LinkEvent::Invalid {
            reason: "bad".into(),
        };
        assert_eq!(notification_text(&invalid), None);
    }
}
