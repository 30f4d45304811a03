//! `safeguard benchmarks-refresh` (hidden): derives the shipped benchmark asset
//! (`assets/benchmarks/dfe.parquet` and `assets/benchmarks/neighbours.csv`) from the DfE's
//! published Children in need files (`../shared/benchmarks/dfe/`, README there).
//!
//! One tidy row per measure x breakdown x year x area (England, each region, each LA), with the
//! numerator, denominator and value, or the publication's symbol (`c`, `x`, `z`, `u`, `low`, `k`)
//! where the value is missing - never a zero in its place. Which DfE columns make which measure is
//! the table [`SERIES`]; a cell that is neither a number nor a known symbol stops the refresh with
//! the file, line and column (a changed publication must be looked at, not guessed).
//!
//! Year mapping: the DfE's `time_period` 2025 is the reporting year 2024-25. Rates per 10,000 use
//! the ONS mid-year estimate of children aged 0-17 of the calendar year the reporting year starts
//! in (mid-2024 for 2024-25), else the latest earlier one for that area - the rule of
//! `queries/rates.sql`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;

use crate::error::UserError;
use crate::period::FinYear;

/// The files read from the folder given (its `dfe/` subfolder), found by the start of their
/// name (the end names the years, which grows with each publication), e.g.
/// `c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv`.
pub const FILES: &[(Table, &str)] = &[
    (Table::C1, "c1_children_in_need_referrals_and_rereferrals_"),
    (Table::C4, "c4_children_in_need_section_47s_and_icpcs_"),
    (Table::D3, "d3_cpps_subsequent_plan_"),
    (Table::D5, "d5_cpps_at31march_by_duration_"),
    (Table::B1, "b1_children_in_need_"),
    (Table::Ons, "ons_mid-year_population_estimates_"),
];
/// The statistical-neighbour files: (model, file, code column, neighbour column prefix).
pub const NEIGHBOUR_FILES: &[(&str, &str, &str, &str)] = &[
    ("2025", "sn_model_2025_wide.csv", "old_la_code", "SN_"),
    (
        "2021",
        "New_Statistical_Neighbour_Groupings_April_2021.csv",
        "LA num",
        "SN",
    ),
];

/// The EES symbols for a missing value (README of the shared files): kept, never read as zero.
pub const SYMBOLS: &[&str] = &["c", "x", "z", "u", "low", "k"];

/// A DfE table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    C1,
    C4,
    D3,
    D5,
    B1,
    Ons,
}

/// How a series' value is made from its cells.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// The published percentage column, / 100 (a proportion, as the measures table's values).
    Percent(Table, &'static str),
    /// sum(numerator) / sum(denominator), for a proportion the DfE gives only as counts.
    Ratio,
    /// numerator / population x 10,000.
    PerTenThousand,
    /// A published statistic (working days), no numerator or denominator.
    Stat(Table, &'static str),
}

/// One series of the asset: our measure id and breakdown, and the DfE cells that make it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesSpec {
    pub measure_id: &'static str,
    pub breakdown: &'static str,
    pub breakdown_value: &'static str,
    /// Summed for the numerator (empty: none).
    pub numerator: &'static [(Table, &'static str)],
    /// Summed for the denominator (empty with PerTenThousand: the population).
    pub denominator: &'static [(Table, &'static str)],
    pub value: Value,
}

const C4_BANDS: &[(Table, &str)] = &[
    (Table::C4, "Duration_0-10_days"),
    (Table::C4, "Duration_11-15_days"),
    (Table::C4, "Duration_16-20_days"),
    (Table::C4, "Duration_21+_days"),
];

const fn pct(
    measure_id: &'static str,
    num: &'static [(Table, &'static str)],
    den: &'static [(Table, &'static str)],
    t: Table,
    col: &'static str,
) -> SeriesSpec {
    SeriesSpec {
        measure_id,
        breakdown: "NONE",
        breakdown_value: "",
        numerator: num,
        denominator: den,
        value: Value::Percent(t, col),
    }
}

const fn band(
    measure_id: &'static str,
    value: &'static str,
    num: &'static [(Table, &'static str)],
    den: &'static [(Table, &'static str)],
    v: Value,
) -> SeriesSpec {
    SeriesSpec {
        measure_id,
        breakdown: "band",
        breakdown_value: value,
        numerator: num,
        denominator: den,
        value: v,
    }
}

