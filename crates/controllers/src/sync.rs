//! The bookkeeping around a workload controller's sync, shared by the
//! ReplicaSet, Deployment, DaemonSet, StatefulSet and Job controllers: what
//! a sync's API calls report back ([`Done`]), and how that report updates
//! the controller's [`Expectations`] and [`WorkQueue`] (client-go's
//! `handleErr` plus the expectation corrections of the real controllers).
//! Pure: no I/O, no clock.

use crate::actions::Created;
use crate::expectations::Expectations;
use crate::informer::Change;
use crate::queue::WorkQueue;
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// What the background work of one sync reports to the controller loop.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Done {
    /// Pod creations that were not made: their watch events will never
    /// come, so they are no longer expected.
    pub skipped_creates: usize,
    /// Keys (`ns/name`) of pods whose delete failed: they are no longer
    /// expected to go.
    pub failed_deletes: Vec<String>,
    /// The first error of the sync; the key is retried with backoff.
    pub error: Option<String>,
    /// Sync the key again after this long (e.g. when a pod becomes
    /// available or a deadline passes), error or not.
    pub requeue_after: Option<Duration>,
}

impl Done {
    /// A report with nothing failed yet that asks to come back after
    /// `requeue_after`.
    pub fn new(requeue_after: Option<Duration>) -> Done {
        Done {
            requeue_after,
            ..Done::default()
        }
    }

