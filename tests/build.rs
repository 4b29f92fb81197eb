//! `bantin build --out DIR` against the server:
//!
//! - the files mirror the URL space: every feed (all, each category, each
//!   region, each category/region pair) in all three formats, `index.html`
//!   and `feeds.opml`, each with `.gz` and `.br` siblings, every archive
//!   document with its `.gz` alone, and nothing else;
//! - every file is byte for byte what the server sends for its URL with
//!   `Accept-Encoding` identity, gzip and br; `index.html` is the server's
//!   `/` without its search box (no keyword feeds in a static site);
//! - a build over an earlier one (issue 7, item 4) gives the tree a fresh
//!   build gives, byte for byte; rewrites (new inode) only the files whose
//!   bytes changed, none when nothing did; removes the files of feeds that
//!   are gone, and their empty folders; never touches a file it did not
//!   write, even one named like a feed; and says what it did:
//!   `written N, unchanged M, removed K`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bantin::article::{Article, FeedKey};
use chrono::{FixedOffset, Utc};

use crate::support::{
    FORMATS, Sandbox, Server, StoreKind, belongs, client, decode, each_store, feed_path, get,
    jsonl_article,
};

/// Every file under `dir`, as `/`-separated paths relative to it.
pub fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(parts.join("/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Run `bantin build --out DIR/out` on `sample`'s store; returns the folder.
async fn build(sample: &Sandbox) -> PathBuf {
    let out = sample.path("out");
    sample
        .run_async(&["build", "--out", out.to_str().unwrap()])
        .await;
    out
}

/// The files SPEC wants for these slugs: every feed in every format, each
/// month of each feed that has articles (`months`), the page and the OPML
/// list, each with its `.gz` and `.br` (an archive document its `.gz`).
fn expected_files(
    categories: &[&str],
    regions: &[&str],
    authors: &[&str],
    months: impl Fn(&FeedKey) -> BTreeSet<String>,
) -> BTreeSet<String> {
    let mut keys = vec![FeedKey::All];
    keys.extend(categories.iter().map(|c| FeedKey::Category(c.to_string())));
    keys.extend(regions.iter().map(|r| FeedKey::Region(r.to_string())));
    keys.extend(authors.iter().map(|a| FeedKey::Author(a.to_string())));
    for c in categories {
        for r in regions {
            keys.push(FeedKey::CategoryRegion(c.to_string(), r.to_string()));
        }
    }
    let mut docs: Vec<String> = keys
        .iter()
        .flat_map(|k| FORMATS.map(|e| feed_path(k, e).trim_start_matches('/').to_string()))
        .collect();
    for key in &keys {
        for month in months(key) {
            docs.extend(FORMATS.map(|e| archive_path(key, &month, e)));
        }
    }
    docs.extend([
        "index.html".to_string(),
        "feeds.opml".to_string(),
        "sitemap-news.xml".to_string(),
    ]);
    docs.iter()
        .flat_map(|d| {
            let br = (!d.contains("/archive/")).then(|| format!("{d}.br"));
            [Some(d.clone()), Some(format!("{d}.gz")), br]
        })
        .flatten()
        // bantin's record of what it wrote, for the next build.
        .chain([MANIFEST.to_string()])
        .collect()
}

/// A month's archive document of a feed, relative to the output folder.
fn archive_path(key: &FeedKey, month: &str, ext: &str) -> String {
    format!("feeds/{}/archive/{month}.{ext}", key.path())
}

/// The months (`YYYY-MM` at the site's offset) that have articles of
/// `key`, among `articles` published by now.
fn months_of(articles: &[Article], key: &FeedKey) -> BTreeSet<String> {
    let offset = FixedOffset::east_opt(7 * 3600).unwrap();
    articles
        .iter()
        .filter(|a| a.published <= Utc::now() && belongs(a, key))
        .map(|a| {
            a.published
                .with_timezone(&offset)
                .format("%Y-%m")
                .to_string()
        })
        .collect()
}

/// The feeds of an article in Kinh tế and Đức Thọ, as paths under `feeds/`.
const KINH_TE_DUC_THO: [&str; 4] = [
    "all",
    "category/kinh-te",
    "region/duc-tho",
    "category/kinh-te/region/duc-tho",
];

/// The manifest `bantin build` keeps in its output folder.
const MANIFEST: &str = ".bantin-build";

each_store!(async fn build_writes_every_feed_page_and_opml_with_gz_and_br_and_nothing_else);
async fn build_writes_every_feed_page_and_opml_with_gz_and_br_and_nothing_else(store: StoreKind) {
    // A small store, so that the expected URL space is plain to see: two
    // categories, two regions, and one of the four pairs without an article.
    let sample = Sandbox::with_schema_on(store);
    let file = sample.path("few.jsonl");
    let lines = [
        jsonl_article("a1", "Kinh tế", "Đức Thọ", "2020-10-01T08:00:00+07:00"),
        jsonl_article("a2", "Kinh tế", "Kỳ Anh", "2020-10-02T08:00:00+07:00"),
        jsonl_article("a3", "Thể thao", "Đức Thọ", "2020-10-03T08:00:00+07:00"),
    ];
    std::fs::write(&file, lines.concat()).unwrap();
    sample.run_async(&["import", file.to_str().unwrap()]).await;
    let out = build(&sample).await;
    assert_eq!(
        files_under(&out),
        expected_files(
            &["kinh-te", "the-thao"],
            &["duc-tho", "ky-anh"],
            &[],
            |key| {
                // The pair without an article has no month.
                match key {
                    FeedKey::CategoryRegion(c, r) if c == "the-thao" && r == "ky-anh" => {
                        BTreeSet::new()
                    }
                    _ => BTreeSet::from(["2020-10".to_string()]),
                }
            }
        )
    );
    // Every sibling holds its file's bytes in its coding.
    for rel in files_under(&out)
        .iter()
        .filter(|f| !f.ends_with(".gz") && !f.ends_with(".br") && *f != MANIFEST)
    {
        let plain = std::fs::read(out.join(rel)).unwrap();
        assert!(!plain.is_empty(), "{rel} is empty");
        for (suffix, coding) in [(".gz", "gzip"), (".br", "br")] {
            if suffix == ".br" && rel.contains("/archive/") {
                continue;
            }
            let packed = std::fs::read(out.join(format!("{rel}{suffix}"))).unwrap();
            assert_eq!(decode(Some(coding), &packed), plain, "{rel}{suffix}");
        }
    }
}

each_store!(async fn build_of_the_sample_mirrors_its_url_space);
async fn build_of_the_sample_mirrors_its_url_space(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let out = build(&sample).await;
    let (mut cats, mut regs, mut authors) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let articles = crate::support::sample_articles();
    for a in &articles {
        cats.extend(a.categories.iter().map(|n| bantin::slug::slugify(n)));
        regs.extend(a.regions.iter().map(|n| bantin::slug::slugify(n)));
        authors.extend(a.authors.iter().map(|n| bantin::slug::slugify(n)));
    }
    let cats: Vec<&str> = cats.iter().map(String::as_str).collect();
    let regs: Vec<&str> = regs.iter().map(String::as_str).collect();
    let authors: Vec<&str> = authors.iter().map(String::as_str).collect();
    let expected = expected_files(&cats, &regs, &authors, |key| months_of(&articles, key));
    assert_eq!(files_under(&out), expected);

    // Every document is what the server sends for its URL, in each coding.
    let server = Server::sample(&sample).await;
    let c = client();
    let docs: Vec<String> = files_under(&out)
        .into_iter()
        .filter(|f| !f.ends_with(".gz") && !f.ends_with(".br") && *f != MANIFEST)
        .collect();
    let out = Arc::new(out);
    let base = Arc::new(server.base.clone());
    // A few at a time: the server renders each feed on first request.
    for batch in docs.chunks(16) {
        let mut tasks = Vec::new();
        for rel in batch {
            let (c, out, base, rel) = (c.clone(), out.clone(), base.clone(), rel.clone());
            tasks.push(tokio::spawn(async move {
                let url = match rel.as_str() {
                    "index.html" => {
                        page_is_the_served_one_without_search(&c, &out, &base).await;
                        return;
                    }
                    other => format!("{base}/{other}"),
                };
                for (suffix, coding) in [("", "identity"), (".gz", "gzip"), (".br", "br")] {
                    if suffix == ".br" && rel.contains("/archive/") {
                        continue;
                    }
                    let file = std::fs::read(out.join(format!("{rel}{suffix}"))).unwrap();
                    let r = get(&c, &url, &[("accept-encoding", coding)]).await;
                    assert_eq!(r.status, 200, "{url}");
                    assert!(
                        r.body == file,
                        "{rel}{suffix} differs from GET {url} with Accept-Encoding: {coding}"
                    );
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
}

/// `index.html` is the page the server sends for `/` but for its search
/// box: a static site has no keyword feeds, so the built page offers none
/// (a form there would lead to a 404). Its `.gz` and `.br` hold its bytes.
async fn page_is_the_served_one_without_search(c: &reqwest::Client, out: &Path, base: &str) {
    let built = std::fs::read_to_string(out.join("index.html")).unwrap();
    let served = get(c, &format!("{base}/"), &[]).await.text();
    assert_eq!(built, without_search(&without_audience(&served)));
    assert!(!built.contains("feeds/search"), "{built}");
    for (suffix, coding) in [(".gz", "gzip"), (".br", "br")] {
        let file = std::fs::read(out.join(format!("index.html{suffix}"))).unwrap();
        assert!(
            decode(Some(coding), &file) == built.as_bytes(),
            "index.html{suffix}"
        );
    }
}

/// The page the server sends for `/` with its search box taken out: what
/// `bantin build` writes as `index.html`.
pub fn without_search(served: &str) -> String {
    let start = served
        .find("<form")
        .expect("the served page has a search box");
    let end = served[start..].find("</form>\n").unwrap() + start + "</form>\n".len();
    format!("{}{}", &served[..start], &served[end..])
}

/// The served page without the audience counts the server adds (SPEC
/// "Audience": marked with the class `a`), which a static build has not.
pub fn without_audience(served: &str) -> String {
    let mut out = served.to_string();
    for (open, close) in [
        ("<th class=\"n a\">", "</th>"),
        ("<td class=\"n a\">", "</td>"),
        ("<span class=\"a\">", "</span>"),
    ] {
        while let Some(start) = out.find(open) {
            let end = out[start..].find(close).unwrap() + start + close.len();
            out.replace_range(start..end, "");
        }
    }
    out
}

/// Files by path with their inode and bytes: what a rewrite changes (a
/// rename gives a new inode) and what a reader sees.
type Tree = BTreeMap<String, (u64, Vec<u8>)>;

/// Every file under `dir`, as a [`Tree`].
fn tree(dir: &Path) -> Tree {
    files_under(dir)
        .into_iter()
        .map(|rel| {
            let path = dir.join(&rel);
            let ino = std::fs::metadata(&path).unwrap().ino();
            (rel, (ino, std::fs::read(&path).unwrap()))
        })
        .collect()
}

/// The bytes of every file under `dir` but the manifest (which records
/// when and from what log position it was built).
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(k, _)| k != MANIFEST)
        .map(|(k, (_, b))| (k, b))
        .collect()
}

/// A [`tree`] but the manifest, which every build rewrites (it records
/// where in the change log the build stood).
fn without_manifest(
    mut tree: BTreeMap<String, (u64, Vec<u8>)>,
) -> BTreeMap<String, (u64, Vec<u8>)> {
    tree.remove(MANIFEST);
    tree
}

/// Assert two folders' [`contents`] are the same, naming the files that
/// differ rather than dumping their bytes.
#[track_caller]
fn assert_same(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>) {
    let names: BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let differ: Vec<&String> = names
        .into_iter()
        .filter(|n| got.get(*n) != want.get(*n))
        .collect();
    assert!(differ.is_empty(), "these files differ: {differ:?}");
}

/// `bantin build --out DIR`, returning what it printed.
fn build_into(sample: &Sandbox, dir: &Path) -> String {
    let out = sample.run_ok(&["build", "--out", dir.to_str().unwrap()]);
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A fresh build of `sample` into a new folder `name`, as the reference.
fn fresh(sample: &Sandbox, name: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = sample.path(name);
    build_into(sample, &dir);
    contents(&dir)
}

fn import(sample: &Sandbox, name: &str, lines: &[String]) {
    let file = sample.path(name);
    std::fs::write(&file, lines.concat()).unwrap();
    sample.run_ok(&["import", file.to_str().unwrap()]);
}

/// The user's files in an output folder: bantin leaves them alone.
const MINE: [&str; 2] = ["notes.txt", "feeds/category/mine.rss"];

/// Three articles built into `out`, which also holds files of the user's
/// (one named like a feed): the sandbox, the output folder, its tree, and
/// how many files bantin wrote.
fn built_once() -> (Sandbox, PathBuf, Tree, usize) {
    let sample = Sandbox::with_schema();
    import(
        &sample,
        "few.jsonl",
        &[
            jsonl_article("a1", "Kinh tế", "Đức Thọ", "2020-10-01T08:00:00+07:00"),
            jsonl_article("a2", "Kinh tế", "Kỳ Anh", "2020-10-02T08:00:00+07:00"),
            jsonl_article("a3", "Thể thao", "Đức Thọ", "2020-10-03T08:00:00+07:00"),
        ],
    );
    let out = sample.path("out");
    std::fs::create_dir_all(out.join("feeds/category")).unwrap();
    std::fs::write(out.join(MINE[0]), "mine").unwrap();
    std::fs::write(out.join(MINE[1]), "mine too").unwrap();
    let said = build_into(&sample, &out);
    let first = tree(&out);
    let files = first.len() - MINE.len() - 1; // not the user's, not the manifest
    assert_eq!(said, format!("written {files}, unchanged 0, removed 0"));
    mine(&first);
    (sample, out, first, files)
}

/// The user's files are still in the tree.
fn mine(t: &Tree) {
    for rel in MINE {
        assert!(t.contains_key(rel), "{rel} was removed");
    }
}

/// The folder's files but the user's.
fn without_mine(mut t: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    for rel in MINE {
        t.remove(rel);
    }
    t
}

#[test]
fn a_build_with_nothing_changed_writes_nothing() {
    let (sample, out, first, files) = built_once();
    let said = build_into(&sample, &out);
    assert_eq!(said, format!("written 0, unchanged {files}, removed 0"));
    assert!(
        without_manifest(tree(&out)) == without_manifest(first.clone()),
        "a build with no change rewrote files"
    );
}

#[test]
fn a_new_article_rewrites_only_the_files_it_changes_and_equals_a_fresh_build() {
    let (sample, out, first, files) = built_once();
    // One new article in Kinh tế / Đức Thọ: its feeds change (all, the
    // category, the region, the pair), and the pages that count articles.
    import(
        &sample,
        "new.jsonl",
        &[jsonl_article(
            "a4",
            "Kinh tế",
            "Đức Thọ",
            "2020-10-04T08:00:00+07:00",
        )],
    );
    let said = build_into(&sample, &out);
    let second = tree(&out);
    mine(&second);
    assert_same(&without_mine(contents(&out)), &fresh(&sample, "fresh-2"));
    let rewritten: BTreeSet<&str> = first
        .iter()
        .filter(|(rel, (ino, _))| second[*rel].0 != *ino)
        .map(|(rel, _)| rel.as_str())
        .collect();
    let changed: BTreeSet<&str> = first
        .iter()
        .filter(|(rel, (_, bytes))| second[*rel].1 != *bytes)
        .map(|(rel, _)| rel.as_str())
        .collect();
    assert_eq!(
        rewritten, changed,
        "rewritten files are exactly the changed ones"
    );
    let changed_docs: BTreeSet<String> = changed
        .iter()
        .map(|rel| rel.trim_end_matches(".gz").trim_end_matches(".br"))
        .filter(|rel| *rel != MANIFEST)
        .map(str::to_string)
        .collect();
    let mut expected: BTreeSet<String> = ["index.html", "feeds.opml"].map(String::from).into();
    for stem in KINH_TE_DUC_THO {
        expected.extend(FORMATS.map(|ext| format!("feeds/{stem}.{ext}")));
        // The month's archive holds the article too.
        expected.extend(FORMATS.map(|ext| format!("feeds/{stem}/archive/2020-10.{ext}")));
    }
    assert_eq!(changed_docs, expected);
    let written = changed.len() - usize::from(changed.contains(MANIFEST));
    assert_eq!(
        said,
        format!(
            "written {written}, unchanged {}, removed 0",
            files - written
        )
    );
}

#[test]
fn a_feed_that_loses_its_last_article_is_removed_with_its_folder() {
    let (sample, out, before, _) = built_once();
    // Thể thao loses its only article: its feeds go, pair folders too.
    sample.run_ok(&["remove", "a3"]);
    let said = build_into(&sample, &out);
    let after = tree(&out);
    mine(&after);
    assert_same(&without_mine(contents(&out)), &fresh(&sample, "fresh-3"));
    let gone: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    // The category feed and its two pair feeds (3 formats, 3 files each),
    // and the archives of the category and of the pair that had the
    // article (3 formats, 2 files each).
    assert_eq!(gone.len(), 3 * 3 * 3 + 2 * 3 * 2, "{gone:?}");
    assert!(
        gone.iter()
            .all(|g| g.starts_with("feeds/category/the-thao"))
    );
    assert!(
        !out.join("feeds/category/the-thao").exists(),
        "an empty folder stayed"
    );
    assert!(said.ends_with(", removed 39"), "{said}");
}

/// An SQLite store holding one article published at `published`, built
/// into its folder `out`, which is returned.
fn one_article_built(published: &str) -> (Sandbox, PathBuf) {
    let sample = Sandbox::with_schema();
    import(
        &sample,
        "one.jsonl",
        &[jsonl_article("a1", "Kinh tế", "Đức Thọ", published)],
    );
    let out = sample.path("out");
    build_into(&sample, &out);
    (sample, out)
}

#[test]
fn a_build_that_finds_a_file_changed_by_hand_writes_it_back() {
    let (sample, out) = one_article_built("2020-10-01T08:00:00+07:00");
    let reference = contents(&out);
    std::fs::write(out.join("feeds/all.rss"), "edited").unwrap();
    std::fs::write(out.join("feeds/all.rss.gz"), "edited").unwrap();
    std::fs::remove_file(out.join("feeds/all.atom.br")).unwrap();
    let said = build_into(&sample, &out);
    assert!(said.starts_with("written 3, "), "{said}");
    assert_same(&contents(&out), &reference);
}

/// The files under `out` whose bytes differ between two trees, or that one
/// of them lacks, by document (siblings folded in), manifest aside.
fn changed_documents(
    before: &BTreeMap<String, (u64, Vec<u8>)>,
    after: &BTreeMap<String, (u64, Vec<u8>)>,
) -> BTreeSet<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|rel| before.get(*rel).map(|(_, b)| b) != after.get(*rel).map(|(_, b)| b))
        .map(|rel| {
            rel.trim_end_matches(".gz")
                .trim_end_matches(".br")
                .to_string()
        })
        .filter(|rel| rel != MANIFEST)
        .collect()
}

each_store!(fn an_incremental_build_changes_only_the_archive_months_a_write_reaches);
fn an_incremental_build_changes_only_the_archive_months_a_write_reaches(store: StoreKind) {
    // Four months of Kinh tế in Đức Thọ, one of Thể thao.
    let sample = Sandbox::with_schema_on(store);
    import(
        &sample,
        "months.jsonl",
        &[
            jsonl_article("a1", "Kinh tế", "Đức Thọ", "2020-07-15T08:00:00+07:00"),
            jsonl_article("a2", "Kinh tế", "Đức Thọ", "2020-08-15T08:00:00+07:00"),
            jsonl_article("a3", "Kinh tế", "Đức Thọ", "2020-09-15T08:00:00+07:00"),
            jsonl_article("a4", "Kinh tế", "Đức Thọ", "2020-10-15T08:00:00+07:00"),
            jsonl_article("b1", "Thể thao", "Đức Thọ", "2020-08-20T08:00:00+07:00"),
        ],
    );
    let out = sample.path("out");
    build_into(&sample, &out);
    let first = tree(&out);
    let archive = |stem: &str, month: &str| -> Vec<String> {
        FORMATS
            .map(|ext| format!("feeds/{stem}/archive/{month}.{ext}"))
            .to_vec()
    };
    let feed =
        |stem: &str| -> Vec<String> { FORMATS.map(|ext| format!("feeds/{stem}.{ext}")).to_vec() };
    assert!(first.contains_key(&archive("category/the-thao", "2020-08")[0]));

    // A second article in August, in Kinh tế: August of its four feeds
    // changes, and their subscription feeds, and `/` (counts); nothing
    // else, not July or September (their links to August stay), not Thể
    // thao, not the OPML list (no feed came or went, none has a new
    // newest article).
    import(
        &sample,
        "august.jsonl",
        &[jsonl_article(
            "a5",
            "Kinh tế",
            "Đức Thọ",
            "2020-08-16T08:00:00+07:00",
        )],
    );
    build_into(&sample, &out);
    let second = tree(&out);
    assert_same(&contents(&out), &fresh(&sample, "fresh-1"));
    let mut expected = BTreeSet::from(["index.html".to_string()]);
    for stem in KINH_TE_DUC_THO {
        expected.extend(feed(stem));
        expected.extend(archive(stem, "2020-08"));
    }
    assert_eq!(changed_documents(&first, &second), expected);

    // September loses its only article: its documents go, and August and
    // October, which linked to it, now link to each other.
    sample.run_ok(&["remove", "a3"]);
    build_into(&sample, &out);
    let third = tree(&out);
    assert_same(&contents(&out), &fresh(&sample, "fresh-2"));
    let mut expected = BTreeSet::from(["index.html".to_string()]);
    for stem in KINH_TE_DUC_THO {
        expected.extend(feed(stem));
        for month in ["2020-09", "2020-10"] {
            expected.extend(archive(stem, month));
        }
        // August's `next-archive`; JSON Feed links only the older month.
        expected.extend(
            archive(stem, "2020-08")
                .into_iter()
                .filter(|rel| !rel.ends_with(".json")),
        );
    }
    assert_eq!(changed_documents(&second, &third), expected);
    for stem in KINH_TE_DUC_THO {
        for rel in archive(stem, "2020-09") {
            assert!(!third.contains_key(&rel), "{rel} stayed");
        }
    }

    // Nothing changed since: the archives are all kept.
    let said = build_into(&sample, &out);
    assert!(said.starts_with("written 0, "), "{said}");
    assert!(
        without_manifest(tree(&out)) == without_manifest(third),
        "a build with no change rewrote files"
    );
}

#[test]
fn a_build_with_another_site_file_renders_every_archive_again() {
    let (sample, out) = one_article_built("2020-07-15T08:00:00+07:00");
    // The same store, with the site renamed: every document names the site.
    let mut site = crate::support::site_toml();
    site.insert("title".into(), "Báo khác".into());
    let site_file = sample.path("other.toml");
    std::fs::write(&site_file, toml::to_string(&site).unwrap()).unwrap();
    let with_site = |dir: &Path| {
        sample
            .bantin()
            .site(&site_file)
            .args(["build", "--out"])
            .arg(dir)
            .ok();
    };
    with_site(&out);
    let reference = sample.path("reference");
    with_site(&reference);
    assert_same(&contents(&out), &contents(&reference));
    let july = std::fs::read_to_string(out.join("feeds/all/archive/2020-07.rss")).unwrap();
    assert!(july.contains("Báo khác"), "{july}");
}

each_store!(fn an_article_coming_due_between_builds_joins_its_archive_month);
fn an_article_coming_due_between_builds_joins_its_archive_month(store: StoreKind) {
    // One article now, one scheduled a few seconds ahead in the same
    // feeds: no log row says when the second comes due, only the clock,
    // and no name comes or goes (which would make the build render all).
    let sample = Sandbox::with_schema_on(store);
    let now = Utc::now();
    let at = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let due = now + chrono::Duration::seconds(3);
    import(
        &sample,
        "two.jsonl",
        &[
            jsonl_article(
                "now",
                "Kinh tế",
                "Đức Thọ",
                &at(now - chrono::Duration::minutes(1)),
            ),
            jsonl_article("later", "Kinh tế", "Đức Thọ", &at(due)),
        ],
    );
    let out = sample.path("out");
    build_into(&sample, &out);
    let month = due
        .with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap())
        .format("%Y-%m")
        .to_string();
    let archive = |stem: &str| {
        std::fs::read_to_string(out.join(format!("feeds/{stem}/archive/{month}.rss")))
            .unwrap_or_default()
    };
    assert!(!archive("category/kinh-te").contains("Tin thử later"));
    while Utc::now() <= due + chrono::Duration::seconds(1) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    build_into(&sample, &out);
    for stem in KINH_TE_DUC_THO {
        assert!(
            archive(stem).contains("Tin thử later"),
            "{stem}'s {month} lacks it once due"
        );
    }
    assert_same(&contents(&out), &fresh(&sample, "fresh"));
}

/// The sample site file with `keys` set at its top.
fn site_with(sample: &Sandbox, name: &str, keys: &str) -> PathBuf {
    let text = std::fs::read_to_string(crate::support::site_file()).unwrap();
    sample.write(name, format!("{keys}\n{text}"))
}

/// `bantin build` of `sample` with the site file `site` into `out`;
/// returns what it printed on stdout.
fn build_with(sample: &Sandbox, site: &Path, out: &Path) -> String {
    let done = sample
        .bantin()
        .site(site)
        .args(["build", "--out"])
        .arg(out)
        .ok();
    String::from_utf8(done.stdout).unwrap().trim().to_string()
}

each_store!(async fn built_archives_are_the_served_ones_under_each_archive_content);
async fn built_archives_are_the_served_ones_under_each_archive_content(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    for (name, keys) in [
        ("summary.toml", ""),
        ("full.toml", "archive_content = \"full\""),
        (
            "some.toml",
            "archive_content = \"summary\"\narchive_feeds = [\"all\", \"region\"]",
        ),
    ] {
        let site_path = site_with(&sample, name, keys);
        let out = sample.path(&format!("out-{name}"));
        build_with(&sample, &site_path, &out);
        let site = bantin::config::Site::parse(
            &std::fs::read_to_string(&site_path).unwrap(),
            name,
            crate::support::site_file().parent().unwrap().to_path_buf(),
        )
        .unwrap();
        let server = Server::start_site(sample.pool(4), site, crate::support::test_limits()).await;
        let c = client();
        let files = files_under(&out);
        let archives: Vec<&String> = files
            .iter()
            .filter(|f| f.contains("/archive/") && !f.ends_with(".gz"))
            .collect();
        assert!(!archives.is_empty(), "{name}: no archive written");
        for rel in &archives {
            let url = server.url(&format!("/{rel}"));
            for (suffix, coding) in [("", "identity"), (".gz", "gzip")] {
                let file = std::fs::read(out.join(format!("{rel}{suffix}"))).unwrap();
                let r = get(&c, &url, &[("accept-encoding", coding)]).await;
                assert_eq!(r.status, 200, "{url}");
                assert!(
                    r.body == file,
                    "{name}: {rel}{suffix} is not what GET {url} sends"
                );
            }
            // No brotli sibling: the server's br is another compression
            // of the same bytes, which the `.gz` stands in for.
            assert!(!files.contains(&format!("{rel}.br")), "{name}: {rel}.br");
        }
        // What a reader sees: full content in the archive, or not.
        let rss = std::fs::read_to_string(out.join("feeds/all/archive/2020-11.rss")).unwrap();
        let feed = std::fs::read_to_string(out.join("feeds/all.rss")).unwrap();
        assert!(feed.contains("<content:encoded>"), "{name}");
        assert!(rss.contains("<description>"), "{name}: {rss}");
        assert_eq!(
            rss.contains("<content:encoded>"),
            name == "full.toml",
            "{name}: {rss}"
        );
        // Kinds of feed without archives: no files, no link, 404.
        let category = files
            .iter()
            .find(|f| f.starts_with("feeds/category/"))
            .unwrap();
        let category = category.split('.').next().unwrap().to_string();
        let has = files
            .iter()
            .any(|f| f.starts_with(&format!("{category}/archive/")));
        assert_eq!(has, name != "some.toml", "{name}: {category}");
        let feed = std::fs::read_to_string(out.join(format!("{category}.rss"))).unwrap();
        assert_eq!(feed.contains("prev-archive"), has, "{name}: {category}.rss");
        let url = server.url(&format!("/{category}/archive/2020-11.rss"));
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status == 404, !has, "{name}: {url}: {}", r.status);
        assert!(
            files
                .iter()
                .any(|f| f.starts_with("feeds/region/") && f.contains("/archive/"))
        );
        server.stop().await;
    }
}

each_store!(async fn gzip_archives_are_the_served_gzip_and_decode_to_the_served_bytes);
async fn gzip_archives_are_the_served_gzip_and_decode_to_the_served_bytes(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let out = sample.path("out");
    // Over a build with the files: those go, as they'd be stale.
    build_into(&sample, &out);
    sample.run_ok(&["build", "--gzip-archives", "--out", out.to_str().unwrap()]);
    let server = Server::sample(&sample).await;
    let c = client();
    let files = files_under(&out);
    let archives: Vec<&String> = files.iter().filter(|f| f.contains("/archive/")).collect();
    assert!(!archives.is_empty());
    for rel in archives {
        let doc = rel
            .strip_suffix(".gz")
            .unwrap_or_else(|| panic!("{rel} is not a .gz"));
        let url = server.url(&format!("/{doc}"));
        let packed = std::fs::read(out.join(rel)).unwrap();
        let gzip = get(&c, &url, &[("accept-encoding", "gzip")]).await;
        assert!(
            gzip.body == packed,
            "{rel} is not what GET {url} sends in gzip"
        );
        let plain = get(&c, &url, &[("accept-encoding", "identity")]).await;
        assert!(
            decode(Some("gzip"), &packed) == plain.body,
            "{rel} does not decode to GET {url}"
        );
    }
    // Feeds keep every file.
    for f in ["feeds/all.rss", "feeds/all.rss.gz", "feeds/all.rss.br"] {
        assert!(files.contains(f), "{f}");
    }
    server.stop().await;
}

/// Every file under `dir` with its bytes, but bantin's own bookkeeping
/// (manifest, journal).
fn documents_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    contents(dir)
        .into_iter()
        .filter(|(rel, _)| rel != MANIFEST && rel != JOURNAL)
        .collect()
}

/// The journal a build keeps while it runs.
const JOURNAL: &str = ".bantin-build.partial";

#[test]
fn a_build_killed_halfway_leaves_whole_files_and_the_next_one_carries_on() {
    // Enough documents that the build is still running when it is
    // stopped: the sample, and 1,500 articles over ten years of months.
    let sample = Sandbox::with_sample();
    let cats = ["Kinh tế", "Xã hội", "Thể thao", "Giáo dục", "Y tế"];
    let regs = ["Đức Thọ", "Kỳ Anh", "Hương Sơn", "Cẩm Xuyên"];
    let many: Vec<Article> = (0..1500)
        .map(|i| {
            crate::support::article(
                &format!("nhieu-{i}"),
                &[cats[i % cats.len()]],
                &[regs[i % regs.len()]],
                &format!("{}-{:02}-15T08:00:00+07:00", 2010 + i / 150, 1 + i % 12),
            )
        })
        .collect();
    sample.upsert(many);
    let old_site = site_with(&sample, "old.toml", "");
    let new_site = site_with(&sample, "new.toml", "archive_content = \"full\"");
    let out = sample.path("out");
    build_with(&sample, &old_site, &out);
    let old = documents_in(&out);
    let old_manifest = std::fs::read(out.join(MANIFEST)).unwrap();
    let reference = sample.path("reference");
    build_with(&sample, &new_site, &reference);
    let new = documents_in(&reference);

    // Every archive changes (full content now); stop the build once it has
    // placed some of them.
    let mut child = sample
        .bantin()
        .site(&new_site)
        .args(["build", "--out"])
        .arg(&out)
        .spawn();
    let journal = out.join(JOURNAL);
    let placed = || {
        std::fs::read_to_string(&journal)
            .map(|t| t.lines().filter(|l| l.contains("/archive/")).count())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while placed() < 30 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before it could be stopped: give it more to do"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the build placed nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "stopped, not finished: {status}");

    // The folder is usable: the old manifest, and every file whole, the
    // old build's or the new one's.
    assert_eq!(std::fs::read(out.join(MANIFEST)).unwrap(), old_manifest);
    let now = documents_in(&out);
    let (mut kept, mut renewed) = (0, 0);
    for (rel, bytes) in &now {
        if rel.ends_with(".bantin-tmp") {
            continue; // a temporary name, never served
        }
        if old.get(rel) == Some(bytes) {
            kept += 1;
        } else if new.get(rel) == Some(bytes) {
            renewed += 1;
        } else {
            panic!("{rel} is neither the old build's nor the new one's");
        }
    }
    assert!(kept > 0 && renewed > 0, "kept {kept}, renewed {renewed}");

    // The next build carries on: what is in place is not written again,
    // and the folder ends as a fresh build's, with no journal.
    let said = build_with(&sample, &new_site, &out);
    let written: usize = said
        .strip_prefix("written ")
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        written + renewed <= new.len() + 1,
        "{said}: the {renewed} files in place were written again"
    );
    let after = files_under(&out);
    assert!(!after.contains(JOURNAL), "{after:?}");
    assert!(
        after.iter().all(|f| !f.ends_with(".bantin-tmp")),
        "{after:?}"
    );
    assert_same(&documents_in(&out), &new);
}

#[test]
fn a_terminal_shows_the_build_progress_and_a_pipe_does_not() {
    let sample = Sandbox::with_sample();
    let shown = sample.path("tty.log");
    let out = sample.path("out-tty");
    let ran = sample
        .bantin()
        .args(["build", "--out"])
        .arg(&out)
        .in_terminal(&shown)
        .output()
        .unwrap();
    assert!(ran.status.success(), "{ran:?}");
    let text = std::fs::read_to_string(&shown).unwrap();
    let docs = files_under(&out)
        .iter()
        .filter(|f| !f.ends_with(".gz") && !f.ends_with(".br") && *f != MANIFEST)
        .count();
    // The last line: every document, a rate, the bytes written.
    let last = format!("build: {docs} of {docs} documents, ");
    let last = last.replace(
        &docs.to_string(),
        &docs
            .to_string()
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(","),
    );
    assert!(text.contains(&last), "{last:?} not in {text:?}");
    assert!(
        text.contains(" a second, ") && text.contains(" MB written"),
        "{text:?}"
    );
    // Not a terminal: the summary on stdout, no progress.
    let piped = sample.run_ok(&["build", "--out", sample.path("out-pipe").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("documents"), "{stderr}");
    assert!(String::from_utf8_lossy(&piped.stdout).starts_with("written "));
}
