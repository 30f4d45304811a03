//! `report.xlsx` (issue 14, item 5), read back with calamine and compared with the report's
//! published CSVs cell for cell:
//! - every CSV in the report folder but the analyst's `measures-unsuppressed.csv` is a sheet, listed
//!   on the `Notes` sheet (sheet name, file) with nothing else; the unsuppressed copy is not;
//! - each sheet equals its CSV: same shape; an empty CSV cell is an empty cell; a text cell is
//!   the CSV cell once passed through the CSV writer's escape (`escape_cell`: the sheet holds
//!   `=x`, the CSV `'=x`), so `c` is the text `c`; a number is the CSV number exactly; a
//!   percentage (`82.4%`) is the number 0.824 with a `0.0%` format showing the CSV text;
//! - every data sheet's header row is frozen; no cell is a formula;
//! - the `Notes` sheet carries the Open Government Licence line and the configured threshold;
//! - the same store gives the same bytes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{open_workbook, Data, Reader, Xlsx};
use safeguard::csv_out::escape_cell;
use safeguard::report::workbook::{FILE, NOTES, OGL};

use crate::common;

/// What a comparison saw, so a test can tell it compared something.
#[derive(Debug, Default)]
struct Seen {
    numbers: usize,
    percents: usize,
    suppressed: usize,
    escaped: usize,
    texts: usize,
    empty: usize,
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The published CSVs of a report folder: every `.csv` but the analyst's unsuppressed copy.
fn published_csvs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv") && n != "measures-unsuppressed.csv")
        .collect();
    v.sort();
    v
}

/// The Notes sheet's cells as text, by row.
fn notes(book: &mut Xlsx<std::io::BufReader<std::fs::File>>) -> Vec<Vec<String>> {
    let r = book.worksheet_range(NOTES).unwrap();
    r.rows()
        .map(|row| row.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// file name -> sheet name, from the Notes sheet's list of sheets (after its "Sheet | What it
/// holds | File" row).
fn sheet_list(notes: &[Vec<String>]) -> BTreeMap<String, String> {
    let start = notes
        .iter()
        .position(|r| r.len() >= 3 && r[0] == "Sheet" && r[2] == "File")
        .expect("the Notes sheet lists the sheets");
    notes[start + 1..]
        .iter()
        .map(|r| (r[2].clone(), r[0].clone()))
        .collect()
}

/// Compares one sheet with its CSV, cell for cell (see the module comment).
fn compare_sheet(
    book: &mut Xlsx<std::io::BufReader<std::fs::File>>,
    sheet: &str,
    csv: &Path,
    seen: &mut Seen,
) {
    let want = read_csv(csv);
    let range = book.worksheet_range(sheet).unwrap();
    let styles = book.worksheet_style(sheet).unwrap();
    assert_eq!(range.start(), Some((0, 0)), "{sheet}: starts at A1");
    let (h, w) = range.get_size();
    let csv_w = want.iter().map(Vec::len).max().unwrap_or(0);
    assert_eq!(h, want.len(), "{sheet}: rows");
    assert!(w <= csv_w, "{sheet}: {w} columns, the CSV has {csv_w}");
    let formulas = book.worksheet_formula(sheet).unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "{sheet} holds a formula"
    );
    for (r, row) in want.iter().enumerate() {
        for c in 0..csv_w {
            let t = row.get(c).map_or("", String::as_str);
            let at = format!("{sheet} row {} column {} (CSV {t:?})", r + 1, c + 1);
            let cell = range.get((r, c)).unwrap_or(&Data::Empty);
            let format = styles
                .get((r as u32, c as u32))
                .and_then(|s| s.number_format.as_ref())
                .map(|f| f.format_code.clone())
                .unwrap_or_default();
            match cell {
                Data::Empty => {
                    assert_eq!(t, "", "{at}: empty in the sheet");
                    seen.empty += 1;
                }
                Data::String(s) => {
                    assert_eq!(escape_cell(s), t, "{at}: text {s:?}");
                    if t == "c" {
                        seen.suppressed += 1;
                    } else if t.len() != s.len() {
                        seen.escaped += 1;
                    } else {
                        seen.texts += 1;
                    }
                }
                Data::Float(v) => {
                    assert!(r > 0, "{at}: a header is text");
                    if let Some(stem) = t.strip_suffix('%') {
                        let dp = stem.split_once('.').map_or(0, |(_, f)| f.len());
                        let shown = format!("{:.*}%", dp, v * 100.0);
                        assert_eq!(shown, t, "{at}: {v} shows as {shown}");
                        let n: f64 = stem.parse().unwrap();
                        assert!((v * 100.0 - n).abs() < 1e-9, "{at}: {v}");
                        let zeros = "0".repeat(dp);
                        let code = if dp == 0 {
                            "0%".to_string()
                        } else {
                            format!("0.{zeros}%")
                        };
                        assert_eq!(format, code, "{at}: percentage format");
                        seen.percents += 1;
                    } else {
                        let n: f64 = t.parse().unwrap_or_else(|_| panic!("{at}: not a number"));
                        assert_eq!(*v, n, "{at}");
                        assert!(!format.contains('%'), "{at}: {format}");
                        seen.numbers += 1;
                    }
                }
                other => panic!("{at}: unexpected cell {other:?}"),
            }
        }
    }
}

/// Every worksheet XML of the workbook: (part name, text).
fn sheet_parts(path: &Path) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = vec![];
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name.starts_with("xl/worksheets/sheet") {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            out.push((name, s));
        }
    }
    out.sort_by_key(|(n, _)| {
        n.trim_start_matches("xl/worksheets/sheet")
            .trim_end_matches(".xml")
            .parse::<u32>()
            .unwrap()
    });
    out
}

