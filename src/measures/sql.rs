//! The SQL text of `queries/*.sql` as the program reads it: splitting a file into statements,
//! finding the measure a SELECT defines, the views it creates and the words it names, and the
//! two rewrites made before Polars runs a statement (`queries/README.md`, "What the program does
//! to the SQL"; each has its test in `tests/it/catalogue.rs`):
//!
//! - [`bind_params`]: the year's parameters read through `CROSS JOIN params p` become date
//!   literals (a filter Polars pushes down to the scan, instead of an inequality join);
//! - [`infallible_casts`]: `CAST(t.c AS DATE)` of a store date or datetime column becomes
//!   `TRY_CAST` (a cast Polars knows cannot fail, so a filter on it is pushed down too).
//!
//! Both give the same rows as the SQL as written; `SAFEGUARD_SQL_REWRITES=0` turns them off (for
//! that check, and for reading a plan as written).

use chrono::NaiveDate;

use crate::dates::epoch_days;
use crate::period::FinYear;
use crate::schema;

/// A piece of SQL text outside comments: a string literal (with its quotes) or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Code(&'a str),
    Literal(&'a str),
}

/// Cuts `sql` into code and string literals, dropping `--` comments (to the end of the line; the
/// newline is kept). A quote inside a literal is written twice (`'it''s'`). `--` and `;` inside a
/// literal are part of it. An unterminated literal runs to the end of the text.
fn pieces(sql: &str) -> Vec<Piece<'_>> {
    let mut out = vec![];
    let bytes = sql.as_bytes();
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                if start < i {
                    out.push(Piece::Code(&sql[start..i]));
                }
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => break,
                        Some(b'\'') if bytes.get(j + 1) == Some(&b'\'') => j += 2,
                        Some(b'\'') => {
                            j += 1;
                            break;
                        }
                        Some(_) => j += 1,
                    }
                }
                out.push(Piece::Literal(&sql[i..j]));
                i = j;
                start = j;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                if start < i {
                    out.push(Piece::Code(&sql[start..i]));
                }
                let end = sql[i..].find('\n').map_or(sql.len(), |n| i + n);
                i = end;
                start = end;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        out.push(Piece::Code(&sql[start..]));
    }
    out
}

/// Splits a SQL file into statements at each `;` outside string literals and comments, with the
/// `--` comments dropped; empty statements are left out.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    for p in pieces(sql) {
        match p {
            Piece::Literal(s) => cur.push_str(s),
            Piece::Code(s) => {
                let mut parts = s.split(';');
                cur.push_str(parts.next().unwrap_or(""));
                for part in parts {
                    out.push(std::mem::take(&mut cur));
                    cur.push_str(part);
                }
            }
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The words of a statement's code (outside string literals), lower case, in order.
pub fn identifiers(stmt: &str) -> impl Iterator<Item = String> + '_ {
    pieces(stmt).into_iter().flat_map(|p| match p {
        Piece::Code(s) => s
            .split(|c: char| !is_word(c))
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>(),
        Piece::Literal(_) => vec![],
    })
}

/// The measure ids a statement names as `'<id>' AS measure_id` (each once, in order).
pub fn measure_ids(stmt: &str) -> Vec<String> {
    let ps = pieces(stmt);
    let mut out: Vec<String> = vec![];
    for (i, p) in ps.iter().enumerate() {
        let Piece::Literal(lit) = p else { continue };
        let Some(Piece::Code(next)) = ps.get(i + 1) else {
            continue;
        };
        let mut words = next.split(|c: char| !is_word(c)).filter(|w| !w.is_empty());
        let follows = next.starts_with(char::is_whitespace)
            && words.next().is_some_and(|w| w.eq_ignore_ascii_case("AS"))
            && words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("measure_id"));
        let id = lit.trim_matches('\'').replace("''", "'");
        if follows && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The table a `CREATE TABLE name AS ...` statement makes (lower case), if it is one.
pub fn created_table(stmt: &str) -> Option<String> {
    let mut words = stmt.split_whitespace();
    let (c, t, name) = (words.next()?, words.next()?, words.next()?);
    (c.eq_ignore_ascii_case("CREATE") && t.eq_ignore_ascii_case("TABLE"))
        .then(|| name.to_ascii_lowercase())
}

/// Whether a statement is a query (its first word is SELECT or WITH).
pub fn is_select(stmt: &str) -> bool {
    stmt.split(|c: char| !is_word(c))
        .find(|w| !w.is_empty())
        .is_some_and(|w| w.eq_ignore_ascii_case("SELECT") || w.eq_ignore_ascii_case("WITH"))
}

/// The first non-empty line of a statement (at most 80 characters), to name it in messages.
pub fn first_line(stmt: &str) -> String {
    stmt.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .chars()
        .take(80)
        .collect()
}

/// Whether the rewrites are on (`SAFEGUARD_SQL_REWRITES=0` turns them off).
pub fn rewrites_enabled() -> bool {
    std::env::var_os("SAFEGUARD_SQL_REWRITES").is_none_or(|v| v != "0")
}

/// A statement with the year's parameters bound ([`bind_params`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub sql: String,
    /// It read a parameter other than `reference_date` (or still reads `params`): its result
    /// differs between years. (The reference date is the same for every year of a run.)
    pub year_dependent: bool,
}

