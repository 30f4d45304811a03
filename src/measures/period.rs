//! Reporting periods: the financial year 1 April - 31 March, written `2024-25`, and ranges of
//! them (`2021-22..2024-25`) for trends (measures.md section 2).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// A financial year, named by the calendar year it starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FinYear(pub i32);

impl FinYear {
    /// 1 April of the starting year.
    pub fn start(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0, 4, 1).expect("1 April exists")
    }
    /// 31 March of the following year.
    pub fn end(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0 + 1, 3, 31).expect("31 March exists")
    }
    /// The financial year containing `d`.
    pub fn containing(d: NaiveDate) -> FinYear {
        if d.month() >= 4 {
            FinYear(d.year())
        } else {
            FinYear(d.year() - 1)
        }
    }
    /// The latest financial year that has ended by `d` (a year ending on `d` counts).
    pub fn latest_complete(d: NaiveDate) -> FinYear {
        let y = FinYear::containing(d);
        if y.end() <= d {
            y
        } else {
            FinYear(y.0 - 1)
        }
    }
    pub fn previous(self) -> FinYear {
        FinYear(self.0 - 1)
    }
    /// An error (for the user) unless the whole year lies inside the working-day calendar
    /// (1 January 1990 to 31 December 2040): the years 1990-91 to 2039-40.
    pub fn in_calendar(self) -> Result<FinYear, String> {
        use crate::calendar::{FIRST_YEAR, LAST_YEAR};
        if self.0 < FIRST_YEAR || self.0 + 1 > LAST_YEAR {
            return Err(format!(
                "year {self} is outside the calendar ({FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31): give a year from {} to {}",
                FinYear(FIRST_YEAR),
                FinYear(LAST_YEAR - 1)
            ));
        }
        Ok(self)
    }
}

impl fmt::Display for FinYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.0, (self.0 + 1).rem_euclid(100))
    }
}

impl FromStr for FinYear {
    type Err = String;
    /// `2024-25` (also `2024/25` and `2024-2025`).
    fn from_str(s: &str) -> Result<FinYear, String> {
        let bad = || format!("'{s}' is not a financial year (expected e.g. 2024-25)");
        let (a, b) = s.trim().split_once(['-', '/']).ok_or_else(bad)?;
        let start: i32 = a.parse().map_err(|_| bad())?;
        let end: i32 = b.parse().map_err(|_| bad())?;
        let ok = match b.len() {
            2 => end == (start + 1).rem_euclid(100),
            4 => end == start + 1,
            _ => false,
        };
        if a.len() != 4 || !ok {
            return Err(bad());
        }
        Ok(FinYear(start))
    }
}

/// `2021-22..2024-25` (inclusive), or a single year.
pub fn parse_year_range(s: &str) -> Result<Vec<FinYear>, String> {
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b): (FinYear, FinYear) = (a.parse()?, b.parse()?);
            if b < a {
                return Err(format!("'{s}': the range ends before it starts"));
            }
            Ok((a.0..=b.0).map(FinYear).collect())
        }
        None => Ok(vec![s.parse()?]),
    }
}
