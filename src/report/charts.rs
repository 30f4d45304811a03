//! The report's charts (report.md, charts 1-12), each built from the measures table with the
//! table behind it and a one-line reading computed from the numbers.
//!
//! Counts of 1 to the suppression threshold are published as `c`: they get no bar and no number
//! (cdop.md section 4). A chart with too little data says so instead of drawing bars.

use super::chart::{Chart, Kind, Series};
use super::{Figure, ReportData, Table};
use crate::measures::{FinYear, MeasureRow, ALL};
use crate::suppress::{self, Share};

const SOURCE_CSC: &str = "Source: the partnership's case records (safeguard measures).";
const SOURCE_CDOP: &str = "Source: the Child Death Overview Panel's reviews (safeguard measures).";
/// Fewest events a percentage chart needs before it draws bars.
const MIN_EVENTS: f64 = 10.0;

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn footnote(source: &str, period: &str) -> String {
    format!("{source} Period: {period}. Counts of 1-5 are suppressed (c).")
}

fn month_labels(year: FinYear) -> Vec<(String, String)> {
    (0..12)
        .map(|i| {
            let (y, m) = if i < 9 {
                (year.0, 4 + i)
            } else {
                (year.0 + 1, i - 8)
            };
            let d = chrono::NaiveDate::from_ymd_opt(y, m as u32, 1).expect("valid month");
            (d.format("%Y-%m").to_string(), d.format("%b %y").to_string())
        })
        .collect()
}

/// A fraction series and its table rows from `rows` (one per category). Numerators and
/// denominators each go through the suppressor as a line with its total (so a suppressed cell
/// can't be recovered from the others), and a share is suppressed with its numerator or
/// denominator (cdop.md section 4).
fn fraction_series(
    d: &ReportData,
    name: &str,
    rows: &[Option<&MeasureRow>],
    table: &mut Table,
    cats: &[String],
) -> Series {
    let nums: Vec<u64> = rows
        .iter()
        .map(|r| r.map_or(0, |r| r.numerator.round() as u64))
        .collect();
    let dens: Vec<u64> = rows
        .iter()
        .map(|r| r.map_or(0, |r| r.denominator.round() as u64))
        .collect();
    let gn = d.sup.suppress_grid(&[nums], true, false);
    let gd = d.sup.suppress_grid(&[dens], true, false);
    table.suppressed |= gn.applied || gd.applied;
    let mut values = vec![];
    let mut labels = vec![];
    for (i, r) in rows.iter().enumerate() {
        let Some(r) = r else {
            values.push(None);
            labels.push(None);
            continue;
        };
        let share = suppress::share(gn.cells[0][i], gd.cells[0][i]);
        match share {
            Share::Shown(v) => {
                values.push(Some(v));
                labels.push(Some(pct(v)));
            }
            Share::Suppressed => {
                values.push(None);
                labels.push(Some("c".into()));
            }
            Share::Undefined => {
                values.push(None);
                labels.push(Some("-".into()));
            }
        }
        let shown = match share {
            Share::Shown(v) => format!("{:.1}%", v * 100.0),
            Share::Suppressed => "c".into(),
            Share::Undefined => String::new(),
        };
        let _ = r;
        table.rows.push(vec![
            cats.get(i).cloned().unwrap_or_default(),
            name.to_string(),
            gn.cells[0][i].to_string(),
            gd.cells[0][i].to_string(),
            shown,
        ]);
    }
    Series {
        name: name.to_string(),
        values,
        labels,
        dashed: false,
        colour: None,
    }
}

fn fraction_table() -> Table {
    Table {
        header: vec![
            "category".into(),
            "series".into(),
            "numerator".into(),
            "denominator".into(),
            "percent".into(),
        ],
        ..Default::default()
    }
}

fn count_table() -> Table {
    Table {
        header: vec!["category".into(), "series".into(), "count".into()],
        ..Default::default()
    }
}

