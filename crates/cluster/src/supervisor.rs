//! The supervisor: one background process per cluster (`kubemark
//! supervise`) that starts the plan's processes in order, each once the one
//! before is ready, restarts a crashed one with backoff (logging the
//! crash), reloads the plan on SIGHUP (`scale`), and stops everything in
//! reverse order on SIGTERM (`stop`). It alone writes `runtime.json`.

use crate::process::ProcessSpec;
use crate::state::{now_unix, ClusterDir, ProcIdentity, ProcPhase, ProcRuntime, Runtime};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a process may take to stop after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("signals: {0}")]
    Signals(std::io::Error),
    #[error("another supervisor (pid {0}) already runs this cluster")]
    AlreadyRunning(u32),
}

/// The delay before restart number `failures` (1 = first crash in a row):
/// 1 s, 2 s, 4 s, … capped at 60 s, like a kubelet's crash-loop backoff
/// but shorter, since a master component's restart is what a user waits on.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs((1u64 << exp).min(60))
}

/// A process that ran this long before crashing starts a fresh backoff
/// series.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Whether the process at `index` may start: every earlier one is ready.
pub fn may_start(phases: &[ProcPhase], index: usize) -> bool {
    phases[..index.min(phases.len())]
        .iter()
        .all(|p| *p == ProcPhase::Ready)
}

struct Proc {
    spec: ProcessSpec,
    rt: ProcRuntime,
    generation: u64,
    started: Instant,
    failures: u32,
    restart_at: Option<Instant>,
    /// Asked to stop: its exit is not a crash.
    stopping: bool,
}

enum Event {
    Exited {
        name: String,
        generation: u64,
        how: String,
    },
    Ready {
        name: String,
        generation: u64,
    },
}

fn log_line(msg: &str) {
    let ts = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    eprintln!("{ts} {msg}");
}

/// Appends a marker line to a component's own log, so that its log shows
/// where a crash and a restart happened.
fn mark(spec: &ProcessSpec, msg: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
    {
        let ts = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let _ = writeln!(f, "--- kubemark supervisor {ts}: {msg}");
    }
}

fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => status.to_string(),
    }
}

