//! One watch on the run's pods (by the run label), recording for every pod
//! its startup times and current state, from which the runner counts pods
//! Running, scheduled and gone per group, and PodStartupLatency is computed.

use crate::measure::pod_startup::{PodLite, PodTimes};
use crate::objects::RUN_LABEL;
use crate::stats::now_unix;
use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Default)]
struct Record {
    group: String,
    times: PodTimes,
    scheduled: bool,
    running: bool,
    terminating: bool,
    gone: bool,
}

#[derive(Default)]
struct State {
    pods: HashMap<String, Record>,
    /// Keys listed since the last (re)list started.
    relisting: Option<HashSet<String>>,
    synced: bool,
    last_error: Option<String>,
}

/// Pod counts of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Pods that exist (not deleted), terminating or not.
    pub present: usize,
    /// Running and not terminating.
    pub running: usize,
    /// Pods ever bound to a node (never decreases).
    pub scheduled_total: usize,
}

pub struct PodTracker {
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn key_of(p: &PodLite) -> String {
    match &p.metadata.uid {
        Some(uid) if !uid.is_empty() => uid.clone(),
        _ => p.key(),
    }
}

fn apply(state: &mut State, pod: &PodLite, now: f64) {
    let key = key_of(pod);
    if let Some(seen) = state.relisting.as_mut() {
        seen.insert(key.clone());
    }
    let r = state.pods.entry(key).or_default();
    if r.group.is_empty() {
        r.group = pod.label("group").unwrap_or("").to_string();
    }
    // Without a PodScheduled condition, the schedule time is when the
    // watch first saw the pod bound.
    r.times.observe(pod, Some(now), now);
    r.scheduled |= pod.is_scheduled();
    r.running = pod.is_running();
    r.terminating = pod.is_terminating();
    r.gone = false;
}

impl PodTracker {
    /// Starts watching the pods labelled with `run_id`.
    pub fn start(client: kube::Client, run_id: &str) -> PodTracker {
        let state = Arc::new(Mutex::new(State::default()));
        let api: kube::Api<PodLite> = kube::Api::all(client);
        let cfg = watcher::Config::default().labels(&format!("{RUN_LABEL}={run_id}"));
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut stream = watcher::watcher(api, cfg).boxed();
            while let Some(ev) = stream.next().await {
                let now = now_unix();
                let mut s = st.lock();
                match ev {
                    Ok(Event::Init) => s.relisting = Some(HashSet::new()),
                    Ok(Event::InitApply(p)) | Ok(Event::Apply(p)) => apply(&mut s, &p, now),
                    Ok(Event::Delete(p)) => {
                        if let Some(r) = s.pods.get_mut(&key_of(&p)) {
                            r.gone = true;
                            r.running = false;
                        }
                    }
                    Ok(Event::InitDone) => {
                        // Pods not listed again were deleted while the
                        // watch was down.
                        if let Some(seen) = s.relisting.take() {
                            for (k, r) in s.pods.iter_mut() {
                                if !seen.contains(k) {
                                    r.gone = true;
                                    r.running = false;
                                }
                            }
                        }
                        s.synced = true;
                    }
                    Err(e) => {
                        // The watcher retries by itself; keep the reason.
                        s.last_error = Some(e.to_string());
                    }
                }
            }
        });
        PodTracker { state, task }
    }

    /// Whether the first list completed.
    pub fn synced(&self) -> bool {
        self.state.lock().synced
    }

    pub fn last_error(&self) -> Option<String> {
        self.state.lock().last_error.clone()
    }

    pub fn counts(&self, group: &str) -> GroupCounts {
        let s = self.state.lock();
        let mut c = GroupCounts::default();
        for r in s.pods.values().filter(|r| r.group == group) {
            if !r.gone {
                c.present += 1;
                if r.running && !r.terminating {
                    c.running += 1;
                }
            }
            if r.scheduled {
                c.scheduled_total += 1;
            }
        }
        c
    }

    /// Startup times of every pod of `group` seen so far.
    pub fn times(&self, group: &str) -> Vec<PodTimes> {
        self.state
            .lock()
            .pods
            .values()
            .filter(|r| r.group == group)
            .map(|r| r.times.clone())
            .collect()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for PodTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(uid: &str, group: &str, phase: &str, node: Option<&str>, deleting: bool) -> PodLite {
        let mut v = json!({
            "metadata": {"name": uid, "namespace": "ns", "uid": uid, "labels": {"group": group},
                          "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": phase},
        });
        if let Some(n) = node {
            v["spec"] = json!({"nodeName": n});
        }
        if deleting {
            v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:01:00Z");
        }
        serde_json::from_value(v).unwrap()
    }

    fn counts(s: &State, group: &str) -> GroupCounts {
        let t = PodTracker {
            state: Arc::new(Mutex::new(State::default())),
            task: tokio::spawn(async {}),
        };
        {
            let mut g = t.state.lock();
            g.pods = s.pods.clone();
        }
        let c = t.counts(group);
        t.stop();
        c
    }

    #[tokio::test]
    async fn state_machine() {
        let mut s = State::default();
        apply(&mut s, &pod("a", "load", "Pending", None, false), 1.0);
        apply(&mut s, &pod("b", "load", "Pending", Some("n1"), false), 1.0);
        apply(
            &mut s,
            &pod("c", "latency", "Running", Some("n1"), false),
            2.0,
        );
        assert_eq!(
            counts(&s, "load"),
            GroupCounts {
                present: 2,
                running: 0,
                scheduled_total: 1
            }
        );
        apply(&mut s, &pod("b", "load", "Running", Some("n1"), false), 3.0);
        assert_eq!(counts(&s, "load").running, 1);
        assert_eq!(
            s.pods["b"].times.scheduled,
            Some(1.0),
            "bound when first seen with a node"
        );
        assert_eq!(s.pods["b"].times.watch, Some(3.0));
        apply(&mut s, &pod("b", "load", "Running", Some("n1"), true), 4.0);
        assert_eq!(
            counts(&s, "load"),
            GroupCounts {
                present: 2,
                running: 0,
                scheduled_total: 1
            }
        );
        // A relist that misses "a" marks it gone.
        s.relisting = Some(HashSet::new());
        apply(&mut s, &pod("b", "load", "Running", Some("n1"), true), 5.0);
        apply(
            &mut s,
            &pod("c", "latency", "Running", Some("n1"), false),
            5.0,
        );
        let seen = s.relisting.take().unwrap();
        for (k, r) in s.pods.iter_mut() {
            if !seen.contains(k) {
                r.gone = true;
            }
        }
        assert_eq!(
            counts(&s, "load"),
            GroupCounts {
                present: 1,
                running: 0,
                scheduled_total: 1
            }
        );
        assert_eq!(
            counts(&s, "latency"),
            GroupCounts {
                present: 1,
                running: 1,
                scheduled_total: 1
            }
        );
    }
}
