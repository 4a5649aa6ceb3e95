//! What a caller of the client needs, in one import: `use stepup_client::prelude::*;`.
//!
//! The client and its configuration, the check and the method to offer, the verifications,
//! the passkey confirmation, and the errors. Everything else stays at its module's path.

pub use crate::check::{
    choose_method, CheckOutcome, CheckSource, CredentialMethod, StepUpCredentialExt,
};
pub use crate::client::StepUpClient;
pub use crate::config::Config;
pub use crate::error::{StepUpError, TimeoutPhase};
pub use crate::passkey::{
    platform_authenticator, PasskeyConfirmation, PasskeyPrompt, UserVerification,
};
pub use crate::settings::EnvironmentSettings;
pub use crate::tokens::TokenStatus;
pub use crate::vault::{MemoryVault, TokenVault, VaultError};
pub use crate::verify::{
    OtpChannel, OtpVerification, PhoneNumber, SocialAccount, SocialPending, SystemBrowser,
    Verification, VerifyOutcome,
};
pub use stepup_protocol::{Secret, StepUpCheck, StepUpCredential, TokenScope};
