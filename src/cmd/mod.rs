//! One function per subcommand. Each returns the process's exit code;
//! errors that end a command early come back as `anyhow` chains.

mod build;
mod check;
mod dump;
mod import;
mod remove;
mod serve;

use std::process::ExitCode;

use anyhow::Context;

use crate::article::FeedKey;
use crate::cli::{Cli, Command};
use crate::config::{Site, StoreUrl};
use crate::store::Store;

pub use build::build;
pub use check::check;
pub use dump::dump;
pub use import::import;
pub use remove::remove;
pub use serve::serve;

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let store_url = StoreUrl::parse(&cli.store)?;
    match cli.command {
        Command::Serve { listen } => serve(&store_url, &cli.site, listen),
        Command::Import { strict, paths } => import(&store_url, strict, &paths),
        Command::Remove { ids } => remove(&store_url, &ids),
        Command::Dump {
            category,
            region,
            author,
            format,
            limit,
        } => dump(
            &store_url,
            &cli.site,
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
        Command::Build { out } => build(&store_url, &cli.site, &out),
        Command::Check => check(&store_url, &cli.site),
    }
}

fn load_site(path: &std::path::Path) -> anyhow::Result<Site> {
    Ok(Site::load(path)?)
}

fn open_store(url: &StoreUrl) -> anyhow::Result<Box<dyn Store>> {
    open_store_with(url, crate::store::CLI_READERS)
}

fn open_store_with(url: &StoreUrl, readers: u32) -> anyhow::Result<Box<dyn Store>> {
    crate::store::open(url, readers).with_context(|| format!("opening store {url}"))
}

/// Exit code 1: the command ran but something it was given was bad.
fn failed() -> ExitCode {
    ExitCode::from(1)
}
