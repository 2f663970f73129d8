//! The CronJob controller (kube-controller-manager's `cronjob`, the v2
//! controller of v1.24): at each time of a CronJob's schedule it creates a
//! Job from `jobTemplate` named `<cronjob>-<scheduled minutes since the
//! epoch>` (the name is the lock against creating a run twice), honours
//! `suspend`, `startingDeadlineSeconds` and `concurrencyPolicy`
//! (Allow / Forbid / Replace), keeps `status.active`, `lastScheduleTime`
//! and `lastSuccessfulTime`, and deletes the oldest finished Jobs beyond
//! `successfulJobsHistoryLimit` / `failedJobsHistoryLimit`.
//!
//! Schedules are robfig/cron's standard ones (`cron.ParseStandard`): five
//! fields with numbers, names, ranges, lists and steps (`?` as `*`), the
//! `@yearly` … `@hourly` macros and `@every <duration>`, in UTC (as a
//! controller-manager container runs).

use crate::events::{object_ref, EventRecorder, EventType};
use crate::informer::{Change, Informer, InformerFactory};
use crate::queue::WorkQueue;
use crate::runtime::{self, Ctx, Reconciler, Starter};
use crate::sync::Done;
use crate::util;
use croner::parser::{CronParser, Seconds, Year};
use futures::future::BoxFuture;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{tz::TimeZone, SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Padding after the next schedule time before syncing again, for clock
/// skew (upstream's `nextScheduleDelta`).
pub const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);
/// More missed start times than this get a `TooManyMissedTimes` warning.
pub const MAX_MISSED_REPORTED: u64 = 100;

/// Why a schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unparseable schedule {schedule:?}: {reason}")]
    Unparseable { schedule: String, reason: String },
    #[error("time zone {0:?} in the schedule is not supported (kubemark evaluates schedules in UTC); remove the CRON_TZ=/TZ= prefix")]
    TimeZone(String),
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Cron(Box<croner::Cron>),
    /// `@every <duration>`: a constant delay, whole seconds, at least 1 s.
    Every(Duration),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Whether one field uses only what robfig/cron's standard parser knows:
/// `*`, `?`, numbers, the field's names, `a-b`, `x/step` and lists (so that
/// croner's extensions `L`, `W`, `#`, `+` are refused as upstream does).
fn standard_field(field: &str, names: &[&str]) -> bool {
    let atom = |a: &str| {
        !a.is_empty()
            && (a.bytes().all(|b| b.is_ascii_digit())
                || names.iter().any(|n| n.eq_ignore_ascii_case(a)))
    };
    field.split(',').all(|item| {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if step.is_some_and(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit())) {
            return false;
        }
        match range {
            "*" | "?" => true,
            r => match r.split_once('-') {
                Some((a, b)) => atom(a) && atom(b),
                None => atom(r),
            },
        }
    })
}

/// Parses a Go duration (`90s`, `5m`, `1h30m`, `1.5h`, `500ms`).
fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    (0.0..1e12)
        .contains(&total)
        .then(|| Duration::from_secs_f64(total))
}

