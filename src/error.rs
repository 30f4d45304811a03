//! Errors and exit codes: 0 success, 1 a user error (a file that can't be read, bad arguments,
//! bad config), 2 an internal error. Rejected rows are not errors: the summary counts them.

use std::path::Path;

/// A problem the user can fix: the message names the file and, where known, line and column.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Message(String),
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
