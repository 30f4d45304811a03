//! The one CSV writer for every file published or opened by analysts: the store's `rejects.csv`
//! and `data_quality.csv`, the measures CSVs, the report's tables, `measures.csv` and
//! `data-quality.csv`, and the CDOP national return.
//!
//! CSV injection (OWASP "CSV Injection"): a spreadsheet opening a CSV runs a cell that starts
//! with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)`, `@SUM(...)`, `+cmd|...`), and
//! a leading tab or carriage return can hide one. Every text cell written here whose first
//! character (after any spaces) is one of `=`, `+`, `-`, `@`, tab, carriage return, or their
//! full-width forms (`＝ ＋ － ＠`, which some spreadsheets also read as operators) is written
//! with a `'` in front, the guidance's "prepend a single quote", so it is shown as text and
//! never run. A cell that is plainly a number (`-3`, `-0.5`, `+2`, `1e-3`) is left as it is so
//! that it stays numeric, and so is a lone `-` (the tables' "not defined"). The escape is
//! applied when writing only: the Parquet twins of the store's tables keep the values as read
//! (they are not opened in a spreadsheet).

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use crate::error::UserError;

/// Characters that make a spreadsheet read a cell as a formula when they start it.
const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// True when `s` is plainly a decimal number: an optional sign, digits with at most one point,
/// an optional exponent. (`inf`, `NaN`, `1,000`, `0x1F` are not.)
pub fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits = 0;
    let mut point = false;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => digits += 1,
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Whether a text cell needs the `'` prefix (see the module comment).
pub fn needs_escape(s: &str) -> bool {
    // A lone dash is how the tables show "not defined": text, never a formula.
    if s == "-" {
        return false;
    }
    let first = s.trim_start_matches(' ').chars().next();
    match first {
        Some(c) if TRIGGERS.contains(&c) => !is_plain_number(s),
        _ => false,
    }
}

/// A text cell as written: `'` in front when a spreadsheet would read it as a formula.
pub fn escape_cell(s: &str) -> Cow<'_, str> {
    if needs_escape(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Creates `path` for writing; a folder where a file is expected, or a folder that can't be
/// written to, is a user error naming the path.
pub fn create(path: &Path) -> Result<File> {
    if path.is_dir() {
        return Err(UserError::file(path, "is a folder; give a file name to write".into()).into());
    }
    File::create(path).map_err(|e| UserError::file(path, format!("cannot write: {e}")).into())
}

/// Creates the folder `dir` (and its parents) for outputs; a file in the way, or a folder that
/// can't be created, is a user error naming the path.
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(UserError::file(dir, "is a file; give a folder to write into".into()).into());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| UserError::file(dir, format!("cannot create the folder: {e}")))?;
    Ok(())
}

/// Creates `dir` (see [`create_dir`]) and checks a file can be written in it, before any work
/// is done: an unwritable folder is a user error naming it, not a failure halfway through.
pub fn writable_dir(dir: &Path) -> Result<()> {
    create_dir(dir)?;
    let probe = dir.join(format!(".safeguard-write-check-{}", std::process::id()));
    File::create(&probe)
        .map_err(|e| UserError::file(dir, format!("cannot write into the folder: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Checks that `path` can be an output file: not an existing folder, and its folder (created
/// if missing) writable.
pub fn writable_file(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(UserError::file(path, "is a folder; give a file name to write".into()).into());
    }
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => writable_dir(dir),
        None => writable_dir(Path::new(".")),
    }
}

/// Writes `bytes` to `path` (a user error naming the path when it can't be written).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = create(path)?;
    f.write_all(bytes)
        .map_err(|e| UserError::file(path, format!("cannot write: {e}")))?;
    Ok(())
}

/// The CSV text of a header and rows of text cells (escaped).
pub fn rows_to_bytes<S: AsRef<str>>(header: &[S], rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(header.iter().map(|h| escape_cell(h.as_ref()).into_owned()))?;
    for r in rows {
        w.write_record(r.iter().map(|c| escape_cell(c).into_owned()))?;
    }
    w.into_inner().context("writing CSV")
}

/// Writes a header and rows of text cells (escaped) to `path`.
pub fn write_rows<S: AsRef<str>>(path: &Path, header: &[S], rows: &[Vec<String>]) -> Result<()> {
    write_bytes(path, &rows_to_bytes(header, rows)?)
}

/// `df` with every text cell escaped (numbers, dates and booleans are not text and are left).
/// Columns with nothing to escape are not copied.
pub fn escape_frame(df: &DataFrame) -> Result<DataFrame> {
    let mut columns: Vec<Column> = Vec::with_capacity(df.width());
    let mut changed = false;
    for c in df.columns() {
        if c.dtype() == &DataType::String {
            let ca = c.str()?;
            if ca.iter().flatten().any(needs_escape) {
                let escaped: StringChunked = ca
                    .iter()
                    .map(|v| v.map(|s| escape_cell(s).into_owned()))
                    .collect();
                columns.push(escaped.with_name(c.name().clone()).into_series().into());
                changed = true;
                continue;
            }
        }
        columns.push(c.clone());
    }
    Ok(if changed {
        DataFrame::new(df.height(), columns)?
    } else {
        df.clone()
    })
}

/// Writes `df` as CSV (header first), text cells escaped.
pub fn write_frame(path: &Path, df: &DataFrame) -> Result<()> {
    let mut escaped = escape_frame(df)?;
    let mut f = create(path)?;
    CsvWriter::new(&mut f)
        .include_header(true)
        .finish(&mut escaped)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