impl Schedule {
    /// `cron.ParseStandard`.
    pub fn parse(schedule: &str) -> Result<Schedule, ScheduleError> {
        let bad = |reason: &str| ScheduleError::Unparseable {
            schedule: schedule.to_string(),
            reason: reason.to_string(),
        };
        let mut s = schedule.trim();
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = s.strip_prefix(prefix) {
                let (zone, spec) = rest
                    .split_once(' ')
                    .ok_or_else(|| bad("a time zone prefix needs a schedule after it"))?;
                if !matches!(zone, "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT") {
                    return Err(ScheduleError::TimeZone(zone.to_string()));
                }
                s = spec.trim();
            }
        }
        if let Some(d) = s.strip_prefix("@every ") {
            let d = parse_go_duration(d).ok_or_else(|| bad("failed to parse duration"))?;
            // robfig/cron: at least one second, sub-second parts dropped.
            let secs = d.as_secs().max(1);
            return Ok(Schedule::Every(Duration::from_secs(secs)));
        }
        let expanded = match s {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            m if m.starts_with('@') => return Err(bad("unrecognized descriptor")),
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(bad(&format!(
                "expected exactly 5 fields, found {}",
                fields.len()
            )));
        }
        let names: [&[&str]; 5] = [&[], &[], &[], &MONTHS, &DAYS];
        if !fields.iter().zip(names).all(|(f, n)| standard_field(f, n)) {
            return Err(bad(
                "only numbers, names, '*', '?', ranges, lists and steps are allowed",
            ));
        }
        // robfig/cron takes `?` as `*` in every field.
        let normalized: Vec<String> = fields
            .iter()
            .map(|f| {
                f.split(',')
                    .map(|item| match item.split_once('/') {
                        Some(("?", step)) => format!("*/{step}"),
                        None if item == "?" => "*".to_string(),
                        _ => item.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build()
            .parse(&normalized.join(" "))
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Schedule::Cron(Box::new(cron)))
    }

    /// The first activation strictly after `after` (whole seconds), as
    /// robfig/cron's `Schedule.Next`.
    pub fn next(&self, after: Timestamp) -> Option<Timestamp> {
        let floor = Timestamp::from_second(after.as_second()).ok()?;
        match self {
            Schedule::Every(d) => {
                let secs = i64::try_from(d.as_secs()).ok()?;
                floor.checked_add(SignedDuration::from_secs(secs)).ok()
            }
            Schedule::Cron(c) => {
                let z = floor.to_zoned(TimeZone::UTC);
                c.find_next_occurrence(&z, false)
                    .ok()
                    .map(|n| n.timestamp())
            }
        }
    }

    /// The latest activation in `(earliest, now]` and how many there were
    /// (counted up to [`MAX_MISSED_REPORTED`] + 1).
    pub fn most_recent(&self, earliest: Timestamp, now: Timestamp) -> Option<(Timestamp, u64)> {
        let first = self.next(earliest)?;
        if first > now {
            return None;
        }
        let mut latest = first;
        let mut count = 1u64;
        while count <= MAX_MISSED_REPORTED {
            match self.next(latest) {
                Some(n) if n <= now => {
                    latest = n;
                    count += 1;
                }
                _ => return Some((latest, count)),
            }
        }
        // Many missed: jump to the last one directly.
        let last = match self {
            Schedule::Every(d) => {
                let step = i64::try_from(d.as_secs()).ok()?.max(1);
                let k = (now.as_second() - first.as_second()) / step;
                Timestamp::from_second(first.as_second() + k * step).ok()?
            }
            Schedule::Cron(c) => {
                let z = Timestamp::from_second(now.as_second())
                    .ok()?
                    .to_zoned(TimeZone::UTC);
                c.find_previous_occurrence(&z, true).ok()?.timestamp()
            }
        };
        Some((last.max(latest), count))
    }
}

/// `getJobName`: `<cronjob>-<scheduled time in minutes since the epoch>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// How a Job ended, from its `Complete` / `Failed` conditions.
pub fn finished_status(job: &Job) -> Option<&'static str> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    ["Complete", "Failed"]
        .into_iter()
        .find(|t| conds.iter().any(|c| c.type_ == *t && c.status == "True"))
}

/// What one sync of a CronJob does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CronPlan {
    /// `status.active` afterwards (before a created Job is added).
    pub active: Vec<ObjectReference>,
    pub last_schedule_time: Option<Timestamp>,
    pub last_successful_time: Option<Timestamp>,
    /// The status differs from the stored one.
    pub update_status: bool,
    /// Create the Job of this scheduled time.
    pub create: Option<Timestamp>,
    /// Jobs (name, uid) to delete first: still running at a Replace.
    pub replace: Vec<(String, String)>,
    /// Finished Jobs (name, uid) beyond the history limits.
    pub cleanup: Vec<(String, String)>,
    pub events: Vec<(EventType, &'static str, String)>,
    /// Active references without a Job in the cache: checked with the API
    /// server before they are dropped (the cache may lag).
    pub unknown_active: Vec<ObjectReference>,
    pub requeue_after: Option<Duration>,
}

fn ts(t: &Option<Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

/// `syncCronJob` plus `cleanupFinishedJobs`: decides from the CronJob, the
/// Jobs it controls and the clock. `gone` holds the uids of active Jobs the
/// API server confirmed missing.
pub fn plan(cj: &CronJob, jobs: &[Arc<Job>], gone: &HashSet<String>, now: Timestamp) -> CronPlan {
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    let mut p = CronPlan {
        active: status.active.clone().unwrap_or_default(),
        last_schedule_time: ts(&status.last_schedule_time),
        last_successful_time: ts(&status.last_successful_time),
        ..CronPlan::default()
    };
    let uid_of = |j: &Job| j.metadata.uid.clone().unwrap_or_default();
    let name_of = |j: &Job| j.metadata.name.clone().unwrap_or_default();
    let in_active = |active: &[ObjectReference], uid: &str| {
        active.iter().any(|r| r.uid.as_deref() == Some(uid))
    };
    for j in jobs {
        let uid = uid_of(j);
        let finished = finished_status(j);
        let found = in_active(&p.active, &uid);
        match finished {
            None if !found => p.events.push((
                EventType::Warning,
                "UnexpectedJob",
                format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    name_of(j)
                ),
            )),
            None => {}
            Some(st) => {
                if found {
                    p.active.retain(|r| r.uid.as_deref() != Some(uid.as_str()));
                    p.update_status = true;
                    p.events.push((
                        EventType::Normal,
                        "SawCompletedJob",
                        format!("Saw completed job: {}, status: {st}", name_of(j)),
                    ));
                }
                let completed = j.status.as_ref().and_then(|s| ts(&s.completion_time));
                if let Some(c) = completed {
                    if p.last_successful_time.is_none_or(|l| c > l) {
                        p.last_successful_time = Some(c);
                        p.update_status = true;
                    }
                }
            }
        }
    }
    // Active references whose Job is gone are dropped (once confirmed).
    let cached: HashSet<String> = jobs.iter().map(|j| uid_of(j)).collect();
    let mut kept = Vec::new();
    for r in std::mem::take(&mut p.active) {
        let uid = r.uid.clone().unwrap_or_default();
        if cached.contains(&uid) {
            kept.push(r);
        } else if gone.contains(&uid) {
            p.events.push((
                EventType::Normal,
                "MissingJob",
                format!(
                    "Active job went missing: {}",
                    r.name.clone().unwrap_or_default()
                ),
            ));
            p.update_status = true;
        } else {
            p.unknown_active.push(r.clone());
            kept.push(r);
        }
    }
    p.active = kept;
    cleanup(&spec, jobs, &mut p);
    if util::is_deleting(&cj.metadata) || spec.suspend == Some(true) {
        return p;
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            p.events
                .push((EventType::Warning, "UnparseableSchedule", e.to_string()));
            return p;
        }
    };
    if spec.schedule.contains("TZ") {
        p.events.push((
            EventType::Warning,
            "UnsupportedSchedule",
            format!("CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", spec.schedule),
        ));
    }
    p.requeue_after = schedule
        .next(now)
        .map(|n| util::duration_between(now, n) + NEXT_SCHEDULE_DELTA);
    let Some(created) = cj.metadata.creation_timestamp.as_ref().map(|t| t.0) else {
        return p;
    };
    let mut earliest = p.last_schedule_time.unwrap_or(created);
    if let Some(deadline) = spec.starting_deadline_seconds {
        earliest = earliest.max(util::add_secs(now, -deadline));
    }
    if earliest > now {
        return p;
    }
    let Some((scheduled, missed)) = schedule.most_recent(earliest, now) else {
        return p;
    };
    if missed > MAX_MISSED_REPORTED {
        p.events.push((
            EventType::Warning,
            "TooManyMissedTimes",
            format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
        ));
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        if util::add_secs(scheduled, deadline) < now {
            p.events.push((
                EventType::Warning,
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000")
                ),
            ));
            return p;
        }
    }
    let name = job_name(cj.metadata.name.as_deref().unwrap_or(""), scheduled);
    if p.active.iter().any(|r| r.name.as_deref() == Some(&name))
        || p.last_schedule_time == Some(scheduled)
    {
        return p;
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !p.active.is_empty() => {
            p.events.push((
                EventType::Normal,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            ));
            return p;
        }
        Some("Replace") => {
            for r in std::mem::take(&mut p.active) {
                p.replace.push((
                    r.name.clone().unwrap_or_default(),
                    r.uid.clone().unwrap_or_default(),
                ));
                p.update_status = true;
            }
            p.unknown_active.clear();
        }
        _ => {}
    }
    p.create = Some(scheduled);
    p.last_schedule_time = Some(scheduled);
    p.update_status = true;
    p
}

