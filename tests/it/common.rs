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
        AnyValue::Date(d) => safeguard::dates::from_epoch_days(d).to_string(),
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
/// names and every cell, whatever its type), a workbook's parts unzipped, anything else as
/// (lossy) UTF-8.
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
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
    {
        // A workbook is a zip of XML parts: every part, decompressed.
        let file = std::fs::File::open(path).expect("open workbook");
        let mut zip = ::zip::ZipArchive::new(file)
            .unwrap_or_else(|e| panic!("{} is not a zip: {e}", path.display()));
        let mut s = String::new();
        for i in 0..zip.len() {
            let mut part = zip.by_index(i).expect("zip part");
            let mut bytes = vec![];
            std::io::Read::read_to_end(&mut part, &mut bytes).expect("read zip part");
            s.push_str(&String::from_utf8_lossy(&bytes));
            s.push('\n');
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
    assert!(
        found.is_empty(),
        "planted values found:\n{}",
        found.join("\n")
    );
}

/// The key of a measures row: (measure_id, period, la_code, breakdown, breakdown_value).
pub type MeasureKey = (String, String, String, String, String);

/// One row of the measures table (measures.md section 5), less its key.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureValues {
    pub numerator: i64,
    pub denominator: i64,
    pub value: Option<f64>,
    pub excluded: i64,
    pub pending: i64,
    /// The row as written (for messages and for rewriting expected files).
    pub line: String,
}

impl MeasureValues {
    /// [numerator, denominator, excluded, pending].
    pub fn counts(&self) -> [i64; 4] {
        [
            self.numerator,
            self.denominator,
            self.excluded,
            self.pending,
        ]
    }
}

/// The header of the measures table (measures.md section 5).
pub const MEASURES_HEADER: &str =
    "measure_id,period,la_code,breakdown,breakdown_value,numerator,denominator,value,excluded,pending";

/// Splits one CSV line (quotes as the writer uses them; no embedded newlines).
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses one measures row (10 fields) into its key and values; Err names what is wrong.
pub fn parse_measure_line(line: &str) -> Result<(MeasureKey, MeasureValues), String> {
    let f = split_csv_line(line);
    if f.len() != 10 {
        return Err(format!("{} fields, not 10: {line}", f.len()));
    }
    let int = |s: &str| -> Result<i64, String> {
        s.parse()
            .map_err(|_| format!("not an integer '{s}' in {line}"))
    };
    let key = (
        f[0].clone(),
        f[1].clone(),
        f[2].clone(),
        f[3].clone(),
        f[4].clone(),
    );
    let value = if f[7].is_empty() {
        None
    } else {
        Some(
            f[7].parse()
                .map_err(|_| format!("value '{}' is not a number in {line}", f[7]))?,
        )
    };
    Ok((
        key,
        MeasureValues {
            numerator: int(&f[5])?,
            denominator: int(&f[6])?,
            value,
            excluded: int(&f[8])?,
            pending: int(&f[9])?,
            line: line.to_string(),
        },
    ))
}

/// The measures table a run wrote (`safeguard measures --out FILE.csv`, or a report's
/// `measures-unsuppressed.csv`), row by row in file order. Panics (a test failure) on a wrong
/// header, a malformed row or a key twice.
pub fn read_measure_rows(path: &Path) -> Vec<(MeasureKey, MeasureValues)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(MEASURES_HEADER),
        "{}: the columns of measures.md section 5",
        path.display()
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = vec![];
    for line in lines {
        let (key, row) =
            parse_measure_line(line).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            seen.insert(key.clone()),
            "{}: row {key:?} twice",
            path.display()
        );
        rows.push((key, row));
    }
    rows
}

/// [`read_measure_rows`] by key.
pub fn read_measures(path: &Path) -> std::collections::BTreeMap<MeasureKey, MeasureValues> {
    read_measure_rows(path).into_iter().collect()
}

/// Every file and folder below `dir` (folders as empty entries, links as their targets: never
/// followed), with the files' bytes: two snapshots are equal when nothing below changed.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else if meta.is_dir() {
                walk(root, &p, out);
                out.insert(rel.join(""), vec![]);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The per-table block of an ingest summary (read, stored, rejected, flagged per table), each
/// row checked: read = stored + rejected (data-contract.md section 4), flagged <= stored.
pub fn summary_counts(
    text: &str,
) -> std::collections::BTreeMap<String, safeguard::ingest::validate::Counts> {
    let mut out = std::collections::BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f == ["table", "read", "stored", "rejected", "flagged"] {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        let nums: Vec<u64> = f.iter().skip(1).filter_map(|x| x.parse().ok()).collect();
        if f.len() != 5 || nums.len() != 4 {
            break;
        }
        let counts = safeguard::ingest::validate::Counts {
            read: nums[0],
            stored: nums[1],
            rejected: nums[2],
            flagged: nums[3],
        };
        assert_eq!(
            counts.read,
            counts.stored + counts.rejected,
            "rows read != stored + rejected for {} in:\n{text}",
            f[0]
        );
        assert!(counts.flagged <= counts.stored, "flagged > stored: {line}");
        out.insert(f[0].to_string(), counts);
    }
    out
}
