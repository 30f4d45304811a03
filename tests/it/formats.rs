//! The same partnership ingested as canonical CSVs and as CIN census XML gives the same figures
//! for every measure both formats support, and the same rows in the tables both carry.
//!
//! One seeded synthetic partnership (2 LAs, 2025-26 and 2026-27: the second year has the census's
//! pre-proceedings module) is generated twice: `--format csv` (the 13 canonical tables) and
//! `--format xml` (a census return per LA per year, plus the CSVs the census has no place for).
//! Both are ingested with the same key, so the CSV child ids are pseudonymised as the census
//! LAchildIDs are and the journeys link.
//!
//! The two outputs do not cover quite the same ground, by design, and the test first brings the
//! CSV extract to the census's ground (`census_scope`), taking the census's ground from what the
//! XML store holds rather than working out again which cases a return includes:
//! - The CSV extract is a case-system export with a year's look-back (and the whole history of
//!   a child a CDOP review links to), while the census returns are those of the window's years:
//!   a return holds the children with a CIN episode open at some point in its year
//!   (anchors-csc.md section 2.1). The CSV referrals the census lacks are dropped, with everything
//!   that hangs off them, and the children with none left - after checking that each was closed
//!   before the first census year (the census lost nothing else).
//! - A child's characteristics in a census return are as at that return's `ReferenceDate`: a child
//!   unborn then is `U` with only an expected birth date (which the reader does not keep), even if
//!   born before the CSV extract was taken. A child the census has as unborn is made unborn in the
//!   CSVs too - after checking that it was born after the first census year began.
//! - `ReferralNFA` is mandatory in a return, so a referral undecided at the reference date is
//!   `false` there and empty in the CSVs; a transfer-in conference has no `ICPCnotRequired`.
//!
//! Everything else is compared as generated.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::NaiveDate;
use polars::prelude::{AnyValue, DataFrame, TimeUnit};
use safeguard::pseudonym::Pseudonymiser;
use safeguard::synth::{run, SynthFormat, SynthOptions, SynthSummary};

use crate::common::{bin, read_measures, read_table, stderr, stdout, MeasureKey, TEST_KEY};

// 2025-26 and 2026-27: the second year's returns carry the pre-proceedings module.
const FIRST_YEAR: i32 = 2025;
const YEARS: u32 = 2;
const YEAR_RANGE: &str = "2025-26..2026-27";
const SEED: u64 = 5;

/// The measures the CIN census cannot carry: it has no referral decision date and no core group
/// date (anchors-csc.md section 2.1).
const CSV_ONLY: &[&str] = &["core_group_10wd", "referral_decision_1wd"];

/// The CSVs written in both formats (the census has no place for them).
const SHARED_CSVS: &[&str] = &[
    "contacts.csv",
    "early_help.csv",
    "cdop_reviews.csv",
    "cdop_factors.csv",
    "population.csv",
];

fn synth(dir: &Path, format: SynthFormat) -> SynthSummary {
    run(&SynthOptions {
        out_dir: dir.to_path_buf(),
        first_year: FIRST_YEAR,
        years: YEARS,
        referrals_per_year: 300,
        seed: SEED,
        format,
        ..SynthOptions::default()
    })
    .expect("synth runs")
}