const fn stat(q: &'static str, col: &'static str) -> SeriesSpec {
    SeriesSpec {
        measure_id: "icpc_duration_band",
        breakdown: "statistic",
        breakdown_value: q,
        numerator: &[],
        denominator: &[],
        value: Value::Stat(Table::C4, col),
    }
}

const fn rate(count: &'static str, num: &'static [(Table, &'static str)]) -> SeriesSpec {
    SeriesSpec {
        measure_id: "rate_per_10k",
        breakdown: "count",
        breakdown_value: count,
        numerator: num,
        denominator: &[],
        value: Value::PerTenThousand,
    }
}

const D5_AT31: &[(Table, &str)] = &[(Table::D5, "CPP_At31")];
const C1_REFERRALS: &[(Table, &str)] = &[(Table::C1, "referral_count")];

/// Every series of the asset, in its order. Measure ids and breakdowns are the measures table's
/// (`src/measures/mod.rs` CATALOGUE, `queries/*.sql`) where the DfE figure is the same measure;
/// `s47_to_icpc` and `icpc_to_cpp` are the DfE's year counts, not our cohorts (kept for England's
/// line in the report, as the former `assets/england_benchmarks.csv` had them); `assessment_not_in_need` is
/// the DfE's share of referrals, where ours is a share of assessments (see
/// [`crate::compare::reconcile::known_differences`]).
pub const SERIES: &[SeriesSpec] = &[
    pct(
        "rereferral_12m",
        &[(Table::C1, "rereferral_count")],
        C1_REFERRALS,
        Table::C1,
        "rereferral_percent",
    ),
    pct(
        "referral_nfa",
        &[(Table::C1, "no_further_action_count")],
        C1_REFERRALS,
        Table::C1,
        "no_further_action_percent",
    ),
    pct(
        "assessment_not_in_need",
        &[(Table::C1, "not_in_need_count")],
        C1_REFERRALS,
        Table::C1,
        "not_in_need_percent",
    ),
    SeriesSpec {
        measure_id: "s47_to_icpc",
        breakdown: "NONE",
        breakdown_value: "",
        numerator: &[(Table::C4, "ICPC")],
        denominator: &[(Table::C4, "Section47")],
        value: Value::Ratio,
    },
    SeriesSpec {
        measure_id: "icpc_15wd",
        breakdown: "NONE",
        breakdown_value: "",
        numerator: &[
            (Table::C4, "Duration_0-10_days"),
            (Table::C4, "Duration_11-15_days"),
        ],
        denominator: C4_BANDS,
        value: Value::Ratio,
    },
    band(
        "icpc_duration_band",
        "0-10",
        &[(Table::C4, "Duration_0-10_days")],
        C4_BANDS,
        Value::Ratio,
    ),
    band(
        "icpc_duration_band",
        "11-15",
        &[(Table::C4, "Duration_11-15_days")],
        C4_BANDS,
        Value::Ratio,
    ),
    band(
        "icpc_duration_band",
        "16-20",
        &[(Table::C4, "Duration_16-20_days")],
        C4_BANDS,
        Value::Ratio,
    ),
    band(
        "icpc_duration_band",
        "21+",
        &[(Table::C4, "Duration_21+_days")],
        C4_BANDS,
        Value::Ratio,
    ),
    stat("p25", "Duration_25th_Percentile"),
    stat("median", "Duration_median"),
    stat("p75", "Duration_75th_Percentile"),
    SeriesSpec {
        measure_id: "icpc_to_cpp",
        breakdown: "NONE",
        breakdown_value: "",
        numerator: &[(Table::D3, "CPP_start")],
        denominator: &[(Table::C4, "ICPC")],
        value: Value::Ratio,
    },
    pct(
        "cpp_second_or_subsequent",
        &[(Table::D3, "CPP_subsequent")],
        &[(Table::D3, "CPP_start")],
        Table::D3,
        "CPP_subsequent_percent",
    ),
    band(
        "cpp_duration_open",
        "3 months or less",
        &[(Table::D5, "3_months_or_less")],
        D5_AT31,
        Value::Percent(Table::D5, "3_months_or_less_percent"),
    ),
    band(
        "cpp_duration_open",
        "more than 3 to 6 months",
        &[(Table::D5, "more_than_3_months_6_months")],
        D5_AT31,
        Value::Percent(Table::D5, "more_than_3_months_6_months_percent"),
    ),
    band(
        "cpp_duration_open",
        "more than 6 months to less than 1 year",
        &[(Table::D5, "more_than_6_months_less_than_1_year")],
        D5_AT31,
        Value::Percent(Table::D5, "more_than_6_months_less_than_1_year_percent"),
    ),
    band(
        "cpp_duration_open",
        "1 to less than 2 years",
        &[(Table::D5, "1_year_less_than_2_years")],
        D5_AT31,
        Value::Percent(Table::D5, "1_year_less_than_2_years_percent"),
    ),
    band(
        "cpp_duration_open",
        "2 years or more",
        &[(Table::D5, "2_years_or_more")],
        D5_AT31,
        Value::Percent(Table::D5, "2_years_or_more_percent"),
    ),
    rate("referrals", C1_REFERRALS),
    rate("s47", &[(Table::C4, "Section47")]),
    rate("icpc", &[(Table::C4, "ICPC")]),
    rate("cpp_started", &[(Table::D3, "CPP_start")]),
    rate("cpp_open", D5_AT31),
    rate("cin_open", &[(Table::B1, "At31_episodes")]),
];

/// The asset's columns, in order.
pub const COLUMNS: &[&str] = &[
    "measure_id",
    "breakdown",
    "breakdown_value",
    "year",
    "level",
    "la_code",
    "region",
    "name",
    "numerator",
    "denominator",
    "value",
    "symbol",
];

/// A cell: a number, or the publication's symbol for a missing one.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Number(f64),
    Symbol(String),
}

/// An area of one DfE row: (time_period, level, code). Level is `national`, `regional` or `la`;
/// the code is the region code (regional), the three-digit LA number (la) or empty (national).
type Key = (i32, &'static str, String);

/// One area's identity.
#[derive(Debug, Clone, Default)]
struct Area {
    region: String,
    name: String,
}

/// One DfE file read: per area, its cells by column name.
struct Loaded {
    path: PathBuf,
    rows: BTreeMap<Key, (usize, BTreeMap<String, String>)>,
    areas: BTreeMap<Key, Area>,
    header: Vec<String>,
}

/// London's boroughs carry their sub-region (Inner / Outer London, E13...) in the DfE's LA rows;
/// an LA's region for comparison is its English region (E12...), so those two map to London.
fn english_region(code: &str) -> String {
    match code {
        "E13000001" | "E13000002" => "E12000007".into(),
        c => c.into(),
    }
}

fn level_of(path: &Path, line: usize, s: &str) -> Result<&'static str, UserError> {
    match s {
        "National" => Ok("national"),
        "Regional" => Ok("regional"),
        "Local authority" => Ok("la"),
        other => Err(UserError::at(
            path,
            &line.to_string(),
            format!("geographic_level '{other}' is not National, Regional or Local authority"),
        )),
    }
}

fn load(path: &Path) -> Result<Loaded, UserError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError::file(path, format!("cannot read: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| UserError::file(path, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    for need in [
        "time_period",
        "geographic_level",
        "region_code",
        "region_name",
        "old_la_code",
        "la_name",
    ] {
        if !header.iter().any(|h| h == need) {
            return Err(UserError::file(path, format!("no column '{need}'")));
        }
    }
    let mut rows = BTreeMap::new();
    let mut areas = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| UserError::at(path, &line.to_string(), e.to_string()))?;
        let cells: BTreeMap<String, String> = header
            .iter()
            .cloned()
            .zip(rec.iter().map(|s| s.trim().to_string()))
            .collect();
        let get = |c: &str| cells.get(c).cloned().unwrap_or_default();
        let year: i32 = get("time_period").parse().map_err(|_| {
            UserError::at(
                path,
                &line.to_string(),
                format!("time_period '{}' is not a year", get("time_period")),
            )
        })?;
        let level = level_of(path, line, &get("geographic_level"))?;
        let (code, area) = match level {
            "national" => (
                String::new(),
                Area {
                    region: String::new(),
                    name: get("country_name"),
                },
            ),
            "regional" => (
                get("region_code"),
                Area {
                    region: get("region_code"),
                    name: get("region_name"),
                },
            ),
            _ => (
                get("old_la_code"),
                Area {
                    region: english_region(&get("region_code")),
                    name: get("la_name"),
                },
            ),
        };
        if code.is_empty() && level != "national" {
            return Err(UserError::at(
                path,
                &line.to_string(),
                format!("a {level} row with no code"),
            ));
        }
        let key = (year, level, code);
        if rows.contains_key(&key) {
            return Err(UserError::at(
                path,
                &line.to_string(),
                format!("a second row for {} {} {}", key.0, key.1, key.2),
            ));
        }
        areas.insert(key.clone(), area);
        rows.insert(key, (line, cells));
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        rows,
        areas,
        header,
    })
}

