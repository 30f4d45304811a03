//! `safeguard ingest` on DfE CIN census XML returns, through the real binary: every conformance
//! file (counts worked out by hand from the files), the deliberately invalid one, malformed and
//! truncated files, the key requirement, pseudonyms, identifiers kept out of the store,
//! idempotence and supersession between two returns of one LA.
//!
//! Helpers here are shared with `annex_a.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use polars::prelude::{DataFrame, DataType};
use safeguard::pseudonym::Pseudonymiser;

use crate::common::{bin, conformance, read_table, stderr, stdout, write, TEST_KEY};
pub(crate) use crate::common::{cell, issues};

// ---------------------------------------------------------------------------------------------
// helpers (also used by annex_a.rs)

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// `safeguard [--config CONFIG] ingest FILES... --store STORE`, with the test key unless `key`
/// is false.
pub(crate) fn ingest_with(
    store: &Path,
    files: &[PathBuf],
    config: Option<&Path>,
    key: bool,
) -> Output {
    let mut c = bin();
    if key {
        c.env("SAFEGUARD_KEY", TEST_KEY);
    }
    if let Some(cfg) = config {
        c.arg("--config").arg(cfg);
    }
    c.arg("ingest");
    for f in files {
        c.arg(f);
    }
    c.arg("--store").arg(store);
    // Run away from any safeguard.toml of the project.
    c.current_dir(store.parent().expect("store has a parent"));
    c.output().expect("the binary runs")
}

/// Ingests and expects exit 0; returns stdout and the summary counts.
pub(crate) fn ingest_ok(
    store: &Path,
    files: &[PathBuf],
    config: Option<&Path>,
) -> (String, BTreeMap<String, [u64; 4]>) {
    let o = ingest_with(store, files, config, true);
    assert_eq!(
        o.status.code(),
        Some(0),
        "ingest {files:?} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    let out = stdout(&o);
    let counts = summary(&out);
    (out, counts)
}

/// The per-table block of the summary: table -> [read, stored, rejected, flagged], checking
/// read = stored + rejected on every line.
pub(crate) fn summary(text: &str) -> BTreeMap<String, [u64; 4]> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f == ["table", "read", "stored", "rejected", "flagged"] {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let nums: Vec<u64> = f.iter().skip(1).filter_map(|x| x.parse().ok()).collect();
        if f.len() != 5 || nums.len() != 4 {
            break;
        }
        assert_eq!(
            nums[0],
            nums[1] + nums[2],
            "read != stored + rejected: {line}"
        );
        out.insert(f[0].to_string(), [nums[0], nums[1], nums[2], nums[3]]);
    }
    out
}

/// Asserts (read, stored, rejected) per table, and that no other table was touched.
pub(crate) fn assert_counts(
    what: &str,
    got: &BTreeMap<String, [u64; 4]>,
    want: &[(&str, u64, u64, u64)],
) {
    let got3: BTreeMap<&str, (u64, u64, u64)> = got
        .iter()
        .map(|(k, v)| (k.as_str(), (v[0], v[1], v[2])))
        .collect();
    let want3: BTreeMap<&str, (u64, u64, u64)> =
        want.iter().map(|(t, r, s, j)| (*t, (*r, *s, *j))).collect();
    assert_eq!(got3, want3, "{what}: per-table (read, stored, rejected)");
}

pub(crate) fn col(df: &DataFrame, column: &str) -> Vec<String> {
    (0..df.height()).map(|i| cell(df, column, i)).collect()
}

/// The rows whose `column` is `value`.
pub(crate) fn rows_where(df: &DataFrame, column: &str, value: &str) -> Vec<usize> {
    (0..df.height())
        .filter(|&i| cell(df, column, i) == value)
        .collect()
}

/// The only row whose `column` is `value`.
pub(crate) fn row_where(df: &DataFrame, column: &str, value: &str) -> usize {
    let hits = rows_where(df, column, value);
    assert_eq!(
        hits.len(),
        1,
        "rows with {column} = {value}: {hits:?}\n{df}"
    );
    hits[0]
}

/// Asserts (column, shown value) pairs of one row.
pub(crate) fn assert_row(df: &DataFrame, row: usize, expected: &[(&str, &str)]) {
    for (c, want) in expected {
        assert_eq!(cell(df, c, row), *want, "column {c} of row {row}\n{df}");
    }
}

pub(crate) fn current_gen(store: &Path) -> PathBuf {
    let name = std::fs::read_to_string(store.join("CURRENT")).expect("CURRENT");
    store.join(name.trim())
}

/// Every file under the store with its bytes.
pub(crate) fn snapshot(store: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(store, store, &mut out);
    out
}

/// Every string of every string column of every Parquet file in the live generation (walked
/// recursively), plus the text of every other file there (CSV, JSON): (where, value).
pub(crate) fn all_store_text(store: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                walk(&p, out);
                continue;
            }
            match p.extension().and_then(|x| x.to_str()) {
                Some("parquet") => {
                    let df = safeguard::store::read_parquet(&p).unwrap();
                    for c in df.columns() {
                        if c.dtype() == &DataType::String {
                            for v in col(&df, c.name()) {
                                out.push((format!("{name}:{}", c.name()), v));
                            }
                        }
                    }
                }
                _ => out.push((
                    name,
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned(),
                )),
            }
        }
    }
    let mut out = vec![];
    walk(&current_gen(store), &mut out);
    out
}

/// Asserts that no identifier occurs anywhere in the store, as a whole value or inside one.
pub(crate) fn assert_nowhere(store: &Path, identifiers: &BTreeSet<String>) {
    let text = all_store_text(store);
    assert!(!text.is_empty());
    for id in identifiers {
        assert!(id.len() >= 3, "identifier too short to scan for: {id:?}");
        for (place, v) in &text {
            assert!(
                !v.contains(id.as_str()),
                "identifier {id:?} found in {place}: {v:?}"
            );
        }
    }
}

pub(crate) fn keyed() -> Pseudonymiser {
    Pseudonymiser::keyed(TEST_KEY.as_bytes()).expect("test key")
}

/// The conformance CIN census folder, or None (skipped with a message).
fn cin_dir() -> Option<PathBuf> {
    conformance().map(|c| c.join("cin_census"))
}

