//! Opening an input file: plain, or gzip-compressed (`.csv.gz`, `.xml.gz`, recognised by its magic
//! bytes, not its name), so extracts can be kept and shipped compressed. A compressed file is
//! streamed through the decoder - never unpacked to disk or held whole - and may unpack to at most
//! [`MAX_RATIO`] times its own size (or [`MIN_LIMIT`]): a few hundred bytes that would unpack to
//! gigabytes (a gzip bomb) fail the file instead of filling the staging folder.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::UserError;

/// The gzip magic number (RFC 1952).
pub const GZIP_MAGIC: &[u8] = b"\x1f\x8b";

/// A compressed input may unpack to this many times its size. Extracts compress 5 to 30 times
/// (CSV about 8, census XML about 20); gzip cannot do better than about 1,030.
pub const MAX_RATIO: u64 = 250;

/// ... or to this many bytes, whichever is larger (a small file may compress well).
pub const MIN_LIMIT: u64 = 256 << 20;

/// Whether the first bytes of a file are gzip's.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(GZIP_MAGIC)
}

/// Opens `path` for reading its content: decompressed when it is gzip.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, UserError> {
    let mut file =
        File::open(path).map_err(|e| UserError::file(path, format!("cannot open: {e}")))?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic)
        .map_err(|e| UserError::file(path, format!("read error: {e}")))?;
    let file =
        File::open(path).map_err(|e| UserError::file(path, format!("cannot open: {e}")))?;
    if n == 2 && is_gzip(&magic) {
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let limit = size.saturating_mul(MAX_RATIO).max(MIN_LIMIT);
        Ok(Box::new(Bounded {
            inner: MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)),
            left: limit,
            limit,
        }))
    } else {
        Ok(Box::new(file))
    }
}

/// The first bytes of a file's content (decompressed when it is gzip), for format detection.
/// A compressed file that cannot be decompressed is a user error naming it.
pub fn head(path: &Path, raw_head: &[u8], len: usize) -> Result<Vec<u8>, UserError> {
    if !is_gzip(raw_head) {
        return Ok(raw_head.to_vec());
    }
    let mut r = open(path)?;
    let mut buf = vec![0u8; len];
    let n = read_up_to(&mut r, &mut buf).map_err(|e| {
        UserError::file(
            path,
            format!("the file is gzip-compressed but cannot be decompressed: {}", kind(&e)),
        )
    })?;
    buf.truncate(n);
    Ok(buf)
}

/// Reads until `buf` is full or the input ends.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What went wrong in a decoder, without quoting the data.
fn kind(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "it is cut short".into(),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => "it is corrupt".into(),
        _ => e.to_string(),
    }
}

/// A reader that fails once more than `limit` bytes have come out of it.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the gzip stream cannot be decompressed: {}", kind(&e)),
            )
        })?;
        if n as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the compressed file unpacks to more than {} bytes ({MAX_RATIO} times its size), more than any real extract: refused as malformed (a gzip bomb?)",
                    self.limit
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
