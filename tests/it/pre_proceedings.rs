//! The pre-proceedings module (CIN census 2026-27 `PreProceedingsandFGDM`, canonical
//! `pre_proceedings.csv`), through the real binary: the census block mapped to a row keyed to its
//! episode, each of the DfE's draft rules 9005-9015Q raising its flag on a crafted record (and
//! only there), 8995Q on a return with no module, a 2025-26 return giving "not measurable", the
//! episode cascade, a misplaced block, and the same figures from the census and from the CSV for
//! the same records. (The measures' hand-worked values: tests/measures/pp_*.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cin_xml::{assert_row, ingest_ok, ingest_with, row_where, tmp};
use crate::common::{
    assert_nothing_planted, bin, cell, issues, read_measures, read_table, stderr, stdout, write,
    MeasureKey, MeasureValues, TEST_KEY,
};

// ---------------------------------------------------------------------------------------------
// fixtures

/// One child of a census return: LAchildID, birth date, sex, ethnicity and its `CINdetails`
/// (inner XML).
struct Kid<'a> {
    id: &'a str,
    birth: &'a str,
    sex: &'a str,
    ethnicity: &'a str,
    episodes: Vec<String>,
}

/// A CIN census return of LA `la` with `ReferenceDate` `reference`.
fn census(la: &str, reference: &str, kids: &[Kid]) -> String {
    let mut s = format!(
        "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2027</Year>\
         <ReferenceDate>{reference}</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>\
         <LEA>{la}</LEA></Source></Header><Children>\n"
    );
    for k in kids {
        s.push_str(&format!(
            "<Child><ChildIdentifiers><LAchildID>{}</LAchildID><PersonBirthDate>{}</PersonBirthDate>\
             <Sex>{}</Sex></ChildIdentifiers><ChildCharacteristics><Ethnicity>{}</Ethnicity>\
             </ChildCharacteristics>\n",
            k.id, k.birth, k.sex, k.ethnicity
        ));
        for e in &k.episodes {
            s.push_str(&format!("<CINdetails>{e}</CINdetails>\n"));
        }
        s.push_str("</Child>\n");
    }
    s.push_str("</Children></Message>\n");
    s
}

/// A `CINdetails` body: the referral date, then `more` (plans, blocks).
fn episode(referral: &str, more: &str) -> String {
    format!(
        "<CINreferralDate>{referral}</CINreferralDate><ReferralSource>1A</ReferralSource>\
         <PrimaryNeedCode>N1</PrimaryNeedCode><ReferralNFA>0</ReferralNFA>{more}"
    )
}

/// A `PreProceedingsandFGDM` block of the given (element, value) items, in that order.
fn block(items: &[(&str, &str)]) -> String {
    let mut s = "<PreProceedingsandFGDM>".to_string();
    for (e, v) in items {
        s.push_str(&format!("<{e}>{v}</{e}>"));
    }
    s.push_str("</PreProceedingsandFGDM>");
    s
}

fn kid<'a>(id: &'a str, episodes: Vec<String>) -> Kid<'a> {
    Kid {
        id,
        birth: "2015-06-10",
        sex: "F",
        ethnicity: "WBRI",
        episodes,
    }
}

/// `safeguard measures` on `store` with `args`; the table by key and the summary.
fn measures(
    store: &Path,
    out: &Path,
    args: &[&str],
) -> (BTreeMap<MeasureKey, MeasureValues>, String) {
    let o = bin()
        .env("SAFEGUARD_KEY", TEST_KEY)
        .args(["--quiet", "measures", "--store"])
        .arg(store)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "measures failed: {}", stderr(&o));
    (read_measures(out), stdout(&o))
}

