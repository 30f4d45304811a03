//! `safeguard::synth`: determinism, the contract's headers, scale, the reference date, funnel shape,
//! CDOP shape, fictional identifiers and the CIN census XML files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use quick_xml::events::Event;
use quick_xml::Reader;
use safeguard::synth::{run, SynthFormat, SynthOptions, SynthSummary};

use crate::common::{read_measures, run_in, stderr, stdout, MeasureKey, MeasureValues};

/// Canonical tables and their headers, copied from data-contract.md section 3.
const CONTRACT: &[(&str, &str)] = &[
    ("children.csv", "child_id,la_code,birth_month,sex,ethnicity,disability,unborn"),
    ("contacts.csv", "contact_id,child_id,la_code,received_at,source,level_of_need,decision_at,outcome"),
    (
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,source,decision_at,referral_nfa,primary_need,closure_date,closure_reason,contact_id",
    ),
    ("early_help.csv", "episode_id,child_id,la_code,start_date,end_date,lead_agency,outcome,stepped_down_from"),
    (
        "assessments.csv",
        "assessment_id,referral_id,child_id,la_code,start_date,authorisation_date,factors,child_seen,reason_over_45wd",
    ),
    ("strategy_discussions.csv", "discussion_id,referral_id,child_id,la_code,date,s47_initiated"),
    (
        "s47_enquiries.csv",
        "s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,icpc_result,transfer_in",
    ),
    (
        "cp_plans.csv",
        "plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category,latest_category,previous_plans,first_core_group_date,end_reason",
    ),
    ("cp_reviews.csv", "plan_id,review_date"),
    (
        "pre_proceedings.csv",
        "pp_id,referral_id,child_id,la_code,pp_start_date,lbp_sent_date,fgdm_offered,fgdm_facilitated,initial_meeting_date,review_meetings,step_decision_date,outcome,court_application_date,care_proceedings_letter_date",
    ),
    (
        "cdop_reviews.csv",
        "case_id,cdop_code,la_code,date_of_death,notified_date,age_at_death_days,sex,ethnicity,imd_decile,expected,category,modifiable,place_of_death,event,review_completed_date,scr_or_lcspr,died_outside_area,child_id",
    ),
    ("cdop_factors.csv", "case_id,domain,factor,grade"),
    ("population.csv", "la_code,year,age_0_17,source"),
];

fn options(dir: &Path, referrals_per_year: u64, years: u32, seed: u64) -> SynthOptions {
    SynthOptions {
        out_dir: dir.to_path_buf(),
        referrals_per_year,
        years,
        first_year: 2025 - years as i32,
        seed,
        ..SynthOptions::default()
    }
}

fn generate(dir: &Path, referrals_per_year: u64, years: u32, seed: u64) -> SynthSummary {
    run(&options(dir, referrals_per_year, years, seed)).expect("synth runs")
}

