//! Streaming CSV output: one buffered `csv::Writer` per canonical table (data-contract.md section 3,
//! same file names, same columns in the same order), rows written as each child is completed.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{NaiveDate, NaiveDateTime};

use super::dates::{fmt_date, fmt_datetime, fmt_month};
use super::model::{Child, Stamp};

/// The canonical tables, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tbl {
    Children = 0,
    Contacts,
    Referrals,
    EarlyHelp,
    Assessments,
    Discussions,
    S47,
    Plans,
    PreProceedings,
    Reviews,
    CdopReviews,
    CdopFactors,
    Population,
}

/// Every table with its file name and header.
pub const TABLES: [(Tbl, &str, &[&str]); 13] = [
    (
        Tbl::Children,
        "children.csv",
        &[
            "child_id",
            "la_code",
            "birth_month",
            "sex",
            "ethnicity",
            "disability",
            "unborn",
        ],
    ),
    (
        Tbl::Contacts,
        "contacts.csv",
        &[
            "contact_id",
            "child_id",
            "la_code",
            "received_at",
            "source",
            "level_of_need",
            "decision_at",
            "outcome",
        ],
    ),
    (
        Tbl::Referrals,
        "referrals.csv",
        &[
            "referral_id",
            "child_id",
            "la_code",
            "received_at",
            "source",
            "decision_at",
            "referral_nfa",
            "primary_need",
            "closure_date",
            "closure_reason",
            "contact_id",
        ],
    ),
    (
        Tbl::EarlyHelp,
        "early_help.csv",
        &[
            "episode_id",
            "child_id",
            "la_code",
            "start_date",
            "end_date",
            "lead_agency",
            "outcome",
            "stepped_down_from",
        ],
    ),
    (
        Tbl::Assessments,
        "assessments.csv",
        &[
            "assessment_id",
            "referral_id",
            "child_id",
            "la_code",
            "start_date",
            "authorisation_date",
            "factors",
            "child_seen",
            "reason_over_45wd",
        ],
    ),
    (
        Tbl::Discussions,
        "strategy_discussions.csv",
        &[
            "discussion_id",
            "referral_id",
            "child_id",
            "la_code",
            "date",
            "s47_initiated",
        ],
    ),
    (
        Tbl::S47,
        "s47_enquiries.csv",
        &[
            "s47_id",
            "referral_id",
            "child_id",
            "la_code",
            "start_date",
            "icpc_not_required",
            "icpc_date",
            "icpc_result",
            "transfer_in",
        ],
    ),
    (
        Tbl::Plans,
        "cp_plans.csv",
        &[
            "plan_id",
            "referral_id",
            "child_id",
            "la_code",
            "start_date",
            "end_date",
            "initial_category",
            "latest_category",
            "previous_plans",
            "first_core_group_date",
            "end_reason",
        ],
    ),
    (
        Tbl::PreProceedings,
        "pre_proceedings.csv",
        &[
            "pp_id",
            "referral_id",
            "child_id",
            "la_code",
            "pp_start_date",
            "lbp_sent_date",
            "fgdm_offered",
            "fgdm_facilitated",
            "initial_meeting_date",
            "review_meetings",
            "step_decision_date",
            "outcome",
            "court_application_date",
            "care_proceedings_letter_date",
        ],
    ),
    (Tbl::Reviews, "cp_reviews.csv", &["plan_id", "review_date"]),
    (
        Tbl::CdopReviews,
        "cdop_reviews.csv",
        &[
            "case_id",
            "cdop_code",
            "la_code",
            "date_of_death",
            "notified_date",
            "age_at_death_days",
            "sex",
            "ethnicity",
            "imd_decile",
            "expected",
            "category",
            "modifiable",
            "place_of_death",
            "event",
            "review_completed_date",
            "scr_or_lcspr",
            "died_outside_area",
            "child_id",
        ],
    ),
    (
        Tbl::CdopFactors,
        "cdop_factors.csv",
        &["case_id", "domain", "factor", "grade"],
    ),
    (
        Tbl::Population,
        "population.csv",
        &["la_code", "year", "age_0_17", "source"],
    ),
];

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

/// The open CSV writers of one run; tables not selected are skipped silently.
pub struct CsvTables {
    writers: Vec<Option<TableWriter>>,
    record: csv::ByteRecord,
}

