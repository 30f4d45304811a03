//! The row batches that ingest hands to the store, and the store's layout of a canonical table:
//! shared by both, so that neither imports the other's internals (the module map in the README:
//! ingest sits on the store, the store on this module and `schema`).
//!
//! - [`layout`] / [`empty_frame`]: the columns a stored table has (a datetime with its
//!   `_has_time`, a withheld text as `_recorded`, then the data-quality and provenance columns);
//! - [`Issue`]: a rejected row or a data-quality flag, as the store's `rejects` and
//!   `data_quality` tables hold it;
//! - [`Chunk`], [`NewRows`], [`Batch`]: one ingest run's rows per (table, store partition),
//!   held in memory or spilled to the staging folder, with its rejects and flags;
//! - [`Format`]: the input formats, as the manifest names them;
//! - the store's partitioning ([`part_name`]), which the sink needs to hold rows per partition.

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::{self, Kind, TableSpec};

/// The input formats, detected from content, never from the file name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    CanonicalCsv,
    CinXml,
    AnnexA,
}

impl Format {
    /// The format's name in the manifest and the ingest summary.
    pub fn label(self) -> &'static str {
        match self {
            Format::CanonicalCsv => "canonical CSV",
            Format::CinXml => "CIN census XML",
            Format::AnnexA => "Annex A workbook",
        }
    }
    /// Formats that carry real identifiers and so need a pseudonym key.
    pub fn identifiable(self) -> bool {
        !matches!(self, Format::CanonicalCsv)
    }
}

/// A problem with one cell or row: a rejection or a data-quality flag.
#[derive(Debug, Clone)]
pub struct Issue {
    pub table: &'static str,
    pub source_file: String,
    /// `line 12`, an XML element path, or `List 3 row 7`.
    pub position: String,
    pub column: String,
    pub value: String,
    /// A short code (`bad_value`, `missing_required`, `duplicate_key`, `negative_interval`...).
    pub flag: String,
    pub reason: String,
}

/// One field kept in the raw layer (non-identifying content beyond the canonical columns).
#[derive(Debug, Clone)]
pub struct RawField {
    pub source_file: String,
    pub position: String,
    pub element: String,
    pub field: String,
    pub value: String,
}

/// A text column of a frame built from items: its name, and each item's text.
type TextColumn<T> = (&'static str, fn(&T) -> &str);

/// A frame of text columns, one row per item.
fn text_frame<T>(items: &[T], columns: &[TextColumn<T>]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        items.len(),
        columns
            .iter()
            .map(|(name, text)| {
                StringChunked::from_iter_values((*name).into(), items.iter().map(text))
                    .into_series()
                    .into()
            })
            .collect(),
    )
}

/// Issues as the store's `rejects` / `data_quality` frame.
pub fn issues_frame(issues: &[Issue]) -> PolarsResult<DataFrame> {
    text_frame(
        issues,
        &[
            ("table", |i| i.table),
            ("source_file", |i| &i.source_file),
            ("position", |i| &i.position),
            ("column", |i| &i.column),
            ("value", |i| &i.value),
            ("flag", |i| &i.flag),
            ("reason", |i| &i.reason),
        ],
    )
}

/// Raw-layer fields as the store's `raw` frame.
pub fn raw_frame(raw: &[RawField]) -> PolarsResult<DataFrame> {
    text_frame(
        raw,
        &[
            ("source_file", |x| &x.source_file),
            ("position", |x| &x.position),
            ("element", |x| &x.element),
            ("field", |x| &x.field),
            ("value", |x| &x.value),
        ],
    )
}

/// The store's column name(s) and type(s) for a canonical column: a datetime is two columns
/// (the instant, and whether it had a time), a withheld text only whether it was recorded.
pub fn stored_columns(name: &str, kind: Kind) -> Vec<(String, DataType)> {
    match kind {
        Kind::Id
        | Kind::ChildId
        | Kind::Text
        | Kind::Code(_)
        | Kind::Codes(_)
        | Kind::LaCode
        | Kind::Factor => vec![(name.to_string(), DataType::String)],
        Kind::Date | Kind::YearMonth => vec![(name.to_string(), DataType::Date)],
        Kind::DateTime => vec![
            (
                name.to_string(),
                DataType::Datetime(TimeUnit::Milliseconds, None),
            ),
            (format!("{name}_has_time"), DataType::Boolean),
        ],
        Kind::YesNo => vec![(name.to_string(), DataType::Boolean)],
        Kind::Withheld => vec![(format!("{name}_recorded"), DataType::Boolean)],
        Kind::Int { .. } => vec![(name.to_string(), DataType::Int32)],
    }
}

