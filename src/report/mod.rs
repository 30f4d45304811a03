//! `safeguard report`: the annual partnership report (report.md) - every chart as PNG and SVG, the
//! table behind each chart as CSV (suppressed), `summary.csv`, `compare.csv`, `measures.csv`,
//! `data-quality.csv`, one self-contained `index.html` a board chair can publish (WCAG 2.2 AA),
//! and `report.xlsx` with every published CSV as a sheet.
//!
//! The report reads only the measures table (this year and the two before, for trends), the
//! store's data-quality table and the shipped DfE benchmark asset (for England and the
//! statistical neighbours, [`comparison`]): it never recomputes a figure, so every number of ours
//! in it is the measures table's.
//!
//! Suppression (src/suppress.rs, the one piece): the measures table is suppressed first, as the
//! report publishes it (`measures.csv`), and every other number the report prints - chart bars
//! and labels, the tables behind the charts, the summary table, `compare.csv`, the one-line
//! readings - starts from those published cells. A number derived from a suppressed cell (a
//! quarter's sum of months, a share) is suppressed too, and the charts' own tables then get their
//! own secondary suppression (`Suppressor::suppress_grid_hidden`). The one table pooled across
//! years with categories combined (child deaths, chart 9) is audited against the yearly cells it
//! is summed from ([`audit`]). So nothing `measures.csv` hides can be recovered from the rest. A
//! reading never prints `c`: a count withheld for being small is "fewer than N", a clause whose
//! number is withheld to protect another is left out ([`charts::count_phrase`]).
//!
//! Adding a chart (e.g. the "How we compare" section): build a [`chart::Chart`] (its values
//! [`chart::Point`]s: `Shown`, `Withheld` for a suppressed value - drawn as a hatched stub, never
//! zero - or `Missing`), with the suppressed series from [`charts::count_series`] /
//! [`charts::series_from_grid`] (counts) or the published shares; its [`Table`] (what its CSV
//! and the page's data table show); a reading; and push a [`Figure`] into [`charts::all`]'s list.
//! `write_report` writes its PNG, SVG (with `<title>` and `<desc>`, [`chart::describe`]) and
//! CSV, and [`html::figure`] puts it on the page with its data table: the conventions (patterns
//! and markers per series, the palette at 3:1, the withheld legend, footnote and notes) come with
//! it.

pub mod audit;
pub mod benchmarks;
pub mod chart;
pub mod charts;
pub mod comparison;
pub mod html;
pub mod stats;
pub mod workbook;

use std::path::{Path, PathBuf};

use anyhow::Result;
use polars::prelude::*;

use crate::config::Config;
use crate::measures::{MeasureRow, MeasuresOutput, ALL};
use crate::period::FinYear;
use crate::store::Store;
use crate::suppress::{Cell, Share};
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
    /// Writes the table through the one CSV writer (formula-like cells escaped).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        crate::csv_out::write_rows(path, &self.header, &self.rows)
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
    /// The published cells of each row (numerator, denominator, excluded, pending), as in the
    /// report's `measures.csv`; aligned with `rows`.
    pub cells: &'a [[Cell; 4]],
    pub year: FinYear,
    pub las: Vec<(String, String)>,
    pub benchmarks: &'a Benchmarks,
    pub threshold: u64,
    pub partnership: String,
    /// Every published table goes through it (cdop.md section 4).
    pub sup: crate::suppress::Suppressor,
    /// The comparison with the DfE's published figures for the report's years
    /// ([`comparison::compute`]).
    pub compare: &'a [crate::compare::CompareRow],
}

/// One row of the measures table as published: the row and its cells after suppression.
#[derive(Debug, Clone, Copy)]
pub struct Published<'a> {
    pub row: &'a MeasureRow,
    pub num: Cell,
    pub den: Cell,
    pub excluded: Cell,
    pub pending: Cell,
}

impl Published<'_> {
    /// The row's value as published: None when it is suppressed (with its numerator or
    /// denominator) or not defined.
    pub fn value(&self) -> Option<f64> {
        if self.num.is_suppressed() || self.den.is_suppressed() {
            None
        } else {
            self.row.value
        }
    }
    /// The share numerator / denominator as published.
    pub fn share(&self) -> Share {
        crate::suppress::share(self.num, self.den)
    }
}

