//! Per-node log lines. Every line a hollow kubelet, proxy or NPD logs about
//! its node carries the tracing fields `node=<name>` and
//! `component=kubelet|proxy|npd`, so one node's lines can be picked out of
//! a hollow-node process's log ([`line_is_for_node`], used by
//! `kubemark logs NODE`). Info lines follow a real kubelet's at default
//! verbosity: registration, lease creation, pods started and deleted,
//! readiness changes, injected problems, proxy syncs (throttled by
//! [`Throttle`]); nothing per heartbeat.

use std::time::{Duration, Instant};

/// `component` field values.
pub const KUBELET: &str = "kubelet";
pub const PROXY: &str = "proxy";
pub const NPD: &str = "npd";

/// How often a hollow proxy logs its synced counts at most (a Load test
/// changes services all the time; thousands of proxies must not flood
/// the log).
pub const PROXY_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Logs at `$level` with the `node` and `component` fields.
macro_rules! node_event {
    ($level:ident, $node:expr, $component:expr, $($arg:tt)+) => {
        ::tracing::$level!(node = %$node, component = %$component, $($arg)+)
    };
}
pub(crate) use node_event;

/// Whether a formatted log line carries the field `node=<node>` as a whole
/// token: `hollow-node-3` does not match `node=hollow-node-30`, nor a
/// field merely ending in `node` (`hollow_node=`), nor the name in the
/// message text. Understands tracing's fmt output with or without ANSI
/// colours, event fields (` node=x`), span fields (`{node=x ...}`) and
/// quoted values (`node="x"`).
pub fn line_is_for_node(line: &str, node: &str) -> bool {
    if node.is_empty() {
        return false;
    }
    let plain;
    let line = if line.contains('\x1b') {
        plain = strip_ansi(line);
        plain.as_str()
    } else {
        line
    };
    const KEY: &str = "node=";
    let mut from = 0;
    while let Some(at) = line[from..].find(KEY) {
        let start = from + at;
        from = start + KEY.len();
        let boundary = line[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | ';'));
        if !boundary {
            continue;
        }
        let rest = &line[from..];
        let value = match rest.strip_prefix('"') {
            Some(q) => q.split('"').next().unwrap_or(""),
            None => rest
                .split(|c: char| c.is_whitespace() || matches!(c, '}' | ',' | ';'))
                .next()
                .unwrap_or(""),
        };
        if value == node {
            return true;
        }
    }
    false
}

/// `line` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.clone().next() == Some('[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Limits a recurring info line to one per `every`: a change is logged at
/// once if the last line is old enough, else remembered and due when the
/// interval ends (so the last state always gets logged).
#[derive(Debug, Clone)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    pending: bool,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            last: None,
            pending: false,
        }
    }

    /// Something changed at `now`: true if it is to be logged now (and is
    /// then counted as logged), false if it waits for [`Throttle::due`].
    pub fn changed(&mut self, now: Instant) -> bool {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.pending = true;
                false
            }
            _ => {
                self.last = Some(now);
                self.pending = false;
                true
            }
        }
    }

    /// When a held-back change is to be logged, if any.
    pub fn due(&self) -> Option<Instant> {
        match (self.pending, self.last) {
            (true, Some(t)) => Some(t + self.every),
            (true, None) => Some(Instant::now()),
            _ => None,
        }
    }

    /// The held-back change was logged at `now`.
    pub fn logged(&mut self, now: Instant) {
        self.last = Some(now);
        self.pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_node_field_tokens_only() {
        let cases = [
            (
                "2026-12-03T16:00:00Z  INFO hollow::kubelet: Successfully registered node node=hollow-node-3 component=kubelet",
                "hollow-node-3",
                true,
            ),
            (
                "INFO hollow::kubelet: Successfully registered node node=hollow-node-30 component=kubelet",
                "hollow-node-3",
                false,
            ),
            (
                "INFO hollow::kubelet: pod started node=hollow-node-3",
                "hollow-node-30",
                false,
            ),
            ("INFO x: y node=hollow-node-3", "hollow-node-3", true),
            ("INFO x: y node=\"hollow-node-3\" a=b", "hollow-node-3", true),
            ("INFO x: y node=\"hollow-node-30\"", "hollow-node-3", false),
            (
                "INFO kubelet{node=hollow-node-3 component=kubelet}: hollow: synced",
                "hollow-node-3",
                true,
            ),
            ("INFO s{node=hollow-node-3}: m", "hollow-node-3", true),
            ("INFO s{a=1,node=hollow-node-3,b=2}: m", "hollow-node-3", true),
            (
                "INFO x: registered node hollow-node-3",
                "hollow-node-3",
                false,
            ),
            ("INFO x: m hollow_node=hollow-node-3", "hollow-node-3", false),
            ("INFO x: m nodes=hollow-node-3", "hollow-node-3", false),
            (
                "INFO x: m other=node=hollow-node-3",
                "hollow-node-3",
                false,
            ),
            (
                "INFO x: m pod=default/p node=hollow-node-30 node=hollow-node-3",
                "hollow-node-3",
                true,
            ),
            (
                "\x1b[32m INFO\x1b[0m \x1b[2mhollow::kubelet\x1b[0m\x1b[2m:\x1b[0m pod started \x1b[3mnode\x1b[0m\x1b[2m=\x1b[0mhollow-node-3 \x1b[3mcomponent\x1b[0m\x1b[2m=\x1b[0mkubelet",
                "hollow-node-3",
                true,
            ),
            ("node=", "", false),
            ("", "hollow-node-3", false),
            ("node=hollow-node-3", "hollow-node-3", true),
            ("node=solo", "solo", true),
        ];
        for (line, node, want) in cases {
            assert_eq!(line_is_for_node(line, node), want, "{node} in {line:?}");
        }
    }

    #[test]
    fn throttle_logs_at_once_then_holds_back_the_rest() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Throttle::new(s(60));
        assert_eq!(t.due(), None);
        assert!(t.changed(t0), "the first change is logged");
        assert!(!t.changed(t0 + s(1)));
        assert!(!t.changed(t0 + s(30)));
        assert_eq!(t.due(), Some(t0 + s(60)));
        t.logged(t0 + s(60));
        assert_eq!(t.due(), None);
        assert!(!t.changed(t0 + s(100)));
        assert!(t.changed(t0 + s(121)), "a whole interval later");
        assert_eq!(t.due(), None);
    }
}
