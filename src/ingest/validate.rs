//! Validation: turns a reader's raw cells into typed, pseudonymised rows of one canonical table,
//! applying the contract's row rules (data-contract.md section 4).
//!
//! - a bad or missing value in a required column rejects the row (with file, position, column,
//!   value and reason; the value only as the echo rule of [`super::privacy`] allows);
//! - an event date outside the calendar's years (1990-2040) is a bad value; an `la_code` must be
//!   three digits; a CDOP factor that is not a code is stored as `UNCODED` and flagged;
//! - a bad value in an optional column stores the row with the cell empty and a data-quality flag;
//! - a second row with the same key in one file is rejected as a duplicate;
//! - the row rules of [`crate::rules`] (an end before its start, a closure date without a
//!   reason...) flag the row; the rules that need another table are applied by the store when it
//!   links the tables.
//!
//! Every row pushed ends in exactly one place: this table's rows, or the rejects.

use std::collections::HashMap;

use chrono::NaiveDate;
use polars::prelude::*;

use super::parse::{self, When};
use super::privacy::{self, Echo};
use crate::pseudonym::Pseudonymiser;
use crate::rules::{self, Value};
use crate::schema::{Kind, TableSpec};
use crate::table::stored_columns;
pub use crate::table::Issue;

/// Where rows came from: one input file.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file's name (without its folder).
    pub file_name: String,
    /// SHA-256 of the file's bytes, hex.
    pub hash: String,
    /// The order of ingest across the store's life (later wins among equal vintages).
    pub seq: u32,
    /// The extract's own reference date where it has one (CIN census `ReferenceDate`): a newer
    /// vintage supersedes an older one whatever the ingest order.
    pub vintage: Option<NaiveDate>,
}

/// A parsed cell.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Str(String),
    /// A code from a code list, in the list's spelling (no allocation per cell).
    Code(&'static str),
    Date(NaiveDate),
    DateTime(When),
    Bool(bool),
    Int(i64),
}

impl Cell {
    fn date(&self) -> Option<NaiveDate> {
        match self {
            Cell::Date(d) => Some(*d),
            Cell::DateTime(w) => Some(w.at.date()),
            _ => None,
        }
    }
}

/// The typed column buffers of one canonical column. Text goes straight into Arrow string views
/// (no `String` per cell: at national scale the per-cell allocations were most of ingest's memory).
enum Buf {
    Str(StringChunkedBuilder),
    Date(Vec<Option<i32>>),
    DateTime {
        ms: Vec<Option<i64>>,
        has_time: Vec<Option<bool>>,
    },
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
}

impl Buf {
    /// The buffer for a column stored as `stored` ([`crate::table::stored_columns`]: its first
    /// column's type decides).
    fn for_stored(stored: &[(String, DataType)]) -> Buf {
        match &stored[0].1 {
            DataType::Date => Buf::Date(vec![]),
            DataType::Datetime(..) => Buf::DateTime {
                ms: vec![],
                has_time: vec![],
            },
            DataType::Boolean => Buf::Bool(vec![]),
            DataType::Int32 => Buf::Int(vec![]),
            _ => Buf::Str(StringChunkedBuilder::new(stored[0].0.as_str().into(), 0)),
        }
    }
    fn push(&mut self, cell: Cell) {
        match (self, cell) {
            (Buf::Str(v), Cell::Str(s)) => v.append_value(s),
            (Buf::Str(v), Cell::Code(s)) => v.append_value(s),
            (Buf::Str(v), _) => v.append_null(),
            (Buf::Date(v), c) => v.push(c.date().map(crate::dates::epoch_days)),
            (Buf::DateTime { ms, has_time }, Cell::DateTime(w)) => {
                ms.push(Some(w.at.and_utc().timestamp_millis()));
                has_time.push(Some(w.has_time));
            }
            (Buf::DateTime { ms, has_time }, _) => {
                ms.push(None);
                has_time.push(None);
            }
            (Buf::Bool(v), Cell::Bool(b)) => v.push(Some(b)),
            (Buf::Bool(v), _) => v.push(None),
            (Buf::Int(v), Cell::Int(i)) => v.push(Some(i)),
            (Buf::Int(v), _) => v.push(None),
        }
    }
    /// The buffer as the columns `stored` names and types.
    fn into_columns(self, stored: &[(String, DataType)]) -> PolarsResult<Vec<Column>> {
        let named = |i: usize, s: Series| -> PolarsResult<Column> {
            let (name, dtype) = &stored[i];
            Ok(s.with_name(name.as_str().into()).cast(dtype)?.into())
        };
        Ok(match self {
            Buf::Str(v) => vec![named(0, v.finish().into_series())?],
            Buf::Date(v) => vec![named(0, Series::new("".into(), v))?],
            Buf::DateTime { ms, has_time } => vec![
                named(0, Series::new("".into(), ms))?,
                named(1, Series::new("".into(), has_time))?,
            ],
            Buf::Bool(v) => vec![named(0, Series::new("".into(), v))?],
            Buf::Int(v) => vec![named(0, Series::new("".into(), v))?],
        })
    }
}

