//! Small-number suppression for every output meant for publication (cdop.md section 4): the one
//! piece every published table goes through.
//!
//! - Primary: a count of 1 to `threshold` (inclusive; default 5) is shown as `c`; zero is shown
//!   as 0 and never suppressed.
//! - Secondary: in any row or column (a *line*: a set of cells that add up to a total, the total
//!   itself included when it is shown) holding exactly one suppressed cell, the smallest
//!   unsuppressed non-zero cell of that line is suppressed too (an inner cell before a total; ties
//!   go to the first), repeated over every line until nothing changes, so that no suppressed value
//!   can be recovered by subtraction from a total.
//! - A percentage whose numerator or denominator is suppressed is suppressed.
//! - Every result says whether suppression was applied.
//!
//! The rule is applied to lines as such: a line of a grid is checked whether or not its total is
//! printed beside it (the total may be published elsewhere). Relations *between* tables (one
//! measure's denominator minus another's) are outside its reach: a publication should not print
//! two tables whose difference is a small count.
//!
//! Tables printed beside one already published (the report's charts beside its `measures.csv`)
//! start from that table's suppressed cells ([`SuppressedFrame::cells`]): a cell suppressed there,
//! or summed from one that is, is hidden from the start, with the totals of its lines
//! ([`Suppressor::suppress_grid_hidden`]), so the second table shows nothing the first hides.
//!
//! [`Suppressor::suppress_grid`] works on a plain table of counts; [`Suppressor::suppress_measures`]
//! on the tidy measures table (measures.md section 5), where each (measure, period, breakdown) is a
//! grid of LAs by breakdown values whose row totals are the LAs' `NONE` rows and whose column
//! totals are the partnership's (`ALL`) rows.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Result};
use polars::prelude::*;

/// The default threshold: counts of 1 to 5 are suppressed.
pub const DEFAULT_THRESHOLD: u32 = 5;
/// How a suppressed value is shown.
pub const SUPPRESSED: &str = "c";

/// Applies small-number suppression with a threshold of at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suppressor {
    threshold: u32,
}

impl Default for Suppressor {
    fn default() -> Self {
        Suppressor {
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

/// One published count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Shown(u64),
    Suppressed,
}

impl Cell {
    pub fn is_suppressed(&self) -> bool {
        matches!(self, Cell::Suppressed)
    }
    pub fn shown(&self) -> Option<u64> {
        match self {
            Cell::Shown(v) => Some(*v),
            Cell::Suppressed => None,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Shown(v) => write!(f, "{v}"),
            Cell::Suppressed => f.write_str(SUPPRESSED),
        }
    }
}

/// A published percentage (or any share): shown, suppressed, or not defined (denominator 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    Shown(f64),
    Suppressed,
    Undefined,
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Share::Shown(v) => f.write_str(&format_number(*v)),
            Share::Suppressed => f.write_str(SUPPRESSED),
            Share::Undefined => Ok(()),
        }
    }
}

/// The share `num / den` as a fraction (not multiplied by 100): suppressed when either is.
pub fn share(num: Cell, den: Cell) -> Share {
    match (num, den) {
        (Cell::Suppressed, _) | (_, Cell::Suppressed) => Share::Suppressed,
        (_, Cell::Shown(0)) => Share::Undefined,
        (Cell::Shown(n), Cell::Shown(d)) => Share::Shown(n as f64 / d as f64),
    }
}

/// A grid of counts after suppression.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressedGrid {
    pub cells: Vec<Vec<Cell>>,
    /// One per row, when asked for.
    pub row_totals: Option<Vec<Cell>>,
    /// One per column, when asked for.
    pub col_totals: Option<Vec<Cell>>,
    /// The grand total, when both row and column totals were asked for.
    pub grand_total: Option<Cell>,
    /// Whether any cell (or total) was suppressed.
    pub applied: bool,
}

/// The tidy measures table after suppression: the count columns and `value` as text (`c` where
/// suppressed), the rest as given.
#[derive(Debug, Clone)]
pub struct SuppressedFrame {
    pub frame: DataFrame,
    pub applied: bool,
    pub threshold: u32,
    /// Per input row, as published: numerator, denominator, excluded, pending. Whatever else is
    /// printed from the table (the report's charts and text) starts from these cells.
    pub cells: Vec<[Cell; 4]>,
}

