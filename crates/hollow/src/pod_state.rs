//! A hollow pod's lifecycle as a pure state machine: containers are
//! created (after the startup delay and the service-account token), run,
//! exit (and are restarted with the kubelet's crash-loop back-off, or
//! complete), and on graceful deletion are killed, reported, and the pod
//! deleted for good. The kubelet's status manager is part of the state: it
//! syncs one status at a time, GETting the pod before each PATCH, and
//! walks a deleted pod through three syncs (report the killed containers,
//! confirm termination, delete with grace period 0), as the real one does.
//!
//! `step(state, facts, event, now) -> (state, actions)`; the driver runs
//! the actions and feeds their outcomes back as events.

use crate::pod_spec::PodFacts;
use std::time::Duration;

/// Milliseconds on the fleet's monotonic clock.
pub type Millis = u64;

/// The time of an event: monotonic (for deadlines) and wall (unix
/// seconds, for the timestamps in the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: Millis,
    pub wall: i64,
}

/// One run of the containers that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub started: i64,
    pub finished: i64,
}

/// Where the containers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Sandbox and containers being created; running at `ready_at` once
    /// the token (if any) is there.
    Creating { ready_at: Millis },
    Running {
        started: i64,
        exit_at: Option<Millis>,
    },
    /// Exited; restarted at `until` (CrashLoopBackOff).
    BackOff { last: Exit, until: Millis },
    /// Exited for good: the pod Succeeded or Failed.
    Completed { last: Exit },
    /// Deletion requested: containers killed (`killed` is how they ended,
    /// `None` if they never started).
    Terminating {
        stage: TermStage,
        killed: Option<Exit>,
    },
    /// Deleted (or found missing) on the server; waiting for the watch to
    /// confirm so that late events cannot resurrect it.
    Gone,
}

/// The status manager's three syncs for a deleted pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermStage {
    /// Report the killed containers (GET, PATCH).
    Report,
    /// Confirm the pod is terminated (GET; nothing left to patch).
    Confirm,
    /// Delete it (GET, DELETE with grace period 0 and the UID).
    Delete,
}

/// The service-account token of a projected volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    NotNeeded,
    InFlight,
    Ready { refresh_at: Millis },
    Retry { at: Millis, attempt: u32 },
}

/// Why a status sync was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPurpose {
    Report,
    Term(TermStage),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub life: Lifecycle,
    /// Restarts so far (`restartCount`).
    pub restarts: u32,
    /// The previous run (`lastState.terminated`).
    pub last_exit: Option<Exit>,
    pub token: TokenState,
    /// When the kubelet first saw the pod (`status.startTime`).
    pub start_time: i64,
    /// The status changed since the last sync was sent.
    pub dirty: bool,
    pub in_flight: Option<SyncPurpose>,
    pub sync_retry_at: Option<Millis>,
    pub sync_failures: u32,
    /// The pod IP was released (pods that completed or are gone).
    pub ip_released: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    Ok,
    Failed,
    /// The pod is not on the server any more (404 or another UID).
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Time passed; whatever is due happens.
    Tick,
    TokenDone {
        ok: bool,
    },
    Synced(SyncOutcome),
    /// `deletionTimestamp` seen.
    DeletionRequested,
    /// The watch (or a relist) says the pod is gone.
    Removed,
    /// The driver lost its in-flight work (the node was stopped).
    Resumed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// POST serviceaccounts/<sa>/token bound to the pod.
    RequestToken,
    /// GET the pod; PATCH pods/status if it differs from ours; then, if
    /// `delete`, DELETE it with grace period 0 and a UID precondition.
    Sync { delete: bool },
    /// Give the pod IP back to the allocator.
    ReleaseIp,
    /// Drop the pod from the node's state.
    Forget,
}

