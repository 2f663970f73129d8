//! Tuning sets as pure schedules (ClusterLoader2's `pkg/tuningset`): when
//! each of a phase's n actions starts, relative to the phase start, and
//! how many may run at once. `globalQPSLoad` is a rate limiter shared by
//! every phase using the set, so it is a [`GlobalLimiter`] instead.

use super::config::{Load, TuningSet};
use rand::Rng;

/// Actions in flight at once when the tuning set does not limit them.
pub const DEFAULT_PARALLELISM: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Start offset of each action, in seconds (initialDelay included).
    pub offsets: Vec<f64>,
    pub parallelism: usize,
    /// Whether starts also go through the set's shared limiter.
    pub global: bool,
}

/// The schedule of `n` actions under `ts`.
pub fn schedule<R: Rng>(ts: &TuningSet, n: usize, rng: &mut R) -> Schedule {
    let delay = ts.initial_delay.as_secs_f64();
    let mut parallelism = DEFAULT_PARALLELISM;
    let mut global = false;
    let offsets: Vec<f64> = match &ts.load {
        // One start every 1/qps.
        Load::Qps { qps } => (0..n).map(|i| i as f64 / qps).collect(),
        // Gaps drawn uniformly from [0, 2/averageQps).
        Load::Randomized { average_qps } => {
            let mut t = 0.0;
            (0..n)
                .map(|_| {
                    let at = t;
                    t += rng.gen_range(0.0..2.0 / average_qps);
                    at
                })
                .collect()
        }
        // A burst of burstSize every stepDelay.
        Load::Stepped {
            burst_size,
            step_delay,
        } => (0..n)
            .map(|i| (i / burst_size) as f64 * step_delay.as_secs_f64())
            .collect(),
        // Evenly over timeLimit.
        Load::TimeLimited { time_limit } => (0..n)
            .map(|i| i as f64 * time_limit.as_secs_f64() / n as f64)
            .collect(),
        // Each independently uniform in [0, timeLimit).
        Load::RandomizedTimeLimited { time_limit } => {
            let limit = time_limit.as_secs_f64();
            let mut v: Vec<f64> = (0..n)
                .map(|_| {
                    if limit > 0.0 {
                        rng.gen_range(0.0..limit)
                    } else {
                        0.0
                    }
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v
        }
        Load::ParallelismLimited { parallelism_limit } => {
            parallelism = *parallelism_limit;
            vec![0.0; n]
        }
        Load::GlobalQps { .. } => {
            global = true;
            vec![0.0; n]
        }
    };
    Schedule {
        offsets: offsets.into_iter().map(|o| o + delay).collect(),
        parallelism,
        global,
    }
}

/// A token bucket of `burst` tokens refilled at `qps`, shared by the
/// phases of one `globalQPSLoad` set (as the GCRA: a virtual "theoretical
/// arrival time").
#[derive(Debug, Clone)]
pub struct GlobalLimiter {
    qps: f64,
    burst: f64,
    tat: f64,
}

impl GlobalLimiter {
    pub fn new(qps: f64, burst: usize) -> GlobalLimiter {
        GlobalLimiter {
            qps,
            burst: burst.max(1) as f64,
            tat: f64::NEG_INFINITY,
        }
    }

    /// Reserves one start at or after `now` (seconds); returns its time.
    pub fn reserve(&mut self, now: f64) -> f64 {
        let interval = 1.0 / self.qps;
        let tat = self.tat.max(now);
        let at = (tat - (self.burst - 1.0) * interval).max(now);
        self.tat = tat.max(at) + interval;
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::time::Duration;

    fn ts(load: Load, delay: u64) -> TuningSet {
        TuningSet {
            name: "t".into(),
            initial_delay: Duration::from_secs(delay),
            load,
        }
    }

    #[test]
    fn schedules_known_answers() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let s = |l: Load, n: usize, rng: &mut rand::rngs::StdRng| schedule(&ts(l, 0), n, rng);
        assert_eq!(
            s(Load::Qps { qps: 4.0 }, 4, &mut rng).offsets,
            [0.0, 0.25, 0.5, 0.75]
        );
        assert_eq!(
            s(
                Load::Stepped {
                    burst_size: 2,
                    step_delay: Duration::from_secs(5)
                },
                5,
                &mut rng
            )
            .offsets,
            [0.0, 0.0, 5.0, 5.0, 10.0]
        );
        assert_eq!(
            s(
                Load::TimeLimited {
                    time_limit: Duration::from_secs(10)
                },
                4,
                &mut rng
            )
            .offsets,
            [0.0, 2.5, 5.0, 7.5]
        );
        let p = s(
            Load::ParallelismLimited {
                parallelism_limit: 3,
            },
            2,
            &mut rng,
        );
        assert_eq!(
            (p.offsets, p.parallelism, p.global),
            (vec![0.0, 0.0], 3, false)
        );
        let g = s(Load::GlobalQps { qps: 1.0, burst: 1 }, 2, &mut rng);
        assert!(g.global);
        let r = s(
            Load::RandomizedTimeLimited {
                time_limit: Duration::from_secs(10),
            },
            200,
            &mut rng,
        );
        assert!(r.offsets.windows(2).all(|w| w[0] <= w[1]));
        assert!(r.offsets.iter().all(|o| (0.0..10.0).contains(o)));
        assert!(
            r.offsets[199] > 8.0 && r.offsets[0] < 2.0,
            "spread over the limit"
        );
        let r = s(Load::Randomized { average_qps: 10.0 }, 1000, &mut rng);
        assert_eq!(r.offsets[0], 0.0);
        let mean_gap = r.offsets[999] / 999.0;
        assert!((mean_gap - 0.1).abs() < 0.01, "{mean_gap}");
        // The initial delay shifts everything.
        assert_eq!(
            schedule(&ts(Load::Qps { qps: 1.0 }, 3), 2, &mut rng).offsets,
            [3.0, 4.0]
        );
        assert!(schedule(
            &ts(
                Load::TimeLimited {
                    time_limit: Duration::ZERO
                },
                0
            ),
            0,
            &mut rng
        )
        .offsets
        .is_empty());
    }

    #[test]
    fn global_limiter_is_a_token_bucket() {
        let mut l = GlobalLimiter::new(2.0, 3);
        // A burst of 3 at once, then one every 0.5 s.
        let starts: Vec<f64> = (0..5).map(|_| l.reserve(10.0)).collect();
        assert_eq!(starts, [10.0, 10.0, 10.0, 10.5, 11.0]);
        // After idling, the bucket refills up to the burst, not beyond.
        let later: Vec<f64> = (0..4).map(|_| l.reserve(100.0)).collect();
        assert_eq!(later, [100.0, 100.0, 100.0, 100.5]);
        let mut one = GlobalLimiter::new(10.0, 1);
        assert_eq!(
            [one.reserve(0.0), one.reserve(0.0), one.reserve(0.05)],
            [0.0, 0.1, 0.2]
        );
    }
}
