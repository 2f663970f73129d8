//! Progress of long phases: live `indicatif` bars (one per phase, stacked
//! when phases overlap, with rate and ETA) when stdout is a terminal;
//! plain periodic lines otherwise (logs, CI).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live bars on the terminal (stdout is a terminal).
    Bar,
    /// A line every `LINE_INTERVAL` and at the end.
    Lines,
}

impl Mode {
    pub fn detect() -> Mode {
        if std::io::stdout().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

const LINE_INTERVAL: Duration = Duration::from_secs(10);
const BAR_WIDTH: usize = 30;

/// One phase's progress toward `total` units (pods, nodes, objects).
pub struct Progress {
    label: String,
    unit: &'static str,
    total: usize,
    started: Instant,
    out: Output,
}

enum Output {
    Bar(ProgressBar),
    Lines {
        last_line: Option<Instant>,
        sink: Box<dyn Write + Send>,
    },
}

/// A plain progress line (pure): `saturation pods Running: 120/3000 pods  45.2/s  12s`
/// (units so far per second of the whole phase, then its seconds).
pub fn line(label: &str, unit: &str, done: usize, total: usize, elapsed: Duration) -> String {
    format!(
        "{label}: {done}/{total} {unit}  {}  {}s",
        rate(done as f64, elapsed),
        elapsed.as_secs()
    )
}

/// A finished phase on the terminal (pure): the plain line behind its bar,
/// `[#####.....] label: 120/3000 pods  45.2/s  12s done`.
pub fn final_bar_line(
    label: &str,
    unit: &str,
    done: usize,
    total: usize,
    elapsed: Duration,
    note: &str,
) -> String {
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    };
    let filled = ((frac * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    format!(
        "[{}{}] {} {note}",
        "#".repeat(filled),
        ".".repeat(BAR_WIDTH - filled),
        line(label, unit, done, total, elapsed)
    )
}

fn rate(done: f64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let r = if secs > 0.0 { done / secs } else { 0.0 };
    format!("{r:.1}/s")
}

/// Whether a plain line is due at `now` (pure): the first after one
/// interval (short phases print only their final line), then one per
/// interval.
fn line_due(started: Instant, last_line: Option<Instant>, now: Instant) -> bool {
    now.duration_since(last_line.unwrap_or(started)) >= LINE_INTERVAL
}

/// Stdout through `print!`, so that test harnesses capture progress lines
/// like any other output.
struct PrintStdout;

impl Write for PrintStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        print!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// All bars of this process share one `MultiProgress`, so phases that run
/// at the same time stack instead of overwriting each other's line.
fn terminal() -> &'static MultiProgress {
    static TERMINAL: OnceLock<MultiProgress> = OnceLock::new();
    TERMINAL.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()))
}

/// The live bar's template: the plain line's fields behind a bar, with the
/// recent rate and the ETA.
fn bar_template(unit: &str) -> String {
    // The unit is one of our own constant words; escape braces anyway.
    let unit = unit.replace('{', "{{").replace('}', "}}");
    format!(
        "[{{bar:{BAR_WIDTH}}}] {{prefix}}: {{pos}}/{{len}} {unit}  {{rate}}  {{secs}}  ETA {{eta}}"
    )
}

fn bar_style(unit: &str) -> ProgressStyle {
    ProgressStyle::with_template(&bar_template(unit))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("##.")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            // The first moments' estimate is noise (thousands per second).
            if s.elapsed() < Duration::from_secs(1) {
                let _ = w.write_str("-/s");
            } else {
                let _ = write!(w, "{:.1}/s", s.per_sec());
            }
        })
        .with_key("secs", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}s", s.elapsed().as_secs());
        })
}

impl Progress {
    pub fn new(mode: Mode, label: &str, unit: &'static str, total: usize) -> Progress {
        let out = match mode {
            Mode::Bar => {
                let bar = ProgressBar::new(total as u64)
                    .with_style(bar_style(unit))
                    .with_prefix(label.to_string());
                Output::Bar(terminal().add(bar))
            }
            Mode::Lines => Output::Lines {
                last_line: None,
                sink: Box::new(PrintStdout),
            },
        };
        Progress {
            label: label.to_string(),
            unit,
            total,
            started: Instant::now(),
            out,
        }
    }

    /// Plain lines into `sink` instead of stdout.
    pub fn lines_to(
        sink: Box<dyn Write + Send>,
        label: &str,
        unit: &'static str,
        total: usize,
    ) -> Progress {
        Progress {
            label: label.to_string(),
            unit,
            total,
            started: Instant::now(),
            out: Output::Lines {
                last_line: None,
                sink,
            },
        }
    }

    /// Reports `done` units; draws when due.
    pub fn update(&mut self, done: usize) {
        self.update_at(done, Instant::now());
    }

    fn update_at(&mut self, done: usize, now: Instant) {
        match &mut self.out {
            // indicatif limits how often it redraws.
            Output::Bar(bar) => bar.set_position(done as u64),
            Output::Lines { last_line, sink } => {
                if line_due(self.started, *last_line, now) {
                    let text = line(
                        &self.label,
                        self.unit,
                        done,
                        self.total,
                        now.duration_since(self.started),
                    );
                    // Progress output is best effort: a closed stdout must
                    // not fail the run.
                    let _ = writeln!(sink, "{text}");
                    *last_line = Some(now);
                }
            }
        }
    }

