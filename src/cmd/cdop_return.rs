//! `safeguard cdop-return`: the Child Death Overview Panel's national return for a year.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;

use super::{Context, DefaultYears, PeriodAsk};

/// Write the CDOP's national return for a year: child-level file, aggregate files (with the
/// category x modifiable-factor table) and a validation report of every review that cannot be
/// returned and why. No exact dates and no identifiers; not suppressed (it is a submission).
///
/// Example: safeguard cdop-return --store store --year 2024-25 --out cdop-return-2024-25
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store folder.
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    /// The reporting year (default: the latest complete year at the reference date).
    #[arg(long)]
    year: Option<String>,
    /// The data's reference date (default as for `measures`).
    #[arg(long, value_name = "DATE")]
    reference_date: Option<NaiveDate>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let st = ctx.read_store(&args.store)?;
    let ask = PeriodAsk {
        year: args.year.as_deref(),
        reference_date: args.reference_date,
        ..PeriodAsk::default()
    };
    let period = ctx.period(&st, ask, DefaultYears::Reporting)?;
    safeguard::csv_out::writable_dir(&args.out)?;
    let summary =
        safeguard::cdop::write_return(&st, period.year(), period.reference.date, &args.out)?;
    write!(out, "{}", summary.render())?;
    writeln!(out, "national return: {}", args.out.display())?;
    Ok(())
}
