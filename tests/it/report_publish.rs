//! A report a board chair can publish (issue 14): small numbers drawn and said honestly (a
//! withheld value is a hatched stub, never a zero bar; readings say "fewer than 6", never `c`;
//! small child-death categories combined before suppressing), the direction and size of each
//! change (polarity, the Wilson interval), each LA beside the partnership, and accessibility
//! (SVG title and desc, a data table beside each chart, patterns and markers, contrast, and
//! axe-core's WCAG 2.2 AA rules in headless Chromium).

use std::path::{Path, PathBuf};

use safeguard::measures::catalogue::Polarity;
use safeguard::report::audit::Audit;
use safeguard::report::chart::{
    self, contrast_ratio, describe, marker, pattern, render_svg, Chart, Kind, Point, Series,
    PALETTE,
};
use safeguard::report::charts::{count_phrase, polarity};
use safeguard::report::stats::{self, direction, wilson, Direction};
use safeguard::suppress::{Cell, Suppressor};

use crate::common::{self, bin, stderr, stdout, write, TEST_KEY};

/// A CSV file as (header, rows).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Every `<tag ...>...</tag>` text of a document, in order (no nesting).
fn elements(doc: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = vec![];
    let mut rest = doc;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i..];
        // The tag itself, not a longer name (`<p` is not `<path`).
        if !rest[open.len()..].starts_with(['>', ' ', '\n']) {
            rest = &rest[open.len()..];
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let Some(end) = rest.find(&close) else { break };
        out.push(rest[gt + 1..end].to_string());
        rest = &rest[end + close.len()..];
    }
    out
}

/// Whether a sentence holds `c` as a word (the suppression symbol).
fn has_c_word(s: &str) -> bool {
    s.split(|ch: char| !ch.is_alphanumeric()).any(|w| w == "c")
}

// ---------------------------------------------------------------------------------------------
// withheld values on a chart

fn bar_chart(points: Vec<Point>) -> Chart {
    let mut c = Chart::new("t-withheld", "Plans by month", Kind::Bars);
    c.x_label = "Month".into();
    c.y_label = "Plans".into();
    c.categories = ["Apr", "May", "Jun"].map(String::from).to_vec();
    c.series = vec![Series::new("Plans", points)];
    c
}

#[test]
fn a_chart_whose_only_counts_are_withheld_draws_stubs_not_bars() {
    // Three months: 0, withheld, withheld (e.g. 0, 3 and 4 with a threshold of 5).
    let c = bar_chart(vec![Point::Shown(0.0), Point::Withheld, Point::Withheld]);
    let svg = render_svg(&c).unwrap();
    // No bar: nothing is filled with the series' colour (#0072B2), not even with height 0.
    assert!(
        !svg.contains("fill=\"#0072B2\""),
        "a withheld value was drawn as a bar"
    );
    // Each withheld value is a stub outlined in the series' colour and hatched in grey.
    let outlines = svg.matches("fill=\"none\" stroke=\"#0072B2\"").count();
    assert_eq!(outlines, 2, "one outlined stub per withheld value:\n{svg}");
    assert!(svg.contains("stroke=\"#5A5A5A\""), "the stubs are hatched");
    // The legend says what a stub is, with the threshold's words.
    assert!(svg.contains("Withheld: fewer than 6, or hidden so one cannot be worked out"));
    // The text alternative says "withheld", never 0, for them.
    let desc = describe(&c);
    assert!(desc.contains("Apr 0, May withheld, Jun withheld"), "{desc}");
    assert!(!has_c_word(&desc), "{desc}");

    // The same chart with the counts shown draws bars.
    let shown = bar_chart(vec![
        Point::Shown(0.0),
        Point::Shown(3.0),
        Point::Shown(4.0),
    ]);
    let svg = render_svg(&shown).unwrap();
    assert_eq!(
        svg.matches("fill=\"#0072B2\"").count(),
        2,
        "two bars of 3 and 4"
    );
    assert!(
        !svg.contains("Withheld:"),
        "no legend item without a withheld value"
    );
}