/// Per-table counts for the ingest summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub stored: u64,
    pub rejected: u64,
    pub flagged: u64,
}

impl Counts {
    /// Adds another file's or partition's counts.
    pub fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.stored += other.stored;
        self.rejected += other.rejected;
        self.flagged += other.flagged;
    }
}

/// The validated rows a [`TableBuilder`] holds until they are taken ([`TableBuilder::take`]):
/// typed column buffers plus the source columns.
struct Rows {
    bufs: Vec<Buf>,
    /// The sources rows came from (file name, hash), once each; `source_idx` points into it per
    /// row (a file name and a 64-character hash per row cost more than the row itself).
    sources: Vec<(String, String)>,
    source_idx: Vec<u32>,
    source_pos: StringChunkedBuilder,
    source_seq: Vec<u32>,
    vintage: Vec<Option<i32>>,
    dq_flags: StringChunkedBuilder,
}

impl Rows {
    fn new(spec: &TableSpec) -> Rows {
        Rows {
            bufs: spec
                .columns
                .iter()
                .map(|c| Buf::for_stored(&stored_columns(c.name, c.kind)))
                .collect(),
            sources: vec![],
            source_idx: vec![],
            source_pos: StringChunkedBuilder::new("source_pos".into(), 0),
            source_seq: vec![],
            vintage: vec![],
            dq_flags: StringChunkedBuilder::new("dq_flags".into(), 0),
        }
    }

    fn len(&self) -> usize {
        self.source_seq.len()
    }

    /// The rows as a DataFrame in the store's layout.
    fn finish(self, spec: &TableSpec) -> PolarsResult<DataFrame> {
        let height = self.source_seq.len();
        let mut columns: Vec<Column> = vec![];
        for (buf, col) in self.bufs.into_iter().zip(spec.columns) {
            columns.extend(buf.into_columns(&stored_columns(col.name, col.kind))?);
        }
        columns.push(self.dq_flags.finish().into_series().into());
        let sources = &self.sources;
        let per_row = |pick: fn(&(String, String)) -> &str, name: &str| -> Column {
            StringChunked::from_iter_values(
                name.into(),
                self.source_idx.iter().map(|&i| pick(&sources[i as usize])),
            )
            .into_series()
            .into()
        };
        columns.push(per_row(|s| s.0.as_str(), "source_file"));
        columns.push(per_row(|s| s.1.as_str(), "source_hash"));
        columns.push(self.source_pos.finish().into_series().into());
        columns.push(Series::new("source_seq".into(), self.source_seq).into());
        columns.push(
            Series::new("source_vintage".into(), self.vintage)
                .cast(&DataType::Date)?
                .into(),
        );
        DataFrame::new(height, columns)
    }
}

/// Row positions ("line 12") in one string, for the duplicate-key check's messages.
#[derive(Default)]
struct Positions {
    text: String,
    ends: Vec<u32>,
}

impl Positions {
    fn push(&mut self, position: &str) -> u32 {
        self.text.push_str(position);
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as u32
    }
    fn get(&self, at: u32) -> &str {
        let at = at as usize;
        let start = if at == 0 {
            0
        } else {
            self.ends[at - 1] as usize
        };
        &self.text[start..self.ends[at] as usize]
    }
}

/// A 128-bit fingerprint of a key: two SipHash-1-3 hashes with different keys. Two different
/// keys of one file share one with a probability of about n^2 / 2^129 (1e-25 for 9 million rows).
fn key_fingerprint(key: &str) -> [u64; 2] {
    use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
    let mut a = BuildHasherDefault::<std::hash::DefaultHasher>::default().build_hasher();
    a.write(key.as_bytes());
    let mut b = BuildHasherDefault::<std::hash::DefaultHasher>::default().build_hasher();
    b.write_u64(0x9e37_79b9_7f4a_7c15);
    b.write(key.as_bytes());
    [a.finish(), b.finish()]
}

/// Validates the rows of one canonical table (for one LA partition of it) from one ingest run and
/// holds the stored ones until the sink takes them (to spill them to disk, or at the commit).
pub struct TableBuilder {
    pub spec: &'static TableSpec,
    rows: Rows,
    /// The keys of the current source file only (keys are per file: the map is cleared when the
    /// next file begins), as 128-bit fingerprints -> the first row's position in
    /// `seen_positions`: about 40 bytes a row, where the keys and positions as strings cost
    /// over 100 (a national contacts file has 9 million rows). Kept when the rows are taken.
    seen: HashMap<[u64; 2], u32>,
    seen_positions: Positions,
    seen_seq: Option<u32>,
    pub counts: Counts,
}