/// `removeOldestJobs` for both limits: finished Jobs beyond the limit go,
/// the oldest start time first (no start time last, then by name).
fn cleanup(spec: &k8s_openapi::api::batch::v1::CronJobSpec, jobs: &[Arc<Job>], p: &mut CronPlan) {
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<&Arc<Job>> = jobs
            .iter()
            .filter(|j| finished_status(j) == Some(kind))
            .collect();
        let excess = done
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            continue;
        }
        done.sort_by(|a, b| {
            let start = |j: &Job| j.status.as_ref().and_then(|s| ts(&s.start_time));
            match (start(a), start(b)) {
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (x, y) if x == y => a.metadata.name.cmp(&b.metadata.name),
                (x, y) => x.cmp(&y),
            }
        });
        for j in done.into_iter().take(excess) {
            let uid = j.metadata.uid.clone().unwrap_or_default();
            p.active.retain(|r| r.uid.as_deref() != Some(uid.as_str()));
            p.cleanup
                .push((j.metadata.name.clone().unwrap_or_default(), uid));
            p.update_status = true;
        }
    }
}

/// `getJobFromTemplate2`: the Job of one scheduled run.
pub fn job_from_template(cj: &CronJob, scheduled: Timestamp) -> Value {
    let spec = cj.spec.clone().unwrap_or_default();
    let tmpl_meta = spec.job_template.metadata.clone().unwrap_or_default();
    let name = cj.metadata.name.clone().unwrap_or_default();
    let owner = util::controller_owner_ref(
        "batch/v1",
        "CronJob",
        &name,
        cj.metadata.uid.as_deref().unwrap_or(""),
    );
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(&name, scheduled),
            "namespace": cj.metadata.namespace,
            "labels": tmpl_meta.labels,
            "annotations": tmpl_meta.annotations,
            "ownerReferences": [owner],
        },
        "spec": spec.job_template.spec,
    })
}

