//! The subcommands, one file each: `<name>.rs` holds the command's options (`Args`, whose doc
//! comment is its `--help`) and its `run`. [`Context`] resolves what they share once: the
//! config, the calendar, the store and the period.
//!
//! To add a command: write `src/cmd/<name>.rs` with `pub struct Args` (clap derive; a doc
//! comment for its help, `#[command(hide = true)]` to leave it out of the list) and
//! `pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()>`, then add one line
//! `<name>::<Variant>,` to the list below (the variant names the command: `CdopReturn` is
//! `cdop-return`).

mod context;

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use polars::prelude::DataFrame;

pub use context::{Context, DefaultYears, Period, PeriodAsk, StoreYearArgs, YearsArgs};

/// Declares each command's module, the [`Command`] enum clap parses (in this order in
/// `--help`) and its dispatch to the module's `run`.
macro_rules! commands {
    ($($module:ident :: $variant:ident),* $(,)?) => {
        $(mod $module;)*

        /// The subcommand given on the command line, with its options.
        #[derive(clap::Subcommand, Debug)]
        pub enum Command {
            $($variant($module::Args),)*
        }

        impl Command {
            /// Runs the command, writing what it prints to `out`.
            pub fn run(self, ctx: &Context, out: &mut dyn Write) -> Result<()> {
                match self {
                    $(Command::$variant(args) => $module::run(args, ctx, out),)*
                }
            }
        }
    };
}

commands! {
    ingest::Ingest,
    run::Run,
    measures::Measures,
    cdop_return::CdopReturn,
    report::Report,
    synth::Synth,
    calendar::Calendar,
    workdays::Workdays,
    compare::Compare,
    benchmarks_refresh::BenchmarksRefresh,
    fuzz_case::FuzzCase,
}

/// Writes a table as CSV (through the one CSV writer, safeguard::csv_out), or Parquet when the
/// name ends `.parquet`. A folder where the file should be, or a folder that can't be written,
/// is a user error naming the path.
fn write_table(path: &Path, df: &mut DataFrame) -> Result<()> {
    safeguard::csv_out::writable_file(path)?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        safeguard::store::write_parquet(path, df)
    } else {
        safeguard::csv_out::write_frame(path, df)
    }
}
