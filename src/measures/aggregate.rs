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

/// The value of quantile q by nearest rank: the ceil(q x n)-th smallest (measures.md section 4).
pub fn nearest_rank(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64) - 1e-9).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Summarises one query's event rows for `period`. The counting is done by Polars group-bys (per
/// LA, then `ALL` as the sum of the LAs); a row-by-row map keyed by cloned strings was a large
/// part of `measures`' time at national scale.
pub fn summarise(df: &DataFrame, period: &str) -> Result<Vec<MeasureRow>> {
    if df.height() == 0 {
        return Ok(vec![]);
    }
    let breakdown_names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !RESERVED.contains(&n.as_str()))
        .collect();
    let text = |n: &str| col(n).cast(DataType::String);
    let is = |v: &str| col("outcome").eq(lit(v));
    let base = df
        .clone()
        .lazy()
        .with_columns([text("measure_id"), text("la_code"), text("outcome")])
        .filter(
            col("measure_id")
                .is_not_null()
                .and(col("la_code").is_not_null())
                .and(col("outcome").is_not_null()),
        )
        .with_columns([
            is("num").cast(DataType::UInt64).alias("__num"),
            is("num")
                .or(is("den"))
                .cast(DataType::UInt64)
                .alias("__den"),
            is("excluded").cast(DataType::UInt64).alias("__exc"),
            is("pending").cast(DataType::UInt64).alias("__pen"),
        ]);
    let sums = || {
        [
            col("__num").sum(),
            col("__den").sum(),
            col("__exc").sum(),
            col("__pen").sum(),
        ]
    };
    let order = || {
        [
            col("measure_id"),
            col("la_code"),
            col("__b"),
            col("__v"),
            col("__num"),
            col("__den"),
            col("__exc"),
            col("__pen"),
        ]
    };
    // Per LA: NONE, then each breakdown over the rows that have a value for it.
    let mut parts = vec![base
        .clone()
        .group_by([col("measure_id"), col("la_code")])
        .agg(sums())
        .with_columns([lit("NONE").alias("__b"), lit("").alias("__v")])
        .select(order())];
    for b in &breakdown_names {
        parts.push(
            base.clone()
                .filter(col(b.as_str()).is_not_null())
                .group_by([col("measure_id"), col("la_code"), text(b).alias("__v")])
                .agg(sums())
                .with_columns([lit(b.as_str()).alias("__b")])
                .select(order()),
        );
    }
    let per_la = concat(parts, UnionArgs::default())?;
    let all = per_la
        .clone()
        .group_by([col("measure_id"), col("__b"), col("__v")])
        .agg(sums())
        .with_columns([lit(ALL).alias("la_code")])
        .select(order());
    let table = concat([per_la, all], UnionArgs::default())?.collect()?;

    let strs = |n: &str| -> Result<StringChunked> { Ok(table.column(n)?.str()?.clone()) };
    let nums = |n: &str| -> Result<UInt64Chunked> {
        Ok(table.column(n)?.cast(&DataType::UInt64)?.u64()?.clone())
    };
    let (m, l, b, v) = (
        strs("measure_id")?,
        strs("la_code")?,
        strs("__b")?,
        strs("__v")?,
    );
    let (num, den, exc, pen) = (
        nums("__num")?,
        nums("__den")?,
        nums("__exc")?,
        nums("__pen")?,
    );
    // The NONE denominators, for the distributions.
    let mut totals: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for i in 0..table.height() {
        if b.get(i) == Some("NONE") {
            if let (Some(m), Some(l)) = (m.get(i), l.get(i)) {
                totals.insert((m, l), den.get(i).unwrap_or(0));
            }
        }
    }
    let mut rows = Vec::with_capacity(table.height());
    for i in 0..table.height() {
        let (Some(mi), Some(li), Some(bi)) = (m.get(i), l.get(i), b.get(i)) else {
            continue;
        };
        let n = num.get(i).unwrap_or(0);
        let d = if DISTRIBUTIONS.contains(&bi) {
            totals.get(&(mi, li)).copied().unwrap_or(0)
        } else {
            den.get(i).unwrap_or(0)
        };
        rows.push(MeasureRow {
            measure_id: mi.to_string(),
            period: period.to_string(),
            la_code: li.to_string(),
            breakdown: bi.to_string(),
            breakdown_value: v.get(i).unwrap_or("").to_string(),
            numerator: n as f64,
            denominator: d as f64,
            value: (d > 0).then(|| n as f64 / d as f64),
            excluded: exc.get(i).unwrap_or(0),
            pending: pen.get(i).unwrap_or(0),
        });
    }

    // p25 / median / p75 of `wd` over the `num` rows, per LA and for ALL.
    if df.column("wd").is_ok() {
        let w = base.filter(is("num").and(col("wd").is_not_null())).select([
            col("measure_id"),
            col("la_code"),
            col("wd").cast(DataType::Int64),
        ]);
        let sorted = || col("wd").sort(SortOptions::default());
        let per_la = w
            .clone()
            .group_by([col("measure_id"), col("la_code")])
            .agg([sorted()]);
        let all = w
            .group_by([col("measure_id")])
            .agg([sorted()])
            .with_columns([lit(ALL).alias("la_code")])
            .select([col("measure_id"), col("la_code"), col("wd")]);
        let q = concat([per_la, all], UnionArgs::default())?.collect()?;
        let (qm, ql) = (
            q.column("measure_id")?.str()?.clone(),
            q.column("la_code")?.str()?.clone(),
        );
        let lists = q.column("wd")?.list()?.clone();
        for i in 0..q.height() {
            let (Some(mi), Some(li), Some(vals)) = (qm.get(i), ql.get(i), lists.get_as_series(i))
            else {
                continue;
            };
            let v: Vec<i64> = vals.i64()?.into_no_null_iter().collect();
            for (label, q) in [("p25", 0.25), ("median", 0.5), ("p75", 0.75)] {
                rows.push(MeasureRow {
                    measure_id: mi.to_string(),
                    period: period.to_string(),
                    la_code: li.to_string(),
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
