//! `report.xlsx`: every table the report publishes as CSV, one sheet each, cell for cell, with a
//! `Notes` sheet first (title, partnership, year and period, reference date, sources, the
//! suppression rule with the configured threshold, the Open Government Licence line for the
//! DfE's figures, and what each sheet holds).
//!
//! The sheets are built from the published CSV files themselves, as the report wrote them (the
//! `.csv` files among the report's outputs, after they are written), so a table the report
//! publishes is a sheet with no more code, and the workbook cannot differ from the CSVs: same
//! suppression, same cells. The analyst's `measures-unsuppressed.csv` is not one of the report's
//! outputs and never reaches the workbook.
//!
//! Cells (choices written down here and in the README):
//! - A column is numeric when every cell is a plain decimal number (no `+`, no leading zero, no
//!   exponent, at most 15 digits, so the number is exactly the text) or a marker (`c` suppressed,
//!   `-` not defined, empty, or one of the GSS symbols `x z u [c] [x] [z] [u] ..`), with at least
//!   one number. Its numbers are written as numbers with the decimals the CSV shows (`#,##0`,
//!   `#,##0.0000`...), so they read the same; its markers as text (right-aligned), its empty
//!   cells left empty. A suppressed cell is the text `c`, as in the CSV: never 0, never blank.
//! - A column is a percentage column when every cell is a percentage (`82.4%`) or a marker, with
//!   at least one percentage: each is the number it shows (`82.4%` is 0.824) with a percentage
//!   format of the same decimals (`0.0%`), so Excel shows `82.4%` and computes with 0.824.
//! - Every other column is text, written with `write_string`: a cell is never a formula. The CSV
//!   writer puts a `'` before a text cell a spreadsheet would read as a formula (`=`, `+`, `-`,
//!   `@`...; `src/csv_out.rs`); the workbook has no need of it (a string cell is never run), so
//!   it holds the text without the `'`, with Excel's own "quote prefix" style (the cell stays
//!   text if someone edits it). So for every text cell, the CSV cell is the sheet's text passed
//!   through the CSV writer's escape (`csv_out::escape_cell`); the one text that is not given
//!   back exactly is one that itself began with `'` before a formula character, which the CSV
//!   cannot tell from an escaped cell either.
//! - The header row is bold and frozen (and repeated on each printed page); columns are as wide
//!   as their text (6 to 60 characters); each sheet prints on A4 landscape, one page wide.
//! - Sheet names are the CSV names without `.csv`, made safe for Excel (at most 31 characters,
//!   none of `[ ] : * ? / \`, not starting or ending with `'`, not `History`, unique ignoring
//!   case: a clash gets `~2`, `~3`...). `summary*` tables come first, then the others in the
//!   order the report wrote them.
//! - Same inputs, same bytes: the document's creation date is the data's reference date (else
//!   the last day of the reporting year), and rust_xlsxwriter dates the zip entries 1980-01-01.
//!
//! Memory: each CSV is streamed twice (its columns' kinds and widths, then its cells row by row)
//! into a worksheet in rust_xlsxwriter's constant-memory mode, whose rows go to an unnamed
//! temporary file in the report folder; no table is held in memory (a 420,000-row table like
//! `measures.csv` at national scale: 25 MB in this mode, 560 MB in the ordinary one). A table too
//! big for a worksheet (1,048,576 rows) is left to its CSV, and the notes say so, rather than
//! failing the report.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Datelike;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet};

use super::{Figure, ReportData};
use crate::csv_out::needs_escape;
use crate::measures::MeasuresOutput;

/// The workbook's file name in the report folder.
pub const FILE: &str = "report.xlsx";
/// The notes sheet's name (the first sheet).
pub const NOTES: &str = "Notes";
/// The licence line for the DfE's figures.
pub const OGL: &str =
    "Contains public sector information licensed under the Open Government Licence v3.0.";

