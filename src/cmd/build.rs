//! `bantin build`: every URL the server answers with a document, written as
//! a static file with `.gz` and `.br` siblings, byte-identical to what the
//! server sends (same renderer, same compressor settings).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::StoreUrl;
use crate::feed::Catalog;
use crate::http::encoding::Coding;
use crate::http::representation::compress;
use crate::render::{Format, render};

/// Write every feed, `index.html` and `feeds.opml` under `out`.
pub fn build(url: &StoreUrl, site_path: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let site = super::load_site(site_path)?;
    let store = super::open_store(url)?;
    let now = chrono::Utc::now();
    // One snapshot for the whole build: every file describes one instant.
    let snap = store.snapshot()?;
    let catalog = Catalog::load(snap.as_ref(), &site, now)?;
    let mut files = 0usize;
    // The same `compress` the server's representations use, so the same
    // bytes; without their zstd body and ETags, which files don't need.
    let mut write = |rel: PathBuf, body: Vec<u8>| -> anyhow::Result<()> {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        for (coding, suffix) in [
            (Coding::Identity, ""),
            (Coding::Gzip, ".gz"),
            (Coding::Br, ".br"),
        ] {
            let mut name = path.clone().into_os_string();
            name.push(suffix);
            std::fs::write(&name, compress(coding, &body))
                .with_context(|| format!("writing {}", Path::new(&name).display()))?;
            files += 1;
        }
        Ok(())
    };
    for key in catalog.keys() {
        let feed = crate::feed::load(
            snap.as_ref(),
            &site,
            &catalog,
            &key,
            now,
            site.items_per_feed,
        )?;
        for format in Format::ALL {
            write(
                PathBuf::from(format!("feeds/{}.{}", key.path(), format.ext())),
                render(&feed, format),
            )?;
        }
    }
    let index = crate::pages::index_html(&site, &catalog).into_bytes();
    write(PathBuf::from("index.html"), index)?;
    let opml = crate::pages::opml(&site, &catalog).into_bytes();
    write(PathBuf::from("feeds.opml"), opml)?;
    super::output::out(format_args!("wrote {files} files under {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}
