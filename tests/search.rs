//! Keyword feeds (SPEC "Keyword feeds") over real sockets, on both stores:
//!
//! - Every word must be in the title, summary or body; case, tone marks and
//!   `đ` fold away (`bao lu` finds "Bão lũ", `DUC` finds "Đức").
//! - Queries that fold to the same words are the same feed, byte for byte;
//!   the title is "{title} – tìm: {words}".
//! - A word found only in markup (a tag or attribute name) does not count.
//! - No word: 400. A query over 200 bytes: 414.
//! - A write that adds a matching article shows in a cached keyword feed.
//! - `/` has a search box that builds the URL.

use std::time::Duration;

use bantin::article::{Article, Body};

use crate::server::{Backend, Server, client, get, on_both, wait_until};
use crate::util::article;

fn with_text(id: &str, title: &str, summary: Option<&str>, body: Body, at: &str) -> Article {
    let mut a = article(id, &["Xã hội"], &["Hà Tĩnh"], at);
    a.title = title.into();
    a.summary = summary.map(str::to_string);
    a.body = body;
    a
}

fn corpus() -> Vec<Article> {
    vec![
        with_text(
            "bao-lu",
            "Bão lũ gây thiệt hại ở Đức Thọ",
            None,
            Body::None,
            "2020-12-01T08:00:00+07:00",
        ),
        with_text(
            "chi-sapo",
            "Tin khác",
            Some("Người dân chống BÃO từ sớm"),
            Body::Text("Đoạn văn có chữ lũ quét.".into()),
            "2020-12-02T08:00:00+07:00",
        ),
        with_text(
            "the-html",
            "Một bài HTML",
            None,
            Body::Html(
                "<p class=\"strong\">Văn bản <strong>bình thường</strong> về bão</p>".into(),
            ),
            "2020-12-03T08:00:00+07:00",
        ),
    ]
}

/// The articles (sample and `corpus()`) holding every word, newest first,
/// found here without bantin's search code: fold by NFD and dropping marks,
/// strip tags by hand.
fn expected(words: &[&str]) -> Vec<String> {
    use unicode_normalization::UnicodeNormalization;
    let fold = |t: &str| -> String {
        t.nfd()
            .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
            .map(|c| if c == 'đ' || c == 'Đ' { 'd' } else { c })
            .flat_map(char::to_lowercase)
            .collect()
    };
    let untag = |h: &str| -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in h.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    };
    let mut all = crate::server::sample_articles();
    all.extend(corpus());
    let mut hits: Vec<&Article> = all
        .iter()
        .filter(|a| {
            let body = match &a.body {
                Body::None => String::new(),
                Body::Text(t) => t.clone(),
                Body::Html(h) => untag(h),
            };
            let text = fold(&format!(
                "{} {} {body}",
                a.title,
                a.summary.as_deref().unwrap_or("")
            ));
            let have: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
            words.iter().all(|w| have.contains(w))
        })
        .collect();
    hits.sort_by(|a, b| b.published.cmp(&a.published).then(b.id.cmp(&a.id)));
    hits.iter().map(|a| a.id.clone()).collect()
}

