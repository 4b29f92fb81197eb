//! Months and archive positions: what one archive document holds (SPEC
//! "Archives", RFC 5005 §4) and the months beside it.
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

/// Where an archive document sits in its feed's history (RFC 5005 §4):
/// links to the months beside it that have articles in the same feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive {
    /// The month the document holds.
    pub month: Month,
    /// The closest earlier month with articles (`prev-archive`).
    pub prev: Option<Month>,
    /// The closest later month with articles (`next-archive`).
    pub next: Option<Month>,
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
}