/// Crash-loop back-off: the first restart is immediate, then 10 s doubling
/// to 5 min (the kubelet's container restart back-off).
pub fn restart_backoff(restarts_so_far: u32) -> Duration {
    if restarts_so_far == 0 {
        return Duration::ZERO;
    }
    let secs = 10u64.saturating_mul(1u64 << (restarts_so_far - 1).min(16));
    Duration::from_secs(secs.min(300))
}

/// Status sync retry: 1 s doubling to 10 s (the status manager resyncs
/// failed pods on its 10 s batch).
fn sync_backoff(failures: u32) -> Millis {
    (1000u64 << failures.min(4)).min(10_000)
}

/// Token request retry: 1 s doubling to 30 s.
fn token_backoff(attempt: u32) -> Millis {
    (1000u64 << attempt.min(5)).min(30_000)
}

fn ms(d: Duration) -> Millis {
    d.as_millis().min(u128::from(u64::MAX)) as Millis
}

/// A pod the kubelet has just seen. `already_terminal`: the server says
/// it Succeeded or Failed before we saw it (adopted after a restart), so
/// nothing runs and nothing is reported.
pub fn new_pod(facts: &PodFacts, now: Now, already_terminal: bool) -> (PodState, Vec<Action>) {
    if already_terminal {
        let exit = Exit {
            code: 0,
            started: now.wall,
            finished: now.wall,
        };
        let state = PodState {
            life: Lifecycle::Completed { last: exit },
            restarts: 0,
            last_exit: None,
            token: TokenState::NotNeeded,
            start_time: now.wall,
            dirty: false,
            in_flight: None,
            sync_retry_at: None,
            sync_failures: 0,
            ip_released: true,
        };
        return (state, Vec::new());
    }
    let mut actions = Vec::new();
    let token = if facts.token.is_some() {
        actions.push(Action::RequestToken);
        TokenState::InFlight
    } else {
        TokenState::NotNeeded
    };
    let state = PodState {
        life: Lifecycle::Creating {
            ready_at: now.mono + ms(facts.behaviour.startup),
        },
        restarts: 0,
        last_exit: None,
        token,
        start_time: now.wall,
        dirty: true,
        in_flight: None,
        sync_retry_at: None,
        sync_failures: 0,
        ip_released: false,
    };
    // The first status (Pending, ContainerCreating) goes out at once, even
    // when the containers start immediately: the kubelet reports twice.
    let (state, more) = settle(state, facts, now);
    actions.extend(more);
    (state, actions)
}

/// The next time something is due for this pod, if any.
pub fn next_deadline(s: &PodState) -> Option<Millis> {
    let life = match s.life {
        // Creation also waits for the first status report and the token;
        // their completions arrive as events, so a past `ready_at` is not
        // a deadline until then (returning it would wake the driver in a
        // loop that changes nothing).
        Lifecycle::Creating { ready_at } => {
            let token_ok = matches!(s.token, TokenState::NotNeeded | TokenState::Ready { .. });
            (token_ok && !s.dirty).then_some(ready_at)
        }
        Lifecycle::Running { exit_at, .. } => exit_at,
        Lifecycle::BackOff { until, .. } => Some(until),
        _ => None,
    };
    let token = match (s.token, s.life) {
        (_, Lifecycle::Terminating { .. } | Lifecycle::Gone | Lifecycle::Completed { .. }) => None,
        (TokenState::Ready { refresh_at }, _) => Some(refresh_at),
        (TokenState::Retry { at, .. }, _) => Some(at),
        _ => None,
    };
    [life, token, s.sync_retry_at].into_iter().flatten().min()
}