/// Count series over the same categories, suppressed together as a grid (categories x series)
/// with its row and column totals, and the table behind them (totals included).
fn count_series(
    d: &ReportData,
    named: Vec<(String, Vec<Option<f64>>)>,
    table: &mut Table,
    cats: &[String],
) -> Vec<Series> {
    if named.is_empty() {
        return vec![];
    }
    let grid: Vec<Vec<u64>> = (0..cats.len())
        .map(|i| {
            named
                .iter()
                .map(|(_, v)| v.get(i).copied().flatten().map_or(0, |x| x.round() as u64))
                .collect()
        })
        .collect();
    let g = d.sup.suppress_grid(&grid, true, true);
    table.suppressed |= g.applied;
    let mut out = vec![];
    for (j, (name, vals)) in named.iter().enumerate() {
        let mut values = vec![];
        let mut labels = vec![];
        for i in 0..cats.len() {
            if vals.get(i).copied().flatten().is_none() {
                values.push(None);
                labels.push(None);
                continue;
            }
            match g.cells[i][j] {
                suppress::Cell::Shown(v) => {
                    values.push(Some(v as f64));
                    labels.push(Some(v.to_string()));
                }
                suppress::Cell::Suppressed => {
                    values.push(None);
                    labels.push(Some("c".into()));
                }
            }
            table.rows.push(vec![
                cats[i].clone(),
                name.clone(),
                g.cells[i][j].to_string(),
            ]);
        }
        if let Some(t) = g.col_totals.as_ref().and_then(|t| t.get(j)) {
            table
                .rows
                .push(vec!["Total".into(), name.clone(), t.to_string()]);
        }
        out.push(Series {
            name: name.clone(),
            values,
            labels,
            dashed: false,
            colour: None,
        });
    }
    out
}

fn chart(
    id: &str,
    title: &str,
    x: &str,
    y: &str,
    foot: String,
    kind: Kind,
    percent: bool,
) -> Chart {
    Chart {
        id: id.into(),
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        footnote: foot,
        categories: vec![],
        series: vec![],
        kind,
        percent,
        reference_lines: vec![],
        too_little: None,
        reading: String::new(),
    }
}

/// Every figure of the report, in order.
pub fn all(d: &ReportData) -> Vec<Figure> {
    vec![
        front_door(d),
        funnel(d),
        timeliness(d),
        duration_bands(
            d,
            4,
            "04-assessment-duration",
            "assessment_duration_band",
            &[
                "same_day", "1-10", "11-20", "21-30", "31-40", "41-45", "46-50", "51-60", "61+",
            ],
            "Assessment duration",
            "Working days from assessment start to authorisation (DfE C2 bands)",
        ),
        duration_bands(
            d,
            5,
            "05-icpc-duration",
            "icpc_duration_band",
            &["0-10", "11-15", "16-20", "21+"],
            "Initial child protection conferences: time from s47 start",
            "Working days from s47 start to ICPC (DfE C4 bands)",
        ),
        rereferrals_and_repeat_plans(d),
        plans_by_category(d),
        plans_duration(d),
        levels_of_need(d),
        early_help_flows(d),
        cdop_by_category(d),
        cdop_modifiable_by_age(d),
        cdop_trend(d),
        cdop_time_to_review(d),
    ]
}

fn front_door(d: &ReportData) -> Figure {
    let y = d.year;
    let months = month_labels(y);
    let cats: Vec<String> = months.iter().map(|m| m.1.clone()).collect();
    let mut table = count_table();
    let mut c = chart(
        "01-front-door",
        "Front door: contacts and referrals by month",
        "Month received",
        "Number",
        footnote(SOURCE_CSC, &y.to_string()),
        Kind::Bars,
        false,
    );
    let contacts: Vec<Option<f64>> = months
        .iter()
        .map(|(k, _)| {
            d.row("contact_to_referral", y, ALL, "month", k)
                .map(|r| r.denominator + r.pending as f64)
        })
        .collect();
    let referrals: Vec<Option<f64>> = months
        .iter()
        .map(|(k, _)| {
            d.row("referral_nfa", y, ALL, "month", k)
                .map(|r| r.denominator)
        })
        .collect();
    let mut named = vec![];
    if contacts.iter().any(|c| c.is_some()) {
        named.push(("Contacts".to_string(), contacts.clone()));
    }
    named.push(("Referrals".to_string(), referrals.clone()));
    c.series = count_series(d, named, &mut table, &cats);
    c.categories = cats;
    let total_ref: f64 = referrals.iter().flatten().sum();
    c.reading = match d.all("contact_to_referral", y) {
        Some(r) if r.value.is_some() => format!(
            "{} contacts and {} referrals were received in {y}; {} of contacts with an outcome became referrals.",
            d.count(r.denominator + r.pending as f64), d.count(total_ref), d.pct(r)
        ),
        _ => format!("{} referrals were received in {y} (no contact data: the front door before referral is not recorded).", d.count(total_ref)),
    };
    if total_ref < 1.0 {
        c.too_little = Some("No referrals in this year".into());
    }
    Figure {
        section: 1,
        heading: "Front door".into(),
        chart: c,
        table,
    }
}

