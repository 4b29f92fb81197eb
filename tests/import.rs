//! Reading articles, through the library (`bantin::import::read_paths`) and
//! then the binary where what a user sees is the point.
//!
//! - SPEC's slug rule on Vietnamese and other names: diacritics dropped,
//!   `đ` → `d`, `ß` → `ss`, digits kept, runs of anything else → one `-`,
//!   none at the ends; composed and decomposed spellings agree.
//! - Display names are NFC: a decomposed `Đức Thọ` lands in the same feed,
//!   under the same name, as a composed one.
//! - The seed article reads as SPEC's layout says: first line the title,
//!   first paragraph the summary, a final short line the byline (authors
//!   split on ` - `), the rest the body.
//! - The byline rule's edges: 100 characters is a byline, 101 is not; a
//!   last line ending in sentence punctuation is body; front-matter
//!   `authors` win.
//! - `published` as a TOML datetime or as a string gives the same instant;
//!   `updated` defaults to `published`.
//! - JSON Lines: blank lines skipped with line numbers kept, a UTF-8 BOM and
//!   CRLF line ends accepted.
//! - Markdown: `#` leaves the title, the body becomes HTML.
//! - Folders are read recursively in name order; files of other kinds inside
//!   a folder are skipped, not rejected.
//! - Links: the default `{base_url}/articles/{id}` and the guid percent-encode
//!   the id; an article's own URL reaches the feed percent-encoded, never raw.

use bantin::article::Body;
use bantin::import::read_paths;
use bantin::slug::slugify;

use crate::support::{
    Sandbox, StoreKind, articles_dir, assert_success, date, each_store, parse, percent_encode,
};

#[test]
fn slugs_follow_spec_for_vietnamese_and_other_names() {
    for (name, slug) in [
        ("Đức Thọ", "duc-tho"),
        ("ĐỨC THỌ", "duc-tho"),
        ("Quốc phòng - An ninh", "quoc-phong-an-ninh"),
        ("Hà Tĩnh", "ha-tinh"),
        ("Thành phố Hà Tĩnh", "thanh-pho-ha-tinh"),
        ("Nông nghiệp - Nông thôn", "nong-nghiep-nong-thon"),
        ("Kỳ Anh", "ky-anh"),
        ("Cẩm Xuyên", "cam-xuyen"),
        ("Hương Khê", "huong-khe"),
        ("Straße", "strasse"),
        ("Covid-19 năm 2020", "covid-19-nam-2020"),
        ("Quý III/2020", "quy-iii-2020"),
        ("  --Kỳ   Anh!!  ", "ky-anh"),
        ("A.B_C", "a-b-c"),
        ("đường 1A", "duong-1a"),
    ] {
        assert_eq!(slugify(name), slug, "{name:?}");
    }
}

#[test]
fn composed_and_decomposed_names_have_one_slug() {
    let composed = "Đức Thọ";
    let decomposed = "\u{110}u\u{31b}\u{301}c Tho\u{323}";
    assert_ne!(composed, decomposed);
    assert_eq!(slugify(decomposed), slugify(composed));
    assert_eq!(bantin::slug::normalize_name(decomposed), composed);
}

