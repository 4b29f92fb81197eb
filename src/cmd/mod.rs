//! One function per subcommand. Each returns the process's exit code;
//! errors that end a command early come back as `anyhow` chains.

mod build;
mod check;
mod dump;
mod import;
mod manual;
mod migrate;
pub(crate) mod output;
mod remove;
mod serve;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::article::FeedKey;
use crate::cli::{Cli, Command};
use crate::config::{DEFAULT_SITE, Site, StoreUrl};
use crate::limits::SiteLimits;
use crate::store::{Access, Store, StoreError};

pub use build::build;
pub use check::check;
pub use dump::dump;
pub use import::import;
pub use migrate::migrate;
pub use remove::remove;
pub use serve::serve;
pub use stats::stats;

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let store_url = StoreUrl::parse(&cli.store)?;
    let site_given = cli.site.is_some();
    let site = cli.site.unwrap_or_else(|| PathBuf::from(DEFAULT_SITE));
    match cli.command {
        Command::Serve { listen } => serve(&store_url, &site, listen, cli.log_format),
        Command::Import { strict, paths } => {
            let limits = import_limits(&site, site_given)?;
            import(&store_url, &limits, strict, &paths)
        }
        Command::Remove { ids } => remove(&store_url, &ids),
        Command::Dump {
            category,
            region,
            author,
            format,
            limit,
        } => dump(
            &store_url,
            &site,
            match (category, region, author) {
                (_, _, Some(a)) => FeedKey::Author(a),
                (None, None, None) => FeedKey::All,
                (Some(c), None, None) => FeedKey::Category(c),
                (None, Some(r), None) => FeedKey::Region(r),
                (Some(c), Some(r), None) => FeedKey::CategoryRegion(c, r),
            },
            format.into(),
            limit.map(|l| l as usize),
        ),
        Command::Build { out, gzip_archives } => build(&store_url, &site, &out, gzip_archives),
        Command::Check { repair } => check(&store_url, &site, repair),
        Command::Migrate => migrate(&store_url, &site, site_given),
        Command::Stats { readers } => stats(&store_url, readers),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man => manual::man(),
    }
}

fn load_site(path: &Path) -> anyhow::Result<Site> {
    Ok(Site::load(path)?)
}

/// The limits `import` applies: the site file's, SPEC's defaults when no
/// site file was named and the default one does not exist (importing needs
/// no site otherwise, and a store may serve several sites' files).
fn import_limits(path: &Path, given: bool) -> anyhow::Result<SiteLimits> {
    if given || path.exists() {
        Ok(load_site(path)?.limits)
    } else {
        Ok(SiteLimits::default())
    }
}

fn open_store(url: &StoreUrl) -> anyhow::Result<Box<dyn Store>> {
    open_store_with(url, crate::store::CLI_READERS)
}

fn open_store_with(url: &StoreUrl, readers: u32) -> anyhow::Result<Box<dyn Store>> {
    Ok(open_as(url, readers, Access::Migrate)?.0)
}

/// The store opened for a command that only reads (`dump`, `check`,
/// `build`, `stats`): nothing written, migrations included; a schema that
/// is behind ends the command with "run `bantin migrate`".
pub(crate) fn open_read_only(url: &StoreUrl) -> anyhow::Result<Box<dyn Store>> {
    Ok(open_as(url, crate::store::CLI_READERS, Access::ReadOnly)?.0)
}

fn open_as(
    url: &StoreUrl,
    readers: u32,
    access: Access,
) -> anyhow::Result<(Box<dyn Store>, Vec<&'static str>)> {
    // `Open` and `Behind` name the store themselves; other errors (a
    // migration's) get it.
    crate::store::open_as(url, readers, access).map_err(|e| match e {
        e @ (StoreError::Open { .. } | StoreError::Behind { .. }) => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(format!("opening store {url}")),
    })
}

/// Make the site's limits the ones the store's triggers hold CMS rows to
/// (`Store::adopt_limits`), so that the catalog leaves out what feeds
/// leave out. A store that can't take them now (an import holds the SQLite
/// file's write lock, a read-only role) keeps its own: said in one line,
/// and the command goes on.
fn adopt_limits(store: &dyn Store, site: &Site, url: &StoreUrl) {
    match store.adopt_limits(&site.limits) {
        Ok(true) => tracing::info!("{url}: the site's limits adopted; every article tested again"),
        Ok(false) => {}
        Err(e) => {
            let _ = output::err(format_args!(
                "bantin: warning: {url} keeps its own limits for rows a CMS writes: {e}"
            ));
        }
    }
}

/// Exit code 1: the command ran but something it was given was bad.
fn failed() -> ExitCode {
    ExitCode::from(1)
}