fn funnel(d: &ReportData) -> Figure {
    let y = d.year;
    let steps: [(&str, &str, bool); 6] = [
        ("Contacts", "contact_to_referral", false),
        ("Referrals", "referral_to_assessment", false),
        ("Assessments", "referral_to_assessment", true),
        ("s47 enquiries", "referral_to_s47", true),
        ("ICPCs", "referral_to_icpc", true),
        ("CP plans", "referral_to_cpp", true),
    ];
    let cats: Vec<String> = steps.iter().map(|s| s.0.to_string()).collect();
    let mut table = count_table();
    let mut c = chart(
        "02-threshold-funnel",
        "Threshold funnel: the year's referrals followed to a plan",
        "Stage reached",
        "Number",
        footnote(
            SOURCE_CSC,
            &format!("{y}; referrals received in the year, followed to the reference date"),
        ),
        Kind::Bars,
        false,
    );
    let mut named = vec![];
    for (la, name) in &d.las {
        let counts: Vec<Option<f64>> = steps
            .iter()
            .map(|(_, m, num)| {
                d.row(m, y, la, "NONE", "").map(|r| {
                    if *num {
                        r.numerator
                    } else {
                        r.denominator + r.pending as f64
                    }
                })
            })
            .collect();
        if counts.iter().any(|c| c.is_some()) {
            named.push((name.clone(), counts));
        }
    }
    c.series = count_series(d, named, &mut table, &cats);
    c.categories = cats;
    let all: Vec<Option<f64>> = steps
        .iter()
        .map(|(_, m, num)| {
            d.all(m, y)
                .map(|r| if *num { r.numerator } else { r.denominator })
        })
        .collect();
    c.reading = match (all[1], all[2], all[3], all[5]) {
        (Some(r), Some(a), Some(s), Some(p)) if r > 0.0 => format!(
            "Of {} referrals received in {y}, {} led to an assessment, {} to an s47 enquiry and {} to a child protection plan.",
            d.count(r), pct(a / r), pct(s / r), pct(p / r)
        ),
        _ => "Too few referrals to follow through the funnel.".into(),
    };
    if c.series.is_empty() {
        c.too_little = Some("No referrals in this year".into());
    }
    Figure {
        section: 2,
        heading: "Threshold funnel".into(),
        chart: c,
        table,
    }
}

