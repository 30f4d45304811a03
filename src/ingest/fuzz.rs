//! An in-process entry point for fuzzing the readers: one input (bytes) through its reader, exactly
//! as `ingest` reads a file, and a check of what the pipeline promises about it.
//!
//! [`run`] writes the bytes to a file in a throwaway folder, detects the format from content as
//! `ingest` does (or takes the format it is given, to aim at one reader), and reads it on a thread
//! with ingest's reader stack into a sink with a fixed test key and LA ([`FUZZ_KEY`],
//! [`FUZZ_LA`]), spilling (with `SAFEGUARD_INGEST_BUFFER_ROWS`, as ingest) to a staging folder
//! inside the throwaway folder. Nothing is committed to any store. The result is `Ok(outcome)`
//! (per-table counts) or `Err(error)`: the error a user would see.
//!
//! It then checks the invariants, and panics (a finding for a fuzzer) when one does not hold:
//! - the reader did not panic (a panic on the reader thread is passed on as it is);
//! - an error is a user error (exit 1), never an internal one, and is one line naming the file;
//! - for every table, rows read = rows stored + rows rejected, every rejected row has its reject
//!   and every flagged row its flag;
//! - the rows handed on to the store are exactly the stored rows (per table), each in the store
//!   partition of its own LA;
//! - every stored child identifier is a pseudonym (16 lowercase hex characters).
//!
//! Used by the hidden `safeguard fuzz-case` subcommand (which the stable-toolchain fuzz test in
//! `tests/it/fuzz.rs` runs under a memory cap and a timeout) and by the cargo-fuzz targets in
//! `fuzz/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::*;

use super::sink::{self, Sink};
use super::validate::{Counts, Source};
use super::{annex_a, canonical_csv, cin_xml, Format};
use crate::error::exit_code;
use crate::pseudonym::{Pseudonymiser, PSEUDONYM_HEX_LEN};
use crate::schema::{self, Kind};
use crate::store;
use crate::table::{part_name, stored_columns, Chunk, RAW};

/// The pseudonym key of fuzz runs (not a secret: fuzzing only).
pub const FUZZ_KEY: &[u8] = b"fuzz-key-not-a-secret-0123456789";
/// The LA of inputs that do not name their own (Annex A), as `ingest --la 940`.
pub const FUZZ_LA: &str = "940";

/// What one input gave: per-table counts and the issues found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The reader that read it.
    pub format: Option<Format>,
    pub tables: BTreeMap<&'static str, Counts>,
    pub rejects: usize,
    pub flags: usize,
    pub notes: usize,
    /// Raw-layer fields kept.
    pub raw_fields: usize,
}

impl Outcome {
    /// One line per table (`table read stored rejected flagged`) and a closing line.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        for (t, c) in &self.tables {
            let _ = writeln!(
                s,
                "{t} {} {} {} {}",
                c.read, c.stored, c.rejected, c.flagged
            );
        }
        let _ = writeln!(
            s,
            "ok {}: {} reject(s), {} flag(s), {} note(s), {} raw field(s)",
            self.format.map_or("?", Format::label),
            self.rejects,
            self.flags,
            self.notes,
            self.raw_fields
        );
        s
    }
}

/// A folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "safeguard-fuzz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads `bytes` as one input file (`format` None: detected from content, as `ingest` does) and
/// checks the invariants (module doc). Returns the user error a run would report, or panics on a
/// violated invariant.
pub fn run(format: Option<Format>, bytes: &[u8]) -> Result<Outcome, anyhow::Error> {
    let scratch = Scratch::new().expect("a scratch folder for the fuzz input");
    let ext = match format {
        Some(Format::CanonicalCsv) => "csv",
        Some(Format::CinXml) => "xml",
        Some(Format::AnnexA) => "xlsx",
        None if bytes.starts_with(b"PK\x03\x04") => "xlsx",
        None => "input",
    };
    let path = scratch.0.join(format!("fuzz-input.{ext}"));
    std::fs::write(&path, bytes).expect("writing the fuzz input");
    let result = read_and_check(format, &path, &scratch.0);
    if let Err(e) = &result {
        check_error(&path, e);
    }
    result
}

/// A user error, one line, naming the file; anything else is a finding.
fn check_error(path: &Path, e: &anyhow::Error) {
    assert_eq!(
        exit_code(e),
        1,
        "an internal error (exit 2) on bad input: {e:#}"
    );
    let msg = e.to_string();
    assert!(
        !msg.contains('\n') && !msg.contains('\r'),
        "a user error message spans lines: {msg:?}"
    );
    assert!(
        msg.starts_with(&path.display().to_string()),
        "a user error message does not name the file first: {msg:?}"
    );
}