/// A table as (header, rows of column -> value).
fn table(dir: &Path, name: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(dir.join(name)).expect("file opens");
    let header: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    rdr.records()
        .map(|r| {
            let r = r.expect("well-formed row");
            assert_eq!(
                r.len(),
                header.len(),
                "{name}: row with a wrong number of fields"
            );
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn date(s: &str) -> Option<NaiveDate> {
    s.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

fn in_range(d: Option<NaiveDate>, from: NaiveDate, to: NaiveDate) -> bool {
    d.is_some_and(|d| d >= from && d <= to)
}

fn share(num: usize, den: usize) -> f64 {
    assert!(den > 0, "empty denominator");
    num as f64 / den as f64
}

#[test]
fn synth_is_deterministic_and_seed_dependent() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let mut oa = options(a.path(), 300, 2, 11);
    oa.format = SynthFormat::Both;
    let mut ob = oa.clone();
    ob.out_dir = b.path().to_path_buf();
    let mut oc = oa.clone();
    oc.out_dir = c.path().to_path_buf();
    oc.seed = 12;
    let sa = run(&oa).unwrap();
    run(&ob).unwrap();
    run(&oc).unwrap();
    assert!(
        sa.files.len() >= 13 + 4,
        "13 CSVs and 2 LAs x 2 years of XML"
    );
    for (path, _) in &sa.files {
        let name = path.file_name().unwrap();
        let x = std::fs::read(path).unwrap();
        let y = std::fs::read(b.path().join(name)).unwrap();
        assert!(
            x == y,
            "{} differs between two runs with the same seed",
            name.to_string_lossy()
        );
    }
    let x = std::fs::read(a.path().join("referrals.csv")).unwrap();
    let z = std::fs::read(c.path().join("referrals.csv")).unwrap();
    assert_ne!(x, z, "a different seed gives different data");
}

#[test]
fn synth_writes_exactly_the_contract_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(dir.path(), 200, 1, 3);
    for (name, header) in CONTRACT {
        let text = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|_| panic!("{name} written"));
        let first = text.lines().next().unwrap_or("");
        assert_eq!(first, *header, "{name} header");
        assert!(
            s.files.iter().any(|(p, _)| p.ends_with(name)),
            "{name} in the summary"
        );
    }
    assert_eq!(
        s.files.len(),
        CONTRACT.len(),
        "CSV format writes the 13 tables and nothing else"
    );
}

#[test]
fn synth_row_counts_scale_with_referrals_per_year() {
    let small = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    let s1 = generate(small.path(), 250, 2, 5);
    let s2 = generate(large.path(), 1000, 2, 5);
    // The budget (referrals a year x years) is met to within one child's referrals in each LA.
    assert!(
        (500..=520).contains(&s1.referrals_in_window),
        "{}",
        s1.referrals_in_window
    );
    assert!(
        (2000..=2020).contains(&s2.referrals_in_window),
        "{}",
        s2.referrals_in_window
    );
    let rows = |s: &SynthSummary, name: &str| {
        s.files
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|f| f.1)
            .unwrap()
    };
    for name in [
        "children.csv",
        "contacts.csv",
        "referrals.csv",
        "assessments.csv",
        "s47_enquiries.csv",
    ] {
        let ratio = rows(&s2, name) as f64 / rows(&s1, name) as f64;
        assert!(
            (3.3..=4.7).contains(&ratio),
            "{name}: x4 referrals gave x{ratio:.2} rows"
        );
    }
    // The budget is met by referrals received in the window.
    let refs = table(large.path(), "referrals.csv");
    let in_window = refs
        .iter()
        .filter(|r| in_range(date(&r["received_at"]), s2.window_start, s2.reference_date))
        .count();
    assert_eq!(in_window as u64, s2.referrals_in_window);
    // Population is sized for ~500-550 referrals per 10,000 children.
    let pop = table(large.path(), "population.csv");
    assert_eq!(pop.len(), 2 * 2, "one row per LA per year");
    let children: i64 = pop
        .iter()
        .filter(|p| p["year"] == "2023")
        .map(|p| p["age_0_17"].parse::<i64>().unwrap())
        .sum();
    let rate = 10_000.0 * (s2.referrals_in_window as f64 / 2.0) / children as f64;
    assert!(
        (480.0..=570.0).contains(&rate),
        "referrals per 10k {rate:.0}"
    );
}

#[test]
fn synth_writes_nothing_after_the_reference_date() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(dir.path(), 600, 2, 8);
    assert_eq!(
        s.reference_date,
        NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()
    );
    assert_eq!(s.window_start, NaiveDate::from_ymd_opt(2023, 4, 1).unwrap());
    for (name, _) in CONTRACT {
        for row in table(dir.path(), name) {
            for (col, v) in &row {
                if col == "birth_month" {
                    // An unborn child's expected birth month may lie after the reference date.
                    continue;
                }
                if let Some(d) = date(v) {
                    assert!(
                        d <= s.reference_date,
                        "{name}.{col} = {v} is after the reference date"
                    );
                }
            }
        }
    }
    // Clocks still running have no end, and closure date <=> closure reason.
    for r in table(dir.path(), "referrals.csv") {
        assert_eq!(
            r["closure_date"].is_empty(),
            r["closure_reason"].is_empty(),
            "closure date <=> reason"
        );
    }
    let children = table(dir.path(), "children.csv");
    assert!(children
        .iter()
        .all(|c| c["unborn"] == "N" || c["sex"] == "U"));
}