/// A fictional CIN census return for LA 999 ("obviously fake": no UPNs, no real ids).
fn fixture_return(reference_date: &str, episodes: &str) -> String {
    format!(
        "<Message>\n  <Header>\n    <CollectionDetails>\n      <Collection>CIN</Collection>\n      <Year>2099</Year>\n      <ReferenceDate>{reference_date}</ReferenceDate>\n    </CollectionDetails>\n    <Source>\n      <SourceLevel>L</SourceLevel>\n      <LEA>999</LEA>\n      <SoftwareCode>test fixture</SoftwareCode>\n    </Source>\n  </Header>\n  <Children>\n{episodes}  </Children>\n</Message>\n"
    )
}

// ---------------------------------------------------------------------------------------------
// every conformance file

/// Per file: (path under cin_census/, expected (table, read, stored, rejected)).
///
/// Worked out from the files (`grep -c`): the eight small files hold one Child each (two in
/// CIN_Census_2024/2026) with one CINdetails, one Assessments, one Section47, one
/// ChildProtectionPlans with one CPPreviewDate (CIN2rows.xml: the plan block twice, identical),
/// and a CINdetails-level DateOfInitialCPC that differs from the Section47 one, so each s47 count
/// is the Section47 plus one transfer-in row. fake_CIN_data.xml: 332 Child, 402 CINdetails, 350
/// CINdetails-level DateOfInitialCPC (all transfer-in rows: it has no Section47 at all), no
/// other modules.
fn expected() -> Vec<(&'static str, Vec<(&'static str, u64, u64, u64)>)> {
    let one = || {
        vec![
            ("children", 1, 1, 0),
            ("referrals", 1, 1, 0),
            ("assessments", 1, 1, 0),
            ("s47_enquiries", 2, 2, 0),
            ("cp_plans", 1, 1, 0),
            ("cp_reviews", 1, 1, 0),
        ]
    };
    // The DfE validator's and liia's invalid/fake files date every event in 1970-71: outside the
    // calendar's years (1990-2040), so every row with a required date is rejected (issue 11) and
    // only the child is stored.
    let epoch = || {
        vec![
            ("children", 1, 1, 0),
            ("referrals", 1, 0, 1),
            ("assessments", 1, 0, 1),
            ("s47_enquiries", 2, 0, 2),
            ("cp_plans", 1, 0, 1),
            ("cp_reviews", 1, 0, 1),
        ]
    };
    let two = || {
        vec![
            ("children", 2, 2, 0),
            ("referrals", 2, 2, 0),
            ("assessments", 2, 2, 0),
            ("s47_enquiries", 2, 2, 0),
            ("cp_plans", 1, 1, 0),
            ("cp_reviews", 1, 1, 0),
        ]
    };
    vec![
        (
            "csc-validator-be-cin/CIN2rows.xml",
            vec![
                ("children", 1, 1, 0),
                ("referrals", 1, 1, 0),
                ("assessments", 1, 1, 0),
                ("s47_enquiries", 2, 2, 0),
                ("cp_plans", 2, 1, 1),
                ("cp_reviews", 2, 1, 1),
            ],
        ),
        ("csc-validator-be-cin/CIN_Census_2021.xml", epoch()),
        (
            "csc-validator-be-cin/CIN_Census_2021_no_assessment_factors.xml",
            one(),
        ),
        ("csc-validator-be-cin/CIN_Census_2024.xml", two()),
        (
            "csc-validator-be-cin/CIN_Census_2026.xml",
            // two() and the pre-proceedings block.
            [two(), vec![("pre_proceedings", 1, 1, 0)]].concat(),
        ),
        ("csc-validator-be-cin/CIN_header_issues_100.xml", epoch()),
        (
            "csc-validator-be-cin/fake_CIN_data.xml",
            vec![
                ("children", 332, 332, 0),
                ("referrals", 402, 402, 0),
                ("s47_enquiries", 350, 350, 0),
            ],
        ),
        ("liia-tools-pipeline/BAR_cin_2022.xml", epoch()),
        ("liia-tools/cin-2021.xml", epoch()),
        ("liia-tools/CIN_Census_2021.xml", epoch()),
    ]
}

#[test]
fn every_conformance_cin_file_is_ingested_with_the_hand_counted_rows() {
    let Some(dir) = cin_dir() else { return };
    let all = expected();
    // Every XML file in the folder is covered.
    let mut on_disk = BTreeSet::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        let sub = sub.unwrap().path();
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            on_disk.insert(
                f.strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
    let covered: BTreeSet<String> = all.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        on_disk, covered,
        "a conformance file without expected counts"
    );

    for (file, want) in &all {
        let d = tmp();
        let store = d.path().join("store");
        let (out, counts) = ingest_ok(&store, &[dir.join(file)], None);
        assert_counts(file, &counts, want);
        assert!(out.contains("(CIN census XML)"), "{out}");
        // The store holds what the summary says.
        for (table, _, stored, _) in want {
            assert_eq!(
                read_table(&store, table).height() as u64,
                *stored,
                "{file}: {table} in the store"
            );
        }
        // Every row carries the header's LA.
        let la = if file.contains("fake_CIN") {
            "975"
        } else {
            "201"
        };
        assert!(
            col(&read_table(&store, "children"), "la_code")
                .iter()
                .all(|x| x == la),
            "{file}"
        );
        // The duplicate CP plan and the 1970 dates are the only kinds of reject.
        let rejects = issues(&store, "rejects");
        let epoch_dated = want.iter().any(|(t, _, _, j)| *t == "referrals" && *j == 1);
        if epoch_dated {
            assert!(!rejects.is_empty());
            for r in &rejects {
                assert!(
                    r.flag == "bad_value"
                        && r.reason.contains("outside the calendar's years 1990-2040")
                        && r.value.starts_with("197"),
                    "{file}: {r:?}"
                );
            }
        } else if file.ends_with("CIN2rows.xml") {
            assert_eq!(rejects.len(), 2, "{rejects:#?}");
            let plan = rejects
                .iter()
                .find(|r| r.table == "cp_plans")
                .expect("plan reject");
            assert_eq!(
                plan.position,
                "Child[1]/CINdetails[1]/ChildProtectionPlans[2]"
            );
            assert!(
                plan.reason.contains(
                    "duplicate CP plan (same start, end and reviews as ChildProtectionPlans[1])"
                ),
                "{plan:?}"
            );
            let review = rejects
                .iter()
                .find(|r| r.table == "cp_reviews")
                .expect("review reject");
            assert_eq!(
                review.position,
                "Child[1]/CINdetails[1]/ChildProtectionPlans[2]/CPPreviewDate[1]"
            );
        } else {
            assert!(rejects.is_empty(), "{file}: {rejects:#?}");
        }
    }
}

