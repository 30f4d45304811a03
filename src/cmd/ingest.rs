//! `safeguard ingest`: extracts into the Parquet store (the work is `safeguard::ingest`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::Context;

/// Ingest extracts (canonical CSV, CIN census XML, Annex A .xlsx) into the Parquet store.
///
/// Files are recognised by content. Every row ends in the store or in its rejects table;
/// the summary prints read, stored, rejected and flagged per table. Ingesting the same file
/// twice changes nothing; a file that can't be read leaves the store as it was (exit 1).
///
/// Example: safeguard ingest data-samples/ --store store
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or folders to read.
    #[arg(required = true, value_name = "FILE")]
    inputs: Vec<PathBuf>,
    /// The store folder (created if absent).
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    /// The LA (DfE three-digit code) of inputs that do not name their own, e.g. an Annex A
    /// workbook. Default: the config's LA when it names exactly one.
    #[arg(long, value_name = "CODE")]
    la: Option<String>,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let report =
        safeguard::ingest::ingest(&ctx.cfg, &args.store, &args.inputs, args.la, ctx.progress())?;
    write!(out, "{}", report.render())?;
    writeln!(out, "store: {}", args.store.display())?;
    Ok(())
}
