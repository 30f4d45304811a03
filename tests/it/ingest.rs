//! `safeguard ingest` on canonical CSV extracts, driven through the real binary on small fictional
//! fixtures (data-contract.md sections 2-4): table recognition, typed storage, rejects and
//! data-quality flags, refusal of unreadable or identifying files, atomic and idempotent commits,
//! supersession, orphans and pseudonymisation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use polars::prelude::{DataFrame, DataType, TimeUnit};
use safeguard::ingest::validate::Counts;
use safeguard::schema::{self, Kind, TableSpec};

use crate::common::{
    bin, cell, issues, read_table, run_in, snapshot, stderr, stdout, summary_counts, write, Issue,
    TEST_KEY,
};

const BOM: &str = "\u{feff}";

// ---------------------------------------------------------------------------------------------
// helpers

fn c(read: u64, stored: u64, rejected: u64, flagged: u64) -> Counts {
    Counts {
        read,
        stored,
        rejected,
        flagged,
    }
}

fn store_of(dir: &Path) -> PathBuf {
    dir.join("store")
}

/// `safeguard ingest FILES... --store store` in `dir`.
fn ingest(dir: &Path, files: &[&str]) -> Output {
    let mut args = vec!["ingest"];
    args.extend_from_slice(files);
    args.extend_from_slice(&["--store", "store"]);
    run_in(dir, &args)
}

/// An ingest that must succeed: its stdout and its parsed (and balanced) summary.
fn ingest_ok(dir: &Path, files: &[&str]) -> (String, BTreeMap<String, Counts>) {
    let o = ingest(dir, files);
    assert_eq!(
        o.status.code(),
        Some(0),
        "ingest {files:?} failed:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    let out = stdout(&o);
    let summary = summary_counts(&out);
    (out, summary)
}

/// An ingest that must fail with exit 1 and nothing reported as ingested: its stderr.
fn ingest_fails(dir: &Path, files: &[&str]) -> String {
    let o = ingest(dir, files);
    assert_eq!(
        o.status.code(),
        Some(1),
        "ingest {files:?} should exit 1:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        !stdout(&o).contains("ingested"),
        "a failed run reports files as ingested: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        !err.contains("internal error"),
        "a user error reported as internal: {err}"
    );
    err
}

fn current_gen(store: &Path) -> PathBuf {
    let name = std::fs::read_to_string(store.join("CURRENT")).expect("CURRENT");
    store.join(name.trim())
}

fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    (0..df.height()).map(|i| cell(df, column, i)).collect()
}

/// The only row whose `column` is `value`.
fn row_where(df: &DataFrame, column: &str, value: &str) -> usize {
    let hits: Vec<usize> = (0..df.height())
        .filter(|&i| cell(df, column, i) == value)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "rows with {column} = {value}: {hits:?}\n{df}"
    );
    hits[0]
}

/// Asserts `(column, shown value)` pairs of one row.
fn assert_row(df: &DataFrame, row: usize, expected: &[(&str, &str)]) {
    for (col, want) in expected {
        assert_eq!(cell(df, col, row), *want, "column {col} of row {row}\n{df}");
    }
}

/// The only issue at (table, position, column).
fn issue_at<'a>(all: &'a [Issue], table: &str, position: &str, column: &str) -> &'a Issue {
    let hits: Vec<&Issue> = all
        .iter()
        .filter(|i| i.table == table && i.position == position && i.column == column)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "issues at {table} {position} {column}: {hits:#?}\nall: {all:#?}"
    );
    hits[0]
}