#[test]
fn reference_date_sets_the_vintage_and_a_date_other_than_31_march_is_noted() {
    let Some(dir) = cin_dir() else { return };
    for (file, vintage, noted) in [
        (
            "csc-validator-be-cin/CIN_Census_2024.xml",
            "2024-03-31",
            false,
        ), // header Year 2023
        (
            "csc-validator-be-cin/CIN_header_issues_100.xml",
            "2023-03-28",
            true,
        ),
        ("csc-validator-be-cin/fake_CIN_data.xml", "2022-07-21", true),
        ("liia-tools/cin-2021.xml", "2021-03-31", false),
    ] {
        let d = tmp();
        let store = d.path().join("store");
        let (out, _) = ingest_ok(&store, &[dir.join(file)], None);
        // (children: the 1970-dated files' referrals are rejected, their children are stored.)
        let children = read_table(&store, "children");
        assert!(children.height() > 0, "{file}");
        assert!(
            col(&children, "source_vintage")
                .iter()
                .all(|v| v == vintage),
            "{file}\n{children}"
        );
        assert_eq!(
            out.contains(&format!("ReferenceDate {vintage} is not 31 March")),
            noted,
            "{file}: note in\n{out}"
        );
    }
}

#[test]
fn fake_cin_data_maps_characteristics_and_cindetails_icpcs_to_transfer_in_rows() {
    let Some(dir) = cin_dir() else { return };
    let d = tmp();
    let store = d.path().join("store");
    ingest_ok(
        &store,
        &[dir.join("csc-validator-be-cin/fake_CIN_data.xml")],
        None,
    );

    let children = read_table(&store, "children");
    assert_eq!(children.height(), 332);
    // GenderCurrent 1 (82) -> M, 2 (74) -> F, 0 (96) and 9 (80) -> U.
    let sex = col(&children, "sex");
    let n = |v: &str| sex.iter().filter(|x| *x == v).count();
    assert_eq!((n("M"), n("F"), n("U")), (82, 74, 176));
    // 74 children with Disabilities: 71 with a code other than NONE, 3 with NONE only.
    let dis = col(&children, "disability");
    let m = |v: &str| dis.iter().filter(|x| *x == v).count();
    assert_eq!((m("true"), m("false"), m("")), (71, 3, 258));
    // Birth dates are kept as the first of the month only.
    assert!(col(&children, "birth_month")
        .iter()
        .all(|b| b.ends_with("-01")));
    assert!(col(&children, "unborn").iter().all(|u| u == "false"));

    // The first child: RND000215205141, born 2019-12-06, referred 2020-07-13 (source 4), ICPC
    // 2020-09-29 at CINdetails level.
    let p = keyed().child_id("RND000215205141");
    let c = row_where(&children, "child_id", &p);
    assert_row(
        &children,
        c,
        &[
            ("la_code", "975"),
            ("birth_month", "2019-12-01"),
            ("sex", "M"),
            ("ethnicity", "WIRT"),
        ],
    );
    let refs = read_table(&store, "referrals");
    let r = row_where(&refs, "referral_id", &format!("{p}-2020-07-13-1"));
    assert_row(
        &refs,
        r,
        &[
            ("child_id", &p),
            ("received_at", "2020-07-13T00:00:00"),
            ("source", "4"),
            ("referral_nfa", "true"),
            ("primary_need", "N6"),
            ("closure_date", "2021-06-11"),
            ("closure_reason", "RC2"),
        ],
    );
    assert_eq!(cell(&refs, "source_pos", r), "Child[1]/CINdetails[1]");
    // All-digit referral sources are kept as code strings.
    let sources: BTreeSet<String> = col(&refs, "source").into_iter().collect();
    for code in ["4", "6", "7", "8", "9", "10", "1A", "5C"] {
        assert!(sources.contains(code), "{sources:?}");
    }

    // 350 transfer-in rows, one per CINdetails-level DateOfInitialCPC, each on its referral.
    let s47 = read_table(&store, "s47_enquiries");
    assert_eq!(s47.height(), 350);
    assert!(col(&s47, "transfer_in").iter().all(|t| t == "true"));
    assert!(
        col(&s47, "icpc_result").iter().all(|t| t == "NO_CPP"),
        "no plans in the file"
    );
    let ids = col(&s47, "s47_id");
    let refids = col(&s47, "referral_id");
    assert!(ids.iter().zip(&refids).all(|(s, r)| *s == format!("{r}-T")));
    let t = row_where(&s47, "s47_id", &format!("{p}-2020-07-13-1-T"));
    assert_row(
        &s47,
        t,
        &[
            ("start_date", "2020-07-13"),
            ("icpc_date", "2020-09-29"),
            ("icpc_not_required", ""),
            ("source_pos", "Child[1]/CINdetails[1]/DateOfInitialCPC"),
        ],
    );
    // No orphans: every transfer-in row's referral is stored.
    let dq = issues(&store, "data_quality");
    assert!(
        !dq.iter().any(|i| i.flag == "orphan"),
        "{:#?}",
        dq.iter().filter(|i| i.flag == "orphan").collect::<Vec<_>>()
    );
}

