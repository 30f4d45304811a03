//! The benchmark asset the binary ships, read back: the DfE's published figures for every LA,
//! region and England (`assets/benchmarks/dfe.parquet`, built by [`super::refresh`]), the
//! statistical neighbours (`neighbours.csv`), the few England figures the DfE files lack
//! (`hand_kept.csv`, each with its source) and each measure's polarity (`polarity.csv`).
//!
//! All four are compiled in, so `compare` and the report work offline; a folder holding the same
//! files can be given instead (`--benchmarks-dir`, hidden: for a refreshed asset before it is
//! shipped, and for tests).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use super::refresh::{AssetRow, ASSET_FILE, COLUMNS, NEIGHBOURS_FILE};
use crate::error::UserError;

const SHIPPED_ASSET: &[u8] = include_bytes!("../../assets/benchmarks/dfe.parquet");
const SHIPPED_NEIGHBOURS: &str = include_str!("../../assets/benchmarks/neighbours.csv");
const SHIPPED_HAND_KEPT: &str = include_str!("../../assets/benchmarks/hand_kept.csv");
const SHIPPED_POLARITY: &str = include_str!("../../assets/benchmarks/polarity.csv");

/// The file names of the hand-kept England figures and of the polarities.
pub const HAND_KEPT_FILE: &str = "hand_kept.csv";
pub const POLARITY_FILE: &str = "polarity.csv";

/// A series: (measure_id, breakdown, breakdown_value).
pub type SeriesKey = (String, String, String);

/// One published figure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    /// The publication's symbol where the value is missing (`c`, `x`, `z`, `u`, ...), else "".
    pub symbol: String,
    /// The English region (E12...) of an LA or region row.
    pub region: String,
    pub name: String,
    /// Where a hand-kept figure comes from ("" for the DfE files).
    pub source: String,
}

/// One year of one series: England, the regions, the LAs.
#[derive(Debug, Clone, Default)]
pub struct YearFigures {
    pub national: Option<Entry>,
    pub regional: BTreeMap<String, Entry>,
    pub la: BTreeMap<String, Entry>,
}

/// A polarity: which way is better, with its one-line reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Polarity {
    pub polarity: String,
    pub reason: String,
}

pub const POLARITIES: &[&str] = &["lower_is_better", "higher_is_better", "neutral"];

/// The whole asset.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// The series in the asset's order (the hand-kept ones after).
    pub series: Vec<SeriesKey>,
    pub figures: BTreeMap<(SeriesKey, String), YearFigures>,
    /// The years the DfE files cover (hand-kept years not included).
    pub years: BTreeSet<String>,
    /// The years each LA has rows (its series starts and ends with the LA).
    pub la_years: BTreeMap<String, BTreeSet<String>>,
    /// Each LA's region (its latest).
    pub la_region: BTreeMap<String, String>,
    pub la_name: BTreeMap<String, String>,
    /// (model, LA) -> its ten neighbours, closest first.
    pub neighbours: BTreeMap<(String, String), Vec<String>>,
    /// (measure_id, breakdown_value or "") -> polarity.
    pub polarity: BTreeMap<(String, String), Polarity>,
}

impl Published {
    /// The asset compiled into the binary.
    pub fn shipped() -> Result<Published> {
        let df = ParquetReader::new(Cursor::new(SHIPPED_ASSET)).finish()?;
        Published::from_parts(
            rows_from_frame(&df)?,
            SHIPPED_NEIGHBOURS,
            Path::new("assets/benchmarks/neighbours.csv"),
            SHIPPED_HAND_KEPT,
            Path::new("assets/benchmarks/hand_kept.csv"),
            SHIPPED_POLARITY,
            Path::new("assets/benchmarks/polarity.csv"),
        )
    }

