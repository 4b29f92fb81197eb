//! `bantin import`: files and folders into the store, one transaction.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::StoreUrl;

/// Import `paths`; bad records are reported as `FILE:LINE: reason`. Without
/// `strict` the good ones are still written; with it nothing is.
pub fn import(url: &StoreUrl, strict: bool, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let store = super::open_store(url)?;
    let batch = crate::import::read_paths(paths);
    for r in &batch.rejected {
        eprintln!("{r}");
    }
    let (good, bad) = (batch.articles.len(), batch.rejected.len());
    if strict && bad > 0 {
        println!("imported 0, rejected {bad} (--strict: nothing written)");
        return Ok(super::failed());
    }
    store.upsert(&batch.articles)?;
    println!("imported {good}, rejected {bad}");
    Ok(if bad > 0 {
        super::failed()
    } else {
        ExitCode::SUCCESS
    })
}
