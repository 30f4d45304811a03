//! Reader for the Ofsted Annex A workbook (`.xlsx`, sheets `List 1` ... `List 11`;
//! data-contract.md sections 1 and 2, anchors-csc.md section 1).
//!
//! Lists 1-7 are read: contacts, early help, referrals, assessments, s47 enquiries and ICPCs,
//! children in need and child protection plans. Lists 8-11 (children in care, care leavers,
//! adoption, adopters) are out of scope and only noted.
//!
//! Real workbooks differ between LAs and template years, so:
//! - sheets are matched loosely (`List 1`, `List1`, `list 1 - contacts`);
//! - the header row is searched for (it need not be row 1) and headers are matched by normalised
//!   pattern (curly quotes, non-breaking spaces, case, trailing spaces, `Sum of ...` pivot prefixes,
//!   `Age` vs `Age of Child (Years)`, `Date of Referral` vs `Date of referral`);
//! - coded values may carry dropdown prefixes (`b) Female`, `q) 6: Police`, `N1 - Abuse or
//!   neglect`, `a) Yes`) or not; dates are Excel serials (with or without a date style) or text
//!   `dd/mm/yyyy`; `#N/A` and empty strings are missing; empty rows are skipped.
//!
//! Annex A does not name its LA: rows are filed under `sink.default_la` (`ingest --la CODE`, or
//! the config's only LA), and the file fails without one. Child Unique ID is pseudonymised by the
//! validator like LAchildID; date of birth is degraded to the month here; Age, Allocated Team and
//! Allocated Worker, names and anything else that looks identifying are never stored. Other
//! columns beyond the canonical ones go to the raw layer.
//!
//! Annex A rows carry no referral link, so ids are derived: a referral is
//! `{pseudonym}-{date}-{n}` (the scheme the CIN census reader uses, so the same episode gets the
//! same id in both formats), and assessments, s47s and plans hang off the child's latest referral
//! on or before their start date.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use calamine::{open_workbook, Data, ExcelDateTime, ExcelDateTimeType, Range, Reader, Xlsx};
use chrono::NaiveDate;

use super::cin_xml::birth_month_value;
use super::parse;
use super::privacy;
use super::raw_allow::{self, RawKind};
use super::sink::Sink;
use crate::error::UserError;
use crate::schema::{
    self, TableSpec, ASSESSMENTS, CHILDREN, CONTACTS, CP_PLANS, CP_REVIEWS, EARLY_HELP, REFERRALS,
    S47_ENQUIRIES,
};

/// The Annex A columns this reader maps (everything else goes to the raw layer or is dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum F {
    ChildId,
    Gender,
    Ethnicity,
    Dob,
    Disability,
    ContactDate,
    ContactSource,
    EhStart,
    EhOrganisation,
    RefDate,
    RefSource,
    RefNfa,
    AsmtStart,
    AsmtSeen,
    AsmtAuthorised,
    S47Start,
    IcpcUnnecessary,
    IcpcDate,
    IcpcResult,
    CinStart,
    Need,
    CinClosure,
    ClosureReason,
    CppStart,
    CatInitial,
    CatLatest,
    Review,
    CppEnd,
    PreviousPlans,
}

impl F {
    /// Whether cells of this column are dates.
    fn is_date(self) -> bool {
        matches!(
            self,
            F::Dob
                | F::ContactDate
                | F::EhStart
                | F::RefDate
                | F::AsmtStart
                | F::AsmtAuthorised
                | F::S47Start
                | F::IcpcDate
                | F::CinStart
                | F::CinClosure
                | F::CppStart
                | F::Review
                | F::CppEnd
        )
    }
}

/// Matches a normalised header (lower case, words separated by one space, `sum of` dropped).
type Pattern = fn(&str) -> bool;