impl TableBuilder {
    pub fn new(spec: &'static TableSpec) -> TableBuilder {
        TableBuilder {
            spec,
            rows: Rows::new(spec),
            seen: HashMap::new(),
            seen_positions: Positions::default(),
            seen_seq: None,
            counts: Counts::default(),
        }
    }

    /// How many stored rows the builder holds now.
    pub fn buffered(&self) -> usize {
        self.rows.len()
    }

    /// Forgets the current file's keys (no more rows of it will come).
    pub fn forget_keys(&mut self) {
        self.seen = HashMap::new();
        self.seen_positions = Positions::default();
        self.seen_seq = None;
    }

    /// Takes the rows held so far as a DataFrame in the store's layout, leaving the builder
    /// empty but still counting, and still knowing the current file's keys.
    pub fn take(&mut self) -> PolarsResult<DataFrame> {
        std::mem::replace(&mut self.rows, Rows::new(self.spec)).finish(self.spec)
    }

    /// Validates one row. `values` holds one entry per column of the table spec, in spec order
    /// (None = the column is absent or the cell empty). Issues found go to `issues`; the return
    /// value says whether the row was stored.
    pub fn push(
        &mut self,
        src: &Source,
        position: String,
        values: Vec<Option<String>>,
        labels: Option<&[&str]>,
        pseudo: &Pseudonymiser,
        rejects: &mut Vec<Issue>,
        flags: &mut Vec<Issue>,
    ) -> bool {
        self.counts.read += 1;
        let spec = self.spec;
        let mut cells = Vec::with_capacity(spec.columns.len());
        let mut row_flags: Vec<Issue> = vec![];
        // The source's own name for a column (an XML element, an Annex A header) where it differs.
        let label = |column: &str| -> String {
            match (labels, spec.index_of(column)) {
                (Some(l), Some(i)) if l.get(i).is_some_and(|x| !x.is_empty() && *x != column) => {
                    format!("{} ({column})", privacy::field_name(l[i]))
                }
                _ => column.to_string(),
            }
        };
        let issue = |column: &str, value: &str, flag: &str, reason: String| Issue {
            table: spec.name,
            source_file: src.file_name.clone(),
            position: position.clone(),
            column: label(column),
            value: value.to_string(),
            flag: flag.to_string(),
            reason,
        };
        for (i, col) in spec.columns.iter().enumerate() {
            let raw = values
                .get(i)
                .and_then(|v| v.as_deref())
                .map(str::trim)
                .unwrap_or("");
            if raw.is_empty() {
                if col.required {
                    self.counts.rejected += 1;
                    rejects.push(issue(
                        col.name,
                        "",
                        "missing_required",
                        "required value is empty".into(),
                    ));
                    return false;
                }
                cells.push(Cell::Null);
                continue;
            }
            // A CDOP factor that is not a code is stored as UNCODED, never as written.
            if col.kind == Kind::Factor {
                match crate::schema::factor_code(raw) {
                    Some(code) => cells.push(Cell::Str(code)),
                    None => {
                        row_flags.push(issue(
                            col.name,
                            &privacy::shown(Echo::Never, raw),
                            "uncoded_factor",
                            format!(
                                "not a factor code (free text is not stored): stored as {}",
                                crate::schema::UNCODED_FACTOR
                            ),
                        ));
                        cells.push(Cell::Str(crate::schema::UNCODED_FACTOR.to_string()));
                    }
                }
                continue;
            }
            let parsed = parse_cell(col.kind, raw, pseudo);
            match parsed {
                Ok(c) => cells.push(c),
                Err(why) => {
                    // The echo rule: the value is shown only when its column kind and its shape
                    // are safe (never a child id, a record id, a birth month or free text).
                    let shown = privacy::shown(privacy::echo_for(col.kind), raw);
                    if col.required {
                        self.counts.rejected += 1;
                        rejects.push(issue(col.name, &shown, "bad_value", why));
                        return false;
                    }
                    row_flags.push(issue(col.name, &shown, "bad_value", why));
                    cells.push(Cell::Null);
                }
            }
        }
        // Duplicate key within one file.
        let mut key = String::with_capacity(48);
        for (n, k) in spec.key.iter().enumerate() {
            use std::fmt::Write as _;
            if n > 0 {
                key.push('|');
            }
            let i = spec.index_of(k).unwrap_or(0);
            let _ = match &cells[i] {
                Cell::Str(s) => write!(key, "{s}"),
                Cell::Code(s) => write!(key, "{s}"),
                Cell::Date(d) => write!(key, "{d}"),
                Cell::Int(v) => write!(key, "{v}"),
                other => write!(key, "{other:?}"),
            };
        }
        if self.seen_seq != Some(src.seq) {
            self.seen = HashMap::new();
            self.seen_positions = Positions::default();
            self.seen_seq = Some(src.seq);
        }
        let fingerprint = key_fingerprint(&key);
        if let Some(&at) = self.seen.get(&fingerprint) {
            let first = self.seen_positions.get(at);
            self.counts.rejected += 1;
            // A key is made of record ids: never shown (the positions say which rows).
            rejects.push(issue(
                &spec.key.join("+"),
                &privacy::shown(Echo::Never, &key),
                "duplicate_key",
                format!("same {} as the row at {first}", spec.key.join(" + ")),
            ));
            return false;
        }
        let at = self.seen_positions.push(&position);
        self.seen.insert(fingerprint, at);
        let value = |name: &str| match spec.index_of(name).map(|i| &cells[i]) {
            None | Some(Cell::Null) => Value::Null,
            Some(Cell::Date(d)) => Value::Date(*d),
            Some(Cell::DateTime(w)) => Value::DateTime(w.at, w.has_time),
            Some(_) => Value::Other,
        };
        for (column, flag, reason) in rules::row_flags(spec.name, value) {
            row_flags.push(issue(column, "", flag, reason));
        }
        self.counts.stored += 1;
        if !row_flags.is_empty() {
            self.counts.flagged += 1;
            let joined = row_flags
                .iter()
                .map(|f| format!("{}:{}", f.flag, f.column))
                .collect::<Vec<_>>()
                .join(";");
            self.rows.dq_flags.append_value(joined);
            flags.extend(row_flags);
        } else {
            self.rows.dq_flags.append_null();
        }
        let rows = &mut self.rows;
        for (buf, cell) in rows.bufs.iter_mut().zip(cells) {
            buf.push(cell);
        }
        if rows
            .sources
            .last()
            .is_none_or(|(f, h)| *f != src.file_name || *h != src.hash)
        {
            rows.sources.push((src.file_name.clone(), src.hash.clone()));
        }
        rows.source_idx.push((rows.sources.len() - 1) as u32);
        rows.source_pos.append_value(position);
        rows.source_seq.push(src.seq);
        rows.vintage.push(src.vintage.map(crate::dates::epoch_days));
        true
    }
}

