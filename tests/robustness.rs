//! Issue 9, the command line's side: hostile records and closed or full
//! output streams, run through the real binary, each test on both stores
//! (`each_store!`). Each test names the row of the issue's table (and
//! RELIABILITY.md's) it covers.
//!
//! - A date of year 10000 in UTC (`9999-12-31T23:59:59-23:59`) or year 0 in
//!   its own offset is a bad record at import, `FILE:LINE` and the field;
//!   the same date written by a CMS is reported by `check` and left out of
//!   feeds. So is `9999-12-31T23:59:59Z`, year 10000 in the site's
//!   +07:00 (issue 17).
//! - Ids `.` and `..` are bad records.
//! - One article with 1,000 categories and 1,000 regions is refused with
//!   one line naming the field and `max_names_per_article`.
//! - A 50 MB JSON Lines record is refused by size, unparsed, and the good
//!   records beside it are imported.
//! - The site file's limits apply at import (and SPEC's defaults when there
//!   is no site file); `check` prints them and reports every stored row over
//!   one, which feeds leave out.
//! - `import … 2>&1 | head -1`, a closed stdout (`check | head -0`), a
//!   closed stderr, `dump >/dev/full`: a non-zero exit, one line on stderr
//!   where stderr still works, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{
    Sandbox, StoreKind, assert_one_line_error, each_store, parse, quoted, stderr, stdout,
};

fn record(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","title":"Bài {id}","categories":["Kinh tế"],"published":"2020-10-05T16:30:00+07:00"{extra}}}"#
    )
}

/// `bantin --store SB [--site SITE] import FILES` run in the sandbox.
fn import(sb: &Sandbox, site: Option<&Path>, files: &[&Path]) -> Output {
    let mut cmd = sb.bantin();
    match site {
        Some(site) => cmd.site(site),
        None => cmd.no_site(),
    };
    cmd.arg("import").args(files).output()
}

/// `bantin --store SB --site feeds/site.toml ARGS` as a plain
/// `std::process::Command`, whose streams a test can point anywhere.
fn std_cmd(sb: &Sandbox, args: &[&str]) -> Command {
    sb.bantin().args(args).command()
}