#[test]
fn a_withheld_point_breaks_a_line_and_is_not_plotted_at_zero() {
    let mut c = Chart::new("t-line", "Share within the limit", Kind::Lines);
    c.percent = true;
    c.categories = ["Q1", "Q2", "Q3"].map(String::from).to_vec();
    c.series = vec![Series::new(
        "Partnership",
        vec![Point::Shown(0.8), Point::Withheld, Point::Shown(0.9)],
    )];
    let svg = render_svg(&c).unwrap();
    // Two runs of one point each: no line joins Q1 to Q3 through the withheld Q2.
    assert!(
        !svg.lines()
            .any(|l| l.starts_with("<polyline") && l.contains("stroke=\"#0072B2\"")),
        "no line drawn across the gap:\n{svg}"
    );
    assert_eq!(
        svg.matches("<circle").count(),
        3,
        "two points and the stub's marker"
    );
    assert!(describe(&c).contains("Q2 withheld"));
}

// ---------------------------------------------------------------------------------------------
// accessible charts: text alternative, patterns, markers, contrast

#[test]
fn every_svg_has_a_title_and_a_description_with_its_numbers() {
    let mut c = bar_chart(vec![
        Point::Shown(12.0),
        Point::Withheld,
        Point::Shown(30.0),
    ]);
    c.reading = "42 plans or more were made.".into();
    let svg = render_svg(&c).unwrap();
    let head = &svg[..svg.find('>').unwrap()];
    assert!(head.starts_with("<svg"), "{head}");
    assert!(head.contains("role=\"img\""));
    assert!(head.contains("aria-labelledby=\"t-withheld-title t-withheld-desc\""));
    assert_eq!(elements(&svg, "title"), vec!["Plans by month".to_string()]);
    let desc = &elements(&svg, "desc")[0];
    for want in [
        "Bar chart",
        "Horizontal axis: Month",
        "vertical axis: Plans",
        "Apr 12",
        "May withheld",
        "Jun 30",
        "42 plans or more were made.",
    ] {
        assert!(desc.contains(want), "desc lacks {want:?}: {desc}");
    }
}

#[test]
fn series_differ_by_pattern_and_marker_not_colour_alone() {
    // The first six bar series have six fills; the first five line series five markers.
    let pats: Vec<_> = (0..6).map(pattern).collect();
    for (i, p) in pats.iter().enumerate() {
        assert!(!pats[..i].contains(p), "pattern {i} repeats");
    }
    let marks: Vec<_> = (0..5).map(marker).collect();
    for (i, m) in marks.iter().enumerate() {
        assert!(!marks[..i].contains(m), "marker {i} repeats");
    }
    // Drawn: a second bar series carries white stripes (the first is solid), and three line
    // series have a circle, a triangle and a square.
    let mut bars = Chart::new("t-bars", "Two series", Kind::Bars);
    bars.categories = vec!["A".into()];
    bars.series = vec![
        Series::new("One", vec![Point::Shown(5.0)]),
        Series::new("Two", vec![Point::Shown(7.0)]),
    ];
    let svg = render_svg(&bars).unwrap();
    assert!(
        svg.contains("stroke=\"#FFFFFF\""),
        "the second series is striped"
    );
    let mut lines = Chart::new("t-lines", "Three lines", Kind::Lines);
    lines.categories = vec!["A".into(), "B".into()];
    lines.series = (0..3)
        .map(|j| Series::new(&format!("S{j}"), vec![Point::Shown(1.0 + j as f64); 2]))
        .collect();
    let svg = render_svg(&lines).unwrap();
    assert!(svg.contains("<circle"), "a circle marker");
    // A triangle (3 points) and a square (a rect the size of a marker) are polygons/rects.
    assert!(
        svg.matches("<polygon").count() >= 2,
        "triangle markers:\n{svg}"
    );
}

