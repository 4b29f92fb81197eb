//! `bantin build --out DIR` against the server:
//!
//! - the files mirror the URL space: every feed (all, each category, each
//!   region, each category/region pair) in all three formats, `index.html`
//!   and `feeds.opml`, each with `.gz` and `.br` siblings, and nothing else;
//! - every file is byte for byte what the server sends for its URL (`/` for
//!   `index.html`) with `Accept-Encoding` identity, gzip and br.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bantin::article::FeedKey;

use crate::server::{EXTS, Sample, Server, client, decode, feed_path, get, jsonl_article};
use crate::stores::{StoreKind, each_store};

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
async fn build(sample: &Sample) -> PathBuf {
    let out = sample.path("out");
    sample
        .bantin_async(&["build", "--out", out.to_str().unwrap()])
        .await;
    out
}

/// The files SPEC wants for these slugs: every feed in every format, the
/// page and the OPML list, each with its `.gz` and `.br`.
fn expected_files(categories: &[&str], regions: &[&str], authors: &[&str]) -> BTreeSet<String> {
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
        .flat_map(|k| EXTS.map(|e| feed_path(k, e).trim_start_matches('/').to_string()))
        .collect();
    docs.extend(["index.html".to_string(), "feeds.opml".to_string()]);
    docs.iter()
        .flat_map(|d| [d.clone(), format!("{d}.gz"), format!("{d}.br")])
        .collect()
}

each_store!(async fn build_writes_every_feed_page_and_opml_with_gz_and_br_and_nothing_else);
async fn build_writes_every_feed_page_and_opml_with_gz_and_br_and_nothing_else(store: StoreKind) {
    // A small store, so that the expected URL space is plain to see: two
    // categories, two regions, and one of the four pairs without an article.
    let sample = Sample::empty_on(store);
    let file = sample.path("few.jsonl");
    let lines = [
        jsonl_article("a1", "Kinh tế", "Đức Thọ", "2020-10-01T08:00:00+07:00"),
        jsonl_article("a2", "Kinh tế", "Kỳ Anh", "2020-10-02T08:00:00+07:00"),
        jsonl_article("a3", "Thể thao", "Đức Thọ", "2020-10-03T08:00:00+07:00"),
    ];
    std::fs::write(&file, lines.concat()).unwrap();
    sample
        .bantin_async(&["import", file.to_str().unwrap()])
        .await;
    let out = build(&sample).await;
    assert_eq!(
        files_under(&out),
        expected_files(&["kinh-te", "the-thao"], &["duc-tho", "ky-anh"], &[])
    );
    // Every sibling holds its file's bytes in its coding.
    for rel in files_under(&out)
        .iter()
        .filter(|f| !f.ends_with(".gz") && !f.ends_with(".br"))
    {
        let plain = std::fs::read(out.join(rel)).unwrap();
        assert!(!plain.is_empty(), "{rel} is empty");
        for (suffix, coding) in [(".gz", "gzip"), (".br", "br")] {
            let packed = std::fs::read(out.join(format!("{rel}{suffix}"))).unwrap();
            assert_eq!(decode(Some(coding), &packed), plain, "{rel}{suffix}");
        }
    }
}

each_store!(async fn build_of_the_sample_mirrors_its_url_space);
async fn build_of_the_sample_mirrors_its_url_space(store: StoreKind) {
    let sample = Sample::on(store);
    let out = build(&sample).await;
    let (mut cats, mut regs, mut authors) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for a in crate::server::sample_articles() {
        cats.extend(a.categories.iter().map(|n| bantin::slug::slugify(n)));
        regs.extend(a.regions.iter().map(|n| bantin::slug::slugify(n)));
        authors.extend(a.authors.iter().map(|n| bantin::slug::slugify(n)));
    }
    let cats: Vec<&str> = cats.iter().map(String::as_str).collect();
    let regs: Vec<&str> = regs.iter().map(String::as_str).collect();
    let authors: Vec<&str> = authors.iter().map(String::as_str).collect();
    assert_eq!(files_under(&out), expected_files(&cats, &regs, &authors));

    // Every document is what the server sends for its URL, in each coding.
    let server = Server::sample(&sample).await;
    let c = client();
    let docs: Vec<String> = files_under(&out)
        .into_iter()
        .filter(|f| !f.ends_with(".gz") && !f.ends_with(".br"))
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
                    "index.html" => format!("{base}/"),
                    other => format!("{base}/{other}"),
                };
                for (suffix, coding) in [("", "identity"), (".gz", "gzip"), (".br", "br")] {
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
