//! The child deaths of the store (`cdop_reviews`) read into Rust, with what every CDOP figure
//! derives from them: the age band by birthday ([`super::age`]), whether the death is in scope,
//! the broad ethnic group, the IMD quintile, the date notified (or of death), and the time from
//! death to review completion. [`base_frame`] is the same as a table, registered as the view
//! `cdop_base` for `queries/cdop.sql`; the national return ([`super::national_return`]) reads the
//! cases directly, so the measures and the return agree.

use anyhow::Result;
use chrono::{Datelike, Months, NaiveDate};
use polars::prelude::*;

use super::age::{self, AgeBand};
use crate::dates::{epoch_days, from_epoch_days};

/// The default bands of time from death to review completion, in whole calendar months: under 6,
/// 6 to under 12, 12 to under 24, 24 or more (cdop.md section 2: configurable).
pub const REVIEW_TIME_BANDS: &[u32] = &[6, 12, 24];

/// One death notified to the CDOP, as stored, with its derived fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub case_id: String,
    pub cdop_code: String,
    pub la_code: String,
    pub date_of_death: NaiveDate,
    pub notified_date: Option<NaiveDate>,
    pub age_at_death_days: Option<i64>,
    pub sex: Option<String>,
    pub ethnicity: Option<String>,
    pub imd_decile: Option<i64>,
    pub expected: Option<bool>,
    pub category: Option<String>,
    pub modifiable: Option<String>,
    pub place_of_death: Option<String>,
    pub event: Option<String>,
    pub review_completed_date: Option<NaiveDate>,
    pub scr_or_lcspr: Option<bool>,
    pub died_outside_area: Option<bool>,
    pub child_id: Option<String>,
    /// Where the row came from: the file name and the position in it (e.g. `line 7`).
    pub source_file: String,
    pub source_pos: String,
    /// The ingest's data-quality flags on the row (`flag:column;...`).
    pub dq_flags: Option<String>,
}

impl Case {
    pub fn age_band(&self) -> AgeBand {
        match self.age_at_death_days {
            Some(d) => age::age_band(self.date_of_death, d),
            None => AgeBand::NotKnown,
        }
    }
    pub fn in_scope(&self) -> bool {
        self.age_band().in_scope()
    }
    /// The notification date, else the date of death (the cohort of deaths notified).
    pub fn notified_on(&self) -> NaiveDate {
        self.notified_date.unwrap_or(self.date_of_death)
    }
    pub fn completed_before_death(&self) -> bool {
        self.review_completed_date
            .is_some_and(|r| r < self.date_of_death)
    }
    pub fn ethnicity_group(&self) -> &'static str {
        ethnicity_group(self.ethnicity.as_deref())
    }
    /// IMD quintile `1`..`5` (deciles 1-2 = quintile 1, most deprived), or `not known`.
    pub fn imd_quintile(&self) -> String {
        match self.imd_decile {
            Some(d @ 1..=10) => ((d + 1) / 2).to_string(),
            _ => "not known".into(),
        }
    }
    /// Days from death to review completion (None when not completed or completed before death).
    pub fn days_to_review(&self) -> Option<i64> {
        let r = self.review_completed_date?;
        (r >= self.date_of_death).then(|| (r - self.date_of_death).num_days())
    }
    /// Whole calendar months from death to review completion (a month from 31 January ends on the
    /// last day of February).
    pub fn months_to_review(&self) -> Option<u32> {
        let r = self.review_completed_date?;
        whole_months(self.date_of_death, r)
    }
    pub fn sex_shown(&self) -> &str {
        self.sex.as_deref().unwrap_or("U")
    }
    pub fn expected_shown(&self) -> &'static str {
        match self.expected {
            Some(true) => "expected",
            Some(false) => "unexpected",
            None => "not known",
        }
    }
    pub fn has_flag(&self, flag_column: &str) -> bool {
        self.dq_flags
            .as_deref()
            .is_some_and(|f| f.split(';').any(|x| x == flag_column))
    }
}