/// Runs the supervisor for `dir` until SIGTERM/SIGINT.
pub async fn run(dir: ClusterDir) -> Result<(), SupervisorError> {
    use tokio::signal::unix::{signal, SignalKind};
    if let Some(pid) = dir.running_supervisor() {
        if pid != std::process::id() {
            return Err(SupervisorError::AlreadyRunning(pid));
        }
    }
    let mut term = signal(SignalKind::terminate()).map_err(SupervisorError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(SupervisorError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(SupervisorError::Signals)?;

    let me = ProcIdentity::of(std::process::id());
    let mut runtime = Runtime {
        supervisor: me,
        ..Runtime::default()
    };
    let state = dir.read_state()?;
    let restart = state.restart;
    let mut procs: Vec<Proc> = Vec::new();
    reload(&mut procs, state.processes);
    publish(&dir, &mut runtime, &procs);
    crate::state::write_private(
        &dir.supervisor_pid_path(),
        std::process::id().to_string().as_bytes(),
    )?;
    log_line(&format!(
        "supervisor {} running {} processes for cluster {:?} (restart: {restart})",
        std::process::id(),
        procs.len(),
        dir.name
    ));

    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    loop {
        start_due(&mut procs, &tx);
        publish(&dir, &mut runtime, &procs);
        let next_restart = procs.iter().filter_map(|p| p.restart_at).min();
        let sleep = async {
            match next_restart {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(ev) = rx.recv() => handle(&mut procs, ev, restart),
            _ = hup.recv() => {
                match dir.read_state() {
                    Ok(s) => {
                        log_line("SIGHUP: reloading the plan");
                        let removed = reload(&mut procs, s.processes);
                        stop_all(removed).await;
                    }
                    Err(e) => log_line(&format!("SIGHUP: cannot read the plan: {e}")),
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = sleep => {}
        }
    }
    log_line("stopping every process in reverse order");
    let mut all = std::mem::take(&mut procs);
    all.reverse();
    stop_all(all).await;
    runtime.processes.clear();
    publish(&dir, &mut runtime, &procs);
    let _ = std::fs::remove_file(dir.supervisor_pid_path());
    log_line("supervisor stopped");
    Ok(())
}

/// Replaces the plan: processes whose spec changed or that are gone are
/// returned (to be stopped); new ones wait to start.
fn reload(procs: &mut Vec<Proc>, plan: Vec<ProcessSpec>) -> Vec<Proc> {
    let mut old: BTreeMap<String, Proc> =
        procs.drain(..).map(|p| (p.spec.name.clone(), p)).collect();
    for spec in plan {
        match old.remove(&spec.name) {
            Some(p) if p.spec == spec => procs.push(p),
            Some(mut p) => {
                // Changed: stop the old one; the new spec starts after.
                p.stopping = true;
                let name = spec.name.clone();
                procs.push(new_proc(spec));
                old.insert(format!("{name}\u{0}old"), p);
            }
            None => procs.push(new_proc(spec)),
        }
    }
    old.into_values().collect()
}

fn new_proc(spec: ProcessSpec) -> Proc {
    Proc {
        spec,
        rt: ProcRuntime {
            phase: ProcPhase::Waiting,
            process: None,
            restarts: 0,
            last_exit: None,
            since_unix: now_unix(),
        },
        generation: 0,
        started: Instant::now(),
        failures: 0,
        restart_at: None,
        stopping: false,
    }
}

fn publish(dir: &ClusterDir, runtime: &mut Runtime, procs: &[Proc]) {
    runtime.processes = procs
        .iter()
        .map(|p| (p.spec.name.clone(), p.rt.clone()))
        .collect();
    if let Err(e) = dir.write_runtime(runtime) {
        log_line(&format!("cannot write the runtime file: {e}"));
    }
}

fn start_due(procs: &mut [Proc], tx: &mpsc::UnboundedSender<Event>) {
    let now = Instant::now();
    let mut phases: Vec<ProcPhase> = procs.iter().map(|p| p.rt.phase).collect();
    for (i, p) in procs.iter_mut().enumerate() {
        let due = match p.rt.phase {
            ProcPhase::Waiting => may_start(&phases, i),
            ProcPhase::Backoff => p.restart_at.is_some_and(|t| t <= now),
            _ => false,
        };
        if due {
            p.restart_at = None;
            spawn(p, tx);
            // A process without a probe is ready at once: the next may start.
            phases[i] = p.rt.phase;
        }
    }
}

/// Generations are unique across processes, so that the exit of a replaced
/// process is never taken for its successor's.
static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn spawn(p: &mut Proc, tx: &mpsc::UnboundedSender<Event>) {
    p.generation = NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let generation = p.generation;
    let name = p.spec.name.clone();
    let restart_note = if p.rt.restarts > 0 {
        format!(" (restart {})", p.rt.restarts)
    } else {
        String::new()
    };
    mark(
        &p.spec,
        &format!("starting{restart_note}: {}", p.spec.command_line()),
    );
    let child = open_log(&p.spec).and_then(|(out, err)| {
        let mut cmd = tokio::process::Command::new(&p.spec.program);
        cmd.args(&p.spec.args)
            .envs(&p.spec.env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(false);
        if let Some(cwd) = &p.spec.cwd {
            cmd.current_dir(cwd);
        }
        cmd.spawn()
    });
    p.started = Instant::now();
    p.rt.since_unix = now_unix();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let how = format!("could not start {}: {e}", p.spec.program.display());
            log_line(&format!("{name}: {how}"));
            let _ = tx.send(Event::Exited {
                name,
                generation,
                how,
            });
            p.rt.phase = ProcPhase::Starting;
            return;
        }
    };
    let pid = child.id().unwrap_or(0);
    p.rt.process = ProcIdentity::of(pid);
    log_line(&format!("{name}: started, pid {pid}{restart_note}"));
    let exit_tx = tx.clone();
    let exit_name = name.clone();
    tokio::spawn(async move {
        let how = match child.wait().await {
            Ok(s) => describe_exit(&s),
            Err(e) => format!("wait failed: {e}"),
        };
        let _ = exit_tx.send(Event::Exited {
            name: exit_name,
            generation,
            how,
        });
    });
    match p.spec.ready.clone() {
        None => p.rt.phase = ProcPhase::Ready,
        Some(probe) => {
            p.rt.phase = ProcPhase::Starting;
            let ready_tx = tx.clone();
            tokio::spawn(async move {
                let mut last = String::new();
                let t0 = Instant::now();
                while crate::signal::alive(pid) {
                    let r = crate::probe::check(&probe, Duration::from_secs(5)).await;
                    if r.ok {
                        let _ = ready_tx.send(Event::Ready { name, generation });
                        return;
                    }
                    if r.detail != last && t0.elapsed() > Duration::from_secs(10) {
                        log_line(&format!("{name}: not ready yet: {}", r.detail));
                        last = r.detail;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        }
    }
}

fn open_log(spec: &ProcessSpec) -> std::io::Result<(Stdio, Stdio)> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)?;
    let f2 = f.try_clone()?;
    Ok((Stdio::from(f), Stdio::from(f2)))
}

fn handle(procs: &mut [Proc], ev: Event, restart: bool) {
    match ev {
        Event::Ready { name, generation } => {
            if let Some(p) = procs
                .iter_mut()
                .find(|p| p.spec.name == name && p.generation == generation)
            {
                if p.rt.phase == ProcPhase::Starting {
                    p.rt.phase = ProcPhase::Ready;
                    p.rt.since_unix = now_unix();
                    log_line(&format!(
                        "{name}: ready after {:.1}s",
                        p.started.elapsed().as_secs_f64()
                    ));
                }
            }
        }
        Event::Exited {
            name,
            generation,
            how,
        } => {
            let Some(p) = procs
                .iter_mut()
                .find(|p| p.spec.name == name && p.generation == generation)
            else {
                return;
            };
            let ran = p.started.elapsed();
            p.rt.last_exit = Some(how.clone());
            p.rt.process = None;
            p.rt.since_unix = now_unix();
            if ran >= HEALTHY_RUN {
                p.failures = 0;
            }
            p.failures += 1;
            if restart && !p.stopping {
                let delay = backoff(p.failures);
                p.rt.phase = ProcPhase::Backoff;
                p.rt.restarts += 1;
                p.restart_at = Some(Instant::now() + delay);
                let msg = format!(
                    "crashed ({how}) after {:.1}s; restarting in {}s (restart {})",
                    ran.as_secs_f64(),
                    delay.as_secs(),
                    p.rt.restarts
                );
                log_line(&format!("{name}: {msg}"));
                mark(&p.spec, &msg);
            } else {
                p.rt.phase = ProcPhase::Exited;
                let msg = format!("exited ({how}); not restarted (--no-restart)");
                log_line(&format!("{name}: {msg}"));
                mark(&p.spec, &msg);
            }
        }
    }
}

/// SIGTERM to each (in the order given), then waits for its exit, SIGKILL
/// after [`STOP_GRACE`].
async fn stop_all(procs: Vec<Proc>) {
    for p in procs {
        let Some(id) = p.rt.process else { continue };
        if !id.alive() {
            continue;
        }
        log_line(&format!("{}: stopping pid {}", p.spec.name, id.pid));
        mark(&p.spec, "stopping (SIGTERM)");
        crate::signal::terminate(id.pid);
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            if !id.alive() {
                break;
            }
            if Instant::now() >= deadline {
                log_line(&format!(
                    "{}: still running after {}s; SIGKILL",
                    p.spec.name,
                    STOP_GRACE.as_secs()
                ));
                crate::signal::kill9(id.pid);
                break;
            }
            // The waiter task reaps the child; a zombie counts as gone.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let table = [(1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (50, 60)];
        for (failures, secs) in table {
            assert_eq!(backoff(failures), Duration::from_secs(secs), "{failures}");
        }
        assert_eq!(backoff(0), Duration::from_secs(1));
    }

    #[test]
    fn start_order_waits_for_readiness() {
        use ProcPhase::*;
        let phases = [Ready, Starting, Waiting];
        assert!(may_start(&phases, 0));
        assert!(may_start(&phases, 1));
        assert!(!may_start(&phases, 2));
        assert!(may_start(&[Ready, Ready, Waiting], 2));
        assert!(!may_start(&[Backoff, Waiting], 1));
    }

    fn spec(name: &str, arg: &str) -> ProcessSpec {
        ProcessSpec {
            name: name.into(),
            program: "/bin/sleep".into(),
            args: vec![arg.into()],
            env: Default::default(),
            cwd: None,
            log: "/dev/null".into(),
            ready: None,
        }
    }

    #[test]
    fn reload_keeps_unchanged_and_stops_changed_or_removed() {
        let mut procs = vec![new_proc(spec("a", "1")), new_proc(spec("b", "1"))];
        procs[0].rt.phase = ProcPhase::Ready;
        let removed = reload(
            &mut procs,
            vec![spec("a", "1"), spec("b", "2"), spec("c", "1")],
        );
        let names: Vec<_> = procs.iter().map(|p| p.spec.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            procs[0].rt.phase,
            ProcPhase::Ready,
            "unchanged keeps running"
        );
        assert_eq!(procs[1].rt.phase, ProcPhase::Waiting, "changed restarts");
        assert_eq!(removed.len(), 1);
        assert!(removed[0].stopping);
        let removed = reload(&mut procs, vec![spec("a", "1")]);
        assert_eq!(removed.len(), 2);
    }
}