/// The data-quality flags of `pre_proceedings` rows: position -> flags.
fn pp_flags(store: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in issues(store, "data_quality")
        .into_iter()
        .filter(|i| i.table == "pre_proceedings")
    {
        out.entry(i.position).or_default().insert(i.flag);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// the census block

#[test]
fn a_census_block_becomes_one_row_keyed_to_its_episode_and_leaves_the_raw_layer() {
    let d = tmp();
    let store = d.path().join("store");
    let text = census(
        "940",
        "2027-03-31",
        &[kid(
            "ZZTEST01",
            vec![episode(
                "2026-04-10",
                &block(&[
                    ("PPStartDate", "2026-05-04"),
                    ("LBPSentDate", "2026-05-11"),
                    ("FGDMMeetingOffer", "1"),
                    ("FGDMMeetingFac", "0"),
                    ("InitialPPMeetingDate", "2026-05-18"),
                    ("ReviewMeetingsCount", "2"),
                    ("StepDecisionDate", "2026-08-10"),
                    ("PPOutcome", "a"),
                    ("CourtAppDate", "2026-08-20"),
                    ("LetterInitCPDate", "2026-08-24"),
                    // Not an item of the block: dropped and named, never its text.
                    ("FGDMNotes", "Zorblax Quimby said no"),
                ]),
            )],
        )],
    );
    let f = write(d.path(), "cin_940_2027.xml", &text);
    let (out, counts) = ingest_ok(&store, &[f], None);
    assert_eq!(counts["pre_proceedings"], [1, 1, 0, 0], "{out}");
    assert!(
        out.contains("PreProceedingsandFGDM/FGDMNotes"),
        "the unknown item is named: {out}"
    );
    let pp = read_table(&store, "pre_proceedings");
    let referrals = read_table(&store, "referrals");
    let referral = cell(&referrals, "referral_id", 0);
    let child = cell(&referrals, "child_id", 0);
    assert_eq!(pp.height(), 1);
    assert_row(
        &pp,
        0,
        &[
            ("pp_id", &format!("{referral}-PP1")),
            ("referral_id", &referral),
            ("child_id", &child),
            ("la_code", "940"),
            ("pp_start_date", "2026-05-04"),
            ("lbp_sent_date", "2026-05-11"),
            ("fgdm_offered", "true"),
            ("fgdm_facilitated", "false"),
            ("initial_meeting_date", "2026-05-18"),
            ("review_meetings", "2"),
            ("step_decision_date", "2026-08-10"),
            ("outcome", "A"),
            ("court_application_date", "2026-08-20"),
            ("care_proceedings_letter_date", "2026-08-24"),
            (
                "source_pos",
                "Child[1]/CINdetails[1]/PreProceedingsandFGDM[1]",
            ),
        ],
    );
    // A complete, in-year, ordered record: no rule fires.
    assert!(pp_flags(&store).is_empty(), "{:?}", pp_flags(&store));
    // Nothing of the block in the raw layer; the child id pseudonymised; no planted text.
    let raw = read_table(&store, "raw");
    if raw.width() > 0 {
        for i in 0..raw.height() {
            assert_ne!(cell(&raw, "element", i), "PreProceedingsandFGDM");
        }
    }
    assert_ne!(child, "ZZTEST01");
    assert_nothing_planted(&[&store], &[&out], &["Zorblax", "ZZTEST01"]);
}

#[test]
fn each_dfe_rule_raises_its_flag_on_its_crafted_record_and_nowhere_else() {
    let d = tmp();
    let store = d.path().join("store");
    // A 2026-27 return (1 April 2026 - 31 March 2027); each child's block breaks one rule.
    let start = ("PPStartDate", "2026-05-10");
    // (LAchildID, the block's items, the flags it must raise)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        // A clean record.
        (
            "ZZR00",
            vec![
                start,
                ("LBPSentDate", "2026-05-12"),
                ("FGDMMeetingOffer", "1"),
                ("FGDMMeetingFac", "1"),
                ("InitialPPMeetingDate", "2026-05-20"),
                ("ReviewMeetingsCount", "0"),
                ("StepDecisionDate", "2026-08-01"),
                ("PPOutcome", "B"),
                ("CourtAppDate", "2026-08-05"),
                ("LetterInitCPDate", "2026-08-05"),
            ],
            &[],
        ),
        // 9005: begun before the reporting year.
        ("ZZR01", vec![("PPStartDate", "2026-03-20")], &["dfe_9005"]),
        // 9006: the letter before the start (and, below, after the year).
        (
            "ZZR02",
            vec![
                start,
                ("LBPSentDate", "2026-05-01"),
                ("FGDMMeetingOffer", "0"),
            ],
            &["dfe_9006"],
        ),
        (
            "ZZR03",
            vec![
                start,
                ("LBPSentDate", "2027-04-02"),
                ("FGDMMeetingOffer", "0"),
            ],
            &["dfe_9006"],
        ),
        // 9007: a letter with the offer not recorded.
        (
            "ZZR04",
            vec![start, ("LBPSentDate", "2026-05-12")],
            &["dfe_9007"],
        ),
        // 9008: the initial meeting after the year.
        (
            "ZZR05",
            vec![
                start,
                ("InitialPPMeetingDate", "2027-04-05"),
                ("ReviewMeetingsCount", "0"),
            ],
            &["dfe_9008"],
        ),
        // 9009: the step decision before the start.
        (
            "ZZR06",
            vec![
                start,
                ("StepDecisionDate", "2026-05-01"),
                ("PPOutcome", "A"),
            ],
            &["dfe_9009"],
        ),
        // 9010Q: an offer with FGDMMeetingFac not recorded.
        (
            "ZZR07",
            vec![
                start,
                ("LBPSentDate", "2026-05-12"),
                ("FGDMMeetingOffer", "1"),
            ],
            &["dfe_9010Q"],
        ),
        // 9011: an outcome outside CS131 (also the validator's bad_value).
        (
            "ZZR08",
            vec![
                start,
                ("StepDecisionDate", "2026-08-01"),
                ("PPOutcome", "Z"),
            ],
            &["dfe_9011", "bad_value"],
        ),
        // 9012: the court application before the decision.
        (
            "ZZR09",
            vec![
                start,
                ("StepDecisionDate", "2026-08-01"),
                ("PPOutcome", "C"),
                ("CourtAppDate", "2026-07-20"),
            ],
            &["dfe_9012"],
        ),
        // 9013: the letter to initiate care proceedings before the application.
        (
            "ZZR10",
            vec![
                start,
                ("StepDecisionDate", "2026-08-01"),
                ("PPOutcome", "C"),
                ("CourtAppDate", "2026-08-05"),
                ("LetterInitCPDate", "2026-08-03"),
            ],
            &["dfe_9013"],
        ),
        // 9015Q: an initial meeting with the review meetings not counted.
        (
            "ZZR11",
            vec![start, ("InitialPPMeetingDate", "2026-05-20")],
            &["dfe_9015Q"],
        ),
    ];
    let kids: Vec<Kid> = cases
        .iter()
        .map(|(id, items, _)| kid(id, vec![episode("2026-04-10", &block(items))]))
        .collect();
    let f = write(
        d.path(),
        "cin_940_2027.xml",
        &census("940", "2027-03-31", &kids),
    );
    let (out, counts) = ingest_ok(&store, &[f], None);
    // Flags, never rejections.
    assert_eq!(counts["pre_proceedings"][..3], [12, 12, 0], "{out}");
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, (_, _, flags)) in cases.iter().enumerate() {
        if !flags.is_empty() {
            want.insert(
                format!("Child[{}]/CINdetails[1]/PreProceedingsandFGDM[1]", i + 1),
                flags.iter().map(|f| f.to_string()).collect(),
            );
        }
    }
    assert_eq!(pp_flags(&store), want);
    // The reasons name the rule and what is wrong.
    let dq = issues(&store, "data_quality");
    let reason = |flag: &str| {
        dq.iter()
            .find(|i| i.flag == flag)
            .map(|i| i.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("dfe_9005").contains("outside the return's reporting year 2026-27"),
        "{}",
        reason("dfe_9005")
    );
    assert!(reason("dfe_9006").contains("DfE rule 9006"));
    assert!(reason("dfe_9009").contains("before PPStartDate"));
    assert!(reason("dfe_9013").contains("before CourtAppDate"));
    // The flagged rows are stored with the bad outcome emptied.
    let pp = read_table(&store, "pre_proceedings");
    let z = row_where(
        &pp,
        "source_pos",
        "Child[9]/CINdetails[1]/PreProceedingsandFGDM[1]",
    );
    assert_eq!(cell(&pp, "outcome", z), "");
    assert_eq!(cell(&pp, "step_decision_date", z), "2026-08-01");
}

#[test]
fn a_csv_row_has_no_reporting_year_only_the_order_and_completeness_rules() {
    let d = tmp();
    let store = d.path().join("store");
    let f = write(
        d.path(),
        "pre_proceedings.csv",
        "pp_id,referral_id,child_id,la_code,pp_start_date,lbp_sent_date,fgdm_offered,fgdm_facilitated,initial_meeting_date,review_meetings,step_decision_date,outcome\n\
         PP1,R1,C1,940,2019-05-10,2019-05-01,N,,2019-05-20,1,2019-08-01,A\n\
         PP2,R1,C1,940,2030-05-10,2030-05-12,Y,,,,2030-08-01,q\n",
    );
    let r = write(
        d.path(),
        "referrals.csv",
        "referral_id,child_id,la_code,received_at\nR1,C1,940,2019-04-01\n",
    );
    ingest_ok(&store, &[r, f], None);
    // PP1: years far from any census, but no return, so no 9005/9008; its letter before its start
    // is 9006. PP2: an offer with FGDMMeetingFac not recorded (9010Q), outcome q (9011).
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    want.insert("line 2".into(), ["dfe_9006".to_string()].into());
    want.insert(
        "line 3".into(),
        ["dfe_9010Q", "dfe_9011", "bad_value"]
            .map(String::from)
            .into(),
    );
    assert_eq!(pp_flags(&store), want);
}

#[test]
fn a_2026_27_return_without_the_module_is_query_8995q_and_a_2025_26_one_is_not_measurable() {
    let d = tmp();
    // 2025-26: no module yet. No 8995Q; the measures say "not measurable before 2026-27".
    let store = d.path().join("store-2025");
    let plain = vec![kid("ZZN01", vec![episode("2025-06-02", "")])];
    let f = write(
        d.path(),
        "cin_940_2026.xml",
        &census("940", "2026-03-31", &plain),
    );
    let (out, counts) = ingest_ok(&store, &[f], None);
    assert!(!out.contains("8995Q"), "{out}");
    assert!(!counts.contains_key("pre_proceedings"));
    assert!(pp_flags(&store).is_empty());
    let (t, summary) = measures(
        &store,
        &d.path().join("m1.csv"),
        &["--year", "2025-26", "--reference-date", "2026-03-31"],
    );
    for id in [
        "pp_started",
        "pp_started_per_10k",
        "pp_lbp_fgdm_offered",
        "pp_fgdm_facilitated",
        "pp_outcome",
        "pp_duration",
        "pp_to_court",
        "pp_lbp_to_meeting",
    ] {
        assert!(
            summary.contains(&format!(
                "not measurable: {id}: not measurable before 2026-27"
            )),
            "{id}: {summary}"
        );
        assert!(!t.keys().any(|k| k.0 == id), "{id} has rows (never zero)");
    }

    // 2026-27 with no block for any child: 8995Q, a note and a data-quality row; the measures
    // say there is no pre-proceedings in the store.
    let store = d.path().join("store-2026");
    let plain = vec![kid("ZZN01", vec![episode("2026-06-02", "")])];
    let f = write(
        d.path(),
        "cin_940_2027.xml",
        &census("940", "2027-03-31", &plain),
    );
    let (out, _) = ingest_ok(&store, &[f], None);
    assert!(out.contains("(DfE query 8995Q)"), "{out}");
    let dq: Vec<_> = issues(&store, "data_quality")
        .into_iter()
        .filter(|i| i.flag == "dfe_8995Q")
        .collect();
    assert_eq!(dq.len(), 1, "{dq:?}");
    assert_eq!(dq[0].table, "pre_proceedings");
    assert_eq!(dq[0].file, "cin_940_2027.xml");
    let (t, summary) = measures(
        &store,
        &d.path().join("m2.csv"),
        &["--year", "2026-27", "--reference-date", "2027-03-31"],
    );
    assert!(
        summary.contains("not measurable: pp_started: no pre-proceedings in the store"),
        "{summary}"
    );
    assert!(!t.keys().any(|k| k.0.starts_with("pp_")));
}

// ---------------------------------------------------------------------------------------------
// supersession and structure

#[test]
fn a_newer_return_supersedes_the_block_and_an_episode_without_it_takes_the_row_away() {
    let d = tmp();
    let with = |decision: &str| {
        let mut items = vec![
            ("PPStartDate", "2027-02-01"),
            ("LBPSentDate", "2027-02-08"),
            ("FGDMMeetingOffer", "1"),
            ("FGDMMeetingFac", "0"),
        ];
        if !decision.is_empty() {
            items.push(("StepDecisionDate", decision));
            items.push(("PPOutcome", "B"));
        }
        block(&items)
    };
    let a = write(
        d.path(),
        "a.xml",
        &census(
            "940",
            "2027-03-31",
            &[kid("ZZS01", vec![episode("2026-11-02", &with(""))])],
        ),
    );
    let b = write(
        d.path(),
        "b.xml",
        &census(
            "940",
            "2028-03-31",
            &[kid(
                "ZZS01",
                vec![episode("2026-11-02", &with("2027-05-10"))],
            )],
        ),
    );
    let c = write(
        d.path(),
        "c.xml",
        &census(
            "940",
            "2029-03-31",
            &[kid("ZZS01", vec![episode("2026-11-02", "")])],
        ),
    );
    // The 2027-28 return's block replaces the 2026-27 one (same episode, same pp_id), whatever
    // the ingest order.
    for (n, order) in [[&a, &b], [&b, &a]].into_iter().enumerate() {
        let store = d.path().join(format!("store-{n}"));
        ingest_ok(&store, &[order[0].clone()], None);
        ingest_ok(&store, &[order[1].clone()], None);
        let pp = read_table(&store, "pre_proceedings");
        assert_eq!(pp.height(), 1);
        assert_eq!(cell(&pp, "step_decision_date", 0), "2027-05-10");
        assert_eq!(cell(&pp, "source_file", 0), "b.xml");
    }
    // A newer return whose episode has no block: the episode is replaced with what hangs off it.
    let store = d.path().join("store-c");
    ingest_ok(&store, std::slice::from_ref(&a), None);
    let (out, _) = ingest_ok(&store, &[c], None);
    assert!(out.contains("superseded"), "{out}");
    assert_eq!(read_table(&store, "pre_proceedings").height(), 0);
}

#[test]
fn a_block_out_of_its_place_fails_the_file_and_a_child_without_id_rejects_it() {
    let d = tmp();
    // Directly under Child: its rows could not be tied to an episode.
    let text = census("940", "2027-03-31", &[kid("ZZP01", vec![])]).replace(
        "</ChildCharacteristics>",
        &format!(
            "</ChildCharacteristics>{}",
            block(&[("PPStartDate", "2026-05-01")])
        ),
    );
    let f = write(d.path(), "misplaced.xml", &text);
    let store = d.path().join("store");
    let o = ingest_with(&store, &[f], None, true);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("PreProceedingsandFGDM")
            && err.contains("belongs directly inside <CINdetails>"),
        "{err}"
    );
    assert!(!store.join("CURRENT").exists(), "nothing stored");

    // A Child with no LAchildID: its block is rejected with its episode (read = stored +
    // rejected).
    let text = census(
        "940",
        "2027-03-31",
        &[kid(
            "ZZP02",
            vec![episode(
                "2026-04-10",
                &block(&[("PPStartDate", "2026-05-01")]),
            )],
        )],
    )
    .replace("<LAchildID>ZZP02</LAchildID>", "");
    let f = write(d.path(), "noid.xml", &text);
    let (_, counts) = ingest_ok(&store, &[f], None);
    assert_eq!(counts["pre_proceedings"], [1, 0, 1, 0]);
    let rejects = issues(&store, "rejects");
    assert!(rejects.iter().any(|r| r.table == "pre_proceedings"
        && r.position == "Child[1]/CINdetails[1]/PreProceedingsandFGDM[1]"));
}

