//! `safeguard measures`: the tidy measures table for a year or a range of years.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::{write_table, Context, DefaultYears, YearsArgs};

/// Compute every measure for a reporting year, as a tidy table.
///
/// The measures: the front door (contacts, referrals, re-referrals), assessments, s47 enquiries
/// and conferences, plans and their reviews, rates per 10,000 children and child deaths. One row
/// per measure x LA (and the partnership, ALL) x breakdown value, with numerator, denominator,
/// value, excluded and pending. Writes CSV, or Parquet when FILE ends .parquet.
/// Unsuppressed: for the analyst, not for publication. Measures the data can't support are
/// listed as "not measurable", never zero.
///
/// Example: safeguard measures --store store --year 2024-25 --out measures.csv
///          safeguard measures --store store --years 2021-22..2024-25 --out trend.parquet
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store folder.
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    #[command(flatten)]
    period: YearsArgs,
    /// Output file (.csv or .parquet).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let st = ctx.read_store(&args.store)?;
    let cal = ctx.calendar()?;
    let period = ctx.period(&st, args.period.ask(), DefaultYears::Reporting)?;
    safeguard::csv_out::writable_file(&args.out)?;
    let m = safeguard::measures::compute(&st, &cal, &period.years, &period.reference)?;
    write_table(&args.out, &mut m.frame()?)?;
    write!(out, "{}", m.render_summary())?;
    writeln!(
        out,
        "{} rows written to {}",
        m.rows.len(),
        args.out.display()
    )?;
    Ok(())
}
