//! Where `bantin build` puts its files, so that a build over an earlier one
//! touches only what changed.
//!
//! Each document is written with its `.gz` and `.br` siblings (an archive
//! document with its `.gz` alone: [`Siblings`]). A file whose
//! bytes on disk are already the ones to write is left alone (its inode and
//! mtime too, so rsync, caches and `If-Modified-Since` see no change);
//! another is written to a temporary file in the same folder and renamed
//! over the old one, so a reader (nginx serving the folder) sees the old
//! file or the new one, never half of one.
//!
//! The folder keeps a manifest, `.bantin-build`: the documents this build
//! wrote, each with the content tag of its bytes and its siblings' lengths,
//! and a fingerprint of the compressors. It serves two ends:
//! - removal: files of documents the last build wrote and this one did not
//!   (a category whose last article went) are removed, and only those:
//!   a file bantin did not write is never touched. A folder built before
//!   there were manifests gets one now; files of feeds gone before that
//!   stay, as bantin can't tell them from someone else's.
//! - speed: a document whose bytes are unchanged, made by compressors that
//!   give the same bytes as last time, keeps its siblings without
//!   compressing it again (brotli at the server's quality costs tens of
//!   milliseconds a feed, most of a build).
//!
//! The manifest is written last. Until then a journal beside it,
//! `.bantin-build.partial`, lists each document as its files are placed:
//! a build stopped halfway leaves the folder as usable as before (every
//! file whole, old or new), and the next build reads the journal and
//! carries on without compressing or writing again what is in place.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::Context;

use crate::publish::Coding;
use crate::publish::etag::content_tag;
use crate::publish::representation::{coding_settings, compress};

/// The manifest's name in the output folder.
pub(super) const MANIFEST: &str = ".bantin-build";

/// The first line of a manifest, naming its format.
const MANIFEST_HEADER: &str = "bantin build manifest 3";

/// The first line of the manifests of builds that wrote every sibling of
/// every document (before archives went `.gz` alone).
const MANIFEST_HEADER_2: &str = "bantin build manifest 2";

/// The journal of a build under way, beside the manifest: a line per
/// document as soon as its files are in place. A build that stops halfway
/// (killed, out of disk) leaves it; the next build trusts the siblings it
/// lists as those of the last build, and so carries on without
/// compressing again what was done.
pub(super) const JOURNAL: &str = ".bantin-build.partial";

/// The first line of a journal.
const JOURNAL_HEADER: &str = "bantin build journal 1";

/// The first line of the manifests of builds before archives, read as
/// ones with no [`Manifest::since`].
const MANIFEST_HEADER_1: &str = "bantin build manifest 1";

/// The codings written beside a document, and their suffixes.
const SIBLINGS: [(Coding, &str); 2] = [(Coding::Gzip, ".gz"), (Coding::Br, ".br")];

/// Which of [`SIBLINGS`] a document gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Siblings {
    /// `.gz` and `.br`: feeds and pages.
    Both,
    /// `.gz` alone: archive documents. Brotli at the server's quality
    /// costs some 40x gzip's time a byte, and archives are nearly all of a
    /// build's bytes (issue 23): at a million articles, hours of CPU for
    /// documents a reader fetches once, if ever. gzip is what nearly
    /// every aggregator asks for, and the `.gz` holds the very bytes the
    /// server sends for `Accept-Encoding: gzip`.
    GzipOnly,
    /// The `.gz` and no identity file (`build --gzip-archives`): archive
    /// documents in a fifth of the disk. The web server sends the `.gz` to
    /// clients that take gzip and decodes it for the others (nginx:
    /// `gzip_static always; gunzip on;`).
    GzipAlone,
}

impl Siblings {
    /// Whether the document gets [`SIBLINGS`]`[i]`.
    fn wants(self, i: usize) -> bool {
        i == 0 || self == Siblings::Both
    }

    /// Whether the document's identity bytes get a file.
    fn identity(self) -> bool {
        self != Siblings::GzipAlone
    }
}

/// Files counted by what the build did with them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts {
    /// Created or replaced.
    pub written: usize,
    /// Already holding the right bytes.
    pub unchanged: usize,
    /// Removed: their documents are no more.
    pub removed: usize,
}

/// What the manifest records of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The content tag of the document's identity bytes.
    tag: String,
    /// Whether the identity bytes have a file.
    identity: bool,
    /// The lengths of its siblings, in [`SIBLINGS`] order; `None` for
    /// one not written.
    siblings: [Option<u64>; 2],
}

