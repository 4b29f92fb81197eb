//! `bantin check`: is the site file valid, which limits does it set, is the
//! store's file sound, and does every stored row follow the schema's rules
//! and keep to those limits? `--repair` first removes what bantin can
//! mend on its own (link rows whose article is gone).
//!
//! stdout gets the site's limits, what was repaired and a summary; stderr
//! one line per problem.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use super::output::{err, out};
use crate::config::{Site, StoreUrl};
use crate::limits::SiteLimits;
use crate::store::Store;

/// Report every problem found; exit 1 if there is any.
pub fn check(url: &StoreUrl, site_path: &Path, repair: bool) -> anyhow::Result<ExitCode> {
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
    // Only `--repair` writes: without it, check works on a read-only
    // store (a replica, a role with SELECT only).
    let store = if repair {
        super::open_store(url)?
    } else {
        super::open_read_only(url)?
    };
    // The file's structure first: rows read from a damaged file prove
    // little, and it is no file to repair.
    let started = Instant::now();
    let damaged = match store.integrity()? {
        None => false,
        Some(faults) if faults.is_empty() => {
            let secs = started.elapsed().as_secs_f64();
            out(format_args!("{url}: PRAGMA quick_check: ok ({secs:.1} s)"))?;
            false
        }
        Some(faults) => {
            for f in &faults {
                problems += 1;
                err(format_args!(
                    "{url}: the file is damaged (PRAGMA quick_check): {f}"
                ))?;
            }
            true
        }
    };
    if repair && damaged {
        err(format_args!(
            "{url}: not repaired: a damaged file needs a backup, or `sqlite3 FILE .recover`"
        ))?;
    } else if repair {
        let started = Instant::now();
        let done = store.repair()?;
        if done.is_empty() {
            out(format_args!("{url}: nothing to repair"))?;
        }
        for line in &done {
            out(format_args!("{url}: {line}"))?;
        }
        if !done.is_empty() {
            let secs = started.elapsed().as_secs_f64();
            out(format_args!("{url}: repaired in {secs:.1} s"))?;
        }
    }
    match audit(store.as_ref(), url, site.as_ref(), &mut problems) {
        Ok(()) => {}
        // The damage already reported is why the rows can't be read.
        Err(e) if damaged => {
            problems += 1;
            err(format_args!("{url}: {e:#}"))?;
        }
        Err(e) => return Err(e),
    }
    if problems > 0 {
        out(format_args!("{problems} problem(s) found"))?;
        Ok(super::failed())
    } else {
        out("ok")?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Every stored row, then the catalog's summary; each problem counted in
/// `problems` and written to stderr.
fn audit(
    store: &dyn Store,
    url: &StoreUrl,
    site: Option<&Site>,
    problems: &mut usize,
) -> anyhow::Result<()> {
    // Every stored article over a limit too (scheduled ones included: they
    // would be left out when their time comes), in the same pass.
    let limits = site.map(|s| s.limits);
    let admit = |a: &crate::article::Article| {
        limits.and_then(|l| crate::limits::exceeded(a, &l).map(|e| e.to_string()))
    };
    let mut failed_write = None;
    store.audit_with(&admit, &mut |p| {
        *problems += 1;
        let written = if p.id.is_empty() {
            err(format_args!("{url}: {}", p.reason))
        } else {
            err(format_args!("{url}: article {:?}: {}", p.id, p.reason))
        };
        if let Err(e) = written {
            failed_write.get_or_insert(e);
        }
    })?;
    if let Some(e) = failed_write {
        return Err(e);
    }
    if let Some(site) = site {
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
    Ok(())
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
