//! The Parquet store: the canonical tables as zstd Parquet, split by LA where a table's rows belong
//! to one LA, plus the rejects, the data-quality table, supersessions and the raw layer, in a
//! generation folder named by `CURRENT`.
//!
//! ```text
//! store/
//!   CURRENT                  the name of the live generation, e.g. "gen-000003"
//!   gen-000003/
//!     manifest.json          every source file: name, SHA-256, ingest order, format, vintage
//!     <table>/part-NN.parquet  the tables split by LA ([`partitioned`]): 16 files, each LA in one
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
//! A commit writes a whole new generation aside, syncs it to disk and then swaps `CURRENT` by
//! rename, so a run that fails halfway (or a power cut) leaves the old generation or the new one,
//! whole; the old generation is removed afterwards, once no reader holds it.
//!
//! Concurrency (see [`WriterLock`] and [`Store::open`]): one writer at a time holds `store/LOCK`
//! (a kernel lock on the file, which also names the holder's pid, start time and host); a reader
//! pins the generation it opened by a shared lock on that generation's `manifest.json`, and a
//! generation is removed only when nobody holds that lock. Leftovers of a killed writer (its
//! staging folder, a half-written `.gen-N.tmp`) are removed by the next writer.
//!
//! Every key of a partitioned table starts with `la_code`, and every check across those tables
//! (supersession, the CIN episode cascade, and the link checks of [`crate::rules`]: orphans, DfE
//! rules 1103, 2889, 2885, 8935/8940) stays inside one LA, so a commit works one partition (a
//! fixed group of LAs) at a time: memory is bounded by the largest partition, and a partition that
//! received no rows is carried into the new generation by hard links, not rewritten (a month's
//! extract for one LA rewrites that LA's partition only).
//!
//! The store stands below ingest: it takes a [`Batch`] (the row-batch types and the stored layout
//! are in [`crate::table`]) and imports nothing of ingest or the measures.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::rules;
use crate::schema::{self, TableSpec};
use crate::table::{empty_frame, issues_frame, Batch, Chunk, Format, NewRows};
pub use crate::table::{is_partitioned, part_name, partitioned, PARTITIONS, WHOLE};

const CURRENT: &str = "CURRENT";
/// `CURRENT`'s replacement, written and synced before it is renamed over `CURRENT`.
const CURRENT_TMP: &str = "CURRENT.tmp";
const MANIFEST: &str = "manifest.json";
/// The writer lock: see [`WriterLock`].
const LOCK: &str = "LOCK";
/// An ingest run's staging folder: `.staging-<pid>-<start time>` (`.staging-<pid>` before).
const STAGING_PREFIX: &str = ".staging-";
/// A generation being removed (renamed first, so that no reader can pin it meanwhile).
const DELETING_PREFIX: &str = ".deleting-";
/// A file created and removed at once to check that the store folder can be written.
const PROBE_PREFIX: &str = ".probe-";
/// The largest manifest read (a national store's is a few hundred KB).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// How long a second writer waits for the lock by default (`SAFEGUARD_LOCK_WAIT` seconds).
const DEFAULT_LOCK_WAIT_SECS: u64 = 600;
/// How long a reader waits for a generation that a commit's clean-up holds (a rename's time).
const PIN_WAIT: Duration = Duration::from_secs(60);
/// The layout this code writes: 2 = tables as folders of partition files.
const LAYOUT: u32 = 2;
/// The link checks' flags, one file per partition.
const LINKS: &str = "links";
/// Append-only folders: each commit adds files, the old ones are carried over.
const SUPERSESSIONS: &str = "supersessions";
const RAW: &str = "raw";

/// One ingest run's rows of one partition of one table, read back (spilled files and held frames
/// in ingest order).
fn read_new(rows: NewRows) -> Result<DataFrame> {
    let mut acc = DataFrame::empty();
    for c in rows.chunks {
        match c {
            Chunk::File(f) => append(&mut acc, read_parquet(&f)?)?,
            Chunk::Frame(df) => append(&mut acc, df)?,
        }
    }
    Ok(acc)
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
    /// A newer layout than [`LAYOUT`] is refused (read or written).
    #[serde(default = "layout_v1")]
    pub layout: u32,
    pub generation: u64,
    /// Which pseudonym key built the store: [`crate::pseudonym::Pseudonymiser::fingerprint`]
    /// (a keyed hash of a fixed string, never the key), or "unkeyed". Absent in stores written
    /// before it was recorded: the first ingest that commits records its own (see
    /// [`Store::open_for_write`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
    pub sources: Vec<SourceEntry>,
}

