//! Age at death, decided by birthday (cdop.md section 1): the birth date is the date of death
//! minus `age_at_death_days`; the n-th birthday is the same day and month n years on, and a
//! 29 February birthday falls on 1 March in a common year. A death on or after the 18th birthday
//! is out of the CDOP's scope.

use chrono::{Datelike, Duration, NaiveDate};

/// The national age bands (anchors-cdop.md section 1.3), plus out of scope and not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AgeBand {
    /// 0 to 27 days.
    Under28Days,
    /// 28 days to the day before the first birthday.
    Days28ToUnder1,
    Years1To4,
    Years5To9,
    Years10To14,
    Years15To17,
    /// On or after the 18th birthday: not a child death, out of scope.
    OutOfScope,
    /// The age could not be worked out.
    NotKnown,
}

impl AgeBand {
    /// The six in-scope bands, youngest first.
    pub const IN_SCOPE: [AgeBand; 6] = [
        AgeBand::Under28Days,
        AgeBand::Days28ToUnder1,
        AgeBand::Years1To4,
        AgeBand::Years5To9,
        AgeBand::Years10To14,
        AgeBand::Years15To17,
    ];

    /// The label used in every output.
    pub fn label(self) -> &'static str {
        match self {
            AgeBand::Under28Days => "under 28 days",
            AgeBand::Days28ToUnder1 => "28 days to under 1 year",
            AgeBand::Years1To4 => "1-4",
            AgeBand::Years5To9 => "5-9",
            AgeBand::Years10To14 => "10-14",
            AgeBand::Years15To17 => "15-17",
            AgeBand::OutOfScope => "18 or over (out of scope)",
            AgeBand::NotKnown => "not known",
        }
    }

    /// A death the CDOP reviews (under 18, age known).
    pub fn in_scope(self) -> bool {
        !matches!(self, AgeBand::OutOfScope | AgeBand::NotKnown)
    }
}

/// The birth date: the date of death minus the age in days (None when out of range).
pub fn birth_date(date_of_death: NaiveDate, age_at_death_days: i64) -> Option<NaiveDate> {
    if age_at_death_days < 0 {
        return None;
    }
    date_of_death.checked_sub_signed(Duration::try_days(age_at_death_days)?)
}

/// The `n`-th birthday of a child born on `birth` (29 February -> 1 March in a common year).
pub fn birthday(birth: NaiveDate, n: u32) -> Option<NaiveDate> {
    let year = birth.year().checked_add(i32::try_from(n).ok()?)?;
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
}

/// Completed years of age on `on` (birthday rule); None before birth.
pub fn age_years(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < birth {
        return None;
    }
    let mut n = (on.year() - birth.year()).max(0) as u32;
    while n > 0 && birthday(birth, n).is_none_or(|b| b > on) {
        n -= 1;
    }
    Some(n)
}

/// The age band of a death.
pub fn age_band(date_of_death: NaiveDate, age_at_death_days: i64) -> AgeBand {
    let Some(birth) = birth_date(date_of_death, age_at_death_days) else {
        return AgeBand::NotKnown;
    };
    if age_at_death_days < 28 {
        return AgeBand::Under28Days;
    }
    match age_years(birth, date_of_death) {
        None => AgeBand::NotKnown,
        Some(0) => AgeBand::Days28ToUnder1,
        Some(1..=4) => AgeBand::Years1To4,
        Some(5..=9) => AgeBand::Years5To9,
        Some(10..=14) => AgeBand::Years10To14,
        Some(15..=17) => AgeBand::Years15To17,
        Some(_) => AgeBand::OutOfScope,
    }
}