/// The status patch for a plan (`active` as given).
pub fn status_patch(p: &CronPlan, active: &[ObjectReference]) -> Value {
    json!({
        "active": if active.is_empty() { Value::Null } else { json!(active) },
        "lastScheduleTime": p.last_schedule_time.map(Time),
        "lastSuccessfulTime": p.last_successful_time.map(Time),
    })
}

pub enum Msg {
    CronJob(Change<CronJob>),
    Job(Change<Job>),
}

/// What the background work reports: the outcome, and the CronJob as the
/// status write returned it (fresher than the cache for the next sync).
pub struct CronDone {
    done: Done,
    latest: Option<CronJob>,
}

pub struct CronJobController {
    ctx: Ctx,
    cronjobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    recorder: EventRecorder,
    /// CronJobs as this controller last wrote them, until the cache has
    /// caught up (upstream re-reads the CronJob for the same reason).
    fresh: HashMap<String, Arc<CronJob>>,
}

pub(crate) fn setup(ctx: &Ctx, factory: &InformerFactory) -> Starter {
    let cronjobs = factory.get::<CronJob>();
    let jobs = factory.get::<Job>();
    let wiring = runtime::Wiring::new();
    runtime::forward(&cronjobs, &wiring.tx, Msg::CronJob);
    runtime::forward(&jobs, &wiring.tx, Msg::Job);
    let r = CronJobController {
        ctx: ctx.clone(),
        cronjobs,
        jobs,
        recorder: ctx.recorder("cronjob-controller"),
        fresh: HashMap::new(),
    };
    runtime::starter(r, wiring.rx, WorkQueue::new())
}

fn rv(cj: &CronJob) -> u64 {
    cj.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl CronJobController {
    fn current(&self, key: &str) -> Option<Arc<CronJob>> {
        let cached = self.cronjobs.get_key(key)?;
        match self.fresh.get(key) {
            Some(f) if rv(f) > rv(&cached) && f.metadata.uid == cached.metadata.uid => {
                Some(f.clone())
            }
            _ => Some(cached),
        }
    }
}

impl Reconciler for CronJobController {
    type Msg = Msg;
    type Done = CronDone;

    fn on_msg(&mut self, msg: Msg, q: &mut WorkQueue) {
        match msg {
            Msg::CronJob(c) => {
                let key = util::meta_key(&c.object().metadata);
                match c {
                    Change::Deleted(_) => {
                        self.fresh.remove(&key);
                    }
                    _ => {
                        if self
                            .fresh
                            .get(&key)
                            .is_some_and(|f| rv(f) <= rv(c.object()))
                        {
                            self.fresh.remove(&key);
                        }
                        q.add(key);
                    }
                }
            }
            Msg::Job(c) => {
                let job = c.object();
                if let Some(r) = util::controller_of(&job.metadata)
                    .filter(|r| r.kind == "CronJob" && r.api_version == "batch/v1")
                {
                    q.add(util::key(job.metadata.namespace.as_deref(), &r.name));
                }
            }
        }
    }

    fn sync(&mut self, key: &str, _q: &mut WorkQueue) -> Option<BoxFuture<'static, CronDone>> {
        let cj = self.current(key)?;
        let uid = cj.metadata.uid.clone().unwrap_or_default();
        let ns = cj.metadata.namespace.clone().unwrap_or_default();
        let jobs: Vec<Arc<Job>> = self
            .jobs
            .list_namespace(&ns)
            .into_iter()
            .filter(|j| {
                util::controller_of(&j.metadata)
                    .is_some_and(|r| r.kind == "CronJob" && r.uid == uid)
            })
            .collect();
        let first = plan(&cj, &jobs, &HashSet::new(), util::now());
        let quiet = first.create.is_none()
            && first.replace.is_empty()
            && first.cleanup.is_empty()
            && first.unknown_active.is_empty()
            && !first.update_status
            && first.events.is_empty();
        if quiet {
            let after = first.requeue_after;
            return Some(Box::pin(async move {
                CronDone {
                    done: Done::new(after),
                    latest: None,
                }
            }));
        }
        let ctx = self.ctx.clone();
        let recorder = self.recorder.clone();
        Some(Box::pin(async move {
            run_plan(ctx, recorder, cj, jobs, first).await
        }))
    }

    fn on_done(&mut self, key: &str, d: CronDone, q: &mut WorkQueue) {
        if let Some(latest) = d.latest {
            self.fresh.insert(key.to_string(), Arc::new(latest));
        }
        d.done.requeue(key, q);
    }
}

