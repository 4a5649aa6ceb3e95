//! Dynamic's step-up authentication protocol, as wire types.
//!
//! Every type here mirrors a model of `@dynamic-labs/sdk-api-core` 0.0.1125 (see
//! `shared/docs/dynamic-protocol.md`, which names the source file of each fact). JSON keys are
//! exactly the SDK's, including the snake_case ones. Enums the server may extend
//! ([`TokenScope`], [`CredentialFormat`]) parse unknown values into `Unknown(String)`, never fail.
//!
//! # Layout
//! - [`scope`]: `TokenScope` and the normalised scope-set key.
//! - [`model`]: request and response bodies of every endpoint the client and sandbox speak, one
//!   file a topic (`model/{credential,check,session,otp,mfa,external,nonce,wallet,social,passkey,actions}.rs`),
//!   all re-exported from `model` and from the crate root.
//! - [`error`]: the `{error, code, payload}` error body and the machine codes we use.
//! - [`headers`]: header names, the SDK's versions, and the device-nonce-signed endpoints.
//! - [`jwt`]: ES256 compact JWS (sign, verify, decode-without-verify) and token claims.
//! - [`clock`]: a clock trait so that every time rule can be tested without sleeping.
//! - [`secret`]: a string whose `Debug`/`Display` redact it.

pub mod clock;
pub mod error;
pub mod eth;
pub mod headers;
pub mod jwks;
pub mod jwt;
pub mod model;
pub mod scope;
pub mod secret;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{codes, ErrorBody};
pub use model::*;
pub use scope::{scope_set_key, TokenScope};
pub use secret::Secret;
