//! The Job controller: runs `parallelism` pods at a time until
//! `completions` pods have Succeeded (or, without completions, until one
//! succeeded and the rest finished), fails the Job past `backoffLimit` or
//! `activeDeadlineSeconds`, honours `suspend`, and reports
//! active/ready/succeeded/failed, startTime, completionTime and the
//! Complete / Failed / Suspended conditions.

use crate::actions;
use crate::events::{object_ref, EventRecorder};
use crate::expectations::Expectations;
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::replicaset::{api_in, count};
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::{self, Done};
use crate::util;
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pod counts of a Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobCounts {
    pub active: i32,
    pub ready: i32,
    pub succeeded: i32,
    pub failed: i32,
}

/// Counts the Job's pods: a pod succeeded when its phase is Succeeded.
pub fn job_counts(pods: &[Arc<Pod>]) -> JobCounts {
    let mut c = JobCounts::default();
    for p in pods {
        match util::pod_phase(p) {
            "Succeeded" => c.succeeded += 1,
            "Failed" => c.failed += 1,
            _ if !util::is_deleting(&p.metadata) => {
                c.active += 1;
                if util::is_pod_ready(p) {
                    c.ready += 1;
                }
            }
            _ => {}
        }
    }
    c
}

/// A terminal or suspension condition to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCondition {
    pub type_: &'static str,
    pub status: &'static str,
    pub reason: &'static str,
    pub message: &'static str,
}

/// What one sync decides.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPlan {
    pub create: usize,
    /// Indices into the active pods to delete.
    pub delete: Vec<usize>,
    pub counts: JobCounts,
    /// New condition to add (Complete, Failed, Suspended true/false).
    pub condition: Option<JobCondition>,
    pub set_start_time: bool,
    pub set_completion_time: bool,
    /// Re-sync then (active deadline).
    pub requeue_after: Option<Duration>,
}