/// `bantin check`, which must report problems: exit 1, no panic; its stderr.
fn check_finds_problems(sb: &Sandbox) -> String {
    let out = sb.run(&["check"]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    stderr(&out)
}

fn assert_no_panic(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_ne!(out.status.code(), Some(101), "exit 101 is a panic");
}

/// The ids in the `articles` table, whether bantin can read the rows or not.
fn stored_ids(sb: &Sandbox) -> Vec<String> {
    sb.store().strings("SELECT id FROM articles ORDER BY id")
}

each_store!(fn a_date_past_year_9999_in_utc_is_a_bad_record_with_its_line);
/// Row "year 10000": refused at import with the line and the field.
fn a_date_past_year_9999_in_utc_is_a_bad_record_with_its_line(store: StoreKind) {
    let sb = Sandbox::on(store);
    let lines = [
        record("ok", ""),
        record("y10000", r#","updated":"9999-12-31T23:59:59-23:59""#),
        record("y0", "").replace("2020-10-05T16:30:00+07:00", "0001-01-01T00:00:00+00:01"),
    ];
    let file = sb.write("dates.jsonl", lines.join("\n"));
    let out = import(&sb, None, &[&file]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let errs: Vec<&str> = err.lines().collect();
    assert_eq!(errs.len(), 2, "{err}");
    let shown = file.display().to_string();
    assert!(
        errs[0].starts_with(&format!("{shown}:2: field `updated`")),
        "{err}"
    );
    assert!(
        errs[1].starts_with(&format!("{shown}:3: field `published`")),
        "{err}"
    );
    for e in &errs {
        assert!(e.contains("0001-01-01..9999-12-31"), "{e}");
    }
    assert_eq!(stdout(&out).trim(), "imported 1, rejected 2");
    assert_eq!(stored_ids(&sb), vec!["ok"]);
}

each_store!(fn a_date_past_year_9999_in_the_sites_offset_is_a_bad_record_with_its_line);
/// Issue 17: `9999-12-31T23:59:59Z` is year 10000 at the sample site's
/// +07:00, which feeds write every date in: refused with the line and the
/// field, at import with that site and with SPEC's defaults (+07:00 too).
fn a_date_past_year_9999_in_the_sites_offset_is_a_bad_record_with_its_line(store: StoreKind) {
    let sb = Sandbox::on(store);
    let lines = [
        record("ok", ""),
        record("cuoi-nam-9999", r#","updated":"9999-12-31T23:59:59Z""#),
        record("ok-2", r#","updated":"9999-12-31T16:59:59Z""#),
    ];
    let file = sb.write("dates.jsonl", lines.join("\n"));
    let site = crate::support::site_file();
    for site in [Some(site.as_path()), None] {
        let out = import(&sb, site, &[&file]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert_eq!(
            err.trim(),
            format!(
                "{}:2: field `updated`: 9999-12-31T23:59:59+00:00 is \
                 +10000-01-01T06:59:59+07:00 in the site's offset, outside 0001-01-01..9999-12-31",
                file.display()
            ),
            "site {site:?}"
        );
        assert_eq!(stdout(&out).trim(), "imported 2, rejected 1");
    }
    assert_eq!(stored_ids(&sb), vec!["ok", "ok-2"]);
}

each_store!(fn a_cms_row_past_year_9999_in_the_sites_offset_is_named_by_check_and_left_out);
/// Issue 17: the same date written by a CMS: `check` names the row and the
/// field, feeds leave it out (W3C's validator and feedparser can't read
/// `+10000-01-01T06:59:59+07:00`).
fn a_cms_row_past_year_9999_in_the_sites_offset_is_named_by_check_and_left_out(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    cms_insert(&sb, "cms-cuoi-nam-9999", Some("9999-12-31T23:59:59Z"), 1);
    let err = check_finds_problems(&sb);
    assert_eq!(
        err.trim(),
        format!(
            "{}: article \"cms-cuoi-nam-9999\": field `updated`: 9999-12-31T23:59:59+00:00 is \
             +10000-01-01T06:59:59+07:00 in the site's offset, outside 0001-01-01..9999-12-31 \
             (left out of feeds)",
            sb.store_url()
        )
    );
    for format in ["rss", "atom", "json"] {
        for args in [vec![], vec!["--category", "kinh-te"]] {
            let mut args = args.clone();
            args.extend(["--format", format]);
            let bytes = sb.dump(&args);
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(!text.contains("cms-cuoi-nam-9999"), "{args:?}");
            assert!(!text.contains("+10000"), "{args:?}");
            assert!(!parse(&bytes).entries.is_empty());
        }
    }
}

each_store!(fn a_cms_row_dated_year_10000_is_reported_by_check_and_left_out_of_feeds);
/// Row "year 10000", written by a CMS: `check` names it, feeds leave it out.
fn a_cms_row_dated_year_10000_is_reported_by_check_and_left_out_of_feeds(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    cms_insert(&sb, "cms-y10000", Some("9999-12-31T23:59:59-23:59"), 1);
    let err = check_finds_problems(&sb);
    assert!(err.contains("\"cms-y10000\""), "{err}");
    assert!(err.contains("9999-12-31"), "{err}");
    for format in ["rss", "atom", "json"] {
        let bytes = sb.dump(&["--format", format]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("cms-y10000"), "{format}");
        assert!(!parse(&bytes).entries.is_empty());
    }
}

/// The link rows of `names` categories and as many regions for article
/// `id` published at `us`, as a CMS writes them: the first of each the
/// sample's "Kinh tế" and "Hà Tĩnh", the others `label(i)`.
pub fn cms_link_rows(
    id: &str,
    us: i64,
    names: usize,
    label: impl Fn(usize) -> (String, String),
) -> String {
    let mut sql = String::new();
    for i in 0..names {
        let (cat, reg) = if i == 0 {
            ("Kinh tế".to_string(), "Hà Tĩnh".to_string())
        } else {
            label(i)
        };
        for (table, name) in [("article_categories", cat), ("article_regions", reg)] {
            sql.push_str(&format!(
                "INSERT INTO {table} (article_id, slug, name, position, published_us)
                 VALUES ({}, {}, {}, {i}, {us});",
                quoted(id),
                quoted(&bantin::slug::slugify(&name)),
                quoted(&name)
            ));
        }
    }
    sql
}

/// Write an article straight into the documented schema, as a CMS would,
/// with `names` categories and as many regions, published 2020-10-05 and
/// `updated` as given.
pub fn cms_insert(sb: &Sandbox, id: &str, updated: Option<&str>, names: usize) {
    let published = "2020-10-05T16:30:00+07:00";
    let us = chrono::DateTime::parse_from_rfc3339(published)
        .unwrap()
        .timestamp_micros();
    let updated = updated.map_or("NULL".to_string(), quoted);
    let mut sql = format!(
        "BEGIN;
         INSERT INTO articles (id, title, authors, published, updated, published_us)
         VALUES ({}, 'Bài của CMS', '[]', '{published}', {updated}, {us});",
        quoted(id)
    );
    sql.push_str(&cms_link_rows(id, us, names, |i| {
        (format!("Chủ đề {i}"), format!("Vùng {i}"))
    }));
    sql.push_str("COMMIT;");
    sb.sql(&sql);
}

each_store!(fn ids_dot_and_dot_dot_are_bad_records);
/// Row "ids `.` and `..`".
fn ids_dot_and_dot_dot_are_bad_records(store: StoreKind) {
    let sb = Sandbox::on(store);
    let file = sb.write(
        "dots.jsonl",
        [record(".", ""), record("..", ""), record("...", "")].join("\n"),
    );
    let out = import(&sb, None, &[&file]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let shown = file.display().to_string();
    assert!(
        err.contains(&format!("{shown}:1: field `id`: \".\"")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{shown}:2: field `id`: \"..\"")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert_eq!(stored_ids(&sb), vec!["..."]);
}

each_store!(fn an_article_with_1000_categories_and_regions_is_refused_with_one_line);
/// Row "1,000 categories and 1,000 regions": one clear line, nothing stored.
fn an_article_with_1000_categories_and_regions_is_refused_with_one_line(store: StoreKind) {
    let sb = Sandbox::on(store);
    let names =
        |prefix: &str| -> Vec<String> { (0..1000).map(|i| format!("{prefix} {i}")).collect() };
    let line = serde_json::json!({
        "id": "nhieu-ten",
        "title": "Nhiều tên",
        "categories": names("Chủ đề"),
        "regions": names("Vùng"),
        "published": "2020-10-05T16:30:00+07:00",
    });
    let file = sb.write("names.jsonl", line.to_string());
    let out = import(&sb, None, &[&file]);
    assert_one_line_error(
        &out,
        &[&format!(
            "{}:1: field `categories`: 1000 names, over max_names_per_article = 16",
            file.display()
        )],
    );
    assert!(stored_ids(&sb).is_empty());
}

each_store!(fn a_cms_row_over_a_limit_is_reported_by_check_and_left_out_of_feeds);
/// Row "1,000 categories", written by a CMS: check reports it, feeds leave
/// it out.
fn a_cms_row_over_a_limit_is_reported_by_check_and_left_out_of_feeds(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    cms_insert(&sb, "cms-nhieu-ten", None, 20);
    let err = check_finds_problems(&sb);
    assert_eq!(
        err.trim(),
        format!(
            // 20 written; the store keeps max_names_per_article + 1 (issue 17).
            "{}: article \"cms-nhieu-ten\": field `categories`: 17 names, over max_names_per_article = 16 (left out of feeds)",
            sb.store_url()
        )
    );
    for args in [
        vec![],
        vec!["--category", "kinh-te"],
        vec!["--region", "ha-tinh"],
    ] {
        let bytes = sb.dump(&args);
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("cms-nhieu-ten"), "{args:?}");
    }
}

each_store!(fn check_prints_the_sites_limits);
/// `check` prints the limits in force, as site-file lines.
fn check_prints_the_sites_limits(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let site = sb.write(
        "site.toml",
        "title = \"Báo\"\nbase_url = \"http://x.example\"\nmax_title_bytes = 4000\ncache_bytes = 0\n",
    );
    let out = sb.bantin().site(&site).args(["check"]).output();
    assert_eq!(stderr(&out), "");
    let text = stdout(&out);
    let want = format!(
        "limits of {}:\n  max_id_bytes = 200\n  max_title_bytes = 4000\n  max_summary_bytes = 4096\n  \
         max_body_bytes = 1048576\n  max_names_per_article = 16\n  max_feed_bytes = 2097152\n  cache_bytes = 0\n",
        site.display()
    );
    assert!(text.starts_with(&want), "{text}");
    assert!(text.ends_with("ok\n"), "{text}");
}

each_store!(fn import_applies_the_site_files_limits_or_specs_defaults_without_one);
/// The site file's limits apply at import; without a site file, SPEC's.
fn import_applies_the_site_files_limits_or_specs_defaults_without_one(store: StoreKind) {
    let sb = Sandbox::on(store);
    let site = sb.write(
        "strict-site.toml",
        "title = \"Báo\"\nbase_url = \"http://x.example\"\nmax_summary_bytes = 10\n",
    );
    let file = sb.write(
        "a.jsonl",
        record("tom-tat-dai", r#","summary":"Tóm tắt dài hơn mười byte""#),
    );
    let out = import(&sb, Some(&site), &[&file]);
    assert_one_line_error(
        &out,
        &[
            &format!("{}:1: field `summary`", file.display()),
            "over max_summary_bytes = 10",
        ],
    );
    // No --site, and no feeds/site.toml in the sandbox: SPEC's 4096 bytes.
    let out = import(&sb, None, &[&file]);
    assert_eq!(stdout(&out).trim(), "imported 1, rejected 0");
    // A site file named but missing is an error, not a silent default.
    let out = import(&sb, Some(&sb.path("missing.toml")), &[&file]);
    assert_one_line_error(&out, &["missing.toml"]);
}

each_store!(fn a_50_mb_json_lines_record_is_refused_by_size_and_its_neighbours_imported);
/// Row "one 50 MB JSON Lines record": refused by its size alone.
fn a_50_mb_json_lines_record_is_refused_by_size_and_its_neighbours_imported(store: StoreKind) {
    let sb = Sandbox::on(store);
    let big = record(
        "lon",
        &format!(r#","body":"{}""#, "a".repeat(50 * 1024 * 1024)),
    );
    let file = sb.write(
        "big.jsonl",
        format!("{}\n{big}\n{}\n", record("truoc", ""), record("sau", "")),
    );
    let out = import(&sb, None, &[&file]);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "{}:2: record is {} bytes",
            file.display(),
            big.len()
        )),
        "{err}"
    );
    assert_eq!(stdout(&out).trim(), "imported 2, rejected 1");
    assert_eq!(stored_ids(&sb), vec!["sau", "truoc"]);
    // The same body in a text article: the file is refused unread.
    let text = sb.write(
        "big.txt",
        format!(
            "+++\nid = \"lon\"\ncategories = [\"Kinh tế\"]\npublished = 2020-10-05T16:30:00+07:00\n+++\nT\n\nS\n\n{}\n",
            "a".repeat(50 * 1024 * 1024)
        ),
    );
    let out = import(&sb, None, &[&text]);
    assert_one_line_error(&out, &[&format!("{}:1: file is ", text.display())]);
}

each_store!(fn a_body_over_max_body_bytes_names_the_field_and_the_limit);
/// A body just over `max_body_bytes` (small enough to parse) names the
/// field and the limit.
fn a_body_over_max_body_bytes_names_the_field_and_the_limit(store: StoreKind) {
    let sb = Sandbox::on(store);
    let file = sb.write(
        "body.jsonl",
        record(
            "than-dai",
            &format!(r#","body":"{}""#, "b".repeat(1_048_577)),
        ),
    );
    let out = import(&sb, None, &[&file]);
    assert_one_line_error(
        &out,
        &[&format!(
            "{}:1: field `body`: 1048577 bytes, over max_body_bytes = 1048576",
            file.display()
        )],
    );
}

/// Many bad records: enough report lines to fill any pipe buffer.
fn many_bad_records(sb: &Sandbox) -> PathBuf {
    let bad: Vec<String> = (0..5000).map(|i| format!("{{\"id\":\"x{i}\"}}")).collect();
    sb.write("bad.jsonl", bad.join("\n"))
}

each_store!(fn import_into_head_1_ends_without_a_panic_and_writes_nothing);
/// Row "`bantin import … 2>&1 | head -1`": not a panic but exit 1, and
/// nothing written (no one could read what was rejected).
fn import_into_head_1_ends_without_a_panic_and_writes_nothing(store: StoreKind) {
    let sb = Sandbox::on(store);
    let bad = many_bad_records(&sb);
    let good = sb.write("good.jsonl", record("tot", ""));
    // `2>&1 | head -1`: both streams into one pipe that `head` reads.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut import = sb
        .bantin()
        .no_site()
        .args([Path::new("import"), &good, &bad])
        .command()
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let head = Command::new("head")
        .arg("-1")
        .stdin(reader)
        .output()
        .unwrap();
    let status = import.wait().unwrap();
    let text = stdout(&head);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].starts_with(&format!("{}:1: missing field", bad.display())),
        "{text}"
    );
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(stored_ids(&sb).is_empty());
}

/// A pipe whose reading end is already closed: a write to it is EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

each_store!(fn check_with_stdout_closed_says_so_in_one_line_and_exits_1);
/// Row "stdout closed" (`bantin check | head -0`): one line on stderr, exit 1.
fn check_with_stdout_closed_says_so_in_one_line_and_exits_1(store: StoreKind) {
    let sb = Sandbox::with_sample_on(store);
    let out = std_cmd(&sb, &["check"])
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_one_line_error(&out, &["bantin: error: writing to stdout", "Broken pipe"]);
    assert_eq!(out.status.code(), Some(1));
}

each_store!(fn import_with_stderr_closed_exits_1_and_writes_nothing);
/// stderr closed: import can't report its bad records, so it stops before
/// writing, and exits 1 without a panic.
fn import_with_stderr_closed_exits_1_and_writes_nothing(store: StoreKind) {
    let sb = Sandbox::on(store);
    let bad = many_bad_records(&sb);
    let out = std_cmd(&sb, &["import", bad.to_str().unwrap()])
        .stderr(closed_pipe())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stored_ids(&sb).is_empty());
}

each_store!(fn a_full_stdout_ends_each_command_with_one_line_and_exit_1);
/// Row "stdout on a full disk": `dump >/dev/full`, and `remove` and
/// `import` whose report can't be written.
fn a_full_stdout_ends_each_command_with_one_line_and_exit_1(store: StoreKind) {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full on this system");
        return;
    }
    let sb = Sandbox::with_sample_on(store);
    let file = sb.write("one.jsonl", record("mot", ""));
    for args in [
        vec!["dump"],
        vec!["check"],
        vec!["import", file.to_str().unwrap()],
        vec!["remove", "mot"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std_cmd(&sb, &args).stdout(full).output().unwrap();
        assert_one_line_error(&out, &["writing to stdout", "No space left on device"]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}
