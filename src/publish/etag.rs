//! Entity tags: strong, derived only from the bytes.
//!
//! Format: `"` + the first 128 bits of the SHA-256 of the identity body, in
//! hex, + a suffix naming the coding (`-br`, `-zstd`, `-gzip`; none for
//! identity) + `"`. Each coding's bytes are a pure function of the identity
//! bytes (one fixed compressor and level per coding), so every replica and
//! every restart gives the same tag for the same bytes, each coding gets its
//! own tag as RFC 9110 §8.8.3.3 asks, and a tag can be checked (304) without
//! compressing anything.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sha2::{Digest, Sha256};

use super::coding::Coding;

/// The content part of the tags of a body: 32 hex digits.
pub fn content_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// The strong ETag of a coding of the body whose content tag is `tag`,
/// quotes included.
pub fn etag(tag: &str, coding: Coding) -> String {
    match coding.header() {
        Some(name) => format!("\"{tag}-{name}\""),
        None => format!("\"{tag}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_tag_other_bytes_other_tag() {
        assert_eq!(content_tag(b"abc"), content_tag(b"abc"));
        assert_ne!(content_tag(b"abc"), content_tag(b"abd"));
        let t = etag(&content_tag(b""), Coding::Identity);
        assert_eq!(t.len(), 34);
        assert!(t.starts_with('"') && t.ends_with('"') && !t.starts_with("W/"));
        let tags: std::collections::HashSet<String> = Coding::PREFERENCE
            .iter()
            .map(|c| etag(&content_tag(b"x"), *c))
            .collect();
        assert_eq!(tags.len(), 4);
    }
}