/// Markers a numeric or percentage column may hold besides numbers: the report's `c`
/// (suppressed) and `-` (not defined), and the GSS symbols for published tables.
const MARKERS: &[&str] = &["c", "-", "x", "z", "u", "[c]", "[x]", "[z]", "[u]", ".."];
/// Excel's limits: rows and columns of a worksheet, characters of a sheet name.
const MAX_ROWS: usize = 1_048_576;
const MAX_COLS: usize = 16_384;
const MAX_SHEET_NAME: usize = 31;
/// Width of the notes' text column, in characters.
const NOTES_WIDTH: usize = 100;

/// How a column's cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Percent,
}

/// Decimals of a plain decimal number written exactly as its text (see the module comment),
/// or None when `s` is not one.
fn number_decimals(s: &str) -> Option<usize> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
        return None;
    }
    if let Some(f) = frac {
        if !digits(f) {
            return None;
        }
    }
    let dp = frac.map_or(0, str::len);
    (int.len() + dp <= 15).then_some(dp)
}

/// Decimals of a percentage (`82.4%`), or None.
fn percent_decimals(s: &str) -> Option<usize> {
    s.strip_suffix('%').and_then(number_decimals)
}

fn is_marker(s: &str) -> bool {
    s.is_empty() || MARKERS.contains(&s)
}

/// What the first pass learns of a column: its kind and its width.
#[derive(Debug, Clone, Copy)]
struct Column {
    all_percent: bool,
    any_percent: bool,
    all_number: bool,
    any_number: bool,
    width: usize,
}

impl Default for Column {
    fn default() -> Self {
        Column {
            all_percent: true,
            any_percent: false,
            all_number: true,
            any_number: false,
            width: 6,
        }
    }
}

impl Column {
    /// Takes in one (CSV) cell below the header.
    fn see(&mut self, c: &str) {
        let pct = percent_decimals(c).is_some();
        let num = number_decimals(c).is_some();
        let marker = is_marker(c);
        self.any_percent |= pct;
        self.all_percent &= pct || marker;
        self.any_number |= num;
        self.all_number &= num || marker;
        self.see_width(c);
    }
    fn see_width(&mut self, c: &str) {
        // Thousands separators widen a count a little.
        let n = c.chars().count();
        self.width = self.width.max(n + n / 3);
    }
    fn kind(&self) -> Kind {
        if self.all_percent && self.any_percent {
            Kind::Percent
        } else if self.all_number && self.any_number {
            Kind::Number
        } else {
            Kind::Text
        }
    }
}

/// A CSV text cell as the sheet holds it: without the CSV writer's `'` escape, and whether it
/// had one.
fn unescape(raw: &str) -> (&str, bool) {
    match raw.strip_prefix('\'') {
        Some(rest) if needs_escape(rest) => (rest, true),
        _ => (raw, false),
    }
}

/// An Excel-safe sheet name from a CSV file stem, unique (ignoring case) among `used`.
pub fn sheet_name(stem: &str, used: &mut HashSet<String>) -> String {
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if "[]:*?/\\".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut base = cleaned.trim_matches('\'').trim().to_string();
    if base.is_empty() {
        base = "Sheet".into();
    }
    if base.eq_ignore_ascii_case("history") {
        base.push('_');
    }
    let cut = |s: &str, n: usize| -> String {
        let t: String = s.chars().take(n).collect();
        // Cutting may leave a trailing `'`, which Excel refuses.
        t.trim_end_matches('\'').to_string()
    };
    let mut name = cut(&base, MAX_SHEET_NAME);
    let mut n = 2;
    while used.contains(&name.to_lowercase()) || name.is_empty() {
        let suffix = format!("~{n}");
        name = format!(
            "{}{suffix}",
            cut(&base, MAX_SHEET_NAME - suffix.chars().count())
        );
        n += 1;
    }
    used.insert(name.to_lowercase());
    name
}