/// The columns of Lists 1-7 in matching order: the first field whose pattern matches a header
/// (and is not taken yet) gets the column.
fn fields(list: u8) -> Vec<(F, Pattern)> {
    let mut v: Vec<(F, Pattern)> = vec![
        (F::ChildId, |h| {
            !h.contains("family")
                && !h.contains("adopter")
                && (h.contains("child unique id")
                    || h == "child id"
                    || h == "unique id"
                    || h.contains("child identifier")
                    || h == "child unique identifier")
        }),
        (F::Gender, |h| {
            h == "gender" || h == "sex" || h.starts_with("gender ")
        }),
        (F::Ethnicity, |h| h.starts_with("ethnic")),
        (F::Dob, |h| {
            h == "dob" || h.contains("date of birth") || h == "birth date"
        }),
        (F::Disability, |h| h.contains("disab")),
    ];
    let more: Vec<(F, Pattern)> = match list {
        1 => vec![
            (F::ContactDate, |h| {
                h.contains("contact") && h.contains("date")
            }),
            (F::ContactSource, |h| h.contains("source")),
        ],
        2 => vec![
            (F::EhStart, |h| h.contains("start")),
            (F::EhOrganisation, |h| {
                h.contains("organisation") || h.contains("organization") || h.contains("agency")
            }),
        ],
        3 => vec![
            (F::RefDate, |h| h.contains("referral") && h.contains("date")),
            (F::RefSource, |h| h.contains("source")),
            (F::RefNfa, |h| {
                h.contains("nfa") || h.contains("no further action")
            }),
        ],
        4 => vec![
            (F::AsmtStart, |h| h.contains("start")),
            (F::AsmtSeen, |h| h.contains("seen")),
            (F::AsmtAuthorised, |h| {
                h.contains("authoris") || h.contains("authoriz") || h.contains("completion")
            }),
        ],
        5 => vec![
            (F::S47Start, |h| {
                h.contains("start") || h.contains("strategy discussion")
            }),
            (F::IcpcUnnecessary, |h| {
                h.contains("unnecessary") || h.contains("not required")
            }),
            (F::IcpcResult, |h| h.contains("result")),
            (F::IcpcDate, |h| {
                h.contains("date")
                    && (h.contains("conference") || h.contains("icpc"))
                    && !h.contains("number")
            }),
        ],
        6 => vec![
            (F::CinStart, |h| h.contains("start")),
            (F::Need, |h| h.contains("need")),
            (F::CinClosure, |h| {
                h.contains("closure") && h.contains("date")
            }),
            (F::ClosureReason, |h| h.contains("reason")),
        ],
        7 => vec![
            (F::CppStart, |h| h.contains("start")),
            (F::CatInitial, |h| {
                h.contains("initial") && h.contains("categor")
            }),
            (F::CatLatest, |h| {
                h.contains("latest") && h.contains("categor")
            }),
            (F::Review, |h| h.contains("review")),
            (F::CppEnd, |h| {
                h.contains("end date") || h.contains("plan end")
            }),
            (F::PreviousPlans, |h| h.contains("previous")),
        ],
        _ => vec![],
    };
    v.extend(more);
    v
}

/// Columns each list must have (else the file fails: the sheet is not what its name says).
fn required(list: u8) -> &'static [F] {
    match list {
        1 => &[F::ChildId, F::ContactDate],
        2 => &[F::ChildId, F::EhStart],
        3 => &[F::ChildId, F::RefDate],
        4 => &[F::ChildId, F::AsmtStart],
        5 => &[F::ChildId, F::S47Start],
        6 => &[F::ChildId, F::CinStart],
        7 => &[F::ChildId, F::CppStart, F::CatInitial],
        _ => &[],
    }
}

/// What a missing required column is called in the message.
fn describe(f: F) -> &'static str {
    match f {
        F::ChildId => "Child Unique ID",
        F::ContactDate => "Date of Contact",
        F::EhStart => "Assessment start date",
        F::RefDate => "Date of Referral",
        F::AsmtStart => "Continuous Assessment Start Date",
        F::S47Start => "Strategy discussion initiating Section 47 Enquiry Start Date",
        F::CinStart => "CIN Start Date",
        F::CppStart => "Child Protection Plan Start Date",
        F::CatInitial => "Initial Category of Abuse",
        _ => "?",
    }
}

/// Columns that look identifying (ages, allocated teams, workers and advisers, anything that looks
/// like a name, address, postcode, NHS number or UPN): never mapped to a canonical column, even
/// when a list's loose pattern would match them (`Agency worker` is no lead agency). Like every
/// column not on the raw-layer allow-list they are dropped and named in the summary.
fn withheld(h: &str) -> bool {
    h == "age"
        || h.starts_with("age of")
        || h.starts_with("age at")
        || h.contains("allocated")
        || h.contains("worker")
        || h.contains("advisor")
        || h.contains("adviser")
        || schema::identifying_column(&h.replace(' ', "_")).is_some()
}

/// Normalises a header: curly quotes and non-breaking spaces folded, lower case, runs of anything
/// but letters and digits as one space, a pivot-table `Sum of ` / `Count of ` prefix dropped.
fn norm_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut gap = false;
    for ch in h.chars() {
        if ch.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(ch.to_lowercase());
        } else if ch != '\'' && ch != '\u{2018}' && ch != '\u{2019}' {
            // Apostrophes (straight or curly) join their word: `Child's` -> `childs`.
            gap = true;
        }
    }
    for prefix in ["sum of ", "count of ", "max of ", "min of "] {
        if let Some(rest) = out.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    out
}

/// The list number a sheet name stands for: `List 1`, `List1`, `list 1 - contacts`, `LIST_10`.
fn list_number(sheet: &str) -> Option<u8> {
    let s = sheet.trim().to_ascii_lowercase();
    let rest = s.strip_prefix("list")?;
    let rest = rest.trim_start_matches([' ', '_', '-', '.', '\u{a0}']);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: u8 = digits.parse().ok()?;
    (1..=11).contains(&n).then_some(n)
}

/// One data row of a list: its Excel row number, the mapped cells, and the allow-listed columns
/// kept for the raw layer (header, value, shape).
struct Rec {
    row: u32,
    vals: HashMap<F, String>,
    raw: Vec<(String, String, RawKind)>,
}

