//! `cdop-return`: what a CDOP submits nationally for a year (cdop.md section 3).
//!
//! [`write_return`] writes four CSV files into a folder:
//! - `child_level.csv`: one row per review completed in the year that can be returned: LA of
//!   residence, age band, sex, broad ethnicity, category, modifiable outcome, expected/unexpected,
//!   event, place of death, SCR/LCSPR flag, and the month (`YYYY-MM`) of death and of review
//!   completion. No exact date, no case id, no child id.
//! - `aggregate.csv`: reviews completed, ongoing reviews at year end, reviews with an SCR/LCSPR,
//!   notifications of residents who died in another area, and how many reviews were left out.
//! - `category_by_modifiable.csv`: reviews completed by category x modifiable outcome, with totals.
//! - `validation_report.csv`: every review (or death) left out of the return, where it is in
//!   its source file (file and row: these identify no child), why, and what to fix.
//!
//! A review left out is in none of the child-level file and the aggregate tables, and
//! [`ReturnSummary`] says how many. The return is a submission, not a publication: it is not
//! suppressed. The files are written aside and renamed into place, so a failed run leaves no
//! partial return.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{Datelike, NaiveDate};

use super::age::AgeBand;
use super::cases::{category_name, ethnicity_group, read_cases, Case};
use crate::period::FinYear;
use crate::schema::{CDOP_CATEGORY, MODIFIABLE};
use crate::store::Store;

/// The part of the return a left-out row would have counted in.
pub const PART_COMPLETED: &str = "reviews completed (child-level file and aggregate tables)";
pub const PART_ONGOING: &str = "ongoing reviews at year end";
pub const PART_ELSEWHERE: &str = "notifications of residents who died in another area";

/// What `write_return` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnSummary {
    pub year: FinYear,
    /// Reviews with a completion date in the year, as stored.
    pub reviews_completed_in_year: usize,
    /// Rows of the child-level file (= reviews completed in the aggregate tables).
    pub reviews_returned: usize,
    /// Reviews completed in the year left out (each listed in the validation report).
    pub reviews_left_out: usize,
    pub ongoing_at_year_end: usize,
    pub with_scr_or_lcspr: usize,
    pub died_in_another_area: usize,
    /// Deaths left out of the ongoing or died-elsewhere counts (listed in the validation report).
    pub other_deaths_left_out: usize,
    /// Rows of the validation report (one per problem).
    pub validation_rows: usize,
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

impl ReturnSummary {
    /// The lines for the terminal.
    pub fn render(&self) -> String {
        let mut s = format!("CDOP national return {}\n", self.year);
        s.push_str(&format!(
            "reviews completed in the year: {} ({} returned, {} left out: see validation_report.csv)\n",
            self.reviews_completed_in_year, self.reviews_returned, self.reviews_left_out
        ));
        s.push_str(&format!(
            "ongoing reviews at year end: {}\n",
            self.ongoing_at_year_end
        ));
        s.push_str(&format!(
            "reviews with an SCR/LCSPR: {}\n",
            self.with_scr_or_lcspr
        ));
        s.push_str(&format!(
            "notifications of residents who died in another area: {}\n",
            self.died_in_another_area
        ));
        if self.other_deaths_left_out > 0 {
            s.push_str(&format!(
                "deaths left out of the ongoing or died-elsewhere counts: {} (see validation_report.csv)\n",
                self.other_deaths_left_out
            ));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        for f in &self.files {
            s.push_str(&format!("wrote {}\n", f.display()));
        }
        s
    }
}

/// One row of the validation report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub source_file: String,
    pub source_row: String,
    pub part: &'static str,
    pub problem: &'static str,
    pub reason: String,
    pub fix: String,
}

fn problem(c: &Case, part: &'static str, code: &'static str, reason: String, fix: &str) -> Problem {
    Problem {
        source_file: c.source_file.clone(),
        source_row: c.source_pos.clone(),
        part,
        problem: code,
        reason,
        fix: fix.to_string(),
    }
}

