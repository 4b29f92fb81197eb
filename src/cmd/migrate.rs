//! `bantin migrate`: bring the store's schema up to date and say what was
//! applied; then make the site file's limits the ones the store holds a
//! CMS's rows to (as `serve` does when it starts). The read-only commands
//! do neither, and send here when the schema is behind.

use std::path::Path;
use std::process::ExitCode;

use super::output::out;
use crate::config::StoreUrl;
use crate::store::Access;

/// Apply pending migrations (creating the store if needed) and name them;
/// adopt the site file's limits when there is one (`given`, or the default
/// file exists).
pub fn migrate(url: &StoreUrl, site: &Path, given: bool) -> anyhow::Result<ExitCode> {
    let (store, applied) = super::open_as(url, crate::store::CLI_READERS, Access::Migrate)?;
    if applied.is_empty() {
        out(format_args!(
            "{url}: no migration to apply: the schema is up to date"
        ))?;
    } else {
        out(format_args!("{url}: applied {}", applied.join(", ")))?;
    }
    if given || site.exists() {
        let site_file = super::load_site(site)?;
        if store.adopt_limits(&site_file.limits)? {
            out(format_args!(
                "{url}: adopted the limits of {} for rows a CMS writes",
                site.display()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
