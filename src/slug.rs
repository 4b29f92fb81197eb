//! Display names and the slugs made from them (SPEC "Articles").
//!
//! A name is NFC-normalized and trimmed. Its slug is the name transliterated
//! to ASCII by `deunicode` (which drops Vietnamese diacritics, maps `đ` to
//! `d` and `ß` to `ss`), lowercased, with every run of characters other than
//! `a-z0-9` turned into one `-` and no `-` at either end.

use unicode_normalization::UnicodeNormalization;

/// The canonical form of a display name: the characters feeds drop (control
/// characters, noncharacters) removed, NFC, surrounding whitespace removed,
/// inner runs of whitespace collapsed to one space. Dropping first keeps the
/// name, its slug and what feeds show in agreement: `A\u{0}¢` would
/// otherwise slug to `a-c` yet show as `A¢`, and `e\u{1}\u{301}` would show
/// as a decomposed `é`.
pub fn normalize_name(name: &str) -> String {
    // Most names are canonical already (every import and every catalog
    // load asks): say so without rebuilding them.
    if is_canonical(name) {
        return name.to_string();
    }
    let nfc: String = crate::text::clean(name).nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `normalize_name` would give `name` back: NFC, nothing a feed
/// drops, single spaces between words and none around them.
fn is_canonical(name: &str) -> bool {
    use unicode_normalization::{IsNormalized, is_nfc_quick};
    !name.starts_with(' ')
        && !name.ends_with(' ')
        && !name.contains("  ")
        && name
            .chars()
            .all(|c| c == ' ' || (!c.is_whitespace() && crate::text::is_allowed(c)))
        && is_nfc_quick(name.chars()) == IsNormalized::Yes
}

/// The slug of a display name; empty when the name has no letter or digit.
pub fn slugify(name: &str) -> String {
    let ascii = deunicode::deunicode(&normalize_name(name)).to_ascii_lowercase();
    let mut slug = String::with_capacity(ascii.len());
    let mut pending_dash = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c);
        } else {
            pending_dash = true;
        }
    }
    slug
}

/// The names of one list that have a feed, each with its slug, in the
/// list's order: of names sharing a slug the first one counts, and a name
/// with no letter or digit has none. A store's link rows and a byline's
/// author feeds are both made by this rule.
pub fn links<N: AsRef<str>>(names: impl IntoIterator<Item = N>) -> Vec<(String, N)> {
    // A set of the slugs seen, not a scan of the output: a CMS's byline
    // may hold thousands of names, and a scan per name made it quadratic.
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter_map(|name| {
            let slug = slugify(name.as_ref());
            (!slug.is_empty() && seen.insert(slug.clone())).then_some((slug, name))
        })
        .collect()
}

/// The author feeds of a byline as stored (`articles.authors`, perhaps as
/// a CMS wrote it): its names normalized, then [`links`].
pub fn author_links(names: &[String]) -> Vec<(String, String)> {
    links(names.iter().map(|n| normalize_name(n)))
}

/// Whether `s` is already a slug: what a URL segment must be to name a feed.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Canonical names are given back as they are; every other name goes
    /// the long way, as before the shortcut.
    #[test]
    fn the_canonical_shortcut_changes_no_name() {
        let long_way = |name: &str| {
            let nfc: String = crate::text::clean(name).nfc().collect();
            nfc.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        for name in [
            "Đức Thọ",
            "Quốc phòng - An ninh",
            "\u{110}u\u{31b}\u{301}c Tho\u{323}",
            " Kỳ Anh",
            "Kỳ Anh ",
            "Kỳ  Anh",
            "Kỳ\tAnh",
            "Kỳ\u{a0}Anh",
            "Kỳ\u{1}Anh",
            "Kỳ\u{fdd0}Anh",
            "e\u{1}\u{301}",
            "",
            " ",
            "Straße",
        ] {
            assert_eq!(normalize_name(name), long_way(name), "{name:?}");
        }
    }

    #[test]
    fn vietnamese_names_lose_diacritics_and_d_bar() {
        assert_eq!(slugify("Quốc phòng - An ninh"), "quoc-phong-an-ninh");
        assert_eq!(slugify("Đức Thọ"), "duc-tho");
        assert_eq!(slugify("Thành phố Hà Tĩnh"), "thanh-pho-ha-tinh");
        assert_eq!(slugify("Văn hóa - Giải trí"), "van-hoa-giai-tri");
        assert_eq!(slugify("Nông nghiệp - Nông thôn"), "nong-nghiep-nong-thon");
    }

    #[test]
    fn decomposed_input_gives_the_same_slug_as_composed() {
        let decomposed = "Đu\u{301}c Tho\u{323}";
        assert_eq!(slugify(decomposed), slugify("Đúc Thọ"));
        assert_eq!(normalize_name(decomposed), "Đúc Thọ");
    }

    #[test]
    fn control_characters_neither_split_slugs_nor_block_composition() {
        assert_eq!(slugify("A\u{0}¢"), slugify("A¢"));
        assert_eq!(normalize_name("Đu\u{1}\u{301}c"), "Đúc");
    }

    #[test]
    fn eszett_digits_and_punctuation_runs() {
        assert_eq!(slugify("Straße"), "strasse");
        assert_eq!(slugify("  COVID-19 / 2020!! "), "covid-19-2020");
        assert_eq!(slugify("--a__b--"), "a-b");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn slug_shape_check() {
        assert!(is_slug("duc-tho"));
        assert!(is_slug("covid-19"));
        assert!(!is_slug("Duc-tho"));
        assert!(!is_slug("-duc"));
        assert!(!is_slug("a--b"));
        assert!(!is_slug(""));
        assert!(!is_slug("a.b"));
    }
}
