//! The DfE's validation rules for the pre-proceedings module (CIN census 2026-27, draft rules
//! from Data to Insight's validator, `rules/cin2026_27/`), as data-quality flags on the stored
//! `pre_proceedings` rows - never rejections: the module is new and returns will come incomplete.
//!
//! The store runs [`checks`] with the other cross-table checks ([`super::link_checks`]), on each LA
//! partition as it stands after a commit (so a superseded row's flags go with it). Each flag is
//! named `dfe_<rule>` (and listed in the rules table, [`super`]):
//!
//! | flag | rule |
//! |---|---|
//! | `dfe_9005` | `PPStartDate` within the reporting year |
//! | `dfe_9006` | `LBPSentDate` within the year and on or after `PPStartDate` |
//! | `dfe_9007` | a letter before proceedings sent must say whether FGDM was offered |
//! | `dfe_9008` | `InitialPPMeetingDate` within the year |
//! | `dfe_9009` | `StepDecisionDate` within the year and on or after `PPStartDate` |
//! | `dfe_9010Q` | an FGDM offered must say whether a meeting was facilitated |
//! | `dfe_9011` | `PPOutcome` one of CS131 `A`, `B`, `C` |
//! | `dfe_9012` | `CourtAppDate` within the year and on or after the step decision |
//! | `dfe_9013` | `LetterInitCPDate` within the year and on or after `CourtAppDate` |
//! | `dfe_9015Q` | review meetings counted when an initial meeting was held |
//!
//! (8995Q, no module data for any child, is a check on a whole return: `crate::ingest::cin_pp`.)
//!
//! Choices where the draft rules are silent or unclear:
//! - "Within the reporting year" is the census year of the row's CIN return (from its
//!   `ReferenceDate`, the store's `source_vintage`). A canonical CSV row has no return and so no
//!   reporting year: only the ordering and completeness parts of the rules apply to it (a
//!   pre-proceedings runs across financial years, so the year of its own `PPStartDate` is no
//!   guide).
//! - The "on or after" part is checked when both dates are present; the "within the year" part
//!   whenever the date is present.
//! - 9007 follows the rule's words (a letter sent, the offer not recorded); the draft code tests
//!   the reverse (an offer recorded with no letter), which its own message contradicts.
//! - 9011 flags a value outside CS131 (the validator has emptied the cell and flagged it
//!   `bad_value`); an empty outcome is not a 9011 flag (an open pre-proceedings has none).

use anyhow::Result;
use polars::prelude::*;

use crate::dates::{
    epoch_days, financial_year, financial_year_bounds, financial_year_name, from_epoch_days,
};
use crate::table::Issue;

/// The table the rules check.
const TABLE: &str = "pre_proceedings";

/// One row's values as the rules read them (dates as days since 1970-01-01).
#[derive(Debug, Default, Clone)]
struct Row {
    /// The census year of the row's CIN return, as (first, last) day and its name (`2026-27`);
    /// None for a CSV row.
    year: Option<(i32, i32, String)>,
    start: Option<i32>,
    lbp: Option<i32>,
    offered: Option<bool>,
    facilitated: Option<bool>,
    initial: Option<i32>,
    reviews: Option<i32>,
    step: Option<i32>,
    bad_outcome: bool,
    court: Option<i32>,
    letter: Option<i32>,
}

/// Whether the row's `dq_flags` say its outcome had a bad value (`bad_value:outcome` from a CSV,
/// `bad_value:PPOutcome (outcome)` from the census).
fn bad_outcome(dq_flags: &str) -> bool {
    dq_flags.split(';').any(|f| {
        f.strip_prefix("bad_value:")
            .is_some_and(|c| c == "outcome" || c.ends_with("(outcome)"))
    })
}