impl Loaded {
    /// The cell `column` of the row `key` (None: no such row).
    fn cell(&self, key: &Key, column: &str) -> Result<Option<Cell>, UserError> {
        let Some((line, cells)) = self.rows.get(key) else {
            return Ok(None);
        };
        let Some(text) = cells.get(column) else {
            return Err(UserError::file(&self.path, format!("no column '{column}'")));
        };
        if let Ok(v) = text.parse::<f64>() {
            if v.is_finite() {
                return Ok(Some(Cell::Number(v)));
            }
        }
        if SYMBOLS.contains(&text.as_str()) {
            return Ok(Some(Cell::Symbol(text.clone())));
        }
        let col = self.header.iter().position(|h| h == column).unwrap_or(0) + 1;
        Err(UserError::at(
            &self.path,
            &format!("{line}:{col}"),
            format!("'{text}' in {column} is neither a number nor an EES symbol ({SYMBOLS:?})"),
        ))
    }
}

/// One statistical-neighbour link: (model, LA, rank, neighbour).
pub type NeighbourLink = (String, String, u32, String);

/// One row of the asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRow {
    pub measure_id: String,
    pub breakdown: String,
    pub breakdown_value: String,
    pub year: String,
    pub level: String,
    pub la_code: String,
    pub region: String,
    pub name: String,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub value: Option<f64>,
    pub symbol: String,
}

