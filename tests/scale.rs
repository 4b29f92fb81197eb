//! Import at scale in CI (issue 8, "Tests"): `bantin import` of 100,000
//! articles (generated here, small bodies) into a PostgreSQL database
//! completes, counts them all, and the feeds read right afterwards: the
//! all feed, a category feed and a category/region feed hold the newest
//! articles in SPEC's order, and the catalog counts every article of each.
//! The time is printed (`bench/` measures 1M against the release build).

use std::io::Write;
use std::time::Instant;

use bantin::article::Facet;

use crate::support::Bantin;

const ARTICLES: usize = 100_000;
const CATEGORIES: [&str; 8] = [
    "Thời sự",
    "Kinh tế",
    "Xã hội",
    "Thể thao",
    "Giáo dục",
    "Pháp luật",
    "Văn hóa",
    "Quốc tế",
];
const REGIONS: [&str; 6] = [
    "Hà Tĩnh",
    "Đức Thọ",
    "Kỳ Anh",
    "Can Lộc",
    "Hương Khê",
    "Nghi Xuân",
];

/// The guid tails of a JSON Feed's items, in order.
fn item_ids(json: &[u8]) -> Vec<String> {
    let feed: serde_json::Value = serde_json::from_slice(json).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["id"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn an_import_of_100k_articles_into_postgres_completes_and_reads_right() {
    let Some(url) = crate::support::pg_cluster::database_with_schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("articles.jsonl");
    {
        // Short texts: most of an import's time on PostgreSQL goes to
        // folding every word of every article for the keyword index, and
        // this test is about the count, not the text. Article n is n
        // minutes older than article 0.
        let base = chrono::DateTime::parse_from_rfc3339("2024-06-01T12:00:00+07:00").unwrap();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for n in 0..ARTICLES {
            let record = serde_json::json!({
                "id": format!("s-{n:06}"),
                "title": format!("Bài số {n}"),
                "body": "Nội dung.",
                "authors": [if n % 2 == 0 { "Lê Văn A" } else { "Trần Thị B" }],
                "categories": [CATEGORIES[n % CATEGORIES.len()]],
                "regions": [REGIONS[n % REGIONS.len()]],
                "published": (base - chrono::Duration::minutes(n as i64)).to_rfc3339(),
            });
            writeln!(out, "{record}").unwrap();
        }
    }

    let started = Instant::now();
    let out = Bantin::on(&url)
        .args(["import", file.to_str().unwrap()])
        .output();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "import failed after {took:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("imported {ARTICLES}, rejected 0")
    );
    eprintln!("scale: {ARTICLES} articles imported into PostgreSQL in {took:?} (debug build)");

    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let count: i64 = db
        .query_one("SELECT count(*) FROM articles", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, ARTICLES as i64);
    // The planner knows the new rows as soon as they are visible (the
    // import analyzed the tables it filled): left to autovacuum, keyword
    // feeds of common words were 10x slower for minutes after a big import.
    let analyzed = crate::support::pg_cluster::analyzed_article_tables(&mut db);
    assert_eq!(
        analyzed, 4,
        "the article tables have no statistics after the import"
    );
    // And the keyword index's pending list is in the index: every scan
    // reads the whole list (a rare word's feed 25 ms instead of 3 ms at
    // 100k, until autovacuum).
    db.batch_execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        .unwrap();
    let pending: i32 = db
        .query_one(
            "SELECT pending_pages FROM pgstatginindex('articles_words')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        pending, 0,
        "the keyword index's pending list after the import"
    );
    // The words this corpus repeats in every article are listed as common
    // and kept out of the keyword index, in each article's bitmap.
    let (listed, with_bits): (i64, i64) = {
        let row = db
            .query_one(
                "SELECT (SELECT count(*) FROM bantin_common_words),
                        count(*) FILTER (WHERE octet_length(common_bits) > 0) FROM articles",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(
        listed > 0 && with_bits == ARTICLES as i64,
        "{listed} common words listed; {with_bits} articles hold some"
    );

    let newest = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..ARTICLES)
            .filter(|n| keep(*n))
            .take(50)
            .map(|n| format!("s-{n:06}"))
            .collect()
    };
    let all = Bantin::on(&url).args(["dump", "--format", "json"]).output();
    assert!(all.status.success());
    assert_eq!(item_ids(&all.stdout), newest(&|_| true));
    // "Kinh tế" is every eighth article from the second on.
    let category = Bantin::on(&url)
        .args(["dump", "--format", "json", "--category", "kinh-te"])
        .output();
    assert!(category.status.success());
    assert_eq!(item_ids(&category.stdout), newest(&|n| n % 8 == 1));
    let pair = Bantin::on(&url)
        .args([
            "dump",
            "--format",
            "json",
            "--category",
            "kinh-te",
            "--region",
            "duc-tho",
        ])
        .output();
    assert!(pair.status.success());
    assert_eq!(
        item_ids(&pair.stdout),
        newest(&|n| n % 8 == 1 && n % 6 == 1)
    );

    // The catalog, rebuilt at the end of the bulk import, counts them all
    // (`bantin check` would compare it with the articles too, but reads
    // every article: half a minute here).
    let store = bantin::store::postgres::PostgresStore::open(&url).unwrap();
    let snap = bantin::store::Store::snapshot(&store).unwrap();
    let now = chrono::Utc::now();
    assert_eq!(snap.total(now).unwrap().0, ARTICLES as u64);
    let kinh_te = snap.slug_use(Facet::Category, "kinh-te", now).unwrap();
    assert_eq!(
        kinh_te.names,
        [("Kinh tế".to_string(), (ARTICLES / 8) as u64)]
    );
    let pair = snap.pair("kinh-te", "duc-tho", now).unwrap().unwrap();
    assert_eq!(
        pair.articles,
        (0..ARTICLES).filter(|n| n % 8 == 1 && n % 6 == 1).count() as u64
    );
}
