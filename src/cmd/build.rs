//! `bantin build`: every URL the server answers with a document, written as
//! a static file with `.gz` and `.br` siblings, byte-identical to what the
//! server sends (same renderer, same compressor settings).
//!
//! A build over an earlier one rewrites only the files whose bytes changed
//! and removes those of documents that are gone ([`output`]). The work is
//! a list of [`Document`]s (`publish/resource.rs`), each rendered in every
//! format from one read of the snapshot, as the server renders it; the
//! files are compressed and written by a few threads while the next
//! document renders.

mod archives;
mod cdn_map;
mod output;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Mutex, mpsc};

use anyhow::Context;

use crate::article::FeedKey;
use crate::config::{Site, StoreUrl};
use crate::feed::{ArchivePage, Catalog, Month};
use crate::publish::Document;
use crate::publish::rendering;
use crate::render::render;
use crate::store::Snapshot;

use archives::{Plan, Since};
use output::Output;

/// A file to write: its `/`-separated path under the output folder and
/// its identity bytes.
type File = (String, Vec<u8>);

/// Every document of a build, in the order they are written. The archive
/// documents that need no render ([`archives`]) are kept in `output` on
/// the way.
fn jobs(source: &Source<'_>, output: &Output, plan: &Plan) -> anyhow::Result<Vec<Document>> {
    let keys = source.catalog.keys();
    let mut jobs: Vec<Document> = keys.iter().cloned().map(Document::Feed).collect();
    let nothing = BTreeSet::new();
    for key in &keys {
        let before = archives::months_in(
            output.previous_under(&crate::publish::resource::archive_folder(key)),
            key,
        );
        let reached = match plan {
            Plan::All => None,
            Plan::Touched(touched) => Some(touched.get(key).unwrap_or(&nothing)),
        };
        // No change reached the feed: its archives are as the last build
        // left them, if they still are.
        if reached.is_some_and(BTreeSet::is_empty)
            && keep_months(output, key, &before.keys().copied().collect())
        {
            continue;
        }
        let now = archives::months(source.snap, source.site, key, source.now)?;
        let render = match reached {
            None => now.iter().map(|(m, _)| *m).collect(),
            Some(reached) => archives::to_render(&now, &before, reached),
        };
        for (month, pages) in now {
            if render.contains(&month) || !keep_months(output, key, &BTreeSet::from([month])) {
                // A page at a time: a document's files are held until
                // written.
                let pages = (1..=pages).filter_map(|n| ArchivePage::new(month, n));
                jobs.extend(pages.map(|page| Document::Archive(key.clone(), page)));
            }
        }
    }
    // Last: see [`Source::lists`].
    jobs.extend([Document::Index, Document::Opml, Document::NewsSitemap]);
    Ok(jobs)
}

/// Keep the archive documents of these months of a feed (every page the
/// last build wrote), in every format, as the last build wrote them: all
/// of them, or (when one can't be kept) none.
fn keep_months(output: &Output, key: &FeedKey, months: &BTreeSet<Month>) -> bool {
    let folder = crate::publish::resource::archive_folder(key);
    let pages = archives::pages_in(output.previous_under(&folder), key);
    let kept: Vec<ArchivePage> = pages
        .into_iter()
        .filter(|p| months.contains(&p.month))
        .collect();
    let written: BTreeSet<Month> = kept.iter().map(|p| p.month).collect();
    if written != *months {
        return false;
    }
    let paths = || {
        kept.iter()
            .flat_map(|p| Document::Archive(key.clone(), *p).resources())
            .map(|r| r.file())
    };
    if !paths().all(|rel| output.can_keep(&rel)) {
        return false;
    }
    paths().all(|rel| output.keep(&rel))
}

/// What the documents are made from: one snapshot, one catalog, one instant.
struct Source<'a> {
    site: &'a Site,
    snap: &'a dyn Snapshot,
    catalog: &'a Catalog,
    now: chrono::DateTime<chrono::Utc>,
    /// [`Source::lists`], once read.
    lists: std::cell::OnceCell<Catalog>,
}

