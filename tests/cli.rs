//! The `bantin` binary as a user runs it, against a temporary store and the
//! sample site `feeds/site.toml`. Every test runs on SQLite and on
//! PostgreSQL (`each_store!`) but those about a store URL itself.
//!
//! - `import` of the sample folder imports every article; importing again is
//!   an upsert (nothing doubles).
//! - Every bad-input case of SPEC's "Import formats" (bad JSON, invalid
//!   UTF-8, each missing required field, bad date, date without offset, text
//!   without front matter, unclosed front matter, bad TOML, missing file,
//!   unsupported extension) is reported on stderr as `FILE:LINE: reason`
//!   (`FILE: reason` for a file that has no lines to point at), with FILE as
//!   given; the good records of the run are still imported; exit 1 after a
//!   count of imported and rejected records.
//! - `import --strict` writes nothing when any record is bad, and imports
//!   when all are good.
//! - `remove` reports unknown ids, exits 1, and removes the others.
//! - `dump`: default RSS, `--format`, `--category`/`--region`/both, unknown
//!   slugs, `--limit`, byte-identical repeated runs, an empty store.
//! - `--store` / `BANTIN_STORE` and `--site` / `BANTIN_SITE`: the flag wins;
//!   global flags work before and after the subcommand.
//! - Failures are one line on stderr with a non-zero exit and no panic: a
//!   store in a missing folder, a PostgreSQL store nothing answers at (its
//!   password never printed), a bad store URL, a site file with a syntax
//!   error (named `FILE:LINE`), a missing site file (`serve` in a folder
//!   without one: the cause once, and a hint at `--site`/`BANTIN_SITE`).
//! - `check` passes on the sample store and names the article when a CMS
//!   writes a bad row directly; `dump` keeps working and leaves it out.
//! - A scheduled article (published in the near future) appears when its
//!   time comes, with no write to the store.
//! - README's "Your own newspaper", as written: its site file and articles
//!   imported with its commands give each category, region and author a
//!   feed, and a build without a search box.

use std::path::PathBuf;

use crate::support::{
    Bantin, Sandbox, StoreKind, articles_dir, assert_one_line_error, assert_success, each_store,
    entry_ids, fixture, parse, sample_articles, site_file, stderr, stdout,
};

/// The sample folder holds this many records: one per `.txt`/`.md` file and
/// one per non-blank line of each `.jsonl` file, counted here without
/// bantin's reader.
fn sample_record_count() -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(articles_dir()).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("txt" | "md") => n += 1,
            Some("jsonl") => {
                let text = std::fs::read_to_string(&path).unwrap();
                n += text.lines().filter(|l| !l.trim().is_empty()).count();
            }
            _ => {}
        }
    }
    n
}

/// Number of items in the all feed, read back with feed-rs.
fn all_feed_ids(sb: &Sandbox) -> Vec<String> {
    entry_ids(&parse(&sb.dump(&["--format", "json", "--limit", "10000"])))
}

each_store!(fn import_of_the_sample_folder_imports_every_article);
fn import_of_the_sample_folder_imports_every_article(store: StoreKind) {
    let sb = Sandbox::on(store);
    let want = sample_record_count();
    assert_eq!(want, 32, "the sample publication changed size");
    let out = sb.run(&["import", articles_dir().to_str().unwrap()]);
    assert_success(&out, "import");
    assert_eq!(stdout(&out).trim(), format!("imported {want}, rejected 0"));
    assert_eq!(stderr(&out), "");
    assert_eq!(all_feed_ids(&sb).len(), want);
}

each_store!(fn reimport_is_an_upsert_and_doubles_nothing);
fn reimport_is_an_upsert_and_doubles_nothing(store: StoreKind) {
    let sb = Sandbox::on(store);
    let dir = articles_dir();
    for _ in 0..2 {
        assert_success(&sb.run(&["import", dir.to_str().unwrap()]), "import");
    }
    let ids = all_feed_ids(&sb);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), sample_record_count());
    assert_eq!(unique.len(), ids.len());
}

