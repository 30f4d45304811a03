//! `safeguard compare`: every LA against its statistical neighbours, its region and England,
//! and our figures reconciled with the DfE's (the work is `safeguard::compare`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::DataFrame;

use safeguard::compare::{compare, first_year, published::Published, reconcile, to_frame, Scope};
use safeguard::error::UserError;
use safeguard::measures::ALL;
use safeguard::period::FinYear;

use super::{Context, DefaultYears, YearsArgs};

/// Compare every LA with its statistical neighbours, its region and England, and reconcile our
/// figures with the DfE's published ones: one row per LA x measure x year (CSV, or Parquet
/// when FILE ends .parquet).
///
/// Example: safeguard compare --store store --year 2024-25 --out compare.csv
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("year", |a| a.help("The reporting year, e.g. 2024-25 (default: every year from the store's first referral, not before the DfE's first published year, to the latest complete year at the reference date)")),
    mut_arg("years", |a| a.help("A range of years, e.g. 2019-20..2024-25")),
    mut_arg("reference_date", |a| a.help("The data's reference date (default as for `measures`)")),
)]
pub struct Args {
    /// The store folder.
    #[arg(long, default_value = "store", value_name = "DIR")]
    store: PathBuf,
    /// An LA to compare (DfE three-digit code), or ALL for the partnership; repeat for several.
    /// Default: every LA of the config, then the partnership.
    #[arg(long = "la", value_name = "CODE")]
    las: Vec<String>,
    #[command(flatten)]
    period: YearsArgs,
    /// The DfE statistical-neighbour model: 2025 or 2021.
    #[arg(long, default_value = "2025", value_parser = ["2025", "2021"])]
    neighbours: String,
    /// Output file (.csv, or .parquet).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// A folder with the benchmark files (dfe.parquet or dfe.csv, neighbours.csv, optionally
    /// hand_kept.csv and polarity.csv) instead of the shipped ones.
    #[arg(long, hide = true, value_name = "DIR")]
    benchmarks_dir: Option<PathBuf>,
}

/// Computes the measures for the years, compares, writes the table and prints the
/// reconciliation of the last year.
pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let pubd = match &args.benchmarks_dir {
        Some(d) => Published::load_dir(d)?,
        None => Published::shipped()?,
    };
    let st = ctx.read_store(&args.store)?;
    let cal = ctx.calendar()?;
    // By default not before the DfE's first published year: a stray early date in the store
    // would otherwise ask for decades of measures with nothing to compare them with.
    let from_first = |last: FinYear| -> Result<FinYear> {
        let published_first = pubd
            .years
            .first()
            .and_then(|y| y.parse::<FinYear>().ok())
            .unwrap_or(last);
        Ok(first_year(&st)?
            .unwrap_or(last)
            .max(published_first)
            .min(last))
    };
    let period = ctx.period(&st, args.period.ask(), DefaultYears::Span(&from_first))?;
    let partnership: Vec<String> = ctx.cfg.las.iter().map(|l| l.code.clone()).collect();
    let las = if args.las.is_empty() {
        partnership
            .iter()
            .cloned()
            .chain([ALL.to_string()])
            .collect()
    } else {
        let mut v: Vec<String> = vec![];
        for l in &args.las {
            let l = if l.eq_ignore_ascii_case(ALL) {
                ALL.to_string()
            } else {
                l.trim().to_string()
            };
            if !v.contains(&l) {
                v.push(l);
            }
        }
        v
    };
    let m = safeguard::measures::compute(&st, &cal, &period.years, &period.reference)?;
    let scope = Scope {
        las,
        partnership,
        years: period.years.clone(),
        model: args.neighbours.clone(),
    };
    let rows = compare(&pubd, &m, &scope);
    let mut df = to_frame(&rows)?;
    write_table(&args.out, &mut df)?;
    let by_status = rows
        .iter()
        .fold(BTreeMap::<&str, usize>::new(), |mut acc, r| {
            *acc.entry(r.status.as_str()).or_default() += 1;
            acc
        });
    writeln!(
        out,
        "statistical neighbours: the DfE's {} model; the report reads the median (LAIT's mean beside it)",
        scope.model
    )?;
    let last = period.year().to_string();
    for r in rows
        .iter()
        .filter(|r| r.year == last && r.breakdown == "NONE" && r.status == "both")
    {
        let who = if r.la_code == ALL {
            "The partnership's".to_string()
        } else {
            format!("{}'s", ctx.cfg.la_name(&r.la_code))
        };
        writeln!(out, "{}", reconcile::sentence(r, &who))?;
    }
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    writeln!(
        out,
        "{} rows ({}) written to {}",
        rows.len(),
        statuses.join(", "),
        args.out.display()
    )?;
    Ok(())
}

/// Writes the comparison as CSV, or Parquet when the name ends `.parquet`, creating its folder.
fn write_table(path: &Path, df: &mut DataFrame) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| UserError::file(dir, format!("cannot create folder: {e}")))?;
    }
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let written = if parquet {
        safeguard::store::write_parquet(path, df)
    } else {
        safeguard::store::write_csv(path, df)
    };
    written.map_err(|e| UserError::file(path, format!("cannot write: {e:#}")).into())
}