// ---------------------------------------------------------------------------------------------
// the census and the CSV give the same figures

/// The records of tests/measures/pp_measures that LA 940 holds at 31 March 2027, as a census
/// return (`xml`) and as canonical CSVs (`csv`).
fn same_records(dir: &Path) -> (PathBuf, PathBuf) {
    let pp = |items: &[(&str, &str)]| block(items);
    let kids = vec![
        Kid {
            id: "C1",
            birth: "2016-05-14",
            sex: "F",
            ethnicity: "WBRI",
            episodes: vec![episode(
                "2026-01-05",
                &format!(
                    "<ChildProtectionPlans><CPPstartDate>2026-03-02</CPPstartDate>\
                     <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>\
                     <LatestCategoryOfAbuse>EMO</LatestCategoryOfAbuse>\
                     <NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>{}",
                    pp(&[
                        ("PPStartDate", "2026-05-04"),
                        ("LBPSentDate", "2026-05-11"),
                        ("FGDMMeetingOffer", "1"),
                        ("FGDMMeetingFac", "1"),
                        ("InitialPPMeetingDate", "2026-05-18"),
                        ("ReviewMeetingsCount", "2"),
                        ("StepDecisionDate", "2026-08-10"),
                        ("PPOutcome", "A"),
                        ("CourtAppDate", "2026-08-20"),
                        ("LetterInitCPDate", "2026-08-24"),
                    ])
                ),
            )],
        },
        Kid {
            id: "C2",
            birth: "2024-01-20",
            sex: "M",
            ethnicity: "BAFR",
            episodes: vec![episode(
                "2026-01-06",
                &format!(
                    "<ChildProtectionPlans><CPPstartDate>2026-02-10</CPPstartDate>\
                     <InitialCategoryOfAbuse>PHY</InitialCategoryOfAbuse>\
                     <NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>{}{}",
                    pp(&[
                        ("PPStartDate", "2026-06-01"),
                        ("LBPSentDate", "2026-06-08"),
                        ("FGDMMeetingOffer", "0"),
                        ("InitialPPMeetingDate", "2026-06-22"),
                        ("ReviewMeetingsCount", "0"),
                        ("StepDecisionDate", "2026-07-06"),
                        ("PPOutcome", "B"),
                    ]),
                    pp(&[
                        ("PPStartDate", "2026-10-05"),
                        ("LBPSentDate", "2026-10-12"),
                        ("FGDMMeetingOffer", "1"),
                        ("FGDMMeetingFac", "1"),
                        ("InitialPPMeetingDate", "2026-10-19"),
                        ("ReviewMeetingsCount", "1"),
                        ("StepDecisionDate", "2026-11-30"),
                        ("PPOutcome", "X"),
                    ])
                ),
            )],
        },
        Kid {
            id: "C3",
            birth: "2012-09-03",
            sex: "M",
            ethnicity: "APKN",
            episodes: vec![episode(
                "2026-01-07",
                &format!(
                    "<ChildProtectionPlans><CPPstartDate>2026-12-01</CPPstartDate>\
                     <InitialCategoryOfAbuse>SAB</InitialCategoryOfAbuse>\
                     <NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>{}{}",
                    pp(&[
                        ("PPStartDate", "2026-06-01"),
                        ("LBPSentDate", "2026-06-15"),
                        ("FGDMMeetingOffer", "1"),
                        ("FGDMMeetingFac", "0"),
                        ("InitialPPMeetingDate", "2026-07-20"),
                        ("ReviewMeetingsCount", "3"),
                        ("StepDecisionDate", "2027-01-11"),
                        ("PPOutcome", "C"),
                    ]),
                    pp(&[
                        ("PPStartDate", "2026-11-02"),
                        ("LBPSentDate", "2026-11-09"),
                        ("InitialPPMeetingDate", "2026-11-16"),
                        ("StepDecisionDate", "2026-12-14"),
                        ("PPOutcome", "B"),
                    ])
                ),
            )],
        },
        Kid {
            id: "C5",
            birth: "2010-02-11",
            sex: "F",
            ethnicity: "MWBC",
            episodes: vec![episode(
                "2026-01-09",
                &pp(&[
                    ("PPStartDate", "2026-09-07"),
                    ("LBPSentDate", "2026-09-14"),
                    ("FGDMMeetingOffer", "1"),
                    ("FGDMMeetingFac", "0"),
                    ("InitialPPMeetingDate", "2026-09-28"),
                    ("ReviewMeetingsCount", "2"),
                ]),
            )],
        },
    ];
    let xml_dir = dir.join("xml");
    let csv_dir = dir.join("csv");
    std::fs::create_dir_all(&xml_dir).unwrap();
    std::fs::create_dir_all(&csv_dir).unwrap();
    write(
        &xml_dir,
        "cin_940_2027.xml",
        &census("940", "2027-03-31", &kids),
    );
    for (name, text) in [
        (
            "children.csv",
            "child_id,la_code,birth_month,sex,ethnicity,unborn\n\
             C1,940,2016-05,F,WBRI,N\nC2,940,2024-01,M,BAFR,N\nC3,940,2012-09,M,APKN,N\nC5,940,2010-02,F,MWBC,N\n",
        ),
        (
            "referrals.csv",
            "referral_id,child_id,la_code,received_at,source,referral_nfa,primary_need\n\
             R1,C1,940,2026-01-05,1A,N,N1\nR2,C2,940,2026-01-06,1A,N,N1\n\
             R3,C3,940,2026-01-07,1A,N,N1\nR5,C5,940,2026-01-09,1A,N,N1\n",
        ),
        (
            "cp_plans.csv",
            "plan_id,referral_id,child_id,la_code,start_date,initial_category,latest_category,previous_plans\n\
             P1,R1,C1,940,2026-03-02,NEG,EMO,0\nP2,R2,C2,940,2026-02-10,PHY,,0\nP3,R3,C3,940,2026-12-01,SAB,,0\n",
        ),
        (
            "pre_proceedings.csv",
            "pp_id,referral_id,child_id,la_code,pp_start_date,lbp_sent_date,fgdm_offered,fgdm_facilitated,initial_meeting_date,review_meetings,step_decision_date,outcome,court_application_date,care_proceedings_letter_date\n\
             PP1,R1,C1,940,2026-05-04,2026-05-11,Y,Y,2026-05-18,2,2026-08-10,A,2026-08-20,2026-08-24\n\
             PP2,R2,C2,940,2026-06-01,2026-06-08,N,,2026-06-22,0,2026-07-06,B,,\n\
             PP3,R3,C3,940,2026-06-01,2026-06-15,Y,N,2026-07-20,3,2027-01-11,C,,\n\
             PP5,R5,C5,940,2026-09-07,2026-09-14,Y,N,2026-09-28,2,,,,\n\
             PP6,R2,C2,940,2026-10-05,2026-10-12,Y,Y,2026-10-19,1,2026-11-30,X,,\n\
             PP7,R3,C3,940,2026-11-02,2026-11-09,,,2026-11-16,,2026-12-14,B,,\n",
        ),
        (
            "population.csv",
            "la_code,year,age_0_17\n940,2026,50000\n",
        ),
    ] {
        write(&csv_dir, name, text);
    }
    std::fs::copy(
        csv_dir.join("population.csv"),
        xml_dir.join("population.csv"),
    )
    .unwrap();
    (xml_dir, csv_dir)
}

