//! `safeguard measures` tested as data, the sqllogictest way: every folder of `tests/measures/`
//! is a case - fictional input rows (`input/*.csv`), the measure rows expected (`expected.csv`,
//! each counted by hand in the `#` comment above it) and `case.toml` saying how `measures` is run
//! and which rows the expected file covers. [`measure_cases`] runs them all through the real
//! binary (ingest, then measures, the CSV read back); `SAFEGUARD_BLESS=1 cargo test
//! measure_cases` rewrites each expected file from the output instead, for review with `git
//! diff` (comments and every row that still holds are kept as written). `tests/measures/README.md`
//! explains the format: an analyst adds a case without writing Rust.
//!
//! The tests below the harness check what a folder cannot say: that every catalogue measure has
//! rows on a full fixture, and that a multi-year run is its single years together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::common::{
    read_measures, root, run_in, split_csv_line, stderr, stdout, MeasureKey, MeasureValues,
    MEASURES_HEADER,
};

// ---------------------------------------------------------------------------------------------
// the case harness

/// `case.toml`: one or more runs of `safeguard measures` on the case's store.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    #[serde(rename = "run")]
    runs: Vec<RunToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunToml {
    /// The arguments after `measures --store store --out m.csv`.
    args: Vec<String>,
    /// The expected rows (a file of the case folder); needed when `scope` is not empty.
    expected: Option<String>,
    /// Which output rows the expected file covers, exactly: `measure`, `measure:breakdown` or
    /// `measure:breakdown:la_code`.
    #[serde(default)]
    scope: Vec<String>,
    /// Lines the run summary (stdout) must contain.
    #[serde(default)]
    summary: Vec<String>,
}

/// An expected row: counts exact, value within 1e-9 (written as a number or a fraction `a/b`).
#[derive(Debug, Clone)]
struct ExpectedRow {
    comments: Vec<String>,
    key: MeasureKey,
    counts: [i64; 4],
    value: Option<f64>,
    line: String,
}

/// An expected file: comments before the header, the rows (each with the comments above it),
/// comments after the last row.
#[derive(Debug, Default)]
struct ExpectedFile {
    head: Vec<String>,
    rows: Vec<ExpectedRow>,
    tail: Vec<String>,
}

fn parse_value(s: &str) -> Result<Option<f64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let num = |t: &str| -> Result<f64, String> {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("value '{s}' is not a number or a fraction a/b"))
    };
    match s.split_once('/') {
        Some((a, b)) => Ok(Some(num(a)? / num(b)?)),
        None => Ok(Some(num(s)?)),
    }
}

fn read_expected(path: &Path) -> Result<ExpectedFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut file = ExpectedFile::default();
    let mut comments = vec![];
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let at = |msg: String| format!("{}:{}: {msg}", path.display(), i + 1);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            comments.push(line.to_string());
            continue;
        }
        if !header_seen {
            if line != MEASURES_HEADER {
                return Err(at(format!("the header must be {MEASURES_HEADER}")));
            }
            header_seen = true;
            file.head = std::mem::take(&mut comments);
            continue;
        }
        let f = split_csv_line(line);
        if f.len() != 10 {
            return Err(at(format!("{} fields, not 10", f.len())));
        }
        let int = |s: &str| -> Result<i64, String> {
            s.parse()
                .map_err(|_| at(format!("'{s}' is not an integer")))
        };
        file.rows.push(ExpectedRow {
            comments: std::mem::take(&mut comments),
            key: (
                f[0].clone(),
                f[1].clone(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
            ),
            counts: [int(&f[5])?, int(&f[6])?, int(&f[8])?, int(&f[9])?],
            value: parse_value(&f[7]).map_err(at)?,
            line: line.to_string(),
        });
    }
    if !header_seen {
        return Err(format!("{}: no header line", path.display()));
    }
    file.tail = comments;
    Ok(file)
}