impl Rec {
    fn get(&self, f: F) -> Option<&str> {
        self.vals.get(&f).map(String::as_str)
    }
}

/// One list sheet, read.
struct List {
    n: u8,
    /// The sheet's own header text for each mapped column (labels for rejects and flags).
    labels: HashMap<F, String>,
    rows: Vec<Rec>,
    /// Headers of the columns dropped (not mapped, not on the raw-layer allow-list).
    dropped: Vec<String>,
}

impl List {
    fn label(&self, f: F) -> &str {
        self.labels.get(&f).map_or("", String::as_str)
    }
    fn pos(&self, r: &Rec) -> String {
        format!("List {} row {}", self.n, r.row)
    }
}

/// Reads one Annex A workbook into the sink.
pub fn read(path: &Path, sink: &mut Sink) -> Result<(), UserError> {
    let Some(la) = sink.default_la.clone() else {
        return Err(UserError::file(
            path,
            "an Annex A workbook does not say which LA it comes from: pass --la CODE (the DfE three-digit LA number, e.g. --la 940)".into(),
        ));
    };
    if !schema::is_la_code(&la) {
        return Err(UserError::file(
            path,
            format!(
                "the LA code '{}' (from the config's only LA) is not the DfE three-digit LA number: pass --la CODE, e.g. --la 940",
                privacy::shown(privacy::Echo::LaCode, &la)
            ),
        ));
    }
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e: calamine::XlsxError| {
        UserError::file(
            path,
            format!(
                "cannot read the workbook: {}",
                privacy::scrub(&e.to_string())
            ),
        )
    })?;
    let names = wb.sheet_names();
    let mut sheets: BTreeMap<u8, String> = BTreeMap::new();
    for name in &names {
        if let Some(n) = list_number(name) {
            if let Some(first) = sheets.get(&n) {
                sink.note(format!(
                    "sheets '{}' and '{}' both look like List {n}: only '{}' was read",
                    privacy::field_name(first),
                    privacy::field_name(name),
                    privacy::field_name(first)
                ));
            } else {
                sheets.insert(n, name.clone());
            }
        }
    }
    if sheets.is_empty() {
        return Err(UserError::file(
            path,
            format!(
                "no Annex A sheets: expected sheets named 'List 1' ... 'List 11', found {}",
                names
                    .iter()
                    .map(|n| format!("'{}'", privacy::field_name(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if sheets.keys().any(|n| *n >= 8) {
        sink.note("Lists 8-11 (children in care, care leavers, adoption, adopters) are out of scope: not read".into());
    }
    let mut lists: BTreeMap<u8, List> = BTreeMap::new();
    for (&n, name) in sheets.iter().filter(|(n, _)| **n <= 7) {
        let range = wb.worksheet_range(name).map_err(|e| {
            UserError::file(
                path,
                format!(
                    "sheet '{}': cannot read it: {}",
                    privacy::field_name(name),
                    privacy::scrub(&e.to_string())
                ),
            )
        })?;
        if let Some(list) = read_list(path, n, name, &range)? {
            for h in &list.dropped {
                sink.drop_field(h);
            }
            lists.insert(n, list);
        }
    }
    Mapper {
        sink,
        la,
        referrals: HashMap::new(),
        counters: HashMap::new(),
        children: BTreeMap::new(),
    }
    .map(&lists);
    Ok(())
}

/// A cell as text: numbers without a spurious `.0`, Excel dates as `YYYY-MM-DD`; empty strings,
/// `#N/A` and error cells are missing. Non-breaking spaces count as spaces.
fn cell_text(c: &Data) -> Option<String> {
    match c {
        Data::Empty | Data::Error(_) => None,
        Data::String(s) => {
            let t = s.replace('\u{a0}', " ");
            let t = t.trim();
            let up = t.to_ascii_uppercase();
            if t.is_empty()
                || up == "#N/A"
                || up == "N/A"
                || (up.starts_with('#') && (up.ends_with('!') || up.ends_with('?')))
            {
                None
            } else {
                Some(t.to_string())
            }
        }
        Data::Float(f) => Some(fmt_num(*f)),
        Data::Int(i) => Some(i.to_string()),
        Data::Bool(b) => Some(if *b { "Yes" } else { "No" }.into()),
        Data::DateTime(dt) if dt.is_datetime() => Some(excel_date(dt)),
        Data::DateTime(dt) => Some(fmt_num(dt.as_f64())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.trim().to_string()),
    }
}

/// A date cell as `YYYY-MM-DD` when it is an Excel date or serial number; text is passed on for
/// the validator (which takes `dd/mm/yyyy` and `yyyy-mm-dd`).
fn date_text(c: &Data) -> Option<String> {
    let serial = |f: f64| {
        if (1.0..2_958_466.0).contains(&f) {
            excel_date(&ExcelDateTime::new(f, ExcelDateTimeType::DateTime, false))
        } else {
            fmt_num(f)
        }
    };
    match c {
        Data::Float(f) => Some(serial(*f)),
        Data::Int(i) => Some(serial(*i as f64)),
        Data::DateTime(dt) => Some(excel_date(dt)),
        other => {
            let t = cell_text(other)?;
            // A serial number stored as text.
            match t.parse::<f64>() {
                Ok(f) if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') => Some(serial(f)),
                _ => Some(t),
            }
        }
    }
}

fn excel_date(dt: &ExcelDateTime) -> String {
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    format!("{y:04}-{m:02}-{d:02}")
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Finds the header row (within the first 30 rows) and reads the data rows of one list.
fn read_list(
    path: &Path,
    n: u8,
    sheet: &str,
    range: &Range<Data>,
) -> Result<Option<List>, UserError> {
    let Some((row0, _)) = range.start() else {
        return Ok(None);
    };
    let patterns = fields(n);
    let rows: Vec<&[Data]> = range.rows().collect();
    let mut header_at = None;
    for (i, row) in rows.iter().enumerate().take(30) {
        let hs: Vec<String> = row
            .iter()
            .map(|c| cell_text(c).map(|t| norm_header(&t)).unwrap_or_default())
            .collect();
        let has_id = hs.iter().any(|h| (patterns[0].1)(h));
        let matched = hs
            .iter()
            .filter(|h| !h.is_empty() && patterns.iter().any(|(_, p)| p(h)))
            .count();
        if has_id && matched >= 2 {
            header_at = Some(i);
            break;
        }
    }
    let Some(hi) = header_at else {
        if rows
            .iter()
            .all(|r| r.iter().all(|c| cell_text(c).is_none()))
        {
            return Ok(None);
        }
        return Err(UserError::at(
            path,
            &format!("sheet '{}'", privacy::field_name(sheet)),
            format!(
                "no header row found in the first 30 rows (a row with 'Child Unique ID' and the List {n} columns): is this sheet Annex A List {n}?"
            ),
        ));
    };
    // Assign each column: a mapped field, the raw layer (only the allow-list's columns), or
    // dropped: named in the summary (Age and the allocated team and worker, known and never
    // stored, are not named). Identifying-looking headers are never mapped, except the child id
    // and the date of birth (pseudonymised / degraded to the month). Two headers the same once
    // normalised are a file error.
    enum Col {
        Field(F),
        Raw(String, RawKind),
        Skip,
    }
    let mut taken: HashMap<F, usize> = HashMap::new();
    let mut labels: HashMap<F, String> = HashMap::new();
    let mut cols: Vec<Col> = vec![];
    let mut dropped: Vec<String> = vec![];
    let mut seen: HashMap<String, usize> = HashMap::new();
    let cell_name = |j: usize| {
        let mut col = String::new();
        let mut k = j + 1;
        while k > 0 {
            col.insert(0, (b'A' + ((k - 1) % 26) as u8) as char);
            k = (k - 1) / 26;
        }
        format!("{col}{}", row0 as usize + hi + 1)
    };
    for (j, c) in rows[hi].iter().enumerate() {
        let Some(text) = cell_text(c) else {
            cols.push(Col::Skip);
            continue;
        };
        let h = norm_header(&text);
        if let Some(first) = seen.insert(h.clone(), j) {
            return Err(UserError::at(
                path,
                &format!("sheet '{}' cell {}", privacy::field_name(sheet), cell_name(j)),
                format!(
                    "duplicate column: '{}' (cell {}) and '{}' (cell {}) are the same column once normalised; remove one",
                    privacy::field_name(&cell_text(&rows[hi][first]).unwrap_or_default()),
                    cell_name(first),
                    privacy::field_name(&text),
                    cell_name(j)
                ),
            ));
        }
        let mappable = |f: &F| matches!(f, F::ChildId | F::Dob) || !withheld(&h);
        let field = patterns
            .iter()
            .find(|(f, p)| !taken.contains_key(f) && mappable(f) && p(&h))
            .map(|(f, _)| *f);
        match field {
            Some(f) => {
                taken.insert(f, j);
                labels.insert(f, text.trim().to_string());
                cols.push(Col::Field(f));
            }
            None => match raw_allow::annex_a(n, &h) {
                Some(kind) => cols.push(Col::Raw(text.trim().to_string(), kind)),
                None => {
                    if !raw_allow::ANNEX_A_NOT_STORED.contains(&h.as_str()) {
                        dropped.push(text);
                    }
                    cols.push(Col::Skip)
                }
            },
        }
    }
    let missing: Vec<&str> = required(n)
        .iter()
        .filter(|f| !taken.contains_key(f))
        .map(|f| describe(*f))
        .collect();
    if !missing.is_empty() {
        return Err(UserError::at(
            path,
            &format!("sheet '{}' row {}", privacy::field_name(sheet), row0 as usize + hi + 1),
            format!(
                "List {n} has no column for {} (headers are matched loosely: case, spaces, punctuation and a 'Sum of' prefix do not matter)",
                missing.join(", ")
            ),
        ));
    }
    let mut out = vec![];
    for (i, row) in rows.iter().enumerate().skip(hi + 1) {
        let mut rec = Rec {
            row: row0 + i as u32 + 1,
            vals: HashMap::new(),
            raw: vec![],
        };
        let mut any = false;
        for (j, c) in row.iter().enumerate() {
            match cols.get(j) {
                Some(Col::Field(f)) => {
                    let v = if f.is_date() {
                        date_text(c)
                    } else {
                        cell_text(c)
                    };
                    if let Some(v) = v {
                        any = true;
                        rec.vals.insert(*f, v);
                    }
                }
                Some(Col::Raw(h, kind)) => {
                    let v = if matches!(kind, RawKind::Date | RawKind::DateTime) {
                        date_text(c)
                    } else {
                        cell_text(c)
                    };
                    if let Some(v) = v {
                        any = true;
                        rec.raw.push((h.clone(), v, *kind));
                    }
                }
                Some(Col::Skip) if cell_text(c).is_some() => any = true,
                Some(Col::Skip) | None => {}
            }
        }
        if any {
            out.push(rec);
        }
    }
    Ok(Some(List {
        n,
        labels,
        rows: out,
        dropped,
    }))
}

// ---- value clean-up ----

/// Drops a dropdown prefix: `b) Female` -> `Female`, `p1) 5D: LA services` -> `5D: LA services`.
fn strip_prefix(v: &str) -> &str {
    let v = v.trim();
    if let Some(i) = v.find(')') {
        let head = &v[..i];
        if (1..=3).contains(&head.len())
            && head.starts_with(|c: char| c.is_ascii_alphabetic())
            && head.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return v[i + 1..].trim();
        }
    }
    v
}

/// The code at the front of a described value: `6: Police` -> `6`, `N1 - Abuse or neglect` ->
/// `N1`, `RC8 - Case closed...` -> `RC8`, `a) WBRI` -> `WBRI`.
fn code(v: &str) -> String {
    let v = strip_prefix(v);
    let cut = [v.find(':'), v.find(" - "), v.find(" \u{2013} ")]
        .into_iter()
        .flatten()
        .min();
    match cut {
        Some(i) => v[..i].trim().to_string(),
        None => v.to_string(),
    }
}

fn sex(v: &str) -> String {
    let t = strip_prefix(v).to_ascii_lowercase();
    match t.as_str() {
        "male" | "m" | "1" | "boy" => "M".into(),
        "female" | "f" | "2" | "girl" => "F".into(),
        "u" | "0" | "9" | "unknown" | "neither" | "indeterminate" | "not known" => "U".into(),
        t if t.starts_with("not stated") || t.starts_with("not recorded") => "U".into(),
        _ => v.to_string(),
    }
}

/// Yes/no with or without a prefix; `Unknown` is missing; anything else is passed on to be
/// flagged.
fn yes_no(v: &str) -> Option<String> {
    let t = strip_prefix(v).to_ascii_lowercase();
    match t.as_str() {
        "yes" | "y" | "true" | "1" => Some("Y".into()),
        "no" | "n" | "false" | "0" => Some("N".into()),
        "unknown" | "not known" | "not recorded" => None,
        _ => Some(v.to_string()),
    }
}

fn category(v: &str) -> String {
    let t = strip_prefix(v).to_ascii_lowercase();
    for (word, c) in [
        ("neglect", "NEG"),
        ("physical", "PHY"),
        ("sexual", "SAB"),
        ("emotional", "EMO"),
        ("multiple", "MUL"),
    ] {
        if t.contains(word) {
            return c.into();
        }
    }
    code(v).to_ascii_uppercase()
}

fn icpc_result(v: &str) -> Option<String> {
    match yes_no(v)?.as_str() {
        "Y" => Some("CPP".into()),
        "N" => Some("NO_CPP".into()),
        other => Some(other.to_string()),
    }
}

// ---- mapping ----

/// A child's characteristics, from the first row that gives each.
#[derive(Default)]
struct ChildAcc {
    pos: String,
    gender: Option<String>,
    ethnicity: Option<String>,
    dob: Option<String>,
    disability: Option<String>,
}

/// A referral built from List 3 (and completed from List 6) before it is emitted.
struct Referral {
    id: String,
    raw_id: String,
    pos: String,
    received: Option<String>,
    source: Option<String>,
    nfa: Option<String>,
    need: Option<String>,
    closure_date: Option<String>,
    closure_reason: Option<String>,
    /// Source headers: child id, date, source, NFA, need, closure date, closure reason.
    labels: [String; 7],
    /// Set when a List 6 row completed it.
    merged: bool,
    /// Flag to add once stored: (column, flag, reason).
    flag: Option<(String, &'static str, String)>,
}

struct Mapper<'a> {
    sink: &'a mut Sink,
    la: String,
    /// Raw child id -> (referral date, referral id), for linking Lists 4, 5 and 7.
    referrals: HashMap<String, Vec<(NaiveDate, String)>>,
    /// Numbering of derived ids: (kind, stem) -> count so far.
    counters: HashMap<(&'static str, String), u32>,
    children: BTreeMap<String, ChildAcc>,
}

impl Mapper<'_> {
    fn next(&mut self, kind: &'static str, stem: &str) -> u32 {
        let n = self.counters.entry((kind, stem.to_string())).or_insert(0);
        *n += 1;
        *n
    }

    /// The date part of a derived id: `YYYY-MM-DD` when it is a date, else `baddate` (never the
    /// cell as written: it could be anything, a name typed in a date column).
    fn id_date(v: Option<&str>) -> String {
        match v {
            Some(v) => {
                parse::parse_date(v).map_or_else(|_| "baddate".to_string(), |d| d.to_string())
            }
            None => "nodate".into(),
        }
    }

    /// Records the child's characteristics (first non-empty value wins) and gives its raw id,
    /// or None (the row is rejected) when the row has no Child Unique ID.
    fn child(&mut self, list: &List, r: &Rec, spec: &'static TableSpec) -> Option<String> {
        let Some(id) = r.get(F::ChildId).map(str::to_string) else {
            self.sink.reject(
                spec,
                list.pos(r),
                list.label(F::ChildId),
                "",
                "no Child Unique ID: the row cannot be pseudonymised or linked".into(),
            );
            return None;
        };
        let acc = self.children.entry(id.clone()).or_insert_with(|| ChildAcc {
            pos: list.pos(r),
            ..Default::default()
        });
        let fill = |slot: &mut Option<String>, v: Option<&str>| {
            if slot.is_none() {
                *slot = v.map(str::to_string);
            }
        };
        fill(&mut acc.gender, r.get(F::Gender));
        fill(&mut acc.ethnicity, r.get(F::Ethnicity));
        fill(&mut acc.dob, r.get(F::Dob));
        fill(&mut acc.disability, r.get(F::Disability));
        Some(id)
    }

    fn raw(&mut self, list: &List, r: &Rec) {
        for (h, v, kind) in &r.raw {
            self.sink
                .raw(list.pos(r), &format!("List {}", list.n), h, v, *kind);
        }
    }

    /// The child's latest referral on or before `date`; without one, a derived id that matches
    /// no referral, so the row is stored and shows as an orphan in the data-quality table.
    fn link(&self, raw_id: &str, pseudo: &str, date: Option<&str>) -> String {
        let d = date.and_then(|d| parse::parse_date(d).ok());
        let found = d.and_then(|d| {
            self.referrals.get(raw_id).and_then(|v| {
                v.iter()
                    .filter(|(rd, _)| *rd <= d)
                    .max_by_key(|(rd, _)| *rd)
                    .map(|(_, id)| id.clone())
            })
        });
        found.unwrap_or_else(|| format!("{pseudo}-noref-{}", Self::id_date(date)))
    }

    fn map(mut self, lists: &BTreeMap<u8, List>) {
        let la = self.la.clone();
        let s = |v: Option<&str>| v.map(str::to_string);

        // List 1: contacts.
        if let Some(l) = lists.get(&1) {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &CONTACTS) else {
                    continue;
                };
                let pseudo = self.sink.pseudo.child_id(&id);
                let date = r.get(F::ContactDate);
                let stem = format!("{pseudo}-C-{}", Self::id_date(date));
                let n = self.next("contact", &stem);
                self.sink.row_labelled(
                    &CONTACTS,
                    l.pos(r),
                    vec![
                        Some(format!("{stem}-{n}")),
                        Some(id.clone()),
                        Some(la.clone()),
                        s(date),
                        r.get(F::ContactSource).map(code),
                        None,
                        None,
                        None,
                    ],
                    &[
                        "",
                        l.label(F::ChildId),
                        "",
                        l.label(F::ContactDate),
                        l.label(F::ContactSource),
                        "",
                        "",
                        "",
                    ],
                );
                self.raw(l, r);
            }
        }

        // List 2: early help. The assessment completion date is not the end of the episode, so
        // it goes to the raw layer with the other columns, not to end_date.
        if let Some(l) = lists.get(&2) {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &EARLY_HELP) else {
                    continue;
                };
                let pseudo = self.sink.pseudo.child_id(&id);
                let date = r.get(F::EhStart);
                let stem = format!("{pseudo}-EH-{}", Self::id_date(date));
                let n = self.next("early_help", &stem);
                self.sink.row_labelled(
                    &EARLY_HELP,
                    l.pos(r),
                    vec![
                        Some(format!("{stem}-{n}")),
                        Some(id.clone()),
                        Some(la.clone()),
                        s(date),
                        None,
                        s(r.get(F::EhOrganisation)),
                        None,
                        None,
                    ],
                    &[
                        "",
                        l.label(F::ChildId),
                        "",
                        l.label(F::EhStart),
                        "",
                        l.label(F::EhOrganisation),
                        "",
                        "",
                    ],
                );
                self.raw(l, r);
            }
        }

        // List 3: referrals, held until List 6 has completed them.
        let mut referrals: Vec<Referral> = vec![];
        if let Some(l) = lists.get(&3) {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &REFERRALS) else {
                    continue;
                };
                let pseudo = self.sink.pseudo.child_id(&id);
                let date = r.get(F::RefDate);
                let stem = format!("{pseudo}-{}", Self::id_date(date));
                let n = self.next("referral", &stem);
                let flag = (n > 1).then(|| {
                    (
                        l.label(F::RefDate).to_string(),
                        "same_day_episode",
                        format!("referral {n} of this child on the same date in this workbook: kept, in row order"),
                    )
                });
                referrals.push(Referral {
                    id: format!("{stem}-{n}"),
                    raw_id: id,
                    pos: l.pos(r),
                    received: s(date),
                    source: r.get(F::RefSource).map(code),
                    nfa: r.get(F::RefNfa).and_then(yes_no),
                    need: None,
                    closure_date: None,
                    closure_reason: None,
                    labels: [
                        l.label(F::ChildId).into(),
                        l.label(F::RefDate).into(),
                        l.label(F::RefSource).into(),
                        l.label(F::RefNfa).into(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ],
                    merged: false,
                    flag,
                });
                self.raw(l, r);
            }
        }

        // List 6: children in need. A CIN episode starts with its referral (CIN Start Date =
        // referral date): it completes the List 3 referral of the same child and date, or else
        // becomes a referral of its own, flagged.
        if let Some(l) = lists.get(&6) {
            let (mut merged, mut own) = (0, 0);
            for r in &l.rows {
                let Some(id) = self.child(l, r, &REFERRALS) else {
                    continue;
                };
                let start = r.get(F::CinStart);
                let start_d = start.and_then(|d| parse::parse_date(d).ok());
                let target = referrals.iter_mut().find(|x| {
                    !x.merged
                        && x.raw_id == id
                        && start_d.is_some()
                        && x.received
                            .as_deref()
                            .and_then(|d| parse::parse_date(d).ok())
                            == start_d
                });
                let need = r.get(F::Need).map(code);
                let closure_reason = r.get(F::ClosureReason).map(code);
                let labels6 = [
                    l.label(F::Need).to_string(),
                    l.label(F::CinClosure).to_string(),
                    l.label(F::ClosureReason).to_string(),
                ];
                match target {
                    Some(x) => {
                        x.merged = true;
                        x.pos = format!("{} + {}", x.pos, l.pos(r));
                        x.need = need;
                        x.closure_date = s(r.get(F::CinClosure));
                        x.closure_reason = closure_reason;
                        x.labels[4..].clone_from_slice(&labels6);
                        merged += 1;
                    }
                    None => {
                        let pseudo = self.sink.pseudo.child_id(&id);
                        let stem = format!("{pseudo}-{}", Self::id_date(start));
                        let n = self.next("referral", &stem);
                        referrals.push(Referral {
                            id: format!("{stem}-{n}"),
                            raw_id: id,
                            pos: l.pos(r),
                            received: s(start),
                            source: None,
                            nfa: None,
                            need,
                            closure_date: s(r.get(F::CinClosure)),
                            closure_reason,
                            labels: [
                                l.label(F::ChildId).into(),
                                l.label(F::CinStart).into(),
                                String::new(),
                                String::new(),
                                labels6[0].clone(),
                                labels6[1].clone(),
                                labels6[2].clone(),
                            ],
                            merged: true,
                            flag: Some((
                                l.label(F::CinStart).to_string(),
                                "cin_without_referral",
                                "List 6 CIN episode with no List 3 referral of the same child and date: stored as a referral of its own (received on the CIN Start Date)".into(),
                            )),
                        });
                        own += 1;
                    }
                }
                self.raw(l, r);
            }
            self.sink.note(format!(
                "List 6: {merged} CIN episode(s) completed their List 3 referral (primary need, closure); {own} had none and were stored as referrals of their own (flagged)"
            ));
        }
        for x in referrals {
            if let Some(d) = x
                .received
                .as_deref()
                .and_then(|d| parse::parse_date(d).ok())
            {
                self.referrals
                    .entry(x.raw_id.clone())
                    .or_default()
                    .push((d, x.id.clone()));
            }
            let stored = self.sink.row_labelled(
                &REFERRALS,
                x.pos.clone(),
                vec![
                    Some(x.id.clone()),
                    Some(x.raw_id.clone()),
                    Some(la.clone()),
                    x.received,
                    x.source,
                    None,
                    x.nfa,
                    x.need,
                    x.closure_date,
                    x.closure_reason,
                    None,
                ],
                &[
                    "",
                    &x.labels[0],
                    "",
                    &x.labels[1],
                    &x.labels[2],
                    "",
                    &x.labels[3],
                    &x.labels[4],
                    &x.labels[5],
                    &x.labels[6],
                    "",
                ],
            );
            if let (true, Some((column, flag, reason))) = (stored, x.flag) {
                self.sink.flag("referrals", x.pos, &column, flag, reason);
            }
        }

        // List 4: assessments.
        if let Some(l) = lists.get(&4) {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &ASSESSMENTS) else {
                    continue;
                };
                let pseudo = self.sink.pseudo.child_id(&id);
                let start = r.get(F::AsmtStart);
                let referral = self.link(&id, &pseudo, start);
                let k = self.next("assessment", &referral);
                self.sink.row_labelled(
                    &ASSESSMENTS,
                    l.pos(r),
                    vec![
                        Some(format!("{referral}-A{k}")),
                        Some(referral),
                        Some(id.clone()),
                        Some(la.clone()),
                        s(start),
                        s(r.get(F::AsmtAuthorised)),
                        None,
                        r.get(F::AsmtSeen).and_then(yes_no),
                        None,
                    ],
                    &[
                        "",
                        "",
                        l.label(F::ChildId),
                        "",
                        l.label(F::AsmtStart),
                        l.label(F::AsmtAuthorised),
                        "",
                        l.label(F::AsmtSeen),
                        "",
                    ],
                );
                self.raw(l, r);
            }
        }

        // List 5: s47 enquiries and ICPCs.
        if let Some(l) = lists.get(&5) {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &S47_ENQUIRIES) else {
                    continue;
                };
                let pseudo = self.sink.pseudo.child_id(&id);
                let start = r.get(F::S47Start);
                let referral = self.link(&id, &pseudo, start);
                let k = self.next("s47", &referral);
                self.sink.row_labelled(
                    &S47_ENQUIRIES,
                    l.pos(r),
                    vec![
                        Some(format!("{referral}-S{k}")),
                        Some(referral),
                        Some(id.clone()),
                        Some(la.clone()),
                        s(start),
                        r.get(F::IcpcUnnecessary).and_then(yes_no),
                        s(r.get(F::IcpcDate)),
                        r.get(F::IcpcResult).and_then(icpc_result),
                        Some("N".into()),
                    ],
                    &[
                        "",
                        "",
                        l.label(F::ChildId),
                        "",
                        l.label(F::S47Start),
                        l.label(F::IcpcUnnecessary),
                        l.label(F::IcpcDate),
                        l.label(F::IcpcResult),
                        "",
                    ],
                );
                self.raw(l, r);
            }
        }

        // List 7: child protection plans, and the latest review conference as a review.
        if let Some(l) = lists.get(&7) {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &CP_PLANS) else {
                    if r.get(F::Review).is_some() {
                        self.sink.reject(
                            &CP_REVIEWS,
                            l.pos(r),
                            l.label(F::ChildId),
                            "",
                            "review of a plan with no Child Unique ID".into(),
                        );
                    }
                    continue;
                };
                let pseudo = self.sink.pseudo.child_id(&id);
                let start = r.get(F::CppStart);
                let referral = self.link(&id, &pseudo, start);
                let k = self.next("plan", &referral);
                let plan_id = format!("{referral}-P{k}");
                self.sink.row_labelled(
                    &CP_PLANS,
                    l.pos(r),
                    vec![
                        Some(plan_id.clone()),
                        Some(referral),
                        Some(id.clone()),
                        Some(la.clone()),
                        s(start),
                        s(r.get(F::CppEnd)),
                        r.get(F::CatInitial).map(category),
                        r.get(F::CatLatest).map(category),
                        s(r.get(F::PreviousPlans)),
                        None,
                        None,
                    ],
                    &[
                        "",
                        "",
                        l.label(F::ChildId),
                        "",
                        l.label(F::CppStart),
                        l.label(F::CppEnd),
                        l.label(F::CatInitial),
                        l.label(F::CatLatest),
                        l.label(F::PreviousPlans),
                        "",
                        "",
                    ],
                );
                if let Some(review) = r.get(F::Review) {
                    self.sink.row_labelled(
                        &CP_REVIEWS,
                        l.pos(r),
                        vec![Some(plan_id), Some(review.to_string())],
                        &["", l.label(F::Review)],
                    );
                }
                self.raw(l, r);
            }
        }

        // Children: once per child, from the common columns. Age is not read.
        let children = std::mem::take(&mut self.children);
        for (id, c) in children {
            self.sink.row_labelled(
                &CHILDREN,
                c.pos,
                vec![
                    Some(id),
                    Some(la.clone()),
                    c.dob.as_deref().map(birth_month_value),
                    c.gender.as_deref().map(sex),
                    c.ethnicity.as_deref().map(code),
                    c.disability.as_deref().and_then(yes_no),
                    c.dob.as_ref().map(|_| "N".to_string()),
                ],
                &[
                    "Child Unique ID",
                    "",
                    "Date of Birth",
                    "Gender",
                    "Ethnicity",
                    "Does the Child have a Disability",
                    "",
                ],
            );
        }
    }
}
