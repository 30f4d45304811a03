//! The CIN census `PreProceedingsandFGDM` block ("module 5", from the 2026-27 census) as rows of
//! the `pre_proceedings` table, and the per-return DfE query 8995Q (no module data for any child).
//!
//! The census reader ([`super::cin_xml`]) builds one row for each `PreProceedingsandFGDM` element
//! directly inside a `CINdetails` (its `Episode::pre_proceedings`, like the episode's other
//! tables), taking the block's values from [`items`], and calls [`after_return`] once the whole
//! return is read. The block's items map one to one onto the table's columns
//! (`specs/cin_census.toml`, `[tables.pre_proceedings]`); the row is keyed to the episode's
//! referral: `pp_id` = `{referral_id}-PP{k}`, k counting the episode's blocks in file order (the
//! same id in every return that holds the episode, so a newer return supersedes it and the CIN
//! episode cascade takes it with its episode).
//!
//! Nothing here rejects a row for a gap: every item is optional in the table, because the module
//! is new and returns will come incomplete. A value of the wrong shape (a date that is not a date,
//! a `PPOutcome` outside CS131) is emptied and flagged by the validator; the DfE's rules on the
//! module (9005-9015Q) are flags computed on the stored rows (`crate::rules::pre_proceedings`).
//! An element of the block that is not one of its ten items is dropped and named in the summary
//! (never its text); a repeated item keeps its first value and the repeat is named as dropped.

use super::sink::Sink;
use super::specs;
use crate::dates::{financial_year, financial_year_name};
use crate::schema::PRE_PROCEEDINGS;

/// The first census year with the module: 2026-27 (the financial year starting in 2026).
pub const FIRST_CENSUS_YEAR: i32 = 2026;

/// The block's element name.
pub const BLOCK: &str = "PreProceedingsandFGDM";

/// One child element of the block: its name, its text when it is a leaf with text, and whether
/// it has child elements of its own (then it is not a value).
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
    pub nested: bool,
}

/// The values of one block, as (column, value, item) for every column the spec maps (an item
/// absent gives no value); the elements that are not values (unknown, nested or repeated) are
/// named as dropped on `sink`.
pub fn items(sink: &mut Sink, items: &[Item]) -> Vec<(&'static str, Option<String>, &'static str)> {
    // (column, item) in the spec's order.
    let map: Vec<(&'static str, &'static str)> = specs::cin()
        .table(PRE_PROCEEDINGS.name)
        .columns
        .iter()
        .map(|(column, source)| (column.as_str(), source.paths()[0].as_str()))
        .collect();
    let mut found: Vec<Option<String>> = vec![None; map.len()];
    let mut seen = vec![false; map.len()];
    for item in items {
        match map.iter().position(|(_, e)| *e == item.name) {
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
    map.into_iter()
        .zip(found)
        .map(|((column, item), value)| (column, value, item))
        .collect()
}

/// DfE query 8995Q, a check on one return: a census return of 2026-27 or later (by its
/// `ReferenceDate`) with no pre-proceedings block for any child gets a note in the summary and a
/// data-quality row (table `pre_proceedings`, flag `dfe_8995Q`). An earlier return has no module
/// to check.
pub fn after_return(sink: &mut Sink) {
    let Some(vintage) = sink.source().vintage else {
        return;
    };
    let year = financial_year(vintage);
    if year < FIRST_CENSUS_YEAR {
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
        "no {BLOCK} (module 5) data for any child in this {} return: check why none was provided (DfE query 8995Q)",
        financial_year_name(year)
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
