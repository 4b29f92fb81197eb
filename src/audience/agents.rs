//! Subscriber counts in aggregators' User-Agents.
//!
//! Feed aggregators fetch a feed once for all their users and say how many
//! they are in the User-Agent (FeedBurner and FeedPress counted audiences
//! this way): `Feedly/1.0 (+http://www.feedly.com/fetcher.html; 462
//! subscribers; )`, `Mozilla/5.0 (compatible; inoreader.com; 114
//! subscribers)`, `NewsBlur Feed Fetcher - 27 subscribers - …`, `Feedbin
//! feed-id:1697787 - 102 subscribers`, `… theoldreader.com; 1 subscribers;
//! feed-id=…`, `… BazQux/2.4; +https://bazqux.com/fetcher; 3 subscribers)`.
//!
//! A fetcher is named without its numbers or feed id, so that one
//! aggregator's fetches of one feed replace each other: the six above by
//! their names, any other by the product it names (`Mozilla/5.0
//! (compatible; X; …)` by `X`). Anyone can send any User-Agent, so a count
//! is believed only within [`MAX_SUBSCRIBERS`], and a header of any length
//! is read in one pass over at most [`MAX_AGENT_BYTES`].

use std::borrow::Cow;

/// The most subscribers one fetcher is believed for one feed: the largest
/// aggregators report hundreds of thousands; past a billion it is a lie,
/// and refusing it keeps every sum of counts far from overflowing.
pub const MAX_SUBSCRIBERS: u64 = 1_000_000_000;

/// A User-Agent is read this far at most; the count comes early in every
/// aggregator's.
pub const MAX_AGENT_BYTES: usize = 512;

/// A fetcher's report: who, and how many subscribe through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported<'a> {
    /// The fetcher, without numbers or feed id (`Feedly`, `inoreader.com`).
    pub fetcher: Cow<'a, str>,
    /// How many of its users subscribe to the feed.
    pub subscribers: u64,
}

/// Known aggregators: a piece of their User-Agent, and their name.
const KNOWN: [(&str, &str); 6] = [
    ("feedly", "Feedly"),
    ("inoreader.com", "inoreader.com"),
    ("newsblur", "NewsBlur"),
    ("feedbin", "Feedbin"),
    ("theoldreader.com", "theoldreader.com"),
    ("bazqux", "BazQux"),
];

/// The subscriber count `user_agent` reports, if it reports one that can
/// be believed.
pub fn reported(user_agent: &str) -> Option<Reported<'_>> {
    let agent = head(user_agent, MAX_AGENT_BYTES);
    let subscribers = count(agent)?;
    Some(Reported {
        fetcher: fetcher(agent)?,
        subscribers,
    })
}

/// The fetcher a User-Agent names (an aggregator, or the product it names
/// first: `curl`, `newsboat`, `Miniflux`), whether or not it reports a
/// count; `(none)` for no User-Agent, `(other)` for one that names none.
pub fn fetcher_name(user_agent: Option<&str>) -> Cow<'_, str> {
    match user_agent {
        None | Some("") => Cow::Borrowed("(none)"),
        Some(agent) => fetcher(head(agent, MAX_AGENT_BYTES)).unwrap_or(Cow::Borrowed("(other)")),
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn head(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The number before the first "subscriber" or "subscribers" that follows
/// one (`462 subscribers`), within [`MAX_SUBSCRIBERS`].
fn count(agent: &str) -> Option<u64> {
    let lower = agent.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower.get(from..).and_then(|s| s.find("subscriber")) {
        let at = from + at;
        let before = lower.get(..at)?.trim_end_matches(' ');
        let digits: &str = {
            let start = before
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_digit())
                .last()
                .map(|(i, _)| i);
            start.and_then(|i| before.get(i..)).unwrap_or_default()
        };
        // "27 subscribers", not "site27subscribers" nor "-3 subscribers":
        // a space after the number, a separator or nothing before it.
        let spaced = before.len() < lower.get(..at)?.len();
        let rest = before
            .get(..before.len() - digits.len())
            .unwrap_or_default();
        let alone = rest
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | ';' | ','));
        if spaced && alone && !digits.is_empty() && digits.len() <= 12 {
            return digits.parse::<u64>().ok().filter(|n| *n <= MAX_SUBSCRIBERS);
        }
        from = at + "subscriber".len();
    }
    None
}

