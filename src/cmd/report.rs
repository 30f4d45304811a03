//! `safeguard report`: the annual partnership report for a year.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use safeguard::calendar::Calendar;
use safeguard::config::Config;
use safeguard::measures::MeasuresOutput;
use safeguard::period::FinYear;
use safeguard::report::{self, benchmarks::Benchmarks};
use safeguard::store::Store;

use super::{Context, DefaultYears, Period, StoreYearArgs};

/// Write the annual partnership report: index.html, every chart as PNG and SVG, the table
/// behind each chart as CSV (small numbers suppressed), and data-quality.csv.
///
/// Example: safeguard report --store store --year 2024-25 --out reports/2024-25
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    period: StoreYearArgs,
    /// England benchmark file (measure_id,period,value,source); default: the shipped one.
    #[arg(long, value_name = "FILE")]
    benchmarks: Option<PathBuf>,
    /// Output folder (default: reports/<year>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let st = ctx.read_store(&args.period.store)?;
    let cal = ctx.calendar()?;
    let period = ctx.period(&st, args.period.ask(), DefaultYears::Reporting)?;
    let year = period.year();
    let bench = match &args.benchmarks {
        Some(p) => Benchmarks::load(p)?,
        None => Benchmarks::shipped(),
    };
    let dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(year.to_string()));
    safeguard::csv_out::writable_dir(&dir)?;
    let m = trend_measures(&st, &cal, &period)?;
    let opened = write_page(&st, &ctx.cfg, &m, year, &bench, &dir)?;
    write!(out, "{}", m.render_summary())?;
    writeln!(out, "{opened}")?;
    Ok(())
}

/// The measures the report reads: the reporting year and, for trends, the two years before it.
pub(super) fn trend_measures(
    st: &Store,
    cal: &Calendar,
    period: &Period,
) -> Result<MeasuresOutput> {
    safeguard::measures::compute(st, cal, &period.year().with_trend(), &period.reference)
}

/// Writes the report into `dir`; returns the line saying how many charts and where to open it.
pub(super) fn write_page(
    st: &Store,
    cfg: &Config,
    m: &MeasuresOutput,
    year: FinYear,
    bench: &Benchmarks,
    dir: &Path,
) -> Result<String> {
    let rep = report::write_report(st, cfg, m, year, bench, dir)?;
    Ok(format!(
        "{} charts; open {}",
        rep.figures,
        dir.join("index.html").display()
    ))
}
