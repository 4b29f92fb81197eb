//! The router's path handling: decoding percent-encoded unreserved
//! characters and parsing `/feeds/{key}.{ext}`. No panic; the decoding
//! agrees with a plain reference (one pass, unreserved characters only, so
//! no `/` or `%` ever appears that was not sent as such); whatever parses is
//! a feed (or one month of it) whose own path parses back to it.
#![no_main]

use bantin::http::router::{normalize_path, parse_feed_path};
use libfuzzer_sys::fuzz_target;

/// RFC 3986 §6.2.2.2, written the slow and obvious way.
fn reference(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(c) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
                && hex.is_some_and(|h| h.bytes().all(|x| x.is_ascii_hexdigit()))
                && (c.is_ascii_alphanumeric() || b"-._~".contains(&c))
            {
                out.push(c);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fuzz_target!(|path: &str| {
    let decoded = normalize_path(path);
    assert_eq!(decoded, reference(path), "{path:?}");
    assert_eq!(
        decoded.matches('/').count(),
        path.matches('/').count(),
        "{path:?}"
    );
    if let Some(resource) = parse_feed_path(&decoded) {
        // A feed's URL path is its file's under the output folder.
        let own = format!("/{}", resource.file());
        assert_eq!(parse_feed_path(&own), Some(resource));
        assert_eq!(own, decoded.as_ref(), "a feed has one path");
    }
});