impl CsvTables {
    /// Creates the selected tables in `dir`, each with its header row.
    pub fn create(dir: &Path, selected: &[Tbl]) -> Result<CsvTables> {
        let mut writers = Vec::with_capacity(TABLES.len());
        for (tbl, name, header) in TABLES {
            if !selected.contains(&tbl) {
                writers.push(None);
                continue;
            }
            let path = dir.join(name);
            let file =
                File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut writer =
                csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 18, file));
            writer
                .write_record(header)
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
        })
    }

    /// Writes one row to `tbl` (no-op when the table is not selected).
    pub fn row(&mut self, tbl: Tbl, fields: &[&[u8]]) -> Result<()> {
        let Some(Some(w)) = self.writers.get_mut(tbl as usize) else {
            return Ok(());
        };
        self.record.clear();
        for f in fields {
            self.record.push_field(f);
        }
        w.writer
            .write_byte_record(&self.record)
            .with_context(|| format!("writing {}", w.path.display()))?;
        w.rows += 1;
        Ok(())
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
        self.row(
            Tbl::Children,
            &[
                cid,
                code,
                Cell::month(child.birth).as_bytes(),
                sex.as_bytes(),
                child.ethnicity.as_bytes(),
                yn(!child.disabilities.is_empty()),
                yn(unborn),
            ],
        )?;
        for c in child
            .contacts
            .iter()
            .filter(|c| c.la == la && c.received.date() >= keep_from)
        {
            let level = if c.level == 0 {
                Cell::empty()
            } else {
                Cell::num(c.level as i64)
            };
            self.row(
                Tbl::Contacts,
                &[
                    c.id.as_bytes(),
                    cid,
                    code,
                    Cell::datetime(c.received).as_bytes(),
                    c.source.as_bytes(),
                    level.as_bytes(),
                    Cell::stamp(c.decision).as_bytes(),
                    opt(c.outcome),
                ],
            )?;
        }
        for e in child
            .early_help
            .iter()
            .filter(|e| e.la == la && e.end.is_none_or(|d| d >= keep_from))
        {
            self.row(
                Tbl::EarlyHelp,
                &[
                    e.id.as_bytes(),
                    cid,
                    code,
                    Cell::date(e.start).as_bytes(),
                    Cell::opt_date(e.end).as_bytes(),
                    e.lead_agency.as_bytes(),
                    opt(e.outcome),
                    opt(e.stepped_down_from),
                ],
            )?;
        }
        for ep in child
            .episodes
            .iter()
            .filter(|e| e.la == la && e.active_from(keep_from))
        {
            let rid = ep.id.as_bytes();
            self.row(
                Tbl::Referrals,
                &[
                    rid,
                    cid,
                    code,
                    Cell::stamp(ep.received).as_bytes(),
                    ep.source.as_bytes(),
                    Cell::stamp(ep.decision).as_bytes(),
                    ep.nfa.map_or(b"", yn),
                    ep.need.as_bytes(),
                    Cell::opt_date(ep.closure.map(|c| c.0)).as_bytes(),
                    opt(ep.closure.map(|c| c.1)),
                    opt(ep.contact_id.as_deref()),
                ],
            )?;
            for a in &ep.assessments {
                let factors = if a.authorised.is_some() {
                    a.factors.join(";")
                } else {
                    String::new()
                };
                self.row(
                    Tbl::Assessments,
                    &[
                        a.id.as_bytes(),
                        rid,
                        cid,
                        code,
                        Cell::date(a.start).as_bytes(),
                        Cell::opt_date(a.authorised).as_bytes(),
                        factors.as_bytes(),
                        yn(a.child_seen),
                        opt(a.reason_over_45),
                    ],
                )?;
            }
            for d in &ep.discussions {
                self.row(
                    Tbl::Discussions,
                    &[
                        d.id.as_bytes(),
                        rid,
                        cid,
                        code,
                        Cell::date(d.date).as_bytes(),
                        yn(d.s47_initiated),
                    ],
                )?;
            }
            for s in &ep.s47s {
                let result: &[u8] = match s.icpc_plan {
                    Some(true) => b"CPP",
                    Some(false) => b"NO_CPP",
                    None => b"",
                };
                self.row(
                    Tbl::S47,
                    &[
                        s.id.as_bytes(),
                        rid,
                        cid,
                        code,
                        Cell::date(s.start).as_bytes(),
                        yn(s.not_required_on.is_some()),
                        Cell::opt_date(s.icpc).as_bytes(),
                        result,
                        yn(s.transfer_in),
                    ],
                )?;
            }
            for p in &ep.plans {
                self.row(
                    Tbl::Plans,
                    &[
                        p.id.as_bytes(),
                        rid,
                        cid,
                        code,
                        Cell::date(p.start).as_bytes(),
                        Cell::opt_date(p.end.map(|e| e.0)).as_bytes(),
                        p.initial_category.as_bytes(),
                        p.latest_category.as_bytes(),
                        Cell::num(p.previous_plans as i64).as_bytes(),
                        Cell::opt_date(p.core_group).as_bytes(),
                        opt(p.end.map(|e| e.1)),
                    ],
                )?;
                for r in &p.reviews {
                    self.row(Tbl::Reviews, &[p.id.as_bytes(), Cell::date(*r).as_bytes()])?;
                }
            }
            for p in &ep.pre_proceedings {
                self.row(
                    Tbl::PreProceedings,
                    &[
                        p.id.as_bytes(),
                        rid,
                        cid,
                        code,
                        Cell::date(p.start).as_bytes(),
                        Cell::opt_date(p.letter).as_bytes(),
                        p.fgdm_offered.map_or(b"", yn),
                        p.fgdm_facilitated().map_or(b"", yn),
                        Cell::opt_date(p.initial_meeting).as_bytes(),
                        p.review_count()
                            .map_or_else(Cell::empty, |n| Cell::num(n as i64))
                            .as_bytes(),
                        Cell::opt_date(p.decision.map(|d| d.0)).as_bytes(),
                        opt(p.decision.and_then(|d| d.1)),
                        Cell::opt_date(p.court_application).as_bytes(),
                        Cell::opt_date(p.care_proceedings_letter).as_bytes(),
                    ],
                )?;
            }
        }
        Ok(())
    }
}
