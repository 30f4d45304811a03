//! `safeguard calendar`: the England and Wales bank holidays in a range.

use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;

use safeguard::calendar::Calendar;
use safeguard::error::UserError;

use super::Context;

/// Print the England and Wales bank holidays (observed dates) in a range, one ISO date a line.
///
/// Local closure days from the config are added only when --config is given.
///
/// Example: safeguard calendar --from 2024-01-01 --to 2024-12-31
#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_name = "DATE")]
    from: NaiveDate,
    #[arg(long, value_name = "DATE")]
    to: NaiveDate,
}

pub fn run(args: Args, ctx: &Context, out: &mut dyn Write) -> Result<()> {
    let cal = if ctx.config_given {
        ctx.calendar()?
    } else {
        Calendar::england_and_wales()
    };
    let (from, to) = (args.from, args.to);
    if to < from {
        return Err(UserError::Message(format!("--to {to} is before --from {from}")).into());
    }
    let days = cal
        .holidays(from, to)
        .map_err(|e| UserError::Message(e.to_string()))?;
    for d in days {
        writeln!(out, "{d}")?;
    }
    Ok(())
}
