//! The report's comparison with the DfE's published figures (issue 13): `report` (and so `run`)
//! computes [`crate::compare::compare`] for the report's years from the shipped benchmark asset
//! (compiled in: no network), writes it as `compare.csv` in the report folder, and gives the
//! summary table each LA's statistical neighbours' median and quartile band.
//!
//! `compare.csv` has the columns of `safeguard compare`, with our own counts published as they
//! are in the report's `measures.csv`: `own_numerator`, `own_denominator`, `own_value` and
//! `difference` are `c` where the measures table withholds the row's numerator or denominator
//! (the DfE's figures are published already and go out as the DfE gives them).

use std::collections::BTreeMap;

use anyhow::Result;
use polars::prelude::*;

use crate::compare::{self, published::Published, CompareRow, Scope};
use crate::measures::{MeasuresOutput, ALL};
use crate::period::FinYear;
use crate::suppress::{Cell, SUPPRESSED};

/// The statistical-neighbour model the report uses (the DfE's latest).
pub const MODEL: &str = "2025";

/// The comparison of every LA of `las` and the partnership for `years` (empty when the shipped
/// asset cannot be read, which its own tests guard).
pub fn compute(measures: &MeasuresOutput, las: &[String], years: &[FinYear]) -> Vec<CompareRow> {
    let Ok(pubd) = Published::shipped() else {
        return vec![];
    };
    let scope = Scope {
        las: las.iter().cloned().chain([ALL.to_string()]).collect(),
        partnership: las.to_vec(),
        years: years.to_vec(),
        model: MODEL.into(),
    };
    compare::compare(&pubd, measures, &scope)
}

/// The comparison as published: our counts, value and difference suppressed as in measures.csv
/// (`cells`, aligned with `measures.rows`).
pub fn published_frame(
    rows: &[CompareRow],
    measures: &MeasuresOutput,
    cells: &[[Cell; 4]],
) -> Result<DataFrame> {
    let mut index: BTreeMap<(&str, &str, &str, &str, &str), usize> = BTreeMap::new();
    for (i, r) in measures.rows.iter().enumerate() {
        index.insert(
            (
                &r.measure_id,
                &r.period,
                &r.la_code,
                &r.breakdown,
                &r.breakdown_value,
            ),
            i,
        );
    }
    let mut df = compare::to_frame(rows)?;
    let (mut num, mut den, mut val, mut diff) = (vec![], vec![], vec![], vec![]);
    let show = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_default();
    for r in rows {
        let at = index
            .get(&(
                r.measure_id.as_str(),
                r.year.as_str(),
                r.la_code.as_str(),
                r.breakdown.as_str(),
                r.breakdown_value.as_str(),
            ))
            .map(|&i| cells[i]);
        let withheld = at.is_some_and(|c| c[0].is_suppressed() || c[1].is_suppressed());
        let count = |k: usize, raw: Option<f64>| match at.map(|c| c[k]) {
            Some(Cell::Suppressed) => SUPPRESSED.to_string(),
            Some(Cell::Shown(v)) => v.to_string(),
            None => show(raw, &|x| format!("{}", x.round() as i64)),
        };
        num.push(count(0, r.own_numerator));
        den.push(count(1, r.own_denominator));
        if withheld {
            val.push(SUPPRESSED.to_string());
            diff.push(SUPPRESSED.to_string());
        } else {
            val.push(show(r.own_value, &crate::suppress::format_number));
            diff.push(show(r.difference, &crate::suppress::format_number));
        }
    }
    for (name, v) in [
        ("own_numerator", num),
        ("own_denominator", den),
        ("own_value", val),
        ("difference", diff),
    ] {
        df.with_column(Column::new(name.into(), v))?;
    }
    Ok(df)
}

/// An LA's neighbours' median and quartile band for a headline measure: the report year's, or
/// the latest year before it the DfE has published (with that year).
pub fn neighbours(
    rows: &[CompareRow],
    measure: &str,
    la: &str,
    year: FinYear,
) -> Option<(f64, String, String)> {
    let y = year.to_string();
    rows.iter()
        .filter(|r| {
            r.measure_id == measure
                && r.breakdown == "NONE"
                && r.la_code == la
                && r.year <= y
                && r.sn_median.is_some()
        })
        .max_by(|a, b| a.year.cmp(&b.year))
        .map(|r| {
            (
                r.sn_median.unwrap_or_default(),
                r.quartile_band.clone(),
                r.year.clone(),
            )
        })
}
