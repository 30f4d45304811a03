//! `safeguard compare`: every LA of the partnership against its statistical neighbours, its
//! region and England, and our figures reconciled with the DfE's (issue 13).
//!
//! One row per LA x measure x year: our figure from the store (the measures table, computed as
//! `safeguard measures` does), the DfE's published figure for the same LA and year (the shipped
//! asset, [`published`]), the difference, the mean and median of the LA's ten statistical
//! neighbours that have a value (a suppressed or missing one is left out, never counted as 0),
//! the region's and England's values, the LA's rank among all LAs with a value, its quartile band
//! by the measure's polarity, and a note where either side has no figure and why.
//!
//! Choices (also in the README):
//! - The rank, quartile band and neighbour figures are of the *published* values, so the LA is
//!   placed on the same footing as its peers; rank 1 = the highest value, ties share the best
//!   rank; `quartile_band` A-D from the position in the "best first" order (for a neutral measure
//!   the highest first): A when (position - 1) x 4 / n < 1, B < 2, C < 3, else D.
//! - The neighbour average the report uses is the median ([`SN_AVERAGE_USED`]): the DfE's
//!   children's social care dashboard (the source of the shared files) uses it, and one unusual
//!   neighbour moves it less. LAIT's mean is given beside it.
//! - The partnership (`ALL`) sums its LAs' published numerators and denominators (a quartile
//!   cannot be summed: none); it has no rank and no neighbours of its own.
//! - A row exists where the store or the publication has the LA-year: an LA that did not exist
//!   in a year (940 and 941 start in 2021-22) has no row for it unless the store holds one.

pub mod published;
pub mod reconcile;
pub mod refresh;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use polars::prelude::*;

use crate::dates::from_epoch_days;
use crate::measures::{MeasureRow, MeasuresOutput, ALL};
use crate::period::FinYear;
use crate::store::Store;
use published::{Published, SeriesKey};

/// The neighbour average the report reads ("sn_median"; "sn_mean" is LAIT's).
pub const SN_AVERAGE_USED: &str = "sn_median";

/// One row of the comparison.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareRow {
    pub measure_id: String,
    pub breakdown: String,
    pub breakdown_value: String,
    pub la_code: String,
    pub year: String,
    pub own_value: Option<f64>,
    pub own_numerator: Option<f64>,
    pub own_denominator: Option<f64>,
    pub published_value: Option<f64>,
    pub published_numerator: Option<i64>,
    pub published_denominator: Option<i64>,
    /// The publication's symbol where its value is missing.
    pub published_symbol: String,
    /// own - published: in percentage points for a proportion, else in the measure's unit.
    pub difference: Option<f64>,
    /// `proportion`, `per_10k` or `working_days`.
    pub unit: String,
    pub sn_mean: Option<f64>,
    pub sn_median: Option<f64>,
    pub sn_count: Option<u32>,
    pub sn_model: String,
    pub region: String,
    pub region_value: Option<f64>,
    pub england_value: Option<f64>,
    pub rank: Option<u32>,
    pub rank_of: Option<u32>,
    pub quartile_band: String,
    pub polarity: String,
    /// `both`, `store_only`, `published_only` or `neither`: which side has a value.
    pub status: String,
    /// Why a side has no value (the LA did not exist, suppressed, not in the store, ...).
    pub note: String,
}

/// The unit of a series' values.
pub fn unit_of(series: &SeriesKey) -> &'static str {
    match (series.0.as_str(), series.1.as_str()) {
        ("rate_per_10k", _) => "per_10k",
        (_, "statistic") => "working_days",
        _ => "proportion",
    }
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The LAs (three-digit codes) and/or `ALL`, in output order.
    pub las: Vec<String>,
    /// The partnership's LAs (what `ALL` sums).
    pub partnership: Vec<String>,
    pub years: Vec<FinYear>,
    /// `2025` or `2021`.
    pub model: String,
}