/// What a published CSV holds, for the notes sheet.
fn contents(file: &str, figures: &[Figure]) -> String {
    if let Some(f) = figures
        .iter()
        .find(|f| format!("{}.csv", f.chart.id) == file)
    {
        return format!(
            "Section {}, {}: the table behind the chart \"{}\" ({}.png, {}.svg).",
            f.section, f.heading, f.chart.title, f.chart.id, f.chart.id
        );
    }
    match file {
        "summary.csv" => "Summary of headline measures, one row per measure and area (each LA and the partnership): this year with its 95% interval, last year, the change and its direction, the statutory limit, England, and the statistical neighbours' median and band.".into(),
        "measures.csv" => "The measures table as published: every measure by period, local authority and breakdown (numerator, denominator, value, rows excluded, cases pending), suppressed.".into(),
        "data-quality.csv" => "Rows left out of each measure, measures not measurable from the data held, and the data-quality flags on the records by table and reason.".into(),
        "compare.csv" => "Each local authority against its statistical neighbours, its region and England, and our figures beside the DfE's published ones.".into(),
        _ => format!("The table published as {file}."),
    }
}

/// The records of one published CSV (header first), streamed.
fn records(path: &Path) -> Result<impl Iterator<Item = Result<csv::StringRecord>>> {
    let r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {} for {FILE}", path.display()))?;
    let p = path.display().to_string();
    Ok(r.into_records()
        .map(move |rec| rec.with_context(|| format!("reading {p} for {FILE}"))))
}

/// Number formats by (kind, decimals), made once each.
#[derive(Default)]
struct Formats {
    made: BTreeMap<(bool, usize), Format>,
}

impl Formats {
    fn get(&mut self, percent: bool, dp: usize) -> &Format {
        self.made.entry((percent, dp)).or_insert_with(|| {
            let zeros = "0".repeat(dp);
            let code = match (percent, dp) {
                (true, 0) => "0%".to_string(),
                (true, _) => format!("0.{zeros}%"),
                (false, 0) => "#,##0".to_string(),
                (false, _) => format!("#,##0.{zeros}"),
            };
            Format::new().set_num_format(code)
        })
    }
}

/// The first pass over a published CSV: its columns (kind and width) and its number of rows.
struct Scan {
    cols: Vec<Column>,
    rows: usize,
}

impl Scan {
    fn of(path: &Path) -> Result<Scan> {
        let mut cols: Vec<Column> = vec![];
        let mut rows = 0usize;
        for rec in records(path)? {
            let rec = rec?;
            if cols.len() < rec.len() {
                cols.resize(rec.len(), Column::default());
            }
            for (c, cell) in rec.iter().enumerate() {
                if rows == 0 {
                    cols[c].see_width(cell);
                } else {
                    cols[c].see(cell);
                }
            }
            rows += 1;
        }
        Ok(Scan { cols, rows })
    }
    /// Why a worksheet cannot hold the table, if it cannot.
    fn too_big(&self) -> Option<String> {
        (self.rows > MAX_ROWS || self.cols.len() > MAX_COLS).then(|| {
            format!(
                "{} rows and {} columns, more than a worksheet holds ({MAX_ROWS} x {MAX_COLS})",
                self.rows,
                self.cols.len()
            )
        })
    }
}