/// One entry as a manifest or journal line.
fn entry_line(rel: &str, e: &Entry) -> String {
    let len = |l: Option<u64>| l.map_or_else(|| "-".to_string(), |l| l.to_string());
    let [gz, br] = e.siblings;
    let identity = if e.identity { "i" } else { "-" };
    format!("{}\t{identity}\t{}\t{}\t{rel}\n", e.tag, len(gz), len(br))
}

/// An entry from a line [`entry_line`] wrote (`with_identity`: one
/// before it, which has no identity field: every document had its file);
/// `None` if it is not one, or names a path outside the folder.
fn parse_entry(line: &str, with_identity: bool) -> Option<(String, Entry)> {
    let len = |f: &str| match f {
        "-" => Some(None),
        n => n.parse().ok().map(Some),
    };
    let mut fields = line.splitn(if with_identity { 4 } else { 5 }, '\t');
    let tag = fields.next()?.to_string();
    let identity = with_identity
        || match fields.next()? {
            "i" => true,
            "-" => false,
            _ => return None,
        };
    let gz = len(fields.next()?)?;
    let br = len(fields.next()?)?;
    let rel = fields.next()?;
    if !is_inside(rel) {
        return None;
    }
    Some((
        rel.to_string(),
        Entry {
            tag,
            identity,
            siblings: [gz, br],
        },
    ))
}

/// What a build wrote: its compressors' fingerprint and its documents, by
/// path relative to the folder (`/`-separated).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Manifest {
    fingerprint: String,
    /// What the build's documents were made from (see
    /// [`super::archives::Since`]), one line; `None` when not known.
    since: Option<String>,
    docs: BTreeMap<String, Entry>,
}

impl Manifest {
    fn to_text(&self) -> String {
        let mut text = format!("{MANIFEST_HEADER}\ncodings {}\n", self.fingerprint);
        text.push_str(&format!("since {}\n", self.since.as_deref().unwrap_or("-")));
        for (rel, e) in &self.docs {
            text.push_str(&entry_line(rel, e));
        }
        text
    }

    /// The manifest in `text`; `None` if it is not one this version wrote,
    /// or names a path outside the folder.
    fn parse(text: &str) -> Option<Manifest> {
        let mut lines = text.lines();
        let version = match lines.next()? {
            MANIFEST_HEADER => 3,
            MANIFEST_HEADER_2 => 2,
            MANIFEST_HEADER_1 => 1,
            _ => return None,
        };
        let fingerprint = lines.next()?.strip_prefix("codings ")?.to_string();
        let since = match version {
            1 => None,
            _ => match lines.next()?.strip_prefix("since ")? {
                "-" => None,
                line => Some(line.to_string()),
            },
        };
        let mut docs = BTreeMap::new();
        for line in lines {
            let (rel, entry) = parse_entry(line, version < 3)?;
            docs.insert(rel, entry);
        }
        Some(Manifest {
            fingerprint,
            since,
            docs,
        })
    }
}

