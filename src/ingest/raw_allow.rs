//! The raw layer's allow-list: the only fields beyond the canonical columns that are kept, per
//! format, each with the shape its values must have. Everything not listed here is dropped and
//! counted by name in the ingest summary ("dropped 3 unknown fields: ..."), never by value; a value
//! of a listed field that does not have the field's shape is dropped and counted the same way.
//!
//! Keep by allow-list, never by deny-list (issue 11): a deny-list of identifying names
//! (`child_dob`, `KnownAs`, `Notes`...) cannot be complete. A field is listed here only when its
//! meaning is known and it cannot identify a child; free text (notes, comments, reasons) is never
//! listed, in any format.
//!
//! - Canonical CSV: no field beyond the canonical columns of data-contract.md section 3 is known,
//!   so none is kept (an LA's extra columns are its own and may be anything).
//! - CIN census XML (`specs/cin_census.toml`, `raw` and `raw_blocks`): the DfE census items that
//!   are not mapped to canonical columns, from the DfE XSDs 2017-2026 (`CIN_schema_20NN.xsd`; the
//!   2026-27 pre-proceedings block is mapped to the `pre_proceedings` table, not kept here:
//!   `super::cin_pp`). The census year an item entered the return is recorded, but
//!   an item is accepted in a return of any year: suppliers (and the DfE validator's own fake
//!   data) carry newer items under older ReferenceDates, and an item's meaning does not change
//!   with the year.
//! - Annex A (`specs/annex_a.toml`, each list's `raw`): the columns of Lists 1-7 of the Ofsted
//!   templates that are not mapped (matched on the normalised header, exactly). Age, allocated
//!   team and worker are known but not kept (`not_stored`).
//!
//! The lists are data; the shapes, and what a value must look like to have one, are here.

use super::parse;
use crate::schema;
/// The census code lists the raw layer checks values against (in [`crate::schema`]).
pub use crate::schema::{DISABILITY, UPN_UNKNOWN};

/// The shape a raw field's value must have to be kept (else it is dropped and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// A date within the calendar's years (1990-2040), stored as `YYYY-MM-DD`.
    Date,
    /// A datetime within the calendar's years, stored as `YYYY-MM-DDTHH:MM:SS`.
    DateTime,
    /// A whole number of at most 6 digits.
    Count,
    /// Yes/no (also with an Annex A dropdown prefix `a) Yes`), stored as `Y` or `N`.
    YesNo,
    /// One of a closed list of codes (case-insensitive), stored as listed.
    OneOf(&'static [&'static str]),
    /// A short code: 1-4 characters of `A-Z` and `0-9`.
    ShortCode,
    /// A short label from a dropdown or a software header (`c) Child in need plan`,
    /// `ver 3.1.21`, `csdatatools.datasets.cincensus.sample_data`): at most 60 characters of
    /// letters, digits, spaces and `. _ , ( ) - / :` (no `@`, `=`, quotes or line ends).
    Label,
}

impl RawKind {
    /// A shape as the specs write it: `date`, `datetime`, `count`, `yes_no`, `short_code`,
    /// `label`, or `one_of:LIST` with LIST a code list of [`crate::schema`] (`UPN_UNKNOWN`,
    /// `DISABILITY`).
    pub fn parse(shape: &str) -> Option<RawKind> {
        Some(match shape {
            "date" => RawKind::Date,
            "datetime" => RawKind::DateTime,
            "count" => RawKind::Count,
            "yes_no" => RawKind::YesNo,
            "short_code" => RawKind::ShortCode,
            "label" => RawKind::Label,
            _ => RawKind::OneOf(schema::code_list(shape.strip_prefix("one_of:")?)?),
        })
    }

    /// The value as kept, or None when it does not have this shape.
    pub fn accept(self, v: &str) -> Option<String> {
        let v = v.trim();
        let in_calendar =
            |y: i32| (crate::calendar::FIRST_YEAR..=crate::calendar::LAST_YEAR).contains(&y);
        use chrono::Datelike;
        match self {
            RawKind::Date => parse::parse_date(v)
                .ok()
                .filter(|d| in_calendar(d.year()))
                .map(|d| d.to_string()),
            RawKind::DateTime => parse::parse_datetime(v)
                .ok()
                .filter(|w| in_calendar(w.at.year()))
                .map(|w| w.at.format("%Y-%m-%dT%H:%M:%S").to_string()),
            RawKind::Count => ((1..=6).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.to_string()),
            RawKind::YesNo => {
                let t = strip_dropdown(v);
                parse::parse_yes_no(t)
                    .ok()
                    .map(|b| if b { "Y" } else { "N" }.to_string())
            }
            RawKind::OneOf(list) => parse::parse_code(v, list).ok().map(str::to_string),
            RawKind::ShortCode => ((1..=4).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
            .then(|| v.to_string()),
            RawKind::Label => ((1..=60).contains(&v.chars().count())
                && v.chars().all(|c| {
                    c.is_alphanumeric()
                        || matches!(c, ' ' | '.' | '_' | ',' | '(' | ')' | '-' | '/' | ':')
                }))
            .then(|| v.to_string()),
        }
    }
}

/// `a) Yes` -> `Yes`: an Annex A dropdown prefix of 1-3 letters and digits.
fn strip_dropdown(v: &str) -> &str {
    match v.split_once(')') {
        Some((head, rest))
            if (1..=3).contains(&head.len()) && head.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            rest.trim()
        }
        _ => v,
    }
}

/// The shape of a kept CIN census item, or None when it is not on the list
/// (`specs/cin_census.toml`, `raw`).
pub fn cin(parent: &str, name: &str) -> Option<RawKind> {
    super::specs::cin().raw_kind(parent, name)
}

/// Whether a CIN census block is kept item by item (`specs/cin_census.toml`, `raw_blocks`).
pub fn cin_block(parent: &str, name: &str) -> bool {
    super::specs::cin().raw_block(parent, name)
}

/// The shape of a kept Annex A column (list, normalised header), or None when it is not on the
/// list (`specs/annex_a.toml`, each list's `raw`).
pub fn annex_a(list: u8, normalised: &str) -> Option<RawKind> {
    super::specs::annex_a().raw_kind(list, normalised)
}

/// Whether an Annex A template column (normalised header) is known and never stored: not named
/// in the summary as unknown (`specs/annex_a.toml`, `not_stored`).
pub fn annex_a_not_stored(normalised: &str) -> bool {
    super::specs::annex_a()
        .not_stored
        .iter()
        .any(|h| h == normalised)
}

/// Canonical CSV columns kept in the raw layer beyond the canonical ones: (table, normalised
/// header, shape). None is known.
pub const CSV: &[(&str, &str, RawKind)] = &[];

/// The shape of a kept canonical CSV extra column, or None.
pub fn csv(table: &str, normalised: &str) -> Option<RawKind> {
    CSV.iter()
        .find(|(t, h, _)| *t == table && *h == normalised)
        .map(|(_, _, k)| *k)
}
