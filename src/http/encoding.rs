//! `Accept-Encoding` negotiation (RFC 9110 §12.5.3): which of the codings
//! we make ([`Coding`], `publish/coding.rs`) a request gets.
//!
//! Each coding's q-value is the one the client gave it, else the one it gave
//! `*`, else 0; identity is acceptable unless refused by `identity;q=0` or by
//! `*;q=0` without an identity entry. The highest q wins; among equal
//! q-values we prefer br, then zstd, then gzip, then identity (SPEC). No
//! header at all means identity.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub use crate::publish::Coding;

/// The coding to send for an `Accept-Encoding` value (`None`: no header),
/// or `None` when the client refuses every coding we have (406).
pub fn negotiate(accept: Option<&str>) -> Option<Coding> {
    let Some(accept) = accept else {
        return Some(Coding::Identity);
    };
    // What browsers, curl, feed readers and aggregators send, answered
    // without parsing (every request runs this); the rules below give the
    // same (see the test).
    match accept {
        "gzip" | "gzip, deflate" | "gzip,deflate" | "deflate, gzip" | "x-gzip, gzip, deflate" => {
            return Some(Coding::Gzip);
        }
        "br" | "gzip, deflate, br" | "gzip, deflate, br, zstd" | "br, gzip" | "gzip, br" => {
            return Some(Coding::Br);
        }
        "identity" => return Some(Coding::Identity),
        _ => {}
    }
    // Millis avoid float comparisons: q has at most three decimals.
    let mut explicit: [Option<u16>; 4] = [None; 4];
    let mut star: Option<u16> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let name = pieces.next().unwrap_or("").trim();
        if name.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in pieces {
            if let Some((k, v)) = param.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = parse_q(v.trim());
            }
        }
        let Some(q) = q else { continue };
        // Coding names are case-insensitive (RFC 9110 §8.4.1).
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        let slot = if is("br") {
            Coding::Br
        } else if is("zstd") {
            Coding::Zstd
        } else if is("gzip") || is("x-gzip") {
            Coding::Gzip
        } else if is("identity") {
            Coding::Identity
        } else if name == "*" {
            star = Some(q);
            continue;
        } else {
            continue;
        };
        // With duplicates, the most favourable entry counts.
        if let Some(e) = explicit.get_mut(slot.index()) {
            *e = Some(e.map_or(q, |old| old.max(q)));
        }
    }
    let q_of = |c: Coding| match (explicit.get(c.index()).copied().flatten(), star, c) {
        (Some(q), _, _) => q,
        (None, Some(q), _) => q,
        (None, None, Coding::Identity) => 1,
        (None, None, _) => 0,
    };
    let mut best: Option<(u16, Coding)> = None;
    for c in Coding::PREFERENCE {
        let q = q_of(c);
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `0`, `0.5`, `1.000` ... as thousandths; `None` when malformed.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_millis = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_millis),
        "1" if frac_millis == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_values_answer_as_the_full_parse_does() {
        for accept in [
            "gzip",
            "gzip, deflate",
            "gzip,deflate",
            "deflate, gzip",
            "x-gzip, gzip, deflate",
            "br",
            "gzip, deflate, br",
            "gzip, deflate, br, zstd",
            "br, gzip",
            "gzip, br",
            "identity",
        ] {
            // A trailing space takes the value past the fast path.
            let parsed = negotiate(Some(&format!("{accept} ")));
            assert_eq!(negotiate(Some(accept)), parsed, "{accept}");
        }
    }

    #[test]
    fn no_header_means_identity_and_empty_means_identity() {
        assert_eq!(negotiate(None), Some(Coding::Identity));
        assert_eq!(negotiate(Some("")), Some(Coding::Identity));
    }

    #[test]
    fn equal_q_prefers_br_then_zstd_then_gzip() {
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd")), Some(Coding::Br));
        assert_eq!(negotiate(Some("gzip, zstd")), Some(Coding::Zstd));
        assert_eq!(negotiate(Some("gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("x-gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("*")), Some(Coding::Br));
    }

    #[test]
    fn q_values_decide_before_preference() {
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.8")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("br;q=0, gzip")), Some(Coding::Gzip));
        assert_eq!(
            negotiate(Some("GZIP;Q=1.0, br;q=0.999")),
            Some(Coding::Gzip)
        );
        assert_eq!(
            negotiate(Some("identity;q=1, gzip;q=0.5")),
            Some(Coding::Identity)
        );
        assert_eq!(negotiate(Some("*;q=0.1, gzip;q=0")), Some(Coding::Br));
    }

    #[test]
    fn identity_can_be_refused() {
        assert_eq!(negotiate(Some("identity;q=0")), None);
        assert_eq!(negotiate(Some("*;q=0")), None);
        assert_eq!(negotiate(Some("*;q=0, identity")), Some(Coding::Identity));
        assert_eq!(negotiate(Some("deflate")), Some(Coding::Identity));
    }

    #[test]
    fn malformed_q_values_drop_their_entry() {
        assert_eq!(negotiate(Some("br;q=2, gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("br;q=abc")), Some(Coding::Identity));
        assert_eq!(negotiate(Some("br;q=0.0001")), Some(Coding::Identity));
    }
}
