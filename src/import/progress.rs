//! The progress line of a long import: on a terminal only, one line on
//! stderr rewritten in place (records so far, rate, rejected), at most
//! [`EVERY`] apart. Anything else written to stderr meanwhile (a rejected
//! record) first clears the line, so reports never mix with it; the summary
//! line at the end goes to stdout as always. When stderr is not a terminal
//! (a pipe, a file, a test) nothing is drawn: logs stay as they were.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Shortest time between two drawings: a few a second is enough to read,
/// and costs nothing against the import.
pub const EVERY: Duration = Duration::from_millis(250);

/// Back to the start of the line and erase it (ECMA-48 CR, EL).
const ERASE: &str = "\r\x1b[K";

/// The progress line's state.
pub struct Progress {
    shown: bool,
    on: bool,
    started: Instant,
    drawn: Instant,
}

impl Progress {
    /// A progress line, drawn only if stderr is a terminal.
    pub fn on_terminal() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// A progress line drawn if `on`.
    pub fn new(on: bool) -> Progress {
        let now = Instant::now();
        Progress {
            shown: false,
            on,
            started: now,
            drawn: now,
        }
    }

    /// Redraw the line, if the last drawing is old enough.
    pub fn tick(&mut self, records: u64, rejected: u64) {
        if !self.on || self.drawn.elapsed() < EVERY {
            return;
        }
        self.draw(&line(records, rejected, self.started.elapsed()));
    }

    /// Say what happens now that no record comes any more (the commit can
    /// take a while on a big import).
    pub fn state(&mut self, records: u64, rejected: u64, doing: &str) {
        if self.on {
            let text = line(records, rejected, self.started.elapsed());
            self.draw(&format!("{text}; {doing}"));
        }
    }

    /// Erase the line, before anything else is written to the terminal.
    pub fn clear(&mut self) {
        if self.shown {
            // A terminal that can't be written to: nothing to erase.
            let _ = std::io::stderr().lock().write_all(ERASE.as_bytes());
            self.shown = false;
        }
    }

    fn draw(&mut self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        // Progress is a courtesy: a failed drawing is not worth stopping
        // an import for (a report that can't be written is, elsewhere).
        let _ = write!(stderr, "{ERASE}{text}").and_then(|()| stderr.flush());
        self.shown = true;
        self.drawn = Instant::now();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// `importing: 412,345 records (51,234/s), 2 rejected`.
pub fn line(records: u64, rejected: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (records as f64 / secs) as u64
    } else {
        0
    };
    format!(
        "importing: {} records ({}/s), {} rejected",
        grouped(records),
        grouped(rate),
        grouped(rejected)
    )
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_records_rate_and_rejected() {
        assert_eq!(
            line(1_234_567, 2, Duration::from_secs(10)),
            "importing: 1,234,567 records (123,456/s), 2 rejected"
        );
        assert_eq!(
            line(0, 0, Duration::ZERO),
            "importing: 0 records (0/s), 0 rejected"
        );
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
    }

    #[test]
    fn off_the_terminal_nothing_is_drawn() {
        let mut p = Progress::new(false);
        p.drawn = Instant::now() - EVERY * 2;
        p.tick(10, 0);
        p.state(10, 0, "committing");
        assert!(!p.shown);
    }
}
