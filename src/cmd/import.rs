//! `bantin import`: files and folders into the store, one transaction,
//! streamed: records are read on one thread and written on this one as
//! they come, so memory does not grow with the files. On a terminal, a
//! progress line on stderr.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{err, out};
use crate::config::StoreUrl;
use crate::import::progress::Progress;
use crate::limits::SiteLimits;

/// Import `paths`; bad records (those over `limits` included) are reported
/// as `FILE:LINE: reason`. Without `strict` the good ones are still
/// written; with it nothing is: the transaction is dropped at the first bad
/// record, and the rest is only read, to report every bad record. A report
/// that can't be written (stderr closed or full) ends the command with
/// nothing written: nobody could see what was rejected.
pub fn import(
    url: &StoreUrl,
    limits: &SiteLimits,
    strict: bool,
    paths: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let store = super::open_store(url)?;
    let mut writer = Some(store.writer()?);
    let reading = crate::import::read_in_background(paths.to_vec(), *limits)?;
    let mut progress = Progress::on_terminal();
    let (mut good, mut bad) = (0u64, 0u64);
    while let Some(record) = reading.next() {
        match record {
            Ok(article) => {
                good += 1;
                if let Some(w) = writer.as_mut() {
                    w.put(&article)?;
                }
            }
            Err(rejected) => {
                bad += 1;
                progress.clear();
                err(&rejected)?;
                if strict {
                    // Rolled back now, not at the end: a writer holds the
                    // store's write lock.
                    writer = None;
                }
            }
        }
        progress.tick(good, bad);
    }
    reading.finish().map_err(anyhow::Error::msg)?;
    let Some(writer) = writer.filter(|_| !(strict && bad > 0)) else {
        progress.clear();
        out(format_args!(
            "imported 0, rejected {bad} (--strict: nothing written)"
        ))?;
        return Ok(super::failed());
    };
    progress.state(good, bad, "committing");
    writer.commit()?;
    progress.clear();
    out(format_args!("imported {good}, rejected {bad}"))?;
    Ok(if bad > 0 {
        super::failed()
    } else {
        ExitCode::SUCCESS
    })
}