fn timeliness(d: &ReportData) -> Figure {
    let years = [d.year.previous().previous(), d.year.previous(), d.year];
    let mut cats = vec![];
    let mut keys = vec![];
    for y in years {
        for q in 0..4 {
            cats.push(format!(
                "Q{} {}",
                q + 1,
                y.to_string().get(2..).unwrap_or_default()
            ));
            let months: Vec<String> = month_labels(y)[q * 3..q * 3 + 3]
                .iter()
                .map(|m| m.0.clone())
                .collect();
            keys.push((y, months));
        }
    }
    let mut table = fraction_table();
    let mut c = chart(
        "03-timeliness",
        "Timeliness against the statutory limits, by quarter",
        "Quarter (financial year)",
        "Within the limit",
        footnote(
            SOURCE_CSC,
            &format!(
                "{} to {}; England: DfE Children in need statistics",
                years[0], years[2]
            ),
        ),
        Kind::Lines,
        true,
    );
    let measures = [
        ("referral_decision_1wd", "Referral decision within 1 WD"),
        (
            "assessment_45wd_from_referral",
            "Assessment within 45 WD of referral",
        ),
        (
            "assessment_45wd_from_start",
            "Assessment within 45 WD of start (DfE)",
        ),
        ("icpc_15wd", "ICPC within 15 WD of s47 start"),
    ];
    let mut any = false;
    for (m, name) in measures {
        let rows: Vec<Option<MeasureRow>> = keys
            .iter()
            .map(|(y, months)| {
                let rs: Vec<&MeasureRow> = months
                    .iter()
                    .filter_map(|k| d.row(m, *y, ALL, "month", k))
                    .collect();
                if rs.is_empty() {
                    return None;
                }
                let mut sum = rs[0].clone();
                sum.numerator = rs.iter().map(|r| r.numerator).sum();
                sum.denominator = rs.iter().map(|r| r.denominator).sum();
                sum.value = (sum.denominator > 0.0).then(|| sum.numerator / sum.denominator);
                Some(sum)
            })
            .collect();
        if rows.iter().all(|r| r.is_none()) {
            continue;
        }
        any = true;
        let refs: Vec<Option<&MeasureRow>> = rows.iter().map(|r| r.as_ref()).collect();
        let mut s = fraction_series(d, name, &refs, &mut table, &cats);
        s.labels = vec![None; s.values.len()];
        c.series.push(s);
    }
    c.categories = cats;
    for (m, label) in [
        ("icpc_15wd", "England ICPC"),
        ("assessment_45wd_from_start", "England assessment"),
    ] {
        if let Some((p, v)) = d.benchmarks.latest(m, &d.year.to_string()) {
            c.reference_lines
                .push((format!("{label} {} ({p})", pct(v)), v));
        }
    }
    let now = d.all("icpc_15wd", d.year);
    let before = d.all("icpc_15wd", d.year.previous());
    c.reading = match (now, before) {
        (Some(n), Some(b)) if n.value.is_some() && b.value.is_some() => format!(
            "{} of ICPCs were held within 15 working days in {}, {} from {} the year before.",
            d.pct(n),
            d.year,
            if n.value > b.value {
                "up"
            } else if n.value < b.value {
                "down"
            } else {
                "the same as"
            },
            d.pct(b)
        ),
        (Some(n), _) if n.value.is_some() => format!(
            "{} of ICPCs were held within 15 working days in {}.",
            d.pct(n),
            d.year
        ),
        _ => "Too few conferences to report timeliness.".into(),
    };
    if !any {
        c.too_little = Some("No timeliness data in these years".into());
    }
    Figure {
        section: 3,
        heading: "Timeliness".into(),
        chart: c,
        table,
    }
}

#[allow(clippy::too_many_arguments)]
fn duration_bands(
    d: &ReportData,
    section: usize,
    id: &str,
    m: &str,
    bands: &[&str],
    title: &str,
    x: &str,
) -> Figure {
    let cats: Vec<String> = bands.iter().map(|b| b.replace('_', " ")).collect();
    let mut table = fraction_table();
    let mut c = chart(
        id,
        title,
        x,
        "Share of those completed",
        footnote(SOURCE_CSC, &format!("{} and {}", d.year.previous(), d.year)),
        Kind::Bars,
        true,
    );
    for y in [d.year.previous(), d.year] {
        let rows: Vec<Option<&MeasureRow>> =
            bands.iter().map(|b| d.row(m, y, ALL, "band", b)).collect();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, &y.to_string(), &rows, &mut table, &cats));
        }
    }
    c.categories = cats;
    let total = d.all(m, d.year).map_or(0.0, |r| r.denominator);
    let median = d
        .row(m, d.year, ALL, "statistic", "median")
        .and_then(|r| r.value);
    c.reading = match median {
        Some(md) if total >= MIN_EVENTS => format!(
            "{} completed in {}; the median took {md:.0} working days.",
            d.count(total),
            d.year
        ),
        _ => "Too few completed in the year to describe the distribution.".into(),
    };
    if total < MIN_EVENTS {
        c.too_little = Some(format!(
            "Too little data: {} completed in {}",
            d.count(total),
            d.year
        ));
    }
    let heading = if section == 4 {
        "Assessment duration"
    } else {
        "ICPC timeliness distribution"
    };
    Figure {
        section,
        heading: heading.into(),
        chart: c,
        table,
    }
}

fn trend_years(d: &ReportData) -> Vec<FinYear> {
    vec![d.year.previous().previous(), d.year.previous(), d.year]
}