/// Why a death cannot be counted at all: age not known or 18 and over.
fn scope_problems(c: &Case, part: &'static str) -> Vec<Problem> {
    match c.age_band() {
        AgeBand::NotKnown => vec![problem(
            c,
            part,
            "missing_age",
            "the age at death is not recorded or impossible, so the age band and whether the death is in scope cannot be decided".into(),
            "record age_at_death_days (whole days from birth to death)",
        )],
        AgeBand::OutOfScope => vec![problem(
            c,
            part,
            "out_of_scope_age_18_or_over",
            "the death is on or after the 18th birthday (age_at_death_days counted back from the date of death): not a child death, out of the CDOP's scope".into(),
            "check age_at_death_days and date_of_death; if both are right, remove the case from the CDOP return",
        )],
        _ => vec![],
    }
}

/// Every reason a review completed in the year cannot be returned (empty: it can be).
pub fn completed_problems(c: &Case) -> Vec<Problem> {
    let part = PART_COMPLETED;
    let mut out = scope_problems(c, part);
    if c.completed_before_death() {
        out.push(problem(
            c,
            part,
            "review_completed_before_death",
            "review_completed_date is before date_of_death".into(),
            "correct review_completed_date or date_of_death",
        ));
    }
    if c.category.is_none() {
        let reason = if c.has_flag("bad_value:category") {
            "the category of death was not a valid code (1-10) and was not stored".to_string()
        } else {
            "no category of death is recorded".to_string()
        };
        out.push(problem(
            c,
            part,
            "missing_category",
            reason,
            "record the one category (1-10) that best describes the underlying cause of death",
        ));
    }
    if c.modifiable.is_none() {
        let reason = if c.has_flag("bad_value:modifiable") {
            "the modifiable factors outcome was not a valid code and was not stored".to_string()
        } else {
            "no modifiable factors outcome is recorded".to_string()
        };
        out.push(problem(
            c,
            part,
            "missing_modifiable_outcome",
            reason,
            "record modifiable as IDENTIFIED, NOT_IDENTIFIED or INSUFFICIENT",
        ));
    }
    out
}

fn month(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn yn(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "Y",
        Some(false) => "N",
        None => "not known",
    }
}

/// The return's figures, worked out from the cases (no files).
#[derive(Debug, Clone, Default)]
pub struct ReturnData {
    /// The reviews returned, in child-level order.
    pub returned: Vec<Case>,
    pub left_out: usize,
    pub completed_in_year: usize,
    pub ongoing: usize,
    pub with_scr: usize,
    pub died_elsewhere: usize,
    pub other_left_out: usize,
    pub problems: Vec<Problem>,
}

/// Sorting key of a category code ("1".."10" numerically).
fn category_order(c: Option<&str>) -> u32 {
    c.and_then(|x| x.parse().ok()).unwrap_or(u32::MAX)
}