#[test]
fn cin_2026_return_maps_every_module_and_keeps_the_rest_in_the_raw_layer() {
    let Some(dir) = cin_dir() else { return };
    let d = tmp();
    let store = d.path().join("store");
    ingest_ok(
        &store,
        &[dir.join("csc-validator-be-cin/CIN_Census_2026.xml")],
        None,
    );
    let p1 = keyed().child_id("DfEX0000001");
    let p2 = keyed().child_id("child_fails_assessments");

    let children = read_table(&store, "children");
    // Sex 1 (legacy code under Sex) and M both mean male; HAND+HEAR -> Y, NONE -> N.
    assert_row(
        &children,
        row_where(&children, "child_id", &p1),
        &[
            ("birth_month", "2015-03-01"),
            ("sex", "M"),
            ("ethnicity", "WBRI"),
            ("disability", "true"),
            ("unborn", "false"),
        ],
    );
    assert_row(
        &children,
        row_where(&children, "child_id", &p2),
        &[
            ("birth_month", "2023-09-01"),
            ("sex", "M"),
            ("disability", "false"),
        ],
    );

    let r1 = format!("{p1}-2022-10-06-1");
    let refs = read_table(&store, "referrals");
    assert_row(
        &refs,
        row_where(&refs, "referral_id", &r1),
        &[
            ("source", "1A"),
            ("referral_nfa", "false"),
            ("primary_need", "N4"),
            ("closure_date", "2023-02-27"),
            ("closure_reason", "RC1"),
            ("decision_at", ""),
            ("contact_id", ""),
        ],
    );
    assert_row(
        &refs,
        row_where(&refs, "referral_id", &format!("{p2}-2024-10-24-1")),
        &[("referral_nfa", "false"), ("closure_reason", "RC9")],
    );

    // The unknown factor RB empties the factors cell and is flagged naming the element and value;
    // the empty <FactorsIdentifiedAtAssessment/> is simply empty.
    let a = read_table(&store, "assessments");
    assert_row(
        &a,
        row_where(&a, "assessment_id", &format!("{r1}-A1")),
        &[
            ("start_date", "2028-04-28"),
            ("authorisation_date", "2020-09-19"),
            ("factors", ""),
        ],
    );
    assert_row(
        &a,
        row_where(&a, "assessment_id", &format!("{p2}-2024-10-24-1-A1")),
        &[("factors", "")],
    );
    let dq = issues(&store, "data_quality");
    let f = dq
        .iter()
        .find(|i| i.table == "assessments" && i.flag == "bad_value")
        .expect("factor flag");
    assert_eq!(
        (f.column.as_str(), f.value.as_str()),
        ("AssessmentFactors (factors)", "1C;RB;6B")
    );
    assert!(f.reason.contains("RB"), "{f:?}");
    assert_eq!(f.position, "Child[1]/CINdetails[1]/Assessments[1]");
    assert_eq!(
        dq.iter()
            .filter(|i| i.table == "assessments" && i.flag == "bad_value")
            .count(),
        1
    );

    // The Section47 enquiry, and the CINdetails-level ICPC (a different date) as a transfer-in
    // conference, flagged for DfE rule 2884. No plan starts on either ICPC date.
    let s47 = read_table(&store, "s47_enquiries");
    assert_row(
        &s47,
        row_where(&s47, "s47_id", &format!("{r1}-S1")),
        &[
            ("start_date", "2022-06-02"),
            ("icpc_not_required", "false"),
            ("icpc_date", "2022-06-17"),
            ("icpc_result", "NO_CPP"),
            ("transfer_in", "false"),
        ],
    );
    assert_row(
        &s47,
        row_where(&s47, "s47_id", &format!("{r1}-T")),
        &[
            ("start_date", "2022-10-06"),
            ("icpc_date", "2022-12-06"),
            ("icpc_result", "NO_CPP"),
            ("transfer_in", "true"),
        ],
    );
    let both = dq
        .iter()
        .find(|i| i.flag == "icpc_both_levels")
        .expect("rule 2884 flag");
    assert_eq!(both.position, "Child[1]/CINdetails[1]/DateOfInitialCPC");
    assert!(
        both.reason.contains("2884") && both.reason.contains("2022-06-17"),
        "{both:?}"
    );

    let plans = read_table(&store, "cp_plans");
    assert_eq!(plans.height(), 1);
    assert_row(
        &plans,
        0,
        &[
            ("plan_id", &format!("{r1}-P1")),
            ("referral_id", &r1),
            ("start_date", "2022-02-17"),
            ("end_date", "2023-03-14"),
            ("initial_category", "PHY"),
            ("latest_category", "PHY"),
            ("previous_plans", "10"),
        ],
    );
    let reviews = read_table(&store, "cp_reviews");
    assert_row(
        &reviews,
        0,
        &[
            ("plan_id", &format!("{r1}-P1")),
            ("review_date", "2023-02-15"),
        ],
    );

    // The raw layer: CIN plan, UPNunknown, disability codes,
    // InitialCPCtarget and the header's software fields; never the UPNs or dates of birth.
    let raw = read_table(&store, "raw");
    let rows: Vec<(String, String, String, String)> = (0..raw.height())
        .map(|i| {
            (
                cell(&raw, "position", i),
                cell(&raw, "element", i),
                cell(&raw, "field", i),
                cell(&raw, "value", i),
            )
        })
        .collect();
    let has = |pos: &str, el: &str, field: &str, v: &str| {
        assert!(
            rows.iter()
                .any(|r| r.0 == pos && r.1 == el && r.2 == field && r.3 == v),
            "raw ({pos}, {el}, {field}, {v}) missing from {rows:#?}"
        )
    };
    has(
        "Child[1]/CINdetails[1]/CINPlanDates[1]",
        "CINPlanDates",
        "CINPlanStartDate",
        "2023-01-24",
    );
    has(
        "Child[1]/CINdetails[1]/CINPlanDates[1]",
        "CINPlanDates",
        "CINPlanEndDate",
        "2023-01-26",
    );
    has(
        "Child[1]/ChildIdentifiers",
        "ChildIdentifiers",
        "UPNunknown",
        "UN3",
    );
    has(
        "Child[2]/ChildIdentifiers",
        "ChildIdentifiers",
        "UPNunknown",
        "UN1",
    );
    has(
        "Child[1]/ChildCharacteristics/Disabilities",
        "Disabilities",
        "Disability",
        "HEAR",
    );
    has(
        "Child[1]/CINdetails[1]/Section47[1]",
        "Section47",
        "InitialCPCtarget",
        "2022-06-23",
    );
    has("Header/Source", "Source", "SoftwareCode", "Local Authority");
    // The pre-proceedings block is a table of its own now (tests/it/pre_proceedings.rs).
    let pp = rows
        .iter()
        .filter(|r| r.1 == "PreProceedingsandFGDM")
        .count();
    assert_eq!(
        pp, 0,
        "the pre-proceedings items are in pre_proceedings, not raw"
    );
    for forbidden in ["UPN", "FormerUPN", "PersonBirthDate", "LAchildID"] {
        assert!(
            !rows.iter().any(|r| r.2 == forbidden),
            "{forbidden} in the raw layer"
        );
    }
}

