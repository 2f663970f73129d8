//! Signals to processes by pid, and telling whether a recorded pid is still
//! the process that was recorded (pids are reused): a process is identified
//! by its pid plus its start time (field 22 of `/proc/<pid>/stat`).

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// SIGTERM; false when there is no such process.
pub fn terminate(pid: u32) -> bool {
    pid_of(pid).is_some_and(|p| kill(p, Signal::SIGTERM).is_ok())
}

/// SIGKILL; false when there is no such process.
pub fn kill9(pid: u32) -> bool {
    pid_of(pid).is_some_and(|p| kill(p, Signal::SIGKILL).is_ok())
}

/// SIGHUP; false when there is no such process.
pub fn hangup(pid: u32) -> bool {
    pid_of(pid).is_some_and(|p| kill(p, Signal::SIGHUP).is_ok())
}

/// Whether a process with this pid exists (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => procstat::StatFields::parse(&stat)
            .and_then(|f| f.get::<String>(3))
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The start time of a process (clock ticks since boot), which together
/// with its pid identifies it.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    procstat::StatFields::parse(&stat)?.get(22)
}

/// Whether `pid` is still the process that started at `ticks`.
pub fn same_process(pid: u32, ticks: u64) -> bool {
    alive(pid) && start_ticks(pid) == Some(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_identified() {
        let me = std::process::id();
        assert!(alive(me));
        let t = start_ticks(me).unwrap();
        assert!(same_process(me, t));
        assert!(!same_process(me, t + 1));
        assert!(!alive(u32::MAX));
        assert!(
            !terminate(0),
            "pid 0 is never signalled (the process group)"
        );
    }

    #[test]
    fn a_reaped_child_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(alive(pid));
        assert!(terminate(pid));
        child.wait().unwrap();
        assert!(!alive(pid));
    }
}
