//! A Linux process's CPU time and resident memory, read from `/proc`: the
//! parsers are pure; [`sample`] does the reading.

use std::str::FromStr;

/// Clock ticks per second of `/proc` CPU times (USER_HZ: 100 on Linux for
/// every architecture we run on).
pub const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Bytes per page of the `rss` field of `/proc/<pid>/stat` (x86_64).
pub const PAGE_SIZE: u64 = 4096;

/// The fields of `/proc/<pid>/stat`, numbered as in proc(5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatFields<'a> {
    /// Fields 3 onwards: the command name (field 2) may hold spaces and
    /// parentheses, so they start after its last `)`.
    after_comm: Vec<&'a str>,
}

impl<'a> StatFields<'a> {
    pub fn parse(stat: &'a str) -> Option<StatFields<'a>> {
        let rest = stat.get(stat.rfind(')')? + 1..)?;
        Some(StatFields {
            after_comm: rest.split_whitespace().collect(),
        })
    }

    /// Field `n` (3 = state, 14 = utime, ...), parsed.
    pub fn get<T: FromStr>(&self, n: usize) -> Option<T> {
        self.after_comm.get(n.checked_sub(3)?)?.parse().ok()
    }

    /// utime + stime (fields 14 and 15), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let utime: u64 = self.get(14)?;
        let stime: u64 = self.get(15)?;
        Some(utime.saturating_add(stime) as f64 / CLOCK_TICKS_PER_SECOND)
    }
}

/// utime + stime of `/proc/<pid>/stat`, in seconds.
pub fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    StatFields::parse(stat)?.cpu_seconds()
}

/// `VmRSS:   1234 kB` of `/proc/<pid>/status`, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    let factor = match words.next().unwrap_or("kB") {
        "kB" | "KB" => 1024,
        "mB" | "MB" => 1024 * 1024,
        "B" => 1,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Resident memory and cumulative CPU time of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no {what} in it")]
    Malformed { path: String, what: &'static str },
}

/// Samples process `pid` (a number, or `self`).
pub fn sample(pid: &str) -> Result<Sample, ProcError> {
    let read = |file: &str| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::read_to_string(&path)
            .map(|text| (text, path.clone()))
            .map_err(|source| ProcError::Read { path, source })
    };
    let (status, status_path) = read("status")?;
    let (stat, stat_path) = read("stat")?;
    Ok(Sample {
        rss_bytes: parse_vm_rss(&status).ok_or(ProcError::Malformed {
            path: status_path,
            what: "VmRSS",
        })?,
        cpu_seconds: parse_cpu_seconds(&stat).ok_or(ProcError::Malformed {
            path: stat_path,
            what: "utime/stime",
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_follow_the_last_parenthesis() {
        for (stat, secs) in [
            (
                "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0",
                3.0,
            ),
            (
                "4242 (kube mark) ) R 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 8 0 100 1000 50 0",
                4.0,
            ),
        ] {
            assert_eq!(parse_cpu_seconds(stat), Some(secs), "{stat}");
        }
        for bad in [
            "",
            "garbage",
            "1 (x) R 1 2",
            "1 (x) S 1 2 3 4 5 6 7 8 9 10 u s",
        ] {
            assert_eq!(parse_cpu_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fields_by_their_proc5_number() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 4 0 1000 123456789 2560 18446744073709551615";
        let f = StatFields::parse(stat).unwrap_or_else(|| panic!("{stat}"));
        assert_eq!(f.get::<String>(3).as_deref(), Some("S"));
        assert_eq!(f.get::<u64>(22), Some(1000));
        assert_eq!(f.get::<u64>(24), Some(2560));
        assert_eq!(f.get::<u64>(2), None);
        assert_eq!(f.get::<u64>(99), None);
        assert_eq!(f.cpu_seconds(), Some(3.0));
    }

    #[test]
    fn vm_rss_in_bytes() {
        let status = "Name:\tkubemark\nVmPeak:\t  100 kB\nVmRSS:\t    2048 kB\nThreads: 3\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
        assert_eq!(parse_vm_rss("VmRSS:\t2 MB\n"), Some(2 * 1024 * 1024));
        assert_eq!(parse_vm_rss("VmRSS:\t2048\n"), Some(2048 * 1024));
        for bad in [
            "",
            "nothing",
            "VmRSS:",
            "VmRSS:\tlots kB",
            "VmRSS:\t1 parsecs",
            "Name: x",
        ] {
            assert_eq!(parse_vm_rss(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn samples_this_process() {
        let s = sample("self").unwrap_or_else(|e| panic!("{e}"));
        assert!(s.rss_bytes > 0);
        assert!(s.cpu_seconds >= 0.0);
        let err = sample("0").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("/proc/0/status"), "{err}");
    }
}
