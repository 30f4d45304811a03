//! Reader for the canonical CSV extracts (data-contract.md section 3): recognises the table from
//! its header, refuses identifying columns, and streams each row to the validator.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

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
                    header[i].trim()
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
            None => "the header matches no canonical table (see data-contract.md section 3)".into(),
        },
    ))
}

/// Reads one canonical CSV file into the sink. Any malformed line (invalid UTF-8, a ragged or
/// truncated record, an unclosed quote) fails the whole file with its line and column.
pub fn read(path: &Path, sink: &mut Sink) -> Result<(), UserError> {
    let file = File::open(path).map_err(|e| UserError::file(path, format!("cannot open: {e}")))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let spec = detect_table(path, &header)?;
    // Map each spec column to its position in the file.
    let by_name: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (normalise_header(h), i))
        .collect();
    let positions: Vec<Option<usize>> = spec
        .columns
        .iter()
        .map(|c| by_name.get(c.name).copied())
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let values = positions
                    .iter()
                    .map(|p| {
                        p.and_then(|i| record.get(i))
                            .filter(|v| !v.trim().is_empty())
                            .map(str::to_string)
                    })
                    .collect();
                sink.row(spec, format!("line {line}"), values);
            }
            Err(e) => return Err(csv_error(path, &e)),
        }
    }
    Ok(())
}

fn csv_error(path: &Path, e: &csv::Error) -> UserError {
    use csv::ErrorKind;
    match e.kind() {
        ErrorKind::Utf8 { pos, err } => UserError::at(
            path,
            &format!("{}:{}", pos.as_ref().map_or(0, |p| p.line()), err.field() + 1),
            format!("not UTF-8 (invalid byte in field {}); save the extract as UTF-8", err.field() + 1),
        ),
        ErrorKind::UnequalLengths { pos, expected_len, len } => UserError::at(
            path,
            &format!("{}:{}", pos.as_ref().map_or(0, |p| p.line()), len + 1),
            format!(
                "record has {len} fields but the header has {expected_len}: the file is truncated or malformed"
            ),
        ),
        ErrorKind::Io(io) => UserError::file(path, format!("read error: {io}")),
        _ => UserError::file(path, format!("malformed CSV: {e}")),
    }
}
