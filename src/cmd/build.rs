//! `bantin build`: every URL the server answers with a document, written as
//! a static file with `.gz` and `.br` siblings, byte-identical to what the
//! server sends (same renderer, same compressor settings).
//!
//! A build over an earlier one rewrites only the files whose bytes changed
//! and removes those of documents that are gone ([`output`]). The work is
//! a list of [`Job`]s, each a set of documents made from one read of the
//! snapshot; the documents are compressed and written by a few threads
//! while the next job renders.

mod output;

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Mutex, mpsc};

use anyhow::Context;

use crate::article::FeedKey;
use crate::config::{Site, StoreUrl};
use crate::feed::Catalog;
use crate::render::{Format, render};
use crate::store::Snapshot;

use output::Output;

/// A unit of a build: documents made from one read of the snapshot.
/// (Archives will be one more kind: a feed's month, in every format.)
#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    /// A feed in every format.
    Feed(FeedKey),
    /// `index.html` and `feeds.opml`.
    Pages,
}

/// A document to write: its `/`-separated path under the output folder and
/// its identity bytes.
type Document = (String, Vec<u8>);

/// Every job of a build, in the order the documents are written.
fn jobs(catalog: &Catalog) -> Vec<Job> {
    let mut jobs: Vec<Job> = catalog.keys().into_iter().map(Job::Feed).collect();
    jobs.push(Job::Pages);
    jobs
}

/// What the documents are made from: one snapshot, one catalog, one instant.
struct Source<'a> {
    site: &'a Site,
    snap: &'a dyn Snapshot,
    catalog: &'a Catalog,
    now: chrono::DateTime<chrono::Utc>,
}

impl Source<'_> {
    /// The documents of a job.
    fn documents(&self, job: &Job) -> anyhow::Result<Vec<Document>> {
        Ok(match job {
            Job::Feed(key) => {
                let feed = crate::feed::load(
                    self.snap,
                    self.site,
                    self.catalog,
                    key,
                    self.now,
                    self.site.items_per_feed,
                )?;
                Format::ALL
                    .into_iter()
                    .map(|format| {
                        let rel = format!("feeds/{}.{}", key.path(), format.ext());
                        (rel, render(&feed, format))
                    })
                    .collect()
            }
            Job::Pages => vec![
                (
                    "index.html".to_string(),
                    crate::pages::index_html(self.site, self.catalog).into_bytes(),
                ),
                (
                    "feeds.opml".to_string(),
                    crate::pages::opml(self.site, self.catalog).into_bytes(),
                ),
            ],
        })
    }
}

/// Write every feed, `index.html` and `feeds.opml` under `out`, over what
/// an earlier build left there.
pub fn build(url: &StoreUrl, site_path: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let site = super::load_site(site_path)?;
    let store = super::open_store(url)?;
    let now = chrono::Utc::now();
    // One snapshot for the whole build: every file describes one instant.
    let snap = store.snapshot()?;
    let catalog = Catalog::load(snap.as_ref(), &site, now)?;
    let source = Source {
        site: &site,
        snap: snap.as_ref(),
        catalog: &catalog,
        now,
    };
    let output = Output::open(out)?;
    write_all(&source, &jobs(&catalog), &output)?;
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
fn write_all(source: &Source<'_>, jobs: &[Job], output: &Output) -> anyhow::Result<()> {
    let writers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // A short queue: memory holds a few documents, not the whole site.
    let (tx, rx) = mpsc::sync_channel::<Document>(writers * 2);
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
                let docs = source
                    .documents(job)
                    .with_context(|| format!("rendering {job:?}"))?;
                for doc in docs {
                    if tx.send(doc).is_err() {
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