/// The columns every stored row carries after its canonical ones: its data-quality flags and
/// where it came from.
pub const PROVENANCE: &[(&str, DataType)] = &[
    ("dq_flags", DataType::String),
    ("source_file", DataType::String),
    ("source_hash", DataType::String),
    ("source_pos", DataType::String),
    ("source_seq", DataType::UInt32),
    ("source_vintage", DataType::Date),
];

/// Every column of a stored canonical table, in order, with its type.
pub fn layout(spec: &TableSpec) -> Vec<(String, DataType)> {
    let mut out: Vec<(String, DataType)> = spec
        .columns
        .iter()
        .flat_map(|c| stored_columns(c.name, c.kind))
        .collect();
    out.extend(PROVENANCE.iter().map(|(n, t)| (n.to_string(), t.clone())));
    out
}

/// A canonical table with no rows, in the store's layout.
pub fn empty_frame(spec: &TableSpec) -> PolarsResult<DataFrame> {
    DataFrame::new(
        0,
        layout(spec)
            .into_iter()
            .map(|(n, t)| Series::new_empty(n.into(), &t).into())
            .collect(),
    )
}

/// The pending rows' name for the raw layer's fields (not a canonical table).
pub const RAW: &str = "raw";

/// The partition of tables that are not split by LA, and of the link checks across LAs.
pub const WHOLE: &str = "all";

/// Whether a table is split by LA into [`PARTITIONS`] files (each LA wholly in one): the child-level case tables (a required `child_id`
/// and `la_code`: a child's records belong to one LA, their keys start with `la_code`, and every
/// link check between them joins on it). The others (cp_reviews has no `la_code`; the CDOP
/// tables link by case across LAs; population is small) are one file each.
pub fn is_partitioned(table: &str) -> bool {
    schema::table(table).is_some_and(|t| {
        ["child_id", "la_code"]
            .iter()
            .all(|c| t.column(c).is_some_and(|c| c.required))
    })
}

/// The tables split by LA, in [`schema::TABLES`] order.
pub fn partitioned() -> impl Iterator<Item = &'static str> {
    schema::TABLES
        .iter()
        .map(|t| t.name)
        .filter(|t| is_partitioned(t))
}

/// How many partitions the LA-split tables have. Each LA goes wholly to one partition (by a hash
/// of its code), so a partition holds about 1/16 of a national store, and one LA's monthly extract
/// rewrites one partition; fewer, larger files than one per LA keep `measures` reading fast (a
/// partition per LA cost 16% more at national scale: 150 files per table) and each commit's
/// fixed cost per partition small. Changing it changes the store's layout number.
pub const PARTITIONS: u64 = 16;

/// The partition (file stem) a row of `table` with this `la_code` goes to: `part-NN` from a hash
/// of the code, or `all` for tables that are not split.
pub fn part_name(table: &str, la: &str) -> String {
    if !is_partitioned(table) {
        return WHOLE.to_string();
    }
    let h = Sha256::digest(la.as_bytes());
    let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % PARTITIONS;
    format!("part-{n:02}")
}

/// A piece of one ingest run's rows of one partition of one table.
pub enum Chunk {
    /// Rows spilled to the staging folder.
    File(PathBuf),
    /// Rows still in memory.
    Frame(DataFrame),
}

/// One ingest run's rows of one partition of one table, in ingest order.
pub struct NewRows {
    pub chunks: Vec<Chunk>,
}

/// What one ingest run hands to the store's commit: its rows per (table, partition) (the raw
/// layer's fields under ([`RAW`], [`WHOLE`])), and its rejects and data-quality flags.
pub struct Batch {
    pub rows: BTreeMap<(&'static str, String), NewRows>,
    pub rejects: Vec<Issue>,
    pub flags: Vec<Issue>,
}
