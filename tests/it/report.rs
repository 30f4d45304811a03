//! `safeguard run` on the bundled samples, and the report it writes, checked from the files
//! themselves: every chart as PNG (decodes, not blank) and SVG (title and axis labels as text),
//! an HTML page that references every chart and needs no network, and a summary table whose
//! every number is the measures table's.

use std::path::Path;

use crate::common;

/// (chart id, title, x axis label, y axis label) of every chart of report.md.
const CHARTS: &[(&str, &str, &str, &str)] = &[
    (
        "01-front-door",
        "Front door: contacts and referrals by month",
        "Month received",
        "Number",
    ),
    (
        "02-threshold-funnel",
        "Threshold funnel: the year's referrals followed to a plan",
        "Stage reached",
        "Number",
    ),
    (
        "03-timeliness",
        "Timeliness against the statutory limits, by quarter",
        "Quarter (financial year)",
        "Within the limit",
    ),
    (
        "03-timeliness-by-la",
        "Timeliness against the statutory limits, by local authority",
        "Statutory limit",
        "Within the limit",
    ),
    (
        "04-assessment-duration",
        "Assessment duration",
        "Working days from assessment start to authorisation (DfE C2 bands)",
        "Share of those completed",
    ),
    (
        "05-icpc-duration",
        "Initial child protection conferences: time from s47 start",
        "Working days from s47 start to ICPC (DfE C4 bands)",
        "Share of those completed",
    ),
    (
        "06-rereferrals-repeat-plans",
        "Re-referrals within 12 months and second or subsequent plans",
        "Financial year",
        "Share",
    ),
    (
        "07-plans-by-category",
        "New child protection plans by initial category of abuse",
        "Initial category",
        "Plans started",
    ),
    (
        "07-plans-duration",
        "Length of child protection plans that ended (DfE D7 bands)",
        "Length of plan",
        "Share of plans ended",
    ),
    (
        "08-levels-of-need",
        "Levels of need at the front door: contacts that became referrals",
        "Level of need recorded at contact",
        "Contacts becoming referrals",
    ),
    (
        "08-early-help-flows",
        "Step-up from early help and step-down after assessment",
        "Financial year",
        "Share",
    ),
    (
        "09-cdop-category",
        "Child deaths reviewed: category of death by modifiable factors",
        "Category of death",
        "Reviews completed",
    ),
    (
        "10-cdop-modifiable-age",
        "Child deaths: share with modifiable factors by age and expectedness",
        "Age at death / expectedness",
        "Modifiable (of reviews with sufficient information)",
    ),
    (
        "11-cdop-trend",
        "Child deaths: share of completed reviews with modifiable factors",
        "Financial year",
        "Modifiable (of all completed reviews)",
    ),
    (
        "12-cdop-time-to-review",
        "Child deaths: time from death to completion of the review",
        "Time from death",
        "Share of reviews completed",
    ),
];

fn unescape(s: &str) -> String {
    s.replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The texts of an SVG's `<text>` elements.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        rest = &rest[i..];
        let Some(gt) = rest.find('>') else { break };
        let Some(end) = rest.find("</text>") else {
            break;
        };
        out.push(unescape(rest[gt + 1..end].trim()));
        rest = &rest[end + 7..];
    }
    out
}