fn in_scope(scope: &[String], key: &MeasureKey) -> bool {
    scope.iter().any(|s| {
        let mut parts = s.split(':');
        let m = parts.next().unwrap_or("");
        let b = parts.next();
        let la = parts.next();
        m == key.0 && b.is_none_or(|b| b == key.3) && la.is_none_or(|la| la == key.2)
    })
}

fn same_value(got: Option<f64>, want: Option<f64>) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) => (g - w).abs() <= 1e-9 * w.abs().max(1.0),
        _ => false,
    }
}

fn matches(e: &ExpectedRow, got: &MeasureValues) -> bool {
    e.counts == got.counts() && same_value(got.value, e.value)
}

/// Copies a case's input CSVs into `data`, dropping `#` comment lines, ` #` comments at the end
/// of a line, indentation and blank lines.
fn copy_inputs(input: &Path, data: &Path) -> Result<(), String> {
    std::fs::create_dir_all(data).map_err(|e| e.to_string())?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(|e| format!("{}: {e}", input.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Err(format!("{}: no input CSV", input.display()));
    }
    for p in entries {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut out = String::new();
        for line in text.lines() {
            let line = match line.find(" #") {
                Some(i) => &line[..i],
                None => line,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        std::fs::write(data.join(p.file_name().expect("a file")), out)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs one case folder (with `queries` as SAFEGUARD_QUERIES when given). Returns what is wrong
/// (empty: the case holds). With `bless`, a run whose rows differ has its expected file
/// rewritten from the output instead.
pub fn run_case(case: &Path, queries: Option<&Path>, bless: bool) -> Vec<String> {
    let name = case.display().to_string();
    let toml_path = case.join("case.toml");
    let spec: CaseToml = match std::fs::read_to_string(&toml_path)
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return vec![format!("{}: {e}", toml_path.display())],
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    if let Err(e) = copy_inputs(&case.join("input"), &tmp.path().join("data")) {
        return vec![format!("{name}: {e}")];
    }
    let ingest = run_in(tmp.path(), &["ingest", "data", "--store", "store"]);
    if !ingest.status.success() {
        return vec![format!(
            "{name}: ingest failed:\n{}{}",
            stdout(&ingest),
            stderr(&ingest)
        )];
    }
    let mut problems = vec![];
    for (i, run) in spec.runs.iter().enumerate() {
        let what = format!("{name} run {} ({})", i + 1, run.args.join(" "));
        let mut cmd = crate::common::bin();
        cmd.current_dir(tmp.path())
            .args(["measures", "--store", "store", "--out", "m.csv"])
            .args(&run.args);
        if let Some(q) = queries {
            cmd.env("SAFEGUARD_QUERIES", q);
        }
        let o = cmd.output().expect("the binary runs");
        if !o.status.success() {
            problems.push(format!(
                "{what}: measures failed:\n{}{}",
                stdout(&o),
                stderr(&o)
            ));
            continue;
        }
        let summary = stdout(&o);
        for line in &run.summary {
            if !summary.contains(line.as_str()) {
                problems.push(format!("{what}: the summary lacks {line:?}:\n{summary}"));
            }
        }
        if run.scope.is_empty() {
            continue;
        }
        let Some(expected_name) = &run.expected else {
            problems.push(format!("{what}: a scope needs an `expected` file"));
            continue;
        };
        let expected_path = case.join(expected_name);
        let got: Vec<(MeasureKey, MeasureValues)> =
            crate::common::read_measure_rows(&tmp.path().join("m.csv"))
                .into_iter()
                .filter(|(k, _)| in_scope(&run.scope, k))
                .collect();
        let expected = if expected_path.exists() {
            match read_expected(&expected_path) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            }
        } else if bless {
            ExpectedFile::default()
        } else {
            problems.push(format!("{}: missing", expected_path.display()));
            continue;
        };
        let got_map: BTreeMap<&MeasureKey, &MeasureValues> =
            got.iter().map(|(k, v)| (k, v)).collect();
        let mut diffs = vec![];
        let mut expected_keys = BTreeSet::new();
        for e in &expected.rows {
            if !expected_keys.insert(&e.key) {
                diffs.push(format!("  twice in the expected file: {}", e.line));
            }
            if !in_scope(&run.scope, &e.key) {
                diffs.push(format!("  out of the run's scope: {}", e.line));
                continue;
            }
            match got_map.get(&e.key) {
                None => diffs.push(format!("  missing: {}", e.line)),
                Some(g) if !matches(e, g) => {
                    diffs.push(format!("  expected: {}\n       got: {}", e.line, g.line))
                }
                Some(_) => {}
            }
        }
        for (k, g) in &got {
            if !expected_keys.contains(k) {
                diffs.push(format!("  unexpected: {}", g.line));
            }
        }
        if diffs.is_empty() {
            continue;
        }
        if bless {
            write_blessed(&expected_path, &expected, &got);
            eprintln!(
                "rewrote {} ({} differences)",
                expected_path.display(),
                diffs.len()
            );
        } else {
            problems.push(format!(
                "{what}: {} differs from the output (SAFEGUARD_BLESS=1 rewrites it):\n{}",
                expected_path.display(),
                diffs.join("\n")
            ));
        }
    }
    problems
}

/// Writes the output's rows in scope as the expected file, in output order: a row that still
/// holds is kept as written, and every row keeps the comments above it.
fn write_blessed(path: &Path, old: &ExpectedFile, got: &[(MeasureKey, MeasureValues)]) {
    let by_key: BTreeMap<&MeasureKey, &ExpectedRow> =
        old.rows.iter().map(|r| (&r.key, r)).collect();
    let mut out = String::new();
    for c in &old.head {
        out.push_str(c);
        out.push('\n');
    }
    out.push_str(MEASURES_HEADER);
    out.push('\n');
    for (k, g) in got {
        let line = match by_key.get(k) {
            Some(e) => {
                for c in &e.comments {
                    out.push_str(c);
                    out.push('\n');
                }
                if matches(e, g) {
                    e.line.clone()
                } else {
                    g.line.clone()
                }
            }
            None => g.line.clone(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    for c in &old.tail {
        out.push_str(c);
        out.push('\n');
    }
    std::fs::write(path, out).expect("expected file written");
}

/// The case folders of `tests/measures/`, sorted.
fn case_folders() -> Vec<PathBuf> {
    let dir = root().join("tests/measures");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/measures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.toml").is_file())
        .collect();
    cases.sort();
    cases
}

#[test]
fn measure_cases() {
    let bless = std::env::var_os("SAFEGUARD_BLESS").is_some_and(|v| v != "0");
    let cases = case_folders();
    assert!(cases.len() >= 10, "the cases of tests/measures/: {cases:?}");
    let problems: Vec<String> = cases
        .iter()
        .flat_map(|c| run_case(c, None, bless))
        .collect();
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn the_harness_fails_a_case_whose_expected_rows_are_wrong() {
    // A copy of a real case with one count changed, one row dropped and one row added: the
    // harness reports all three (it is not a test that cannot fail).
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("rereferrals");
    copy_tree(&root().join("tests/measures/rereferrals"), &case);
    let path = case.join("expected.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("rereferral_12m,2024-25,ALL,NONE,"))
        .expect("the ALL row of 2024-25");
    lines[first] = "rereferral_12m,2024-25,ALL,NONE,,2,6,2/6,0,0".into();
    let dropped = lines
        .iter()
        .position(|l| l.starts_with("rereferral_12m,2024-25,941,NONE,"))
        .expect("941's row");
    lines.remove(dropped);
    lines.push("rereferral_12m,2024-25,999,NONE,,0,1,0,0,0".into());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let problems = run_case(&case, None, false).join("\n");
    for what in [
        "expected: rereferral_12m,2024-25,ALL,NONE,,2,6,2/6,0,0",
        "unexpected: rereferral_12m,2024-25,941,NONE,",
        "missing: rereferral_12m,2024-25,999,NONE,",
    ] {
        assert!(
            problems.contains(what),
            "{what:?} not reported:\n{problems}"
        );
    }
    // Blessing rewrites it back to the output, keeping the comments.
    assert!(run_case(&case, None, true).is_empty());
    assert!(run_case(&case, None, false).is_empty());
    let blessed = std::fs::read_to_string(&path).unwrap();
    assert!(blessed.contains("rereferral_12m,2024-25,941,NONE,"));
    assert!(!blessed.contains(",999,"));
    let comments = |t: &str| t.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(comments(&blessed), comments(&text), "comments kept");
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// what a folder cannot say

/// Writes `files` (name, CSV) to `dir/data`, ingests them into `dir/store` and runs `measures`
/// with `args`: the table, and the run summary.
fn measures_on(
    dir: &Path,
    files: &[(&str, &str)],
    args: &[&str],
) -> (BTreeMap<MeasureKey, MeasureValues>, String) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (name, text) in files {
        std::fs::write(data.join(name), text).unwrap();
    }
    let o = run_in(dir, &["ingest", "data", "--store", "store"]);
    assert!(o.status.success(), "ingest: {}{}", stdout(&o), stderr(&o));
    let mut a = vec!["measures", "--store", "store", "--out", "m.csv"];
    a.extend_from_slice(args);
    let o = run_in(dir, &a);
    assert!(o.status.success(), "measures: {}{}", stdout(&o), stderr(&o));
    (read_measures(&dir.join("m.csv")), stdout(&o))
}

fn headline(t: &BTreeMap<MeasureKey, MeasureValues>, m: &str, p: &str, la: &str) -> [i64; 4] {
    t.get(&(m.into(), p.into(), la.into(), "NONE".into(), String::new()))
        .unwrap_or_else(|| panic!("no NONE row of {m} {p} {la}"))
        .counts()
}

#[test]
fn every_catalogue_measure_is_computed_on_a_full_fixture() {
    // One store holding every table the non-CDOP measures read: each id of the catalogue that
    // is not a child death figure (those need a CDOP store: tests/it/cdop.rs) or a
    // pre-proceedings one (from 2026-27: tests/it/pre_proceedings.rs) has rows, and none is
    // "not measurable".
    let tmp = tempfile::tempdir().unwrap();
    let (t, summary) = measures_on(
        tmp.path(),
        &[
            (
                "contacts.csv",
                "contact_id,child_id,la_code,received_at,source,level_of_need,decision_at,outcome\n\
                 K1,C1,940,2024-06-10T09:00:00,2A,2,2024-06-11T09:00:00,REFERRAL\n",
            ),
            (
                "referrals.csv",
                "referral_id,child_id,la_code,received_at,source,decision_at,referral_nfa,primary_need,closure_date,closure_reason,contact_id\n\
                 R1,C1,940,2024-06-11,2A,2024-06-11,N,N1,,,K1\n",
            ),
            (
                "assessments.csv",
                "assessment_id,referral_id,child_id,la_code,start_date,authorisation_date\n\
                 A1,R1,C1,940,2024-06-12,2024-07-01\n",
            ),
            (
                "s47_enquiries.csv",
                "s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,icpc_result,transfer_in\n\
                 S1,R1,C1,940,2024-12-10,,2025-01-03,CPP,\n",
            ),
            (
                "cp_plans.csv",
                "plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category,latest_category,previous_plans,first_core_group_date,end_reason\n\
                 P1,R1,C1,940,2025-01-03,,NEG,,,2025-01-10,\n\
                 P0,R1,C1,940,2024-05-01,2024-10-01,EMO,,,,\n",
            ),
            ("cp_reviews.csv", "plan_id,review_date\nP0,2024-08-01\n"),
            (
                "early_help.csv",
                "episode_id,child_id,la_code,start_date,end_date,outcome\nE1,C9,941,2024-01-01,2024-05-01,STEP_UP\n",
            ),
            ("population.csv", "la_code,year,age_0_17\n940,2024,80000\n941,2024,90000\n"),
        ],
        &["--year", "2024-25", "--reference-date", "2025-04-30"],
    );
    let cat = safeguard::measures::catalogue::load_embedded().expect("the catalogue loads");
    let ids: BTreeSet<&str> = t.keys().map(|k| k.0.as_str()).collect();
    for m in cat
        .measures
        .iter()
        .filter(|m| !m.id.starts_with("cdop_") && !m.id.starts_with("pp_"))
    {
        assert!(
            ids.contains(m.id.as_str()),
            "no rows for {}; summary:\n{summary}",
            m.id
        );
    }
    assert!(
        !summary.lines().any(|l| l.starts_with("not measurable: ")
            && !l.starts_with("not measurable: cdop_")
            && !l.starts_with("not measurable: pp_")),
        "{summary}"
    );
    // A few figures (hand count): the ICPC, wd(Tue 10 Dec 2024, Fri 3 Jan 2025) = 15 (25, 26
    // December and 1 January skipped): within 15.
    assert_eq!(headline(&t, "icpc_15wd", "2024-25", "ALL"), [1, 1, 0, 0]);
    // P1: started Fri 3 Jan 2025, core group Fri 10 Jan = 5 WD; P0 has no date: excluded.
    assert_eq!(
        headline(&t, "core_group_10wd", "2024-25", "ALL"),
        [1, 1, 1, 0]
    );
    // P0: started 1 May 2024, first review due 1 Aug 2024, held that day; ended 1 Oct 2024
    // before the next was due. P1: first due 3 Apr 2025, after the year: owes none in it.
    assert_eq!(
        headline(&t, "cpp_review_timely", "2024-25", "ALL"),
        [1, 1, 0, 0]
    );
    // E1 ended 1 May 2024 with outcome STEP_UP.
    assert_eq!(
        headline(&t, "early_help_step_up", "2024-25", "941"),
        [1, 1, 0, 0]
    );
}

#[test]
fn a_multi_year_run_gives_each_year_as_its_own_single_year_run_does() {
    let tmp = tempfile::tempdir().unwrap();
    let case = root().join("tests/measures/s47_conferences");
    copy_inputs(&case.join("input"), &tmp.path().join("data")).unwrap();
    let o = run_in(tmp.path(), &["ingest", "data", "--store", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |args: &[&str]| {
        let mut a = vec!["measures", "--store", "store", "--out", "m.csv"];
        a.extend_from_slice(args);
        let o = run_in(tmp.path(), &a);
        assert!(o.status.success(), "{}", stderr(&o));
        read_measures(&tmp.path().join("m.csv"))
    };
    let both = run(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ]);
    let y23 = run(&["--year", "2023-24", "--reference-date", "2025-03-31"]);
    let y24 = run(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    let periods: BTreeSet<&str> = both.keys().map(|k| k.1.as_str()).collect();
    assert_eq!(
        periods.into_iter().collect::<Vec<_>>(),
        ["2023-24", "2024-25"]
    );
    let mut single = y23.clone();
    single.extend(y24);
    assert_eq!(
        both, single,
        "the two-year table is the two one-year tables together"
    );
    // A figure from each year (tests/measures/s47_conferences/expected.csv).
    assert_eq!(
        headline(&both, "s47_to_icpc", "2023-24", "941"),
        [1, 1, 0, 0]
    );
    assert_eq!(
        headline(&both, "s47_to_icpc", "2024-25", "ALL"),
        [6, 9, 1, 2]
    );
}
