//! Turns the event rows a measure query returns into the tidy measures table (measures.md
//! section 5): numerator, denominator, excluded and pending per LA and for the partnership
//! (`ALL`, the sum of the LAs), for breakdown `NONE` and every breakdown column the query gives.
//!
//! A query's columns: `measure_id`, `la_code`, `outcome` (`num`, `den`, `excluded`, `pending`),
//! optionally `wd` (working days, for quartiles), and breakdown columns. Breakdowns named `band`
//! or `category` are distributions: numerator = rows in the band, denominator = all rows counted.
//! Any other breakdown (month, age_band, sex, ...) splits the fraction itself.

use std::collections::BTreeMap;

use anyhow::Result;
use polars::prelude::*;

/// One row of the tidy measures table.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureRow {
    pub measure_id: String,
    pub period: String,
    pub la_code: String,
    pub breakdown: String,
    pub breakdown_value: String,
    pub numerator: f64,
    pub denominator: f64,
    pub value: Option<f64>,
    pub excluded: u64,
    pub pending: u64,
}

/// The partnership's `la_code`.
pub const ALL: &str = "ALL";
/// Breakdowns that are distributions over the whole counted set.
/// (`modifiable`, `category_modifiable`, `domain`, `factor`: the CDOP's, queries/cdop.sql.)
const DISTRIBUTIONS: &[&str] = &[
    "band",
    "category",
    "modifiable",
    "category_modifiable",
    "domain",
    "factor",
];
const RESERVED: &[&str] = &["measure_id", "la_code", "outcome", "wd"];

#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    num: u64,
    den: u64,
    excluded: u64,
    pending: u64,
}

impl Acc {
    fn add(&mut self, outcome: &str) {
        match outcome {
            "num" => {
                self.num += 1;
                self.den += 1;
            }
            "den" => self.den += 1,
            "excluded" => self.excluded += 1,
            "pending" => self.pending += 1,
            _ => {}
        }
    }
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// The value of quantile q by nearest rank: the ceil(q x n)-th smallest (measures.md section 4).
pub fn nearest_rank(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64) - 1e-9).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Summarises one query's event rows for `period`.
pub fn summarise(df: &DataFrame, period: &str) -> Result<Vec<MeasureRow>> {
    if df.height() == 0 {
        return Ok(vec![]);
    }
    let measure = strings(df, "measure_id")?;
    let la = strings(df, "la_code")?;
    let outcome = strings(df, "outcome")?;
    let wd: Option<Vec<Option<i64>>> = match df.column("wd") {
        Ok(c) => Some(c.cast(&DataType::Int64)?.i64()?.iter().collect()),
        Err(_) => None,
    };
    let breakdown_names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !RESERVED.contains(&n.as_str()))
        .collect();
    let breakdown_values: Vec<Vec<Option<String>>> = breakdown_names
        .iter()
        .map(|b| strings(df, b))
        .collect::<Result<_>>()?;

    // (measure, la, breakdown, value) -> counts; la "ALL" too.
    let mut acc: BTreeMap<(String, String, String, String), Acc> = BTreeMap::new();
    let mut wds: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(m), Some(l), Some(o)) = (&measure[i], &la[i], &outcome[i]) else {
            continue;
        };
        for l in [l.as_str(), ALL] {
            acc.entry((m.clone(), l.to_string(), "NONE".into(), String::new()))
                .or_default()
                .add(o);
            for (b, vals) in breakdown_names.iter().zip(&breakdown_values) {
                if let Some(v) = &vals[i] {
                    acc.entry((m.clone(), l.to_string(), b.clone(), v.clone()))
                        .or_default()
                        .add(o);
                }
            }
            if let (Some(w), "num") = (wd.as_ref().and_then(|w| w[i]), o.as_str()) {
                wds.entry((m.clone(), l.to_string())).or_default().push(w);
            }
        }
    }
    let mut rows = vec![];
    for ((m, l, b, v), a) in &acc {
        let (numerator, denominator) = if DISTRIBUTIONS.contains(&b.as_str()) {
            let total = acc
                .get(&(m.clone(), l.clone(), "NONE".into(), String::new()))
                .map_or(0, |t| t.den);
            (a.num, total)
        } else {
            (a.num, a.den)
        };
        rows.push(MeasureRow {
            measure_id: m.clone(),
            period: period.to_string(),
            la_code: l.clone(),
            breakdown: b.clone(),
            breakdown_value: v.clone(),
            numerator: numerator as f64,
            denominator: denominator as f64,
            value: (denominator > 0).then(|| numerator as f64 / denominator as f64),
            excluded: a.excluded,
            pending: a.pending,
        });
    }
    for ((m, l), mut v) in wds {
        v.sort_unstable();
        for (label, q) in [("p25", 0.25), ("median", 0.5), ("p75", 0.75)] {
            rows.push(MeasureRow {
                measure_id: m.clone(),
                period: period.to_string(),
                la_code: l.clone(),
                breakdown: "statistic".into(),
                breakdown_value: label.into(),
                numerator: v.len() as f64,
                denominator: v.len() as f64,
                value: nearest_rank(&v, q).map(|x| x as f64),
                excluded: 0,
                pending: 0,
            });
        }
    }
    Ok(rows)
}

/// The tidy table as a DataFrame (column order of measures.md section 5).
pub fn to_frame(rows: &[MeasureRow]) -> Result<DataFrame> {
    let s = |name: &str, f: &dyn Fn(&MeasureRow) -> String| -> Column {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into()
    };
    let count = |v: f64| v.round() as i64;
    Ok(DataFrame::new(
        rows.len(),
        vec![
            s("measure_id", &|r| r.measure_id.clone()),
            s("period", &|r| r.period.clone()),
            s("la_code", &|r| r.la_code.clone()),
            s("breakdown", &|r| r.breakdown.clone()),
            s("breakdown_value", &|r| r.breakdown_value.clone()),
            Series::new(
                "numerator".into(),
                rows.iter().map(|r| count(r.numerator)).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "denominator".into(),
                rows.iter()
                    .map(|r| count(r.denominator))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "value".into(),
                rows.iter().map(|r| r.value).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "excluded".into(),
                rows.iter().map(|r| r.excluded as i64).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "pending".into(),
                rows.iter().map(|r| r.pending as i64).collect::<Vec<_>>(),
            )
            .into(),
        ],
    )?)
}
