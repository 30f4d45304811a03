//! `safeguard synth`: a seeded, fictional partnership (the work is `safeguard::synth`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use safeguard::error::UserError;
use safeguard::synth::{self, SynthFormat, SynthOptions};

/// Generate a synthetic, fictional partnership as canonical CSVs and/or CIN census XML.
///
/// Seeded and deterministic: the same options give the same files.
///
/// Example: safeguard synth --out /tmp/synth --children 3000 --years 4 --seed 7
#[derive(clap::Args, Debug)]
pub struct Args {
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
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Xml,
    Both,
}

pub fn run(args: Args, ctx: &super::Context, out: &mut dyn Write) -> Result<()> {
    let mut opts = SynthOptions {
        out_dir: args.out,
        years: args.years,
        first_year: args.first_year,
        seed: args.seed,
        cdop_deaths_per_year: args.deaths_per_year,
        progress: ctx.progress(),
        format: match args.format {
            Format::Csv => SynthFormat::Csv,
            Format::Xml => SynthFormat::CinXml,
            Format::Both => SynthFormat::Both,
        },
        ..Default::default()
    };
    if let Some(n) = args.las {
        if !(1..=255).contains(&n) {
            return Err(UserError::Message(format!("--las {n}: give 1 to 255 LAs")).into());
        }
        opts = opts.with_la_count(n);
    }
    if !args.la.is_empty() {
        opts.las = args
            .la
            .iter()
            .map(|l| {
                let (code, name) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
                (code.trim().to_string(), name.trim().to_string())
            })
            .collect();
    }
    if let Some(c) = args.children {
        opts = opts.for_children(c);
    }
    if let Some(r) = args.referrals_per_year {
        opts.referrals_per_year = r;
    }
    let summary = synth::run(&opts)?;
    for (path, rows) in &summary.files {
        writeln!(out, "{:>10}  {}", rows, path.display())?;
    }
    writeln!(out, "reference date: {}", summary.reference_date)?;
    Ok(())
}
