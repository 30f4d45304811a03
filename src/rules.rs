//! Every validation rule in one place, each with its DfE number where it has one: the row
//! rules ingest applies to each row ([`row_flags`]), the cross-table rules the store applies when
//! it links the tables of an LA partition ([`link_checks`], with the pre-proceedings module's
//! rules in [`pre_proceedings`]), and where the others live.
//!
//! | flag | what | DfE | checked by |
//! |---|---|---|---|
//! | `missing_required` / `bad_value` | a required value empty or not of its column's kind rejects the row; an optional one is emptied and flagged (data-contract.md s.4) | - | `ingest::validate` (per cell) |
//! | `duplicate_key` | a second row with the same key in one file is rejected | - | `ingest::validate` |
//! | `uncoded_factor` | a CDOP factor that is not a code is stored as `UNCODED` | - | `ingest::validate` |
//! | `negative_interval` | an end before its start ([`INTERVALS`]) | - | [`row_flags`] |
//! | `closure_mismatch` | a closure date without a reason, or a reason without a date | 8805, 8810 | [`row_flags`] |
//! | `same_day_episode` | a second episode of a child with the same referral date in one return | - | `ingest::cin_xml`, `ingest::annex_a` |
//! | `icpc_recorded_twice` / `icpc_both_levels` | `DateOfInitialCPC` under both `CINdetails` and `Section47` | 2884 | `ingest::cin_xml` |
//! | `cin_without_referral` | an Annex A List 6 episode with no List 3 referral | - | `ingest::annex_a` |
//! | `no_final_line_break` | a CSV whose last row may have been cut short | - | `ingest::canonical_csv` |
//! | `orphan` | a row whose referral, plan or CDOP case is not in the store | - | [`link_checks`] |
//! | `assessment_before_referral` | an assessment starting before its referral ([`AFTER_REFERRAL`]) | 1103 | [`link_checks`] |
//! | `s47_before_referral` | an s47 enquiry starting before its referral ([`AFTER_REFERRAL`]) | 2889 | [`link_checks`] |
//! | `cpp_start_not_icpc` | a plan whose start is not the date of an ICPC of the same child | 2885 | [`link_checks`] |
//! | `overlapping_cpp` | a plan starting while another of the same child is open | 8935, 8940 | [`link_checks`] |
//! | `dfe_9005` | `PPStartDate` outside the return's reporting year (pre-proceedings; flags, never rejections: draft rules) | 9005 | [`pre_proceedings`] |
//! | `dfe_9006` | `LBPSentDate` outside the year or before `PPStartDate` | 9006 | [`pre_proceedings`] |
//! | `dfe_9007` | a letter before proceedings sent, `FGDMMeetingOffer` not recorded | 9007 | [`pre_proceedings`] |
//! | `dfe_9008` | `InitialPPMeetingDate` outside the year | 9008 | [`pre_proceedings`] |
//! | `dfe_9009` | `StepDecisionDate` outside the year or before `PPStartDate` | 9009 | [`pre_proceedings`] |
//! | `dfe_9010Q` | an FGDM meeting offered, `FGDMMeetingFac` not recorded | 9010Q | [`pre_proceedings`] |
//! | `dfe_9011` | `PPOutcome` not a code of CS131 (A, B, C) | 9011 | [`pre_proceedings`] |
//! | `dfe_9012` | `CourtAppDate` outside the year or before `StepDecisionDate` | 9012 | [`pre_proceedings`] |
//! | `dfe_9013` | `LetterInitCPDate` outside the year or before `CourtAppDate` | 9013 | [`pre_proceedings`] |
//! | `dfe_9015Q` | an initial pre-proceedings meeting held, `ReviewMeetingsCount` not recorded | 9015Q | [`pre_proceedings`] |
//! | `dfe_8995Q` | a 2026-27 or later CIN return with no pre-proceedings block for any child (a note and a flag on the return) | 8995Q | `ingest::cin_pp` |
//! | (subject `assessments.authorisation_date`) | an open assessment started more than 45 working days before the date | 8670Q | `queries/data_quality.sql` (a count per period, in `measures`) |
//! | (subject `s47_enquiries.icpc_date`) | an s47 with no ICPC, not marked not required, started more than 15 working days before the date | 8675Q | `queries/data_quality.sql` (a count per period, in `measures`) |
//!
//! The DfE queries 8670Q and 8675Q depend on the date they are asked at, so they stay SQL
//! measures beside the others; everything else is here or names this module.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;

use crate::schema;
use crate::table::Issue;

