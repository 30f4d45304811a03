//! Turns the event rows of the measure statements into the tidy measures table (measures.md
//! section 5): numerator, denominator, excluded and pending per LA and for the partnership
//! (`ALL`, the sum of the LAs), for breakdown `NONE` and every breakdown column.
//!
//! A statement's columns: `measure_id`, `la_code`, `outcome`, and the columns its catalogue entry
//! declares (`queries/catalogue.toml`): `breakdowns` split the fraction (numerator and
//! denominator both within the value), `distributions` are distributions (numerator = rows with
//! the value, denominator = all rows counted), `quartiles` names the column whose p25, median and
//! p75 become `statistic` rows. A column it does not declare is an error, never a guess.
//!
//! The outcomes: `met` (in the numerator and the denominator), `not_met` (the denominator only),
//! `counted` (as `met`, for a measure with no pass or fail: a distribution or a count),
//! `excluded` (left out of both: a broken clock or link, counted and reported), `pending` (a clock
//! still running, for information). [`Summary`] sums by key across statements, so a measure's
//! rows can come from several SELECTs (its pending rows from their own).

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use polars::prelude::*;

use super::catalogue::{Catalogue, Measure, RESERVED};

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

/// The outcomes a statement may give, and what each adds: [numerator, denominator, excluded,
/// pending].
pub const OUTCOMES: &[(&str, [u64; 4])] = &[
    ("met", [1, 1, 0, 0]),
    ("not_met", [0, 1, 0, 0]),
    ("counted", [1, 1, 0, 0]),
    ("excluded", [0, 0, 1, 0]),
    ("pending", [0, 0, 0, 1]),
];

/// The value of quantile q by nearest rank: the ceil(q x n)-th smallest (measures.md section 4).
pub fn nearest_rank(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64) - 1e-9).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The counts of one (measure, LA).
#[derive(Debug, Default)]
struct Group {
    none: [u64; 4],
    /// (breakdown, value) -> counts.
    by_value: BTreeMap<(String, String), [u64; 4]>,
    /// The quartile column's values over the `met` and `counted` rows.
    quartile_values: Vec<i64>,
}

/// A year's measures being summed: (measure, LA) -> counts, from any number of statements.
#[derive(Debug, Default)]
pub struct Summary {
    groups: BTreeMap<(String, String), Group>,
}

impl Summary {
    pub fn new() -> Summary {
        Summary::default()
    }

