//! A cache in front of bantin (SPEC "Behind a CDN"): the header that
//! lists each response's keys ([`header_name`]; the values are made with
//! each rendering, `publish::rendering::cdn_keys`), and the purges sent
//! after a change.

use http::HeaderName;

use crate::config::KeyHeader;

/// The header's name, made without a copy: every cached response asks.
pub fn header_name(header: KeyHeader) -> HeaderName {
    HeaderName::from_static(match header {
        KeyHeader::SurrogateKey => "surrogate-key",
        KeyHeader::Xkey => "xkey",
        KeyHeader::CacheTag => "cache-tag",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_configured_ones() {
        for h in [
            KeyHeader::SurrogateKey,
            KeyHeader::Xkey,
            KeyHeader::CacheTag,
        ] {
            assert!(header_name(h).as_str().eq_ignore_ascii_case(h.name()));
        }
    }
}
