//! The CIN census XML reader on any bytes (src/ingest/fuzz.rs checks the invariants).
#![no_main]
use libfuzzer_sys::fuzz_target;
use safeguard::ingest::{fuzz, Format};

fuzz_target!(|data: &[u8]| {
    let _ = fuzz::run(Some(Format::CinXml), data);
});