/// An event date must lie within the calendar's years (1990-2040): a date outside them (9999-12-31)
/// could not be measured, and must never drive the default year or the reference date.
fn in_calendar(d: NaiveDate) -> Result<NaiveDate, String> {
    use chrono::Datelike;
    if (crate::calendar::FIRST_YEAR..=crate::calendar::LAST_YEAR).contains(&d.year()) {
        Ok(d)
    } else {
        Err(format!(
            "date outside the calendar's years {}-{}",
            crate::calendar::FIRST_YEAR,
            crate::calendar::LAST_YEAR
        ))
    }
}

/// Why `raw` (trimmed, not empty) is not a valid value of a column of `kind`, or None: the check
/// [`TableBuilder::push`] makes on a cell, for a reader that must know before it pushes (the last
/// row of a CSV that may have been cut short).
pub fn cell_error(kind: Kind, raw: &str, pseudo: &Pseudonymiser) -> Option<String> {
    parse_cell(kind, raw, pseudo).err()
}

fn parse_cell(kind: Kind, raw: &str, pseudo: &Pseudonymiser) -> Result<Cell, String> {
    Ok(match kind {
        Kind::Id | Kind::Text | Kind::Factor => Cell::Str(raw.to_string()),
        Kind::LaCode => {
            if !crate::schema::is_la_code(raw) {
                return Err(
                    "not an LA code (expected the DfE three-digit LA number, e.g. 940)".into(),
                );
            }
            Cell::Str(raw.to_string())
        }
        Kind::ChildId => Cell::Str(pseudo.child_id(raw)),
        Kind::Code(list) => Cell::Code(parse::parse_code(raw, list)?),
        Kind::Codes(list) => {
            let mut out = vec![];
            for part in raw
                .split([';', ','])
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                out.push(parse::parse_code(part, list).map_err(|_| {
                    if privacy::safe(Echo::Code, part) {
                        format!("unknown code {part}")
                    } else {
                        "unknown code".to_string()
                    }
                })?);
            }
            Cell::Str(out.join(";"))
        }
        Kind::Date => Cell::Date(in_calendar(parse::parse_date(raw)?)?),
        Kind::DateTime => {
            let w = parse::parse_datetime(raw)?;
            in_calendar(w.at.date())?;
            Cell::DateTime(w)
        }
        Kind::YearMonth => Cell::Date(parse::parse_year_month(raw)?),
        Kind::YesNo => Cell::Bool(parse::parse_yes_no(raw)?),
        Kind::Int { min, max } => Cell::Int(parse::parse_int(raw, min, max)?),
        Kind::Withheld => Cell::Bool(true),
    })
}