fn date(s: &str) -> Option<NaiveDate> {
    s.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

// ---------------------------------------------------------------------------------------------
// a canonical CSV file in memory

struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let mut r =
            csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let header = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        Csv { header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    fn write(&self, path: &Path) {
        let mut w = csv::Writer::from_path(path).unwrap();
        w.write_record(&self.header).unwrap();
        for r in &self.rows {
            w.write_record(r).unwrap();
        }
        w.flush().unwrap();
    }

    /// Keeps the rows whose `column` is in `keep`.
    fn retain_in(&mut self, column: &str, keep: &BTreeSet<String>) {
        let c = self.col(column);
        self.rows.retain(|r| keep.contains(&r[c]));
    }

    fn values(&self, column: &str) -> BTreeSet<String> {
        let c = self.col(column);
        self.rows.iter().map(|r| r[c].clone()).collect()
    }
}

/// Copies the CSV extract in `full` to `out`, brought to the census's ground as the XML store
/// `xml_store` holds it (see the module doc). Returns how many referrals and children were left
/// out, and how many children made unborn.
fn census_scope(
    full: &Path,
    out: &Path,
    xml_store: &Path,
    window_start: NaiveDate,
) -> (usize, usize, usize) {
    std::fs::create_dir_all(out).unwrap();
    for name in SHARED_CSVS {
        std::fs::copy(full.join(name), out.join(name)).unwrap();
    }
    let key = Pseudonymiser::keyed(TEST_KEY.as_bytes()).unwrap();

    // The referrals the census returns hold: (child, LA, date received).
    let census_referrals: BTreeSet<Vec<String>> = rows(xml_store, "referrals")
        .iter()
        .map(|r| pick(r, &["child_id", "la_code", "received_at"]))
        .collect();
    let mut referrals = Csv::read(&full.join("referrals.csv"));
    let before = referrals.rows.len();
    let (closure, child, la, received) = (
        referrals.col("closure_date"),
        referrals.col("child_id"),
        referrals.col("la_code"),
        referrals.col("received_at"),
    );
    let mut found = BTreeSet::new();
    referrals.rows.retain(|r| {
        let k = vec![
            key.child_id(&r[child]),
            r[la].clone(),
            date(&r[received]).unwrap().to_string(),
        ];
        let kept = census_referrals.contains(&k);
        if kept {
            found.insert(k);
        } else {
            // The census leaves out only episodes closed before its first year.
            assert!(
                date(&r[closure]).is_some_and(|c| c < window_start),
                "a referral open in the census years is missing from the census: {r:?}"
            );
        }
        kept
    });
    assert_eq!(
        found.len(),
        census_referrals.len(),
        "the census holds referrals the CSV extract lacks"
    );
    let dropped_referrals = before - referrals.rows.len();
    // ReferralNFA is mandatory in the census (cardinality 1): a referral not yet decided at the
    // reference date is returned as `false`, where the CSV leaves it empty.
    let nfa = referrals.col("referral_nfa");
    for r in &mut referrals.rows {
        if r[nfa].is_empty() {
            r[nfa] = "N".into();
        }
    }
    let kept_referrals = referrals.values("referral_id");
    referrals.write(&out.join("referrals.csv"));

    for name in ["assessments.csv", "strategy_discussions.csv"] {
        let mut t = Csv::read(&full.join(name));
        t.retain_in("referral_id", &kept_referrals);
        t.write(&out.join(name));
    }
    let mut s47 = Csv::read(&full.join("s47_enquiries.csv"));
    s47.retain_in("referral_id", &kept_referrals);
    // A transfer-in conference is a bare DateOfInitialCPC under CINdetails in the census: there
    // is no ICPCnotRequired to go with it.
    let (transfer, not_required) = (s47.col("transfer_in"), s47.col("icpc_not_required"));
    for r in &mut s47.rows {
        if r[transfer] == "Y" {
            r[not_required] = String::new();
        }
    }
    s47.write(&out.join("s47_enquiries.csv"));
    let mut plans = Csv::read(&full.join("cp_plans.csv"));
    plans.retain_in("referral_id", &kept_referrals);
    let kept_plans = plans.values("plan_id");
    plans.write(&out.join("cp_plans.csv"));
    let mut reviews = Csv::read(&full.join("cp_reviews.csv"));
    reviews.retain_in("plan_id", &kept_plans);
    reviews.write(&out.join("cp_reviews.csv"));
    let mut pp = Csv::read(&full.join("pre_proceedings.csv"));
    pp.retain_in("referral_id", &kept_referrals);
    pp.write(&out.join("pre_proceedings.csv"));

    // The children the census holds, as its last return saw them: (child, LA) -> unborn.
    let census_children: HashMap<(String, String), String> = rows(xml_store, "children")
        .iter()
        .map(|r| {
            (
                (r["child_id"].clone(), r["la_code"].clone()),
                r["unborn"].clone(),
            )
        })
        .collect();
    let mut children = Csv::read(&full.join("children.csv"));
    let before = children.rows.len();
    let (child, la, birth, sex, unborn) = (
        children.col("child_id"),
        children.col("la_code"),
        children.col("birth_month"),
        children.col("sex"),
        children.col("unborn"),
    );
    children
        .rows
        .retain(|r| census_children.contains_key(&(key.child_id(&r[child]), r[la].clone())));
    assert_eq!(
        children.rows.len(),
        census_children.len(),
        "the census holds children the CSV extract lacks"
    );
    let mut made_unborn = 0;
    for r in &mut children.rows {
        if census_children[&(key.child_id(&r[child]), r[la].clone())] != "Y" || r[unborn] == "Y" {
            continue;
        }
        // Unborn at its last return, born since: after the first census year began.
        let born = NaiveDate::parse_from_str(&format!("{}-01", r[birth]), "%Y-%m-%d")
            .expect("every synthetic child has a birth month");
        assert!(
            born > window_start,
            "born {born}, unborn in the census: {r:?}"
        );
        made_unborn += 1;
        r[sex] = "U".into();
        r[unborn] = "Y".into();
        // The reader keeps no expected birth date.
        r[birth] = String::new();
    }
    // A child unborn in both keeps no birth month in the census either.
    for r in &mut children.rows {
        if r[unborn] == "Y" {
            r[birth] = String::new();
        }
    }
    let dropped_children = before - children.rows.len();
    children.write(&out.join("children.csv"));
    (dropped_referrals, dropped_children, made_unborn)
}

// ---------------------------------------------------------------------------------------------
// running the binary

fn run_ok(args: &[&str]) -> Output {
    let o = bin()
        .env("SAFEGUARD_KEY", TEST_KEY)
        .arg("--quiet")
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        o.status.success(),
        "safeguard {} failed\nstdout: {}\nstderr: {}",
        args.join(" "),
        stdout(&o),
        stderr(&o)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn ingest(input: &Path, store: &Path) -> String {
    stdout(&run_ok(&["ingest", s(input), "--store", s(store)]))
}

/// The measures table by key -> [numerator, denominator, excluded, pending].
type Figures = BTreeMap<MeasureKey, [i64; 4]>;

fn measures(store: &Path, out: &Path, reference: NaiveDate) -> (Figures, String) {
    let o = run_ok(&[
        "measures",
        "--store",
        s(store),
        "--years",
        YEAR_RANGE,
        "--reference-date",
        &reference.to_string(),
        "--out",
        s(out),
    ]);
    let fig = read_measures(out)
        .into_iter()
        .map(|(k, r)| (k, r.counts()))
        .collect();
    (fig, stdout(&o))
}

/// The ids a measures run lists as "not measurable".
fn not_measurable(summary: &str) -> BTreeSet<String> {
    summary
        .lines()
        .filter_map(|l| l.strip_prefix("not measurable: "))
        .map(|l| l.split(':').next().unwrap_or("").trim().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// reading the store

/// A cell as text: dates `YYYY-MM-DD`, datetimes by their date (the census has no times), null "".
fn show(v: AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => if b { "Y" } else { "N" }.to_string(),
        AnyValue::Int8(n) => n.to_string(),
        AnyValue::Int16(n) => n.to_string(),
        AnyValue::Int32(n) => n.to_string(),
        AnyValue::Int64(n) => n.to_string(),
        AnyValue::UInt8(n) => n.to_string(),
        AnyValue::UInt16(n) => n.to_string(),
        AnyValue::UInt32(n) => n.to_string(),
        AnyValue::UInt64(n) => n.to_string(),
        AnyValue::Date(d) => safeguard::dates::from_epoch_days(d).to_string(),
        AnyValue::Datetime(ms, TimeUnit::Milliseconds, None)
        | AnyValue::DatetimeOwned(ms, TimeUnit::Milliseconds, None) => {
            chrono::DateTime::from_timestamp_millis(ms)
                .expect("valid timestamp")
                .date_naive()
                .to_string()
        }
        other => panic!("unexpected cell {other:?}"),
    }
}

/// The table's rows as maps column -> shown value.
fn rows(store: &Path, table: &str) -> Vec<HashMap<String, String>> {
    let df: DataFrame = read_table(store, table);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    (0..df.height())
        .map(|i| {
            names
                .iter()
                .map(|n| (n.clone(), show(df.column(n).unwrap().get(i).unwrap())))
                .collect()
        })
        .collect()
}

fn pick(r: &HashMap<String, String>, cols: &[&str]) -> Vec<String> {
    cols.iter()
        .map(|c| {
            r.get(*c)
                .unwrap_or_else(|| panic!("no column {c} in {:?}", r.keys()))
                .clone()
        })
        .collect()
}

/// The natural values of the census tables (generated ids and provenance left out; a row's
/// referral or plan is named by its own natural key), as multisets.
fn natural(store: &Path) -> BTreeMap<&'static str, BTreeMap<Vec<String>, usize>> {
    let mut out: BTreeMap<&'static str, BTreeMap<Vec<String>, usize>> = BTreeMap::new();
    let mut add = |table: &'static str, key: Vec<String>| {
        *out.entry(table).or_default().entry(key).or_default() += 1;
    };
    for r in rows(store, "children") {
        add(
            "children",
            pick(
                &r,
                &[
                    "child_id",
                    "la_code",
                    "birth_month",
                    "sex",
                    "ethnicity",
                    "disability",
                    "unborn",
                ],
            ),
        );
    }
    let mut referral: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows(store, "referrals") {
        referral.insert(
            r["referral_id"].clone(),
            pick(&r, &["child_id", "la_code", "received_at"]),
        );
        add(
            "referrals",
            pick(
                &r,
                &[
                    "child_id",
                    "la_code",
                    "received_at",
                    "source",
                    "referral_nfa",
                    "primary_need",
                    "closure_date",
                    "closure_reason",
                ],
            ),
        );
    }
    let of_referral = |r: &HashMap<String, String>| -> Vec<String> {
        referral
            .get(&r["referral_id"])
            .cloned()
            .unwrap_or_else(|| vec![format!("orphan of {}", r["referral_id"])])
    };
    for r in rows(store, "assessments") {
        let mut factors: Vec<&str> = r["factors"].split(';').filter(|f| !f.is_empty()).collect();
        factors.sort_unstable();
        let mut k = of_referral(&r);
        k.extend(pick(
            &r,
            &["child_id", "la_code", "start_date", "authorisation_date"],
        ));
        k.push(factors.join(";"));
        add("assessments", k);
    }
    for r in rows(store, "s47_enquiries") {
        let mut k = of_referral(&r);
        k.extend(pick(
            &r,
            &[
                "child_id",
                "la_code",
                "start_date",
                "icpc_not_required",
                "icpc_date",
                "icpc_result",
                "transfer_in",
            ],
        ));
        add("s47_enquiries", k);
    }
    let mut plan: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows(store, "cp_plans") {
        plan.insert(
            r["plan_id"].clone(),
            pick(&r, &["child_id", "la_code", "start_date"]),
        );
        let mut k = of_referral(&r);
        k.extend(pick(
            &r,
            &[
                "child_id",
                "la_code",
                "start_date",
                "end_date",
                "initial_category",
                "latest_category",
                "previous_plans",
            ],
        ));
        add("cp_plans", k);
    }
    for r in rows(store, "cp_reviews") {
        let mut k = plan
            .get(&r["plan_id"])
            .cloned()
            .unwrap_or_else(|| vec![format!("orphan of {}", r["plan_id"])]);
        k.push(r["review_date"].clone());
        add("cp_reviews", k);
    }
    for r in rows(store, "pre_proceedings") {
        let mut k = of_referral(&r);
        k.extend(pick(
            &r,
            &[
                "child_id",
                "la_code",
                "pp_start_date",
                "lbp_sent_date",
                "fgdm_offered",
                "fgdm_facilitated",
                "initial_meeting_date",
                "review_meetings",
                "step_decision_date",
                "outcome",
                "court_application_date",
                "care_proceedings_letter_date",
            ],
        ));
        add("pre_proceedings", k);
    }
    out
}

/// Asserts two multisets equal, showing a few rows each side has and the other lacks.
fn assert_same_rows(
    table: &str,
    csv: &BTreeMap<Vec<String>, usize>,
    xml: &BTreeMap<Vec<String>, usize>,
) {
    let count = |m: &BTreeMap<Vec<String>, usize>| m.values().sum::<usize>();
    let missing = |a: &BTreeMap<Vec<String>, usize>, b: &BTreeMap<Vec<String>, usize>| {
        a.iter()
            .filter(|(k, n)| b.get(*k).copied().unwrap_or(0) < **n)
            .map(|(k, _)| k.join(" | "))
            .take(6)
            .collect::<Vec<_>>()
    };
    assert!(
        csv == xml,
        "{table}: {} rows from the CSVs, {} from the census XML\n  only in CSV: {:#?}\n  only in XML: {:#?}",
        count(csv),
        count(xml),
        missing(csv, xml),
        missing(xml, csv)
    );
}

// ---------------------------------------------------------------------------------------------

struct Pair {
    _tmp: tempfile::TempDir,
    csv_full: PathBuf,
    csv: PathBuf,
    xml: PathBuf,
    summary: SynthSummary,
}

fn generate() -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let csv_full = tmp.path().join("csv-extract");
    let csv = tmp.path().join("csv");
    let xml = tmp.path().join("xml");
    let summary = synth(&csv_full, SynthFormat::Csv);
    let sx = synth(&xml, SynthFormat::CinXml);
    assert_eq!(summary.reference_date, sx.reference_date);
    assert_eq!(summary.window_start, sx.window_start);
    Pair {
        _tmp: tmp,
        csv_full,
        csv,
        xml,
        summary,
    }
}

