//! Reader for the canonical CSV extracts (data-contract.md section 3): recognises the table from
//! its header, refuses identifying columns and duplicate columns, and streams each row to the
//! validator. Columns beyond the canonical ones are dropped (the raw layer's allow-list knows none
//! for CSV) and named in the summary.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::privacy;
use super::raw_allow::{self, RawKind};
use super::sink::Sink;
use super::validate;
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
/// truncated record, broken quoting) fails the whole file with its line and column.
///
/// Quoting is checked as the bytes are read ([`LineStarts`]), because the csv crate accepts what
/// makes the rest of a file ambiguous: a quoted field that never closes (it swallows every line
/// after it as its value), text after a closing quote (`"abc"def`: an unescaped quote inside a
/// value, which re-pairs every quote after it), and a quoted value running over a line break in a
/// canonical column or the header (no canonical value holds one, so the quotes are unbalanced).
/// Each fails the file, naming the line:column where the quoted field began. Only columns the
/// contract does not know (free text, extras) may hold a quoted line break, as RFC 4180 allows.
///
/// A file whose last line has no line break may have been cut short, and only its last value can
/// have been cut without the field count noticing. Many exports (SQL Server's among them) omit
/// the final line break, so such a row is not refused outright: when its last value is not valid
/// for its column the row is rejected (the reason says the file may have been cut); otherwise it
/// is stored with a `no_final_line_break` data-quality flag, so a cut that still parses
/// (`17:10:4` for `17:10:44`) is never silent. A last field quoted and closed is whole.
pub fn read(path: &Path, sink: &mut Sink) -> Result<(), UserError> {
    let file = super::input::open(path)?;
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
    // A quoting problem found by the scan explains a csv error better than the csv error itself
    // (an unclosed quote shows up as a record with too few fields).
    let quoting = |header: Option<&[String]>| -> Result<(), UserError> {
        match lines.borrow().problem {
            // Before the header is known, only the header's own problems (the scan reads ahead).
            Some(q) if header.is_some() || q.record == 0 => Err(quote_error(path, &q, header)),
            _ => Ok(()),
        }
    };
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_string())
            .collect(),
        Err(e) => {
            quoting(Some(&[]))?;
            return Err(csv_error(path, &e, &line_of));
        }
    };
    quoting(None)?;
    // No header name holds a line break: a quoted one that does is an unclosed quote.
    if let Some(span) = lines.borrow_mut().spans_of(0, |_| false) {
        return Err(multiline_error(path, &span, None));
    }
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
    // The file's columns that may hold a quoted line break: those the contract does not know.
    let mut free_form = vec![false; header.len()];
    for (i, h) in header.iter().enumerate() {
        let n = normalise_header(h);
        if spec.column(&n).is_some() {
            continue;
        }
        free_form[i] = true;
        match raw_allow::csv(spec.name, &n) {
            Some(kind) if !n.is_empty() => extras.push((i, h.trim().to_string(), kind)),
            _ if n.is_empty() => sink.drop_field(&format!("(unnamed column {})", i + 1)),
            _ => sink.drop_field(h),
        }
    }
    let emit = |sink: &mut Sink, record: &csv::StringRecord, line: u64, complete: bool| {
        let position = format!("line {line}");
        let last = header.len().saturating_sub(1);
        if !complete {
            // The last value may have been cut: rejected when it is not valid for its column.
            let cut = spec.columns.iter().zip(&positions).find_map(|(c, p)| {
                let raw = record.get(last)?.trim();
                (*p == Some(last) && !raw.is_empty())
                    .then(|| validate::cell_error(c.kind, raw, &sink.pseudo))
                    .flatten()
                    .map(|why| (c.name, why))
            });
            if let Some((column, why)) = cut {
                sink.reject(
                    spec,
                    position,
                    column,
                    "",
                    format!(
                        "the file does not end with a line break and this last row's {column} is not valid ({why}): the file may have been cut short, so the row is not stored"
                    ),
                );
                return;
            }
        }
        for (i, name, kind) in &extras {
            if let Some(v) = record.get(*i) {
                sink.raw(position.clone(), spec.name, name, v, *kind);
            }
        }
        let mut row = sink.row_for(spec, position.clone());
        for (c, p) in spec.columns.iter().zip(&positions) {
            let value = p
                .and_then(|i| record.get(i))
                .filter(|v| !v.trim().is_empty());
            row.set(c.name, value, "");
        }
        let stored = row.finish();
        if stored && !complete {
            sink.flag(
                spec.name,
                position,
                header[last].trim(),
                "no_final_line_break",
                "the file does not end with a line break: this last row may have been cut short (its last value passes validation or is empty: check it against the source)".into(),
            );
        }
    };
    // Each row is emitted once the next one (or the end of the file) is read, so that the last
    // row is known to be the last.
    let (mut record, mut held) = (csv::StringRecord::new(), csv::StringRecord::new());
    let mut held_line: Option<u64> = None;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                quoting(Some(&header))?;
                let line = line_of(record.position());
                let index = record.position().map_or(0, |p| p.record());
                if let Some(span) = lines
                    .borrow_mut()
                    .spans_of(index, |f| free_form.get(f).copied().unwrap_or(false))
                {
                    return Err(multiline_error(path, &span, Some(&header)));
                }
                if let Some(l) = held_line.take() {
                    emit(sink, &held, l, true);
                }
                std::mem::swap(&mut record, &mut held);
                held_line = Some(line);
            }
            Err(e) => {
                quoting(Some(&header))?;
                return Err(csv_error(path, &e, &line_of));
            }
        }
    }
    quoting(Some(&header))?;
    if let Some(l) = held_line {
        let complete = lines.borrow().ends_complete();
        emit(sink, &held, l, complete);
    }
    Ok(())
}