impl Default for Manifest {
    fn default() -> Manifest {
        Manifest {
            layout: LAYOUT,
            generation: 0,
            key_fingerprint: None,
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
///
/// Opened for reading ([`Store::open`]) it pins the generation it found: every read goes to that
/// generation, which no commit removes while this value lives. Opened for writing
/// ([`Store::open_for_write`]) it holds the store's writer lock until dropped.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    current: Option<PathBuf>,
    pub manifest: Manifest,
    /// A reader's pin: the live generation's manifest, held with a shared lock.
    _pin: Option<File>,
    /// A writer's lock (released, and `LOCK` removed, when the store is dropped).
    _lock: Option<WriterLock>,
    /// The fingerprint of the key this writer pseudonymises with (recorded by the commit).
    run_fingerprint: Option<String>,
    /// The store recorded no key fingerprint: this writer's is recorded (with a note).
    adopt_fingerprint: bool,
}

impl Store {
    /// Opens the store at `dir` (which need not exist yet) for reading, pinning the live
    /// generation: a shared lock on its `manifest.json`, so that a concurrent commit leaves it in
    /// place until this value is dropped. Where the lock cannot be taken (a file system without
    /// locks) the store is read unpinned.
    pub fn open(dir: &Path) -> Result<Store> {
        check_folder(dir)?;
        // A commit may replace CURRENT between reading it and pinning its generation (which it
        // then removes): read CURRENT again. Each retry means a commit completed meanwhile.
        for _ in 0..100 {
            let Some(name) = read_current(dir)? else {
                return Ok(Store::empty(dir));
            };
            let gen_dir = dir.join(&name);
            let mpath = gen_dir.join(MANIFEST);
            let file = match File::open(&mpath) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if read_current(dir)?.as_deref() == Some(name.as_str()) {
                        return Err(damaged(dir, &name));
                    }
                    continue;
                }
                Err(e) => return Err(unreadable_manifest(&mpath, e)),
            };
            let pinned = lock_shared_bounded(&file, &mpath)?;
            if pinned && !same_file(&file, &mpath) {
                // Removed (renamed away) by a commit's clean-up before we locked it.
                continue;
            }
            let mut bytes = vec![];
            (&file)
                .take(MAX_MANIFEST_BYTES)
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", mpath.display()))?;
            let manifest = parse_manifest(&mpath, &String::from_utf8_lossy(&bytes))?;
            return Ok(Store {
                dir: dir.to_path_buf(),
                current: Some(gen_dir),
                manifest,
                _pin: pinned.then_some(file),
                _lock: None,
                run_fingerprint: None,
                adopt_fingerprint: false,
            });
        }
        Err(anyhow::anyhow!(
            "{}: the store's generation changed 100 times while it was being opened",
            dir.display()
        ))
    }

    fn empty(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
            current: None,
            manifest: Manifest::default(),
            _pin: None,
            _lock: None,
            run_fingerprint: None,
            adopt_fingerprint: false,
        }
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