/// Opens `dir/report.xlsx` and checks it against every published CSV of `dir`.
fn check_report_folder(dir: &Path) -> (Seen, Vec<Vec<String>>) {
    let path = dir.join(FILE);
    let mut book: Xlsx<_> = open_workbook(&path).expect("report.xlsx opens");
    let names = book.sheet_names();
    assert_eq!(names[0], NOTES, "the Notes sheet comes first");
    let notes = notes(&mut book);
    let list = sheet_list(&notes);
    let csvs = published_csvs(dir);
    assert_eq!(
        list.keys().cloned().collect::<Vec<_>>(),
        csvs,
        "the Notes sheet lists every published CSV, and no other"
    );
    assert_eq!(
        names[1..]
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        list.values().cloned().collect(),
        "every data sheet is listed"
    );
    assert_eq!(names.len(), csvs.len() + 1, "one sheet per CSV");
    let mut seen = Seen::default();
    for (file, sheet) in &list {
        assert!(
            sheet.chars().count() <= 31 && !sheet.contains(['[', ']', ':', '*', '?', '/', '\\'])
        );
        compare_sheet(&mut book, sheet, &dir.join(file), &mut seen);
    }
    // Every data sheet's header row is frozen (the Notes sheet is sheet1).
    let parts = sheet_parts(&path);
    assert_eq!(parts.len(), names.len());
    for (part, xml) in &parts[1..] {
        assert!(
            xml.contains(
                r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
            ),
            "{part}: the header row is frozen"
        );
    }
    (seen, notes)
}

