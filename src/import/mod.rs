//! Reading articles from files: JSON Lines ([`jsonl`]) and text articles
//! with TOML front matter ([`text`]). Reading never stops at a bad record:
//! each one becomes a [`Rejected`] naming `FILE:LINE`, and the good records
//! are kept. Records over the site's [`SiteLimits`] are bad records too.
//!
//! Files are read a record at a time ([`read_each`]): a JSON Lines file
//! through a buffered reader, one line in one reused buffer; a text article
//! is one file. What reading holds in memory is one record, whatever the
//! size of the files, so `bantin import` can stream an archive into one
//! write transaction ([`read_in_background`] runs the reading on a thread
//! of its own, so that parsing and writing use two cores). [`progress`]
//! draws the progress line on a terminal.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod jsonl;
pub mod progress;
pub mod text;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::article::Article;
use crate::limits::SiteLimits;

/// A record that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The file, as given on the command line (or found under a folder given).
    pub file: String,
    /// 1-based line where the record starts or the fault lies; 0 for a file
    /// that could not be read at all.
    pub line: usize,
    /// What is wrong, on one line.
    pub reason: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

/// One record read: a valid article, or why a record is refused.
pub type Record = Result<Article, Rejected>;

/// What reading some paths gave, all at once (for small folders and tests;
/// `bantin import` streams with [`read_each`] instead).
#[derive(Debug, Default)]
pub struct Batch {
    /// Valid articles, in the order read.
    pub articles: Vec<Article>,
    /// Bad records, in the order met.
    pub rejected: Vec<Rejected>,
}

/// The kinds of file import reads, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    JsonLines,
    Text,
    Markdown,
}

fn kind_of(path: &Path) -> Option<Kind> {
    match path.extension()?.to_str()? {
        "jsonl" => Some(Kind::JsonLines),
        "txt" => Some(Kind::Text),
        "md" => Some(Kind::Markdown),
        _ => None,
    }
}

/// [`read_paths_with`] SPEC's default limits.
pub fn read_paths(paths: &[PathBuf]) -> Batch {
    read_paths_with(paths, &SiteLimits::default())
}

/// Every record under `paths` (see [`read_each`]), gathered in memory.
pub fn read_paths_with(paths: &[PathBuf], limits: &SiteLimits) -> Batch {
    let mut batch = Batch::default();
    let gathered: Result<(), std::convert::Infallible> = read_each(paths, limits, |record| {
        match record {
            Ok(a) => batch.articles.push(a),
            Err(r) => batch.rejected.push(r),
        }
        Ok(())
    });
    let Ok(()) = gathered;
    batch
}

/// Read every file under `paths`, handing each record to `each` as soon as
/// it is read: files directly, folders recursively (in name order, so
/// imports are reproducible), skipping files of other kinds found in
/// folders. A record over `limits` is rejected. The first error `each`
/// returns stops the reading and is returned.
pub fn read_each<E>(
    paths: &[PathBuf],
    limits: &SiteLimits,
    mut each: impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    for path in paths {
        let shown = path.display().to_string();
        match std::fs::metadata(path) {
            Err(e) => each(Err(Rejected {
                file: shown,
                line: 0,
                reason: e.to_string(),
            }))?,
            Ok(m) if m.is_dir() => read_dir(path, limits, &mut each)?,
            Ok(_) => match kind_of(path) {
                Some(kind) => read_file(path, kind, limits, &mut each)?,
                None => each(Err(Rejected {
                    file: shown,
                    line: 0,
                    reason: "not an article file (expected .jsonl, .txt or .md)".into(),
                }))?,
            },
        }
    }
    Ok(())
}

/// Records a reading thread may have read ahead of the writer: enough to
/// keep both cores busy, few enough (≈ 3.5 MB of typical articles) that
/// memory stays flat.
const READ_AHEAD: usize = 1024;

/// Records read by [`read_in_background`], in order.
pub struct Reading {
    records: mpsc::Receiver<Record>,
    thread: std::thread::JoinHandle<()>,
}

impl Reading {
    /// The next record; `None` once every file is read (or the reading
    /// thread died: [`Reading::finish`] tells which).
    pub fn next(&self) -> Option<Record> {
        self.records.recv().ok()
    }

    /// Wait for the reading thread; an error if it panicked, so that a
    /// reader that died is never taken for the end of the files.
    pub fn finish(self) -> Result<(), String> {
        drop(self.records);
        self.thread
            .join()
            .map_err(|_| "reading the files failed unexpectedly (a bug: please report it)".into())
    }
}

/// [`read_each`] on a thread of its own, handing the records over through
/// a bounded queue. Dropping the [`Reading`] stops the thread at its next
/// record.
pub fn read_in_background(paths: Vec<PathBuf>, limits: SiteLimits) -> std::io::Result<Reading> {
    let (send, records) = mpsc::sync_channel(READ_AHEAD);
    let thread = std::thread::Builder::new()
        .name("import-read".into())
        .spawn(move || {
            // An error here only means the receiver is gone: stop reading.
            // The record is dropped with the error: only that it failed
            // matters.
            let _ = read_each(&paths, &limits, |record| send.send(record).map_err(drop));
        })?;
    Ok(Reading { records, thread })
}

fn read_dir<E>(
    dir: &Path,
    limits: &SiteLimits,
    each: &mut impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return each(Err(Rejected {
                file: dir.display().to_string(),
                line: 0,
                reason: e.to_string(),
            }));
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            read_dir(&path, limits, each)?;
        } else if let Some(kind) = kind_of(&path) {
            read_file(&path, kind, limits, each)?;
        }
    }
    Ok(())
}

/// How much of a JSON Lines file is read at once: large reads, one copy.
const READ_BUFFER: usize = 256 * 1024;

fn read_file<E>(
    path: &Path,
    kind: Kind,
    limits: &SiteLimits,
    each: &mut impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    let shown = path.display().to_string();
    let rejected = |line: usize, reason: String| Rejected {
        file: shown.clone(),
        line,
        reason,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return each(Err(rejected(0, e.to_string()))),
    };
    if kind == Kind::JsonLines {
        let reader = std::io::BufReader::with_capacity(READ_BUFFER, file);
        for record in jsonl::Records::new(reader, limits) {
            each(record.map_err(|(line, reason)| rejected(line, reason)))?;
        }
        return Ok(());
    }
    // A text article is one record: one too big for any article within the
    // limits is refused without reading it.
    let most = limits.max_record_bytes();
    if let Ok(m) = file.metadata()
        && m.len() > most as u64
    {
        return each(Err(rejected(
            1,
            format!(
                "file is {} bytes, more than any article within the site's limits can take ({most} bytes; see max_body_bytes)",
                m.len()
            ),
        )));
    }
    // Read at most one byte more than the limit, should the file grow.
    let mut bytes = Vec::new();
    if let Err(e) = file.take(most as u64 + 1).read_to_end(&mut bytes) {
        return each(Err(rejected(0, e.to_string())));
    }
    let markup = match kind {
        Kind::Markdown => text::Markup::Markdown,
        Kind::Text | Kind::JsonLines => text::Markup::Plain,
    };
    each(text::parse(&bytes, markup, limits).map_err(|(line, reason)| rejected(line, reason)))
}