/// Sums cells: Ok(sum) or Err(the first symbol met). None when a row is absent.
fn sum(cells: &[Option<Cell>]) -> Option<Result<f64, String>> {
    let mut total = 0.0;
    for c in cells {
        match c.as_ref()? {
            Cell::Number(v) => total += v,
            Cell::Symbol(s) => return Some(Err(s.clone())),
        }
    }
    Some(Ok(total))
}

/// The one `.csv` file in `dir` whose name starts with `prefix`.
fn find(dir: &Path, prefix: &str) -> Result<PathBuf, UserError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| UserError::file(dir, format!("cannot read: {e}")))?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".csv"))
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(UserError::file(dir, format!("no file {prefix}*.csv"))),
        _ => Err(UserError::file(
            dir,
            format!("more than one file {prefix}*.csv: keep only the latest publication"),
        )),
    }
}

/// Reads the DfE files in `from/dfe/` and builds the asset's rows and the neighbour table
/// (`model, la_code, rank, neighbour`).
pub fn build(from: &Path) -> Result<Asset> {
    let dir = from.join("dfe");
    let mut tables: BTreeMap<Table, Loaded> = BTreeMap::new();
    for (t, prefix) in FILES {
        tables.insert(*t, load(&find(&dir, prefix)?)?);
    }
    // Population: (level, code) -> mid-year -> children aged 0-17.
    let ons = &tables[&Table::Ons];
    let mut population: BTreeMap<(&'static str, String), BTreeMap<i32, Cell>> = BTreeMap::new();
    for key in ons.rows.keys() {
        if let Some(c) = ons.cell(key, "population_estimate")? {
            population
                .entry((key.1, key.2.clone()))
                .or_default()
                .insert(key.0, c);
        }
    }
    let mut out = vec![];
    for s in SERIES {
        // The areas of the series: those of the table its value (or numerator) comes from.
        let first = match s.value {
            Value::Percent(t, _) | Value::Stat(t, _) => t,
            _ => s.numerator[0].0,
        };
        let source = &tables[&first];
        for key in source.rows.keys() {
            let cells = |cols: &[(Table, &str)]| -> Result<Vec<Option<Cell>>, UserError> {
                cols.iter().map(|(t, c)| tables[t].cell(key, c)).collect()
            };
            let num = sum(&cells(s.numerator)?);
            let den = match s.value {
                Value::PerTenThousand => {
                    // The mid-year of the calendar year the reporting year starts in, else the
                    // latest earlier one (queries/rates.sql).
                    let by_year = population.get(&(key.1, key.2.clone()));
                    Some(match by_year.and_then(|m| m.range(..key.0).next_back()) {
                        Some((_, Cell::Number(p))) => Ok(*p),
                        Some((_, Cell::Symbol(s))) => Err(s.clone()),
                        None => Err("x".to_string()),
                    })
                }
                _ => sum(&cells(s.denominator)?),
            };
            let (value, symbol) = match s.value {
                Value::Percent(t, c) | Value::Stat(t, c) => {
                    let scale = if matches!(s.value, Value::Percent(..)) {
                        100.0
                    } else {
                        1.0
                    };
                    match tables[&t].cell(key, c)? {
                        Some(Cell::Number(v)) => (Some(v / scale), String::new()),
                        Some(Cell::Symbol(x)) => (None, x),
                        None => (None, "x".into()),
                    }
                }
                Value::Ratio | Value::PerTenThousand => {
                    let per = if matches!(s.value, Value::PerTenThousand) {
                        10_000.0
                    } else {
                        1.0
                    };
                    match (&num, &den) {
                        (Some(Ok(n)), Some(Ok(d))) if *d > 0.0 => {
                            (Some(n / d * per), String::new())
                        }
                        // Nothing to divide by: not applicable.
                        (Some(Ok(_)), Some(Ok(_))) => (None, "z".into()),
                        (Some(Err(x)), _) | (_, Some(Err(x))) => (None, x.clone()),
                        _ => (None, "x".into()),
                    }
                }
            };
            let count = |c: &Option<Result<f64, String>>| match c {
                Some(Ok(v)) => Some(v.round() as i64),
                _ => None,
            };
            let area = source.areas.get(key).cloned().unwrap_or_default();
            out.push(AssetRow {
                measure_id: s.measure_id.into(),
                breakdown: s.breakdown.into(),
                breakdown_value: s.breakdown_value.into(),
                year: FinYear(key.0 - 1).to_string(),
                level: key.1.into(),
                la_code: if key.1 == "la" {
                    key.2.clone()
                } else {
                    String::new()
                },
                region: area.region,
                name: area.name,
                numerator: if s.numerator.is_empty() {
                    None
                } else {
                    count(&num)
                },
                denominator: if s.numerator.is_empty() {
                    None
                } else {
                    count(&den)
                },
                value,
                symbol,
            });
        }
    }
    let level_order = |l: &str| match l {
        "national" => 0,
        "regional" => 1,
        _ => 2,
    };
    let series_order = |r: &AssetRow| {
        SERIES
            .iter()
            .position(|s| {
                s.measure_id == r.measure_id
                    && s.breakdown == r.breakdown
                    && s.breakdown_value == r.breakdown_value
            })
            .unwrap_or(usize::MAX)
    };
    out.sort_by(|a, b| {
        (
            series_order(a),
            &a.year,
            level_order(&a.level),
            &a.region,
            &a.la_code,
        )
            .cmp(&(
                series_order(b),
                &b.year,
                level_order(&b.level),
                &b.region,
                &b.la_code,
            ))
    });
    let mut neighbours = vec![];
    for (model, file, code_col, prefix) in NEIGHBOUR_FILES {
        neighbours.extend(read_neighbours(&dir.join(file), model, code_col, prefix)?);
    }
    Ok(Asset {
        rows: out,
        neighbours,
    })
}

/// Reads a statistical-neighbour file: every row whose code is a number, its ten neighbours in
/// order (columns `<prefix>1`..`<prefix>10`). Blank rows and the 2021 file's "Old SNs:" heading
/// are skipped; its older LAs (Northamptonshire 928, the pre-2019 Dorset councils) are kept.
fn read_neighbours(
    path: &Path,
    model: &str,
    code_col: &str,
    prefix: &str,
) -> Result<Vec<NeighbourLink>, UserError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError::file(path, format!("cannot read: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| UserError::file(path, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| UserError::file(path, format!("no column '{name}'")))
    };
    let code_at = at(code_col)?;
    let sn_at: Vec<usize> = (1..=10)
        .map(|i| at(&format!("{prefix}{i}")))
        .collect::<Result<_, _>>()?;
    let mut out = vec![];
    let mut seen = std::collections::BTreeSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| UserError::at(path, &line.to_string(), e.to_string()))?;
        let code = rec.get(code_at).unwrap_or("").trim();
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if !seen.insert(code.to_string()) {
            return Err(UserError::at(
                path,
                &line.to_string(),
                format!("a second row for LA {code}"),
            ));
        }
        for (rank, at) in sn_at.iter().enumerate() {
            let n = rec.get(*at).unwrap_or("").trim();
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
                return Err(UserError::at(
                    path,
                    &format!("{line}:{}", at + 1),
                    format!("neighbour '{n}' is not an LA number"),
                ));
            }
            out.push((
                model.to_string(),
                code.to_string(),
                rank as u32 + 1,
                n.to_string(),
            ));
        }
    }
    Ok(out)
}

