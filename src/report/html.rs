//! The report page: one self-contained HTML file (CSS inline, charts inline as SVG, no scripts,
//! no network) that prints cleanly on A4 and meets WCAG 2.2 AA (checked with axe-core in the
//! end-to-end test): `lang="en-GB"`, headings in order (h1, h2 per section, h3 per chart),
//! every chart an `<svg role="img">` with its `<title>` and `<desc>` and its data as a table in a
//! `<details>` beside it, text contrast of 4.5:1 or more, tables with captions and header
//! scopes.
//!
//! [`figure`] is the one place a chart goes on the page; a new section's charts (e.g. "How we
//! compare") use it as they are.

use anyhow::Result;

use super::chart::render_svg;
use super::{stats, Figure, ReportData, Table};
use crate::measures::catalogue::Unit;
use crate::measures::{MeasuresOutput, ALL};
use crate::suppress::Cell;

/// The headline measures of the summary table, in order: (id, plain name, statutory limit or
/// standard), from the measure catalogue (`queries/catalogue.toml`: `title` and `headline`).
/// Empty only if the catalogue cannot be loaded, which `measures::compute` has already reported.
pub fn headlines() -> Vec<(String, String, String)> {
    crate::measures::catalogue()
        .map(|c| {
            c.headlines()
                .into_iter()
                .map(|m| {
                    let limit = m.headline.as_ref().map(|h| h.limit_label.clone());
                    (m.id.clone(), m.title.clone(), limit.unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct1(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The areas of the summary table's column groups: each LA, then the partnership (one group
/// when the partnership is a single LA): (code, name).
pub fn areas(d: &ReportData) -> Vec<(String, String)> {
    let mut a = d.las.clone();
    if d.las.len() != 1 {
        a.push((ALL.to_string(), "Partnership".to_string()));
    }
    a
}

/// The summary table's columns, one row per headline measure and area (the page shows the
/// areas as column groups; `summary.csv` has this long form).
pub const SUMMARY_HEADER: &[&str] = &[
    "measure_id",
    "measure",
    "statutory_limit",
    "area_code",
    "area",
    "this_year",
    "ci95_low",
    "ci95_high",
    "last_year",
    "change",
    "direction",
    "size_of_change",
    "neighbours_median",
    "quartile_band",
    "neighbours_year",
    "england",
];

/// The summary table of headline measures: for each measure and area (each LA, the
/// partnership), this year with its 95% interval, last year, the change with its direction
/// (better, worse or neither, by the measure's polarity) and whether last year's value lies
/// outside this year's interval, the LA's statistical neighbours' median and its quartile band
/// (DfE figures, from `compare`), the statutory limit and England.
///
/// Every count is the published measures table's: a share suppressed there is `c`, and the
/// interval and the change are given only from published counts.
pub fn summary_table(d: &ReportData) -> Table {
    let mut t = Table {
        header: SUMMARY_HEADER.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let cat = crate::measures::catalogue().ok();
    for (id, name, limit) in &headlines() {
        let any = areas(d)
            .iter()
            .any(|(la, _)| d.row(id, d.year, la, "NONE", "").is_some());
        if !any && d.all(id, d.year.previous()).is_none() {
            continue;
        }
        let unit = cat
            .and_then(|c| c.measure(id))
            .map_or(Unit::Proportion, |m| m.unit);
        let pol = super::charts::polarity(id);
        let england = d
            .benchmarks
            .latest(id, &d.year.to_string())
            .map_or_else(String::new, |(p, v)| format!("{} ({p})", pct1(v)));
        for (la, area) in areas(d) {
            let now = d.row(id, d.year, &la, "NONE", "");
            let before = d.row(id, d.year.previous(), &la, "NONE", "");
            let fmt = |r: Option<super::Published>| r.map_or_else(String::new, |r| d.pct_cell(&r));
            let (mut lo, mut hi, mut change, mut dir, mut size) = (
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            );
            let counts = now.and_then(|r| match (r.num, r.den) {
                (Cell::Shown(x), Cell::Shown(n)) if n > 0 => Some((x, n)),
                _ => None,
            });
            if let (Some((x, n)), Unit::Proportion) = (counts, unit) {
                if let Some((l, h)) = stats::wilson(x, n) {
                    lo = pct1(l);
                    hi = pct1(h);
                }
                if let Some(b) = before.and_then(|b| b.value()) {
                    if let Some(c) = stats::change(pol, x, n, b) {
                        change = c.movement();
                        dir = c.direction.word().to_string();
                        size = match c.clear {
                            Some(true) => "a clear change".into(),
                            Some(false) if c.direction != stats::Direction::Same => {
                                "within chance variation".into()
                            }
                            _ => String::new(),
                        };
                    }
                }
            }
            let (sn, band, sn_year) = if la == ALL {
                (String::new(), String::new(), String::new())
            } else {
                super::comparison::neighbours(d.compare, id, &la, d.year)
                    .map_or_else(Default::default, |(m, b, y)| (pct1(m), b, y))
            };
            t.rows.push(vec![
                id.clone(),
                name.clone(),
                limit.clone(),
                la.clone(),
                area,
                fmt(now),
                lo,
                hi,
                fmt(before),
                change,
                dir,
                size,
                sn,
                band,
                sn_year,
                england.clone(),
            ]);
        }
    }
    t.suppressed = t
        .rows
        .iter()
        .any(|r| r[5] == crate::suppress::SUPPRESSED || r[8] == crate::suppress::SUPPRESSED);
    t
}

/// The summary table as HTML: a row per measure, a column group per area (this year with its
/// 95% interval, last year, the change in points with its direction and size, and for an LA
/// its neighbours' median and band), then England.
fn summary_html(d: &ReportData, t: &Table) -> String {
    let areas = areas(d);
    let col = |name: &str| t.header.iter().position(|h| h == name).unwrap_or(0);
    let (c_id, c_name, c_limit, c_area) = (
        col("measure_id"),
        col("measure"),
        col("statutory_limit"),
        col("area_code"),
    );
    let y = d.year.to_string();
    let py = d.year.previous().to_string();
    let mut s = String::from(
        "<div class=\"wide\" role=\"region\" aria-labelledby=\"summary-caption\" tabindex=\"0\">\n<table class=\"summary\">\n",
    );
    s.push_str(&format!(
        "<caption id=\"summary-caption\">Headline measures, {y}: each local authority and the partnership</caption>\n"
    ));
    s.push_str("<colgroup><col class=\"measure\"></colgroup>");
    for (la, _) in &areas {
        let span = if la == ALL { 3 } else { 4 };
        s.push_str(&format!("<colgroup span=\"{span}\"></colgroup>"));
    }
    s.push_str("<colgroup><col></colgroup>\n<thead>\n<tr><th scope=\"col\" rowspan=\"2\">Measure (statutory limit)</th>");
    for (la, name) in &areas {
        let span = if la == ALL { 3 } else { 4 };
        s.push_str(&format!(
            "<th scope=\"colgroup\" colspan=\"{span}\" class=\"group\">{}</th>",
            esc(name)
        ));
    }
    s.push_str("<th scope=\"col\" rowspan=\"2\" class=\"group-start\">England</th></tr>\n<tr>");
    for (la, _) in &areas {
        s.push_str(&format!(
            "<th scope=\"col\" class=\"group-start\">{y} (95% interval)</th><th scope=\"col\">{py}</th><th scope=\"col\">Change (points)</th>"
        ));
        if la != ALL {
            s.push_str("<th scope=\"col\">Neigh&shy;bours' median (band)</th>");
        }
    }
    s.push_str("</tr>\n</thead>\n<tbody>\n");
    let mut i = 0;
    while i < t.rows.len() {
        let id = t.rows[i][c_id].clone();
        let group: Vec<&Vec<String>> = t.rows[i..].iter().take_while(|r| r[c_id] == id).collect();
        i += group.len();
        let first = group[0];
        let limit = if first[c_limit].is_empty() {
            String::new()
        } else {
            format!("<span class=\"sub\">limit: {}</span>", esc(&first[c_limit]))
        };
        s.push_str(&format!(
            "<tr data-measure=\"{}\"><th scope=\"row\">{}{limit}</th>",
            esc(&id),
            esc(&first[c_name]),
        ));
        for (la, _) in &areas {
            let r = group.iter().find(|r| &r[c_area] == la);
            let get = |name: &str| r.map_or(String::new(), |r| r[col(name)].clone());
            let dash = |v: String| if v.is_empty() { "-".to_string() } else { v };
            let mut now = esc(&dash(get("this_year")));
            if !get("ci95_low").is_empty() {
                now.push_str(&format!(
                    "<span class=\"sub\">{} to {}</span>",
                    esc(get("ci95_low").trim_end_matches('%')),
                    esc(&get("ci95_high"))
                ));
            }
            s.push_str(&format!(
                "<td class=\"num group-start\" data-col=\"this_year\">{now}</td><td class=\"num\" data-col=\"last_year\">{}</td>",
                esc(&dash(get("last_year")))
            ));
            let change = get("change");
            let cell = if change.is_empty() {
                "-".to_string()
            } else {
                let short = change.replace(" points", "");
                let dir = match get("direction").as_str() {
                    "neither better nor worse" => "neither".to_string(),
                    "no change" => String::new(),
                    other => other.to_string(),
                };
                let size = match get("size_of_change").as_str() {
                    "within chance variation" => "within chance",
                    other => other,
                }
                .to_string();
                let words: Vec<String> =
                    [dir, size].into_iter().filter(|w| !w.is_empty()).collect();
                format!(
                    "{}<span class=\"sub\">{}</span>",
                    esc(&short),
                    esc(&words.join(", "))
                )
            };
            s.push_str(&format!("<td data-col=\"change\">{cell}</td>"));
            if la != ALL {
                let sn = get("neighbours_median");
                let cell = if sn.is_empty() {
                    "-".to_string()
                } else {
                    let band = get("quartile_band");
                    let mut c = esc(&sn);
                    if !band.is_empty() {
                        c.push_str(&format!(" ({})", esc(&band)));
                    }
                    if get("neighbours_year") != y {
                        c.push_str(&format!(
                            "<span class=\"sub\">{}</span>",
                            esc(&get("neighbours_year"))
                        ));
                    }
                    c
                };
                s.push_str(&format!(
                    "<td class=\"num\" data-col=\"neighbours\">{cell}</td>"
                ));
            }
        }
        let england = first[col("england")].clone();
        let england = match england.split_once(" (") {
            Some((v, p)) => format!(
                "{}<span class=\"sub\">{}</span>",
                esc(v),
                esc(p.trim_end_matches(')'))
            ),
            None if england.is_empty() => "-".into(),
            None => esc(&england),
        };
        s.push_str(&format!(
            "<td class=\"num group-start\">{england}</td></tr>\n"
        ));
    }
    s.push_str("</tbody></table>\n</div>\n");
    s
}

/// A table as HTML with a caption (`c` cells explained by the caption).
pub fn table_html(t: &Table, caption: &str) -> String {
    let mut s = format!(
        "<table class=\"data\">\n<caption>{}</caption>\n<thead><tr>",
        esc(caption)
    );
    for h in &t.header {
        s.push_str(&format!("<th scope=\"col\">{}</th>", esc(h)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        s.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let numeric = !c.is_empty()
                && (c == crate::suppress::SUPPRESSED
                    || c.trim_end_matches('%').parse::<f64>().is_ok());
            if i == 0 {
                s.push_str(&format!("<th scope=\"row\">{}</th>", esc(c)));
            } else if numeric {
                s.push_str(&format!("<td class=\"num\">{}</td>", esc(c)));
            } else {
                s.push_str(&format!("<td>{}</td>", esc(c)));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n");
    s
}

const CSS: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #0b0c0c; background: #ffffff; max-width: 1100px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { font-size: 28px; margin-bottom: 4px; }
h2 { font-size: 22px; margin-top: 36px; border-top: 2px solid #0b0c0c; padding-top: 10px; }
h3 { font-size: 18px; margin: 18px 0 6px; }
p.lede { font-size: 18px; color: #383f43; }
a { color: #1d4f91; }
a:focus, summary:focus, .wide:focus { outline: 3px solid #0b0c0c; outline-offset: 2px; background: #fff2a8; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 12px 0; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #6f777b; vertical-align: top; }
thead th { background: #f3f2f1; }
tbody th { font-weight: normal; }
td.num { text-align: right; white-space: nowrap; }
.summary { font-size: 13px; }
.summary th, .summary td { padding: 5px 5px; }
.summary th.group { text-align: center; border-left: 2px solid #0b0c0c; }
.summary .group-start { border-left: 2px solid #0b0c0c; }
.summary tbody th { font-weight: bold; min-width: 10em; }
.summary td.num .sub { white-space: nowrap; }
.sub { display: block; font-size: 12px; color: #383f43; white-space: normal; }
.wide { overflow-x: auto; }
figure { margin: 12px 0 28px; }
figure svg { width: 100%; height: auto; border: 1px solid #b1b4b6; }
figcaption { font-size: 16px; margin-top: 6px; }
.reading { font-weight: bold; margin: 6px 0; }
details { margin: 8px 0; }
summary { cursor: pointer; color: #1d4f91; text-decoration: underline; }
.files, .note { font-size: 14px; color: #383f43; }
.key { border-left: 4px solid #505a5f; padding: 4px 12px; background: #f8f8f8; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
@media print {
  body { padding: 0; max-width: none; font-size: 11pt; }
  .summary { font-size: 8pt; }
  .wide { overflow: visible; }
  figure { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  details::details-content { content-visibility: visible; display: block; }
}
"#;

/// One chart on the page: a heading (for navigation; the chart draws its own title), the SVG
/// with its text alternative, the reading and notes, the data behind it in a `<details>` table,
/// and links to its PNG, SVG and CSV files.
pub fn figure(f: &Figure, threshold: u64) -> Result<String> {
    let id = esc(&f.chart.id);
    let mut s = format!(
        "<figure id=\"{id}\" aria-labelledby=\"{id}-heading\">\n<h3 id=\"{id}-heading\">{}</h3>\n",
        esc(&f.chart.title)
    );
    let svg = render_svg(&f.chart)?;
    s.push_str(svg.trim_end());
    s.push_str(&format!(
        "\n<figcaption><p class=\"reading\">{}</p>",
        esc(&f.chart.reading)
    ));
    for n in &f.chart.notes {
        s.push_str(&format!("<p class=\"note\">{}</p>", esc(n)));
    }
    if f.table.suppressed {
        s.push_str(&format!(
            "<p class=\"note\">Some numbers are withheld to protect privacy: hatched on the chart, c in the table (fewer than {}, or a number that would reveal one; never zero).</p>",
            threshold + 1
        ));
    }
    s.push_str("</figcaption>\n");
    if !f.table.rows.is_empty() {
        s.push_str(&format!(
            "<details>\n<summary>Data behind the chart: {}</summary>\n",
            esc(&f.chart.title)
        ));
        s.push_str(&table_html(
            &f.table,
            &format!(
                "{}. c = withheld (fewer than {}, or a number that would reveal one).",
                f.chart.title,
                threshold + 1
            ),
        ));
        s.push_str("</details>\n");
    }
    s.push_str(&format!(
        "<p class=\"files\">Chart: <a href=\"{id}.png\">{id}.png</a>, <a href=\"{id}.svg\">{id}.svg</a>; data: <a href=\"{id}.csv\">{id}.csv</a></p>\n</figure>\n"
    ));
    Ok(s)
}

/// The whole page.
pub fn page(
    d: &ReportData,
    m: &MeasuresOutput,
    summary: &Table,
    figures: &[Figure],
) -> Result<String> {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str(&format!(
        "<title>{} - annual report {}</title>\n",
        esc(&d.partnership),
        d.year
    ));
    s.push_str(&format!(
        "<style>{CSS}</style>\n</head>\n<body>\n<header>\n"
    ));
    s.push_str(&format!("<h1>{}</h1>\n", esc(&d.partnership)));
    s.push_str(&format!(
        "<p class=\"lede\">Annual report on the effectiveness of safeguarding, {} (1 April {} to 31 March {}).</p>\n</header>\n<main>\n",
        d.year,
        d.year.0,
        d.year.0 + 1
    ));
    if let Some(r) = m.reference_date {
        s.push_str(&format!(
            "<p class=\"note\">Figures follow each case to the data's reference date, {r}. Working days exclude weekends and bank holidays in England and Wales.</p>\n"
        ));
    }
    s.push_str(&format!(
        "<p class=\"note key\">Small numbers: counts of 1 to {t} are withheld to protect the privacy of children and families, with a second count where needed so that none can be worked out from a total. A withheld number is c in the tables, a hatched stub on the charts, and \"fewer than {n}\" in the text; it is never zero.</p>\n",
        t = d.threshold,
        n = d.threshold + 1
    ));
    s.push_str("<section aria-labelledby=\"summary-heading\">\n<h2 id=\"summary-heading\">Summary of headline measures</h2>\n");
    s.push_str("<p class=\"note\">Each local authority and the partnership as a whole. <strong>Change</strong> is the move from last year in percentage points, and whether it is <em>better</em> or <em>worse</em>, or <em>neither</em> for a measure where neither a higher nor a lower value is good in itself. Below this year's value is its <strong>95% interval</strong> (Wilson score): with this number of cases, the underlying rate could lie anywhere in that range. When last year's value lies outside it the change is a <em>clear change</em>; inside it, the move is <em>within chance</em> and may mean nothing. <strong>Neighbours' median</strong> is the middle of the authority's ten statistical neighbours in the DfE's published figures, and the <strong>band</strong> the authority's quarter among all authorities in those figures (A the best quarter by the measure's direction; for a neutral measure A is the highest). Limits are those of Working Together to Safeguard Children 2023.</p>\n");
    s.push_str(&summary_html(d, summary));
    if !m.not_measurable.is_empty() {
        s.push_str("<p class=\"note\">Not measurable from the data held: ");
        let items: Vec<String> = m
            .not_measurable
            .iter()
            .map(|(k, v)| format!("{} ({})", esc(k), esc(v)))
            .collect();
        s.push_str(&items.join("; "));
        s.push_str(".</p>\n");
    }
    s.push_str(
        "<p class=\"files\">Data: <a href=\"summary.csv\">summary.csv</a>, <a href=\"measures.csv\">measures.csv</a> (every measure), <a href=\"compare.csv\">compare.csv</a> (against the DfE's published figures); every table as one workbook, <a href=\"report.xlsx\">report.xlsx</a>.</p>\n</section>\n",
    );
    let mut last_section = 0;
    for f in figures {
        if f.section != last_section {
            if last_section != 0 {
                s.push_str("</section>\n");
            }
            s.push_str(&format!(
                "<section id=\"s{}\" aria-labelledby=\"s{}-heading\">\n<h2 id=\"s{}-heading\">{}. {}</h2>\n",
                f.section,
                f.section,
                f.section,
                f.section,
                esc(&f.heading)
            ));
            last_section = f.section;
        }
        s.push_str(&figure(f, d.threshold)?);
    }
    if last_section != 0 {
        s.push_str("</section>\n");
    }
    s.push_str("<section aria-labelledby=\"dq-heading\">\n<h2 id=\"dq-heading\">Data quality</h2>\n<p class=\"note\">Rows left out of each measure, and the data-quality flags on the records, are listed in <a href=\"data-quality.csv\">data-quality.csv</a>.</p>\n</section>\n");
    s.push_str("</main>\n</body>\n</html>\n");
    Ok(s)
}