impl SuppressedFrame {
    /// The sentence a published table carries under it.
    pub fn note(&self) -> String {
        suppression_note(self.threshold, self.applied)
    }
}

/// The sentence that goes with a published table.
pub fn suppression_note(threshold: u32, applied: bool) -> String {
    if applied {
        format!(
            "Small-number suppression applied: counts of 1 to {threshold} are shown as {SUPPRESSED}, with further cells suppressed where a total would reveal them; percentages based on a suppressed count are suppressed."
        )
    } else {
        format!("Small-number suppression checked (counts of 1 to {threshold}): no cell needed suppressing.")
    }
}

impl Suppressor {
    /// A suppressor for counts 1..=threshold; a threshold below 1 is an error.
    pub fn new(threshold: u32) -> Result<Suppressor> {
        if threshold < 1 {
            bail!("the suppression threshold must be at least 1 (got {threshold})");
        }
        Ok(Suppressor { threshold })
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// Whether a count is suppressed by the primary rule.
    pub fn is_small(&self, v: u64) -> bool {
        v >= 1 && v <= self.threshold as u64
    }

    /// One count on its own (no line to protect): primary suppression only.
    pub fn cell(&self, v: u64) -> Cell {
        if self.is_small(v) {
            Cell::Suppressed
        } else {
            Cell::Shown(v)
        }
    }

    /// The core: `values[i]` are the cells, `lines` the sets of cells that add up (a total
    /// included), `is_total[i]` marks totals (chosen for secondary suppression only when a line
    /// has no inner candidate). Returns which cells are suppressed.
    pub fn suppress_lines(
        &self,
        values: &[u64],
        lines: &[Vec<usize>],
        is_total: &[bool],
    ) -> Vec<bool> {
        self.suppress_lines_from(values, &vec![false; values.len()], lines, is_total)
    }

    /// [`Suppressor::suppress_lines`] where the cells marked in `hidden` are suppressed from the
    /// start (they are suppressed in another published table, or derived from a cell that is).
    pub fn suppress_lines_from(
        &self,
        values: &[u64],
        hidden: &[bool],
        lines: &[Vec<usize>],
        is_total: &[bool],
    ) -> Vec<bool> {
        let mut sup: Vec<bool> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| self.is_small(v) || hidden.get(i).copied().unwrap_or(false))
            .collect();
        loop {
            let mut changed = false;
            for line in lines {
                if line.iter().filter(|&&i| sup[i]).count() != 1 {
                    continue;
                }
                let pick = line
                    .iter()
                    .copied()
                    .filter(|&i| !sup[i] && values[i] > 0)
                    .min_by_key(|&i| (is_total.get(i).copied().unwrap_or(false), values[i], i));
                if let Some(i) = pick {
                    sup[i] = true;
                    changed = true;
                }
            }
            if !changed {
                return sup;
            }
        }
    }

    /// Suppresses a grid of counts. Row totals (the sum of each row) and column totals are
    /// computed, shown when asked for, and take part in the lines they close; a grand total is
    /// shown when both are.
    pub fn suppress_grid(
        &self,
        cells: &[Vec<u64>],
        row_totals: bool,
        col_totals: bool,
    ) -> SuppressedGrid {
        self.suppress_grid_hidden(cells, &[], row_totals, col_totals)
    }

