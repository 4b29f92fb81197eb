//! The sample feeds as `bantin dump` writes them, read back by parsers that
//! are not the writers (feed-rs, serde_json, and Python's feedparser).
//!
//! - Every feed (all, each category, each region, every category/region
//!   pair sharing an article, and an empty pair) in every format parses with
//!   feed-rs and holds exactly the expected articles in SPEC's order, which
//!   is computed here from the article files: newest `published` instant
//!   first, ties by id in descending byte order.
//! - Guids and Atom ids are `{id_prefix}{id}`; titles and dates are the
//!   articles'; feed titles are `{title}`, `{title} – {name}` and
//!   `{title} – {category} – {region}`.
//! - Every date is written in the site's offset (`+0700` in RSS, `+07:00`
//!   in Atom and JSON), never with a zone name; RSS `lastBuildDate` and Atom
//!   feed `updated` are the newest item `updated`.
//! - The seed article comes out with its byline's authors, its category and
//!   its region.
//! - Article HTML is sanitized and plain bodies are shown as text.
//! - Golden files: `tests/golden/{path}.{rss,atom,json}` hold the sample
//!   feeds, compared byte for byte with `dump`. After an intended change of
//!   output, regenerate them with
//!   `BANTIN_UPDATE_GOLDEN=1 cargo test --test tests golden` and review the
//!   diff. A golden file for a feed that no longer exists fails the test.
//! - Python's feedparser reads every sample RSS and Atom feed without "bozo"
//!   (`tests/support/feedparser_check.py`; feedparser 6.0, its latest release, has
//!   no JSON Feed parser). Where `import feedparser` fails, the
//!   test says it skipped; with `CI` set it fails instead
//!   (`pip install feedparser`).

/// Hostile but valid articles; the W3C validator.
mod hostile;

/// Media RSS thumbnails.
mod thumbnails;

/// WebSub hub links and RFC 5005 archive documents.
mod archives;

/// `max_feed_bytes`: the oldest items give up their content.
mod size;

/// Issue 20: every author, archive titles with their month, item links.
mod readers;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bantin::article::{Article, FeedKey};
use chrono::{DateTime, FixedOffset};

use crate::support::{
    FORMATS, Sandbox, SiteFacts, element_texts, entry_ids, expected, guids, key_args, parse,
    python_can_import, root, sample_articles, site_file, slugs,
};

/// Category/region pairs with golden files: four that share articles and
/// one that shares none (an empty, valid feed).
const GOLDEN_PAIRS: &[(&str, &str)] = &[
    ("quoc-phong-an-ninh", "ha-tinh"),
    ("kinh-te", "duc-tho"),
    ("the-thao", "ha-tinh"),
    ("van-hoa-giai-tri", "nghi-xuan"),
    ("the-thao", "duc-tho"),
];

/// The site's offset, +07:00, as the sample site file sets it.
fn site_offset() -> FixedOffset {
    let facts = SiteFacts::read(&site_file());
    assert_eq!(facts.table["timezone"].as_str(), Some("+07:00"));
    FixedOffset::east_opt(7 * 3600).unwrap()
}

/// Every category/region pair that shares a sample article.
fn shared_pairs(articles: &[Article]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for a in articles {
        for c in &a.categories {
            for r in &a.regions {
                out.insert((bantin::slug::slugify(c), bantin::slug::slugify(r)));
            }
        }
    }
    out
}

/// A category and a region that exist but share no article.
fn empty_pair(articles: &[Article]) -> (String, String) {
    let (cats, regs) = slugs(articles);
    let shared = shared_pairs(articles);
    cats.iter()
        .flat_map(|c| regs.iter().map(move |r| (c.clone(), r.clone())))
        .find(|p| !shared.contains(p))
        .expect("some pair shares nothing")
}

