//! The HTTP surface: Dynamic's paths under `/api/v0/sdk/{environmentId}/`, the sandbox-only
//! views under `/api/v0/sandbox/{environmentId}/`. Thin: each handler extracts, calls one
//! method of the [`Authority`] under its lock, and serialises the answer.
//!
//! - `router`: the route table (each protected route's scope is in its handler's signature),
//!   fallbacks, body limit, and request logging that never records a secret.
//! - `extractors`: the environment check, the session, the device signature, the presented
//!   elevated token, and JSON bodies whose every failure is a `{error, code}` 422.
//! - `handlers`: one function per route.
//! - `views`: the JSON of the sandbox-only views.
//! - `pages`: the HTML of the sandbox's social provider and the redirects of the flow.
//! - `listener`: the accept loop's bounds: connections at once, idle and lifetime timeouts.

use std::sync::{Mutex, PoisonError};

use crate::authority::Authority;

mod extractors;
mod handlers;
pub(crate) mod listener;
mod pages;
mod router;
mod views;

pub(crate) use router::router;

/// What every handler shares.
pub(crate) struct Shared {
    /// The environment id this sandbox serves; a request for another is a 404.
    pub env: String,
    /// The rules and state. A std mutex, not a Tokio one: every authority method is
    /// synchronous, so the lock is never held across an await.
    pub authority: Mutex<Authority>,
}

impl Shared {
    /// Runs `f` with the authority locked. `f` is synchronous, so no lock is held across an await.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Authority) -> R) -> R {
        let mut guard = self
            .authority
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

/// The state of the router.
type AppState = std::sync::Arc<Shared>;
