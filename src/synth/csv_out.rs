//! Streaming CSV output: one buffered `csv::Writer` per canonical table, rows written as each child
//! is completed. File names, headers and column order are the canonical tables' own
//! ([`crate::schema`], data-contract.md section 3); a row's cells are set by column name.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime};

use super::dates::{fmt_date, fmt_datetime, fmt_month};
use super::model::{Child, Stamp};
use crate::schema::{
    self, TableSpec, ASSESSMENTS, CHILDREN, CONTACTS, CP_PLANS, CP_REVIEWS, EARLY_HELP,
    PRE_PROCEEDINGS, REFERRALS, S47_ENQUIRIES, STRATEGY_DISCUSSIONS,
};

/// A formatted cell held on the stack (dates, datetimes, months, small numbers).
pub struct Cell {
    buf: [u8; 20],
    len: usize,
}

impl Cell {
    pub fn empty() -> Cell {
        Cell {
            buf: [0; 20],
            len: 0,
        }
    }
    fn from(bytes: &[u8]) -> Cell {
        let mut c = Cell::empty();
        let n = bytes.len().min(20);
        c.buf[..n].copy_from_slice(&bytes[..n]);
        c.len = n;
        c
    }
    pub fn date(d: NaiveDate) -> Cell {
        Cell::from(&fmt_date(d))
    }
    pub fn opt_date(d: Option<NaiveDate>) -> Cell {
        d.map_or_else(Cell::empty, Cell::date)
    }
    pub fn datetime(t: NaiveDateTime) -> Cell {
        Cell::from(&fmt_datetime(t))
    }
    pub fn month(d: NaiveDate) -> Cell {
        Cell::from(&fmt_month(d))
    }
    pub fn stamp(s: Stamp) -> Cell {
        match s {
            Stamp::At(t) => Cell::datetime(t),
            Stamp::Day(d) => Cell::date(d),
            Stamp::Missing => Cell::empty(),
        }
    }
    pub fn num(n: i64) -> Cell {
        Cell::from(n.to_string().as_bytes())
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `Y`/`N`.
pub fn yn(b: bool) -> &'static [u8] {
    if b {
        b"Y"
    } else {
        b"N"
    }
}

fn opt(s: Option<&str>) -> &[u8] {
    s.map_or(b"", str::as_bytes)
}

struct TableWriter {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    rows: u64,
}

/// The open CSV writers of one run (one per canonical table, in [`schema::TABLES`] order; None
/// for a table not selected, whose rows are skipped silently).
pub struct CsvTables {
    writers: Vec<Option<TableWriter>>,
    record: csv::ByteRecord,
    /// The row being built: one cell per column of its table.
    cells: Vec<Vec<u8>>,
}

/// One row being built ([`CsvTables::row`]): cells set by column name, written in the table's
/// column order by [`CsvRow::write`]; a column not set is empty.
pub struct CsvRow<'a> {
    tables: &'a mut CsvTables,
    spec: &'static TableSpec,
    writer: Option<usize>,
}

impl CsvRow<'_> {
    /// Sets `column` (a column of the table: anything else is a bug) to `value`.
    pub fn set(&mut self, column: &str, value: &[u8]) -> &mut Self {
        if self.writer.is_some() {
            let i = self
                .spec
                .index_of(column)
                .unwrap_or_else(|| panic!("`{column}` is not a column of {}", self.spec.name));
            self.tables.cells[i].extend_from_slice(value);
        }
        self
    }

    /// Writes the row (nothing when its table is not selected).
    pub fn write(self) -> Result<()> {
        let Some(w) = self.writer else {
            return Ok(());
        };
        let t = self.tables;
        t.record.clear();
        for c in &t.cells[..self.spec.columns.len()] {
            t.record.push_field(c);
        }
        let w = t.writers[w].as_mut().expect("selected");
        w.writer
            .write_byte_record(&t.record)
            .with_context(|| format!("writing {}", w.path.display()))?;
        w.rows += 1;
        Ok(())
    }
}