/// The asset rows as a DataFrame (columns [`COLUMNS`]).
pub fn asset_frame(rows: &[AssetRow]) -> Result<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&AssetRow) -> &str| -> Column {
        Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into()
    };
    Ok(DataFrame::new(
        rows.len(),
        vec![
            text("measure_id", &|r| &r.measure_id),
            text("breakdown", &|r| &r.breakdown),
            text("breakdown_value", &|r| &r.breakdown_value),
            text("year", &|r| &r.year),
            text("level", &|r| &r.level),
            text("la_code", &|r| &r.la_code),
            text("region", &|r| &r.region),
            text("name", &|r| &r.name),
            Series::new(
                "numerator".into(),
                rows.iter().map(|r| r.numerator).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "denominator".into(),
                rows.iter().map(|r| r.denominator).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "value".into(),
                rows.iter().map(|r| r.value).collect::<Vec<_>>(),
            )
            .into(),
            text("symbol", &|r| &r.symbol),
        ],
    )?)
}

/// The neighbour table as CSV text.
pub fn neighbours_csv(rows: &[NeighbourLink]) -> String {
    let mut s = String::from("model,la_code,rank,neighbour\n");
    for (m, la, r, n) in rows {
        s.push_str(&format!("{m},{la},{r},{n}\n"));
    }
    s
}

