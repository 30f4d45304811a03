//! `safeguard report`: the annual partnership report (report.md) - every chart as PNG and SVG, the
//! table behind each chart as CSV (suppressed), `data-quality.csv`, and one self-contained
//! `index.html` a board chair can publish.
//!
//! The report reads only the measures table (this year and the two before, for trends) and the
//! store's data-quality table: it never recomputes a figure, so every number in it is the
//! measures table's.

pub mod benchmarks;
pub mod chart;
pub mod charts;
pub mod html;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use crate::config::Config;
use crate::measures::{FinYear, MeasureRow, MeasuresOutput, ALL};
use crate::store::{write_csv, Store};
use benchmarks::Benchmarks;
use chart::Chart;

/// One published table: a header and rows of text cells (already suppressed).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Whether small-number suppression changed any cell.
    pub suppressed: bool,
}

impl Table {
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut w =
            csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
        w.write_record(&self.header)?;
        for r in &self.rows {
            w.write_record(r)?;
        }
        w.flush()?;
        Ok(())
    }
}

/// A chart with the table behind it.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Section number and heading in the report.
    pub section: usize,
    pub heading: String,
    pub chart: Chart,
    pub table: Table,
}

/// Everything the report needs, looked up by measure id.
pub struct ReportData<'a> {
    pub rows: &'a [MeasureRow],
    pub year: FinYear,
    pub las: Vec<(String, String)>,
    pub benchmarks: &'a Benchmarks,
    pub threshold: u64,
    pub partnership: String,
    /// Every published table goes through it (cdop.md section 4).
    pub sup: crate::suppress::Suppressor,
}

impl ReportData<'_> {
    /// The row for (measure, period, la, breakdown, value).
    pub fn row(&self, m: &str, period: FinYear, la: &str, b: &str, v: &str) -> Option<&MeasureRow> {
        let p = period.to_string();
        self.rows.iter().find(|r| {
            r.measure_id == m
                && r.period == p
                && r.la_code == la
                && r.breakdown == b
                && r.breakdown_value == v
        })
    }
    /// The partnership's headline row.
    pub fn all(&self, m: &str, period: FinYear) -> Option<&MeasureRow> {
        self.row(m, period, ALL, "NONE", "")
    }
    /// Rows of one breakdown for the partnership.
    pub fn breakdown(&self, m: &str, period: FinYear, b: &str) -> Vec<&MeasureRow> {
        let p = period.to_string();
        self.rows
            .iter()
            .filter(|r| r.measure_id == m && r.period == p && r.la_code == ALL && r.breakdown == b)
            .collect()
    }
    /// True when a count is small enough to identify (1..=threshold).
    pub fn small(&self, n: f64) -> bool {
        n >= 1.0 && n <= self.threshold as f64
    }
    /// A count as published: `c` when small.
    pub fn count(&self, n: f64) -> String {
        if self.small(n) {
            "c".into()
        } else {
            format!("{}", n.round() as i64)
        }
    }
    /// A fraction as published: suppressed with its numerator or denominator.
    pub fn pct(&self, r: &MeasureRow) -> String {
        if self.small(r.numerator) || self.small(r.denominator) {
            return "c".into();
        }
        r.value
            .map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
    }
}

/// What the report wrote.
#[derive(Debug)]
pub struct ReportSummary {
    pub dir: PathBuf,
    pub figures: usize,
    pub files: Vec<PathBuf>,
}

