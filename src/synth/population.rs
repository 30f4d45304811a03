//! `population.csv`: children aged 0-17 per LA per mid-year, sized so that the LA's referrals per
//! 10,000 children come out at 500-550 (England ~530), drifting up slightly each year.

use anyhow::Result;

use super::csv_out::{Cell, CsvTables};
use super::dist::{between, rng_for};
use crate::schema::POPULATION;

/// One LA's population series.
pub struct LaPopulation<'a> {
    pub la_code: &'a str,
    pub la_index: u16,
    /// The LA's referral budget per year.
    pub referrals_per_year: f64,
}

/// Writes one row per LA per calendar year `first_year .. first_year + years`.
pub fn write(
    seed: u64,
    las: &[LaPopulation],
    first_year: i32,
    years: u32,
    csv: &mut CsvTables,
) -> Result<()> {
    for la in las {
        let mut rng = rng_for(seed ^ 0x909, la.la_index as u64);
        let rate_per_10k = between(&mut rng, 500, 550) as f64;
        let base = (la.referrals_per_year * 10_000.0 / rate_per_10k).max(1.0);
        for i in 0..years as i32 {
            let children = (base * (1.0 + 0.003 * i as f64)).round() as i64;
            let mut r = csv.row(&POPULATION);
            r.set("la_code", la.la_code.as_bytes())
                .set("year", Cell::num((first_year + i) as i64).as_bytes())
                .set("age_0_17", Cell::num(children).as_bytes())
                .set("source", b"synthetic MYE");
            r.write()?;
        }
    }
    Ok(())
}