/// A field's name for messages: `field 8 ('outcome')`.
fn field_name(field: usize, header: Option<&[String]>) -> String {
    match header.and_then(|h| h.get(field)) {
        Some(h) => format!("field {} ('{}')", field + 1, h.trim()),
        None => format!("field {}", field + 1),
    }
}

fn quote_error(path: &Path, q: &QuoteProblem, header: Option<&[String]>) -> UserError {
    let field = field_name(q.field, header);
    UserError::at(
        path,
        &format!("{}:{}", q.line, q.column),
        match q.kind {
            QuoteKind::Unclosed => format!(
                "the quoted {field} that starts here is never closed: every line after it would be read as its value; close the quote (a quote inside a value is written twice: \"\")"
            ),
            QuoteKind::TextAfterQuote => format!(
                "text follows the closing quote of the quoted {field} that starts here: a quote inside a value must be written twice (\"\"), else the quotes after it pair up wrongly"
            ),
        },
    )
}

fn multiline_error(path: &Path, span: &QuoteSpan, header: Option<&[String]>) -> UserError {
    let what = match header {
        Some(_) => format!("the quoted {}", field_name(span.field, header)),
        None => format!("the quoted header name ({})", field_name(span.field, None)),
    };
    UserError::at(
        path,
        &format!("{}:{}", span.line, span.column),
        format!(
            "{what} that starts here runs over a line break, which no canonical value holds: the quotes are unbalanced (an unclosed quote?), so the lines after it cannot be read reliably"
        ),
    )
}

/// The line each record starts on, and the quoting of every field. The csv crate's own
/// `Position::line` is one short in a file with CRLF line ends (Excel's) and after a blank line
/// (rust-csv issues 395 and 208), so lines are counted here from the bytes as they are read: `\n`,
/// `\r\n` and a lone `\r` each end a line.
///
/// The quoting is followed with the csv crate's own rules (csv-core: a quote opens a quoted field
/// only at the start of a field, `""` inside one is a quote, and a quote inside an unquoted field
/// is an ordinary character), to find what the crate lets through ([`read`]).
struct LineStarts {
    /// (byte offset, line number) of each non-empty line read ahead and not yet passed.
    starts: VecDeque<(u64, u64)>,
    offset: u64,
    line: u64,
    /// The column (in characters, 1-based) of the next byte on its line.
    column: u64,
    at_start: bool,
    after_cr: bool,
    quote: Grammar,
    /// Where the current quoted field opened, and whether it has run over a line break.
    opened: QuoteSpan,
    spanning: bool,
    /// The record (0 = the header) and field (0-based) being read; whether the record has begun.
    record: u64,
    field: usize,
    in_record: bool,
    /// Quoted fields that ran over a line break, read ahead and not yet checked.
    spans: VecDeque<QuoteSpan>,
    /// The first quoting problem found.
    problem: Option<QuoteProblem>,
    /// The last byte of the file was read.
    eof: bool,
    last_byte: Option<u8>,
}

/// Where the scan is in the csv grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just after a quote inside a quoted field: the closing quote, or the first of `""`.
    AfterQuote,
    /// Spaces or tabs after a closing quote (tolerated before the delimiter).
    AfterQuoteSpace,
}

/// A quoted field's opening quote: its record, field, line and column.
#[derive(Debug, Clone, Copy, Default)]
struct QuoteSpan {
    record: u64,
    field: usize,
    line: u64,
    column: u64,
}

#[derive(Debug, Clone, Copy)]
enum QuoteKind {
    Unclosed,
    TextAfterQuote,
}

#[derive(Debug, Clone, Copy)]
struct QuoteProblem {
    kind: QuoteKind,
    record: u64,
    field: usize,
    line: u64,
    column: u64,
}