/// What the EES symbols mean (the shared files' README).
pub fn symbol_meaning(symbol: &str) -> &'static str {
    match symbol {
        "c" => "suppressed to protect confidentiality",
        "x" => "not available",
        "z" => "not applicable",
        "u" => "low reliability",
        "low" => "rounds to zero",
        "k" => "less than 0.5",
        _ => "missing",
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The median (the mean of the middle two for an even count).
fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// Rank (1 = highest, ties sharing the best rank), the count ranked, and the quartile band
/// (A best) of `value` among `all`.
pub fn rank_and_band(value: f64, all: &[f64], polarity: &str) -> (u32, u32, char) {
    let n = all.len().max(1);
    let rank = 1 + all.iter().filter(|v| **v > value).count();
    // The position in the best-first order: lowest first where lower is better.
    let position = if polarity == "lower_is_better" {
        1 + all.iter().filter(|v| **v < value).count()
    } else {
        rank
    };
    let band = match (position - 1) * 4 / n {
        0 => 'A',
        1 => 'B',
        2 => 'C',
        _ => 'D',
    };
    (rank as u32, all.len() as u32, band)
}

/// Compares `own` (the measures of `scope.years`) with the published figures.
pub fn compare(pubd: &Published, own: &MeasuresOutput, scope: &Scope) -> Vec<CompareRow> {
    // Our rows by (measure, period, la, breakdown, value).
    let mut ours: BTreeMap<(&str, &str, &str, &str, &str), &MeasureRow> = BTreeMap::new();
    let mut held: BTreeSet<(&str, &str)> = BTreeSet::new(); // (la, period) with any row
    for r in &own.rows {
        ours.insert(
            (
                &r.measure_id,
                &r.period,
                &r.la_code,
                &r.breakdown,
                &r.breakdown_value,
            ),
            r,
        );
        held.insert((&r.la_code, &r.period));
    }
    let first_year = pubd.years.first().cloned().unwrap_or_default();
    let last_year = pubd.years.last().cloned().unwrap_or_default();
    let mut out = vec![];
    for series in &pubd.series {
        let polarity = pubd.polarity_of(series);
        let unit = unit_of(series);
        for la in &scope.las {
            for year in &scope.years {
                let year = year.to_string();
                let figs = pubd.get(series, &year);
                let own_row = ours
                    .get(&(
                        series.0.as_str(),
                        year.as_str(),
                        la.as_str(),
                        series.1.as_str(),
                        series.2.as_str(),
                    ))
                    .copied();
                let is_all = la == ALL;
                // The published side: the LA's row, or the partnership's sum of its LAs'.
                let mut notes: Vec<String> = vec![];
                let published = if is_all {
                    let entries: Vec<(&String, Option<&published::Entry>)> = scope
                        .partnership
                        .iter()
                        .map(|l| (l, figs.and_then(|f| f.la.get(l))))
                        .collect();
                    if entries.iter().all(|(_, e)| e.is_none()) {
                        None
                    } else if unit == "working_days" {
                        notes.push(
                            "a quartile of the LAs' published figures cannot be combined".into(),
                        );
                        Some(published::Entry {
                            symbol: "z".into(),
                            ..Default::default()
                        })
                    } else {
                        let mut sum = published::Entry::default();
                        let (mut n, mut d) = (Some(0i64), Some(0i64));
                        for (l, e) in &entries {
                            match e {
                                Some(e) if e.numerator.is_some() && e.denominator.is_some() => {
                                    n = n.zip(e.numerator).map(|(a, b)| a + b);
                                    d = d.zip(e.denominator).map(|(a, b)| a + b);
                                }
                                Some(e) => {
                                    n = None;
                                    d = None;
                                    let s = if e.symbol.is_empty() { "x" } else { &e.symbol };
                                    if sum.symbol.is_empty() {
                                        sum.symbol = s.to_string();
                                    }
                                    notes.push(format!(
                                        "LA {l}'s published counts are {s} ({})",
                                        symbol_meaning(s)
                                    ));
                                }
                                None => {
                                    n = None;
                                    d = None;
                                    sum.symbol = "x".into();
                                    notes
                                        .push(format!("LA {l} has no published figure for {year}"));
                                }
                            }
                        }
                        sum.numerator = n;
                        sum.denominator = d;
                        sum.value = match (n, d) {
                            (Some(n), Some(d)) if d > 0 => Some(
                                n as f64 / d as f64
                                    * if unit == "per_10k" { 10_000.0 } else { 1.0 },
                            ),
                            (Some(_), Some(_)) => {
                                sum.symbol = "z".into();
                                None
                            }
                            _ => None,
                        };
                        Some(sum)
                    }
                } else {
                    figs.and_then(|f| f.la.get(la)).cloned()
                };
                if own_row.is_none() && published.is_none() {
                    continue;
                }
                let own_value = own_row.and_then(|r| r.value);
                let pub_value = published.as_ref().and_then(|e| e.value);
                // Why a side has no value.
                if own_value.is_none() {
                    if let Some(why) = own.not_measurable.get(&series.0) {
                        notes.push(format!("not measurable from the store: {why}"));
                    } else if !held.contains(&(la.as_str(), year.as_str())) {
                        notes.push(format!("the store holds nothing for {la} in {year}"));
                    } else {
                        notes.push(format!("no events for this measure in the store in {year}"));
                    }
                }
                if pub_value.is_none() && !is_all {
                    match &published {
                        Some(e) => {
                            let s = if e.symbol.is_empty() { "x" } else { &e.symbol };
                            notes.push(format!("the DfE's figure is {s} ({})", symbol_meaning(s)));
                        }
                        None if !pubd.years.contains(&year) => {
                            notes.push(if year > last_year {
                                format!("the DfE has not published {year} (its latest is {last_year})")
                            } else {
                                format!("the DfE's files start in {first_year}")
                            })
                        }
                        None => match pubd.la_years.get(la) {
                            None => notes.push(format!("LA {la} is not in the DfE's tables")),
                            Some(ys) if !ys.contains(&year) => notes.push(format!(
                                "LA {la} did not exist in {year}: its published series runs {} to {}",
                                ys.first().map_or("", |s| s.as_str()),
                                ys.last().map_or("", |s| s.as_str())
                            )),
                            Some(_) => notes.push("the DfE publishes no LA figure for this measure".into()),
                        },
                    }
                } else if pub_value.is_none() && is_all && published.is_none() {
                    notes.push(format!(
                        "none of the partnership's LAs has a published figure for {year}"
                    ));
                }
                let status = match (own_value.is_some(), pub_value.is_some()) {
                    (true, true) => "both",
                    (true, false) => "store_only",
                    (false, true) => "published_only",
                    (false, false) => "neither",
                };
                let scale = if unit == "proportion" { 100.0 } else { 1.0 };
                let difference = own_value.zip(pub_value).map(|(o, p)| (o - p) * scale);
                // Neighbours, rank and band: of the published values (none for ALL).
                let la_values = |f: &published::YearFigures| -> Vec<f64> {
                    f.la.values().filter_map(|e| e.value).collect()
                };
                let (mut sn_mean, mut sn_median, mut sn_count) = (None, None, None);
                let (mut rank, mut rank_of, mut band) = (None, None, String::new());
                // Only where the DfE publishes LA figures of the series that year.
                let la_published = figs.is_some_and(|f| !f.la.is_empty());
                if !is_all && la_published {
                    match pubd.neighbours.get(&(scope.model.clone(), la.clone())) {
                        Some(nb) => {
                            let vals: Vec<f64> = nb
                                .iter()
                                .filter_map(|n| {
                                    figs.and_then(|f| f.la.get(n)).and_then(|e| e.value)
                                })
                                .collect();
                            sn_count = Some(vals.len() as u32);
                            sn_mean = mean(&vals);
                            sn_median = median(&vals);
                        }
                        None => notes.push(format!(
                            "LA {la} has no statistical neighbours in the {} model",
                            scope.model
                        )),
                    }
                    if let (Some(v), Some(f)) = (pub_value, figs) {
                        let (r, n, b) = rank_and_band(v, &la_values(f), &polarity.polarity);
                        rank = Some(r);
                        rank_of = Some(n);
                        band = b.to_string();
                    }
                }
                // The region: the LA's (latest), or the partnership's when its LAs share one.
                let region = if is_all {
                    let rs: BTreeSet<&String> = scope
                        .partnership
                        .iter()
                        .filter_map(|l| pubd.la_region.get(l))
                        .collect();
                    if rs.len() == 1 {
                        rs.into_iter().next().cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                } else {
                    published
                        .as_ref()
                        .map(|e| e.region.clone())
                        .filter(|r| !r.is_empty())
                        .or_else(|| pubd.la_region.get(la).cloned())
                        .unwrap_or_default()
                };
                let region_value = figs
                    .and_then(|f| f.regional.get(&region))
                    .and_then(|e| e.value);
                let england_value = figs.and_then(|f| f.national.as_ref()).and_then(|e| e.value);
                let published = published.unwrap_or_default();
                out.push(CompareRow {
                    measure_id: series.0.clone(),
                    breakdown: series.1.clone(),
                    breakdown_value: series.2.clone(),
                    la_code: la.clone(),
                    year: year.clone(),
                    own_value,
                    own_numerator: own_row.map(|r| r.numerator),
                    own_denominator: own_row.map(|r| r.denominator),
                    published_value: pub_value,
                    published_numerator: published.numerator,
                    published_denominator: published.denominator,
                    published_symbol: if pub_value.is_none() {
                        published.symbol.clone()
                    } else {
                        String::new()
                    },
                    difference,
                    unit: unit.into(),
                    sn_mean,
                    sn_median,
                    sn_count,
                    sn_model: scope.model.clone(),
                    region,
                    region_value,
                    england_value,
                    rank,
                    rank_of,
                    quartile_band: band,
                    polarity: polarity.polarity.clone(),
                    status: status.into(),
                    note: notes.join("; "),
                });
            }
        }
    }
    out
}

/// The comparison as a DataFrame: the columns first, in its order, then the rest.
pub fn to_frame(rows: &[CompareRow]) -> Result<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&CompareRow) -> String| -> Column {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into()
    };
    let float = |name: &str, f: &dyn Fn(&CompareRow) -> Option<f64>| -> Column {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into()
    };
    let int = |name: &str, f: &dyn Fn(&CompareRow) -> Option<i64>| -> Column {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into()
    };
    let count = |v: Option<f64>| v.map(|x| x.round() as i64);
    Ok(DataFrame::new(
        rows.len(),
        vec![
            text("measure_id", &|r| r.measure_id.clone()),
            text("la_code", &|r| r.la_code.clone()),
            text("year", &|r| r.year.clone()),
            float("own_value", &|r| r.own_value),
            float("published_value", &|r| r.published_value),
            float("difference", &|r| r.difference),
            float("sn_mean", &|r| r.sn_mean),
            float("sn_median", &|r| r.sn_median),
            int("sn_count", &|r| r.sn_count.map(i64::from)),
            float("region_value", &|r| r.region_value),
            float("england_value", &|r| r.england_value),
            int("rank", &|r| r.rank.map(i64::from)),
            int("rank_of", &|r| r.rank_of.map(i64::from)),
            text("quartile_band", &|r| r.quartile_band.clone()),
            text("polarity", &|r| r.polarity.clone()),
            text("breakdown", &|r| r.breakdown.clone()),
            text("breakdown_value", &|r| r.breakdown_value.clone()),
            text("unit", &|r| r.unit.clone()),
            int("own_numerator", &|r| count(r.own_numerator)),
            int("own_denominator", &|r| count(r.own_denominator)),
            int("published_numerator", &|r| r.published_numerator),
            int("published_denominator", &|r| r.published_denominator),
            text("published_symbol", &|r| r.published_symbol.clone()),
            text("sn_model", &|r| r.sn_model.clone()),
            text("sn_average_used", &|_| SN_AVERAGE_USED.to_string()),
            text("region", &|r| r.region.clone()),
            text("status", &|r| r.status.clone()),
            text("note", &|r| r.note.clone()),
        ],
    )?)
}

/// The first financial year of the store's referrals (else of any s47 or plan).
pub fn first_year(store: &Store) -> Result<Option<FinYear>> {
    for (table, column) in [
        ("referrals", "received_at"),
        ("s47_enquiries", "start_date"),
        ("cp_plans", "start_date"),
    ] {
        let df = store
            .scan(table)?
            .select([col(column)
                .cast(DataType::Date)
                .cast(DataType::Int32)
                .min()
                .alias("first")])
            .collect()?;
        if let Some(d) = df.column("first")?.i32()?.get(0) {
            return Ok(Some(FinYear::containing(from_epoch_days(d))));
        }
    }
    Ok(None)
}