    /// A folder with `dfe.parquet` (or `dfe.csv` of the same columns) and `neighbours.csv`;
    /// `hand_kept.csv` and `polarity.csv` there replace the shipped ones when present.
    pub fn load_dir(dir: &Path) -> Result<Published> {
        let read = |name: &str| -> Result<String, UserError> {
            let p = dir.join(name);
            std::fs::read_to_string(&p)
                .map_err(|e| UserError::file(&p, format!("cannot read: {e}")))
        };
        let parquet = dir.join(ASSET_FILE);
        let csv_path = dir.join("dfe.csv");
        let rows = if parquet.exists() {
            let df = crate::store::read_parquet(&parquet)
                .map_err(|e| UserError::file(&parquet, format!("cannot read: {e:#}")))?;
            rows_from_frame(&df).map_err(|e| UserError::file(&parquet, format!("{e:#}")))?
        } else {
            rows_from_csv(&read("dfe.csv")?, &csv_path)?
        };
        let optional =
            |name: &str, shipped: &'static str| -> Result<(String, std::path::PathBuf)> {
                let p = dir.join(name);
                Ok(if p.exists() {
                    (read(name)?, p)
                } else {
                    (
                        shipped.to_string(),
                        Path::new("assets/benchmarks").join(name),
                    )
                })
            };
        let (hand, hand_path) = optional(HAND_KEPT_FILE, SHIPPED_HAND_KEPT)?;
        let (pol, pol_path) = optional(POLARITY_FILE, SHIPPED_POLARITY)?;
        Published::from_parts(
            rows,
            &read(NEIGHBOURS_FILE)?,
            &dir.join(NEIGHBOURS_FILE),
            &hand,
            &hand_path,
            &pol,
            &pol_path,
        )
    }

    fn from_parts(
        rows: Vec<AssetRow>,
        neighbours: &str,
        neighbours_path: &Path,
        hand_kept: &str,
        hand_kept_path: &Path,
        polarity: &str,
        polarity_path: &Path,
    ) -> Result<Published> {
        let mut p = Published::default();
        let mut latest_region: BTreeMap<String, (String, String, String)> = BTreeMap::new();
        for r in rows {
            let key: SeriesKey = (r.measure_id, r.breakdown, r.breakdown_value);
            if p.series.last() != Some(&key) && !p.series.contains(&key) {
                p.series.push(key.clone());
            }
            p.years.insert(r.year.clone());
            let entry = Entry {
                numerator: r.numerator,
                denominator: r.denominator,
                value: r.value,
                symbol: r.symbol,
                region: r.region,
                name: r.name,
                source: String::new(),
            };
            let fig = p.figures.entry((key, r.year.clone())).or_default();
            match r.level.as_str() {
                "national" => fig.national = Some(entry),
                "regional" => {
                    fig.regional.insert(entry.region.clone(), entry);
                }
                _ => {
                    p.la_years
                        .entry(r.la_code.clone())
                        .or_default()
                        .insert(r.year.clone());
                    let e = latest_region.entry(r.la_code.clone()).or_default();
                    if r.year >= e.0 {
                        *e = (r.year.clone(), entry.region.clone(), entry.name.clone());
                    }
                    fig.la.insert(r.la_code, entry);
                }
            }
        }
        for (la, (_, region, name)) in latest_region {
            p.la_region.insert(la.clone(), region);
            p.la_name.insert(la, name);
        }
        p.read_hand_kept(hand_kept, hand_kept_path)?;
        p.neighbours = parse_neighbours(neighbours, neighbours_path)?;
        p.polarity = parse_polarity(polarity, polarity_path)?;
        Ok(p)
    }

    fn read_hand_kept(&mut self, text: &str, path: &Path) -> Result<(), UserError> {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        expect_header(
            &mut rdr,
            path,
            &[
                "measure_id",
                "breakdown",
                "breakdown_value",
                "year",
                "level",
                "value",
                "source",
            ],
        )?;
        for (i, rec) in rdr.records().enumerate() {
            let line = (i + 2).to_string();
            let rec = rec.map_err(|e| UserError::at(path, &line, e.to_string()))?;
            let f = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
            if f(4) != "national" {
                return Err(UserError::at(
                    path,
                    &format!("{line}:5"),
                    format!(
                        "level '{}': hand-kept figures are England's (national)",
                        f(4)
                    ),
                ));
            }
            let value: f64 = f(5).parse().map_err(|_| {
                UserError::at(
                    path,
                    &format!("{line}:6"),
                    format!("'{}' is not a number", f(5)),
                )
            })?;
            let key: SeriesKey = (f(0), f(1), f(2));
            if !self.series.contains(&key) {
                self.series.push(key.clone());
            }
            let fig = self.figures.entry((key, f(3))).or_default();
            if fig.national.is_some() {
                return Err(UserError::at(
                    path,
                    &line,
                    "the DfE files already give this figure: keep it out of the hand-kept file"
                        .into(),
                ));
            }
            fig.national = Some(Entry {
                value: Some(value),
                name: "England".into(),
                source: f(6),
                ..Default::default()
            });
        }
        Ok(())
    }

    /// The figures of a series in a year.
    pub fn get(&self, series: &SeriesKey, year: &str) -> Option<&YearFigures> {
        self.figures.get(&(series.clone(), year.to_string()))
    }

    /// The polarity of a series: its breakdown value's own, else the measure's, else neutral.
    pub fn polarity_of(&self, series: &SeriesKey) -> Polarity {
        self.polarity
            .get(&(series.0.clone(), series.2.clone()))
            .or_else(|| self.polarity.get(&(series.0.clone(), String::new())))
            .cloned()
            .unwrap_or_else(|| Polarity {
                polarity: "neutral".into(),
                reason: "no polarity recorded".into(),
            })
    }

    /// England's value for a headline measure (breakdown NONE) in `year`, with its source.
    pub fn england(&self, measure_id: &str, year: &str) -> Option<(f64, String)> {
        let key: SeriesKey = (measure_id.into(), "NONE".into(), String::new());
        let e = self.get(&key, year)?.national.as_ref()?;
        let source = if e.source.is_empty() {
            dfe_source(measure_id)
        } else {
            e.source.clone()
        };
        e.value.map(|v| (v, source))
    }
}