pub mod pre_proceedings;

// ---- row rules ----

/// One value of a row as the row rules see it.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// Empty (absent, or emptied as a bad value).
    Null,
    Date(NaiveDate),
    /// A datetime, and whether its time was known.
    DateTime(NaiveDateTime, bool),
    /// Any other value.
    Other,
}

impl Value {
    fn date(self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(d),
            Value::DateTime(at, _) => Some(at.date()),
            _ => None,
        }
    }
    fn is_null(self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Intervals that must not be negative: (table, end, start). A row whose end comes before its
/// start is flagged `negative_interval` on the end column, and is out of every measure that uses
/// that interval. Two datetimes with their times are compared to the minute; otherwise dates.
pub const INTERVALS: &[(&str, &str, &str)] = &[
    ("contacts", "decision_at", "received_at"),
    ("referrals", "decision_at", "received_at"),
    ("referrals", "closure_date", "received_at"),
    ("early_help", "end_date", "start_date"),
    ("assessments", "authorisation_date", "start_date"),
    ("s47_enquiries", "icpc_date", "start_date"),
    ("cp_plans", "end_date", "start_date"),
    ("cdop_reviews", "review_completed_date", "date_of_death"),
    ("cdop_reviews", "notified_date", "date_of_death"),
];

/// Columns recorded together or not at all: (table, the two columns, flag on the second,
/// reason).
pub const TOGETHER: &[(&str, [&str; 2], &str, &str)] = &[(
    "referrals",
    ["closure_date", "closure_reason"],
    "closure_mismatch",
    "closure date and reason must be recorded together (DfE rules 8805/8810)",
)];

/// The row rules' flags on one row of `table`: (column, flag, reason), in rule order. `get`
/// gives the row's value of a column.
pub fn row_flags(
    table: &str,
    get: impl Fn(&str) -> Value,
) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![];
    for &(_, end, start) in INTERVALS.iter().filter(|r| r.0 == table) {
        let negative = match (get(end), get(start)) {
            (Value::DateTime(e, true), Value::DateTime(s, true)) => e < s,
            (e, s) => match (e.date(), s.date()) {
                (Some(e), Some(s)) => e < s,
                _ => false,
            },
        };
        if negative {
            out.push((end, "negative_interval", format!("{end} is before {start}")));
        }
    }
    for &(_, [a, b], flag, reason) in TOGETHER.iter().filter(|r| r.0 == table) {
        if get(a).is_null() != get(b).is_null() {
            out.push((b, flag, reason.to_string()));
        }
    }
    out
}

// ---- cross-table rules ----

/// Rows that must not start before their referral: (table, date column, flag, reason).
pub const AFTER_REFERRAL: &[(&str, &str, &str, &str)] = &[
    (
        "assessments",
        "start_date",
        "assessment_before_referral",
        "assessment start is before the referral (DfE rule 1103)",
    ),
    (
        "s47_enquiries",
        "start_date",
        "s47_before_referral",
        "s47 start is before the referral (DfE rule 2889)",
    ),
];

/// Checks that need two tables: orphans (a row whose referral, plan or CDOP case is not in the
/// store), the DfE date-order rules 1103 (assessment start >= referral) and 2889
/// (s47 start >= referral), 2885 and 8935/8940 on plans, and the pre-proceedings rules
/// 9005-9015Q ([`pre_proceedings::checks`], one table but run here so that they see the
/// partition as committed).
pub fn link_checks(merged: &BTreeMap<&'static str, DataFrame>) -> Result<Vec<Issue>> {
    let mut out = vec![];
    for spec in schema::TABLES {
        let Some(parent) = spec.parent else { continue };
        let (Some(child), Some(par)) = (merged.get(spec.name), merged.get(parent.table)) else {
            continue;
        };
        let mut keys = vec![parent.column];
        if spec.column("la_code").is_some()
            && schema::table(parent.table).is_some_and(|p| p.column("la_code").is_some())
        {
            keys.insert(0, "la_code");
        }
        let k: Vec<Expr> = keys.iter().map(|c| col(*c)).collect();
        let orphans = child
            .clone()
            .lazy()
            .join(
                par.clone()
                    .lazy()
                    .select(k.clone())
                    .unique(None, UniqueKeepStrategy::Any),
                k.clone(),
                k.clone(),
                JoinArgs::new(JoinType::Anti),
            )
            .select([col("source_file"), col("source_pos")])
            .collect()?;
        out.extend(issue_rows(
            spec.name,
            &orphans,
            parent.column,
            "orphan",
            &format!(
                "its {} is not in the store (or was rejected)",
                parent.table.trim_end_matches('s')
            ),
        )?);
    }
    for &(table, date_col, flag, rule) in AFTER_REFERRAL {
        let (Some(child), Some(refs)) = (merged.get(table), merged.get("referrals")) else {
            continue;
        };
        let k = [col("la_code"), col("referral_id")];
        let bad = child
            .clone()
            .lazy()
            .join(
                refs.clone().lazy().select([
                    col("la_code"),
                    col("referral_id"),
                    col("received_at").cast(DataType::Date).alias("__ref_date"),
                ]),
                k.clone(),
                k.clone(),
                JoinArgs::new(JoinType::Inner),
            )
            .filter(col(date_col).lt(col("__ref_date")))
            .select([col("source_file"), col("source_pos")])
            .collect()?;
        out.extend(issue_rows(table, &bad, date_col, flag, rule)?);
    }
    if let (Some(plans), Some(s47)) = (merged.get("cp_plans"), merged.get("s47_enquiries")) {
        out.extend(plan_checks(plans, s47)?);
    }
    // The DfE's draft pre-proceedings rules 9005-9015Q.
    if let Some(pp) = merged.get("pre_proceedings") {
        out.extend(pre_proceedings::checks(pp)?);
    }
    Ok(out)
}

