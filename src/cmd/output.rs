//! A command's lines on stdout and stderr, written so that a closed or full
//! stream ends the command instead of panicking. `println!` and `eprintln!`
//! panic on any write error, and Rust ignores SIGPIPE, so `bantin check |
//! head -0` (EPIPE) or `bantin import … >/dev/full` (ENOSPC) would otherwise
//! end in a panic and exit 101. Here the error comes back with the stream's
//! name; `main` then reports it on one line, if stderr still works.

use std::fmt::Display;
use std::io::Write;

use anyhow::Context;

/// Write `line` and a newline to stdout, and flush it.
pub(crate) fn out(line: impl Display) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .context("writing to stdout")
}

/// Write `line` and a newline to stderr (unbuffered).
pub(crate) fn err(line: impl Display) -> anyhow::Result<()> {
    writeln!(std::io::stderr().lock(), "{line}").context("writing to stderr")
}
