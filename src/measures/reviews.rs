//! `cpp_review_timely`: child protection review conferences held on time (Working Together 2013,
//! seeds/003 L2027: "The first review should be held within 3 months of the initial conference
//! and further reviews at intervals of no more than 6 months for as long as the child remains
//! subject of a child protection plan").
//!
//! The chain of due dates depends on when each review was actually held, which SQL cannot say
//! clearly, so it is walked here (measures.md section 4, "Review chain"):
//! - the first review is due 3 calendar months after the plan start, each later one 6 calendar
//!   months after the review held before it; a due date on a day the month lacks clamps to the
//!   month's last day (30 November 2023 + 3 months = 29 February 2024); a weekend or holiday due
//!   date is still that day;
//! - a review due by the reference date and not held by then is late, and the chain restarts from
//!   the next review held;
//! - a plan that ends before a due date owes no review on it; reviews dated outside the plan are
//!   ignored.
//! A plan counts when a review fell due in the period (and by the reference date); it is on time
//! when every such review was held by its due date. A due date in the period but after the
//! reference date makes the plan `pending`.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{Months, NaiveDate};
use polars::prelude::*;

use crate::dates::from_epoch_days;

/// One due review of a plan's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub due: NaiveDate,
    /// The review that met it (held on or before `due`), if any.
    pub on_time: bool,
}

/// Adds calendar months, clamping to the month's last day.
pub fn add_months(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_add_months(Months::new(m))
        .unwrap_or(NaiveDate::MAX)
}

/// The due dates of a plan's reviews up to `until` (inclusive), and whether each was met.
/// `reviews` need not be sorted; those outside [start, end] are ignored.
pub fn review_chain(
    start: NaiveDate,
    end: Option<NaiveDate>,
    reviews: &[NaiveDate],
    until: NaiveDate,
) -> Vec<Due> {
    let mut held: Vec<NaiveDate> = reviews
        .iter()
        .copied()
        .filter(|r| *r >= start && end.is_none_or(|e| *r <= e))
        .collect();
    held.sort_unstable();
    held.dedup();
    let mut out = vec![];
    let mut due = add_months(start, 3);
    let mut after = start; // reviews strictly after this date are candidates for the next due
    loop {
        if due > until || end.is_some_and(|e| e < due) {
            break;
        }
        // The next review held after the last one.
        let next = held.iter().copied().find(|r| *r > after);
        match next {
            Some(r) if r <= due => {
                out.push(Due { due, on_time: true });
                after = r;
                due = add_months(r, 6);
            }
            Some(r) => {
                // Late: the chain restarts from the review actually held.
                out.push(Due {
                    due,
                    on_time: false,
                });
                after = r;
                due = add_months(r, 6);
            }
            None => {
                out.push(Due {
                    due,
                    on_time: false,
                });
                break;
            }
        }
    }
    out
}

/// The columns of `cp_plans` that [`review_events`] reads.
pub const PLAN_COLUMNS: &[&str] = &["plan_id", "la_code", "start_date", "end_date"];
/// The columns of `cp_reviews` that [`review_events`] reads.
pub const REVIEW_COLUMNS: &[&str] = &["plan_id", "review_date"];

/// Event rows (measure_id, la_code, outcome, month) for `cpp_review_timely` (the catalogue's
/// `rust = "review_chain"` measure, `measure_id`), in the same shape as the SQL measures.
pub fn review_events(
    measure_id: &str,
    plans: &DataFrame,
    reviews: &DataFrame,
    period_start: NaiveDate,
    period_end: NaiveDate,
    reference: NaiveDate,
) -> Result<DataFrame> {
    let chains = plan_chains(plans, reviews, period_end.max(reference))?;
    Ok(events_from_chains(
        measure_id,
        &chains,
        period_start,
        period_end,
        reference,
    )?)
}

/// Every plan's chain of due reviews up to `until`, with its LA, in the plans' order. A chain
/// depends on the period only through `until` (the later of the period end and the reference
/// date), so a trend's years up to the reference date share one.
pub fn plan_chains(
    plans: &DataFrame,
    reviews: &DataFrame,
    until: NaiveDate,
) -> Result<Vec<(String, Vec<Due>)>> {
    let mut by_plan: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
    let review_ids;
    if reviews.height() > 0 {
        review_ids = reviews.column("plan_id")?.str()?.clone();
        let dates = reviews.column("review_date")?.cast(&DataType::Int32)?;
        for (id, d) in review_ids.iter().zip(dates.i32()?.iter()) {
            if let (Some(id), Some(d)) = (id, d) {
                by_plan.entry(id).or_default().push(from_epoch_days(d));
            }
        }
    }
    let mut out = vec![];
    if plans.height() > 0 {
        let ids = plans.column("plan_id")?.str()?.clone();
        let las = plans.column("la_code")?.str()?.clone();
        let starts = plans.column("start_date")?.cast(&DataType::Int32)?;
        let ends = plans.column("end_date")?.cast(&DataType::Int32)?;
        for (((id, la), s), e) in ids
            .iter()
            .zip(las.iter())
            .zip(starts.i32()?.iter())
            .zip(ends.i32()?.iter())
        {
            let (Some(id), Some(la), Some(s)) = (id, la, s) else {
                continue;
            };
            let start = from_epoch_days(s);
            let end = e.map(from_epoch_days);
            if end.is_some_and(|e| e < start) {
                continue;
            }
            let empty = vec![];
            let chain = review_chain(start, end, by_plan.get(id).unwrap_or(&empty), until);
            out.push((la.to_string(), chain));
        }
    }
    Ok(out)
}

/// [`review_events`] from chains made by [`plan_chains`] with `until` = the later of
/// `period_end` and `reference`.
pub fn events_from_chains(
    measure_id: &str,
    chains: &[(String, Vec<Due>)],
    period_start: NaiveDate,
    period_end: NaiveDate,
    reference: NaiveDate,
) -> PolarsResult<DataFrame> {
    let mut la_out = vec![];
    let mut outcome_out = vec![];
    let mut month_out: Vec<Option<String>> = vec![];
    for (la, chain) in chains {
        let in_period: Vec<&Due> = chain
            .iter()
            .filter(|d| d.due >= period_start && d.due <= period_end)
            .collect();
        if in_period.is_empty() {
            continue;
        }
        let due_now: Vec<&&Due> = in_period.iter().filter(|d| d.due <= reference).collect();
        let outcome = if due_now.is_empty() {
            "pending"
        } else if due_now.iter().all(|d| d.on_time) {
            "met"
        } else {
            "not_met"
        };
        la_out.push(la.as_str());
        outcome_out.push(outcome);
        month_out.push(in_period.first().map(|d| d.due.format("%Y-%m").to_string()));
    }
    let n = la_out.len();
    DataFrame::new(
        n,
        vec![
            Series::new("measure_id".into(), vec![measure_id; n]).into(),
            Series::new("la_code".into(), la_out).into(),
            Series::new("outcome".into(), outcome_out).into(),
            Series::new("month".into(), month_out).into(),
        ],
    )
}
