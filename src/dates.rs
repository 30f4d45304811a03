//! Dates as the store and Polars hold them: a `Date` column is days since 1970-01-01. One place
//! for the conversion, used by ingest (writing), measures, cdop and compare (reading). Also the
//! financial year a date falls in, for the modules that may not import `crate::period` (the
//! rules, the readers); `crate::period::FinYear` is built on it.

use chrono::NaiveDate;

/// 1970-01-01, day 0 of Polars' `Date`.
const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a date"),
};

/// Days since 1970-01-01 (Polars' Date representation).
pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// The date `days` days after 1970-01-01.
pub fn from_epoch_days(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(days as i64)
}

/// The financial year (1 April - 31 March) holding `d`, named by the calendar year it starts in
/// (2026 for 2026-27).
pub fn financial_year(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    if d.month() >= 4 {
        d.year()
    } else {
        d.year() - 1
    }
}

/// The first and last days of financial year `y` (1 April `y`, 31 March `y + 1`).
pub fn financial_year_bounds(y: i32) -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(y, 4, 1).expect("1 April exists"),
        NaiveDate::from_ymd_opt(y + 1, 3, 31).expect("31 March exists"),
    )
}

/// Financial year `y` as written: `2026-27`.
pub fn financial_year_name(y: i32) -> String {
    format!("{}-{:02}", y, (y + 1).rem_euclid(100))
}
