//! `safeguard ingest`: reads input files (canonical CSV, CIN census XML, Annex A workbooks),
//! validates and pseudonymises every row, and commits the result to the store in one atomic step.
//!
//! A file that cannot be read at all fails the run and nothing from the run reaches the store;
//! rejected rows are not errors: the summary counts them (data-contract.md section 4).

pub mod annex_a;
pub mod canonical_csv;
pub mod cin_pp;
pub mod cin_xml;
pub mod fuzz;
pub mod input;
pub mod parse;
pub mod privacy;
pub mod raw_allow;
pub mod sink;
pub mod specs;
pub mod validate;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::UserError;
use crate::store::{SourceEntry, Store};
use sink::Sink;
use validate::{Counts, Source};

/// Stack size of the threads that read input files in parallel (rayon's default of 2 MiB
/// overflowed on national-scale CIN returns).
const READER_STACK: usize = 16 << 20;

pub use crate::table::Format;

/// What an ingest run did, for the summary.
#[derive(Debug, Default)]
pub struct IngestReport {
    pub tables: BTreeMap<String, Counts>,
    pub files_ingested: Vec<(String, Format)>,
    pub files_unchanged: Vec<String>,
    pub notes: Vec<String>,
    pub rejects: usize,
    pub flags: usize,
    pub superseded: usize,
    pub generation: Option<u64>,
    /// Partitions of the LA-split tables written afresh / carried over unchanged by the commit.
    pub parts_written: usize,
    pub parts_kept: usize,
}

impl IngestReport {
    /// The printed summary: per table read, stored, rejected, flagged.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for f in &self.files_ingested {
            let _ = writeln!(s, "ingested  {} ({})", f.0, f.1.label());
        }
        for f in &self.files_unchanged {
            let _ = writeln!(s, "unchanged {f} (already in the store: same content)");
        }
        if !self.tables.is_empty() {
            let _ = writeln!(
                s,
                "{:<22}{:>10}{:>10}{:>10}{:>10}",
                "table", "read", "stored", "rejected", "flagged"
            );
            for (t, c) in &self.tables {
                let _ = writeln!(
                    s,
                    "{:<22}{:>10}{:>10}{:>10}{:>10}",
                    t, c.read, c.stored, c.rejected, c.flagged
                );
            }
        }
        if self.superseded > 0 {
            let _ = writeln!(
                s,
                "{} stored row(s) superseded by newer extracts",
                self.superseded
            );
        }
        if let Some(g) = self.generation {
            let _ = writeln!(
                s,
                "store generation {g}: {} partition(s) written, {} carried over unchanged",
                self.parts_written, self.parts_kept
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        if self.rejects > 0 {
            let _ = writeln!(
                s,
                "{} row(s) rejected: see rejects.csv in the store",
                self.rejects
            );
        }
        s
    }
}

/// The file types read from a folder (`.xls` so that a legacy workbook fails with a message
/// rather than being passed over).
const INPUT_EXTENSIONS: &[&str] = &["csv", "xml", "xlsx", "xls"];

/// The files a folder walk reads: `.csv`, `.xml`, `.xlsx`, `.xls` (any case), and `.csv.gz`,
/// `.xml.gz` (compressed extracts, read by content: src/ingest/input.rs).
fn is_input_name(f: &Path) -> bool {
    let ext = |p: &Path| {
        p.extension()
            .and_then(|x| x.to_str())
            .map(str::to_ascii_lowercase)
    };
    match ext(f).as_deref() {
        Some("gz") => f
            .file_stem()
            .and_then(|stem| ext(Path::new(stem)))
            .is_some_and(|x| x == "csv" || x == "xml"),
        Some(x) => INPUT_EXTENSIONS.contains(&x),
        None => false,
    }
}

/// Whether a folder holds a safeguard store: a `CURRENT` file naming a `gen-` folder beside it.
fn is_store(dir: &Path) -> bool {
    let current = dir.join("CURRENT");
    if !current.is_file() || current.metadata().map_or(true, |m| m.len() > 64) {
        return false;
    }
    std::fs::read_to_string(&current).is_ok_and(|g| {
        let g = g.trim();
        g.starts_with("gen-") && !g.contains(['/', '\\']) && dir.join(g).is_dir()
    })
}

/// Whether a canonical path is a store or lies inside one (any store, not only `--store`).
fn within_a_store(c: &Path) -> bool {
    c.ancestors().any(is_store)
}

/// A path made absolute and free of links: the folder's own if it exists, else its parent's
/// (a store not created yet).
fn canonical(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            std::fs::canonicalize(parent)
                .map(|c| c.join(name))
                .unwrap_or_else(|_| p.to_path_buf())
        }
        _ => p.to_path_buf(),
    }
}

