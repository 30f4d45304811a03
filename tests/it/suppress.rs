//! Small-number suppression (cdop.md section 4) on hand-worked grids and on a tidy measures
//! table.

use polars::prelude::*;
use safeguard::suppress::{share, Cell, Share, Suppressor};

use Cell::{Shown as S, Suppressed as C};

fn sup(t: u32) -> Suppressor {
    Suppressor::new(t).unwrap()
}

/// No line of the published grid holds exactly one suppressed cell that some unsuppressed
/// non-zero cell of the line could have covered.
fn no_line_reveals(cells: &[Vec<Cell>], raw: &[Vec<u64>]) {
    let rows = cells.len();
    let cols = cells[0].len();
    let lines: Vec<Vec<(usize, usize)>> = (0..rows)
        .map(|r| (0..cols).map(|c| (r, c)).collect())
        .chain((0..cols).map(|c| (0..rows).map(|r| (r, c)).collect()))
        .collect();
    for l in lines {
        let n = l
            .iter()
            .filter(|(r, c)| cells[*r][*c].is_suppressed())
            .count();
        let coverable = l
            .iter()
            .any(|(r, c)| !cells[*r][*c].is_suppressed() && raw[*r][*c] > 0);
        assert!(
            n != 1 || !coverable,
            "a line reveals its one suppressed cell: {l:?} in {cells:?}"
        );
    }
}

#[test]
fn threshold_is_at_least_one_and_defaults_to_five() {
    assert!(Suppressor::new(0).is_err());
    assert_eq!(Suppressor::default().threshold(), 5);
    let s = sup(5);
    assert_eq!(s.cell(0), S(0), "zero is shown");
    assert_eq!(s.cell(1), C);
    assert_eq!(s.cell(5), C);
    assert_eq!(s.cell(6), S(6));
    assert_eq!(C.to_string(), "c");
    assert_eq!(S(12).to_string(), "12");
}

#[test]
fn a_row_with_one_small_cell_suppresses_the_next_smallest() {
    // [3, 12, 10]: 3 is small; the row would give it away, so the next smallest (10) goes too.
    let g = sup(5).suppress_grid(&[vec![3, 12, 10]], false, false);
    assert_eq!(g.cells, vec![vec![C, S(12), C]]);
    assert!(g.applied);
    assert_eq!(g.row_totals, None);
}

#[test]
fn a_shown_column_total_would_reveal_a_cell() {
    // Column 0 is [2, 7] with total 9 shown: 2 is small, so 7 is suppressed too; that leaves
    // one suppressed cell in row 1 and in column 1, and so on until stable:
    //        a   b   c | total
    //   r0   2   8   9 |  19      -> c  c  9 | 19
    //   r1   7   6  11 |  24      -> c  c 11 | 24
    //   tot  9  14  20 |  43         9 14 20 | 43
    let raw = vec![vec![2, 8, 9], vec![7, 6, 11]];
    let g = sup(5).suppress_grid(&raw, true, true);
    assert_eq!(g.cells, vec![vec![C, C, S(9)], vec![C, C, S(11)]]);
    assert_eq!(g.row_totals, Some(vec![S(19), S(24)]));
    assert_eq!(g.col_totals, Some(vec![S(9), S(14), S(20)]));
    assert_eq!(g.grand_total, Some(S(43)));
    assert!(g.applied);
    no_line_reveals(&g.cells, &raw);
}

#[test]
fn suppression_cascades_until_stable() {
    // [3, 20] / [30, 40] with column totals: 3 -> 30 (column 0) -> 40 (row 1) -> 20 (column 1).
    let raw = vec![vec![3, 20], vec![30, 40]];
    let g = sup(5).suppress_grid(&raw, false, true);
    assert_eq!(g.cells, vec![vec![C, C], vec![C, C]]);
    assert_eq!(g.col_totals, Some(vec![S(33), S(60)]));
    no_line_reveals(&g.cells, &raw);
}

#[test]
fn small_totals_are_suppressed_and_zeros_untouched() {
    // [0, 3, 0, 8]: 3 small, next smallest non-zero is 8; zeros stay 0.
    let g = sup(5).suppress_grid(&[vec![0, 3, 0, 8]], false, false);
    assert_eq!(g.cells, vec![vec![S(0), C, S(0), C]]);
    // [0, 0, 4] with its total: the cell and the total (4) are both small; zeros stay 0.
    let g = sup(5).suppress_grid(&[vec![0, 0, 4]], true, false);
    assert_eq!(g.cells, vec![vec![S(0), S(0), C]]);
    assert_eq!(g.row_totals, Some(vec![C]));
    // No small count: nothing applied.
    let g = sup(5).suppress_grid(&[vec![0, 6, 7], vec![9, 0, 12]], true, true);
    assert!(!g.applied);
    assert_eq!(g.grand_total, Some(S(34)));
}

#[test]
fn thresholds_one_and_ten() {
    // Threshold 1: only 1s are small. [1, 2, 3] -> 1, then the next smallest, 2.
    let g = sup(1).suppress_grid(&[vec![1, 2, 3]], false, false);
    assert_eq!(g.cells, vec![vec![C, C, S(3)]]);
    let g = sup(1).suppress_grid(&[vec![2, 3, 4]], true, true);
    assert!(!g.applied);
    // Threshold 10: [10, 11, 12, 4] -> 10 and 4 are both small: two in the row, nothing more.
    let g = sup(10).suppress_grid(&[vec![10, 11, 12, 4]], false, false);
    assert_eq!(g.cells, vec![vec![C, S(11), S(12), C]]);
    // 11 is above a threshold of 10, but a single small cell (10) takes it with it.
    let g = sup(10).suppress_grid(&[vec![10, 11, 12]], false, false);
    assert_eq!(g.cells, vec![vec![C, C, S(12)]]);
}

