//! Limits that keep one client from exhausting the master: kube-apiserver's
//! max-in-flight filter (`--max-requests-inflight` 400 and
//! `--max-mutating-requests-inflight` 200; long-running requests such as
//! watches are exempt; over the limit: 429 `TooManyRequests` with
//! `Retry-After: 1`), plus our own cap on concurrent watches per user
//! (generous: 10,000 hollow nodes sharing one identity hold about 80,000),
//! and the header size limit of Go's HTTP server (1 MiB).

use apimachinery::ApiError;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// kube-apiserver's `--max-requests-inflight` default.
pub const DEFAULT_MAX_REQUESTS_INFLIGHT: usize = 400;
/// kube-apiserver's `--max-mutating-requests-inflight` default.
pub const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT: usize = 200;
/// Concurrent watches one user may hold (our addition; kube-apiserver
/// has none). 25,000 hollow nodes with kubelet (5) and proxy (3) watches
/// on one shared identity fit.
pub const DEFAULT_MAX_WATCHES_PER_USER: usize = 200_000;
/// Go's `http.DefaultMaxHeaderBytes`, which kube-apiserver keeps: the
/// request line and headers of HTTP/1.1, and the header list of HTTP/2.
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// Seconds a client is told to wait after a 429 (as kube-apiserver).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The limits; 0 means unlimited (as kube-apiserver's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    pub max_requests_inflight: usize,
    pub max_mutating_requests_inflight: usize,
    pub max_watches_per_user: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            max_requests_inflight: DEFAULT_MAX_REQUESTS_INFLIGHT,
            max_mutating_requests_inflight: DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
            max_watches_per_user: DEFAULT_MAX_WATCHES_PER_USER,
        }
    }
}

/// Whether one more fits under `limit` (0: unlimited) with `current` in use.
pub fn admits(current: usize, limit: usize) -> bool {
    limit == 0 || current < limit
}

/// Counts what is in flight and hands out [`Permit`]s.
#[derive(Debug, Default)]
pub struct Limiter {
    cfg: LimitsConfig,
    readonly: AtomicUsize,
    mutating: AtomicUsize,
    watches: Mutex<HashMap<String, usize>>,
    rejected: AtomicUsize,
}

#[derive(Debug)]
enum Held {
    Readonly,
    Mutating,
    Watch(String),
}

/// A slot; released when dropped (a watch's when its response body is).
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<Limiter>,
    held: Held,
}

impl Drop for Permit {
    fn drop(&mut self) {
        match &self.held {
            Held::Readonly => {
                self.limiter.readonly.fetch_sub(1, Ordering::AcqRel);
            }
            Held::Mutating => {
                self.limiter.mutating.fetch_sub(1, Ordering::AcqRel);
            }
            Held::Watch(user) => {
                let mut w = self.limiter.watches.lock();
                if let Some(n) = w.get_mut(user) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        w.remove(user);
                    }
                }
            }
        }
    }
}

fn too_many() -> ApiError {
    ApiError::too_many_requests(
        "Too many requests, please try again later.",
        RETRY_AFTER_SECONDS,
    )
}

impl Limiter {
    pub fn new(cfg: LimitsConfig) -> Arc<Limiter> {
        Arc::new(Limiter {
            cfg,
            ..Limiter::default()
        })
    }

    pub fn config(&self) -> LimitsConfig {
        self.cfg
    }