/// Whether `rel` is a plain relative path below the folder: no root, no
/// `.` or `..`, no empty segment. A manifest is a file anyone with write
/// access to the folder can edit; it must not make bantin remove files
/// elsewhere.
fn is_inside(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains(['\\', '\0'])
        && rel
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// A sample for [`codings_fingerprint`]: 16 KB of feed-like text, words
/// drawn by a fixed pseudo-random sequence, varied enough that compression
/// levels and compressor versions write it differently (a test holds it
/// to telling gzip levels apart).
fn probe() -> String {
    const WORDS: [&str; 24] = [
        "<item>",
        "</item>",
        "<title>",
        "</title>",
        "Quốc",
        "phòng",
        "An",
        "ninh",
        "&amp;",
        "Hà",
        "Tĩnh",
        "Đức",
        "Thọ",
        "lúa",
        "mưa",
        "lũ",
        "đường",
        "sá",
        "2024",
        "tỉnh",
        "huyện",
        "🌾",
        "bản",
        "tin",
    ];
    let mut state: u32 = 0x2545_f491;
    let mut out = String::with_capacity(16 * 1024);
    while out.len() < 16 * 1024 {
        // xorshift32: the same sequence everywhere.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.push_str(WORDS[state as usize % WORDS.len()]);
        out.push(if state.is_multiple_of(7) { '\n' } else { ' ' });
    }
    out
}

/// A fingerprint of the compressors: their settings, and the content tag
/// of what they make of [`probe`]. Another level, or another version of a
/// compressor that writes other bytes, changes it, and then every sibling
/// is compressed again rather than trusted.
fn codings_fingerprint() -> String {
    let probe = probe();
    let mut all = coding_settings().into_bytes();
    for (coding, _) in SIBLINGS {
        all.extend(compress(coding, probe.as_bytes()));
    }
    content_tag(&all)
}

/// The output folder of one build.
pub(super) struct Output {
    dir: PathBuf,
    previous: Manifest,
    /// What an interrupted build's journal listed, made by these
    /// compressors: trusted like `previous`, and before it.
    interrupted: Option<BTreeMap<String, Entry>>,
    next: Mutex<Manifest>,
    /// This build's journal, appended to as documents are placed.
    journal: Mutex<std::fs::File>,
    written: AtomicUsize,
    unchanged: AtomicUsize,
    /// Bytes of the files written.
    bytes: AtomicU64,
}

impl Output {
    /// Open (creating it if need be) the folder, reading what the last
    /// build there wrote.
    pub(super) fn open(dir: &Path) -> anyhow::Result<Output> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let manifest = dir.join(MANIFEST);
        let previous = match std::fs::read_to_string(&manifest) {
            Ok(text) => Manifest::parse(&text).unwrap_or_else(|| {
                eprintln!(
                    "bantin: {} is not a manifest this bantin can read; \
                     no file of an earlier build will be removed",
                    manifest.display()
                );
                Manifest::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("reading {}", manifest.display()))
                );
            }
        };
        let fingerprint = codings_fingerprint();
        let journal_path = dir.join(JOURNAL);
        let interrupted = match std::fs::read_to_string(&journal_path) {
            Ok(text) => Some(read_journal(&text, &fingerprint)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("reading {}", journal_path.display()))
                );
            }
        };
        // Begun afresh, with what the interrupted build placed: were this
        // build stopped too, the next still knows those documents.
        let mut text = format!("{JOURNAL_HEADER}\ncodings {fingerprint}\n");
        for (rel, e) in interrupted.iter().flatten() {
            text.push_str(&entry_line(rel, e));
        }
        let journal = std::fs::File::create(&journal_path)
            .and_then(|mut f| f.write_all(text.as_bytes()).map(|()| f))
            .with_context(|| format!("writing {}", journal_path.display()))?;
        Ok(Output {
            dir: dir.to_path_buf(),
            previous,
            interrupted,
            next: Mutex::new(Manifest {
                fingerprint,
                since: None,
                docs: BTreeMap::new(),
            }),
            journal: Mutex::new(journal),
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    /// Whether the last build in the folder stopped halfway (it left its
    /// journal): then its manifest's record of what changed since is not
    /// the folder's, and every document is rendered again (those placed
    /// already are not written or compressed again).
    pub(super) fn was_interrupted(&self) -> bool {
        self.interrupted.is_some()
    }

    /// Bytes of the files written so far.
    pub(super) fn bytes_written(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Where a document stood when this build began: the interrupted
    /// build's record of it, else the last build's, and whether its
    /// siblings were made by these compressors.
    fn before(&self, rel: &str) -> Option<(&Entry, bool)> {
        let same = self.previous.fingerprint == self.next().fingerprint;
        self.interrupted
            .as_ref()
            .and_then(|j| j.get(rel))
            .map(|e| (e, true))
            .or_else(|| self.previous.docs.get(rel).map(|e| (e, same)))
    }

    fn count(&self, written: bool) {
        let counter = if written {
            &self.written
        } else {
            &self.unchanged
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn next(&self) -> std::sync::MutexGuard<'_, Manifest> {
        self.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the last build's documents were made from, as it recorded it.
    pub(super) fn previous_since(&self) -> Option<&str> {
        self.previous.since.as_deref()
    }

    /// Record what this build's documents are made from.
    pub(super) fn set_since(&self, since: String) {
        self.next().since = Some(since);
    }

    /// The documents the last build wrote whose paths start with `prefix`.
    pub(super) fn previous_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> {
        self.previous
            .docs
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(rel, _)| rel.as_str())
            .take_while(move |rel| rel.starts_with(prefix))
    }

    /// Whether [`Output::keep`] would keep `rel`: the last build wrote it,
    /// and its files are still there, the siblings at the lengths written.
    pub(super) fn can_keep(&self, rel: &str) -> bool {
        let Some(entry) = self.previous.docs.get(rel) else {
            return false;
        };
        let path = self.dir.join(rel);
        (!entry.identity || std::fs::metadata(&path).is_ok_and(|m| m.is_file()))
            && siblings_in_place(&path, entry)
    }

    /// Keep a document of the last build as it is, without its bytes: the
    /// caller knows they would come out the same. `false` (and nothing
    /// kept) if the last build did not write it or its files are not as
    /// it left them (lengths differ, a file is gone): render it then.
    pub(super) fn keep(&self, rel: &str) -> bool {
        let Some(entry) = self.previous.docs.get(rel).filter(|_| self.can_keep(rel)) else {
            return false;
        };
        for _ in 0..usize::from(entry.identity) + entry.siblings.iter().flatten().count() {
            self.count(false);
        }
        self.next().docs.insert(rel.to_string(), entry.clone());
        true
    }

    /// Put one document, `rel` being its `/`-separated path in the folder:
    /// its identity bytes and its siblings, each written only if its bytes
    /// differ from the file's. Callable from several threads at once.
    pub(super) fn put(&self, rel: &str, body: &[u8], wanted: Siblings) -> anyhow::Result<()> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let tag = content_tag(body);
        // Without an identity file, the `.gz` at the length written for
        // these bytes vouches for them, as a sibling does.
        let identity_same = !wanted.identity() || holds(&path, body);
        let before = self.before(rel);
        // The siblings can be trusted without compressing: the same bytes,
        // made into them last time by compressors that make the same bytes,
        // and they are still there at the lengths they were written.
        let kept = before.map(|(e, _)| e).filter(|e| {
            identity_same
                && before.is_some_and(|(_, same_compressors)| same_compressors)
                && e.tag == tag
                && e.identity == wanted.identity()
                && (0..SIBLINGS.len()).all(|i| wanted.wants(i) == e.siblings[i].is_some())
                && siblings_in_place(&path, e)
        });
        let siblings = match kept {
            Some(e) => {
                for _ in e.siblings.iter().flatten() {
                    self.count(false);
                }
                e.siblings
            }
            None => {
                // Siblings first: when the document itself changes, its
                // codings are in place already.
                let mut lens = [None; 2];
                for (i, (len, (coding, suffix))) in lens.iter_mut().zip(SIBLINGS).enumerate() {
                    let file = sibling(&path, suffix);
                    if !wanted.wants(i) {
                        // One an earlier build wrote (archives had `.br`
                        // once) would be stale: bantin wrote it, bantin
                        // removes it.
                        if before.is_some_and(|(e, _)| e.siblings[i].is_some()) {
                            remove(&file)?;
                        }
                        continue;
                    }
                    let bytes = compress(coding, body);
                    let written = place(&file, &bytes)?;
                    self.wrote(written, bytes.len());
                    *len = Some(bytes.len() as u64);
                }
                lens
            }
        };
        if wanted.identity() {
            let written = if identity_same {
                false
            } else {
                place(&path, body)?
            };
            self.wrote(written, body.len());
        } else if before.is_some_and(|(e, _)| e.identity) {
            // Written by an earlier build: it would go stale beside the
            // new `.gz`.
            remove(&path)?;
        }
        let entry = Entry {
            tag,
            identity: wanted.identity(),
            siblings,
        };
        let line = entry_line(rel, &entry);
        self.next().docs.insert(rel.to_string(), entry);
        // After its files: a journal line vouches for files in place.
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(line.as_bytes())
            .with_context(|| format!("writing {}", self.dir.join(JOURNAL).display()))
    }

    /// Count a file placed (`written`, `len` bytes) or left as it was.
    fn wrote(&self, written: bool, len: usize) {
        self.count(written);
        if written {
            self.bytes.fetch_add(len as u64, Ordering::Relaxed);
        }
    }

    /// Write a file that is not a document (no siblings, not in the
    /// manifest), unless it holds these bytes already.
    pub(super) fn put_aside(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        place(&self.dir.join(rel), bytes).map(|_| ())
    }

    /// Remove the files of documents the last build wrote and this one did
    /// not, and record what this build wrote. Returns the counts.
    pub(super) fn finish(self) -> anyhow::Result<Counts> {
        let next = self.next.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut removed = 0;
        let interrupted = self.interrupted.iter().flat_map(BTreeMap::keys);
        for rel in self.previous.docs.keys().chain(interrupted) {
            if next.docs.contains_key(rel) {
                continue;
            }
            let path = self.dir.join(rel);
            for suffix in ["", ".gz", ".br"] {
                if remove(&sibling(&path, suffix))? {
                    removed += 1;
                }
            }
            prune_empty_parents(&self.dir, &path);
        }
        // Left alone when unchanged, as any other file: a build that
        // changed nothing changes nothing in the folder.
        let manifest = self.dir.join(MANIFEST);
        let text = next.to_text();
        if !holds(&manifest, text.as_bytes()) {
            place(&manifest, text.as_bytes())?;
        }
        // The manifest in place says all the journal did.
        remove(&self.dir.join(JOURNAL))?;
        Ok(Counts {
            written: self.written.into_inner(),
            unchanged: self.unchanged.into_inner(),
            removed,
        })
    }
}

/// A journal's entries, if it was written with compressors of this
/// `fingerprint` (none otherwise: its siblings can't be trusted). A line
/// cut short by the kill that stopped its build ends it.
fn read_journal(text: &str, fingerprint: &str) -> BTreeMap<String, Entry> {
    let mut lines = text.lines();
    if lines.next() != Some(JOURNAL_HEADER)
        || lines.next().and_then(|l| l.strip_prefix("codings ")) != Some(fingerprint)
    {
        return BTreeMap::new();
    }
    let mut docs = BTreeMap::new();
    for line in lines {
        match parse_entry(line, false) {
            Some((rel, entry)) => docs.insert(rel, entry),
            None => break,
        };
    }
    docs
}

/// Whether the siblings a manifest entry lists are there at the lengths
/// written.
fn siblings_in_place(path: &Path, e: &Entry) -> bool {
    SIBLINGS.iter().zip(e.siblings).all(|((_, suffix), len)| {
        len.is_none_or(|len| std::fs::metadata(sibling(path, suffix)).is_ok_and(|m| m.len() == len))
    })
}

/// Remove a file; `false` if there was none.
fn remove(file: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context(format!("removing {}", file.display()))),
    }
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether the file at `path` holds exactly `bytes` (a missing or
/// unreadable file does not). The length is compared first, so a changed
/// file is rarely read whole.
fn holds(path: &Path, bytes: &[u8]) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
        && std::fs::read(path).is_ok_and(|old| old == bytes)
}

/// Make the file at `path` hold `bytes`, unless it does already: write a
/// temporary file beside it, then rename it over `path`. Returns whether it
/// wrote.
fn place(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if holds(path, bytes) {
        return Ok(false);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A fixed name: a build that died leaves at most one per file, and the
    // next build writes over it.
    let tmp = path.with_file_name(format!(".{name}.bantin-tmp"));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("writing {}", path.display())));
    }
    Ok(true)
}