#[test]
fn the_invalid_liia_file_stores_its_rows_and_flags_each_bad_value_naming_element_and_value() {
    let Some(dir) = cin_dir() else { return };
    let d = tmp();
    let store = d.path().join("store");
    // The file dates its events in 1970-71, outside the calendar's years (every row with a
    // required date would be rejected): a copy with the events moved to 2020-21 is read, so that
    // what the file tests (bad optional values) is still seen.
    let text = std::fs::read_to_string(dir.join("liia-tools/CIN_Census_2021.xml"))
        .unwrap()
        .replace(">1970-", ">2020-")
        .replace(">1971-", ">2021-");
    let copy = write(d.path(), "CIN_Census_2021.xml", &text);
    let (_, counts) = ingest_ok(&store, &[copy], None);
    // Bad values are in optional columns: the rows are stored, the cells empty, and flagged.
    assert_eq!(counts["children"], [1, 1, 0, 1]);
    assert_eq!(counts["referrals"], [1, 1, 0, 1]);
    let dq = issues(&store, "data_quality");
    let birth = dq
        .iter()
        .find(|i| i.table == "children" && i.flag == "bad_value")
        .expect("birth flag");
    assert_eq!(
        (
            birth.position.as_str(),
            birth.column.as_str(),
            birth.value.as_str(),
            birth.file.as_str()
        ),
        (
            "Child[1]",
            "PersonBirthDate (birth_month)",
            // A date of birth's value is never shown (the echo rule), whatever it holds.
            "<withheld: 8 characters>",
            "CIN_Census_2021.xml"
        )
    );
    let nfa = dq
        .iter()
        .find(|i| i.table == "referrals" && i.flag == "bad_value")
        .expect("NFA flag");
    assert_eq!(
        (
            nfa.position.as_str(),
            nfa.column.as_str(),
            nfa.value.as_str()
        ),
        (
            "Child[1]/CINdetails[1]",
            "ReferralNFA (referral_nfa)",
            // A lower-case word in a code column is withheld too.
            "<withheld: 12 characters>"
        )
    );
    assert!(nfa.reason.contains("yes/no"), "{nfa:?}");
    let children = read_table(&store, "children");
    // The bad birth date leaves birth_month empty; a PersonBirthDate is present (if bad), so the
    // child is not unborn, and the ExpectedPersonBirthDate is not stored.
    assert_row(
        &children,
        0,
        &[("birth_month", ""), ("unborn", "false"), ("sex", "M")],
    );
    assert_eq!(
        cell(&read_table(&store, "referrals"), "referral_nfa", 0),
        ""
    );
    assert!(issues(&store, "rejects").is_empty());
}

#[test]
fn a_cindetails_level_icpc_equal_to_the_s47_icpc_is_one_conference_and_a_plan_that_day_means_cpp() {
    // Fictional fixture: the same ICPC date at both levels (recorded twice), a plan starting on it.
    let d = tmp();
    let f = write(
        d.path(),
        "same_icpc.xml",
        &fixture_return(
            "2024-03-31",
            "    <Child>\n      <ChildIdentifiers><LAchildID>FAKE-ICPC-1</LAchildID><PersonBirthDate>2016-05-20</PersonBirthDate><Sex>F</Sex></ChildIdentifiers>\n      <ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>\n      <CINdetails>\n        <CINreferralDate>2023-06-01</CINreferralDate><ReferralSource>6</ReferralSource><DateOfInitialCPC>2023-06-20</DateOfInitialCPC><ReferralNFA>0</ReferralNFA>\n        <Section47><S47ActualStartDate>2023-06-02</S47ActualStartDate><DateOfInitialCPC>2023-06-20</DateOfInitialCPC><ICPCnotRequired>false</ICPCnotRequired></Section47>\n        <ChildProtectionPlans><CPPstartDate>2023-06-20</CPPstartDate><InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse><LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse><NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>\n      </CINdetails>\n      <CINdetails>\n        <CINreferralDate>2023-06-01</CINreferralDate><ReferralSource>2A</ReferralSource><DateOfInitialCPC>2023-07-03</DateOfInitialCPC><ReferralNFA>false</ReferralNFA>\n        <ChildProtectionPlans><CPPstartDate>2023-07-03</CPPstartDate><InitialCategoryOfAbuse>EMO</InitialCategoryOfAbuse><LatestCategoryOfAbuse>EMO</LatestCategoryOfAbuse><NumberOfPreviousCPP>1</NumberOfPreviousCPP></ChildProtectionPlans>\n      </CINdetails>\n    </Child>\n",
        ),
    );
    let store = d.path().join("store");
    let (_, counts) = ingest_ok(&store, &[f], None);
    // Episode 1: one s47 (the CINdetails ICPC is the same conference); episode 2: a transfer-in.
    assert_eq!(counts["s47_enquiries"], [2, 2, 0, 0]);
    assert_eq!(counts["referrals"], [2, 2, 0, 0]);
    let p = keyed().child_id("FAKE-ICPC-1");
    let s47 = read_table(&store, "s47_enquiries");
    assert_row(
        &s47,
        row_where(&s47, "s47_id", &format!("{p}-2023-06-01-1-S1")),
        &[("icpc_result", "CPP"), ("transfer_in", "false")],
    );
    assert_row(
        &s47,
        row_where(&s47, "s47_id", &format!("{p}-2023-06-01-2-T")),
        &[
            ("icpc_result", "CPP"),
            ("transfer_in", "true"),
            ("start_date", "2023-06-01"),
            ("icpc_date", "2023-07-03"),
        ],
    );
    let dq = issues(&store, "data_quality");
    let twice = dq
        .iter()
        .find(|i| i.flag == "icpc_recorded_twice")
        .expect("recorded twice flag");
    assert_eq!(twice.position, "Child[1]/CINdetails[1]/Section47[1]");
    assert!(!dq.iter().any(|i| i.flag == "icpc_both_levels"));
    // Two episodes with the same referral date: both kept, in file order, the second flagged.
    let same = dq
        .iter()
        .find(|i| i.flag == "same_day_episode")
        .expect("same-day flag");
    assert_eq!(
        (same.table.as_str(), same.position.as_str()),
        ("referrals", "Child[1]/CINdetails[2]")
    );
    let refs = read_table(&store, "referrals");
    assert_eq!(
        cell(
            &refs,
            "source",
            row_where(&refs, "referral_id", &format!("{p}-2023-06-01-2"))
        ),
        "2A"
    );
}

