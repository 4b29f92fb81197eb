//! `bantin build`: every URL the server answers with a document, written as
//! a static file with `.gz` and `.br` siblings, byte-identical to what the
//! server sends (same renderer, same compressor settings).
//!
//! A build over an earlier one rewrites only the files whose bytes changed
//! and removes those of documents that are gone ([`output`]). The work is
//! a list of [`Document`]s (`publish/resource.rs`), each rendered in every
//! format from one read of a snapshot, as the server renders it. A worker
//! per core takes the next document, renders, compresses and writes it:
//! each worker reads its own snapshot (one connection each), at the same
//! log position as the others, so every file still describes one instant;
//! memory holds a document per worker, never the site.

mod archives;
mod cdn_map;
mod output;
mod progress;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::Context;

use crate::article::FeedKey;
use crate::config::{Site, StoreUrl};
use crate::feed::{ArchivePage, Catalog, Month};
use crate::publish::Document;
use crate::publish::rendering;
use crate::render::render;
use crate::store::{LogPosition, Snapshot, Store};

use archives::{Plan, Since};
use output::{Output, Siblings};
use progress::Progress;

/// A file to write: its `/`-separated path under the output folder and
/// its identity bytes.
type File = (String, Vec<u8>);

/// Every feed and archive document of a build, in the order they are
/// written (the pages come after them: see [`Source::lists`]). The archive
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
    /// The files of an archive document.
    archives: Siblings,
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
/// With `gzip_archives`, archive documents get their `.gz` alone
/// ([`Siblings::GzipAlone`]).
pub fn build(
    url: &StoreUrl,
    site_path: &Path,
    out: &Path,
    gzip_archives: bool,
) -> anyhow::Result<ExitCode> {
    let site = super::load_site(site_path)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // A connection per worker, each holding its snapshot.
    let readers = u32::try_from(workers).unwrap_or(2);
    let store = super::open_as(url, readers, crate::store::Access::ReadOnly)?.0;
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
        archives: match gzip_archives {
            true => Siblings::GzipAlone,
            false => Siblings::GzipOnly,
        },
    };
    let output = Output::open(out)?;
    let head = snap.log_head()?;
    // Archive documents kept from the last build must have its files.
    let mut inputs = archives::inputs(url, &site, &catalog);
    if gzip_archives {
        inputs.push_str("-gz");
    }
    // After a build that stopped halfway the folder is partly newer than
    // its manifest says: render everything (what is in place already is
    // neither compressed nor written again).
    let plan = match output.was_interrupted() {
        true => Plan::All,
        false => archives::plan(snap.as_ref(), &site, output.previous_since(), &inputs, now)?,
    };
    let jobs = jobs(&source, &output, &plan)?;
    // Counted as users see them: a file per format (siblings aside).
    let total: usize = jobs.iter().map(|d| d.resources().len()).sum();
    let progress = Progress::start(total + 3, &output);
    write_all(
        store.as_ref(),
        &source,
        &head,
        &jobs,
        &output,
        &progress,
        workers,
    )?;
    // Last: see [`Source::lists`].
    for page in [Document::Index, Document::Opml, Document::NewsSitemap] {
        put(&source, &page, &output)?;
        progress.done(1);
    }
    progress.finish();
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

/// Render and write the jobs on `workers` threads: this one, with the
/// build's snapshot, and others each with its own at the same log
/// position. One that can't get such a snapshot (a write came between)
/// does nothing, and the others do its share.
fn write_all(
    store: &dyn Store,
    source: &Source<'_>,
    head: &LogPosition,
    jobs: &[Document],
    output: &Output,
    progress: &Progress<'_>,
    workers: usize,
) -> anyhow::Result<()> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let queue = Queue {
        jobs,
        next: &next,
        stop: &stop,
        output,
        progress,
    };
    let (site, catalog, now, archives) = (source.site, source.catalog, source.now, source.archives);
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    let Some(snap) = snapshot_at(store, head) else {
                        return Ok(());
                    };
                    let source = Source {
                        site,
                        snap: snap.as_ref(),
                        catalog,
                        now,
                        lists: std::cell::OnceCell::new(),
                        archives,
                    };
                    queue.work(&source)
                })
            })
            .collect();
        let mut result = queue.work(source);
        for h in others {
            let theirs = h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a build worker panicked")));
            if result.is_ok() {
                result = theirs;
            }
        }
        result
    })
}

/// A snapshot of `store` at `head`, if one can be had in a few tries.
fn snapshot_at<'s>(store: &'s dyn Store, head: &LogPosition) -> Option<Box<dyn Snapshot + 's>> {
    for _ in 0..3 {
        match store.snapshot().and_then(|s| Ok((s.log_head()?, s))) {
            Ok((at, snap)) if at == *head => return Some(snap),
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!("a build worker has no snapshot: {e}");
                return None;
            }
        }
    }
    tracing::debug!("the store moved on: a build worker stands down");
    None
}

/// The jobs the workers share.
struct Queue<'a> {
    jobs: &'a [Document],
    next: &'a AtomicUsize,
    /// Set by a worker that failed: the others stop at their next job.
    stop: &'a AtomicBool,
    output: &'a Output,
    progress: &'a Progress<'a>,
}

impl Queue<'_> {
    /// Take jobs and put their files until none is left.
    fn work(&self, source: &Source<'_>) -> anyhow::Result<()> {
        while !self.stop.load(Ordering::Relaxed) {
            let Some(job) = self.jobs.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(());
            };
            if let Err(e) = put(source, job, self.output) {
                self.stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
            self.progress.done(job.resources().len());
        }
        Ok(())
    }
}

/// Render one document and put its files.
fn put(source: &Source<'_>, doc: &Document, output: &Output) -> anyhow::Result<()> {
    let files = source
        .files(doc)
        .with_context(|| format!("rendering {doc:?}"))?;
    let wanted = match doc {
        Document::Archive(..) => source.archives,
        _ => Siblings::Both,
    };
    for (rel, body) in files {
        output.put(&rel, &body, wanted)?;
    }
    Ok(())
}