pub fn step(mut s: PodState, facts: &PodFacts, event: Event, now: Now) -> (PodState, Vec<Action>) {
    let mut actions = Vec::new();
    match event {
        Event::Tick => {}
        Event::TokenDone { ok } => {
            if s.token == TokenState::InFlight {
                s.token = if ok {
                    let ttl = facts.token.as_ref().map_or(3600, |t| t.expiration_seconds);
                    // The kubelet refreshes a token at 80 % of its lifetime.
                    TokenState::Ready {
                        refresh_at: now.mono + (ttl.max(1) as u64) * 800,
                    }
                } else {
                    let attempt = match s.token {
                        TokenState::Retry { attempt, .. } => attempt + 1,
                        _ => 0,
                    };
                    TokenState::Retry {
                        at: now.mono + token_backoff(attempt),
                        attempt,
                    }
                };
            }
        }
        Event::Synced(outcome) => {
            let purpose = s.in_flight.take();
            match outcome {
                SyncOutcome::Ok => {
                    s.sync_failures = 0;
                    s.sync_retry_at = None;
                    if let (
                        Some(SyncPurpose::Term(done)),
                        Lifecycle::Terminating { stage, killed },
                    ) = (purpose, s.life)
                    {
                        if done == stage {
                            match stage {
                                TermStage::Report => {
                                    s.life = Lifecycle::Terminating {
                                        stage: TermStage::Confirm,
                                        killed,
                                    }
                                }
                                TermStage::Confirm => {
                                    s.life = Lifecycle::Terminating {
                                        stage: TermStage::Delete,
                                        killed,
                                    }
                                }
                                TermStage::Delete => {
                                    s.life = Lifecycle::Gone;
                                    release(&mut s, &mut actions);
                                }
                            }
                        }
                    }
                }
                SyncOutcome::Failed => {
                    if purpose == Some(SyncPurpose::Report) {
                        s.dirty = true;
                    }
                    s.sync_retry_at = Some(now.mono + sync_backoff(s.sync_failures));
                    s.sync_failures = s.sync_failures.saturating_add(1);
                }
                SyncOutcome::Gone => {
                    s.life = Lifecycle::Gone;
                    release(&mut s, &mut actions);
                }
            }
        }
        Event::DeletionRequested => {
            let killed = match s.life {
                Lifecycle::Creating { .. } => Some(None),
                Lifecycle::Running { started, .. } => Some(Some(Exit {
                    code: 0,
                    started,
                    finished: now.wall,
                })),
                Lifecycle::BackOff { last, .. } => Some(Some(last)),
                Lifecycle::Completed { last } => {
                    // Nothing left to kill or report: straight to delete.
                    s.life = Lifecycle::Terminating {
                        stage: TermStage::Delete,
                        killed: Some(last),
                    };
                    None
                }
                Lifecycle::Terminating { .. } | Lifecycle::Gone => None,
            };
            if let Some(killed) = killed {
                s.life = Lifecycle::Terminating {
                    stage: TermStage::Report,
                    killed,
                };
                s.dirty = false;
            }
        }
        Event::Removed => {
            release(&mut s, &mut actions);
            s.life = Lifecycle::Gone;
            actions.push(Action::Forget);
            return (s, actions);
        }
        Event::Resumed => {
            if s.in_flight.take() == Some(SyncPurpose::Report) {
                s.dirty = true;
            }
            s.sync_retry_at = None;
            if s.token == TokenState::InFlight {
                s.token = TokenState::Retry {
                    at: now.mono,
                    attempt: 0,
                };
            }
        }
    }
    let (s, more) = settle(s, facts, now);
    actions.extend(more);
    (s, actions)
}

fn release(s: &mut PodState, actions: &mut Vec<Action>) {
    if !s.ip_released {
        s.ip_released = true;
        actions.push(Action::ReleaseIp);
    }
}

