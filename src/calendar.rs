//! The England and Wales working-day calendar (measures.md section 1).
//!
//! A working day is Monday to Friday, except England and Wales bank holidays and any local closure
//! days a partnership adds. The bank holidays are compiled in, for 1990-01-01 to 2040-12-31
//! inclusive, from two sources:
//!
//! * the regular rules (`is_regular_bank_holiday`): New Year's Day, Good Friday, Easter Monday,
//!   the early May (first Monday), spring (last Monday of May) and summer (last Monday of August)
//!   bank holidays, Christmas Day and Boxing Day, each with its substitute weekday when it falls at a
//!   weekend;
//! * a table of one-off changes (`ONE_OFFS`): moved holidays (the regular date removed, the new one
//!   added) and extra ones (jubilees, the royal wedding, the state funeral, the coronation).
//!
//! Only the observed weekday is ever listed, never the weekend date it replaces. Any date outside
//! the covered range is an error ([`CalendarError::OutOfRange`]), never a guess.
//!
//! [`Calendar`] precomputes, once, a working-day flag and a running working-day count (the
//! *ordinal*) for every date in range, so [`Calendar::wd`], [`Calendar::ordinal`] and
//! [`Calendar::is_working_day`] are O(1) lookups and [`Calendar::add_working_days`] is a binary
//! search. `wd(a, b)` counts the working days d with a < d <= b (same day = 0), which is
//! `ordinal(b) - ordinal(a)`.
//!
//! The table is checked against `tests/data/calendar/ew_bank_holidays_1990_2040.txt` (generated with
//! python-holidays) in the integration tests.

use chrono::{Datelike, NaiveDate, Weekday};
use std::fmt;

/// First and last dates the compiled-in calendar covers.
pub const FIRST_YEAR: i32 = 1990;
pub const LAST_YEAR: i32 = 2040;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CalendarError {
    #[error("date {0} is outside the calendar's range {FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31")]
    OutOfRange(NaiveDate),
}

/// A date built at compile time: only ever called in `const` items, so an invalid date is a
/// compile error, never a run-time panic.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d,
        None => panic!("invalid date in the calendar's compiled-in tables"),
    }
}

/// First date covered (day 0 of the tables).
pub const FIRST_DATE: NaiveDate = ymd(FIRST_YEAR, 1, 1);
/// Last date covered.
pub const LAST_DATE: NaiveDate = ymd(LAST_YEAR, 12, 31);
/// The first date past the range: reported by [`Calendar::add_working_days`] when its result
/// would lie beyond [`LAST_DATE`] (the real result is unknowable).
const AFTER_LAST_DATE: NaiveDate = ymd(LAST_YEAR + 1, 1, 1);

/// How a one-off proclamation changes the regular set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    /// An extra bank holiday, or the new date of a moved one.
    Add,
    /// The regular date a moved holiday no longer falls on.
    Remove,
}

/// Every one-off change to the regular England and Wales bank holidays, 1990-2040. None is
/// announced after 2023. (2000-01-03 is not one: it is the ordinary substitute for New Year's Day
/// on a Saturday.)
const ONE_OFFS: &[(NaiveDate, Change, &str)] = &[
    (
        ymd(1995, 5, 1),
        Change::Remove,
        "early May moved to VE Day (50th anniversary)",
    ),
    (
        ymd(1995, 5, 8),
        Change::Add,
        "early May on VE Day (50th anniversary)",
    ),
    (ymd(1999, 12, 31), Change::Add, "Millennium"),
    (
        ymd(2002, 5, 27),
        Change::Remove,
        "spring holiday moved for the Golden Jubilee",
    ),
    (ymd(2002, 6, 3), Change::Add, "Golden Jubilee"),
    (ymd(2002, 6, 4), Change::Add, "spring holiday (moved)"),
    (
        ymd(2011, 4, 29),
        Change::Add,
        "wedding of Prince William and Catherine Middleton",
    ),
    (
        ymd(2012, 5, 28),
        Change::Remove,
        "spring holiday moved for the Diamond Jubilee",
    ),
    (ymd(2012, 6, 4), Change::Add, "spring holiday (moved)"),
    (ymd(2012, 6, 5), Change::Add, "Diamond Jubilee"),
    (
        ymd(2020, 5, 4),
        Change::Remove,
        "early May moved to VE Day (75th anniversary)",
    ),
    (
        ymd(2020, 5, 8),
        Change::Add,
        "early May on VE Day (75th anniversary)",
    ),
    (
        ymd(2022, 5, 30),
        Change::Remove,
        "spring holiday moved for the Platinum Jubilee",
    ),
    (ymd(2022, 6, 2), Change::Add, "spring holiday (moved)"),
    (ymd(2022, 6, 3), Change::Add, "Platinum Jubilee"),
    (
        ymd(2022, 9, 19),
        Change::Add,
        "state funeral of Queen Elizabeth II",
    ),
    (
        ymd(2023, 5, 8),
        Change::Add,
        "coronation of King Charles III",
    ),
];

