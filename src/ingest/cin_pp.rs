//! The CIN census `PreProceedingsandFGDM` block ("module 5", from the 2026-27 census) as rows of
//! the `pre_proceedings` table, and the per-return DfE query 8995Q (no module data for any child).
//!
//! The census reader ([`super::cin_xml`]) calls [`block`] for each `PreProceedingsandFGDM` element
//! directly inside a `CINdetails`, and [`after_return`] once the whole return is read. The block's
//! items map one to one onto the table's columns ([`ELEMENTS`]); the row is keyed to the episode's
//! referral: `pp_id` = `{referral_id}-PP{k}`, k counting the episode's blocks in file order (the
//! same id in every return that holds the episode, so a newer return supersedes it and the CIN
//! episode cascade takes it with its episode).
//!
//! Nothing here rejects a row for a gap: every item is optional in the table, because the module
//! is new and returns will come incomplete. A value of the wrong shape (a date that is not a date,
//! a `PPOutcome` outside CS131) is emptied and flagged by the validator; the DfE's rules on the
//! module (9005-9015Q) are flags computed on the stored rows ([`super::pp_rules`]). An element of
//! the block that is not one of its ten items is dropped and named in the summary (never its
//! text); a repeated item keeps its first value and the repeat is named as dropped.

use super::sink::Sink;
use crate::measures::FinYear;
use crate::schema::PRE_PROCEEDINGS;

/// The first census year with the module: 2026-27 (`FinYear(2026)`).
pub const FIRST_CENSUS_YEAR: i32 = 2026;

/// The block's element name.
pub const BLOCK: &str = "PreProceedingsandFGDM";

/// The block's items and the `pre_proceedings` columns they fill, in the table's column order
/// (after `pp_id`, `referral_id`, `child_id` and `la_code`). Data items N00826-N00834 of the
/// 2026-27 census (anchors-csc.md section 2.1).
pub const ELEMENTS: [(&str, &str); 10] = [
    ("PPStartDate", "pp_start_date"),
    ("LBPSentDate", "lbp_sent_date"),
    ("FGDMMeetingOffer", "fgdm_offered"),
    ("FGDMMeetingFac", "fgdm_facilitated"),
    ("InitialPPMeetingDate", "initial_meeting_date"),
    ("ReviewMeetingsCount", "review_meetings"),
    ("StepDecisionDate", "step_decision_date"),
    ("PPOutcome", "outcome"),
    ("CourtAppDate", "court_application_date"),
    ("LetterInitCPDate", "care_proceedings_letter_date"),
];

/// One child element of the block: its name, its text when it is a leaf with text, and whether
/// it has child elements of its own (then it is not a value).
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
    pub nested: bool,
}

/// The episode a block belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Episode<'a> {
    /// The episode's position, e.g. `Child[3]/CINdetails[1]`.
    pub pos: &'a str,
    pub referral_id: &'a str,
    /// The child's LAchildID as read (the validator pseudonymises it).
    pub raw_child_id: &'a str,
    pub la: &'a str,
    /// Why the whole Child cannot be mapped (no LAchildID): its rows are rejected.
    pub broken: Option<&'a str>,
}

/// Maps the `k`-th (1-based) `PreProceedingsandFGDM` block of an episode onto one
/// `pre_proceedings` row.
pub fn block(sink: &mut Sink, ep: Episode, k: usize, items: &[Item]) {
    let pos = format!("{}/{BLOCK}[{k}]", ep.pos);
    if let Some(why) = ep.broken {
        sink.reject(&PRE_PROCEEDINGS, pos, "LAchildID", "", why.to_string());
        return;
    }
    let mut found: [Option<String>; ELEMENTS.len()] = Default::default();
    let mut seen = [false; ELEMENTS.len()];
    for item in items {
        match ELEMENTS.iter().position(|(e, _)| *e == item.name) {
            Some(i) if item.nested => {
                // A known item holding elements: not a value.
                sink.drop_field(&format!("{BLOCK}/{}", item.name));
                seen[i] = true;
            }
            Some(i) if seen[i] => {
                sink.drop_field(&format!("{BLOCK}/{} (repeated)", item.name));
            }
            Some(i) => {
                seen[i] = true;
                found[i] = item.value.map(str::to_string);
            }
            None => sink.drop_field(&format!("{BLOCK}/{}", item.name)),
        }
    }
    let mut values = vec![
        Some(format!("{}-PP{k}", ep.referral_id)),
        Some(ep.referral_id.to_string()),
        Some(ep.raw_child_id.to_string()),
        Some(ep.la.to_string()),
    ];
    values.extend(found);
    let mut labels = vec!["", "", "LAchildID", "LEA"];
    labels.extend(ELEMENTS.iter().map(|(e, _)| *e));
    debug_assert_eq!(values.len(), PRE_PROCEEDINGS.columns.len());
    sink.row_labelled(&PRE_PROCEEDINGS, pos, values, &labels);
}

/// DfE query 8995Q, a check on one return: a census return of 2026-27 or later (by its
/// `ReferenceDate`) with no pre-proceedings block for any child gets a note in the summary and a
/// data-quality row (table `pre_proceedings`, flag `dfe_8995Q`). An earlier return has no module
/// to check.
pub fn after_return(sink: &mut Sink) {
    let Some(vintage) = sink.source().vintage else {
        return;
    };
    let year = FinYear::containing(vintage);
    if year.0 < FIRST_CENSUS_YEAR {
        return;
    }
    let blocks = sink
        .counts()
        .get(PRE_PROCEEDINGS.name)
        .map_or(0, |c| c.read);
    if blocks > 0 {
        return;
    }
    let reason = format!(
        "no {BLOCK} (module 5) data for any child in this {year} return: check why none was provided (DfE query 8995Q)"
    );
    sink.note(reason.clone());
    sink.flag(
        PRE_PROCEEDINGS.name,
        "Message/Children".to_string(),
        BLOCK,
        "dfe_8995Q",
        reason,
    );
}
