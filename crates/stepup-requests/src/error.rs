//! [`AppError`]: every way an app operation fails, as one closed enum. What the UI sees is
//! `{code, message}`: `code` a stable machine string it may branch on ([`AppError::code`], the
//! client's own codes passed through), `message` one sentence saying what to do. Neither ever
//! holds a token or a code.

use serde::ser::SerializeStruct;
use stepup_client::{StepUpError, VaultError};

/// A failed app operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The dialog's request is gone (approved, cancelled, expired, or never existed).
    #[error("this request is no longer open: ask the app that sent it for a new one")]
    RequestNotFound,
    /// The credential is not one the server offered for this request.
    #[error("this verification method was not offered for this request: choose one from the list")]
    CredentialNotOffered,
    /// A code was to be verified before one was sent.
    #[error("no code was sent yet: press “Send code” first")]
    NoCodeSent,
    /// A command named a request the dialog is not showing.
    #[error(
        "this request is not the one the dialog shows: finish or cancel the one on screen first"
    )]
    NotShown,
    /// An approval came before the request had been on screen long enough to be read.
    #[error("the request was approved before it could be read: read it, then approve again")]
    TooSoon,
    /// Too many requests are open at once.
    #[error("too many requests are already open: finish or cancel them first")]
    TooManyRequests,
    /// An export for a request that was not approved in this dialog.
    #[error("this request was not approved for an export here: verify in the dialog first")]
    ExportNotApproved,
    /// The approval's one export was used, or the server says the approval expired.
    #[error("the permission to export was used or has expired (it works once): verify again to export the key")]
    ExportSpent,
    /// The account has no embedded wallet to export.
    #[error("your account has no embedded wallet to export")]
    NoWallet,
    /// A copy of something other than the key this dialog exported.
    #[error("only the key exported in this dialog can be copied")]
    NotTheExportedKey,
    /// The system clipboard could not be written.
    #[error("the clipboard could not be used: press “Show key” and copy the key by hand")]
    ClipboardUnavailable,
    /// A scope this build does not know.
    #[error("this permission is not one this app knows")]
    InvalidScope,
    /// A phone number this app cannot rebuild for an SMS.
    #[error("this app cannot text this phone number yet: choose another method")]
    UnsupportedPhone,
    /// A sandbox-only command outside the sandbox.
    #[error("this only works in the sandbox: start the app with --sandbox")]
    NotSandbox,
    /// No environment is configured, or its configuration is wrong.
    #[error("{0}")]
    NotConfigured(String),
    /// The embedded sandbox could not start or sign its user in.
    #[error("{0}")]
    SandboxFailed(String),
    /// The request asks for number matching, and the number was not picked yet.
    #[error("pick the number the requesting page shows first")]
    NumberNotMatched,
    /// A number was picked for a request without one.
    #[error("this request has no number to match")]
    NoNumberToMatch,
    /// A wallet signature came before the dialog showed the message to sign.
    #[error("the message to sign is not shown yet: choose the wallet again to see it")]
    NoWalletMessage,
    /// No page is waiting in the browser for this request.
    #[error("no page is waiting in your browser: press “Sign in your browser wallet” again")]
    NoBrowserPage,
    /// The wallet page answered with an error (the wallet refused, or has no account).
    #[error("your browser wallet did not sign: {0}")]
    WalletPage(String),
    /// A social sign-in's answer came back on the app's scheme, and no sign-in of the request
    /// shown waits for it (none started, or it ended: approved, cancelled, timed out).
    #[error("a sign-in answer came from the browser, but no sign-in is waiting for it in this app: it was refused and approves nothing")]
    NoSocialSignInWaiting,
    /// A social sign-in's answer on the app's scheme that the waiting sign-in refused (another
    /// state, a second answer, malformed, too long).
    #[error("{0}")]
    SocialCallbackRefused(String),
    /// The backend has not started yet.
    #[error("the app is still starting: wait a moment and try again")]
    Starting,
    /// The window could not be reached.
    #[error("the verification dialog could not open: restart the app and try again")]
    DialogUnavailable,
    /// What the client said (its code and sentence pass through).
    #[error(transparent)]
    Client(#[from] StepUpError),
}

impl AppError {
    /// The stable machine code the UI sees.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RequestNotFound => "request_not_found",
            Self::CredentialNotOffered => "credential_not_offered",
            Self::NoCodeSent => "no_code_sent",
            Self::NotShown => "request_not_shown",
            Self::TooSoon => "approved_too_soon",
            Self::TooManyRequests => "too_many_requests",
            Self::ExportNotApproved => "export_not_approved",
            Self::ExportSpent => "step_up_required",
            Self::NoWallet => "no_wallet",
            Self::NotTheExportedKey => "not_the_exported_key",
            Self::ClipboardUnavailable => "clipboard_unavailable",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedPhone => "unsupported_phone",
            Self::NotSandbox => "not_sandbox",
            Self::NotConfigured(_) => "not_configured",
            Self::SandboxFailed(_) => "sandbox_failed",
            Self::Starting => "starting",
            Self::NoWalletMessage => "no_wallet_message",
            Self::NoBrowserPage => "no_browser_page",
            Self::WalletPage(_) => "wallet_refused",
            Self::NoSocialSignInWaiting => "no_social_sign_in_waiting",
            Self::SocialCallbackRefused(_) => "social_callback_refused",
            Self::NumberNotMatched => "number_not_matched",
            Self::NoNumberToMatch => "no_number_to_match",
            Self::DialogUnavailable => "internal",
            Self::Client(error) => error.code(),
        }
    }

    /// True for the keychain family of codes (the UI shows them apart: nothing works until
    /// the keychain does).
    pub fn is_keychain(&self) -> bool {
        self.code().starts_with("keychain_")
    }

    /// A wrong code the user typed (as opposed to a fault on the way): only these count as
    /// failed attempts of a request.
    pub fn is_wrong_code(&self) -> bool {
        matches!(
            self,
            Self::Client(StepUpError::InvalidOtp { .. } | StepUpError::WrongCode { .. })
        )
    }
}

impl From<VaultError> for AppError {
    fn from(error: VaultError) -> Self {
        Self::Client(StepUpError::Vault(error))
    }
}

impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("AppError", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e: AppError = StepUpError::WrongCode {
            remaining_attempts: Some(2),
        }
        .into();
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["code"], "wrong_code");
        assert!(json["message"]
            .as_str()
            .is_some_and(|m| m.contains("2 attempts left")));
        assert_eq!(json.as_object().map(|o| o.len()), Some(2));
        let json = serde_json::to_value(AppError::ExportSpent).expect("json");
        assert_eq!(json["code"], "step_up_required");
    }

    #[test]
    fn keychain_errors_keep_their_codes() {
        let e: AppError = VaultError::Locked.into();
        assert_eq!(e.code(), "keychain_locked");
        assert!(e.is_keychain());
    }

    #[test]
    fn only_a_wrong_code_is_a_failed_attempt() {
        assert!(AppError::from(StepUpError::InvalidOtp {
            remaining_attempts: None
        })
        .is_wrong_code());
        assert!(AppError::from(StepUpError::WrongCode {
            remaining_attempts: None
        })
        .is_wrong_code());
        assert!(!AppError::from(StepUpError::Network("refused".into())).is_wrong_code());
        assert!(!AppError::from(StepUpError::TimedOut(
            stepup_client::TimeoutPhase::FirstByte
        ))
        .is_wrong_code());
        assert!(!AppError::from(StepUpError::RateLimited).is_wrong_code());
    }
}
