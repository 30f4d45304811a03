//! Errors and exit codes: 0 success, 1 a user error (a file that can't be read, bad arguments,
//! bad config), 2 an internal error. Rejected rows are not errors: the summary counts them.

use std::path::Path;

/// A problem the user can fix: the message names the file and, where known, line and column.
/// Shown on one line whatever it quotes: line breaks and other control characters (from a parser
/// quoting the input, e.g. a malformed end tag that runs over a line end) are escaped.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{}", one_line(.0))]
    Message(String),
}

/// `msg` with line breaks, other control characters and bidirectional overrides escaped
/// (`\n`, `\u{202e}`), so that an error is one line and cannot rearrange the terminal.
pub fn one_line(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for c in msg.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

impl UserError {
    /// `FILE: message`.
    pub fn file(path: &Path, msg: String) -> UserError {
        UserError::Message(format!("{}: {msg}", path.display()))
    }
    /// `FILE:LINE:COLUMN: message` (or `FILE: POSITION: message` for XML paths and cells).
    pub fn at(path: &Path, position: &str, msg: String) -> UserError {
        UserError::Message(format!("{}:{position}: {msg}", path.display()))
    }
}

/// Exit code for an error: 1 when any cause is a UserError, else 2.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|c| c.downcast_ref::<UserError>().is_some()) {
        1
    } else {
        2
    }
}
