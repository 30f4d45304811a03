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
//! Sheets are streamed cell by cell into a sparse sheet ([`read_sheet`]), never a rows x columns
//! grid, and a workbook is checked before calamine opens it ([`preflight`]): a small hostile file
//! cannot make the reader allocate without bound. A row made only of formulas with no saved value,
//! or whose values all lie past the header's last heading, is rejected with the reason.
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

use calamine::{open_workbook, Data, DataRef, ExcelDateTime, ExcelDateTimeType, Reader, Xlsx};
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
    /// Rows with nothing the list can read (rejected, never skipped): (Excel row, reason).
    unread: Vec<(u32, &'static str)>,
    /// Formula cells with no saved value in the rows read (read as empty; noted).
    uncalculated: usize,
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
    preflight(path)?;
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
        let sheet = read_sheet(&mut wb, path, name)?;
        if let Some(list) = read_list(path, n, name, &sheet)? {
            if list.uncalculated > 0 {
                sink.note(format!(
                    "List {n}: {} formula cell(s) have no saved value (the workbook was written by a program that does not calculate formulas) and were read as empty: open it in Excel, save it and ingest it again",
                    list.uncalculated
                ));
            }
            for h in &list.dropped {
                sink.drop_field(h);
            }
            // Rows with values the list cannot read: read, and rejected (never skipped).
            for &(row, why) in &list.unread {
                sink.reject(
                    list_table(n),
                    format!("List {n} row {row}"),
                    "",
                    "",
                    why.into(),
                );
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

/// The table a list's rows go to (for rows rejected before they are mapped).
fn list_table(n: u8) -> &'static TableSpec {
    match n {
        1 => &CONTACTS,
        2 => &EARLY_HELP,
        4 => &ASSESSMENTS,
        5 => &S47_ENQUIRIES,
        7 => &CP_PLANS,
        _ => &REFERRALS,
    }
}

/// Columns a list's cells may use: Annex A lists have about 20; a value beyond column GR (200) is
/// refused rather than read (a stray cell at XFD1048576 must not decide the sheet's size).
const MAX_COLUMNS: u32 = 200;

/// Excel's last row.
const MAX_ROWS: u32 = 1_048_576;

/// The unpacked size a workbook may have: 64 MiB, or 50 times its own size when larger. Real
/// workbooks unpack to 3-10 times their size; a zip bomb to a thousand.
fn max_unpacked(file_size: u64) -> u64 {
    (64 << 20).max(file_size.saturating_mul(50))
}

/// Checks an `.xlsx` before calamine opens it, so that a small file cannot make it allocate
/// without bound: the parts' unpacked sizes (the zip crate never unpacks more than an entry
/// declares), and the shared-string count calamine reserves room for up front.
fn preflight(path: &Path) -> Result<(), UserError> {
    let bad = |m: String| UserError::file(path, m);
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        bad(format!(
            "cannot read the workbook (not a valid .xlsx zip): {e}"
        ))
    })?;
    let mut total: u64 = 0;
    let mut strings: Option<(usize, u64)> = None;
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| bad(format!("cannot read the workbook: {e}")))?;
        total = total.saturating_add(entry.size());
        let name = entry
            .name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with("sharedstrings.xml") {
            strings = Some((i, entry.size()));
        }
    }
    if total > max_unpacked(size) {
        return Err(bad(format!(
            "the workbook's parts unpack to {total} bytes from a {size}-byte file, more than any real workbook (at most {} here): refused as malformed (a zip bomb?)",
            max_unpacked(size)
        )));
    }
    if let Some((i, part)) = strings {
        let entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("cannot read the workbook: {e}")))?;
        let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
        let mut buf = vec![];
        loop {
            match xml.read_event_into(&mut buf) {
                Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                    if e.local_name().as_ref() == b"sst" =>
                {
                    let count = e
                        .try_get_attribute("uniqueCount")
                        .ok()
                        .flatten()
                        .and_then(|a| {
                            std::str::from_utf8(&a.value)
                                .ok()?
                                .trim()
                                .parse::<u64>()
                                .ok()
                        });
                    // Each shared string takes at least `<si/>` (5 bytes).
                    if let Some(n) = count.filter(|&n| n > part / 5 + 1) {
                        return Err(bad(format!(
                            "the shared-strings part declares {n} strings in {part} bytes: the workbook is malformed"
                        )));
                    }
                    break;
                }
                Ok(quick_xml::events::Event::Start(_) | quick_xml::events::Event::Eof) | Err(_) => {
                    break
                }
                _ => {}
            }
            buf.clear();
        }
    }
    Ok(())
}