impl Source<'_> {
    /// The catalog the pages list, read again once the feeds are rendered:
    /// by then the renders have met the rows that can't be read, and the
    /// lists leave them out as the feeds did.
    fn lists(&self) -> anyhow::Result<&Catalog> {
        if let Some(c) = self.lists.get() {
            return Ok(c);
        }
        let touch = crate::feed::CatalogTouch::default();
        let (catalog, _) = self
            .catalog
            .update(self.snap, self.site, self.now, &touch)?;
        Ok(self.lists.get_or_init(|| catalog))
    }

    /// The files of a document: its resources, rendered from one read.
    fn files(&self, doc: &Document) -> anyhow::Result<Vec<File>> {
        let (key, month) = match doc {
            Document::NewsSitemap => {
                let (rep, _) = rendering::news(self.snap, self.site, self.catalog, self.now)?;
                let body = rep.body(crate::publish::Coding::Identity).to_vec();
                return Ok(vec![(crate::publish::Resource::NewsSitemap.file(), body)]);
            }
            Document::Feed(key) => (key, None),
            Document::Archive(key, month) => (key, Some(*month)),
            Document::Index | Document::Opml => {
                let catalog = self.lists()?;
                return Ok(doc
                    .resources()
                    .iter()
                    .filter_map(|r| {
                        // A static site has no server to search: its page
                        // has no search form.
                        let body = match doc {
                            Document::Index => {
                                crate::pages::static_index_html(self.site, catalog).into_bytes()
                            }
                            _ => rendering::page(self.site, catalog, r, None)?.1,
                        };
                        Some((r.file(), body))
                    })
                    .collect());
            }
        };
        // None only for a month with no article (or fewer pages), which
        // the job's making found otherwise, in the same snapshot.
        let Some(feed) = rendering::load(self.snap, self.site, self.catalog, key, month)? else {
            return Ok(Vec::new());
        };
        Ok(doc
            .resources()
            .iter()
            .filter_map(|r| Some((r.file(), render(&feed, r.format()?))))
            .collect())
    }
}

/// Write every feed, `index.html`, `feeds.opml` and `sitemap-news.xml` under `out`, over what
/// an earlier build left there.
pub fn build(url: &StoreUrl, site_path: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let site = super::load_site(site_path)?;
    let store = super::open_read_only(url)?;
    let now = chrono::Utc::now();
    // One snapshot for the whole build: every file describes one instant.
    let snap = store.snapshot()?;
    let catalog = Catalog::load(snap.as_ref(), &site, now)?;
    let source = Source {
        site: &site,
        snap: snap.as_ref(),
        catalog: &catalog,
        now,
        lists: std::cell::OnceCell::new(),
    };
    let output = Output::open(out)?;
    let head = snap.log_head()?;
    let inputs = archives::inputs(url, &site, &catalog);
    let plan = archives::plan(snap.as_ref(), &site, output.previous_since(), &inputs, now)?;
    let jobs = jobs(&source, &output, &plan)?;
    write_all(&source, &jobs, &output)?;
    let since = Since {
        inputs,
        as_of: now,
        head,
    };
    output.set_since(since.to_text());
    if let Some(header) = site.cdn.key_header {
        output.put_aside(cdn_map::NAME, cdn_map::text(header).as_bytes())?;
    }
    let counts = output.finish()?;
    super::output::out(format_args!(
        "written {}, unchanged {}, removed {}",
        counts.written, counts.unchanged, counts.removed
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Render the jobs on this thread (the snapshot is one connection) and
/// hand each document to writer threads, which compress it and write what
/// changed: compressing (brotli above all) costs more than rendering.
fn write_all(source: &Source<'_>, jobs: &[Document], output: &Output) -> anyhow::Result<()> {
    let writers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // A short queue: memory holds a few documents, not the whole site.
    let (tx, rx) = mpsc::sync_channel::<File>(writers * 2);
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        let Ok((rel, body)) = next else {
                            return Ok(());
                        };
                        output.put(&rel, &body)?;
                    }
                })
            })
            .collect();
        let rendered = (|| -> anyhow::Result<()> {
            for job in jobs {
                let files = source
                    .files(job)
                    .with_context(|| format!("rendering {job:?}"))?;
                for file in files {
                    if tx.send(file).is_err() {
                        // Every writer stopped: their error says why.
                        return Ok(());
                    }
                }
            }
            Ok(())
        })();
        drop(tx);
        let mut result = rendered;
        for h in handles {
            let written = h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a writer thread panicked")));
            if result.is_ok() {
                result = written;
            }
        }
        result
    })
}