/// Where a measure's DfE figure comes from, for labels.
pub fn dfe_source(measure_id: &str) -> String {
    let table = match measure_id {
        "rereferral_12m" | "referral_nfa" => "C1",
        "assessment_not_in_need" => "C1; share of referrals",
        "s47_to_icpc" => "C4; ICPCs / s47 enquiries in the year - not a cohort",
        "icpc_15wd" | "icpc_duration_band" => "C4; derived from band counts",
        "icpc_to_cpp" => "C4/D3; plans started / ICPCs",
        "cpp_second_or_subsequent" => "D3",
        "cpp_duration_open" => "D5",
        "rate_per_10k" => "C1, C4, D3, D5, B1 and ONS mid-year estimates",
        _ => "",
    };
    format!("DfE Children in need {table} (England)")
}

fn expect_header(
    rdr: &mut csv::Reader<&[u8]>,
    path: &Path,
    want: &[&str],
) -> Result<(), UserError> {
    let got: Vec<String> = rdr
        .headers()
        .map_err(|e| UserError::file(path, e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    if got != want {
        return Err(UserError::at(
            path,
            "1",
            format!("expected the columns {}", want.join(",")),
        ));
    }
    Ok(())
}

fn parse_neighbours(
    text: &str,
    path: &Path,
) -> Result<BTreeMap<(String, String), Vec<String>>, UserError> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    expect_header(&mut rdr, path, &["model", "la_code", "rank", "neighbour"])?;
    let mut ranked: BTreeMap<(String, String), BTreeMap<u32, String>> = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = (i + 2).to_string();
        let rec = rec.map_err(|e| UserError::at(path, &line, e.to_string()))?;
        let f = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
        let rank: u32 = f(2).parse().map_err(|_| {
            UserError::at(
                path,
                &format!("{line}:3"),
                format!("'{}' is not a rank", f(2)),
            )
        })?;
        ranked.entry((f(0), f(1))).or_default().insert(rank, f(3));
    }
    Ok(ranked
        .into_iter()
        .map(|(k, v)| (k, v.into_values().collect()))
        .collect())
}