impl CsvTables {
    /// Creates the selected tables in `dir`, each with its header row.
    pub fn create(dir: &Path, selected: &[&TableSpec]) -> Result<CsvTables> {
        let mut writers = Vec::with_capacity(schema::TABLES.len());
        for spec in schema::TABLES {
            if !selected.iter().any(|s| s.name == spec.name) {
                writers.push(None);
                continue;
            }
            let path = dir.join(spec.file_name());
            let file =
                File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut writer =
                csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 18, file));
            writer
                .write_record(spec.columns.iter().map(|c| c.name))
                .with_context(|| format!("writing {}", path.display()))?;
            writers.push(Some(TableWriter {
                path,
                writer,
                rows: 0,
            }));
        }
        Ok(CsvTables {
            writers,
            record: csv::ByteRecord::new(),
            cells: vec![],
        })
    }

    /// Starts a row of `spec`.
    pub fn row(&mut self, spec: &'static TableSpec) -> CsvRow<'_> {
        let writer = schema::TABLES
            .iter()
            .position(|t| t.name == spec.name)
            .filter(|&i| self.writers[i].is_some());
        if writer.is_some() {
            self.cells
                .resize_with(spec.columns.len().max(self.cells.len()), Vec::new);
            for c in &mut self.cells {
                c.clear();
            }
        }
        CsvRow {
            tables: self,
            spec,
            writer,
        }
    }

    /// Starts a row of the child's own (`spec`'s id column, `child_id`, `la_code` set).
    fn child_row(
        &mut self,
        spec: &'static TableSpec,
        id: &str,
        child: &[u8],
        la: &[u8],
    ) -> CsvRow<'_> {
        let mut r = self.row(spec);
        r.set(spec.columns[0].name, id.as_bytes())
            .set("child_id", child)
            .set("la_code", la);
        r
    }

    /// Starts a row hanging off a referral (`spec`'s id column, `referral_id`, `child_id`,
    /// `la_code` set).
    fn referral_row(
        &mut self,
        spec: &'static TableSpec,
        id: &str,
        referral: &[u8],
        child: &[u8],
        la: &[u8],
    ) -> CsvRow<'_> {
        let mut r = self.child_row(spec, id, child, la);
        r.set("referral_id", referral);
        r
    }

    /// Flushes every table; returns (path, data rows) for each.
    pub fn finish(self) -> Result<Vec<(PathBuf, u64)>> {
        let mut out = Vec::new();
        for w in self.writers.into_iter().flatten() {
            let TableWriter {
                path,
                mut writer,
                rows,
            } = w;
            writer
                .flush()
                .with_context(|| format!("writing {}", path.display()))?;
            out.push((path, rows));
        }
        Ok(out)
    }

    /// Writes the part of `child` that belongs to LA `la` (code `la_code`): its records active on or
    /// after `keep_from` (older history is left out). `reference` decides whether the child is still
    /// unborn.
    pub fn write_child(
        &mut self,
        child: &Child,
        la: u16,
        la_code: &str,
        keep_from: NaiveDate,
        reference: NaiveDate,
    ) -> Result<()> {
        let cid = child.id.as_bytes();
        let code = la_code.as_bytes();
        let unborn = child.birth > reference;
        let sex = if unborn { "U" } else { child.sex };
        let mut r = self.row(&CHILDREN);
        r.set("child_id", cid)
            .set("la_code", code)
            .set("birth_month", Cell::month(child.birth).as_bytes())
            .set("sex", sex.as_bytes())
            .set("ethnicity", child.ethnicity.as_bytes())
            .set("disability", yn(!child.disabilities.is_empty()))
            .set("unborn", yn(unborn));
        r.write()?;
        for c in child
            .contacts
            .iter()
            .filter(|c| c.la == la && c.received.date() >= keep_from)
        {
            let mut r = self.child_row(&CONTACTS, &c.id, cid, code);
            r.set("received_at", Cell::datetime(c.received).as_bytes())
                .set("source", c.source.as_bytes())
                .set("decision_at", Cell::stamp(c.decision).as_bytes())
                .set("outcome", opt(c.outcome));
            if c.level != 0 {
                r.set("level_of_need", Cell::num(c.level as i64).as_bytes());
            }
            r.write()?;
        }
        for e in child
            .early_help
            .iter()
            .filter(|e| e.la == la && e.end.is_none_or(|d| d >= keep_from))
        {
            let mut r = self.child_row(&EARLY_HELP, &e.id, cid, code);
            r.set("start_date", Cell::date(e.start).as_bytes())
                .set("end_date", Cell::opt_date(e.end).as_bytes())
                .set("lead_agency", e.lead_agency.as_bytes())
                .set("outcome", opt(e.outcome))
                .set("stepped_down_from", opt(e.stepped_down_from));
            r.write()?;
        }
        for ep in child
            .episodes
            .iter()
            .filter(|e| e.la == la && e.active_from(keep_from))
        {
            let rid = ep.id.as_bytes();
            let mut r = self.child_row(&REFERRALS, &ep.id, cid, code);
            r.set("received_at", Cell::stamp(ep.received).as_bytes())
                .set("source", ep.source.as_bytes())
                .set("decision_at", Cell::stamp(ep.decision).as_bytes())
                .set("referral_nfa", ep.nfa.map_or(b"", yn))
                .set("primary_need", ep.need.as_bytes())
                .set(
                    "closure_date",
                    Cell::opt_date(ep.closure.map(|c| c.0)).as_bytes(),
                )
                .set("closure_reason", opt(ep.closure.map(|c| c.1)))
                .set("contact_id", opt(ep.contact_id.as_deref()));
            r.write()?;
            for a in &ep.assessments {
                let mut r = self.referral_row(&ASSESSMENTS, &a.id, rid, cid, code);
                r.set("start_date", Cell::date(a.start).as_bytes())
                    .set(
                        "authorisation_date",
                        Cell::opt_date(a.authorised).as_bytes(),
                    )
                    .set("child_seen", yn(a.child_seen))
                    .set("reason_over_45wd", opt(a.reason_over_45));
                if a.authorised.is_some() {
                    r.set("factors", a.factors.join(";").as_bytes());
                }
                r.write()?;
            }
            for d in &ep.discussions {
                let mut r = self.referral_row(&STRATEGY_DISCUSSIONS, &d.id, rid, cid, code);
                r.set("date", Cell::date(d.date).as_bytes())
                    .set("s47_initiated", yn(d.s47_initiated));
                r.write()?;
            }
            for s in &ep.s47s {
                let result: &[u8] = match s.icpc_plan {
                    Some(true) => b"CPP",
                    Some(false) => b"NO_CPP",
                    None => b"",
                };
                let mut r = self.referral_row(&S47_ENQUIRIES, &s.id, rid, cid, code);
                r.set("start_date", Cell::date(s.start).as_bytes())
                    .set("icpc_not_required", yn(s.not_required_on.is_some()))
                    .set("icpc_date", Cell::opt_date(s.icpc).as_bytes())
                    .set("icpc_result", result)
                    .set("transfer_in", yn(s.transfer_in));
                r.write()?;
            }
            for p in &ep.plans {
                let mut r = self.referral_row(&CP_PLANS, &p.id, rid, cid, code);
                r.set("start_date", Cell::date(p.start).as_bytes())
                    .set("end_date", Cell::opt_date(p.end.map(|e| e.0)).as_bytes())
                    .set("initial_category", p.initial_category.as_bytes())
                    .set("latest_category", p.latest_category.as_bytes())
                    .set(
                        "previous_plans",
                        Cell::num(p.previous_plans as i64).as_bytes(),
                    )
                    .set(
                        "first_core_group_date",
                        Cell::opt_date(p.core_group).as_bytes(),
                    )
                    .set("end_reason", opt(p.end.map(|e| e.1)));
                r.write()?;
                for review in &p.reviews {
                    let mut r = self.row(&CP_REVIEWS);
                    r.set("plan_id", p.id.as_bytes())
                        .set("review_date", Cell::date(*review).as_bytes());
                    r.write()?;
                }
            }
            for p in &ep.pre_proceedings {
                let mut r = self.referral_row(&PRE_PROCEEDINGS, &p.id, rid, cid, code);
                r.set("pp_start_date", Cell::date(p.start).as_bytes())
                    .set("lbp_sent_date", Cell::opt_date(p.letter).as_bytes())
                    .set("fgdm_offered", p.fgdm_offered.map_or(b"", yn))
                    .set("fgdm_facilitated", p.fgdm_facilitated().map_or(b"", yn))
                    .set(
                        "initial_meeting_date",
                        Cell::opt_date(p.initial_meeting).as_bytes(),
                    )
                    .set(
                        "review_meetings",
                        p.review_count()
                            .map_or_else(Cell::empty, |n| Cell::num(n as i64))
                            .as_bytes(),
                    )
                    .set(
                        "step_decision_date",
                        Cell::opt_date(p.decision.map(|d| d.0)).as_bytes(),
                    )
                    .set("outcome", opt(p.decision.and_then(|d| d.1)))
                    .set(
                        "court_application_date",
                        Cell::opt_date(p.court_application).as_bytes(),
                    )
                    .set(
                        "care_proceedings_letter_date",
                        Cell::opt_date(p.care_proceedings_letter).as_bytes(),
                    );
                r.write()?;
            }
        }
        Ok(())
    }
}
