//! `safeguard report`: the annual partnership report for a year.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;

use safeguard::report::{self, benchmarks::Benchmarks};

use super::{Context, DefaultYears, PeriodAsk};

/// Write the annual partnership report: index.html, every chart as PNG and SVG, the table
/// behind each chart as CSV (small numbers suppressed), and data-quality.csv.
///
/// Example: safeguard report --store store --year 2024-25 --out reports/2024-25
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
    /// England benchmark file (measure_id,period,value,source); default: the shipped one.
    #[arg(long, value_name = "FILE")]
    benchmarks: Option<PathBuf>,
    /// Output folder (default: reports/<year>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let st = ctx.read_store(&args.store)?;
    let cal = ctx.calendar()?;
    let ask = PeriodAsk {
        year: args.year.as_deref(),
        reference_date: args.reference_date,
        ..PeriodAsk::default()
    };
    let period = ctx.period(&st, ask, DefaultYears::Reporting)?;
    let year = period.year();
    let bench = match &args.benchmarks {
        Some(p) => Benchmarks::load(p)?,
        None => Benchmarks::shipped(),
    };
    let dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(year.to_string()));
    safeguard::csv_out::writable_dir(&dir)?;
    let m = safeguard::measures::compute(&st, &cal, &year.with_trend(), &period.reference)?;
    let rep = report::write_report(&st, &ctx.cfg, &m, year, &bench, &dir)?;
    write!(out, "{}", m.render_summary())?;
    writeln!(
        out,
        "{} charts; open {}",
        rep.figures,
        dir.join("index.html").display()
    )?;
    Ok(())
}
