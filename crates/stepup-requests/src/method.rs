//! [`Method`]: the verification methods the dialog can run, one name each as the UI knows it
//! (`totp`, `email_otp`, …), and the rule of which credential runs which method.

use serde::{Deserialize, Serialize};
use stepup_client::{CredentialMethod, StepUpCredential, StepUpCredentialExt};

/// A verification method of the dialog. The serde names are the UI's (`ui/methods.js`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A code from an authenticator app (TOTP, RFC 6238).
    Totp,
    /// A code sent by email.
    EmailOtp,
    /// A code sent by SMS.
    SmsOtp,
    /// This device's passkey.
    Passkey,
    /// One of the account's MFA recovery codes (offered with an authenticator app).
    RecoveryCode,
    /// An external wallet's signature of a SIWE message (signed in the browser wallet, or
    /// pasted). Embedded wallets cannot step up: [`crate::flow::check_view`] lists them as
    /// unavailable, with the sentence why.
    Wallet,
    /// A linked social account, re-authenticated in the system browser.
    Social,
    /// A confirmation the app's server signed for the user (a link's `assertion`, BYOA),
    /// exchanged when the user approves.
    ServerConfirmation,
    /// A credential this app cannot verify with yet (social): listed, not runnable.
    Unsupported,
}

impl Method {
    /// The method the app runs for a credential the server offered: the one rule of which
    /// credentials this build can verify.
    pub fn of(credential: &StepUpCredential) -> Self {
        match credential.method() {
            CredentialMethod::Totp => Self::Totp,
            CredentialMethod::Email => Self::EmailOtp,
            CredentialMethod::Sms => Self::SmsOtp,
            CredentialMethod::Passkey => Self::Passkey,
            CredentialMethod::Wallet => Self::Wallet,
            CredentialMethod::Social => Self::Social,
            _ => Self::Unsupported,
        }
    }

    /// The method's name on the wire to the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::EmailOtp => "email_otp",
            Self::SmsOtp => "sms_otp",
            Self::Passkey => "passkey",
            Self::RecoveryCode => "recovery_code",
            Self::Wallet => "wallet",
            Self::Social => "social",
            Self::ServerConfirmation => "server_confirmation",
            Self::Unsupported => "unsupported",
        }
    }

    /// The method in words, for the history and the dialog.
    pub fn label(self) -> &'static str {
        match self {
            Self::Totp => "Authenticator app",
            Self::EmailOtp => "Email code",
            Self::SmsOtp => "Text message code",
            Self::Passkey => "Passkey on this device",
            Self::RecoveryCode => "Recovery code",
            Self::Wallet => "Wallet signature",
            Self::Social => "Social account in your browser",
            Self::ServerConfirmation => "Confirmation from your app's server",
            Self::Unsupported => "Not available in this app",
        }
    }

    /// Whether the user types a code for it.
    pub fn takes_code(self) -> bool {
        matches!(
            self,
            Self::Totp | Self::EmailOtp | Self::SmsOtp | Self::RecoveryCode
        )
    }

    /// Whether a code is sent first (email, SMS).
    pub fn sends_code(self) -> bool {
        matches!(self, Self::EmailOtp | Self::SmsOtp)
    }

    /// Whether it is an MFA method (authenticator app or passkey): a user who has one is also
    /// offered recovery codes.
    pub fn is_mfa(self) -> bool {
        matches!(self, Self::Totp | Self::Passkey)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