    /// [`Suppressor::suppress_grid`] where `hidden[r][c]` marks inner cells suppressed from the
    /// start: cells suppressed in another published table (the measures table the report
    /// publishes beside its charts), or sums with such a cell in them. A total with a hidden
    /// cell in its line is hidden too (it would give the cell away), before the secondary rule
    /// runs. So whatever the grid shows can be worked out from what the other table shows.
    pub fn suppress_grid_hidden(
        &self,
        cells: &[Vec<u64>],
        hidden: &[Vec<bool>],
        row_totals: bool,
        col_totals: bool,
    ) -> SuppressedGrid {
        let nrows = cells.len();
        let ncols = cells.iter().map(Vec::len).max().unwrap_or(0);
        let get = |r: usize, c: usize| cells[r].get(c).copied().unwrap_or(0);
        // Index layout: inner cells row-major, then row totals, then column totals, then grand.
        let inner = |r: usize, c: usize| r * ncols + c;
        let rt0 = nrows * ncols;
        let ct0 = rt0 + nrows;
        let grand = ct0 + ncols;
        let mut values = vec![0u64; grand + 1];
        let mut is_total = vec![false; grand + 1];
        for r in 0..nrows {
            for c in 0..ncols {
                values[inner(r, c)] = get(r, c);
            }
            values[rt0 + r] = (0..ncols).map(|c| get(r, c)).sum();
            is_total[rt0 + r] = true;
        }
        for c in 0..ncols {
            values[ct0 + c] = (0..nrows).map(|r| get(r, c)).sum();
            is_total[ct0 + c] = true;
        }
        values[grand] = values[ct0..grand].iter().sum();
        is_total[grand] = true;

        // A total that is not shown is neither suppressed nor a candidate: give it value 0 and
        // leave it out of the lines.
        if !row_totals {
            for r in 0..nrows {
                values[rt0 + r] = 0;
            }
        }
        if !col_totals {
            for c in 0..ncols {
                values[ct0 + c] = 0;
            }
        }
        if !(row_totals && col_totals) {
            values[grand] = 0;
        }
        let mut lines: Vec<Vec<usize>> = vec![];
        for r in 0..nrows {
            let mut l: Vec<usize> = (0..ncols).map(|c| inner(r, c)).collect();
            if row_totals {
                l.push(rt0 + r);
            }
            lines.push(l);
        }
        for c in 0..ncols {
            let mut l: Vec<usize> = (0..nrows).map(|r| inner(r, c)).collect();
            if col_totals {
                l.push(ct0 + c);
            }
            lines.push(l);
        }
        if col_totals {
            let mut l: Vec<usize> = (0..ncols).map(|c| ct0 + c).collect();
            if row_totals {
                l.push(grand);
            }
            lines.push(l);
        }
        if row_totals {
            let mut l: Vec<usize> = (0..nrows).map(|r| rt0 + r).collect();
            if col_totals {
                l.push(grand);
            }
            lines.push(l);
        }
        let hid = |r: usize, c: usize| {
            hidden
                .get(r)
                .and_then(|h| h.get(c))
                .copied()
                .unwrap_or(false)
        };
        let mut pre = vec![false; grand + 1];
        for r in 0..nrows {
            for c in 0..ncols {
                if hid(r, c) {
                    pre[inner(r, c)] = true;
                    pre[rt0 + r] = true;
                    pre[ct0 + c] = true;
                    pre[grand] = true;
                }
            }
        }
        // Totals not shown are not part of any line: nothing to hide.
        if !row_totals {
            pre[rt0..ct0].iter_mut().for_each(|p| *p = false);
        }
        if !col_totals {
            pre[ct0..grand].iter_mut().for_each(|p| *p = false);
        }
        if !(row_totals && col_totals) {
            pre[grand] = false;
        }
        let sup = self.suppress_lines_from(&values, &pre, &lines, &is_total);
        let cell = |i: usize| {
            if sup[i] {
                Cell::Suppressed
            } else {
                Cell::Shown(values[i])
            }
        };
        SuppressedGrid {
            cells: (0..nrows)
                .map(|r| (0..cells[r].len()).map(|c| cell(inner(r, c))).collect())
                .collect(),
            row_totals: row_totals.then(|| (0..nrows).map(|r| cell(rt0 + r)).collect()),
            col_totals: col_totals.then(|| (0..ncols).map(|c| cell(ct0 + c)).collect()),
            grand_total: (row_totals && col_totals).then(|| cell(grand)),
            applied: sup.iter().any(|&s| s),
        }
    }