    /// Adds the event rows of one statement computing `measure` (`what` names the statement in
    /// errors). One pass over the rows, counting per (LA) and per (LA, breakdown value) in hash
    /// maps keyed by the borrowed text (no string is copied per row), then added to the sums.
    /// (Polars group-bys, one per breakdown over three text keys, took a sixth of `measures`'
    /// time at national scale.)
    pub fn add(&mut self, df: &DataFrame, measure: &Measure, what: &str) -> Result<()> {
        let quartile = measure.quartiles.as_ref().map(|q| q.column.as_str());
        for n in df.get_column_names() {
            let n = n.as_str();
            let declared = RESERVED.contains(&n)
                || Some(n) == quartile
                || measure.breakdowns.iter().any(|b| b == n)
                || measure.distributions.iter().any(|b| b == n);
            if !declared {
                bail!(
                    "{what}: column '{n}' is not a breakdown, distribution or quartile column of {} in catalogue.toml",
                    measure.id
                );
            }
        }
        for n in RESERVED {
            if df.column(n).is_err() {
                bail!("{what}: no column '{n}'");
            }
        }
        if df.height() == 0 {
            return Ok(());
        }
        let text = |n: &str| -> Result<StringChunked> {
            Ok(df.column(n)?.cast(&DataType::String)?.str()?.clone())
        };
        let (m, l, o) = (text("measure_id")?, text("la_code")?, text("outcome")?);
        let breakdowns: Vec<(String, StringChunked)> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .filter(|n| !RESERVED.contains(&n.as_str()) && Some(n.as_str()) != quartile)
            .map(|n| Ok((n.clone(), text(&n)?)))
            .collect::<Result<_>>()?;
        let values_of = match quartile {
            Some(q) => Some(df.column(q)?.cast(&DataType::Int64)?.i64()?.clone()),
            None => None,
        };

        // LA -> its index in `groups`; per group the NONE counts, per breakdown the counts by
        // value.
        let mut group_of: PlHashMap<&str, usize> = PlHashMap::new();
        let mut groups: Vec<&str> = vec![];
        let mut none: Vec<[u64; 4]> = vec![];
        let mut by_value: Vec<PlHashMap<(usize, &str), [u64; 4]>> =
            breakdowns.iter().map(|_| PlHashMap::new()).collect();
        let mut quartile_values: Vec<Vec<i64>> = vec![];
        let mut values: Vec<Option<&str>> = vec![None; breakdowns.len()];
        let mut iters: Vec<_> = breakdowns.iter().map(|(_, c)| c.iter()).collect();
        let mut q_iter = values_of.as_ref().map(|w| w.iter());
        for ((mi, li), oi) in m.iter().zip(l.iter()).zip(o.iter()) {
            for (v, it) in values.iter_mut().zip(iters.iter_mut()) {
                *v = it.next().flatten();
            }
            let w = q_iter.as_mut().and_then(|it| it.next().flatten());
            let (Some(mi), Some(li), Some(oi)) = (mi, li, oi) else {
                continue;
            };
            if mi != measure.id {
                bail!("{what}: a row names measure '{mi}', not {}", measure.id);
            }
            let Some(&(_, add)) = OUTCOMES.iter().find(|(name, _)| *name == oi) else {
                bail!(
                    "{what}: outcome '{oi}' (the outcomes are met, not_met, counted, excluded, pending)"
                );
            };
            let g = *group_of.entry(li).or_insert_with(|| {
                groups.push(li);
                none.push([0; 4]);
                quartile_values.push(vec![]);
                groups.len() - 1
            });
            add_counts(&mut none[g], add);
            for (v, map) in values.iter().zip(by_value.iter_mut()) {
                if let Some(v) = v {
                    add_counts(map.entry((g, *v)).or_insert([0; 4]), add);
                }
            }
            if let (Some(w), 1) = (w, add[0]) {
                quartile_values[g].push(w);
            }
        }

        let mut index = vec![];
        for (g, li) in groups.iter().enumerate() {
            let key = (measure.id.clone(), li.to_string());
            let group = self.groups.entry(key.clone()).or_default();
            add_counts(&mut group.none, none[g]);
            group.quartile_values.append(&mut quartile_values[g]);
            index.push(key);
        }
        for ((b, _), map) in breakdowns.iter().zip(by_value) {
            for ((g, v), c) in map {
                let group = self.groups.get_mut(&index[g]).expect("made above");
                add_counts(
                    group
                        .by_value
                        .entry((b.clone(), v.to_string()))
                        .or_insert([0; 4]),
                    c,
                );
            }
        }
        Ok(())
    }

    /// The rows for `period`: per LA, then `ALL` (the sum of the LAs); a distribution's
    /// denominator is the measure's NONE denominator; p25 / median / p75 of the quartile column
    /// by nearest rank, per LA and for `ALL`.
    pub fn rows(self, period: &str, cat: &Catalogue) -> Vec<MeasureRow> {
        // (measure, LA, breakdown, value) -> counts, the LAs' and then ALL's.
        let mut table: Vec<(&str, &str, &str, &str, [u64; 4])> = vec![];
        let mut all: BTreeMap<(&str, &str, &str), [u64; 4]> = BTreeMap::new();
        for ((mi, li), g) in &self.groups {
            table.push((mi, li, "NONE", "", g.none));
            add_counts(all.entry((mi, "NONE", "")).or_insert([0; 4]), g.none);
            for ((b, v), c) in &g.by_value {
                table.push((mi, li, b, v, *c));
                add_counts(all.entry((mi, b, v)).or_insert([0; 4]), *c);
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
            let distribution = cat
                .measure(mi)
                .is_some_and(|m| m.distributions.iter().any(|d| d == bi));
            let d = if distribution {
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

        // p25 / median / p75 of the quartile column, per LA and for ALL.
        let mut per_measure: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        let mut lists: Vec<(&str, &str, Vec<i64>)> = vec![];
        for ((mi, li), g) in &self.groups {
            let mut v = g.quartile_values.clone();
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
        rows
    }
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
