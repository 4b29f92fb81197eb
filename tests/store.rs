//! The store's selection and naming rules, seen where users see them: in
//! `dump` output (and through the library where time must be controlled).
//!
//! - SPEC's display-name rule for names sharing a slug: the site file's
//!   name wins, else the name most articles carry, ties to the smallest in
//!   byte order; it shows in feed titles and item categories.
//! - Items are ordered by `published` instant, not by its text
//!   (`2020-11-02T01:00:00Z` is newer than `2020-11-02T07:30:00+07:00`),
//!   ties by id in descending byte order.
//! - `items_per_feed` caps every feed; `--limit` replaces it.
//! - An upsert replaces an article's categories and regions: an article
//!   moved to another category leaves the first feed; a new date moves it
//!   within its feeds.
//! - A CMS changing a date directly in the documented schema moves the
//!   article in its category and region feeds too.
//! - A slug only a scheduled article carries is unknown until its time.

use bantin::article::FeedKey;
use bantin::feed::Catalog;
use chrono::{DateTime, Utc};

use crate::support::{
    Sandbox, StoreKind, article, assert_success, each_store, entry_ids, fixture, parse,
};

/// Articles as JSON Lines: (id, categories, regions, published).
fn jsonl(rows: &[(&str, &[&str], &[&str], &str)]) -> String {
    rows.iter()
        .map(|(id, cats, regs, published)| {
            serde_json::json!({
                "id": id, "title": format!("Bài {id}"),
                "categories": cats, "regions": regs, "published": published,
            })
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn import(sb: &Sandbox, name: &str, text: &str) {
    let file = sb.write(name, text);
    assert_success(&sb.run(&["import", file.to_str().unwrap()]), "import");
}

/// The ids (guid tails) of a dump, in feed order.
fn ids(bytes: &[u8], prefix: &str) -> Vec<String> {
    entry_ids(&parse(bytes))
        .into_iter()
        .map(|g| {
            g.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{g} lacks {prefix}"))
                .to_string()
        })
        .collect()
}

const BARE_PREFIX: &str = "https://bantin.example/articles/";

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

each_store!(fn the_name_most_articles_carry_wins_a_shared_slug);
fn the_name_most_articles_carry_wins_a_shared_slug(store: StoreKind) {
    let sb = Sandbox::on(store);
    import(
        &sb,
        "a.jsonl",
        &jsonl(&[
            ("1", &["Thời sự"], &[], "2020-12-01T08:00:00+07:00"),
            ("2", &["Thời Sự"], &[], "2020-12-02T08:00:00+07:00"),
            ("3", &["Thời sự"], &[], "2020-12-03T08:00:00+07:00"),
        ]),
    );
    let site = fixture("site-bare.toml");
    let v = json(&sb.dump_with_site(&site, &["--category", "thoi-su", "--format", "json"]));
    assert_eq!(v["title"], "Bản tin thử – Thời sự");
    // Every item shows the winning name, whatever it was written as.
    for item in v["items"].as_array().unwrap() {
        assert_eq!(item["tags"], serde_json::json!(["Thời sự"]), "{item}");
    }
    let atom = parse(&sb.dump_with_site(&site, &["--format", "atom"]));
    for e in &atom.entries {
        assert_eq!(e.categories[0].label.as_deref(), Some("Thời sự"));
        assert_eq!(e.categories[0].term, "thoi-su");
    }
}

each_store!(fn a_tie_goes_to_the_smallest_name_in_byte_order);
fn a_tie_goes_to_the_smallest_name_in_byte_order(store: StoreKind) {
    let sb = Sandbox::on(store);
    // "Xã Hội" < "Xã hội": 'H' (0x48) sorts before 'h' (0x68).
    import(
        &sb,
        "a.jsonl",
        &jsonl(&[
            ("1", &["Xã hội"], &["hà tĩnh"], "2020-12-01T08:00:00+07:00"),
            ("2", &["Xã Hội"], &["Hà Tĩnh"], "2020-12-02T08:00:00+07:00"),
        ]),
    );
    let site = fixture("site-bare.toml");
    let v = json(&sb.dump_with_site(&site, &["--category", "xa-hoi", "--format", "json"]));
    assert_eq!(v["title"], "Bản tin thử – Xã Hội");
    let v = json(&sb.dump_with_site(
        &site,
        &[
            "--category",
            "xa-hoi",
            "--region",
            "ha-tinh",
            "--format",
            "json",
        ],
    ));
    assert_eq!(v["title"], "Bản tin thử – Xã Hội – Hà Tĩnh");
}

each_store!(fn the_site_files_name_beats_the_articles);
fn the_site_files_name_beats_the_articles(store: StoreKind) {
    let sb = Sandbox::on(store);
    import(
        &sb,
        "a.jsonl",
        &jsonl(&[
            ("1", &["Thời sự"], &[], "2020-12-01T08:00:00+07:00"),
            ("2", &["Thời sự"], &[], "2020-12-02T08:00:00+07:00"),
        ]),
    );
    let site = fixture("site-override.toml");
    let v = json(&sb.dump_with_site(&site, &["--category", "thoi-su", "--format", "json"]));
    assert_eq!(v["title"], "Bản tin thử – THỜI SỰ");
    for item in v["items"].as_array().unwrap() {
        assert_eq!(item["tags"], serde_json::json!(["THỜI SỰ"]), "{item}");
    }
}

each_store!(fn items_are_ordered_by_instant_not_by_the_text_of_the_date);
fn items_are_ordered_by_instant_not_by_the_text_of_the_date(store: StoreKind) {
    let sb = Sandbox::on(store);
    import(
        &sb,
        "a.jsonl",
        &jsonl(&[
            // 08:00 in +07:00: newer than 07:30 +07:00 though it sorts
            // lower as text.
            ("utc", &["Kinh tế"], &["Kỳ Anh"], "2020-11-02T01:00:00Z"),
            (
                "ict",
                &["Kinh tế"],
                &["Kỳ Anh"],
                "2020-11-02T07:30:00+07:00",
            ),
            (
                "west",
                &["Kinh tế"],
                &["Kỳ Anh"],
                "2020-11-01T20:00:00-05:00",
            ),
        ]),
    );
    let site = fixture("site-bare.toml");
    // 2020-11-01T20:00-05:00 is 2020-11-02T08:00+07:00 too: a tie with
    // "utc", broken by id, "west" > "utc".
    let want = ["west", "utc", "ict"];
    for args in [
        vec![],
        vec!["--category", "kinh-te"],
        vec!["--region", "ky-anh"],
        vec!["--category", "kinh-te", "--region", "ky-anh"],
    ] {
        for format in ["rss", "atom", "json"] {
            let mut a = args.clone();
            a.extend(["--format", format]);
            assert_eq!(
                ids(&sb.dump_with_site(&site, &a), BARE_PREFIX),
                want,
                "{a:?}"
            );
        }
    }
}

each_store!(fn ties_in_published_go_to_the_larger_id_in_byte_order);
fn ties_in_published_go_to_the_larger_id_in_byte_order(store: StoreKind) {
    let sb = Sandbox::on(store);
    let at = "2020-12-01T08:00:00+07:00";
    import(
        &sb,
        "a.jsonl",
        &jsonl(&[
            ("a", &["Kinh tế"], &[], at),
            ("B", &["Kinh tế"], &[], at),
            ("á", &["Kinh tế"], &[], at),
            ("b", &["Kinh tế"], &[], at),
            ("a10", &["Kinh tế"], &[], at),
            ("a9", &["Kinh tế"], &[], at),
        ]),
    );
    let site = fixture("site-bare.toml");
    // "á" is 0xC3 0xA1, above every ASCII byte; "a9" > "a10" byte-wise.
    let want = ["%C3%A1", "b", "a9", "a10", "a", "B"];
    for args in [
        vec!["--limit", "10"],
        vec!["--category", "kinh-te", "--limit", "10"],
    ] {
        assert_eq!(
            ids(&sb.dump_with_site(&site, &args), BARE_PREFIX),
            want,
            "{args:?}"
        );
    }
}

each_store!(fn items_per_feed_caps_every_feed_and_limit_replaces_it);
fn items_per_feed_caps_every_feed_and_limit_replaces_it(store: StoreKind) {
    let sb = Sandbox::on(store);
    let rows: Vec<(String, String)> = (1..=6)
        .map(|d| (format!("n{d}"), format!("2020-12-0{d}T08:00:00+07:00")))
        .collect();
    let rows: Vec<(&str, &[&str], &[&str], &str)> = rows
        .iter()
        .map(|(id, at)| (id.as_str(), &["Kinh tế"][..], &["Can Lộc"][..], at.as_str()))
        .collect();
    import(&sb, "a.jsonl", &jsonl(&rows));
    let site = fixture("site-bare.toml"); // items_per_feed = 3
    for args in [
        vec![],
        vec!["--category", "kinh-te"],
        vec!["--region", "can-loc"],
    ] {
        for format in ["rss", "atom", "json"] {
            let mut a = args.clone();
            a.extend(["--format", format]);
            assert_eq!(
                ids(&sb.dump_with_site(&site, &a), BARE_PREFIX),
                ["n6", "n5", "n4"],
                "{a:?}"
            );
        }
    }
    assert_eq!(
        ids(&sb.dump_with_site(&site, &["--limit", "5"]), BARE_PREFIX),
        ["n6", "n5", "n4", "n3", "n2"]
    );
}

each_store!(fn an_upsert_replaces_categories_and_regions);
fn an_upsert_replaces_categories_and_regions(store: StoreKind) {
    let sb = Sandbox::on(store);
    let site = fixture("site-bare.toml");
    import(
        &sb,
        "a.jsonl",
        &jsonl(&[
            (
                "moves",
                &["Kinh tế"],
                &["Đức Thọ"],
                "2020-12-02T08:00:00+07:00",
            ),
            (
                "stays",
                &["Kinh tế"],
                &["Đức Thọ"],
                "2020-12-01T08:00:00+07:00",
            ),
        ]),
    );
    let cat = |sb: &Sandbox, args: &[&str]| ids(&sb.dump_with_site(&site, args), BARE_PREFIX);
    assert_eq!(cat(&sb, &["--category", "kinh-te"]), ["moves", "stays"]);
    import(
        &sb,
        "b.jsonl",
        &jsonl(&[(
            "moves",
            &["Xã hội"],
            &["Kỳ Anh"],
            "2020-12-02T08:00:00+07:00",
        )]),
    );
    assert_eq!(cat(&sb, &["--category", "kinh-te"]), ["stays"]);
    assert_eq!(cat(&sb, &["--region", "duc-tho"]), ["stays"]);
    assert_eq!(cat(&sb, &["--category", "xa-hoi"]), ["moves"]);
    assert_eq!(
        cat(&sb, &["--category", "xa-hoi", "--region", "ky-anh"]),
        ["moves"]
    );
    assert!(cat(&sb, &["--category", "kinh-te", "--region", "ky-anh"]).is_empty());
    // The item's own categories changed too.
    let v = json(&sb.dump_with_site(&site, &["--category", "xa-hoi", "--format", "json"]));
    assert_eq!(
        v["items"][0]["tags"],
        serde_json::json!(["Xã hội", "Kỳ Anh"])
    );
}

/// Two articles in Kinh tế / Đức Thọ: "old" on 1 December 2020, "new" a
/// day later.
fn old_and_new(sb: &Sandbox) {
    import(
        sb,
        "a.jsonl",
        &jsonl(&[
            (
                "old",
                &["Kinh tế"],
                &["Đức Thọ"],
                "2020-12-01T08:00:00+07:00",
            ),
            (
                "new",
                &["Kinh tế"],
                &["Đức Thọ"],
                "2020-12-02T08:00:00+07:00",
            ),
        ]),
    );
}

each_store!(fn an_upsert_with_a_new_date_moves_the_article_in_its_feeds);
fn an_upsert_with_a_new_date_moves_the_article_in_its_feeds(store: StoreKind) {
    let sb = Sandbox::on(store);
    let site = fixture("site-bare.toml");
    old_and_new(&sb);
    import(
        &sb,
        "b.jsonl",
        &jsonl(&[(
            "old",
            &["Kinh tế"],
            &["Đức Thọ"],
            "2020-12-03T08:00:00+07:00",
        )]),
    );
    for args in [
        vec![],
        vec!["--category", "kinh-te"],
        vec!["--region", "duc-tho"],
    ] {
        assert_eq!(
            ids(&sb.dump_with_site(&site, &args), BARE_PREFIX),
            ["old", "new"],
            "{args:?}"
        );
    }
}

each_store!(fn a_cms_changing_a_date_in_the_schema_moves_the_article_everywhere);
fn a_cms_changing_a_date_in_the_schema_moves_the_article_everywhere(store: StoreKind) {
    let sb = Sandbox::on(store);
    let site = fixture("site-bare.toml");
    old_and_new(&sb);
    let at = DateTime::parse_from_rfc3339("2020-12-03T08:00:00+07:00").unwrap();
    let changed = sb.execute(&format!(
        "UPDATE articles SET published = '{}', published_us = {} WHERE id = 'old'",
        at.to_rfc3339(),
        at.timestamp_micros()
    ));
    assert_eq!(changed, 1);
    for args in [
        vec![],
        vec!["--category", "kinh-te"],
        vec!["--region", "duc-tho"],
        vec!["--category", "kinh-te", "--region", "duc-tho"],
    ] {
        assert_eq!(
            ids(&sb.dump_with_site(&site, &args), BARE_PREFIX),
            ["old", "new"],
            "{args:?}"
        );
    }
    assert_success(&sb.bantin().site(&site).args(["check"]).output(), "check");
}

each_store!(fn a_slug_only_a_scheduled_article_carries_is_unknown_until_its_time);
fn a_slug_only_a_scheduled_article_carries_is_unknown_until_its_time(store: StoreKind) {
    let sb = Sandbox::on(store);
    sb.upsert(&[
        article("now", &["Kinh tế"], &[], "2020-12-01T08:00:00+07:00"),
        article(
            "later",
            &["Thời sự"],
            &["Vũ Quang"],
            "2030-01-01T08:00:00+07:00",
        ),
    ]);
    let store = sb.open();
    let site = bantin::config::Site::load(&fixture("site-bare.toml")).unwrap();
    let before: DateTime<Utc> = "2029-12-31T00:00:00Z".parse().unwrap();
    let after: DateTime<Utc> = "2030-01-01T01:00:00Z".parse().unwrap();
    let key = FeedKey::Category("thoi-su".into());

    let catalog = Catalog::load(store.snapshot().unwrap().as_ref(), &site, before).unwrap();
    assert!(catalog.knows(&key).is_err());
    assert!(catalog.knows(&FeedKey::Region("vu-quang".into())).is_err());
    let all = bantin::feed::load(
        store.snapshot().unwrap().as_ref(),
        &site,
        &catalog,
        &FeedKey::All,
        before,
        10,
    )
    .unwrap();
    let all_ids: Vec<&str> = all.items.iter().map(|i| i.guid.as_str()).collect();
    assert_eq!(all_ids, [format!("{BARE_PREFIX}now")]);

    let catalog = Catalog::load(store.snapshot().unwrap().as_ref(), &site, after).unwrap();
    let feed = bantin::feed::load(
        store.snapshot().unwrap().as_ref(),
        &site,
        &catalog,
        &key,
        after,
        10,
    )
    .unwrap();
    let ids: Vec<&str> = feed.items.iter().map(|i| i.guid.as_str()).collect();
    assert_eq!(ids, [format!("{BARE_PREFIX}later")]);
    assert_eq!(catalog.total, 2);
}