    /// The final state, always shown, with `note` ("done", "TIMED OUT").
    pub fn finish(&mut self, done: usize, note: &str) {
        self.finish_at(done, note, Instant::now());
    }

    fn finish_at(&mut self, done: usize, note: &str, now: Instant) {
        match &mut self.out {
            Output::Bar(bar) => {
                // The finished phase becomes an ordinary line above the
                // bars still running, so later output starts on a new line.
                bar.finish_and_clear();
                let text = final_bar_line(
                    &self.label,
                    self.unit,
                    done,
                    self.total,
                    now.duration_since(self.started),
                    note,
                );
                // Printed while the bars are lifted, with its own newline
                // (MultiProgress::println leaves the cursor on the line).
                terminal().suspend(|| println!("{text}"));
            }
            Output::Lines { sink, .. } => {
                let text = line(
                    &self.label,
                    self.unit,
                    done,
                    self.total,
                    now.duration_since(self.started),
                );
                let _ = writeln!(sink, "{text} {note}");
                let _ = sink.flush();
            }
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A phase that ended without `finish` (e.g. its task was aborted)
        // leaves its last state rather than a bar redrawn forever.
        let unfinished = match &self.out {
            Output::Bar(bar) => (!bar.is_finished()).then(|| bar.position()),
            Output::Lines { .. } => None,
        };
        if let Some(pos) = unfinished {
            let done = usize::try_from(pos).unwrap_or(usize::MAX);
            self.finish(done, "stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn line_text() {
        let cases = [
            (
                ("saturation pods Running", "pods", 15, 30, 3.0),
                "saturation pods Running: 15/30 pods  5.0/s  3s",
            ),
            (
                ("nodes Ready", "nodes", 0, 0, 0.0),
                "nodes Ready: 0/0 nodes  0.0/s  0s",
            ),
            (
                ("creating namespaces", "objects", 7, 10, 2.5),
                "creating namespaces: 7/10 objects  2.8/s  2s",
            ),
        ];
        for ((label, unit, done, total, secs), want) in cases {
            assert_eq!(
                line(label, unit, done, total, Duration::from_secs_f64(secs)),
                want
            );
        }
    }

    #[test]
    fn plain_lines_every_interval_and_at_the_end() {
        let buf = Buf::default();
        let mut p = Progress::lines_to(Box::new(buf.clone()), "latency pods Running", "pods", 40);
        let t0 = p.started;
        p.update_at(1, t0 + Duration::from_secs(1));
        p.update_at(5, t0 + Duration::from_secs(9));
        assert_eq!(buf.text(), "", "nothing before the first interval");
        p.update_at(10, t0 + Duration::from_secs(10));
        p.update_at(12, t0 + Duration::from_secs(15));
        p.update_at(30, t0 + Duration::from_secs(20));
        p.finish_at(40, "done", t0 + Duration::from_secs(25));
        assert_eq!(
            buf.text(),
            "latency pods Running: 10/40 pods  1.0/s  10s\n\
             latency pods Running: 30/40 pods  1.5/s  20s\n\
             latency pods Running: 40/40 pods  1.6/s  25s done\n"
        );
    }

    #[test]
    fn a_short_phase_prints_only_its_final_line() {
        let buf = Buf::default();
        let mut p = Progress::lines_to(Box::new(buf.clone()), "namespaces gone", "namespaces", 3);
        let t0 = p.started;
        p.update_at(1, t0 + Duration::from_millis(300));
        p.finish_at(2, "TIMED OUT", t0 + Duration::from_secs(2));
        assert_eq!(
            buf.text(),
            "namespaces gone: 2/3 namespaces  1.0/s  2s TIMED OUT\n"
        );
    }

    #[test]
    fn final_bar_line_text() {
        let cases = [
            (
                ("saturation pods Running", "pods", 15, 30, 3, "done"),
                "[###############...............] saturation pods Running: 15/30 pods  5.0/s  3s done",
            ),
            (
                ("namespaces gone", "namespaces", 0, 0, 0, "done"),
                "[##############################] namespaces gone: 0/0 namespaces  0.0/s  0s done",
            ),
            (
                ("x", "pods", 50, 10, 1, "TIMED OUT"),
                "[##############################] x: 50/10 pods  50.0/s  1s TIMED OUT",
            ),
        ];
        for ((label, unit, done, total, secs, note), want) in cases {
            assert_eq!(
                final_bar_line(label, unit, done, total, Duration::from_secs(secs), note),
                want
            );
        }
    }

    #[test]
    fn bar_templates_parse() {
        for unit in ["pods", "objects", "{odd}"] {
            let t = bar_template(unit);
            assert!(ProgressStyle::with_template(&t).is_ok(), "{t}");
            assert!(t.starts_with("[{bar:30}] {prefix}: {pos}/{len} "), "{t}");
            assert!(t.ends_with("{rate}  {secs}  ETA {eta}"), "{t}");
        }
    }
}