fn rereferrals_and_repeat_plans(d: &ReportData) -> Figure {
    let years = trend_years(d);
    let cats: Vec<String> = years.iter().map(|y| y.to_string()).collect();
    let mut table = fraction_table();
    let mut c = chart(
        "06-rereferrals-repeat-plans",
        "Re-referrals within 12 months and second or subsequent plans",
        "Financial year",
        "Share",
        footnote(
            SOURCE_CSC,
            &format!("{} to {}; England: DfE C1 and D3", years[0], years[2]),
        ),
        Kind::Lines,
        true,
    );
    for (m, name) in [
        ("rereferral_12m", "Re-referrals within 12 months"),
        ("cpp_second_or_subsequent", "Second or subsequent plans"),
    ] {
        let rows: Vec<Option<&MeasureRow>> = years.iter().map(|y| d.all(m, *y)).collect();
        // England's line shares the colour of the partnership's line it compares with.
        let partner = c.series.len();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, name, &rows, &mut table, &cats));
        }
        let eng: Vec<Option<f64>> = years
            .iter()
            .map(|y| d.benchmarks.get(m, &y.to_string()))
            .collect();
        if eng.iter().any(|v| v.is_some()) {
            c.series.push(Series {
                name: format!("England: {}", name.to_lowercase()),
                values: eng.clone(),
                labels: vec![None; eng.len()],
                dashed: true,
                colour: Some(partner),
            });
            for (y, v) in years.iter().zip(&eng) {
                if let Some(v) = v {
                    table.rows.push(vec![
                        y.to_string(),
                        format!("England: {name}"),
                        String::new(),
                        String::new(),
                        format!("{:.1}%", v * 100.0),
                    ]);
                }
            }
        }
    }
    c.categories = cats;
    c.reading = match (
        d.all("rereferral_12m", d.year),
        d.benchmarks.get("rereferral_12m", &d.year.to_string()),
    ) {
        (Some(r), Some(e)) if r.value.is_some() => format!(
            "{} of referrals in {} were re-referrals within 12 months (England {}).",
            d.pct(r),
            d.year,
            pct(e)
        ),
        (Some(r), None) if r.value.is_some() => format!(
            "{} of referrals in {} were re-referrals within 12 months.",
            d.pct(r),
            d.year
        ),
        _ => "Too few referrals to report re-referrals.".into(),
    };
    Figure {
        section: 6,
        heading: "Re-referrals and repeat plans".into(),
        chart: c,
        table,
    }
}

fn plans_by_category(d: &ReportData) -> Figure {
    let cats_codes = ["NEG", "EMO", "PHY", "SAB", "MUL"];
    let cats: Vec<String> = [
        "Neglect",
        "Emotional abuse",
        "Physical abuse",
        "Sexual abuse",
        "Multiple",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut table = count_table();
    let mut c = chart(
        "07-plans-by-category",
        "New child protection plans by initial category of abuse",
        "Initial category",
        "Plans started",
        footnote(SOURCE_CSC, &format!("{} and {}", d.year.previous(), d.year)),
        Kind::Bars,
        false,
    );
    let mut named = vec![];
    for y in [d.year.previous(), d.year] {
        let counts: Vec<Option<f64>> = cats_codes
            .iter()
            .map(|k| {
                d.row("cpp_by_category", y, ALL, "category", k)
                    .map(|r| r.numerator)
            })
            .collect();
        if counts.iter().any(|c| c.is_some()) {
            named.push((y.to_string(), counts));
        }
    }
    c.series = count_series(d, named, &mut table, &cats);
    c.categories = cats;
    let total = d
        .all("cpp_by_category", d.year)
        .map_or(0.0, |r| r.numerator);
    let neg = d
        .row("cpp_by_category", d.year, ALL, "category", "NEG")
        .map_or(0.0, |r| r.numerator);
    c.reading = if total >= MIN_EVENTS {
        format!(
            "{} plans started in {}; neglect was the initial category for {}.",
            d.count(total),
            d.year,
            pct(neg / total)
        )
    } else {
        c.too_little = Some("Too few plans started to chart".into());
        "Too few plans started to describe.".into()
    };
    Figure {
        section: 7,
        heading: "Child protection plans".into(),
        chart: c,
        table,
    }
}

fn plans_duration(d: &ReportData) -> Figure {
    let bands = [
        "3 months or less",
        "more than 3 to 6 months",
        "more than 6 months to less than 1 year",
        "1 to less than 2 years",
        "2 years or more",
    ];
    let cats: Vec<String> = [
        "<= 3 months",
        "3-6 months",
        "6-12 months",
        "1-2 years",
        "2 years +",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut table = fraction_table();
    let mut c = chart(
        "07-plans-duration",
        "Length of child protection plans that ended (DfE D7 bands)",
        "Length of plan",
        "Share of plans ended",
        footnote(SOURCE_CSC, &format!("{} and {}", d.year.previous(), d.year)),
        Kind::Bars,
        true,
    );
    for y in [d.year.previous(), d.year] {
        let rows: Vec<Option<&MeasureRow>> = bands
            .iter()
            .map(|b| d.row("cpp_duration_ended", y, ALL, "band", b))
            .collect();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, &y.to_string(), &rows, &mut table, &cats));
        }
    }
    c.categories = cats;
    let total = d
        .all("cpp_duration_ended", d.year)
        .map_or(0.0, |r| r.denominator);
    let long = d.row("cpp_duration_ended", d.year, ALL, "band", "2 years or more");
    c.reading = match long {
        Some(l) if total >= MIN_EVENTS => format!(
            "{} plans ended in {}; {} had lasted 2 years or more.",
            d.count(total),
            d.year,
            d.pct(l)
        ),
        _ if total >= MIN_EVENTS => format!(
            "{} plans ended in {}; none had lasted 2 years or more.",
            d.count(total),
            d.year
        ),
        _ => {
            c.too_little = Some("Too few plans ended to chart".into());
            "Too few plans ended to describe.".into()
        }
    };
    Figure {
        section: 7,
        heading: "Child protection plans".into(),
        chart: c,
        table,
    }
}

