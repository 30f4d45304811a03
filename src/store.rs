//! The Parquet store: the canonical tables as zstd Parquet, split by LA where a table's rows belong
//! to one LA, plus the rejects, the data-quality table, supersessions and the raw layer, in a
//! generation folder named by `CURRENT`.
//!
//! ```text
//! store/
//!   CURRENT                  the name of the live generation, e.g. "gen-000003"
//!   gen-000003/
//!     manifest.json          every source file: name, SHA-256, ingest order, format, vintage
//!     <table>/part-NN.parquet  the tables split by LA (PARTITIONED): 16 files, each LA in one
//!     <table>/all.parquet    the other canonical tables (cp_reviews, CDOP, population)
//!     links/<part>.parquet   the link checks' flags of each partition (all.parquet: across LAs)
//!     rejects.parquet/.csv   rows that could not be stored: file, position, column, value, reason
//!     data_quality.parquet/.csv  flags on stored rows (bad optional values, broken links, DfE rules)
//!     supersessions/*.parquet  rows replaced by a newer extract: table, key, old and new source
//!                            (each commit adds its files)
//!     raw/*.parquet          non-identifying fields beyond the canonical columns (long format;
//!                            each commit adds its files)
//! ```
//!
//! A commit writes a whole new generation aside and then swaps `CURRENT` by rename, so a run that
//! fails halfway leaves the store exactly as it was; the old generation is removed afterwards.
//!
//! Every key of a partitioned table starts with `la_code`, and every check across those tables
//! (supersession, the CIN episode cascade, orphans, DfE rules 1103, 2889, 2885, 8935/8940) stays
//! inside one LA, so a commit works one partition (a fixed group of LAs) at a time: memory is
//! bounded by the largest partition, and a partition that received no rows is carried into the
//! new generation by hard links, not rewritten (a month's extract for one LA rewrites that LA's
//! partition only).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ingest::sink::Sink;
use crate::ingest::validate::{Issue, TableBuilder};
use crate::schema::{self, TableSpec};

const CURRENT: &str = "CURRENT";
const MANIFEST: &str = "manifest.json";
/// The layout this code writes: 2 = tables as folders of partition files.
const LAYOUT: u32 = 2;
/// The partition of tables that are not split by LA, and of the link checks across LAs.
pub const WHOLE: &str = "all";
/// The link checks' flags, one file per partition.
const LINKS: &str = "links";
/// Append-only folders: each commit adds files, the old ones are carried over.
const SUPERSESSIONS: &str = "supersessions";
const RAW: &str = "raw";

/// The tables stored one file per LA: their key starts with `la_code`, and every link check
/// between them joins on `la_code`. The others (cp_reviews has no `la_code`; the CDOP tables
/// link by case across LAs; population is small) are one file each.
pub const PARTITIONED: &[&str] = &[
    "children",
    "contacts",
    "referrals",
    "early_help",
    "assessments",
    "strategy_discussions",
    "s47_enquiries",
    "cp_plans",
];

pub fn is_partitioned(table: &str) -> bool {
    PARTITIONED.contains(&table)
}

/// How many partitions the LA-split tables have. Each LA goes wholly to one partition (by a hash
/// of its code), so a partition holds about 1/16 of a national store, and one LA's monthly extract
/// rewrites one partition; fewer, larger files than one per LA keep `measures` reading fast (a
/// partition per LA cost 16% more at national scale: 150 files per table) and each commit's
/// fixed cost per partition small. Changing it changes the layout number.
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

impl NewRows {
    fn read(self) -> Result<DataFrame> {
        let mut acc = DataFrame::empty();
        for c in self.chunks {
            match c {
                Chunk::File(f) => append(&mut acc, read_parquet(&f)?)?,
                Chunk::Frame(df) => append(&mut acc, df)?,
            }
        }
        Ok(acc)
    }
}

/// One ingested file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceEntry {
    pub file_name: String,
    pub hash: String,
    pub seq: u32,
    pub format: String,
    pub vintage: Option<NaiveDate>,
}

fn layout_v1() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// 1: one file per table (written before partitioning; still read, not appended to); 2: now.
    #[serde(default = "layout_v1")]
    pub layout: u32,
    pub generation: u64,
    pub sources: Vec<SourceEntry>,
}

impl Default for Manifest {
    fn default() -> Manifest {
        Manifest {
            layout: LAYOUT,
            generation: 0,
            sources: vec![],
        }
    }
}