#[test]
fn the_palette_meets_3_to_1_against_white_and_okabe_ito_yellow_would_not() {
    let white = plotters::style::RGBColor(255, 255, 255);
    for (i, c) in PALETTE.iter().enumerate() {
        let r = contrast_ratio(*c, white);
        assert!(r >= 3.0, "palette colour {i} {c:?} has {r:.2}:1 on white");
    }
    // Okabe-Ito's own orange, sky blue and yellow fail: why they are darkened or left out.
    for (c, want) in [
        (plotters::style::RGBColor(0xE6, 0x9F, 0x00), 2.25),
        (plotters::style::RGBColor(0x56, 0xB4, 0xE9), 2.31),
        (plotters::style::RGBColor(0xF0, 0xE4, 0x42), 1.32),
    ] {
        let r = contrast_ratio(c, white);
        assert!((r - want).abs() < 0.01, "{c:?}: {r:.3}");
        assert!(r < 3.0);
    }
    // Black on white is 21:1; the footnote grey #5A5A5A is above 4.5:1 for text.
    assert!((contrast_ratio(plotters::style::RGBColor(0, 0, 0), white) - 21.0).abs() < 1e-9);
    assert!(contrast_ratio(chart::GREY, white) >= 4.5);
}

// ---------------------------------------------------------------------------------------------
// direction and size of change

#[test]
fn wilson_interval_of_72_out_of_80() {
    // By hand, z = 1.959964, z^2 = 3.841459, n = 80, p = 72/80 = 0.9:
    //   denominator 1 + z^2/n = 1 + 0.048018 = 1.048018
    //   centre (p + z^2/2n) / 1.048018 = (0.9 + 0.024009) / 1.048018 = 0.881672
    //   half z/1.048018 * sqrt(p(1-p)/n + z^2/4n^2)
    //        = 1.870163 * sqrt(0.001125 + 0.000150057) = 1.870163 * 0.035708 = 0.066780
    //   interval 0.814892 to 0.948452: 81.5% to 94.8%.
    let (lo, hi) = wilson(72, 80).unwrap();
    assert!((lo - 0.814892).abs() < 5e-6, "{lo}");
    assert!((hi - 0.948452).abs() < 5e-6, "{hi}");
    // A 2-point move on 80 cases is within it: last year's 88% lies inside, could be chance.
    let c = stats::change(Polarity::HigherIsBetter, 72, 80, 0.88).unwrap();
    assert_eq!(c.direction, Direction::Better);
    assert_eq!(c.clear, Some(false));
    assert_eq!(c.short(), "up 2.0 points: better; within chance variation");
    // Last year's 80%, outside 81.5%-94.8%: a clear change.
    let c = stats::change(Polarity::HigherIsBetter, 72, 80, 0.80).unwrap();
    assert_eq!(c.clear, Some(true));
    assert_eq!(c.short(), "up 10.0 points: better; a clear change");
    // The ends: 0 of 10 is 0% to 27.8% (z^2/(n + z^2) = 3.8415/13.8415), 10 of 10 the mirror.
    let (lo, hi) = wilson(0, 10).unwrap();
    assert_eq!(lo, 0.0);
    assert!((hi - 0.277532).abs() < 5e-6, "{hi}");
    let (lo, hi) = wilson(10, 10).unwrap();
    assert!(
        (lo - 0.722468).abs() < 5e-6 && (hi - 1.0).abs() < 1e-12,
        "{lo} {hi}"
    );
    assert_eq!(wilson(0, 0), None);
}

