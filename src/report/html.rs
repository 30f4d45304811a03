//! The report page: one self-contained HTML file (CSS inline, charts inline as SVG, no scripts,
//! no network) that prints cleanly on A4.

use anyhow::Result;

use super::chart::render_svg;
use super::{Figure, ReportData, Table};
use crate::measures::MeasuresOutput;

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

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The summary table of headline measures: this year, last year, change, limit, England.
pub fn summary_table(d: &ReportData) -> Table {
    let mut t = Table {
        header: [
            "measure_id",
            "Measure",
            "This year",
            "Last year",
            "Change",
            "Statutory limit",
            "England",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..Default::default()
    };
    for (id, name, limit) in &headlines() {
        let now = d.all(id, d.year);
        let before = d.all(id, d.year.previous());
        if now.is_none() && before.is_none() {
            continue;
        }
        // Both years as published in measures.csv: a share suppressed there is `c` here, and
        // the change is given only between two published values.
        let fmt =
            |r: Option<super::Published>| r.map_or_else(|| "-".to_string(), |r| d.pct_cell(&r));
        let change = match (now.and_then(|n| n.value()), before.and_then(|b| b.value())) {
            (Some(x), Some(y)) => {
                let pp = (x - y) * 100.0;
                if pp.abs() < 0.05 {
                    "no change".to_string()
                } else {
                    format!(
                        "{} {:.1} points",
                        if pp > 0.0 { "up" } else { "down" },
                        pp.abs()
                    )
                }
            }
            _ => "-".into(),
        };
        let england = d.benchmarks.latest(id, &d.year.to_string()).map_or_else(
            || "-".to_string(),
            |(p, v)| format!("{:.1}% ({p})", v * 100.0),
        );
        t.rows.push(vec![
            id.to_string(),
            name.to_string(),
            fmt(now),
            fmt(before),
            change,
            limit.to_string(),
            england,
        ]);
    }
    t
}

fn table_html(t: &Table, skip_first: bool) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    let start = usize::from(skip_first);
    for h in &t.header[start..] {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        if skip_first {
            s.push_str(&format!("<tr data-measure=\"{}\">", esc(&r[0])));
        } else {
            s.push_str("<tr>");
        }
        for (i, c) in r[start..].iter().enumerate() {
            if i + start >= 2 && skip_first {
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
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #0b0c0c; max-width: 960px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { font-size: 28px; margin-bottom: 4px; }
h2 { font-size: 21px; margin-top: 36px; border-top: 2px solid #0b0c0c; padding-top: 10px; }
p.lede { font-size: 17px; color: #383f43; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 12px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #b1b4b6; vertical-align: top; }
th { background: #f3f2f1; }
td.num { text-align: right; white-space: nowrap; }
figure { margin: 12px 0 24px; page-break-inside: avoid; break-inside: avoid; }
figure svg { width: 100%; height: auto; border: 1px solid #e1e1e1; }
figcaption { font-size: 16px; margin-top: 6px; }
.reading { font-weight: bold; }
.files { font-size: 13px; color: #505a5f; }
.note { font-size: 13px; color: #505a5f; }
section { page-break-inside: avoid; }
@media print { body { padding: 0; max-width: none; } h2 { page-break-before: auto; } a { color: inherit; text-decoration: none; } }
"#;

fn strip_xml_decl(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// The whole page.
pub fn page(
    d: &ReportData,
    m: &MeasuresOutput,
    summary: &Table,
    figures: &[Figure],
) -> Result<String> {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str(&format!(
        "<title>{} - annual report {}</title>\n",
        esc(&d.partnership),
        d.year
    ));
    s.push_str(&format!("<style>{CSS}</style>\n</head>\n<body>\n"));
    s.push_str(&format!("<h1>{}</h1>\n", esc(&d.partnership)));
    s.push_str(&format!(
        "<p class=\"lede\">Annual report on the effectiveness of safeguarding, {} (1 April {} to 31 March {}).</p>\n",
        d.year,
        d.year.0,
        d.year.0 + 1
    ));
    if let Some(r) = m.reference_date {
        s.push_str(&format!(
            "<p class=\"note\">Figures follow each case to the data's reference date, {r}. Working days exclude weekends and bank holidays in England and Wales. Counts of 1 to {} are suppressed and shown as c, with a second cell where needed so none can be worked out from a total.</p>\n",
            d.threshold
        ));
    }
    s.push_str("<h2>Summary of headline measures</h2>\n");
    s.push_str(&table_html(summary, true));
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
    let mut last_section = 0;
    for f in figures {
        if f.section != last_section {
            if last_section != 0 {
                s.push_str("</section>\n");
            }
            s.push_str(&format!(
                "<section id=\"s{}\">\n<h2>{}. {}</h2>\n",
                f.section,
                f.section,
                esc(&f.heading)
            ));
            last_section = f.section;
        }
        let svg = render_svg(&f.chart)?;
        s.push_str(&format!("<figure id=\"{}\">\n", esc(&f.chart.id)));
        s.push_str(strip_xml_decl(&svg));
        s.push_str(&format!(
            "\n<figcaption><span class=\"reading\">{}</span>",
            esc(&f.chart.reading)
        ));
        if f.table.suppressed {
            s.push_str(" <span class=\"note\">(Small numbers suppressed.)</span>");
        }
        s.push_str(&format!(
            "<br><span class=\"files\">Chart: <a href=\"{id}.png\">{id}.png</a>, <a href=\"{id}.svg\">{id}.svg</a>; data: <a href=\"{id}.csv\">{id}.csv</a></span></figcaption>\n</figure>\n",
            id = esc(&f.chart.id)
        ));
    }
    if last_section != 0 {
        s.push_str("</section>\n");
    }
    s.push_str("<h2>Data quality</h2>\n<p class=\"note\">Rows left out of each measure, and the data-quality flags on the records, are listed in <a href=\"data-quality.csv\">data-quality.csv</a>.</p>\n");
    s.push_str("</body>\n</html>\n");
    Ok(s)
}
