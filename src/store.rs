//! The Parquet store: one zstd Parquet file per canonical table, plus the rejects, the
//! data-quality table, supersessions and the raw layer, in a generation folder named by `CURRENT`.
//!
//! ```text
//! store/
//!   CURRENT                  the name of the live generation, e.g. "gen-000003"
//!   gen-000003/
//!     manifest.json          every source file: name, SHA-256, ingest order, format, vintage
//!     <table>.parquet        one per canonical table (data-contract.md section 3), all sources
//!     rejects.parquet/.csv   rows that could not be stored: file, position, column, value, reason
//!     data_quality.parquet/.csv  flags on stored rows (bad optional values, broken links, DfE rules)
//!     supersessions.parquet  rows replaced by a newer extract: table, key, old and new source
//!     raw.parquet            non-identifying fields beyond the canonical columns (long format)
//! ```
//!
//! A commit writes a whole new generation aside and then swaps `CURRENT` by rename, so a run that
//! fails halfway leaves the store exactly as it was; the old generation is removed afterwards.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ingest::sink::Sink;
use crate::ingest::validate::{Issue, TableBuilder};
use crate::schema::{self, TableSpec};

const CURRENT: &str = "CURRENT";
const MANIFEST: &str = "manifest.json";

/// One ingested file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceEntry {
    pub file_name: String,
    pub hash: String,
    pub seq: u32,
    pub format: String,
    pub vintage: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub generation: u64,
    pub sources: Vec<SourceEntry>,
}

/// What a commit changed.
#[derive(Debug, Clone, Copy)]
pub struct CommitResult {
    pub generation: u64,
    pub superseded: usize,
}

/// An open store (possibly empty: no generation yet).
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    current: Option<PathBuf>,
    pub manifest: Manifest,
}