/// The file names written in the output folder.
pub const ASSET_FILE: &str = "dfe.parquet";
pub const NEIGHBOURS_FILE: &str = "neighbours.csv";

/// The asset as built from a folder of the DfE's files ([`build`]).
pub struct Asset {
    pub rows: Vec<AssetRow>,
    pub neighbours: Vec<NeighbourLink>,
}

impl Asset {
    /// Writes [`ASSET_FILE`] and [`NEIGHBOURS_FILE`] into `dir` (created if absent); returns
    /// their paths.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)
            .map_err(|e| UserError::file(dir, format!("cannot create folder: {e}")))?;
        let asset = dir.join(ASSET_FILE);
        let mut df = asset_frame(&self.rows)?;
        crate::store::write_parquet(&asset, &mut df)
            .map_err(|e| UserError::file(&asset, format!("cannot write: {e:#}")))?;
        let nb = dir.join(NEIGHBOURS_FILE);
        std::fs::write(&nb, neighbours_csv(&self.neighbours))
            .map_err(|e| UserError::file(&nb, format!("cannot write: {e}")))?;
        Ok((asset, nb))
    }

    /// The first and last reporting year of the rows (`-` when there are none).
    pub fn years(&self) -> (&str, &str) {
        let years: std::collections::BTreeSet<&str> =
            self.rows.iter().map(|r| r.year.as_str()).collect();
        (
            years.first().copied().unwrap_or("-"),
            years.last().copied().unwrap_or("-"),
        )
    }
}
