//! A work queue of object keys like client-go's rate-limited workqueue:
//! a key is queued at most once, can be re-added after a delay, and failing
//! keys back off exponentially. Pure (time is passed in).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Per-item exponential backoff: `base * 2^failures`, capped.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        // client-go uses 5 ms .. 1000 s; a shorter cap keeps a simulated
        // cluster responsive after transient API errors.
        Backoff {
            base: Duration::from_millis(5),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(30)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[derive(Debug, Default)]
pub struct WorkQueue {
    ready: VecDeque<String>,
    queued: HashSet<String>,
    delayed: BinaryHeap<Reverse<(Instant, u64, String)>>,
    seq: u64,
    failures: HashMap<String, u32>,
    backoff: Backoff,
}

impl WorkQueue {
    pub fn new() -> WorkQueue {
        WorkQueue::default()
    }

    /// Queues a key now (no-op if already queued).
    pub fn add(&mut self, key: impl Into<String>) {
        let key = key.into();
        if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// Queues a key once `delay` has passed (from `now`).
    pub fn add_at(&mut self, key: impl Into<String>, at: Instant) {
        self.seq += 1;
        self.delayed.push(Reverse((at, self.seq, key.into())));
    }

    pub fn add_after(&mut self, key: impl Into<String>, delay: Duration) {
        self.add_at(key, Instant::now() + delay);
    }

    /// Re-queues a failed key after its backoff.
    pub fn add_rate_limited(&mut self, key: &str) {
        let n = self.failures.entry(key.to_string()).or_insert(0);
        let delay = self.backoff.delay(*n);
        *n = n.saturating_add(1);
        self.add_after(key, delay);
    }

    /// Forgets a key's failure count after a successful sync.
    pub fn forget(&mut self, key: &str) {
        self.failures.remove(key);
    }

    pub fn failures(&self, key: &str) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// The earliest delayed item's due time.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Moves delayed items that are due into the ready queue.
    pub fn promote(&mut self, now: Instant) {
        while let Some(Reverse((at, _, _))) = self.delayed.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, _, key))) = self.delayed.pop() {
                self.add(key);
            }
        }
    }

    /// Takes the next ready key.
    pub fn pop(&mut self) -> Option<String> {
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }

    pub fn len(&self) -> usize {
        self.ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deduplicated_and_fifo() {
        let mut q = WorkQueue::new();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop().as_deref(), Some("a"));
        q.add("a");
        assert_eq!(q.pop().as_deref(), Some("b"));
        assert_eq!(q.pop().as_deref(), Some("a"));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn delayed_items_become_ready_in_order() {
        let mut q = WorkQueue::new();
        let t0 = Instant::now();
        q.add_at("late", t0 + Duration::from_secs(2));
        q.add_at("early", t0 + Duration::from_secs(1));
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(1)));
        q.promote(t0);
        assert!(q.is_empty());
        q.promote(t0 + Duration::from_secs(1));
        assert_eq!(q.pop().as_deref(), Some("early"));
        q.promote(t0 + Duration::from_secs(5));
        assert_eq!(q.pop().as_deref(), Some("late"));
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff::default();
        let cases = [(0, 5), (1, 10), (2, 20), (10, 5120), (40, 30_000)];
        for (n, ms) in cases {
            assert_eq!(b.delay(n), Duration::from_millis(ms), "failures {n}");
        }
        let mut q = WorkQueue::new();
        q.add_rate_limited("k");
        q.add_rate_limited("k");
        assert_eq!(q.failures("k"), 2);
        q.forget("k");
        assert_eq!(q.failures("k"), 0);
    }
}
