//! The report's charts (report.md, charts 1-12), each built from the measures table with the
//! table behind it and a one-line reading computed from the numbers.
//!
//! Every number starts from the published (suppressed) measures table (`ReportData::row` gives
//! each row with its published cells, see the module comment of `report`): counts of 1 to the
//! suppression threshold, and the cells suppressed with them, are published as `c` and get no
//! bar and no number; a sum with a suppressed count in it is suppressed too, and each chart's
//! table gets its own secondary suppression (cdop.md section 4). The readings are written from
//! the same cells: a clause whose count or share is suppressed is left out, so a reading never
//! shows `c` nor a share of a suppressed count. A chart with too little data says so instead of
//! drawing bars.

use super::chart::{Chart, Kind, Point, Series};
use super::{stats, Figure, Published, ReportData, Table};
use crate::measures::catalogue::Polarity;
use crate::measures::ALL;
use crate::period::FinYear;
use crate::suppress::{self, Cell, Share, SuppressedGrid};

const SOURCE_CSC: &str = "Source: the partnership's case records (safeguard measures).";
const SOURCE_CDOP: &str = "Source: the Child Death Overview Panel's reviews (safeguard measures).";
/// Fewest events a chart needs before it describes a distribution.
const MIN_EVENTS: u64 = 10;
/// What a reading says in place of a suppressed number.
const NOT_PUBLISHED: &str = "withheld to protect small numbers";

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn pct1(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The footnote: source, period, and the suppression rule with the configured threshold.
fn footnote(d: &ReportData, source: &str, period: &str) -> String {
    format!(
        "{source} Period: {period}.\nCounts of 1 to {} are withheld, with others where a total would reveal one.",
        d.threshold
    )
}

/// A published count for a sentence: None when suppressed (the clause is left out).
fn said(c: Cell) -> Option<u64> {
    c.shown()
}

/// How a published count is said in a reading: the number when it is shown; "fewer than N"
/// (N = threshold + 1) when it is withheld for being small (its count is 1 to the threshold);
/// None - the clause is left out - when it is withheld only so that another cannot be worked
/// out (its count is above the threshold: "fewer than N" would be false). Never `c`.
pub fn count_phrase(cell: Cell, raw: impl Into<f64>, threshold: u64) -> Option<String> {
    let raw = raw.into().max(0.0).round() as u64;
    match cell {
        Cell::Shown(v) => Some(v.to_string()),
        Cell::Suppressed if raw >= 1 && raw <= threshold => {
            Some(format!("fewer than {}", threshold + 1))
        }
        Cell::Suppressed => None,
    }
}

/// A published share as a whole percent for a sentence: None when suppressed or not defined.
fn said_pct(s: Share) -> Option<String> {
    match s {
        Share::Shown(v) => Some(pct(v)),
        _ => None,
    }
}

/// The sum of two published counts: suppressed when either is.
fn add_cells(a: Cell, b: Cell) -> Cell {
    match (a, b) {
        (Cell::Shown(x), Cell::Shown(y)) => Cell::Shown(x + y),
        _ => Cell::Suppressed,
    }
}

/// Enough events to describe: the published count is shown and at least MIN_EVENTS.
fn enough(c: Option<Cell>) -> bool {
    matches!(c, Some(Cell::Shown(n)) if n >= MIN_EVENTS)
}

/// `a`, `a and b`, `a, b and c`.
fn join_clauses(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A count a chart may use: its value and whether it is hidden (suppressed in the published
/// measures table, or summed from a count that is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Num {
    pub v: u64,
    pub hidden: bool,
}

impl Num {
    pub fn of(cell: Cell, raw: f64) -> Num {
        Num {
            v: raw.max(0.0).round() as u64,
            hidden: cell.is_suppressed(),
        }
    }
    pub fn plus(self, o: Num) -> Num {
        Num {
            v: self.v + o.v,
            hidden: self.hidden || o.hidden,
        }
    }
}

fn num(p: &Published) -> Num {
    Num::of(p.num, p.row.numerator)
}

fn den(p: &Published) -> Num {
    Num::of(p.den, p.row.denominator)
}

fn pending(p: &Published) -> Num {
    Num::of(p.pending, p.row.pending as f64)
}

/// A fraction a chart may use: numerator and denominator.
#[derive(Debug, Clone, Copy, Default)]
struct Frac {
    num: Num,
    den: Num,
}

fn frac(p: &Published) -> Frac {
    Frac {
        num: num(p),
        den: den(p),
    }
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
/// can't be recovered from the others), starting from the cells hidden in the published
/// measures table, and a share is suppressed with its numerator or denominator (cdop.md
/// section 4).
fn fraction_series(
    d: &ReportData,
    name: &str,
    rows: &[Option<Frac>],
    table: &mut Table,
    cats: &[String],
) -> Series {
    let nums: Vec<u64> = rows.iter().map(|r| r.map_or(0, |r| r.num.v)).collect();
    let dens: Vec<u64> = rows.iter().map(|r| r.map_or(0, |r| r.den.v)).collect();
    let hn: Vec<bool> = rows
        .iter()
        .map(|r| r.is_some_and(|r| r.num.hidden))
        .collect();
    let hd: Vec<bool> = rows
        .iter()
        .map(|r| r.is_some_and(|r| r.den.hidden))
        .collect();
    let gn = d.sup.suppress_grid_hidden(&[nums], &[hn], true, false);
    let gd = d.sup.suppress_grid_hidden(&[dens], &[hd], true, false);
    table.suppressed |= gn.applied || gd.applied;
    let mut points = vec![];
    let mut labels = vec![];
    for (i, r) in rows.iter().enumerate() {
        if r.is_none() {
            points.push(Point::Missing);
            labels.push(None);
            continue;
        }
        let share = suppress::share(gn.cells[0][i], gd.cells[0][i]);
        match share {
            Share::Shown(v) => {
                points.push(Point::Shown(v));
                labels.push(Some(pct(v)));
            }
            Share::Suppressed => {
                points.push(Point::Withheld);
                labels.push(None);
            }
            Share::Undefined => {
                points.push(Point::Missing);
                labels.push(None);
            }
        }
        let shown = match share {
            Share::Shown(v) => pct1(v),
            Share::Suppressed => suppress::SUPPRESSED.into(),
            Share::Undefined => String::new(),
        };
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
        points,
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
/// with its row and column totals, starting from the cells hidden in the published measures
/// table, and the table behind them (column totals included). With `total`, the row totals
/// (each category summed over the series, suppressed with the grid) are a series of their own
/// with that name (the partnership beside its LAs). Also gives the suppressed grid.
pub fn count_series(
    d: &ReportData,
    named: Vec<(String, Vec<Option<Num>>)>,
    table: &mut Table,
    cats: &[String],
    total: Option<&str>,
) -> (Vec<Series>, Option<SuppressedGrid>) {
    if named.is_empty() {
        return (vec![], None);
    }
    let at = |i: usize, j: usize| named[j].1.get(i).copied().flatten().unwrap_or_default();
    let grid: Vec<Vec<u64>> = (0..cats.len())
        .map(|i| (0..named.len()).map(|j| at(i, j).v).collect())
        .collect();
    let hidden: Vec<Vec<bool>> = (0..cats.len())
        .map(|i| (0..named.len()).map(|j| at(i, j).hidden).collect())
        .collect();
    let present: Vec<Vec<bool>> = (0..cats.len())
        .map(|i| {
            (0..named.len())
                .map(|j| named[j].1.get(i).copied().flatten().is_some())
                .collect()
        })
        .collect();
    let g = d.sup.suppress_grid_hidden(&grid, &hidden, true, true);
    let names: Vec<String> = named.into_iter().map(|n| n.0).collect();
    let out = series_from_grid(&names, cats, &g, &present, table, total);
    (out, Some(g))
}

/// The series (one per column of `g`) and the table rows of a suppressed grid of counts: a
/// suppressed cell is a withheld point, a cell not `present` is missing. Column totals go into
/// the table; with `total`, the row totals are one more series of that name.
pub fn series_from_grid(
    names: &[String],
    cats: &[String],
    g: &SuppressedGrid,
    present: &[Vec<bool>],
    table: &mut Table,
    total: Option<&str>,
) -> Vec<Series> {
    table.suppressed |= g.applied;
    let mut out = vec![];
    let point = |c: Cell| match c {
        Cell::Shown(v) => (Point::Shown(v as f64), Some(v.to_string())),
        Cell::Suppressed => (Point::Withheld, None),
    };
    for (j, name) in names.iter().enumerate() {
        let mut points = vec![];
        let mut labels = vec![];
        for (i, cat) in cats.iter().enumerate() {
            if !present
                .get(i)
                .and_then(|r| r.get(j))
                .copied()
                .unwrap_or(false)
            {
                points.push(Point::Missing);
                labels.push(None);
                continue;
            }
            let (p, l) = point(g.cells[i][j]);
            points.push(p);
            labels.push(l);
            table
                .rows
                .push(vec![cat.clone(), name.clone(), g.cells[i][j].to_string()]);
        }
        if let Some(t) = g.col_totals.as_ref().and_then(|t| t.get(j)) {
            table
                .rows
                .push(vec!["Total".into(), name.clone(), t.to_string()]);
        }
        out.push(Series {
            name: name.clone(),
            points,
            labels,
            dashed: false,
            colour: None,
        });
    }
    if let (Some(name), Some(rt)) = (total, g.row_totals.as_ref()) {
        let mut points = vec![];
        let mut labels = vec![];
        for (i, cat) in cats.iter().enumerate() {
            if !present.get(i).is_some_and(|r| r.iter().any(|p| *p)) {
                points.push(Point::Missing);
                labels.push(None);
                continue;
            }
            let (p, l) = point(rt[i]);
            points.push(p);
            labels.push(l);
            table
                .rows
                .push(vec![cat.clone(), name.to_string(), rt[i].to_string()]);
        }
        if let Some(t) = g.grand_total {
            table
                .rows
                .push(vec!["Total".into(), name.to_string(), t.to_string()]);
        }
        out.push(Series {
            name: name.to_string(),
            points,
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
    let mut c = Chart::new(id, title, kind);
    c.x_label = x.into();
    c.y_label = y.into();
    c.footnote = foot;
    c.percent = percent;
    c
}

/// Every figure of the report, in order.
pub fn all(d: &ReportData) -> Vec<Figure> {
    let mut figures = vec![
        front_door(d),
        funnel(d),
        timeliness(d),
        timeliness_by_la(d),
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
    ];
    for f in &mut figures {
        f.chart.withheld_label = super::chart::withheld_label(d.threshold);
    }
    figures
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
        footnote(d, SOURCE_CSC, &y.to_string()),
        Kind::Bars,
        false,
    );
    // Contacts with an outcome (decided): the few still awaiting one at the reference date
    // would make a month's count a sum with a withheld number in it (the reading gives them).
    let contacts: Vec<Option<Num>> = months
        .iter()
        .map(|(k, _)| {
            d.row("contact_to_referral", y, ALL, "month", k)
                .map(|r| den(&r))
        })
        .collect();
    let referrals: Vec<Option<Num>> = months
        .iter()
        .map(|(k, _)| d.row("referral_nfa", y, ALL, "month", k).map(|r| den(&r)))
        .collect();
    let mut named = vec![];
    if contacts.iter().any(|c| c.is_some()) {
        named.push(("Contacts with an outcome".to_string(), contacts));
    }
    named.push(("Referrals".to_string(), referrals));
    c.series = count_series(d, named, &mut table, &cats, None).0;
    c.categories = cats;
    // The year's referrals: the published headline row (the sum of the months).
    let refs = d.all("referral_nfa", y).map(|r| r.den);
    let refs_said = refs.and_then(said);
    c.reading = match d.all("contact_to_referral", y) {
        Some(r) if r.row.value.is_some() => {
            let refs = match refs_said {
                Some(n) => format!("{n} referrals were received in {y}."),
                None => format!("The number of referrals received in {y} is {NOT_PUBLISHED}."),
            };
            // Contacts with an outcome (the share's denominator), and those still awaiting one.
            let waiting = count_phrase(r.pending, r.row.pending as f64, d.threshold)
                .filter(|w| w != "0")
                .map(|w| format!(" ({w} more awaited an outcome)"))
                .unwrap_or_default();
            match (said(r.den), said_pct(r.share())) {
                (Some(k), Some(p)) => {
                    format!("{refs} Of {k} contacts with an outcome, {p} became referrals{waiting}.")
                }
                (Some(k), None) => format!("{refs} {k} contacts had an outcome{waiting}."),
                _ => refs,
            }
        }
        _ => match refs_said {
            Some(n) => format!("{n} referrals were received in {y} (no contact data: the front door before referral is not recorded)."),
            None => format!("The number of referrals received in {y} is {NOT_PUBLISHED} (no contact data: the front door before referral is not recorded)."),
        },
    };
    if refs.is_none_or(|r| r == Cell::Shown(0)) {
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
    // Contacts: those with an outcome (the conversion's denominator); the few still awaiting
    // one would make the bar a sum with a withheld count in it.
    let steps: [(&str, &str, bool); 6] = [
        ("Contacts with an outcome", "contact_to_referral", false),
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
            d,
            SOURCE_CSC,
            &format!("{y}; referrals received in the year, followed to the reference date"),
        ),
        Kind::Bars,
        false,
    );
    let mut named = vec![];
    for (la, name) in &d.las {
        let counts: Vec<Option<Num>> = steps
            .iter()
            .map(|(_, m, is_num)| {
                d.row(m, y, la, "NONE", "").map(|r| {
                    if *is_num {
                        num(&r)
                    } else if *m == "contact_to_referral" {
                        den(&r)
                    } else {
                        den(&r).plus(pending(&r))
                    }
                })
            })
            .collect();
        if counts.iter().any(|c| c.is_some()) {
            named.push((name.clone(), counts));
        }
    }
    // Each LA side by side, and the partnership (their sum, suppressed with them) beside them.
    let total = (named.len() > 1).then_some("Partnership");
    c.series = count_series(d, named, &mut table, &cats, total).0;
    c.categories = cats;
    // The reading: the partnership's published cells; a share only where both its counts are
    // published (3 assessments of 40 referrals, with 3 suppressed, gives no share).
    let step = |m: &str, is_num: bool| d.all(m, y).map(|r| if is_num { r.num } else { r.den });
    let referrals = step("referral_to_assessment", false);
    c.reading = match referrals {
        Some(Cell::Shown(r)) if r > 0 => {
            let shares: Vec<(String, &str)> = [
                (step("referral_to_assessment", true), "an assessment"),
                (step("referral_to_s47", true), "an s47 enquiry"),
                (step("referral_to_cpp", true), "a child protection plan"),
            ]
            .into_iter()
            .filter_map(|(n, what)| {
                said_pct(suppress::share(n?, Cell::Shown(r))).map(|p| (p, what))
            })
            .collect();
            let clauses: Vec<String> = shares
                .iter()
                .enumerate()
                .map(|(i, (p, what))| {
                    if i == 0 {
                        format!("{p} led to {what}")
                    } else {
                        format!("{p} to {what}")
                    }
                })
                .collect();
            if clauses.is_empty() {
                format!("{r} referrals were received in {y}; the numbers reaching later stages are {NOT_PUBLISHED}.")
            } else {
                format!(
                    "Of {r} referrals received in {y}, {}.",
                    join_clauses(&clauses)
                )
            }
        }
        Some(Cell::Suppressed) => format!(
            "The number of referrals received in {y} is {NOT_PUBLISHED}: the funnel is not described."
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

/// A measure's polarity from the catalogue (neutral when unknown).
pub fn polarity(measure: &str) -> Polarity {
    crate::measures::catalogue()
        .ok()
        .and_then(|c| c.measure(measure))
        .map_or(Polarity::Neutral, |m| m.polarity)
}

/// "up from 77.0% the year before: better; last year's 77.0% lies outside this year's 95%
/// interval (...), so the change is unlikely to be chance", from two published values (and this
/// year's published counts for the interval).
fn change_clause(now_row: Option<&Published>, measure: &str, now: f64, before: f64) -> String {
    let pol = polarity(measure);
    let dir = stats::direction(pol, now, before);
    if dir == stats::Direction::Same {
        return format!("the same as the year before ({})", pct1(before));
    }
    let mut s = format!(
        "{} from {} the year before ({})",
        if now > before { "up" } else { "down" },
        pct1(before),
        dir.word()
    );
    let counts = now_row.and_then(|r| Some((r.num.shown()?, r.den.shown()?)));
    if let Some(size) = counts
        .and_then(|(x, n)| stats::change(pol, x, n, before))
        .and_then(|c| c.size_sentence(before))
    {
        s.push_str("; ");
        s.push_str(&size);
    }
    s
}

/// This year's share within each statutory limit, for each LA and the partnership side by side
/// (report.md chart 3, by LA): the published `NONE` rows of measures.csv, as they are there.
fn timeliness_by_la(d: &ReportData) -> Figure {
    let y = d.year;
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
    let cats: Vec<String> = measures.iter().map(|m| m.1.to_string()).collect();
    let mut table = fraction_table();
    let mut c = chart(
        "03-timeliness-by-la",
        "Timeliness against the statutory limits, by local authority",
        "Statutory limit",
        "Within the limit",
        footnote(d, SOURCE_CSC, &y.to_string()),
        Kind::Bars,
        true,
    );
    let mut areas: Vec<(String, String)> = d.las.clone();
    if d.las.len() != 1 {
        areas.push((ALL.to_string(), "Partnership".to_string()));
    }
    for (la, name) in &areas {
        let mut points = vec![];
        let mut labels = vec![];
        for (m, cat) in &measures {
            let Some(r) = d.row(m, y, la, "NONE", "") else {
                points.push(Point::Missing);
                labels.push(None);
                continue;
            };
            let (p, l, shown) = match r.share() {
                Share::Shown(v) => (Point::Shown(v), Some(pct(v)), pct1(v)),
                Share::Suppressed => (Point::Withheld, None, suppress::SUPPRESSED.to_string()),
                Share::Undefined => (Point::Missing, None, String::new()),
            };
            table.suppressed |= r.num.is_suppressed() || r.den.is_suppressed();
            table.rows.push(vec![
                cat.to_string(),
                name.clone(),
                r.num.to_string(),
                r.den.to_string(),
                shown,
            ]);
            points.push(p);
            labels.push(l);
        }
        if points.iter().any(|p| *p != Point::Missing) {
            let mut s = Series::new(name, points);
            s.labels = labels;
            c.series.push(s);
        }
    }
    c.categories = cats;
    // The reading: the LAs' ICPC timeliness side by side, as published.
    let parts: Vec<String> = d
        .las
        .iter()
        .filter_map(|(la, name)| {
            let r = d.row("icpc_15wd", y, la, "NONE", "")?;
            Some(match r.value().filter(|_| r.share() != Share::Suppressed) {
                Some(v) => format!("{name} {}", pct1(v)),
                None => format!("{name} {NOT_PUBLISHED}"),
            })
        })
        .collect();
    c.reading = if parts.is_empty() {
        "No timeliness by local authority in the year.".into()
    } else {
        format!(
            "ICPCs held within 15 working days in {y}: {}.",
            join_clauses(&parts)
        )
    };
    if c.series.is_empty() {
        c.too_little = Some("No timeliness data in this year".into());
    }
    Figure {
        section: 3,
        heading: "Timeliness".into(),
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
            d,
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
        // A quarter is the sum of its months: hidden when any month's count is.
        let rows: Vec<Option<Frac>> = keys
            .iter()
            .map(|(y, months)| {
                let rs: Vec<Frac> = months
                    .iter()
                    .filter_map(|k| d.row(m, *y, ALL, "month", k))
                    .map(|r| frac(&r))
                    .collect();
                (!rs.is_empty()).then(|| {
                    rs.iter().fold(Frac::default(), |a, f| Frac {
                        num: a.num.plus(f.num),
                        den: a.den.plus(f.den),
                    })
                })
            })
            .collect();
        if rows.iter().all(|r| r.is_none()) {
            continue;
        }
        any = true;
        let mut s = fraction_series(d, name, &rows, &mut table, &cats);
        s.labels = vec![None; s.points.len()];
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
    let before = d
        .all("icpc_15wd", d.year.previous())
        .and_then(|b| b.value());
    c.reading = match (now.and_then(|n| n.value()), before) {
        (Some(n), Some(b)) => format!(
            "{} of ICPCs were held within 15 working days in {}, {}.",
            pct1(n),
            d.year,
            change_clause(now.as_ref(), "icpc_15wd", n, b)
        ),
        (Some(n), None) => format!(
            "{} of ICPCs were held within 15 working days in {}.",
            pct1(n),
            d.year
        ),
        (None, _) if now.is_some_and(|n| n.share() == Share::Suppressed) => {
            format!("ICPC timeliness in {} is {NOT_PUBLISHED}.", d.year)
        }
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
        footnote(
            d,
            SOURCE_CSC,
            &format!("{} and {}", d.year.previous(), d.year),
        ),
        Kind::Bars,
        true,
    );
    for y in [d.year.previous(), d.year] {
        let rows: Vec<Option<Frac>> = bands
            .iter()
            .map(|b| d.row(m, y, ALL, "band", b).map(|r| frac(&r)))
            .collect();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, &y.to_string(), &rows, &mut table, &cats));
        }
    }
    c.categories = cats;
    let total = d.all(m, d.year).map(|r| r.den);
    // The median's row is published with its n: suppressed with it.
    let median = d
        .row(m, d.year, ALL, "statistic", "median")
        .and_then(|r| r.value());
    let described = enough(total);
    c.reading = match (described, total.and_then(said), median) {
        (true, Some(n), Some(md)) => format!(
            "{n} completed in {}; the median took {md:.0} working days.",
            d.year
        ),
        (true, Some(n), None) => format!("{n} completed in {}.", d.year),
        _ => "Too few completed in the year to describe the distribution.".into(),
    };
    if !described {
        c.too_little = Some(match total {
            Some(Cell::Shown(n)) => format!("Too little data: {n} completed in {}", d.year),
            Some(Cell::Suppressed) => format!(
                "Too little data: the number completed in {} is {NOT_PUBLISHED}",
                d.year
            ),
            None => format!("Too little data: none completed in {}", d.year),
        });
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
            d,
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
        let rows: Vec<Option<Frac>> = years
            .iter()
            .map(|y| d.all(m, *y).map(|r| frac(&r)))
            .collect();
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
            let mut s = Series::new(
                &format!("England: {}", name.to_lowercase()),
                eng.iter()
                    .map(|v| v.map_or(Point::Missing, Point::Shown))
                    .collect(),
            );
            s.dashed = true;
            s.colour = Some(partner);
            c.series.push(s);
            for (y, v) in years.iter().zip(&eng) {
                if let Some(v) = v {
                    table.rows.push(vec![
                        y.to_string(),
                        format!("England: {name}"),
                        String::new(),
                        String::new(),
                        pct1(*v),
                    ]);
                }
            }
        }
    }
    c.categories = cats;
    let row = d.all("rereferral_12m", d.year);
    let england = d.benchmarks.get("rereferral_12m", &d.year.to_string());
    c.reading = match (row.and_then(|r| r.value()), england) {
        (Some(v), Some(e)) => format!(
            "{} of referrals in {} were re-referrals within 12 months (England {}).",
            pct1(v),
            d.year,
            pct(e)
        ),
        (Some(v), None) => format!(
            "{} of referrals in {} were re-referrals within 12 months.",
            pct1(v),
            d.year
        ),
        (None, _) if row.is_some_and(|r| r.share() == Share::Suppressed) => {
            format!("Re-referrals in {} are {NOT_PUBLISHED}.", d.year)
        }
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
        footnote(
            d,
            SOURCE_CSC,
            &format!("{} and {}", d.year.previous(), d.year),
        ),
        Kind::Bars,
        false,
    );
    let mut named = vec![];
    for y in [d.year.previous(), d.year] {
        let counts: Vec<Option<Num>> = cats_codes
            .iter()
            .map(|k| {
                d.row("cpp_by_category", y, ALL, "category", k)
                    .map(|r| num(&r))
            })
            .collect();
        if counts.iter().any(|c| c.is_some()) {
            named.push((y.to_string(), counts));
        }
    }
    c.series = count_series(d, named, &mut table, &cats, None).0;
    c.categories = cats;
    let total = d.all("cpp_by_category", d.year).map(|r| r.num);
    let neg = d
        .row("cpp_by_category", d.year, ALL, "category", "NEG")
        .map_or(Cell::Shown(0), |r| r.num);
    c.reading = match total.and_then(said) {
        Some(t) if enough(total) => match said_pct(suppress::share(neg, Cell::Shown(t))) {
            Some(p) => format!(
                "{t} plans started in {}; neglect was the initial category for {p}.",
                d.year
            ),
            None => format!("{t} plans started in {}.", d.year),
        },
        _ => {
            c.too_little = Some("Too few plans started to chart".into());
            "Too few plans started to describe.".into()
        }
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
        footnote(
            d,
            SOURCE_CSC,
            &format!("{} and {}", d.year.previous(), d.year),
        ),
        Kind::Bars,
        true,
    );
    for y in [d.year.previous(), d.year] {
        let rows: Vec<Option<Frac>> = bands
            .iter()
            .map(|b| {
                d.row("cpp_duration_ended", y, ALL, "band", b)
                    .map(|r| frac(&r))
            })
            .collect();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, &y.to_string(), &rows, &mut table, &cats));
        }
    }
    c.categories = cats;
    let total = d.all("cpp_duration_ended", d.year).map(|r| r.den);
    let long = d.row("cpp_duration_ended", d.year, ALL, "band", "2 years or more");
    // "fewer than 6" when the band's count is withheld for being small; the clause is left out
    // when it is withheld to protect another.
    c.reading = match total.and_then(said) {
        Some(t) if enough(total) => {
            let long = match long {
                None => Some("none".to_string()),
                Some(l) => {
                    count_phrase(l.num, l.row.numerator, d.threshold).map(|n| match l.share() {
                        Share::Shown(v) if n != "0" => format!("{n} ({})", pct1(v)),
                        Share::Shown(_) => "none".to_string(),
                        _ => n,
                    })
                }
            };
            match long {
                Some(n) => format!(
                    "{t} plans ended in {}; {n} had lasted 2 years or more.",
                    d.year
                ),
                None => format!("{t} plans ended in {}.", d.year),
            }
        }
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
        footnote(d, SOURCE_CSC, &d.year.to_string()),
        Kind::Bars,
        true,
    );
    let rows: Vec<Option<Published>> = levels
        .iter()
        .map(|l| d.row("contact_to_referral", d.year, ALL, "level_of_need", l))
        .collect();
    let fracs: Vec<Option<Frac>> = rows.iter().map(|r| r.as_ref().map(frac)).collect();
    if rows.iter().any(|r| r.is_some()) {
        c.series.push(fraction_series(
            d,
            "Contacts becoming referrals",
            &fracs,
            &mut table,
            &cats,
        ));
    } else {
        c.too_little = Some("No levels of need recorded at the front door".into());
    }
    c.categories = cats;
    let hi = rows[3].and_then(|r| r.value());
    let lo = rows[1].and_then(|r| r.value());
    c.reading = match (hi, lo) {
        (Some(h), Some(l)) => format!(
            "{} of level-4 contacts became referrals, against {} at level 2.",
            pct1(h),
            pct1(l)
        ),
        (Some(h), None) => format!("{} of level-4 contacts became referrals.", pct1(h)),
        (None, Some(l)) => format!("{} of level-2 contacts became referrals.", pct1(l)),
        (None, None) if rows[3].is_some() || rows[1].is_some() => {
            format!("Conversion by level of need is {NOT_PUBLISHED} for levels 2 and 4.")
        }
        (None, None) => "Levels of need are not recorded for enough contacts.".into(),
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
        footnote(d, SOURCE_CSC, &format!("{} to {}", years[0], years[2])),
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
        let rows: Vec<Option<Frac>> = years
            .iter()
            .map(|y| d.all(m, *y).map(|r| frac(&r)))
            .collect();
        if rows.iter().any(|r| r.is_some()) {
            c.series
                .push(fraction_series(d, name, &rows, &mut table, &cats));
        }
    }
    c.categories = cats;
    let row = d.all("early_help_step_up", d.year);
    c.reading = match row.and_then(|r| r.value()) {
        Some(v) => format!("{} of early help episodes that ended in {} stepped up to children's social care within 3 months.", pct1(v), d.year),
        None if row.is_some_and(|r| r.share() == Share::Suppressed) => format!(
            "Step-up from early help in {} is {NOT_PUBLISHED}.",
            d.year
        ),
        None => "No early help episodes ended in the year.".into(),
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

/// Whether a breakdown value of `cdop_reviews_completed` (`category` or `modifiable`) is
/// withheld or absent in every one of `years` at partnership level in the published measures
/// table: public information, so grouping by it tells a reader nothing new.
fn cdop_never_shown(d: &ReportData, years: &[FinYear], breakdown: &str, value: &str) -> bool {
    years.iter().all(|y| {
        d.row("cdop_reviews_completed", *y, ALL, breakdown, value)
            .is_none_or(|r| r.num.is_suppressed() || r.num == Cell::Shown(0))
    })
}

/// The pooled table of chart 9: categories of death (rows, small ones combined) by outcome
/// (columns), over `years`, suppressed and audited against the published measures table.
pub struct CdopPooled {
    /// Row labels (categories, then "Other categories" when any are combined).
    pub rows: Vec<String>,
    /// The categories each row combines (codes as in `category_modifiable`).
    pub row_codes: Vec<Vec<String>>,
    /// Column labels and the outcomes each combines.
    pub cols: Vec<(String, Vec<String>)>,
    /// The raw pooled counts.
    pub counts: Vec<Vec<u64>>,
    pub grid: SuppressedGrid,
    /// Shown cells hidden beyond primary and secondary suppression so that no cell withheld in
    /// the measures table can be recovered by adding and subtracting.
    pub audit_hidden: usize,
    /// Withheld cells of the measures table that its own shown cells already give away
    /// (a flaw of that table, noted; the chart adds none).
    pub already_recoverable: usize,
}

/// Pools `cdop_reviews_completed` by category and outcome over `years` (partnership level).
///
/// Before suppressing, it combines what a chart can combine, by a rule that uses only what the
/// measures table already publishes: the categories of death whose published count is withheld
/// (or zero) in every year go into "Other categories" (when there are two or more), and the
/// "insufficient information" and "not recorded" outcomes, when withheld or zero in every
/// year, go in with "no modifiable factors". Then the pooled grid goes through suppress.rs
/// (primary and secondary, with row and column totals), and through the audit
/// ([`super::audit`]): each base count is one LA's year's `category|outcome` cell, every
/// published `cdop_reviews_completed` cell of those years (all breakdowns, each LA and the
/// partnership) is an equation or a withheld cell, and while the chart's shown cells would let
/// a withheld cell be recovered, the smallest shown cell that shares a base count with it is
/// hidden too and the grid suppressed again.
pub fn cdop_pooled(d: &ReportData, years: &[FinYear]) -> CdopPooled {
    let m = "cdop_reviews_completed";
    let periods: Vec<String> = years.iter().map(|y| y.to_string()).collect();
    let periods = &periods;
    let rows_of = |breakdown: &str| {
        d.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.measure_id == m && periods.contains(&r.period) && r.breakdown == breakdown
            })
            .collect::<Vec<_>>()
    };
    // Base counts: (period, LA, category|outcome) of the LAs' rows.
    let mut vars: Vec<(String, String, String)> = rows_of("category_modifiable")
        .into_iter()
        .filter(|(_, r)| r.la_code != ALL)
        .map(|(_, r)| {
            (
                r.period.clone(),
                r.la_code.clone(),
                r.breakdown_value.clone(),
            )
        })
        .collect();
    vars.sort();
    vars.dedup();
    let form = |pred: &dyn Fn(&(String, String, String)) -> bool| -> super::audit::Form {
        vars.iter()
            .map(|v| if pred(v) { 1.0 } else { 0.0 })
            .collect()
    };
    let split = |v: &str| -> (String, String) {
        let mut it = v.splitn(2, '|');
        (
            it.next().unwrap_or("").to_string(),
            it.next().unwrap_or("").to_string(),
        )
    };
    // The published cells of the measure in those years: equations and withheld cells.
    let (mut shown, mut withheld) = (vec![], vec![]);
    for b in ["NONE", "category", "modifiable", "category_modifiable"] {
        for (i, r) in rows_of(b) {
            let (period, la, value) = (&r.period, &r.la_code, &r.breakdown_value);
            let f = form(&|(p, l, k): &(String, String, String)| {
                let (cat, out) = split(k);
                p == period
                    && (la == ALL || l == la)
                    && match b {
                        "category" => &cat == value,
                        "modifiable" => &out == value,
                        "category_modifiable" => k == value,
                        _ => true,
                    }
            });
            let [num, den, ..] = d.cells[i];
            for (cell, f) in [
                (num, f.clone()),
                (
                    den,
                    form(&|(p, l, _)| p == period && (la == ALL || l == la)),
                ),
            ] {
                match cell {
                    Cell::Shown(v) => shown.push((f, v)),
                    Cell::Suppressed => withheld.push(f),
                }
            }
        }
    }
    let shown_forms: Vec<super::audit::Form> = shown.into_iter().map(|s| s.0).collect();
    let audit = super::audit::Audit::new(&shown_forms, &withheld);

    // Rows: the categories, those never shown combined.
    let mut cats: Vec<(String, String)> = CDOP_CATEGORIES
        .iter()
        .map(|(k, n)| (k.to_string(), format!("{k} {n}")))
        .collect();
    if vars.iter().any(|v| split(&v.2).0 == "not recorded") {
        cats.push(("not recorded".into(), "Category not recorded".into()));
    }
    // A category with no review in the three years has no row.
    cats.retain(|(k, _)| vars.iter().any(|v| &split(&v.2).0 == k));
    let combine: Vec<&(String, String)> = cats
        .iter()
        .filter(|(k, _)| cdop_never_shown(d, years, "category", k))
        .collect();
    let mut rows: Vec<String> = vec![];
    let mut row_codes: Vec<Vec<String>> = vec![];
    for (k, name) in &cats {
        if combine.len() >= 2 && combine.iter().any(|c| &c.0 == k) {
            continue;
        }
        rows.push(name.clone());
        row_codes.push(vec![k.clone()]);
    }
    if combine.len() >= 2 {
        rows.push("Other categories".into());
        row_codes.push(combine.iter().map(|c| c.0.clone()).collect());
    }
    // Columns: the outcomes, the rare ones in with "no modifiable factors".
    let rare: Vec<&str> = ["INSUFFICIENT", "not recorded"]
        .into_iter()
        .filter(|o| {
            vars.iter().any(|v| split(&v.2).1 == *o) && cdop_never_shown(d, years, "modifiable", o)
        })
        .collect();
    let mut cols: Vec<(String, Vec<String>)> = vec![
        (
            "Modifiable factors identified".into(),
            vec!["IDENTIFIED".into()],
        ),
        (
            if rare.is_empty() {
                "No modifiable factors".into()
            } else {
                "No modifiable factors, or none determined".into()
            },
            std::iter::once("NOT_IDENTIFIED")
                .chain(rare.iter().copied())
                .map(String::from)
                .collect(),
        ),
    ];
    for (o, name) in [
        ("INSUFFICIENT", "Insufficient information"),
        ("not recorded", "Outcome not recorded"),
    ] {
        if !rare.contains(&o) && vars.iter().any(|v| split(&v.2).1 == o) {
            cols.push((name.into(), vec![o.into()]));
        }
    }
    // Raw pooled counts (partnership level), and each cell's form over the base counts.
    let in_cell = |r: usize, c: usize, k: &str| {
        let (cat, out) = split(k);
        row_codes[r].contains(&cat) && cols[c].1.contains(&out)
    };
    let counts: Vec<Vec<u64>> = (0..rows.len())
        .map(|r| {
            (0..cols.len())
                .map(|c| {
                    rows_of("category_modifiable")
                        .into_iter()
                        .filter(|(_, x)| x.la_code == ALL && in_cell(r, c, &x.breakdown_value))
                        .map(|(_, x)| x.numerator.max(0.0).round() as u64)
                        .sum()
                })
                .collect()
        })
        .collect();
    let cell_form = |r: usize, c: usize| form(&|(_, _, k)| in_cell(r, c, k));
    let row_form = |r: usize| form(&|(_, _, k)| (0..cols.len()).any(|c| in_cell(r, c, k)));
    let col_form = |c: usize| form(&|(_, _, k)| (0..rows.len()).any(|r| in_cell(r, c, k)));
    let all_form =
        form(&|(_, _, k)| (0..rows.len()).any(|r| (0..cols.len()).any(|c| in_cell(r, c, k))));
    let mut hidden = vec![vec![false; cols.len()]; rows.len()];
    let mut audit_hidden = 0;
    loop {
        let g = d.sup.suppress_grid_hidden(&counts, &hidden, true, true);
        let (mut new_shown, mut new_withheld, mut inner_shown) = (vec![], vec![], vec![]);
        let mut put = |cell: Cell, f: super::audit::Form| match cell {
            Cell::Shown(_) => new_shown.push(f),
            Cell::Suppressed => new_withheld.push(f),
        };
        for r in 0..rows.len() {
            for c in 0..cols.len() {
                put(g.cells[r][c], cell_form(r, c));
                if let Cell::Shown(v) = g.cells[r][c] {
                    if v > 0 {
                        inner_shown.push((v, r, c));
                    }
                }
            }
            if let Some(t) = &g.row_totals {
                put(t[r], row_form(r));
            }
        }
        for c in 0..cols.len() {
            // (No column totals when there is no row: no review at all.)
            if let Some(t) = g.col_totals.as_ref().and_then(|t| t.get(c)) {
                put(*t, col_form(c));
            }
        }
        if let Some(t) = g.grand_total {
            put(t, all_form.clone());
        }
        let leaks = audit.recovered(&new_shown, &new_withheld);
        if leaks.is_empty() || inner_shown.is_empty() {
            return CdopPooled {
                rows,
                row_codes,
                cols,
                counts,
                grid: g,
                audit_hidden,
                already_recoverable: audit.already_recoverable(),
            };
        }
        // Hide the smallest shown cell that shares a base count with a recovered one (else
        // the smallest shown cell), and suppress again.
        let touches = |r: usize, c: usize| {
            let f = cell_form(r, c);
            leaks.iter().any(|&i| {
                audit
                    .form(i, &new_withheld)
                    .iter()
                    .zip(&f)
                    .any(|(a, b)| *a != 0.0 && *b != 0.0)
            })
        };
        inner_shown.sort();
        let pick = inner_shown
            .iter()
            .find(|(_, r, c)| touches(*r, *c))
            .or(inner_shown.first())
            .copied();
        if let Some((_, r, c)) = pick {
            hidden[r][c] = true;
            audit_hidden += 1;
        }
    }
}

fn cdop_by_category(d: &ReportData) -> Figure {
    let years = trend_years(d);
    let mut table = count_table();
    let mut c = chart(
        "09-cdop-category",
        "Child deaths reviewed: category of death by modifiable factors",
        "Category of death",
        "Reviews completed",
        footnote(
            d,
            SOURCE_CDOP,
            &format!("{} to {} pooled", years[0], years[2]),
        ),
        Kind::StackedBars,
        false,
    );
    // Pooled over the three years (reviews are counted in the year they are completed, so the
    // years are disjoint): one panel's single year is too small to publish by category.
    let pooled = cdop_pooled(d, &years);
    let present: Vec<Vec<bool>> = pooled.counts.iter().map(|r| vec![true; r.len()]).collect();
    let names: Vec<String> = pooled.cols.iter().map(|c| c.0.clone()).collect();
    c.series = series_from_grid(
        &names,
        &pooled.rows,
        &pooled.grid,
        &present,
        &mut table,
        None,
    );
    if let Some(other) = pooled.rows.iter().position(|r| r == "Other categories") {
        let named: Vec<String> = pooled.row_codes[other]
            .iter()
            .map(|k| {
                CDOP_CATEGORIES
                    .iter()
                    .find(|(code, _)| code == k)
                    .map_or_else(
                        || "category not recorded".to_string(),
                        |(code, n)| format!("{code} {}", n.to_lowercase()),
                    )
            })
            .collect();
        c.notes.push(format!(
            "Other categories combines {} (categories whose count is withheld or zero in every year, shown together so the chart can show them).",
            join_clauses(&named)
        ));
    }
    if pooled.cols[1].1.len() > 1 {
        c.notes.push("No modifiable factors, or none determined: reviews that found no modifiable factors, with those that had insufficient information to decide or no outcome recorded (too few in every year to show apart).".into());
    }
    if pooled.audit_hidden > 0 {
        c.notes.push(format!(
            "{} more count{} withheld so that none withheld in the yearly figures (measures.csv) can be worked out from the pooled ones.",
            pooled.audit_hidden,
            if pooled.audit_hidden == 1 { " is" } else { "s are" }
        ));
    }
    c.categories = pooled.rows.clone();
    let total = d
        .all("cdop_reviews_completed", d.year)
        .map(|r| match (r.num, r.den) {
            (Cell::Shown(a), Cell::Shown(b)) => Cell::Shown(a.max(b)),
            _ => Cell::Suppressed,
        });
    let described = enough(total);
    let modifiable = d.all("cdop_modifiable_all", d.year).and_then(|r| r.value());
    c.reading = match (described, total.and_then(said), modifiable) {
        (true, Some(t), Some(v)) => format!("The panel completed {t} reviews in {}; modifiable factors were identified in {} of them.", d.year, pct1(v)),
        (true, Some(t), None) => format!("The panel completed {t} reviews in {}.", d.year),
        _ => "Too few reviews completed in the year to chart without identifying families.".into(),
    };
    if !described {
        c.too_little = Some("Too few reviews completed to chart".into());
    } else if c
        .series
        .iter()
        .all(|s| s.points.iter().all(|p| p.value().is_none_or(|v| v == 0.0)))
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
            d,
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
    let mut rows: Vec<Option<Frac>> = bands
        .iter()
        .map(|b| d.row(m, d.year, ALL, "age_band", b).map(|r| frac(&r)))
        .collect();
    rows.push(
        d.row(m, d.year, ALL, "expected", "expected")
            .map(|r| frac(&r)),
    );
    rows.push(
        d.row(m, d.year, ALL, "expected", "unexpected")
            .map(|r| frac(&r)),
    );
    c.series
        .push(fraction_series(d, "Modifiable", &rows, &mut table, &cats));
    c.categories = cats;
    let row = d.all(m, d.year);
    c.reading = match row.and_then(|r| r.value()) {
        Some(v) => format!("Across these years {} of reviews with sufficient information found modifiable factors.", pct1(v)),
        None if row.is_some_and(|r| r.share() == Share::Suppressed) => format!(
            "The share of reviews with modifiable factors is {NOT_PUBLISHED}."
        ),
        None => "Too few reviews to show modifiable factors by age.".into(),
    };
    if c.series[0].points.iter().all(|p| p.value().is_none()) {
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
            d,
            SOURCE_CDOP,
            &format!(
                "{} to {}; England: national child death review statistics",
                years[0], years[2]
            ),
        ),
        Kind::Lines,
        true,
    );
    let rows: Vec<Option<Published>> = years
        .iter()
        .map(|y| d.all("cdop_modifiable_all", *y))
        .collect();
    let fracs: Vec<Option<Frac>> = rows.iter().map(|r| r.as_ref().map(frac)).collect();
    c.series
        .push(fraction_series(d, "Partnership", &fracs, &mut table, &cats));
    if let Some((p, v)) = d
        .benchmarks
        .latest("cdop_modifiable_all", &d.year.to_string())
    {
        c.reference_lines
            .push((format!("England {} ({p})", pct(v)), v));
    }
    c.categories = cats;
    let now = rows[2].and_then(|r| r.value());
    let before = rows[1].and_then(|r| r.value());
    c.reading = match (now, before) {
        (Some(n), Some(b)) => format!(
            "{} of reviews completed in {} found modifiable factors, against {} the year before.",
            pct1(n),
            d.year,
            pct1(b)
        ),
        (Some(n), None) => format!(
            "{} of reviews completed in {} found modifiable factors.",
            pct1(n),
            d.year
        ),
        (None, _) if rows[2].is_some_and(|r| r.share() == Share::Suppressed) => format!(
            "The share of reviews completed in {} that found modifiable factors is {NOT_PUBLISHED}.",
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
        footnote(d, SOURCE_CDOP, &d.year.to_string()),
        Kind::Bars,
        true,
    );
    let rows: Vec<Option<Published>> = bands
        .iter()
        .map(|b| d.row("cdop_time_to_review", d.year, ALL, "band", b))
        .collect();
    let fracs: Vec<Option<Frac>> = rows.iter().map(|r| r.as_ref().map(frac)).collect();
    c.series.push(fraction_series(
        d,
        &d.year.to_string(),
        &fracs,
        &mut table,
        &cats,
    ));
    c.categories = cats;
    let total = d.all("cdop_time_to_review", d.year).map(|r| r.den);
    let described = enough(total);
    // Within a year = the first two bands over all completed: each count published.
    let within = match (rows[0], rows[1], total) {
        (Some(a), Some(b), Some(t)) => said_pct(suppress::share(add_cells(a.num, b.num), t)),
        _ => None,
    };
    c.reading = match (within, total.and_then(said)) {
        (Some(p), _) if described => format!(
            "{p} of reviews completed in {} were completed within a year of the death.",
            d.year
        ),
        (None, Some(t)) if described => format!(
            "{t} reviews were completed in {}; how long they took is {NOT_PUBLISHED}.",
            d.year
        ),
        _ => "Too few reviews to describe the time to review.".into(),
    };
    if !described {
        c.too_little = Some("Too few reviews completed to chart".into());
    }
    Figure {
        section: 12,
        heading: "Child deaths: time to review".into(),
        chart: c,
        table,
    }
}
