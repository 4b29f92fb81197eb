//! `bantin stats`: the audience `bantin serve` counted (SPEC "Audience"),
//! as a table on stdout: each feed's total and its count per fetcher,
//! biggest first; with `--readers`, how each fetcher polled over 24 hours.
//! It only reads the store.

use std::io::Write;
use std::process::ExitCode;

use crate::config::StoreUrl;

/// Print the audience table, or the reader report.
pub fn stats(url: &StoreUrl, readers: bool) -> anyhow::Result<ExitCode> {
    let store = super::open_read_only(url)?;
    let now = chrono::Utc::now();
    let text = if readers {
        crate::audience::report::readers_table(&store.reader_report(now)?)
    } else {
        crate::audience::report::stats_table(&store.audience(now)?)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}