fn has_condition(job: &Job, type_: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// Whether the Job finished (Complete or Failed).
pub fn is_finished(job: &Job) -> bool {
    has_condition(job, "Complete") || has_condition(job, "Failed")
}

/// `syncJob` decision.
pub fn job_plan(job: &Job, pods: &[Arc<Pod>], now: Timestamp) -> JobPlan {
    let spec = job.spec.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    let counts = job_counts(pods);
    let mut plan = JobPlan {
        counts,
        ..Default::default()
    };
    let active_pods: Vec<usize> = (0..pods.len())
        .filter(|i| util::is_pod_active(&pods[*i]))
        .collect();
    if is_finished(job) {
        return plan;
    }
    let delete_all = |plan: &mut JobPlan| plan.delete = active_pods.clone();
    let suspended = spec.suspend.unwrap_or(false);
    if !suspended && status.start_time.is_none() {
        plan.set_start_time = true;
    }
    // Failure: too many failed pods, or running past the deadline.
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    if counts.failed > backoff_limit {
        plan.condition = Some(JobCondition {
            type_: "Failed",
            status: "True",
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
        });
        delete_all(&mut plan);
        return plan;
    }
    if let (Some(deadline), Some(start)) =
        (spec.active_deadline_seconds, status.start_time.as_ref())
    {
        if !suspended {
            let end = util::add_secs(start.0, deadline);
            if end <= now {
                plan.condition = Some(JobCondition {
                    type_: "Failed",
                    status: "True",
                    reason: "DeadlineExceeded",
                    message: "Job was active longer than specified deadline",
                });
                delete_all(&mut plan);
                return plan;
            }
            plan.requeue_after = Some(util::duration_between(now, end));
        }
    }
    // Completion.
    let complete = match spec.completions {
        Some(c) => counts.succeeded >= c,
        None => counts.succeeded > 0 && counts.active == 0,
    };
    if complete {
        plan.condition = Some(JobCondition {
            type_: "Complete",
            status: "True",
            reason: "",
            message: "",
        });
        plan.set_completion_time = true;
        delete_all(&mut plan);
        return plan;
    }
    if suspended {
        if !has_condition(job, "Suspended") {
            plan.condition = Some(JobCondition {
                type_: "Suspended",
                status: "True",
                reason: "JobSuspended",
                message: "Job suspended",
            });
        }
        delete_all(&mut plan);
        return plan;
    }
    if has_condition(job, "Suspended") {
        plan.condition = Some(JobCondition {
            type_: "Suspended",
            status: "False",
            reason: "JobResumed",
            message: "Job resumed",
        });
    }
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let want = match spec.completions {
        Some(c) => (c - counts.succeeded).clamp(0, parallelism),
        // Work-queue mode: once one pod succeeded, start no more.
        None if counts.succeeded > 0 => counts.active,
        None => parallelism,
    };
    if counts.active > want {
        let mut idx = active_pods;
        idx.sort_by(|a, b| util::deletion_order(&pods[*a], &pods[*b]));
        idx.truncate(usize::try_from(counts.active - want).unwrap_or(0));
        plan.delete = idx;
    } else {
        plan.create = usize::try_from(want - counts.active).unwrap_or(0);
    }
    plan
}

/// The status JSON after applying a plan.
pub fn status_json(job: &Job, plan: &JobPlan, now: Timestamp) -> Value {
    let old = job.status.clone().unwrap_or_default();
    let mut conditions: Vec<Value> = old
        .conditions
        .iter()
        .flatten()
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect();
    if let Some(c) = &plan.condition {
        conditions.retain(|x| x["type"] != c.type_);
        let mut v = json!({"type": c.type_, "status": c.status, "lastProbeTime": Time(now), "lastTransitionTime": Time(now)});
        if !c.reason.is_empty() {
            v["reason"] = json!(c.reason);
            v["message"] = json!(c.message);
        }
        conditions.push(v);
    }
    let start = if plan.set_start_time {
        Some(Time(now))
    } else {
        old.start_time.clone()
    };
    let completion = if plan.set_completion_time {
        Some(Time(now))
    } else {
        old.completion_time.clone()
    };
    let active = plan.counts.active - count(plan.delete.len());
    json!({
        "active": if active > 0 { json!(active) } else { Value::Null },
        "ready": plan.counts.ready,
        "succeeded": if plan.counts.succeeded > 0 { json!(plan.counts.succeeded) } else { Value::Null },
        "failed": if plan.counts.failed > 0 { json!(plan.counts.failed) } else { Value::Null },
        "startTime": start,
        "completionTime": completion,
        "conditions": if conditions.is_empty() { Value::Null } else { Value::Array(conditions) },
    })
}

fn status_differs(job: &Job, v: &Value) -> bool {
    let cur = job
        .status
        .clone()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .unwrap_or(json!({}));
    [
        "active",
        "ready",
        "succeeded",
        "failed",
        "startTime",
        "completionTime",
        "conditions",
    ]
    .iter()
    .any(|k| {
        let a = cur.get(*k).cloned().unwrap_or(Value::Null);
        let b = v.get(*k).cloned().unwrap_or(Value::Null);
        let zero = |x: &Value| x.is_null() || *x == json!(0);
        !(a == b || (zero(&a) && zero(&b)))
    })
}

pub enum Msg {
    Job(Change<Job>),
    Pod(Change<Pod>),
}

pub struct JobController {
    ctx: Ctx,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
    expectations: Expectations,
    recorder: EventRecorder,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let jobs = factory.get::<Job>();
    let pods = factory.get::<Pod>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&jobs, &wiring.tx, Msg::Job);
    runtime::forward(&pods, &wiring.tx, Msg::Pod);
    let r = JobController {
        ctx: ctx.clone(),
        jobs,
        pods,
        expectations: Expectations::new(),
        recorder: ctx.recorder("job-controller"),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

impl Reconciler for JobController {
    type Msg = Msg;
    type Done = Done;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::Job(c) => {
                sync::owner_changed(&mut self.expectations, q, &c);
            }
            Msg::Pod(c) => {
                let pod = c.object();
                let Some(r) = util::controller_of(&pod.metadata)
                    .filter(|r| r.kind == "Job" && r.api_version == "batch/v1")
                else {
                    return;
                };
                let k = util::key(pod.metadata.namespace.as_deref(), &r.name);
                sync::observe_pod(&mut self.expectations, &k, &c);
                q.add(k);
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, Done>> {
        let job = self.jobs.get_key(key)?;
        let spec = job.spec.clone().unwrap_or_default();
        let selector = spec.selector.clone().unwrap_or_default();
        if util::selector_is_empty(&selector) {
            return None;
        }
        let ns = job.metadata.namespace.clone().unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let name = job.metadata.name.clone().unwrap_or_default();
        let deleting = util::is_deleting(&job.metadata);
        let claim = util::claim(
            self.pods.list_namespace(&ns),
            &uid,
            deleting || is_finished(&job),
            |l| util::selector_matches(&selector, l),
        );
        let pods: Vec<Arc<Pod>> = claim
            .owned
            .iter()
            .chain(claim.adopt.iter())
            .cloned()
            .collect();
        if !self.expectations.satisfied(key, Instant::now()) {
            return None;
        }
        let now = util::now();
        let mut plan = job_plan(&job, &pods, now);
        if deleting {
            plan.create = 0;
            plan.delete.clear();
        }
        plan.create = plan.create.min(self.ctx.config.burst_replicas);
        let creates: Vec<Pod> = match spec.template.clone() {
            t if plan.create > 0 => {
                let owner = util::controller_owner_ref("batch/v1", "Job", &name, &uid);
                (0..plan.create)
                    .map(|_| util::pod_from_template(&t, &ns, owner.clone()))
                    .collect()
            }
            _ => Vec::new(),
        };
        let deletes: Vec<(String, String)> = plan
            .delete
            .iter()
            .map(|i| {
                (
                    ns.clone(),
                    pods[*i].metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        if !creates.is_empty() || !deletes.is_empty() {
            self.expectations.expect(
                key,
                creates.len(),
                deletes.iter().map(|(ns, n)| util::key(Some(ns), n)),
                Instant::now(),
            );
        }
        let status = status_json(&job, &plan, now);
        let status_patch = status_differs(&job, &status).then_some(status);
        let requeue_after = plan.requeue_after;
        if creates.is_empty()
            && deletes.is_empty()
            && status_patch.is_none()
            && claim.adopt.is_empty()
        {
            return sync::later(requeue_after);
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        let involved = object_ref(job.as_ref());
        let owner_ref = util::controller_owner_ref("batch/v1", "Job", &name, &uid);
        let adopt = claim.adopt;
        let condition = plan.condition.clone();
        Some(Box::pin(async move {
            let mut done = Done::new(requeue_after);
            let adopt_failures = actions::set_owner(&ctx, adopt, &owner_ref, true).await;
            done.fail_if(adopt_failures > 0, "failed to adopt pods");
            if !deletes.is_empty() {
                done.deleted(actions::delete_pods(&ctx, deletes, &recorder, &involved).await);
            }
            if !creates.is_empty() {
                done.created(actions::create_pods(&ctx, creates, &recorder, &involved).await);
            }
            if let Some(st) = status_patch {
                let api: Api<Job> = api_in(&ctx, &ns);
                let patched = actions::patch_status(&ctx, &api, &name, st).await;
                done.status_patched(&patched);
                if patched.is_ok() {
                    match condition {
                        Some(c) if c.type_ == "Complete" => {
                            recorder.normal(&involved, "Completed", "Job completed")
                        }
                        Some(c) if c.type_ == "Failed" => {
                            recorder.warning(&involved, c.reason, c.message)
                        }
                        Some(c) if c.type_ == "Suspended" && c.status == "True" => {
                            recorder.normal(&involved, "Suspended", "Job suspended")
                        }
                        Some(c) if c.type_ == "Suspended" => {
                            recorder.normal(&involved, "Resumed", "Job resumed")
                        }
                        _ => {}
                    }
                }
            }
            done
        }))
    }

    fn on_done(&mut self, key: &str, done: Done, q: &mut WorkQueue) {
        done.finish(key, &mut self.expectations, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(spec: Value, status: Value) -> Job {
        let mut s = json!({"selector": {"matchLabels": {"controller-uid": "u"}}, "backoffLimit": 2,
            "template": {"metadata": {"labels": {"controller-uid": "u"}}, "spec": {"containers": [], "restartPolicy": "Never"}}});
        for (k, v) in spec.as_object().unwrap() {
            s[k] = v.clone();
        }
        serde_json::from_value(json!({"metadata": {"name": "j", "namespace": "ns", "uid": "u"}, "spec": s, "status": status})).unwrap()
    }

    fn pods(phases: &[&str]) -> Vec<Arc<Pod>> {
        phases
            .iter()
            .enumerate()
            .map(|(i, ph)| Arc::new(serde_json::from_value(json!({"metadata": {"name": format!("p{i}"), "namespace": "ns"}, "status": {"phase": ph}})).unwrap()))
            .collect()
    }

    fn at() -> Timestamp {
        "2024-01-01T00:01:00Z".parse().unwrap()
    }

    #[test]
    fn creates_up_to_parallelism_and_remaining_completions() {
        let cases = [
            (json!({"completions": 5, "parallelism": 2}), vec![], 2),
            (
                json!({"completions": 5, "parallelism": 2}),
                vec!["Running"],
                1,
            ),
            (
                json!({"completions": 5, "parallelism": 2}),
                vec!["Succeeded"; 4],
                1,
            ),
            (
                json!({"completions": 3, "parallelism": 10}),
                vec!["Succeeded"],
                2,
            ),
            (
                json!({"completions": 3, "parallelism": 2}),
                vec!["Failed", "Running"],
                1,
            ),
            (json!({"completions": null, "parallelism": 3}), vec![], 3),
            (
                json!({"completions": null, "parallelism": 3}),
                vec!["Succeeded", "Running"],
                0,
            ),
        ];
        for (i, (spec, phases, want)) in cases.into_iter().enumerate() {
            let p = job_plan(&job(spec, json!({})), &pods(&phases), at());
            assert_eq!(p.create, want, "case {i}");
            assert!(p.condition.is_none(), "case {i}");
        }
    }

    #[test]
    fn completes_when_enough_pods_succeeded() {
        let j = job(
            json!({"completions": 2, "parallelism": 2}),
            json!({"startTime": "2024-01-01T00:00:00Z"}),
        );
        let p = job_plan(&j, &pods(&["Succeeded", "Succeeded"]), at());
        assert_eq!(p.condition.as_ref().map(|c| c.type_), Some("Complete"));
        assert!(p.set_completion_time);
        assert_eq!(
            p.counts,
            JobCounts {
                active: 0,
                ready: 0,
                succeeded: 2,
                failed: 0
            }
        );
        let st = status_json(&j, &p, at());
        assert_eq!(st["succeeded"], 2);
        assert_eq!(st["conditions"][0]["type"], "Complete");
        assert_eq!(st["completionTime"], "2024-01-01T00:01:00Z");
        // Work-queue mode: one success and nothing running.
        let w = job(json!({"completions": null, "parallelism": 2}), json!({}));
        assert_eq!(
            job_plan(&w, &pods(&["Succeeded", "Succeeded"]), at())
                .condition
                .map(|c| c.type_),
            Some("Complete")
        );
        // Finished jobs do nothing more.
        let done = job(
            json!({"completions": 1}),
            json!({"conditions": [{"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(
            job_plan(&done, &pods(&[]), at()),
            JobPlan {
                counts: JobCounts::default(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn fails_past_backoff_limit_or_deadline() {
        let j = job(json!({"completions": 5, "parallelism": 2}), json!({}));
        let p = job_plan(&j, &pods(&["Failed", "Failed", "Failed", "Running"]), at());
        assert_eq!(
            p.condition.as_ref().map(|c| c.reason),
            Some("BackoffLimitExceeded")
        );
        assert_eq!(p.delete, vec![3]);
        let d = job(
            json!({"completions": 5, "activeDeadlineSeconds": 30}),
            json!({"startTime": "2024-01-01T00:00:00Z"}),
        );
        assert_eq!(
            job_plan(&d, &pods(&["Running"]), at())
                .condition
                .map(|c| c.reason),
            Some("DeadlineExceeded")
        );
        let d = job(
            json!({"completions": 5, "activeDeadlineSeconds": 90}),
            json!({"startTime": "2024-01-01T00:00:00Z"}),
        );
        assert_eq!(
            job_plan(&d, &pods(&["Running"]), at()).requeue_after,
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn suspend_deletes_active_pods() {
        let j = job(
            json!({"completions": 5, "parallelism": 2, "suspend": true}),
            json!({}),
        );
        let p = job_plan(&j, &pods(&["Running", "Running"]), at());
        assert_eq!(p.delete, vec![0, 1]);
        assert_eq!(p.condition.map(|c| c.reason), Some("JobSuspended"));
        assert!(!p.set_start_time);
    }
}