each_store!(fn an_upsert_replaces_the_stored_text);
fn an_upsert_replaces_the_stored_text(store: StoreKind) {
    let sb = Sandbox::on(store);
    let first = sb.write(
        "a.jsonl",
        r#"{"id":"x","title":"Tiêu đề cũ","categories":["Kinh tế"],"published":"2020-12-01T08:00:00+07:00"}"#,
    );
    let second = sb.write(
        "b.jsonl",
        r#"{"id":"x","title":"Tiêu đề mới","categories":["Kinh tế"],"published":"2020-12-01T08:00:00+07:00"}"#,
    );
    for f in [&first, &second] {
        assert_success(&sb.run(&["import", f.to_str().unwrap()]), "import");
    }
    let feed = parse(&sb.dump(&["--format", "atom"]));
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "Tiêu đề mới"
    );
}

each_store!(fn an_id_twice_in_one_import_keeps_its_last_record);
fn an_id_twice_in_one_import_keeps_its_last_record(store: StoreKind) {
    // (PostgreSQL's writer merges its staging table as is when no id
    // repeats, and keeps the last record of each when one does.)
    let sb = Sandbox::on(store);
    let file = sb.write(
        "twice.jsonl",
        concat!(
            r#"{"id":"x","title":"Bản đầu","categories":["Kinh tế"],"published":"2020-12-01T08:00:00+07:00"}"#,
            "\n",
            r#"{"id":"y","title":"Bài khác","categories":["Kinh tế"],"published":"2020-12-02T08:00:00+07:00"}"#,
            "\n",
            r#"{"id":"x","title":"Bản sau","categories":["Thể thao"],"published":"2020-12-03T08:00:00+07:00"}"#,
            "\n"
        ),
    );
    let out = sb.run(&["import", file.to_str().unwrap()]);
    assert_success(&out, "import");
    let feed = parse(&sb.dump(&["--format", "atom"]));
    let titles: Vec<_> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(titles, ["Bản sau", "Bài khác"]);
    let sport = parse(&sb.dump(&["--category", "the-thao", "--format", "atom"]));
    assert_eq!(sport.entries.len(), 1);
    let economy = parse(&sb.dump(&["--category", "kinh-te", "--format", "atom"]));
    let economy: Vec<_> = economy
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(economy, ["Bài khác"], "x left Kinh tế with its last record");
}

/// One bad-input case: the file (relative to `tests/fixtures`), the line
/// (`None` for whole-file faults) and words the reason must contain.
struct Case {
    file: &'static str,
    line: Option<usize>,
    reason: &'static [&'static str],
}

const BAD_CASES: &[Case] = &[
    case("import/mixed.jsonl", Some(3), &["JSON"]),
    case("import/mixed.jsonl", Some(4), &["missing", "id"]),
    case("import/mixed.jsonl", Some(5), &["missing", "title"]),
    case("import/mixed.jsonl", Some(6), &["missing", "categories"]),
    case("import/mixed.jsonl", Some(7), &["missing", "published"]),
    case("import/mixed.jsonl", Some(8), &["published", "2020-13-45"]),
    case("import/mixed.jsonl", Some(9), &["published", "offset"]),
    case("import/bad-utf8.jsonl", Some(2), &["UTF-8"]),
    case("import/no-front-matter.txt", Some(1), &["front matter"]),
    case("import/unclosed.txt", Some(1), &["never closed"]),
    case("import/bad-toml.md", Some(4), &["front matter"]),
    case("import/bad-date.txt", Some(5), &["published", "hôm qua"]),
    case("import/no-offset.txt", Some(4), &["published", "offset"]),
    case(
        "import/no-categories.txt",
        Some(1),
        &["missing", "categories"],
    ),
    case("import/no-title.txt", Some(6), &["title"]),
    case("import/notes.csv", None, &[".jsonl"]),
    case("import/does-not-exist.jsonl", None, &["No such file"]),
];