impl Store {
    /// Opens the store at `dir` (which need not exist yet).
    pub fn open(dir: &Path) -> Result<Store> {
        let cur = dir.join(CURRENT);
        if !cur.exists() {
            return Ok(Store {
                dir: dir.to_path_buf(),
                current: None,
                manifest: Manifest::default(),
            });
        }
        let name =
            fs::read_to_string(&cur).with_context(|| format!("reading {}", cur.display()))?;
        let gen_dir = dir.join(name.trim());
        let mpath = gen_dir.join(MANIFEST);
        let manifest: Manifest = serde_json::from_str(
            &fs::read_to_string(&mpath).with_context(|| format!("reading {}", mpath.display()))?,
        )
        .with_context(|| format!("parsing {}", mpath.display()))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            current: Some(gen_dir),
            manifest,
        })
    }

    /// Opens a store that must already hold data.
    pub fn open_existing(dir: &Path) -> Result<Store> {
        let s = Store::open(dir)?;
        if s.current.is_none() {
            return Err(crate::error::UserError::file(
                dir,
                "no store here: run `safeguard ingest FILE... --store DIR` first".into(),
            )
            .into());
        }
        Ok(s)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The live generation folder.
    pub fn current_dir(&self) -> Option<&Path> {
        self.current.as_deref()
    }

    pub fn next_seq(&self) -> u32 {
        self.manifest
            .sources
            .iter()
            .map(|s| s.seq)
            .max()
            .unwrap_or(0)
            + 1
    }

    pub fn has_source(&self, hash: &str) -> bool {
        self.manifest.sources.iter().any(|s| s.hash == hash)
    }

    /// The Parquet file of a table in the live generation.
    pub fn table_path(&self, name: &str) -> Option<PathBuf> {
        self.current
            .as_ref()
            .map(|d| d.join(format!("{name}.parquet")))
            .filter(|p| p.exists())
    }

    /// Reads a whole table (canonical or bookkeeping); an empty canonical table when absent.
    pub fn read_table(&self, name: &str) -> Result<DataFrame> {
        match self.table_path(name) {
            Some(p) => read_parquet(&p),
            None => match schema::table(name) {
                Some(spec) => Ok(TableBuilder::new(spec).finish()?),
                None => Ok(DataFrame::empty()),
            },
        }
    }

    /// A lazy scan of a table.
    pub fn scan(&self, name: &str) -> Result<LazyFrame> {
        match self.table_path(name) {
            Some(p) => Ok(LazyFrame::scan_parquet(
                PlRefPath::new(p.to_string_lossy().as_ref()),
                ScanArgsParquet::default(),
            )?),
            None => Ok(self.read_table(name)?.lazy()),
        }
    }

    /// Writes a new generation holding the old one's rows plus the sink's, then makes it live.
    pub fn commit(
        &mut self,
        mut sink: Sink,
        new_sources: Vec<SourceEntry>,
    ) -> Result<CommitResult> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let generation = self.manifest.generation + 1;
        let gen_name = format!("gen-{generation:06}");
        let tmp = self.dir.join(format!(".{gen_name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;

        let mut manifest = self.manifest.clone();
        manifest.generation = generation;
        manifest.sources.extend(new_sources);

        let mut superseded = 0usize;
        let mut supersessions: Vec<DataFrame> = vec![];
        let mut merged: BTreeMap<&'static str, DataFrame> = BTreeMap::new();
        for spec in schema::TABLES {
            let new = match sink.builders.remove(spec.name) {
                Some(b) => b.finish()?,
                None => TableBuilder::new(spec).finish()?,
            };
            let combined = match self.table_path(spec.name) {
                Some(p) => {
                    let mut old = read_parquet(&p)?;
                    old.vstack_mut_owned(new)
                        .map_err(anyhow::Error::from)
                        .with_context(|| format!("appending to {}", spec.name))?;
                    old
                }
                None => new,
            };
            let (kept, dropped) = supersede(spec, combined)?;
            superseded += dropped.height();
            if dropped.height() > 0 {
                supersessions.push(dropped);
            }
            merged.insert(spec.name, kept);
        }
        let cascaded = cascade_episode_supersession(&mut merged, &manifest)?;
        superseded += cascaded;

        for (name, df) in merged.iter_mut() {
            write_parquet(&tmp.join(format!("{name}.parquet")), df)?;
        }

        // Rejects and value-level flags accumulate; link checks are recomputed over the whole store.
        let mut rejects = self.read_bookkeeping("rejects")?;
        append(&mut rejects, issues_frame(&sink.rejects)?)?;
        write_both(&tmp, "rejects", &mut rejects)?;

        let mut value_flags = self.read_bookkeeping("data_quality_values")?;
        append(&mut value_flags, issues_frame(&sink.flags)?)?;
        write_parquet(&tmp.join("data_quality_values.parquet"), &mut value_flags)?;
        let mut dq = value_flags.clone();
        append(&mut dq, issues_frame(&link_checks(&merged)?)?)?;
        write_both(&tmp, "data_quality", &mut dq)?;

        let mut sups = self.read_bookkeeping("supersessions")?;
        for s in supersessions {
            append(&mut sups, s)?;
        }
        if sups.width() > 0 {
            write_parquet(&tmp.join("supersessions.parquet"), &mut sups)?;
        }

        let mut raw = self.read_bookkeeping("raw")?;
        append(&mut raw, raw_frame(&sink)?)?;
        write_parquet(&tmp.join("raw.parquet"), &mut raw)?;

        fs::write(tmp.join(MANIFEST), serde_json::to_string_pretty(&manifest)?)?;

        // Make it live: rename the folder, then swap CURRENT atomically.
        let gen_dir = self.dir.join(&gen_name);
        if gen_dir.exists() {
            fs::remove_dir_all(&gen_dir)?;
        }
        fs::rename(&tmp, &gen_dir)?;
        let cur_tmp = self.dir.join(format!("{CURRENT}.tmp"));
        fs::write(&cur_tmp, &gen_name)?;
        File::open(&cur_tmp)?.sync_all()?;
        fs::rename(&cur_tmp, self.dir.join(CURRENT))?;
        if let Some(old) = self.current.replace(gen_dir) {
            let _ = fs::remove_dir_all(old);
        }
        self.manifest = manifest;
        Ok(CommitResult {
            generation,
            superseded,
        })
    }

    fn read_bookkeeping(&self, name: &str) -> Result<DataFrame> {
        match self.table_path(name) {
            Some(p) => read_parquet(&p),
            None => Ok(DataFrame::empty()),
        }
    }
}

fn append(acc: &mut DataFrame, more: DataFrame) -> Result<()> {
    if more.height() == 0 && acc.width() > 0 {
        return Ok(());
    }
    if acc.width() == 0 {
        *acc = more;
    } else {
        acc.vstack_mut_owned(more)?;
    }
    Ok(())
}

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    ParquetReader::new(f)
        .finish()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading {}", path.display()))
}

pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(f)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn write_csv(path: &Path, df: &mut DataFrame) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    CsvWriter::new(&mut f)
        .include_header(true)
        .finish(df)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn write_both(dir: &Path, name: &str, df: &mut DataFrame) -> Result<()> {
    write_parquet(&dir.join(format!("{name}.parquet")), df)?;
    write_csv(&dir.join(format!("{name}.csv")), df)
}

/// Keeps, for each key, the row of the newest extract (latest vintage, then latest ingest);
/// returns the kept rows and a supersession record for the dropped ones.
fn supersede(spec: &TableSpec, combined: DataFrame) -> Result<(DataFrame, DataFrame)> {
    let key: Vec<Expr> = spec.key.iter().map(|k| col(*k)).collect();
    let ranked = combined
        .lazy()
        .with_row_index("__row", None)
        .sort_by_exprs(
            [col("source_vintage"), col("source_seq")],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, true])
                .with_nulls_last(true),
        )
        .collect()?;
    if ranked.height() == 0 {
        return Ok((ranked.drop("__row")?, DataFrame::empty()));
    }
    let kept = ranked
        .clone()
        .lazy()
        .unique_stable_generic(Some(key.clone()), UniqueKeepStrategy::First)
        .collect()?;
    if kept.height() == ranked.height() {
        return Ok((
            ranked
                .lazy()
                .sort(["__row"], Default::default())
                .drop(cols(["__row"]))
                .collect()?,
            DataFrame::empty(),
        ));
    }
    let dropped = ranked
        .lazy()
        .join(
            kept.clone().lazy().select([col("__row")]),
            [col("__row")],
            [col("__row")],
            JoinArgs::new(JoinType::Anti),
        )
        .join(
            kept.clone().lazy().select(
                key.iter()
                    .cloned()
                    .chain([col("source_file").alias("new_source")])
                    .collect::<Vec<_>>(),
            ),
            key.clone(),
            key.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .select([
            lit(spec.name).alias("table"),
            concat_str(
                key.iter()
                    .map(|k| k.clone().cast(DataType::String))
                    .collect::<Vec<_>>(),
                "|",
                true,
            )
            .alias("key"),
            col("source_file").alias("old_source"),
            col("new_source"),
        ])
        .collect()?;
    let kept = kept
        .lazy()
        .sort(["__row"], Default::default())
        .drop(cols(["__row"]))
        .collect()?;
    Ok((kept, dropped))
}

