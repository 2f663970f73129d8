//! Controller expectations (client-go's `UIDTrackingControllerExpectations`):
//! after issuing creates/deletes a controller waits until its watch has
//! observed them before acting on the same object again, so that it never
//! over-creates or over-deletes while the cache lags.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Expectations older than this are considered satisfied (a lost watch
/// event must not wedge a controller forever), as in client-go.
pub const EXPECTATIONS_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct Expectation {
    adds: i64,
    /// Keys of pods whose deletion we await.
    dels: HashSet<String>,
    set_at: Instant,
}

#[derive(Debug, Default)]
pub struct Expectations {
    map: HashMap<String, Expectation>,
}

impl Expectations {
    pub fn new() -> Expectations {
        Expectations::default()
    }

    /// Whether the controller may act on `key`: nothing outstanding, or the
    /// expectation expired, or there is none recorded.
    pub fn satisfied(&self, key: &str, now: Instant) -> bool {
        match self.map.get(key) {
            None => true,
            Some(e) => {
                (e.adds <= 0 && e.dels.is_empty())
                    || now.duration_since(e.set_at) > EXPECTATIONS_TTL
            }
        }
    }

    /// Records `adds` creations and the keys of pods being deleted.
    pub fn expect(
        &mut self,
        key: &str,
        adds: usize,
        dels: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        self.map.insert(
            key.to_string(),
            Expectation {
                adds: i64::try_from(adds).unwrap_or(i64::MAX),
                dels: dels.into_iter().collect(),
                set_at: now,
            },
        );
    }

    /// A creation was observed in the watch (or a create failed and will
    /// never be observed).
    pub fn creation_observed(&mut self, key: &str) {
        if let Some(e) = self.map.get_mut(key) {
            e.adds -= 1;
        }
    }

    pub fn lower_creations(&mut self, key: &str, n: usize) {
        if let Some(e) = self.map.get_mut(key) {
            e.adds -= i64::try_from(n).unwrap_or(i64::MAX);
        }
    }

    /// A pod we deleted was observed gone or terminating (or the delete
    /// failed).
    pub fn deletion_observed(&mut self, key: &str, pod_key: &str) {
        if let Some(e) = self.map.get_mut(key) {
            e.dels.remove(pod_key);
        }
    }

    /// Forgets a controller (it was deleted).
    pub fn delete(&mut self, key: &str) {
        self.map.remove(key);
    }

    pub fn pending(&self, key: &str) -> (i64, usize) {
        self.map
            .get(key)
            .map(|e| (e.adds, e.dels.len()))
            .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_track_adds_and_deletes() {
        let t0 = Instant::now();
        let mut e = Expectations::new();
        assert!(e.satisfied("rs", t0));
        e.expect("rs", 2, ["ns/p1".to_string()], t0);
        assert!(!e.satisfied("rs", t0));
        e.creation_observed("rs");
        e.creation_observed("rs");
        assert!(!e.satisfied("rs", t0), "deletion still pending");
        e.deletion_observed("rs", "ns/p2");
        assert!(!e.satisfied("rs", t0), "unrelated pod does not count");
        e.deletion_observed("rs", "ns/p1");
        assert!(e.satisfied("rs", t0));
        assert_eq!(e.pending("rs"), (0, 0));
    }

    #[test]
    fn failed_creations_lower_and_old_expectations_expire() {
        let t0 = Instant::now();
        let mut e = Expectations::new();
        e.expect("rs", 5, [], t0);
        e.lower_creations("rs", 4);
        assert!(!e.satisfied("rs", t0));
        assert!(e.satisfied("rs", t0 + EXPECTATIONS_TTL + Duration::from_secs(1)));
        e.creation_observed("rs");
        assert!(e.satisfied("rs", t0));
        e.expect("rs", 1, [], t0);
        e.delete("rs");
        assert!(e.satisfied("rs", t0));
    }
}