/// Expands folders (recursively) into the input files they hold (`.csv`, `.xml`, `.xlsx`,
/// `.xls`), sorted by path within each folder; returns them with notes on what was passed over.
///
/// Folders are followed through links, each at most once (by canonical path). While walking:
/// - a link to a folder that contains it (a cycle) is not followed, with a note;
/// - a folder reached a second time (two links to one folder) is read once, with a note;
/// - the store (`store`, with its staging folders), any other safeguard store ([`is_store`]) and
///   links to files or folders inside one are never read as input, with a note.
///
/// A file or folder named on the command line that is, or is inside, the store is an error.
pub fn expand_inputs(
    inputs: &[PathBuf],
    store: &Path,
) -> Result<(Vec<PathBuf>, Vec<String>), UserError> {
    let store_canon = canonical(store);
    let in_store = |c: &Path| c.starts_with(&store_canon);
    let mut out = vec![];
    let mut notes = vec![];
    let mut visited: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    for p in inputs {
        if !p.exists() {
            return Err(UserError::file(p, "no such file or folder".into()));
        }
        let canon = std::fs::canonicalize(p)
            .map_err(|e| UserError::file(p, format!("cannot resolve the path: {e}")))?;
        if in_store(&canon) || within_a_store(&canon) {
            return Err(UserError::file(
                p,
                format!(
                    "this is, or is inside, a safeguard store (the store here is --store {}): a store's own files are never input",
                    store.display()
                ),
            ));
        }
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        // Depth first in path order (a subfolder's files where the subfolder sorts), without
        // recursion. A folder is checked against `visited` when its turn comes.
        enum Item {
            File(PathBuf),
            /// (path as given, canonical path, found while walking rather than given)
            Dir(PathBuf, PathBuf, bool),
        }
        let mut stack = vec![Item::Dir(p.clone(), canon, false)];
        while let Some(item) = stack.pop() {
            let (dir, dir_canon, found_in) = match item {
                Item::File(f) => {
                    out.push(f);
                    continue;
                }
                Item::Dir(d, c, found_in) => (d, c, found_in),
            };
            if !visited.insert(dir_canon.clone()) {
                notes.push(match found_in {
                    true => format!(
                        "{}: links to {}, a folder already read: read once",
                        dir.display(),
                        dir_canon.display()
                    ),
                    false => format!(
                        "{}: the same folder as one given before: read once",
                        dir.display()
                    ),
                });
                continue;
            }
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| UserError::file(&dir, format!("cannot list folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            let mut items = vec![];
            for f in entries {
                if f.is_dir() {
                    let Ok(c) = std::fs::canonicalize(&f) else {
                        continue;
                    };
                    if in_store(&c) {
                        notes.push(format!(
                            "{}: the store (--store) is not read as input",
                            f.display()
                        ));
                    } else if is_store(&c)
                        || (c.parent() != Some(dir_canon.as_path()) && within_a_store(&c))
                    {
                        notes.push(format!(
                            "{}: a safeguard store, or inside one: not read as input",
                            f.display()
                        ));
                    } else if dir_canon.starts_with(&c) {
                        notes.push(format!(
                            "{}: links to {}, a folder that contains it (a cycle): not followed",
                            f.display(),
                            c.display()
                        ));
                    } else {
                        items.push(Item::Dir(f, c, true));
                    }
                } else if is_input_name(&f) {
                    // A link to one of a store's own files (checked only for links: a file found
                    // in place is in a folder already checked).
                    let linked = std::fs::canonicalize(&f).ok().filter(|c| {
                        c.parent() != Some(dir_canon.as_path())
                            && (in_store(c) || within_a_store(c))
                    });
                    if linked.is_some() {
                        notes.push(format!(
                            "{}: links into a safeguard store: not read as input",
                            f.display()
                        ));
                        continue;
                    }
                    items.push(Item::File(f));
                }
            }
            stack.extend(items.into_iter().rev());
        }
    }
    Ok((out, notes))
}

/// SHA-256 of a file, read in blocks, and the first bytes (for format detection).
fn hash_file(path: &Path) -> Result<(String, Vec<u8>), UserError> {
    let mut f = File::open(path).map_err(|e| UserError::file(path, format!("cannot open: {e}")))?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| UserError::file(path, format!("read error: {e}")))?;
        if n == 0 {
            break;
        }
        if head.len() < 512 {
            head.extend_from_slice(&buf[..n.min(512 - head.len())]);
        }
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), head))
}