#[test]
fn a_child_without_lachildid_is_rejected_row_by_row() {
    let d = tmp();
    let f = write(
        d.path(),
        "no_id.xml",
        &fixture_return(
            "2024-03-31",
            "    <Child>\n      <ChildIdentifiers><PersonBirthDate>2017-01-15</PersonBirthDate><Sex>U</Sex></ChildIdentifiers>\n      <CINdetails><CINreferralDate>2023-09-01</CINreferralDate><ReferralSource>9</ReferralSource><ReferralNFA>1</ReferralNFA>\n        <Assessments><AssessmentActualStartDate>2023-09-04</AssessmentActualStartDate></Assessments>\n      </CINdetails>\n    </Child>\n    <Child>\n      <ChildIdentifiers><LAchildID>FAKE-OK-2</LAchildID><Sex>F</Sex></ChildIdentifiers>\n      <CINdetails><CINreferralDate>2023-10-01</CINreferralDate><ReferralSource>9</ReferralSource><ReferralNFA>1</ReferralNFA></CINdetails>\n    </Child>\n",
        ),
    );
    let store = d.path().join("store");
    let (_, counts) = ingest_ok(&store, &[f], None);
    assert_counts(
        "no LAchildID",
        &counts,
        &[
            ("children", 2, 1, 1),
            ("referrals", 2, 1, 1),
            ("assessments", 1, 0, 1),
        ],
    );
    let rejects = issues(&store, "rejects");
    assert_eq!(rejects.len(), 3);
    assert!(
        rejects
            .iter()
            .all(|r| r.column == "LAchildID" && r.reason.contains("no LAchildID")),
        "{rejects:#?}"
    );
    let positions: BTreeSet<&str> = rejects.iter().map(|r| r.position.as_str()).collect();
    assert_eq!(
        positions,
        [
            "Child[1]",
            "Child[1]/CINdetails[1]",
            "Child[1]/CINdetails[1]/Assessments[1]"
        ]
        .into_iter()
        .collect()
    );
    // The child with an id but no birth date: unborn unknown, birth month empty.
    assert_row(
        &read_table(&store, "children"),
        0,
        &[("birth_month", ""), ("unborn", ""), ("sex", "F")],
    );
}

#[test]
fn an_unborn_child_has_no_birth_month_and_its_expected_date_is_not_stored() {
    let d = tmp();
    let f = write(
        d.path(),
        "unborn.xml",
        &fixture_return(
            "2025-03-31",
            "    <Child>\n      <ChildIdentifiers><LAchildID>FAKE-UNBORN-1</LAchildID><UPNunknown>UN1</UPNunknown><ExpectedPersonBirthDate>2025-05-17</ExpectedPersonBirthDate><Sex>U</Sex></ChildIdentifiers>\n      <ChildCharacteristics><Ethnicity>NOBT</Ethnicity></ChildCharacteristics>\n      <CINdetails><CINreferralDate>2025-01-06</CINreferralDate><ReferralSource>3B</ReferralSource><ReferralNFA>false</ReferralNFA></CINdetails>\n    </Child>\n",
        ),
    );
    let store = d.path().join("store");
    ingest_ok(&store, &[f], None);
    let children = read_table(&store, "children");
    assert_row(
        &children,
        0,
        &[
            ("unborn", "true"),
            ("birth_month", ""),
            ("sex", "U"),
            ("disability", ""),
        ],
    );
    assert_nowhere(
        &store,
        &["2025-05-17".to_string(), "FAKE-UNBORN-1".to_string()]
            .into_iter()
            .collect(),
    );
}

// ---------------------------------------------------------------------------------------------
// files that cannot be read

#[test]
fn malformed_truncated_or_foreign_xml_fails_the_file_naming_it_and_the_line_and_stores_nothing() {
    let d = tmp();
    let good = "<Message>\n<Header>\n<CollectionDetails>\n<Collection>CIN</Collection>\n<ReferenceDate>2024-03-31</ReferenceDate>\n</CollectionDetails>\n<Source><LEA>999</LEA></Source>\n</Header>\n<Children>\n<Child>\n<ChildIdentifiers><LAchildID>FAKE-1</LAchildID></ChildIdentifiers>\n<CINdetails>\n<CINreferralDate>2023-05-01</CINreferralDate>\n</CINdetails>\n</Child>\n</Children>\n</Message>\n";
    let cases: Vec<(&str, String, &str)> = vec![
        // Cut off inside an element: the file ends inside <CINdetails>.
        (
            "truncated.xml",
            good[..good.find("</CINdetails>").unwrap()].to_string(),
            ":14:1: the file ends inside <CINdetails>",
        ),
        // Cut off inside a tag.
        (
            "cut_tag.xml",
            good[..good.find("<CINreferralDate>").unwrap() + 7].to_string(),
            ":13:1: not well-formed XML",
        ),
        // A mismatched end tag.
        (
            "mismatch.xml",
            good.replace("</CINreferralDate>", "</CINreferral>"),
            ":13:28: not well-formed XML",
        ),
        (
            "wrong_root.xml",
            good.replace("<Message>", "<Msg>")
                .replace("</Message>", "</Msg>"),
            ":1:1: the root element is <Msg>, not <Message>",
        ),
        (
            "not_cin.xml",
            good.replace("<Collection>CIN<", "<Collection>SSDA903<"),
            ":4:1: Header/CollectionDetails/Collection is 'SSDA903', not CIN",
        ),
        (
            "no_refdate.xml",
            good.replace("<ReferenceDate>2024-03-31</ReferenceDate>\n", ""),
            "ReferenceDate is missing",
        ),
        (
            "bad_refdate.xml",
            good.replace("2024-03-31", "31st March"),
            "ReferenceDate '<withheld: 10 characters>': not a date",
        ),
        (
            "no_children_wrapper.xml",
            good.replace("<Children>\n", "")
                .replace("</Children>\n", ""),
            ":9:1: a <Child> inside Message (expected Message/Children/Child)",
        ),
    ];
    for (name, text, want) in cases {
        let f = write(d.path(), name, &text);
        let store = d.path().join(format!("store-{name}"));
        // A good file in the same run: nothing from the run reaches the store.
        let ok = write(
            d.path(),
            &format!("ok-{name}"),
            &good.replace("FAKE-1", "FAKE-OK"),
        );
        let o = ingest_with(&store, &[ok, f.clone()], None, true);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&f.display().to_string()),
            "{name}: names the file: {err}"
        );
        assert!(err.contains(want), "{name}: want {want:?} in {err}");
        assert!(!store.join("CURRENT").exists(), "{name}: nothing stored");
    }
}