/// What a commit changed.
#[derive(Debug, Clone, Copy)]
pub struct CommitResult {
    pub generation: u64,
    pub superseded: usize,
    /// LA partitions written afresh (the rest were carried over unchanged).
    pub parts_written: usize,
    pub parts_kept: usize,
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

    /// Refuses to append to a store written in an older layout (it can still be read).
    pub fn check_writable(&self) -> Result<(), crate::error::UserError> {
        if self.current.is_some() && self.manifest.layout < LAYOUT {
            return Err(crate::error::UserError::file(
                &self.dir,
                "this store was written by an older safeguard (one file per table): ingest into a new store (keep the old one until the new one is checked)".into(),
            ));
        }
        Ok(())
    }

    /// A private folder for an ingest run's spilled rows (inside the store, so the commit's
    /// reads stay on one disk).
    pub fn staging_dir(&self) -> PathBuf {
        self.dir.join(format!(".staging-{}", std::process::id()))
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

    /// The Parquet files of a table in the live generation, in partition order.
    pub fn table_files(&self, name: &str) -> Result<Vec<PathBuf>> {
        match &self.current {
            Some(gen) => part_files(gen, name),
            None => Ok(vec![]),
        }
    }

    /// Reads a whole table (canonical or bookkeeping); an empty canonical table when absent.
    pub fn read_table(&self, name: &str) -> Result<DataFrame> {
        if let Some(spec) = schema::table(name) {
            let files = self.table_files(name)?;
            if files.is_empty() {
                return Ok(TableBuilder::new(spec).finish()?);
            }
            return scan_files(&files)?
                .collect()
                .map_err(anyhow::Error::from)
                .with_context(|| format!("reading the {name} table"));
        }
        // Bookkeeping: one file, or a folder of files appended to by each commit (raw,
        // supersessions).
        let files = self.table_files(name)?;
        if files.is_empty() {
            return Ok(DataFrame::empty());
        }
        scan_files(&files)?
            .collect()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("reading the {name} table"))
    }

    /// A lazy scan of a table (all its partitions).
    pub fn scan(&self, name: &str) -> Result<LazyFrame> {
        let files = self.table_files(name)?;
        if !files.is_empty() {
            return scan_files(&files);
        }
        Ok(self.read_table(name)?.lazy())
    }

