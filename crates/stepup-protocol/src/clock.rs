//! Time as a dependency: `SystemClock` in production, `ManualClock` in tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since the unix epoch.
    fn now_millis(&self) -> i64;
    /// Whole seconds since the unix epoch.
    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock frozen at `millis` since the epoch.
    pub fn at_millis(millis: i64) -> Self {
        Self(Arc::new(AtomicI64::new(millis)))
    }
    /// A clock frozen at the current system time.
    pub fn now() -> Self {
        Self::at_millis(SystemClock.now_millis())
    }
    /// Moves the clock forward (or back, with a negative value) by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    /// Moves the clock by `millis` milliseconds.
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::at_millis(1_000);
        let b = a.clone();
        a.advance_secs(30);
        assert_eq!(b.now_millis(), 31_000);
        assert_eq!(b.now_secs(), 31);
    }
}