impl LineStarts {
    fn new() -> LineStarts {
        LineStarts {
            starts: VecDeque::new(),
            offset: 0,
            line: 1,
            column: 1,
            at_start: true,
            after_cr: false,
            quote: Grammar::FieldStart,
            opened: QuoteSpan::default(),
            spanning: false,
            record: 0,
            field: 0,
            in_record: false,
            spans: VecDeque::new(),
            problem: None,
            eof: false,
            last_byte: None,
        }
    }
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.quoting(b);
            match b {
                b'\n' => {
                    if !self.after_cr {
                        self.line += 1;
                    }
                    self.at_start = true;
                    self.after_cr = false;
                    self.column = 1;
                }
                b'\r' => {
                    self.line += 1;
                    self.at_start = true;
                    self.after_cr = true;
                    self.column = 1;
                }
                _ => {
                    if self.at_start {
                        self.starts.push_back((self.offset, self.line));
                    }
                    self.at_start = false;
                    self.after_cr = false;
                    // UTF-8 continuation bytes do not start a character.
                    if b & 0xC0 != 0x80 {
                        self.column += 1;
                    }
                }
            }
            self.offset += 1;
        }
        if let Some(&b) = bytes.last() {
            self.last_byte = Some(b);
        }
    }
    /// One byte through the csv grammar (before the line and column move past it).
    fn quoting(&mut self, b: u8) {
        let line_end = b == b'\n' || b == b'\r';
        match self.quote {
            Grammar::FieldStart | Grammar::Unquoted if line_end => self.end_record(),
            Grammar::FieldStart
            | Grammar::Unquoted
            | Grammar::AfterQuote
            | Grammar::AfterQuoteSpace
                if b == b',' =>
            {
                self.in_record = true;
                self.field += 1;
                self.quote = Grammar::FieldStart;
            }
            Grammar::FieldStart if b == b'"' => {
                self.in_record = true;
                self.quote = Grammar::Quoted;
                self.spanning = false;
                self.opened = QuoteSpan {
                    record: self.record,
                    field: self.field,
                    line: self.line,
                    column: self.column,
                };
            }
            Grammar::FieldStart => {
                self.in_record = true;
                self.quote = Grammar::Unquoted;
            }
            Grammar::Unquoted => {}
            Grammar::Quoted => {
                if b == b'"' {
                    self.quote = Grammar::AfterQuote;
                } else if line_end && !self.spanning {
                    self.spanning = true;
                    self.spans.push_back(self.opened);
                }
            }
            Grammar::AfterQuote if b == b'"' => self.quote = Grammar::Quoted,
            Grammar::AfterQuote | Grammar::AfterQuoteSpace if line_end => self.end_record(),
            Grammar::AfterQuote | Grammar::AfterQuoteSpace if b == b' ' || b == b'\t' => {
                self.quote = Grammar::AfterQuoteSpace
            }
            Grammar::AfterQuote | Grammar::AfterQuoteSpace => {
                if self.problem.is_none() {
                    self.problem = Some(QuoteProblem {
                        kind: QuoteKind::TextAfterQuote,
                        record: self.opened.record,
                        field: self.opened.field,
                        line: self.opened.line,
                        column: self.opened.column,
                    });
                }
                self.quote = Grammar::Unquoted;
            }
        }
    }
    fn end_record(&mut self) {
        if self.in_record {
            self.record += 1;
        }
        self.in_record = false;
        self.field = 0;
        self.quote = Grammar::FieldStart;
    }
    /// The end of the file: a quoted field still open never closed.
    fn end(&mut self) {
        if self.eof {
            return;
        }
        self.eof = true;
        if self.quote == Grammar::Quoted && self.problem.is_none() {
            self.problem = Some(QuoteProblem {
                kind: QuoteKind::Unclosed,
                record: self.opened.record,
                field: self.opened.field,
                line: self.opened.line,
                column: self.opened.column,
            });
        }
    }
    /// Whether the file's last record is known to be whole: it ends with a line break, or its last
    /// field was quoted and closed.
    fn ends_complete(&self) -> bool {
        matches!(self.last_byte, None | Some(b'\n' | b'\r'))
            || matches!(self.quote, Grammar::AfterQuote | Grammar::AfterQuoteSpace)
    }
    /// The first quoted field of `record` that ran over a line break in a column where
    /// `allowed(field)` is false; spans of earlier records are dropped.
    fn spans_of(&mut self, record: u64, allowed: impl Fn(usize) -> bool) -> Option<QuoteSpan> {
        while self.spans.front().is_some_and(|s| s.record < record) {
            self.spans.pop_front();
        }
        let mut found = None;
        while let Some(s) = self.spans.front().copied().filter(|s| s.record == record) {
            self.spans.pop_front();
            if found.is_none() && !allowed(s.field) {
                found = Some(s);
            }
        }
        found
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
        let mut lines = self.lines.borrow_mut();
        if n == 0 && !buf.is_empty() {
            lines.end();
        } else {
            lines.scan(&buf[..n]);
        }
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
