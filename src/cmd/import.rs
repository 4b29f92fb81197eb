//! `bantin import`: files and folders into the store, one transaction.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::process::ExitCode;

use super::output::{err, out};
use crate::config::StoreUrl;
use crate::limits::SiteLimits;

/// Import `paths`; bad records (those over `limits` included) are reported
/// as `FILE:LINE: reason`. Without `strict` the good ones are still
/// written; with it nothing is. A report that can't be written (stderr
/// closed or full) ends the command before anything is written: nobody
/// could see what was rejected.
pub fn import(
    url: &StoreUrl,
    limits: &SiteLimits,
    strict: bool,
    paths: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let store = super::open_store(url)?;
    let batch = crate::import::read_paths_with(paths, limits);
    for r in &batch.rejected {
        err(r)?;
    }
    let (good, bad) = (batch.articles.len(), batch.rejected.len());
    if strict && bad > 0 {
        out(format_args!(
            "imported 0, rejected {bad} (--strict: nothing written)"
        ))?;
        return Ok(super::failed());
    }
    store.upsert(&batch.articles)?;
    out(format_args!("imported {good}, rejected {bad}"))?;
    Ok(if bad > 0 {
        super::failed()
    } else {
        ExitCode::SUCCESS
    })
}
