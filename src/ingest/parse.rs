//! Parsing one cell: dates, datetimes, months, yes/no, codes and numbers, in the shapes the data
//! contract accepts (data-contract.md sections 3 and 4). Anything else is an error that says why.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A datetime whose time may be unknown (a bare date in a datetime column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    pub at: NaiveDateTime,
    pub has_time: bool,
}

fn ymd(y: &str, m: &str, d: &str) -> Result<NaiveDate, String> {
    let (y, m, d): (i32, u32, u32) = match (y.parse(), m.parse(), d.parse()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return Err("not a date".into()),
    };
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| "impossible date".to_string())
}

fn all_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a cell into its date part and the optional time part after `T` or a space.
fn split_date_time(s: &str) -> (&str, Option<&str>) {
    match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    }
}

/// `YYYY-MM-DD` or `DD/MM/YYYY`; an impossible date (2024-11-31) is an error.
pub fn parse_date_only(s: &str) -> Result<NaiveDate, String> {
    if let Some((y, rest)) = s.split_once('-') {
        if let Some((m, d)) = rest.split_once('-') {
            if all_digits(y, 4) && all_digits(m, 2) && all_digits(d, 2) {
                return ymd(y, m, d);
            }
        }
    } else if let Some((d, rest)) = s.split_once('/') {
        if let Some((m, y)) = rest.split_once('/') {
            if all_digits(y, 4) && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) {
                return ymd(y, m, d);
            }
        }
    }
    Err("not a date (expected YYYY-MM-DD or DD/MM/YYYY)".into())
}

/// `HH:MM` or `HH:MM:SS` (one- or two-digit parts, as chrono's `%H:%M:%S` reads them), an
/// optional fraction of a second and `Z` ignored. Hand-parsed: the `strftime` parser was a
/// visible share of national-scale ingest.
fn parse_time(t: &str) -> Result<NaiveTime, String> {
    let t = t.trim_end_matches('Z');
    let t = t.split('.').next().unwrap_or(t);
    let bad = || "not a time (expected HH:MM or HH:MM:SS)".to_string();
    let num = |p: &str| -> Result<u32, String> {
        if (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let mut parts = t.split(':');
    let (h, m) = (
        num(parts.next().unwrap_or(""))?,
        num(parts.next().unwrap_or(""))?,
    );
    let sec = match parts.next() {
        Some(p) => num(p)?,
        None => 0,
    };
    if parts.next().is_some() {
        return Err(bad());
    }
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(bad)
}

/// A date column: a datetime keeps its date.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let (d, t) = split_date_time(s);
    let date = parse_date_only(d)?;
    if let Some(t) = t {
        parse_time(t)?;
    }
    Ok(date)
}

/// A datetime column: a bare date is accepted with the time unknown.
pub fn parse_datetime(s: &str) -> Result<When, String> {
    let (d, t) = split_date_time(s);
    let date = parse_date_only(d)?;
    match t {
        Some(t) if !t.is_empty() => Ok(When {
            at: date.and_time(parse_time(t)?),
            has_time: true,
        }),
        _ => Ok(When {
            at: date.and_time(NaiveTime::MIN),
            has_time: false,
        }),
    }
}

/// `YYYY-MM` (also `YYYY-MM-DD`, `MM/YYYY`, `DD/MM/YYYY`), as the first of the month.
pub fn parse_year_month(s: &str) -> Result<NaiveDate, String> {
    if let Ok(d) = parse_date(s) {
        return NaiveDate::from_ymd_opt(d.year_ce().1 as i32, d.month0() + 1, 1)
            .ok_or_else(|| "impossible month".into());
    }
    let (y, m) = if let Some((y, m)) = s.split_once('-') {
        (y, m)
    } else if let Some((m, y)) = s.split_once('/') {
        (y, m)
    } else {
        return Err("not a month (expected YYYY-MM)".into());
    };
    if !all_digits(y, 4) || !(1..=2).contains(&m.len()) {
        return Err("not a month (expected YYYY-MM)".into());
    }
    ymd(y, m, "1").map_err(|_| "impossible month".into())
}

use chrono::Datelike;

/// `Y/N/Yes/No/true/false/1/0`, any case.
pub fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "1" => Ok(true),
        "n" | "no" | "false" | "0" => Ok(false),
        _ => Err("not yes/no (expected Y/N/Yes/No/true/false/1/0)".into()),
    }
}

/// A code from `list`, matched case-insensitively; returns the listed spelling.
pub fn parse_code(s: &str, list: &[&'static str]) -> Result<&'static str, String> {
    list.iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(s))
        .ok_or_else(|| "unknown code".to_string())
}

/// A whole number within [min, max].
pub fn parse_int(s: &str, min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = s.parse().map_err(|_| "not a whole number".to_string())?;
    if v < min || v > max {
        return Err(format!("out of range {min}..={max}"));
    }
    Ok(v)
}
