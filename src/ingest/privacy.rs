//! The echo rule: which input values may be shown back in a reject, a data-quality flag, a note
//! or an error message, and how everything else is withheld. Also the sanitised form of header and
//! element names shown in the summary, and the scrubbing of library error texts.
//!
//! The rule (issue 11): a value may be shown only when it comes from a column whose kind is safe
//! to echo AND it has the safe shape of that kind. Values from child identifiers, record ids, dates
//! of birth, free text and names are never shown, whatever they look like; a value of any other
//! shape is withheld as `<withheld: N characters>`. Every place that writes an input value into an
//! issue or a message goes through [`shown`]; column, position and reason are named instead.

use crate::schema::Kind;

/// How a column's values may be echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Never shown: child ids, record ids, dates of birth, free text, names.
    Never,
    /// A date or datetime: digits and the separators `-/:T.` and one space, at most 25 characters.
    Date,
    /// A whole number: an optional sign and at most 9 digits (a 10-digit NHS number is not shown).
    Number,
    /// A code or list of codes: at most 16 characters of `A-Z 0-9 _ - ; ,` with no lower-case
    /// letter (codes are upper case; a typed word or name has lower-case letters), each code of
    /// at most 4 characters or with a digit (a surname in capitals is neither).
    Code,
    /// An LA code: at most 3 digits.
    LaCode,
}

/// How values of a canonical column kind may be echoed.
pub fn echo_for(kind: Kind) -> Echo {
    match kind {
        Kind::Date | Kind::DateTime => Echo::Date,
        Kind::Int { .. } => Echo::Number,
        Kind::Code(_) | Kind::Codes(_) | Kind::YesNo => Echo::Code,
        Kind::LaCode => Echo::LaCode,
        // YearMonth is the birth month: a date of birth is never shown.
        Kind::Id | Kind::ChildId | Kind::Text | Kind::Factor | Kind::YearMonth | Kind::Withheld => {
            Echo::Never
        }
    }
}

/// Whether `v` has the safe shape of `echo`.
pub fn safe(echo: Echo, v: &str) -> bool {
    let n = v.chars().count();
    match echo {
        Echo::Never => false,
        Echo::Date => {
            (1..=25).contains(&n)
                && v.bytes().filter(|b| *b == b' ').count() <= 1
                && v.bytes().any(|b| b.is_ascii_digit())
                && v.bytes().all(|b| {
                    b.is_ascii_digit() || matches!(b, b'-' | b'/' | b':' | b'T' | b'.' | b' ')
                })
        }
        Echo::Number => {
            let d = v.strip_prefix(['-', '+']).unwrap_or(v);
            (1..=9).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
        }
        Echo::Code => {
            (1..=16).contains(&n)
                && v.bytes().all(|b| {
                    b.is_ascii_uppercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'_' | b'-' | b';' | b',')
                })
                // Each code of a list is short or has a digit: `SMITH` (a surname in capitals,
                // as case systems export them) is not shown.
                && v.split([';', ','])
                    .all(|c| c.len() <= 4 || c.bytes().any(|b| b.is_ascii_digit()))
        }
        Echo::LaCode => (1..=3).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// THE function of the echo rule: `v` as it may be shown in an issue or a message. An empty value
/// stays empty; a value of a safe kind and shape is shown as it is; anything else is withheld.
pub fn shown(echo: Echo, v: &str) -> String {
    if v.is_empty() || safe(echo, v) {
        v.to_string()
    } else {
        withheld(v)
    }
}

/// What stands for a value that is not shown: its length only.
pub fn withheld(v: &str) -> String {
    format!("<withheld: {} characters>", v.chars().count())
}

/// Longest header or element name shown in the summary or a message.
const NAME_MAX: usize = 60;

/// A header or element name as it may be shown: control characters removed (a tab or line end
/// as a space), trimmed, at most 60 characters (then `...`). Names are shown (the summary names
/// what it dropped); values never are.
pub fn field_name(h: &str) -> String {
    let mut out = String::new();
    for ch in h.trim().trim_start_matches('\u{feff}').chars() {
        if out.chars().count() >= NAME_MAX {
            out.push_str("...");
            break;
        }
        if ch.is_whitespace() {
            out.push(' ');
        } else if !ch.is_control() {
            out.push(ch);
        }
    }
    let out = out.trim().to_string();
    if out.is_empty() {
        "(unnamed)".into()
    } else {
        out
    }
}

/// A library's error text (quick-xml, calamine) as it may be shown: anything it quotes (between
/// backticks, quotes or apostrophes: an entity name, a tag, a text run from the file) is withheld,
/// control characters removed and the length capped.
pub fn scrub(msg: &str) -> String {
    let mut out = String::new();
    let mut chars = msg.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '`' | '"' | '\u{2018}' | '\u{201c}' => {
                let close = match ch {
                    '\u{2018}' => '\u{2019}',
                    '\u{201c}' => '\u{201d}',
                    c => c,
                };
                // Skip to the closing quote (or the end).
                for c in chars.by_ref() {
                    if c == close {
                        break;
                    }
                }
                out.push_str("<withheld>");
            }
            '\'' if out.ends_with(' ') || out.is_empty() => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                }
                out.push_str("<withheld>");
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        if out.chars().count() > 200 {
            out.push_str("...");
            break;
        }
    }
    out
}