/// Whole calendar months from `from` to `to` (None when `to` is before `from`).
pub fn whole_months(from: NaiveDate, to: NaiveDate) -> Option<u32> {
    if to < from {
        return None;
    }
    let mut m =
        ((to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32).max(0) as u32;
    while m > 0
        && from
            .checked_add_months(Months::new(m))
            .is_none_or(|d| d > to)
    {
        m -= 1;
    }
    Some(m)
}

/// The band label of a time in whole months, for band boundaries `bounds` (ascending months).
pub fn review_time_band(months: u32, bounds: &[u32]) -> String {
    let mut lower: Option<u32> = None;
    for &b in bounds {
        if months < b {
            return match lower {
                None => format!("under {b} months"),
                Some(l) => format!("{l} to under {b} months"),
            };
        }
        lower = Some(b);
    }
    match lower {
        Some(l) => format!("{l} months or more"),
        None => "any time".into(),
    }
}

/// The broad ethnic groups of national tables (cdop.md section 1) from a CIN ethnicity code.
pub fn ethnicity_group(code: Option<&str>) -> &'static str {
    match code.unwrap_or("") {
        "WBRI" | "WIRI" | "WIRT" | "WOTH" | "WROM" => "White",
        "MWBC" | "MWBA" | "MWAS" | "MOTH" => "Mixed",
        "AIND" | "APKN" | "ABAN" | "AOTH" => "Asian or Asian British",
        "BCRB" | "BAFR" | "BOTH" => "Black or Black British",
        "CHNE" => "Chinese",
        "OOTH" => "Other",
        _ => "Not known",
    }
}

/// The name of a category of death (cdop.md section 1).
pub fn category_name(code: &str) -> &'static str {
    match code {
        "1" => "Deliberately inflicted injury, abuse or neglect",
        "2" => "Suicide or deliberate self-inflicted harm",
        "3" => "Trauma and other external factors",
        "4" => "Malignancy",
        "5" => "Acute medical or surgical condition",
        "6" => "Chronic medical condition",
        "7" => "Chromosomal, genetic and congenital anomalies",
        "8" => "Perinatal/neonatal event",
        "9" => "Infection",
        "10" => "Sudden unexpected, unexplained death",
        _ => "Not recorded",
    }
}

fn strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

fn dates(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>> {
    let c = df
        .column(name)?
        .cast(&DataType::Date)?
        .cast(&DataType::Int32)?;
    Ok(c.i32()?.iter().map(|v| v.map(from_epoch_days)).collect())
}

fn ints(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().collect())
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    let c = df.column(name)?.cast(&DataType::Boolean)?;
    Ok(c.bool()?.iter().collect())
}

/// Reads the store's `cdop_reviews` table (rows without a date of death cannot exist: it is
/// required).
pub fn read_cases(df: &DataFrame) -> Result<Vec<Case>> {
    let n = df.height();
    if n == 0 {
        return Ok(vec![]);
    }
    let case_id = strs(df, "case_id")?;
    let cdop_code = strs(df, "cdop_code")?;
    let la_code = strs(df, "la_code")?;
    let dod = dates(df, "date_of_death")?;
    let notified = dates(df, "notified_date")?;
    let age = ints(df, "age_at_death_days")?;
    let sex = strs(df, "sex")?;
    let eth = strs(df, "ethnicity")?;
    let imd = ints(df, "imd_decile")?;
    let expected = bools(df, "expected")?;
    let category = strs(df, "category")?;
    let modifiable = strs(df, "modifiable")?;
    let place = strs(df, "place_of_death")?;
    let event = strs(df, "event")?;
    let completed = dates(df, "review_completed_date")?;
    let scr = bools(df, "scr_or_lcspr")?;
    let outside = bools(df, "died_outside_area")?;
    let child = strs(df, "child_id")?;
    let source_file = strs(df, "source_file")?;
    let source_pos = strs(df, "source_pos")?;
    let dq = match df.column("dq_flags") {
        Ok(_) => strs(df, "dq_flags")?,
        Err(_) => vec![None; n],
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let Some(date_of_death) = dod[i] else {
            continue;
        };
        out.push(Case {
            case_id: case_id[i].clone().unwrap_or_default(),
            cdop_code: cdop_code[i].clone().unwrap_or_default(),
            la_code: la_code[i].clone().unwrap_or_default(),
            date_of_death,
            notified_date: notified[i],
            age_at_death_days: age[i],
            sex: sex[i].clone(),
            ethnicity: eth[i].clone(),
            imd_decile: imd[i],
            expected: expected[i],
            category: category[i].clone(),
            modifiable: modifiable[i].clone(),
            place_of_death: place[i].clone(),
            event: event[i].clone(),
            review_completed_date: completed[i],
            scr_or_lcspr: scr[i],
            died_outside_area: outside[i],
            child_id: child[i].clone(),
            source_file: source_file[i].clone().unwrap_or_default(),
            source_pos: source_pos[i].clone().unwrap_or_default(),
            dq_flags: dq[i].clone(),
        });
    }
    Ok(out)
}