fn parse_polarity(
    text: &str,
    path: &Path,
) -> Result<BTreeMap<(String, String), Polarity>, UserError> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    expect_header(
        &mut rdr,
        path,
        &["measure_id", "breakdown_value", "polarity", "reason"],
    )?;
    let mut out = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = (i + 2).to_string();
        let rec = rec.map_err(|e| UserError::at(path, &line, e.to_string()))?;
        let f = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
        if !POLARITIES.contains(&f(2).as_str()) {
            return Err(UserError::at(
                path,
                &format!("{line}:3"),
                format!(
                    "polarity '{}' is not one of {}",
                    f(2),
                    POLARITIES.join(", ")
                ),
            ));
        }
        out.insert(
            (f(0), f(1)),
            Polarity {
                polarity: f(2),
                reason: f(3),
            },
        );
    }
    Ok(out)
}

/// The asset's rows from its DataFrame (columns [`COLUMNS`]).
pub fn rows_from_frame(df: &DataFrame) -> Result<Vec<AssetRow>> {
    let text = |n: &str| -> Result<Vec<String>> {
        Ok(df
            .column(n)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect())
    };
    let int = |n: &str| -> Result<Vec<Option<i64>>> {
        Ok(df
            .column(n)?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .collect())
    };
    let cols: Vec<Vec<String>> = [
        "measure_id",
        "breakdown",
        "breakdown_value",
        "year",
        "level",
        "la_code",
        "region",
        "name",
        "symbol",
    ]
    .iter()
    .map(|c| text(c))
    .collect::<Result<_>>()?;
    let (num, den) = (int("numerator")?, int("denominator")?);
    let value: Vec<Option<f64>> = df
        .column("value")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .collect();
    Ok((0..df.height())
        .map(|i| AssetRow {
            measure_id: cols[0][i].clone(),
            breakdown: cols[1][i].clone(),
            breakdown_value: cols[2][i].clone(),
            year: cols[3][i].clone(),
            level: cols[4][i].clone(),
            la_code: cols[5][i].clone(),
            region: cols[6][i].clone(),
            name: cols[7][i].clone(),
            numerator: num[i],
            denominator: den[i],
            value: value[i],
            symbol: cols[8][i].clone(),
        })
        .collect())
}

/// The asset's rows from a CSV of the same columns (a crafted or hand-checked copy).
pub fn rows_from_csv(text: &str, path: &Path) -> Result<Vec<AssetRow>, UserError> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    expect_header(&mut rdr, path, COLUMNS)?;
    let mut out = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| UserError::at(path, &line.to_string(), e.to_string()))?;
        let f = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
        let number = |n: usize| -> Result<Option<f64>, UserError> {
            let s = f(n);
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>().map(Some).map_err(|_| {
                UserError::at(
                    path,
                    &format!("{line}:{}", n + 1),
                    format!("'{s}' in {} is not a number", COLUMNS[n]),
                )
            })
        };
        let level = f(4);
        if !["national", "regional", "la"].contains(&level.as_str()) {
            return Err(UserError::at(
                path,
                &format!("{line}:5"),
                format!("level '{level}' is not national, regional or la"),
            ));
        }
        let value = number(10)?;
        if value.is_none() && f(11).is_empty() {
            return Err(UserError::at(
                path,
                &format!("{line}:12"),
                "a missing value needs the publication's symbol (c, x, z, u, ...)".into(),
            ));
        }
        out.push(AssetRow {
            measure_id: f(0),
            breakdown: f(1),
            breakdown_value: f(2),
            year: f(3),
            level,
            la_code: f(5),
            region: f(6),
            name: f(7),
            numerator: number(8)?.map(|v| v.round() as i64),
            denominator: number(9)?.map(|v| v.round() as i64),
            value,
            symbol: f(11),
        });
    }
    Ok(out)
}