/// Writes one published CSV into `ws`, streaming it a second time (after [`Scan::of`]) so that
/// no table is held in memory: the cells row by row (the sheet is in rust_xlsxwriter's
/// constant-memory mode).
fn write_table(
    ws: &mut Worksheet,
    path: &Path,
    file: &str,
    scan: &Scan,
    formats: &mut Formats,
) -> Result<()> {
    let kinds: Vec<Kind> = scan.cols.iter().map(Column::kind).collect();
    for (c, col) in scan.cols.iter().enumerate() {
        ws.set_column_width(c as u16, col.width.min(60) as f64 + 2.0)?;
    }
    if scan.rows > 0 {
        ws.set_freeze_panes(1, 0)?;
        ws.set_repeat_rows(0, 0)?;
    }
    print_setup(ws);

    let header = Format::new()
        .set_bold()
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    let quoted = Format::new().set_quote_prefix();
    let marker = Format::new().set_align(FormatAlign::Right);
    for (i, rec) in records(path)?.enumerate().take(scan.rows) {
        let rec = rec?;
        let row = i as u32;
        for (c, raw) in rec.iter().enumerate() {
            if raw.is_empty() {
                continue;
            }
            let col = c as u16;
            let kind = kinds[c];
            let (text, escaped) = unescape(raw);
            let at = || format!("{FILE}: {file} row {} column {}", i + 1, c + 1);
            let written = if i == 0 {
                // Over a column of numbers the header is right-aligned, like its numbers.
                let mut f = header.clone();
                if kind != Kind::Text {
                    f = f.set_align(FormatAlign::Right);
                }
                if escaped {
                    f = f.set_quote_prefix();
                }
                ws.write_string_with_format(row, col, text, &f).map(|_| ())
            } else if escaped {
                ws.write_string_with_format(row, col, text, &quoted)
                    .map(|_| ())
            } else {
                match (kind, number_decimals(raw), percent_decimals(raw)) {
                    (Kind::Number, Some(dp), _) => {
                        let v: f64 = raw.parse().with_context(at)?;
                        ws.write_number_with_format(row, col, v, formats.get(false, dp))
                            .map(|_| ())
                    }
                    (Kind::Percent, _, Some(dp)) => {
                        // `82.4%` is 0.824: the decimal point moved in the text, then parsed
                        // (the nearest double to 0.824, as if typed into Excel).
                        let stem = &raw[..raw.len() - 1];
                        let v: f64 = format!("{stem}e-2").parse().with_context(at)?;
                        ws.write_number_with_format(row, col, v, formats.get(true, dp))
                            .map(|_| ())
                    }
                    (Kind::Number | Kind::Percent, _, _) => ws
                        .write_string_with_format(row, col, text, &marker)
                        .map(|_| ()),
                    (Kind::Text, _, _) => ws.write_string(row, col, text).map(|_| ()),
                }
            };
            written.with_context(at)?;
        }
    }
    Ok(())
}

/// Printing: A4 landscape, as wide as one page, as many pages down as it takes.
fn print_setup(ws: &mut Worksheet) {
    ws.set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 0);
}

/// The notes sheet: (label, text) rows, then the list of sheets.
fn write_notes(
    ws: &mut Worksheet,
    d: &ReportData,
    m: &MeasuresOutput,
    sheets: &[(String, String, String)],
) -> Result<()> {
    let bold = Format::new().set_bold().set_align(FormatAlign::Top);
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let top = Format::new().set_align(FormatAlign::Top);
    let title = Format::new().set_bold().set_font_size(14);
    ws.set_name(NOTES)?;
    print_setup(ws);
    ws.set_column_width(0, 28)?;
    ws.set_column_width(1, NOTES_WIDTH as f64)?;
    ws.set_column_width(2, 32)?;
    let y = d.year;
    ws.write_string_with_format(
        0,
        0,
        format!("{}: annual report {y}, tables", d.partnership),
        &title,
    )?;
    let reference_text = m.reference_date.map_or_else(
        || "not known".to_string(),
        |r| {
            format!(
                "{r} ({}): figures follow each case to this date",
                m.reference_source
            )
        },
    );
    let lines: Vec<(&str, String)> = vec![
        ("Partnership", d.partnership.clone()),
        ("Reporting year", y.to_string()),
        (
            "Period",
            format!("1 April {} to 31 March {}", y.0, y.0 + 1),
        ),
        ("Reference date", reference_text),
        (
            "Sources",
            "The partnership's own records: its local authorities' children's social care records (contacts, referrals, assessments, s47 enquiries, conferences, plans, early help) and its Child Death Overview Panel's reviews.".into(),
        ),
        (
            "",
            "England, regional and statistical neighbour figures: Department for Education, Children in need statistics (and, where those lack a measure, the published figure named in the benchmark file's source column).".into(),
        ),
        (
            "",
            "Child death reviews: recorded in the categories of the National Child Mortality Database (NCMD) analysis form; England's child death figures from the national child death review statistics (DfE, NHS Digital), each named in the benchmark file's source column.".into(),
        ),
        (
            "Suppression",
            format!(
                "Counts of 1 to {} are suppressed and shown as c, with a second cell where needed so that none can be worked out from a total; a share or sum of a suppressed count is suppressed too. The sheets are the report's CSV files, suppressed exactly as published.",
                d.threshold
            ),
        ),
        (
            "Symbols",
            "c: suppressed (small number). -: not defined (nothing to measure). An empty cell: no figure (for example, the DfE's figure has no numerator or denominator).".into(),
        ),
        (
            "Numbers",
            "Counts and figures are numbers with the decimals the CSV shows; percentages are numbers shown as percentages (82.4% is the number 0.824). Text that a spreadsheet could read as a formula is text here (the CSV files put a ' before it).".into(),
        ),
        ("Licence", OGL.into()),
        (
            "Working days",
            "Working days exclude weekends and bank holidays in England and Wales.".into(),
        ),
    ];
    // Wrapped text gets a row tall enough for its lines (spreadsheets do not all fit it).
    let tall = |ws: &mut Worksheet, row: u32, text: &str| -> Result<()> {
        let lines = text.chars().count().div_ceil(NOTES_WIDTH).max(1);
        if lines > 1 {
            ws.set_row_height(row, 15.0 * lines as f64)?;
        }
        Ok(())
    };
    let mut row = 2u32;
    for (label, text) in &lines {
        ws.write_string_with_format(row, 0, *label, &bold)?;
        ws.write_string_with_format(row, 1, text, &wrap)?;
        tall(ws, row, text)?;
        row += 1;
    }
    row += 1;
    ws.write_string_with_format(row, 0, "Sheet", &bold)?;
    ws.write_string_with_format(row, 1, "What it holds", &bold)?;
    ws.write_string_with_format(row, 2, "File", &bold)?;
    for (name, file, what) in sheets {
        row += 1;
        ws.write_string_with_format(row, 0, name, &top)?;
        ws.write_string_with_format(row, 1, what, &wrap)?;
        ws.write_string_with_format(row, 2, file, &top)?;
        tall(ws, row, what)?;
    }
    Ok(())
}

