//! Where readers put what they read: raw rows of the canonical tables (validated on the way in),
//! rows a reader itself must reject, raw-layer fields, and notes for the summary.
//!
//! Every reader (canonical CSV, CIN census XML, Annex A) talks to the same sink, so every format
//! gets the same validation, pseudonymisation and accounting.

use std::collections::BTreeMap;

use super::validate::{Issue, Source, TableBuilder};
use crate::pseudonym::Pseudonymiser;
use crate::schema::TableSpec;

/// One field kept in the raw layer (non-identifying content beyond the canonical columns).
#[derive(Debug, Clone)]
pub struct RawField {
    pub source_file: String,
    pub position: String,
    pub element: String,
    pub field: String,
    pub value: String,
}

/// Collects one ingest run's rows.
pub struct Sink {
    pub pseudo: Pseudonymiser,
    /// The LA for inputs that do not name their own (Annex A): `ingest --la`, or the config's
    /// only LA.
    pub default_la: Option<String>,
    pub builders: BTreeMap<&'static str, TableBuilder>,
    pub rejects: Vec<Issue>,
    pub flags: Vec<Issue>,
    pub raw: Vec<RawField>,
    pub notes: Vec<String>,
    source: Option<Source>,
}

impl Sink {
    pub fn new(pseudo: Pseudonymiser) -> Sink {
        Sink {
            pseudo,
            default_la: None,
            builders: BTreeMap::new(),
            rejects: vec![],
            flags: vec![],
            raw: vec![],
            notes: vec![],
            source: None,
        }
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

    /// A row of `spec`, one value per spec column in spec order (None = absent or empty).
    /// Returns whether it was stored.
    pub fn row(
        &mut self,
        spec: &'static TableSpec,
        position: String,
        values: Vec<Option<String>>,
    ) -> bool {
        self.push(spec, position, values, None)
    }

    /// As `row`, with the source's own name for each column (XML element, Annex A header) so that
    /// rejects and flags name it: `labels[i]` goes with `spec.columns[i]` ("" = same name).
    pub fn row_labelled(
        &mut self,
        spec: &'static TableSpec,
        position: String,
        values: Vec<Option<String>>,
        labels: &[&str],
    ) -> bool {
        self.push(spec, position, values, Some(labels))
    }

    fn push(
        &mut self,
        spec: &'static TableSpec,
        position: String,
        values: Vec<Option<String>>,
        labels: Option<&[&str]>,
    ) -> bool {
        let src = self.source.as_ref().expect("begin_source before rows");
        let builder = self
            .builders
            .entry(spec.name)
            .or_insert_with(|| TableBuilder::new(spec));
        builder.push(
            src,
            position,
            values,
            labels,
            &self.pseudo,
            &mut self.rejects,
            &mut self.flags,
        )
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
            .entry(spec.name)
            .or_insert_with(|| TableBuilder::new(spec));
        builder.counts.read += 1;
        builder.counts.rejected += 1;
        self.rejects.push(Issue {
            table: spec.name,
            source_file: src.file_name.clone(),
            position,
            column: column.to_string(),
            value: value.to_string(),
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

    /// Keeps a non-identifying field beyond the canonical columns in the raw layer.
    pub fn raw(&mut self, position: String, element: &str, field: &str, value: &str) {
        let src = self.source.as_ref().expect("begin_source before rows");
        self.raw.push(RawField {
            source_file: src.file_name.clone(),
            position,
            element: element.to_string(),
            field: field.to_string(),
            value: value.to_string(),
        });
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