/// The view `cdop_base`: one row per death with the columns `queries/cdop.sql` reads.
///
/// `case_id, cdop_code, la_code, child_id, date_of_death, notified_date, notified_on,
/// review_completed_date` as stored (`notified_on` = notified date, else date of death);
/// `age_band` (label), `in_scope` (under 18 and age known), `sex` (M/F/U), `ethnicity_group`,
/// `imd_quintile` (1-5 or `not known`), `expected` (expected/unexpected/not known), `category`
/// and `modifiable` (as stored, null when not recorded), `place_of_death` (or `not known`),
/// `event` (or `not recorded`), `scr_or_lcspr` (Y/N/not known), `died_outside_area` (Y/N/not
/// known), `completed_before_death`, `days_to_review`, `months_to_review`, `review_time_band`.
pub fn base_frame(cases: &[Case], bands: &[u32]) -> Result<DataFrame> {
    let s = |name: &str, v: Vec<Option<String>>| -> Column { Series::new(name.into(), v).into() };
    let d = |name: &str, v: Vec<Option<NaiveDate>>| -> Result<Column> {
        let days: Vec<Option<i32>> = v.into_iter().map(|x| x.map(epoch_days)).collect();
        Ok(Series::new(name.into(), days).cast(&DataType::Date)?.into())
    };
    let yn = |v: Option<bool>| match v {
        Some(true) => "Y",
        Some(false) => "N",
        None => "not known",
    };
    let col_s = |f: &dyn Fn(&Case) -> Option<String>| cases.iter().map(f).collect::<Vec<_>>();
    let columns = vec![
        s("case_id", col_s(&|c| Some(c.case_id.clone()))),
        s("cdop_code", col_s(&|c| Some(c.cdop_code.clone()))),
        s("la_code", col_s(&|c| Some(c.la_code.clone()))),
        s("child_id", col_s(&|c| c.child_id.clone())),
        d(
            "date_of_death",
            cases.iter().map(|c| Some(c.date_of_death)).collect(),
        )?,
        d(
            "notified_date",
            cases.iter().map(|c| c.notified_date).collect(),
        )?,
        d(
            "notified_on",
            cases.iter().map(|c| Some(c.notified_on())).collect(),
        )?,
        d(
            "review_completed_date",
            cases.iter().map(|c| c.review_completed_date).collect(),
        )?,
        s(
            "age_band",
            col_s(&|c| Some(c.age_band().label().to_string())),
        ),
        Series::new(
            "in_scope".into(),
            cases.iter().map(Case::in_scope).collect::<Vec<_>>(),
        )
        .into(),
        s("sex", col_s(&|c| Some(c.sex_shown().to_string()))),
        s(
            "ethnicity_group",
            col_s(&|c| Some(c.ethnicity_group().to_string())),
        ),
        s("imd_quintile", col_s(&|c| Some(c.imd_quintile()))),
        s("expected", col_s(&|c| Some(c.expected_shown().to_string()))),
        s("category", col_s(&|c| c.category.clone())),
        s("modifiable", col_s(&|c| c.modifiable.clone())),
        s(
            "place_of_death",
            col_s(&|c| {
                Some(
                    c.place_of_death
                        .clone()
                        .unwrap_or_else(|| "not known".into()),
                )
            }),
        ),
        s(
            "event",
            col_s(&|c| Some(c.event.clone().unwrap_or_else(|| "not recorded".into()))),
        ),
        s(
            "scr_or_lcspr",
            col_s(&|c| Some(yn(c.scr_or_lcspr).to_string())),
        ),
        s(
            "died_outside_area",
            col_s(&|c| Some(yn(c.died_outside_area).to_string())),
        ),
        Series::new(
            "completed_before_death".into(),
            cases
                .iter()
                .map(Case::completed_before_death)
                .collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "days_to_review".into(),
            cases.iter().map(Case::days_to_review).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "months_to_review".into(),
            cases
                .iter()
                .map(|c| c.months_to_review().map(|m| m as i64))
                .collect::<Vec<_>>(),
        )
        .into(),
        s(
            "review_time_band",
            col_s(&|c| c.months_to_review().map(|m| review_time_band(m, bands))),
        ),
    ];
    Ok(DataFrame::new(cases.len(), columns)?)
}

/// `cdop_base` straight from the store's `cdop_reviews` table, with the default bands.
pub fn base_from_reviews(reviews: &DataFrame) -> Result<DataFrame> {
    base_frame(&read_cases(reviews)?, REVIEW_TIME_BANDS)
}
