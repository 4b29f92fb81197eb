//! The content codings a document is published in (SPEC: br, zstd, gzip,
//! identity), as the server sends them and `bantin build` writes them
//! beside each file. Which one a request gets is `http/encoding.rs`'s.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

/// A content coding we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli.
    Br,
    /// Zstandard.
    Zstd,
    /// gzip.
    Gzip,
    /// No coding.
    Identity,
}

impl Coding {
    /// In order of preference among equal q-values.
    pub const PREFERENCE: [Coding; 4] = [Coding::Br, Coding::Zstd, Coding::Gzip, Coding::Identity];

    /// The `Content-Encoding` value; `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Br => Some("br"),
            Coding::Zstd => Some("zstd"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }

    /// Index into per-coding arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}