/// Gregorian Easter Sunday (the anonymous Gregorian computus of Meeus, Jones and Butcher).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// True when the weekday `d` is a bank holiday under the regular rules (before one-off changes);
/// always false for a Saturday or Sunday, since only the observed weekday counts. `easter` is
/// Easter Sunday of `d`'s year.
fn is_regular_bank_holiday(d: NaiveDate, easter: Option<NaiveDate>) -> bool {
    use Weekday::{Mon, Sat, Sun, Tue};
    let (day, weekday) = (d.day(), d.weekday());
    if matches!(weekday, Sat | Sun) {
        return false;
    }
    // Good Friday is 2 days before Easter Sunday, Easter Monday 1 day after.
    if let Some(e) = easter {
        if matches!((d - e).num_days(), -2 | 1) {
            return true;
        }
    }
    match d.month() {
        // New Year's Day; on a Sunday the Monday 2nd, on a Saturday the Monday 3rd.
        1 => day == 1 || (weekday == Mon && (day == 2 || day == 3)),
        // Early May (first Monday, since 1978) and spring (last Monday) bank holidays.
        5 => weekday == Mon && (day <= 7 || day >= 25),
        // Summer bank holiday (last Monday of August).
        8 => weekday == Mon && day >= 25,
        // Christmas and Boxing Day on weekdays. Their substitutes: a Monday 27th (Christmas on a
        // Saturday); a Tuesday 27th (Christmas on Sunday, or Saturday); a Monday 28th (Boxing Day
        // on a Saturday); a Tuesday 28th (Christmas on a Saturday, Boxing Day on Sunday).
        12 => match day {
            25 | 26 => true,
            27 | 28 => matches!(weekday, Mon | Tue),
            _ => false,
        },
        _ => false,
    }
}

/// All England and Wales bank holidays in range, as observed (weekdays only), sorted.
fn bank_holidays() -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut easter = (FIRST_YEAR, easter_sunday(FIRST_YEAR));
    for d in FIRST_DATE.iter_days().take_while(|d| *d <= LAST_DATE) {
        if d.year() != easter.0 {
            easter = (d.year(), easter_sunday(d.year()));
        }
        let one_off = ONE_OFFS
            .iter()
            .find(|(date, _, _)| *date == d)
            .map(|(_, c, _)| *c);
        let holiday = match one_off {
            Some(Change::Add) => true,
            Some(Change::Remove) => false,
            None => is_regular_bank_holiday(d, easter.1),
        };
        if holiday {
            out.push(d);
        }
    }
    out
}

/// Index of `d` in the per-date tables (days since [`FIRST_DATE`]), or the range error.
fn index(d: NaiveDate) -> Result<usize, CalendarError> {
    if d < FIRST_DATE || d > LAST_DATE {
        return Err(CalendarError::OutOfRange(d));
    }
    usize::try_from((d - FIRST_DATE).num_days()).map_err(|_| CalendarError::OutOfRange(d))
}

/// A working-day calendar: Monday-Friday minus E&W bank holidays minus local closure days.
#[derive(Clone)]
pub struct Calendar {
    /// Non-working weekdays (bank holidays as observed, plus local closures), sorted, unique.
    off_days: Vec<NaiveDate>,
    /// `working[i]`: whether [`FIRST_DATE`] + i days is a working day.
    working: Vec<bool>,
    /// `ordinals[i]`: working days d with [`FIRST_DATE`] < d <= [`FIRST_DATE`] + i days.
    ordinals: Vec<i32>,
}

