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
    /// True while the time is strictly before `deadline_ms` (the expiry rule of a token:
    /// valid while `now < exp`, no leeway). Never true once the deadline has passed; for a hot
    /// path, a clock may answer from a cheaper, coarser reading when the deadline is far.
    fn is_before(&self, deadline_ms: i64) -> bool {
        self.now_millis() < deadline_ms
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

    /// The coarse clock when the deadline is more than [`coarse::GUARD_MS`] after its reading
    /// (the common case: a token lives minutes), the precise clock otherwise. The check
    /// with a stored token asks this on every call; the precise read was more than half its
    /// cost (32 of 61 ns measured by `cargo xtask bench`).
    fn is_before(&self, deadline_ms: i64) -> bool {
        match coarse::upper_bound_ms() {
            Some(upper) if upper.saturating_add(coarse::GUARD_MS) < deadline_ms => true,
            _ => self.now_millis() < deadline_ms,
        }
    }
}

/// A cheap reading of the wall clock, for expiry tests far from the deadline.
///
/// `CLOCK_REALTIME_COARSE` is the wall clock as of the last update of the kernel's
/// timekeeping (each timer tick), read from the vDSO without the clocksource read that
/// `CLOCK_REALTIME` costs. It is never ahead of `CLOCK_REALTIME`; it lags by up to a tick, more
/// when the CPU that updates timekeeping is held up (a VM's vCPU descheduled by its host:
/// measured here, a Firecracker guest, 2–3 ms past the 1 ms resolution). Linux bounds that
/// stall: a CPU whose tick sees jiffies not advance for 5 ticks updates them itself
/// (`MAX_STALLED_JIFFIES`, kernel/time/tick-sched.c), so the lag stays under about 6 ticks
/// (60 ms at HZ=100) while this CPU runs. [`GUARD_MS`] is four times that: a deadline more
/// than `GUARD_MS` past `coarse + resolution` has not passed; nearer to the deadline the
/// precise clock decides, so the answer there is exact. (`CLOCK_MONOTONIC_COARSE` is as cheap
/// but stops during suspend and does not follow the wall clock, which `exp` is on.)
pub mod coarse {
    /// Deadlines within this many milliseconds of the coarse reading are decided by the
    /// precise clock (a token lives minutes: only its last quarter second pays the read).
    pub const GUARD_MS: i64 = 250;

    /// `CLOCK_REALTIME_COARSE` + its resolution, in unix ms, rounded up; `None` where there is
    /// no coarse clock (not Linux).
    #[cfg(target_os = "linux")]
    pub fn upper_bound_ms() -> Option<i64> {
        use rustix::time::{clock_getres, clock_gettime, ClockId};
        use std::sync::OnceLock;
        static RESOLUTION_MS: OnceLock<i64> = OnceLock::new();
        let resolution = *RESOLUTION_MS.get_or_init(|| {
            let r = clock_getres(ClockId::RealtimeCoarse);
            // Rounded up, plus 1 ms for the truncation of the reading to whole ms.
            let sec = r.tv_sec.clamp(0, 60);
            let nsec = r.tv_nsec.clamp(0, 999_999_999);
            sec * 1000 + (nsec + 999_999) / 1_000_000 + 1
        });
        let t = clock_gettime(ClockId::RealtimeCoarse);
        Some(
            t.tv_sec
                .saturating_mul(1000)
                .saturating_add(t.tv_nsec / 1_000_000)
                .saturating_add(resolution),
        )
    }

    /// No coarse clock on this platform: the precise clock decides.
    #[cfg(not(target_os = "linux"))]
    pub fn upper_bound_ms() -> Option<i64> {
        None
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
    fn the_coarse_reading_plus_the_guard_is_never_earlier_than_now() {
        // The invariant the fast path's expiry test rests on, over many ticks.
        if coarse::upper_bound_ms().is_none() {
            return; // no coarse clock here: `is_before` is the precise test
        }
        let started = SystemClock.now_millis();
        let (mut n, mut worst_lag) = (0u64, i64::MIN);
        while SystemClock.now_millis() < started + 300 {
            let precise = SystemClock.now_millis();
            let upper = coarse::upper_bound_ms().expect("coarse");
            worst_lag = worst_lag.max(precise - upper);
            n += 1;
        }
        assert!(n > 1_000, "{n} samples");
        assert!(
            worst_lag < coarse::GUARD_MS,
            "the coarse clock lagged {worst_lag} ms past its resolution"
        );
    }

    #[test]
    fn is_before_never_says_valid_once_the_deadline_has_passed() {
        let clock = SystemClock;
        let started = clock.now_millis();
        while clock.now_millis() < started + 300 {
            let now = clock.now_millis();
            // Reached or passed: never "before", whatever clock answers.
            for past in [
                now,
                now - 1,
                now - 5,
                now - 249,
                now - 250,
                now - 251,
                now - 1_000,
            ] {
                assert!(!clock.is_before(past), "deadline {past}, now {now}");
            }
            // Far ahead: before (answered by the coarse clock on Linux).
            assert!(clock.is_before(now + 600_000));
            assert!(clock.is_before(now + 2 * coarse::GUARD_MS));
        }
        // Near ahead: the precise clock decides, so a deadline 30 ms away is still ahead.
        let now = clock.now_millis();
        assert!(clock.is_before(now + 30));
    }

    #[test]
    fn is_before_turns_false_at_the_deadline_neither_early_nor_late() {
        // A deadline a few ms away: near it the precise clock decides, so the answer flips
        // exactly when the precise clock reaches the deadline.
        let clock = SystemClock;
        let deadline = clock.now_millis() + 20;
        let (mut saw_true, mut saw_false) = (false, false);
        while clock.now_millis() < deadline + 20 {
            let pre = clock.now_millis();
            let before = clock.is_before(deadline);
            let post = clock.now_millis();
            if before {
                assert!(pre < deadline, "still valid at {pre}, deadline {deadline}");
                saw_true = true;
            } else {
                assert!(
                    post >= deadline,
                    "expired early at {post}, deadline {deadline}"
                );
                saw_false = true;
            }
        }
        assert!(saw_true && saw_false);
    }

    #[test]
    fn manual_clock_is_before_is_exact() {
        let c = ManualClock::at_millis(1_000);
        assert!(c.is_before(1_001));
        assert!(!c.is_before(1_000));
        c.advance_millis(1);
        assert!(!c.is_before(1_001));
    }

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
