//! What the UI receives: plain serialisable views that hold no secret (token statuses carry
//! scopes and expiry, never the token; the one exception, the exported key, redacts itself
//! in `Debug`).

use crate::error::AppError;
use crate::method::Method;
use crate::request::Outcome;
use serde::Serialize;
use stepup_client::{StepUpClient, TokenScope};

/// A request as the dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// The desk's id for the request; the dialog names it in every command.
    pub id: u64,
    /// The scope asked for.
    pub scope: TokenScope,
    /// Who asks, verbatim from the link: a claim, unless `from_app`.
    pub requester: String,
    /// The request is the app's own (its main window's action), not a link's: the requester
    /// is the app itself, not a name a link chose.
    pub from_app: bool,
    /// What the scope allows, in words: "export the private key of your wallet".
    pub action_text: &'static str,
    /// Where to go back afterwards (allow-listed).
    pub return_to: Option<String>,
    /// The origin the link returns to, shown next to the requester's name.
    pub origin: Option<String>,
    /// The link was signed by the key registered for this requester: the name is verified.
    pub verified: bool,
    /// Number matching: pick the one the requesting page shows (none: the link has no number).
    pub match_choices: Option<[u8; 3]>,
}

/// What the UI hears about a deep link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum LinkEvent {
    /// A valid request: open the dialog.
    Request {
        /// The request.
        request: RequestView,
    },
    /// A refused link: show the error view, nothing else.
    Invalid {
        /// Why, in words.
        reason: String,
    },
}

/// One line of the recent step-ups. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// When it ended, unix ms.
    pub at_ms: i64,
    /// Who asked.
    pub requester: String,
    /// The origin its link returns to, if any (with a reported request: where it came from).
    pub origin: Option<String>,
    /// The requester was verified by a signed link (else its name is a claim).
    pub verified: bool,
    /// The scope.
    pub scope: TokenScope,
    /// What the scope allows, in words (what the history shows; the code is for tools).
    pub scope_text: &'static str,
    /// The method used, if any.
    pub method: Option<Method>,
    /// The method in words ("Authenticator app"), as the history shows it.
    pub method_label: Option<&'static str>,
    /// How it ended.
    pub outcome: Outcome,
    /// The outcome in words, with the number of wrong codes.
    pub result: String,
}

/// The signed-in user, for display.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Email, else phone, else id.
    pub label: String,
}

impl UserView {
    /// The client's signed-in user, if any.
    pub fn of(client: &StepUpClient) -> Option<Self> {
        client.current_user().map(|u| Self {
            label: u
                .email
                .clone()
                .or_else(|| u.phone_number.clone())
                .unwrap_or_else(|| u.id.clone()),
            id: u.id,
        })
    }
}

/// `app_status`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// Environment id.
    pub environment_id: String,
    /// API base URL.
    pub api_base_url: String,
    /// True with `--sandbox`.
    pub sandbox: bool,
    /// The signed-in user.
    pub user: Option<UserView>,
    /// The keychain cannot be used (no plaintext fallback: nothing works until it can).
    pub keychain_error: Option<AppError>,
    /// Another start-up failure (configuration, sandbox).
    pub startup_error: Option<AppError>,
    /// Damaged keychain entries found at start and removed ("the stored entry `session` was
    /// damaged: it was removed"): the app went on, the user may have to sign in again.
    pub keychain_notices: Vec<String>,
}

/// One credential of a step-up check, with the method the dialog uses for it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    /// Credential or MFA device id.
    pub id: String,
    /// Wire format (`email`, `phoneNumber`, `totp`, ...).
    pub format: String,
    /// Wire type, when given.
    pub kind: Option<String>,
    /// Alias, masked email or masked phone.
    pub alias: Option<String>,
    /// The method the dialog runs for it.
    pub method: Method,
    /// Why it cannot be used here, when it cannot (an embedded wallet), as a clause the list
    /// shows after its name.
    pub unavailable: Option<&'static str>,
}

