//! `safeguard workdays`: the working days between two dates.

use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;

use safeguard::error::UserError;

use super::Context;

/// Print wd(A, B): the working days d with A < d <= B (same day 0; negative when B < A).
///
/// Example: safeguard workdays 2024-03-28 2024-04-02   (prints 1: Easter skipped)
#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_name = "A")]
    a: NaiveDate,
    #[arg(value_name = "B")]
    b: NaiveDate,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let n = ctx
        .calendar()?
        .wd(args.a, args.b)
        .map_err(|e| UserError::Message(e.to_string()))?;
    writeln!(out, "{n}")?;
    Ok(())
}