/// Writes the report for `year` into `out_dir` (created). `measures` must hold `year` and, for
/// trends, the years before it.
pub fn write_report(
    store: &Store,
    cfg: &Config,
    measures: &MeasuresOutput,
    year: FinYear,
    benchmarks: &Benchmarks,
    out_dir: &Path,
) -> Result<ReportSummary> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let data = ReportData {
        rows: &measures.rows,
        year,
        las: cfg
            .las
            .iter()
            .map(|l| (l.code.clone(), l.name.clone()))
            .collect(),
        benchmarks,
        threshold: cfg.suppression_threshold as u64,
        partnership: cfg.partnership.clone(),
        sup: crate::suppress::Suppressor::new(cfg.suppression_threshold)?,
    };
    let figures = charts::all(&data);
    let mut files = vec![];
    for f in &figures {
        let png = out_dir.join(format!("{}.png", f.chart.id));
        chart::render_png(&f.chart, &png)?;
        let svg = out_dir.join(format!("{}.svg", f.chart.id));
        std::fs::write(&svg, chart::render_svg(&f.chart)?)?;
        let csv = out_dir.join(format!("{}.csv", f.chart.id));
        f.table.write_csv(&csv)?;
        files.extend([png, svg, csv]);
    }
    // The measures table as published: suppressed (the analyst's own copy is unsuppressed).
    let published = data.sup.suppress_measures(&measures.frame()?)?;
    let mpath = out_dir.join("measures.csv");
    let mut frame = published.frame;
    write_csv(&mpath, &mut frame)?;
    files.push(mpath);
    let dq = out_dir.join("data-quality.csv");
    data_quality(store, measures, year)?.write_csv(&dq)?;
    files.push(dq);
    let summary = html::summary_table(&data);
    let index = out_dir.join("index.html");
    std::fs::write(&index, html::page(&data, measures, &summary, &figures)?)?;
    files.push(index);
    Ok(ReportSummary {
        dir: out_dir.to_path_buf(),
        figures: figures.len(),
        files,
    })
}

/// `data-quality.csv`: rows excluded from each measure this year, and the store's data-quality
/// flags by table and reason.
fn data_quality(store: &Store, measures: &MeasuresOutput, year: FinYear) -> Result<Table> {
    let mut t = Table {
        header: vec![
            "kind".into(),
            "subject".into(),
            "reason".into(),
            "rows".into(),
        ],
        ..Default::default()
    };
    let p = year.to_string();
    for r in measures
        .rows
        .iter()
        .filter(|r| r.period == p && r.la_code == ALL && r.breakdown == "NONE")
    {
        if r.excluded > 0 {
            t.rows.push(vec![
                "measure exclusion".into(),
                r.measure_id.clone(),
                "left out of numerator and denominator (a broken clock or link, or out of scope; see the measure's definition)".into(),
                r.excluded.to_string(),
            ]);
        }
    }
    for (subject, reason, n) in &measures.data_quality {
        t.rows.push(vec![
            "data quality".into(),
            subject.clone(),
            reason.clone(),
            n.to_string(),
        ]);
    }
    for (m, why) in &measures.not_measurable {
        t.rows.push(vec![
            "not measurable".into(),
            m.clone(),
            why.clone(),
            String::new(),
        ]);
    }
    let dq = store.read_table("data_quality")?;
    if dq.height() > 0 {
        let agg = dq
            .lazy()
            .group_by([col("table"), col("flag"), col("column")])
            .agg([len().alias("n")])
            .sort(["table", "flag", "column"], Default::default())
            .collect()?;
        let tables = agg.column("table")?.str()?.clone();
        let flags = agg.column("flag")?.str()?.clone();
        let cols = agg.column("column")?.str()?.clone();
        let n = agg.column("n")?.cast(&DataType::Int64)?;
        for (((tb, fl), c), n) in tables
            .iter()
            .zip(flags.iter())
            .zip(cols.iter())
            .zip(n.i64()?.iter())
        {
            t.rows.push(vec![
                "store flag".into(),
                format!("{}.{}", tb.unwrap_or(""), c.unwrap_or("")),
                fl.unwrap_or("").to_string(),
                n.unwrap_or(0).to_string(),
            ]);
        }
    }
    let rejects = store.read_table("rejects")?;
    if rejects.height() > 0 {
        t.rows.push(vec![
            "rejected rows".into(),
            "all tables".into(),
            "could not be stored (see the store's rejects.csv)".into(),
            rejects.height().to_string(),
        ]);
    }
    Ok(t)
}

/// Writes a DataFrame as CSV (re-exported for callers that publish frames).
pub fn write_frame(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_csv(path, df)
}