#[test]
fn the_census_and_the_csv_give_the_same_figures_for_the_same_records() {
    let d = tmp();
    let (xml, csv) = same_records(d.path());
    let (store_xml, store_csv) = (d.path().join("store-xml"), d.path().join("store-csv"));
    let (out_xml, counts_xml) = ingest_ok(&store_xml, &[xml], None);
    let (_, counts_csv) = ingest_ok(&store_csv, &[csv], None);
    assert_eq!(counts_xml["pre_proceedings"], [6, 6, 0, 1], "{out_xml}");
    assert_eq!(counts_csv["pre_proceedings"], [6, 6, 0, 1]);
    let args = ["--year", "2026-27", "--reference-date", "2027-03-31"];
    let (a, summary_xml) = measures(&store_xml, &d.path().join("mx.csv"), &args);
    let (b, _) = measures(&store_csv, &d.path().join("mc.csv"), &args);
    let pp = |t: &BTreeMap<MeasureKey, MeasureValues>| -> BTreeMap<MeasureKey, [i64; 4]> {
        t.iter()
            .filter(|(k, _)| k.0.starts_with("pp_"))
            .map(|(k, v)| (k.clone(), v.counts()))
            .collect()
    };
    let (pa, pb) = (pp(&a), pp(&b));
    assert_eq!(pa, pb, "census vs CSV:\n{summary_xml}");
    // Every pp_ measure is there (none "not measurable"), and a few figures as hand-counted in
    // tests/measures/pp_measures (LA 940's records; the reference date is 31 March 2027 here).
    let ids: BTreeSet<&str> = pa.keys().map(|k| k.0.as_str()).collect();
    for id in [
        "pp_started",
        "pp_started_per_10k",
        "pp_lbp_fgdm_offered",
        "pp_fgdm_facilitated",
        "pp_outcome",
        "pp_duration",
        "pp_to_court",
        "pp_lbp_to_meeting",
    ] {
        assert!(ids.contains(id), "{id} missing: {summary_xml}");
    }
    let none = |id: &str| {
        pa[&(
            id.into(),
            "2026-27".into(),
            "940".into(),
            "NONE".into(),
            String::new(),
        )]
    };
    assert_eq!(none("pp_started"), [6, 6, 0, 0]);
    // Offered: PP1, PP3, PP5, PP6 of six letters, PP7 not recorded.
    assert_eq!(none("pp_lbp_fgdm_offered"), [4, 5, 1, 0]);
    // Facilitated: PP1, PP6; PP3 not; PP5 still open (pending).
    assert_eq!(none("pp_fgdm_facilitated"), [2, 3, 0, 1]);
    // Decided: PP1, PP2, PP3, PP6, PP7; PP5 open at the year end.
    assert_eq!(none("pp_duration"), [5, 5, 0, 1]);
    assert_eq!(none("pp_to_court"), [1, 5, 0, 0]);
    let median = pa[&(
        "pp_duration".into(),
        "2026-27".into(),
        "ALL".into(),
        "statistic".into(),
        "median".into(),
    )];
    assert_eq!(median[0], 5);
    assert_eq!(
        a[&(
            "pp_duration".into(),
            "2026-27".into(),
            "ALL".into(),
            "statistic".into(),
            "median".into(),
        )]
            .value,
        Some(56.0)
    );
    // The stored rows agree too, column by column (ids and provenance apart).
    let rows = |store: &Path| -> BTreeSet<Vec<String>> {
        let t = read_table(store, "pre_proceedings");
        (0..t.height())
            .map(|i| {
                [
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
                ]
                .iter()
                .map(|c| cell(&t, c, i))
                .collect()
            })
            .collect()
    };
    assert_eq!(rows(&store_xml), rows(&store_csv));
}

