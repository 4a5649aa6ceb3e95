//! Request and response bodies, named after api-core's models (A:`src/models/<Model>.js`).
//!
//! Optional fields are skipped when absent, as the generated `ToJSON` does; unknown response
//! fields are ignored, so a server that adds fields never breaks the client.
//!
//! One file a topic; every type is re-exported here, so `stepup_protocol::model::X` (and
//! `stepup_protocol::X`) name it wherever it lives:
//! - `credential`: `CredentialFormat`, the kind of a credential.
//! - `check`: the step-up check and the credentials it offers.
//! - `session`: the signed-in user, their credentials, `VerifyResponse`.
//! - `otp`: email and SMS codes (create, verify, sign in).
//! - `mfa`: TOTP and recovery codes, MFA devices, TOTP registration.
//! - `external`: external-auth assertions.
//! - `nonce`: single-use nonces for device signatures.
//! - `wallet`: wallet (SIWE) step-up.
//! - `social`: social (OAuth) re-authentication.
//! - `passkey`: WebAuthn options, assertions and attestations.
//! - `actions`: bodies of the scope-protected actions (delete a passkey, export a key).

mod actions;
mod check;
mod credential;
mod external;
mod mfa;
mod nonce;
mod otp;
mod passkey;
mod session;
mod social;
mod wallet;

pub use actions::*;
pub use check::*;
pub use credential::*;
pub use external::*;
pub use mfa::*;
pub use nonce::*;
pub use otp::*;
pub use passkey::*;
pub use session::*;
pub use social::*;
pub use wallet::*;
