//! The hollow node problem detector, pure: the conditions NPD's kernel
//! monitor maintains on its node (healthy by default), problems injected
//! through the `kubemark.io/inject-problem` Node annotation or a library
//! call, the `nodes/status` patch and the Events NPD would post.

use crate::pod_status::rfc3339;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Node annotation: comma-separated problems to inject, e.g.
/// `KernelDeadlock` or `ReadonlyFilesystem,OOMKilling`.
pub const ANNOTATION_INJECT_PROBLEM: &str = "kubemark.io/inject-problem";

/// A permanent problem NPD reports as a node condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionProblem {
    pub condition: &'static str,
    pub healthy_reason: &'static str,
    pub healthy_message: &'static str,
    pub problem_reason: &'static str,
    pub problem_message: &'static str,
}

/// NPD's kernel-monitor conditions.
pub const CONDITIONS: &[ConditionProblem] = &[
    ConditionProblem {
        condition: "KernelDeadlock",
        healthy_reason: "KernelHasNoDeadlock",
        healthy_message: "kernel has no deadlock",
        problem_reason: "DockerHung",
        problem_message: "kernel: INFO: task docker:20744 blocked for more than 120 seconds.",
    },
    ConditionProblem {
        condition: "ReadonlyFilesystem",
        healthy_reason: "FilesystemIsNotReadOnly",
        healthy_message: "Filesystem is not read-only",
        problem_reason: "FilesystemIsReadOnly",
        problem_message: "Remounting filesystem read-only",
    },
];

/// Temporary problems NPD only reports as Events: (reason, message).
pub const TEMPORARY: &[(&str, &str)] = &[
    (
        "OOMKilling",
        "Killed process 1234 (stress) total-vm:1048576kB, anon-rss:1000000kB, file-rss:0kB",
    ),
    (
        "TaskHung",
        "task stress:1234 blocked for more than 120 seconds.",
    ),
    (
        "KernelOops",
        "BUG: unable to handle kernel NULL pointer dereference at 0000000000000000",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown node problem {0:?}: known are KernelDeadlock, ReadonlyFilesystem (conditions) and OOMKilling, TaskHung, KernelOops (events)")]
pub struct UnknownProblem(pub String);

/// Checks a problem name; conditions by condition type or problem reason.
pub fn canonical_problem(name: &str) -> Result<&'static str, UnknownProblem> {
    let n = name.trim();
    CONDITIONS
        .iter()
        .find(|c| c.condition.eq_ignore_ascii_case(n) || c.problem_reason.eq_ignore_ascii_case(n))
        .map(|c| c.condition)
        .or_else(|| {
            TEMPORARY
                .iter()
                .find(|(r, _)| r.eq_ignore_ascii_case(n))
                .map(|(r, _)| *r)
        })
        .ok_or_else(|| UnknownProblem(n.to_string()))
}

/// The problems an annotation value names, and the names it did not know.
pub fn parse_injection(value: &str) -> (BTreeSet<&'static str>, Vec<String>) {
    let mut set = BTreeSet::new();
    let mut unknown = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match canonical_problem(part) {
            Ok(p) => {
                set.insert(p);
            }
            Err(e) => unknown.push(e.0),
        }
    }
    (set, unknown)
}

/// What NPD last reported and what is active now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpdState {
    /// From the node annotation.
    pub annotated: BTreeSet<&'static str>,
    /// From library calls.
    pub injected: BTreeSet<&'static str>,
    /// Condition problems in the last successful patch (`None`: never).
    pub reported: Option<BTreeSet<&'static str>>,
    /// Temporary problems already posted as Events for the current
    /// injection (cleared when the injection goes away, so re-injecting
    /// posts again).
    pub evented: BTreeSet<&'static str>,
    /// Transition times per condition (wall seconds).
    pub transitions: Vec<(&'static str, i64)>,
}

