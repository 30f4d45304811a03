//! Dates as the store and Polars hold them: a `Date` column is days since 1970-01-01. One place
//! for the conversion, used by ingest (writing), measures, cdop and compare (reading).

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