/// A CIN census episode in a newer return replaces the older return's episode *with* its
/// assessments, s47s, plans and reviews (data-contract.md section 4): rows that hang off a
/// referral (or plan) whose winning version came from a different CIN return are dropped.
fn cascade_episode_supersession(
    merged: &mut BTreeMap<&'static str, DataFrame>,
    manifest: &Manifest,
) -> Result<usize> {
    let cin_seqs: Vec<u32> = manifest
        .sources
        .iter()
        .filter(|s| s.format == crate::ingest::Format::CinXml.label())
        .map(|s| s.seq)
        .collect();
    if cin_seqs.is_empty() {
        return Ok(0);
    }
    let cin = Series::new("cin".into(), cin_seqs);
    let mut dropped = 0;
    for (table, parent, on) in [
        ("assessments", "referrals", vec!["la_code", "referral_id"]),
        (
            "strategy_discussions",
            "referrals",
            vec!["la_code", "referral_id"],
        ),
        ("s47_enquiries", "referrals", vec!["la_code", "referral_id"]),
        ("cp_plans", "referrals", vec!["la_code", "referral_id"]),
        ("cp_reviews", "cp_plans", vec!["plan_id"]),
    ] {
        let (Some(child), Some(par)) = (merged.get(table), merged.get(parent)) else {
            continue;
        };
        let keys: Vec<Expr> = on.iter().map(|k| col(*k)).collect();
        let parent_seq = par.clone().lazy().select(
            keys.iter()
                .cloned()
                .chain([col("source_seq").alias("__parent_seq")])
                .collect::<Vec<_>>(),
        );
        let before = child.height();
        let kept = child
            .clone()
            .lazy()
            .join(
                parent_seq,
                keys.clone(),
                keys.clone(),
                JoinArgs::new(JoinType::Left),
            )
            .filter(
                col("source_seq")
                    .is_in(lit(cin.clone()).implode(false), false)
                    .and(col("__parent_seq").is_not_null())
                    .and(col("__parent_seq").neq(col("source_seq")))
                    .not(),
            )
            .drop(cols(["__parent_seq"]))
            .collect()?;
        dropped += before - kept.height();
        merged.insert(table, kept);
    }
    Ok(dropped)
}

/// Checks that need two tables: orphans (a row whose referral, plan or CDOP case is not in the
/// store) and the DfE date-order rules 1103 (assessment start >= referral) and 2889
/// (s47 start >= referral).
fn link_checks(merged: &BTreeMap<&'static str, DataFrame>) -> Result<Vec<Issue>> {
    let mut out = vec![];
    for spec in schema::TABLES {
        let Some(parent) = spec.parent else { continue };
        let (Some(child), Some(par)) = (merged.get(spec.name), merged.get(parent.table)) else {
            continue;
        };
        let mut keys = vec![parent.column];
        if spec.column("la_code").is_some()
            && schema::table(parent.table).is_some_and(|p| p.column("la_code").is_some())
        {
            keys.insert(0, "la_code");
        }
        let k: Vec<Expr> = keys.iter().map(|c| col(*c)).collect();
        let orphans = child
            .clone()
            .lazy()
            .join(
                par.clone()
                    .lazy()
                    .select(k.clone())
                    .unique(None, UniqueKeepStrategy::Any),
                k.clone(),
                k.clone(),
                JoinArgs::new(JoinType::Anti),
            )
            .select([col("source_file"), col("source_pos")])
            .collect()?;
        out.extend(issue_rows(
            spec.name,
            &orphans,
            parent.column,
            "orphan",
            &format!(
                "its {} is not in the store (or was rejected)",
                parent.table.trim_end_matches('s')
            ),
        )?);
    }
    for (table, date_col, flag, rule) in [
        (
            "assessments",
            "start_date",
            "assessment_before_referral",
            "assessment start is before the referral (DfE rule 1103)",
        ),
        (
            "s47_enquiries",
            "start_date",
            "s47_before_referral",
            "s47 start is before the referral (DfE rule 2889)",
        ),
    ] {
        let (Some(child), Some(refs)) = (merged.get(table), merged.get("referrals")) else {
            continue;
        };
        let k = [col("la_code"), col("referral_id")];
        let bad = child
            .clone()
            .lazy()
            .join(
                refs.clone().lazy().select([
                    col("la_code"),
                    col("referral_id"),
                    col("received_at").cast(DataType::Date).alias("__ref_date"),
                ]),
                k.clone(),
                k.clone(),
                JoinArgs::new(JoinType::Inner),
            )
            .filter(col(date_col).lt(col("__ref_date")))
            .select([col("source_file"), col("source_pos")])
            .collect()?;
        out.extend(issue_rows(table, &bad, date_col, flag, rule)?);
    }
    if let (Some(plans), Some(s47)) = (merged.get("cp_plans"), merged.get("s47_enquiries")) {
        out.extend(plan_checks(plans, s47)?);
    }
    Ok(out)
}

