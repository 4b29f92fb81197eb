//! Months, their pages and archive positions: what one archive document
//! holds (SPEC "Archives", RFC 5005 §4) and the documents beside it.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{DateTime, FixedOffset, Utc};

/// A calendar month in the site's offset: what one archive document holds
/// (SPEC "Archives"), written `YYYY-MM` in its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month, if `year` is 1..=9999 (SPEC's date range) and `month`
    /// 1..=12.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// The month `date` falls in, in its own offset (pass dates already in
    /// the site's offset, as [`Item`]'s are).
    pub fn of(date: DateTime<FixedOffset>) -> Month {
        use chrono::Datelike;
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parse the URL form `YYYY-MM` (exactly four and two digits).
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month of the year, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The month after this one, if it is still in SPEC's range.
    pub fn succ(self) -> Option<Month> {
        match self.month {
            12 => Month::new(self.year + 1, 1),
            m => Month::new(self.year, m + 1),
        }
    }

    /// Its first instant, midnight of the 1st in `offset`.
    pub fn start(self, offset: FixedOffset) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| t.and_local_timezone(offset).single())
            .map_or(DateTime::<Utc>::MIN_UTC, |t| t.to_utc())
    }

    /// The month an instant falls in, in `offset`.
    pub fn at(instant: DateTime<Utc>, offset: FixedOffset) -> Month {
        Month::of(instant.with_timezone(&offset))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One archive document of a feed: a month, or one page of a month that
/// holds more articles than an archive document may (`archive_items`).
/// Page 1 is the month's own URL, `{YYYY-MM}`; page N >= 2 is
/// `{YYYY-MM}-p{N}`, beside it in the same folder (SPEC "Archives").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArchivePage {
    /// The month.
    pub month: Month,
    /// 1-based, newest articles first.
    pub number: u32,
}

impl ArchivePage {
    /// The first page of a month: the whole month when it fits one.
    pub fn first(month: Month) -> ArchivePage {
        ArchivePage { month, number: 1 }
    }

    /// Page `number` of a month, if `number` is at least 1.
    pub fn new(month: Month, number: u32) -> Option<ArchivePage> {
        (number >= 1).then_some(ArchivePage { month, number })
    }

    /// Parse the URL form: `YYYY-MM`, or `YYYY-MM-pN` with N >= 2 written
    /// without leading zeros (one URL per page: `-p1` is the month's URL).
    pub fn parse(s: &str) -> Option<ArchivePage> {
        let (month, number) = match s.split_once("-p") {
            None => (s, 1),
            Some((month, n)) => {
                let canonical = !n.is_empty()
                    && n.len() <= 9
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && !n.starts_with('0');
                let n: u32 = n.parse().ok().filter(|n| canonical && *n >= 2)?;
                (month, n)
            }
        };
        ArchivePage::new(Month::parse(month)?, number)
    }
}

impl std::fmt::Display for ArchivePage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.number {
            1 => write!(f, "{}", self.month),
            n => write!(f, "{}-p{n}", self.month),
        }
    }
}

/// Where an archive document sits in its feed's history (RFC 5005 §4):
/// links to the documents beside it, which make one chain from the newest
/// page of the newest month to the oldest page of the oldest month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive {
    /// The month the document holds (all of it, or one page).
    pub month: Month,
    /// Which page of the month it is, and how many the month has.
    pub page: u32,
    /// Pages of the month: 1 unless it holds more than `archive_items`.
    pub pages: u32,
    /// The closest older document (`prev-archive`): the month's next page,
    /// or from its last page the first page of the closest earlier month
    /// with articles.
    pub prev: Option<ArchivePage>,
    /// The closest newer document (`next-archive`): the month's page
    /// before, or from its first page the last page of the closest later
    /// month with articles.
    pub next: Option<ArchivePage>,
}

impl Archive {
    /// A month that fits one document, between months that do too.
    pub fn of_month(month: Month, prev: Option<Month>, next: Option<Month>) -> Archive {
        Archive {
            month,
            page: 1,
            pages: 1,
            prev: prev.map(ArchivePage::first),
            next: next.map(ArchivePage::first),
        }
    }

    /// The document itself.
    pub fn this(&self) -> ArchivePage {
        ArchivePage {
            month: self.month,
            number: self.page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_print_as_urls_write_them() {
        let m = Month::parse("2024-11").unwrap();
        assert_eq!((m.year(), m.month()), (2024, 11));
        assert_eq!(m.to_string(), "2024-11");
        assert_eq!(Month::new(7, 1).unwrap().to_string(), "0007-01");
        for bad in [
            "2024-13", "2024-00", "0000-01", "24-11", "2024-1", "2024-011", "2024/11", "+024-11",
            "",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        let d = DateTime::parse_from_rfc3339("2024-11-30T23:30:00-01:00").unwrap();
        assert_eq!(Month::of(d).to_string(), "2024-11");
        let in_site = d.with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap());
        assert_eq!(Month::of(in_site).to_string(), "2024-12");
        assert!(Month::parse("2024-02") < Month::parse("2024-11"));
        assert!(Month::parse("2023-12") < Month::parse("2024-01"));
    }

    #[test]
    fn archive_pages_print_and_parse_one_url_each() {
        let m = Month::parse("2024-11").unwrap();
        assert_eq!(ArchivePage::first(m).to_string(), "2024-11");
        let p3 = ArchivePage::new(m, 3).unwrap();
        assert_eq!(p3.to_string(), "2024-11-p3");
        assert_eq!(ArchivePage::parse("2024-11-p3"), Some(p3));
        assert_eq!(ArchivePage::parse("2024-11"), Some(ArchivePage::first(m)));
        for bad in [
            "2024-11-p1",
            "2024-11-p0",
            "2024-11-p03",
            "2024-11-p",
            "2024-11-px",
            "2024-11-p-3",
            "2024-11p3",
            "2024-13-p2",
            "2024-11-p9999999999",
        ] {
            assert_eq!(ArchivePage::parse(bad), None, "{bad}");
        }
        // Pages of a month sort together, in chain order within it.
        assert!(ArchivePage::first(m) < p3);
        assert!(p3 < ArchivePage::first(m.succ().unwrap()));
        assert_eq!(ArchivePage::new(m, 0), None);
    }
}
