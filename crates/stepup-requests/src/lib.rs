//! Stepup Desktop's core, without a window: what a deep link may ask, how a request lives and
//! ends, what an approval allows, and what the UI is shown. No Tauri here (`cargo tree -p
//! stepup-requests` has none), so every rule is plain Rust, tested without a window.
//!
//! # Layout
//! - [`link`]: hostile input → a validated [`StepUpRequest`] (private fields: only the parser,
//!   or [`StepUpRequest::own`] for the app's own actions, makes one), or why not.
//! - [`method`]: [`Method`], the verification methods with the names the UI uses, and which
//!   credential runs which.
//! - [`request`]: one open request's lifecycle (`Opened → Offered → CodeSent`, then an
//!   [`Outcome`]) as a typed [`Stage`].
//! - [`export`]: the [`ExportGrant`] an approved `wallet:export` request earns, taken once.
//! - [`desk`]: the [`RequestDesk`]: links waiting for the UI, open requests (bounded), approved
//!   exports, the history.
//! - [`signed`]: signed links (ES256 JWS by a registered requester key): the only verified
//!   requesters.
//! - [`flow`]: the dialog's operations over the client: begin, send a code, verify, export;
//!   the wallet message, the browser wallet's page and the pasted signature.
//! - [`browser`]: "continue in your browser": what a request keeps while a page in the system
//!   browser waits for the user ([`browser::BrowserWait`]), the wallet page and its answer.
//! - [`views`]: what the UI receives (no secrets; the exported key redacts itself).
//! - [`wording`]: what a scope allows and how a request ended, in words.
//! - [`phone`]: a phone credential back into a number to text.
//! - [`error`]: [`AppError`], one closed enum; its `code()` is what the UI branches on.

pub mod browser;
pub mod desk;
pub mod error;
pub mod export;
pub mod flow;
pub mod link;
pub mod method;
pub mod phone;
pub mod request;
pub mod signed;
pub mod views;
pub mod wording;

pub use desk::{Delivery, RequestDesk, SharedDesk};
pub use error::AppError;
pub use export::{ExportGrant, ExportRefusal};
pub use link::{DeepLinkError, ReturnToAllowList, StepUpRequest};
pub use method::Method;
pub use request::{OpenRequest, Outcome, Stage};
