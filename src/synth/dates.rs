//! Dates for the generator: the run's time window, working-day helpers over the statutory calendar,
//! and fast fixed-width formatting (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`, `YYYY-MM`).

use anyhow::{anyhow, Result};
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike};

use crate::calendar::Calendar;

/// The time frame of one run.
#[derive(Debug, Clone)]
pub struct Window {
    /// First financial year's starting calendar year (2021 => 2021-22).
    pub first_year: i32,
    /// Number of financial years.
    pub years: u32,
    /// Start of the simulated history (three years before `start`): journeys begin here so that
    /// re-referrals, earlier plans and open cases are already in steady state when the window opens.
    pub sim_start: NaiveDate,
    /// 1 April of the year before the window: older records of the children written are left out.
    pub history_start: NaiveDate,
    /// 1 April of the first financial year.
    pub start: NaiveDate,
    /// The data's reference (extract) date: 31 March of the last financial year.
    pub reference: NaiveDate,
}

impl Window {
    pub fn new(first_year: i32, years: u32) -> Result<Window> {
        let start = ymd(first_year, 4, 1)?;
        let reference = ymd(first_year + years as i32, 3, 31)?;
        let sim_start = ymd(first_year - 3, 4, 1)?;
        let history_start = ymd(first_year - 1, 4, 1)?;
        Ok(Window {
            first_year,
            years,
            sim_start,
            history_start,
            start,
            reference,
        })
    }

    /// Census years as (year end, 1 April start, 31 March reference date), oldest first.
    pub fn census_years(&self) -> Result<Vec<(i32, NaiveDate, NaiveDate)>> {
        (0..self.years as i32)
            .map(|i| {
                let end_year = self.first_year + i + 1;
                Ok((end_year, ymd(end_year - 1, 4, 1)?, ymd(end_year, 3, 31)?))
            })
            .collect()
    }

    /// True when `d` falls inside the window.
    pub fn contains(&self, d: NaiveDate) -> bool {
        d >= self.start && d <= self.reference
    }
}

/// A calendar date, or an error naming it.
pub fn ymd(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| anyhow!("invalid date {y:04}-{m:02}-{d:02}"))
}

/// `d` plus `n` calendar days.
pub fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d + Duration::days(n)
}

/// `d` plus `m` calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb).
pub fn add_months(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_add_months(Months::new(m)).unwrap_or(d)
}

/// `d` at `secs` seconds after midnight.
pub fn at(d: NaiveDate, secs: u32) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::seconds(secs.min(86_399) as i64)
}

/// 1 April 2022: the first day codes `5D` (referral source) and `RC9` (closure reason) exist.
pub fn census_2023_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 4, 1).unwrap_or_default()
}

/// Working-day helpers bound to a calendar.
#[derive(Clone, Copy)]
pub struct Clock<'a> {
    pub cal: &'a Calendar,
}

impl<'a> Clock<'a> {
    pub fn is_wd(&self, d: NaiveDate) -> Result<bool> {
        Ok(self.cal.is_working_day(d)?)
    }
    /// The `n`-th working day after `d` (`n = 0` gives `d`).
    pub fn add_wd(&self, d: NaiveDate, n: u32) -> Result<NaiveDate> {
        Ok(self.cal.add_working_days(d, n)?)
    }
    /// `d` if it is a working day, else the next one.
    pub fn on_or_after(&self, d: NaiveDate) -> Result<NaiveDate> {
        if self.is_wd(d)? {
            Ok(d)
        } else {
            self.add_wd(d, 1)
        }
    }
    /// `d` if it is a working day, else the previous one.
    pub fn on_or_before(&self, d: NaiveDate) -> Result<NaiveDate> {
        let mut x = d;
        for _ in 0..15 {
            if self.is_wd(x)? {
                return Ok(x);
            }
            x = add_days(x, -1);
        }
        Ok(x)
    }
    /// The `n`-th working day before `d`.
    pub fn sub_wd(&self, d: NaiveDate, n: u32) -> Result<NaiveDate> {
        let mut x = d;
        let mut left = n;
        while left > 0 {
            x = add_days(x, -1);
            if self.is_wd(x)? {
                left -= 1;
            }
        }
        Ok(x)
    }
}

fn put2(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

fn put4(out: &mut [u8], v: i32) {
    let v = v.clamp(0, 9999) as u32;
    out[0] = b'0' + (v / 1000 % 10) as u8;
    out[1] = b'0' + (v / 100 % 10) as u8;
    out[2] = b'0' + (v / 10 % 10) as u8;
    out[3] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DD`.
pub fn fmt_date(d: NaiveDate) -> [u8; 10] {
    let mut b = *b"0000-00-00";
    put4(&mut b[0..4], d.year());
    put2(&mut b[5..7], d.month());
    put2(&mut b[8..10], d.day());
    b
}

/// `YYYY-MM-DDTHH:MM:SS`.
pub fn fmt_datetime(t: NaiveDateTime) -> [u8; 19] {
    let mut b = *b"0000-00-00T00:00:00";
    b[0..10].copy_from_slice(&fmt_date(t.date()));
    put2(&mut b[11..13], t.hour());
    put2(&mut b[14..16], t.minute());
    put2(&mut b[17..19], t.second());
    b
}

/// `YYYY-MM`.
pub fn fmt_month(d: NaiveDate) -> [u8; 7] {
    let mut b = *b"0000-00";
    put4(&mut b[0..4], d.year());
    put2(&mut b[5..7], d.month());
    b
}

/// `fmt_date` as a `String` (for the XML writer).
pub fn date_string(d: NaiveDate) -> String {
    String::from_utf8_lossy(&fmt_date(d)).into_owned()
}