    /// Opens the store at `dir` for an ingest that pseudonymises with `pseudo`: creates the
    /// folder if need be, takes the writer lock (waiting for another writer, see
    /// [`WriterLock::acquire`]), checks the store can be written to and was built with the same
    /// key, then removes what interrupted runs left behind.
    ///
    /// The key: a store records the fingerprint of the key that built it (or "unkeyed") and
    /// refuses a run with another one, both ways, since pseudonyms from two keys (or a key and
    /// none) never link. A store written before fingerprints were recorded adopts the first
    /// committing run's key, except that a store holding CIN census or Annex A sources (which
    /// need a key) refuses an unkeyed run.
    pub fn open_for_write(dir: &Path, pseudo: &crate::pseudonym::Pseudonymiser) -> Result<Store> {
        let lock = WriterLock::acquire(dir)?;
        // A lock file can stay writable in a folder that is not (left by a run before it was
        // made read-only): try to create a file there.
        let probe = dir.join(format!("{PROBE_PREFIX}{}", std::process::id()));
        let _ = fs::remove_file(&probe);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| {
                crate::error::UserError::file(dir, format!("cannot write to the store folder: {e}"))
            })?;
        let current = read_current(dir)?;
        if current.is_none() {
            if let Some(g) = generation_folders(dir)?.into_iter().next() {
                return Err(crate::error::UserError::file(
                    dir,
                    format!(
                        "the store has a generation folder ({g}) but no CURRENT: a first ingest was interrupted, or CURRENT was removed; restore CURRENT (naming the newest whole gen-NNNNNN folder) or remove the gen-* folders"
                    ),
                )
                .into());
            }
        }
        let mut store = match &current {
            None => Store::empty(dir),
            Some(name) => {
                // Under the writer lock nothing replaces the generation: no pin needed.
                let mpath = dir.join(name).join(MANIFEST);
                let text = match fs::read(&mpath) {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(damaged(dir, name))
                    }
                    Err(e) => return Err(unreadable_manifest(&mpath, e)),
                };
                let manifest = parse_manifest(&mpath, &text)?;
                Store {
                    current: Some(dir.join(name)),
                    manifest,
                    ..Store::empty(dir)
                }
            }
        };
        store.check_writable()?;
        let run = pseudo.fingerprint();
        store.adopt_fingerprint = store.check_key(&run)?;
        store.run_fingerprint = Some(run);
        store.clean_leftovers();
        store._lock = Some(lock);
        Ok(store)
    }

    /// Refuses a run whose key differs from the one that built the store; true when the store
    /// recorded none and this run's is to be recorded.
    fn check_key(&self, run: &str) -> Result<bool, crate::error::UserError> {
        use crate::pseudonym::UNKEYED;
        if self.current.is_none() {
            return Ok(true);
        }
        let refuse = |msg: String| Err(crate::error::UserError::file(&self.dir, msg));
        let give_key = format!(
            "set the environment variable {} or name a key_file in the config",
            crate::config::KEY_ENV
        );
        match self.manifest.key_fingerprint.as_deref() {
            Some(stored) if stored == run => Ok(false),
            Some(UNKEYED) => refuse(
                "this store was built without a pseudonym key (identifiers stored as given) and this run has one: its pseudonyms would not link with the stored identifiers. Run without the key, or ingest into a new store".into(),
            ),
            Some(stored) if run == UNKEYED => refuse(format!(
                "this store was built with a pseudonym key (fingerprint {stored}) and this run has none: identifiers stored as given would not link with the stored pseudonyms. Give the key that built the store ({give_key}), or ingest into a new store"
            )),
            Some(stored) => refuse(format!(
                "this run's pseudonym key differs from the one that built this store (key fingerprint {run}; the store's is {stored}): children would not link across the two keys. Give the key that built the store, or ingest into a new store"
            )),
            None => {
                let built_keyed = self.manifest.sources.iter().any(|s| {
                    s.format != Format::CanonicalCsv.label()
                });
                if built_keyed && run == UNKEYED {
                    return refuse(format!(
                        "this store holds CIN census or Annex A sources, so it was built with a pseudonym key, and this run has none: identifiers stored as given would not link with the stored pseudonyms. Give the key that built the store ({give_key})"
                    ));
                }
                Ok(true)
            }
        }
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
    /// reads stay on one disk), named by the process (pid and start time) so that the next
    /// writer can tell a dead run's leftover from a live one's.
    pub fn staging_dir(&self) -> PathBuf {
        let me = Holder::me();
        self.dir.join(format!(
            "{STAGING_PREFIX}{}-{}",
            me.pid,
            me.start.unwrap_or(0)
        ))
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
                return Ok(empty_frame(spec)?);
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

    /// Writes a new generation holding the old one's rows plus the batch's, then makes it live.
    /// Needs the writer lock ([`Store::open_for_write`]). A failure leaves the store as it was
    /// (the half-written generation is removed); one the user can fix (a full disk, a folder
    /// that cannot be written) is a user error naming the store folder.
    pub fn commit(&mut self, batch: Batch, new_sources: Vec<SourceEntry>) -> Result<CommitResult> {
        if self._lock.is_none() {
            anyhow::bail!(
                "{}: a commit without the store's writer lock",
                self.dir.display()
            );
        }
        self.check_writable()?;
        let generation = self.next_generation();
        let gen_name = format!("gen-{generation:06}");
        let tmp = self.dir.join(format!(".{gen_name}.tmp"));
        let written = self.write_generation(batch, new_sources, generation, &tmp);
        let (manifest, result) = match written {
            Ok(w) => w,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(fixable_io(&self.dir, e));
            }
        };
        if let Err(e) = self.make_live(&tmp, &gen_name) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(fixable_io(&self.dir, e));
        }
        if self.adopt_fingerprint && self.current.is_some() {
            eprintln!(
                "note: {}: the store did not record which pseudonym key built it; from now on it records this run's ({}) and refuses any other",
                self.dir.display(),
                manifest.key_fingerprint.as_deref().unwrap_or("?")
            );
        }
        self.adopt_fingerprint = false;
        self.current = Some(self.dir.join(&gen_name));
        self.manifest = manifest;
        // The generations before (unless a reader still holds one: a later commit removes it).
        remove_old_generations(&self.dir, &gen_name);
        Ok(result)
    }

    /// The next generation's number: above the live one's (by its folder name and its
    /// manifest) and above any generation folder a reader still holds.
    fn next_generation(&self) -> u64 {
        let live = self
            .current
            .as_deref()
            .and_then(|g| g.file_name())
            .and_then(|n| generation_number(&n.to_string_lossy()))
            .unwrap_or(0);
        let mut n = live.max(self.manifest.generation) + 1;
        while fs::symlink_metadata(self.dir.join(format!("gen-{n:06}"))).is_ok() {
            n += 1;
        }
        n
    }

    /// Swaps `CURRENT` to the generation written in `tmp`: the generation's files and folders
    /// are synced, the folder renamed into place and the store folder synced; then `CURRENT`'s
    /// replacement is written, synced, renamed over it and the store folder synced again. A
    /// power cut at any point leaves `CURRENT` naming the old generation or the new one, whole.
    fn make_live(&self, tmp: &Path, gen_name: &str) -> Result<()> {
        sync_tree(tmp)?;
        let gen_dir = self.dir.join(gen_name);
        fs::rename(tmp, &gen_dir)
            .with_context(|| format!("renaming {} to {}", tmp.display(), gen_dir.display()))?;
        sync_dir(&self.dir)?;
        let cur_tmp = self.dir.join(CURRENT_TMP);
        {
            let mut f = File::create(&cur_tmp)
                .with_context(|| format!("creating {}", cur_tmp.display()))?;
            f.write_all(gen_name.as_bytes())?;
            f.sync_all()?;
        }
        if let Err(e) = fs::rename(&cur_tmp, self.dir.join(CURRENT)) {
            // Not live: the old generation stays; the new one goes.
            let _ = fs::remove_file(&cur_tmp);
            let _ = fs::rename(&gen_dir, tmp);
            return Err(anyhow::Error::from(e).context("replacing CURRENT"));
        }
        // The new generation is live from here on: a failure to sync is no failure to commit.
        if let Err(e) = sync_dir(&self.dir) {
            eprintln!("warning: {e:#}: the store's last change may not survive a power cut");
        }
        Ok(())
    }

    /// Writes the new generation into `tmp`: the merged tables, the bookkeeping and, last, the
    /// manifest. Returns the manifest and what changed.
    fn write_generation(
        &mut self,
        batch: Batch,
        new_sources: Vec<SourceEntry>,
        generation: u64,
        tmp: &Path,
    ) -> Result<(Manifest, CommitResult)> {
        let Batch {
            rows: mut new_rows,
            rejects: new_rejects,
            flags: new_flags,
        } = batch;
        let new_raw = new_rows.remove(&(crate::table::RAW, WHOLE.to_string()));
        if tmp.exists() {
            fs::remove_dir_all(tmp)?;
        }
        fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        for t in schema::TABLES
            .iter()
            .map(|t| t.name)
            .chain([LINKS, SUPERSESSIONS, RAW])
        {
            fs::create_dir_all(tmp.join(t))?;
        }
        let tmp = tmp.to_path_buf();

        let mut manifest = self.manifest.clone();
        manifest.layout = LAYOUT;
        manifest.generation = generation;
        if let Some(fp) = &self.run_fingerprint {
            manifest.key_fingerprint = Some(fp.clone());
        }
        manifest.sources.extend(new_sources);
        let cin_seqs: Vec<u32> = manifest
            .sources
            .iter()
            .filter(|s| s.format == Format::CinXml.label())
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
            for t in partitioned() {
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
                None => empty_frame(spec)?,
            };
            if let Some(r) = rows {
                append(&mut combined, read_new(r)?)?;
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
                None => empty_frame(schema::table(t).expect("a canonical table"))?.lazy(),
            };
            let lf = match only {
                Some(c) => lf.select([col(c)]),
                None => lf,
            };
            linked.insert(t, lf.collect()?);
        }
        let mut across = issues_frame(&rules::link_checks(&linked)?)?;
        write_parquet(&part_path(&tmp, LINKS, WHOLE), &mut across)?;

        // 3. Bookkeeping. Rejects and value-level flags accumulate; the link checks' flags are
        //    those of the partitions as they now stand.
        let mut rejects = self.read_table("rejects")?;
        append(&mut rejects, issues_frame(&new_rejects)?)?;
        write_both(&tmp, "rejects", &mut rejects)?;

        let mut value_flags = self.read_table("data_quality_values")?;
        append(&mut value_flags, issues_frame(&new_flags)?)?;
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
        Ok((
            manifest,
            CommitResult {
                generation,
                superseded,
                parts_written,
                parts_kept,
            },
        ))
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
    for t in partitioned().chain([LINKS]) {
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
            None => empty_frame(spec)?,
        };
        match rows.remove(spec.name) {
            None => {
                merged.insert(spec.name, stored);
            }
            Some(new) => {
                let mut combined = stored;
                append(&mut combined, read_new(new)?)?;
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
    let mut links = issues_frame(&rules::link_checks(&merged)?)?;
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

/// Writes `df` as CSV through the one CSV writer (crate::csv_out): text cells that a spreadsheet
/// would run as a formula are written with a `'` in front.
pub fn write_csv(path: &Path, df: &mut DataFrame) -> Result<()> {
    crate::csv_out::write_frame(path, df)
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
/// assessments, s47s, plans and pre-proceedings (data-contract.md section 4): rows that hang off
/// a referral whose winning version came from a different CIN return are dropped. Works on one LA partition;
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
        "pre_proceedings",
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

// ---------------------------------------------------------------------------------------------
// Concurrency and crashes: CURRENT and the manifest checked, the writer lock, reader pins,
// clean-up of leftovers, syncing a generation to disk.

/// A manifest that exists but cannot be read (permissions...): a user error naming it.
fn unreadable_manifest(mpath: &Path, e: std::io::Error) -> anyhow::Error {
    crate::error::UserError::file(mpath, format!("cannot read the store's manifest: {e}")).into()
}

/// A store path that exists must be a folder.
fn check_folder(dir: &Path) -> Result<(), crate::error::UserError> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(crate::error::UserError::file(
            dir,
            "the store path is not a folder".into(),
        )),
        _ => Ok(()),
    }
}

/// The generation `CURRENT` names, checked: a `gen-NNNNNN` folder directly inside the store
/// (not a path, not `..`, not a symlink). None when there is no `CURRENT` (an empty store).
fn read_current(dir: &Path) -> Result<Option<String>, crate::error::UserError> {
    let cur = dir.join(CURRENT);
    let invalid = |why: &str| {
        crate::error::UserError::file(
            &cur,
            format!("the store's CURRENT is not valid: {why}; it must name a generation folder of this store (gen-NNNNNN)"),
        )
    };
    let meta = match fs::symlink_metadata(&cur) {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(crate::error::UserError::file(
                &cur,
                format!("cannot read: {e}"),
            ))
        }
    };
    if !meta.is_file() {
        return Err(invalid("it is not a plain file"));
    }
    if meta.len() > 64 {
        return Err(invalid("it is too long"));
    }
    let bytes = fs::read(&cur)
        .map_err(|e| crate::error::UserError::file(&cur, format!("cannot read: {e}")))?;
    let name = std::str::from_utf8(&bytes)
        .map_err(|_| invalid("it is not text"))?
        .trim();
    if generation_number(name).is_none() {
        return Err(invalid("it does not name a generation folder"));
    }
    match fs::symlink_metadata(dir.join(name)) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(invalid(&format!(
                "{name} is a link, not a folder of the store"
            )))
        }
        Ok(m) if !m.is_dir() => return Err(invalid(&format!("{name} is not a folder"))),
        _ => {}
    }
    Ok(Some(name.to_string()))
}

