//! Hostile inputs against the privacy classes of issue 11, through the real binary, in every
//! format (canonical CSV, CIN census XML, Annex A xlsx), all made here (fictional values):
//!
//! - identifiers in unknown columns, elements and headers never reach the store, an output or a
//!   message: the raw layer keeps only its allow-list, and the summary names what it dropped;
//! - values that must never be stored (odd birth-month shapes, a name typed in a date field, an
//!   entity name) are not echoed into rejects, data quality or messages;
//! - implausible values (a date in 9999, an LA code that is not three digits, duplicate headers,
//!   a population of 0) are refused or flagged, and never drive the default year;
//! - a CDOP factor that is free text or a formula is stored as UNCODED, never published.
//!
//! Each test asserts the exit code, read = stored + rejected (the summary parser checks it), the
//! dropped names in the summary, and that no planted value is anywhere
//! (`common::assert_nothing_planted` over the store, the outputs, stdout and stderr).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::annex_a::{one_la_config, write_xlsx, X};
use crate::cin_xml::{col, ingest_with, summary, tmp};
use crate::common::{
    assert_nothing_planted, bin, issues, read_table, stderr, stdout, write, TEST_KEY,
};

/// Ingests with the test key; returns the process output and its stdout / stderr.
fn ingest(store: &Path, files: &[PathBuf], config: Option<&Path>) -> (Output, String, String) {
    let o = ingest_with(store, files, config, true);
    let (out, err) = (stdout(&o), stderr(&o));
    (o, out, err)
}

/// `safeguard measures` on the store (default year unless `extra` says otherwise), writing
/// `out_dir/measures.csv`; returns stdout and the CSV.
fn measures(store: &Path, out_dir: &Path, extra: &[&str]) -> (String, String) {
    std::fs::create_dir_all(out_dir).unwrap();
    let csv = out_dir.join("measures.csv");
    let o = bin()
        .current_dir(store.parent().unwrap())
        .arg("measures")
        .arg("--store")
        .arg(store)
        .arg("--out")
        .arg(&csv)
        .args(extra)
        .output()
        .expect("the binary runs");
    assert_eq!(o.status.code(), Some(0), "measures: {}", stderr(&o));
    (stdout(&o), std::fs::read_to_string(&csv).unwrap())
}

/// The `period` column of a measures CSV, each distinct value once.
fn periods(csv: &str) -> std::collections::BTreeSet<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "period").unwrap();
    lines
        .map(|l| l.split(',').nth(at).unwrap_or("").to_string())
        .collect()
}

