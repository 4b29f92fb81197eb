//! SPEC's "Conditional GET and caching", over a real socket with reqwest:
//!
//! - every feed response carries `ETag`, `Last-Modified` (the newest
//!   `updated` of its items, as an HTTP-date), `Cache-Control: public,
//!   max-age=N` from the site file, `Vary: Accept-Encoding`,
//!   `Access-Control-Allow-Origin: *` and its content type with
//!   `; charset=utf-8`;
//! - an empty feed has no `Last-Modified`, and `If-Modified-Since` can't
//!   make it 304;
//! - `If-None-Match`: exact, in a list, over several field lines, weak
//!   `W/"..."`, `*` → 304; anything else → 200;
//! - `If-None-Match` decides before `If-Modified-Since`;
//! - `If-Modified-Since` equal or later → 304, earlier → 200, unparsable →
//!   200; the obsolete asctime form is understood;
//! - a 304 has no body (nor a wrong `Content-Length`) and the same
//!   validators and caching headers as the 200; `/` and `/feeds.opml` answer 304 too;
//! - `If-Match` that doesn't match → 412;
//! - `HEAD` gives GET's headers, `Content-Length` included, and no body;
//! - `Accept-Encoding`: br, zstd, gzip, identity, q-values, `q=0`,
//!   `identity;q=0` → 406, no header → identity, equal q-values prefer br,
//!   then zstd, then gzip; several field lines are one list;
//! - each coding has its own ETag and decodes to exactly the identity body;
//! - the identity body is `bantin dump`'s output byte for byte;
//! - the ETag is the same from another server instance and another process
//!   on the same store.

use std::time::Duration;

use bantin::article::FeedKey;
use chrono::Utc;

use crate::support::{
    FORMATS, Process, Reply, Sandbox, Server, StoreKind, belongs, client, content_type, decode,
    each_store, feed_path, fetch, get, sample_articles, site, site_toml,
};

const ALL_RSS: &str = "/feeds/all.rss";