const fn case(file: &'static str, line: Option<usize>, reason: &'static [&'static str]) -> Case {
    Case { file, line, reason }
}

/// The good records among the fixtures, by id.
const GOOD_IDS: &[&str] = &["fx-good-1", "fx-good-2", "fx-good-3", "fx-good-text"];

/// `bantin import` run in `tests/fixtures`, so that FILE is relative.
fn import_in_fixtures(sb: &Sandbox, extra: &[&str], files: &[&str]) -> std::process::Output {
    Bantin::bare()
        .dir(&fixture(""))
        .store(&sb.store_url())
        .arg("import")
        .args(extra)
        .args(files)
        .output()
}

fn case_prefix(c: &Case) -> String {
    match c.line {
        Some(l) => format!("{}:{l}: ", c.file),
        None => format!("{}: ", c.file),
    }
}

each_store!(fn every_bad_record_is_reported_with_file_and_line_and_the_good_ones_imported);
fn every_bad_record_is_reported_with_file_and_line_and_the_good_ones_imported(store: StoreKind) {
    let sb = Sandbox::on(store);
    let mut files: Vec<&str> = BAD_CASES.iter().map(|c| c.file).collect();
    files.push("import/good.txt");
    files.dedup();
    let out = import_in_fixtures(&sb, &[], &files);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        BAD_CASES.len(),
        "one line per bad record:\n{err}"
    );
    for c in BAD_CASES {
        let prefix = case_prefix(c);
        let line = lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line starts with {prefix:?} in\n{err}"));
        for word in c.reason {
            assert!(line.contains(word), "{word:?} missing from {line:?}");
        }
    }
    assert_eq!(
        stdout(&out).trim(),
        format!("imported {}, rejected {}", GOOD_IDS.len(), BAD_CASES.len())
    );
    let mut ids: Vec<String> = all_feed_ids(&sb)
        .iter()
        .map(|g| g.rsplit('/').next().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, GOOD_IDS);
}