/// DfE rule 2885 (a plan starts on the date of the conference that made it: an ICPC of the same
/// child in the same LA on the plan's start date) and rules 8935/8940 (a child's plans must not
/// overlap: a plan starting while an earlier one of the same child is still open).
fn plan_checks(plans: &DataFrame, s47: &DataFrame) -> Result<Vec<Issue>> {
    let k = [col("la_code"), col("child_id"), col("start_date")];
    let icpcs = s47
        .clone()
        .lazy()
        .filter(col("icpc_date").is_not_null())
        .select([
            col("la_code"),
            col("child_id"),
            col("icpc_date").alias("start_date"),
        ])
        .unique(None, UniqueKeepStrategy::Any);
    let no_icpc = plans
        .clone()
        .lazy()
        .join(icpcs, k.clone(), k.clone(), JoinArgs::new(JoinType::Anti))
        .select([col("source_file"), col("source_pos")])
        .collect()?;
    let mut out = issue_rows(
        "cp_plans",
        &no_icpc,
        "start_date",
        "cpp_start_not_icpc",
        "no ICPC of this child on the plan's start date (DfE rule 2885)",
    )?;
    // A plan overlaps when an earlier plan of the same child (an earlier start, or the same start
    // and a smaller id: of two plans starting the same day only the later id is flagged) is still
    // open on its start date (no end, or an end after it): the running maximum of the earlier
    // plans' ends passes its start. By sorting, not a self-join on the child, whose cost is the
    // square of a child's plans (a malformed return with 3,000 copies of one child took 2.7 GB).
    let open = lit(i32::MAX).cast(DataType::Date);
    let overlapping = plans
        .clone()
        .lazy()
        .filter(col("start_date").is_not_null())
        .sort_by_exprs(
            [
                col("la_code"),
                col("child_id"),
                col("start_date"),
                col("plan_id"),
            ],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(
            col("end_date")
                .fill_null(open)
                .cum_max(false)
                .shift(lit(1))
                .over([col("la_code"), col("child_id")])?
                .alias("__open_until"),
        )
        .filter(col("__open_until").gt(col("start_date")))
        .select([col("source_file"), col("source_pos")])
        .unique_stable(None, UniqueKeepStrategy::First)
        .collect()?;
    out.extend(issue_rows(
        "cp_plans",
        &overlapping,
        "start_date",
        "overlapping_cpp",
        "starts while another plan of the same child is open (DfE rules 8935/8940)",
    )?);
    Ok(out)
}

fn issue_rows(
    table: &'static str,
    df: &DataFrame,
    column: &str,
    flag: &str,
    reason: &str,
) -> Result<Vec<Issue>> {
    let files = df.column("source_file")?.str()?.clone();
    let pos = df.column("source_pos")?.str()?.clone();
    Ok(files
        .iter()
        .zip(pos.iter())
        .map(|(f, p)| Issue {
            table,
            source_file: f.unwrap_or_default().to_string(),
            position: p.unwrap_or_default().to_string(),
            column: column.to_string(),
            value: String::new(),
            flag: flag.to_string(),
            reason: reason.to_string(),
        })
        .collect())
}
