//! Progress of long phases: a redrawn bar when stdout is a terminal,
//! periodic lines otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redraw one line in place (stdout is a terminal).
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

const BAR_INTERVAL: Duration = Duration::from_millis(200);
const LINE_INTERVAL: Duration = Duration::from_secs(10);
const BAR_WIDTH: usize = 30;

/// One phase's progress toward `total` units (pods, nodes, objects).
pub struct Progress {
    mode: Mode,
    label: String,
    unit: &'static str,
    total: usize,
    started: Instant,
    last_draw: Option<Instant>,
    drawn_any: bool,
}

/// The progress text (pure): `[#####.....] 120/3000 pods Running  45.2/s  12s`.
pub fn render(
    label: &str,
    unit: &str,
    done: usize,
    total: usize,
    elapsed: Duration,
    bar: bool,
) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).clamp(0.0, 1.0)
    };
    let mut s = String::new();
    if bar {
        let filled = (frac * BAR_WIDTH as f64).round() as usize;
        s.push('[');
        s.push_str(&"#".repeat(filled));
        s.push_str(&".".repeat(BAR_WIDTH - filled));
        s.push_str("] ");
    }
    s.push_str(&format!(
        "{label}: {done}/{total} {unit}  {rate:.1}/s  {}s",
        elapsed.as_secs()
    ));
    s
}

impl Progress {
    pub fn new(mode: Mode, label: &str, unit: &'static str, total: usize) -> Progress {
        Progress {
            mode,
            label: label.to_string(),
            unit,
            total,
            started: Instant::now(),
            last_draw: None,
            drawn_any: false,
        }
    }

    /// Reports `done` units; draws when due.
    pub fn update(&mut self, done: usize) {
        let now = Instant::now();
        let interval = match self.mode {
            Mode::Bar => BAR_INTERVAL,
            Mode::Lines => LINE_INTERVAL,
        };
        let due = match self.last_draw {
            None => self.mode == Mode::Bar || now.duration_since(self.started) >= interval,
            Some(t) => now.duration_since(t) >= interval,
        };
        if due {
            self.draw(done);
            self.last_draw = Some(now);
        }
    }

    fn draw(&mut self, done: usize) {
        let text = render(
            &self.label,
            self.unit,
            done,
            self.total,
            self.started.elapsed(),
            self.mode == Mode::Bar,
        );
        match self.mode {
            Mode::Bar => {
                // \x1b[K clears what a longer previous line left behind.
                print!("\r{text}\x1b[K");
                let _ = std::io::stdout().flush();
            }
            Mode::Lines => println!("{text}"),
        }
        self.drawn_any = true;
    }

    /// The final state, always printed, ending the line.
    pub fn finish(&mut self, done: usize, note: &str) {
        let text = render(
            &self.label,
            self.unit,
            done,
            self.total,
            self.started.elapsed(),
            self.mode == Mode::Bar,
        );
        match self.mode {
            Mode::Bar => println!("\r{text} {note}\x1b[K"),
            Mode::Lines => println!("{text} {note}"),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_text() {
        assert_eq!(
            render(
                "saturation pods Running",
                "pods",
                15,
                30,
                Duration::from_secs(3),
                true
            ),
            "[###############...............] saturation pods Running: 15/30 pods  5.0/s  3s"
        );
        assert_eq!(
            render("nodes Ready", "nodes", 0, 0, Duration::ZERO, false),
            "nodes Ready: 0/0 nodes  0.0/s  0s"
        );
        assert!(render("x", "pods", 50, 10, Duration::from_secs(1), true)
            .starts_with(&format!("[{}]", "#".repeat(30))));
    }
}