/// Decodes a PNG and returns the variance of its grey levels.
fn png_variance(path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("open png"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert!(
        info.width >= 2000 && info.height >= 1200,
        "{}: {}x{} is not print size",
        path.display(),
        info.width,
        info.height
    );
    let px = info.color_type.samples();
    let greys: Vec<f64> = buf[..info.buffer_size()]
        .chunks(px)
        .map(|c| c.iter().take(3).map(|&v| v as f64).sum::<f64>() / c.len().min(3) as f64)
        .collect();
    let mean = greys.iter().sum::<f64>() / greys.len() as f64;
    greys.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / greys.len() as f64
}

#[test]
fn run_on_the_samples_writes_a_complete_publishable_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::root();
    let store = tmp.path().join("store");
    let reports = tmp.path().join("reports");
    let out = common::bin()
        .current_dir(tmp.path())
        .args(["run", "--quiet", "--config"])
        .arg(root.join("data-samples/safeguard.toml"))
        .arg("--data")
        .arg(root.join("data-samples"))
        .arg("--store")
        .arg(&store)
        .arg("--reports")
        .arg(&reports)
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", common::stderr(&out));
    let stdout = common::stdout(&out);
    assert!(
        stdout.contains("index.html"),
        "run says where the report is: {stdout}"
    );
    let dir = reports.join("2024-25");
    let html = std::fs::read_to_string(dir.join("index.html")).expect("index.html");

    for (id, title, x, y) in CHARTS {
        // PNG: decodes, print size, not blank.
        let png = dir.join(format!("{id}.png"));
        let var = png_variance(&png);
        assert!(
            var > 50.0,
            "{id}.png looks blank (grey-level variance {var:.1})"
        );
        // SVG: its title and axis labels are there as text.
        let svg = std::fs::read_to_string(dir.join(format!("{id}.svg"))).expect("svg");
        let texts = svg_texts(&svg);
        for want in [title, x, y] {
            assert!(
                texts.iter().any(|t| t == want),
                "{id}.svg lacks the text {want:?}"
            );
        }
        // The table behind the chart.
        assert!(dir.join(format!("{id}.csv")).exists(), "{id}.csv missing");
        // The page embeds it and links its files.
        assert!(
            html.contains(&format!("<figure id=\"{id}\" ")),
            "index.html lacks {id}"
        );
        assert!(
            html.contains(&format!("href=\"{id}.png\""))
                && html.contains(&format!("href=\"{id}.svg\""))
        );
    }
    assert!(dir.join("data-quality.csv").exists());

    // Self-contained: no scripts, no stylesheets or images fetched, no external links.
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("<link"), "no external stylesheet");
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(attr), "index.html fetches something: {attr}");
    }

    // Every number in the summary table is the measures table's: checked from summary.csv, and
    // the page against it, in report_publish.rs.
    assert!(dir.join("summary.csv").exists() && dir.join("compare.csv").exists());
}

#[test]
fn report_on_an_empty_year_says_so_instead_of_drawing_bars() {
    // A store with one referral: every chart has too little data and must say so.
    let tmp = tempfile::tempdir().unwrap();
    common::write(
        tmp.path(),
        "referrals.csv",
        "referral_id,child_id,la_code,received_at\nR1,P1,940,2024-05-01\n",
    );
    let o = common::run_in(tmp.path(), &["ingest", "referrals.csv", "--store", "st"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::run_in(
        tmp.path(),
        &[
            "report", "--store", "st", "--year", "2024-25", "--out", "rep",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let svg = std::fs::read_to_string(tmp.path().join("rep/09-cdop-category.svg")).unwrap();
    assert!(
        svg_texts(&svg).iter().any(|t| t.starts_with("Too few")),
        "the CDOP chart says it has too little data"
    );
    let csv = std::fs::read_to_string(tmp.path().join("rep/01-front-door.csv")).unwrap();
    // The single referral in May is a count of 1: published as c.
    assert!(
        csv.lines().any(|l| l.starts_with("May 24,Referrals,c")),
        "{csv}"
    );
}

#[test]
fn the_report_opens_in_headless_chromium() {
    // End to end: scripts/screenshot.sh opens index.html in headless Chromium and saves a
    // screenshot. Skipped (with a message) where Chromium is not installed.
    let have = ["chromium", "chromium-browser"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !have {
        eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = common::run_in(
        tmp.path(),
        &[
            "synth",
            "--quiet",
            "--out",
            "data",
            "--referrals-per-year",
            "300",
            "--years",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::run_in(
        tmp.path(),
        &[
            "run",
            "--quiet",
            "--data",
            "data",
            "--store",
            "st",
            "--reports",
            "rep",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let report_dir = std::fs::read_dir(tmp.path().join("rep"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let shot = tmp.path().join("shot.png");
    let o = std::process::Command::new("bash")
        .arg(common::root().join("scripts/screenshot.sh"))
        .arg(&report_dir)
        .arg(&shot)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "screenshot failed: {}",
        common::stderr(&o)
    );
    let meta = std::fs::metadata(&shot).expect("a screenshot was written");
    assert!(
        meta.len() > 20_000,
        "the screenshot is suspiciously small ({} bytes)",
        meta.len()
    );
}
