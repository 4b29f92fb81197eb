//! `bantin remove`: articles out of the store.

use std::process::ExitCode;

use crate::config::StoreUrl;

/// Remove `ids`; unknown ids are reported and make the exit code 1, the
/// others are removed all the same.
pub fn remove(url: &StoreUrl, ids: &[String]) -> anyhow::Result<ExitCode> {
    let store = super::open_store(url)?;
    let missing = store.remove(ids)?;
    for id in &missing {
        eprintln!("{id}: no article with this id");
    }
    println!(
        "removed {}, unknown {}",
        ids.len() - missing.len(),
        missing.len()
    );
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        super::failed()
    })
}