#[test]
fn percentages_follow_their_counts() {
    assert_eq!(share(S(3), S(12)), Share::Shown(0.25));
    assert_eq!(share(C, S(12)), Share::Suppressed);
    assert_eq!(share(S(8), C), Share::Suppressed);
    assert_eq!(share(S(0), S(0)), Share::Undefined);
    assert_eq!(Share::Suppressed.to_string(), "c");
    assert_eq!(Share::Shown(2.0 / 3.0).to_string(), "0.6667");
    assert_eq!(Share::Shown(0.5).to_string(), "0.5");
}

#[test]
fn many_grids_never_reveal_a_suppressed_cell() {
    // A deterministic spread of small and large counts.
    let mut x: u64 = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = (x >> 33) % 14;
        if v > 9 {
            v * 3
        } else {
            v
        }
    };
    for _ in 0..200 {
        let raw: Vec<Vec<u64>> = (0..4).map(|_| (0..5).map(|_| next()).collect()).collect();
        let g = sup(5).suppress_grid(&raw, true, true);
        no_line_reveals(&g.cells, &raw);
        for (r, row) in g.cells.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if raw[r][c] == 0 {
                    assert_eq!(*cell, S(0), "a zero is never suppressed");
                }
                if (1..=5).contains(&raw[r][c]) {
                    assert_eq!(*cell, C);
                }
            }
        }
    }
}

/// A small tidy measures table: one measure by sex for LAs 940 and 941 and the partnership.
fn tidy() -> DataFrame {
    // (la, breakdown, value, numerator, denominator)
    let rows: &[(&str, &str, &str, i64, i64)] = &[
        ("ALL", "NONE", "", 20, 40),
        ("ALL", "sex", "F", 7, 17),
        ("ALL", "sex", "M", 13, 23),
        ("940", "NONE", "", 12, 25),
        ("940", "sex", "F", 3, 10),
        ("940", "sex", "M", 9, 15),
        ("941", "NONE", "", 8, 15),
        ("941", "sex", "F", 4, 7),
        ("941", "sex", "M", 4, 8),
    ];
    let n = rows.len();
    let s = |name: &str, v: Vec<String>| -> Column { Series::new(name.into(), v).into() };
    DataFrame::new(
        n,
        vec![
            s("measure_id", vec!["m".into(); n]),
            s("period", vec!["2024-25".into(); n]),
            s("la_code", rows.iter().map(|r| r.0.to_string()).collect()),
            s("breakdown", rows.iter().map(|r| r.1.to_string()).collect()),
            s(
                "breakdown_value",
                rows.iter().map(|r| r.2.to_string()).collect(),
            ),
            Series::new(
                "numerator".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "denominator".into(),
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )
            .into(),
            Series::new(
                "value".into(),
                rows.iter()
                    .map(|r| Some(r.3 as f64 / r.4 as f64))
                    .collect::<Vec<_>>(),
            )
            .into(),
            Series::new("excluded".into(), vec![0i64; n]).into(),
            Series::new("pending".into(), vec![0i64; n]).into(),
        ],
    )
    .unwrap()
}

#[test]
fn measures_table_is_suppressed_by_la_and_breakdown() {
    let out = sup(5).suppress_measures(&tidy()).unwrap();
    assert!(out.applied);
    assert!(out.note().contains("shown as c"));
    let f = &out.frame;
    let col = |n: &str| -> Vec<String> {
        f.column(n)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect()
    };
    // 940 F = 3 is small; 940's row (F, M, NONE 12) would reveal it, so 940 M (9) goes too.
    // 941 F and M (4, 4) are both small. The partnership's F = 7 and M = 13 stay: the LAs'
    // columns each hold two suppressed cells.
    assert_eq!(
        col("numerator"),
        ["20", "7", "13", "12", "c", "c", "8", "c", "c"]
    );
    assert_eq!(
        col("denominator"),
        ["40", "17", "23", "25", "10", "15", "15", "7", "8"]
    );
    let v = col("value");
    assert_eq!(v[1], "0.4118");
    assert_eq!(
        &v[4..6],
        ["c", "c"],
        "a value whose numerator is suppressed is suppressed"
    );
    assert_eq!(&v[7..9], ["c", "c"]);
    assert_eq!(v[0], "0.5");
    assert_eq!(col("excluded"), vec!["0"; 9]);
    // A threshold of 2 leaves the table as it was.
    let out = sup(2).suppress_measures(&tidy()).unwrap();
    assert!(!out.applied);
    assert!(out.note().contains("no cell needed suppressing"));
}

#[test]
fn measures_table_secondary_reaches_the_partnership_rows() {
    // One LA small in one value only: the value's column (940, 941, ALL) would reveal it.
    let mut df = tidy();
    // 941 F = 4 -> 6 and 941 M = 4 -> 2 (941 NONE 8 stays): 940 F 3 and 941 M 2 are small.
    let num = Series::new("numerator".into(), vec![20i64, 9, 11, 12, 3, 9, 8, 6, 2]);
    df.replace("numerator", num.into()).unwrap();
    let out = sup(5).suppress_measures(&df).unwrap();
    let f = &out.frame;
    let nums: Vec<String> = f
        .column("numerator")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    // Row lines: 940 [3, 9 | 12] -> 9 too; 941 [6, 2 | 8] -> 6 too. Column lines then hold two
    // suppressed each: F [3, 6 | 9], M [9, 2 | 11]. The partnership rows stay shown.
    assert_eq!(nums, ["20", "9", "11", "12", "c", "c", "8", "c", "c"]);
}
