//! The audience as people read it: `/metrics` series, each feed's total
//! (subscribers through aggregators plus direct readers) for `/`, and the
//! tables of `bantin stats` and `bantin stats --readers`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::tally::bucket_limit;
use crate::store::audience::{AudienceCounts, FetcherReport};

/// One feed's audience: its total and the count per fetcher (direct
/// readers under `readers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedAudience {
    /// The feed's URL path without extension.
    pub feed: String,
    /// Subscribers through every fetcher plus direct readers.
    pub total: u64,
    /// (fetcher, count), biggest first; direct readers as `readers`.
    pub by_fetcher: Vec<(String, u64)>,
}

/// Each feed's audience, biggest total first (ties by feed).
pub fn by_feed(counts: &AudienceCounts) -> Vec<FeedAudience> {
    let mut feeds: BTreeMap<&str, FeedAudience> = BTreeMap::new();
    fn entry<'a, 'b>(
        feeds: &'b mut BTreeMap<&'a str, FeedAudience>,
        feed: &'a str,
    ) -> &'b mut FeedAudience {
        feeds.entry(feed).or_insert_with(|| FeedAudience {
            feed: feed.to_string(),
            ..FeedAudience::default()
        })
    }
    for (feed, fetcher, n) in &counts.subscribers {
        let f = entry(&mut feeds, feed);
        f.total = f.total.saturating_add(*n);
        f.by_fetcher.push((fetcher.clone(), *n));
    }
    for (feed, n) in &counts.readers {
        let f = entry(&mut feeds, feed);
        f.total = f.total.saturating_add(*n);
        f.by_fetcher.push(("readers".to_string(), *n));
    }
    let mut out: Vec<FeedAudience> = feeds.into_values().collect();
    for f in &mut out {
        f.by_fetcher
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.feed.cmp(&b.feed)));
    out
}

/// Each feed's total, by feed path (`/feeds/all`).
pub fn totals(counts: &AudienceCounts) -> BTreeMap<String, u64> {
    by_feed(counts)
        .into_iter()
        .map(|f| (f.feed, f.total))
        .collect()
}

/// The `/metrics` series: `bantin_feed_subscribers{feed,fetcher}` and
/// `bantin_feed_readers{feed}`, and the hits the queue dropped.
pub fn exposition(counts: &AudienceCounts, dropped: u64) -> String {
    let mut out = String::from(
        "# HELP bantin_feed_subscribers Subscribers an aggregator last reported for a feed (within 7 days).\n\
         # TYPE bantin_feed_subscribers gauge\n",
    );
    for (feed, fetcher, n) in &counts.subscribers {
        let _ = writeln!(
            out,
            "bantin_feed_subscribers{{feed=\"{}\",fetcher=\"{}\"}} {n}",
            label(feed),
            label(fetcher)
        );
    }
    out.push_str(
        "# HELP bantin_feed_readers Distinct direct readers (address and User-Agent) of a feed in 24 hours.\n\
         # TYPE bantin_feed_readers gauge\n",
    );
    for (feed, n) in &counts.readers {
        let _ = writeln!(out, "bantin_feed_readers{{feed=\"{}\"}} {n}", label(feed));
    }
    let _ = write!(
        out,
        "# HELP bantin_audience_dropped_total Feed requests not counted because the counting queue was full.\n\
         # TYPE bantin_audience_dropped_total counter\n\
         bantin_audience_dropped_total {dropped}\n"
    );
    out
}

/// A Prometheus label value, escaped.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `bantin stats`: feed, total and the count per fetcher, biggest first.
pub fn stats_table(counts: &AudienceCounts) -> String {
    let feeds = by_feed(counts);
    if feeds.is_empty() {
        return "no audience counted yet (bantin serve counts it)\n".to_string();
    }
    let width = feeds.iter().map(|f| f.feed.len()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:>10}  by fetcher\n", "feed", "total");
    for f in &feeds {
        let parts: Vec<String> = f
            .by_fetcher
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {}",
            f.feed,
            f.total,
            parts.join(", ")
        );
    }
    let site: u64 = feeds.iter().map(|f| f.total).fold(0, u64::saturating_add);
    let _ = writeln!(out, "{:<width$}  {:>10}", "(all feeds)", site);
    out
}

