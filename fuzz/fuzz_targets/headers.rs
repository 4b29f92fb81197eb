//! The conditional-request and `Accept-Encoding` logic on arbitrary header
//! values: no panic, and the outcomes SPEC fixes hold whatever else is sent.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use bantin::http::conditional::{Outcome, evaluate, joined};
use bantin::http::encoding::{Coding, negotiate};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    accept_encoding: Vec<Vec<u8>>,
    if_match: Vec<Vec<u8>>,
    if_none_match: Vec<Vec<u8>>,
    if_modified_since: Option<Vec<u8>>,
    if_unmodified_since: Option<Vec<u8>>,
    etag_hex: u64,
    weak: bool,
    last_modified: Option<u32>,
}

fn add(h: &mut HeaderMap, name: HeaderName, value: &[u8]) {
    if let Ok(v) = HeaderValue::from_bytes(value) {
        h.append(name, v);
    }
}

fuzz_target!(|input: Input| {
    let mut h = HeaderMap::new();
    for v in &input.accept_encoding {
        add(&mut h, header::ACCEPT_ENCODING, v);
    }
    for v in &input.if_match {
        add(&mut h, header::IF_MATCH, v);
    }
    for v in &input.if_none_match {
        add(&mut h, header::IF_NONE_MATCH, v);
    }
    if let Some(v) = &input.if_modified_since {
        add(&mut h, header::IF_MODIFIED_SINCE, v);
    }
    if let Some(v) = &input.if_unmodified_since {
        add(&mut h, header::IF_UNMODIFIED_SINCE, v);
    }

    let accept = joined(&h, header::ACCEPT_ENCODING);
    let coding = negotiate(accept.as_deref());
    if accept.is_none() {
        assert_eq!(coding, Some(Coding::Identity));
    }

    let etag = format!(
        "{}\"{:016x}\"",
        if input.weak { "W/" } else { "" },
        input.etag_hex
    );
    let lm: Option<SystemTime> = input
        .last_modified
        .map(|s| UNIX_EPOCH + Duration::from_secs(u64::from(s)));
    let outcome = evaluate(&h, &etag, lm);
    // Our own tag on an If-None-Match line of its own always gives 304 when
    // neither If-Match nor If-Unmodified-Since can answer 412 first,
    // whatever the other lines hold.
    if !h.contains_key(header::IF_MATCH) && !h.contains_key(header::IF_UNMODIFIED_SINCE) {
        let mut mine = h.clone();
        mine.append(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        assert_eq!(evaluate(&mine, &etag, lm), Outcome::NotModified);
    }
    let _ = outcome;
    if let Some(lm) = lm {
        let _ = bantin::http::router::http_date(lm);
    }
});
