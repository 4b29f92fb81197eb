//! A rendered resource as it goes on the wire: the identity body and its
//! br, zstd and gzip codings, compressed once when rendered, each with its
//! own strong ETag. The server and `bantin build` both send these bytes.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};

use super::encoding::Coding;
use super::etag::etag;

// Compression runs once per change of a feed, not per request. Measured on
// the sample all feed (52 KB of RSS): brotli q9 23 ms for 11.9 KB where q11
// takes 113 ms for 11.3 KB; zstd 15 9 ms for 12.1 KB where 19 takes 43 ms.
// The last few percent are not worth 5x the time when a newsroom publishes.
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;
const ZSTD_LEVEL: i32 = 15;

/// One coding of a representation.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The bytes sent.
    pub body: Bytes,
    /// Their strong ETag, quoted.
    pub etag: String,
}

/// A resource in every coding we serve.
#[derive(Debug, Clone)]
pub struct Representation {
    /// `Content-Type` value.
    pub content_type: &'static str,
    /// `Last-Modified`, whole seconds; `None` for an empty feed.
    pub last_modified: Option<SystemTime>,
    variants: [Variant; 4],
}

impl Representation {
    /// Compress `body` in every coding.
    pub fn new(
        content_type: &'static str,
        body: Vec<u8>,
        last_modified: Option<DateTime<FixedOffset>>,
    ) -> Self {
        let variants = Coding::PREFERENCE.map(|c| {
            let bytes = match c {
                Coding::Identity => body.clone(),
                other => compress(other, &body),
            };
            Variant {
                etag: etag(&bytes),
                body: Bytes::from(bytes),
            }
        });
        // PREFERENCE order is index order (Br, Zstd, Gzip, Identity).
        debug_assert!(
            Coding::PREFERENCE
                .iter()
                .enumerate()
                .all(|(i, c)| c.index() == i)
        );
        Representation {
            content_type,
            last_modified: last_modified
                .map(|d| UNIX_EPOCH + Duration::from_secs(d.timestamp().max(0) as u64)),
            variants,
        }
    }

    /// The variant for a coding.
    pub fn variant(&self, coding: Coding) -> &Variant {
        &self.variants[coding.index()]
    }

    /// The identity body.
    pub fn identity(&self) -> &Bytes {
        &self.variant(Coding::Identity).body
    }

    /// Bytes held, all codings together.
    pub fn size(&self) -> usize {
        self.variants.iter().map(|v| v.body.len()).sum()
    }
}

/// `body` in a content coding. Compressing into a `Vec` can't fail.
pub fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    match coding {
        Coding::Identity => body.to_vec(),
        Coding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(body).expect("in-memory gzip");
            enc.finish().expect("in-memory gzip")
        }
        Coding::Br => {
            let mut out = Vec::new();
            {
                let mut enc =
                    brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                enc.write_all(body).expect("in-memory brotli");
            }
            out
        }
        Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL).expect("in-memory zstd"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_coding_round_trips_and_has_its_own_tag() {
        let body = "Báo Hà Tĩnh ".repeat(200).into_bytes();
        let rep = Representation::new("text/plain", body.clone(), None);
        let mut tags = std::collections::HashSet::new();
        for c in Coding::PREFERENCE {
            let v = rep.variant(c);
            assert!(tags.insert(v.etag.clone()));
            let decoded = match c {
                Coding::Identity => v.body.to_vec(),
                Coding::Gzip => {
                    let mut s = Vec::new();
                    flate2::read::GzDecoder::new(&v.body[..])
                        .read_to_end(&mut s)
                        .unwrap();
                    s
                }
                Coding::Br => {
                    let mut s = Vec::new();
                    brotli::Decompressor::new(&v.body[..], 4096)
                        .read_to_end(&mut s)
                        .unwrap();
                    s
                }
                Coding::Zstd => zstd::decode_all(&v.body[..]).unwrap(),
            };
            assert_eq!(decoded, body, "{c:?}");
        }
    }

    #[test]
    fn compression_is_deterministic() {
        let body = b"<rss>same</rss>".repeat(50);
        let a = Representation::new("x", body.clone(), None);
        let b = Representation::new("x", body, None);
        for c in Coding::PREFERENCE {
            assert_eq!(a.variant(c).etag, b.variant(c).etag);
        }
    }
}
