//! The `safeguard` command line: one subcommand per pipeline stage, plus `run` for all of them.
//!
//! Exit codes: 0 success; 1 a user error (a file that can't be read, bad arguments or config),
//! with a one-line message naming the file, line and column; 2 an internal error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

/// mimalloc as the allocator: Polars allocates and frees many short-lived buffers, and ingest a
/// string per cell; glibc's malloc spent about a tenth of ingest's time in malloc/free and kept
/// freed memory from the OS (see bench/NOTES.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use safeguard::calendar::Calendar;
use safeguard::config::Config;
use safeguard::error::{exit_code, UserError};
use safeguard::measures::{self, period, FinYear};
use safeguard::report::{self, benchmarks::Benchmarks};
use safeguard::store::Store;
use safeguard::{ingest, synth};

/// Safeguarding partnership figures, child death review returns and the annual report,
/// from the extracts a partnership really holds.
#[derive(Parser, Debug)]
#[command(
    name = "safeguard",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Example: safeguard run      (the bundled samples: ingest, measures, report)\n         \
                  safeguard ingest extracts/ --store store\n         \
                  safeguard report --store store --year 2024-25"
)]
struct Cli {
    /// Partnership config (TOML). Default: ./safeguard.toml when present, else built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ingest extracts (canonical CSV, CIN census XML, Annex A .xlsx) into the Parquet store.
    ///
    /// Files are recognised by content. Every row ends in the store or in its rejects table;
    /// the summary prints read, stored, rejected and flagged per table. Ingesting the same file
    /// twice changes nothing; a file that can't be read leaves the store as it was (exit 1).
    ///
    /// Example: safeguard ingest data-samples/ --store store
    Ingest {
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
    },
    /// Run every stage on a folder of extracts (default: the bundled samples).
    ///
    /// Example: safeguard run            (ingests data-samples/ into store/)
    Run {
        /// Folder (or files) of extracts.
        #[arg(long, default_value = "data-samples", value_name = "DIR")]
        data: Vec<PathBuf>,
        /// The store folder.
        #[arg(long, default_value = "store", value_name = "DIR")]
        store: PathBuf,
        /// Where reports are written (one folder per year).
        #[arg(long, default_value = "reports", value_name = "DIR")]
        reports: PathBuf,
    },
    /// Compute every measure of the catalogue (measures.md) for a reporting year, as a tidy table.
    ///
    /// Writes CSV, or Parquet when FILE ends .parquet. Unsuppressed: for the analyst, not for
    /// publication. Measures the data can't support are listed as "not measurable", never zero.
    ///
    /// Example: safeguard measures --store store --year 2024-25 --out measures.csv
    ///          safeguard measures --store store --years 2021-22..2024-25 --out trend.parquet
    Measures {
        /// The store folder.
        #[arg(long, default_value = "store", value_name = "DIR")]
        store: PathBuf,
        /// The reporting year (default: the latest complete year at the reference date).
        #[arg(long, conflicts_with = "years")]
        year: Option<String>,
        /// A range of years for a trend, e.g. 2021-22..2024-25.
        #[arg(long)]
        years: Option<String>,
        /// The data's reference date (default: the config's, else the latest CIN census
        /// ReferenceDate in the store, else the latest event date).
        #[arg(long, value_name = "DATE")]
        reference_date: Option<NaiveDate>,
        /// Output file (.csv or .parquet).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write the CDOP's national return for a year: child-level file, aggregate files (with the
    /// category x modifiable-factor table) and a validation report of every review that cannot be
    /// returned and why. No exact dates and no identifiers; not suppressed (it is a submission).
    ///
    /// Example: safeguard cdop-return --store store --year 2024-25 --out cdop-return-2024-25
    CdopReturn {
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
    },
    /// Write the annual partnership report: index.html, every chart as PNG and SVG, the table
    /// behind each chart as CSV (small numbers suppressed), and data-quality.csv.
    ///
    /// Example: safeguard report --store store --year 2024-25 --out reports/2024-25
    Report {
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
    },
    /// Generate a synthetic, fictional partnership as canonical CSVs and/or CIN census XML.
    ///
    /// Seeded and deterministic: the same options give the same files.
    ///
    /// Example: safeguard synth --out /tmp/synth --children 3000 --years 4 --seed 7
    Synth {
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Distinct children in total (sets the referral volume); overridden by --referrals-per-year.
        #[arg(long)]
        children: Option<u64>,
        /// Referrals a year across the whole partnership (England: about 650,000).
        #[arg(long)]
        referrals_per_year: Option<u64>,
        /// Number of financial years.
        #[arg(long, default_value_t = 4)]
        years: u32,
        /// The first financial year's starting calendar year (2021 = 2021-22).
        #[arg(long, default_value_t = 2021)]
        first_year: i32,
        /// Number of LAs (default: the two Northamptonshire LAs 940 and 941; 3 or more are
        /// fictional LAs 701, 702, ...).
        #[arg(long, conflicts_with = "la")]
        las: Option<u32>,
        /// An LA to generate, as CODE:NAME (repeat for several), e.g. --la "941:West Northamptonshire".
        #[arg(long, value_name = "CODE:NAME")]
        la: Vec<String>,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Child deaths a year for the partnership's CDOP.
        #[arg(long, default_value_t = 60)]
        deaths_per_year: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SynthFormatArg::Csv)]
        format: SynthFormatArg,
    },
    /// Print the England and Wales bank holidays (observed dates) in a range, one ISO date a line.
    ///
    /// Local closure days from the config are added only when --config is given.
    ///
    /// Example: safeguard calendar --from 2024-01-01 --to 2024-12-31
    Calendar {
        #[arg(long, value_name = "DATE")]
        from: NaiveDate,
        #[arg(long, value_name = "DATE")]
        to: NaiveDate,
    },
    /// Print wd(A, B): the working days d with A < d <= B (same day 0; negative when B < A).
    ///
    /// Example: safeguard workdays 2024-03-28 2024-04-02   (prints 1: Easter skipped)
    Workdays {
        #[arg(value_name = "A")]
        a: NaiveDate,
        #[arg(value_name = "B")]
        b: NaiveDate,
    },
    /// Fuzzing only (hidden): read one file as ingest would, without a store, and check the
    /// pipeline's invariants (src/ingest/fuzz.rs). Exit 0 read, 1 a user error, 101 a finding.
    #[command(hide = true)]
    FuzzCase {
        /// csv, cin-xml, annex-a, or detect (from content, as ingest).
        #[arg(long, default_value = "detect")]
        format: String,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SynthFormatArg {
    Csv,
    Xml,
    Both,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let code = exit_code(&e);
            if code == 1 {
                eprintln!("error: {e}");
            } else {
                eprintln!("internal error: {e:#}");
            }
            ExitCode::from(code as u8)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn calendar_for(cfg: &Config) -> Result<Calendar> {
    Calendar::england_and_wales()
        .with_closures(&cfg.closure_days)
        .map_err(|e| {
            let file = cfg
                .path
                .as_ref()
                .map_or_else(|| "the config".to_string(), |p| p.display().to_string());
            UserError::Message(format!("{file}: closure_days: {e}")).into()
        })
}

fn run(cli: Cli) -> Result<()> {
    let cfg = Config::load(cli.config.as_deref())?;
    let out = io::stdout();
    let mut out = out.lock();
    match cli.command {
        Command::Ingest { inputs, store, la } => {
            let report = ingest::ingest_with_la(&cfg, &store, &inputs, la, !cli.quiet)?;
            write!(out, "{}", report.render())?;
            writeln!(out, "store: {}", store.display())?;
        }
        Command::Run {
            data,
            store,
            reports,
        } => {
            // The bundled samples carry their own config (with a demo pseudonym key, for the
            // synthetic samples only): used when `run` reads them and no other config is given.
            let samples_cfg = PathBuf::from("data-samples/safeguard.toml");
            let cfg = if cli.config.is_none()
                && cfg.path.is_none()
                && data == [PathBuf::from("data-samples")]
                && samples_cfg.exists()
            {
                Config::load(Some(&samples_cfg))?
            } else {
                cfg
            };
            let report = ingest::ingest_with_la(&cfg, &store, &data, None, !cli.quiet)?;
            writeln!(out, "== ingest ==")?;
            write!(out, "{}", report.render())?;
            writeln!(out, "store: {}", store.display())?;
            let st = Store::open_existing(&store)?;
            let cal = calendar_for(&cfg)?;
            let (reference, _) = measures::reference_date(&st, cfg.reference_date)?;
            let year = match &cfg.reporting_year {
                Some(y) => y.parse::<FinYear>().map_err(UserError::Message)?,
                None => FinYear::latest_complete(reference),
            };
            let years = [year.previous().previous(), year.previous(), year];
            let m = measures::compute(&st, &cal, &years, cfg.reference_date)?;
            let dir = reports.join(year.to_string());
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("measures-unsuppressed.csv");
            write_table(&path, &mut m.frame()?)?;
            writeln!(
                out,
                "== measures {year} (with the two years before, for trends) =="
            )?;
            write!(out, "{}", m.render_summary())?;
            writeln!(out, "measures: {}", path.display())?;
            let bench = Benchmarks::shipped();
            let rep = report::write_report(&st, &cfg, &m, year, &bench, &dir)?;
            writeln!(out, "== report ==")?;
            writeln!(
                out,
                "{} charts; open {}",
                rep.figures,
                dir.join("index.html").display()
            )?;
        }
        Command::CdopReturn {
            store,
            year,
            reference_date,
            out: dir,
        } => {
            let st = Store::open_existing(&store)?;
            let given = reference_date.or(cfg.reference_date);
            let (reference, _) = measures::reference_date(&st, given)?;
            let year: FinYear = match year.or(cfg.reporting_year.clone()) {
                Some(y) => y.parse().map_err(UserError::Message)?,
                None => FinYear::latest_complete(reference),
            };
            let summary = safeguard::cdop::write_return(&st, year, reference, &dir)?;
            write!(out, "{}", summary.render())?;
            writeln!(out, "national return: {}", dir.display())?;
        }
        Command::Report {
            store,
            year,
            reference_date,
            benchmarks,
            out: dir,
        } => {
            let st = Store::open_existing(&store)?;
            let cal = calendar_for(&cfg)?;
            let given = reference_date.or(cfg.reference_date);
            let (reference, _) = measures::reference_date(&st, given)?;
            let year: FinYear = match year.or(cfg.reporting_year.clone()) {
                Some(y) => y.parse().map_err(UserError::Message)?,
                None => FinYear::latest_complete(reference),
            };
            let bench = match benchmarks {
                Some(p) => Benchmarks::load(&p)?,
                None => Benchmarks::shipped(),
            };
            let years = [year.previous().previous(), year.previous(), year];
            let m = measures::compute(&st, &cal, &years, given)?;
            let dir = dir.unwrap_or_else(|| PathBuf::from("reports").join(year.to_string()));
            let rep = report::write_report(&st, &cfg, &m, year, &bench, &dir)?;
            write!(out, "{}", m.render_summary())?;
            writeln!(
                out,
                "{} charts; open {}",
                rep.figures,
                dir.join("index.html").display()
            )?;
        }
        Command::Measures {
            store,
            year,
            years,
            reference_date,
            out: path,
        } => {
            let st = Store::open_existing(&store)?;
            let cal = calendar_for(&cfg)?;
            let given = reference_date.or(cfg.reference_date);
            let (reference, _) = measures::reference_date(&st, given)?;
            let years: Vec<FinYear> = match (year, years, cfg.reporting_year.clone()) {
                (_, Some(r), _) => period::parse_year_range(&r).map_err(UserError::Message)?,
                (Some(y), None, _) | (None, None, Some(y)) => {
                    vec![y.parse().map_err(UserError::Message)?]
                }
                (None, None, None) => vec![FinYear::latest_complete(reference)],
            };
            let m = measures::compute(&st, &cal, &years, given)?;
            write_table(&path, &mut m.frame()?)?;
            write!(out, "{}", m.render_summary())?;
            writeln!(out, "{} rows written to {}", m.rows.len(), path.display())?;
        }
        Command::Synth {
            out: dir,
            children,
            referrals_per_year,
            years,
            first_year,
            las,
            la,
            seed,
            deaths_per_year,
            format,
        } => {
            let mut opts = synth::SynthOptions {
                out_dir: dir,
                years,
                first_year,
                seed,
                cdop_deaths_per_year: deaths_per_year,
                progress: !cli.quiet,
                format: match format {
                    SynthFormatArg::Csv => synth::SynthFormat::Csv,
                    SynthFormatArg::Xml => synth::SynthFormat::CinXml,
                    SynthFormatArg::Both => synth::SynthFormat::Both,
                },
                ..Default::default()
            };
            if let Some(n) = las {
                opts = opts.with_la_count(n);
            }
            if !la.is_empty() {
                opts.las = la
                    .iter()
                    .map(|l| {
                        let (code, name) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
                        (code.trim().to_string(), name.trim().to_string())
                    })
                    .collect();
            }
            if let Some(c) = children {
                opts = opts.for_children(c);
            }
            if let Some(r) = referrals_per_year {
                opts.referrals_per_year = r;
            }
            let summary = synth::run(&opts)?;
            for (path, rows) in &summary.files {
                writeln!(out, "{:>10}  {}", rows, path.display())?;
            }
            writeln!(out, "reference date: {}", summary.reference_date)?;
        }
        Command::Calendar { from, to } => {
            let cal = if cli.config.is_some() {
                calendar_for(&cfg)?
            } else {
                Calendar::england_and_wales()
            };
            if to < from {
                return Err(
                    UserError::Message(format!("--to {to} is before --from {from}")).into(),
                );
            }
            let days = cal
                .holidays(from, to)
                .map_err(|e| UserError::Message(e.to_string()))?;
            for d in days {
                writeln!(out, "{d}")?;
            }
        }
        Command::Workdays { a, b } => {
            let cal = calendar_for(&cfg)?;
            let n = cal
                .wd(a, b)
                .map_err(|e| UserError::Message(e.to_string()))?;
            writeln!(out, "{n}")?;
        }
        Command::FuzzCase { format, file } => {
            let format = ingest::fuzz::parse_format(&format).map_err(UserError::Message)?;
            let bytes = std::fs::read(&file)
                .map_err(|e| UserError::file(&file, format!("cannot read: {e}")))?;
            let outcome = ingest::fuzz::run(format, &bytes)?;
            write!(out, "{}", outcome.render())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Writes a table as CSV, or Parquet when the name ends `.parquet`.
fn write_table(path: &std::path::Path, df: &mut polars::prelude::DataFrame) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| UserError::file(dir, format!("cannot create folder: {e}")))?;
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        safeguard::store::write_parquet(path, df)
    } else {
        safeguard::store::write_csv(path, df)
    }
}