each_store!(fn a_decomposed_name_shares_the_composed_names_feed_and_display_name);
fn a_decomposed_name_shares_the_composed_names_feed_and_display_name(store: StoreKind) {
    let sb = Sandbox::on(store);
    let site = crate::support::fixture("site-bare.toml");
    let lines = [
        serde_json::json!({"id": "a", "title": "A", "categories": ["Kinh tế"],
            "regions": ["\u{110}u\u{31b}\u{301}c Tho\u{323}"], "published": "2020-12-01T08:00:00+07:00"}),
        serde_json::json!({"id": "b", "title": "B", "categories": ["Kinh tế"],
            "regions": ["Đức Thọ"], "published": "2020-12-02T08:00:00+07:00"}),
    ];
    let file = sb.write("a.jsonl", lines.map(|l| l.to_string()).join("\n"));
    assert_success(&sb.run(&["import", file.to_str().unwrap()]), "import");
    let json = sb.dump_with_site(&site, &["--region", "duc-tho", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["title"], "Bản tin thử – Đức Thọ");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    for item in v["items"].as_array().unwrap() {
        assert!(
            item["tags"].as_array().unwrap().contains(&"Đức Thọ".into()),
            "{item}"
        );
    }
}

fn read_one(sb: &Sandbox, name: &str, contents: &str) -> bantin::article::Article {
    let path = sb.write(name, contents);
    let mut batch = read_paths(&[path]);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    assert_eq!(batch.articles.len(), 1);
    batch.articles.remove(0)
}

#[test]
fn the_seed_article_reads_as_spec_lays_it_out() {
    let path = articles_dir().join("2020-10-05-phoi-hop-bao-ve-dai-hoi.txt");
    let raw = std::fs::read_to_string(&path).unwrap();
    let mut batch = read_paths(&[path]);
    assert!(batch.rejected.is_empty());
    let a = batch.articles.remove(0);
    assert_eq!(a.id, "2020-10-05-phoi-hop-bao-ve-dai-hoi");
    assert_eq!(
        a.title,
        "Phối hợp bảo vệ tuyệt đối an toàn Đại hội Đảng bộ tỉnh Hà Tĩnh lần thứ XIX"
    );
    let summary = a.summary.as_deref().unwrap();
    assert!(
        summary.starts_with("Quý III/2020, 3 lực lượng"),
        "{summary}"
    );
    assert!(
        summary.ends_with("đời sống KT-XH của Nhân dân..."),
        "{summary}"
    );
    assert_eq!(a.authors, ["Thanh Giang", "Xuân Liệu"]);
    assert_eq!(a.categories, ["Quốc phòng - An ninh"]);
    assert_eq!(a.regions, ["Hà Tĩnh"]);
    assert_eq!(a.published, date("2020-10-05T16:30:00+07:00"));
    assert_eq!(a.updated, a.published);
    let Body::Text(body) = &a.body else {
        panic!("plain body expected, got {:?}", a.body)
    };
    assert!(body.starts_with("Ngày 5/10, các lực lượng"), "{body}");
    assert!(body.ends_with("vật liệu nổ…"), "{body}");
    assert!(!body.contains("Thanh Giang"));
    // Every body paragraph of the file is there, in order.
    let file_paragraphs: Vec<&str> = raw.split("\n\n").collect();
    let body_paragraphs: Vec<&str> = body.split("\n\n").collect();
    assert_eq!(body_paragraphs.len(), file_paragraphs.len() - 3, "{raw}");
}

const FRONT: &str =
    "+++\nid = \"t\"\ncategories = [\"Xã hội\"]\npublished = 2020-12-01T08:00:00+07:00\n+++\n";

#[test]
fn a_short_last_line_without_final_punctuation_is_the_byline() {
    let sb = Sandbox::new();
    let exactly_100 = "Ư".repeat(50) + " - " + &"a".repeat(47);
    assert_eq!(exactly_100.chars().count(), 100);
    let a = read_one(
        &sb,
        "a.txt",
        &format!("{FRONT}Tiêu đề\n\nSapo.\n\nThân bài.\n\n{exactly_100}\n"),
    );
    assert_eq!(a.authors, ["Ư".repeat(50), "a".repeat(47)]);
    assert_eq!(a.body, Body::Text("Thân bài.".into()));

    let too_long = exactly_100.clone() + "a";
    let a = read_one(
        &sb,
        "b.txt",
        &format!("{FRONT}Tiêu đề\n\nSapo.\n\nThân bài.\n\n{too_long}\n"),
    );
    assert!(a.authors.is_empty(), "{:?}", a.authors);
    assert_eq!(a.body, Body::Text(format!("Thân bài.\n\n{too_long}")));

    for ending in [".", "!", "?", "…"] {
        let a = read_one(
            &sb,
            "c.txt",
            &format!("{FRONT}Tiêu đề\n\nSapo.\n\nHết bài{ending}\n"),
        );
        assert!(a.authors.is_empty(), "{ending}: {:?}", a.authors);
    }
}

#[test]
fn front_matter_authors_win_over_a_byline() {
    let sb = Sandbox::new();
    let text = FRONT.replace("+++\nid", "+++\nauthors = [\"Hữu Trung\", \"Thu Hà\"]\nid")
        + "Tiêu đề\n\nSapo.\n\nThân bài.\n\nNgọc Loan\n";
    let a = read_one(&sb, "a.txt", &text);
    assert_eq!(a.authors, ["Hữu Trung", "Thu Hà"]);
    assert_eq!(a.body, Body::Text("Thân bài.\n\nNgọc Loan".into()));
}

#[test]
fn published_as_toml_datetime_or_string_is_the_same_instant() {
    let sb = Sandbox::new();
    let as_datetime = read_one(&sb, "a.txt", &format!("{FRONT}T\n"));
    let as_string = read_one(
        &sb,
        "b.txt",
        &format!("{FRONT}T\n").replace(
            "published = 2020-12-01T08:00:00+07:00",
            "published = \"2020-12-01T01:00:00Z\"\nupdated = \"2020-12-02T08:00:00+07:00\"",
        ),
    );
    assert_eq!(as_datetime.published, as_string.published);
    assert_eq!(as_datetime.updated, as_datetime.published);
    assert_eq!(as_string.updated, date("2020-12-02T08:00:00+07:00"));
}

#[test]
fn json_lines_skip_blank_lines_and_accept_bom_and_crlf() {
    let sb = Sandbox::new();
    let good = |id: &str| {
        format!(
            r#"{{"id":"{id}","title":"T","categories":["Xã hội"],"published":"2020-12-01T08:00:00+07:00"}}"#
        )
    };
    let text = format!(
        "\u{feff}{}\r\n\r\n   \r\n{}\r\n{{bad\r\n\n",
        good("a"),
        good("b")
    );
    let path = sb.write("a.jsonl", text);
    let batch = read_paths(std::slice::from_ref(&path));
    let ids: Vec<&str> = batch.articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(batch.rejected.len(), 1);
    assert_eq!(batch.rejected[0].line, 5);
    assert_eq!(batch.rejected[0].file, path.display().to_string());
}

#[test]
fn markdown_titles_lose_their_hash_and_bodies_become_html() {
    let sb = Sandbox::new();
    let a = read_one(
        &sb,
        "a.md",
        &format!(
            "{FRONT}#  Tiêu đề\n\nSapo.\n\nCó **đậm** và [liên kết](https://e.example/).\n\n- một\n- hai\n"
        ),
    );
    assert_eq!(a.title, "Tiêu đề");
    let Body::Html(html) = a.body else {
        panic!("{:?}", a.body)
    };
    assert!(html.contains("<strong>đậm</strong>"), "{html}");
    assert!(html.contains("<a href=\"https://e.example/\">"), "{html}");
    assert!(html.contains("<li>hai</li>"), "{html}");
}

#[test]
fn folders_are_read_recursively_in_name_order_skipping_other_files() {
    let sb = Sandbox::new();
    let article = |id: &str| FRONT.replace("id = \"t\"", &format!("id = \"{id}\"")) + "T\n";
    sb.write("in/b.txt", article("b"));
    sb.write("in/a/z.md", article("az"));
    sb.write("in/c/d/e.txt", article("cde"));
    sb.write("in/README.csv", "not an article");
    sb.write("in/c/notes", "no extension");
    let batch = read_paths(&[sb.path("in")]);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    let ids: Vec<&str> = batch.articles.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["az", "b", "cde"]);
}