fn read_and_check(
    format: Option<Format>,
    path: &Path,
    scratch: &Path,
) -> Result<Outcome, anyhow::Error> {
    let (hash, head) = super::hash_file(path)?;
    let format = match format {
        Some(f) => f,
        None => super::detect_format(path, &head)?,
    };
    let pseudo = Pseudonymiser::keyed(FUZZ_KEY).expect("the fuzz key is long enough");
    let budget = std::env::var("SAFEGUARD_INGEST_BUFFER_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(sink::DEFAULT_SPILL_ROWS);
    let mut one = Sink::new(pseudo);
    one.default_la = Some(FUZZ_LA.to_string());
    one.enable_spill(scratch.join("staging").join("000001"), budget);
    one.begin_source(Source {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        hash,
        seq: 1,
        vintage: None,
    });
    // On a thread with ingest's reader stack, as ingest reads; a panic there is passed on.
    let read = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("fuzz-reader".into())
            .stack_size(super::READER_STACK)
            .spawn_scoped(s, || -> anyhow::Result<()> {
                match format {
                    Format::CanonicalCsv => canonical_csv::read(path, &mut one)?,
                    Format::CinXml => cin_xml::read(path, &mut one)?,
                    Format::AnnexA => annex_a::read(path, &mut one)?,
                }
                one.finish_file()?;
                Ok(())
            })
            .expect("starting the reader thread");
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    read?;
    Ok(check_sink(format, one))
}

/// The invariants on a sink whose file was read without error (module doc).
fn check_sink(format: Format, mut one: Sink) -> Outcome {
    let tables = one.counts();
    for (t, c) in &tables {
        assert_eq!(
            c.read,
            c.stored + c.rejected,
            "table {t}: rows read != stored + rejected ({c:?})"
        );
        assert!(
            c.flagged <= c.stored,
            "table {t}: more flagged than stored ({c:?})"
        );
        let rejects = one.rejects.iter().filter(|r| r.table == *t).count() as u64;
        assert_eq!(
            rejects, c.rejected,
            "table {t}: {rejects} reject(s) listed for {} rejected row(s)",
            c.rejected
        );
        let flags = one.flags.iter().filter(|r| r.table == *t).count() as u64;
        assert!(
            flags >= c.flagged,
            "table {t}: {flags} flag(s) listed for {} flagged row(s)",
            c.flagged
        );
    }
    let mut outcome = Outcome {
        format: Some(format),
        rejects: one.rejects.len(),
        flags: one.flags.len(),
        notes: one.notes.len(),
        raw_fields: 0,
        tables: BTreeMap::new(),
    };
    let rows = one.take_batch().expect("taking the rows read").rows;
    let mut held: BTreeMap<&'static str, u64> = BTreeMap::new();
    for ((table, part), new_rows) in rows {
        for chunk in new_rows.chunks {
            let df = match chunk {
                Chunk::Frame(df) => df,
                Chunk::File(f) => store::read_parquet(&f).expect("a spill file reads back"),
            };
            *held.entry(table).or_default() += df.height() as u64;
            if table == RAW {
                outcome.raw_fields += df.height();
                continue;
            }
            check_frame(table, &part, &df);
        }
    }
    for (t, c) in &tables {
        let h = held.get(t).copied().unwrap_or(0);
        assert_eq!(
            h, c.stored,
            "table {t}: {h} row(s) handed on to the store for {} stored",
            c.stored
        );
    }
    for t in held.keys() {
        assert!(
            *t == RAW || tables.contains_key(t),
            "table {t}: rows handed on without counts"
        );
    }
    outcome.tables = tables;
    outcome
}

/// Every row in its LA's partition; every child identifier a pseudonym.
fn check_frame(table: &str, part: &str, df: &DataFrame) {
    let spec = schema::TABLES
        .iter()
        .find(|s| s.name == table)
        .unwrap_or_else(|| panic!("rows of an unknown table {table}"));
    if let Ok(la) = df.column("la_code") {
        let la = la.str().expect("la_code is text");
        for v in la.iter() {
            let want = part_name(table, v.unwrap_or("").trim());
            assert_eq!(
                want, part,
                "table {table}: a row of LA {v:?} in partition {part}"
            );
        }
    }
    for col in spec.columns.iter().filter(|c| c.kind == Kind::ChildId) {
        for (name, _) in stored_columns(col.name, col.kind) {
            let Ok(c) = df.column(&name) else {
                panic!("table {table}: no {name} column in the rows held")
            };
            let c = c.str().expect("child ids are text");
            for v in c.iter().flatten() {
                assert!(
                    v.len() == PSEUDONYM_HEX_LEN
                        && v.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "table {table}: a stored {name} is not a pseudonym"
                );
            }
        }
    }
}

/// The format named on the command line of `safeguard fuzz-case` (`csv`, `cin-xml`, `annex-a`,
/// `detect`).
pub fn parse_format(s: &str) -> Result<Option<Format>, String> {
    match s {
        "csv" => Ok(Some(Format::CanonicalCsv)),
        "cin-xml" | "xml" => Ok(Some(Format::CinXml)),
        "annex-a" | "xlsx" => Ok(Some(Format::AnnexA)),
        "detect" => Ok(None),
        other => Err(format!(
            "unknown format {other:?}: csv, cin-xml, annex-a or detect"
        )),
    }
}