    /// Writes a new generation holding the old one's rows plus the sink's, then makes it live.
    pub fn commit(
        &mut self,
        mut sink: Sink,
        new_sources: Vec<SourceEntry>,
    ) -> Result<CommitResult> {
        let mut new_rows = sink.take_rows()?;
        let new_raw = new_rows.remove(&(crate::ingest::sink::RAW, WHOLE.to_string()));
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        self.check_writable()?;
        let generation = self.manifest.generation + 1;
        let gen_name = format!("gen-{generation:06}");
        let tmp = self.dir.join(format!(".{gen_name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        for t in schema::TABLES
            .iter()
            .map(|t| t.name)
            .chain([LINKS, SUPERSESSIONS, RAW])
        {
            fs::create_dir_all(tmp.join(t))?;
        }

        let mut manifest = self.manifest.clone();
        manifest.layout = LAYOUT;
        manifest.generation = generation;
        manifest.sources.extend(new_sources);
        let cin_seqs: Vec<u32> = manifest
            .sources
            .iter()
            .filter(|s| s.format == crate::ingest::Format::CinXml.label())
            .map(|s| s.seq)
            .collect();
        let old = self.current.clone();

        // 1. The LA partitions: those that received rows are merged, superseded, cascaded and
        //    link-checked on their own (in parallel); the others are carried over by hard links.
        let mut by_part: BTreeMap<String, BTreeMap<&'static str, NewRows>> = BTreeMap::new();
        let mut whole_rows: BTreeMap<&'static str, NewRows> = BTreeMap::new();
        for ((t, part), rows) in new_rows {
            if is_partitioned(t) {
                by_part.entry(part).or_default().insert(t, rows);
            } else {
                whole_rows.insert(t, rows);
            }
        }
        let mut parts: BTreeSet<String> = by_part.keys().cloned().collect();
        if let Some(gen) = &old {
            for t in PARTITIONED {
                for f in part_files(gen, t)? {
                    if let Some(stem) = f.file_stem() {
                        parts.insert(stem.to_string_lossy().to_string());
                    }
                }
            }
        }
        let jobs: Vec<(String, Option<BTreeMap<&'static str, NewRows>>)> = parts
            .into_iter()
            .map(|p| {
                let rows = by_part.remove(&p);
                (p, rows)
            })
            .collect();
        let parts_written = jobs.iter().filter(|(_, r)| r.is_some()).count();
        let parts_kept = jobs.len() - parts_written;
        let outcomes: Vec<PartOutcome> = jobs
            .into_par_iter()
            .map(|(part, rows)| match rows {
                Some(rows) => commit_part(old.as_deref(), &tmp, &part, rows, &cin_seqs, generation),
                None => carry_part(old.as_deref(), &tmp, &part).map(|_| PartOutcome::default()),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut superseded = 0usize;
        let mut supersessions: Vec<DataFrame> = vec![];
        let mut plans_changed = false;
        for o in outcomes {
            superseded += o.superseded;
            plans_changed |= o.plans_changed;
        }

        // 2. The tables kept whole, then the cascade and link checks that cross LAs.
        let mut whole: BTreeMap<&'static str, DataFrame> = BTreeMap::new();
        for spec in schema::TABLES.iter().filter(|t| !is_partitioned(t.name)) {
            let old_file = old
                .as_ref()
                .map(|g| part_path(g, spec.name, WHOLE))
                .filter(|p| p.exists());
            let rows = whole_rows.remove(spec.name);
            let needs_cascade = spec.name == "cp_reviews" && !cin_seqs.is_empty() && plans_changed;
            if rows.is_none() && !needs_cascade {
                if let Some(f) = old_file {
                    link_or_copy(&f, &part_path(&tmp, spec.name, WHOLE))?;
                }
                continue;
            }
            let mut combined = match old_file {
                Some(f) => read_parquet(&f)?,
                None => TableBuilder::new(spec).finish()?,
            };
            if let Some(r) = rows {
                append(&mut combined, r.read()?)?;
            }
            let (kept, dropped) = supersede(spec, combined)?;
            superseded += dropped.height();
            if dropped.height() > 0 {
                supersessions.push(dropped);
            }
            whole.insert(spec.name, kept);
        }
        if let Some(reviews) = whole.remove("cp_reviews") {
            let reviews = if cin_seqs.is_empty() {
                reviews
            } else {
                let plans = scan_part_files(&tmp, "cp_plans")?
                    .map(|lf| lf.select([col("plan_id"), col("source_seq")]).collect())
                    .transpose()?;
                let before = reviews.height();
                let kept = match plans {
                    Some(plans) => cascade_one(reviews, &plans, &["plan_id"], &cin_seqs)?,
                    None => reviews,
                };
                superseded += before - kept.height();
                kept
            };
            whole.insert("cp_reviews", reviews);
        }
        for (name, df) in whole.iter_mut() {
            if df.height() > 0 {
                write_parquet(&part_path(&tmp, name, WHOLE), df)?;
            }
        }
        // (Absent tables are empty ones: a review with no plans in the store is an orphan.)
        let mut linked: BTreeMap<&'static str, DataFrame> = BTreeMap::new();
        for (t, only) in [
            ("cp_reviews", None),
            ("cdop_factors", None),
            ("cdop_reviews", None),
            ("cp_plans", Some("plan_id")),
        ] {
            let lf = match scan_part_files(&tmp, t)? {
                Some(lf) => lf,
                None => TableBuilder::new(schema::table(t).expect("a canonical table"))
                    .finish()?
                    .lazy(),
            };
            let lf = match only {
                Some(c) => lf.select([col(c)]),
                None => lf,
            };
            linked.insert(t, lf.collect()?);
        }
        let mut across = issues_frame(&link_checks(&linked)?)?;
        write_parquet(&part_path(&tmp, LINKS, WHOLE), &mut across)?;

        // 3. Bookkeeping. Rejects and value-level flags accumulate; the link checks' flags are
        //    those of the partitions as they now stand.
        let mut rejects = self.read_table("rejects")?;
        append(&mut rejects, issues_frame(&sink.rejects)?)?;
        write_both(&tmp, "rejects", &mut rejects)?;

        let mut value_flags = self.read_table("data_quality_values")?;
        append(&mut value_flags, issues_frame(&sink.flags)?)?;
        write_parquet(&tmp.join("data_quality_values.parquet"), &mut value_flags)?;
        let mut dq = value_flags;
        for f in part_files(&tmp, LINKS)? {
            append(&mut dq, read_parquet(&f)?)?;
        }
        write_both(&tmp, "data_quality", &mut dq)?;

        // Supersessions and the raw layer only grow: the old generation's files are carried
        // over and this commit's rows go in new files beside them.
        if let Some(gen) = &old {
            for dir in [SUPERSESSIONS, RAW] {
                if gen.join(dir).is_dir() {
                    for f in part_files(gen, dir)? {
                        let name = f.file_name().expect("a file");
                        link_or_copy(&f, &tmp.join(dir).join(name))?;
                    }
                }
            }
        }
        write_appended(&tmp, SUPERSESSIONS, generation, WHOLE, supersessions)?;
        if let Some(raw) = new_raw {
            for (i, c) in raw.chunks.into_iter().enumerate() {
                let df = match c {
                    Chunk::File(f) => read_parquet(&f)?,
                    Chunk::Frame(df) => df,
                };
                write_appended(&tmp, RAW, generation, &format!("{i:05}"), vec![df])?;
            }
        }

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
            parts_written,
            parts_kept,
        })
    }
}

/// What committing one LA partition produced.
#[derive(Default)]
struct PartOutcome {
    superseded: usize,
    plans_changed: bool,
}

/// Writes an append-only folder's new file for this commit (`g<generation>-<name>.parquet`),
/// if there are rows.
fn write_appended(
    gen: &Path,
    dir: &str,
    generation: u64,
    name: &str,
    frames: Vec<DataFrame>,
) -> Result<()> {
    let mut acc = DataFrame::empty();
    for df in frames {
        append(&mut acc, df)?;
    }
    if acc.height() > 0 {
        write_parquet(
            &gen.join(dir)
                .join(format!("g{generation:06}-{name}.parquet")),
            &mut acc,
        )?;
    }
    Ok(())
}

/// `gen/<table>/<part>.parquet`.
fn part_path(gen: &Path, table: &str, part: &str) -> PathBuf {
    gen.join(table).join(format!("{part}.parquet"))
}

/// The partition files of a table in a generation, sorted; a layout-1 generation's single
/// `<table>.parquet` counts as one.
fn part_files(gen: &Path, table: &str) -> Result<Vec<PathBuf>> {
    let dir = gen.join(table);
    if !dir.is_dir() {
        let single = gen.join(format!("{table}.parquet"));
        return Ok(if single.exists() {
            vec![single]
        } else {
            vec![]
        });
    }
    let mut out: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    out.sort();
    Ok(out)
}

fn scan_files(files: &[PathBuf]) -> Result<LazyFrame> {
    let paths = files
        .iter()
        .map(|p| PlRefPath::new(p.to_string_lossy().as_ref()))
        .collect::<Vec<_>>();
    Ok(LazyFrame::scan_parquet_files(
        paths.into(),
        ScanArgsParquet {
            glob: false,
            ..Default::default()
        },
    )?)
}

fn scan_part_files(gen: &Path, table: &str) -> Result<Option<LazyFrame>> {
    let files = part_files(gen, table)?;
    if files.is_empty() {
        return Ok(None);
    }
    scan_files(&files).map(Some)
}

/// A hard link where the file system allows one, else a copy.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// An LA partition that received no rows: its files and link flags go into the new generation
/// unchanged.
fn carry_part(old: Option<&Path>, tmp: &Path, part: &str) -> Result<()> {
    let Some(gen) = old else { return Ok(()) };
    for t in PARTITIONED.iter().chain([&LINKS]) {
        let f = part_path(gen, t, part);
        if f.exists() {
            link_or_copy(&f, &part_path(tmp, t, part))?;
        }
    }
    Ok(())
}

/// Merges one LA partition's new rows with its stored ones: supersession, the CIN episode
/// cascade and the link checks, all inside the LA; writes the tables that changed and links the
/// rest.
fn commit_part(
    old: Option<&Path>,
    tmp: &Path,
    part: &str,
    mut rows: BTreeMap<&'static str, NewRows>,
    cin_seqs: &[u32],
    generation: u64,
) -> Result<PartOutcome> {
    let mut out = PartOutcome::default();
    let mut supersessions: Vec<DataFrame> = vec![];
    let mut merged: BTreeMap<&'static str, DataFrame> = BTreeMap::new();
    let mut changed: BTreeSet<&'static str> = BTreeSet::new();
    for spec in schema::TABLES.iter().filter(|t| is_partitioned(t.name)) {
        let old_file = old
            .map(|g| part_path(g, spec.name, part))
            .filter(|p| p.exists());
        let stored = match &old_file {
            Some(f) => read_parquet(f)?,
            None => TableBuilder::new(spec).finish()?,
        };
        match rows.remove(spec.name) {
            None => {
                merged.insert(spec.name, stored);
            }
            Some(new) => {
                let mut combined = stored;
                append(&mut combined, new.read()?)?;
                let (kept, dropped) = supersede(spec, combined)?;
                out.superseded += dropped.height();
                if dropped.height() > 0 {
                    supersessions.push(dropped);
                }
                merged.insert(spec.name, kept);
                changed.insert(spec.name);
            }
        }
    }
    for (table, dropped) in cascade_episode_supersession(&mut merged, cin_seqs)? {
        out.superseded += dropped;
        changed.insert(table);
    }
    out.plans_changed = changed.contains("cp_plans");
    write_appended(tmp, SUPERSESSIONS, generation, part, supersessions)?;
    let mut links = issues_frame(&link_checks(&merged)?)?;
    write_parquet(&part_path(tmp, LINKS, part), &mut links)?;
    for (name, df) in merged.iter_mut() {
        let target = part_path(tmp, name, part);
        if changed.contains(name) {
            if df.height() > 0 {
                write_parquet(&target, df)?;
            }
        } else if let Some(f) = old.map(|g| part_path(g, name, part)).filter(|p| p.exists()) {
            link_or_copy(&f, &target)?;
        }
    }
    Ok(out)
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
    // Most commits supersede nothing: a distinct count on the key columns (a hash pass) is
    // much cheaper than sorting every column.
    let distinct = combined
        .clone()
        .lazy()
        .select(key.clone())
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?
        .height();
    if distinct == combined.height() {
        return Ok((combined, DataFrame::empty()));
    }
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
/// assessments, s47s and plans (data-contract.md section 4): rows that hang off a referral whose
/// winning version came from a different CIN return are dropped. Works on one LA partition;
/// returns the rows dropped per table (only tables that lost rows). Reviews hang off plans across
/// LAs and are cascaded by the commit afterwards ([`cascade_one`]).
fn cascade_episode_supersession(
    merged: &mut BTreeMap<&'static str, DataFrame>,
    cin_seqs: &[u32],
) -> Result<Vec<(&'static str, usize)>> {
    let mut out = vec![];
    if cin_seqs.is_empty() {
        return Ok(out);
    }
    for table in [
        "assessments",
        "strategy_discussions",
        "s47_enquiries",
        "cp_plans",
    ] {
        let (Some(child), Some(par)) = (merged.get(table), merged.get("referrals")) else {
            continue;
        };
        let before = child.height();
        let kept = cascade_one(
            child.clone(),
            &par.select(["la_code", "referral_id", "source_seq"])?,
            &["la_code", "referral_id"],
            cin_seqs,
        )?;
        if kept.height() < before {
            out.push((table, before - kept.height()));
        }
        merged.insert(table, kept);
    }
    Ok(out)
}

/// Drops the rows of `child` that came from a CIN return while their parent's winning version
/// (`parent`: the `on` columns plus `source_seq`) came from a different source.
fn cascade_one(
    child: DataFrame,
    parent: &DataFrame,
    on: &[&str],
    cin_seqs: &[u32],
) -> Result<DataFrame> {
    let cin = Series::new("cin".into(), cin_seqs.to_vec());
    let keys: Vec<Expr> = on.iter().map(|k| col(*k)).collect();
    let parent_seq = parent.clone().lazy().select(
        keys.iter()
            .cloned()
            .chain([col("source_seq").alias("__parent_seq")])
            .collect::<Vec<_>>(),
    );
    Ok(child
        .lazy()
        .join(
            parent_seq,
            keys.clone(),
            keys.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .filter(
            col("source_seq")
                .is_in(lit(cin).implode(false), false)
                .and(col("__parent_seq").is_not_null())
                .and(col("__parent_seq").neq(col("source_seq")))
                .not(),
        )
        .drop(cols(["__parent_seq"]))
        .collect()?)
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
    // A plan overlaps when an earlier plan of the same child (an earlier start, or the same start
    // and a smaller id: of two plans starting the same day only the later id is flagged) is still
    // open on its start date (no end, or an end after it): the running maximum of the earlier
    // plans' ends passes its start. By sorting, not a self-join on the child, whose cost is the
    // square of a child's plans (a malformed return with 3,000 copies of one child took 2.7 GB).
    let open = lit(i32::MAX).cast(DataType::Date);
    let overlapping = plans
        .clone()
        .lazy()
        .filter(col("start_date").is_not_null())
        .sort_by_exprs(
            [
                col("la_code"),
                col("child_id"),
                col("start_date"),
                col("plan_id"),
            ],
            SortMultipleOptions::default(),
        )
        .with_column(
            col("end_date")
                .fill_null(open)
                .cum_max(false)
                .shift(lit(1))
                .over([col("la_code"), col("child_id")])?
                .alias("__open_until"),
        )
        .filter(col("__open_until").gt(col("start_date")))
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
