//! `bantin check`: is the site file valid, which limits does it set, and
//! does every stored row follow the schema's rules and keep to those limits?
//!
//! stdout gets the site's limits and a summary; stderr one line per problem.

use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::output::{err, out};
use crate::article::FeedKey;
use crate::config::{Site, StoreUrl};
use crate::limits::SiteLimits;
use crate::store::Store;

/// Report every problem found; exit 1 if there is any.
pub fn check(url: &StoreUrl, site_path: &Path) -> anyhow::Result<ExitCode> {
    let mut problems = 0usize;
    let site = match Site::load(site_path) {
        Ok(site) => Some(site),
        Err(e) => {
            err(e)?;
            problems += 1;
            None
        }
    };
    if let Some(site) = &site {
        print_limits(site_path, &site.limits)?;
    }
    let store = super::open_store(url)?;
    for p in store.audit()? {
        if p.id.is_empty() {
            err(format_args!("{url}: {}", p.reason))?;
        } else {
            err(format_args!("{url}: article {:?}: {}", p.id, p.reason))?;
        }
        problems += 1;
    }
    if let Some(site) = &site {
        problems += over_limits(store.as_ref(), url, &site.limits)?;
        let now = chrono::Utc::now();
        let snap = store.snapshot()?;
        let catalog = crate::feed::Catalog::load(snap.as_ref(), site, now)?;
        out(format_args!(
            "{} visible articles, {} categories, {} regions",
            catalog.total,
            catalog.categories.len(),
            catalog.regions.len()
        ))?;
    }
    if problems > 0 {
        out(format_args!("{problems} problem(s) found"))?;
        Ok(super::failed())
    } else {
        out("ok")?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The limits in force, as site-file lines one can paste back.
fn print_limits(site_path: &Path, l: &SiteLimits) -> anyhow::Result<()> {
    out(format_args!("limits of {}:", site_path.display()))?;
    for (key, value) in [
        ("max_id_bytes", l.max_id_bytes as u64),
        ("max_title_bytes", l.max_title_bytes as u64),
        ("max_summary_bytes", l.max_summary_bytes as u64),
        ("max_body_bytes", l.max_body_bytes as u64),
        ("max_names_per_article", l.max_names_per_article as u64),
        ("max_feed_bytes", l.max_feed_bytes as u64),
        ("cache_bytes", l.cache_bytes),
    ] {
        out(format_args!("  {key} = {value}"))?;
    }
    Ok(())
}

/// Report every stored article over a limit (scheduled ones included: they
/// would be left out when their time comes); returns how many there are.
/// Rows that don't decode at all are `audit`'s to report.
fn over_limits(store: &dyn Store, url: &StoreUrl, limits: &SiteLimits) -> anyhow::Result<usize> {
    // Every row: published up to the last instant SPEC allows, no limit
    // (i64::MAX, which both backends take as a row count).
    let end: DateTime<Utc> = "9999-12-31T23:59:59.999999Z".parse()?;
    let articles = store
        .snapshot()?
        .feed(&FeedKey::All, end, i64::MAX as usize)?;
    let mut found = 0;
    for a in &articles {
        if let Some(e) = crate::limits::exceeded(a, limits) {
            err(format_args!(
                "{url}: article {:?}: {e} (left out of feeds)",
                a.id
            ))?;
            found += 1;
        }
    }
    Ok(found)
}