each_store!(fn ids_are_percent_encoded_in_links_and_guids_and_urls_never_go_out_raw);
fn ids_are_percent_encoded_in_links_and_guids_and_urls_never_go_out_raw(store: StoreKind) {
    let sb = Sandbox::on(store);
    let id = "bài 1/2?&\"x\"";
    let lines = [
        serde_json::json!({"id": id, "title": "T", "categories": ["Xã hội"],
            "published": "2020-12-01T08:00:00+07:00"}),
        serde_json::json!({"id": "own-url", "title": "U", "categories": ["Xã hội"],
            "published": "2020-11-01T08:00:00+07:00",
            "url": "https://e.example/bài viết\u{1}?q=a b",
            "image": "https://e.example/ảnh 1.jpg"}),
    ];
    let file = sb.write("a.jsonl", lines.map(|l| l.to_string()).join("\n"));
    assert_success(&sb.run(&["import", file.to_str().unwrap()]), "import");
    let base = "http://127.0.0.1:8080";
    let encoded = percent_encode(id);
    assert_eq!(encoded, "b%C3%A0i%201%2F2%3F%26%22x%22");
    for format in ["rss", "atom", "json"] {
        let bytes = sb.dump(&["--format", format]);
        let feed = parse(&bytes);
        assert_eq!(
            feed.entries[0].id,
            format!("{base}/articles/{encoded}"),
            "{format}"
        );
        let links: Vec<&str> = feed.entries[0]
            .links
            .iter()
            .map(|l| l.href.as_str())
            .collect();
        assert!(
            links.contains(&format!("{base}/articles/{encoded}").as_str()),
            "{format}: {links:?}"
        );
        let links: Vec<&str> = feed.entries[1]
            .links
            .iter()
            .map(|l| l.href.as_str())
            .collect();
        assert!(
            links.contains(&"https://e.example/b%C3%A0i%20vi%E1%BA%BFt%01?q=a%20b"),
            "{format}: {links:?}"
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains('\u{1}'), "{format}");
        assert!(
            text.contains("https://e.example/%E1%BA%A3nh%201.jpg"),
            "{format}"
        );
    }
}
