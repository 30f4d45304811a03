//! Helpers of the cargo-fuzz targets: the xlsx target's input format.
//!
//! A workbook is a zip of XML parts, and byte-level mutation of a zip mostly breaks its
//! checksums, so the xlsx target reads its input as a list of parts, which it packs into a
//! workbook: repeated `name length (u16 LE), name, data length (u32 LE), data`, lengths cut to
//! what is left. An input that starts like a zip (`PK\x03\x04`) is passed as it is, so the
//! container itself is fuzzed too. `scripts/fuzz.sh` builds the corpus in this format from the
//! conformance workbooks.

use std::io::{Cursor, Write};

/// The parts an input lists.
pub fn parts(mut data: &[u8]) -> Vec<(String, &[u8])> {
    /// The next `n` bytes (or what is left).
    fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (a, b) = data.split_at(n.min(data.len()));
        *data = b;
        a
    }
    let mut out = vec![];
    while data.len() >= 2 {
        let n = u16::from_le_bytes([data[0], data[1]]) as usize;
        data = &data[2..];
        let name = String::from_utf8_lossy(take(&mut data, n)).into_owned();
        let len = match take(&mut data, 4) {
            &[a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as usize,
            _ => 0,
        };
        out.push((name, take(&mut data, len)));
    }
    out
}

/// The workbook an input stands for.
pub fn workbook(data: &[u8]) -> Vec<u8> {
    if data.starts_with(b"PK\x03\x04") {
        return data.to_vec();
    }
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    for (name, body) in parts(data) {
        // A name given twice (or refused by the writer) is skipped.
        if w.start_file(name.as_str(), opts).is_ok() {
            let _ = w.write_all(body);
        }
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}
