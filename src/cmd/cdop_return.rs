//! `safeguard cdop-return`: the Child Death Overview Panel's national return for a year.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::{Context, DefaultYears, StoreYearArgs};

/// Write the CDOP's national return for a year: child-level file, aggregate files (with the
/// category x modifiable-factor table) and a validation report of every review that cannot be
/// returned and why. No exact dates and no identifiers; not suppressed (it is a submission).
///
/// Example: safeguard cdop-return --store store --year 2024-25 --out cdop-return-2024-25
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    period: StoreYearArgs,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let st = ctx.read_store(&args.period.store)?;
    let period = ctx.period(&st, args.period.ask(), DefaultYears::Reporting)?;
    safeguard::csv_out::writable_dir(&args.out)?;
    let summary =
        safeguard::cdop::write_return(&st, period.year(), period.reference.date, &args.out)?;
    write!(out, "{}", summary.render())?;
    writeln!(out, "national return: {}", args.out.display())?;
    Ok(())
}
