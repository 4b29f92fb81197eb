//! Entity tags: strong, derived only from the bytes sent.
//!
//! Format: `"` + the first 128 bits of the SHA-256 of the body, in hex, + `"`.
//! A pure function of the bytes, so every replica and every restart gives
//! the same tag for the same content, and each content coding (whose bytes
//! differ) gets its own tag, as RFC 9110 §8.8.3.3 asks.

use sha2::{Digest, Sha256};

/// The strong ETag of a body, quotes included.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::etag;

    #[test]
    fn same_bytes_same_tag_other_bytes_other_tag() {
        assert_eq!(etag(b"abc"), etag(b"abc"));
        assert_ne!(etag(b"abc"), etag(b"abd"));
        let t = etag(b"");
        assert_eq!(t.len(), 34);
        assert!(t.starts_with('"') && t.ends_with('"') && !t.starts_with("W/"));
    }
}