/// Applies every transition that is due at `now`, then starts the next
/// status sync and token request if one is needed.
fn settle(mut s: PodState, facts: &PodFacts, now: Now) -> (PodState, Vec<Action>) {
    let mut actions = Vec::new();
    let b = &facts.behaviour;
    // Bounded: each pass either changes the state or stops.
    for _ in 0..8 {
        let before = s.life;
        match s.life {
            Lifecycle::Creating { ready_at } => {
                let token_ok = matches!(s.token, TokenState::NotNeeded | TokenState::Ready { .. });
                // The Pending status goes out before the containers run (the
                // kubelet always reports twice), so wait until it was sent.
                if now.mono >= ready_at && token_ok && !s.dirty {
                    s.life = Lifecycle::Running {
                        started: now.wall,
                        exit_at: b.run_for.map(|d| now.mono + ms(d)),
                    };
                    s.dirty = true;
                }
            }
            Lifecycle::Running {
                started,
                exit_at: Some(at),
            } if now.mono >= at => {
                let exit = Exit {
                    code: b.exit_code,
                    started,
                    finished: now.wall,
                };
                if facts.restart_policy.restarts(exit.code) {
                    s.life = Lifecycle::BackOff {
                        last: exit,
                        until: now.mono + ms(restart_backoff(s.restarts)),
                    };
                } else {
                    s.life = Lifecycle::Completed { last: exit };
                    release(&mut s, &mut actions);
                }
                s.last_exit = Some(exit);
                s.dirty = true;
            }
            Lifecycle::BackOff { until, .. } if now.mono >= until => {
                s.restarts = s.restarts.saturating_add(1);
                s.life = Lifecycle::Running {
                    started: now.wall,
                    exit_at: b.run_for.map(|d| now.mono + ms(d)),
                };
                s.dirty = true;
            }
            _ => {}
        }
        if s.life == before {
            break;
        }
    }
    let live = !matches!(
        s.life,
        Lifecycle::Terminating { .. } | Lifecycle::Gone | Lifecycle::Completed { .. }
    );
    if live {
        match s.token {
            TokenState::Ready { refresh_at } if now.mono >= refresh_at => {
                s.token = TokenState::InFlight;
                actions.push(Action::RequestToken);
            }
            TokenState::Retry { at, .. } if now.mono >= at => {
                s.token = TokenState::InFlight;
                actions.push(Action::RequestToken);
            }
            _ => {}
        }
    }
    let retry_wait = s.sync_retry_at.is_some_and(|t| now.mono < t);
    if s.in_flight.is_none() && !retry_wait {
        s.sync_retry_at = None;
        match s.life {
            Lifecycle::Terminating { stage, .. } => {
                s.in_flight = Some(SyncPurpose::Term(stage));
                actions.push(Action::Sync {
                    delete: stage == TermStage::Delete,
                });
            }
            Lifecycle::Gone => {}
            _ if s.dirty => {
                s.dirty = false;
                s.in_flight = Some(SyncPurpose::Report);
                actions.push(Action::Sync { delete: false });
            }
            _ => {}
        }
    }
    (s, actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_spec::{Behaviour, ContainerFacts, QosClass, RestartPolicy, TokenVolume};

    fn facts(policy: RestartPolicy, b: Behaviour, token: bool) -> PodFacts {
        PodFacts {
            namespace: "default".into(),
            name: "p".into(),
            uid: "u".into(),
            containers: vec![ContainerFacts {
                name: "c".into(),
                image: "i".into(),
            }]
            .into(),
            init_containers: Vec::new().into(),
            restart_policy: policy,
            host_network: false,
            token: token.then(|| TokenVolume {
                service_account: "default".into(),
                expiration_seconds: 3607,
                audience: None,
            }),
            qos: QosClass::BestEffort,
            behaviour: b,
            refs: Vec::new().into(),
        }
    }

    fn behaviour(startup_ms: u64, run_ms: Option<u64>, code: i32) -> Behaviour {
        Behaviour {
            startup: Duration::from_millis(startup_ms),
            run_for: run_ms.map(Duration::from_millis),
            exit_code: code,
            crash_loop: false,
            never_ready: false,
        }
    }

    fn at(ms: u64) -> Now {
        Now {
            mono: ms,
            wall: 1_000 + (ms / 1000) as i64,
        }
    }

    /// Runs a script of (time, event) and returns the actions at each step.
    fn run(f: &PodFacts, script: &[(u64, Event)]) -> (PodState, Vec<Vec<Action>>) {
        let (mut s, first) = new_pod(f, at(0), false);
        let mut out = vec![first];
        for (t, e) in script {
            let (n, a) = step(s, f, *e, at(*t));
            s = n;
            out.push(a);
        }
        (s, out)
    }

    #[test]
    fn starts_with_two_status_syncs_and_a_token() {
        let f = facts(RestartPolicy::Always, behaviour(2000, None, 0), true);
        let (s, acts) = run(
            &f,
            &[
                (10, Event::Synced(SyncOutcome::Ok)),
                (20, Event::TokenDone { ok: true }),
                (1999, Event::Tick),
                (2000, Event::Tick),
                (2010, Event::Synced(SyncOutcome::Ok)),
            ],
        );
        assert_eq!(
            acts,
            vec![
                vec![Action::RequestToken, Action::Sync { delete: false }],
                vec![],
                vec![],
                vec![],
                vec![Action::Sync { delete: false }],
                vec![],
            ]
        );
        assert!(matches!(
            s.life,
            Lifecycle::Running {
                started: 1002,
                exit_at: None
            }
        ));
        assert_eq!(
            s.token,
            TokenState::Ready {
                refresh_at: 20 + 3607 * 800
            }
        );
        assert_eq!(next_deadline(&s), Some(20 + 3607 * 800));
    }

    #[test]
    fn zero_delay_still_reports_pending_then_running() {
        let f = facts(RestartPolicy::Always, behaviour(0, None, 0), false);
        let (s, acts) = run(&f, &[(5, Event::Synced(SyncOutcome::Ok))]);
        // Running already at creation, but one sync at a time: the second
        // goes out when the first is acknowledged.
        assert_eq!(acts[0], vec![Action::Sync { delete: false }]);
        assert_eq!(acts[1], vec![Action::Sync { delete: false }]);
        assert!(matches!(s.life, Lifecycle::Running { .. }));
    }

    #[test]
    fn waits_for_the_token_and_retries_it() {
        let f = facts(RestartPolicy::Always, behaviour(0, None, 0), true);
        let (s, acts) = run(
            &f,
            &[
                (5, Event::Synced(SyncOutcome::Ok)),
                (10, Event::TokenDone { ok: false }),
                (500, Event::Tick),
                (1010, Event::Tick),
                (1020, Event::TokenDone { ok: true }),
            ],
        );
        assert_eq!(acts[2], vec![]);
        assert_eq!(acts[3], vec![], "back-off not over");
        assert_eq!(acts[4], vec![Action::RequestToken]);
        assert_eq!(acts[5], vec![Action::Sync { delete: false }]);
        assert!(matches!(s.life, Lifecycle::Running { .. }));
    }

    #[test]
    fn job_pods_complete_and_release_their_ip() {
        for (policy, code, phase_ok) in [
            (RestartPolicy::Never, 0, true),
            (RestartPolicy::Never, 3, false),
            (RestartPolicy::OnFailure, 0, true),
        ] {
            let f = facts(policy, behaviour(0, Some(30_000), code), false);
            let (s, acts) = run(
                &f,
                &[
                    (1, Event::Synced(SyncOutcome::Ok)),
                    (2, Event::Synced(SyncOutcome::Ok)),
                    (30_001, Event::Tick),
                ],
            );
            assert_eq!(
                acts[3],
                vec![Action::ReleaseIp, Action::Sync { delete: false }],
                "{policy:?}"
            );
            match s.life {
                Lifecycle::Completed { last } => {
                    assert_eq!(last.code == 0, phase_ok);
                    assert_eq!(last.finished, 1030);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(next_deadline(&s), None);
        }
    }

    #[test]
    fn crash_loop_backs_off_and_counts_restarts() {
        let mut b = behaviour(0, Some(1000), 1);
        b.crash_loop = true;
        let f = facts(RestartPolicy::Always, b, false);
        let (mut s, _) = new_pod(&f, at(0), false);
        s.in_flight = None;
        let (n, _) = step(s, &f, Event::Tick, at(0));
        s = n;
        s.in_flight = None;
        assert!(matches!(s.life, Lifecycle::Running { .. }));
        let mut t;
        let mut waits = Vec::new();
        for _ in 0..4 {
            // Run until the crash.
            let exit_at = next_deadline(&s).unwrap();
            t = exit_at;
            let (n, _) = step(s, &f, Event::Tick, at(t));
            s = n;
            s.in_flight = None;
            if let Lifecycle::BackOff { until, .. } = s.life {
                waits.push(until - t);
                t = until;
                let (n, _) = step(s, &f, Event::Tick, at(t));
                s = n;
                s.in_flight = None;
            }
            assert!(matches!(s.life, Lifecycle::Running { .. }), "{:?}", s.life);
        }
        // The first restart is immediate (no BackOff state), then 10, 20, 40 s.
        assert_eq!(waits, vec![10_000, 20_000, 40_000]);
        assert_eq!(s.restarts, 4);
        assert_eq!(s.last_exit.map(|e| e.code), Some(1));
        assert_eq!(restart_backoff(20), Duration::from_secs(300));
    }

    #[test]
    fn graceful_deletion_takes_three_syncs() {
        let f = facts(RestartPolicy::Always, behaviour(0, None, 0), false);
        let (s, acts) = run(
            &f,
            &[
                (1, Event::Synced(SyncOutcome::Ok)),
                (2, Event::Synced(SyncOutcome::Ok)),
                (5000, Event::DeletionRequested),
                (5001, Event::DeletionRequested),
                (5010, Event::Synced(SyncOutcome::Ok)),
                (5020, Event::Synced(SyncOutcome::Ok)),
                (5030, Event::Synced(SyncOutcome::Ok)),
                (5040, Event::Removed),
            ],
        );
        assert_eq!(acts[3], vec![Action::Sync { delete: false }], "report kill");
        assert_eq!(acts[4], vec![], "repeated deletion events change nothing");
        assert_eq!(acts[5], vec![Action::Sync { delete: false }], "confirm");
        assert_eq!(acts[6], vec![Action::Sync { delete: true }], "delete");
        assert_eq!(acts[7], vec![Action::ReleaseIp]);
        assert_eq!(acts[8], vec![Action::Forget]);
        assert_eq!(s.life, Lifecycle::Gone);
    }

    #[test]
    fn deletion_while_a_report_is_in_flight_waits_for_it() {
        let f = facts(RestartPolicy::Always, behaviour(0, None, 0), false);
        let (s, acts) = run(
            &f,
            &[
                (1, Event::Synced(SyncOutcome::Ok)),
                // The Running report is in flight when deletion arrives.
                (2, Event::DeletionRequested),
                (3, Event::Synced(SyncOutcome::Ok)),
            ],
        );
        assert_eq!(acts[2], vec![]);
        assert_eq!(acts[3], vec![Action::Sync { delete: false }]);
        assert!(matches!(
            s.life,
            Lifecycle::Terminating {
                stage: TermStage::Report,
                killed: Some(_)
            }
        ));
    }

    #[test]
    fn failed_syncs_retry_with_backoff() {
        let f = facts(RestartPolicy::Always, behaviour(60_000, None, 0), false);
        let (s, acts) = run(
            &f,
            &[
                (10, Event::Synced(SyncOutcome::Failed)),
                (500, Event::Tick),
                (1010, Event::Tick),
                (1020, Event::Synced(SyncOutcome::Failed)),
                (2020, Event::Tick),
                (3020, Event::Tick),
            ],
        );
        assert_eq!(acts[2], vec![]);
        assert_eq!(acts[3], vec![Action::Sync { delete: false }]);
        assert_eq!(acts[5], vec![], "second back-off is 2 s");
        assert_eq!(acts[6], vec![Action::Sync { delete: false }]);
        assert_eq!(s.sync_failures, 2);
    }

    #[test]
    fn gone_on_the_server_releases_and_waits_for_the_watch() {
        let f = facts(RestartPolicy::Always, behaviour(0, None, 0), false);
        let (s, acts) = run(
            &f,
            &[(1, Event::Synced(SyncOutcome::Gone)), (2, Event::Tick)],
        );
        assert_eq!(acts[1], vec![Action::ReleaseIp]);
        assert_eq!(acts[2], vec![]);
        assert_eq!(s.life, Lifecycle::Gone);
        let (_, a) = step(s, &f, Event::Removed, at(3));
        assert_eq!(a, vec![Action::Forget]);
    }

    #[test]
    fn completed_pods_are_deleted_without_a_report() {
        let f = facts(RestartPolicy::Never, behaviour(0, Some(0), 0), false);
        let (s, acts) = run(
            &f,
            &[
                (1, Event::Synced(SyncOutcome::Ok)),
                (2, Event::Synced(SyncOutcome::Ok)),
                (3, Event::DeletionRequested),
            ],
        );
        assert_eq!(
            acts[1],
            vec![Action::ReleaseIp, Action::Sync { delete: false }]
        );
        assert!(acts[2].is_empty());
        assert_eq!(acts[3], vec![Action::Sync { delete: true }]);
        assert!(s.ip_released);
    }

    #[test]
    fn resuming_resends_lost_work() {
        let f = facts(RestartPolicy::Always, behaviour(1000, None, 0), true);
        let (s, _) = new_pod(&f, at(0), false);
        assert_eq!(s.in_flight, Some(SyncPurpose::Report));
        let (s, acts) = step(s, &f, Event::Resumed, at(100));
        assert_eq!(
            acts,
            vec![Action::RequestToken, Action::Sync { delete: false }]
        );
        assert_eq!(s.token, TokenState::InFlight);
    }

    #[test]
    fn adopted_terminal_pods_stay_quiet() {
        let f = facts(RestartPolicy::Never, behaviour(0, None, 0), true);
        let (s, acts) = new_pod(&f, at(0), true);
        assert!(acts.is_empty());
        assert_eq!(next_deadline(&s), None);
        assert!(matches!(s.life, Lifecycle::Completed { .. }));
    }

    /// After any step at `t`, what is left due lies in the future: a
    /// deadline at or before `t` would make the driver wake in a loop that
    /// changes nothing (seen with a pod whose startup delay ran out while
    /// its first status report or its token was still in flight).
    #[test]
    fn deadlines_left_after_a_step_are_in_the_future() {
        type Script = Vec<(u64, Event)>;
        let scripts: Vec<(Behaviour, bool, Script)> = vec![
            (
                behaviour(0, None, 0),
                true,
                vec![(5, Event::Tick), (6, Event::Tick)],
            ),
            (
                behaviour(100, None, 0),
                false,
                vec![(200, Event::Tick), (300, Event::Tick)],
            ),
            (
                behaviour(100, None, 0),
                true,
                vec![
                    (50, Event::Synced(SyncOutcome::Ok)),
                    (150, Event::Tick),
                    (160, Event::TokenDone { ok: false }),
                    (2000, Event::Tick),
                    (2100, Event::Tick),
                ],
            ),
            (
                behaviour(0, Some(10), 1),
                false,
                vec![
                    (1, Event::Tick),
                    (20, Event::Synced(SyncOutcome::Failed)),
                    (25, Event::Tick),
                    (2000, Event::Tick),
                    (2001, Event::DeletionRequested),
                    (2002, Event::Tick),
                ],
            ),
        ];
        for (b, token, script) in scripts {
            let f = facts(RestartPolicy::Always, b, token);
            let (mut s, _) = new_pod(&f, at(0), false);
            for (t, e) in script {
                s = step(s, &f, e, at(t)).0;
                if let Some(d) = next_deadline(&s) {
                    assert!(d > t, "deadline {d} not after {t} in {s:?}");
                }
            }
        }
    }
}