/// `safeguard measures` over the synthetic window: each measure's partnership (`ALL`) numerator
/// and denominator summed over the years asked for (its `NONE` row, or the row of `breakdown`
/// = `value`), with the run's table.
struct Pooled {
    table: BTreeMap<MeasureKey, MeasureValues>,
    years: Vec<String>,
}

impl Pooled {
    fn run(dir: &Path, years: &str, reference: NaiveDate) -> Pooled {
        let o = run_in(dir, &["ingest", ".", "--store", "store"]);
        assert!(o.status.success(), "ingest: {}{}", stdout(&o), stderr(&o));
        let o = run_in(
            dir,
            &[
                "measures",
                "--store",
                "store",
                "--years",
                years,
                "--reference-date",
                &reference.to_string(),
                "--out",
                "m.csv",
            ],
        );
        assert!(o.status.success(), "measures: {}{}", stdout(&o), stderr(&o));
        let years = safeguard::period::parse_year_range(years)
            .unwrap()
            .iter()
            .map(|y| y.to_string())
            .collect();
        Pooled {
            table: read_measures(&dir.join("m.csv")),
            years,
        }
    }

    /// (numerator, denominator) of a row summed over the years.
    fn sum(&self, m: &str, breakdown: &str, value: &str) -> (i64, i64) {
        let mut out = (0, 0);
        for y in &self.years {
            let key = (
                m.into(),
                y.clone(),
                "ALL".into(),
                breakdown.into(),
                value.into(),
            );
            let r = self
                .table
                .get(&key)
                .unwrap_or_else(|| panic!("no row {key:?}"));
            out = (out.0 + r.numerator, out.1 + r.denominator);
        }
        out
    }

    /// A measure's share over the years: summed numerator / summed denominator.
    fn share(&self, m: &str) -> f64 {
        let (n, d) = self.sum(m, "NONE", "");
        share(n as usize, d as usize)
    }
}

#[test]
fn synth_funnel_is_close_to_england() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(dir.path(), 1200, 4, 1);
    let (from, to) = (s.window_start, s.reference_date);
    let refs = table(dir.path(), "referrals.csv");
    let contacts = table(dir.path(), "contacts.csv");
    let n = refs
        .iter()
        .filter(|r| in_range(date(&r["received_at"]), from, to))
        .count();

    let contacts_in = contacts
        .iter()
        .filter(|c| in_range(date(&c["received_at"]), from, to))
        .count();
    let per_referral = contacts_in as f64 / n as f64;
    assert!(
        (2.1..=2.9).contains(&per_referral),
        "contacts per referral {per_referral:.2}"
    );

    // The funnel as `safeguard measures` counts it over the 4 years (pooled), not counted again
    // here: the measures themselves are tested on hand-counted cases (tests/measures/).
    let p = Pooled::run(dir.path(), "2021-22..2024-25", to);
    let rr = p.share("rereferral_12m");
    assert!((0.15..=0.30).contains(&rr), "re-referral share {rr:.3}");
    let nfa = p.share("referral_nfa");
    assert!((0.03..=0.12).contains(&nfa), "referral NFA {nfa:.3}");

    // s47 -> ICPC -> plan.
    let (s47s, _) = p.sum("rate_per_10k", "count", "s47");
    let (referrals, _) = p.sum("rate_per_10k", "count", "referrals");
    assert_eq!(referrals as usize, n, "referrals received in the window");
    let s47_rate = share(s47s as usize, n);
    assert!(
        (0.28..=0.42).contains(&s47_rate),
        "s47 per referral {s47_rate:.3}"
    );
    let icpc_share = p.share("s47_to_icpc");
    assert!(
        (0.25..=0.50).contains(&icpc_share),
        "ICPC share of s47 {icpc_share:.3}"
    );
    let plans_per_icpc = p.share("icpc_to_cpp");
    assert!(
        (0.75..=0.95).contains(&plans_per_icpc),
        "plans per ICPC {plans_per_icpc:.3}"
    );

    // Assessed episodes closed "not in need".
    let nin = p.share("assessment_not_in_need");
    assert!(
        (0.22..=0.40).contains(&nin),
        "assessed not in need {nin:.3}"
    );

    // Plans: category mix and second or subsequent plans.
    let (neg, plans) = p.sum("cpp_by_category", "category", "NEG");
    let neglect = share(neg as usize, plans as usize);
    assert!(
        (0.38..=0.58).contains(&neglect),
        "neglect share {neglect:.3}"
    );
    let sos = p.share("cpp_second_or_subsequent");
    assert!(
        (0.14..=0.32).contains(&sos),
        "second or subsequent plans {sos:.3}"
    );

    // RC9 and 5D only from 2022-23 on.
    let rc9_from = NaiveDate::from_ymd_opt(2022, 4, 1).unwrap();
    assert!(refs
        .iter()
        .all(|r| r["closure_reason"] != "RC9" || date(&r["closure_date"]).unwrap() >= rc9_from));
    assert!(refs
        .iter()
        .all(|r| r["source"] != "5D" || date(&r["received_at"]).unwrap() >= rc9_from));
}