/// The words that end a JOIN's ON condition (a `p.` after one of them is outside it).
const CLAUSES: &[&str] = &["SELECT", "FROM", "JOIN", "WHERE", "GROUP", "UNION", "ORDER"];

/// Writes the year's parameters into a statement that reads them through `CROSS JOIN params p`:
/// each `p.period_start`, `p.period_end`, `p.reference_date`, `p.as_at` outside a JOIN's ON
/// condition becomes a date literal `CAST(<days since 1970-01-01> AS DATE)`, and the cross join
/// goes when no other `p.` is left. The same rows result (`params` is one row), but Polars
/// otherwise turns the cross join and a range predicate on it into an inequality join that sorts
/// the whole table, where a literal range is a filter pushed down to the scan. A `p.` in an ON
/// condition (`JOIN calendar c ON c.date = p.as_at`) is left for the join, which needs a column.
///
/// A statement without `CROSS JOIN params p` is returned as it is (year-dependent when it names
/// `params` another way, e.g. `FROM params`).
pub fn bind_params(stmt: &str, year: FinYear, reference: NaiveDate) -> Bound {
    const CROSS: &str = "CROSS JOIN params p";
    if !stmt.contains(CROSS) || !rewrites_enabled() {
        return Bound {
            sql: stmt.to_string(),
            year_dependent: identifiers(stmt).any(|w| w == "params"),
        };
    }
    let date = |d: NaiveDate| format!("CAST({} AS DATE)", epoch_days(d));
    let values = [
        ("period_start", date(year.start())),
        ("period_end", date(year.end())),
        ("reference_date", date(reference)),
        ("as_at", date(reference.min(year.end()))),
    ];
    let mut out = String::with_capacity(stmt.len() + 256);
    let mut rest = stmt;
    let mut all_bound = true;
    let mut year_dependent = false;
    // The clause being read: a `p.` in a JOIN's ON condition is left for the join.
    let mut in_on = false;
    while let Some(i) = rest.find("p.") {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        for w in before.split(|c: char| !is_word(c)) {
            let w = w.to_ascii_uppercase();
            if w == "ON" {
                in_on = true;
            } else if CLAUSES.contains(&w.as_str()) {
                in_on = false;
            }
        }
        let after = &at[2..];
        let name_len = after.find(|c: char| !is_word(c)).unwrap_or(after.len());
        let starts_word = !out.chars().next_back().is_some_and(is_word);
        match values.iter().find(|(n, _)| *n == &after[..name_len]) {
            Some((n, v)) if starts_word && !in_on => {
                year_dependent |= *n != "reference_date";
                out.push_str(v);
                rest = &after[name_len..];
            }
            _ => {
                if starts_word {
                    all_bound = false; // a `p.` we do not know: keep the cross join
                }
                out.push_str("p.");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if all_bound {
        out = out.replace(CROSS, "");
    }
    Bound {
        sql: out,
        year_dependent: year_dependent || !all_bound,
    }
}

/// Whether `name` is a date or datetime column of every store table that has it.
fn dated_column(name: &str) -> bool {
    let mut kinds = schema::TABLES
        .iter()
        .flat_map(|t| t.columns)
        .filter(|c| c.name == name)
        .map(|c| c.kind);
    let mut any = false;
    let all = kinds.all(|k| {
        any = true;
        matches!(k, schema::Kind::Date | schema::Kind::DateTime)
    });
    any && all
}

/// Writes `CAST(t.c AS DATE)` as `TRY_CAST(t.c AS DATE)` where `c` (bare or qualified) is a date
/// or datetime column of the store (`received_at`, `decision_at`, ...): the same values (a
/// datetime always has a date), but Polars takes a strict cast for one that may fail and will
/// not push a filter on it below a projection or join. A filter such as
/// `CAST(c.decision_at AS DATE) BETWEEN ...` then stayed above the calendar joins, which joined
/// all 9M contacts of a national store. Any other CAST is left as written.
pub fn infallible_casts(stmt: &str) -> String {
    if !rewrites_enabled() {
        return stmt.to_string();
    }
    let mut out = String::with_capacity(stmt.len() + 64);
    let mut rest = stmt;
    while let Some(i) = rest.find("CAST(") {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        let inner = &at[5..];
        let close = inner.find(')').unwrap_or(0);
        let operand = inner[..close].strip_suffix(" AS DATE").unwrap_or("");
        let column = operand.rsplit('.').next().unwrap_or("");
        let simple = !operand.is_empty() && operand.chars().all(|c| is_word(c) || c == '.');
        if !before.ends_with(is_word) && simple && dated_column(column) {
            out.push_str("TRY_");
        }
        out.push_str("CAST(");
        rest = inner;
    }
    out.push_str(rest);
    out
}
