//! `safeguard ingest`: reads input files (canonical CSV, CIN census XML, Annex A workbooks),
//! validates and pseudonymises every row, and commits the result to the store in one atomic step.
//!
//! A file that cannot be read at all fails the run and nothing from the run reaches the store;
//! rejected rows are not errors: the summary counts them (data-contract.md section 4).

pub mod annex_a;
pub mod canonical_csv;
pub mod cin_xml;
pub mod fuzz;
pub mod parse;
pub mod sink;
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

/// The input formats, detected from content, never from the file name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    CanonicalCsv,
    CinXml,
    AnnexA,
}

impl Format {
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

/// Expands folders (recursively) into the input files they hold (`.csv`, `.xml`, `.xlsx`),
/// sorted by path within each folder.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, UserError> {
    let mut out = vec![];
    for p in inputs {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| UserError::file(p, format!("cannot list folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for f in entries {
                if f.is_dir() {
                    out.extend(expand_inputs(&[f])?);
                } else if matches!(
                    f.extension()
                        .and_then(|x| x.to_str())
                        .map(|x| x.to_ascii_lowercase())
                        .as_deref(),
                    Some("csv" | "xml" | "xlsx")
                ) {
                    out.push(f);
                }
            }
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(UserError::file(p, "no such file or folder".into()));
        }
    }
    Ok(out)
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

/// Detects the format from the first bytes.
pub fn detect_format(path: &Path, head: &[u8]) -> Result<Format, UserError> {
    if head.starts_with(b"PK\x03\x04") {
        return Ok(Format::AnnexA);
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'<') => Ok(Format::CinXml),
        Some(_) => Ok(Format::CanonicalCsv),
        None => Err(UserError::file(path, "the file is empty".into())),
    }
}

/// Ingests `inputs` (files or folders) into the store at `store_dir`.
pub fn ingest(cfg: &Config, store_dir: &Path, inputs: &[PathBuf]) -> anyhow::Result<IngestReport> {
    ingest_with_la(cfg, store_dir, inputs, None, false)
}

/// As [`ingest`], naming the LA of inputs that do not carry their own (`ingest --la`).
pub fn ingest_with_la(
    cfg: &Config,
    store_dir: &Path,
    inputs: &[PathBuf],
    la: Option<String>,
    progress: bool,
) -> anyhow::Result<IngestReport> {
    if let Some(code) = &la {
        if code.len() != crate::schema::LA_CODE_LEN || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UserError::Message(format!(
                "--la {code}: an LA code is the DfE three-digit number, e.g. 940"
            ))
            .into());
        }
    }
    let files = expand_inputs(inputs)?;
    if files.is_empty() {
        return Err(UserError::Message(
            "no input files (give CSV, XML or XLSX files or folders)".into(),
        )
        .into());
    }
    let started = std::time::Instant::now();
    let mut store = Store::open(store_dir)?;
    store.check_writable()?;
    let pseudo = cfg.pseudonymiser()?;
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
    report.notes = std::mem::take(&mut sink.notes);
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
    let commit = store
        .commit(sink, new_sources)
        .context("writing the store")?;
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
