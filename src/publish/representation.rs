//! A rendered resource as it goes on the wire: the identity body, and its
//! br, zstd and gzip codings, each compressed the first time a client asks
//! for it, at one fixed level per coding, so that its bytes are the same on
//! every replica and after every restart. The server and `bantin build` both
//! send these bytes.
//!
//! ETags (`etag.rs`) come from the identity bytes with a suffix per coding:
//! a coding's bytes are a pure function of the identity bytes, so its tag
//! still changes exactly when its bytes do, and a revalidation (304) never
//! needs the coding to be computed.
//!
//! Memory: the identity bytes are held only until a compressed coding is,
//! unless a client asked for identity. A feed is some 200 KB of XML and
//! 60 KB gzipped, and nearly every client asks for a coding, so holding
//! identity beside it would more than double what every cached feed costs
//! (624 feeds: 125 MB of identity beside 37 MB of gzip). The first client
//! that asks for identity after that gets it decoded from the held coding
//! that decodes fastest (zstd, then gzip, then br), once: the bytes are
//! kept from then on, weighed in `cache_bytes` like any coding, so the
//! feeds that clients without `Accept-Encoding` poll cost a decode per
//! rendering, not per request (issue 19: decoding per request held
//! identity answers to 7k/s on a 156 KB feed).

use std::io::{Read, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use http::HeaderValue;

use super::coding::Coding;
use super::etag::{content_tag, etag};

// Compression runs once per change of a feed and coding, not per request.
// Measured on the sample all feed (52 KB of RSS): brotli q9 23 ms for 11.9 KB
// where q11 takes 113 ms for 11.3 KB; zstd 15 9 ms for 12.1 KB where 19
// takes 43 ms. The last few percent are not worth 5x the time.
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;
const ZSTD_LEVEL: i32 = 15;

// gzip is what nearly every aggregator asks for, and the first gzip request
// for a feed waits for its compression, so its level is set by the cold
// first-byte budget (10 ms, render included: the render alone takes about
// 4 ms of CPU). Measured on the all feed of the 10k bench corpus (206,067
// bytes of RSS) with `target/release/examples/codings all.rss 40` (fastest
// of 40 runs, on the shared 2-core machine; the miniz_oxide column is the
// same example built before the switch, 30 runs):
//
//   level   miniz_oxide           zlib-rs
//   1       0.92 ms, 85,291 B     0.45 ms, 91,287 B
//   5                             2.33 ms, 60,236 B
//   6       13.3 ms, 59,428 B     3.42 ms, 59,318 B
//   7                             9.29 ms, 59,024 B
//   9       16.0 ms, 58,995 B     14.3 ms, 58,946 B
//   decoding level 6 again: 0.36 ms (miniz_oxide), 0.16 ms (zlib-rs)
//
// So flate2 runs on zlib-rs (Cargo.toml), at level 5: a cold gzip answer
// costs the render (about 4 ms of CPU) plus the compression, and at level 6
// (zlib's default) the first byte came at a median of 9.8 ms on this shared
// machine (bench/cold.py, load 4), too close to the 10 ms budget; level 5
// saves a millisecond for 1.5% more bytes, and is still within 2.2% of
// level 9's size at a sixth of its time. Level 1 is half as big again, and
// every cached copy is sent many times. zlib-rs picks SIMD code by CPU
// (match comparison, hash sliding), but every variant finds the same
// matches and its hash is plain arithmetic, so every replica writes the
// same bytes.
const GZIP_LEVEL: u32 = 5;

/// The compressors and their settings, for what records which bytes they
/// made (`bantin build`'s manifest).
pub fn coding_settings() -> String {
    format!(
        "gzip zlib-rs {GZIP_LEVEL}, br {BROTLI_QUALITY} window {BROTLI_WINDOW}, zstd {ZSTD_LEVEL}"
    )
}

const EMPTY: HeaderValue = HeaderValue::from_static("");

/// The last second an HTTP date can say (9999-12-31T23:59:59Z).
const LAST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// `t` as an HTTP date (RFC 9110 IMF-fixdate); `None` before 1970 or past
/// year 9999, which HTTP dates can't write (a header is then left out).
pub fn http_date(t: SystemTime) -> Option<String> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs <= LAST_HTTP_DATE_SECS).then(|| httpdate::fmt_http_date(t))
}