#[test]
fn without_a_key_a_cin_return_is_refused_naming_safeguard_key_and_nothing_is_stored() {
    let Some(dir) = cin_dir() else { return };
    let d = tmp();
    let store = d.path().join("store");
    let o = ingest_with(&store, &[dir.join("liia-tools/cin-2021.xml")], None, false);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("SAFEGUARD_KEY") && err.contains("cin-2021.xml"),
        "{err}"
    );
    assert!(
        !store.exists() || snapshot(&store).is_empty(),
        "nothing in the store"
    );
}

// ---------------------------------------------------------------------------------------------
// identifiers

#[test]
fn the_same_child_gets_the_same_pseudonym_as_the_keyed_function_gives() {
    let Some(dir) = cin_dir() else { return };
    let d = tmp();
    let store = d.path().join("store");
    ingest_ok(
        &store,
        &[dir.join("csc-validator-be-cin/CIN_Census_2024.xml")],
        None,
    );
    let ids = col(&read_table(&store, "children"), "child_id");
    let k = keyed();
    let want: BTreeSet<String> = [
        k.child_id("DfEX0000001"),
        k.child_id("child_fails_assessments"),
    ]
    .into_iter()
    .collect();
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), want);
    // Every table's child_id is the pseudonym, and the referral ids are built on it.
    for t in ["referrals", "assessments", "s47_enquiries", "cp_plans"] {
        let df = read_table(&store, t);
        assert!(col(&df, "child_id").iter().all(|c| want.contains(c)), "{t}");
    }
    assert!(col(&read_table(&store, "referrals"), "referral_id")
        .iter()
        .all(|r| want.iter().any(|p| r.starts_with(p.as_str()))));
}

/// Every leaf (element name, value) of an XML file (a crude scan, enough for the fixtures).
pub(crate) fn xml_leaves(text: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(j) = rest.find('>') else { break };
        let tag = &rest[..j];
        rest = &rest[j + 1..];
        if tag.starts_with('/') || tag.ends_with('/') || tag.starts_with('?') {
            continue;
        }
        if let Some(k) = rest.find('<') {
            if rest[k + 1..].starts_with(&format!("/{tag}>")) {
                out.push((tag.to_string(), rest[..k].trim().to_string()));
            }
        }
    }
    out
}

/// The identifiers of the conformance CIN files (LAchildID, UPN, FormerUPN) and their birth
/// dates (PersonBirthDate, ExpectedPersonBirthDate, PersonDeathDate), and every other date value
/// in them.
pub(crate) fn cin_identifiers(
    files: &[PathBuf],
) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut ids, mut births, mut events) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for f in files {
        for (tag, v) in xml_leaves(&std::fs::read_to_string(f).unwrap()) {
            match tag.as_str() {
                "LAchildID" | "UPN" | "FormerUPN" => {
                    ids.insert(v);
                }
                "PersonBirthDate" | "ExpectedPersonBirthDate" | "PersonDeathDate" => {
                    births.insert(v);
                }
                t if t.contains("Date") => {
                    events.insert(v);
                }
                _ => {}
            }
        }
    }
    (ids, births, events)
}

#[test]
fn no_identifier_from_any_conformance_cin_file_reaches_the_store() {
    let Some(dir) = cin_dir() else { return };
    let files: Vec<PathBuf> = expected().iter().map(|(f, _)| dir.join(f)).collect();
    let d = tmp();
    let store = d.path().join("store");
    ingest_ok(&store, &files, None);
    let (ids, births, events) = cin_identifiers(&files);
    assert!(ids.len() > 600, "{}", ids.len()); // 332 LAchildIDs + 332 UPNs + the small files'
    assert!(
        ids.contains("A123456789123")
            && ids.contains("X98765432123B")
            && ids.contains("RND000215205141")
    );
    // A birth date that is also some event's date (a referral on a birthday...) legitimately
    // appears inside derived ids such as `{pseudonym}-{CINreferralDate}-1`: those cannot be
    // told apart by a text scan and are left out; every other birth date must be absent.
    // (`Notadate`, the invalid file's PersonBirthDate, is no date and no identifier: the flag
    // naming it is meant to show it.)
    let scan: BTreeSet<String> = births
        .difference(&events)
        .filter(|b| safeguard::ingest::parse::parse_date(b).is_ok())
        .cloned()
        .collect();
    assert!(scan.len() > 250, "{} birth dates to scan", scan.len());
    assert!(
        scan.contains("2015-03-27") && scan.contains("1966-03-24") && scan.contains("1066-04-13")
    );
    assert_nowhere(&store, &ids.union(&scan).cloned().collect());
}

// ---------------------------------------------------------------------------------------------
// idempotence and supersession

#[test]
fn ingesting_the_same_return_twice_changes_nothing() {
    let Some(dir) = cin_dir() else { return };
    let d = tmp();
    let store = d.path().join("store");
    let f = dir.join("csc-validator-be-cin/CIN_Census_2026.xml");
    ingest_ok(&store, &[f.clone()], None);
    let before = snapshot(&store);
    let (out, counts) = ingest_ok(&store, &[f], None);
    assert!(
        out.lines()
            .any(|l| l.starts_with("unchanged ") && l.contains("CIN_Census_2026.xml")),
        "{out}"
    );
    assert!(counts.is_empty(), "{out}");
    assert_eq!(
        snapshot(&store),
        before,
        "the store is byte-for-byte the same"
    );
}