impl NpdState {
    pub fn active(&self) -> BTreeSet<&'static str> {
        self.annotated.union(&self.injected).copied().collect()
    }

    fn active_conditions(&self) -> BTreeSet<&'static str> {
        self.active()
            .into_iter()
            .filter(|p| CONDITIONS.iter().any(|c| c.condition == *p))
            .collect()
    }

    /// A condition patch is due (a change since the last report).
    pub fn needs_update(&self) -> bool {
        self.reported.as_ref() != Some(&self.active_conditions())
    }

    /// Problems that became active and have no Event yet.
    pub fn new_events(&self) -> Vec<&'static str> {
        self.active()
            .into_iter()
            .filter(|p| !self.evented.contains(p))
            .collect()
    }

    /// Forget events of problems no longer active.
    pub fn prune_events(&mut self) {
        let active = self.active();
        self.evented.retain(|p| active.contains(p));
    }

    /// The `nodes/status` patch with NPD's conditions at `now`; records
    /// transition times. Call [`NpdState::mark_reported`] once it is sent.
    pub fn conditions_patch(&mut self, now: i64) -> Value {
        let active = self.active_conditions();
        let prev = self.reported.clone().unwrap_or_default();
        let first = self.reported.is_none();
        let conds: Vec<Value> = CONDITIONS
            .iter()
            .map(|c| {
                let on = active.contains(c.condition);
                let flipped = first || prev.contains(c.condition) != on;
                let transition = match self.transitions.iter_mut().find(|(k, _)| *k == c.condition)
                {
                    Some((_, t)) => {
                        if flipped {
                            *t = now;
                        }
                        *t
                    }
                    None => {
                        self.transitions.push((c.condition, now));
                        now
                    }
                };
                json!({
                    "lastHeartbeatTime": rfc3339(now),
                    "lastTransitionTime": rfc3339(transition),
                    "message": if on { c.problem_message } else { c.healthy_message },
                    "reason": if on { c.problem_reason } else { c.healthy_reason },
                    "status": if on { "True" } else { "False" },
                    "type": c.condition,
                })
            })
            .collect();
        json!({"status": {"conditions": conds}})
    }

    pub fn mark_reported(&mut self) {
        self.reported = Some(self.active_conditions());
    }
}

/// The Event NPD posts for `problem` on node `node` (namespace `default`,
/// source `kernel-monitor`, as NPD's k8s exporter does).
pub fn problem_event(node: &str, problem: &str, now: i64, suffix: &str) -> Value {
    let (reason, message) = CONDITIONS
        .iter()
        .find(|c| c.condition == problem)
        .map(|c| (c.problem_reason, c.problem_message))
        .or_else(|| TEMPORARY.iter().find(|(r, _)| *r == problem).copied())
        .unwrap_or((problem, problem));
    let t = rfc3339(now);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{node}.{suffix}"), "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": node, "uid": node},
        "reason": reason,
        "message": message,
        "source": {"component": "kernel-monitor", "host": node},
        "firstTimestamp": t,
        "lastTimestamp": t,
        "count": 1,
        "type": "Warning",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_injections() {
        let (set, unknown) = parse_injection("KernelDeadlock, dockerhung ,OOMKilling,Gremlins");
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            vec!["KernelDeadlock", "OOMKilling"]
        );
        assert_eq!(unknown, vec!["Gremlins".to_string()]);
        assert!(parse_injection("").0.is_empty());
        assert!(canonical_problem("nope")
            .unwrap_err()
            .to_string()
            .contains("KernelDeadlock"));
    }

    #[test]
    fn healthy_first_then_problem_then_healthy() {
        let mut s = NpdState::default();
        assert!(s.needs_update(), "the first report is due at start");
        let p = s.conditions_patch(100);
        let conds = p["status"]["conditions"].as_array().unwrap();
        assert_eq!(conds[0]["type"], "KernelDeadlock");
        assert_eq!(conds[0]["status"], "False");
        assert_eq!(conds[0]["reason"], "KernelHasNoDeadlock");
        assert_eq!(conds[1]["reason"], "FilesystemIsNotReadOnly");
        s.mark_reported();
        assert!(!s.needs_update());

        s.annotated = parse_injection("KernelDeadlock").0;
        assert!(s.needs_update());
        assert_eq!(s.new_events(), vec!["KernelDeadlock"]);
        s.evented.insert("KernelDeadlock");
        let p = s.conditions_patch(200);
        let kd = &p["status"]["conditions"][0];
        assert_eq!(kd["status"], "True");
        assert_eq!(kd["reason"], "DockerHung");
        assert_eq!(kd["lastTransitionTime"], rfc3339(200));
        assert_eq!(
            p["status"]["conditions"][1]["lastTransitionTime"],
            rfc3339(100)
        );
        s.mark_reported();

        // Library injection of an event-only problem changes no condition.
        s.injected.insert("OOMKilling");
        assert!(!s.needs_update());
        assert_eq!(s.new_events(), vec!["OOMKilling"]);

        s.annotated.clear();
        s.injected.clear();
        s.prune_events();
        assert!(s.evented.is_empty());
        assert!(s.needs_update());
        let p = s.conditions_patch(300);
        assert_eq!(p["status"]["conditions"][0]["status"], "False");
        assert_eq!(
            p["status"]["conditions"][0]["lastTransitionTime"],
            rfc3339(300)
        );
    }

    #[test]
    fn events_name_the_problem() {
        let e = problem_event("n1", "KernelDeadlock", 0, "abc");
        assert_eq!(e["reason"], "DockerHung");
        assert_eq!(e["involvedObject"]["name"], "n1");
        assert_eq!(e["type"], "Warning");
        assert_eq!(e["metadata"]["name"], "n1.abc");
        let t = problem_event("n1", "OOMKilling", 0, "x");
        assert_eq!(t["reason"], "OOMKilling");
    }
}