/// A cell of a list sheet as read: a value, or a formula the workbook holds no value for.
enum Got {
    Value(Data),
    Uncalculated,
}

/// A list sheet's non-empty cells: Excel row number (1-based) -> (column, cell), by column.
/// Sparse, so memory follows the cells present, never the sheet's extent.
type Sheet = BTreeMap<u32, Vec<(u32, Got)>>;

/// Excel's name for a column (0 = A).
fn column_name(mut c: u32) -> String {
    let mut out = vec![];
    loop {
        out.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Streams one sheet's cells (calamine's cell reader: no rows x columns allocation), refusing a
/// value outside [`MAX_COLUMNS`] x [`MAX_ROWS`] with the sheet and cell.
fn read_sheet<RS: std::io::Read + std::io::Seek>(
    wb: &mut Xlsx<RS>,
    path: &Path,
    name: &str,
) -> Result<Sheet, UserError> {
    let cannot = |e: calamine::XlsxError| {
        UserError::file(
            path,
            format!(
                "sheet '{}': cannot read it: {}",
                privacy::field_name(name),
                privacy::scrub(&e.to_string())
            ),
        )
    };
    let mut cells = match wb.worksheet_cells_reader(name) {
        Ok(r) => r,
        // A chart sheet named like a list: nothing to read.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Sheet::new()),
        Err(e) => return Err(cannot(e)),
    };
    let mut sheet = Sheet::new();
    while let Some(c) = cells.next_cell_with_formula_metadata().map_err(cannot)? {
        let got = match (c.value, c.formula) {
            (DataRef::Empty, None) => continue,
            (DataRef::Empty, Some(_)) => Got::Uncalculated,
            (v, _) => Got::Value(v.into()),
        };
        let (row, col) = c.pos;
        if col >= MAX_COLUMNS || row >= MAX_ROWS {
            return Err(UserError::at(
                path,
                &format!(
                    "sheet '{}' cell {}{}",
                    privacy::field_name(name),
                    column_name(col),
                    row as u64 + 1
                ),
                format!(
                    "a cell outside the {MAX_COLUMNS} columns and {MAX_ROWS} rows an Annex A list can use: clear the stray cell (Ctrl+End in Excel finds it) and save the workbook again"
                ),
            ));
        }
        sheet.entry(row + 1).or_default().push((col, got));
    }
    for cells in sheet.values_mut() {
        // In column order, one cell per column (a repeated position: the last one wins).
        cells.reverse();
        cells.sort_by_key(|(c, _)| *c);
        cells.dedup_by_key(|(c, _)| *c);
    }
    Ok(sheet)
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
    sheet_name: &str,
    sheet: &Sheet,
) -> Result<Option<List>, UserError> {
    let Some(&row0) = sheet.keys().next() else {
        return Ok(None);
    };
    let patterns = fields(n);
    // One row's values in column order, dense up to its last cell (at most MAX_COLUMNS).
    fn dense(cells: &[(u32, Got)]) -> Vec<Option<&Data>> {
        let width = cells.last().map_or(0, |(c, _)| *c as usize + 1);
        let mut row = vec![None; width];
        for (c, got) in cells {
            if let Got::Value(d) = got {
                row[*c as usize] = Some(d);
            }
        }
        row
    }
    let text = |d: Option<&Data>| d.and_then(cell_text);
    let mut header_at = None;
    for (&r, cells) in sheet.range(row0..row0.saturating_add(30)) {
        let hs: Vec<String> = dense(cells)
            .into_iter()
            .map(|c| text(c).map(|t| norm_header(&t)).unwrap_or_default())
            .collect();
        let has_id = hs.iter().any(|h| (patterns[0].1)(h));
        let matched = hs
            .iter()
            .filter(|h| !h.is_empty() && patterns.iter().any(|(_, p)| p(h)))
            .count();
        if has_id && matched >= 2 {
            header_at = Some(r);
            break;
        }
    }
    let Some(hr) = header_at else {
        let has_value = sheet
            .values()
            .flatten()
            .any(|(_, g)| matches!(g, Got::Value(d) if cell_text(d).is_some()));
        let uncalculated = sheet
            .values()
            .flatten()
            .filter(|(_, g)| matches!(g, Got::Uncalculated))
            .count();
        if !has_value && uncalculated == 0 {
            return Ok(None);
        }
        return Err(UserError::at(
            path,
            &format!("sheet '{}'", privacy::field_name(sheet_name)),
            if has_value {
                format!(
                    "no header row found in the first 30 rows (a row with 'Child Unique ID' and the List {n} columns): is this sheet Annex A List {n}?"
                )
            } else {
                format!(
                    "the sheet holds only formulas with no saved value ({uncalculated} of them): open the workbook in Excel, save it and ingest it again"
                )
            },
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
        format!("{col}{hr}")
    };
    let header_row = dense(&sheet[&hr]);
    for (j, c) in header_row.iter().copied().enumerate() {
        let Some(text) = text(c) else {
            cols.push(Col::Skip);
            continue;
        };
        let h = norm_header(&text);
        if let Some(first) = seen.insert(h.clone(), j) {
            return Err(UserError::at(
                path,
                &format!("sheet '{}' cell {}", privacy::field_name(sheet_name), cell_name(j)),
                format!(
                    "duplicate column: '{}' (cell {}) and '{}' (cell {}) are the same column once normalised; remove one",
                    privacy::field_name(&header_row[first].and_then(cell_text).unwrap_or_default()),
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
            &format!("sheet '{}' row {hr}", privacy::field_name(sheet_name)),
            format!(
                "List {n} has no column for {} (headers are matched loosely: case, spaces, punctuation and a 'Sum of' prefix do not matter)",
                missing.join(", ")
            ),
        ));
    }
    let mut out = vec![];
    let (mut unread, mut uncalculated) = (vec![], 0usize);
    for (&r, cells) in sheet.range(hr.saturating_add(1)..) {
        let mut rec = Rec {
            row: r,
            vals: HashMap::new(),
            raw: vec![],
        };
        let mut any = false;
        let (mut formulas, mut unheaded) = (0usize, false);
        for (j, got) in cells {
            let c = match got {
                Got::Value(c) => c,
                Got::Uncalculated => {
                    formulas += 1;
                    continue;
                }
            };
            match cols.get(*j as usize) {
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
                None if cell_text(c).is_some() => unheaded = true,
                Some(Col::Skip) | None => {}
            }
        }
        if any {
            uncalculated += formulas;
            out.push(rec);
        } else if formulas > 0 {
            unread.push((r, "every cell of this row is a formula with no saved value (the workbook was written by a program that does not calculate formulas): open it in Excel, save it and ingest it again"));
        } else if unheaded {
            unread.push((r, "the row's values are all in columns past the header row's last heading: nothing in it can be read"));
        }
    }
    Ok(Some(List {
        n,
        labels,
        rows: out,
        dropped,
        unread,
        uncalculated,
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
            // The List 3 referrals not yet completed, by (child, date), in row order: a lookup, so
            // that matching stays linear however long the lists.
            let mut open: HashMap<(String, NaiveDate), std::collections::VecDeque<usize>> =
                HashMap::new();
            for (i, x) in referrals.iter().enumerate() {
                if let Some(d) = x
                    .received
                    .as_deref()
                    .and_then(|d| parse::parse_date(d).ok())
                {
                    open.entry((x.raw_id.clone(), d)).or_default().push_back(i);
                }
            }
            for r in &l.rows {
                let Some(id) = self.child(l, r, &REFERRALS) else {
                    continue;
                };
                let start = r.get(F::CinStart);
                let start_d = start.and_then(|d| parse::parse_date(d).ok());
                let target = start_d
                    .and_then(|d| open.get_mut(&(id.clone(), d)))
                    .and_then(|q| q.pop_front())
                    .map(|i| &mut referrals[i]);
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
