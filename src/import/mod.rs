//! Reading articles from files: JSON Lines ([`jsonl`]) and text articles
//! with TOML front matter ([`text`]). Reading never stops at a bad record:
//! each one becomes a [`Rejected`] naming `FILE:LINE`, and the good records
//! are kept. Records over the site's [`SiteLimits`] are bad records too.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod jsonl;
pub mod text;

use std::fmt;
use std::path::{Path, PathBuf};

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

/// What reading some paths gave.
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

/// Read every file under `paths`: files directly, folders recursively (in
/// name order, so imports are reproducible), skipping files of other kinds
/// found in folders. A record over `limits` is rejected.
pub fn read_paths_with(paths: &[PathBuf], limits: &SiteLimits) -> Batch {
    let mut batch = Batch::default();
    for path in paths {
        let shown = path.display().to_string();
        match std::fs::metadata(path) {
            Err(e) => batch.rejected.push(Rejected {
                file: shown,
                line: 0,
                reason: e.to_string(),
            }),
            Ok(m) if m.is_dir() => read_dir(path, limits, &mut batch),
            Ok(_) => match kind_of(path) {
                Some(kind) => read_file(path, kind, limits, &mut batch),
                None => batch.rejected.push(Rejected {
                    file: shown,
                    line: 0,
                    reason: "not an article file (expected .jsonl, .txt or .md)".into(),
                }),
            },
        }
    }
    batch
}

fn read_dir(dir: &Path, limits: &SiteLimits, batch: &mut Batch) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            batch.rejected.push(Rejected {
                file: dir.display().to_string(),
                line: 0,
                reason: e.to_string(),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            read_dir(&path, limits, batch);
        } else if let Some(kind) = kind_of(&path) {
            read_file(&path, kind, limits, batch);
        }
    }
}

fn read_file(path: &Path, kind: Kind, limits: &SiteLimits, batch: &mut Batch) {
    let shown = path.display().to_string();
    // A text article is one record: one too big for any article within the
    // limits is refused without reading it.
    if kind != Kind::JsonLines
        && let Ok(m) = std::fs::metadata(path)
        && m.len() > limits.max_record_bytes() as u64
    {
        batch.rejected.push(Rejected {
            file: shown,
            line: 1,
            reason: format!(
                "file is {} bytes, more than any article within the site's limits can take ({} bytes; see max_body_bytes)",
                m.len(),
                limits.max_record_bytes()
            ),
        });
        return;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            batch.rejected.push(Rejected {
                file: shown,
                line: 0,
                reason: e.to_string(),
            });
            return;
        }
    };
    let results = match kind {
        Kind::JsonLines => jsonl::parse(&bytes, limits),
        Kind::Text => vec![text::parse(&bytes, text::Markup::Plain, limits)],
        Kind::Markdown => vec![text::parse(&bytes, text::Markup::Markdown, limits)],
    };
    for r in results {
        match r {
            Ok(a) => batch.articles.push(a),
            Err((line, reason)) => batch.rejected.push(Rejected {
                file: shown.clone(),
                line,
                reason,
            }),
        }
    }
}

/// Parse an RFC 3339 date for field `field`.
pub(crate) fn parse_date(
    field: &str,
    s: &str,
) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("field `{field}`: {s:?} is not an RFC 3339 date with offset ({e})"))
}