/// `gen-NNNNNN` (six or more digits) -> N.
fn generation_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The `gen-NNNNNN` folders of the store, sorted.
fn generation_folders(dir: &Path) -> Result<Vec<String>> {
    let mut out = vec![];
    for e in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if generation_number(&name).is_some() && e.file_type()?.is_dir() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn damaged(dir: &Path, name: &str) -> anyhow::Error {
    crate::error::UserError::file(
        dir,
        format!("the store is damaged: CURRENT names {name}, which has no manifest.json"),
    )
    .into()
}

/// Parses a manifest, refusing a layout newer than this code knows.
fn parse_manifest(path: &Path, text: &str) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_str(text).map_err(|e| {
        crate::error::UserError::file(path, format!("the store's manifest cannot be read: {e}"))
    })?;
    if manifest.layout > LAYOUT {
        return Err(crate::error::UserError::file(
            path,
            format!(
                "the store was written by a newer safeguard (layout {}; this one reads layouts 1 to {LAYOUT}): use that version",
                manifest.layout
            ),
        )
        .into());
    }
    Ok(manifest)
}

/// Takes a shared lock on a reader's pin, waiting (bounded) while a clean-up holds it. False
/// when the file system has no locks (the store is then read unpinned).
fn lock_shared_bounded(file: &File, path: &Path) -> Result<bool> {
    let deadline = Instant::now() + PIN_WAIT;
    loop {
        match file.try_lock_shared() {
            Ok(()) => return Ok(true),
            Err(fs::TryLockError::Error(_)) => return Ok(false),
            Err(fs::TryLockError::WouldBlock) => {
                if Instant::now() >= deadline {
                    anyhow::bail!(
                        "{}: locked by another process for over {} s",
                        path.display(),
                        PIN_WAIT.as_secs()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Whether `path` still names the file open as `file` (same device and inode).
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Removes the store's generations other than `keep` that no reader holds. Each is renamed
/// aside while its manifest is locked exclusively (a reader that pins it afterwards finds it
/// gone and reads `CURRENT` again), then deleted. Failures are ignored: a later commit retries.
fn remove_old_generations(dir: &Path, keep: &str) {
    let Ok(gens) = generation_folders(dir) else {
        return;
    };
    for name in gens.into_iter().filter(|g| g != keep) {
        let gen = dir.join(&name);
        let manifest = File::open(gen.join(MANIFEST));
        let _held = match manifest {
            Ok(f) => match f.try_lock() {
                Ok(()) => Some(f),
                // A reader holds it.
                Err(fs::TryLockError::WouldBlock) => continue,
                Err(fs::TryLockError::Error(_)) => None,
            },
            // No manifest: a generation no reader can have opened.
            Err(_) => None,
        };
        let aside = dir.join(format!("{DELETING_PREFIX}{name}"));
        if fs::rename(&gen, &aside).is_ok() {
            drop(_held);
            let _ = fs::remove_dir_all(&aside);
        }
    }
}

/// Whether the process that named a leftover `<pid>` or `<pid>-<start>` is still running.
fn owner_running(id: &str) -> bool {
    let mut it = id.splitn(2, '-');
    let Some(pid) = it.next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    let start = it.next().and_then(|s| s.parse::<u64>().ok());
    match (process_start(pid), start) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(now), Some(then)) => now == then,
    }
}

impl Store {
    /// Removes what interrupted writers left (called under the writer lock, so no other writer
    /// is running): staging folders and probes of processes no longer running, half-written
    /// generations (`.gen-N.tmp`), `CURRENT.tmp`, generations being removed, generation folders
    /// newer than `CURRENT` (renamed into place but never made live) and old generations no
    /// reader holds. Notes on stderr what a crash left; failures to remove are ignored.
    fn clean_leftovers(&self) {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut cleaned = vec![];
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let path = e.path();
            let leftover = if let Some(id) = name.strip_prefix(STAGING_PREFIX) {
                !owner_running(id)
            } else if let Some(id) = name.strip_prefix(PROBE_PREFIX) {
                !owner_running(id)
            } else {
                (name.starts_with(".gen-") && name.ends_with(".tmp"))
                    || name == CURRENT_TMP
                    || name.starts_with(DELETING_PREFIX)
            };
            if !leftover {
                continue;
            }
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            if removed.is_ok() && !name.starts_with(DELETING_PREFIX) {
                cleaned.push(name);
            }
        }
        if let Some(cur) = self.current.as_deref().and_then(|c| c.file_name()) {
            let cur = cur.to_string_lossy().to_string();
            let live = generation_number(&cur).unwrap_or(0);
            if let Ok(gens) = generation_folders(&self.dir) {
                cleaned.extend(
                    gens.into_iter()
                        .filter(|g| generation_number(g).unwrap_or(0) > live),
                );
            }
            remove_old_generations(&self.dir, &cur);
        }
        if !cleaned.is_empty() {
            cleaned.sort();
            eprintln!(
                "note: {}: removed what an interrupted ingest left: {}",
                self.dir.display(),
                cleaned.join(", ")
            );
        }
    }
}

/// Syncs every file and folder below `dir` (and `dir` itself) to disk.
fn sync_tree(dir: &Path) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            sync_tree(&p)?;
        } else {
            File::open(&p)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("syncing {}", p.display()))?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// A commit's error as the user sees it: a full disk, a quota, a read-only or forbidden folder
/// is theirs to fix (exit 1, naming the store folder); anything else stays internal.
/// (Public so that other writers into the store folder, e.g. ingest's staging spills, can use it.)
pub fn fixable_io(dir: &Path, err: anyhow::Error) -> anyhow::Error {
    use std::io::ErrorKind as K;
    let kind = err.chain().find_map(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        match c.downcast_ref::<PolarsError>() {
            Some(PolarsError::IO { error, .. }) => Some(error.kind()),
            _ => None,
        }
    });
    match kind {
        Some(
            k @ (K::StorageFull | K::QuotaExceeded | K::ReadOnlyFilesystem | K::PermissionDenied),
        ) => {
            let what = match k {
                K::StorageFull => "the disk is full",
                K::QuotaExceeded => "the disk quota is exceeded",
                K::ReadOnlyFilesystem => "the file system is read-only",
                _ => "permission denied",
            };
            crate::error::UserError::file(
                dir,
                format!("cannot write the store ({what}); the store is unchanged"),
            )
            .into()
        }
        _ => err,
    }
}

/// Who holds the writer lock, as written in `LOCK`: pid, the process's start time (clock ticks
/// after boot, `/proc/<pid>/stat`: tells a reused pid from the holder), host and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    pid: u32,
    start: Option<u64>,
    host: String,
    since: String,
}