#[test]
fn synth_cdop_reviews_have_the_national_shape() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(dir.path(), 400, 4, 2);
    let reviews = table(dir.path(), "cdop_reviews.csv");
    let completed: Vec<_> = reviews
        .iter()
        .filter(|r| {
            in_range(
                date(&r["review_completed_date"]),
                s.window_start,
                s.reference_date,
            )
        })
        .collect();
    assert!(
        completed.len() >= 150,
        "about 60 reviews a year, got {}",
        completed.len()
    );
    let modifiable = share(
        completed
            .iter()
            .filter(|r| r["modifiable"] == "IDENTIFIED")
            .count(),
        completed.len(),
    );
    assert!(
        (0.18..=0.35).contains(&modifiable),
        "modifiable share of all reviews {modifiable:.3}"
    );
    let neonatal = share(
        reviews
            .iter()
            .filter(|r| r["age_at_death_days"].parse::<i64>().unwrap() < 28)
            .count(),
        reviews.len(),
    );
    assert!(
        (0.30..=0.50).contains(&neonatal),
        "under 28 days {neonatal:.3}"
    );
    assert!(
        reviews.iter().any(|r| r["age_at_death_days"] == "28"),
        "a death on the 28-day edge"
    );
    assert!(
        reviews
            .iter()
            .any(|r| r["review_completed_date"].is_empty()),
        "some reviews still open"
    );

    // Children known to services link to a child referred before the death.
    let children: HashSet<String> = table(dir.path(), "children.csv")
        .into_iter()
        .map(|c| c["child_id"].clone())
        .collect();
    let mut first_referral: HashMap<String, NaiveDate> = HashMap::new();
    for r in table(dir.path(), "referrals.csv") {
        let d = date(&r["received_at"]).unwrap();
        let e = first_referral.entry(r["child_id"].clone()).or_insert(d);
        *e = (*e).min(d);
    }
    let linked: Vec<_> = reviews
        .iter()
        .filter(|r| !r["child_id"].is_empty())
        .collect();
    let known = share(linked.len(), reviews.len());
    assert!(
        (0.10..=0.30).contains(&known),
        "known to services {known:.3}"
    );
    for r in linked {
        let id = &r["child_id"];
        assert!(
            children.contains(id),
            "linked child {id} is in children.csv"
        );
        assert!(
            first_referral[id] < date(&r["date_of_death"]).unwrap(),
            "linked child referred before death"
        );
    }
    // Factors belong to completed reviews; every IDENTIFIED review has a grade-2 factor.
    let factors = table(dir.path(), "cdop_factors.csv");
    let grade2: HashSet<&str> = factors
        .iter()
        .filter(|f| f["grade"] == "2")
        .map(|f| f["case_id"].as_str())
        .collect();
    for r in completed.iter().filter(|r| r["modifiable"] == "IDENTIFIED") {
        assert!(grade2.contains(r["case_id"].as_str()));
    }
}