/// Writes `report.xlsx` into `out_dir` from the report's published CSV files (the `.csv` files
/// among `files`, as written) and returns its path.
pub fn write(
    out_dir: &Path,
    files: &[PathBuf],
    d: &ReportData,
    m: &MeasuresOutput,
    figures: &[Figure],
) -> Result<PathBuf> {
    let path = out_dir.join(FILE);
    crate::csv_out::writable_file(&path)?;
    let mut csvs: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    // `summary*` first, the rest in the order written (a stable sort).
    csvs.sort_by_key(|p| {
        !p.file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s.starts_with("summary"))
    });

    let mut book = Workbook::new();
    let created = m.reference_date.unwrap_or_else(|| d.year.end());
    let date = ExcelDateTime::from_ymd(
        created.year() as u16,
        created.month() as u8,
        created.day() as u8,
    )?;
    book.set_properties(
        &DocProperties::new()
            .set_title(format!(
                "{}: annual report {}, tables",
                d.partnership, d.year
            ))
            .set_creation_datetime(&date),
    );
    // The sheets' temporary files go beside the report (a folder known to be writable).
    book.set_tempdir(out_dir)?;
    let mut used = HashSet::from([NOTES.to_lowercase()]);
    let mut sheets = vec![];
    let mut scans = vec![];
    for p in &csvs {
        let file = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = p
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let scan = Scan::of(p)?;
        // A table too big for a worksheet (none is, at national scale) is left to its CSV,
        // and the notes say so, rather than failing the report.
        let (name, what) = match scan.too_big() {
            Some(why) => (
                "(not in this workbook)".to_string(),
                format!("{file} has {why}: see the CSV file."),
            ),
            None => (sheet_name(&stem, &mut used), contents(&file, figures)),
        };
        sheets.push((name, file, what));
        scans.push(scan);
    }
    write_notes(book.add_worksheet(), d, m, &sheets)?;
    let mut formats = Formats::default();
    for ((p, (name, file, _)), scan) in csvs.iter().zip(&sheets).zip(&scans) {
        if scan.too_big().is_some() {
            continue;
        }
        let ws = book.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        write_table(ws, p, file, scan, &mut formats)?;
    }
    let bytes = book.save_to_buffer().context("building report.xlsx")?;
    crate::csv_out::write_bytes(&path, &bytes)?;
    Ok(path)
}
