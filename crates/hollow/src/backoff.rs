//! Jittered exponential backoff (client-go's `wait.Backoff` with jitter),
//! as a value the drivers step instead of sleeps spread through the logic.
//! The caller supplies the random number, so the sequence is testable.

use std::time::Duration;

/// Exponential backoff: `initial × factor^n`, capped, plus up to
/// `jitter × delay` of random extra delay.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
    pub jitter: f64,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            factor: 2.0,
            jitter: 1.0,
            attempt: 0,
        }
    }

    /// client-go reflector's watch/list retry: 800 ms doubling to 30 s.
    pub fn reflector() -> Backoff {
        Backoff::new(Duration::from_millis(800), Duration::from_secs(30))
    }

    /// The next delay; `random01` is uniform in [0, 1).
    pub fn next_delay(&mut self, random01: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.powi(self.attempt.min(62) as i32);
        let capped = base.min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let r = random01.clamp(0.0, 1.0);
        let jittered = (capped * (1.0 + self.jitter * r)).min(self.max.as_secs_f64() * 2.0);
        Duration::from_secs_f64(jittered.max(0.0))
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let got: Vec<u64> = (0..5).map(|_| b.next_delay(0.0).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 5, 5]);
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_adds_at_most_the_delay() {
        let mut b = Backoff::reflector();
        assert_eq!(b.next_delay(0.5), Duration::from_millis(1200));
        let d = b.next_delay(0.999);
        assert!(d >= Duration::from_millis(1600) && d < Duration::from_millis(3200));
        // Out-of-range randomness is clamped rather than trusted.
        let mut c = Backoff::reflector();
        assert_eq!(c.next_delay(7.0), Duration::from_millis(1600));
    }
}
