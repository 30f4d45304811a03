//! The `safeguard` command line: parses the arguments, resolves the global options once and
//! dispatches to the subcommand (`src/cmd/<name>.rs`, one file each).
//!
//! Exit codes: 0 success; 1 a user error (a file that can't be read, bad arguments or config),
//! with a one-line message naming the file, line and column; 2 an internal error.

mod cmd;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use safeguard::error::exit_code;

/// mimalloc as the allocator: Polars allocates and frees many short-lived buffers, and ingest a
/// string per cell; glibc's malloc spent about a tenth of ingest's time in malloc/free and kept
/// freed memory from the OS (see bench/NOTES.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    command: cmd::Command,
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

fn run(cli: Cli) -> Result<()> {
    let ctx = cmd::Context::new(cli.config, cli.quiet)?;
    let mut out = io::stdout().lock();
    cli.command.run(&ctx, &mut out)?;
    out.flush()?;
    Ok(())
}