/// The HTTP-date SPEC wants in `Last-Modified` for a feed of the sample:
/// the newest `updated` among its items (the newest `items_per_feed`).
fn expected_last_modified(key: &FeedKey) -> Option<String> {
    let mut items: Vec<_> = sample_articles()
        .into_iter()
        .filter(|a| belongs(a, key))
        .collect();
    items.sort_by(|a, b| {
        b.published
            .timestamp_micros()
            .cmp(&a.published.timestamp_micros())
            .then_with(|| b.id.as_bytes().cmp(a.id.as_bytes()))
    });
    items.truncate(site().items_per_feed);
    items
        .iter()
        .map(|a| a.updated.with_timezone(&Utc))
        .max()
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

/// The `Cache-Control` value the site file asks for.
fn expected_cache_control() -> String {
    let max_age = site_toml()["max_age"].as_integer().unwrap();
    format!("public, max-age={max_age}")
}

/// The headers a 304 must repeat from the 200.
const ECHOED: [&str; 4] = ["etag", "last-modified", "cache-control", "vary"];

each_store!(async fn feed_responses_carry_validators_and_caching_headers);
async fn feed_responses_carry_validators_and_caching_headers(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let listing = sample.listing();
    let category = listing.categories.keys().next().unwrap().clone();
    let region = listing.regions.keys().last().unwrap().clone();
    let pair = listing.pairs.first().unwrap();
    let keys = [
        FeedKey::All,
        FeedKey::Category(category),
        FeedKey::Region(region),
        FeedKey::CategoryRegion(pair.0.clone(), pair.1.clone()),
    ];
    for key in &keys {
        for ext in FORMATS {
            let path = feed_path(key, ext);
            let r = get(&c, &server.url(&path), &[]).await;
            assert_eq!(r.status, 200, "{path}");
            let etag = r.etag();
            assert!(
                etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
                "{path}: a strong, quoted ETag, got {etag}"
            );
            assert_eq!(
                r.header("last-modified"),
                expected_last_modified(key),
                "{path}"
            );
            assert_eq!(
                r.header("cache-control").as_deref(),
                Some(expected_cache_control().as_str()),
                "{path}"
            );
            assert_eq!(
                r.header("vary").as_deref(),
                Some("Accept-Encoding"),
                "{path}"
            );
            assert_eq!(
                r.header("access-control-allow-origin").as_deref(),
                Some("*"),
                "{path}"
            );
            assert_eq!(
                r.header("content-type").as_deref(),
                Some(content_type(ext)),
                "{path}"
            );
            assert_eq!(r.header("content-encoding"), None, "{path}");
        }
    }
}

each_store!(async fn empty_feed_has_an_etag_but_no_last_modified);
async fn empty_feed_has_an_etag_but_no_last_modified(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let key = sample.listing().empty_pair();
    for ext in FORMATS {
        let url = server.url(&feed_path(&key, ext));
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(r.header("last-modified"), None, "{url}");
        assert!(r.header("etag").is_some(), "{url}");
        assert_eq!(r.header("vary").as_deref(), Some("Accept-Encoding"));
        // No date to compare with: the condition is ignored.
        let r = get(
            &c,
            &url,
            &[("if-modified-since", "Fri, 31 Dec 2100 23:59:59 GMT")],
        )
        .await;
        assert_eq!(r.status, 200, "{url} with If-Modified-Since");
        // The ETag still works.
        let r2 = get(&c, &url, &[("if-none-match", &r.etag())]).await;
        assert_eq!(r2.status, 304, "{url} with If-None-Match");
    }
}

each_store!(async fn if_none_match_matches_exact_listed_weak_and_star);
async fn if_none_match_matches_exact_listed_weak_and_star(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url(ALL_RSS);
    let etag = get(&c, &url, &[]).await.etag();
    let weak = format!("W/{etag}");
    let listed = format!("\"nope\", {etag}, \"other\"");
    let listed_weak = format!("\"nope\",W/{etag}");
    for value in [etag.as_str(), &weak, &listed, &listed_weak, "*"] {
        let r = get(&c, &url, &[("if-none-match", value)]).await;
        assert_eq!(r.status, 304, "If-None-Match: {value}");
    }
    // Several field lines are one list.
    let mut req = c.get(&url);
    req = req
        .header("if-none-match", "\"nope\"")
        .header("if-none-match", etag.as_str());
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 304, "two If-None-Match lines");

    let gzip_etag = get(&c, &url, &[("accept-encoding", "gzip")]).await.etag();
    assert_ne!(gzip_etag, etag);
    let unquoted = etag.trim_matches('"').to_string();
    let longer = format!("{}x\"", &etag[..etag.len() - 1]);
    for value in [
        "\"nope\"",
        unquoted.as_str(),
        longer.as_str(),
        gzip_etag.as_str(),
        "",
    ] {
        let r = get(&c, &url, &[("if-none-match", value)]).await;
        assert_eq!(r.status, 200, "If-None-Match: {value}");
        assert!(!r.body.is_empty());
    }
}