/// Asserts that every line of `names` is named in the summary's "dropped ... unknown fields" note
/// of `file`.
fn assert_dropped(out: &str, file: &str, names: &[&str]) {
    let note = out
        .lines()
        .find(|l| l.starts_with(&format!("note: {file}: dropped ")) && l.contains("unknown field"))
        .unwrap_or_else(|| panic!("no dropped-fields note for {file} in\n{out}"));
    for n in names {
        assert!(note.contains(n), "{n} not named in {note:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: identifiers in unknown fields, values that must not be echoed

#[test]
fn csv_identifiers_in_extra_columns_and_odd_values_are_dropped_named_and_never_echoed() {
    let d = tmp();
    let dir = d.path();
    // Extra columns whose names are not on any deny-list, each holding an identifier.
    let extras = [
        "child_dob",
        "d_o_b",
        "unique_pupil_number",
        "ULN",
        "LAchildID",
        "known_as",
        "ni_number",
        "home_street",
        "mosaic_id",
        "Comments",
        "alias",
        "Reason for concern",
        "dob_of_child",
        "pupil_ref",
    ];
    let values = [
        "2013-07-19",
        "19/07/2013",
        "K801200000017",
        "9876543210",
        "LAX-77-QQQ",
        "Zebedee",
        "QQ123456C",
        "17 Nowhere Crescent",
        "MOS-998877",
        "spoke to Aunt Ermintrude",
        "Ziggy Stardustova",
        "mother Prunella Vexworth",
        "2012-02-29",
        "PREF-424242",
    ];
    let mut children = format!("child_id,la_code,birth_month,sex,{}\n", extras.join(","));
    // Odd birth-month shapes, and a name typed in the birth month.
    for (i, bm) in ["19.07.2013", "20130719", "19 July 2013", "Hortensia Blythe"]
        .iter()
        .enumerate()
    {
        children.push_str(&format!("FAKE-C{i},940,{bm},F,{}\n", values.join(",")));
    }
    write(dir, "children.csv", &children);
    // A name in a required date (rejected), in an optional date (flagged), in a code column.
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,decision_at,source,known_as\n\
         R1,FAKE-C0,940,Cornelius Wobblebottom,,1A,Zebedee\n\
         R2,FAKE-C1,940,2024-05-01,Ophelia Thistlewood,1A,\n\
         R3,FAKE-C2,940,2024-05-02,,Smithers,\n\
         R4,FAKE-C3,940,2024-05-03,2024-05-03,6,\n",
    );
    let store = dir.join("store");
    let (o, out, err) = ingest(
        &store,
        &[dir.join("children.csv"), dir.join("referrals.csv")],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let counts = summary(&out); // asserts read = stored + rejected per table
    assert_eq!(counts["children"], [4, 4, 0, 4], "{out}");
    assert_eq!(counts["referrals"], [4, 3, 1, 2], "{out}");
    assert_dropped(&out, "children.csv", &extras);
    assert!(out.contains("dropped 14 unknown fields"), "{out}");
    assert_dropped(&out, "referrals.csv", &["known_as"]);
    // Nothing of the extra columns in the raw layer.
    assert_eq!(read_table(&store, "raw").height(), 0);

    // Rejects and flags name column, row and reason; the values are withheld.
    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_eq!(
        (rej[0].position.as_str(), rej[0].column.as_str()),
        ("line 2", "received_at")
    );
    assert_eq!(rej[0].value, "<withheld: 22 characters>");
    let dq = issues(&store, "data_quality");
    let births: Vec<_> = dq.iter().filter(|i| i.column == "birth_month").collect();
    assert_eq!(births.len(), 4, "{dq:#?}");
    for b in births {
        assert!(b.value.starts_with("<withheld: "), "{b:?}");
        assert_eq!(b.flag, "bad_value");
    }
    let decision = dq.iter().find(|i| i.column == "decision_at").unwrap();
    assert_eq!(decision.value, "<withheld: 19 characters>");
    let source = dq.iter().find(|i| i.column == "source").unwrap();
    assert_eq!(source.value, "<withheld: 8 characters>");

    let mut planted: Vec<&str> = values.to_vec();
    planted.extend([
        "19.07.2013",
        "20130719",
        "19 July 2013",
        "Hortensia",
        "Cornelius",
        "Wobblebottom",
        "Ophelia",
        "Smithers",
        "FAKE-C",
    ]);
    let out_dir = dir.join("out");
    let (m_out, _) = measures(&store, &out_dir, &["--year", "2024-25"]);
    assert_nothing_planted(&[&store, &out_dir], &[&out, &err, &m_out], &planted);
}

/// A fictional CIN census return with identifiers planted in unknown elements everywhere,
/// odd birth dates, a name in a date, and a name in an allow-listed item.
fn hostile_cin_return() -> String {
    let child = |id: &str, birth: &str, referral: &str| {
        format!(
            "    <Child>\n      <ChildIdentifiers><LAchildID>{id}</LAchildID><UPN>K801200000017</UPN><UPNunknown>UN3</UPNunknown><PersonBirthDate>{birth}</PersonBirthDate><Sex>F</Sex><KnownAs>Zebedee</KnownAs><ChildDOB>2013-07-19</ChildDOB><PersonDOB>19/07/2013</PersonDOB><UniquePupilNumber>K801200000018</UniquePupilNumber><Alias>Ziggy Stardustova</Alias></ChildIdentifiers>\n      <ChildCharacteristics><Ethnicity>WBRI</Ethnicity><Disabilities><Disability>HEAR</Disability><Notes>deaf since Grandma Ethelinda</Notes></Disabilities><Religion>Pastafarian Quux</Religion></ChildCharacteristics>\n      <Notes>lives with Uncle Barnabus</Notes>\n      <CINdetails>\n        <CINreferralDate>{referral}</CINreferralDate><ReferralSource>6</ReferralSource><ReferralNFA>false</ReferralNFA><CaseNotes>Mother: Prunella Vexworth</CaseNotes><Comments>called by Mr Quibble</Comments>\n        <CINPlanDates><CINPlanStartDate>Gertrude Plumtree</CINPlanStartDate><CINPlanEndDate>2024-02-01</CINPlanEndDate><Notes>plan by Osbert Figg</Notes></CINPlanDates>\n        <FamilyDetails><MotherName>Prunella Vexworth</MotherName></FamilyDetails>\n        <Assessments><AssessmentActualStartDate>2023-06-02</AssessmentActualStartDate><AssessmentInternalReviewDate>2023-06-20</AssessmentInternalReviewDate><Comments>seen by Dr Nimbleworth</Comments><FactorsIdentifiedAtAssessment><AssessmentFactors>1A</AssessmentFactors><Remark>Aunt Ermintrude</Remark></FactorsIdentifiedAtAssessment></Assessments>\n      </CINdetails>\n    </Child>\n"
        )
    };
    let mut children = String::new();
    for (i, (birth, referral)) in [
        ("19.07.2013", "2023-06-01"),
        ("20130719", "2023-06-01"),
        ("19 July 2013", "2023-06-01"),
        ("2013-07-19", "Cornelius Wobblebottom"),
    ]
    .iter()
    .enumerate()
    {
        children.push_str(&child(&format!("FAKE-X{i}"), birth, referral));
    }
    format!(
        "<Message>\n  <Header>\n    <CollectionDetails>\n      <Collection>CIN</Collection>\n      <Year>2024</Year>\n      <ReferenceDate>2024-03-31</ReferenceDate>\n      <Comments>prepared by Hyacinth Bucketworth</Comments>\n    </CollectionDetails>\n    <Source>\n      <SourceLevel>L</SourceLevel>\n      <LEA>999</LEA>\n      <SoftwareCode>test fixture</SoftwareCode>\n      <Notes>contact Mr Quibble</Notes>\n    </Source>\n    <Preparer><Name>Hyacinth Bucketworth</Name></Preparer>\n  </Header>\n  <Children>\n{children}  </Children>\n</Message>\n"
    )
}

#[test]
fn cin_identifiers_in_unknown_elements_and_odd_values_are_dropped_named_and_never_echoed() {
    let d = tmp();
    let f = write(d.path(), "hostile_cin.xml", &hostile_cin_return());
    let store = d.path().join("store");
    let (o, out, err) = ingest(&store, &[f], None);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let counts = summary(&out);
    // Four children, each with a flagged birth month (three odd shapes; the fourth is a date);
    // the fourth's referral has a name for its date: rejected.
    assert_eq!(counts["children"], [4, 4, 0, 3], "{out}");
    assert_eq!(counts["referrals"], [4, 3, 1, 0], "{out}");
    // (The orphan flag of the assessment whose referral was rejected is a link flag: in the data
    // quality table, not in the summary's per-row flag count.)
    assert_eq!(counts["assessments"], [4, 4, 0, 0], "{out}");
    assert_dropped(
        &out,
        "hostile_cin.xml",
        &[
            "ChildIdentifiers/KnownAs",
            "ChildIdentifiers/ChildDOB",
            "ChildIdentifiers/PersonDOB",
            "ChildIdentifiers/UniquePupilNumber",
            "ChildIdentifiers/Alias",
            "Disabilities/Notes",
            "ChildCharacteristics/Religion",
            "Child/Notes",
            "CINdetails/CaseNotes",
            "CINdetails/Comments",
            "CINPlanDates/Notes",
            "CINdetails/FamilyDetails",
            "Assessments/Comments",
            "FactorsIdentifiedAtAssessment/Remark",
            "CollectionDetails/Comments",
            "Source/Notes",
            "Header/Preparer",
        ],
    );
    assert!(out.contains("dropped 17 unknown fields"), "{out}");
    // The name in the allow-listed CINPlanStartDate is not a date: dropped, counted by name.
    assert!(
        out.contains("dropped 4 value(s) of known fields not in the field's expected shape (not stored): CINPlanDates/CINPlanStartDate (4)"),
        "{out}"
    );

    // The raw layer holds only allow-listed items, in their shapes.
    let raw = read_table(&store, "raw");
    let fields: std::collections::BTreeSet<String> = col(&raw, "field").into_iter().collect();
    let want: std::collections::BTreeSet<String> = [
        "Year",
        "SourceLevel",
        "SoftwareCode",
        "UPNunknown",
        "Disability",
        "CINPlanEndDate",
        "AssessmentInternalReviewDate",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(fields, want, "{raw}");

    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_eq!(rej[0].column, "CINreferralDate (received_at)");
    assert_eq!(rej[0].position, "Child[4]/CINdetails[1]");
    assert_eq!(rej[0].value, "<withheld: 22 characters>");
    for b in issues(&store, "data_quality")
        .iter()
        .filter(|i| i.table == "children")
    {
        assert_eq!(b.column, "PersonBirthDate (birth_month)");
        assert!(b.value.starts_with("<withheld: "), "{b:?}");
    }
    // The assessment of the rejected referral hangs off a `baddate` id, never the text.
    let a = read_table(&store, "assessments");
    assert!(
        col(&a, "referral_id")
            .iter()
            .any(|r| r.contains("-baddate-1")),
        "{a}"
    );

    let planted = [
        "Zebedee",
        "2013-07-19",
        "19/07/2013",
        "19.07.2013",
        "20130719",
        "19 July 2013",
        "K801200000017",
        "K801200000018",
        "Ziggy",
        "Ethelinda",
        "Pastafarian",
        "Barnabus",
        "Prunella",
        "Vexworth",
        "Quibble",
        "Gertrude",
        "Plumtree",
        "Osbert",
        "Nimbleworth",
        "Ermintrude",
        "Hyacinth",
        "Bucketworth",
        "Cornelius",
        "Wobblebottom",
        "FAKE-X",
    ];
    let out_dir = d.path().join("out");
    let (m_out, _) = measures(&store, &out_dir, &[]);
    assert_nothing_planted(&[&store, &out_dir], &[&out, &err, &m_out], &planted);
}

#[test]
fn an_entity_or_a_name_in_a_broken_cin_file_is_not_quoted_in_the_error() {
    let d = tmp();
    let good = hostile_cin_return();
    for (name, text) in [
        // An undeclared entity carrying a name.
        (
            "entity.xml",
            good.replace("<Sex>F</Sex>", "<Sex>&ZebedeeQuartermaine;</Sex>"),
        ),
        // A mismatched end tag named after a person.
        (
            "mismatch.xml",
            good.replacen("</Alias>", "</ZebedeeQuartermaine>", 1),
        ),
        // A name in the LEA: the file is refused, the name not quoted.
        (
            "lea.xml",
            good.replace("<LEA>999</LEA>", "<LEA>Zebedee Quartermaine</LEA>"),
        ),
        // A year the calendar does not have.
        (
            "refdate.xml",
            good.replace(
                "<ReferenceDate>2024-03-31<",
                "<ReferenceDate>Zebedee Quartermaine<",
            ),
        ),
    ] {
        let f = write(d.path(), name, &text);
        let store = d.path().join(format!("store-{name}"));
        let (o, out, err) = ingest(&store, &[f], None);
        assert_eq!(o.status.code(), Some(1), "{name}: {out}\n{err}");
        assert!(err.contains(name), "{name}: {err}");
        assert_nothing_planted(&[], &[&out, &err], &["Zebedee", "Quartermaine"]);
        if name == "lea.xml" {
            assert!(
                err.contains("Header/Source/LEA '<withheld: 20 characters>' is not an LA code"),
                "{err}"
            );
        }
    }
}

#[test]
fn annex_a_identifiers_in_unknown_headers_and_odd_values_are_dropped_named_and_never_echoed() {
    use X::{N, S};
    let d = tmp();
    let cfg = one_la_config(d.path());
    let wb = write_xlsx(
        d.path(),
        "hostile_annex_a.xlsx",
        &[
            (
                "List 1",
                vec![
                    vec![
                        S("Child Unique ID"),
                        S("Gender"),
                        S("Date of Birth"),
                        S("Date of Contact"),
                        S("Contact Source"),
                        S("Child's DOB"),
                        S("D.O.B."),
                        S("Unique Pupil Number"),
                        S("Case Notes"),
                        S("Known As"),
                        S("Mother's Name"),
                        S("Home Street"),
                    ],
                    vec![
                        S("FAKE-AA1"),
                        S("Female"),
                        S("19.07.2013"),
                        S("01/09/2023"),
                        S("6"),
                        S("19/07/2013"),
                        S("2013-07-19"),
                        S("K801200000017"),
                        S("seen with Aunt Ermintrude"),
                        S("Zebedee"),
                        S("Prunella Vexworth"),
                        S("17 Nowhere Crescent"),
                    ],
                    vec![
                        S("FAKE-AA2"),
                        S("Male"),
                        S("19 July 2013"),
                        S("Cornelius Wobblebottom"),
                        S("Smithers"),
                        N(41474.0),
                        S("x"),
                        S("K801200000018"),
                        S("Osbert Figg called"),
                        S("Ziggy"),
                        S("Gertrude Plumtree"),
                        S("Flat 9"),
                    ],
                    vec![
                        S("FAKE-AA3"),
                        S("Hortensia Blythe"),
                        S("20130719"),
                        S("02/09/2023"),
                        S("6"),
                        S("x"),
                        S("x"),
                        S("x"),
                        S("x"),
                        S("x"),
                        S("x"),
                        S("x"),
                    ],
                ],
            ),
            (
                // `Agency worker name` would match List 2's loose organisation pattern: an
                // identifying-looking header is never mapped.
                "List 2",
                vec![
                    vec![
                        S("Child Unique ID"),
                        S("Assessment start date"),
                        S("Agency worker name"),
                        S("Organisation completing assessment"),
                    ],
                    vec![
                        S("FAKE-AA1"),
                        S("04/09/2023"),
                        S("Barnabus Crump"),
                        S("Health visiting"),
                    ],
                ],
            ),
            (
                "List 6",
                vec![
                    vec![
                        S("Child Unique ID"),
                        S("Gender"),
                        S("CIN Start Date"),
                        S("Primary Need Code"),
                        S("Date Child Was Last Seen"),
                        S("Case Status"),
                        S("Worker's Notes"),
                    ],
                    vec![
                        S("FAKE-AA1"),
                        S("Female"),
                        S("01/09/2023"),
                        S("N1"),
                        S("Nimbleworth"),
                        S("c) Child in need plan"),
                        S("Dr Quibble says"),
                    ],
                ],
            ),
        ],
    );
    let store = d.path().join("store");
    let (o, out, err) = ingest(&store, &[wb], Some(&cfg));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let counts = summary(&out);
    // Contacts: the name in Date of Contact is rejected. Children: three, each birth month
    // flagged (odd shapes), and the third's gender flagged.
    assert_eq!(counts["contacts"], [3, 2, 1, 0], "{out}");
    assert_eq!(counts["early_help"], [1, 1, 0, 0], "{out}");
    assert_eq!(
        col(&read_table(&store, "early_help"), "lead_agency"),
        ["Health visiting"]
    );
    assert_eq!(counts["children"], [3, 3, 0, 3], "{out}");
    assert_eq!(counts["referrals"], [1, 1, 0, 0], "{out}");
    assert_dropped(
        &out,
        "hostile_annex_a.xlsx",
        &[
            "Child's DOB",
            "D.O.B.",
            "Unique Pupil Number",
            "Case Notes",
            "Known As",
            "Mother's Name",
            "Home Street",
            "Worker's Notes",
            "Agency worker name",
        ],
    );
    assert!(out.contains("dropped 9 unknown fields"), "{out}");
    // The allow-listed Case Status is kept; the name in Date Child Was Last Seen is not a date.
    let raw = read_table(&store, "raw");
    assert_eq!(col(&raw, "field"), ["Case Status"], "{raw}");
    assert!(out.contains("List 6/Date Child Was Last Seen (1)"), "{out}");
    // No lead agency or any other column took the worker's name.
    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_eq!(rej[0].position, "List 1 row 3");
    assert_eq!(rej[0].value, "<withheld: 22 characters>");
    let dq = issues(&store, "data_quality");
    for i in &dq {
        assert!(
            i.value.is_empty() || i.value.starts_with("<withheld: ") || i.value == "N1",
            "{i:?}"
        );
    }
    let planted = [
        "19.07.2013",
        "19/07/2013",
        "2013-07-19",
        "19 July 2013",
        "20130719",
        "K801200000017",
        "K801200000018",
        "Ermintrude",
        "Zebedee",
        "Prunella",
        "Vexworth",
        "Nowhere Crescent",
        "Cornelius",
        "Wobblebottom",
        "Smithers",
        "Osbert",
        "Ziggy",
        "Gertrude",
        "Hortensia",
        "Nimbleworth",
        "Quibble",
        "Barnabus",
        "FAKE-AA",
    ];
    let out_dir = d.path().join("out");
    let (m_out, _) = measures(&store, &out_dir, &[]);
    assert_nothing_planted(&[&store, &out_dir], &[&out, &err, &m_out], &planted);
}

// ---------------------------------------------------------------------------------------------
// 6: implausible values

#[test]
fn a_date_in_9999_is_flagged_or_rejected_and_never_drives_the_default_year() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,closure_date,closure_reason\n\
         R1,P1,940,2024-06-03,,\n\
         R2,P2,940,9999-12-31,,\n\
         R3,P3,940,2024-06-04,9999-12-31,RC7\n\
         R4,P4,940,1899-12-31,,\n\
         R5,P5,940,2023-10-02,,\n",
    );
    let store = dir.join("store");
    let (o, out, err) = ingest(&store, &[dir.join("referrals.csv")], None);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(summary(&out)["referrals"], [5, 3, 2, 1], "{out}");
    let rej = issues(&store, "rejects");
    assert_eq!(rej.len(), 2);
    for r in &rej {
        assert!(
            r.reason.contains("outside the calendar's years 1990-2040"),
            "{r:?}"
        );
    }
    let dq = issues(&store, "data_quality");
    let closure = dq.iter().find(|i| i.column == "closure_date").unwrap();
    assert_eq!(closure.value, "9999-12-31");
    assert!(
        closure.reason.contains("outside the calendar's years"),
        "{closure:?}"
    );
    // The default year comes from the latest plausible date, 2024-06-04: 2023-24 (R5's year).
    let (m_out, csv) = measures(&store, &dir.join("out"), &[]);
    assert!(m_out.contains("reference date: 2024-06-04"), "{m_out}");
    assert_eq!(periods(&csv).into_iter().collect::<Vec<_>>(), ["2023-24"]);
    assert!(!m_out.contains("9998") && !csv.contains("9998"), "{m_out}");
}

#[test]
fn a_cin_reference_date_in_9999_is_a_file_error_and_the_default_year_is_unchanged() {
    let d = tmp();
    let good = hostile_cin_return();
    let f1 = write(d.path(), "cin_2024.xml", &good);
    let store = d.path().join("store");
    let (o, out, err) = ingest(&store, &[f1], None);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let f2 = write(
        d.path(),
        "cin_9999.xml",
        &good
            .replace("2024-03-31", "9999-03-31")
            .replace("FAKE-X", "FAKE-Y"),
    );
    let (o, out, err) = ingest(&store, &[f2], None);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("cin_9999.xml:6:")
            && err.contains("Header/CollectionDetails/ReferenceDate 9999-03-31 is outside the calendar's years 1990-2040"),
        "{err}"
    );
    assert!(!col(&read_table(&store, "children"), "source_file")
        .iter()
        .any(|f| f == "cin_9999.xml"));
    let (m_out, csv) = measures(&store, &d.path().join("out"), &[]);
    assert!(m_out.contains("reference date: 2024-03-31"), "{m_out}");
    assert_eq!(periods(&csv).into_iter().collect::<Vec<_>>(), ["2023-24"]);
}

#[test]
fn an_la_code_is_three_digits_in_every_format() {
    let d = tmp();
    let dir = d.path();
    // CSV: ABC, 94, a NUL byte, a name: each a required-column reject, the value withheld unless
    // it is a short number.
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at\n\
         R1,P1,940,2024-06-03\n\
         R2,P2,ABC,2024-06-03\n\
         R3,P3,94,2024-06-03\n\
         R4,P4,9\u{0}4,2024-06-03\n\
         R5,P5,Zebedee Quartermaine,2024-06-03\n\
         R6,P6,9400,2024-06-03\n",
    );
    let store = dir.join("store");
    let (o, out, err) = ingest(&store, &[dir.join("referrals.csv")], None);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(summary(&out)["referrals"], [6, 1, 5, 0], "{out}");
    let rej = issues(&store, "rejects");
    let shown: Vec<(&str, &str)> = rej
        .iter()
        .map(|r| (r.position.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("line 3", "<withheld: 3 characters>"),
            ("line 4", "94"),
            ("line 5", "<withheld: 3 characters>"),
            ("line 6", "<withheld: 20 characters>"),
            ("line 7", "<withheld: 4 characters>"),
        ]
    );
    assert!(rej
        .iter()
        .all(|r| r.column == "la_code" && r.reason.contains("three-digit")));
    assert_eq!(col(&read_table(&store, "referrals"), "la_code"), ["940"]);
    assert_nothing_planted(&[&store], &[&out, &err], &["Zebedee", "Quartermaine"]);

    // --la and the config's only LA (Annex A).
    let wb = write_xlsx(
        dir,
        "annex.xlsx",
        &[(
            "List 1",
            vec![
                vec![X::S("Child Unique ID"), X::S("Date of Contact")],
                vec![X::S("FAKE-L1"), X::S("01/09/2023")],
            ],
        )],
    );
    let o = bin()
        .env("SAFEGUARD_KEY", TEST_KEY)
        .current_dir(dir)
        .args(["ingest", "annex.xlsx", "--store", "s2", "--la", "Zebedee"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--la '<withheld: 7 characters>'"),
        "{}",
        stderr(&o)
    );
    let cfg = write(
        dir,
        "bad_la.toml",
        "[[la]]\ncode = \"94\"\nname = \"Fictional\"\n",
    );
    let (o, out, err) = ingest(&dir.join("s3"), &[wb], Some(&cfg));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("94") && err.contains("LA"), "{err}");
}

