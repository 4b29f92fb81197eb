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

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};

use super::encoding::Coding;
use super::etag::{content_tag, etag};

// Compression runs once per change of a feed and coding, not per request.
// Measured on the sample all feed (52 KB of RSS): brotli q9 23 ms for 11.9 KB
// where q11 takes 113 ms for 11.3 KB; zstd 15 9 ms for 12.1 KB where 19
// takes 43 ms. The last few percent are not worth 5x the time.
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;
const ZSTD_LEVEL: i32 = 15;

/// A resource, its validators, and its codings as far as asked for.
#[derive(Debug)]
pub struct Representation {
    /// `Content-Type` value.
    pub content_type: &'static str,
    /// `Last-Modified`, whole seconds; `None` for an empty feed.
    pub last_modified: Option<SystemTime>,
    tag: String,
    identity: Bytes,
    /// br, zstd, gzip (`Coding::index` order, identity excluded).
    encoded: [OnceLock<Bytes>; 3],
}

impl Representation {
    /// A representation of `body`; no coding is computed yet.
    pub fn new(
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: Option<DateTime<FixedOffset>>,
    ) -> Self {
        Representation {
            content_type,
            last_modified: last_modified.map(|d| {
                // Before 1970 a feed still has a date; HTTP dates can't say it.
                UNIX_EPOCH + Duration::from_secs(d.timestamp().max(0) as u64)
            }),
            tag: content_tag(&body),
            identity: Bytes::from(body),
            encoded: Default::default(),
        }
    }

    /// The strong ETag of a coding, quoted.
    pub fn etag(&self, coding: Coding) -> String {
        etag(&self.tag, coding)
    }

    /// The identity body.
    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    /// The body in a coding if it is computed already.
    pub fn ready(&self, coding: Coding) -> Option<Bytes> {
        match slot(coding) {
            None => Some(self.identity.clone()),
            Some(i) => self.encoded.get(i).and_then(OnceLock::get).cloned(),
        }
    }

    /// The body in a coding, compressing it now if it was not yet. May take
    /// tens of milliseconds: call it off the async threads. Concurrent
    /// callers for one coding compress it once.
    pub fn body(&self, coding: Coding) -> Bytes {
        match slot(coding).and_then(|i| self.encoded.get(i)) {
            None => self.identity.clone(),
            Some(cell) => cell
                .get_or_init(|| Bytes::from(compress(coding, &self.identity)))
                .clone(),
        }
    }

    /// The codings computed so far (identity always).
    pub fn codings(&self) -> Vec<Coding> {
        Coding::PREFERENCE
            .into_iter()
            .filter(|c| self.ready(*c).is_some())
            .collect()
    }

    /// Bytes held, all computed codings together.
    pub fn size(&self) -> usize {
        self.identity.len()
            + self
                .encoded
                .iter()
                .filter_map(OnceLock::get)
                .map(Bytes::len)
                .sum::<usize>()
    }

    /// Whether `other` has the same bytes (then its codings can be reused).
    pub fn same_bytes(&self, other: &Representation) -> bool {
        self.tag == other.tag && self.identity == other.identity
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
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
        assert_eq!(rep.codings().len(), 4);
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
