//! `bantin check`: is the site file valid, and does every stored row follow
//! the schema's rules?

use std::path::Path;
use std::process::ExitCode;

use crate::config::{Site, StoreUrl};

/// Report every problem found; exit 1 if there is any.
pub fn check(url: &StoreUrl, site_path: &Path) -> anyhow::Result<ExitCode> {
    let mut problems = 0usize;
    let site = match Site::load(site_path) {
        Ok(site) => Some(site),
        Err(e) => {
            eprintln!("{e}");
            problems += 1;
            None
        }
    };
    let store = super::open_store(url)?;
    for p in store.audit()? {
        if p.id.is_empty() {
            eprintln!("{url}: {}", p.reason);
        } else {
            eprintln!("{url}: article {:?}: {}", p.id, p.reason);
        }
        problems += 1;
    }
    if let Some(site) = &site {
        let now = chrono::Utc::now();
        let snap = store.snapshot()?;
        let catalog = crate::feed::Catalog::load(snap.as_ref(), site, now)?;
        println!(
            "{} visible articles, {} categories, {} regions",
            catalog.total,
            catalog.categories.len(),
            catalog.regions.len()
        );
    }
    if problems > 0 {
        println!("{problems} problem(s) found");
        Ok(super::failed())
    } else {
        println!("ok");
        Ok(ExitCode::SUCCESS)
    }
}