#[test]
fn synth_identifiers_are_fictional() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 800, 2, 4);
    let upn_like = |v: &str| {
        let b = v.as_bytes();
        b.len() == 13 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
    };
    let nhs_like = |v: &str| v.len() == 10 && v.bytes().all(|b| b.is_ascii_digit());
    for (name, _) in CONTRACT {
        for row in table(dir.path(), name) {
            for (col, v) in &row {
                assert!(!upn_like(v), "{name}.{col} = {v} looks like a UPN");
                assert!(!nhs_like(v), "{name}.{col} = {v} looks like an NHS number");
            }
        }
    }
    let children = table(dir.path(), "children.csv");
    for c in &children {
        let id = &c["child_id"];
        assert!(
            id.len() == 13 && id.starts_with('P'),
            "child_id {id} is P + 12 characters"
        );
    }
    // One row per child per LA: unique (la_code, child_id).
    let keys: HashSet<(&str, &str)> = children
        .iter()
        .map(|c| (c["la_code"].as_str(), c["child_id"].as_str()))
        .collect();
    assert_eq!(keys.len(), children.len());
    let ref_ids: HashSet<String> = table(dir.path(), "referrals.csv")
        .into_iter()
        .map(|r| r["referral_id"].clone())
        .collect();
    assert!(ref_ids.iter().all(|r| r.starts_with('R')));
}

#[test]
fn synth_moves_a_child_between_las_on_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 1200, 4, 6);
    let plans = table(dir.path(), "cp_plans.csv");
    let s47s = table(dir.path(), "s47_enquiries.csv");
    let moved: Vec<_> = plans
        .iter()
        .filter(|p| p["end_reason"] == "MOVED_LA")
        .collect();
    assert!(!moved.is_empty());
    let transfers: Vec<_> = s47s.iter().filter(|s| s["transfer_in"] == "Y").collect();
    assert!(!transfers.is_empty(), "a transfer-in conference");
    // At least one mover is seen leaving one LA and arriving in the other.
    let crossed = transfers.iter().any(|t| {
        moved
            .iter()
            .any(|p| p["child_id"] == t["child_id"] && p["la_code"] != t["la_code"])
    });
    assert!(
        crossed,
        "a plan ended MOVED_LA in one LA and a transfer-in in the other"
    );
    for t in &transfers {
        assert_eq!(t["icpc_result"], "CPP");
        assert!(plans
            .iter()
            .any(|p| p["referral_id"] == t["referral_id"] && p["start_date"] == t["icpc_date"]));
    }
}

#[test]
fn synth_rejects_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path(), 100, 1, 1);
    o.las = vec![("940".into(), "A".into()), ("940".into(), "B".into())];
    assert!(run(&o).is_err(), "duplicate LA codes");
    let mut o = options(dir.path(), 100, 1, 1);
    o.years = 0;
    assert!(run(&o).is_err(), "no years");
    let mut o = options(dir.path(), 100, 1, 1);
    o.las = vec![("94".into(), "A".into())];
    assert!(run(&o).is_err(), "a two-digit LA code");
    assert_eq!(SynthOptions::default().with_la_count(3).las.len(), 3);
}

#[test]
fn synth_for_children_sizes_the_partnership() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(dir.path(), 1, 2, 13).for_children(2_500);
    let s = run(&o).unwrap();
    let rows = s
        .files
        .iter()
        .find(|(p, _)| p.ends_with("children.csv"))
        .map(|f| f.1)
        .unwrap();
    assert_eq!(rows, s.children);
    assert!(
        (2_100..=2_900).contains(&rows),
        "asked for 2,500 children, got {rows}"
    );
}

/// Element text of every `name` element in an XML file, and whether the file is well-formed.
fn xml_texts(path: &Path) -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = Reader::from_str(&text);
    let mut stack: Vec<String> = Vec::new();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                stack.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok(Event::End(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.as_str()),
                    "{}: mismatched tags",
                    path.display()
                );
            }
            Ok(Event::Text(t)) => {
                if let Some(top) = stack.last() {
                    let v = t.unescape().unwrap().trim().to_string();
                    if !v.is_empty() {
                        out.entry(top.clone()).or_default().push(v);
                    }
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{}: not well-formed: {e}", path.display()),
        }
    }
    assert!(stack.is_empty(), "{}: unclosed elements", path.display());
    out
}