/// The feeds the sample publication has, as checked in depth.
fn checked_keys(articles: &[Article]) -> Vec<FeedKey> {
    let (cats, regs) = slugs(articles);
    let mut keys = vec![FeedKey::All];
    keys.extend(cats.into_iter().map(FeedKey::Category));
    keys.extend(regs.into_iter().map(FeedKey::Region));
    keys.extend(
        shared_pairs(articles)
            .into_iter()
            .map(|(c, r)| FeedKey::CategoryRegion(c, r)),
    );
    let (c, r) = empty_pair(articles);
    keys.push(FeedKey::CategoryRegion(c, r));
    // An author's feed, too: the first byline of the sample.
    let author = articles
        .iter()
        .find_map(|a| a.authors.first())
        .expect("a sample article with a byline");
    keys.push(FeedKey::Author(bantin::slug::slugify(author)));
    keys
}

/// The feed title SPEC gives `key`, from the site file's names.
fn spec_title(facts: &SiteFacts, key: &FeedKey) -> String {
    let cat = |c: &str| facts.name("categories", c).expect("site file names it");
    let reg = |r: &str| facts.name("regions", r).expect("site file names it");
    match key {
        FeedKey::All => facts.title.clone(),
        FeedKey::Category(c) => format!("{} – {}", facts.title, cat(c)),
        FeedKey::Region(r) => format!("{} – {}", facts.title, reg(r)),
        FeedKey::CategoryRegion(c, r) => format!("{} – {} – {}", facts.title, cat(c), reg(r)),
        FeedKey::Author(a) => {
            let name = sample_articles()
                .iter()
                .flat_map(|x| x.authors.clone())
                .find(|n| bantin::slug::slugify(n) == *a)
                .expect("a sample author");
            format!("{} – {name}", facts.title)
        }
        FeedKey::Search(words) => format!("{} – tìm: {words}", facts.title),
    }
}

