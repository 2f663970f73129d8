//! A token bucket like client-go's `flowcontrol.NewTokenBucketRateLimiter`
//! (QPS with a burst), used for each hollow kubelet's main client. Pure:
//! the caller passes the time and sleeps for the returned wait.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. `qps <= 0` means unlimited.
    pub fn new(qps: f64, burst: u32, now: Instant) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            qps,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token and returns how long to wait before using it (zero
    /// when one is available now). Reservations queue: tokens may go
    /// negative, so concurrent callers wait in turn, as with Go's limiter.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        if self.qps <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 20, t0);
        for _ in 0..20 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        // The 21st waits one token's time (100 ms), the 22nd two.
        assert_eq!(b.reserve(t0), Duration::from_millis(100));
        let w = b.reserve(t0);
        assert!((w.as_secs_f64() - 0.2).abs() < 1e-9, "{w:?}");
        // After a second, ten tokens came back, two of them owed.
        let w = b.reserve(t0 + Duration::from_secs(1));
        assert_eq!(w, Duration::ZERO);
    }

    #[test]
    fn refills_only_to_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1.0, 2, t0);
        let later = t0 + Duration::from_secs(100);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert_eq!(b.reserve(later), Duration::from_secs(1));
    }

    #[test]
    fn unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 1, t0);
        for _ in 0..1000 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
    }
}
