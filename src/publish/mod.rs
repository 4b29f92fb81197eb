//! The publishing core `bantin serve` and `bantin build` share: what is
//! published and under which URL ([`resource`]), rendering a document's
//! bytes ([`rendering`]), its codings ([`coding`], [`representation`]) and
//! its ETag ([`etag`]), and which documents a change touches
//! ([`invalidation`]). Nothing here speaks HTTP: `http/` serves these
//! bytes, `cmd/build` writes them to files.

pub mod coding;
pub mod etag;
pub mod invalidation;
pub mod rendering;
pub mod representation;
pub mod resource;

pub use coding::Coding;
pub use rendering::{Meta, Rendered};
pub use representation::Representation;
pub use resource::{Document, Resource};
