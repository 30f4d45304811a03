//! Shared helpers for the integration tests: running the real binary, finding the conformance
//! files, and reading the store back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fixed test key (not a secret: tests only).
pub const TEST_KEY: &str = "test-key-0123456789abcdef";

/// The `safeguard` binary built for these tests.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_safeguard"));
    c.env_remove("SAFEGUARD_KEY");
    c
}

/// Runs the binary with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/conformance` beside the project, or None (with a message) where it is absent.
pub fn conformance() -> Option<PathBuf> {
    let p = root().join("../shared/conformance");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/conformance is not present beside the project");
        None
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}

/// Reads a table of the live store generation.
pub fn read_table(store: &Path, name: &str) -> polars::prelude::DataFrame {
    let s = safeguard::store::Store::open(store).expect("open store");
    s.read_table(name).expect("read table")
}

/// A cell shown as text: dates `YYYY-MM-DD`, datetimes `YYYY-MM-DDTHH:MM:SS`, null as "".
pub fn show(v: polars::prelude::AnyValue) -> String {
    use polars::prelude::{AnyValue, TimeUnit};
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Int32(n) => n.to_string(),
        AnyValue::Int64(n) => n.to_string(),
        AnyValue::UInt32(n) => n.to_string(),
        AnyValue::Date(d) => safeguard::ingest::parse::from_epoch_days(d).to_string(),
        AnyValue::Datetime(ms, TimeUnit::Milliseconds, None)
        | AnyValue::DatetimeOwned(ms, TimeUnit::Milliseconds, None) => {
            chrono::DateTime::from_timestamp_millis(ms)
                .expect("valid timestamp")
                .naive_utc()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        }
        other => panic!("unexpected cell {other:?}"),
    }
}

/// The cell at (`column`, `row`) shown as text.
pub fn cell(df: &polars::prelude::DataFrame, column: &str, row: usize) -> String {
    show(
        df.column(column)
            .unwrap_or_else(|_| panic!("no column {column} in\n{df}"))
            .get(row)
            .expect("row in range"),
    )
}

/// A rejects or data-quality row of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub table: String,
    pub file: String,
    pub position: String,
    pub column: String,
    pub value: String,
    pub flag: String,
    pub reason: String,
}

/// The rows of the store's `rejects` or `data_quality` table.
pub fn issues(store: &Path, name: &str) -> Vec<Issue> {
    let df = read_table(store, name);
    if df.width() == 0 {
        return vec![];
    }
    (0..df.height())
        .map(|i| Issue {
            table: cell(&df, "table", i),
            file: cell(&df, "source_file", i),
            position: cell(&df, "position", i),
            column: cell(&df, "column", i),
            value: cell(&df, "value", i),
            flag: cell(&df, "flag", i),
            reason: cell(&df, "reason", i),
        })
        .collect()
}

/// Every file below `dir` (recursively; symlinks not followed), sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The text of a file as a scan for planted values sees it: a Parquet file decoded (column
/// names and every cell, whatever its type), anything else as (lossy) UTF-8.
pub fn scannable_text(path: &Path) -> String {
    use polars::prelude::*;
    let is_parquet = path.extension().is_some_and(|e| e == "parquet");
    if is_parquet {
        let file = std::fs::File::open(path).expect("open parquet");
        let df = ParquetReader::new(file)
            .finish()
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        let mut s = String::new();
        for c in df.columns() {
            s.push_str(c.name());
            s.push('\n');
            for v in c.as_materialized_series().iter() {
                s.push_str(&format!("{v}"));
                s.push('\n');
            }
        }
        s
    } else {
        String::from_utf8_lossy(&std::fs::read(path).expect("read file")).into_owned()
    }
}

/// Asserts that none of `planted` (compared case-insensitively) appears in any file below each
/// of `dirs` (Parquet decoded) nor in any of `texts` (stdout, stderr...). The promise that a
/// planted identifier never reaches the store, an output, or a message.
pub fn assert_nothing_planted(dirs: &[&Path], texts: &[&str], planted: &[&str]) {
    let planted: Vec<String> = planted.iter().map(|p| p.to_lowercase()).collect();
    let mut found = vec![];
    for dir in dirs {
        for f in files_below(dir) {
            let text = scannable_text(&f).to_lowercase();
            for p in &planted {
                if text.contains(p.as_str()) {
                    found.push(format!("{p:?} in {}", f.display()));
                }
            }
        }
    }
    for (i, t) in texts.iter().enumerate() {
        let t = t.to_lowercase();
        for p in &planted {
            if t.contains(p.as_str()) {
                found.push(format!("{p:?} in text #{i}"));
            }
        }
    }
    assert!(found.is_empty(), "planted values found:\n{}", found.join("\n"));
}