// ---------------------------------------------------------------------------------------------
// synth

#[test]
fn synth_writes_the_module_from_2026_27_with_plausible_mixes() {
    use safeguard::synth::{run, SynthFormat, SynthOptions};
    let d = tmp();
    let opts = |dir: &Path, first_year: i32, format: SynthFormat| SynthOptions {
        out_dir: dir.to_path_buf(),
        first_year,
        years: 2,
        referrals_per_year: 8000,
        seed: 7,
        format,
        ..SynthOptions::default()
    };
    // A window ending in 2025-26: no pre-proceedings at all (the header only).
    let early = d.path().join("early");
    run(&opts(&early, 2024, SynthFormat::Csv)).unwrap();
    let text = std::fs::read_to_string(early.join("pre_proceedings.csv")).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");

    // 2025-26 and 2026-27, both formats.
    let dir = d.path().join("late");
    run(&opts(&dir, 2025, SynthFormat::Both)).unwrap();
    let mut r = csv::Reader::from_path(dir.join("pre_proceedings.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    assert!(rows.len() >= 100, "{} pre-proceedings", rows.len());
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let first = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    assert!(rows
        .iter()
        .all(|x| date(&x[at("pp_start_date")]).is_some_and(|d| d >= first)));
    let share = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    let letters: Vec<&Vec<String>> = rows
        .iter()
        .filter(|x| !x[at("lbp_sent_date")].is_empty())
        .collect();
    let offered = letters
        .iter()
        .filter(|x| x[at("fgdm_offered")] == "Y")
        .count();
    // Most letters offer a meeting once the duty applies.
    let s = share(offered, letters.len());
    assert!((0.8..=0.95).contains(&s), "offered {s}");
    // A minority of offers facilitated (among those ended).
    let ended: Vec<&&Vec<String>> = letters
        .iter()
        .filter(|x| x[at("fgdm_offered")] == "Y" && !x[at("step_decision_date")].is_empty())
        .collect();
    let facilitated = ended
        .iter()
        .filter(|x| x[at("fgdm_facilitated")] == "Y")
        .count();
    let s = share(facilitated, ended.len());
    assert!((0.12..0.45).contains(&s), "facilitated {s}");
    // Weeks to months: every decided one within 14 months, the middle one 4 to 26 weeks.
    let mut days: Vec<i64> = rows
        .iter()
        .filter_map(|x| {
            Some((date(&x[at("step_decision_date")])? - date(&x[at("pp_start_date")])?).num_days())
        })
        .collect();
    days.sort_unstable();
    assert!(!days.is_empty() && days[0] >= 0 && *days.last().unwrap() <= 430);
    let median = days[days.len() / 2];
    assert!((28..=182).contains(&median), "median {median} days");
    // The census files carry the block from the 2026-27 return only, as many as the CSV rows.
    let count = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .matches("<PreProceedingsandFGDM>")
            .count()
    };
    assert_eq!(count("cin_940_2026.xml") + count("cin_941_2026.xml"), 0);
    assert_eq!(
        count("cin_940_2027.xml") + count("cin_941_2027.xml"),
        rows.len()
    );
}