fn ids(text: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let id = i["id"].as_str().unwrap();
            id.rsplit('/').next().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn keyword_feeds_fold_case_tone_marks_and_d() {
    on_both(|backend| async move {
        backend.upsert(corpus());
        let server = Server::start(backend.store(2)).await;
        let c = client();
        let search = |q: &str| server.url(&format!("/feeds/search.json?q={q}"));
        let r = get(&c, &search("bao+lu"), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/feed+json; charset=utf-8")
        );
        // Newest first; "bão" in a summary and "lũ" in a body count too.
        let found = ids(&r.text());
        assert_eq!(found, expected(&["bao", "lu"]), "{}", backend.url());
        assert!(found.contains(&"chi-sapo".to_string()) && found.contains(&"bao-lu".to_string()));
        let v: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
        assert!(
            v["title"].as_str().unwrap().ends_with(" – tìm: bao lu"),
            "{}",
            v["title"]
        );
        // The same words however written: the same bytes.
        for q in ["B%C3%83O%20L%C5%A8", "bão+lũ", "%20bao,,lu%21"] {
            let again = get(&c, &search(q), &[]).await;
            assert_eq!(again.status, 200, "{q}");
            assert_eq!(again.body, r.body, "{q}");
        }
        let duc_tho = ids(&get(&c, &search("DUC+tho"), &[]).await.text());
        assert_eq!(duc_tho, expected(&["duc", "tho"]));
        assert!(duc_tho.contains(&"bao-lu".to_string()));
        // Every word: one missing is no match.
        assert!(ids(&get(&c, &search("bao+khongco"), &[]).await.text()).is_empty());
        // Markup is not text: "strong" is a tag and a class here.
        assert!(ids(&get(&c, &search("strong"), &[]).await.text()).is_empty());
        let plain = ids(&get(&c, &search("binh+thuong"), &[]).await.text());
        assert_eq!(plain, expected(&["binh", "thuong"]));
        assert!(plain.contains(&"the-html".to_string()));
        for (q, status) in [("", 400), ("q=", 400), ("q=%20-%20", 400)] {
            let url = server.url(&format!("/feeds/search.rss?{q}"));
            assert_eq!(get(&c, &url, &[]).await.status, status, "{q}");
        }
        let long = "a".repeat(201);
        assert_eq!(get(&c, &search(&long), &[]).await.status, 414);
        // RSS and Atom too, their self link the canonical query.
        let rss = get(&c, &server.url("/feeds/search.rss?q=B%C3%A3o"), &[]).await;
        assert_eq!(rss.status, 200);
        assert!(
            rss.text().contains("/feeds/search.rss?q=bao"),
            "{}",
            rss.text()
        );
        crate::util::parse(&rss.body);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_matching_article_shows_in_a_cached_keyword_feed() {
    on_both(|backend| async move {
        backend.upsert(corpus());
        let server = Server::start(backend.store(2)).await;
        let c = client();
        let url = server.url("/feeds/search.atom?q=lu+quet");
        assert!(!get(&c, &url, &[]).await.text().contains("moi-lu-quet"));
        backend.upsert(vec![with_text(
            "moi-lu-quet",
            "Lũ quét ở Hương Khê",
            None,
            Body::None,
            "2020-12-05T08:00:00+07:00",
        )]);
        let shown = wait_until(Duration::from_secs(5), || async {
            get(&c, &url, &[]).await.text().contains("moi-lu-quet")
        })
        .await;
        assert!(shown.is_some(), "{}", backend.url());
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_page_has_a_search_box_that_builds_the_url() {
    let backend = Backend::sqlite();
    let server = Server::start(backend.store(1)).await;
    let c = client();
    let page = get(&c, &server.url("/"), &[]).await.text();
    let doc = scraper_free_form(&page);
    assert_eq!(doc.0, "get");
    assert!(doc.1.ends_with("/feeds/search.rss"), "{}", doc.1);
    assert!(page.contains("name=\"q\""));
    for ext in ["rss", "atom", "json"] {
        assert!(
            page.contains(&format!(
                "formaction=\"http://127.0.0.1:8080/feeds/search.{ext}\""
            )),
            "{ext}"
        );
    }
    server.stop().await;
}

/// The method and action of the page's one form.
fn scraper_free_form(page: &str) -> (String, String) {
    let start = page.find("<form").expect("a form on /");
    let tag = &page[start..start + page[start..].find('>').unwrap()];
    let attr = |name: &str| {
        let key = format!("{name}=\"");
        let at = tag.find(&key).unwrap() + key.len();
        tag[at..at + tag[at..].find('"').unwrap()].to_string()
    };
    (attr("method"), attr("action"))
}
