//! Reader for the canonical CSV extracts (data-contract.md section 3): recognises the table from
//! its header, refuses identifying columns and duplicate columns, and streams each row to the
//! validator. Columns beyond the canonical ones are dropped (the raw layer's allow-list knows none
//! for CSV) and named in the summary.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::privacy;
use super::raw_allow::{self, RawKind};
use super::sink::Sink;
use crate::error::UserError;
use crate::schema::{self, normalise_header, TableSpec};

/// Works out which canonical table a header belongs to: the one matching the most columns, which
/// must then have all its required columns. Errors name the missing columns of that closest table,
/// or the identifying column.
pub fn detect_table(path: &Path, header: &[String]) -> Result<&'static TableSpec, UserError> {
    let normalised: Vec<String> = header.iter().map(|h| normalise_header(h)).collect();
    for (i, n) in normalised.iter().enumerate() {
        if let Some(what) = schema::identifying_column(n) {
            return Err(UserError::at(
                path,
                &format!("1:{}", i + 1),
                format!(
                    "column '{}' looks like {what}; identifying columns are refused - remove it from the extract",
                    privacy::field_name(&header[i])
                ),
            ));
        }
    }
    // The table that matches the most columns wins (ties: the one with fewest required columns
    // missing, then the first listed). A table with all its required columns present must not win
    // over one that matches more of the header: `referral_id,child_id,la_code` (a referrals file
    // without `received_at`) is an incomplete referrals file, not a children file.
    let mut best: Option<(&'static TableSpec, usize, Vec<&str>)> = None;
    for spec in schema::TABLES {
        let missing: Vec<&str> = spec
            .required()
            .map(|c| c.name)
            .filter(|r| !normalised.iter().any(|h| h == r))
            .collect();
        let matched = spec
            .columns
            .iter()
            .filter(|c| normalised.iter().any(|h| h == c.name))
            .count();
        if matched > 0
            && best.as_ref().is_none_or(|(_, m, miss)| {
                matched > *m || (matched == *m && missing.len() < miss.len())
            })
        {
            best = Some((spec, matched, missing));
        }
    }
    let closest = match best {
        Some((spec, _, missing)) if missing.is_empty() => return Ok(spec),
        Some((spec, _, missing)) => Some((spec, missing)),
        None => None,
    };
    Err(UserError::at(
        path,
        "1",
        match closest {
            Some((spec, missing)) => format!(
                "the header matches no canonical table; closest is {} but it lacks the required column(s) {}",
                spec.file_name(),
                missing.join(", ")
            ),
            None => format!(
                "the header matches no canonical table: a canonical CSV's header names the required columns of one of {}",
                schema::TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            ),
        },
    ))
}

/// Reads one canonical CSV file into the sink. Any malformed line (invalid UTF-8, a ragged or
/// truncated record, an unclosed quote) fails the whole file with its line and column.
pub fn read(path: &Path, sink: &mut Sink) -> Result<(), UserError> {
    let file = File::open(path).map_err(|e| UserError::file(path, format!("cannot open: {e}")))?;
    let lines = Rc::new(RefCell::new(LineStarts::new()));
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(Counting {
            inner: BufReader::with_capacity(1 << 20, file),
            lines: Rc::clone(&lines),
        });
    let line_of =
        |pos: Option<&csv::Position>| pos.map_or(0, |p| lines.borrow_mut().line_at(p.byte()));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, &e, &line_of))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let spec = detect_table(path, &header)?;
    // Map each spec column to its position in the file. Two columns with the same normalised
    // name are a file error: which one holds the value would be a guess (last one wins, before).
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let n = normalise_header(h);
        if n.is_empty() {
            continue;
        }
        if let Some(&first) = by_name.get(&n) {
            return Err(UserError::at(
                path,
                &format!("1:{}", i + 1),
                format!(
                    "duplicate column: '{}' (column {}) and '{}' (column {}) are the same column once normalised; remove one",
                    privacy::field_name(&header[first]),
                    first + 1,
                    privacy::field_name(h),
                    i + 1
                ),
            ));
        }
        by_name.insert(n, i);
    }
    let positions: Vec<Option<usize>> = spec
        .columns
        .iter()
        .map(|c| by_name.get(c.name).copied())
        .collect();
    // Columns beyond the canonical ones are kept in the raw layer only when they are on its
    // allow-list (raw_allow::CSV, empty: no extra column of a canonical CSV is known); every other
    // one is dropped and named in the summary, never its values. An unnamed column is named by
    // its number.
    let mut extras: Vec<(usize, String, RawKind)> = vec![];
    for (i, h) in header.iter().enumerate() {
        let n = normalise_header(h);
        if spec.column(&n).is_some() {
            continue;
        }
        match raw_allow::csv(spec.name, &n) {
            Some(kind) if !n.is_empty() => extras.push((i, h.trim().to_string(), kind)),
            _ if n.is_empty() => sink.drop_field(&format!("(unnamed column {})", i + 1)),
            _ => sink.drop_field(h),
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = line_of(record.position());
                let values = positions
                    .iter()
                    .map(|p| {
                        p.and_then(|i| record.get(i))
                            .filter(|v| !v.trim().is_empty())
                            .map(str::to_string)
                    })
                    .collect();
                let position = format!("line {line}");
                for (i, name, kind) in &extras {
                    if let Some(v) = record.get(*i) {
                        sink.raw(position.clone(), spec.name, name, v, *kind);
                    }
                }
                sink.row(spec, position, values);
            }
            Err(e) => return Err(csv_error(path, &e, &line_of)),
        }
    }
    Ok(())
}

