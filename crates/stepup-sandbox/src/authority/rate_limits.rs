//! Limits on creating email and SMS verifications. Each verification allows five wrong codes,
//! so without a limit on creating them a 6-digit code falls to brute force (measured: 2,000
//! guesses at 1,149/s). Three sliding windows: per email or phone number, per client address,
//! and for the whole sandbox; a refusal says when to try again (HTTP 429 + `retry-after`).

use std::collections::{HashMap, VecDeque};

/// How many verifications may be created, and over how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationLimits {
    /// Per email address or phone number.
    pub per_target: u32,
    /// Per client IP address.
    pub per_client: u32,
    /// For the whole sandbox.
    pub global: u32,
    /// The window all three count over, in milliseconds.
    pub window_ms: i64,
}

impl Default for VerificationLimits {
    /// 10 per address, 30 per client, 300 in all, per 15 minutes: at most 50 guesses at one
    /// address's codes per 15 minutes.
    fn default() -> Self {
        Self {
            per_target: 10,
            per_client: 30,
            global: 300,
            window_ms: 15 * 60 * 1000,
        }
    }
}

/// The most keys a window keeps (a flood of distinct addresses must not grow memory): past it
/// the key seen least recently is forgotten.
const MAX_KEYS: usize = 10_000;

/// One sliding window: the times of the hits in the last `window_ms`, per key.
#[derive(Debug)]
struct Window {
    /// Hits allowed per key within the window.
    limit: u32,
    /// Times (unix ms) of the hits within the window, oldest first, per key; each queue holds
    /// at most `limit` entries.
    hits: HashMap<String, VecDeque<i64>>,
}

impl Window {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            hits: HashMap::new(),
        }
    }

    /// `Err(ms to wait)` when `key` is at its limit.
    fn check(&mut self, key: &str, now_ms: i64, window_ms: i64) -> Result<(), i64> {
        let Some(times) = self.hits.get_mut(key) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| now_ms - t >= window_ms) {
            times.pop_front();
        }
        match times.front() {
            Some(oldest) if times.len() >= self.limit as usize => Err(oldest + window_ms - now_ms),
            _ => Ok(()),
        }
    }

    fn record(&mut self, key: &str, now_ms: i64) {
        if !self.hits.contains_key(key) && self.hits.len() >= MAX_KEYS {
            let stalest = self
                .hits
                .iter()
                .min_by_key(|(_, times)| times.back().copied().unwrap_or(i64::MIN))
                .map(|(k, _)| k.clone());
            if let Some(stalest) = stalest {
                self.hits.remove(&stalest);
            }
        }
        let times = self.hits.entry(key.to_owned()).or_default();
        times.push_back(now_ms);
        while times.len() > self.limit as usize {
            times.pop_front();
        }
    }
}

/// The three windows.
#[derive(Debug)]
pub(crate) struct VerificationRateLimiter {
    limits: VerificationLimits,
    per_target: Window,
    per_client: Window,
    global: Window,
}

impl VerificationRateLimiter {
    pub(crate) fn new(limits: VerificationLimits) -> Self {
        Self {
            limits,
            per_target: Window::new(limits.per_target),
            per_client: Window::new(limits.per_client),
            global: Window::new(limits.global),
        }
    }

    /// Counts one creation for `target` from `client`, or says how many seconds to wait
    /// (nothing is counted then).
    pub(crate) fn admit(
        &mut self,
        target: &str,
        client: Option<std::net::IpAddr>,
        now_ms: i64,
    ) -> Result<(), u64> {
        let window = self.limits.window_ms;
        let client = client.map(|ip| ip.to_string());
        let waits = [
            self.per_target.check(target, now_ms, window),
            client
                .as_deref()
                .map_or(Ok(()), |c| self.per_client.check(c, now_ms, window)),
            self.global.check("", now_ms, window),
        ];
        if let Some(wait_ms) = waits.iter().filter_map(|w| w.err()).max() {
            let seconds = (wait_ms.max(0) + 999) / 1000;
            return Err(u64::try_from(seconds.max(1)).unwrap_or(u64::MAX));
        }
        self.per_target.record(target, now_ms);
        if let Some(c) = &client {
            self.per_client.record(c, now_ms);
        }
        self.global.record("", now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const A: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));

    fn limiter() -> VerificationRateLimiter {
        VerificationRateLimiter::new(VerificationLimits {
            per_target: 2,
            per_client: 3,
            global: 4,
            window_ms: 10_000,
        })
    }

    #[test]
    fn each_window_refuses_past_its_limit_and_says_when_to_retry() {
        let mut l = limiter();
        assert!(l.admit("a@x", A, 0).is_ok());
        assert!(l.admit("a@x", A, 1_000).is_ok());
        assert_eq!(
            l.admit("a@x", A, 2_000),
            Err(8),
            "per address: the oldest leaves at 10 s"
        );
        assert!(l.admit("b@x", A, 2_000).is_ok());
        assert!(l.admit("c@x", A, 2_500).is_err(), "per client: 3");
        assert!(l.admit("c@x", B, 2_500).is_ok());
        assert!(l.admit("d@x", B, 3_000).is_err(), "global: 4");
        // The window slides: 10 s after the first hits, they no longer count.
        assert!(l.admit("a@x", B, 11_000).is_ok());
    }

    #[test]
    fn a_refusal_counts_nothing() {
        let mut l = limiter();
        l.admit("a@x", A, 0).unwrap();
        l.admit("a@x", A, 0).unwrap();
        for t in 1..100 {
            assert!(l.admit("a@x", A, t).is_err());
        }
        assert!(
            l.admit("b@x", A, 100).is_ok(),
            "the refused tries used none of A's quota"
        );
    }

    #[test]
    fn a_flood_of_addresses_is_bounded() {
        let mut l = VerificationRateLimiter::new(VerificationLimits {
            per_target: 1,
            per_client: u32::MAX,
            global: u32::MAX,
            window_ms: 1_000_000,
        });
        for i in 0..(MAX_KEYS + 50) {
            l.admit(&format!("{i}@x"), None, 0).unwrap();
        }
        assert!(l.per_target.hits.len() <= MAX_KEYS);
    }
}