/// `LOCK`'s text as shown in messages: letters, digits and `-._:` only, at most `max`.
fn printable(v: &str, max: usize) -> String {
    v.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._:".contains(*c))
        .take(max)
        .collect()
}

/// A process's start time (clock ticks after boot), or None when it is not running.
fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses; fields after the last
    // ')' start at field 3, and the start time is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl Holder {
    fn me() -> Holder {
        let pid = std::process::id();
        Holder {
            pid,
            start: process_start(pid),
            host: hostname(),
            since: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }

    fn render(&self) -> String {
        format!(
            "pid={}\nstart={}\nhost={}\nsince={}\n",
            self.pid,
            self.start.map_or_else(String::new, |s| s.to_string()),
            self.host,
            self.since
        )
    }

    fn parse(text: &str) -> Option<Holder> {
        let mut pid = None;
        let mut h = Holder {
            pid: 0,
            start: None,
            host: String::new(),
            since: String::new(),
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            match k.trim() {
                "pid" => pid = v.parse().ok(),
                "start" => h.start = v.parse().ok(),
                "host" => h.host = printable(v, 255),
                "since" => h.since = printable(v, 40),
                _ => {}
            }
        }
        h.pid = pid?;
        Some(h)
    }

    /// Still running: true, or false when dead (or its pid reused); None when it ran on another
    /// host (its kernel lock then decides alone).
    fn running(&self) -> Option<bool> {
        if self.host != hostname() {
            return None;
        }
        Some(match (process_start(self.pid), self.start) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(now), Some(then)) => now == then,
        })
    }

    fn describe(&self) -> String {
        let mut s = format!("pid {}", self.pid);
        if !self.host.is_empty() && self.host != hostname() {
            s.push_str(&format!(" on {}", self.host));
        }
        if !self.since.is_empty() {
            s.push_str(&format!(", since {}", self.since));
        }
        s
    }
}