/// The line each record starts on. The csv crate's own `Position::line` is one short in a file
/// with CRLF line ends (Excel's) and after a blank line (rust-csv issues 395 and 208), so lines are
/// counted here from the bytes as they are read: `\n`, `\r\n` and a lone `\r` each end a line.
struct LineStarts {
    /// (byte offset, line number) of each non-empty line read ahead and not yet passed.
    starts: VecDeque<(u64, u64)>,
    offset: u64,
    line: u64,
    at_start: bool,
    after_cr: bool,
}

impl LineStarts {
    fn new() -> LineStarts {
        LineStarts {
            starts: VecDeque::new(),
            offset: 0,
            line: 1,
            at_start: true,
            after_cr: false,
        }
    }
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => {
                    if !self.after_cr {
                        self.line += 1;
                    }
                    self.at_start = true;
                    self.after_cr = false;
                }
                b'\r' => {
                    self.line += 1;
                    self.at_start = true;
                    self.after_cr = true;
                }
                _ => {
                    if self.at_start {
                        self.starts.push_back((self.offset, self.line));
                    }
                    self.at_start = false;
                    self.after_cr = false;
                }
            }
            self.offset += 1;
        }
    }
    /// The line of the first non-empty line starting at or after byte `at` (a record's start as
    /// the csv crate reports it may sit on the line ends before it). Positions must not go back.
    fn line_at(&mut self, at: u64) -> u64 {
        while self.starts.front().is_some_and(|&(o, _)| o < at) {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.line, |&(_, l)| l)
    }
}

/// Passes bytes through to the csv reader, counting lines on the way.
struct Counting<R> {
    inner: R,
    lines: Rc<RefCell<LineStarts>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.lines.borrow_mut().scan(&buf[..n]);
        Ok(n)
    }
}

fn csv_error(
    path: &Path,
    e: &csv::Error,
    line_of: &dyn Fn(Option<&csv::Position>) -> u64,
) -> UserError {
    use csv::ErrorKind;
    match e.kind() {
        ErrorKind::Utf8 { pos, err } => UserError::at(
            path,
            &format!("{}:{}", line_of(pos.as_ref()), err.field() + 1),
            format!("not UTF-8 (invalid byte in field {}); save the extract as UTF-8", err.field() + 1),
        ),
        ErrorKind::UnequalLengths { pos, expected_len, len } => UserError::at(
            path,
            &format!("{}:{}", line_of(pos.as_ref()), len + 1),
            format!(
                "record has {len} fields but the header has {expected_len}: the file is truncated or malformed"
            ),
        ),
        ErrorKind::Io(io) => UserError::file(path, format!("read error: {io}")),
        _ => UserError::file(path, format!("malformed CSV: {e}")),
    }
}