/// A resource, its validators, and its codings as far as asked for.
#[derive(Debug)]
pub struct Representation {
    /// `Content-Type` value.
    pub content_type: &'static str,
    /// `Last-Modified`, whole seconds; `None` for an empty feed.
    pub last_modified: Option<SystemTime>,
    tag: String,
    /// The quoted ETag of each coding (`Coding::index` order), made once:
    /// every response carries one.
    etags: [String; 4],
    /// The same as header values, and `Last-Modified` as an HTTP date:
    /// what a cached hit sends, made once so that it only clones them.
    etag_headers: [HeaderValue; 4],
    last_modified_header: Option<HeaderValue>,
    /// The identity body's length.
    identity_len: usize,
    /// The identity body, until a compressed coding holds it and unless a
    /// client asked for it (see the module doc). Never `None` while every
    /// `encoded` slot is empty.
    identity: Mutex<Identity>,
    /// br, zstd, gzip (`Coding::index` order, identity excluded).
    encoded: [OnceLock<Bytes>; 3],
}

/// The identity body as held, and whether a client asked for it.
#[derive(Debug)]
struct Identity {
    bytes: Option<Bytes>,
    asked: bool,
}

impl Representation {
    /// A representation of `body`; no coding is computed yet.
    pub fn new(
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: Option<DateTime<FixedOffset>>,
    ) -> Self {
        let tag = content_tag(&body);
        let etags = Coding::PREFERENCE.map(|c| etag(&tag, c));
        let last_modified = last_modified.map(|d| {
            // Before 1970 a feed still has a date; HTTP dates can't say it.
            UNIX_EPOCH + Duration::from_secs(d.timestamp().max(0) as u64)
        });
        Representation {
            // A quoted hex digest: always a valid header value.
            etag_headers: etags
                .clone()
                .map(|t| HeaderValue::from_maybe_shared(Bytes::from(t)).unwrap_or(EMPTY)),
            last_modified_header: last_modified
                .and_then(http_date)
                .map(|d| HeaderValue::from_maybe_shared(Bytes::from(d)).unwrap_or(EMPTY)),
            etags,
            content_type,
            last_modified,
            tag,
            identity_len: body.len(),
            identity: Mutex::new(Identity {
                bytes: Some(Bytes::from(body)),
                asked: false,
            }),
            encoded: Default::default(),
        }
    }

    /// The strong ETag of a coding, quoted.
    pub fn etag(&self, coding: Coding) -> &str {
        &self.etags[coding.index()]
    }

    /// [`etag`](Self::etag) as a header value.
    pub fn etag_header(&self, coding: Coding) -> HeaderValue {
        self.etag_headers[coding.index()].clone()
    }

