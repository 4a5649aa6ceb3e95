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

/// Unix ms → `Date.prototype.toISOString()` / RFC 3339 in UTC with milliseconds
/// (`2024-05-01T12:00:00.000Z`), without a date crate (Howard Hinnant's `civil_from_days`).
pub fn iso_8601_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod iso_tests {
    #[test]
    fn iso_8601_formats_known_instants() {
        assert_eq!(super::iso_8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso_8601_ms(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            super::iso_8601_ms(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            super::iso_8601_ms(951_868_799_999),
            "2000-02-29T23:59:59.999Z"
        );
    }
}