fn levels_of_need(d: &ReportData) -> Figure {
    let levels = ["1", "2", "3", "4"];
    let cats: Vec<String> = ["1 Universal", "2 Early help", "3 Targeted", "4 Specialist"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut table = fraction_table();
    let mut c = chart(
        "08-levels-of-need",
        "Levels of need at the front door: contacts that became referrals",
        "Level of need recorded at contact",
        "Contacts becoming referrals",
        footnote(SOURCE_CSC, &d.year.to_string()),
        Kind::Bars,
        true,
    );
    let rows: Vec<Option<&MeasureRow>> = levels
        .iter()
        .map(|l| d.row("contact_to_referral", d.year, ALL, "level_of_need", l))
        .collect();
    if rows.iter().any(|r| r.is_some()) {
        c.series.push(fraction_series(
            d,
            "Contacts becoming referrals",
            &rows,
            &mut table,
            &cats,
        ));
    } else {
        c.too_little = Some("No levels of need recorded at the front door".into());
    }
    c.categories = cats;
    c.reading = match rows[3].zip(rows[1]) {
        Some((hi, lo)) => format!(
            "{} of level-4 contacts became referrals, against {} at level 2.",
            d.pct(hi),
            d.pct(lo)
        ),
        None => "Levels of need are not recorded for enough contacts.".into(),
    };
    Figure {
        section: 8,
        heading: "Levels of need and early help".into(),
        chart: c,
        table,
    }
}

fn early_help_flows(d: &ReportData) -> Figure {
    let years = trend_years(d);
    let cats: Vec<String> = years.iter().map(|y| y.to_string()).collect();
    let mut table = fraction_table();
    let mut c = chart(
        "08-early-help-flows",
        "Step-up from early help and step-down after assessment",
        "Financial year",
        "Share",
        footnote(SOURCE_CSC, &format!("{} to {}", years[0], years[2])),
        Kind::Bars,
        true,
    );
    for (m, name) in [
        (
            "early_help_step_up",
            "Early help episodes stepping up to a referral",
        ),
        (
            "assessment_to_early_help",
            "Assessments closed to early help (RC9)",
        ),
    ] {
        let rows: Vec<Option<&MeasureRow>> = years.iter().map(|y| d.all(m, *y)).collect();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, name, &rows, &mut table, &cats));
        }
    }
    c.categories = cats;
    c.reading = match d.all("early_help_step_up", d.year) {
        Some(r) if r.value.is_some() => format!("{} of early help episodes that ended in {} stepped up to children's social care within 3 months.", d.pct(r), d.year),
        _ => "No early help episodes ended in the year.".into(),
    };
    if c.series.is_empty() {
        c.too_little = Some("No early help data".into());
    }
    Figure {
        section: 8,
        heading: "Levels of need and early help".into(),
        chart: c,
        table,
    }
}