    /// Suppresses the tidy measures table (columns of measures.md section 5). Each of the count
    /// columns `numerator`, `denominator`, `excluded` and `pending` is suppressed on its own, with
    /// these lines: for each (measure, period, breakdown), each LA's breakdown values with the
    /// LA's `NONE` row as their total, each breakdown value's LAs with the `ALL` row as their
    /// total, and the LAs' `NONE` rows with the `ALL` `NONE` row. `value` is suppressed when the
    /// numerator or denominator is. The counts and `value` come back as text.
    pub fn suppress_measures(&self, df: &DataFrame) -> Result<SuppressedFrame> {
        let text = |name: &str| -> Result<Vec<String>> {
            let c = df.column(name)?.cast(&DataType::String)?;
            Ok(c.str()?
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect())
        };
        let measure = text("measure_id")?;
        let period = text("period")?;
        let la = text("la_code")?;
        let breakdown = text("breakdown")?;
        let bvalue = text("breakdown_value")?;
        let n = df.height();

        // Lines over row indices.
        type Key = (String, String, String); // measure, period, breakdown
        let mut none_of: BTreeMap<(String, String, String), usize> = BTreeMap::new(); // (m, p, la) -> row
        for i in 0..n {
            if breakdown[i] == "NONE" {
                none_of.insert((measure[i].clone(), period[i].clone(), la[i].clone()), i);
            }
        }
        let mut by_la: BTreeMap<(Key, String), Vec<usize>> = BTreeMap::new();
        let mut by_value: BTreeMap<(Key, String), (Vec<usize>, Option<usize>)> = BTreeMap::new();
        let mut none_lines: BTreeMap<(String, String), (Vec<usize>, Option<usize>)> =
            BTreeMap::new();
        let all = crate::measures::ALL;
        for i in 0..n {
            let key: Key = (measure[i].clone(), period[i].clone(), breakdown[i].clone());
            if breakdown[i] == "NONE" {
                let e = none_lines
                    .entry((measure[i].clone(), period[i].clone()))
                    .or_default();
                if la[i] == all {
                    e.1 = Some(i);
                } else {
                    e.0.push(i);
                }
                continue;
            }
            by_la
                .entry((key.clone(), la[i].clone()))
                .or_default()
                .push(i);
            let e = by_value.entry((key, bvalue[i].clone())).or_default();
            if la[i] == all {
                e.1 = Some(i);
            } else {
                e.0.push(i);
            }
        }
        let mut lines: Vec<Vec<usize>> = vec![];
        for (((m, p, _), l), mut rows) in by_la {
            if let Some(&t) = none_of.get(&(m, p, l)) {
                rows.push(t);
            }
            lines.push(rows);
        }
        for (mut rows, total) in by_value.into_values().chain(none_lines.into_values()) {
            rows.extend(total);
            lines.push(rows);
        }
        let is_total: Vec<bool> = (0..n)
            .map(|i| breakdown[i] == "NONE" || la[i] == all)
            .collect();

        let mut applied = false;
        let mut columns: Vec<Column> = vec![];
        let mut suppressed_cols: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
        let mut shown_cols: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut cells = vec![[Cell::Shown(0); 4]; n];
        for (k, name) in ["numerator", "denominator", "excluded", "pending"]
            .into_iter()
            .enumerate()
        {
            let vals: Vec<u64> = df
                .column(name)?
                .cast(&DataType::Float64)?
                .f64()?
                .iter()
                .map(|v| v.map_or(0, |x| x.max(0.0).round() as u64))
                .collect();
            let sup = self.suppress_lines(&vals, &lines, &is_total);
            applied |= sup.iter().any(|&s| s);
            for (i, (v, s)) in vals.iter().zip(&sup).enumerate() {
                cells[i][k] = if *s {
                    Cell::Suppressed
                } else {
                    Cell::Shown(*v)
                };
            }
            shown_cols.insert(
                name,
                vals.iter()
                    .zip(&sup)
                    .map(|(v, s)| {
                        if *s {
                            SUPPRESSED.to_string()
                        } else {
                            v.to_string()
                        }
                    })
                    .collect(),
            );
            suppressed_cols.insert(name, sup);
        }
        let value: Vec<Option<f64>> = df
            .column("value")?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect();
        let value_text: Vec<String> = (0..n)
            .map(|i| {
                if suppressed_cols["numerator"][i] || suppressed_cols["denominator"][i] {
                    SUPPRESSED.to_string()
                } else {
                    value[i].map(format_number).unwrap_or_default()
                }
            })
            .collect();
        for name in df.get_column_names() {
            let name = name.as_str();
            if let Some(v) = shown_cols.remove(name) {
                columns.push(Series::new(name.into(), v).into());
            } else if name == "value" {
                columns.push(Series::new("value".into(), value_text.clone()).into());
            } else {
                columns.push(df.column(name)?.clone());
            }
        }
        Ok(SuppressedFrame {
            frame: DataFrame::new(n, columns)?,
            applied,
            threshold: self.threshold,
            cells,
        })
    }
}

/// A number for a published table: at most four decimal places, trailing zeros dropped.
pub fn format_number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}