#[test]
fn the_workbook_of_the_samples_equals_the_published_csvs_cell_for_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::root();
    let cfg = root.join("data-samples/safeguard.toml");
    let out = common::bin()
        .current_dir(tmp.path())
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(root.join("data-samples"))
        .args(["--store", "store", "--reports", "reports"])
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", common::stderr(&out));
    let dir = tmp.path().join("reports/2024-25");
    for f in [
        "summary.csv",
        "measures.csv",
        "data-quality.csv",
        "03-timeliness.csv",
    ] {
        assert!(dir.join(f).exists(), "{f} is published");
    }
    let (seen, notes) = check_report_folder(&dir);
    // The comparison compared every kind of cell (the samples have all of them).
    assert!(seen.numbers > 1000, "{seen:?}");
    assert!(seen.percents > 100, "{seen:?}");
    assert!(seen.suppressed > 10, "{seen:?}");
    assert!(seen.texts > 1000 && seen.empty > 0, "{seen:?}");

    // A percentage column by hand: 03-timeliness.csv's first row is `Q1 22-23,Referral
    // decision within 1 WD,66,73,90.4%` (66 / 73 = 0.9041 to one decimal of a percent).
    let mut book: Xlsx<_> = open_workbook(dir.join(FILE)).unwrap();
    let list = sheet_list(&notes);
    let sheet = &list["03-timeliness.csv"];
    assert_eq!(sheet, "03-timeliness");
    let csv = read_csv(&dir.join("03-timeliness.csv"));
    assert_eq!(csv[0][4], "percent");
    assert_eq!(csv[1][2..], ["66", "73", "90.4%"]);
    let range = book.worksheet_range(sheet).unwrap();
    assert_eq!(range.get((1, 2)), Some(&Data::Float(66.0)));
    assert_eq!(range.get((1, 4)), Some(&Data::Float(0.904)));
    let styles = book.worksheet_style(sheet).unwrap();
    let code = |r: u32, c: u32| {
        styles
            .get((r, c))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.clone())
    };
    assert_eq!(code(1, 4).as_deref(), Some("0.0%"));
    assert_eq!(code(1, 2).as_deref(), Some("#,##0"));
    // The summary sheet comes right after the notes, its shares as percentages.
    assert_eq!(book.sheet_names()[1], "summary");
    let summary = read_csv(&dir.join("summary.csv"));
    assert_eq!(summary[0][5], "this_year");
    let styles = book.worksheet_style("summary").unwrap();
    let first_share = (1..summary.len())
        .find(|&r| summary[r][5].ends_with('%'))
        .unwrap();
    assert_eq!(
        styles
            .get((first_share as u32, 5))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.as_str()),
        Some("0.0%")
    );

    // The Notes sheet: the licence line and the samples' threshold (5).
    let text: Vec<&str> = notes.iter().flatten().map(String::as_str).collect();
    assert!(text.contains(&OGL), "the licence line");
    assert!(
        text.iter()
            .any(|t| t.starts_with("Counts of 1 to 5 are suppressed")),
        "the suppression rule with the threshold: {text:?}"
    );
    assert!(text.contains(&"1 April 2024 to 31 March 2025"));

    // Same store, same bytes: `report` again into another folder.
    let out = common::bin()
        .current_dir(tmp.path())
        .args(["report", "--quiet", "--config"])
        .arg(&cfg)
        .args(["--store", "store", "--year", "2024-25", "--out", "again"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "report failed: {}",
        common::stderr(&out)
    );
    let a = std::fs::read(dir.join(FILE)).unwrap();
    let b = std::fs::read(tmp.path().join("again").join(FILE)).unwrap();
    assert!(a == b, "a rerun gives the same report.xlsx, byte for byte");
}