    /// `Last-Modified` as a header value; `None` for an empty feed or a
    /// date HTTP can't write.
    pub fn last_modified_header(&self) -> Option<HeaderValue> {
        self.last_modified_header.clone()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Identity> {
        self.identity.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn held_identity(&self) -> Option<Bytes> {
        self.held().bytes.clone()
    }

    /// The identity body: the bytes held, or decoded from a held coding.
    /// Decoding takes about a millisecond: call it off the async threads.
    pub fn identity(&self) -> Bytes {
        if let Some(b) = self.held_identity() {
            return b;
        }
        // Fastest to decode first.
        for coding in [Coding::Zstd, Coding::Gzip, Coding::Br] {
            if let Some(encoded) = self.ready(coding) {
                return decompress(coding, &encoded, self.identity_len);
            }
        }
        // Unreachable: identity is dropped only once a coding is set. Were
        // it reached, an empty body is the least wrong answer.
        tracing::error!("a representation holds neither identity nor a coding");
        Bytes::new()
    }

    /// The body in a coding if it is at hand, without compressing or
    /// decoding anything.
    pub fn ready(&self, coding: Coding) -> Option<Bytes> {
        match slot(coding) {
            None => self.held_identity(),
            Some(i) => self.encoded.get(i).and_then(OnceLock::get).cloned(),
        }
    }

    /// The body in a coding, compressing (or, for identity, decoding) it
    /// now if it is not at hand, and holding it from then on. May take
    /// milliseconds: call it off the async threads. Concurrent callers for
    /// one coding compress it once.
    pub fn body(&self, coding: Coding) -> Bytes {
        match slot(coding).and_then(|i| self.encoded.get(i)) {
            None => {
                {
                    let mut held = self.held();
                    held.asked = true;
                    if let Some(b) = &held.bytes {
                        return b.clone();
                    }
                }
                let decoded = self.identity();
                self.held().bytes.get_or_insert(decoded).clone()
            }
            Some(cell) => {
                let body = cell
                    .get_or_init(|| Bytes::from(compress(coding, &self.identity())))
                    .clone();
                // Held in a coding now: the identity bytes can go, unless
                // clients ask for them.
                let mut held = self.held();
                if !held.asked {
                    held.bytes = None;
                }
                body
            }
        }
    }

    /// The codings at hand: the compressed ones computed so far, and
    /// identity while its bytes are held.
    pub fn codings(&self) -> Vec<Coding> {
        Coding::PREFERENCE
            .into_iter()
            .filter(|c| self.ready(*c).is_some())
            .collect()
    }

    /// Bytes held, all codings together.
    pub fn size(&self) -> usize {
        self.held_identity().map_or(0, |b| b.len())
            + self
                .encoded
                .iter()
                .filter_map(OnceLock::get)
                .map(Bytes::len)
                .sum::<usize>()
    }

    /// The identity body's length, whether held or not.
    pub fn identity_len(&self) -> usize {
        self.identity_len
    }

    /// Whether `other` has the same bytes (then its codings can be reused):
    /// the same 128 bits of SHA-256 and the same length. Comparing the
    /// bytes themselves would mean decoding them.
    pub fn same_bytes(&self, other: &Representation) -> bool {
        self.tag == other.tag && self.identity_len == other.identity_len
    }
}

/// Index into `encoded`, `None` for identity.
fn slot(coding: Coding) -> Option<usize> {
    match coding {
        Coding::Br => Some(0),
        Coding::Zstd => Some(1),
        Coding::Gzip => Some(2),
        Coding::Identity => None,
    }
}

/// `body` in a content coding. Compressing into a `Vec` can't fail; were it
/// to, the identity bytes would be wrong to send under the coding's name,
/// so an empty body is returned and logged.
pub fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    let out = match coding {
        Coding::Identity => Ok(body.to_vec()),
        Coding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 3),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(body).and_then(|()| enc.finish())
        }
        Coding::Br => {
            let mut out = Vec::new();
            let written = {
                let mut enc =
                    brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                enc.write_all(body).and_then(|()| enc.flush())
            };
            written.map(|()| out)
        }
        Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL),
    };
    out.unwrap_or_else(|e| {
        tracing::error!("compressing {coding:?} in memory failed: {e}");
        Vec::new()
    })
}