/// Categories of death (cdop.md section 1) with the short labels the chart uses.
const CDOP_CATEGORIES: &[(&str, &str)] = &[
    ("1", "Abuse or neglect"),
    ("2", "Suicide or self-harm"),
    ("3", "Trauma, external"),
    ("4", "Malignancy"),
    ("5", "Acute medical or surgical"),
    ("6", "Chronic medical"),
    ("7", "Congenital anomalies"),
    ("8", "Perinatal or neonatal"),
    ("9", "Infection"),
    ("10", "Sudden unexplained"),
];

fn cdop_by_category(d: &ReportData) -> Figure {
    let cats: Vec<String> = CDOP_CATEGORIES
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let mut table = count_table();
    let years = trend_years(d);
    let mut c = chart(
        "09-cdop-category",
        "Child deaths reviewed: category of death by modifiable factors",
        "Category of death",
        "Reviews completed",
        footnote(SOURCE_CDOP, &format!("{} to {} pooled", years[0], years[2])),
        Kind::StackedBars,
        false,
    );
    let mut named = vec![];
    for (outcome, name) in [
        ("IDENTIFIED", "Modifiable factors identified"),
        ("NOT_IDENTIFIED", "No modifiable factors"),
        ("INSUFFICIENT", "Insufficient information"),
    ] {
        // A category with no review of this outcome is a zero (shown), not missing.
        // Pooled over the three years (reviews are counted in the year they are completed, so
        // the years are disjoint): one panel's single year is too small to publish by category.
        let counts: Vec<Option<f64>> = CDOP_CATEGORIES
            .iter()
            .map(|(k, _)| {
                Some(
                    trend_years(d)
                        .iter()
                        .filter_map(|y| {
                            d.row(
                                "cdop_reviews_completed",
                                *y,
                                ALL,
                                "category_modifiable",
                                &format!("{k}|{outcome}"),
                            )
                        })
                        .map(|r| r.numerator)
                        .sum(),
                )
            })
            .collect();
        named.push((name.to_string(), counts));
    }
    c.series = count_series(d, named, &mut table, &cats);
    c.categories = cats;
    let total = d
        .all("cdop_reviews_completed", d.year)
        .map_or(0.0, |r| r.numerator.max(r.denominator));
    c.reading = match d.all("cdop_modifiable_all", d.year) {
        Some(r) if total >= MIN_EVENTS => format!("The panel completed {} reviews in {}; modifiable factors were identified in {} of them.", d.count(total), d.year, d.pct(r)),
        _ => "Too few reviews completed in the year to chart without identifying families.".into(),
    };
    if total < MIN_EVENTS {
        c.too_little = Some("Too few reviews completed to chart".into());
    } else if c
        .series
        .iter()
        .all(|s| s.values.iter().all(|v| v.is_none_or(|v| v == 0.0)))
    {
        c.too_little = Some(
            "Every category's count is too small to publish without identifying families".into(),
        );
    }
    Figure {
        section: 9,
        heading: "Child deaths: category and modifiable factors".into(),
        chart: c,
        table,
    }
}

fn cdop_modifiable_by_age(d: &ReportData) -> Figure {
    let bands = [
        "under 28 days",
        "28 days to under 1 year",
        "1-4",
        "5-9",
        "10-14",
        "15-17",
    ];
    let mut cats: Vec<String> = bands.iter().map(|s| s.to_string()).collect();
    cats.extend(["Expected".to_string(), "Unexpected".to_string()]);
    let pooled = "cdop_modifiable_sufficient_pooled5";
    let m = if d.all(pooled, d.year).is_some() {
        pooled
    } else {
        "cdop_modifiable_sufficient"
    };
    let mut table = fraction_table();
    let mut c = chart(
        "10-cdop-modifiable-age",
        "Child deaths: share with modifiable factors by age and expectedness",
        "Age at death / expectedness",
        "Modifiable (of reviews with sufficient information)",
        footnote(
            SOURCE_CDOP,
            &if m == pooled {
                format!("5 years to {} pooled", d.year)
            } else {
                d.year.to_string()
            },
        ),
        Kind::Bars,
        true,
    );
    let mut rows: Vec<Option<&MeasureRow>> = bands
        .iter()
        .map(|b| d.row(m, d.year, ALL, "age_band", b))
        .collect();
    rows.push(d.row(m, d.year, ALL, "expected", "expected"));
    rows.push(d.row(m, d.year, ALL, "expected", "unexpected"));
    c.series
        .push(fraction_series(d, "Modifiable", &rows, &mut table, &cats));
    c.categories = cats;
    c.reading = match d.all(m, d.year) {
        Some(r) if r.value.is_some() => format!("Across these years {} of reviews with sufficient information found modifiable factors.", d.pct(r)),
        _ => "Too few reviews to show modifiable factors by age.".into(),
    };
    if c.series[0].values.iter().all(|v| v.is_none()) {
        c.too_little = Some("Too few reviews to chart without identifying families".into());
    }
    Figure {
        section: 10,
        heading: "Child deaths: modifiable factors by age".into(),
        chart: c,
        table,
    }
}