/// The flags of one row: (column, flag, reason).
fn row_flags(r: &Row) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![];
    // Outside the return's census year: Some(year) when the date is present and outside it.
    let outside = |d: Option<i32>| -> Option<&str> {
        match (d, &r.year) {
            (Some(d), Some((first, last, y))) if d < *first || d > *last => Some(y.as_str()),
            _ => None,
        }
    };
    let before = |a: Option<i32>, b: Option<i32>| matches!((a, b), (Some(a), Some(b)) if a < b);
    let mut date_rule = |column: &'static str,
                         flag: &'static str,
                         d: Option<i32>,
                         after: Option<(Option<i32>, &str)>,
                         what: &str| {
        let mut why = vec![];
        if let Some(y) = outside(d) {
            why.push(format!("outside the return's reporting year {y}"));
        }
        if let Some((other, name)) = after {
            if before(d, other) {
                why.push(format!("before {name}"));
            }
        }
        if !why.is_empty() {
            let rule = flag.trim_start_matches("dfe_");
            out.push((
                column,
                flag,
                format!("{what} is {} (DfE rule {rule}, draft)", why.join(" and ")),
            ));
        }
    };
    date_rule(
        "pp_start_date",
        "dfe_9005",
        r.start,
        None,
        "PPStartDate (the decision to begin pre-proceedings)",
    );
    date_rule(
        "lbp_sent_date",
        "dfe_9006",
        r.lbp,
        Some((r.start, "PPStartDate")),
        "LBPSentDate (letter before proceedings)",
    );
    date_rule(
        "initial_meeting_date",
        "dfe_9008",
        r.initial,
        None,
        "InitialPPMeetingDate",
    );
    date_rule(
        "step_decision_date",
        "dfe_9009",
        r.step,
        Some((r.start, "PPStartDate")),
        "StepDecisionDate (the decision to step up or down)",
    );
    date_rule(
        "court_application_date",
        "dfe_9012",
        r.court,
        Some((r.step, "StepDecisionDate")),
        "CourtAppDate (care proceedings applied for)",
    );
    date_rule(
        "care_proceedings_letter_date",
        "dfe_9013",
        r.letter,
        Some((r.court, "CourtAppDate")),
        "LetterInitCPDate (letter to initiate care proceedings)",
    );
    if r.lbp.is_some() && r.offered.is_none() {
        out.push((
            "fgdm_offered",
            "dfe_9007",
            "a letter before proceedings was sent but FGDMMeetingOffer (whether it offered a family group decision-making meeting) is not recorded (DfE rule 9007, draft)".into(),
        ));
    }
    if r.offered == Some(true) && r.facilitated.is_none() {
        out.push((
            "fgdm_facilitated",
            "dfe_9010Q",
            "an FGDM meeting was offered but FGDMMeetingFac (whether one was facilitated) is not recorded (DfE query 9010Q, draft)".into(),
        ));
    }
    if r.bad_outcome {
        out.push((
            "outcome",
            "dfe_9011",
            "PPOutcome is not a code of CS131 (A, B or C): stored empty (DfE rule 9011, draft)"
                .into(),
        ));
    }
    if r.initial.is_some() && r.reviews.is_none() {
        out.push((
            "review_meetings",
            "dfe_9015Q",
            "an initial pre-proceedings meeting was held but ReviewMeetingsCount is not recorded (DfE query 9015Q, draft)".into(),
        ));
    }
    out
}

/// The flags of every row of a `pre_proceedings` frame (one LA partition, in the store's layout).
pub fn checks(pp: &DataFrame) -> Result<Vec<Issue>> {
    if pp.height() == 0 {
        return Ok(vec![]);
    }
    let days = |name: &str| -> Result<Vec<Option<i32>>> {
        Ok(pp
            .column(name)?
            .cast(&DataType::Int32)?
            .i32()?
            .iter()
            .collect())
    };
    let flag =
        |name: &str| -> Result<Vec<Option<bool>>> { Ok(pp.column(name)?.bool()?.iter().collect()) };
    let text = |name: &str| -> Result<Vec<Option<String>>> {
        Ok(pp
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let vintage = days("source_vintage")?;
    let start = days("pp_start_date")?;
    let lbp = days("lbp_sent_date")?;
    let offered = flag("fgdm_offered")?;
    let facilitated = flag("fgdm_facilitated")?;
    let initial = days("initial_meeting_date")?;
    let reviews = days("review_meetings")?;
    let step = days("step_decision_date")?;
    let court = days("court_application_date")?;
    let letter = days("care_proceedings_letter_date")?;
    let dq = text("dq_flags")?;
    let files = text("source_file")?;
    let positions = text("source_pos")?;
    let mut out = vec![];
    for i in 0..pp.height() {
        let year = vintage[i].map(|v| {
            let y = financial_year(from_epoch_days(v));
            let (first, last) = financial_year_bounds(y);
            (epoch_days(first), epoch_days(last), financial_year_name(y))
        });
        let row = Row {
            year,
            start: start[i],
            lbp: lbp[i],
            offered: offered[i],
            facilitated: facilitated[i],
            initial: initial[i],
            reviews: reviews[i],
            step: step[i],
            bad_outcome: dq[i].as_deref().is_some_and(bad_outcome),
            court: court[i],
            letter: letter[i],
        };
        for (column, flag, reason) in row_flags(&row) {
            out.push(Issue {
                table: TABLE,
                source_file: files[i].clone().unwrap_or_default(),
                position: positions[i].clone().unwrap_or_default(),
                column: column.to_string(),
                value: String::new(),
                flag: flag.to_string(),
                reason,
            });
        }
    }
    Ok(out)
}