/// The identity bytes of `body` in a coding we made, `len` bytes long.
/// Decoding our own output can't fail; were it to, an empty body is
/// returned and logged.
fn decompress(coding: Coding, body: &[u8], len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len);
    let read = match coding {
        Coding::Identity => {
            out.extend_from_slice(body);
            Ok(0)
        }
        Coding::Gzip => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        Coding::Br => brotli::Decompressor::new(body, 4096).read_to_end(&mut out),
        Coding::Zstd => zstd::stream::copy_decode(body, &mut out).map(|()| 0),
    };
    match read {
        Ok(_) if out.len() == len => Bytes::from(out),
        Ok(_) => {
            tracing::error!("decoding {coding:?}: {} bytes, not {len}", out.len());
            Bytes::new()
        }
        Err(e) => {
            tracing::error!("decoding {coding:?} in memory failed: {e}");
            Bytes::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn http_dates_stop_at_year_9999_instead_of_panicking() {
        let last = UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE_SECS);
        assert_eq!(
            http_date(last).as_deref(),
            Some("Fri, 31 Dec 9999 23:59:59 GMT")
        );
        assert_eq!(http_date(last + Duration::from_secs(1)), None);
        assert_eq!(
            http_date(UNIX_EPOCH).as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }

    #[test]
    fn every_coding_round_trips_and_has_its_own_tag() {
        let body = "Báo Hà Tĩnh ".repeat(200).into_bytes();
        let rep = Representation::new("text/plain", body.clone(), None);
        assert_eq!(rep.codings(), vec![Coding::Identity]);
        let mut tags = std::collections::HashSet::new();
        for c in Coding::PREFERENCE {
            assert!(tags.insert(rep.etag(c)));
            let v = rep.body(c);
            let decoded = match c {
                Coding::Identity => v.to_vec(),
                Coding::Gzip => {
                    let mut s = Vec::new();
                    flate2::read::GzDecoder::new(&v[..])
                        .read_to_end(&mut s)
                        .unwrap();
                    s
                }
                Coding::Br => {
                    let mut s = Vec::new();
                    brotli::Decompressor::new(&v[..], 4096)
                        .read_to_end(&mut s)
                        .unwrap();
                    s
                }
                Coding::Zstd => zstd::decode_all(&v[..]).unwrap(),
            };
            assert_eq!(decoded, body, "{c:?}");
        }
        // Identity was asked for too: held beside the three codings.
        assert_eq!(rep.codings(), Coding::PREFERENCE.to_vec());
        assert_eq!(rep.identity(), body);
    }

    #[test]
    fn identity_is_dropped_once_a_coding_holds_it_and_decoded_from_any() {
        let body = "<item>Quốc phòng – An ninh &amp; 🌾</item>\n"
            .repeat(300)
            .into_bytes();
        for coding in [Coding::Br, Coding::Zstd, Coding::Gzip] {
            let rep = Representation::new("x", body.clone(), None);
            assert_eq!(rep.ready(Coding::Identity).as_deref(), Some(&body[..]));
            assert_eq!(rep.size(), body.len());
            let encoded = rep.body(coding);
            assert_eq!(rep.ready(Coding::Identity), None, "{coding:?}");
            assert_eq!(rep.codings(), vec![coding]);
            assert_eq!(
                rep.size(),
                encoded.len(),
                "{coding:?}: only the coding is held"
            );
            assert_eq!(rep.body(Coding::Identity), body, "{coding:?}");
            assert_eq!(rep.identity_len(), body.len());
            // Another coding is made from the decoded identity, and the
            // tags never needed any of it.
            let other = if coding == Coding::Gzip {
                Coding::Br
            } else {
                Coding::Gzip
            };
            let fresh = Representation::new("x", body.clone(), None);
            assert_eq!(
                rep.body(other),
                fresh.body(other),
                "{coding:?} then {other:?}"
            );
            assert_eq!(rep.etag(other), fresh.etag(other));
            assert!(rep.same_bytes(&fresh));
        }
        let shorter = Representation::new("x", body[1..].to_vec(), None);
        assert!(!shorter.same_bytes(&Representation::new("x", body, None)));
    }

    #[test]
    fn identity_asked_for_is_decoded_once_then_held_and_weighed() {
        let body = "<item>Thời sự – Hà Tĩnh</item>\n".repeat(500).into_bytes();
        let rep = Representation::new("x", body.clone(), None);
        let gzip = rep.body(Coding::Gzip);
        assert_eq!(rep.ready(Coding::Identity), None);
        // The first identity request decodes; from then on it is at hand
        // (what the server answers without a blocking task) and weighed.
        assert_eq!(rep.body(Coding::Identity), body);
        assert_eq!(rep.ready(Coding::Identity).as_deref(), Some(&body[..]));
        assert_eq!(rep.size(), gzip.len() + body.len());
        // Another coding made later keeps it: clients ask for it.
        rep.body(Coding::Br);
        assert_eq!(rep.ready(Coding::Identity).as_deref(), Some(&body[..]));
        assert_eq!(
            rep.codings(),
            vec![Coding::Br, Coding::Gzip, Coding::Identity]
        );
        // Asked for while still held: kept past the first coding.
        let fresh = Representation::new("x", body.clone(), None);
        assert_eq!(fresh.body(Coding::Identity), body);
        fresh.body(Coding::Zstd);
        assert_eq!(fresh.ready(Coding::Identity).as_deref(), Some(&body[..]));
    }

    #[test]
    fn compression_is_deterministic() {
        let body = b"<rss>same</rss>".repeat(50);
        let a = Representation::new("x", body.clone(), None);
        let b = Representation::new("x", body, None);
        for c in Coding::PREFERENCE {
            assert_eq!(a.etag(c), b.etag(c));
            assert_eq!(a.body(c), b.body(c));
        }
    }
}