each_store!(fn each_bad_file_alone_fails_with_its_own_report);
fn each_bad_file_alone_fails_with_its_own_report(store: StoreKind) {
    let sb = Sandbox::on(store);
    let mut seen = std::collections::BTreeSet::new();
    for c in BAD_CASES {
        if !seen.insert(c.file) {
            continue;
        }
        let out = import_in_fixtures(&sb, &[], &[c.file]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", c.file);
        assert!(
            err.starts_with(&case_prefix(c)) || err.contains(&format!("\n{}", case_prefix(c))),
            "{}: {err}",
            c.file
        );
        assert!(stdout(&out).contains("rejected"), "{}", c.file);
    }
}

each_store!(fn file_names_are_reported_as_given);
fn file_names_are_reported_as_given(store: StoreKind) {
    // The same file three ways: relative, with `./`, and absolute.
    let sb = Sandbox::on(store);
    let absolute = fixture("import/no-front-matter.txt");
    for given in [
        "import/no-front-matter.txt".to_string(),
        "./import/no-front-matter.txt".to_string(),
        absolute.display().to_string(),
    ] {
        let out = import_in_fixtures(&sb, &[], &[&given]);
        assert!(
            stderr(&out).starts_with(&format!("{given}:1: ")),
            "{given}: {}",
            stderr(&out)
        );
    }
}

each_store!(fn strict_import_with_one_bad_record_writes_nothing);
fn strict_import_with_one_bad_record_writes_nothing(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let before = sb.dump(&["--format", "json"]);
    let out = import_in_fixtures(
        &sb,
        &["--strict"],
        &["import/good.txt", "import/mixed.jsonl"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // Every bad record is still reported.
    assert_eq!(
        err.lines().count(),
        BAD_CASES
            .iter()
            .filter(|c| c.file == "import/mixed.jsonl")
            .count(),
        "{err}"
    );
    assert!(err.contains("import/mixed.jsonl:3: "), "{err}");
    assert_eq!(sb.dump(&["--format", "json"]), before, "the store changed");
}

each_store!(fn strict_import_into_an_empty_store_leaves_it_empty);
fn strict_import_into_an_empty_store_leaves_it_empty(store: StoreKind) {
    let sb = Sandbox::on(store);
    let out = import_in_fixtures(
        &sb,
        &["--strict"],
        &["import/good.txt", "import/bad-utf8.jsonl"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(all_feed_ids(&sb).is_empty());
}

each_store!(fn strict_import_of_good_records_imports_them);
fn strict_import_of_good_records_imports_them(store: StoreKind) {
    let sb = Sandbox::on(store);
    let out = sb.run(&["import", "--strict", articles_dir().to_str().unwrap()]);
    assert_success(&out, "import --strict");
    assert_eq!(all_feed_ids(&sb).len(), sample_record_count());
}

each_store!(fn remove_reports_unknown_ids_and_removes_the_others);
fn remove_reports_unknown_ids_and_removes_the_others(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let mut ids: Vec<String> = sample_articles().into_iter().map(|a| a.id).collect();
    ids.sort();
    let (gone1, gone2, kept) = (&ids[0], &ids[1], &ids[2]);
    let out = sb.run(&["remove", gone1, "no-such-article", gone2, "an-unknown-one"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // Each unknown id once, in the order given.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].contains("no-such-article"), "{err}");
    assert!(lines[1].contains("an-unknown-one"), "{err}");
    assert!(!err.contains("panicked"));
    let left = all_feed_ids(&sb);
    assert_eq!(left.len(), ids.len() - 2);
    assert!(!left.iter().any(|g| g.ends_with(&format!("/{gone1}"))));
    assert!(!left.iter().any(|g| g.ends_with(&format!("/{gone2}"))));
    assert!(left.iter().any(|g| g.ends_with(&format!("/{kept}"))));
}

each_store!(fn remove_of_known_ids_exits_zero_and_the_feeds_lose_them);
fn remove_of_known_ids_exits_zero_and_the_feeds_lose_them(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let seed = "2020-10-05-phoi-hop-bao-ve-dai-hoi";
    assert_success(&sb.run(&["remove", seed]), "remove");
    let rss = String::from_utf8(sb.dump(&["--category", "quoc-phong-an-ninh"])).unwrap();
    assert!(!rss.contains(seed));
}

each_store!(fn dump_defaults_to_rss_and_format_picks_atom_or_json);
fn dump_defaults_to_rss_and_format_picks_atom_or_json(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let default = sb.dump(&[]);
    assert_eq!(default, sb.dump(&["--format", "rss"]));
    assert_eq!(parse(&default).feed_type, feed_rs::model::FeedType::RSS2);
    assert_eq!(
        parse(&sb.dump(&["--format", "atom"])).feed_type,
        feed_rs::model::FeedType::Atom
    );
    let json = sb.dump(&["--format", "json"]);
    assert_eq!(parse(&json).feed_type, feed_rs::model::FeedType::JSON);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
}

each_store!(fn dump_selects_by_category_region_and_both);
fn dump_selects_by_category_region_and_both(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let articles = sample_articles();
    let has = |names: &[String], slug: &str| names.iter().any(|n| bantin::slug::slugify(n) == slug);
    for (args, keep) in [
        (
            vec!["--category", "kinh-te"],
            Box::new(|a: &bantin::article::Article| has(&a.categories, "kinh-te"))
                as Box<dyn Fn(&bantin::article::Article) -> bool>,
        ),
        (
            vec!["--region", "ha-tinh"],
            Box::new(|a: &bantin::article::Article| has(&a.regions, "ha-tinh")),
        ),
        (
            vec!["--category", "quoc-phong-an-ninh", "--region", "ha-tinh"],
            Box::new(|a: &bantin::article::Article| {
                has(&a.categories, "quoc-phong-an-ninh") && has(&a.regions, "ha-tinh")
            }),
        ),
    ] {
        let mut want: Vec<String> = articles
            .iter()
            .filter(|a| keep(a))
            .map(|a| a.id.clone())
            .collect();
        want.sort();
        assert!(!want.is_empty(), "{args:?} selects nothing in the sample");
        let mut got: Vec<String> = entry_ids(&parse(&sb.dump(&args)))
            .iter()
            .map(|g| g.rsplit('/').next().unwrap().to_string())
            .collect();
        got.sort();
        assert_eq!(got, want, "{args:?}");
    }
}

each_store!(fn dump_of_an_unknown_slug_fails_with_one_line);
fn dump_of_an_unknown_slug_fails_with_one_line(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    for args in [
        vec!["dump", "--category", "khong-co"],
        vec!["dump", "--region", "khong-co"],
        vec!["dump", "--category", "kinh-te", "--region", "khong-co"],
        vec!["dump", "--category", "khong-co", "--region", "duc-tho"],
    ] {
        let out = sb.run(&args);
        assert_one_line_error(&out, &["khong-co"]);
        assert!(out.stdout.is_empty(), "{args:?} wrote a feed anyway");
    }
}

each_store!(fn dump_limit_gives_the_newest_n_items);
fn dump_limit_gives_the_newest_n_items(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let full = entry_ids(&parse(&sb.dump(&["--format", "atom"])));
    for n in [1usize, 3, 7] {
        for format in ["rss", "atom", "json"] {
            let ids = entry_ids(&parse(&sb.dump(&[
                "--format",
                format,
                "--limit",
                &n.to_string(),
            ])));
            assert_eq!(ids, full[..n], "--limit {n} --format {format}");
        }
    }
    let out = sb.run(&["dump", "--limit", "0"]);
    assert!(!out.status.success());
    assert!(!stderr(&out).contains("panicked"));
}

each_store!(fn dump_gives_the_same_bytes_run_after_run);
fn dump_gives_the_same_bytes_run_after_run(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    for format in ["rss", "atom", "json"] {
        for args in [
            vec!["--format", format],
            vec!["--format", format, "--region", "ha-tinh"],
        ] {
            let first = sb.dump(&args);
            assert!(!first.is_empty());
            assert_eq!(first, sb.dump(&args), "{args:?}");
        }
    }
}

each_store!(fn dump_of_an_empty_store_is_an_empty_valid_feed);
fn dump_of_an_empty_store_is_an_empty_valid_feed(store: StoreKind) {
    // `dump` only reads: the store's schema is made by `import`, `serve`
    // or `migrate`.
    let sb = Sandbox::with_schema_on(store);
    for format in ["rss", "atom", "json"] {
        let feed = parse(&sb.dump(&["--format", format]));
        assert!(feed.entries.is_empty(), "{format}");
    }
}

each_store!(fn bantin_store_env_is_used_and_the_flag_beats_it);
fn bantin_store_env_is_used_and_the_flag_beats_it(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let empty = Sandbox::on(store);
    let site = site_file();
    // Env alone.
    let out = empty
        .bare()
        .env("BANTIN_STORE", sample.store_url())
        .arg("--site")
        .arg(&site)
        .args(["dump", "--format", "json"])
        .output();
    assert_success(&out, "dump with BANTIN_STORE");
    assert_eq!(out.stdout, sample.dump(&["--format", "json"]));
    // Flag beats env, even when the env's store could not be opened.
    let out = empty
        .bare()
        .env("BANTIN_STORE", "sqlite:/no/such/folder/x.db")
        .arg("--store")
        .arg(sample.store_url())
        .arg("--site")
        .arg(&site)
        .args(["dump", "--format", "json"])
        .output();
    assert_success(&out, "dump with --store over BANTIN_STORE");
    assert_eq!(out.stdout, sample.dump(&["--format", "json"]));
}

each_store!(fn bantin_site_env_is_used_and_the_flag_beats_it);
fn bantin_site_env_is_used_and_the_flag_beats_it(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let other = sb.write(
        "other.toml",
        "title = \"Tờ khác\"\nbase_url = \"https://khac.example\"\n",
    );
    let run = |env: &PathBuf, flag: Option<&PathBuf>| {
        let mut cmd = sb.bare();
        cmd.env("BANTIN_SITE", env)
            .arg("--store")
            .arg(sb.store_url());
        if let Some(f) = flag {
            cmd.arg("--site").arg(f);
        }
        let out = cmd.args(["dump", "--format", "json"]).output();
        assert_success(&out, "dump");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["title"].as_str().unwrap().to_string()
    };
    assert_eq!(run(&other, None), "Tờ khác");
    assert_eq!(
        run(&PathBuf::from("/no/such/site.toml"), Some(&other)),
        "Tờ khác"
    );
}

each_store!(fn global_flags_work_before_and_after_the_subcommand);
fn global_flags_work_before_and_after_the_subcommand(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let want = sb.dump(&["--format", "json", "--region", "duc-tho"]);
    let site = site_file();
    let after = sb
        .bare()
        .args(["dump", "--format", "json", "--region", "duc-tho", "--store"])
        .arg(sb.store_url())
        .arg("--site")
        .arg(&site)
        .output();
    assert_success(&after, "flags after");
    assert_eq!(after.stdout, want);
    let mixed = sb
        .bare()
        .arg("--site")
        .arg(&site)
        .args(["dump", "--region", "duc-tho", "--store"])
        .arg(sb.store_url())
        .args(["--format", "json"])
        .output();
    assert_success(&mixed, "flags mixed");
    assert_eq!(mixed.stdout, want);
}

/// Each command that opens the store, with its arguments.
fn store_commands() -> [Vec<String>; 4] {
    let articles = articles_dir().to_str().unwrap().to_string();
    [
        vec!["dump".into()],
        vec!["check".into()],
        vec!["remove".into(), "x".into()],
        vec!["import".into(), articles],
    ]
}

/// SQLite only: a file path. [`an_unreachable_postgres_store_is_one_line_of_error`]
/// is PostgreSQL's counterpart.
#[test]
fn a_store_in_a_missing_folder_is_one_line_of_error() {
    let sb = Sandbox::new();
    let url = format!("sqlite:{}", sb.path("no/such/folder/x.db").display());
    for args in store_commands() {
        let out = sb
            .bare()
            .store(&url)
            .site(&site_file())
            .args(&args)
            .output();
        assert_one_line_error(&out, &["no/such/folder"]);
    }
    assert!(!sb.path("no").exists(), "a folder was created");
}

/// PostgreSQL's counterpart of the missing folder: nothing listens at the
/// URL. Each command fails at once (a refused connection, no waiting), in
/// one line naming the store, and never prints the password.
#[test]
fn an_unreachable_postgres_store_is_one_line_of_error() {
    let sb = Sandbox::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://bantin:mat-khau@127.0.0.1:{port}/news");
    for args in store_commands() {
        let started = std::time::Instant::now();
        let out = sb
            .bare()
            .store(&url)
            .site(&site_file())
            .args(&args)
            .output();
        assert_one_line_error(&out, &[&format!("127.0.0.1:{port}/news")]);
        assert!(!stderr(&out).contains("mat-khau"), "{}", stderr(&out));
        let took = started.elapsed();
        assert!(took.as_secs() < 3, "{args:?} took {took:?}");
    }
}

/// Once: the URL is refused before any store is opened.
#[test]
fn a_bad_store_url_is_one_line_of_error() {
    let sb = Sandbox::new();
    let out = sb
        .bare()
        .args(["--store", "mysql://u@h/db", "dump"])
        .output();
    assert_one_line_error(&out, &["mysql://u@h/db"]);
}

each_store!(fn a_site_file_with_a_syntax_error_is_named_with_its_line);
fn a_site_file_with_a_syntax_error_is_named_with_its_line(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let site = sb.write(
        "site.toml",
        "title = \"Báo\"\nbase_url = \"http://x.example\"\nitems_per_feed = = 3\n",
    );
    for args in [vec!["dump"], vec!["check"]] {
        let out = sb.bantin().site(&site).args(args).output();
        assert_one_line_error(&out, &[&format!("{}:3:", site.display())]);
    }
}

each_store!(fn a_site_file_with_a_bad_value_names_the_field);
fn a_site_file_with_a_bad_value_names_the_field(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let site = sb.write(
        "site.toml",
        "title = \"Báo\"\nbase_url = \"http://x.example\"\ntimezone = \"Asia/Ho_Chi_Minh\"\n",
    );
    let out = sb.bantin().site(&site).args(["dump"]).output();
    assert_one_line_error(&out, &[&site.display().to_string(), "timezone"]);
}

each_store!(fn a_missing_site_file_is_one_line_of_error);
fn a_missing_site_file_is_one_line_of_error(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let site = sb.path("nowhere/site.toml");
    let out = sb.bantin().site(&site).args(["dump"]).output();
    assert_one_line_error(&out, &[&site.display().to_string()]);
}

/// Issue 17: `serve` run from a folder with no `feeds/site.toml` says so in
/// one line, the cause once, and how to name another site file.
#[test]
fn serve_from_another_folder_names_the_missing_site_file_once_with_a_hint() {
    let sb = Sandbox::new();
    let out = sb
        .bare()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output();
    assert_one_line_error(
        &out,
        &["feeds/site.toml", "No such file", "--site", "BANTIN_SITE"],
    );
    let err = stderr(&out);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

each_store!(fn check_passes_on_the_sample_store);
fn check_passes_on_the_sample_store(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let out = sb.run(&["check"]);
    assert_success(&out, "check");
    assert_eq!(stderr(&out), "");
}

each_store!(fn check_names_an_article_a_cms_wrote_with_a_bad_date_and_dump_leaves_it_out);
fn check_names_an_article_a_cms_wrote_with_a_bad_date_and_dump_leaves_it_out(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let yesterday_us = (chrono::Utc::now() - chrono::Duration::days(1)).timestamp_micros();
    // A CMS writing straight into the documented schema.
    sb.sql(&format!(
        "BEGIN;
         INSERT INTO articles (id, title, authors, published, published_us)
         VALUES ('cms-hom-qua', 'Bài của CMS', '[]', 'yesterday', {yesterday_us});
         INSERT INTO article_categories (article_id, slug, name, position, published_us)
         VALUES ('cms-hom-qua', 'kinh-te', 'Kinh tế', 0, {yesterday_us});
         COMMIT;"
    ));

    let out = sb.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cms-hom-qua"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    for args in [vec![], vec!["--category", "kinh-te"]] {
        for format in ["rss", "atom", "json"] {
            let mut a = args.clone();
            a.extend(["--format", format]);
            let bytes = sb.dump(&a);
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(!text.contains("cms-hom-qua"), "{a:?}");
            assert!(!parse(&bytes).entries.is_empty(), "{a:?}");
        }
    }
    assert_eq!(all_feed_ids(&sb).len(), sample_record_count());
}

each_store!(fn check_names_an_article_whose_stored_slug_does_not_match_its_name);
fn check_names_an_article_whose_stored_slug_does_not_match_its_name(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let id = "2020-10-05-phoi-hop-bao-ve-dai-hoi";
    let changed = sb.execute(&format!(
        "UPDATE article_categories SET slug = 'an-ninh' WHERE article_id = '{id}'"
    ));
    assert_eq!(changed, 1);
    let out = sb.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(id), "{err}");
    assert_success(&sb.run(&["dump"]), "dump after a bad slug");
}

each_store!(fn a_scheduled_article_appears_at_its_time_without_a_write);
fn a_scheduled_article_appears_at_its_time_without_a_write(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let offset = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let line = serde_json::json!({
        "id": "hen-gio",
        "title": "Bài hẹn giờ",
        "categories": ["Kinh tế"],
        "published": at.with_timezone(&offset).to_rfc3339(),
    });
    let file = sb.write("hen-gio.jsonl", line.to_string());
    assert_success(&sb.run(&["import", file.to_str().unwrap()]), "import");
    let ids = |args: &[&str]| -> Vec<String> { entry_ids(&parse(&sb.dump(args))) };
    let is_there = |ids: &[String]| ids.iter().any(|g| g.ends_with("/hen-gio"));
    assert!(!is_there(&ids(&[])), "visible before its time");
    assert!(!is_there(&ids(&["--category", "kinh-te"])));
    let wait = at - chrono::Utc::now() + chrono::Duration::milliseconds(500);
    std::thread::sleep(wait.to_std().unwrap_or_default());
    let all = ids(&[]);
    assert!(is_there(&all), "still hidden after its time");
    assert!(all[0].ends_with("/hen-gio"), "not the newest item: {all:?}");
    assert!(is_there(&ids(&["--category", "kinh-te"])));
}

/// README's "Your own newspaper": the site file and the articles between
/// its markers, and the commands it shows (the store and site through
/// `BANTIN_STORE` and `BANTIN_SITE`, as it exports them).
#[test]
fn the_readmes_own_newspaper_imports_and_builds_as_written() {
    let sb = Sandbox::new();
    let site = crate::deploy::doc_blocks("README.md", "own-site", "toml");
    let articles = crate::deploy::doc_blocks("README.md", "own-articles", "json");
    assert_eq!((site.len(), articles.len()), (1, 1));
    sb.write("tin/site.toml", &site[0]);
    sb.write("tin/articles.jsonl", &articles[0]);
    let run = |args: &[&str]| {
        sb.bare()
            .env("BANTIN_SITE", "tin/site.toml")
            .env("BANTIN_STORE", "sqlite:tin/bantin.db")
            .args(args)
            .output()
    };
    let imported = run(&["import", "tin/articles.jsonl"]);
    assert_success(&imported, "import");
    assert_eq!(stdout(&imported).trim(), "imported 2, rejected 0");
    assert_success(&run(&["build", "--out", "public"]), "build");
    for feed in [
        "feeds/all.rss",
        "feeds/category/xa-hoi.rss",
        "feeds/region/ky-anh.atom",
        "feeds/author/thanh-giang.json",
    ] {
        assert!(sb.path("public").join(feed).is_file(), "{feed}");
    }
    let page = std::fs::read_to_string(sb.path("public/index.html")).unwrap();
    assert!(page.contains("Báo Mẫu"), "{page}");
    assert!(!page.contains("<form"), "a static page offers no search");
    let all = run(&["dump", "--format", "json"]);
    assert_success(&all, "dump");
    let feed: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(feed["items"].as_array().unwrap().len(), 2);
    // Newest first; the article that names its own page links there.
    assert_eq!(
        feed["items"][1]["url"],
        "https://baomau.example.vn/bao-so-6.html"
    );
}
