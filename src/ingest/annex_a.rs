//! Reader for Ofsted Annex A workbooks (STUB: being written by a helper session).

use std::path::Path;

use super::sink::Sink;
use crate::error::UserError;

/// Reads one Annex A workbook into the sink.
pub fn read(path: &Path, _sink: &mut Sink) -> Result<(), UserError> {
    Err(UserError::file(
        path,
        "Annex A workbooks are not supported yet".into(),
    ))
}