/// The fetcher's name: a known aggregator's, else the product the agent
/// names first (inside `Mozilla/5.0 (compatible; …)` when it starts so).
fn fetcher(agent: &str) -> Option<Cow<'_, str>> {
    let lower = agent.to_ascii_lowercase();
    if let Some((_, name)) = KNOWN.iter().find(|(piece, _)| lower.contains(piece)) {
        return Some(Cow::Borrowed(name));
    }
    let product = match agent.split_once("(compatible;") {
        Some((_, rest)) if agent.starts_with("Mozilla/") => rest.trim_start(),
        _ => agent,
    };
    let name = product
        .split(|c: char| c == '/' || c == ';' || c == '(' || c == ')' || c.is_whitespace())
        .find(|w| !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()))?;
    // Only printable ASCII names reach a label and a table.
    name.chars()
        .all(|c| c.is_ascii_graphic())
        .then_some(Cow::Borrowed(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(agent: &str) -> Option<(String, u64)> {
        reported(agent).map(|r| (r.fetcher.into_owned(), r.subscribers))
    }

    #[test]
    fn each_aggregator_of_spec_is_read() {
        let cases = [
            (
                "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 462 subscribers; )",
                "Feedly",
                462,
            ),
            (
                "Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)",
                "inoreader.com",
                114,
            ),
            (
                "NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/1/x (Mozilla/5.0)",
                "NewsBlur",
                27,
            ),
            ("Feedbin feed-id:1697787 - 102 subscribers", "Feedbin", 102),
            (
                "Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; feed-id=5a1b2c)",
                "theoldreader.com",
                1,
            ),
            (
                "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 3 subscribers)",
                "BazQux",
                3,
            ),
            (
                "Mozilla/5.0 (compatible; inoreader.com; 1 subscriber)",
                "inoreader.com",
                1,
            ),
        ];
        for (agent, fetcher, n) in cases {
            assert_eq!(seen(agent), Some((fetcher.to_string(), n)), "{agent}");
        }
    }

    #[test]
    fn one_fetcher_whatever_its_numbers_and_feed_id() {
        let a = seen("Feedbin feed-id:1 - 5 subscribers").unwrap();
        let b = seen("Feedbin feed-id:99999 - 7 subscribers").unwrap();
        assert_eq!(a.0, b.0);
        let other = seen("Mozilla/5.0 (compatible; Miniflux/2.2; 4 subscribers)").unwrap();
        assert_eq!(other, ("Miniflux".to_string(), 4));
    }

    #[test]
    fn counts_that_cant_be_believed_are_none() {
        for agent in [
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; subscribers; )",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1000000000000000000 subscribers)",
            "Feedly/1.0 (99999999999999999999999999 subscribers)",
            "Feedly/1.0 (-3 subscribers)",
            "Feedly/1.0 (site27subscribers)",
            "",
        ] {
            assert_eq!(seen(agent), None, "{agent}");
        }
        // A million is believed; garbage after the count changes nothing.
        assert_eq!(
            seen("Feedly/1.0 (1000000 subscribers; \u{0}\u{ffff}💥 zzz 12 subscribers"),
            Some(("Feedly".into(), 1_000_000))
        );
    }

    #[test]
    fn any_header_is_read_in_bounded_time_without_panicking() {
        let long = format!("{}9 subscribers", "x ".repeat(100_000));
        assert_eq!(seen(&long), None, "the count lies past what is read");
        let multibyte = "é".repeat(MAX_AGENT_BYTES);
        assert_eq!(seen(&multibyte), None);
        proptest::proptest!(|(agent in ".{0,600}")| {
            let _ = reported(&agent);
        });
    }
}
