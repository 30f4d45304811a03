//! Where readers put what they read: raw rows of the canonical tables (validated on the way in),
//! rows a reader itself must reject, raw-layer fields, and notes for the summary.
//!
//! Every reader (canonical CSV, CIN census XML, Annex A) talks to the same sink, so every format
//! gets the same validation, pseudonymisation and accounting. A reader builds each row by column
//! name ([`Sink::row_for`], [`Row::set`] with the source's own name for the value, [`Row::finish`]);
//! at the end of the run the sink hands the store a [`Batch`].
//!
//! Rows are held per table *and per store partition* (for the tables the store splits by LA, the
//! partition its LA hashes to, [`crate::table::part_name`]; `all` for the others). Memory stays bounded however large the input: when the
//! rows held reach the spill budget, every builder's rows are written to a Parquet file in the
//! store's staging folder, and the commit reads them back one partition at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Context as _;
use polars::prelude::*;

use super::privacy;
use super::raw_allow::RawKind;
use super::validate::{Counts, Source, TableBuilder};
use crate::pseudonym::Pseudonymiser;
use crate::schema::TableSpec;
use crate::table::{part_name, raw_frame, Batch, Chunk, Issue, NewRows, RawField, RAW, WHOLE};

/// Rows held in memory across all tables before they are spilled to disk, unless
/// `SAFEGUARD_INGEST_BUFFER_ROWS` says otherwise (about 200 bytes a row).
pub const DEFAULT_SPILL_ROWS: usize = 1_000_000;

/// Where spilled rows go: a staging folder inside the store, removed when the sink is dropped
/// (after the commit, or when the run fails).
struct Spill {
    dir: PathBuf,
    budget: usize,
    written: usize,
}