#[test]
fn synth_cin_xml_census_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path(), 600, 3, 9); // census years 2023, 2024, 2025
    o.format = SynthFormat::CinXml;
    let s = run(&o).unwrap();
    for (code, _) in &o.las {
        for year in [2023, 2024, 2025] {
            let path = dir.path().join(format!("cin_{code}_{year}.xml"));
            assert!(path.exists(), "{} written", path.display());
            let t = xml_texts(&path);
            assert_eq!(t["Collection"], vec!["CIN"]);
            assert_eq!(t["Year"], vec![year.to_string()]);
            assert_eq!(t["ReferenceDate"], vec![format!("{year}-03-31")]);
            assert_eq!(t["SourceLevel"], vec!["L"]);
            assert_eq!(t["LEA"], vec![code.clone()]);
            let children = t["LAchildID"].len();
            assert!(children > 50, "{children} children in {}", path.display());
            if year >= 2025 {
                assert_eq!(t.get("Sex").map_or(0, Vec::len), children);
                assert!(!t.contains_key("GenderCurrent"));
                assert!(t["Sex"]
                    .iter()
                    .all(|v| ["M", "F", "U"].contains(&v.as_str())));
            } else {
                assert_eq!(t.get("GenderCurrent").map_or(0, Vec::len), children);
                assert!(!t.contains_key("Sex"));
                assert!(t["GenderCurrent"]
                    .iter()
                    .all(|v| ["1", "2", "0", "9"].contains(&v.as_str())));
            }
            assert!(t["ReferralNFA"].iter().all(|v| v == "true" || v == "false"));
            // Nothing after the file's reference date.
            let reference = NaiveDate::from_ymd_opt(year, 3, 31).unwrap();
            for el in [
                "CINreferralDate",
                "CINclosureDate",
                "AssessmentActualStartDate",
                "AssessmentAuthorisationDate",
                "S47ActualStartDate",
                "DateOfInitialCPC",
                "CPPstartDate",
                "CPPendDate",
                "CPPreviewDate",
            ] {
                for v in t.get(el).into_iter().flatten() {
                    assert!(date(v).unwrap() <= reference, "{el} {v} after {reference}");
                }
            }
            for v in t.get("PersonBirthDate").into_iter().flatten() {
                assert_eq!(
                    date(v).unwrap().day(),
                    1,
                    "birth dates are first of the month"
                );
            }
        }
    }
    // XML format: the census files plus only the CSVs the census has no place for.
    let names: HashSet<String> = s
        .files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains("contacts.csv")
            && names.contains("cdop_reviews.csv")
            && names.contains("population.csv")
    );
    assert!(!names.contains("referrals.csv") && !names.contains("children.csv"));
    assert_eq!(names.iter().filter(|n| n.ends_with(".xml")).count(), 2 * 3);
}

#[test]
fn synth_cin_xml_matches_the_csvs() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path(), 500, 2, 10);
    o.format = SynthFormat::Both;
    run(&o).unwrap();
    // Every referral open in census year 2024-25 appears in that year's file of its LA.
    let from = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    let refs = table(dir.path(), "referrals.csv");
    for (code, _) in &o.las {
        let t = xml_texts(&dir.path().join(format!("cin_{code}_2025.xml")));
        let expected = refs
            .iter()
            .filter(|r| {
                &r["la_code"] == code
                    && (r["closure_date"].is_empty() || date(&r["closure_date"]).unwrap() >= from)
            })
            .count();
        assert_eq!(
            t["CINreferralDate"].len(),
            expected,
            "episodes of LA {code} open in 2024-25"
        );
        let children: HashSet<&String> = t["LAchildID"].iter().collect();
        assert_eq!(
            children.len(),
            t["LAchildID"].len(),
            "each child once per file"
        );
    }
}