/// The magic number of an OLE2 compound file (CFB): legacy Excel `.xls`, and the container an
/// encrypted (password-protected) `.xlsx` is saved in.
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Detects the format from the first bytes. Binary files that are none of the formats are named
/// for what they are (an encrypted workbook, a legacy `.xls`, UTF-16 text), not read as CSV.
pub fn detect_format(path: &Path, head: &[u8]) -> Result<Format, UserError> {
    if input::is_gzip(head) {
        // A compressed CSV or census return: the format is its content's (src/ingest/input.rs).
        let inner = input::head(path, head, 512)?;
        if input::is_gzip(&inner) || inner.starts_with(b"PK\x03\x04") || inner.starts_with(OLE_MAGIC) {
            return Err(UserError::file(
                path,
                "a gzip-compressed workbook or archive: only CSV and CIN census XML are read compressed (.csv.gz, .xml.gz); decompress it first".into(),
            ));
        }
        return detect_format(path, &inner);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::AnnexA);
    }
    if head.starts_with(OLE_MAGIC) {
        return Err(UserError::file(path, ole_message(path)));
    }
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(UserError::file(
            path,
            "the file is UTF-16 text (Excel's \"Unicode text\"): save the extract as CSV UTF-8"
                .into(),
        ));
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'<') => Ok(Format::CinXml),
        Some(_) => Ok(Format::CanonicalCsv),
        None => Err(UserError::file(path, "the file is empty".into())),
    }
}

/// What an OLE2 compound file holds, from its directory entry names (UTF-16LE): an encrypted
/// OOXML package (`EncryptedPackage`), or a legacy Excel workbook (`Workbook`, `Book`).
fn ole_message(path: &Path) -> String {
    fn utf16(name: &str) -> Vec<u8> {
        // The name and its terminating NUL, as a directory entry stores it.
        name.encode_utf16()
            .chain([0])
            .flat_map(|u| u.to_le_bytes())
            .collect()
    }
    let encrypted = utf16("EncryptedPackage");
    let legacy = [utf16("Workbook"), utf16("Book")];
    let (mut is_encrypted, mut is_legacy) = (false, false);
    if let Ok(mut f) = File::open(path) {
        // Streamed in blocks, each searched with the end of the one before (a name may straddle).
        let mut window: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            let keep = window.len().saturating_sub(64);
            window.drain(..keep);
            window.extend_from_slice(&buf[..n]);
            let has = |pat: &[u8]| window.windows(pat.len()).any(|w| w == pat);
            is_encrypted |= has(&encrypted);
            is_legacy |= legacy.iter().any(|l| has(l));
            if is_encrypted {
                break;
            }
        }
    }
    if is_encrypted {
        "the workbook is encrypted (password-protected): open it in Excel, remove the password (File > Info > Protect Workbook > Encrypt with Password, cleared), save it as .xlsx and ingest that".into()
    } else if is_legacy {
        "this is a legacy Excel 97-2003 workbook (.xls): open it in Excel and save it as an Excel Workbook (.xlsx), then ingest that".into()
    } else {
        "this is an OLE2 compound file (a legacy Office document), not a CSV, CIN census XML or .xlsx workbook: save it as .xlsx (a workbook) or CSV UTF-8".into()
    }
}

