//! What a command runs with, resolved once (as ripgrep's `HiArgs` is from its low-level
//! arguments): the partnership config, loaded once from the global options; the calendar with
//! the config's closure days; the store, opened for reading; and the reference date and
//! reporting year(s), resolved by [`Context::period`] for every command that reads the store
//! (`measures`, `report`, `cdop-return`, `compare`, `run`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;

use safeguard::calendar::Calendar;
use safeguard::config::Config;
use safeguard::error::UserError;
use safeguard::period::{parse_year_range, FinYear, Reference};
use safeguard::store::Store;

/// The global options, resolved.
#[derive(Debug)]
pub struct Context {
    /// The partnership config: `--config FILE`, else `./safeguard.toml` when present, else the
    /// built-in defaults.
    pub cfg: Config,
    /// `--config` was given (the `calendar` command adds local closures only then).
    pub config_given: bool,
    /// `--quiet`: no progress bars.
    pub quiet: bool,
}

// The period's options, flattened into the commands' `Args` (plain comments here: a doc comment
// on a flattened struct would become the command's description).

// `--store`, `--year` and `--reference-date`, as `report` and `cdop-return` take them.
#[derive(clap::Args, Debug)]
pub struct StoreYearArgs {
    /// The store folder.
    #[arg(long, default_value = "store", value_name = "DIR")]
    pub store: PathBuf,
    /// The reporting year (default: the latest complete year at the reference date).
    #[arg(long)]
    pub year: Option<String>,
    /// The data's reference date (default as for `measures`).
    #[arg(long, value_name = "DATE")]
    pub reference_date: Option<NaiveDate>,
}

// `--year` or `--years`, and `--reference-date`, as `measures` takes them (`compare` words their
// help its own way with `mut_arg`).
#[derive(clap::Args, Debug)]
pub struct YearsArgs {
    /// The reporting year (default: the latest complete year at the reference date).
    #[arg(long, conflicts_with = "years")]
    pub year: Option<String>,
    /// A range of years for a trend, e.g. 2021-22..2024-25.
    #[arg(long)]
    pub years: Option<String>,
    /// The data's reference date (default: the config's, else the latest CIN census
    /// ReferenceDate in the store, else the latest event date).
    #[arg(long, value_name = "DATE")]
    pub reference_date: Option<NaiveDate>,
}

impl StoreYearArgs {
    pub fn ask(&self) -> PeriodAsk<'_> {
        PeriodAsk {
            year: self.year.as_deref(),
            years: None,
            reference_date: self.reference_date,
        }
    }
}

impl YearsArgs {
    pub fn ask(&self) -> PeriodAsk<'_> {
        PeriodAsk {
            year: self.year.as_deref(),
            years: self.years.as_deref(),
            reference_date: self.reference_date,
        }
    }
}

/// What a command's flags ask of the period; each may be absent.
#[derive(Debug, Default, Clone, Copy)]
pub struct PeriodAsk<'a> {
    /// `--year`, e.g. `2024-25`.
    pub year: Option<&'a str>,
    /// `--years`, a range, e.g. `2021-22..2024-25`.
    pub years: Option<&'a str>,
    /// `--reference-date` (else the config's `reference_date`).
    pub reference_date: Option<NaiveDate>,
}

/// The years a command reads when neither `--year` nor `--years` is given.
pub enum DefaultYears<'a> {
    /// The config's `reporting_year`, else the latest complete year at the reference date.
    Reporting,
    /// Every year from `first(latest)` to the latest complete year at the reference date; the
    /// config's `reporting_year` is not read (`compare`).
    Span(&'a dyn Fn(FinYear) -> Result<FinYear>),
}

/// The resolved period: the data's reference date and the years, both inside the calendar.
#[derive(Debug)]
pub struct Period {
    pub reference: Reference,
    /// In order, at least one.
    pub years: Vec<FinYear>,
}

impl Period {
    /// The reporting year: the last of the years.
    pub fn year(&self) -> FinYear {
        *self.years.last().expect("a period has at least one year")
    }
}

impl Context {
    /// Loads the config (once for the whole run).
    pub fn new(config: Option<PathBuf>, quiet: bool) -> Result<Context> {
        Ok(Context {
            cfg: Config::load(config.as_deref())?,
            config_given: config.is_some(),
            quiet,
        })
    }

    /// The same options with another config (`run` on the bundled samples).
    pub fn with_config(&self, cfg: Config) -> Context {
        Context {
            cfg,
            config_given: self.config_given,
            quiet: self.quiet,
        }
    }

    /// Progress bars unless `--quiet`.
    pub fn progress(&self) -> bool {
        !self.quiet
    }

    /// The England and Wales calendar with the config's local closure days; a bad closure day
    /// is a user error naming the config.
    pub fn calendar(&self) -> Result<Calendar> {
        Calendar::england_and_wales()
            .with_closures(&self.cfg.closure_days)
            .map_err(|e| {
                let file = self
                    .cfg
                    .path
                    .as_ref()
                    .map_or_else(|| "the config".to_string(), |p| p.display().to_string());
                UserError::Message(format!("{file}: closure_days: {e}")).into()
            })
    }

    /// The store at `dir` for reading: it must hold data; its current generation is pinned for
    /// as long as the `Store` lives, so an ingest committing meanwhile changes nothing read.
    pub fn read_store(&self, dir: &Path) -> Result<Store> {
        Store::open_existing(dir)
    }

    /// The reference date (`--reference-date`, else the config's, else found in the store) and
    /// the years (`--years`, else `--year`, else `default`), each checked to lie inside the
    /// calendar. Every command that reads the store resolves its period here.
    pub fn period(&self, store: &Store, ask: PeriodAsk, default: DefaultYears) -> Result<Period> {
        let given = ask.reference_date.or(self.cfg.reference_date);
        let reference = Reference::of(store, given)?.in_calendar()?;
        let one =
            |y: &str| -> Result<Vec<FinYear>> { Ok(vec![y.parse().map_err(UserError::Message)?]) };
        let years = match (ask.years, ask.year, default) {
            (Some(range), _, _) => parse_year_range(range).map_err(UserError::Message)?,
            (None, Some(y), _) => one(y)?,
            (None, None, DefaultYears::Reporting) => match &self.cfg.reporting_year {
                Some(y) => one(y)?,
                None => vec![FinYear::latest_complete(reference.date)],
            },
            (None, None, DefaultYears::Span(first)) => {
                let last = FinYear::latest_complete(reference.date);
                (first(last)?.0..=last.0).map(FinYear).collect()
            }
        };
        for y in &years {
            y.in_calendar().map_err(UserError::Message)?;
        }
        Ok(Period { reference, years })
    }
}
