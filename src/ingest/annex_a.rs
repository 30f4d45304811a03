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
//! The header rules, which column each header fills, the value maps and the raw layer's columns
//! are data: `specs/annex_a.toml` ([`super::specs::annex_a`]). This file keeps the parsing (sheets,
//! the header row, cells and dates) and the mapping logic (derived ids and links, List 6
//! completing List 3, the child's characteristics once per child).
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
use super::specs::{self, Field, ListSpec};
use crate::error::UserError;
use crate::schema::{
    self, TableSpec, ASSESSMENTS, CHILDREN, CONTACTS, CP_PLANS, CP_REVIEWS, EARLY_HELP, REFERRALS,
    S47_ENQUIRIES,
};

/// Headers that look identifying (ages, allocated teams, workers and advisers, anything that looks
/// like a name, address, postcode, NHS number or UPN): never mapped to a canonical column, even
/// when a list's loose rule would match them (`Agency worker` is no lead agency), except by the
/// fields marked identifying (the child id, the date of birth). Like every column not on the
/// raw-layer allow-list they are dropped and named in the summary.
fn withheld(h: &str) -> bool {
    specs::annex_a().withheld.matches(h)
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

/// One data row of a list: its Excel row number, the mapped cells by field, and the
/// allow-listed columns kept for the raw layer (header, value, shape).
struct Rec {
    row: u32,
    vals: HashMap<&'static str, String>,
    raw: Vec<(String, String, RawKind)>,
}

impl Rec {
    fn get(&self, field: &str) -> Option<&str> {
        self.vals.get(field).map(String::as_str)
    }
}

/// One list sheet, read.
struct List {
    n: u8,
    spec: &'static ListSpec,
    /// The sheet's own header text for each mapped field (labels for rejects and flags).
    labels: HashMap<&'static str, String>,
    rows: Vec<Rec>,
    /// Headers of the columns dropped (not mapped, not on the raw-layer allow-list).
    dropped: Vec<String>,
    /// Rows with nothing the list can read (rejected, never skipped): (Excel row, reason).
    unread: Vec<(u32, &'static str)>,
    /// Formula cells with no saved value in the rows read (read as empty; noted).
    uncalculated: usize,
}

impl List {
    fn label(&self, field: &str) -> &str {
        self.labels.get(field).map_or("", String::as_str)
    }
    fn pos(&self, r: &Rec) -> String {
        format!("List {} row {}", self.n, r.row)
    }
    /// The list's table.
    fn table(&self) -> &'static TableSpec {
        schema::table(&self.spec.table).expect("checked when the spec was read")
    }
    /// The cells of `table` that the list's fields fill from one row, cleaned, with their
    /// headers: (column, value, label). A field whose column is in `skip` is left out.
    fn cells<'l>(&'l self, table: &str, r: &Rec, skip: &[Cell<'_>]) -> Vec<Cell<'l>> {
        let mut out = vec![];
        for f in &self.spec.fields {
            let Some(column) = f.column.as_deref() else {
                continue;
            };
            if f.table.as_deref().unwrap_or(&self.spec.table) != table
                || skip.iter().any(|c| c.0 == column)
            {
                continue;
            }
            let v = r.get(&f.field).and_then(|v| clean(f.value.as_deref(), v));
            out.push((canonical(table, column), v, self.label(&f.field)));
        }
        out
    }
}

/// A cell for the sink: (column, value, the source's name for it).
type Cell<'l> = (&'static str, Option<String>, &'l str);

/// A column's `'static` name (the spec's own string is not).
fn canonical(table: &str, column: &str) -> &'static str {
    schema::table(table)
        .and_then(|t| t.column(column))
        .map(|c| c.name)
        .expect("checked when the spec was read")
}

/// A cell value cleaned as its field says: `code`, `birth_month`, a value map of the spec, or as
/// written. None: missing.
fn clean(how: Option<&str>, v: &str) -> Option<String> {
    match how {
        None => Some(v.to_string()),
        Some("code") => Some(code(v)),
        Some("birth_month") => Some(birth_month_value(v)),
        Some(map) => {
            specs::annex_a().map_value(map, v, &strip_prefix(v).to_ascii_lowercase(), code)
        }
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
                    list.table(),
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
    // Every cell, row and range reference in a worksheet within Excel's grid, checked before
    // calamine parses them (its parser overflows on a reference of more than six letters or ten
    // digits: a panic in a debug build, a wrapped number in release).
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("cannot read the workbook: {e}")))?;
        let raw_name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let name = raw_name.to_ascii_lowercase();
        if !(name.starts_with("xl/worksheets/") && name.ends_with(".xml")) {
            continue;
        }
        let part = privacy::field_name(&raw_name);
        check_references(std::io::BufReader::new(entry)).map_err(|why| {
            bad(format!(
                "worksheet part '{part}': {why}: the workbook is malformed"
            ))
        })?;
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

/// Excel's last column (XFD).
const EXCEL_COLUMNS: u64 = 16_384;

/// Checks the references of one worksheet part: `r` of `<row>` and `<c>`, `ref` of `<dimension>`
/// and `<f>` (a range `A1:B2`, first corner first) must name cells of Excel's grid.
fn check_references(part: impl std::io::BufRead) -> Result<(), String> {
    use quick_xml::events::Event;
    /// (row, column) of `A1` (column 0 when `row_only`), or None when it is not a reference
    /// inside the grid.
    fn cell(text: &[u8], row_only: bool) -> Option<(u64, u64)> {
        let letters = text.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let digits = &text[letters..];
        if letters > 3
            || (row_only && letters > 0)
            || (!row_only && letters == 0)
            || digits.is_empty()
            || digits.len() > 7
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let col = text[..letters].iter().fold(0u64, |c, b| {
            c * 26 + u64::from(b.to_ascii_uppercase() - b'A') + 1
        });
        let row = digits
            .iter()
            .fold(0u64, |r, b| r * 10 + u64::from(b - b'0'));
        ((1..=u64::from(MAX_ROWS)).contains(&row) && col <= EXCEL_COLUMNS).then_some((row, col))
    }
    let mut xml = quick_xml::Reader::from_reader(part);
    let mut buf = vec![];
    loop {
        let e = match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(Event::Eof) => return Ok(()),
            // calamine reports XML errors itself (with the echo rule applied to its message).
            Err(_) => return Ok(()),
            _ => {
                buf.clear();
                continue;
            }
        };
        let (attr, row_only, range): (&[u8], bool, bool) = match e.local_name().as_ref() {
            b"row" => (b"r", true, false),
            b"c" => (b"r", false, false),
            b"dimension" | b"f" => (b"ref", false, true),
            _ => {
                buf.clear();
                continue;
            }
        };
        if let Some(a) = e.try_get_attribute(attr).ok().flatten() {
            let v = a.value.as_ref();
            let ok = if range {
                let mut corners = v.splitn(2, |b| *b == b':');
                let first = corners.next().and_then(|c| cell(c, false));
                match (first, corners.next()) {
                    (Some(_), None) => true,
                    (Some((r1, c1)), Some(last)) => {
                        cell(last, false).is_some_and(|(r2, c2)| r1 <= r2 && c1 <= c2)
                    }
                    _ => false,
                }
            } else {
                cell(v, row_only).is_some()
            };
            if !ok {
                return Err(format!(
                    "a <{}> {} that is not a cell of Excel's grid (columns A to XFD, rows 1 to {MAX_ROWS}, first corner first)",
                    String::from_utf8_lossy(e.local_name().as_ref()),
                    String::from_utf8_lossy(attr)
                ));
            }
        }
        buf.clear();
    }
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
    let Some(list_spec) = specs::annex_a().list(n) else {
        return Ok(None);
    };
    let patterns: Vec<&'static Field> = specs::annex_a().fields(n).collect();
    let is_id = |h: &str| {
        patterns
            .iter()
            .any(|f| f.field == "child_id" && f.rule.matches(h))
    };
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
        let has_id = hs.iter().any(|h| is_id(h));
        let matched = hs
            .iter()
            .filter(|h| !h.is_empty() && patterns.iter().any(|f| f.rule.matches(h)))
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
        Field(&'static Field),
        Raw(String, RawKind),
        Skip,
    }
    let mut taken: HashMap<&'static str, usize> = HashMap::new();
    let mut labels: HashMap<&'static str, String> = HashMap::new();
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
        let mappable = |f: &Field| f.identifying || !withheld(&h);
        let field = patterns
            .iter()
            .find(|f| !taken.contains_key(f.field.as_str()) && mappable(f) && f.rule.matches(&h))
            .copied();
        match field {
            Some(f) => {
                taken.insert(&f.field, j);
                labels.insert(&f.field, text.trim().to_string());
                cols.push(Col::Field(f));
            }
            None => match raw_allow::annex_a(n, &h) {
                Some(kind) => cols.push(Col::Raw(text.trim().to_string(), kind)),
                None => {
                    if !raw_allow::annex_a_not_stored(&h) {
                        dropped.push(text);
                    }
                    cols.push(Col::Skip)
                }
            },
        }
    }
    let missing: Vec<&str> = list_spec
        .required
        .iter()
        .filter(|f| !taken.contains_key(f.as_str()))
        .map(|f| {
            patterns
                .iter()
                .find(|p| p.field == *f)
                .and_then(|p| p.describe.as_deref())
                .unwrap_or("?")
        })
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
                    let v = if f.date { date_text(c) } else { cell_text(c) };
                    if let Some(v) = v {
                        any = true;
                        rec.vals.insert(&f.field, v);
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
        spec: list_spec,
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

// ---- mapping ----

/// A child's characteristics (the common fields' raw values), from the first row that gives each,
/// and that row's position.
#[derive(Default)]
struct ChildAcc {
    pos: String,
    vals: HashMap<&'static str, String>,
}

/// A referral built from List 3 (and completed from List 6) before it is stored.
struct Referral<'l> {
    id: String,
    raw_id: String,
    pos: String,
    /// The child id's label, and the list cells (received_at, source...), with their labels.
    child_label: &'l str,
    cells: Vec<Cell<'l>>,
    /// Flag to add once stored: (column, flag, reason).
    flag: Option<(String, &'static str, String)>,
}

impl Referral<'_> {
    /// The date received, when it is a date.
    fn received(&self) -> Option<NaiveDate> {
        self.cells
            .iter()
            .find(|c| c.0 == "received_at")
            .and_then(|c| c.1.as_deref())
            .and_then(|d| parse::parse_date(d).ok())
    }
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
        let Some(id) = r.get("child_id").map(str::to_string) else {
            self.sink.reject(
                spec,
                list.pos(r),
                list.label("child_id"),
                "",
                "no Child Unique ID: the row cannot be pseudonymised or linked".into(),
            );
            return None;
        };
        let acc = self.children.entry(id.clone()).or_insert_with(|| ChildAcc {
            pos: list.pos(r),
            ..Default::default()
        });
        for f in &specs::annex_a().common {
            if let Some(v) = r.get(&f.field) {
                acc.vals
                    .entry(f.field.as_str())
                    .or_insert_with(|| v.to_string());
            }
        }
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

    /// Stores one row of a list's table: its derived id, the child and LA, the cells the list's
    /// fields fill, and `more` (derived columns). Returns whether it was stored.
    fn store_row(
        &mut self,
        l: &List,
        r: &Rec,
        spec: &'static TableSpec,
        id: &str,
        more: &[Cell<'_>],
    ) -> bool {
        let mut row = self.sink.row_for(spec, l.pos(r));
        row.set(spec.columns[0].name, id, "")
            .set("la_code", self.la.as_str(), "");
        for (column, v, label) in more.iter().cloned().chain(l.cells(spec.name, r, &[])) {
            row.set(column, v, label);
        }
        row.finish()
    }

    /// Lists 1 and 2: rows of the child with ids `{pseudonym}-{prefix}-{date}-{n}`.
    fn child_rows(&mut self, l: &List, spec: &'static TableSpec, prefix: &str, date_field: &str) {
        for r in &l.rows {
            let Some(id) = self.child(l, r, spec) else {
                continue;
            };
            let pseudo = self.sink.pseudo.child_id(&id);
            let stem = format!("{pseudo}-{prefix}-{}", Self::id_date(r.get(date_field)));
            let n = self.next(spec.name, &stem);
            let child = [("child_id", Some(id), l.label("child_id"))];
            self.store_row(l, r, spec, &format!("{stem}-{n}"), &child);
            self.raw(l, r);
        }
    }

    /// Lists 4, 5 and 7: rows hanging off the child's referral, with ids `{referral}-{kind}{k}`.
    /// `then` is called after each row with its id (None: the row had no child id and was
    /// rejected), for the rows that hang off it in turn.
    fn referral_rows(
        &mut self,
        l: &List,
        spec: &'static TableSpec,
        kind: &str,
        date_field: &str,
        more: &[Cell<'_>],
        mut then: impl FnMut(&mut Self, &Rec, Option<&str>),
    ) {
        for r in &l.rows {
            let Some(id) = self.child(l, r, spec) else {
                then(self, r, None);
                continue;
            };
            let pseudo = self.sink.pseudo.child_id(&id);
            let referral = self.link(&id, &pseudo, r.get(date_field));
            let k = self.next(spec.name, &referral);
            let row_id = format!("{referral}-{kind}{k}");
            let mut cells: Vec<Cell<'_>> = vec![
                ("referral_id", Some(referral), ""),
                ("child_id", Some(id), l.label("child_id")),
            ];
            cells.extend(more.iter().cloned());
            self.store_row(l, r, spec, &row_id, &cells);
            then(self, r, Some(&row_id));
            self.raw(l, r);
        }
    }

    fn map(mut self, lists: &BTreeMap<u8, List>) {
        if let Some(l) = lists.get(&1) {
            self.child_rows(l, &CONTACTS, "C", "contact_date");
        }
        if let Some(l) = lists.get(&2) {
            self.child_rows(l, &EARLY_HELP, "EH", "eh_start");
        }
        self.map_referrals(lists.get(&3), lists.get(&6));
        if let Some(l) = lists.get(&4) {
            self.referral_rows(l, &ASSESSMENTS, "A", "asmt_start", &[], |_, _, _| {});
        }
        if let Some(l) = lists.get(&5) {
            let more = [("transfer_in", Some("N".to_string()), "")];
            self.referral_rows(l, &S47_ENQUIRIES, "S", "s47_start", &more, |_, _, _| {});
        }
        // List 7: child protection plans, and the latest review conference as a review.
        if let Some(l) = lists.get(&7) {
            self.referral_rows(l, &CP_PLANS, "P", "cpp_start", &[], |m, r, plan_id| {
                if r.get("review").is_none() {
                    return;
                }
                let Some(plan_id) = plan_id else {
                    m.sink.reject(
                        &CP_REVIEWS,
                        l.pos(r),
                        l.label("child_id"),
                        "",
                        "review of a plan with no Child Unique ID".into(),
                    );
                    return;
                };
                let mut row = m.sink.row_for(&CP_REVIEWS, l.pos(r));
                row.set("plan_id", plan_id, "");
                for (column, v, label) in l.cells(CP_REVIEWS.name, r, &[]) {
                    row.set(column, v, label);
                }
                row.finish();
            });
        }
        self.map_children();
    }

    /// A referral from a List 3 or List 6 row, id `{pseudonym}-{date}-{n}` (the date of
    /// `date_field`); also returns n (the child's referrals on that date so far).
    fn referral<'l>(
        &mut self,
        l: &'l List,
        r: &Rec,
        id: String,
        date_field: &str,
    ) -> (Referral<'l>, u32) {
        let pseudo = self.sink.pseudo.child_id(&id);
        let stem = format!("{pseudo}-{}", Self::id_date(r.get(date_field)));
        let n = self.next("referral", &stem);
        let x = Referral {
            id: format!("{stem}-{n}"),
            raw_id: id,
            pos: l.pos(r),
            child_label: l.label("child_id"),
            cells: l.cells(REFERRALS.name, r, &[]),
            flag: None,
        };
        (x, n)
    }

    /// Lists 3 and 6: referrals. A CIN episode (List 6) starts with its referral (CIN Start Date
    /// = referral date): it completes the List 3 referral of the same child and date, or else
    /// becomes a referral of its own, flagged.
    fn map_referrals(&mut self, list3: Option<&List>, list6: Option<&List>) {
        let mut referrals: Vec<Referral> = vec![];
        if let Some(l) = list3 {
            for r in &l.rows {
                let Some(id) = self.child(l, r, &REFERRALS) else {
                    continue;
                };
                let (mut x, n) = self.referral(l, r, id, "ref_date");
                x.flag = (n > 1).then(|| {
                    (
                        l.label("ref_date").to_string(),
                        "same_day_episode",
                        format!("referral {n} of this child on the same date in this workbook: kept, in row order"),
                    )
                });
                referrals.push(x);
                self.raw(l, r);
            }
        }
        if let Some(l) = list6 {
            let (mut merged, mut own) = (0, 0);
            // The List 3 referrals not yet completed, by (child, date), in row order: a lookup, so
            // that matching stays linear however long the lists.
            let mut open: HashMap<(String, NaiveDate), std::collections::VecDeque<usize>> =
                HashMap::new();
            for (i, x) in referrals.iter().enumerate() {
                if let Some(d) = x.received() {
                    open.entry((x.raw_id.clone(), d)).or_default().push_back(i);
                }
            }
            for r in &l.rows {
                let Some(id) = self.child(l, r, &REFERRALS) else {
                    continue;
                };
                let start = r.get("cin_start");
                let target = start
                    .and_then(|d| parse::parse_date(d).ok())
                    .and_then(|d| open.get_mut(&(id.clone(), d)))
                    .and_then(|q| q.pop_front());
                match target {
                    Some(i) => {
                        // The episode's need and closure complete the referral, which keeps
                        // its own date.
                        let x = &mut referrals[i];
                        x.pos = format!("{} + {}", x.pos, l.pos(r));
                        let more = l.cells(REFERRALS.name, r, &x.cells);
                        x.cells.extend(more);
                        merged += 1;
                    }
                    None => {
                        let (mut x, _) = self.referral(l, r, id, "cin_start");
                        x.flag = Some((
                            l.label("cin_start").to_string(),
                            "cin_without_referral",
                            "List 6 CIN episode with no List 3 referral of the same child and date: stored as a referral of its own (received on the CIN Start Date)".into(),
                        ));
                        referrals.push(x);
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
            if let Some(d) = x.received() {
                self.referrals
                    .entry(x.raw_id.clone())
                    .or_default()
                    .push((d, x.id.clone()));
            }
            let mut row = self.sink.row_for(&REFERRALS, x.pos.clone());
            row.set("referral_id", &x.id, "")
                .set("child_id", &x.raw_id, x.child_label)
                .set("la_code", self.la.as_str(), "");
            for (column, v, label) in x.cells {
                row.set(column, v, label);
            }
            if let (true, Some((column, flag, reason))) = (row.finish(), x.flag) {
                self.sink.flag("referrals", x.pos, &column, flag, reason);
            }
        }
    }

    /// Children: once per child, from the common columns (with their spec labels). Age is not
    /// read; `unborn` is N for a child with a date of birth.
    fn map_children(&mut self) {
        let children = std::mem::take(&mut self.children);
        for (id, c) in children {
            let mut row = self.sink.row_for(&CHILDREN, c.pos);
            row.set("la_code", self.la.as_str(), "").set(
                "unborn",
                c.vals.get("dob").map(|_| "N"),
                "",
            );
            for f in &specs::annex_a().common {
                let column = f.column.as_deref().expect("checked when the spec was read");
                let v = match f.field.as_str() {
                    "child_id" => Some(id.clone()),
                    field => c.vals.get(field).and_then(|v| clean(f.value.as_deref(), v)),
                };
                row.set(
                    canonical("children", column),
                    v,
                    f.label.as_deref().unwrap_or(""),
                );
            }
            row.finish();
        }
    }
}
