//! The Annex A workbook reader on a workbook packed from a list of parts (or a raw zip): see
//! `safeguard_fuzz::workbook`. src/ingest/fuzz.rs checks the invariants.
#![no_main]
use libfuzzer_sys::fuzz_target;
use safeguard::ingest::{fuzz, Format};

fuzz_target!(|data: &[u8]| {
    let _ = fuzz::run(Some(Format::AnnexA), &safeguard_fuzz::workbook(data));
});
