//! `safeguard fuzz-case` (hidden): reads one file the way ingest does, without a store, checking
//! the pipeline's invariants (src/ingest/fuzz.rs); the fuzz harness (tests/it/fuzz.rs,
//! scripts/fuzz.sh) runs it in a child process under a memory cap.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use safeguard::error::UserError;
use safeguard::ingest;

use super::Context;

/// Read one file as ingest would, into a throwaway sink, and check the pipeline's invariants.
/// Exit 0 read, 1 a user error, 101 a finding.
#[derive(clap::Args, Debug)]
#[command(hide = true)]
pub struct Args {
    /// csv, cin-xml, annex-a, or detect (from content, as ingest).
    #[arg(long, default_value = "detect")]
    format: String,
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(args: Args, _ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let format = ingest::fuzz::parse_format(&args.format).map_err(UserError::Message)?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| UserError::file(&args.file, format!("cannot read: {e}")))?;
    let outcome = ingest::fuzz::run(format, &bytes)?;
    write!(out, "{}", outcome.render())?;
    Ok(())
}