fn cdop_trend(d: &ReportData) -> Figure {
    let years = trend_years(d);
    let cats: Vec<String> = years.iter().map(|y| y.to_string()).collect();
    let mut table = fraction_table();
    let mut c = chart(
        "11-cdop-trend",
        "Child deaths: share of completed reviews with modifiable factors",
        "Financial year",
        "Modifiable (of all completed reviews)",
        footnote(
            SOURCE_CDOP,
            &format!(
                "{} to {}; England: national child death review statistics",
                years[0], years[2]
            ),
        ),
        Kind::Lines,
        true,
    );
    let rows: Vec<Option<&MeasureRow>> = years
        .iter()
        .map(|y| d.all("cdop_modifiable_all", *y))
        .collect();
    c.series
        .push(fraction_series(d, "Partnership", &rows, &mut table, &cats));
    if let Some((p, v)) = d
        .benchmarks
        .latest("cdop_modifiable_all", &d.year.to_string())
    {
        c.reference_lines
            .push((format!("England {} ({p})", pct(v)), v));
    }
    c.categories = cats;
    c.reading = match (rows[2], rows[1]) {
        (Some(n), Some(b)) if n.value.is_some() && b.value.is_some() => format!(
            "{} of reviews completed in {} found modifiable factors, against {} the year before.",
            d.pct(n),
            d.year,
            d.pct(b)
        ),
        (Some(n), _) if n.value.is_some() => format!(
            "{} of reviews completed in {} found modifiable factors.",
            d.pct(n),
            d.year
        ),
        _ => "Too few reviews to show a trend.".into(),
    };
    if rows.iter().all(|r| r.is_none()) {
        c.too_little = Some("No completed reviews in these years".into());
    }
    Figure {
        section: 11,
        heading: "Child deaths: trend".into(),
        chart: c,
        table,
    }
}

fn cdop_time_to_review(d: &ReportData) -> Figure {
    let bands = [
        "under 6 months",
        "6 to under 12 months",
        "12 to under 24 months",
        "24 months or more",
    ];
    let cats: Vec<String> = bands.iter().map(|s| s.to_string()).collect();
    let mut table = fraction_table();
    let mut c = chart(
        "12-cdop-time-to-review",
        "Child deaths: time from death to completion of the review",
        "Time from death",
        "Share of reviews completed",
        footnote(SOURCE_CDOP, &d.year.to_string()),
        Kind::Bars,
        true,
    );
    let rows: Vec<Option<&MeasureRow>> = bands
        .iter()
        .map(|b| d.row("cdop_time_to_review", d.year, ALL, "band", b))
        .collect();
    c.series.push(fraction_series(
        d,
        &d.year.to_string(),
        &rows,
        &mut table,
        &cats,
    ));
    c.categories = cats;
    let total = d
        .all("cdop_time_to_review", d.year)
        .map_or(0.0, |r| r.denominator);
    c.reading = match rows[0].zip(rows[1]) {
        Some((a, b)) if total >= MIN_EVENTS && a.value.is_some() && b.value.is_some() => format!(
            "{} of reviews completed in {} were completed within a year of the death.",
            pct(a.value.unwrap_or(0.0) + b.value.unwrap_or(0.0)),
            d.year
        ),
        _ => "Too few reviews to describe the time to review.".into(),
    };
    if total < MIN_EVENTS {
        c.too_little = Some("Too few reviews completed to chart".into());
    }
    Figure {
        section: 12,
        heading: "Child deaths: time to review".into(),
        chart: c,
        table,
    }
}
