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
//! - CIN census XML: the DfE census items that are not mapped to canonical columns, from the DfE
//!   XSDs 2017-2026 (`CIN_schema_20NN.xsd`; the 2026-27 pre-proceedings block is mapped to the
//!   `pre_proceedings` table, not kept here: `super::cin_pp`). The census year an item
//!   entered the return is recorded, but an item is accepted in a return of any year: suppliers
//!   (and the DfE validator's own fake data) carry newer items under older ReferenceDates, and an
//!   item's meaning does not change with the year.
//! - Annex A: the columns of Lists 1-7 of the Ofsted templates that are not mapped (matched on the
//!   normalised header, exactly). Age, allocated team and worker are known but not kept.

use super::parse;

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

/// One kept field: its name (CIN element, normalised Annex A header), the census year it entered
/// the return (CIN; documentation) and its value shape.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    pub parent: &'static str,
    pub name: &'static str,
    pub since: u16,
    pub kind: RawKind,
}

const fn a(parent: &'static str, name: &'static str, since: u16, kind: RawKind) -> Allowed {
    Allowed {
        parent,
        name,
        since,
        kind,
    }
}

/// `UPNunknown` codes (DfE CIN census: UN1-UN10, why a child has no UPN).
const UPN_UNKNOWN: &[&str] = &[
    "UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7", "UN8", "UN9", "UN10",
];
/// `Disability` codes (anchors-csc.md section 2.1).
pub const DISABILITY: &[&str] = &[
    "NONE", "MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA",
];

/// CIN census items kept in the raw layer, by parent element. The items mapped to canonical
/// columns, and LAchildID, UPN, FormerUPN, PersonBirthDate, ExpectedPersonBirthDate and
/// PersonDeathDate, are not here: they are read by the reader or never stored.
pub const CIN: &[Allowed] = &[
    a("CollectionDetails", "Year", 2017, RawKind::Count),
    a("Source", "SourceLevel", 2017, RawKind::ShortCode),
    a("Source", "SoftwareCode", 2017, RawKind::Label),
    a("Source", "Release", 2017, RawKind::Label),
    a("Source", "SerialNo", 2017, RawKind::Count),
    a("Source", "DateTime", 2017, RawKind::DateTime),
    a(
        "ChildIdentifiers",
        "UPNunknown",
        2017,
        RawKind::OneOf(UPN_UNKNOWN),
    ),
    a(
        "Disabilities",
        "Disability",
        2017,
        RawKind::OneOf(DISABILITY),
    ),
    a(
        "Assessments",
        "AssessmentInternalReviewDate",
        2017,
        RawKind::Date,
    ),
    a("Section47", "InitialCPCtarget", 2017, RawKind::Date),
    a("CINPlanDates", "CINPlanStartDate", 2022, RawKind::Date),
    a("CINPlanDates", "CINPlanEndDate", 2022, RawKind::Date),
];

/// CIN census blocks whose items are kept (each item must itself be listed in [`CIN`]), by
/// parent element.
pub const CIN_BLOCKS: &[(&str, &str)] = &[("CINdetails", "CINPlanDates")];

/// The shape of a kept CIN item, or None when it is not on the list.
pub fn cin(parent: &str, name: &str) -> Option<RawKind> {
    CIN.iter()
        .find(|x| x.parent == parent && x.name == name)
        .map(|x| x.kind)
}

/// Whether a CIN block is kept (item by item).
pub fn cin_block(parent: &str, name: &str) -> bool {
    CIN_BLOCKS.iter().any(|(p, n)| *p == parent && *n == name)
}

/// Annex A columns kept in the raw layer: (list, normalised header, shape). Headers are
/// normalised as the Annex A reader does (lower case, words joined by one space, apostrophes
/// dropped, a pivot `Sum of` prefix removed).
pub const ANNEX_A: &[(u8, &str, RawKind)] = &[
    (2, "assessment completion date", RawKind::Date),
    (3, "number of referrals in last 12 months", RawKind::Count),
    (
        4,
        "was the child assessed as requiring la childrens social care support",
        RawKind::Label,
    ),
    (
        5,
        "number of section 47 enquiries in the last 12 months",
        RawKind::Count,
    ),
    (5, "number of icpcs in the last 12 months", RawKind::Count),
    (6, "date child was last seen", RawKind::Date),
    (6, "case status", RawKind::Label),
    (7, "date of the last statutory visit", RawKind::Date),
    (7, "was the child seen alone", RawKind::YesNo),
    (
        7,
        "subject to emergency protection order or protected under police powers in last six months y n",
        RawKind::YesNo,
    ),
];

/// Annex A template columns known and never stored (normalised headers): ages (derived from the
/// date of birth) and the allocated team and worker. Not named in the summary as unknown.
pub const ANNEX_A_NOT_STORED: &[&str] = &[
    "age",
    "age of child years",
    "allocated team",
    "allocated worker",
];

/// The shape of a kept Annex A column, or None when it is not on the list.
pub fn annex_a(list: u8, normalised: &str) -> Option<RawKind> {
    ANNEX_A
        .iter()
        .find(|(l, h, _)| *l == list && *h == normalised)
        .map(|(_, _, k)| *k)
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
