//! `safeguard benchmarks-refresh` (hidden, for maintainers): rebuilds the shipped DfE benchmark
//! asset from the published files (the work is `safeguard::compare::refresh`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use safeguard::compare::refresh;

use super::Context;

/// Rebuild the shipped DfE benchmark asset from the published files (for maintainers).
#[derive(Debug, Clone, clap::Args)]
#[command(hide = true)]
pub struct Args {
    /// The folder of the DfE's published files (with `dfe/` inside), e.g. ../shared/benchmarks.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// Where `dfe.parquet` and `neighbours.csv` are written.
    #[arg(long, default_value = "assets/benchmarks", value_name = "DIR")]
    out: PathBuf,
}

/// Builds the asset and writes it; prints what it wrote.
pub fn run(args: Args, _ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let asset = refresh::build(&args.from)?;
    let (parquet, neighbours) = asset.write(&args.out)?;
    let (first, last) = asset.years();
    writeln!(
        out,
        "{} rows ({first} to {last}) written to {}",
        asset.rows.len(),
        parquet.display()
    )?;
    writeln!(
        out,
        "{} neighbour links written to {}",
        asset.neighbours.len(),
        neighbours.display()
    )?;
    Ok(())
}