/// Remove the folders between `path` and `root` that are empty now (those
/// of a pair feed whose category went), never `root` itself.
fn prune_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_read_back_and_refuse_paths_outside_the_folder() {
        let m = Manifest {
            fingerprint: "f".into(),
            since: Some("seq 12\t2024-11-01T00:00:00Z\tabc".into()),
            docs: BTreeMap::from([(
                "feeds/category/kinh-te.rss".to_string(),
                Entry {
                    tag: "t".into(),
                    identity: false,
                    siblings: [Some(10), None],
                },
            )]),
        };
        assert_eq!(Manifest::parse(&m.to_text()), Some(m));
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""] {
            let text = format!("{MANIFEST_HEADER}\ncodings f\nsince -\nt\ti\t1\t1\t{bad}\n");
            assert_eq!(Manifest::parse(&text), None, "{bad:?}");
        }
        assert_eq!(Manifest::parse("something else\n"), None);
    }

    #[test]
    fn the_fingerprint_is_stable_and_its_probe_tells_gzip_levels_apart() {
        use std::io::Write;
        assert_eq!(codings_fingerprint(), codings_fingerprint());
        let gzip = |level| {
            let mut enc =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            enc.write_all(probe().as_bytes()).unwrap();
            enc.finish().unwrap()
        };
        let outputs: Vec<Vec<u8>> = (1..=6).map(gzip).collect();
        for (i, a) in outputs.iter().enumerate() {
            for b in &outputs[i + 1..] {
                assert_ne!(
                    a,
                    b,
                    "gzip level {} writes the probe as another level does",
                    i + 1
                );
            }
        }
    }
}
