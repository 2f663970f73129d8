//! The pod status a hollow kubelet reports for a pod state, and the
//! strategic-merge patch that brings the server's copy there (or nothing,
//! when the server already has it, as the real status manager skips empty
//! patches). Shapes follow the Go kubemark's pods (see
//! `tests/reference/pod-run-by-go-kubemark.json`).

use crate::pod_spec::{ContainerFacts, PodFacts, RestartPolicy};
use crate::pod_state::{Exit, Lifecycle, PodState};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::Ipv4Addr;

/// Node-side facts the status needs.
#[derive(Debug, Clone, Copy)]
pub struct StatusCtx<'a> {
    pub host_ip: &'a str,
    pub pod_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Waiting {
        reason: &'static str,
        message: Option<String>,
    },
    Running {
        started: i64,
    },
    Terminated(Exit),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    pub name: Box<str>,
    pub image: Box<str>,
    pub ready: bool,
    pub started: bool,
    pub restart_count: u32,
    pub state: ContainerState,
    pub last: Option<Exit>,
    /// Which run this is, for the container ID.
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub kind: &'static str,
    pub status: bool,
    pub reason: Option<&'static str>,
    pub message: Option<String>,
}

/// Everything the kubelet owns in `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredStatus {
    pub phase: &'static str,
    pub conditions: Vec<Condition>,
    pub init_containers: Vec<ContainerStatus>,
    pub containers: Vec<ContainerStatus>,
    pub host_ip: String,
    pub pod_ip: Option<String>,
    pub start_time: i64,
    pub qos_class: &'static str,
}

/// The kubelet's `getPhase`: Pending until the containers ran; Running
/// while they run or restart; Succeeded/Failed once they stopped for good.
fn phase(facts: &PodFacts, life: &Lifecycle) -> &'static str {
    let done = |e: &Exit| if e.code == 0 { "Succeeded" } else { "Failed" };
    match life {
        Lifecycle::Creating { .. } | Lifecycle::Terminating { killed: None, .. } => "Pending",
        Lifecycle::Running { .. } | Lifecycle::BackOff { .. } | Lifecycle::Gone => "Running",
        Lifecycle::Completed { last } => done(last),
        Lifecycle::Terminating {
            killed: Some(e), ..
        } => match facts.restart_policy {
            // All containers "restarting": the kubelet says Running.
            RestartPolicy::Always => "Running",
            RestartPolicy::Never => done(e),
            RestartPolicy::OnFailure if e.code == 0 => "Succeeded",
            RestartPolicy::OnFailure => "Running",
        },
    }
}

fn names(cs: &[ContainerFacts]) -> String {
    let list: Vec<&str> = cs.iter().map(|c| &*c.name).collect();
    format!("[{}]", list.join(" "))
}

fn terminated(code: i32) -> &'static str {
    if code == 0 {
        "Completed"
    } else {
        "Error"
    }
}