impl Spill {
    /// Writes frames (of one table and partition, in order) as one file; returns its path.
    fn write(&mut self, frames: Vec<DataFrame>) -> anyhow::Result<PathBuf> {
        let mut df = frames
            .into_iter()
            .reduce(|mut a, b| {
                a.vstack_mut_owned(b)
                    .expect("frames of one table share a schema");
                a
            })
            .expect("at least one frame");
        if self.written == 0 {
            std::fs::create_dir_all(&self.dir)
                .with_context(|| format!("creating {}", self.dir.display()))?;
        }
        self.written += 1;
        let path = self.dir.join(format!("{:06}.parquet", self.written));
        let f =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        ParquetWriter::new(f)
            .with_compression(ParquetCompression::Lz4Raw)
            .with_statistics(StatisticsOptions::empty())
            .finish(&mut df)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Most dropped field names held per file (a file with more distinct unknown names is counted).
const MAX_NAMES: usize = 1000;
/// Most dropped field names printed per file in the summary.
const SHOWN_NAMES: usize = 30;

/// Collects one ingest run's rows.
pub struct Sink {
    pub pseudo: Pseudonymiser,
    /// The LA for inputs that do not name their own (Annex A): `ingest --la`, or the config's
    /// only LA.
    pub default_la: Option<String>,
    /// (table, store partition) -> its builder.
    builders: BTreeMap<(&'static str, String), TableBuilder>,
    /// Rows held by all builders.
    buffered: usize,
    /// Rows taken from the builders or merged from other sinks, per (table, partition), in
    /// ingest order: held frames and spilled files; `pending_rows` counts the frames' rows.
    pending: BTreeMap<(&'static str, String), Vec<Chunk>>,
    pending_rows: usize,
    spill: Option<Spill>,
    spill_error: Option<anyhow::Error>,
    /// The per-file sinks merged into this one ([`Sink::merge`]): their counts, and their
    /// staging folders (kept until the commit has read them).
    merged_counts: BTreeMap<&'static str, Counts>,
    merged_spills: Vec<Spill>,
    pub rejects: Vec<Issue>,
    pub flags: Vec<Issue>,
    /// Raw-layer fields of the file being read (held as a frame at the end of the file, or at a
    /// spill: they count towards the spill budget like rows).
    raw: Vec<RawField>,
    /// Fields of the file being read that are not on the raw-layer allow-list: dropped, and named
    /// (never their values) in the summary. At most [`MAX_NAMES`] names are held; `dropped_more`
    /// counts the others.
    dropped: BTreeSet<String>,
    dropped_more: usize,
    /// Allow-listed fields of the file being read with values not in the field's shape: dropped,
    /// counted per field name.
    odd_values: BTreeMap<String, u64>,
    pub notes: Vec<String>,
    source: Option<Source>,
}

impl Sink {
    pub fn new(pseudo: Pseudonymiser) -> Sink {
        Sink {
            pseudo,
            default_la: None,
            builders: BTreeMap::new(),
            buffered: 0,
            pending: BTreeMap::new(),
            pending_rows: 0,
            spill: None,
            spill_error: None,
            merged_counts: BTreeMap::new(),
            merged_spills: vec![],
            rejects: vec![],
            flags: vec![],
            raw: vec![],
            dropped: BTreeSet::new(),
            dropped_more: 0,
            odd_values: BTreeMap::new(),
            notes: vec![],
            source: None,
        }
    }

    /// Spills held rows to `dir` (created at the first spill; removed when the sink is dropped)
    /// whenever `budget` rows are held.
    pub fn enable_spill(&mut self, dir: PathBuf, budget: usize) {
        self.spill = Some(Spill {
            dir,
            budget: budget.max(1),
            written: 0,
        });
    }

    /// How many spill files this sink and the sinks merged into it wrote.
    pub fn spilled_files(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.written)
            + self.merged_spills.iter().map(|s| s.written).sum::<usize>()
    }

    /// A failure to spill (a full disk...), reported once the reader returns.
    pub fn check(&mut self) -> anyhow::Result<()> {
        match self.spill_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Per-table counts for the summary (all partitions together).
    pub fn counts(&self) -> BTreeMap<&'static str, Counts> {
        let mut out = self.merged_counts.clone();
        for ((table, _), b) in &self.builders {
            out.entry(table).or_default().add(&b.counts);
        }
        out
    }

    /// Takes in the sink of another file read in parallel (after this one's files, in ingest
    /// order): its rows (spilled or held), counts, rejects, flags, raw fields and notes; then
    /// spills if the rows held here pass the budget. The other sink must have been through
    /// [`Sink::finish_file`].
    pub fn merge(&mut self, mut other: Sink) -> anyhow::Result<()> {
        other.check()?;
        for (table, c) in other.counts() {
            self.merged_counts.entry(table).or_default().add(&c);
        }
        for (k, chunks) in std::mem::take(&mut other.pending) {
            self.pending.entry(k).or_default().extend(chunks);
        }
        self.pending_rows += other.pending_rows;
        if let Some(spill) = other.spill.take() {
            self.merged_spills.push(spill);
        }
        self.merged_spills.append(&mut other.merged_spills);
        self.rejects.append(&mut other.rejects);
        self.flags.append(&mut other.flags);
        self.notes.append(&mut other.notes);
        if self
            .spill
            .as_ref()
            .is_some_and(|s| self.pending_rows >= s.budget)
        {
            self.spill_all()?;
        }
        Ok(())
    }

    /// The end of one input file read by its own sink: the rows it holds become frames waiting
    /// to be merged, and the file's keys are forgotten.
    pub fn finish_file(&mut self) -> anyhow::Result<()> {
        self.check()?;
        self.note_dropped();
        self.hold_builders()?;
        for b in self.builders.values_mut() {
            b.forget_keys();
        }
        Ok(())
    }

    /// What the run hands to the store's commit: its stored rows per (table, partition), in
    /// ingest order, its rejects and its flags. The sink must live until the commit is done:
    /// spilled rows are in its staging folders, removed when it is dropped.
    pub fn take_batch(&mut self) -> anyhow::Result<Batch> {
        self.finish_file()?;
        self.pending_rows = 0;
        Ok(Batch {
            rows: std::mem::take(&mut self.pending)
                .into_iter()
                .map(|(k, chunks)| (k, NewRows { chunks }))
                .collect(),
            rejects: std::mem::take(&mut self.rejects),
            flags: std::mem::take(&mut self.flags),
        })
    }

    /// Moves the builders' rows, and the raw-layer fields, into held frames.
    fn hold_builders(&mut self) -> anyhow::Result<()> {
        if !self.raw.is_empty() {
            let df = raw_frame(&std::mem::take(&mut self.raw))?;
            self.pending_rows += df.height();
            self.pending
                .entry((RAW, WHOLE.to_string()))
                .or_default()
                .push(Chunk::Frame(df));
        }
        for (k, b) in self.builders.iter_mut() {
            if b.buffered() > 0 {
                let df = b.take()?;
                self.pending_rows += df.height();
                self.pending
                    .entry(k.clone())
                    .or_default()
                    .push(Chunk::Frame(df));
            }
        }
        self.buffered = 0;
        Ok(())
    }

    /// Writes every row held (the builders' and the held frames) to the staging folder: one file
    /// per table and partition, in place of the frames it replaces.
    fn spill_all(&mut self) -> anyhow::Result<()> {
        if self.spill.is_none() {
            return Ok(());
        }
        self.hold_builders()?;
        let spill = self.spill.as_mut().expect("checked above");
        for chunks in self.pending.values_mut() {
            let mut out: Vec<Chunk> = Vec::with_capacity(chunks.len());
            let mut run: Vec<DataFrame> = vec![];
            for c in std::mem::take(chunks) {
                match c {
                    Chunk::Frame(df) => run.push(df),
                    file @ Chunk::File(_) => {
                        if !run.is_empty() {
                            out.push(Chunk::File(spill.write(std::mem::take(&mut run))?));
                        }
                        out.push(file);
                    }
                }
            }
            if !run.is_empty() {
                out.push(Chunk::File(spill.write(run)?));
            }
            *chunks = out;
        }
        self.pending_rows = 0;
        Ok(())
    }

    /// Sets the file the next rows come from.
    pub fn begin_source(&mut self, source: Source) {
        self.source = Some(source);
    }

    /// Sets the extract's own reference date (CIN census `ReferenceDate`) once the reader knows it,
    /// before its rows.
    pub fn set_vintage(&mut self, vintage: chrono::NaiveDate) {
        if let Some(s) = self.source.as_mut() {
            s.vintage = Some(vintage);
        }
    }

    pub fn source(&self) -> &Source {
        self.source.as_ref().expect("begin_source before rows")
    }

    /// Starts a row of `spec` at `position` (`line 12`, an XML element path, `List 3 row 7`):
    /// its values are set by column name ([`Row::set`]) and it is validated and stored, or
    /// rejected, when [`Row::finish`] is called.
    pub fn row_for<'l>(&mut self, spec: &'static TableSpec, position: String) -> Row<'_, 'l> {
        Row {
            sink: self,
            spec,
            position,
            values: vec![None; spec.columns.len()],
            labels: vec![""; spec.columns.len()],
            considered: 0,
            refused: None,
        }
    }

    fn push(
        &mut self,
        spec: &'static TableSpec,
        position: String,
        values: Vec<Option<String>>,
        labels: &[&str],
    ) -> bool {
        let src = self.source.as_ref().expect("begin_source before rows");
        let la = spec
            .index_of("la_code")
            .and_then(|i| values.get(i))
            .and_then(|v| v.as_deref())
            .unwrap_or("")
            .trim();
        let part = part_name(spec.name, la);
        let builder = self
            .builders
            .entry((spec.name, part))
            .or_insert_with(|| TableBuilder::new(spec));
        let stored = builder.push(
            src,
            position,
            values,
            Some(labels),
            &self.pseudo,
            &mut self.rejects,
            &mut self.flags,
        );
        if stored {
            self.held_one();
        }
        stored
    }

    /// One more row or raw field held: spills when the budget is reached.
    fn held_one(&mut self) {
        self.buffered += 1;
        if self.spill.as_ref().is_some_and(|s| {
            self.buffered + self.pending_rows >= s.budget && self.spill_error.is_none()
        }) {
            if let Err(e) = self.spill_all() {
                self.spill_error = Some(e.context("spilling ingested rows to the staging folder"));
            }
        }
    }

    /// A row the reader could not even map onto its table (counted as read and rejected).
    pub fn reject(
        &mut self,
        spec: &'static TableSpec,
        position: String,
        column: &str,
        value: &str,
        reason: String,
    ) {
        let src = self.source.as_ref().expect("begin_source before rows");
        let builder = self
            .builders
            .entry((spec.name, String::new()))
            .or_insert_with(|| TableBuilder::new(spec));
        builder.counts.read += 1;
        builder.counts.rejected += 1;
        self.rejects.push(Issue {
            table: spec.name,
            source_file: src.file_name.clone(),
            position,
            column: privacy::field_name(column),
            // Readers pass no value here; whatever they pass is withheld (the echo rule).
            value: privacy::shown(privacy::Echo::Never, value),
            flag: "bad_value".into(),
            reason,
        });
    }

    /// A data-quality flag the reader found on a stored row (e.g. two episodes of one child with
    /// the same referral date in one CIN return).
    pub fn flag(
        &mut self,
        table: &'static str,
        position: String,
        column: &str,
        flag: &str,
        reason: String,
    ) {
        let src = self.source.as_ref().expect("begin_source before rows");
        self.flags.push(Issue {
            table,
            source_file: src.file_name.clone(),
            position,
            column: column.to_string(),
            value: String::new(),
            flag: flag.to_string(),
            reason,
        });
    }

    /// Keeps an allow-listed field beyond the canonical columns in the raw layer
    /// ([`super::raw_allow`]), when its value has the field's shape; otherwise the value is
    /// dropped and counted under the field's name. An empty value is skipped.
    pub fn raw(
        &mut self,
        position: String,
        element: &str,
        field: &str,
        value: &str,
        kind: RawKind,
    ) {
        if value.trim().is_empty() {
            return;
        }
        let Some(value) = kind.accept(value) else {
            *self
                .odd_values
                .entry(privacy::field_name(&format!("{element}/{field}")))
                .or_insert(0) += 1;
            return;
        };
        let src = self.source.as_ref().expect("begin_source before rows");
        self.raw.push(RawField {
            source_file: src.file_name.clone(),
            position,
            element: element.to_string(),
            field: field.to_string(),
            value,
        });
        self.held_one();
    }

    /// A field of the file being read that is not on the raw-layer allow-list: not stored, and
    /// named (sanitised) in the summary, never its value.
    pub fn drop_field(&mut self, name: &str) {
        let name = privacy::field_name(name);
        if self.dropped.len() < MAX_NAMES || self.dropped.contains(&name) {
            self.dropped.insert(name);
        } else {
            self.dropped_more += 1;
        }
    }

    /// The summary's lines for the fields and values the file being read had dropped.
    fn note_dropped(&mut self) {
        let names = std::mem::take(&mut self.dropped);
        let more = std::mem::take(&mut self.dropped_more);
        if !names.is_empty() {
            let n = names.len() + more;
            let mut list: Vec<String> = names.into_iter().take(SHOWN_NAMES).collect();
            if n > list.len() {
                list.push(format!("and {} more", n - list.len()));
            }
            self.note(format!(
                "dropped {n} unknown field{}: {}",
                if n == 1 { "" } else { "s" },
                list.join(", ")
            ));
        }
        let odd = std::mem::take(&mut self.odd_values);
        if !odd.is_empty() {
            let total: u64 = odd.values().sum();
            let list: Vec<String> = odd
                .iter()
                .take(SHOWN_NAMES)
                .map(|(f, c)| format!("{f} ({c})"))
                .collect();
            self.note(format!(
                "dropped {total} value(s) of known fields not in the field's expected shape (not stored): {}",
                list.join(", ")
            ));
        }
    }

    /// A line for the ingest summary (e.g. "Annex A Lists 8-11 are out of scope: not read").
    pub fn note(&mut self, note: String) {
        let file = self
            .source
            .as_ref()
            .map(|s| s.file_name.clone())
            .unwrap_or_default();
        self.notes.push(format!("{file}: {note}"));
    }
}

/// A value a reader sets: text, or nothing (absent or empty in the source).
pub trait CellValue {
    fn into_cell(self) -> Option<String>;
}

impl CellValue for Option<String> {
    fn into_cell(self) -> Option<String> {
        self
    }
}

impl CellValue for Option<&str> {
    fn into_cell(self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl CellValue for String {
    fn into_cell(self) -> Option<String> {
        Some(self)
    }
}

impl CellValue for &str {
    fn into_cell(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl CellValue for &String {
    fn into_cell(self) -> Option<String> {
        Some(self.clone())
    }
}

/// One row being built by a reader ([`Sink::row_for`]): each value is set by its column's name,
/// with the source's own name for it (an XML element, an Annex A header) so that a reject or a
/// flag names what the user sees; [`Row::finish`] hands it to the validator.
pub struct Row<'s, 'l> {
    sink: &'s mut Sink,
    spec: &'static TableSpec,
    position: String,
    values: Vec<Option<String>>,
    labels: Vec<&'l str>,
    /// The columns set so far (one bit per column of the spec, which has fewer than 64).
    considered: u64,
    /// Set by [`Row::refuse`]: the row is rejected whole, naming this column, for this reason.
    refused: Option<(&'l str, String)>,
}

impl<'l> Row<'_, 'l> {
    /// Sets `column` (a column of the table: anything else is a bug in the reader) to `value`
    /// (None or empty: absent), read from the source's `source` ("" when it has the column's
    /// own name). A column set twice keeps the last value.
    pub fn set(&mut self, column: &str, value: impl CellValue, source: &'l str) -> &mut Self {
        let i = self.spec.index_of(column).unwrap_or_else(|| {
            panic!(
                "a reader set `{column}`, which is not a column of {}",
                self.spec.name
            )
        });
        self.values[i] = value.into_cell();
        self.labels[i] = source;
        self.considered |= 1 << i;
        self
    }

    /// Whether `column` has been set.
    pub fn is_set(&self, column: &str) -> bool {
        self.spec
            .index_of(column)
            .is_some_and(|i| self.considered & (1 << i) != 0)
    }

    /// Rejects the row whole when it is finished (counted as read and rejected), naming `column`
    /// (the source's name) and the reason, without validating its values.
    pub fn refuse(&mut self, column: &'l str, reason: String) -> &mut Self {
        self.refused = Some((column, reason));
        self
    }

    /// Validates the row and stores it, or rejects it; returns whether it was stored. Every
    /// required column must have been set (to a value or to nothing: then the validator rejects
    /// the row as missing it).
    pub fn finish(self) -> bool {
        debug_assert!(
            self.spec
                .columns
                .iter()
                .enumerate()
                .all(|(i, c)| !c.required || self.considered & (1 << i) != 0),
            "a reader left a required column of {} unset",
            self.spec.name
        );
        match self.refused {
            Some((column, reason)) => {
                self.sink
                    .reject(self.spec, self.position, column, "", reason);
                false
            }
            None => self
                .sink
                .push(self.spec, self.position, self.values, &self.labels),
        }
    }
}
