//! The England and Wales working-day calendar (measures.md section 1).
//!
//! STUB: being written by a helper session. The public API below is fixed; bodies are placeholders.

use chrono::NaiveDate;

/// First and last dates the compiled-in calendar covers.
pub const FIRST_YEAR: i32 = 1990;
pub const LAST_YEAR: i32 = 2040;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CalendarError {
    #[error("date {0} is outside the calendar's range {FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31")]
    OutOfRange(NaiveDate),
}

/// A working-day calendar: Monday-Friday minus E&W bank holidays minus local closure days.
#[derive(Debug, Clone)]
pub struct Calendar {
    _private: (),
}

impl Calendar {
    /// The statutory England and Wales calendar, 1990-2040, no local closures.
    pub fn england_and_wales() -> Calendar {
        Calendar { _private: () }
    }
    /// Adds local closure days (e.g. a Christmas shutdown). Errors on a date out of range.
    pub fn with_closures(self, _closures: &[NaiveDate]) -> Result<Calendar, CalendarError> {
        Ok(self)
    }
    /// True when `d` is a working day.
    pub fn is_working_day(&self, _d: NaiveDate) -> Result<bool, CalendarError> {
        todo!()
    }
    /// `wd(a, b)`: working days d with a < d <= b; negative (-wd(b, a)) when b < a.
    pub fn wd(&self, _a: NaiveDate, _b: NaiveDate) -> Result<i64, CalendarError> {
        todo!()
    }
    /// The n-th working day after `a` (n = 0 gives `a` itself).
    pub fn add_working_days(&self, _a: NaiveDate, _n: u32) -> Result<NaiveDate, CalendarError> {
        todo!()
    }
    /// Non-working weekdays in [from, to]: bank holidays as observed, plus local closures.
    pub fn holidays(&self, _from: NaiveDate, _to: NaiveDate) -> Result<Vec<NaiveDate>, CalendarError> {
        todo!()
    }
    /// Working-day ordinal: the number of working days d with FIRST < d <= `d`,
    /// so `wd(a, b) = ordinal(b) - ordinal(a)`.
    pub fn ordinal(&self, _d: NaiveDate) -> Result<i32, CalendarError> {
        todo!()
    }
}