/// The status the kubelet reports for `state`.
pub fn desired(facts: &PodFacts, state: &PodState, ctx: StatusCtx<'_>) -> DesiredStatus {
    let has_init = !facts.init_containers.is_empty();
    let never_ready = facts.behaviour.never_ready;
    let (app_state, started, ready, init_done): (ContainerState, bool, bool, bool) =
        match state.life {
            Lifecycle::Creating { .. } => (
                ContainerState::Waiting {
                    reason: if has_init {
                        "PodInitializing"
                    } else {
                        "ContainerCreating"
                    },
                    message: None,
                },
                false,
                false,
                false,
            ),
            Lifecycle::Running { started, .. } => (
                ContainerState::Running { started },
                true,
                !never_ready,
                true,
            ),
            Lifecycle::BackOff { last, .. } => (
                ContainerState::Waiting {
                    reason: "CrashLoopBackOff",
                    message: Some(String::new()),
                },
                false,
                false,
                last.started > 0,
            ),
            Lifecycle::Completed { last } => (ContainerState::Terminated(last), false, false, true),
            Lifecycle::Terminating {
                killed: Some(e), ..
            } => (ContainerState::Terminated(e), false, false, true),
            Lifecycle::Terminating { killed: None, .. } | Lifecycle::Gone => (
                ContainerState::Waiting {
                    reason: "ContainerCreating",
                    message: None,
                },
                false,
                false,
                false,
            ),
        };
    // The previous run: after a restart, or while waiting for one.
    let last_state = match state.life {
        Lifecycle::Running { .. } if state.restarts > 0 => state.last_exit,
        Lifecycle::BackOff { last, .. } => Some(last),
        _ => None,
    };
    let containers: Vec<ContainerStatus> = facts
        .containers
        .iter()
        .map(|c| {
            let cstate = match &app_state {
                ContainerState::Waiting {
                    reason: "CrashLoopBackOff",
                    ..
                } => ContainerState::Waiting {
                    reason: "CrashLoopBackOff",
                    message: Some(format!(
                        "back-off {}s restarting failed container={} pod={}_{}({})",
                        crate::pod_state::restart_backoff(state.restarts).as_secs(),
                        c.name,
                        facts.name,
                        facts.namespace,
                        facts.uid
                    )),
                },
                other => other.clone(),
            };
            ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone(),
                ready,
                started,
                restart_count: state.restarts,
                state: cstate,
                last: last_state,
                attempt: state.restarts,
            }
        })
        .collect();
    let init_start = match state.life {
        Lifecycle::Running { started, .. } => started,
        _ => state.start_time,
    };
    let init_containers: Vec<ContainerStatus> = facts
        .init_containers
        .iter()
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone(),
            ready: init_done,
            started: false,
            restart_count: 0,
            state: if init_done {
                ContainerState::Terminated(Exit {
                    code: 0,
                    started: state.start_time,
                    finished: init_start,
                })
            } else {
                ContainerState::Waiting {
                    reason: "PodInitializing",
                    message: None,
                }
            },
            last: None,
            attempt: 0,
        })
        .collect();
    let phase = phase(facts, &state.life);
    let completed = matches!(phase, "Succeeded" | "Failed");
    let not_ready = |what: &'static str| Condition {
        kind: what,
        status: false,
        reason: Some(if completed {
            "PodCompleted"
        } else {
            "ContainersNotReady"
        }),
        message: (!completed).then(|| {
            format!(
                "containers with unready status: {}",
                names(&facts.containers)
            )
        }),
    };
    let initialized = if init_done || !has_init {
        Condition {
            kind: "Initialized",
            status: true,
            reason: completed.then_some("PodCompleted"),
            message: None,
        }
    } else {
        Condition {
            kind: "Initialized",
            status: false,
            reason: Some("ContainersNotInitialized"),
            message: Some(format!(
                "containers with incomplete status: {}",
                names(&facts.init_containers)
            )),
        }
    };
    let ready_cond = |kind| {
        if ready {
            Condition {
                kind,
                status: true,
                reason: None,
                message: None,
            }
        } else {
            not_ready(kind)
        }
    };
    let conditions = vec![
        initialized,
        ready_cond("Ready"),
        ready_cond("ContainersReady"),
        Condition {
            kind: "PodScheduled",
            status: true,
            reason: None,
            message: None,
        },
    ];
    let show_ip = !matches!(state.life, Lifecycle::Creating { .. })
        && !matches!(state.life, Lifecycle::Terminating { killed: None, .. });
    DesiredStatus {
        phase,
        conditions,
        init_containers,
        containers,
        host_ip: ctx.host_ip.to_string(),
        pod_ip: if facts.host_network {
            show_ip.then(|| ctx.host_ip.to_string())
        } else {
            ctx.pod_ip.filter(|_| show_ip).map(|ip| ip.to_string())
        },
        start_time: state.start_time,
        qos_class: facts.qos.as_str(),
    }
}