/// The hostile test's funnel: 40 referrals in June 2024, 24 assessed, 7 with an s47 enquiry;
/// with the threshold at 10, 40 and 24 are published and 7 is `c`. The LA's name looks like a
/// formula: the CSVs escape it, the workbook holds it as text.
fn funnel_report(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let mut refs = String::from("referral_id,child_id,la_code,received_at\n");
    let mut ass =
        String::from("assessment_id,referral_id,child_id,la_code,start_date,authorisation_date\n");
    let mut s47 = String::from(
        "s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date\n",
    );
    for i in 1..=40 {
        refs.push_str(&format!("R{i},C{i},940,2024-06-03\n"));
        if i <= 24 {
            ass.push_str(&format!("A{i},R{i},C{i},940,2024-06-04,2024-06-20\n"));
        }
        if i <= 7 {
            s47.push_str(&format!("S{i},R{i},C{i},940,2024-06-05,Y,\n"));
        }
    }
    common::write(&data, "referrals.csv", &refs);
    common::write(&data, "assessments.csv", &ass);
    common::write(&data, "s47_enquiries.csv", &s47);
    common::write(
        dir,
        "safeguard.toml",
        "partnership = \"Fictional test partnership\"\nsuppression_threshold = 10\n\n\
         [[la]]\ncode = \"940\"\nname = \"=HYPERLINK(1) Fictional LA\"\n",
    );
    let o = common::run_in(dir, &["ingest", "data", "--store", "st"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::run_in(
        dir,
        &[
            "report", "--store", "st", "--year", "2024-25", "--out", "rep",
        ],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    dir.join("rep")
}

#[test]
fn a_formula_like_name_is_text_and_the_notes_give_the_configured_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = funnel_report(tmp.path());
    let (seen, notes) = check_report_folder(&dir);
    assert!(seen.escaped > 0, "an escaped cell was compared: {seen:?}");

    // The funnel by hand: the LA's row of each stage.
    let funnel = read_csv(&dir.join("02-threshold-funnel.csv"));
    let la = "'=HYPERLINK(1) Fictional LA";
    let stage = |s: &str| {
        funnel
            .iter()
            .find(|r| r[0] == s && r[1] == la)
            .unwrap_or_else(|| panic!("{s} for the LA in {funnel:?}"))[2]
            .clone()
    };
    assert_eq!(stage("Referrals"), "40");
    assert_eq!(stage("Assessments"), "24");
    assert_eq!(stage("s47 enquiries"), "c");
    let mut book: Xlsx<_> = open_workbook(dir.join(FILE)).unwrap();
    let range = book.worksheet_range("02-threshold-funnel").unwrap();
    let row = (0..range.height())
        .find(|&r| {
            range.get((r, 0)) == Some(&Data::String("s47 enquiries".into()))
                && range.get((r, 1)) == Some(&Data::String("=HYPERLINK(1) Fictional LA".into()))
        })
        .expect("the LA's s47 row, its name as text without the CSV's quote");
    assert_eq!(
        range.get((row, 2)),
        Some(&Data::String("c".into())),
        "suppressed: c, never 0 or blank"
    );
    // Excel's own quote prefix keeps the cell text if it is edited.
    let styles = std::fs::read(dir.join(FILE)).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(styles)).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    assert!(xml.contains("quotePrefix=\"1\""), "a quote-prefix style");

    let text: Vec<&str> = notes.iter().flatten().map(String::as_str).collect();
    assert!(text.contains(&OGL));
    assert!(
        text.iter()
            .any(|t| t.starts_with("Counts of 1 to 10 are suppressed")),
        "the configured threshold: {text:?}"
    );
    assert!(text.contains(&"Fictional test partnership"));
}

#[test]
fn sheet_names_are_safe_and_unique() {
    use safeguard::report::workbook::sheet_name;
    let mut used = std::collections::HashSet::from(["notes".to_string()]);
    let long = "a-very-long-table-name-that-goes-on-and-on";
    let n1 = sheet_name(long, &mut used);
    let n2 = sheet_name(long, &mut used);
    assert_eq!(n1, "a-very-long-table-name-that-goe");
    assert_eq!(n2, "a-very-long-table-name-that-g~2");
    assert_eq!(
        sheet_name("what[is]:this*?/\\", &mut used),
        "what_is__this____"
    );
    assert_eq!(sheet_name("NOTES", &mut used), "NOTES~2");
    assert_eq!(sheet_name("'quoted'", &mut used), "quoted");
    assert_eq!(sheet_name("History", &mut used), "History_");
    assert_eq!(sheet_name("", &mut used), "Sheet");
    for n in used {
        assert!(n.chars().count() <= 31);
    }
}
