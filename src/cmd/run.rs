//! `safeguard run`: ingest, measures and report in one go, on the bundled samples by default.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use safeguard::config::Config;
use safeguard::report::benchmarks::Benchmarks;

use super::{report, write_table, Context, DefaultYears, PeriodAsk};

/// Run every stage on a folder of extracts (default: the bundled samples).
///
/// Example: safeguard run            (ingests data-samples/ into store/)
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder (or files) of extracts.
    #[arg(long, default_value = "data-samples", value_name = "DIR")]
    data: Vec<PathBuf>,
    /// The store folder.
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    /// Where reports are written (one folder per year).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    reports: PathBuf,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    // The bundled samples carry their own config (with a demo pseudonym key, for the synthetic
    // samples only): used when `run` reads them and no other config is given or found.
    let samples_cfg = PathBuf::from("data-samples/safeguard.toml");
    let samples;
    let ctx = if !ctx.config_given
        && ctx.cfg.path.is_none()
        && args.data == [PathBuf::from("data-samples")]
        && samples_cfg.exists()
    {
        samples = ctx.with_config(Config::load(Some(&samples_cfg))?);
        &samples
    } else {
        ctx
    };
    let cfg = &ctx.cfg;
    let ingested = safeguard::ingest::ingest(cfg, &args.store, &args.data, None, ctx.progress())?;
    writeln!(out, "== ingest ==")?;
    write!(out, "{}", ingested.render())?;
    writeln!(out, "store: {}", args.store.display())?;

    let st = ctx.read_store(&args.store)?;
    let cal = ctx.calendar()?;
    let period = ctx.period(&st, PeriodAsk::default(), DefaultYears::Reporting)?;
    let year = period.year();
    let dir = args.reports.join(year.to_string());
    safeguard::csv_out::writable_dir(&dir)?;
    let m = report::trend_measures(&st, &cal, &period)?;
    let path = dir.join("measures-unsuppressed.csv");
    write_table(&path, &mut m.frame()?)?;
    writeln!(
        out,
        "== measures {year} (with the two years before, for trends) =="
    )?;
    write!(out, "{}", m.render_summary())?;
    writeln!(out, "measures: {}", path.display())?;

    let opened = report::write_page(&st, cfg, &m, year, &Benchmarks::shipped(), &dir)?;
    writeln!(out, "== report ==")?;
    writeln!(out, "{opened}")?;
    Ok(())
}
