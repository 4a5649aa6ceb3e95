//! The one way to run blocking work (a keychain call, an authenticator ceremony) from async
//! code: on tokio's blocking pool, bounded by a time limit, so a hung keychain or a key that
//! waits for a touch is an error after the limit, never a hung task.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stepup_client::VaultError> {
//! use std::time::Duration;
//! use stepup_client::blocking::run_blocking;
//! // `?` turns a `Stalled` into a `VaultError`; the second `?` is the call's own result.
//! let answer: u32 = run_blocking(Duration::from_secs(2), || Ok::<_, stepup_client::VaultError>(42)).await??;
//! # let _ = answer; Ok(()) }
//! ```

use crate::vault::VaultError;
use std::time::Duration;

/// Why blocking work gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stalled {
    /// It did not finish within the limit. Its thread runs on until the call returns by
    /// itself (a blocking call cannot be interrupted); its result is dropped.
    #[error("the call did not finish within {} ms", millis(*.0))]
    TimedOut(Duration),
    /// Its thread panicked.
    #[error("the thread running the call failed")]
    Crashed,
}

/// A limit in whole milliseconds, as the error messages give it.
fn millis(limit: Duration) -> u64 {
    u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `work` on a blocking thread and waits for it at most `limit`.
pub async fn run_blocking<T: Send + 'static>(
    limit: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Stalled> {
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_join)) => Err(Stalled::Crashed),
        Err(_elapsed) => {
            tracing::warn!(timeout_ms = millis(limit), "a blocking call timed out");
            Err(Stalled::TimedOut(limit))
        }
    }
}

/// A stalled keychain call: [`VaultError::TimedOut`] (in ms) or [`VaultError::Other`].
impl From<Stalled> for VaultError {
    fn from(stalled: Stalled) -> Self {
        match stalled {
            Stalled::TimedOut(limit) => VaultError::TimedOut(millis(limit)),
            Stalled::Crashed => VaultError::Other("the keychain thread failed".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_that_finishes_in_time_gives_its_answer() {
        assert_eq!(run_blocking(Duration::from_secs(5), || 7).await, Ok(7));
    }

    // tokio's `test-util` (time::pause) is not enabled for this crate, so the limit is short
    // and real; the work would otherwise block for 5 s.
    #[tokio::test]
    async fn work_that_outlives_its_limit_times_out() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let limit = Duration::from_millis(50);
        let answer = run_blocking(limit, move || wait.recv_timeout(Duration::from_secs(5))).await;
        assert_eq!(answer, Err(Stalled::TimedOut(limit)));
        assert_eq!(
            VaultError::from(Stalled::TimedOut(limit)),
            VaultError::TimedOut(50)
        );
        let _ = release.send(());
    }

    #[tokio::test]
    async fn work_that_panics_is_reported_as_crashed() {
        #[allow(clippy::panic)]
        let answer = run_blocking(Duration::from_secs(5), || -> u8 { panic!("boom") }).await;
        assert_eq!(answer, Err(Stalled::Crashed));
        assert!(matches!(
            VaultError::from(Stalled::Crashed),
            VaultError::Other(_)
        ));
    }
}