fn dump_key(sb: &Sandbox, key: &FeedKey, format: &str) -> Vec<u8> {
    let mut args = key_args(key);
    args.extend(["--format".to_string(), format.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.dump(&args)
}

/// RFC 822 as RSS writes it, in +0700, and nothing else.
fn assert_rss_date(s: &str) -> DateTime<FixedOffset> {
    assert!(s.ends_with(" +0700"), "{s:?} is not in +0700");
    DateTime::parse_from_str(s, "%a, %d %b %Y %H:%M:%S %z")
        .unwrap_or_else(|e| panic!("{s:?} is not RFC 822: {e}"))
}

/// RFC 3339 in +07:00, and nothing else.
fn assert_rfc3339_date(s: &str) -> DateTime<FixedOffset> {
    assert!(s.ends_with("+07:00"), "{s:?} is not in +07:00");
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// The dates written in a feed, as raw strings, per format: (item
/// published, item updated, feed updated).
fn raw_dates(bytes: &[u8], format: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let text = std::str::from_utf8(bytes).unwrap();
    match format {
        "rss" => (
            element_texts(text, "pubDate"),
            vec![],
            element_texts(text, "lastBuildDate"),
        ),
        "atom" => {
            // The feed's own <updated> comes before the first <entry>.
            let (head, entries) = text.split_once("<entry>").unwrap_or((text, ""));
            (
                element_texts(entries, "published"),
                element_texts(entries, "updated"),
                element_texts(head, "updated"),
            )
        }
        "json" => {
            let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            let items = v["items"].as_array().unwrap();
            let field = |f: &str| -> Vec<String> {
                items
                    .iter()
                    .map(|i| i[f].as_str().unwrap().to_string())
                    .collect()
            };
            (field("date_published"), field("date_modified"), vec![])
        }
        _ => unreachable!(),
    }
}

#[test]
fn every_sample_feed_parses_with_the_expected_items_in_order() {
    let sb = Sandbox::with_sample();
    let facts = SiteFacts::read(&site_file());
    let offset = site_offset();
    let articles = sample_articles();
    for key in checked_keys(&articles) {
        let want = expected(&articles, &key, facts.items_per_feed);
        let want_updated = want.iter().map(|a| a.updated.max(a.published)).max();
        for format in FORMATS {
            let what = format!("{key:?} {format}");
            let bytes = dump_key(&sb, &key, format);
            let feed = parse(&bytes);

            assert_eq!(entry_ids(&feed), guids(&facts.id_prefix, &want), "{what}");
            let titles: Vec<&str> = feed
                .entries
                .iter()
                .map(|e| e.title.as_ref().expect("item title").content.as_str())
                .collect();
            let want_titles: Vec<&str> = want.iter().map(|a| a.title.as_str()).collect();
            assert_eq!(titles, want_titles, "{what}");
            let published: Vec<_> = feed.entries.iter().map(|e| e.published).collect();
            let want_published: Vec<_> = want.iter().map(|a| Some(a.published.to_utc())).collect();
            assert_eq!(published, want_published, "{what}");
            assert_eq!(
                feed.title.as_ref().map(|t| t.content.clone()),
                Some(spec_title(&facts, &key)),
                "{what}"
            );

            let (item_pub, item_upd, feed_upd) = raw_dates(&bytes, format);
            let check: fn(&str) -> DateTime<FixedOffset> = if format == "rss" {
                assert_rss_date
            } else {
                assert_rfc3339_date
            };
            let item_pub: Vec<_> = item_pub.iter().map(|s| check(s)).collect();
            let want_local: Vec<_> = want
                .iter()
                .map(|a| a.published.with_timezone(&offset))
                .collect();
            assert_eq!(item_pub, want_local, "{what}: published");
            if format != "rss" {
                let item_upd: Vec<_> = item_upd.iter().map(|s| check(s)).collect();
                let want_upd: Vec<_> = want
                    .iter()
                    .map(|a| a.updated.max(a.published).with_timezone(&offset))
                    .collect();
                assert_eq!(item_upd, want_upd, "{what}: updated");
            }
            match format {
                "rss" => {
                    let last: Vec<_> = feed_upd.iter().map(|s| check(s)).collect();
                    let want_last: Vec<_> = want_updated.into_iter().collect();
                    assert_eq!(last, want_last, "{what}: lastBuildDate");
                }
                "atom" => {
                    assert_eq!(feed_upd.len(), 1, "{what}");
                    let updated = check(&feed_upd[0]);
                    if let Some(w) = want_updated {
                        assert_eq!(updated, w, "{what}: feed updated");
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn no_date_in_any_sample_feed_carries_a_zone_name() {
    let sb = Sandbox::with_sample();
    for format in FORMATS {
        let bytes = sb.dump(&["--format", format]);
        let (a, b, c) = raw_dates(&bytes, format);
        let all: Vec<String> = a.into_iter().chain(b).chain(c).collect();
        assert!(!all.is_empty());
        for d in all {
            for zone in ["GMT", "UTC", "UT", "Z", "ICT", "+00:00", "+0000"] {
                assert!(!d.contains(zone), "{format}: {d:?} has {zone}");
            }
        }
    }
}

#[test]
fn a_category_and_region_sharing_no_article_give_an_empty_valid_feed() {
    let sb = Sandbox::with_sample();
    let facts = SiteFacts::read(&site_file());
    let (c, r) = empty_pair(&sample_articles());
    let key = FeedKey::CategoryRegion(c, r);
    for format in FORMATS {
        let bytes = dump_key(&sb, &key, format);
        let feed = parse(&bytes);
        assert!(feed.entries.is_empty(), "{format}");
        assert_eq!(
            feed.title.map(|t| t.content),
            Some(spec_title(&facts, &key)),
            "{format}"
        );
        if format == "rss" {
            // No article, so no date to take lastBuildDate from.
            let text = String::from_utf8(bytes).unwrap();
            assert!(!text.contains("lastBuildDate"), "{text}");
        }
    }
}

#[test]
fn the_seed_article_keeps_its_byline_category_and_region() {
    let sb = Sandbox::with_sample();
    let facts = SiteFacts::read(&site_file());
    let guid = format!("{}2020-10-05-phoi-hop-bao-ve-dai-hoi", facts.id_prefix);
    for format in FORMATS {
        let feed = parse(&sb.dump(&[
            "--format",
            format,
            "--category",
            "quoc-phong-an-ninh",
            "--region",
            "ha-tinh",
        ]));
        let seed = feed
            .entries
            .iter()
            .find(|e| e.id == guid)
            .unwrap_or_else(|| panic!("{format}: no seed article"));
        let authors: Vec<&str> = seed
            .authors
            .iter()
            .map(|p| p.name.as_deref().unwrap_or(""))
            .collect();
        // RSS names them in one `dc:creator` (render/readers.rs says why).
        if format == "rss" {
            assert_eq!(authors, ["Thanh Giang, Xuân Liệu"], "{format}");
        } else {
            assert_eq!(authors, ["Thanh Giang", "Xuân Liệu"], "{format}");
        }
        let labels: Vec<String> = seed
            .categories
            .iter()
            .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
            .collect();
        assert!(
            labels.contains(&"Quốc phòng - An ninh".to_string()),
            "{format}: {labels:?}"
        );
        assert!(
            labels.contains(&"Hà Tĩnh".to_string()),
            "{format}: {labels:?}"
        );
        assert_eq!(
            seed.published.unwrap(),
            crate::support::date("2020-10-05T16:30:00+07:00")
        );
        let title = &seed.title.as_ref().unwrap().content;
        assert!(
            title.starts_with("Phối hợp bảo vệ tuyệt đối an toàn Đại hội"),
            "{title}"
        );
        let content = seed.content.as_ref().and_then(|c| c.body.clone()).unwrap();
        assert!(
            content.contains("Phó Chủ tịch UBND tỉnh Đặng Ngọc Sơn"),
            "{format}"
        );
        // The byline went to the authors, not into the body.
        assert!(!content.contains("Thanh Giang - Xuân Liệu"), "{format}");
    }
}

#[test]
fn article_html_is_sanitized_and_plain_bodies_are_shown_as_text() {
    let sb = Sandbox::new();
    let file = sb.write(
        "a.jsonl",
        [
            serde_json::json!({
                "id": "html",
                "title": "HTML",
                "categories": ["Kinh tế"],
                "published": "2020-12-01T08:00:00+07:00",
                "content_html": "<p onclick=\"steal()\">Chào<script>alert(1)</script><style>p{}</style>\
                    <a href=\"javascript:alert(2)\">j</a><a href=\"data:text/html,x\">d</a>\
                    <iframe src=\"https://e.example/\"></iframe><img src=\"x.jpg\" onerror=\"steal()\"></p>",
            }),
            serde_json::json!({
                "id": "text",
                "title": "Text",
                "categories": ["Kinh tế"],
                "published": "2020-12-01T07:00:00+07:00",
                "body": "a < b && <b>không đậm</b>\n\nđoạn hai",
            }),
        ]
        .map(|v| v.to_string())
        .join("\n"),
    );
    crate::support::assert_success(&sb.run(&["import", file.to_str().unwrap()]), "import");
    for format in FORMATS {
        let feed = parse(&sb.dump(&["--format", format]));
        let content = |id: &str| {
            let e = feed.entries.iter().find(|e| e.id.ends_with(id)).unwrap();
            e.content.as_ref().unwrap().body.clone().unwrap()
        };
        let html = content("/html");
        for bad in [
            "script",
            "style",
            "onclick",
            "onerror",
            "javascript:",
            "data:",
            "iframe",
        ] {
            assert!(!html.contains(bad), "{format}: {bad} survived in {html}");
        }
        assert!(html.contains("Chào"), "{format}: {html}");
        // Relative links are made absolute against the site's base URL.
        assert!(
            html.contains("http://127.0.0.1:8080/x.jpg"),
            "{format}: {html}"
        );
        let text = content("/text");
        assert!(
            text.contains("&lt;b&gt;không đậm&lt;/b&gt;"),
            "{format}: {text}"
        );
        assert!(text.contains("a &lt; b &amp;&amp;"), "{format}: {text}");
        assert!(!text.contains("<b>"), "{format}: {text}");
    }
}

/// The feeds with golden files, by path under `tests/golden`.
fn golden_keys() -> Vec<FeedKey> {
    let articles = sample_articles();
    let (cats, regs) = slugs(&articles);
    let shared = shared_pairs(&articles);
    let mut keys = vec![FeedKey::All];
    keys.extend(cats.iter().cloned().map(FeedKey::Category));
    keys.extend(regs.iter().cloned().map(FeedKey::Region));
    for (c, r) in GOLDEN_PAIRS {
        assert!(
            cats.contains(*c) && regs.contains(*r),
            "{c}/{r} left the sample"
        );
        keys.push(FeedKey::CategoryRegion(c.to_string(), r.to_string()));
    }
    let with_articles = GOLDEN_PAIRS
        .iter()
        .filter(|(c, r)| shared.contains(&(c.to_string(), r.to_string())))
        .count();
    assert_eq!(
        with_articles,
        GOLDEN_PAIRS.len() - 1,
        "golden pairs drifted"
    );
    keys
}

fn golden_dir() -> PathBuf {
    root().join("tests/golden")
}

fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.insert(p);
        }
    }
    out
}

#[test]
fn golden_files_match_dump_byte_for_byte() {
    let update = std::env::var_os("BANTIN_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let sb = Sandbox::with_sample();
    let dir = golden_dir();
    let mut wanted = BTreeSet::new();
    let mut mismatched = Vec::new();
    for key in golden_keys() {
        for format in FORMATS {
            let path = dir.join(format!("{}.{format}", key.path()));
            wanted.insert(path.clone());
            let bytes = dump_key(&sb, &key, format);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &bytes).unwrap();
                continue;
            }
            match std::fs::read(&path) {
                Ok(golden) if golden == bytes => {}
                Ok(_) => mismatched.push(format!("{} differs", path.display())),
                Err(e) => mismatched.push(format!("{}: {e}", path.display())),
            }
        }
    }
    let stale: Vec<PathBuf> = files_under(&dir).difference(&wanted).cloned().collect();
    if update {
        for p in &stale {
            std::fs::remove_file(p).unwrap();
        }
        return;
    }
    assert!(
        mismatched.is_empty() && stale.is_empty(),
        "golden files out of date (rerun with BANTIN_UPDATE_GOLDEN=1 and review the diff):\n{}\nstale: {stale:?}",
        mismatched.join("\n")
    );
}

#[test]
fn golden_files_parse_with_the_expected_item_counts() {
    // Guards the golden files themselves: regenerated from a broken build
    // they would still match `dump`, so check them against the articles.
    let facts = SiteFacts::read(&site_file());
    let articles = sample_articles();
    for key in golden_keys() {
        let want = guids(
            &facts.id_prefix,
            &expected(&articles, &key, facts.items_per_feed),
        );
        for format in FORMATS {
            let path = golden_dir().join(format!("{}.{format}", key.path()));
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // reported by golden_files_match_dump_byte_for_byte
            };
            assert_eq!(entry_ids(&parse(&bytes)), want, "{}", path.display());
        }
    }
}

#[test]
fn python_feedparser_reads_every_sample_feed_without_bozo() {
    if !python_can_import(
        "feedparser",
        "feedparser",
        "python_feedparser_reads_every_sample_feed_without_bozo",
    ) {
        return;
    }
    let sb = Sandbox::with_sample();
    let facts = SiteFacts::read(&site_file());
    let articles = sample_articles();
    let out_dir = sb.path("feeds");
    let mut want = Vec::new();
    for key in checked_keys(&articles) {
        let n = expected(&articles, &key, facts.items_per_feed).len();
        for format in ["rss", "atom"] {
            let rel = format!("{}.{format}", key.path());
            let path = out_dir.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, dump_key(&sb, &key, format)).unwrap();
            want.push(format!("{rel} {n}"));
        }
    }
    let out = std::process::Command::new("python3")
        .arg(crate::support::script("feedparser_check.py"))
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "feedparser_check.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = stdout.lines().map(str::to_string).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "feedparser's entry counts");
}