#[test]
fn polarity_words_for_lower_and_higher_is_better_measures() {
    // The catalogue's polarity, kept as data with the measure.
    assert_eq!(polarity("rereferral_12m"), Polarity::LowerIsBetter);
    assert_eq!(polarity("icpc_15wd"), Polarity::HigherIsBetter);
    assert_eq!(polarity("contact_to_referral"), Polarity::Neutral);
    // Re-referrals up from 20% to 23%: worse; down: better.
    assert_eq!(
        direction(polarity("rereferral_12m"), 0.23, 0.20).word(),
        "worse"
    );
    assert_eq!(
        direction(polarity("rereferral_12m"), 0.20, 0.23).word(),
        "better"
    );
    // ICPCs within 15 working days up: better; down: worse.
    assert_eq!(
        direction(polarity("icpc_15wd"), 0.85, 0.80).word(),
        "better"
    );
    assert_eq!(direction(polarity("icpc_15wd"), 0.80, 0.85).word(), "worse");
    // A neutral measure: neither; no move: no change.
    assert_eq!(
        direction(polarity("contact_to_referral"), 0.5, 0.4).word(),
        "neither better nor worse"
    );
    assert_eq!(direction(polarity("icpc_15wd"), 0.8, 0.8), Direction::Same);
}

// ---------------------------------------------------------------------------------------------
// readings at the threshold

#[test]
fn a_reading_says_fewer_than_6_for_5_and_6_for_6() {
    let sup = Suppressor::new(5).unwrap();
    // 5 is withheld (1 to 5): the reading says "fewer than 6".
    assert_eq!(sup.cell(5), Cell::Suppressed);
    assert_eq!(
        count_phrase(sup.cell(5), 5.0, 5).as_deref(),
        Some("fewer than 6")
    );
    // 6 is shown as itself.
    assert_eq!(count_phrase(sup.cell(6), 6.0, 5).as_deref(), Some("6"));
    // 1 is withheld too; 0 is shown.
    assert_eq!(
        count_phrase(sup.cell(1), 1.0, 5).as_deref(),
        Some("fewer than 6")
    );
    assert_eq!(count_phrase(sup.cell(0), 0.0, 5).as_deref(), Some("0"));
    // A count of 40 withheld only to protect another: "fewer than 6" would be false, so the
    // clause is left out.
    assert_eq!(count_phrase(Cell::Suppressed, 40.0, 5), None);
    // Another threshold: 10 with threshold 10 is "fewer than 11".
    assert_eq!(
        count_phrase(Cell::Suppressed, 10.0, 10).as_deref(),
        Some("fewer than 11")
    );
}