/// DfE rule 2885 (a plan starts on the date of the conference that made it: an ICPC of the same
/// child in the same LA on the plan's start date) and rules 8935/8940 (a child's plans must not
/// overlap: a plan starting while an earlier one of the same child is still open).
fn plan_checks(plans: &DataFrame, s47: &DataFrame) -> Result<Vec<Issue>> {
    let k = [col("la_code"), col("child_id"), col("start_date")];
    let icpcs = s47
        .clone()
        .lazy()
        .filter(col("icpc_date").is_not_null())
        .select([
            col("la_code"),
            col("child_id"),
            col("icpc_date").alias("start_date"),
        ])
        .unique(None, UniqueKeepStrategy::Any);
    let no_icpc = plans
        .clone()
        .lazy()
        .join(icpcs, k.clone(), k.clone(), JoinArgs::new(JoinType::Anti))
        .select([col("source_file"), col("source_pos")])
        .collect()?;
    let mut out = issue_rows(
        "cp_plans",
        &no_icpc,
        "start_date",
        "cpp_start_not_icpc",
        "no ICPC of this child on the plan's start date (DfE rule 2885)",
    )?;
    let others = plans.clone().lazy().select([
        col("child_id"),
        col("plan_id").alias("__other_id"),
        col("start_date").alias("__other_start"),
        col("end_date").alias("__other_end"),
    ]);
    let overlapping = plans
        .clone()
        .lazy()
        .join(
            others,
            [col("child_id")],
            [col("child_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("__other_id")
                .neq(col("plan_id"))
                .and(col("__other_start").lt_eq(col("start_date")))
                .and(
                    col("__other_end")
                        .is_null()
                        .or(col("__other_end").gt(col("start_date"))),
                )
                // Two plans starting the same day: flag only one of them (the later id).
                .and(
                    col("__other_start")
                        .lt(col("start_date"))
                        .or(col("__other_id").lt(col("plan_id"))),
                ),
        )
        .select([col("source_file"), col("source_pos")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    out.extend(issue_rows(
        "cp_plans",
        &overlapping,
        "start_date",
        "overlapping_cpp",
        "starts while another plan of the same child is open (DfE rules 8935/8940)",
    )?);
    Ok(out)
}

fn issue_rows(
    table: &'static str,
    df: &DataFrame,
    column: &str,
    flag: &str,
    reason: &str,
) -> Result<Vec<Issue>> {
    let files = df.column("source_file")?.str()?.clone();
    let pos = df.column("source_pos")?.str()?.clone();
    Ok(files
        .iter()
        .zip(pos.iter())
        .map(|(f, p)| Issue {
            table,
            source_file: f.unwrap_or_default().to_string(),
            position: p.unwrap_or_default().to_string(),
            column: column.to_string(),
            value: String::new(),
            flag: flag.to_string(),
            reason: reason.to_string(),
        })
        .collect())
}

fn issues_frame(issues: &[Issue]) -> Result<DataFrame> {
    let s = |name: &str, f: &dyn Fn(&Issue) -> String| -> Column {
        Series::new(name.into(), issues.iter().map(f).collect::<Vec<String>>()).into()
    };
    Ok(DataFrame::new(
        issues.len(),
        vec![
            s("table", &|i| i.table.to_string()),
            s("source_file", &|i| i.source_file.clone()),
            s("position", &|i| i.position.clone()),
            s("column", &|i| i.column.clone()),
            s("value", &|i| i.value.clone()),
            s("flag", &|i| i.flag.clone()),
            s("reason", &|i| i.reason.clone()),
        ],
    )?)
}

fn raw_frame(sink: &Sink) -> Result<DataFrame> {
    let r = &sink.raw;
    let s = |name: &str, f: &dyn Fn(&crate::ingest::sink::RawField) -> String| -> Column {
        Series::new(name.into(), r.iter().map(f).collect::<Vec<String>>()).into()
    };
    Ok(DataFrame::new(
        r.len(),
        vec![
            s("source_file", &|x| x.source_file.clone()),
            s("position", &|x| x.position.clone()),
            s("element", &|x| x.element.clone()),
            s("field", &|x| x.field.clone()),
            s("value", &|x| x.value.clone()),
        ],
    )?)
}