/// The store's writer lock: `store/LOCK`, locked exclusively (`flock`, released by the kernel
/// when the holder exits or is killed) and naming its holder ([`Holder`]). A second writer
/// waits up to `SAFEGUARD_LOCK_WAIT` seconds (default 600; 0: fail at once), saying once whom
/// it waits for, then fails (exit 1) naming the holder. A `LOCK` whose holder is no longer
/// running (or whose pid now belongs to a process started later) is stale: taken over with a
/// note. As a second guard, for file systems where `flock` is not effective, a lock whose named
/// holder is a running process on this host is never taken over.
///
/// Dropping it removes `LOCK` (while still locked: a waiter that then locks the removed file
/// sees it is no longer `LOCK` and tries again), and the store folder itself when this writer
/// created it and committed nothing.
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    created_dir: bool,
}

impl WriterLock {
    pub fn acquire(dir: &Path) -> Result<WriterLock> {
        let wait = std::env::var("SAFEGUARD_LOCK_WAIT")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_LOCK_WAIT_SECS);
        check_folder(dir)?;
        let mut created_dir = false;
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| {
                crate::error::UserError::file(dir, format!("cannot create the store folder: {e}"))
            })?;
            created_dir = true;
        }
        let path = dir.join(LOCK);
        // Never write through a link planted as LOCK.
        if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(crate::error::UserError::file(
                &path,
                "the store's LOCK is not a plain file: remove it".into(),
            )
            .into());
        }
        let me = Holder::me();
        let deadline = Instant::now() + Duration::from_secs(wait);
        let mut told = false;
        loop {
            let opened = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path);
            let mut file = match opened {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
                    // Removed by a writer that created it and committed nothing.
                    fs::create_dir_all(dir).map_err(|e| {
                        crate::error::UserError::file(
                            dir,
                            format!("cannot create the store folder: {e}"),
                        )
                    })?;
                    created_dir = true;
                    continue;
                }
                Err(e) => {
                    return Err(crate::error::UserError::file(
                        dir,
                        format!("cannot write to the store folder: {e}"),
                    )
                    .into())
                }
            };
            let locked = match file.try_lock() {
                Ok(()) => true,
                Err(fs::TryLockError::WouldBlock) => false,
                // No locks on this file system: the holder named in the file decides.
                Err(fs::TryLockError::Error(_)) => true,
            };
            if locked && !same_file(&file, &path) {
                // Released and removed by its holder between our open and our lock.
                continue;
            }
            let mut text = String::new();
            let _ = (&file).take(4096).read_to_string(&mut text);
            let before = Holder::parse(&text);
            let busy = !locked
                || before
                    .as_ref()
                    .is_some_and(|h| h.pid != me.pid && h.running() == Some(true));
            if !busy {
                if let Some(h) = before.filter(|h| h.pid != me.pid) {
                    eprintln!(
                        "note: {}: took over the store's lock left by safeguard {} (no longer running)",
                        dir.display(),
                        h.describe()
                    );
                }
                file.set_len(0)?;
                use std::io::Seek as _;
                file.seek(std::io::SeekFrom::Start(0))?;
                file.write_all(me.render().as_bytes())?;
                return Ok(WriterLock {
                    file,
                    path,
                    dir: dir.to_path_buf(),
                    created_dir,
                });
            }
            let who = before.map_or_else(
                || "another safeguard ingest".to_string(),
                |h| format!("safeguard {}", h.describe()),
            );
            if Instant::now() >= deadline {
                return Err(crate::error::UserError::file(
                    dir,
                    format!(
                        "{who} is writing to this store; try again when it has finished (SAFEGUARD_LOCK_WAIT=SECONDS waits longer; a lock whose process has ended is taken over by itself)"
                    ),
                )
                .into());
            }
            if !told {
                eprintln!(
                    "waiting for {who} to finish writing to the store {} (up to {wait} s)...",
                    dir.display()
                );
                told = true;
            }
            drop(file);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
        if self.created_dir && !self.dir.join(CURRENT).exists() {
            // Nothing was committed: leave no empty store folder behind.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}
