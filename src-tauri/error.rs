//! [`CommandError`]: what a failed command sends the UI, `{code, message}`.
//!
//! `code` is a stable machine string the UI branches on (the client's
//! [`StepUpError::code`] plus the app's own, below); `message` is one sentence saying what to do.
//! Neither ever holds a token or a code.

use serde::Serialize;
use stepup_client::{StepUpError, VaultError};

/// A failed command, as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// Stable machine code, e.g. `wrong_code`, `keychain_locked`, `request_not_found`.
    pub code: String,
    /// A sentence saying what happened and what to do.
    pub message: String,
}

impl CommandError {
    /// An app-level error.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// The dialog's request is gone (approved, cancelled, or never existed).
    pub fn request_not_found() -> Self {
        Self::new(
            "request_not_found",
            "this request is no longer open: ask the app that sent it for a new one",
        )
    }

    /// A sandbox-only command outside the sandbox.
    pub fn not_sandbox() -> Self {
        Self::new(
            "not_sandbox",
            "this only works in the sandbox: start the app with --sandbox",
        )
    }

    /// The credential is not one the server offered for this request.
    pub fn credential_not_offered() -> Self {
        Self::new(
            "credential_not_offered",
            "this verification method was not offered for this request: choose one from the list",
        )
    }

    /// True for the keychain family of codes.
    pub fn is_keychain(&self) -> bool {
        self.code.starts_with("keychain_")
    }
}

impl From<StepUpError> for CommandError {
    fn from(error: StepUpError) -> Self {
        Self {
            code: error.code().to_owned(),
            message: error.to_string(),
        }
    }
}

impl From<VaultError> for CommandError {
    fn from(error: VaultError) -> Self {
        StepUpError::Vault(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e: CommandError = StepUpError::WrongCode {
            remaining_attempts: Some(2),
        }
        .into();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["code"], "wrong_code");
        assert!(json["message"]
            .as_str()
            .unwrap()
            .contains("2 attempts left"));
        assert_eq!(json.as_object().unwrap().len(), 2);
    }

    #[test]
    fn keychain_errors_keep_their_codes() {
        let e: CommandError = VaultError::Locked.into();
        assert_eq!(e.code, "keychain_locked");
        assert!(e.is_keychain());
    }
}