/// A store with `long` of 20 plans ended in 2024-25 having lasted 2 years or more (the rest
/// about 7 months), and its report; returns the reading of the plan-length chart.
fn plans_reading(long: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut plans =
        String::from("plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category\n");
    let mut refs = String::from("referral_id,child_id,la_code,received_at\n");
    for i in 0..20 {
        let (start, end) = if i < long {
            ("2022-01-10", "2024-06-10")
        } else {
            ("2023-11-01", "2024-06-10")
        };
        plans.push_str(&format!(
            "plan-t{i:02},ref-t{i:02},kid-t{i:02},940,{start},{end},NEG\n"
        ));
        refs.push_str(&format!("ref-t{i:02},kid-t{i:02},940,2021-12-01\n"));
    }
    write(dir.path(), "cp_plans.csv", &plans);
    write(dir.path(), "referrals.csv", &refs);
    let o = bin()
        .current_dir(dir.path())
        .env("SAFEGUARD_KEY", TEST_KEY)
        .args(["ingest", "cp_plans.csv", "referrals.csv", "--store", "st"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = common::run_in(
        dir.path(),
        &[
            "report",
            "--store",
            "st",
            "--year",
            "2024-25",
            "--reference-date",
            "2025-03-31",
            "--out",
            "rep",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).unwrap();
    let fig = &html[html.find("<figure id=\"07-plans-duration\"").unwrap()..];
    elements(fig, "p")
        .into_iter()
        .find(|p| p.contains("plans ended"))
        .unwrap_or_else(|| panic!("no reading in {}", &fig[..2000.min(fig.len())]))
}

#[test]
fn the_plan_length_reading_at_the_threshold_boundary() {
    // 5 of 20 lasted 2 years or more: withheld (1 to 5), said as "fewer than 6".
    assert_eq!(
        plans_reading(5),
        "20 plans ended in 2024-25; fewer than 6 had lasted 2 years or more."
    );
    // 6 of 20: shown, with its share (6 / 20 = 30.0%).
    assert_eq!(
        plans_reading(6),
        "20 plans ended in 2024-25; 6 (30.0%) had lasted 2 years or more."
    );
}

// ---------------------------------------------------------------------------------------------
// child deaths: categories combined before suppressing

/// One review row: completed on `done`, category `cat`, outcome `out`.
fn review(i: usize, done: &str, cat: &str, out: &str) -> String {
    format!(
        "case-t09-{i:03},NNC,940,2021-06-01,2021-06-02,400,F,WBRI,3,Y,{cat},{out},HOSPITAL,OTHER,{done},N,N,\n"
    )
}

#[test]
fn small_child_death_categories_are_combined_into_other_with_hand_worked_counts() {
    // Three years, each year:
    //   category 8 (perinatal): 7 identified, 10 not identified        (17: shown every year)
    //   category 7 (congenital): 8 not identified                       (8: shown every year)
    //   category 1 (abuse or neglect): identified 2, 2, 3 (years 1-3)   (withheld every year)
    //   category 3 (trauma): not identified 3, 2, 2                     (withheld every year)
    //   category 9 (infection): 1 not identified in year 3 only         (withheld / absent)
    // Each year's category line holds two or three withheld counts, so no secondary
    // suppression touches 7 or 8: categories 1, 3 and 9 are withheld or absent in every year
    // and go into "Other categories"; the others (2, 4, 5, 6, 10) have no review and no row.
    // Pooled over 2022-23 to 2024-25:
    //   7:     identified 0,            not identified 8 x 3 = 24
    //   8:     identified 7 x 3 = 21,   not identified 10 x 3 = 30
    //   Other: identified 2+2+3 = 7,    not identified 3+2+2+1 = 8
    //   totals: identified 28, not identified 62.
    // None is 1 to 5, so none is withheld; no "insufficient" review, so no outcome is merged.
    let mut rows = String::from("case_id,cdop_code,la_code,date_of_death,notified_date,age_at_death_days,sex,ethnicity,imd_decile,expected,category,modifiable,place_of_death,event,review_completed_date,scr_or_lcspr,died_outside_area,child_id\n");
    let mut i = 0;
    let mut add = |done: &str, cat: &str, out: &str, n: usize| {
        for _ in 0..n {
            rows.push_str(&review(i, done, cat, out));
            i += 1;
        }
    };
    for (y, done) in ["2022-09-01", "2023-09-01", "2024-09-01"]
        .iter()
        .enumerate()
    {
        add(done, "8", "IDENTIFIED", 7);
        add(done, "8", "NOT_IDENTIFIED", 10);
        add(done, "7", "NOT_IDENTIFIED", 8);
        add(done, "1", "IDENTIFIED", [2, 2, 3][y]);
        add(done, "3", "NOT_IDENTIFIED", [3, 2, 2][y]);
        add(done, "9", "NOT_IDENTIFIED", [0, 0, 1][y]);
    }
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cdop_reviews.csv", &rows);
    let o = bin()
        .current_dir(dir.path())
        .env("SAFEGUARD_KEY", TEST_KEY)
        .args(["ingest", "cdop_reviews.csv", "--store", "st"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = common::run_in(
        dir.path(),
        &[
            "report",
            "--store",
            "st",
            "--year",
            "2024-25",
            "--reference-date",
            "2025-03-31",
            "--out",
            "rep",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let (header, got) = read_csv(&dir.path().join("rep/09-cdop-category.csv"));
    assert_eq!(header, ["category", "series", "count"]);
    let want: Vec<Vec<String>> = [
        [
            "7 Congenital anomalies",
            "Modifiable factors identified",
            "0",
        ],
        [
            "8 Perinatal or neonatal",
            "Modifiable factors identified",
            "21",
        ],
        ["Other categories", "Modifiable factors identified", "7"],
        ["Total", "Modifiable factors identified", "28"],
        ["7 Congenital anomalies", "No modifiable factors", "24"],
        ["8 Perinatal or neonatal", "No modifiable factors", "30"],
        ["Other categories", "No modifiable factors", "8"],
        ["Total", "No modifiable factors", "62"],
    ]
    .iter()
    .map(|r| r.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(got, want);
    // The yearly figures withhold the small categories (measures.csv beside it).
    let (_, m) = read_csv(&dir.path().join("rep/measures.csv"));
    let cat1: Vec<&Vec<String>> = m
        .iter()
        .filter(|r| {
            r[0] == "cdop_reviews_completed" && r[2] == "ALL" && r[3] == "category" && r[4] == "1"
        })
        .collect();
    assert_eq!(cat1.len(), 3);
    assert!(cat1.iter().all(|r| r[5] == "c"), "{cat1:?}");
    // The note names what "Other categories" combines; the SVG says it too.
    let html = std::fs::read_to_string(dir.path().join("rep/index.html")).unwrap();
    assert!(html.contains(
        "Other categories combines 1 abuse or neglect, 3 trauma, external and 9 infection"
    ));
    let svg = std::fs::read_to_string(dir.path().join("rep/09-cdop-category.svg")).unwrap();
    assert!(svg.contains("Other categories combines"));
    assert!(elements(&svg, "desc")[0].contains("Other categories 7"));
}

#[test]
fn the_audit_finds_a_pooled_total_that_gives_a_withheld_year_away() {
    // Base counts x1, x2, x3: one category in three years. Published yearly: x1 withheld,
    // x2 = 8 and x3 = 9 shown. A pooled x1 + x2 + x3 would give x1 away.
    let e = |i: usize| {
        let mut f = vec![0.0; 3];
        f[i] = 1.0;
        f
    };
    let audit = Audit::new(&[e(1), e(2)], &[e(0)]);
    assert_eq!(audit.already_recoverable(), 0);
    let pooled = vec![1.0, 1.0, 1.0];
    assert_eq!(audit.recovered(std::slice::from_ref(&pooled), &[]), vec![0]);
    // With x2 withheld too, the pooled total gives neither away (x1 + x2 only).
    let audit = Audit::new(&[e(2)], &[e(0), e(1)]);
    assert!(audit
        .recovered(std::slice::from_ref(&pooled), &[])
        .is_empty());
    // But the pooled total and a second pooled cell x1 + x3 together give x1 and x2 away.
    let r = audit.recovered(&[pooled, vec![1.0, 0.0, 1.0]], &[]);
    assert_eq!(r, vec![0, 1]);
    // The new table's own withheld cells are protected too: x2 + x3 withheld beside a shown
    // x1 + x2 + x3 is safe while x1 is unknown...
    let audit = Audit::new(&[e(2)], &[]);
    assert!(audit
        .recovered(&[vec![1.0, 1.0, 1.0]], &[vec![0.0, 1.0, 1.0]])
        .is_empty());
    // ...and recovered (index 0 of the new table's withheld cells) once x1 is shown.
    let audit = Audit::new(&[e(0), e(2)], &[]);
    assert_eq!(
        audit.recovered(&[vec![1.0, 1.0, 1.0]], &[vec![0.0, 1.0, 1.0]]),
        vec![0]
    );
}

// ---------------------------------------------------------------------------------------------
// the sample report, end to end

/// `safeguard run` on the bundled samples into a temp dir: (the temp dir, the report folder).
fn sample_report() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::root();
    let out = bin()
        .current_dir(tmp.path())
        .args(["run", "--quiet", "--config"])
        .arg(root.join("data-samples/safeguard.toml"))
        .arg("--data")
        .arg(root.join("data-samples"))
        .arg("--store")
        .arg(tmp.path().join("store"))
        .arg("--reports")
        .arg(tmp.path().join("reports"))
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    let dir = tmp.path().join("reports/2024-25");
    (tmp, dir)
}

/// Whether `prog` runs (`prog --version`).
fn runs(prog: &str) -> bool {
    std::process::Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_sample_report_is_publishable_and_accessible() {
    let (_tmp, dir) = sample_report();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("<html lang=\"en-GB\">"));

    // Headings in order: one h1, then h2s, h3s only under an h2, no level skipped.
    let mut last = 0;
    for (i, _) in html.match_indices("<h") {
        let Some(level) = html[i + 2..].chars().next().and_then(|c| c.to_digit(10)) else {
            continue;
        };
        assert!(level <= last + 1, "h{level} after h{last}");
        last = level;
    }
    assert_eq!(html.matches("<h1").count(), 1);

    // Every chart: an SVG with a title and a description holding its numbers, and a table of
    // its data beside it; every withheld value is said to be withheld, none is drawn at zero.
    let figures: Vec<&str> = html.split("<figure id=\"").skip(1).collect();
    assert!(figures.len() >= 15, "{} figures", figures.len());
    for f in &figures {
        let id = &f[..f.find('"').unwrap()];
        let f = &f[..f.find("</figure>").unwrap()];
        let svg = &f[f.find("<svg").unwrap()..f.find("</svg>").unwrap()];
        assert!(svg.contains("role=\"img\""), "{id}");
        let title = elements(svg, "title");
        let desc = elements(svg, "desc");
        assert_eq!(title.len(), 1, "{id}: one <title>");
        assert_eq!(desc.len(), 1, "{id}: one <desc>");
        assert!(
            desc[0].chars().any(|c| c.is_ascii_digit()) || desc[0].contains("Too few"),
            "{id}: the description gives no number: {}",
            desc[0]
        );
        let csv = std::fs::read_to_string(dir.join(format!("{id}.csv"))).unwrap();
        if csv.lines().skip(1).any(|l| !l.is_empty()) {
            assert!(
                f.contains("<details>") && f.contains("<table"),
                "{id}: no data table"
            );
        }
        // A chart whose table withholds a count says so in its description and legend.
        let withheld_in_table = csv
            .lines()
            .skip(1)
            .any(|l| l.split(',').any(|c| c == "c") && !l.starts_with("Total,"));
        if withheld_in_table && !desc[0].contains("Too few") {
            assert!(
                desc[0].contains("withheld"),
                "{id}: a withheld count is not said to be withheld: {}",
                desc[0]
            );
        }
        // The standalone SVG carries the same text alternative.
        let file = std::fs::read_to_string(dir.join(format!("{id}.svg"))).unwrap();
        assert!(
            file.contains("<title id=") && file.contains("<desc id="),
            "{id}.svg"
        );
    }

    // No sentence of the page says `c`: the readings, the notes and the descriptions.
    for p in elements(&html, "p") {
        let text = p
            .replace("c in the tables", "")
            .replace("c in the table", "");
        assert!(!has_c_word(&text), "a sentence says c: {p}");
    }
    for d in elements(&html, "desc") {
        assert!(!has_c_word(&d), "a description says c: {d}");
    }
    // The plan-length reading of the samples: 2 years or more is withheld as small.
    assert!(html.contains("64 plans ended in 2024-25; fewer than 6 had lasted 2 years or more."));

    // The summary: a column group per LA and the partnership, with direction, interval and the
    // neighbours' median from compare.
    for group in [
        "North Northamptonshire</th>",
        "West Northamptonshire</th>",
        "Partnership</th>",
    ] {
        assert!(
            html.contains(&format!("class=\"group\">{group}")),
            "{group}"
        );
    }
    let (header, rows) = read_csv(&dir.join("summary.csv"));
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let values = common::read_measures(&dir.join("measures-unsuppressed.csv"));
    let mut checked = 0;
    for r in &rows {
        for (c, period) in [(col("this_year"), "2024-25"), (col("last_year"), "2023-24")] {
            if r[c].is_empty() || r[c] == "c" || r[c] == "-" {
                continue;
            }
            let key = (
                r[0].clone(),
                period.to_string(),
                r[col("area_code")].clone(),
                "NONE".to_string(),
                String::new(),
            );
            let v = values[&key].value.unwrap();
            assert_eq!(r[c], format!("{:.1}%", v * 100.0), "{key:?}");
            checked += 1;
        }
        if !r[col("change")].is_empty() {
            assert!(
                ["better", "worse", "neither better nor worse", "no change"]
                    .contains(&r[col("direction")].as_str()),
                "{r:?}"
            );
        }
    }
    assert!(checked >= 60, "only {checked} summary numbers checked");
    // The page shows summary.csv's values, measure by measure, area by area.
    let page: Vec<String> = html
        .split("data-col=\"this_year\">")
        .skip(1)
        .map(|c| c[..c.find(['<']).unwrap()].to_string())
        .collect();
    let csv: Vec<String> = rows
        .iter()
        .map(|r| {
            let v = &r[col("this_year")];
            if v.is_empty() {
                "-".to_string()
            } else {
                v.clone()
            }
        })
        .collect();
    assert_eq!(page, csv);
    // Re-referrals (lower is better) for North Northamptonshire: 24.2% from 23.9%, up 0.3
    // points, worse, within its interval; the neighbours' median from the DfE's figures.
    let rr = rows
        .iter()
        .find(|r| r[0] == "rereferral_12m" && r[col("area_code")] == "940")
        .unwrap();
    assert_eq!(
        r_cells(rr, &col),
        ("24.2%", "up 0.3 points", "worse", "within chance variation")
    );
    assert!(!rr[col("neighbours_median")].is_empty() && !rr[col("quartile_band")].is_empty());
    assert!(html.contains("limit: 1 working day (WT2023)"));
    assert!(!html.contains("WT2013"));

    // compare.csv is written beside it, our own small counts withheld as in measures.csv.
    let (ch, crows) = read_csv(&dir.join("compare.csv"));
    let cc = |n: &str| ch.iter().position(|h| h == n).unwrap();
    assert!(crows
        .iter()
        .any(|r| r[cc("la_code")] == "940" && !r[cc("sn_median")].is_empty()));
    let (_, m) = read_csv(&dir.join("measures.csv"));
    for r in &crows {
        let pubd = m.iter().find(|x| {
            x[0] == r[cc("measure_id")]
                && x[1] == r[cc("year")]
                && x[2] == r[cc("la_code")]
                && x[3] == r[cc("breakdown")]
                && x[4] == r[cc("breakdown_value")]
        });
        if let Some(x) = pubd {
            assert_eq!(r[cc("own_numerator")], x[5], "{r:?}");
            assert_eq!(r[cc("own_denominator")], x[6], "{r:?}");
            if x[5] == "c" || x[6] == "c" {
                assert_eq!(r[cc("own_value")], "c");
                assert_eq!(r[cc("difference")], "c");
            }
        }
    }

    // axe-core, WCAG 2.2 AA, in headless Chromium (tests/e2e; CI installs Chromium and runs
    // `npm ci --prefix tests/e2e`). Skipped with a message where any piece is missing.
    let e2e = common::root().join("tests/e2e");
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if chromium.is_none() || !runs("node") || !e2e.join("node_modules/axe-core").is_dir() {
        eprintln!("SKIPPED: axe-core check needs Chromium, node and `npm ci --prefix tests/e2e`");
        return;
    }
    let o = std::process::Command::new("node")
        .arg(e2e.join("axe.mjs"))
        .arg(dir.join("index.html"))
        .env("CHROMIUM", chromium.unwrap())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "axe-core found WCAG 2.2 AA violations (or failed):\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(stdout(&o).trim(), "[]");
}

fn r_cells<'a>(
    r: &'a [String],
    col: &dyn Fn(&str) -> usize,
) -> (&'a str, &'a str, &'a str, &'a str) {
    (
        r[col("this_year")].as_str(),
        r[col("change")].as_str(),
        r[col("direction")].as_str(),
        r[col("size_of_change")].as_str(),
    )
}