impl ReportData<'_> {
    /// The row for (measure, period, la, breakdown, value), as published.
    pub fn row(
        &self,
        m: &str,
        period: FinYear,
        la: &str,
        b: &str,
        v: &str,
    ) -> Option<Published<'_>> {
        let p = period.to_string();
        self.rows
            .iter()
            .position(|r| {
                r.measure_id == m
                    && r.period == p
                    && r.la_code == la
                    && r.breakdown == b
                    && r.breakdown_value == v
            })
            .map(|i| self.published(i))
    }
    fn published(&self, i: usize) -> Published<'_> {
        let [num, den, excluded, pending] = self.cells[i];
        Published {
            row: &self.rows[i],
            num,
            den,
            excluded,
            pending,
        }
    }
    /// The partnership's headline row.
    pub fn all(&self, m: &str, period: FinYear) -> Option<Published<'_>> {
        self.row(m, period, ALL, "NONE", "")
    }
    /// A share as the report prints it (`82.4%`), or `c` when suppressed, `-` when not defined.
    pub fn pct_cell(&self, r: &Published) -> String {
        match r.share() {
            Share::Suppressed => crate::suppress::SUPPRESSED.into(),
            _ => r
                .value()
                .map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0)),
        }
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
    crate::csv_out::writable_dir(out_dir)?;
    let sup = crate::suppress::Suppressor::new(cfg.suppression_threshold)?;
    // The measures table as published: suppressed (the analyst's own copy is unsuppressed).
    // Every other number of the report starts from its cells.
    let published = sup.suppress_measures(&measures.frame()?)?;
    // The comparison with the DfE's figures (issue 13), for the years the measures hold up to
    // the report's: offline, from the shipped asset.
    let mut years: Vec<FinYear> = measures
        .rows
        .iter()
        .filter_map(|r| r.period.parse::<FinYear>().ok())
        .filter(|y| *y <= year)
        .collect();
    years.sort();
    years.dedup();
    let las: Vec<String> = cfg.las.iter().map(|l| l.code.clone()).collect();
    let compare_rows = comparison::compute(measures, &las, &years);
    let data = ReportData {
        rows: &measures.rows,
        cells: &published.cells,
        year,
        las: cfg
            .las
            .iter()
            .map(|l| (l.code.clone(), l.name.clone()))
            .collect(),
        benchmarks,
        threshold: cfg.suppression_threshold as u64,
        partnership: cfg.partnership.clone(),
        sup,
        compare: &compare_rows,
    };
    let figures = charts::all(&data);
    let mut files = vec![];
    for f in &figures {
        let png = out_dir.join(format!("{}.png", f.chart.id));
        let svg = out_dir.join(format!("{}.svg", f.chart.id));
        let csv = out_dir.join(format!("{}.csv", f.chart.id));
        for p in [&png, &svg, &csv] {
            crate::csv_out::writable_file(p)?;
        }
        chart::render_png(&f.chart, &png)?;
        crate::csv_out::write_bytes(&svg, chart::render_svg(&f.chart)?.as_bytes())?;
        f.table.write_csv(&csv)?;
        files.extend([png, svg, csv]);
    }
    let mpath = out_dir.join("measures.csv");
    crate::csv_out::write_frame(&mpath, &published.frame)?;
    files.push(mpath);
    let dq = out_dir.join("data-quality.csv");
    data_quality(store, measures, &data)?.write_csv(&dq)?;
    files.push(dq);
    let cpath = out_dir.join("compare.csv");
    let cframe = comparison::published_frame(&compare_rows, measures, &published.cells)?;
    crate::csv_out::write_frame(&cpath, &cframe)?;
    files.push(cpath);
    let summary = html::summary_table(&data);
    let spath = out_dir.join("summary.csv");
    summary.write_csv(&spath)?;
    files.push(spath);
    let index = out_dir.join("index.html");
    crate::csv_out::write_bytes(
        &index,
        html::page(&data, measures, &summary, &figures)?.as_bytes(),
    )?;
    files.push(index);
    // Every CSV written above, one sheet each (src/report/workbook.rs).
    let xlsx = workbook::write(out_dir, &files, &data, measures, &figures)?;
    files.push(xlsx);
    Ok(ReportSummary {
        dir: out_dir.to_path_buf(),
        figures: figures.len(),
        files,
    })
}

/// `data-quality.csv`: rows excluded from each measure this year, and the store's data-quality
/// flags by table and reason.
///
/// Its counts are published too: a measure's exclusions are the published measures table's
/// cells (suppressed there with their lines), and the other counts, which add up to no total
/// printed anywhere, go through primary suppression on their own.
fn data_quality(store: &Store, measures: &MeasuresOutput, d: &ReportData) -> Result<Table> {
    let year = d.year;
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
    for (i, r) in measures.rows.iter().enumerate() {
        if !(r.period == p && r.la_code == ALL && r.breakdown == "NONE") || r.excluded == 0 {
            continue;
        }
        t.rows.push(vec![
            "measure exclusion".into(),
            r.measure_id.clone(),
            "left out of numerator and denominator (a broken clock or link, or out of scope; see the measure's definition)".into(),
            d.published(i).excluded.to_string(),
        ]);
    }
    let count = |n: u64| d.sup.cell(n).to_string();
    for (subject, reason, n) in &measures.data_quality {
        t.rows.push(vec![
            "data quality".into(),
            subject.clone(),
            reason.clone(),
            count(*n),
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
                count(n.unwrap_or(0).max(0) as u64),
            ]);
        }
    }
    let rejects = store.read_table("rejects")?;
    if rejects.height() > 0 {
        t.rows.push(vec![
            "rejected rows".into(),
            "all tables".into(),
            "could not be stored (see the store's rejects.csv)".into(),
            count(rejects.height() as u64),
        ]);
    }
    t.suppressed = t.rows.iter().any(|r| r[3] == crate::suppress::SUPPRESSED);
    Ok(t)
}

/// Writes a DataFrame as CSV through the one CSV writer (for callers that publish frames).
pub fn write_frame(path: &Path, df: &mut DataFrame) -> Result<()> {
    crate::csv_out::write_frame(path, df)
}
