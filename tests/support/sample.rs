//! The sample publication (`feeds/`), and what SPEC expects of it worked
//! out from the files with other tools than bantin's (the `toml` crate,
//! slugs of names, SPEC's order), so that a test compares bantin with an
//! independent answer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bantin::article::{Article, FeedKey};
use bantin::config::Site;
use chrono::{DateTime, FixedOffset};

/// The crate's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sample site file, `feeds/site.toml`.
pub fn site_file() -> PathBuf {
    root().join("feeds/site.toml")
}

/// The sample articles, `feeds/articles/`.
pub fn articles_dir() -> PathBuf {
    root().join("feeds/articles")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// A helper script beside these files, `tests/support/NAME`.
pub fn script(name: &str) -> PathBuf {
    root().join("tests/support").join(name)
}

/// The sample site, loaded by bantin.
pub fn site() -> Site {
    Site::load(&site_file()).expect("loading feeds/site.toml")
}

/// The sample site file as plain TOML, read without bantin.
pub fn site_toml() -> toml::Table {
    std::fs::read_to_string(site_file())
        .unwrap()
        .parse()
        .unwrap()
}

/// The feed formats, as `--format` and file extensions spell them.
pub const FORMATS: [&str; 3] = ["rss", "atom", "json"];

/// `dump` arguments for a feed key.
pub fn key_args(key: &FeedKey) -> Vec<String> {
    match key {
        FeedKey::All => vec![],
        FeedKey::Category(c) => vec!["--category".into(), c.clone()],
        FeedKey::Region(r) => vec!["--region".into(), r.clone()],
        FeedKey::CategoryRegion(c, r) => {
            vec!["--category".into(), c.clone(), "--region".into(), r.clone()]
        }
        FeedKey::Author(u) => vec!["--author".into(), u.clone()],
        FeedKey::Search(_) => unreachable!("dump has no keyword feeds"),
    }
}

/// The sample site file's fields, read with the `toml` crate rather than
/// through bantin's own `Site`.
pub struct SiteFacts {
    /// `title`
    pub title: String,
    /// `base_url`, no trailing slash
    pub base_url: String,
    /// `id_prefix`, or its default `{base_url}/articles/`
    pub id_prefix: String,
    /// `items_per_feed`
    pub items_per_feed: usize,
    /// The whole table.
    pub table: toml::Table,
}

impl SiteFacts {
    /// Read a site file.
    pub fn read(path: &Path) -> SiteFacts {
        let table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let base_url = table["base_url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        SiteFacts {
            title: table["title"].as_str().unwrap().to_string(),
            id_prefix: table
                .get("id_prefix")
                .and_then(|v| v.as_str())
                .map_or_else(|| format!("{base_url}/articles/"), str::to_string),
            items_per_feed: table
                .get("items_per_feed")
                .and_then(|v| v.as_integer())
                .unwrap_or(50) as usize,
            base_url,
            table,
        }
    }

    /// The site file's display name for a slug, if it sets one.
    pub fn name(&self, table: &str, slug: &str) -> Option<String> {
        self.table
            .get(table)?
            .get(slug)?
            .get("name")?
            .as_str()
            .map(str::to_string)
    }
}

/// The sample articles as the library reads them from their files.
pub fn sample_articles() -> Vec<Article> {
    let batch = bantin::import::read_paths(&[articles_dir()]);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    batch.articles
}

/// Whether `a` belongs in the feed `key`, by slugs of its names.
pub fn belongs(a: &Article, key: &FeedKey) -> bool {
    let has = |names: &[String], slug: &str| names.iter().any(|n| bantin::slug::slugify(n) == slug);
    match key {
        FeedKey::All => true,
        FeedKey::Category(c) => has(&a.categories, c),
        FeedKey::Region(r) => has(&a.regions, r),
        FeedKey::CategoryRegion(c, r) => has(&a.categories, c) && has(&a.regions, r),
        FeedKey::Author(u) => has(&a.authors, u),
        FeedKey::Search(_) => unreachable!("keyword feeds are tested in `search`"),
    }
}

/// SPEC's item order: newest `published` instant first, ties by id in
/// descending byte order.
pub fn spec_order(articles: &mut [Article]) {
    articles.sort_by(|a, b| {
        b.published
            .timestamp_micros()
            .cmp(&a.published.timestamp_micros())
            .then_with(|| b.id.as_bytes().cmp(a.id.as_bytes()))
    });
}

/// The articles of feed `key`, in SPEC's order, at most `limit`.
pub fn expected(articles: &[Article], key: &FeedKey, limit: usize) -> Vec<Article> {
    let mut v: Vec<Article> = articles
        .iter()
        .filter(|a| belongs(a, key))
        .cloned()
        .collect();
    spec_order(&mut v);
    v.truncate(limit);
    v
}

/// Every category slug and region slug the articles carry.
pub fn slugs(articles: &[Article]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut cats = BTreeSet::new();
    let mut regs = BTreeSet::new();
    for a in articles {
        cats.extend(a.categories.iter().map(|n| bantin::slug::slugify(n)));
        regs.extend(a.regions.iter().map(|n| bantin::slug::slugify(n)));
    }
    (cats, regs)
}

/// RFC 3986 percent-encoding of everything but unreserved characters: how
/// SPEC has ids appear in guids.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parse an RFC 3339 date.
pub fn date(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

/// A minimal valid article, for building cases in code.
pub fn article(id: &str, categories: &[&str], regions: &[&str], published: &str) -> Article {
    let published = date(published);
    Article {
        id: id.to_string(),
        title: format!("Bài {id}"),
        summary: None,
        body: bantin::article::Body::None,
        authors: vec![],
        categories: categories.iter().map(|s| s.to_string()).collect(),
        regions: regions.iter().map(|s| s.to_string()).collect(),
        published,
        updated: published,
        url: None,
        image: None,
    }
    .validated()
    .unwrap()
}

/// The guids SPEC gives these articles.
pub fn guids(prefix: &str, articles: &[Article]) -> Vec<String> {
    articles
        .iter()
        .map(|a| format!("{prefix}{}", percent_encode(&a.id)))
        .collect()
}

/// The content type SPEC gives each extension.
pub fn content_type(ext: &str) -> &'static str {
    match ext {
        "rss" => "application/rss+xml; charset=utf-8",
        "atom" => "application/atom+xml; charset=utf-8",
        "json" => "application/feed+json; charset=utf-8",
        other => panic!("no such format {other}"),
    }
}

/// A feed's URL path: `/feeds/{key}.{ext}`.
pub fn feed_path(key: &FeedKey, ext: &str) -> String {
    format!("/feeds/{}.{ext}", key.path())
}

/// The feeds of the sample worth fetching, worked out from the article
/// files without bantin's catalog: all, each category, each region, each
/// pair sharing an article.
pub fn sample_keys() -> Vec<FeedKey> {
    let (mut cats, mut regs, mut pairs, mut authors) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for a in sample_articles() {
        authors.extend(a.authors.iter().map(|n| bantin::slug::slugify(n)));
        let c: Vec<String> = a
            .categories
            .iter()
            .map(|n| bantin::slug::slugify(n))
            .collect();
        let r: Vec<String> = a.regions.iter().map(|n| bantin::slug::slugify(n)).collect();
        for x in &c {
            for y in &r {
                pairs.insert((x.clone(), y.clone()));
            }
        }
        cats.extend(c);
        regs.extend(r);
    }
    let mut keys = vec![FeedKey::All];
    keys.extend(cats.into_iter().map(FeedKey::Category));
    keys.extend(regs.into_iter().map(FeedKey::Region));
    keys.extend(
        pairs
            .into_iter()
            .map(|(c, r)| FeedKey::CategoryRegion(c, r)),
    );
    keys.extend(authors.into_iter().map(FeedKey::Author));
    keys
}

/// A JSON Lines record of a minimal article.
pub fn jsonl_article(id: &str, category: &str, region: &str, published: &str) -> String {
    serde_json::json!({
        "id": id,
        "title": format!("Tin thử {id}"),
        "summary": "Bài viết thêm vào trong lúc máy chủ đang chạy.",
        "categories": [category],
        "regions": [region],
        "published": published,
    })
    .to_string()
        + "\n"
}