/// One child, one episode, as the 2022-23 return saw it (open, one assessment) and as the
/// 2023-24 return sees it (closed, a second assessment); plus a child only in the older return.
fn supersession_fixtures(dir: &Path) -> (PathBuf, PathBuf) {
    let episode_2023 = "        <CINreferralDate>2023-01-10</CINreferralDate><ReferralSource>1A</ReferralSource><PrimaryNeedCode>N5</PrimaryNeedCode><ReferralNFA>0</ReferralNFA>\n        <Assessments><AssessmentActualStartDate>2023-01-12</AssessmentActualStartDate></Assessments>\n";
    let episode_2024 = "        <CINreferralDate>2023-01-10</CINreferralDate><ReferralSource>1A</ReferralSource><PrimaryNeedCode>N5</PrimaryNeedCode><CINclosureDate>2023-08-31</CINclosureDate><ReasonForClosure>RC8</ReasonForClosure><ReferralNFA>0</ReferralNFA>\n        <Assessments><AssessmentActualStartDate>2023-01-12</AssessmentActualStartDate><AssessmentAuthorisationDate>2023-02-20</AssessmentAuthorisationDate><FactorsIdentifiedAtAssessment><AssessmentFactors>21</AssessmentFactors></FactorsIdentifiedAtAssessment></Assessments>\n        <Assessments><AssessmentActualStartDate>2023-06-05</AssessmentActualStartDate><AssessmentAuthorisationDate>2023-07-14</AssessmentAuthorisationDate></Assessments>\n";
    let child = |episode: &str| {
        format!("    <Child>\n      <ChildIdentifiers><LAchildID>FAKE-SUPER-1</LAchildID><PersonBirthDate>2014-02-11</PersonBirthDate><GenderCurrent>2</GenderCurrent></ChildIdentifiers>\n      <ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>\n      <CINdetails>\n{episode}      </CINdetails>\n    </Child>\n")
    };
    let other = "    <Child>\n      <ChildIdentifiers><LAchildID>FAKE-ONLY-2023</LAchildID><GenderCurrent>1</GenderCurrent></ChildIdentifiers>\n      <CINdetails><CINreferralDate>2022-11-02</CINreferralDate><ReferralSource>6</ReferralSource><ReferralNFA>1</ReferralNFA></CINdetails>\n    </Child>\n";
    let old = write(
        dir,
        "return_2023.xml",
        &fixture_return("2023-03-31", &format!("{}{other}", child(episode_2023))),
    );
    let new = write(
        dir,
        "return_2024.xml",
        &fixture_return("2024-03-31", &child(episode_2024)),
    );
    (old, new)
}

#[test]
fn a_newer_return_supersedes_the_older_episode_with_its_assessments_whatever_the_ingest_order() {
    let d = tmp();
    let (old, new) = supersession_fixtures(d.path());
    let store = d.path().join("store");
    // Newer first, then older.
    ingest_ok(&store, &[new.clone()], None);
    let (out, counts) = ingest_ok(&store, &[old], None);
    assert_counts(
        "2023 return",
        &counts,
        &[
            ("children", 2, 2, 0),
            ("referrals", 2, 2, 0),
            ("assessments", 1, 1, 0),
        ],
    );
    assert!(out.contains("superseded"), "{out}");

    let p = keyed().child_id("FAKE-SUPER-1");
    let rid = format!("{p}-2023-01-10-1");
    let refs = read_table(&store, "referrals");
    assert_eq!(
        refs.height(),
        2,
        "the episode once, plus the other child's\n{refs}"
    );
    assert_row(
        &refs,
        row_where(&refs, "referral_id", &rid),
        &[
            ("source_file", "return_2024.xml"),
            ("source_vintage", "2024-03-31"),
            ("closure_date", "2023-08-31"),
            ("closure_reason", "RC8"),
        ],
    );
    // The child only in the older return stays.
    let q = keyed().child_id("FAKE-ONLY-2023");
    assert_eq!(
        cell(&refs, "source_file", row_where(&refs, "child_id", &q)),
        "return_2023.xml"
    );

    let a = read_table(&store, "assessments");
    assert_eq!(a.height(), 2, "{a}");
    assert!(
        col(&a, "source_file")
            .iter()
            .all(|f| f == "return_2024.xml"),
        "{a}"
    );
    assert_row(
        &a,
        row_where(&a, "assessment_id", &format!("{rid}-A1")),
        &[("authorisation_date", "2023-02-20"), ("factors", "21")],
    );
    assert_row(
        &a,
        row_where(&a, "assessment_id", &format!("{rid}-A2")),
        &[("start_date", "2023-06-05")],
    );
    let children = read_table(&store, "children");
    assert_eq!(
        cell(
            &children,
            "source_file",
            row_where(&children, "child_id", &p)
        ),
        "return_2024.xml"
    );

    // The supersession is recorded: the older return's referral (and child) replaced by the newer.
    let sups = read_table(&store, "supersessions");
    let hits: Vec<usize> = (0..sups.height())
        .filter(|&i| cell(&sups, "table", i) == "referrals" && cell(&sups, "key", i).contains(&rid))
        .collect();
    assert_eq!(hits.len(), 1, "{sups}");
    assert_row(
        &sups,
        hits[0],
        &[
            ("old_source", "return_2023.xml"),
            ("new_source", "return_2024.xml"),
        ],
    );
    assert!(rows_where(&sups, "table", "children").len() == 1, "{sups}");

    // The same two files in the other order give the same tables.
    let d2 = tmp();
    let (old2, new2) = supersession_fixtures(d2.path());
    let store2 = d2.path().join("store");
    ingest_ok(&store2, &[old2], None);
    ingest_ok(&store2, &[new2], None);
    for t in ["referrals", "assessments", "children"] {
        let (x, y) = (read_table(&store, t), read_table(&store2, t));
        let key = match t {
            "referrals" => "referral_id",
            "assessments" => "assessment_id",
            _ => "child_id",
        };
        let mut kx = col(&x, key);
        let mut ky = col(&y, key);
        kx.sort();
        ky.sort();
        assert_eq!(kx, ky, "{t}");
        let fx: BTreeSet<String> = col(&x, "source_file").into_iter().collect();
        let fy: BTreeSet<String> = col(&y, "source_file").into_iter().collect();
        assert_eq!(fx, fy, "{t}");
    }
}
