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

/// Summarises one query's event rows for `period`: one pass over the rows, counting per
/// (measure, LA) and per (measure, LA, breakdown value) in hash maps keyed by the borrowed text
/// (no string is copied per row), then `ALL` as the sum of the LAs. (Polars group-bys, one per
/// breakdown over three text keys, took a sixth of `measures`' time at national scale.)
pub fn summarise(df: &DataFrame, period: &str) -> Result<Vec<MeasureRow>> {
    if df.height() == 0 {
        return Ok(vec![]);
    }
    let text = |n: &str| -> Result<StringChunked> {
        Ok(df.column(n)?.cast(&DataType::String)?.str()?.clone())
    };
    let (m, l, o) = (text("measure_id")?, text("la_code")?, text("outcome")?);
    let breakdowns: Vec<(String, StringChunked)> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !RESERVED.contains(&n.as_str()))
        .map(|n| Ok((n.clone(), text(&n)?)))
        .collect::<Result<_>>()?;
    let wd = match df.column("wd") {
        Ok(c) => Some(c.cast(&DataType::Int64)?.i64()?.clone()),
        Err(_) => None,
    };

    // (measure, LA) -> its index in `groups`; per group the NONE counts, per breakdown the
    // counts by value. Counts: [num, den, excluded, pending].
    let mut group_of: PlHashMap<(&str, &str), usize> = PlHashMap::new();
    let mut groups: Vec<(&str, &str)> = vec![];
    let mut none: Vec<[u64; 4]> = vec![];
    let mut by_value: Vec<PlHashMap<(usize, &str), [u64; 4]>> =
        breakdowns.iter().map(|_| PlHashMap::new()).collect();
    // (measure, LA) -> the working days of its `num` rows, for the quartiles.
    let mut wds: Vec<Vec<i64>> = vec![];
    let mut values: Vec<Option<&str>> = vec![None; breakdowns.len()];
    let mut iters: Vec<_> = breakdowns.iter().map(|(_, c)| c.iter()).collect();
    let mut wd_iter = wd.as_ref().map(|w| w.iter());
    for ((mi, li), oi) in m.iter().zip(l.iter()).zip(o.iter()) {
        for (v, it) in values.iter_mut().zip(iters.iter_mut()) {
            *v = it.next().flatten();
        }
        let w = wd_iter.as_mut().and_then(|it| it.next().flatten());
        let (Some(mi), Some(li), Some(oi)) = (mi, li, oi) else {
            continue;
        };
        let g = *group_of.entry((mi, li)).or_insert_with(|| {
            groups.push((mi, li));
            none.push([0; 4]);
            wds.push(vec![]);
            groups.len() - 1
        });
        let add: [u64; 4] = [
            (oi == "num") as u64,
            (oi == "num" || oi == "den") as u64,
            (oi == "excluded") as u64,
            (oi == "pending") as u64,
        ];
        add_counts(&mut none[g], add);
        for (v, map) in values.iter().zip(by_value.iter_mut()) {
            if let Some(v) = v {
                add_counts(map.entry((g, *v)).or_insert([0; 4]), add);
            }
        }
        if let (Some(w), "num") = (w, oi) {
            wds[g].push(w);
        }
    }

    // Per LA, then ALL (the sum of the LAs): (measure, LA, breakdown, value) -> counts.
    let mut table: Vec<(&str, &str, &str, &str, [u64; 4])> = vec![];
    let mut all: PlHashMap<(&str, &str, &str), [u64; 4]> = PlHashMap::new();
    for (g, &(mi, li)) in groups.iter().enumerate() {
        table.push((mi, li, "NONE", "", none[g]));
        add_counts(all.entry((mi, "NONE", "")).or_insert([0; 4]), none[g]);
    }
    for ((b, _), map) in breakdowns.iter().zip(&by_value) {
        for (&(g, v), &c) in map {
            let (mi, li) = groups[g];
            table.push((mi, li, b.as_str(), v, c));
            add_counts(all.entry((mi, b.as_str(), v)).or_insert([0; 4]), c);
        }
    }
    table.extend(all.into_iter().map(|((mi, b, v), c)| (mi, ALL, b, v, c)));

    // The NONE denominators, for the distributions.
    let totals: BTreeMap<(&str, &str), u64> = table
        .iter()
        .filter(|r| r.2 == "NONE")
        .map(|r| ((r.0, r.1), r.4[1]))
        .collect();
    let mut rows = Vec::with_capacity(table.len());
    for &(mi, li, bi, vi, [n, den, exc, pen]) in &table {
        let d = if DISTRIBUTIONS.contains(&bi) {
            totals.get(&(mi, li)).copied().unwrap_or(0)
        } else {
            den
        };
        rows.push(MeasureRow {
            measure_id: mi.to_string(),
            period: period.to_string(),
            la_code: li.to_string(),
            breakdown: bi.to_string(),
            breakdown_value: vi.to_string(),
            numerator: n as f64,
            denominator: d as f64,
            value: (d > 0).then(|| n as f64 / d as f64),
            excluded: exc,
            pending: pen,
        });
    }

    // p25 / median / p75 of `wd` over the `num` rows, per LA and for ALL.
    if wd.is_some() {
        let mut per_measure: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        let mut lists: Vec<(&str, &str, Vec<i64>)> = vec![];
        for (g, mut v) in wds.into_iter().enumerate() {
            let (mi, li) = groups[g];
            if v.is_empty() {
                continue;
            }
            per_measure.entry(mi).or_default().extend(&v);
            v.sort_unstable();
            lists.push((mi, li, v));
        }
        for (mi, mut v) in per_measure {
            v.sort_unstable();
            lists.push((mi, ALL, v));
        }
        for (mi, li, v) in lists {
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

fn add_counts(acc: &mut [u64; 4], c: [u64; 4]) {
    for (a, x) in acc.iter_mut().zip(c) {
        *a += x;
    }
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