#[test]
fn duplicate_headers_are_a_file_error_naming_both_columns() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "referrals.csv",
        "referral_id,child_id,la_code,received_at,Received At\n\
         R1,P1,940,2024-06-03,2030-01-01\n",
    );
    let (o, out, err) = ingest(&dir.join("store"), &[dir.join("referrals.csv")], None);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("referrals.csv:1:5:")
            && err.contains("'received_at' (column 4) and 'Received At' (column 5)"),
        "{err}"
    );
    assert!(!dir.join("store").join("CURRENT").exists());

    let cfg = one_la_config(dir);
    let wb = write_xlsx(
        dir,
        "dup.xlsx",
        &[(
            "List 1",
            vec![
                vec![
                    X::S("Child Unique ID"),
                    X::S("Date of Contact"),
                    X::S("Contact Source"),
                    X::S("contact  source"),
                ],
                vec![X::S("FAKE-D1"), X::S("01/09/2023"), X::S("6"), X::S("2A")],
            ],
        )],
    );
    let (o, out, err) = ingest(&dir.join("store2"), &[wb], Some(&cfg));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("sheet 'List 1' cell D1")
            && err.contains("'Contact Source' (cell C1) and 'contact  source' (cell D1)"),
        "{err}"
    );
}

#[test]
fn a_population_must_be_a_positive_whole_number() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "population.csv",
        "la_code,year,age_0_17\n940,2021,0\n940,2022,-5\n940,2023,many\n940,2024,78100\n",
    );
    let store = dir.join("store");
    let (o, out, err) = ingest(&store, &[dir.join("population.csv")], None);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(summary(&out)["population"], [4, 1, 3, 0], "{out}");
    let rej = issues(&store, "rejects");
    assert_eq!(
        rej.iter()
            .map(|r| (r.position.as_str(), r.value.as_str()))
            .collect::<Vec<_>>(),
        [
            ("line 2", "0"),
            ("line 3", "-5"),
            ("line 4", "<withheld: 4 characters>")
        ]
    );
    assert_eq!(col(&read_table(&store, "population"), "year"), ["2024"]);
}

