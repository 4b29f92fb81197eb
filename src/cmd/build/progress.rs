//! The progress line of `bantin build` on a terminal: documents (a file
//! per format, siblings aside) so far of all, their rate, and the bytes
//! written, redrawn once a second on
//! stderr, and left as the last line when the build ends. Not on a
//! terminal (a cron job, a CI log) it writes nothing: the summary on
//! stdout says what was done.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::output::Output;

/// How often the line is redrawn.
const EVERY: Duration = Duration::from_secs(1);

/// Documents done of all, for the line.
pub(super) struct Progress<'a> {
    total: usize,
    done: AtomicUsize,
    began: Instant,
    output: &'a Output,
    /// When the line was last drawn; `None` when stderr is not a terminal.
    /// The worker that finishes a document redraws it when it is due: no
    /// thread of its own, and no line while nothing moves.
    drawn: Option<Mutex<Instant>>,
}

impl<'a> Progress<'a> {
    /// Count `total` documents written to `output`, drawing the line if
    /// stderr is a terminal.
    pub(super) fn start(total: usize, output: &'a Output) -> Progress<'a> {
        let began = Instant::now();
        Progress {
            total,
            done: AtomicUsize::new(0),
            began,
            output,
            drawn: std::io::stderr().is_terminal().then(|| Mutex::new(began)),
        }
    }

    /// `n` more documents done.
    pub(super) fn done(&self, n: usize) {
        self.done.fetch_add(n, Ordering::Relaxed);
        let Some(drawn) = &self.drawn else {
            return;
        };
        // Another worker drawing now is as good.
        let Ok(mut last) = drawn.try_lock() else {
            return;
        };
        if last.elapsed() >= EVERY {
            *last = Instant::now();
            let _ = write!(std::io::stderr(), "\r\x1b[K{}", self.line());
        }
    }

    /// The line as of now.
    fn line(&self) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.began.elapsed().as_secs_f64().max(0.001);
        format!(
            "build: {} of {} documents, {} a second, {} written",
            thousands(done as u64),
            thousands(self.total as u64),
            thousands((done as f64 / secs).round() as u64),
            bytes(self.output.bytes_written()),
        )
    }

    /// Leave the last line, on a terminal.
    pub(super) fn finish(&self) {
        if self.drawn.is_some() {
            let _ = writeln!(std::io::stderr(), "\r\x1b[K{}", self.line());
        }
    }
}

/// `n` with a comma every three digits.
fn thousands(n: u64) -> String {
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

/// A byte count in B, KB, MB or GB (powers of 1000, one decimal).
fn bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} KB", n / 1e3),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(128_016), "128,016");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2_300_000_000), "2.3 GB");
    }
}