each_store!(async fn if_none_match_decides_before_if_modified_since);
async fn if_none_match_decides_before_if_modified_since(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url(ALL_RSS);
    let first = get(&c, &url, &[]).await;
    let lm = first.header("last-modified").unwrap();
    // A non-matching tag with a date that alone would give 304: 200.
    let r = get(
        &c,
        &url,
        &[
            ("if-none-match", "\"nope\""),
            ("if-modified-since", "Fri, 31 Dec 2100 23:59:59 GMT"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = get(
        &c,
        &url,
        &[("if-none-match", "\"nope\""), ("if-modified-since", &lm)],
    )
    .await;
    assert_eq!(r.status, 200);
    // A matching tag with a date that alone would give 200: 304.
    let r = get(
        &c,
        &url,
        &[
            ("if-none-match", &first.etag()),
            ("if-modified-since", "Mon, 01 Jan 1990 00:00:00 GMT"),
        ],
    )
    .await;
    assert_eq!(r.status, 304);
}

each_store!(async fn if_modified_since_compares_with_last_modified);
async fn if_modified_since_compares_with_last_modified(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url(ALL_RSS);
    let lm = get(&c, &url, &[]).await.header("last-modified").unwrap();
    let at = httpdate::parse_http_date(&lm).unwrap();
    let fmt = |t| httpdate::fmt_http_date(t);
    let later = fmt(at + Duration::from_secs(1));
    let much_later = fmt(at + Duration::from_secs(86_400 * 365));
    let earlier = fmt(at - Duration::from_secs(1));
    let asctime = chrono::DateTime::<Utc>::from(at)
        .format("%a %b %e %H:%M:%S %Y")
        .to_string();
    for (value, want) in [
        (lm.as_str(), 304),
        (later.as_str(), 304),
        (much_later.as_str(), 304),
        (asctime.as_str(), 304),
        (earlier.as_str(), 200),
        ("Mon, 01 Jan 1990 00:00:00 GMT", 200),
        ("yesterday", 200),
        ("", 200),
        ("Fri, 32 Dec 2100 25:61:61 GMT", 200),
    ] {
        let r = get(&c, &url, &[("if-modified-since", value)]).await;
        assert_eq!(r.status, want, "If-Modified-Since: {value:?}");
        if want == 200 {
            assert!(!r.body.is_empty());
        }
    }
}

each_store!(async fn not_modified_has_no_body_and_repeats_validators_and_caching_headers);
async fn not_modified_has_no_body_and_repeats_validators_and_caching_headers(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    for ext in FORMATS {
        for coding in [None, Some("gzip"), Some("br"), Some("zstd")] {
            let url = server.url(&format!("/feeds/all.{ext}"));
            let mut headers = vec![];
            if let Some(coding) = coding {
                headers.push(("accept-encoding", coding));
            }
            let full = get(&c, &url, &headers).await;
            assert_eq!(full.status, 200);
            let etag = full.etag();
            let lm = full.header("last-modified").unwrap();
            for condition in [("if-none-match", etag.as_str()), ("if-modified-since", &lm)] {
                let mut h = headers.clone();
                h.push(condition);
                let r = get(&c, &url, &h).await;
                assert_eq!(r.status, 304, "{url} {coding:?} {condition:?}");
                assert!(r.body.is_empty(), "a 304 has no body");
                // RFC 9110 §8.6: no Content-Length on a 304 unless it is the 200's.
                let len = r.header("content-length");
                assert!(
                    len.is_none() || len == Some(full.body.len().to_string()),
                    "304 with Content-Length {len:?}"
                );
                for name in ECHOED {
                    assert_eq!(
                        r.header(name),
                        full.header(name),
                        "{name} of the 304 for {url} {coding:?}"
                    );
                }
                assert_eq!(
                    r.header("access-control-allow-origin").as_deref(),
                    Some("*")
                );
            }
        }
    }
}

each_store!(async fn index_and_opml_answer_conditional_requests);
async fn index_and_opml_answer_conditional_requests(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    for path in ["/", "/feeds.opml"] {
        let url = server.url(path);
        let full = get(&c, &url, &[]).await;
        assert_eq!(full.status, 200, "{path}");
        assert_eq!(full.header("vary").as_deref(), Some("Accept-Encoding"));
        let r = get(&c, &url, &[("if-none-match", &full.etag())]).await;
        assert_eq!(r.status, 304, "{path}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), full.header("etag"));
    }
}

each_store!(async fn if_match_that_does_not_match_fails_the_precondition);
async fn if_match_that_does_not_match_fails_the_precondition(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url(ALL_RSS);
    let etag = get(&c, &url, &[]).await.etag();
    assert_eq!(get(&c, &url, &[("if-match", "\"nope\"")]).await.status, 412);
    assert_eq!(get(&c, &url, &[("if-match", &etag)]).await.status, 200);
    assert_eq!(get(&c, &url, &[("if-match", "*")]).await.status, 200);
}

each_store!(async fn head_gives_the_headers_of_get_and_no_body);
async fn head_gives_the_headers_of_get_and_no_body(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let key = sample.listing().empty_pair();
    let mut paths: Vec<String> = FORMATS.iter().map(|e| format!("/feeds/all.{e}")).collect();
    paths.push(feed_path(&key, "atom"));
    paths.extend(["/".to_string(), "/feeds.opml".to_string()]);
    for path in &paths {
        for coding in [None, Some("gzip"), Some("br"), Some("zstd")] {
            let url = server.url(path);
            let headers: Vec<(&str, &str)> =
                coding.map(|c| ("accept-encoding", c)).into_iter().collect();
            let got = get(&c, &url, &headers).await;
            let head = fetch(&c, "HEAD", &url, &headers).await;
            assert_eq!(head.status, 200, "HEAD {path} {coding:?}");
            assert!(head.body.is_empty(), "HEAD {path} has no body");
            let without_date = |r: &Reply| {
                let mut h = r.headers.clone();
                h.remove("date");
                h
            };
            assert_eq!(
                without_date(&head),
                without_date(&got),
                "HEAD {path} {coding:?}"
            );
            assert_eq!(
                head.header("content-length"),
                Some(got.body.len().to_string()),
                "HEAD {path} {coding:?}"
            );
        }
    }
    // A conditional HEAD answers 304 like GET.
    let url = server.url(ALL_RSS);
    let etag = get(&c, &url, &[]).await.etag();
    let r = fetch(&c, "HEAD", &url, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag));
}

each_store!(async fn accept_encoding_picks_the_coding_by_q_value_then_preference);
async fn accept_encoding_picks_the_coding_by_q_value_then_preference(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url("/feeds/all.atom");
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (None, None),
        (Some("br"), Some("br")),
        (Some("zstd"), Some("zstd")),
        (Some("gzip"), Some("gzip")),
        (Some("x-gzip"), Some("gzip")),
        (Some("identity"), None),
        (Some(""), None),
        (Some("deflate"), None),
        (Some("compress, deflate"), None),
        // Equal q-values: br, then zstd, then gzip, then identity.
        (Some("gzip, deflate, br, zstd"), Some("br")),
        (Some("gzip, zstd"), Some("zstd")),
        (Some("zstd;q=0.5, gzip;q=0.5"), Some("zstd")),
        (Some("identity, gzip"), Some("gzip")),
        (Some("*"), Some("br")),
        // q-values first.
        (Some("br;q=0.5, gzip;q=0.8"), Some("gzip")),
        (
            Some("br;q=0.1, zstd;q=0.2, gzip;q=0.3, identity;q=0.4"),
            None,
        ),
        (Some("GZIP;Q=1.0, br;q=0.999"), Some("gzip")),
        (Some("gzip;q=0.001"), Some("gzip")),
        // q=0 refuses.
        (Some("br;q=0, gzip"), Some("gzip")),
        (Some("br;q=0, zstd;q=0, gzip;q=0"), None),
        (Some("*;q=0.1, br;q=0"), Some("zstd")),
        (Some("identity;q=0, gzip"), Some("gzip")),
        (Some("*;q=0, identity"), None),
    ];
    for (accept, want) in cases {
        let headers: Vec<(&str, &str)> =
            accept.map(|a| ("accept-encoding", a)).into_iter().collect();
        let r = get(&c, &url, &headers).await;
        assert_eq!(r.status, 200, "Accept-Encoding: {accept:?}");
        assert_eq!(
            r.header("content-encoding").as_deref(),
            *want,
            "Accept-Encoding: {accept:?}"
        );
        assert_eq!(r.header("vary").as_deref(), Some("Accept-Encoding"));
        assert_eq!(
            r.header("content-type").as_deref(),
            Some(content_type("atom"))
        );
    }
    for refused in [
        "identity;q=0",
        "*;q=0",
        "identity;q=0, deflate",
        "br;q=0, zstd;q=0, gzip;q=0, identity;q=0",
    ] {
        let r = get(&c, &url, &[("accept-encoding", refused)]).await;
        assert_eq!(r.status, 406, "Accept-Encoding: {refused}");
        assert_eq!(r.header("vary").as_deref(), Some("Accept-Encoding"));
    }
}

each_store!(async fn accept_encoding_over_several_field_lines_is_one_list);
async fn accept_encoding_over_several_field_lines_is_one_list(store: StoreKind) {
    // RFC 9110 §5.3: field lines of a list-based field are one list, in
    // order; a proxy may split or join them.
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url("/feeds/all.rss");
    let cases: &[(&[&str], Option<&str>)] = &[
        (&["gzip", "br"], Some("br")),
        (&["gzip;q=0.5", "zstd"], Some("zstd")),
        (&["identity;q=0", "gzip"], Some("gzip")),
    ];
    for (lines, want) in cases {
        let mut req = c.get(&url);
        for line in *lines {
            req = req.header("accept-encoding", *line);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.status().as_u16(),
            200,
            "Accept-Encoding lines {lines:?}"
        );
        assert_eq!(
            resp.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            *want,
            "Accept-Encoding lines {lines:?}"
        );
    }
}

each_store!(async fn each_coding_has_its_own_etag_and_decodes_to_the_identity_body);
async fn each_coding_has_its_own_etag_and_decodes_to_the_identity_body(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let key = sample.listing().empty_pair();
    let mut paths: Vec<String> = FORMATS.iter().map(|e| format!("/feeds/all.{e}")).collect();
    paths.push(feed_path(&key, "rss"));
    paths.extend(["/".to_string(), "/feeds.opml".to_string()]);
    for path in &paths {
        let url = server.url(path);
        let identity = get(&c, &url, &[]).await;
        let mut tags = vec![identity.etag()];
        for coding in ["gzip", "br", "zstd"] {
            let r = get(&c, &url, &[("accept-encoding", coding)]).await;
            assert_eq!(r.header("content-encoding").as_deref(), Some(coding));
            assert_eq!(
                r.header("content-length"),
                Some(r.body.len().to_string()),
                "{path} {coding}"
            );
            assert_eq!(
                decode(Some(coding), &r.body),
                identity.body,
                "{path} in {coding} decodes to the identity body"
            );
            assert!(
                !tags.contains(&r.etag()),
                "{path}: {coding} shares an ETag with another coding"
            );
            tags.push(r.etag());
            // And each coding's tag validates only its own coding.
            let r304 = get(
                &c,
                &url,
                &[("accept-encoding", coding), ("if-none-match", &r.etag())],
            )
            .await;
            assert_eq!(r304.status, 304, "{path} {coding}");
            let r200 = get(&c, &url, &[("if-none-match", &r.etag())]).await;
            assert_eq!(
                r200.status, 200,
                "{path}: the {coding} tag is not identity's"
            );
        }
    }
}

each_store!(async fn identity_body_is_what_bantin_dump_prints);
async fn identity_body_is_what_bantin_dump_prints(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let server = Server::sample(&sample).await;
    let c = client();
    let listing = sample.listing();
    let pair = listing.pairs.last().unwrap();
    let empty = listing.empty_pair();
    let keys = [
        FeedKey::All,
        FeedKey::Category(listing.categories.keys().nth(1).unwrap().clone()),
        FeedKey::Region(listing.regions.keys().nth(2).unwrap().clone()),
        FeedKey::CategoryRegion(pair.0.clone(), pair.1.clone()),
        empty,
    ];
    for key in &keys {
        let mut args = vec!["dump".to_string()];
        match key {
            FeedKey::All => {}
            FeedKey::Category(c) => args.extend(["--category".into(), c.clone()]),
            FeedKey::Region(r) => args.extend(["--region".into(), r.clone()]),
            FeedKey::CategoryRegion(c, r) => {
                args.extend(["--category".into(), c.clone(), "--region".into(), r.clone()])
            }
            FeedKey::Author(a) => args.extend(["--author".into(), a.clone()]),
            FeedKey::Search(_) => unreachable!("dump has no keyword feeds"),
        }
        for ext in FORMATS {
            let mut args = args.clone();
            args.extend(["--format".to_string(), ext.to_string()]);
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let dumped = sample.run_async(&argv).await.stdout;
            let served = get(&c, &server.url(&feed_path(key, ext)), &[]).await;
            assert_eq!(served.status, 200);
            assert!(
                served.body == dumped,
                "{} differs from bantin {}",
                feed_path(key, ext),
                args.join(" ")
            );
        }
    }
}

/// ETags of a few feeds in every coding.
async fn etags(c: &reqwest::Client, base: &str, paths: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for path in paths {
        for coding in ["identity", "gzip", "br", "zstd"] {
            let r = get(c, &format!("{base}{path}"), &[("accept-encoding", coding)]).await;
            assert_eq!(r.status, 200, "{base}{path}");
            out.push(r.etag());
        }
    }
    out
}

each_store!(async fn etag_is_the_same_after_a_restart_and_in_another_process);
async fn etag_is_the_same_after_a_restart_and_in_another_process(store: StoreKind) {
    let sample = Sandbox::with_sample_on(store);
    let c = client();
    let listing = sample.listing();
    let mut paths: Vec<String> = FORMATS.iter().map(|e| format!("/feeds/all.{e}")).collect();
    let category = FeedKey::Category(listing.categories.keys().next().unwrap().clone());
    paths.push(feed_path(&category, "json"));
    paths.push(feed_path(&listing.empty_pair(), "rss"));
    // Not `/`: it shows the audience (SPEC "Audience"), which the first
    // server's own requests changed.
    paths.push("/feeds.opml".to_string());

    let first = Server::sample(&sample).await;
    let before = etags(&c, &first.base, &paths).await;
    first.stop().await;

    let second = Server::sample(&sample).await;
    assert_eq!(
        etags(&c, &second.base, &paths).await,
        before,
        "after a restart"
    );
    second.stop().await;

    let url = sample.store_url();
    let process = tokio::task::spawn_blocking(move || Process::start_url(&url))
        .await
        .unwrap();
    assert_eq!(
        etags(&c, &process.base, &paths).await,
        before,
        "from `bantin serve` in another process"
    );
}

// Issue 19: a client without `Accept-Encoding` after others asked for
// gzip gets the identity bytes decoded once and then held (weighed in
// `cache_bytes` like any coding), not decoded again for every request.
#[tokio::test(flavor = "multi_thread")]
async fn identity_asked_after_gzip_is_decoded_once_and_then_held() {
    let sample = Sandbox::with_sample();
    let server = Server::sample(&sample).await;
    let c = client();
    let url = server.url("/feeds/all.rss");
    let held = || crate::support::metric(&c, &server.base, "bantin_cache_bytes");
    let gzip = get(&c, &url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.status, 200);
    let identity = decode(Some("gzip"), &gzip.body);
    // Held in gzip alone once a coding was made.
    let before = held().await;
    assert_eq!(before, gzip.body.len() as u64);
    for _ in 0..3 {
        let r = get(&c, &url, &[("accept-encoding", "identity")]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.body, identity);
        assert_eq!(held().await, before + identity.len() as u64);
    }
    server.stop().await;
}

// Issue 22: with `stale_while_revalidate` and `stale_if_error` set, every
// response says so in `Cache-Control` (RFC 5861), its 304 as its 200, so a
// cache in front may serve a stale copy while it revalidates or while
// bantin is down.
#[tokio::test(flavor = "multi_thread")]
async fn stale_while_revalidate_and_stale_if_error_are_in_cache_control() {
    let sample = crate::support::Sandbox::with_sample();
    let text = std::fs::read_to_string(crate::support::site_file()).unwrap();
    let text = format!("stale_while_revalidate = 60\nstale_if_error = 86400\n{text}");
    let site =
        bantin::config::Site::parse(&text, "site.toml", crate::support::root().join("feeds"))
            .unwrap();
    let app = std::sync::Arc::new(bantin::http::app::App::new(site, sample.open()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bantin::http::server::run(
        app,
        listener,
        crate::support::test_limits(),
        async move {
            let _ = rx.await;
        },
    ));
    let c = client();
    let want = "public, max-age=300, stale-while-revalidate=60, stale-if-error=86400";
    for path in [
        "/feeds/all.rss",
        "/",
        "/feeds.opml",
        "/feeds/all/archive/2020-11.atom",
    ] {
        let url = format!("{base}{path}");
        let r = get(&c, &url, &[]).await;
        assert_eq!(r.status, 200, "{path}");
        let control = r.header("cache-control").unwrap();
        let (_, extensions) = control.split_once("max-age=").unwrap();
        assert!(
            extensions.ends_with(", stale-while-revalidate=60, stale-if-error=86400"),
            "{path}: {control}"
        );
        let again = get(&c, &url, &[("if-none-match", &r.etag())]).await;
        assert_eq!(again.status, 304, "{path}");
        assert_eq!(
            again.header("cache-control").as_ref(),
            Some(&control),
            "{path}"
        );
        if path == "/feeds/all.rss" {
            assert_eq!(control, want);
        }
    }
    let _ = tx.send(());
    server.await.unwrap();
}