/// Asserts each canonical column is stored with the type its kind calls for.
fn assert_types(df: &DataFrame, spec: &TableSpec) {
    let dtype = |name: &str| -> DataType {
        df.column(name)
            .unwrap_or_else(|_| panic!("{}: no column {name}", spec.name))
            .dtype()
            .clone()
    };
    for col in spec.columns {
        let n = col.name;
        match col.kind {
            Kind::Withheld => {
                assert_eq!(dtype(&format!("{n}_recorded")), DataType::Boolean);
                assert!(df.column(n).is_err(), "{}: withheld {n} stored", spec.name);
            }
            Kind::DateTime => {
                assert_eq!(
                    dtype(n),
                    DataType::Datetime(TimeUnit::Milliseconds, None),
                    "{}.{n}",
                    spec.name
                );
                assert_eq!(dtype(&format!("{n}_has_time")), DataType::Boolean);
            }
            Kind::Date | Kind::YearMonth => {
                assert_eq!(dtype(n), DataType::Date, "{}.{n}", spec.name)
            }
            Kind::YesNo => assert_eq!(dtype(n), DataType::Boolean, "{}.{n}", spec.name),
            Kind::Int { .. } => assert_eq!(dtype(n), DataType::Int32, "{}.{n}", spec.name),
            Kind::Id
            | Kind::ChildId
            | Kind::Text
            | Kind::Code(_)
            | Kind::Codes(_)
            | Kind::LaCode
            | Kind::Factor => {
                assert_eq!(dtype(n), DataType::String, "{}.{n}", spec.name)
            }
        }
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A small good referrals file used by several tests.
const REFERRALS: &str = "referral_id,child_id,la_code,received_at,decision_at\n\
R1,P1,940,2024-04-01T09:00,2024-04-01T15:00\n\
R2,P2,941,2024-04-02,2024-04-03\n";

// ---------------------------------------------------------------------------------------------
// 1. every canonical table is recognised from its header

#[test]
fn every_canonical_table_is_recognised_with_shuffled_columns_extras_and_bom() {
    let d = tmp();
    let dir = d.path();
    // Columns in a different order from the contract, one extra non-identifying column each,
    // a UTF-8 byte-order mark, some files with CRLF line ends.
    let files: &[(&str, &str)] = &[
        (
            "children.csv",
            "unborn,disability,ethnicity,sex,birth_month,la_code,child_id,extract_batch\r\n\
             N,yes,wbri,f,2019-03,940,P1,b7\r\n\
             1,No,MWBC,M,15/07/2020,941,P2,b7\r\n",
        ),
        (
            "contacts.csv",
            "outcome,decision_at,level_of_need,source,received_at,la_code,child_id,contact_id,team\n\
             referral,02/04/2024 14:05,4,1a,2024-04-01T09:30,940,P1,C1,Blue\n",
        ),
        (
            "referrals.csv",
            "contact_id,closure_reason,closure_date,primary_need,referral_nfa,decision_at,source,received_at,la_code,child_id, Referral ID ,team\n\
             C1,rc8,31/05/2024,n2,false,2024-04-02,5d,2024-04-02T10:00:00,940,P1,R1,Blue\n",
        ),
        (
            "early_help.csv",
            "stepped_down_from,outcome,lead_agency,end_date,start_date,la_code,child_id,episode_id,team\n\
             cpp,needs_met,School,2024-06-30,01/02/2024,941,P2,E1,Green\n",
        ),
        (
            "assessments.csv",
            "reason_over_45wd,child_seen,factors,authorisation_date,start_date,la_code,child_id,referral_id,assessment_id,team\n\
             waiting list,Y,1a; 3C,2024-04-20,2024-04-03,940,P1,R1,A1,Blue\n",
        ),
        (
            "strategy_discussions.csv",
            "s47_initiated,date,la_code,child_id,referral_id,discussion_id,team\n\
             TRUE,2024-04-04,940,P1,R1,D1,Blue\n",
        ),
        (
            "s47_enquiries.csv",
            "transfer_in,icpc_result,icpc_date,icpc_not_required,start_date,la_code,child_id,referral_id,s47_id,team\n\
             0,cpp,2024-04-25,no,2024-04-04,940,P1,R1,S1,Blue\n",
        ),
        (
            "cp_plans.csv",
            "end_reason,first_core_group_date,previous_plans,latest_category,initial_category,end_date,start_date,la_code,child_id,referral_id,plan_id,team\r\n\
             no_longer_at_risk,2024-05-03,1,mul,neg,2024-10-01,2024-04-25,940,P1,R1,K1,Blue\r\n",
        ),
        (
            "cp_reviews.csv",
            "review_date,plan_id,team\n2024-07-10,K1,Blue\n",
        ),
        (
            "pre_proceedings.csv",
            "care_proceedings_letter_date,court_application_date,outcome,step_decision_date,review_meetings,initial_meeting_date,fgdm_facilitated,fgdm_offered,lbp_sent_date,pp_start_date,la_code,child_id,referral_id,pp_id,team\n\
             2024-09-10,2024-09-05,c,2024-09-01,2,2024-05-20,N,yes,2024-05-10,2024-05-01,940,P1,R1,PP1,Blue\n",
        ),
        (
            "cdop_reviews.csv",
            "child_id,died_outside_area,scr_or_lcspr,review_completed_date,event,place_of_death,modifiable,category,expected,imd_decile,ethnicity,sex,age_at_death_days,notified_date,date_of_death,la_code,cdop_code,case_id,panel\n\
             P3,n,1,2024-09-01,sudi,home,not_identified,7,No,3,wbri,m,120,2024-03-02,2024-03-01,940,NN,X1,North\n",
        ),
        (
            "cdop_factors.csv",
            "grade,factor,domain,case_id,panel\n2,unsafe sleep,b,X1,North\n",
        ),
        (
            "population.csv",
            "source,age_0_17,year,la_code,note\nONS MYE 2023,78000,2023,940,mid-year\n",
        ),
    ];
    assert_eq!(files.len(), schema::TABLES.len());
    let mut names = vec![];
    for (name, text) in files {
        write(dir, name, &format!("{BOM}{text}"));
        names.push(*name);
    }
    let (out, summary) = ingest_ok(dir, &names);
    for name in &names {
        assert!(
            out.contains(&format!("ingested  {name} (canonical CSV)")),
            "{out}"
        );
    }
    let mut want: BTreeMap<String, Counts> = schema::TABLES
        .iter()
        .map(|t| (t.name.to_string(), c(1, 1, 0, 0)))
        .collect();
    want.insert("children".into(), c(2, 2, 0, 0));
    assert_eq!(summary, want, "{out}");

    let store = store_of(dir);
    assert!(issues(&store, "rejects").is_empty());
    assert_eq!(issues(&store, "data_quality"), vec![]);
    for spec in schema::TABLES {
        let df = read_table(&store, spec.name);
        assert_types(&df, spec);
        for extra in ["team", "panel", "note", "extract_batch", "reason_over_45wd"] {
            assert!(df.column(extra).is_err(), "{}: {extra} stored", spec.name);
        }
        assert_eq!(
            strings(&df, "source_file"),
            vec![spec.file_name(); df.height()]
        );
    }

    let t = read_table(&store, "children");
    assert_row(
        &t,
        row_where(&t, "child_id", "P1"),
        &[
            ("la_code", "940"),
            ("birth_month", "2019-03-01"),
            ("sex", "F"),
            ("ethnicity", "WBRI"),
            ("disability", "true"),
            ("unborn", "false"),
            ("source_pos", "line 2"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "child_id", "P2"),
        &[
            ("la_code", "941"),
            ("birth_month", "2020-07-01"),
            ("sex", "M"),
            ("ethnicity", "MWBC"),
            ("disability", "false"),
            ("unborn", "true"),
            ("source_pos", "line 3"),
        ],
    );
    let t = read_table(&store, "contacts");
    assert_row(
        &t,
        0,
        &[
            ("contact_id", "C1"),
            ("child_id", "P1"),
            ("la_code", "940"),
            ("received_at", "2024-04-01T09:30:00"),
            ("received_at_has_time", "true"),
            ("source", "1A"),
            ("level_of_need", "4"),
            ("decision_at", "2024-04-02T14:05:00"),
            ("decision_at_has_time", "true"),
            ("outcome", "REFERRAL"),
        ],
    );
    let t = read_table(&store, "referrals");
    assert_row(
        &t,
        0,
        &[
            ("referral_id", "R1"),
            ("child_id", "P1"),
            ("la_code", "940"),
            ("received_at", "2024-04-02T10:00:00"),
            ("received_at_has_time", "true"),
            ("source", "5D"),
            ("decision_at", "2024-04-02T00:00:00"),
            ("decision_at_has_time", "false"),
            ("referral_nfa", "false"),
            ("primary_need", "N2"),
            ("closure_date", "2024-05-31"),
            ("closure_reason", "RC8"),
            ("contact_id", "C1"),
            ("dq_flags", ""),
        ],
    );
    let t = read_table(&store, "early_help");
    assert_row(
        &t,
        0,
        &[
            ("episode_id", "E1"),
            ("child_id", "P2"),
            ("la_code", "941"),
            ("start_date", "2024-02-01"),
            ("end_date", "2024-06-30"),
            ("lead_agency", "School"),
            ("outcome", "NEEDS_MET"),
            ("stepped_down_from", "CPP"),
        ],
    );
    let t = read_table(&store, "assessments");
    assert_row(
        &t,
        0,
        &[
            ("assessment_id", "A1"),
            ("referral_id", "R1"),
            ("child_id", "P1"),
            ("start_date", "2024-04-03"),
            ("authorisation_date", "2024-04-20"),
            ("factors", "1A;3C"),
            ("child_seen", "true"),
            ("reason_over_45wd_recorded", "true"),
        ],
    );
    let t = read_table(&store, "strategy_discussions");
    assert_row(
        &t,
        0,
        &[
            ("discussion_id", "D1"),
            ("referral_id", "R1"),
            ("date", "2024-04-04"),
            ("s47_initiated", "true"),
        ],
    );
    let t = read_table(&store, "s47_enquiries");
    assert_row(
        &t,
        0,
        &[
            ("s47_id", "S1"),
            ("start_date", "2024-04-04"),
            ("icpc_not_required", "false"),
            ("icpc_date", "2024-04-25"),
            ("icpc_result", "CPP"),
            ("transfer_in", "false"),
        ],
    );
    let t = read_table(&store, "cp_plans");
    assert_row(
        &t,
        0,
        &[
            ("plan_id", "K1"),
            ("referral_id", "R1"),
            ("start_date", "2024-04-25"),
            ("end_date", "2024-10-01"),
            ("initial_category", "NEG"),
            ("latest_category", "MUL"),
            ("previous_plans", "1"),
            ("first_core_group_date", "2024-05-03"),
            ("end_reason", "NO_LONGER_AT_RISK"),
        ],
    );
    let t = read_table(&store, "cp_reviews");
    assert_row(&t, 0, &[("plan_id", "K1"), ("review_date", "2024-07-10")]);
    let t = read_table(&store, "cdop_reviews");
    assert_row(
        &t,
        0,
        &[
            ("case_id", "X1"),
            ("cdop_code", "NN"),
            ("la_code", "940"),
            ("date_of_death", "2024-03-01"),
            ("notified_date", "2024-03-02"),
            ("age_at_death_days", "120"),
            ("sex", "M"),
            ("ethnicity", "WBRI"),
            ("imd_decile", "3"),
            ("expected", "false"),
            ("category", "7"),
            ("modifiable", "NOT_IDENTIFIED"),
            ("place_of_death", "HOME"),
            ("event", "SUDI"),
            ("review_completed_date", "2024-09-01"),
            ("scr_or_lcspr", "true"),
            ("died_outside_area", "false"),
            ("child_id", "P3"),
        ],
    );
    let t = read_table(&store, "cdop_factors");
    assert_row(
        &t,
        0,
        &[
            ("case_id", "X1"),
            ("domain", "B"),
            // A factor is stored as its code (issue 11): case and spaces normalised.
            ("factor", "UNSAFE_SLEEP"),
            ("grade", "2"),
        ],
    );
    let t = read_table(&store, "population");
    assert_row(
        &t,
        0,
        &[
            ("la_code", "940"),
            ("year", "2023"),
            ("age_0_17", "78000"),
            ("source", "ONS MYE 2023"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 2. bad values: required -> rejected, optional -> stored empty and flagged

#[test]
fn bad_value_in_required_column_rejects_the_row() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,source\n\
         R1,P1,940,2024/04/01,1A\n\
         R2,P2,940,1 April 2024,1A\n\
         R3,P3,940,2024-02-30,1A\n\
         R4,P4,940,,1A\n\
         R5,P5,940,2024-04-05,1A\n",
    );
    write(
        dir,
        "population.csv",
        "la_code,year,age_0_17\n940,2023,lots\n940,2024,78100\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv", "population.csv"]);
    assert_eq!(summary["referrals"], c(5, 1, 4, 0), "{out}");
    assert_eq!(summary["population"], c(2, 1, 1, 0), "{out}");
    assert!(out.contains("5 row(s) rejected"), "{out}");

    let store = store_of(dir);
    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 5, "{rej:#?}");
    // The echo rule: a date-shaped value (digits and separators) is shown; `1 April 2024` is not
    // (words in a date column could be a name), only its length.
    for (pos, value, reason) in [
        ("line 2", "2024/04/01", "not a date"),
        ("line 3", "<withheld: 12 characters>", "not a date"),
        ("line 4", "2024-02-30", "impossible date"),
    ] {
        let i = issue_at(&rej, "referrals", pos, "received_at");
        assert_eq!(i.file, "referrals.csv");
        assert_eq!(i.value, value);
        assert_eq!(i.flag, "bad_value");
        assert!(i.reason.contains(reason), "{i:?}");
    }
    let i = issue_at(&rej, "referrals", "line 5", "received_at");
    assert_eq!(
        (i.value.as_str(), i.flag.as_str()),
        ("", "missing_required")
    );
    let i = issue_at(&rej, "population", "line 2", "age_0_17");
    assert_eq!(i.file, "population.csv");
    // Not a number: not shown.
    assert_eq!(i.value, "<withheld: 4 characters>");
    assert_eq!(i.flag, "bad_value");
    assert!(i.reason.contains("not a whole number"), "{i:?}");

    let t = read_table(&store, "referrals");
    assert_eq!(strings(&t, "referral_id"), ["R5"]);
    let t = read_table(&store, "population");
    assert_eq!(strings(&t, "year"), ["2024"]);
    // The rejects are also written as CSV for people to read.
    let csv = std::fs::read_to_string(current_gen(&store).join("rejects.csv")).unwrap();
    assert!(
        csv.contains("referrals,referrals.csv,line 2,received_at,2024/04/01,bad_value,"),
        "{csv}"
    );
}

#[test]
fn bad_value_in_optional_column_stores_the_row_with_the_cell_empty_and_a_flag() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,source,primary_need,closure_date,closure_reason,referral_nfa\n\
         R1,P1,940,2024-04-01,1A,N1,2024-11-31,,N\n\
         R2,P2,940,2024-04-01,ZZ,N1,,,N\n\
         R3,P3,940,2024-04-01,1A,N1,,,maybe\n\
         R4,P4,940,2024-04-01,1A,N1,,,N\n",
    );
    write(
        dir,
        "contacts.csv",
        "contact_id,child_id,la_code,received_at,level_of_need\n\
         C1,P1,940,2024-04-01T08:00,2a\n\
         C2,P2,940,2024-04-01T08:00,7\n",
    );
    write(
        dir,
        "assessments.csv",
        "assessment_id,referral_id,child_id,la_code,start_date,factors\n\
         A1,R4,P4,940,2024-04-02,1A;99Z\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv", "contacts.csv", "assessments.csv"]);
    assert_eq!(summary["referrals"], c(4, 4, 0, 3), "{out}");
    assert_eq!(summary["contacts"], c(2, 2, 0, 2), "{out}");
    assert_eq!(summary["assessments"], c(1, 1, 0, 1), "{out}");
    assert!(!out.contains("rejected:"), "{out}");

    let store = store_of(dir);
    assert!(issues(&store, "rejects").is_empty());
    let dq = issues(&store, "data_quality");
    assert_eq!(dq.len(), 6, "{dq:#?}");
    for (table, pos, column, value, reason) in [
        (
            "referrals",
            "line 2",
            "closure_date",
            "2024-11-31",
            "impossible date",
        ),
        ("referrals", "line 3", "source", "ZZ", "unknown code"),
        // A lower-case word in a code column, or a non-number in a number column, is withheld
        // (the echo rule): only code and number shapes are shown.
        (
            "referrals",
            "line 4",
            "referral_nfa",
            "<withheld: 5 characters>",
            "not yes/no",
        ),
        (
            "contacts",
            "line 2",
            "level_of_need",
            "<withheld: 2 characters>",
            "not a whole number",
        ),
        ("contacts", "line 3", "level_of_need", "7", "out of range"),
        (
            "assessments",
            "line 2",
            "factors",
            "1A;99Z",
            "unknown code 99Z",
        ),
    ] {
        let i = issue_at(&dq, table, pos, column);
        assert_eq!(i.file, format!("{table}.csv"));
        assert_eq!(i.value, value, "{i:?}");
        assert_eq!(i.flag, "bad_value", "{i:?}");
        assert!(i.reason.contains(reason), "{i:?}");
    }

    let t = read_table(&store, "referrals");
    assert_row(
        &t,
        row_where(&t, "referral_id", "R1"),
        &[
            ("closure_date", ""),
            ("source", "1A"),
            ("dq_flags", "bad_value:closure_date"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R2"),
        &[
            ("source", ""),
            ("primary_need", "N1"),
            ("dq_flags", "bad_value:source"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R3"),
        &[("referral_nfa", ""), ("dq_flags", "bad_value:referral_nfa")],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R4"),
        &[("referral_nfa", "false"), ("dq_flags", "")],
    );
    let t = read_table(&store, "contacts");
    assert_eq!(strings(&t, "level_of_need"), ["", ""]);
    let t = read_table(&store, "assessments");
    assert_row(&t, 0, &[("factors", ""), ("start_date", "2024-04-02")]);
}

#[test]
fn datetime_in_a_date_column_keeps_its_date_and_bare_date_in_a_datetime_column_has_no_time() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,decision_at,closure_date,closure_reason\n\
         R1,P1,940,2024-04-01,2024-04-02 11:15,2024-05-31T16:45:10,RC1\n\
         R2,P2,940,01/04/2024 09:05,02/04/2024,31/05/2024 08:00,RC1\n\
         R3,P3,940,2024-04-01T09:00:30,2024-04-01T09:01Z,,\n",
    );
    write(
        dir,
        "assessments.csv",
        "assessment_id,referral_id,child_id,la_code,start_date,authorisation_date\n\
         A1,R1,P1,940,2024-04-03T15:45,03/05/2024 10:00\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv", "assessments.csv"]);
    assert_eq!(summary["referrals"], c(3, 3, 0, 0), "{out}");
    assert_eq!(summary["assessments"], c(1, 1, 0, 0), "{out}");
    let store = store_of(dir);
    let t = read_table(&store, "referrals");
    assert_row(
        &t,
        row_where(&t, "referral_id", "R1"),
        &[
            ("received_at", "2024-04-01T00:00:00"),
            ("received_at_has_time", "false"),
            ("decision_at", "2024-04-02T11:15:00"),
            ("decision_at_has_time", "true"),
            ("closure_date", "2024-05-31"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R2"),
        &[
            ("received_at", "2024-04-01T09:05:00"),
            ("received_at_has_time", "true"),
            ("decision_at", "2024-04-02T00:00:00"),
            ("decision_at_has_time", "false"),
            ("closure_date", "2024-05-31"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R3"),
        &[
            ("received_at", "2024-04-01T09:00:30"),
            ("received_at_has_time", "true"),
            ("decision_at", "2024-04-01T09:01:00"),
            ("decision_at_has_time", "true"),
            ("closure_date", ""),
        ],
    );
    let t = read_table(&store, "assessments");
    assert_row(
        &t,
        0,
        &[
            ("start_date", "2024-04-03"),
            ("authorisation_date", "2024-05-03"),
        ],
    );
    assert!(issues(&store, "data_quality").is_empty());
}

// ---------------------------------------------------------------------------------------------
// 3. negative intervals

#[test]
fn decision_before_receipt_is_stored_and_flagged_negative_interval() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "contacts.csv",
        "contact_id,child_id,la_code,received_at,decision_at\n\
         C1,P1,940,2024-04-02T10:00,2024-04-01T16:00\n\
         C2,P2,940,2024-04-02T10:00,2024-04-02T09:59\n\
         C3,P3,940,2024-04-02T10:00,2024-04-02\n\
         C4,P4,940,2024-04-02T10:00,2024-04-02T10:00\n",
    );
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,decision_at,closure_date,closure_reason\n\
         R1,P1,940,2024-04-02,2024-04-01,2024-05-01,RC1\n\
         R2,P2,940,2024-04-02T14:30,2024-04-02T08:15,2024-03-01,RC1\n\
         R3,P3,940,2024-04-02T14:30,2024-04-03T08:15,2024-05-01,RC1\n",
    );
    write(
        dir,
        "early_help.csv",
        "episode_id,child_id,la_code,start_date,end_date\nE1,P1,940,2024-04-02,2024-04-01\n",
    );
    let (out, summary) = ingest_ok(dir, &["contacts.csv", "referrals.csv", "early_help.csv"]);
    assert_eq!(summary["contacts"], c(4, 4, 0, 2), "{out}");
    assert_eq!(summary["referrals"], c(3, 3, 0, 2), "{out}");
    assert_eq!(summary["early_help"], c(1, 1, 0, 1), "{out}");

    let store = store_of(dir);
    let dq = issues(&store, "data_quality");
    let negative: Vec<(&str, &str, &str)> = dq
        .iter()
        .filter(|i| i.flag == "negative_interval")
        .map(|i| (i.table.as_str(), i.position.as_str(), i.column.as_str()))
        .collect();
    assert_eq!(
        negative,
        [
            ("contacts", "line 2", "decision_at"),
            ("contacts", "line 3", "decision_at"),
            ("referrals", "line 2", "decision_at"),
            ("referrals", "line 3", "decision_at"),
            ("referrals", "line 3", "closure_date"),
            ("early_help", "line 2", "end_date"),
        ],
        "{dq:#?}"
    );
    assert_eq!(dq.len(), negative.len(), "{dq:#?}");
    let i = issue_at(&dq, "contacts", "line 3", "decision_at");
    assert_eq!(i.file, "contacts.csv");
    assert!(
        i.reason.contains("decision_at is before received_at"),
        "{i:?}"
    );

    let t = read_table(&store, "contacts");
    assert_row(
        &t,
        row_where(&t, "contact_id", "C2"),
        &[
            ("decision_at", "2024-04-02T09:59:00"),
            ("dq_flags", "negative_interval:decision_at"),
        ],
    );
    // A bare decision date on the day of receipt is not before it (the time is unknown).
    assert_row(&t, row_where(&t, "contact_id", "C3"), &[("dq_flags", "")]);
    assert_row(&t, row_where(&t, "contact_id", "C4"), &[("dq_flags", "")]);
    let t = read_table(&store, "referrals");
    assert_row(
        &t,
        row_where(&t, "referral_id", "R2"),
        &[
            ("decision_at", "2024-04-02T08:15:00"),
            (
                "dq_flags",
                "negative_interval:decision_at;negative_interval:closure_date",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 4. duplicates

#[test]
fn duplicate_id_in_one_file_rejects_the_second_row_naming_the_first() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at\n\
         R1,P1,940,2024-04-01\n\
         R2,P2,940,2024-04-01\n\
         R1,P3,940,2024-04-09\n\
         R1,P4,941,2024-04-01\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv"]);
    assert_eq!(summary["referrals"], c(4, 3, 1, 0), "{out}");
    let store = store_of(dir);
    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 1, "{rej:#?}");
    let i = &rej[0];
    assert_eq!(i.table, "referrals");
    assert_eq!(i.file, "referrals.csv");
    assert_eq!(i.position, "line 4");
    assert_eq!(i.flag, "duplicate_key");
    // A key is made of record ids: withheld (the reason names the first row's line).
    assert_eq!(i.value, "<withheld: 6 characters>");
    assert!(i.reason.contains("line 2"), "{i:?}");
    // The first row is kept; the same id in another LA is another referral.
    let t = read_table(&store, "referrals");
    assert_row(
        &t,
        row_where(&t, "child_id", "P1"),
        &[
            ("referral_id", "R1"),
            ("la_code", "940"),
            ("source_pos", "line 2"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "child_id", "P4"),
        &[("referral_id", "R1"), ("la_code", "941")],
    );
    assert!(!strings(&t, "child_id").contains(&"P3".to_string()));
}

#[test]
fn positions_are_physical_lines_with_crlf_blank_lines_and_multi_line_cells() {
    let d = tmp();
    let dir = d.path();
    // CRLF line ends (as Excel writes them), a blank line and a quoted cell over two lines (in a
    // free-text column: a canonical value over two lines is refused as broken quoting).
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,source,notes\r\n\
         R1,P1,940,2024-04-01,1A,\r\n\
         R1,P2,940,2024-04-01,1A,\r\n\
         \r\n\
         R3,P3,940,2024-04-01,1A,\"two\r\nlines\"\r\n\
         R4,P4,940,bad,1A,\r\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv"]);
    assert_eq!(summary["referrals"], c(4, 2, 2, 0), "{out}");
    let store = store_of(dir);
    let rej = issues(&store, "rejects");
    let i = issue_at(&rej, "referrals", "line 3", "la_code+referral_id");
    assert!(i.reason.ends_with("the row at line 2"), "{i:?}");
    let i = issue_at(&rej, "referrals", "line 7", "received_at");
    assert_eq!(i.value, "<withheld: 3 characters>");
    let t = read_table(&store, "referrals");
    assert_eq!(strings(&t, "source_pos"), ["line 2", "line 5"]);

    // A file error names the physical line too.
    write(
        dir,
        "cut.csv",
        "referral_id,child_id,la_code,received_at\r\nR1,P1,940,2024-04-01\r\n\r\nR2,P2",
    );
    let err = ingest_fails(dir, &["cut.csv"]);
    assert!(err.contains("cut.csv:4:"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 5. a missing required column refuses the file

#[test]
fn missing_required_column_refuses_the_file_and_leaves_the_store() {
    let d = tmp();
    let dir = d.path();
    write(dir, "first.csv", REFERRALS);
    ingest_ok(dir, &["first.csv"]);
    let store = store_of(dir);
    let before = snapshot(&store);

    // A referrals extract without received_at (it must not pass as another table).
    write(
        dir,
        "referrals_late.csv",
        "referral_id,child_id,la_code,source\nR7,P7,940,1A\n",
    );
    let err = ingest_fails(dir, &["referrals_late.csv"]);
    assert!(err.contains("referrals_late.csv"), "{err}");
    assert!(err.contains("received_at"), "{err}");
    assert!(err.contains("referrals.csv"), "{err}");
    assert_eq!(snapshot(&store), before);

    // A plan extract without its start date; a children extract without its LA.
    write(
        dir,
        "plans.csv",
        "plan_id,referral_id,child_id,la_code,initial_category\nK1,R1,P1,940,NEG\n",
    );
    let err = ingest_fails(dir, &["plans.csv"]);
    assert!(err.contains("plans.csv:1"), "{err}");
    assert!(err.contains("start_date"), "{err}");
    write(dir, "kids.csv", "child_id,sex,birth_month\nP1,F,2019-03\n");
    let err = ingest_fails(dir, &["kids.csv"]);
    assert!(err.contains("kids.csv:1"), "{err}");
    assert!(err.contains("la_code"), "{err}");
    // A header that matches nothing at all.
    write(dir, "other.csv", "colour,size\nred,4\n");
    let err = ingest_fails(dir, &["other.csv"]);
    assert!(err.contains("other.csv:1"), "{err}");
    assert!(err.contains("matches no canonical table"), "{err}");
    assert_eq!(snapshot(&store), before);
}

// ---------------------------------------------------------------------------------------------
// 6. identifying columns

#[test]
fn identifying_columns_are_refused_naming_the_column() {
    let d = tmp();
    let dir = d.path();
    for column in [
        "forename",
        "postcode",
        "nhs_number",
        "upn",
        "allocated_worker",
        "date_of_birth",
        "Child Surname",
        "Post Code",
        "NHS No",
        "FormerUPN",
        "DOB",
        "address_line_1",
    ] {
        write(
            dir,
            "referrals.csv",
            &format!("referral_id,child_id,la_code,received_at,{column}\nR1,P1,940,2024-04-01,x\n"),
        );
        let err = ingest_fails(dir, &["referrals.csv"]);
        assert!(
            err.contains(&format!("column '{column}'")),
            "{column}: {err}"
        );
        assert!(err.contains("referrals.csv:1:5"), "{column}: {err}");
        assert!(err.contains("identifying"), "{column}: {err}");
        assert!(!store_of(dir).exists(), "{column}: a store was written");
    }
}

#[test]
fn organisation_name_columns_are_not_refused() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,la_name,team_name,school_name\n\
         R1,P1,940,2024-04-01,North,Front Door,Oak Primary\n",
    );
    write(
        dir,
        "early_help.csv",
        "episode_id,child_id,la_code,start_date,lead_agency,agency_name\n\
         E1,P1,940,2024-04-01,Health,Health visiting\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv", "early_help.csv"]);
    assert_eq!(summary["referrals"], c(1, 1, 0, 0), "{out}");
    assert_eq!(summary["early_help"], c(1, 1, 0, 0), "{out}");
    let t = read_table(&store_of(dir), "early_help");
    assert_eq!(strings(&t, "lead_agency"), ["Health"]);
}

// ---------------------------------------------------------------------------------------------
// 7. unreadable files

#[test]
fn non_utf8_file_fails_naming_the_file_and_line() {
    let d = tmp();
    let dir = d.path();
    let mut bytes = b"referral_id,child_id,la_code,received_at,source\n\
R1,P1,940,2024-04-01,1A\n\
R2,P2,940,2024-04-01,1A\n\
R3,P3,940,2024-04-01,"
        .to_vec();
    bytes.extend_from_slice(b"caf\xe9\n"); // Latin-1 e-acute
    std::fs::write(dir.join("latin1.csv"), bytes).unwrap();
    let err = ingest_fails(dir, &["latin1.csv"]);
    assert!(err.contains("latin1.csv:4"), "{err}");
    assert!(err.contains("not UTF-8"), "{err}");
    assert!(!store_of(dir).exists());
}

#[test]
fn truncated_file_fails_and_nothing_from_the_run_is_stored() {
    let d = tmp();
    let dir = d.path();
    write(dir, "a_good.csv", REFERRALS);
    write(
        dir,
        "b_cut.csv",
        "contact_id,child_id,la_code,received_at,source\n\
         C1,P1,940,2024-04-01T09:00,1A\n\
         C2,P2,94",
    );
    let err = ingest_fails(dir, &["a_good.csv", "b_cut.csv"]);
    assert!(err.contains("b_cut.csv:3"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    // The good file came first, but the run is atomic: nothing reached the store.
    assert!(!store_of(dir).join("CURRENT").exists());
    assert!(snapshot(&store_of(dir)).is_empty());

    // The same with a folder argument (files read in name order).
    let sub = dir.join("in");
    std::fs::create_dir(&sub).unwrap();
    std::fs::copy(dir.join("a_good.csv"), sub.join("a_good.csv")).unwrap();
    std::fs::copy(dir.join("b_cut.csv"), sub.join("b_cut.csv")).unwrap();
    let err = ingest_fails(dir, &["in"]);
    assert!(err.contains("b_cut.csv:3"), "{err}");
    assert!(snapshot(&store_of(dir)).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 8. rows read = stored + rejected

#[test]
fn rows_read_equal_rows_stored_plus_rows_rejected_in_the_summary_and_the_store() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,source\n\
         R1,P1,940,2024-04-01,1A\n\
         R2,P2,940,bad,1A\n\
         R1,P3,940,2024-04-01,1A\n\
         R4,,940,2024-04-01,1A\n\
         R5,P5,940,2024-04-01,QQ\n\
         R6,P6,940,2024-04-01,2A\n",
    );
    write(
        dir,
        "cp_plans.csv",
        "plan_id,referral_id,child_id,la_code,start_date,initial_category,previous_plans\n\
         K1,R1,P1,940,2024-05-01,NEG,0\n\
         K2,R6,P6,940,2024-05-01,XYZ,0\n\
         K3,R6,P6,940,2024-05-01,emo,-1\n",
    );
    write(
        dir,
        "cdop_factors.csv",
        "case_id,domain,factor,grade\nX1,A,f1,3\nX1,A,f1,2\nX1,E,f2,1\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv", "cp_plans.csv", "cdop_factors.csv"]);
    let want: BTreeMap<String, Counts> = [
        ("referrals", c(6, 3, 3, 1)),
        ("cp_plans", c(3, 2, 1, 1)),
        ("cdop_factors", c(3, 1, 2, 0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(summary, want, "{out}");
    assert!(out.contains("6 row(s) rejected"), "{out}");

    // The store agrees with the summary, table by table.
    let store = store_of(dir);
    let rej = issues(&store, "rejects");
    for (table, counts) in &summary {
        let stored = read_table(&store, table).height() as u64;
        let rejected = rej.iter().filter(|i| &i.table == table).count() as u64;
        assert_eq!(
            (stored, rejected),
            (counts.stored, counts.rejected),
            "{table}"
        );
    }
    assert_eq!(
        rej.iter()
            .map(|i| (i.table.as_str(), i.position.as_str(), i.flag.as_str()))
            .collect::<Vec<_>>(),
        [
            ("referrals", "line 3", "bad_value"),
            ("referrals", "line 4", "duplicate_key"),
            ("referrals", "line 5", "missing_required"),
            ("cp_plans", "line 3", "bad_value"),
            ("cdop_factors", "line 2", "bad_value"),
            ("cdop_factors", "line 4", "bad_value"),
        ]
    );
    // The cdop factor at line 2 was rejected, so line 3 is no duplicate of it.
    assert_eq!(
        strings(&read_table(&store, "cdop_factors"), "source_pos"),
        ["line 3"]
    );
}

// ---------------------------------------------------------------------------------------------
// 9. idempotence

#[test]
fn ingesting_the_same_file_twice_changes_nothing() {
    let d = tmp();
    let dir = d.path();
    write(dir, "referrals.csv", REFERRALS);
    let (out, summary) = ingest_ok(dir, &["referrals.csv"]);
    assert!(out.contains("ingested  referrals.csv"), "{out}");
    assert_eq!(summary["referrals"], c(2, 2, 0, 0));
    let store = store_of(dir);
    let gen = std::fs::read_to_string(store.join("CURRENT")).unwrap();
    assert_eq!(gen.trim(), "gen-000001");
    let before = snapshot(&store);

    let (out, summary) = ingest_ok(dir, &["referrals.csv"]);
    assert!(
        out.contains("unchanged referrals.csv (already in the store: same content)"),
        "{out}"
    );
    assert!(!out.contains("ingested"), "{out}");
    assert!(summary.is_empty(), "{out}");
    assert_eq!(snapshot(&store), before);

    // The same content under another name is the same file (content hash).
    std::fs::copy(dir.join("referrals.csv"), dir.join("copy.csv")).unwrap();
    let (out, _) = ingest_ok(dir, &["copy.csv", "referrals.csv"]);
    assert!(out.contains("unchanged copy.csv"), "{out}");
    assert!(out.contains("unchanged referrals.csv"), "{out}");
    assert_eq!(snapshot(&store), before);
    assert_eq!(read_table(&store, "referrals").height(), 2);
}

// ---------------------------------------------------------------------------------------------
// 10. a failed run leaves the store as it was

#[test]
fn failed_run_leaves_the_store_unchanged() {
    let d = tmp();
    let dir = d.path();
    write(dir, "referrals.csv", REFERRALS);
    ingest_ok(dir, &["referrals.csv"]);
    let store = store_of(dir);
    let before = snapshot(&store);
    let current = std::fs::read(store.join("CURRENT")).unwrap();

    write(
        dir,
        "contacts.csv",
        "contact_id,child_id,la_code,received_at\nC1,P1,940,2024-04-01T08:00\n",
    );
    std::fs::write(
        dir.join("broken.csv"),
        b"referral_id,child_id,la_code,received_at\nR9,P9,940,2024-04-0\xff\n",
    )
    .unwrap();
    let err = ingest_fails(dir, &["contacts.csv", "broken.csv"]);
    assert!(err.contains("broken.csv:2"), "{err}");
    assert_eq!(std::fs::read(store.join("CURRENT")).unwrap(), current);
    assert_eq!(snapshot(&store), before);
    assert_eq!(read_table(&store, "contacts").height(), 0);

    // The good file alone then goes in as generation 2.
    let (_, summary) = ingest_ok(dir, &["contacts.csv"]);
    assert_eq!(summary["contacts"], c(1, 1, 0, 0));
    assert_eq!(current_gen(&store).file_name().unwrap(), "gen-000002");
    assert_eq!(read_table(&store, "referrals").height(), 2);
}

// ---------------------------------------------------------------------------------------------
// 11. supersession

#[test]
fn newer_extract_supersedes_the_older_row() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals_2024-06.csv",
        "referral_id,child_id,la_code,received_at,closure_date,closure_reason\n\
         R1,P1,940,2024-04-01,2024-06-30,RC1\n\
         R2,P2,940,2024-04-02,,\n",
    );
    write(
        dir,
        "referrals_2024-10.csv",
        "referral_id,child_id,la_code,received_at,closure_date,closure_reason\n\
         R1,P1,940,2024-04-01,2024-07-15,RC8\n\
         R3,P3,940,2024-08-01,,\n",
    );
    ingest_ok(dir, &["referrals_2024-06.csv"]);
    let (out, summary) = ingest_ok(dir, &["referrals_2024-10.csv"]);
    assert_eq!(summary["referrals"], c(2, 2, 0, 0), "{out}");
    assert!(
        out.contains("1 stored row(s) superseded by newer extracts"),
        "{out}"
    );

    let store = store_of(dir);
    let t = read_table(&store, "referrals");
    assert_eq!(t.height(), 3, "{t}");
    assert_row(
        &t,
        row_where(&t, "referral_id", "R1"),
        &[
            ("closure_date", "2024-07-15"),
            ("closure_reason", "RC8"),
            ("source_file", "referrals_2024-10.csv"),
            ("source_pos", "line 2"),
        ],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R2"),
        &[("source_file", "referrals_2024-06.csv")],
    );
    assert_row(
        &t,
        row_where(&t, "referral_id", "R3"),
        &[("source_file", "referrals_2024-10.csv")],
    );

    let s = read_table(&store, "supersessions");
    assert_eq!(s.height(), 1, "{s}");
    assert_row(
        &s,
        0,
        &[
            ("table", "referrals"),
            ("key", "940|R1"),
            ("old_source", "referrals_2024-06.csv"),
            ("new_source", "referrals_2024-10.csv"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 12. orphans

#[test]
fn orphan_is_flagged_until_its_parent_arrives() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at\n\
         R1,P1,940,2024-04-01\n\
         R2,P2,940,not-a-date\n\
         R9,P9,941,2024-04-01\n",
    );
    write(
        dir,
        "assessments.csv",
        "assessment_id,referral_id,child_id,la_code,start_date\n\
         A1,R1,P1,940,2024-04-02\n\
         A2,R2,P2,940,2024-04-02\n\
         A9,R9,P9,940,2024-04-02\n",
    );
    write(
        dir,
        "cp_reviews.csv",
        "plan_id,review_date\nK404,2024-07-01\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv", "assessments.csv", "cp_reviews.csv"]);
    assert_eq!(summary["referrals"], c(3, 2, 1, 0), "{out}");
    assert_eq!(summary["assessments"].stored, 3, "{out}");
    let store = store_of(dir);
    let orphans = |store: &Path| -> Vec<(String, String, String, String)> {
        let mut v: Vec<_> = issues(store, "data_quality")
            .into_iter()
            .filter(|i| i.flag == "orphan")
            .map(|i| (i.table, i.file, i.position, i.column))
            .collect();
        v.sort();
        v
    };
    let o = |t: &str, f: &str, p: &str, c: &str| (t.into(), f.into(), p.into(), c.into());
    // A2's referral was rejected; A9's referral is in another LA; the review's plan is missing.
    assert_eq!(
        orphans(&store),
        vec![
            o("assessments", "assessments.csv", "line 3", "referral_id"),
            o("assessments", "assessments.csv", "line 4", "referral_id"),
            o("cp_reviews", "cp_reviews.csv", "line 2", "plan_id"),
        ]
    );
    assert_eq!(read_table(&store, "assessments").height(), 3);

    // A later extract supplies R9 in LA 940: that orphan flag goes, the others stay.
    write(
        dir,
        "referrals_more.csv",
        "referral_id,child_id,la_code,received_at\nR9,P9,940,2024-04-01\n",
    );
    ingest_ok(dir, &["referrals_more.csv"]);
    assert_eq!(
        orphans(&store),
        vec![
            o("assessments", "assessments.csv", "line 3", "referral_id"),
            o("cp_reviews", "cp_reviews.csv", "line 2", "plan_id"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 13. pseudonymisation of canonical CSVs

const CHILDREN_P1: &str = "child_id,la_code,sex\nP1,940,F\nP2,940,M\nP1,940,F\n";
const REFERRALS_P1: &str = "referral_id,child_id,la_code,received_at\nR1,P1,940,2024-04-01\n";
const CDOP_P1: &str = "case_id,cdop_code,la_code,date_of_death,age_at_death_days,child_id\n\
X1,NN,940,2024-03-01,400,P1\n";

#[test]
fn child_id_is_stored_as_given_without_a_key() {
    let d = tmp();
    let dir = d.path();
    write(dir, "children.csv", CHILDREN_P1);
    write(dir, "referrals.csv", REFERRALS_P1);
    let (out, summary) = ingest_ok(dir, &["children.csv", "referrals.csv"]);
    assert_eq!(summary["children"], c(3, 2, 1, 0), "{out}");
    let store = store_of(dir);
    assert_eq!(
        strings(&read_table(&store, "children"), "child_id"),
        ["P1", "P2"]
    );
    assert_eq!(
        strings(&read_table(&store, "referrals"), "child_id"),
        ["P1"]
    );
}

/// Every string in every Parquet file of the live generation, and the text of its CSV and JSON.
fn all_store_text(store: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    // The generation folder and its table folders (<table>/<partition>.parquet).
    let gen = current_gen(store);
    let mut files = vec![];
    for e in std::fs::read_dir(&gen).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                files.push(f.unwrap().path());
            }
        } else {
            files.push(p);
        }
    }
    assert!(files.len() > 5, "{files:?}");
    for p in files {
        let name = p.strip_prefix(&gen).unwrap().to_string_lossy().to_string();
        match p.extension().and_then(|x| x.to_str()) {
            Some("parquet") => {
                let df = safeguard::store::read_parquet(&p).unwrap();
                for col in df.columns() {
                    if col.dtype() == &DataType::String {
                        for v in strings(&df, col.name()) {
                            out.push((format!("{name}:{}", col.name()), v));
                        }
                    }
                }
            }
            _ => out.push((name, std::fs::read_to_string(&p).unwrap())),
        }
    }
    out.push((
        "CURRENT".into(),
        std::fs::read_to_string(store.join("CURRENT")).unwrap(),
    ));
    out
}

#[test]
fn child_id_is_pseudonymised_with_a_key_and_the_raw_id_is_nowhere_in_the_store() {
    let d = tmp();
    let dir = d.path();
    write(dir, "children.csv", CHILDREN_P1);
    write(dir, "referrals.csv", REFERRALS_P1);
    write(dir, "cdop_reviews.csv", CDOP_P1);
    let o = bin()
        .env("SAFEGUARD_KEY", TEST_KEY)
        .current_dir(dir)
        .args([
            "ingest",
            "children.csv",
            "referrals.csv",
            "cdop_reviews.csv",
            "--store",
            "store",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = summary_counts(&stdout(&o));
    assert_eq!(summary["children"], c(3, 2, 1, 0));

    let pseudo = safeguard::pseudonym::Pseudonymiser::keyed(TEST_KEY.as_bytes()).unwrap();
    let p1 = pseudo.child_id("P1");
    assert_eq!(p1.len(), 16);
    assert!(
        p1.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{p1}"
    );
    let store = store_of(dir);
    assert_eq!(
        strings(&read_table(&store, "children"), "child_id"),
        [p1.clone(), pseudo.child_id("P2")]
    );
    assert_eq!(
        strings(&read_table(&store, "referrals"), "child_id"),
        [p1.clone()]
    );
    assert_eq!(
        strings(&read_table(&store, "cdop_reviews"), "child_id"),
        [p1.clone()]
    );
    // The duplicate child row's reject withholds the id.
    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].flag, "duplicate_key");
    assert_eq!(rej[0].value, "<withheld: 20 characters>");

    let text = all_store_text(&store);
    assert!(text.iter().any(|(_, v)| v.contains(&p1)));
    for (place, v) in &text {
        for raw in ["P1", "P2"] {
            assert!(!v.contains(raw), "raw id {raw} in {place}: {v}");
        }
    }

    // The same key from a key_file in the config gives the same pseudonym.
    let d2 = tmp();
    let dir2 = d2.path();
    write(dir2, "partnership.key", &format!("{TEST_KEY}\n"));
    write(dir2, "safeguard.toml", "key_file = \"partnership.key\"\n");
    write(dir2, "referrals.csv", REFERRALS_P1);
    ingest_ok(dir2, &["referrals.csv"]);
    assert_eq!(
        strings(&read_table(&store_of(dir2), "referrals"), "child_id"),
        [p1]
    );
}

#[test]
fn a_key_shorter_than_16_characters_is_refused() {
    let d = tmp();
    let dir = d.path();
    write(dir, "referrals.csv", REFERRALS_P1);
    for key in ["short-key", "0123456789abcde"] {
        let o = bin()
            .env("SAFEGUARD_KEY", key)
            .current_dir(dir)
            .args(["ingest", "referrals.csv", "--store", "store"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{key}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains("SAFEGUARD_KEY"), "{err}");
        assert!(err.contains("at least 16"), "{err}");
        assert!(!err.contains(key), "the key is echoed: {err}");
        assert!(!store_of(dir).exists());
    }
    // Sixteen characters is enough.
    let o = bin()
        .env("SAFEGUARD_KEY", "0123456789abcdef")
        .current_dir(dir)
        .args(["ingest", "referrals.csv", "--store", "store"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// 14. exit codes and messages

#[test]
fn missing_input_file_exits_1_naming_it() {
    let d = tmp();
    let dir = d.path();
    write(dir, "referrals.csv", REFERRALS);
    let err = ingest_fails(dir, &["referrals.csv", "no_such_extract.csv"]);
    assert!(err.contains("no_such_extract.csv"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert!(!store_of(dir).exists());
}

#[test]
fn empty_file_exits_1_naming_it() {
    let d = tmp();
    let dir = d.path();
    write(dir, "referrals.csv", REFERRALS);
    write(dir, "empty.csv", "");
    write(dir, "blank.csv", " \n\n");
    for f in ["empty.csv", "blank.csv"] {
        let err = ingest_fails(dir, &["referrals.csv", f]);
        assert!(err.contains(f), "{err}");
        assert!(err.contains("empty"), "{err}");
        assert!(!store_of(dir).exists());
    }
}

#[test]
fn plans_without_their_conference_and_overlapping_plans_are_flagged() {
    // DfE rule 2885: a plan starts on its ICPC's date. Rules 8935/8940: a child's plans must
    // not overlap.
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at\nR1,P1,940,2024-04-02\nR2,P2,940,2024-04-02\n",
    );
    write(
        dir,
        "s47_enquiries.csv",
        "s47_id,referral_id,child_id,la_code,start_date,icpc_date,icpc_result\n\
         S1,R1,P1,940,2024-04-03,2024-04-24,CPP\n\
         S2,R2,P2,940,2024-04-03,2024-04-24,CPP\n",
    );
    // line 2: P1's plan starts on its ICPC date: fine.
    // line 3: P2's plan starts a day after its ICPC: rule 2885.
    // line 4: P1's second plan starts (on no ICPC date) while line 2's plan is still open:
    //         rule 2885 and overlapping.
    // line 5: P1's third plan starts the day line 4's ended... after line 2 ended too: only 2885.
    write(
        dir,
        "cp_plans.csv",
        "plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category\n\
         C1,R1,P1,940,2024-04-24,2024-09-30,NEG\n\
         C2,R2,P2,940,2024-04-25,,EMO\n\
         C3,R1,P1,940,2024-06-03,2024-10-31,NEG\n\
         C4,R1,P1,940,2024-10-31,,NEG\n",
    );
    let (_, summary) = ingest_ok(dir, &["referrals.csv", "s47_enquiries.csv", "cp_plans.csv"]);
    assert_eq!(summary["cp_plans"], c(4, 4, 0, 0));
    let all = issues(&store_of(dir), "data_quality");
    let flags = |line: &str| -> Vec<String> {
        let mut f: Vec<String> = all
            .iter()
            .filter(|i| i.table == "cp_plans" && i.position == line)
            .map(|i| i.flag.clone())
            .collect();
        f.sort();
        f
    };
    assert!(flags("line 2").is_empty(), "{all:#?}");
    assert_eq!(flags("line 3"), ["cpp_start_not_icpc"]);
    assert_eq!(flags("line 4"), ["cpp_start_not_icpc", "overlapping_cpp"]);
    assert_eq!(flags("line 5"), ["cpp_start_not_icpc"]);
}

/// Before issue 11 an extra CSV column that was not identifying by name went to the raw layer; the
/// raw layer is now an allow-list, which knows no extra canonical-CSV column: both are dropped and
/// named in the summary, never their values.
#[test]
fn extra_columns_are_dropped_and_named_and_free_text_is_nowhere() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,allocated_team,case_notes\n\
         R1,P1,940,2024-04-02,Team North,spoke to a named relative\n\
         R2,P2,940,2024-04-03,,\n",
    );
    let (out, summary) = ingest_ok(dir, &["referrals.csv"]);
    assert_eq!(summary["referrals"], c(2, 2, 0, 0));
    assert!(
        out.contains("referrals.csv: dropped 2 unknown fields: allocated_team, case_notes"),
        "{out}"
    );
    assert!(
        !out.contains("Team North") && !out.contains("named relative"),
        "{out}"
    );
    let raw = read_table(&store_of(dir), "raw");
    assert_eq!(raw.height(), 0, "{raw}");
    // Parquet is compressed: read every string column of every table back to look for it.
    for entry in std::fs::read_dir(current_gen(&store_of(dir))).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "parquet") {
            let df = safeguard::store::read_parquet(&path).unwrap();
            for column in df.columns() {
                if let Ok(strs) = column.str() {
                    assert!(
                        strs.iter()
                            .flatten()
                            .all(|v| !v.contains("named relative") && !v.contains("Team North")),
                        "free text found in {}",
                        path.display()
                    );
                }
            }
        }
    }
}

#[test]
fn times_are_read_in_every_accepted_shape_and_impossible_ones_are_errors() {
    use safeguard::ingest::parse::parse_datetime;
    let at = |s: &str| {
        parse_datetime(s)
            .map(|w| (w.at.format("%Y-%m-%d %H:%M:%S").to_string(), w.has_time))
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        at("2024-06-10T09:00"),
        Ok(("2024-06-10 09:00:00".into(), true))
    );
    assert_eq!(
        at("2024-06-10 9:05:07.123Z"),
        Ok(("2024-06-10 09:05:07".into(), true))
    );
    assert_eq!(
        at("10/06/2024 23:59:59"),
        Ok(("2024-06-10 23:59:59".into(), true))
    );
    assert_eq!(at("2024-06-10"), Ok(("2024-06-10 00:00:00".into(), false)));
    for bad in [
        "2024-06-10T24:00",
        "2024-06-10T09:60",
        "2024-06-10T09:00:61",
        "2024-06-10T09:00:00:00",
        "2024-06-10T0900",
        "2024-06-10T:30",
        "2024-06-10T123:00",
        "2024-06-10T+9:00",
    ] {
        assert!(at(bad).is_err(), "{bad} was accepted: {:?}", at(bad));
    }
}