/// `bantin stats --readers`: per fetcher over 24 hours, most requests
/// first: requests, the share conditional, the share answered 304, the
/// median interval between two fetches of one feed by one client, 429s.
pub fn readers_table(reports: &[FetcherReport]) -> String {
    if reports.is_empty() {
        return "no feed requests counted in the last 24 hours\n".to_string();
    }
    let mut rows: Vec<&FetcherReport> = reports.iter().collect();
    rows.sort_by(|a, b| {
        b.totals
            .requests
            .cmp(&a.totals.requests)
            .then_with(|| a.totals.fetcher.cmp(&b.totals.fetcher))
    });
    let width = rows
        .iter()
        .map(|r| r.totals.fetcher.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{:<width$}  {:>9}  {:>11}  {:>8}  {:>15}  {:>6}\n",
        "fetcher", "requests", "conditional", "304", "median interval", "429"
    );
    for r in rows {
        let t = &r.totals;
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>11}  {:>8}  {:>15}  {:>6}",
            t.fetcher,
            t.requests,
            share(t.conditional, t.requests),
            share(t.not_modified, t.requests),
            median(&r.intervals),
            t.refused
        );
    }
    out
}

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// The histogram bucket holding the median interval, as its range.
fn median(intervals: &[(u8, u64)]) -> String {
    let total: u64 = intervals.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "-".to_string();
    }
    let mut seen = 0;
    for (b, n) in intervals {
        seen += n;
        if seen * 2 >= total {
            let low = b.checked_sub(1).and_then(bucket_limit).unwrap_or(0);
            return match bucket_limit(*b) {
                Some(high) => format!("{}–{}", secs(low), secs(high)),
                None => format!("≥ {}", secs(low)),
            };
        }
    }
    "-".to_string()
}

/// Seconds as people say them: `45s`, `8m`, `2h`.
fn secs(s: u64) -> String {
    match s {
        0..120 => format!("{s}s"),
        120..7_200 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_fetchers_and_readers_biggest_first() {
        let counts = AudienceCounts {
            subscribers: vec![
                ("/feeds/all".into(), "Feedly".into(), 462),
                ("/feeds/all".into(), "inoreader.com".into(), 114),
                ("/feeds/region/duc-tho".into(), "Feedbin".into(), 1_000),
            ],
            readers: vec![("/feeds/all".into(), 3)],
        };
        let feeds = by_feed(&counts);
        assert_eq!(feeds[0].feed, "/feeds/region/duc-tho");
        assert_eq!(feeds[1].total, 579);
        assert_eq!(
            feeds[1].by_fetcher,
            [
                ("Feedly".to_string(), 462),
                ("inoreader.com".to_string(), 114),
                ("readers".to_string(), 3)
            ]
        );
        let table = stats_table(&counts);
        assert!(
            table.contains("Feedly 462, inoreader.com 114, readers 3"),
            "{table}"
        );
        assert!(table.contains("1579"), "{table}");
        let m = exposition(&counts, 0);
        assert!(m.contains("bantin_feed_subscribers{feed=\"/feeds/all\",fetcher=\"Feedly\"} 462"));
        assert!(m.contains("bantin_feed_readers{feed=\"/feeds/all\"} 3"));
    }

    #[test]
    fn the_median_is_the_middle_bucket() {
        assert_eq!(median(&[(0, 1), (5, 3), (9, 1)]), "4m–8m");
        assert_eq!(median(&[]), "-");
        assert_eq!(median(&[(15, 2)]), "≥ 68h");
    }
}