/// RFC 3339 with seconds, as the API shows `metav1.Time`.
pub fn rfc3339(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The server's copy of what we own, for comparison (unknown fields are
/// skipped while parsing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServerPod {
    pub metadata: ServerPodMeta,
    pub status: ServerStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServerPodMeta {
    pub uid: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServerStatus {
    pub phase: Option<String>,
    pub conditions: Option<Vec<ConditionView>>,
    pub container_statuses: Option<Vec<Value>>,
    pub init_container_statuses: Option<Vec<Value>>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    pub start_time: Option<String>,
    pub qos_class: Option<String>,
}

/// A condition as the server holds it, on a Pod or a Node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

fn container_json(pod: &PodFacts, c: &ContainerStatus) -> Value {
    let state_json = |s: &ContainerState| match s {
        ContainerState::Waiting { reason, message } => {
            let mut w = Map::new();
            if let Some(m) = message {
                w.insert("message".into(), json!(m));
            }
            w.insert("reason".into(), json!(reason));
            json!({"waiting": w})
        }
        ContainerState::Running { started } => json!({"running": {"startedAt": rfc3339(*started)}}),
        ContainerState::Terminated(e) => json!({"terminated": {
            "containerID": container_id(pod, c),
            "exitCode": e.code,
            "finishedAt": rfc3339(e.finished),
            "reason": terminated(e.code),
            "startedAt": rfc3339(e.started),
        }}),
    };
    // While waiting to restart, the previous run is the current attempt.
    let last_attempt = if matches!(c.state, ContainerState::Waiting { .. }) {
        c.attempt
    } else {
        c.attempt.saturating_sub(1)
    };
    let mut m = Map::new();
    let has_container = !matches!(c.state, ContainerState::Waiting { .. }) || c.last.is_some();
    if has_container {
        m.insert("containerID".into(), json!(container_id(pod, c)));
    }
    m.insert("image".into(), json!(&*c.image));
    m.insert(
        "imageID".into(),
        json!(if has_container { &*c.image } else { "" }),
    );
    m.insert(
        "lastState".into(),
        match &c.last {
            Some(e) => json!({"terminated": {
                "containerID": container_id_at(pod, &c.name, last_attempt),
                "exitCode": e.code,
                "finishedAt": rfc3339(e.finished),
                "reason": terminated(e.code),
                "startedAt": rfc3339(e.started),
            }}),
            None => json!({}),
        },
    );
    m.insert("name".into(), json!(&*c.name));
    m.insert("ready".into(), json!(c.ready));
    m.insert("restartCount".into(), json!(c.restart_count));
    m.insert("started".into(), json!(c.started));
    m.insert("state".into(), state_json(&c.state));
    Value::Object(m)
}

/// `fakeRuntime://<pod>_<namespace>_<uid>_0_<container>_<attempt>`, the Go
/// kubemark's container ID form.
pub fn container_id(pod: &PodFacts, c: &ContainerStatus) -> String {
    container_id_at(pod, &c.name, c.attempt)
}

fn container_id_at(pod: &PodFacts, container: &str, attempt: u32) -> String {
    format!(
        "fakeRuntime://{}_{}_{}_0_{container}_{attempt}",
        pod.name, pod.namespace, pod.uid
    )
}

/// A comparable summary of a container status JSON: name, ready,
/// restartCount and the state kind with its reason.
fn container_key(v: &Value) -> (String, bool, u64, String) {
    let state = v.get("state").and_then(Value::as_object);
    let kind = state
        .and_then(|s| s.keys().next().cloned())
        .unwrap_or_default();
    let reason = state
        .and_then(|s| s.values().next())
        .and_then(|s| s.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("");
    (
        v.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        v.get("ready").and_then(Value::as_bool).unwrap_or(false),
        v.get("restartCount").and_then(Value::as_u64).unwrap_or(0),
        format!("{kind}/{reason}"),
    )
}

/// The strategic-merge patch for `pods/status` that moves `server` to
/// `want`, or `None` when they already agree on everything we own.
/// Conditions keep the server's `lastTransitionTime` unless their status
/// changes, as the kubelet's status manager does.
pub fn patch(
    facts: &PodFacts,
    want: &DesiredStatus,
    server: &ServerStatus,
    now: i64,
) -> Option<Value> {
    let containers: Vec<Value> = want
        .containers
        .iter()
        .map(|c| container_json(facts, c))
        .collect();
    let inits: Vec<Value> = want
        .init_containers
        .iter()
        .map(|c| container_json(facts, c))
        .collect();
    let server_conds = server.conditions.as_deref().unwrap_or(&[]);
    let find = |kind: &str| server_conds.iter().find(|c| c.kind == kind);
    let cond_same = want.conditions.iter().all(|c| {
        find(c.kind).is_some_and(|s| {
            (s.status == "True") == c.status
                && s.reason.as_deref() == c.reason
                && s.message.as_deref() == c.message.as_deref()
        })
    });
    let keys = |vs: &[Value]| vs.iter().map(container_key).collect::<Vec<_>>();
    let same = server.phase.as_deref() == Some(want.phase)
        && server.host_ip.as_deref() == Some(want.host_ip.as_str())
        && server.pod_ip.as_deref() == want.pod_ip.as_deref()
        && server.start_time.is_some()
        && server.qos_class.as_deref() == Some(want.qos_class)
        && cond_same
        && keys(server.container_statuses.as_deref().unwrap_or(&[])) == keys(&containers)
        && keys(server.init_container_statuses.as_deref().unwrap_or(&[])) == keys(&inits);
    if same {
        return None;
    }
    let conditions: Vec<Value> = want
        .conditions
        .iter()
        .map(|c| {
            let transition = find(c.kind)
                .filter(|s| (s.status == "True") == c.status)
                .and_then(|s| s.last_transition_time.clone())
                .unwrap_or_else(|| rfc3339(now));
            let mut m = Map::new();
            m.insert("lastProbeTime".into(), Value::Null);
            m.insert("lastTransitionTime".into(), json!(transition));
            // null removes a reason or message the server still has.
            m.insert(
                "message".into(),
                c.message.as_ref().map_or(Value::Null, |v| json!(v)),
            );
            m.insert("reason".into(), c.reason.map_or(Value::Null, |v| json!(v)));
            m.insert(
                "status".into(),
                json!(if c.status { "True" } else { "False" }),
            );
            m.insert("type".into(), json!(c.kind));
            Value::Object(m)
        })
        .collect();
    let order: Vec<Value> = want
        .conditions
        .iter()
        .map(|c| json!({"type": c.kind}))
        .collect();
    let mut status = Map::new();
    status.insert("$setElementOrder/conditions".into(), Value::Array(order));
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("containerStatuses".into(), Value::Array(containers));
    status.insert("hostIP".into(), json!(want.host_ip));
    if !inits.is_empty() {
        status.insert("initContainerStatuses".into(), Value::Array(inits));
    }
    status.insert("phase".into(), json!(want.phase));
    if let Some(ip) = &want.pod_ip {
        status.insert("podIP".into(), json!(ip));
        status.insert("podIPs".into(), json!([{"ip": ip}]));
    }
    status.insert("qosClass".into(), json!(want.qos_class));
    status.insert(
        "startTime".into(),
        json!(server
            .start_time
            .clone()
            .unwrap_or_else(|| rfc3339(want.start_time))),
    );
    Some(json!({"metadata": {"uid": &*facts.uid}, "status": status}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_spec::{pod_facts, PodBehavior, PodView};
    use crate::pod_state::{TermStage, TokenState};
    use std::collections::BTreeSet;

    fn reference() -> Value {
        serde_json::from_str(include_str!(
            "../tests/reference/pod-run-by-go-kubemark.json"
        ))
        .unwrap()
    }

    fn facts_of(v: &Value) -> PodFacts {
        let view: PodView = serde_json::from_value(v.clone()).unwrap();
        pod_facts(&view, &PodBehavior::default()).0
    }

    fn state(life: Lifecycle) -> PodState {
        PodState {
            life,
            restarts: 0,
            last_exit: None,
            token: TokenState::NotNeeded,
            start_time: 1_700_000_000,
            dirty: false,
            in_flight: None,
            sync_retry_at: None,
            sync_failures: 0,
            ip_released: false,
        }
    }

    fn ctx() -> StatusCtx<'static> {
        StatusCtx {
            host_ip: "10.0.0.2",
            pod_ip: Some(Ipv4Addr::new(10, 64, 0, 2)),
        }
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn running_status_has_the_reference_shape() {
        let refpod = reference();
        let f = facts_of(&refpod);
        let s = state(Lifecycle::Running {
            started: 1_700_000_005,
            exit_at: None,
        });
        let want = desired(&f, &s, ctx());
        let p = patch(&f, &want, &ServerStatus::default(), 1_700_000_005).unwrap();
        let status = &p["status"];
        let ref_status = &refpod["status"];
        let mut ours = keys(status);
        ours.remove("$setElementOrder/conditions");
        assert_eq!(ours, keys(ref_status));
        let c = &status["containerStatuses"][0];
        let rc = &ref_status["containerStatuses"][0];
        let mut missing: Vec<_> = keys(rc).difference(&keys(c)).cloned().collect();
        missing.sort();
        assert!(missing.is_empty(), "missing container keys {missing:?}");
        assert_eq!(c["state"]["running"]["startedAt"], "2023-11-14T22:13:25Z");
        assert_eq!(c["ready"], true);
        assert_eq!(c["started"], true);
        assert_eq!(
            c["containerID"],
            format!("fakeRuntime://{}_default_{}_0_pause_0", f.name, f.uid)
        );
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["podIP"], "10.64.0.2");
        assert_eq!(status["podIPs"], json!([{"ip": "10.64.0.2"}]));
        assert_eq!(status["qosClass"], "BestEffort");
        let types: Vec<&str> = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["Initialized", "Ready", "ContainersReady", "PodScheduled"]
        );
        for (ours, theirs) in status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .zip(ref_status["conditions"].as_array().unwrap())
        {
            assert_eq!(ours["status"], theirs["status"]);
            assert_eq!(
                keys(theirs).difference(&keys(ours)).count(),
                0,
                "{ours} vs {theirs}"
            );
        }
        assert_eq!(p["metadata"]["uid"], json!(&*f.uid));
    }

    #[test]
    fn an_equal_server_status_needs_no_patch() {
        let refpod = reference();
        let f = facts_of(&refpod);
        let s = state(Lifecycle::Running {
            started: 1_700_000_005,
            exit_at: None,
        });
        let want = desired(&f, &s, ctx());
        let p = patch(&f, &want, &ServerStatus::default(), 1_700_000_005).unwrap();
        // The server applied it: the same desired status is now a no-op.
        let applied: ServerStatus = serde_json::from_value(p["status"].clone()).unwrap();
        assert!(patch(&f, &want, &applied, 1_700_000_100).is_none());
        // A change of readiness is not.
        let mut nr = f.clone();
        nr.behaviour.never_ready = true;
        let want2 = desired(&nr, &s, ctx());
        let p2 = patch(&nr, &want2, &applied, 1_700_000_100).unwrap();
        let ready = &p2["status"]["conditions"][1];
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ContainersNotReady");
        assert_eq!(ready["message"], "containers with unready status: [pause]");
        assert_eq!(ready["lastTransitionTime"], "2023-11-14T22:15:00Z");
        // Unchanged conditions keep their transition time.
        assert_eq!(
            p2["status"]["conditions"][0]["lastTransitionTime"],
            "2023-11-14T22:13:25Z"
        );
    }

    #[test]
    fn pending_status() {
        let f = facts_of(&reference());
        let s = state(Lifecycle::Creating { ready_at: 0 });
        let want = desired(&f, &s, ctx());
        assert_eq!(want.phase, "Pending");
        assert_eq!(want.pod_ip, None, "no IP before the sandbox runs");
        let p = patch(&f, &want, &ServerStatus::default(), 1_700_000_000).unwrap();
        let c = &p["status"]["containerStatuses"][0];
        assert_eq!(
            c["state"],
            json!({"waiting": {"reason": "ContainerCreating"}})
        );
        assert_eq!(c["imageID"], "");
        assert!(c.get("containerID").is_none());
        assert!(p["status"].get("podIP").is_none());
        assert_eq!(p["status"]["startTime"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn init_containers_complete_first() {
        let mut v = reference();
        v["spec"]["initContainers"] = json!([{"name": "setup", "image": "busybox"}]);
        let f = facts_of(&v);
        let pending = desired(&f, &state(Lifecycle::Creating { ready_at: 0 }), ctx());
        assert!(!pending.conditions[0].status);
        assert_eq!(
            pending.conditions[0].message.as_deref(),
            Some("containers with incomplete status: [setup]")
        );
        let running = desired(
            &f,
            &state(Lifecycle::Running {
                started: 1_700_000_009,
                exit_at: None,
            }),
            ctx(),
        );
        assert!(running.conditions[0].status);
        match &running.init_containers[0].state {
            ContainerState::Terminated(e) => {
                assert_eq!(e.code, 0);
                assert_eq!(e.finished, 1_700_000_009);
            }
            other => panic!("{other:?}"),
        }
        let p = patch(&f, &running, &ServerStatus::default(), 0).unwrap();
        assert_eq!(
            p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
    }

    #[test]
    fn phases_follow_restart_policy() {
        let base = reference();
        let exit = |code| Exit {
            code,
            started: 1,
            finished: 2,
        };
        let cases = [
            (
                "Always",
                Lifecycle::Completed { last: exit(0) },
                "Succeeded",
            ),
            ("Never", Lifecycle::Completed { last: exit(2) }, "Failed"),
            (
                "Always",
                Lifecycle::Terminating {
                    stage: TermStage::Report,
                    killed: Some(exit(0)),
                },
                "Running",
            ),
            (
                "Never",
                Lifecycle::Terminating {
                    stage: TermStage::Report,
                    killed: Some(exit(0)),
                },
                "Succeeded",
            ),
            (
                "OnFailure",
                Lifecycle::Terminating {
                    stage: TermStage::Report,
                    killed: Some(exit(1)),
                },
                "Running",
            ),
            (
                "Always",
                Lifecycle::Terminating {
                    stage: TermStage::Report,
                    killed: None,
                },
                "Pending",
            ),
            (
                "Always",
                Lifecycle::BackOff {
                    last: exit(1),
                    until: 0,
                },
                "Running",
            ),
        ];
        for (policy, life, want) in cases {
            let mut v = base.clone();
            v["spec"]["restartPolicy"] = json!(policy);
            let f = facts_of(&v);
            let got = desired(&f, &state(life), ctx());
            assert_eq!(got.phase, want, "{policy} {life:?}");
        }
    }

    #[test]
    fn crash_loop_status() {
        let f = facts_of(&reference());
        let mut s = state(Lifecycle::BackOff {
            last: Exit {
                code: 1,
                started: 1_700_000_000,
                finished: 1_700_000_005,
            },
            until: 0,
        });
        s.restarts = 2;
        s.last_exit = Some(Exit {
            code: 1,
            started: 1_700_000_000,
            finished: 1_700_000_005,
        });
        let want = desired(&f, &s, ctx());
        let p = patch(&f, &want, &ServerStatus::default(), 0).unwrap();
        let c = &p["status"]["containerStatuses"][0];
        assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert!(c["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .starts_with(
                "back-off 20s restarting failed container=pause pod=one-645594bd86-gbmbm_default("
            ));
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(c["lastState"]["terminated"]["reason"], "Error");
        assert_eq!(c["restartCount"], 2);
        assert_eq!(c["ready"], false);
    }

    #[test]
    fn host_network_pods_use_the_host_ip() {
        let mut v = reference();
        v["spec"]["hostNetwork"] = json!(true);
        let f = facts_of(&v);
        let s = state(Lifecycle::Running {
            started: 1,
            exit_at: None,
        });
        let want = desired(
            &f,
            &s,
            StatusCtx {
                host_ip: "10.0.0.9",
                pod_ip: None,
            },
        );
        assert_eq!(want.pod_ip.as_deref(), Some("10.0.0.9"));
    }

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