/// Ingests `inputs` (files or folders) into the store at `store_dir`; `la` names the LA of
/// inputs that do not carry their own (`ingest --la`).
pub fn ingest(
    cfg: &Config,
    store_dir: &Path,
    inputs: &[PathBuf],
    la: Option<String>,
    progress: bool,
) -> anyhow::Result<IngestReport> {
    if let Some(code) = &la {
        if !crate::schema::is_la_code(code) {
            return Err(UserError::Message(format!(
                "--la '{}': an LA code is the DfE three-digit number, e.g. 940",
                privacy::shown(privacy::Echo::LaCode, code)
            ))
            .into());
        }
    }
    let (files, walk_notes) = expand_inputs(inputs, store_dir)?;
    if files.is_empty() {
        let mut msg = "no input files (give CSV, XML or XLSX files or folders)".to_string();
        for n in &walk_notes {
            msg.push_str("; ");
            msg.push_str(n);
        }
        return Err(UserError::Message(msg).into());
    }
    let started = std::time::Instant::now();
    let pseudo = cfg.pseudonymiser()?;
    // The writer lock, the key check and the clean-up of interrupted runs' leftovers.
    let mut store = Store::open_for_write(store_dir, &pseudo)?;
    let budget = std::env::var("SAFEGUARD_INGEST_BUFFER_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(sink::DEFAULT_SPILL_ROWS);
    let threads = rayon::current_num_threads().max(1);
    // Files are read `window` at a time in parallel and merged in order, so that finished
    // files' rows wait for the merge in memory only a window at a time.
    let window = threads * 2;
    let staging = store.staging_dir();
    let mut sink = Sink::new(pseudo.clone());
    sink.enable_spill(staging.clone(), budget);
    // The LA for inputs that do not name their own (Annex A): --la, else the config's only LA.
    let default_la = la.or_else(|| match cfg.las.as_slice() {
        [only] => Some(only.code.clone()),
        _ => None,
    });
    let mut report = IngestReport::default();

    // 1. Hash every file (in parallel): a file already in the store, or given twice, is skipped.
    let hashed: Vec<(String, Vec<u8>)> = files
        .par_iter()
        .map(|p| hash_file(p))
        .collect::<Result<_, _>>()?;
    struct Job<'a> {
        path: &'a Path,
        file_name: String,
        hash: String,
        seq: u32,
        format: Format,
    }
    let mut jobs: Vec<Job> = vec![];
    let mut seen_hashes = std::collections::HashSet::new();
    let mut seq = store.next_seq();
    for (path, (hash, head)) in files.iter().zip(hashed) {
        if store.has_source(&hash) || !seen_hashes.insert(hash.clone()) {
            report.files_unchanged.push(path.display().to_string());
            continue;
        }
        let format = detect_format(path, &head)?;
        if format.identifiable() && !pseudo.is_keyed() {
            return Err(UserError::file(
                path,
                format!(
                    "{} carries real child identifiers and no pseudonym key was given: set the environment variable {} or name a key_file in the config (at least {} characters)",
                    format.label(),
                    crate::config::KEY_ENV,
                    crate::pseudonym::MIN_KEY_LEN
                ),
            )
            .into());
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        jobs.push(Job {
            path,
            file_name,
            hash,
            seq,
            format,
        });
        seq += 1;
    }

    // 2. Read and validate the files in parallel, each into its own sink that spills its rows to
    //    its own staging folder; then merge the sinks in ingest order. A file that cannot be read
    //    fails the run (the first such file in the order given) and nothing reaches the store.
    // A progress bar over the files on stderr (drawn only on a terminal, never with --quiet).
    let bar = if progress {
        indicatif::ProgressBar::new(jobs.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} ingest [{bar:30}] {pos}/{len} files  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let read_one = |job: &Job| -> anyhow::Result<Sink> {
        bar.set_message(job.file_name.clone());
        let mut one = Sink::new(pseudo.clone());
        one.default_la = default_la.clone();
        one.enable_spill(
            staging.join(format!("{:06}", job.seq)),
            // A window's files together hold at most the budget.
            (budget / window).max(1),
        );
        one.begin_source(Source {
            file_name: job.file_name.clone(),
            hash: job.hash.clone(),
            seq: job.seq,
            vintage: None,
        });
        match job.format {
            Format::CanonicalCsv => canonical_csv::read(job.path, &mut one)?,
            Format::CinXml => cin_xml::read(job.path, &mut one)?,
            Format::AnnexA => annex_a::read(job.path, &mut one)?,
        }
        one.finish_file()?;
        bar.inc(1);
        Ok(one)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(READER_STACK)
        .build()
        .context("starting the reader threads")?;
    let mut new_sources: Vec<SourceEntry> = vec![];
    for batch in jobs.chunks(window) {
        let sinks: Vec<anyhow::Result<Sink>> =
            pool.install(|| batch.par_iter().map(read_one).collect());
        for (job, one) in batch.iter().zip(sinks) {
            let one = one?;
            new_sources.push(SourceEntry {
                file_name: job.file_name.clone(),
                hash: job.hash.clone(),
                seq: job.seq,
                format: job.format.label().to_string(),
                vintage: one.source().vintage,
            });
            report
                .files_ingested
                .push((job.path.display().to_string(), job.format));
            sink.merge(one)?;
        }
    }
    for (name, c) in sink.counts() {
        report.tables.insert(name.to_string(), c);
    }
    report.notes = walk_notes;
    report.notes.append(&mut sink.notes);
    report.rejects = sink.rejects.len();
    report.flags = sink.flags.len();
    if new_sources.is_empty() {
        bar.finish_and_clear();
        return Ok(report);
    }
    let timing = std::env::var_os("SAFEGUARD_TIMING").is_some();
    if timing {
        eprintln!(
            "timing: read and validate {:.2} s, {} spill file(s), peak RSS {}",
            started.elapsed().as_secs_f64(),
            sink.spilled_files(),
            peak_rss()
        );
    }
    bar.set_message("writing the store");
    let batch = sink.take_batch().context("writing the store")?;
    let commit = store
        .commit(batch, new_sources)
        .context("writing the store")?;
    drop(sink);
    bar.finish_and_clear();
    if timing {
        eprintln!(
            "timing: total with commit {:.2} s, peak RSS {}",
            started.elapsed().as_secs_f64(),
            peak_rss()
        );
    }
    report.superseded = commit.superseded;
    report.parts_written = commit.parts_written;
    report.parts_kept = commit.parts_kept;
    report.generation = Some(commit.generation);
    Ok(report)
}

/// The process's peak resident memory so far (Linux `VmHWM`), for `SAFEGUARD_TIMING`.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