    /// Requests refused so far.
    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::Relaxed)
    }

    /// A slot for a short request (not a watch), or 429.
    pub fn request(self: &Arc<Self>, mutating: bool) -> Result<Permit, ApiError> {
        let (counter, limit, held) = if mutating {
            (
                &self.mutating,
                self.cfg.max_mutating_requests_inflight,
                Held::Mutating,
            )
        } else {
            (
                &self.readonly,
                self.cfg.max_requests_inflight,
                Held::Readonly,
            )
        };
        let admitted = counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                admits(n, limit).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(too_many());
        }
        Ok(Permit {
            limiter: self.clone(),
            held,
        })
    }

    /// A slot for one more watch of `user`, or 429 naming the limit.
    pub fn watch(self: &Arc<Self>, user: &str) -> Result<Permit, ApiError> {
        let limit = self.cfg.max_watches_per_user;
        {
            let mut w = self.watches.lock();
            let n = w.entry(user.to_string()).or_insert(0);
            if !admits(*n, limit) {
                drop(w);
                let n = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                // A client hammering the limit must not flood the log:
                // the 1st, 2nd, 4th, 8th, ... refusal.
                if n.is_power_of_two() {
                    tracing::warn!(
                        user,
                        limit,
                        refused = n,
                        "refused a watch: the user holds the most concurrent watches allowed (--max-watches-per-user)"
                    );
                }
                return Err(ApiError::too_many_requests(
                    format!(
                        "Too many requests: user {user:?} already holds {limit} watches (the master's --max-watches-per-user); close some or raise the limit"
                    ),
                    RETRY_AFTER_SECONDS,
                ));
            }
            *n += 1;
        }
        Ok(Permit {
            limiter: self.clone(),
            held: Held::Watch(user.to_string()),
        })
    }

    /// Watches `user` holds now.
    pub fn watches_of(&self, user: &str) -> usize {
        self.watches.lock().get(user).copied().unwrap_or(0)
    }

    /// (read-only, mutating) requests in flight now.
    pub fn inflight(&self) -> (usize, usize) {
        (
            self.readonly.load(Ordering::Acquire),
            self.mutating.load(Ordering::Acquire),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_under_the_limit() {
        for (current, limit, want) in [
            (0, 0, true),
            (1_000_000, 0, true),
            (0, 1, true),
            (1, 1, false),
            (399, 400, true),
            (400, 400, false),
            (401, 400, false),
        ] {
            assert_eq!(admits(current, limit), want, "{current}/{limit}");
        }
    }

    #[test]
    fn counts_requests_by_kind_and_releases_on_drop() {
        let l = Limiter::new(LimitsConfig {
            max_requests_inflight: 2,
            max_mutating_requests_inflight: 1,
            max_watches_per_user: 0,
        });
        let a = l.request(false).unwrap();
        let b = l.request(false).unwrap();
        let e = l.request(false).unwrap_err();
        assert_eq!((e.code, e.reason), (429, "TooManyRequests"));
        assert_eq!(e.retry_after, Some(1));
        // The mutating pool is separate.
        let m = l.request(true).unwrap();
        assert!(l.request(true).is_err());
        assert_eq!(l.inflight(), (2, 1));
        assert_eq!(l.rejected(), 2);
        drop(a);
        let _c = l.request(false).unwrap();
        drop((b, m));
        assert_eq!(l.inflight(), (1, 0));
        let _m = l.request(true).unwrap();
    }

    #[test]
    fn caps_watches_per_user() {
        let l = Limiter::new(LimitsConfig {
            max_watches_per_user: 2,
            ..LimitsConfig::default()
        });
        let w1 = l.watch("alice").unwrap();
        let _w2 = l.watch("alice").unwrap();
        let e = l.watch("alice").unwrap_err();
        assert_eq!(e.code, 429);
        assert!(
            e.message.contains("--max-watches-per-user"),
            "{}",
            e.message
        );
        // Other users are unaffected.
        let _b = l.watch("bob").unwrap();
        assert_eq!((l.watches_of("alice"), l.watches_of("bob")), (2, 1));
        drop(w1);
        assert_eq!(l.watches_of("alice"), 1);
        let _w3 = l.watch("alice").unwrap();
        // Unlimited.
        let u = Limiter::new(LimitsConfig {
            max_watches_per_user: 0,
            ..LimitsConfig::default()
        });
        let held: Vec<Permit> = (0..1000).map(|_| u.watch("x").unwrap()).collect();
        assert_eq!(u.watches_of("x"), 1000);
        drop(held);
        assert_eq!(u.watches_of("x"), 0);
        assert!(u.watches.lock().is_empty());
    }

    #[test]
    fn defaults_match_kube_apiserver() {
        let d = LimitsConfig::default();
        assert_eq!(d.max_requests_inflight, 400);
        assert_eq!(d.max_mutating_requests_inflight, 200);
        assert!(d.max_watches_per_user >= 10_000 * 8);
        assert_eq!(MAX_HEADER_BYTES, 1_048_576);
    }
}