impl fmt::Debug for Calendar {
    /// Summarised: the per-date tables are ~18,600 entries long.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calendar")
            .field("range", &(FIRST_DATE, LAST_DATE))
            .field("non_working_weekdays", &self.off_days.len())
            .finish()
    }
}

impl Default for Calendar {
    /// The statutory England and Wales calendar ([`Calendar::england_and_wales`]).
    fn default() -> Self {
        Calendar::england_and_wales()
    }
}

impl Calendar {
    /// Builds the per-date tables from a sorted list of non-working weekdays, all in range.
    fn from_off_days(off_days: Vec<NaiveDate>) -> Calendar {
        let mut working = Vec::new();
        let mut ordinals = Vec::new();
        let mut off = off_days.iter().peekable();
        let mut count = 0i32;
        for d in FIRST_DATE.iter_days().take_while(|d| *d <= LAST_DATE) {
            let is_off = off.next_if(|o| **o == d).is_some();
            let is_working = !is_off && !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            // Day 0 is the base of the count: wd counts the days *after* a start date.
            if is_working && d != FIRST_DATE {
                count += 1;
            }
            working.push(is_working);
            ordinals.push(count);
        }
        Calendar {
            off_days,
            working,
            ordinals,
        }
    }

    /// The statutory England and Wales calendar, 1990-2040, no local closures.
    pub fn england_and_wales() -> Calendar {
        Calendar::from_off_days(bank_holidays())
    }

    /// Adds local closure days (e.g. a Christmas shutdown). Errors on a date out of range.
    /// A closure on a weekend or on a bank holiday changes nothing; repeats are harmless.
    pub fn with_closures(self, closures: &[NaiveDate]) -> Result<Calendar, CalendarError> {
        let mut off_days = self.off_days;
        for &d in closures {
            index(d)?;
            if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                off_days.push(d);
            }
        }
        off_days.sort_unstable();
        off_days.dedup();
        Ok(Calendar::from_off_days(off_days))
    }

    /// True when `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        let i = index(d)?;
        self.working
            .get(i)
            .copied()
            .ok_or(CalendarError::OutOfRange(d))
    }

    /// `wd(a, b)`: working days d with a < d <= b; negative (-wd(b, a)) when b < a.
    pub fn wd(&self, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        let (oa, ob) = (self.ordinal(a)?, self.ordinal(b)?);
        Ok(i64::from(ob) - i64::from(oa))
    }

    /// The n-th working day after `a` (n = 0 gives `a` itself): the earliest x with
    /// `wd(a, x) == n`. When that lies past 2040-12-31 the error carries 2041-01-01.
    pub fn add_working_days(&self, a: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let start = i64::from(self.ordinal(a)?);
        if n == 0 {
            return Ok(a);
        }
        let target = start + i64::from(n);
        // Ordinals never decrease, so the first index reaching the target is the answer.
        let i = self.ordinals.partition_point(|&o| i64::from(o) < target);
        if i >= self.ordinals.len() {
            return Err(CalendarError::OutOfRange(AFTER_LAST_DATE));
        }
        FIRST_DATE
            .checked_add_days(chrono::Days::new(i as u64))
            .ok_or(CalendarError::OutOfRange(AFTER_LAST_DATE))
    }

    /// Non-working weekdays in [from, to]: bank holidays as observed, plus local closures.
    /// Sorted, each once; empty when `to` is before `from`.
    pub fn holidays(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<NaiveDate>, CalendarError> {
        index(from)?;
        index(to)?;
        let lo = self.off_days.partition_point(|d| *d < from);
        let hi = self.off_days.partition_point(|d| *d <= to);
        Ok(self
            .off_days
            .get(lo..hi)
            .map(<[NaiveDate]>::to_vec)
            .unwrap_or_default())
    }

    /// Working-day ordinal: the number of working days d with FIRST < d <= `d`,
    /// so `wd(a, b) = ordinal(b) - ordinal(a)`.
    pub fn ordinal(&self, d: NaiveDate) -> Result<i32, CalendarError> {
        let i = index(d)?;
        self.ordinals
            .get(i)
            .copied()
            .ok_or(CalendarError::OutOfRange(d))
    }
}