    /// Records an error; the first one is kept (it is the one users see,
    /// e.g. in a ReplicaSet's `ReplicaFailure` condition).
    pub fn fail(&mut self, why: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(why.into());
        }
    }

    /// Records `why` as an error when `failed`.
    pub fn fail_if(&mut self, failed: bool, why: &str) {
        if failed {
            self.fail(why);
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Records the outcome of [`crate::actions::create_pods`].
    pub fn created(&mut self, created: Created) {
        self.skipped_creates = created.skipped;
        if let Some(e) = created.error {
            self.fail(e);
        }
    }

    /// Records the result of a status patch: an object deleted meanwhile
    /// (404) is no error.
    pub fn status_patched(&mut self, result: &Result<(), kube::Error>) {
        if let Err(e) = result {
            self.fail_if(!util::is_not_found(e), &e.to_string());
        }
    }

    /// Records the keys of pods whose delete failed.
    pub fn deleted(&mut self, failed: Vec<String>) {
        self.fail_if(!failed.is_empty(), "failed to delete pods");
        self.failed_deletes = failed;
    }

    /// Corrects `key`'s expectations for what the sync did not do, so that
    /// the controller does not wait for watch events that will never come.
    pub fn settle(&self, key: &str, expectations: &mut Expectations) {
        if self.skipped_creates > 0 {
            expectations.lower_creations(key, self.skipped_creates);
        }
        for pod_key in &self.failed_deletes {
            expectations.deletion_observed(key, pod_key);
        }
    }

    /// Re-queues `key`: with backoff after an error, else forgetting its
    /// failures; and again after `requeue_after`.
    pub fn requeue(&self, key: &str, q: &mut WorkQueue) {
        retry_or_forget(q, key, !self.failed());
        if let Some(d) = self.requeue_after {
            q.add_after(key, d);
        }
    }

    /// [`Done::settle`] then [`Done::requeue`]: all a controller with
    /// expectations does when a sync's work finishes.
    pub fn finish(&self, key: &str, expectations: &mut Expectations, q: &mut WorkQueue) {
        self.settle(key, expectations);
        self.requeue(key, q);
    }
}

/// The work of a sync that has no API calls to make: none, or only a
/// reminder to sync again after `requeue_after`.
pub fn later(requeue_after: Option<Duration>) -> Option<BoxFuture<'static, Done>> {
    requeue_after
        .map(|d| -> BoxFuture<'static, Done> { Box::pin(async move { Done::new(Some(d)) }) })
}

/// client-go's `handleErr`: a failed key is retried with backoff, a
/// succeeded key's failure count is forgotten.
pub fn retry_or_forget(q: &mut WorkQueue, key: &str, ok: bool) {
    if ok {
        q.forget(key);
    } else {
        q.add_rate_limited(key);
    }
}

/// An owner (ReplicaSet, Job, ...) changed: it is synced; once it is
/// deleted its expectations are forgotten instead. Returns the key of a
/// deleted owner.
pub fn owner_changed<K: kube::Resource>(
    expectations: &mut Expectations,
    q: &mut WorkQueue,
    change: &Change<K>,
) -> Option<String> {
    let key = util::meta_key(change.object().meta());
    if matches!(change, Change::Deleted(_)) {
        expectations.delete(&key);
        Some(key)
    } else {
        q.add(key);
        None
    }
}

/// Counts a watch event of a pod controlled by `owner_key` against that
/// owner's expectations: a new live pod is an observed creation; a pod
/// that is gone, or newly terminating, is an observed deletion.
pub fn observe_pod(expectations: &mut Expectations, owner_key: &str, change: &Change<Pod>) {
    let pod_key = || util::meta_key(&change.object().metadata);
    match change {
        Change::Added(p) if !util::is_deleting(&p.metadata) => {
            expectations.creation_observed(owner_key)
        }
        Change::Added(_) | Change::Deleted(_) => {
            expectations.deletion_observed(owner_key, &pod_key())
        }
        Change::Updated { old, new }
            if util::is_deleting(&new.metadata) && !util::is_deleting(&old.metadata) =>
        {
            expectations.deletion_observed(owner_key, &pod_key())
        }
        Change::Updated { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn pod(name: &str, deleting: bool) -> Arc<Pod> {
        let mut v = serde_json::json!({"metadata": {"name": name, "namespace": "ns"}});
        if deleting {
            v["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z".into();
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn finish_corrects_expectations_and_requeues() {
        struct Case {
            name: &'static str,
            done: Done,
            /// Adds and deletes still expected afterwards.
            pending: (i64, usize),
            /// The key's failure count afterwards (it had failed once).
            failures: u32,
            /// Whether the key comes back by itself (backoff or requeue_after).
            scheduled: bool,
        }
        let cases = [
            Case {
                name: "all done",
                done: Done::default(),
                pending: (3, 2),
                failures: 0,
                scheduled: false,
            },
            Case {
                name: "skipped creates and failed deletes are no longer expected",
                done: Done {
                    skipped_creates: 2,
                    failed_deletes: vec!["ns/a".into()],
                    error: Some("quota".into()),
                    requeue_after: None,
                },
                pending: (1, 1),
                failures: 2,
                scheduled: true,
            },
            Case {
                name: "an unknown failed delete changes nothing",
                done: Done {
                    failed_deletes: vec!["ns/other".into()],
                    ..Done::default()
                },
                pending: (3, 2),
                failures: 0,
                scheduled: false,
            },
            Case {
                name: "requeue after success",
                done: Done::new(Some(Duration::from_secs(5))),
                pending: (3, 2),
                failures: 0,
                scheduled: true,
            },
        ];
        for c in cases {
            let mut e = Expectations::new();
            e.expect("ns/rs", 3, ["ns/a".into(), "ns/b".into()], Instant::now());
            let mut q = WorkQueue::new();
            // An earlier failure: success forgets it, another failure adds to it.
            q.add_rate_limited("ns/rs");
            q.promote(Instant::now() + Duration::from_secs(60));
            assert_eq!(q.pop().as_deref(), Some("ns/rs"));
            c.done.finish("ns/rs", &mut e, &mut q);
            assert_eq!(e.pending("ns/rs"), c.pending, "{}", c.name);
            assert_eq!(q.failures("ns/rs"), c.failures, "{}", c.name);
            assert_eq!(q.next_deadline().is_some(), c.scheduled, "{}", c.name);
            assert!(q.is_empty(), "{}: nothing is queued at once", c.name);
        }
    }

    #[test]
    fn requeue_after_comes_back_when_due() {
        let mut q = WorkQueue::new();
        Done::new(Some(Duration::from_secs(5))).requeue("ns/x", &mut q);
        q.promote(Instant::now());
        assert!(q.is_empty(), "not before it is due");
        q.promote(Instant::now() + Duration::from_secs(6));
        assert_eq!(q.pop().as_deref(), Some("ns/x"));
    }

    #[test]
    fn the_first_error_is_kept() {
        let mut d = Done::default();
        assert!(!d.failed());
        d.fail_if(false, "not this");
        assert!(!d.failed());
        d.created(Created {
            names: vec!["p1".into()],
            skipped: 3,
            error: Some("exceeded quota".into()),
        });
        d.deleted(vec!["ns/p".into()]);
        d.fail("later");
        assert_eq!(d.skipped_creates, 3);
        assert_eq!(d.failed_deletes, vec!["ns/p".to_string()]);
        assert_eq!(d.error.as_deref(), Some("exceeded quota"));

        let mut d = Done::default();
        d.created(Created {
            names: vec![],
            // A terminating namespace: skipped, but not an error.
            skipped: 2,
            error: None,
        });
        d.deleted(vec![]);
        assert!(!d.failed());
        d.deleted(vec!["ns/p".into()]);
        assert_eq!(d.error.as_deref(), Some("failed to delete pods"));
    }

    #[test]
    fn a_status_patch_of_a_deleted_object_is_no_error() {
        let api = |code: u16| -> Result<(), kube::Error> {
            Err(kube::Error::Api(Box::new(
                kube::core::Status::failure("boom", "Reason").with_code(code),
            )))
        };
        let cases = [
            (Ok(()), false),
            (api(404), false),
            (api(500), true),
            (api(409), true),
        ];
        for (result, failed) in cases {
            let mut d = Done::default();
            d.status_patched(&result);
            assert_eq!(d.failed(), failed, "{result:?}");
        }
    }

    #[test]
    fn a_deleted_owner_is_forgotten_others_are_synced() {
        let rs = |name: &str| -> Arc<Pod> { pod(name, false) };
        let mut e = Expectations::new();
        let mut q = WorkQueue::new();
        e.expect("ns/a", 1, [], Instant::now());
        assert_eq!(owner_changed(&mut e, &mut q, &Change::Added(rs("a"))), None);
        assert_eq!(q.pop().as_deref(), Some("ns/a"));
        assert_eq!(e.pending("ns/a"), (1, 0), "kept while the owner lives");
        assert_eq!(
            owner_changed(&mut e, &mut q, &Change::Deleted(rs("a"))),
            Some("ns/a".to_string())
        );
        assert!(q.is_empty(), "a deleted owner is not synced");
        assert_eq!(e.pending("ns/a"), (0, 0));
    }

    #[tokio::test]
    async fn later_only_when_there_is_a_time() {
        assert!(later(None).is_none());
        let work = later(Some(Duration::from_secs(2))).unwrap();
        assert_eq!(work.await, Done::new(Some(Duration::from_secs(2))));
    }

    #[test]
    fn pod_events_count_against_expectations() {
        let live = pod("a", false);
        let gone = pod("a", true);
        // (change, adds left, deletes left) from 1 add and 1 delete of ns/a.
        let cases: Vec<(&str, Change<Pod>, (i64, usize))> = vec![
            ("created", Change::Added(live.clone()), (0, 1)),
            ("added terminating", Change::Added(gone.clone()), (1, 0)),
            ("deleted", Change::Deleted(live.clone()), (1, 0)),
            (
                "starts terminating",
                Change::Updated {
                    old: live.clone(),
                    new: gone.clone(),
                },
                (1, 0),
            ),
            (
                "still terminating",
                Change::Updated {
                    old: gone.clone(),
                    new: gone.clone(),
                },
                (1, 1),
            ),
            (
                "plain update",
                Change::Updated {
                    old: live.clone(),
                    new: live.clone(),
                },
                (1, 1),
            ),
        ];
        for (name, change, want) in cases {
            let mut e = Expectations::new();
            e.expect("ns/rs", 1, ["ns/a".into()], Instant::now());
            observe_pod(&mut e, "ns/rs", &change);
            assert_eq!(e.pending("ns/rs"), want, "{name}");
        }
    }
}