#[test]
fn csv_and_cin_xml_of_the_same_partnership_give_the_same_figures() {
    let p = generate();
    let reference = p.summary.reference_date;
    assert_eq!(reference, NaiveDate::from_ymd_opt(2027, 3, 31).unwrap());

    // The non-census CSVs are the same files in both outputs.
    for name in SHARED_CSVS {
        assert!(
            std::fs::read(p.csv_full.join(name)).unwrap()
                == std::fs::read(p.xml.join(name)).unwrap(),
            "{name} differs between the CSV and the XML outputs"
        );
    }
    let store_csv = p.csv.join("../store-csv");
    let store_xml = p.xml.join("../store-xml");
    let summary_xml = ingest(&p.xml, &store_xml);
    assert!(
        summary_xml.contains("CIN census XML"),
        "the census files were read as such:\n{summary_xml}"
    );
    let (dropped_referrals, dropped_children, made_unborn) =
        census_scope(&p.csv_full, &p.csv, &store_xml, p.summary.window_start);
    // The look-back year is real: some referrals closed before the first census year.
    assert!(dropped_referrals > 0 && dropped_children > 0);
    eprintln!(
        "census scope: {dropped_referrals} referrals and {dropped_children} children of the \
         look-back left out; {made_unborn} children unborn at their last return"
    );

    ingest(&p.csv, &store_csv);

    let (fig_csv, out_csv) = measures(&store_csv, &p.csv.join("../measures-csv.csv"), reference);
    let (fig_xml, out_xml) = measures(&store_xml, &p.xml.join("../measures-xml.csv"), reference);

    let ids = |f: &Figures| f.keys().map(|k| k.0.clone()).collect::<BTreeSet<String>>();
    let (ids_csv, ids_xml) = (ids(&fig_csv), ids(&fig_xml));
    let only_csv: BTreeSet<String> = ids_csv.difference(&ids_xml).cloned().collect();
    let only_xml: BTreeSet<String> = ids_xml.difference(&ids_csv).cloned().collect();
    let expected: BTreeSet<String> = CSV_ONLY.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        only_csv, expected,
        "measures only the CSVs can give: exactly those the census cannot carry"
    );
    assert!(
        only_xml.is_empty(),
        "nothing is measurable from the census alone: {only_xml:?}"
    );
    assert_eq!(
        not_measurable(&out_xml),
        expected,
        "the XML run lists the missing measures as not measurable:\n{out_xml}"
    );
    assert!(
        not_measurable(&out_csv).is_subset(&not_measurable(&out_xml)),
        "the CSV run can measure at least what the XML run can:\n{out_csv}"
    );
    // Both years, both LAs and the partnership appear.
    for period in ["2025-26", "2026-27"] {
        for la in ["940", "941", "ALL"] {
            assert!(
                fig_xml
                    .keys()
                    .any(|k| k.1 == period && k.2 == la && k.3 == "NONE"),
                "{period} {la} rows in the XML run"
            );
        }
    }

    // Every row of every shared measure, identical.
    let mut differences = Vec::new();
    let keys: BTreeSet<_> = fig_csv
        .keys()
        .chain(fig_xml.keys())
        .filter(|k| !expected.contains(&k.0))
        .cloned()
        .collect();
    for k in &keys {
        let (a, b) = (fig_csv.get(k), fig_xml.get(k));
        if a != b {
            differences.push(format!("{k:?}: csv {a:?} xml {b:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} rows differ (numerator, denominator, excluded, pending):\n{}",
        differences.len(),
        keys.len(),
        differences
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The comparison is not vacuous.
    let shared_ids = ids_csv.intersection(&ids_xml).count();
    assert!(shared_ids >= 20, "{shared_ids} shared measures");
    let nonzero = fig_xml
        .iter()
        .filter(|(k, v)| k.3 == "NONE" && v[0] != 0)
        .map(|(k, _)| k.0.clone())
        .collect::<BTreeSet<_>>();
    for id in [
        "referral_nfa",
        "rereferral_12m",
        "referral_to_assessment",
        "assessment_45wd_from_start",
        "assessment_45wd_from_referral",
        "referral_to_s47",
        "s47_to_icpc",
        "icpc_15wd",
        "icpc_to_cpp",
        "cpp_review_timely",
        "contact_to_referral",
        "pp_started",
        "pp_lbp_fgdm_offered",
        "pp_fgdm_facilitated",
        "pp_outcome",
        "pp_duration",
        "pp_to_court",
        "pp_lbp_to_meeting",
    ] {
        assert!(nonzero.contains(id), "{id} has a non-zero numerator");
    }

    // The stores themselves: the same rows in the tables both formats carry.
    let (nat_csv, nat_xml) = (natural(&store_csv), natural(&store_xml));
    for table in [
        "children",
        "referrals",
        "assessments",
        "s47_enquiries",
        "cp_plans",
        "cp_reviews",
        "pre_proceedings",
    ] {
        let empty = BTreeMap::new();
        let a = nat_csv.get(table).unwrap_or(&empty);
        let b = nat_xml.get(table).unwrap_or(&empty);
        assert!(!a.is_empty(), "{table} has rows");
        assert_same_rows(table, a, b);
    }
}