/// Works out the return for `year` from the deaths in the store.
pub fn return_data(cases: &[Case], year: FinYear) -> ReturnData {
    let (start, end) = (year.start(), year.end());
    let mut d = ReturnData::default();
    for c in cases {
        if c.review_completed_date
            .is_some_and(|r| r >= start && r <= end)
        {
            d.completed_in_year += 1;
            let p = completed_problems(c);
            if p.is_empty() {
                d.returned.push(c.clone());
            } else {
                d.left_out += 1;
                d.problems.extend(p);
            }
        }
        // Ongoing at year end: died and notified by the year end, no review completed by then.
        let ongoing = c.date_of_death <= end
            && c.notified_on() <= end
            && c.review_completed_date.is_none_or(|r| r > end);
        // Residents who died in another area, notified in the year.
        let elsewhere =
            c.died_outside_area == Some(true) && c.notified_on() >= start && c.notified_on() <= end;
        let mut left = false;
        for (counted, part) in [(ongoing, PART_ONGOING), (elsewhere, PART_ELSEWHERE)] {
            if !counted {
                continue;
            }
            let p = scope_problems(c, part);
            if p.is_empty() {
                if part == PART_ONGOING {
                    d.ongoing += 1;
                } else {
                    d.died_elsewhere += 1;
                }
            } else {
                left = true;
                d.problems.extend(p);
            }
        }
        if left {
            d.other_left_out += 1;
        }
    }
    d.with_scr = d
        .returned
        .iter()
        .filter(|c| c.scr_or_lcspr == Some(true))
        .count();
    d.returned.sort_by(|a, b| {
        let key = |c: &Case| {
            (
                c.review_completed_date.map(month),
                month(c.date_of_death),
                c.la_code.clone(),
                category_order(c.category.as_deref()),
                c.age_band(),
                c.modifiable.clone(),
                c.sex.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    d.problems.sort_by(|a, b| {
        (
            &a.source_file,
            row_number(&a.source_row),
            &a.source_row,
            a.part,
            a.problem,
        )
            .cmp(&(
                &b.source_file,
                row_number(&b.source_row),
                &b.source_row,
                b.part,
                b.problem,
            ))
    });
    d
}

fn row_number(pos: &str) -> u64 {
    pos.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The category x modifiable table of the returned reviews: one row per category 1-10 with
/// (identified, not identified, insufficient), in code order.
pub fn category_by_modifiable(returned: &[Case]) -> Vec<(&'static str, [u64; 3])> {
    CDOP_CATEGORY
        .iter()
        .map(|&cat| {
            let mut counts = [0u64; 3];
            for c in returned
                .iter()
                .filter(|c| c.category.as_deref() == Some(cat))
            {
                if let Some(i) = MODIFIABLE
                    .iter()
                    .position(|m| Some(*m) == c.modifiable.as_deref())
                {
                    counts[i] += 1;
                }
            }
            (cat, counts)
        })
        .collect()
}

/// The return's CSV text, through the one CSV writer (formula-like cells escaped).
fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>> {
    crate::csv_out::rows_to_bytes(header, rows)
}

/// Writes the national return for `year` into `out_dir` (created if needed). `reference` is the
/// data's reference date: a year that has not ended by it is written with a warning.
pub fn write_return(
    store: &Store,
    year: FinYear,
    reference: NaiveDate,
    out_dir: &Path,
) -> Result<ReturnSummary> {
    let cases = read_cases(&store.read_table("cdop_reviews")?)?;
    let d = return_data(&cases, year);
    let mut warnings = vec![];
    if reference < year.end() {
        warnings.push(format!(
            "the data's reference date ({reference}) is before the end of {year}: reviews completed and deaths notified after it are not in the return"
        ));
    }
    if cases.is_empty() {
        warnings.push("the store holds no child death reviews (give cdop_reviews.csv)".into());
    }

    let child_header = [
        "la_code",
        "age_band",
        "sex",
        "ethnicity",
        "category",
        "category_name",
        "modifiable",
        "expected",
        "event",
        "place_of_death",
        "scr_or_lcspr",
        "month_of_death",
        "month_review_completed",
    ];
    let child_rows: Vec<Vec<String>> = d
        .returned
        .iter()
        .map(|c| {
            let cat = c.category.clone().unwrap_or_default();
            vec![
                c.la_code.clone(),
                c.age_band().label().to_string(),
                c.sex_shown().to_string(),
                ethnicity_group(c.ethnicity.as_deref()).to_string(),
                cat.clone(),
                category_name(&cat).to_string(),
                c.modifiable.clone().unwrap_or_default(),
                c.expected_shown().to_string(),
                c.event.clone().unwrap_or_else(|| "not recorded".into()),
                c.place_of_death
                    .clone()
                    .unwrap_or_else(|| "not known".into()),
                yn(c.scr_or_lcspr).to_string(),
                month(c.date_of_death),
                c.review_completed_date.map(month).unwrap_or_default(),
            ]
        })
        .collect();

    let y = year.to_string();
    let agg_rows: Vec<Vec<String>> = [
        (
            "reviews_completed",
            d.returned.len(),
            "child death reviews completed (signed off by the CDOP) in the year, in scope and complete (the rows of child_level.csv)",
        ),
        (
            "ongoing_reviews_at_year_end",
            d.ongoing,
            "deaths of children under 18 notified by the year end with no review completed by then",
        ),
        (
            "reviews_with_scr_or_lcspr",
            d.with_scr,
            "reviews completed in the year whose death also had a serious case review or local child safeguarding practice review",
        ),
        (
            "notifications_died_in_another_area",
            d.died_elsewhere,
            "deaths of children under 18 normally resident in the area who died in another CDOP's area, notified in the year",
        ),
        (
            "reviews_completed_left_out",
            d.left_out,
            "reviews completed in the year that cannot be returned: not counted above (see validation_report.csv)",
        ),
        (
            "other_deaths_left_out",
            d.other_left_out,
            "deaths left out of the ongoing or died-elsewhere counts (see validation_report.csv)",
        ),
    ]
    .iter()
    .map(|(item, n, def)| vec![y.clone(), item.to_string(), n.to_string(), def.to_string()])
    .collect();

    let table = category_by_modifiable(&d.returned);
    let mut cat_rows: Vec<Vec<String>> = vec![];
    let mut tot = [0u64; 3];
    for (cat, counts) in &table {
        for i in 0..3 {
            tot[i] += counts[i];
        }
        cat_rows.push(vec![
            cat.to_string(),
            category_name(cat).to_string(),
            counts[0].to_string(),
            counts[1].to_string(),
            counts[2].to_string(),
            counts.iter().sum::<u64>().to_string(),
        ]);
    }
    cat_rows.push(vec![
        "total".into(),
        "All categories".into(),
        tot[0].to_string(),
        tot[1].to_string(),
        tot[2].to_string(),
        tot.iter().sum::<u64>().to_string(),
    ]);

    let val_rows: Vec<Vec<String>> = d
        .problems
        .iter()
        .map(|p| {
            vec![
                p.source_file.clone(),
                p.source_row.clone(),
                p.part.to_string(),
                p.problem.to_string(),
                p.reason.clone(),
                p.fix.clone(),
            ]
        })
        .collect();

    let files: Vec<(&str, Vec<u8>)> = vec![
        ("child_level.csv", csv_bytes(&child_header, &child_rows)?),
        (
            "aggregate.csv",
            csv_bytes(&["year", "item", "value", "definition"], &agg_rows)?,
        ),
        (
            "category_by_modifiable.csv",
            csv_bytes(
                &[
                    "category",
                    "category_name",
                    "identified",
                    "not_identified",
                    "insufficient",
                    "total",
                ],
                &cat_rows,
            )?,
        ),
        (
            "validation_report.csv",
            csv_bytes(
                &[
                    "source_file",
                    "source_row",
                    "part",
                    "problem",
                    "reason",
                    "fix",
                ],
                &val_rows,
            )?,
        ),
    ];
    crate::csv_out::create_dir(out_dir)?;
    // Write every file aside first, then rename them into place.
    let mut written = vec![];
    for (name, _) in &files {
        let path = out_dir.join(name);
        if path.is_dir() {
            return Err(crate::error::UserError::file(
                &path,
                "is a folder; the return writes a file of that name".into(),
            )
            .into());
        }
    }
    for (name, bytes) in &files {
        let tmp = out_dir.join(format!(".{name}.tmp"));
        crate::csv_out::write_bytes(&tmp, bytes)?;
    }
    for (name, _) in &files {
        let tmp = out_dir.join(format!(".{name}.tmp"));
        let path = out_dir.join(name);
        fs::rename(&tmp, &path)
            .map_err(|e| crate::error::UserError::file(&path, format!("cannot write: {e}")))?;
        written.push(path);
    }
    Ok(ReturnSummary {
        year,
        reviews_completed_in_year: d.completed_in_year,
        reviews_returned: d.returned.len(),
        reviews_left_out: d.left_out,
        ongoing_at_year_end: d.ongoing,
        with_scr_or_lcspr: d.with_scr,
        died_in_another_area: d.died_elsewhere,
        other_deaths_left_out: d.other_left_out,
        validation_rows: d.problems.len(),
        files: written,
        warnings,
    })
}
