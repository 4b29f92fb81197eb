//! `bantin remove`: articles out of the store.

use std::process::ExitCode;

use super::output::{err, out};
use crate::config::StoreUrl;

/// Remove `ids`; unknown ids are reported and make the exit code 1, the
/// others are removed all the same.
pub fn remove(url: &StoreUrl, ids: &[String]) -> anyhow::Result<ExitCode> {
    let store = super::open_store(url)?;
    let missing = store.remove(ids)?;
    for id in &missing {
        err(format_args!("{id}: no article with this id"))?;
    }
    out(format_args!(
        "removed {}, unknown {}",
        ids.len().saturating_sub(missing.len()),
        missing.len()
    ))?;
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        super::failed()
    })
}