async fn run_plan(
    ctx: Ctx,
    recorder: EventRecorder,
    cj: Arc<CronJob>,
    jobs: Vec<Arc<Job>>,
    first: CronPlan,
) -> CronDone {
    let ns = cj.metadata.namespace.clone().unwrap_or_default();
    let name = cj.metadata.name.clone().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let involved = object_ref(cj.as_ref());
    // Confirm active Jobs missing from the cache with the API server.
    let mut p = first;
    if !p.unknown_active.is_empty() {
        let mut gone = HashSet::new();
        for r in &p.unknown_active {
            let job_name = r.name.clone().unwrap_or_default();
            match ctx.call(jobs_api.get_opt(&job_name)).await {
                Ok(None) => {
                    gone.insert(r.uid.clone().unwrap_or_default());
                }
                Ok(Some(j)) if j.metadata.uid != r.uid => {
                    gone.insert(r.uid.clone().unwrap_or_default());
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    let mut done = Done::new(None);
                    done.fail(e.to_string());
                    return CronDone { done, latest: None };
                }
            }
        }
        if !gone.is_empty() {
            p = plan(&cj, &jobs, &gone, util::now());
        }
    }
    let mut done = Done::new(p.requeue_after);
    for (t, reason, msg) in &p.events {
        recorder.event(&involved, *t, reason, msg);
    }
    let bg = DeleteParams::background();
    for (job, uid) in p.replace.iter().chain(p.cleanup.iter()) {
        let mut params = bg.clone();
        params.preconditions = Some(kube::api::Preconditions {
            uid: Some(uid.clone()),
            resource_version: None,
        });
        match ctx.call(jobs_api.delete(job, &params)).await {
            Ok(_) => recorder.normal(&involved, "SuccessfulDelete", &format!("Deleted job {job}")),
            Err(e) if util::is_not_found(&e) => {}
            Err(e) => {
                recorder.warning(
                    &involved,
                    "FailedDelete",
                    &format!("Deleted job: {}", crate::actions::api_message(&e)),
                );
                done.fail(e.to_string());
            }
        }
    }
    let mut active = p.active.clone();
    if let Some(scheduled) = p.create {
        if done.failed() {
            // A Job to replace is still there: do not run two.
            return CronDone { done, latest: None };
        }
        let body = job_from_template(&cj, scheduled);
        let created = match serde_json::from_value::<Job>(body) {
            Ok(job) => {
                ctx.call(jobs_api.create(&PostParams::default(), &job))
                    .await
            }
            Err(e) => Err(kube::Error::SerdeError(e)),
        };
        match created {
            Ok(job) => {
                recorder.normal(
                    &involved,
                    "SuccessfulCreate",
                    &format!(
                        "Created job {}",
                        job.metadata.name.clone().unwrap_or_default()
                    ),
                );
                active.push(object_ref(&job));
            }
            Err(e) if util::is_namespace_terminating_error(&e) => {
                return CronDone { done, latest: None };
            }
            Err(e) => {
                if !util::is_already_exists(&e) {
                    recorder.warning(
                        &involved,
                        "FailedCreate",
                        &format!("Error creating job: {}", crate::actions::api_message(&e)),
                    );
                }
                done.fail(e.to_string());
                return CronDone { done, latest: None };
            }
        }
    }
    let mut latest = None;
    if p.update_status {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = json!({"status": status_patch(&p, &active)});
        match ctx
            .call(api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)))
            .await
        {
            Ok(cj) => latest = Some(cj),
            Err(e) if util::is_not_found(&e) => {}
            Err(e) => done.fail(e.to_string()),
        }
    }
    CronDone { done, latest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn schedules_parse_like_robfig_standard() {
        let ok = [
            "*/1 * * * *",
            "0 0 * * 0",
            "0 12 1-15 jan-mar mon,wed",
            "5/15 * * * ?",
            "@hourly",
            "@midnight",
            "@every 90s",
            "CRON_TZ=UTC 0 * * * *",
        ];
        for s in ok {
            assert!(Schedule::parse(s).is_ok(), "{s}: {:?}", Schedule::parse(s));
        }
        let bad = [
            "",
            "* * * *",
            "* * * * * *",
            "61 * * * *",
            "0 0 L * *",
            "0 0 * * 5#3",
            "0 0 15W * *",
            "@sometimes",
            "@every nope",
        ];
        for s in bad {
            assert!(
                matches!(Schedule::parse(s), Err(ScheduleError::Unparseable { .. })),
                "{s}"
            );
        }
        assert_eq!(
            Schedule::parse("CRON_TZ=Europe/Berlin 0 * * * *").unwrap_err(),
            ScheduleError::TimeZone("Europe/Berlin".into())
        );
    }

    #[test]
    fn next_activation_is_strictly_later() {
        // (schedule, after, next)
        let cases = [
            (
                "*/1 * * * *",
                "2024-05-01T10:00:00Z",
                "2024-05-01T10:01:00Z",
            ),
            (
                "*/1 * * * *",
                "2024-05-01T10:00:59.9Z",
                "2024-05-01T10:01:00Z",
            ),
            (
                "*/15 * * * *",
                "2024-05-01T10:07:00Z",
                "2024-05-01T10:15:00Z",
            ),
            ("@hourly", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"),
            ("0 0 * * *", "2024-05-01T10:00:00Z", "2024-05-02T00:00:00Z"),
            ("@weekly", "2024-05-01T10:00:00Z", "2024-05-05T00:00:00Z"),
            (
                "0 9 * * mon-fri",
                "2024-05-03T10:00:00Z",
                "2024-05-06T09:00:00Z",
            ),
            // dom and dow both restricted: either matches (Vixie cron).
            (
                "0 0 13 * fri",
                "2024-05-01T00:00:00Z",
                "2024-05-03T00:00:00Z",
            ),
            (
                "5/15 * * * *",
                "2024-05-01T10:06:00Z",
                "2024-05-01T10:20:00Z",
            ),
            (
                "@every 90s",
                "2024-05-01T10:00:00.5Z",
                "2024-05-01T10:01:30Z",
            ),
        ];
        for (s, after, next) in cases {
            let sched = Schedule::parse(s).unwrap();
            assert_eq!(sched.next(t(after)), Some(t(next)), "{s} after {after}");
        }
        let every = Schedule::parse("*/1 * * * *").unwrap();
        assert_eq!(
            every.most_recent(t("2024-05-01T10:00:30Z"), t("2024-05-01T10:03:10Z")),
            Some((t("2024-05-01T10:03:00Z"), 3))
        );
        assert_eq!(
            every.most_recent(t("2024-05-01T10:00:30Z"), t("2024-05-01T10:00:50Z")),
            None
        );
        let (last, n) = every
            .most_recent(t("2024-05-01T00:00:00Z"), t("2024-05-02T00:00:30Z"))
            .unwrap();
        assert_eq!(last, t("2024-05-02T00:00:00Z"));
        assert!(n > MAX_MISSED_REPORTED);
    }

    fn cronjob(extra: Value) -> CronJob {
        let mut v = json!({
            "metadata": {"name": "cj", "namespace": "ns", "uid": "cj-uid",
                "creationTimestamp": "2024-05-01T10:00:00Z", "resourceVersion": "1"},
            "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow", "suspend": false,
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                "jobTemplate": {"metadata": {"labels": {"a": "b"}},
                    "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "pause"}]}}}}},
            "status": {}
        });
        merge(&mut v, extra);
        serde_json::from_value(v).unwrap()
    }

    fn merge(a: &mut Value, b: Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    /// A Job of the CronJob: `state` is "", "Complete" or "Failed".
    fn job(name: &str, state: &str, start: &str) -> Arc<Job> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("{name}-uid"),
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj",
                    "uid": "cj-uid", "controller": true}]},
            "status": {"startTime": start}
        });
        if !state.is_empty() {
            v["status"]["conditions"] = json!([{"type": state, "status": "True"}]);
            if state == "Complete" {
                v["status"]["completionTime"] = json!(start);
            }
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn active(names: &[&str]) -> Value {
        json!({"status": {"active": names.iter().map(|n| json!({"kind": "Job", "namespace": "ns",
            "name": n, "uid": format!("{n}-uid"), "apiVersion": "batch/v1"})).collect::<Vec<_>>()}})
    }

    fn names(refs: &[ObjectReference]) -> Vec<String> {
        refs.iter().filter_map(|r| r.name.clone()).collect()
    }

    fn reasons(p: &CronPlan) -> Vec<&'static str> {
        p.events.iter().map(|e| e.1).collect()
    }

    #[test]
    fn what_to_do_now() {
        struct Case {
            name: &'static str,
            cj: Value,
            jobs: Vec<Arc<Job>>,
            now: &'static str,
            create: Option<&'static str>,
            active: Vec<&'static str>,
            replace: Vec<&'static str>,
            cleanup: Vec<&'static str>,
            events: Vec<&'static str>,
            requeue_secs: Option<u64>,
        }
        // The Job of 2024-05-01T10:01:00Z (minutes since the epoch).
        let j1 = "cj-28575961";
        let cases = vec![
            Case {
                name: "before the first time",
                cj: json!({}),
                jobs: vec![],
                now: "2024-05-01T10:00:30Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(30),
            },
            Case {
                name: "at the first time a Job is created",
                cj: json!({}),
                jobs: vec![],
                now: "2024-05-01T10:01:02Z",
                create: Some("2024-05-01T10:01:00Z"),
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(58),
            },
            Case {
                name: "several missed: only the latest runs",
                cj: json!({}),
                jobs: vec![],
                now: "2024-05-01T10:05:10Z",
                create: Some("2024-05-01T10:05:00Z"),
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(50),
            },
            Case {
                name: "already ran at that time",
                cj: json!({"status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                jobs: vec![],
                now: "2024-05-01T10:01:30Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(30),
            },
            Case {
                name: "suspended",
                cj: json!({"spec": {"suspend": true}}),
                jobs: vec![],
                now: "2024-05-01T10:05:10Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: None,
            },
            Case {
                // Times before now - deadline are not even considered.
                name: "starting deadline passed",
                cj: json!({"spec": {"startingDeadlineSeconds": 5}}),
                jobs: vec![],
                now: "2024-05-01T10:01:10Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(50),
            },
            Case {
                name: "within the starting deadline",
                cj: json!({"spec": {"startingDeadlineSeconds": 30}}),
                jobs: vec![],
                now: "2024-05-01T10:01:10Z",
                create: Some("2024-05-01T10:01:00Z"),
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(50),
            },
            Case {
                name: "forbid waits for the running Job",
                cj: {
                    let mut v = active(&[j1]);
                    merge(
                        &mut v,
                        json!({"spec": {"concurrencyPolicy": "Forbid"},
                        "status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                    );
                    v
                },
                jobs: vec![job(j1, "", "2024-05-01T10:01:01Z")],
                now: "2024-05-01T10:02:01Z",
                create: None,
                active: vec![j1],
                replace: vec![],
                cleanup: vec![],
                events: vec!["JobAlreadyActive"],
                requeue_secs: Some(59),
            },
            Case {
                name: "allow runs alongside",
                cj: {
                    let mut v = active(&[j1]);
                    merge(
                        &mut v,
                        json!({"status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                    );
                    v
                },
                jobs: vec![job(j1, "", "2024-05-01T10:01:01Z")],
                now: "2024-05-01T10:02:01Z",
                create: Some("2024-05-01T10:02:00Z"),
                active: vec![j1],
                replace: vec![],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(59),
            },
            Case {
                name: "replace deletes the running Job first",
                cj: {
                    let mut v = active(&[j1]);
                    merge(
                        &mut v,
                        json!({"spec": {"concurrencyPolicy": "Replace"},
                        "status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                    );
                    v
                },
                jobs: vec![job(j1, "", "2024-05-01T10:01:01Z")],
                now: "2024-05-01T10:02:01Z",
                create: Some("2024-05-01T10:02:00Z"),
                active: vec![],
                replace: vec![j1],
                cleanup: vec![],
                events: vec![],
                requeue_secs: Some(59),
            },
            Case {
                name: "a finished Job leaves the active list",
                cj: {
                    let mut v = active(&[j1]);
                    merge(
                        &mut v,
                        json!({"status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                    );
                    v
                },
                jobs: vec![job(j1, "Complete", "2024-05-01T10:01:01Z")],
                now: "2024-05-01T10:01:30Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec!["SawCompletedJob"],
                requeue_secs: Some(30),
            },
            Case {
                name: "a Job nobody knows of is reported",
                cj: json!({"status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                jobs: vec![job("stray", "", "2024-05-01T10:01:01Z")],
                now: "2024-05-01T10:01:30Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec!["UnexpectedJob"],
                requeue_secs: Some(30),
            },
            Case {
                name: "history limits delete the oldest finished Jobs",
                cj: json!({"spec": {"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0},
                    "status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
                jobs: vec![
                    job("ok-new", "Complete", "2024-05-01T09:03:00Z"),
                    job("ok-old", "Complete", "2024-05-01T09:01:00Z"),
                    job("ok-mid", "Complete", "2024-05-01T09:02:00Z"),
                    job("failed", "Failed", "2024-05-01T09:00:00Z"),
                ],
                now: "2024-05-01T10:01:30Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec!["ok-old", "ok-mid", "failed"],
                events: vec![],
                requeue_secs: Some(30),
            },
            Case {
                name: "an unparseable schedule is reported, not retried",
                cj: json!({"spec": {"schedule": "0 0 L * *"}}),
                jobs: vec![],
                now: "2024-05-01T10:01:30Z",
                create: None,
                active: vec![],
                replace: vec![],
                cleanup: vec![],
                events: vec!["UnparseableSchedule"],
                requeue_secs: None,
            },
        ];
        for c in cases {
            let cj = cronjob(c.cj);
            let p = plan(&cj, &c.jobs, &HashSet::new(), t(c.now));
            assert_eq!(p.create, c.create.map(t), "{}: create", c.name);
            assert_eq!(names(&p.active), c.active, "{}: active", c.name);
            let replaced: Vec<&str> = p.replace.iter().map(|r| r.0.as_str()).collect();
            assert_eq!(replaced, c.replace, "{}: replace", c.name);
            let cleaned: Vec<&str> = p.cleanup.iter().map(|r| r.0.as_str()).collect();
            assert_eq!(cleaned, c.cleanup, "{}: cleanup", c.name);
            assert_eq!(reasons(&p), c.events, "{}: events", c.name);
            assert_eq!(
                p.requeue_after.map(|d| d.as_secs()),
                c.requeue_secs,
                "{}: requeue",
                c.name
            );
            if p.create.is_some() {
                assert_eq!(p.last_schedule_time, p.create, "{}", c.name);
                assert!(p.update_status, "{}", c.name);
            }
        }
    }

    #[test]
    fn missing_active_jobs_are_confirmed_before_they_are_dropped() {
        let cj = cronjob({
            let mut v = active(&["cj-1"]);
            merge(
                &mut v,
                json!({"status": {"lastScheduleTime": "2024-05-01T10:01:00Z"}}),
            );
            v
        });
        let now = t("2024-05-01T10:01:30Z");
        let p = plan(&cj, &[], &HashSet::new(), now);
        assert_eq!(names(&p.unknown_active), vec!["cj-1"]);
        assert_eq!(names(&p.active), vec!["cj-1"], "kept until confirmed");
        assert!(!p.update_status);
        let gone: HashSet<String> = ["cj-1-uid".to_string()].into();
        let p = plan(&cj, &[], &gone, now);
        assert!(p.active.is_empty() && p.unknown_active.is_empty());
        assert_eq!(reasons(&p), vec!["MissingJob"]);
        assert!(p.update_status);
    }

    #[test]
    fn last_successful_time_follows_the_latest_completion() {
        let cj = cronjob(
            json!({"status": {"lastScheduleTime": "2024-05-01T10:01:00Z",
            "lastSuccessfulTime": "2024-05-01T09:00:00Z"}}),
        );
        let jobs = vec![
            job("a", "Complete", "2024-05-01T09:30:00Z"),
            job("b", "Complete", "2024-05-01T09:20:00Z"),
        ];
        let p = plan(&cj, &jobs, &HashSet::new(), t("2024-05-01T10:01:30Z"));
        assert_eq!(p.last_successful_time, Some(t("2024-05-01T09:30:00Z")));
        assert!(p.update_status);
    }

    #[test]
    fn jobs_come_from_the_template() {
        let cj = cronjob(json!({}));
        let j = job_from_template(&cj, t("2024-05-01T10:01:00Z"));
        assert_eq!(j["metadata"]["name"], "cj-28575961");
        assert_eq!(j["metadata"]["namespace"], "ns");
        assert_eq!(j["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(
            j["metadata"]["ownerReferences"],
            json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "cj-uid",
                "controller": true, "blockOwnerDeletion": true}])
        );
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert!(j["metadata"].get("annotations").is_none_or(Value::is_null));
        let _: Job = serde_json::from_value(j).unwrap();
    }

    #[test]
    fn go_durations() {
        let cases = [
            ("90s", Some(90.0)),
            ("1h30m", Some(5400.0)),
            ("1.5h", Some(5400.0)),
            ("500ms", Some(0.5)),
            ("", None),
            ("5x", None),
            ("m", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s).map(|d| d.as_secs_f64()), want, "{s}");
        }
    }
}
