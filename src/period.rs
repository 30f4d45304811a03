//! Reporting periods (measures.md section 2): the financial year 1 April - 31 March, written
//! `2024-25`, ranges of them (`2021-22..2024-25`) for trends, and the data's reference date.
//! Used by measures, cdop, compare and the report; depends on none of them.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::calendar::{FIRST_DATE, LAST_DATE};
use crate::dates::{
    epoch_days, financial_year, financial_year_bounds, financial_year_name, from_epoch_days,
};
use crate::error::UserError;
use crate::schema;
use crate::store::Store;

/// A financial year, named by the calendar year it starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FinYear(pub i32);

impl FinYear {
    /// 1 April of the starting year.
    pub fn start(self) -> NaiveDate {
        financial_year_bounds(self.0).0
    }
    /// 31 March of the following year.
    pub fn end(self) -> NaiveDate {
        financial_year_bounds(self.0).1
    }
    /// The financial year containing `d`.
    pub fn containing(d: NaiveDate) -> FinYear {
        FinYear(financial_year(d))
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
    /// The year and, for trends, the two before it that lie in the calendar.
    pub fn with_trend(self) -> Vec<FinYear> {
        [self.previous().previous(), self.previous(), self]
            .into_iter()
            .filter(|y| y.in_calendar().is_ok())
            .collect()
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
        f.write_str(&financial_year_name(self.0))
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

/// The data's reference date and where it came from (printed in the run summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub date: NaiveDate,
    /// `given` (by `--reference-date` or the config), or which store fact set it.
    pub source: String,
}

impl Reference {
    /// The reference date: the one given, else the latest CIN census ReferenceDate in the store,
    /// else the latest event date in the store. Only dates within the calendar's years count:
    /// ingest refuses or flags others, and a store written before it did must not have its
    /// default year driven by a 9999-12-31.
    pub fn of(store: &Store, given: Option<NaiveDate>) -> Result<Reference> {
        let found = |date: NaiveDate, source: &str| Reference {
            date,
            source: source.to_string(),
        };
        if let Some(d) = given {
            return Ok(found(d, "given"));
        }
        if let Some(d) = store
            .manifest
            .sources
            .iter()
            .filter_map(|s| s.vintage)
            .filter(|d| (FIRST_DATE..=LAST_DATE).contains(d))
            .max()
        {
            return Ok(found(d, "latest CIN census ReferenceDate in the store"));
        }
        latest_event(store)?
            .map(|d| found(d, "latest event date in the store"))
            .ok_or_else(|| UserError::Message("the store holds no dated events".into()).into())
    }

    /// An error (for the user) unless the date lies inside the working-day calendar.
    pub fn in_calendar(self) -> Result<Reference, UserError> {
        if (FIRST_DATE..=LAST_DATE).contains(&self.date) {
            return Ok(self);
        }
        let how = if self.source == "given" {
            "--reference-date or the config's reference_date"
        } else {
            &self.source
        };
        Err(UserError::Message(format!(
            "reference date {} ({how}) is outside the calendar ({FIRST_DATE} to {LAST_DATE}); give --reference-date",
            self.date
        )))
    }
}

/// The latest date of any event table's date columns within the calendar's years, read lazily
/// (only those columns, one row back).
fn latest_event(store: &Store) -> Result<Option<NaiveDate>> {
    let mut latest: Option<NaiveDate> = None;
    for spec in schema::TABLES {
        if spec.name == "population" || spec.name == "children" {
            continue;
        }
        let maxima: Vec<Expr> = spec
            .columns
            .iter()
            .filter(|c| matches!(c.kind, schema::Kind::Date | schema::Kind::DateTime))
            .map(|c| {
                let days = col(c.name).cast(DataType::Date).cast(DataType::Int32);
                days.clone()
                    .filter(
                        days.clone()
                            .gt_eq(lit(epoch_days(FIRST_DATE)))
                            .and(days.lt_eq(lit(epoch_days(LAST_DATE)))),
                    )
                    .max()
                    .alias(c.name)
            })
            .collect();
        if maxima.is_empty() {
            continue;
        }
        let df = store.scan(spec.name)?.select(maxima).collect()?;
        for c in df.columns() {
            if let Some(max) = c.i32()?.get(0) {
                let d = from_epoch_days(max);
                latest = Some(latest.map_or(d, |l: NaiveDate| l.max(d)));
            }
        }
    }
    Ok(latest)
}