// ---------------------------------------------------------------------------------------------
// 8: CDOP factors

#[test]
fn a_cdop_factor_that_is_free_text_or_a_formula_is_stored_as_uncoded_and_never_published() {
    let d = tmp();
    let dir = d.path();
    write(
        dir,
        "cdop_reviews.csv",
        "case_id,cdop_code,la_code,date_of_death,notified_date,age_at_death_days,category,modifiable,review_completed_date\n\
         CASE-1,CDOP-T,940,2024-05-01,2024-05-02,400,3,IDENTIFIED,2024-11-01\n\
         CASE-2,CDOP-T,940,2024-06-01,2024-06-02,900,3,IDENTIFIED,2024-12-01\n",
    );
    write(
        dir,
        "cdop_factors.csv",
        "case_id,domain,factor,grade\n\
         CASE-1,B,Zebedee Quartermaine,2\n\
         CASE-1,C,\"=HYPERLINK(\"\"x\"\")\",2\n\
         CASE-1,D,road safety,2\n\
         CASE-2,B,ZEBEDEE_QUARTERMAINE,2\n\
         CASE-2,C,B12,2\n",
    );
    let store = dir.join("store");
    let (o, out, err) = ingest(
        &store,
        &[dir.join("cdop_reviews.csv"), dir.join("cdop_factors.csv")],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(summary(&out)["cdop_factors"], [5, 5, 0, 3], "{out}");
    let f = read_table(&store, "cdop_factors");
    assert_eq!(
        col(&f, "factor"),
        ["UNCODED", "UNCODED", "ROAD_SAFETY", "UNCODED", "B12"]
    );
    let dq = issues(&store, "data_quality");
    let uncoded: Vec<_> = dq.iter().filter(|i| i.flag == "uncoded_factor").collect();
    assert_eq!(uncoded.len(), 3, "{dq:#?}");
    for i in uncoded {
        assert_eq!(i.column, "factor");
        assert!(i.value.starts_with("<withheld: "), "{i:?}");
    }
    let out_dir = dir.join("out");
    let (m_out, csv) = measures(&store, &out_dir, &["--year", "2024-25"]);
    assert!(
        csv.contains("B|UNCODED") && csv.contains("D|ROAD_SAFETY"),
        "{csv}"
    );
    assert_nothing_planted(
        &[&store, &out_dir],
        &[&out, &err, &m_out],
        &["Zebedee", "Quartermaine", "HYPERLINK"],
    );
}

// ---------------------------------------------------------------------------------------------
// 5 (raw layer part): raw fields are bounded and count inside the spill budget

#[test]
fn ten_thousand_extra_columns_keep_nothing_and_raw_fields_spill_with_the_rows() {
    let d = tmp();
    let dir = d.path();
    // 10,000 extra columns: none kept, named in the summary (30, then how many more).
    let mut header = String::from("referral_id,child_id,la_code,received_at");
    let mut row = String::from("R1,P1,940,2024-06-03");
    for i in 0..10_000 {
        header.push_str(&format!(",extra_{i:05}"));
        row.push_str(",Zebedee");
    }
    write(dir, "wide.csv", &format!("{header}\n{row}\n{row}\n"));
    let store = dir.join("store");
    let (o, out, err) = ingest(&store, &[dir.join("wide.csv")], None);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(summary(&out)["referrals"], [2, 1, 1, 0]);
    assert!(
        out.contains("dropped 10000 unknown fields: extra_00000, extra_00001")
            && out.contains("and 9970 more"),
        "{out}"
    );
    assert_eq!(read_table(&store, "raw").height(), 0);

    // Raw fields count towards the spill budget: with a budget of 2 rows, a return whose raw
    // fields outnumber its rows spills and still keeps every allow-listed field.
    let f = write(dir, "cin.xml", &hostile_cin_return());
    let store = dir.join("store-cin");
    let o = bin()
        .env("SAFEGUARD_KEY", TEST_KEY)
        .env("SAFEGUARD_INGEST_BUFFER_ROWS", "2")
        .env("SAFEGUARD_TIMING", "1")
        .current_dir(dir)
        .arg("ingest")
        .arg(&f)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let spills: usize = stderr(&o)
        .split(", ")
        .find_map(|p| {
            p.strip_suffix(" spill file(s)")
                .and_then(|n| n.parse().ok())
        })
        .expect("timing line");
    assert!(spills > 0, "{}", stderr(&o));
    // Per child: UPNunknown, Disability, CINPlanEndDate, AssessmentInternalReviewDate; and the
    // header's Year, SourceLevel and SoftwareCode.
    assert_eq!(read_table(&store, "raw").height(), 4 * 4 + 3);
}

// ---------------------------------------------------------------------------------------------
// the rules themselves (the library's functions: the crate runs no unit tests of its own)

#[test]
fn the_echo_rule_shows_only_safe_kinds_and_shapes() {
    use safeguard::ingest::privacy::{echo_for, field_name, scrub, shown, withheld, Echo};
    use safeguard::schema::Kind;
    assert_eq!(shown(Echo::Date, "2024/04/01"), "2024/04/01");
    assert_eq!(shown(Echo::Date, "2024-04-01T08:00"), "2024-04-01T08:00");
    assert_eq!(
        shown(Echo::Date, "19 July 2013"),
        "<withheld: 12 characters>"
    );
    assert_eq!(shown(Echo::Date, "Jane Doe"), "<withheld: 8 characters>");
    assert_eq!(shown(Echo::Number, "7"), "7");
    assert_eq!(shown(Echo::Number, "9434765919"), withheld("9434765919"));
    assert_eq!(shown(Echo::Number, "lots"), withheld("lots"));
    assert_eq!(shown(Echo::Code, "1A;99Z"), "1A;99Z");
    assert_eq!(shown(Echo::Code, "Smith"), withheld("Smith"));
    assert_eq!(shown(Echo::Code, "SMITH"), withheld("SMITH"));
    assert_eq!(shown(Echo::Code, "ZZ"), "ZZ");
    assert_eq!(shown(Echo::Code, "SSDA903"), "SSDA903");
    assert_eq!(
        shown(Echo::Code, "=HYPERLINK(1)"),
        withheld("=HYPERLINK(1)")
    );
    assert_eq!(shown(Echo::LaCode, "94"), "94");
    assert_eq!(shown(Echo::LaCode, "ABC"), withheld("ABC"));
    assert_eq!(shown(Echo::Never, "R1"), withheld("R1"));
    assert_eq!(shown(Echo::Never, ""), "");
    // Birth months, ids and free text are never shown, whatever they look like.
    for kind in [
        Kind::YearMonth,
        Kind::Id,
        Kind::ChildId,
        Kind::Text,
        Kind::Factor,
    ] {
        assert_eq!(echo_for(kind), Echo::Never, "{kind:?}");
    }

    assert_eq!(field_name(" a\u{0}b\tc\n "), "ab c");
    assert_eq!(field_name("Child  Unique ID"), "Child  Unique ID");
    assert_eq!(field_name(&"x".repeat(100)).len(), 63);
    assert_eq!(field_name(""), "(unnamed)");
    assert_eq!(
        scrub("at 3..9: unrecognized entity `JaneDoe`"),
        "at 3..9: unrecognized entity <withheld>"
    );
    assert_eq!(
        scrub("expected `</Name>`, but `</Other>` was found"),
        "expected <withheld>, but <withheld> was found"
    );
    assert_eq!(
        scrub("can't read 'Jane Doe' here"),
        "can't read <withheld> here"
    );
}

#[test]
fn raw_values_are_kept_only_in_their_shape_and_only_known_fields_are_listed() {
    use safeguard::ingest::raw_allow::{annex_a, cin, cin_block, csv, RawKind, DISABILITY};
    assert_eq!(
        RawKind::Date.accept("19/07/2023").as_deref(),
        Some("2023-07-19")
    );
    assert_eq!(RawKind::Date.accept("9999-12-31"), None);
    assert_eq!(RawKind::Date.accept("Jane Doe"), None);
    assert_eq!(RawKind::Count.accept("3").as_deref(), Some("3"));
    assert_eq!(RawKind::Count.accept("9434765919"), None);
    assert_eq!(RawKind::YesNo.accept("a) Yes").as_deref(), Some("Y"));
    assert_eq!(RawKind::ShortCode.accept("UN3").as_deref(), Some("UN3"));
    assert_eq!(RawKind::ShortCode.accept("Jane"), None);
    assert_eq!(
        RawKind::OneOf(DISABILITY).accept("hear").as_deref(),
        Some("HEAR")
    );
    assert_eq!(
        RawKind::Label.accept("ver 3.1.21").as_deref(),
        Some("ver 3.1.21")
    );
    assert_eq!(RawKind::Label.accept("=HYPERLINK(\"x\")"), None);
    assert_eq!(RawKind::Label.accept("someone@example.org"), None);
    assert_eq!(RawKind::Label.accept(&"x".repeat(61)), None);

    assert!(cin("Source", "SoftwareCode").is_some());
    assert!(cin("ChildIdentifiers", "UPN").is_none());
    assert!(cin("ChildIdentifiers", "KnownAs").is_none());
    assert!(cin_block("CINdetails", "CINPlanDates"));
    // Mapped to the pre_proceedings table, so not a raw block.
    assert!(!cin_block("CINdetails", "PreProceedingsandFGDM"));
    assert!(!cin_block("CINdetails", "FamilyDetails"));
    assert!(annex_a(6, "case status").is_some());
    assert!(annex_a(3, "allocated worker").is_none());
    assert!(csv("referrals", "allocated_team").is_none());
}

#[test]
fn every_factor_of_the_synthetic_data_and_the_samples_is_a_code_and_free_text_is_not() {
    use safeguard::schema::{factor_code, is_la_code};
    let d = tmp();
    safeguard::synth::run(&safeguard::synth::SynthOptions {
        out_dir: d.path().to_path_buf(),
        referrals_per_year: 300,
        years: 4,
        first_year: 2021,
        seed: 11,
        cdop_deaths_per_year: 60,
        ..safeguard::synth::SynthOptions::default()
    })
    .expect("synth runs");
    let mut files = vec![d.path().join("cdop_factors.csv")];
    for sample in ["940-cin-census", "941-case-system"] {
        files.push(
            crate::common::root()
                .join("data-samples")
                .join(sample)
                .join("cdop_factors.csv"),
        );
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut n = 0;
        for line in text.lines().skip(1) {
            let factor = line.split(',').nth(2).unwrap();
            assert_eq!(
                factor_code(factor).as_deref(),
                Some(factor),
                "{}",
                f.display()
            );
            n += 1;
        }
        assert!(n > 0, "{}", f.display());
    }
    assert_eq!(factor_code("unsafe sleep").as_deref(), Some("UNSAFE_SLEEP"));
    assert_eq!(factor_code("b12").as_deref(), Some("B12"));
    for free in ["Jane Doe", "=HYPERLINK(\"x\")", "JANE_DOE", "see notes"] {
        assert_eq!(factor_code(free), None, "{free}");
    }
    assert!(is_la_code("940"));
    for bad in ["94", "ABC", "9400", "94\u{0}", " 940"] {
        assert!(!is_la_code(bad), "{bad:?}");
    }
}