/// `wallet_message`: what the chosen wallet is asked to sign, shown in full before anything
/// is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletMessageView {
    /// The wallet's address (EIP-55), as the message names it.
    pub address: String,
    /// The exact text the wallet signs (EIP-4361).
    pub message: String,
}

/// `begin_step_up`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    /// Whether a verification is needed.
    pub is_required: bool,
    /// The credentials to offer.
    pub credentials: Vec<CredentialView>,
    /// The one to preselect (never one whose method the environment turned off).
    pub default_credential_id: Option<String>,
    /// Whether a recovery code may stand in for the MFA methods offered (the environment's
    /// settings allow backup codes).
    pub recovery_codes: bool,
    /// The link carried a confirmation from the app's server that held every check: offered
    /// first (as [`crate::flow::SERVER_CONFIRMATION_ID`]), valid until then (unix ms).
    pub server_confirmation_until_ms: Option<i64>,
    /// The link carried a confirmation from the app's server that was refused, and why.
    pub server_confirmation_refused: Option<String>,
    /// When not required: until when the stored token covers the scope (unix ms).
    pub valid_until_ms: Option<i64>,
    /// For `wallet:export`: the wallet that would be exported, said before any verification;
    /// when not required, an export is ready for this request.
    pub export: Option<ExportOffer>,
    /// This device's passkey is verified by the OS (polkit asks for the user's password), not
    /// by a PIN: the passkey step shows no PIN field.
    pub passkey_by_os: bool,
}

/// `send_email_otp` / `send_sms_otp` / `sign_in_send_email_otp`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentView {
    /// Where the code went (as the server confirmed it).
    pub destination: String,
    /// Seconds before a resend.
    pub resend_after_seconds: u32,
}

/// A successful verification.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedView {
    /// The token's scopes.
    pub scopes: Vec<TokenScope>,
    /// Its expiry, unix ms.
    pub expires_at_ms: i64,
    /// Whether its first use consumes it.
    pub single_use: bool,
    /// For an approved `wallet:export` request: what the dialog may export now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportOffer>,
}

/// What an approved `wallet:export` request may export: the user's embedded wallet.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportOffer {
    /// The user has an embedded wallet this app can export.
    pub has_wallet: bool,
    /// Its address, when known.
    pub wallet_address: Option<String>,
}

/// `export_private_key`: the one place the key leaves the backend.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedKeyView {
    /// The wallet's address.
    pub address: String,
    /// The private key, 0x-hex.
    pub private_key: String,
}

impl std::fmt::Debug for ExportedKeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedKeyView")
            .field("address", &self.address)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// A stored token, without the token.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// Scopes.
    pub scopes: Vec<TokenScope>,
    /// What they allow, in words.
    pub actions: Vec<std::borrow::Cow<'static, str>>,
    /// Expiry, unix ms.
    pub expires_at_ms: i64,
    /// Consumed by its first use.
    pub single_use: bool,
}

/// One of the user's MFA devices (`GET users/mfa`), for the main window's list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    /// Device id.
    pub id: Option<String>,
    /// `totp`, `passkey`, ...
    pub kind: Option<String>,
    /// Its label.
    pub alias: Option<String>,
    /// The server's default method.
    pub is_default: bool,
}

/// `add_device_passkey`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedPasskeyView {
    /// The new MFA device's id.
    pub device_id: Option<String>,
    /// Its label, as the server lists it.
    pub alias: Option<String>,
    /// Whether the registration waited for a step-up in the dialog first.
    pub stepped_up: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_key_is_never_in_debug_output() {
        let view = ExportedKeyView {
            address: "0xabc".into(),
            private_key: format!("0x{}", "1f".repeat(32)),
        };
        let debug = format!("{view:?}");
        assert!(!debug.contains("1f1f"), "{debug}");
        assert!(debug.contains("0xabc") && debug.contains("redacted"));
        let json = serde_json::to_value(&view).expect("json");
        assert_eq!(json["privateKey"].as_str().map(str::len), Some(66));
    }
}
