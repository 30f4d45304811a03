//! `safeguard ingest` on Ofsted Annex A workbooks, through the real binary: the three conformance
//! workbooks (counts worked out by hand from the sheets), value and header variants, the LA and
//! key requirements, one pseudonym across formats, and identifiers kept out of the store.
//!
//! Annex A does not name its LA: these tests give a config with one LA (`201`, the dummy LA of
//! the conformance CIN files), which ingest uses as the default LA.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use calamine::{open_workbook, Data, Reader, Xlsx};

use crate::cin_xml::{
    assert_counts, assert_nowhere, assert_row, cell, cin_identifiers, col, ingest_ok, ingest_with,
    issues, keyed, row_where, rows_where, snapshot, tmp,
};
use crate::common::{conformance, read_table, stderr, write};

const WORKBOOKS: &[&str] = &[
    "liia-tools-pipeline/Annex_A_2024_Jan.xlsx",
    "liia-tools/Annex_A.xlsx",
    "liia-tools/Annex_A_e1188f5.xlsx",
];

fn annex_dir() -> Option<PathBuf> {
    conformance().map(|c| c.join("annex_a"))
}

/// A config naming one LA, so Annex A rows are filed under it.
pub(crate) fn one_la_config(dir: &Path) -> PathBuf {
    write(
        dir,
        "one_la.toml",
        "partnership = \"Fictional test partnership\"\n\n[[la]]\ncode = \"201\"\nname = \"Fictional LA\"\n",
    )
}

/// Lists 1-7 of all three workbooks hold the same 38 rows for 37 children (README section 4):
/// List 1 5 contacts, List 2 5 early help, List 3 6 referrals, List 4 5 assessments, List 5 5
/// s47s, List 6 5 CIN episodes (none matches a List 3 referral, so 5 more referrals), List 7 7
/// plans of which 5 have a latest review conference date.
const COUNTS: &[(&str, u64, u64, u64)] = &[
    ("contacts", 5, 5, 0),
    ("early_help", 5, 5, 0),
    ("referrals", 11, 11, 0),
    ("assessments", 5, 5, 0),
    ("s47_enquiries", 5, 5, 0),
    ("cp_plans", 7, 7, 0),
    ("cp_reviews", 5, 5, 0),
    ("children", 37, 37, 0),
];

#[test]
fn every_conformance_workbook_is_ingested_with_the_hand_counted_rows() {
    let Some(dir) = annex_dir() else { return };
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flat_map(|s| std::fs::read_dir(s.unwrap().path()).unwrap())
        .map(|f| {
            f.unwrap()
                .path()
                .strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        on_disk,
        WORKBOOKS.iter().map(|s| s.to_string()).collect(),
        "a workbook without expected counts"
    );
    let mut first: Option<Vec<(String, Vec<String>)>> = None;
    for wb in WORKBOOKS {
        let d = tmp();
        let cfg = one_la_config(d.path());
        let store = d.path().join("store");
        let (out, counts) = ingest_ok(&store, &[dir.join(wb)], Some(&cfg));
        assert_counts(wb, &counts, COUNTS);
        assert!(out.contains("(Annex A workbook)"), "{out}");
        assert!(
            out.contains("Lists 8-11 (children in care, care leavers, adoption, adopters) are out of scope: not read"),
            "{out}"
        );
        assert!(issues(&store, "rejects").is_empty(), "{wb}");
        for (t, _, stored, _) in COUNTS {
            let df = read_table(&store, t);
            assert_eq!(df.height() as u64, *stored, "{wb}: {t}");
            if df.column("la_code").is_ok() {
                assert!(col(&df, "la_code").iter().all(|x| x == "201"), "{wb}: {t}");
            }
        }
        // The header variants (pivot-style `Sum of ...`, trailing spaces) give the same rows.
        let tables: Vec<(String, Vec<String>)> = COUNTS
            .iter()
            .map(|(t, ..)| {
                let df = read_table(&store, t);
                let mut rows: Vec<String> = (0..df.height())
                    .map(|i| {
                        df.get_column_names()
                            .iter()
                            .filter(|c| !c.starts_with("source_"))
                            .map(|c| cell(&df, c, i))
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect();
                rows.sort();
                (t.to_string(), rows)
            })
            .collect();
        match &first {
            None => first = Some(tables),
            Some(f) => assert_eq!(f, &tables, "{wb} differs from {}", WORKBOOKS[0]),
        }
    }
}

#[test]
fn annex_a_values_are_mapped_from_prefixed_codes_and_excel_dates() {
    let Some(dir) = annex_dir() else { return };
    let d = tmp();
    let cfg = one_la_config(d.path());
    let store = d.path().join("store");
    ingest_ok(&store, &[dir.join(WORKBOOKS[0])], Some(&cfg));
    let p = |id: &str| keyed().child_id(id);

    // Children: once each, from the common columns; `Female` and `b) Female` alike; the date of
    // birth only as its month; no Age anywhere.
    let ch = read_table(&store, "children");
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("9212044")),
        &[
            ("la_code", "201"),
            ("sex", "F"),
            ("ethnicity", "WBRI"),
            ("birth_month", "2015-01-01"),
            ("unborn", "false"),
            ("source_pos", "List 1 row 2"),
        ],
    );
    // No date of birth (it has an Age): month and unborn unknown.
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("11973218")),
        &[
            ("sex", "F"),
            ("ethnicity", "APKN"),
            ("birth_month", ""),
            ("unborn", ""),
        ],
    );
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("6890906")),
        &[("sex", "U"), ("ethnicity", "NOBT")],
    );
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("11641472")),
        &[("disability", "true")],
    );
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("10692868")),
        &[("disability", "false")],
    );
    assert!(
        ch.get_column_names()
            .iter()
            .all(|c| !c.starts_with("age") && !c.contains("_age")),
        "{ch}"
    );

    // List 1: contacts, id {pseudonym}-C-{date}-{n}, `q) 6: Police` -> 6.
    let c = read_table(&store, "contacts");
    let cid = format!("{}-C-2020-09-16-1", p("9212044"));
    assert_row(
        &c,
        row_where(&c, "contact_id", &cid),
        &[
            ("received_at", "2020-09-16T00:00:00"),
            ("received_at_has_time", "false"),
            ("source", "6"),
        ],
    );
    assert_row(
        &c,
        row_where(&c, "child_id", &p("6217392")),
        &[("source", "1B")],
    );
    assert_row(
        &c,
        row_where(&c, "child_id", &p("13981739")),
        &[("source", "9")],
    );

    // List 2: early help; the assessment completion date is kept in the raw layer, not as the
    // episode's end.
    let eh = read_table(&store, "early_help");
    assert_row(
        &eh,
        row_where(&eh, "child_id", &p("612306")),
        &[
            ("episode_id", &format!("{}-EH-2020-09-16-1", p("612306"))),
            ("start_date", "2020-09-16"),
            ("end_date", ""),
            ("lead_agency", "Top Town Academy"),
        ],
    );

    // List 3: referrals.
    let r = read_table(&store, "referrals");
    let rid = format!("{}-2020-09-16-1", p("6537810"));
    assert_row(
        &r,
        row_where(&r, "referral_id", &rid),
        &[
            ("received_at", "2020-09-16T00:00:00"),
            ("source", "8"),
            ("referral_nfa", "false"),
            ("primary_need", ""),
            ("source_pos", "List 3 row 2"),
        ],
    );
    assert_row(
        &r,
        row_where(&r, "child_id", &p("4653765")),
        &[("source", "3D")],
    );
    assert_row(
        &r,
        row_where(&r, "child_id", &p("14007367")),
        &[("source", "2A")],
    );

    // List 6: no CIN episode matches a List 3 referral: each is a referral of its own, flagged;
    // `N1 - Abuse or Neglect` -> N1; `PSRMEM - ...` is not a need code: emptied and flagged.
    let own = row_where(&r, "child_id", &p("12598894"));
    assert_row(
        &r,
        own,
        &[
            ("referral_id", &format!("{}-2010-06-09-1", p("12598894"))),
            ("received_at", "2010-06-09T00:00:00"),
            ("primary_need", ""),
            ("closure_date", ""),
            ("source_pos", "List 6 row 2"),
        ],
    );
    assert_row(
        &r,
        row_where(&r, "child_id", &p("8140425")),
        &[
            ("primary_need", "N1"),
            ("received_at", "2006-11-23T00:00:00"),
        ],
    );
    let dq = issues(&store, "data_quality");
    let need = dq
        .iter()
        .find(|i| i.table == "referrals" && i.flag == "bad_value")
        .expect("need flag");
    assert_eq!(
        (
            need.position.as_str(),
            need.column.as_str(),
            need.value.as_str()
        ),
        // A long code without a digit could be a surname in capitals: withheld (the echo rule).
        (
            "List 6 row 2",
            "Primary Need Code (primary_need)",
            "<withheld: 6 characters>"
        )
    );
    assert_eq!(
        dq.iter()
            .filter(|i| i.flag == "cin_without_referral")
            .count(),
        5
    );

    // List 5: the child in List 3 and List 5 is linked to its referral (same date); the others
    // have no referral and show as orphans.
    let s = read_table(&store, "s47_enquiries");
    assert_row(
        &s,
        row_where(&s, "child_id", &p("6537810")),
        &[
            ("s47_id", &format!("{rid}-S1")),
            ("referral_id", &rid),
            ("start_date", "2020-09-16"),
            ("icpc_not_required", "false"),
            ("icpc_date", "2020-10-05"),
            ("icpc_result", "CPP"),
            ("transfer_in", "false"),
        ],
    );
    // ICPC deemed unnecessary, none held: the empty-string result is missing.
    assert_row(
        &s,
        row_where(&s, "child_id", &p("10273003")),
        &[
            (
                "referral_id",
                &format!("{}-noref-2020-09-16", p("10273003")),
            ),
            ("icpc_not_required", "true"),
            ("icpc_date", ""),
            ("icpc_result", ""),
        ],
    );
    let orphans: BTreeSet<(String, String)> = dq
        .iter()
        .filter(|i| i.flag == "orphan")
        .map(|i| (i.table.clone(), i.position.clone()))
        .collect();
    assert!(
        !orphans.contains(&("s47_enquiries".to_string(), "List 5 row 3".to_string())),
        "linked s47 is no orphan"
    );
    assert_eq!(
        orphans.iter().filter(|(t, _)| t == "s47_enquiries").count(),
        4
    );
    assert_eq!(
        orphans.iter().filter(|(t, _)| t == "assessments").count(),
        5
    );
    assert_eq!(orphans.iter().filter(|(t, _)| t == "cp_plans").count(), 7);

    // List 4: assessments, `Yes` -> child seen; the free-text support column goes to raw.
    let a = read_table(&store, "assessments");
    assert_row(
        &a,
        row_where(&a, "child_id", &p("10692868")),
        &[
            ("start_date", "2019-05-16"),
            ("authorisation_date", "2021-02-08"),
            ("child_seen", "true"),
            ("factors", ""),
        ],
    );

    // List 7: plans, category words -> codes, the latest review conference as a review.
    let plans = read_table(&store, "cp_plans");
    let pr = row_where(&plans, "child_id", &p("10721552"));
    let plan_id = format!("{}-noref-2020-11-23-P1", p("10721552"));
    assert_row(
        &plans,
        pr,
        &[
            ("plan_id", &plan_id),
            ("start_date", "2020-11-23"),
            ("end_date", "2021-02-16"),
            ("initial_category", "PHY"),
            ("latest_category", "PHY"),
            ("previous_plans", "0"),
        ],
    );
    assert_row(
        &plans,
        row_where(&plans, "child_id", &p("16036763")),
        &[("initial_category", "EMO")],
    );
    let reviews = read_table(&store, "cp_reviews");
    assert_row(
        &reviews,
        row_where(&reviews, "plan_id", &plan_id),
        &[
            ("review_date", "2021-02-16"),
            ("source_pos", "List 7 row 2"),
        ],
    );

    // The raw layer keeps the other non-identifying columns, never workers, teams or ages.
    let raw = read_table(&store, "raw");
    let fields: BTreeSet<String> = col(&raw, "field").into_iter().collect();
    for f in [
        "Number of Referrals in Last 12 Months",
        "Assessment completion date",
        "Was the child assessed as requiring LA children's social care support?",
        "Case Status",
        "Date Child Was Last Seen",
        "Number of ICPCs in the last 12 months",
        "Was the Child Seen Alone?",
    ] {
        assert!(fields.contains(f), "{f} not in raw: {fields:?}");
    }
    for f in &fields {
        let l = f.to_ascii_lowercase();
        assert!(
            !l.contains("allocated")
                && !l.contains("age")
                && !l.contains("birth")
                && !l.contains("unique id"),
            "{f} in raw"
        );
    }
    let completion = rows_where(&raw, "field", "Assessment completion date");
    assert!(
        completion
            .iter()
            .any(|&i| cell(&raw, "value", i) == "2020-09-30"
                && cell(&raw, "position", i) == "List 2 row 2"),
        "{raw}"
    );
    assert!(
        rows_where(&raw, "element", "List 8").is_empty(),
        "List 8 is not read"
    );
}

#[test]
fn without_a_default_la_an_annex_a_workbook_is_refused_naming_the_la_option() {
    let Some(dir) = annex_dir() else { return };
    let d = tmp();
    // The built-in config has two LAs, so there is no default LA.
    let cfg = write(
        d.path(),
        "two.toml",
        "[[la]]\ncode = \"940\"\nname = \"A\"\n\n[[la]]\ncode = \"941\"\nname = \"B\"\n",
    );
    let store = d.path().join("store");
    let o = ingest_with(&store, &[dir.join(WORKBOOKS[1])], Some(&cfg), true);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--la CODE") && err.contains("Annex_A.xlsx"),
        "{err}"
    );
    assert!(!store.join("CURRENT").exists());
}

#[test]
fn without_a_key_an_annex_a_workbook_is_refused_naming_safeguard_key() {
    let Some(dir) = annex_dir() else { return };
    let d = tmp();
    let cfg = one_la_config(d.path());
    let store = d.path().join("store");
    let o = ingest_with(&store, &[dir.join(WORKBOOKS[0])], Some(&cfg), false);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("SAFEGUARD_KEY") && err.contains("Annex_A_2024_Jan.xlsx"),
        "{err}"
    );
    assert!(!store.exists() || snapshot(&store).is_empty());
}

#[test]
fn a_damaged_workbook_fails_naming_the_file_and_stores_nothing() {
    let Some(dir) = annex_dir() else { return };
    let d = tmp();
    let cfg = one_la_config(d.path());
    let bytes = std::fs::read(dir.join(WORKBOOKS[0])).unwrap();
    let cut = d.path().join("cut.xlsx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let store = d.path().join("store");
    let o = ingest_with(&store, &[cut.clone()], Some(&cfg), true);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&cut.display().to_string()),
        "{}",
        stderr(&o)
    );
    assert!(!store.join("CURRENT").exists());
}

#[test]
fn the_same_child_in_a_cin_return_and_an_annex_a_workbook_gets_one_pseudonym() {
    let Some(dir) = annex_dir() else { return };
    let d = tmp();
    let cfg = one_la_config(d.path());
    // A fictional return of LA 201 holding child 6537810 (List 3 and List 5 of the workbooks),
    // referred on 2020-09-16, the List 3 date.
    let xml = write(
        d.path(),
        "return_201.xml",
        "<Message><Header><CollectionDetails><Collection>CIN</Collection><ReferenceDate>2021-03-31</ReferenceDate></CollectionDetails><Source><LEA>201</LEA></Source></Header>\n<Children><Child><ChildIdentifiers><LAchildID>6537810</LAchildID><GenderCurrent>1</GenderCurrent></ChildIdentifiers><CINdetails><CINreferralDate>2020-09-16</CINreferralDate><ReferralSource>8</ReferralSource><ReferralNFA>0</ReferralNFA></CINdetails></Child></Children></Message>\n",
    );
    let store = d.path().join("store");
    ingest_ok(&store, &[dir.join(WORKBOOKS[0]), xml], Some(&cfg));
    let p = keyed().child_id("6537810");
    // One child row and one referral: both formats produced the same keys.
    let ch = read_table(&store, "children");
    assert_eq!(
        cell(&ch, "source_file", row_where(&ch, "child_id", &p)),
        "return_201.xml"
    );
    let r = read_table(&store, "referrals");
    let rid = format!("{p}-2020-09-16-1");
    assert_eq!(
        cell(&r, "source_file", row_where(&r, "referral_id", &rid)),
        "return_201.xml"
    );
    // The workbook's s47 for that child hangs off the same referral and is no orphan.
    let s = read_table(&store, "s47_enquiries");
    assert_eq!(cell(&s, "referral_id", row_where(&s, "child_id", &p)), rid);
    let dq = issues(&store, "data_quality");
    assert!(!dq
        .iter()
        .any(|i| i.flag == "orphan" && i.position == "List 5 row 3"));
    // And the XML reader gives the keyed function's value too (checked in cin_xml.rs for
    // DfEX0000001): here the workbook's other children are the keyed pseudonyms of their ids.
    for id in ["9212044", "612306", "10721552"] {
        assert_eq!(
            rows_where(&ch, "child_id", &keyed().child_id(id)).len(),
            1,
            "{id}"
        );
    }
}

/// Text of a workbook cell as the identifiers scan needs it: numbers without `.0`, dates as
/// `YYYY-MM-DD`, non-breaking spaces kept (and also tried as plain spaces by the caller).
fn cell_text(c: &Data, as_date: bool) -> Option<String> {
    let serial = |f: f64| {
        let dt = calamine::ExcelDateTime::new(f, calamine::ExcelDateTimeType::DateTime, false);
        let (y, m, d, ..) = dt.to_ymd_hms_milli();
        format!("{y:04}-{m:02}-{d:02}")
    };
    match c {
        Data::Empty => None,
        Data::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Data::Float(f) if as_date => Some(serial(*f)),
        Data::Int(i) if as_date => Some(serial(*i as f64)),
        Data::DateTime(dt) => Some(serial(dt.as_f64())),
        Data::Float(f) if f.fract() == 0.0 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// From every sheet of a workbook: the identifiers (child, family and adopter ids, allocated
/// workers and personal advisers), the dates of birth, and every other date.
fn workbook_identifiers(path: &Path) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut ids, mut births, mut events) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut wb: Xlsx<_> = open_workbook(path).expect("open workbook");
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name).expect("sheet");
        let mut rows = range.rows();
        let Some(header) = rows.next() else { continue };
        let header: Vec<String> = header
            .iter()
            .map(|h| cell_text(h, false).unwrap_or_default().to_lowercase())
            .collect();
        for row in rows {
            for (h, c) in header.iter().zip(row) {
                let is_date = h.contains("date") || h == "dob";
                let Some(v) = cell_text(c, is_date) else {
                    continue;
                };
                if h.contains("identifier")
                    || h.contains("unique id")
                    || h.contains("worker")
                    || h.contains("advisor")
                {
                    ids.insert(v.replace('\u{a0}', " "));
                    ids.insert(v);
                } else if h.contains("date of birth") {
                    births.insert(v);
                } else if is_date {
                    events.insert(v);
                }
            }
        }
    }
    (ids, births, events)
}

#[test]
fn no_identifier_from_any_conformance_input_reaches_the_store() {
    let (Some(adir), Some(conf)) = (annex_dir(), conformance()) else {
        return;
    };
    let d = tmp();
    let cfg = one_la_config(d.path());
    let store = d.path().join("store");
    let workbooks: Vec<PathBuf> = WORKBOOKS.iter().map(|w| adir.join(w)).collect();
    let mut xmls = vec![];
    for sub in std::fs::read_dir(conf.join("cin_census")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            xmls.push(f.unwrap().path());
        }
    }
    xmls.sort();
    assert_eq!(xmls.len(), 10);
    let mut all = workbooks.clone();
    all.extend(xmls.iter().cloned());
    ingest_ok(&store, &all, Some(&cfg));

    let (mut ids, mut births, mut events) = cin_identifiers(&xmls);
    for w in &workbooks {
        let (i, b, e) = workbook_identifiers(w);
        ids.extend(i);
        births.extend(b);
        events.extend(e);
    }
    for must in [
        "9212044",
        "Dustin Hazlett",
        "Dustin\u{a0}Hazlett",
        "Ezra Leigh",
        "A123456789123",
        "RND000215205141",
    ] {
        assert!(ids.contains(must), "{must} not collected");
    }
    // A date of birth that is also an event date in the inputs may legitimately be part of a
    // derived id or a raw-layer value; every other one must be absent.
    let scan: BTreeSet<String> = births
        .difference(&events)
        .filter(|b| safeguard::ingest::parse::parse_date(b).is_ok())
        .cloned()
        .collect();
    assert!(
        scan.contains("2015-01-25"),
        "a List 1 date of birth is scanned for"
    );
    assert_nowhere(&store, &ids.union(&scan).cloned().collect());
    // And the workbooks' children are in the store under their pseudonyms.
    let ch = read_table(&store, "children");
    assert_eq!(
        rows_where(&ch, "child_id", &keyed().child_id("9212044")).len(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// hand-built workbooks: no xlsx writer crate is available, so a minimal xlsx (a zip of stored
// XML parts, inline strings) is written here.

/// A cell of a hand-built sheet.
pub(crate) enum X {
    S(&'static str),
    N(f64),
    E,
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of uncompressed ("stored") entries.
fn zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let (mut out, mut central) = (vec![], vec![]);
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        le32(&mut out, 0x0403_4b50);
        for x in [20u16, 0, 0, 0, 0x21] {
            le16(&mut out, x); // version, flags, method (stored), time, date (1980-01-01)
        }
        le32(&mut out, crc);
        le32(&mut out, data.len() as u32);
        le32(&mut out, data.len() as u32);
        le16(&mut out, name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        le32(&mut central, 0x0201_4b50);
        for x in [20u16, 20, 0, 0, 0, 0x21] {
            le16(&mut central, x);
        }
        le32(&mut central, crc);
        le32(&mut central, data.len() as u32);
        le32(&mut central, data.len() as u32);
        le16(&mut central, name.len() as u16);
        for x in [0u16, 0, 0, 0] {
            le16(&mut central, x); // extra, comment, disk, internal attributes
        }
        le32(&mut central, 0); // external attributes
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        le16(&mut out, x);
    }
    le32(&mut out, cd_size);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes a minimal .xlsx with the given sheets (name, rows) and returns its path.
pub(crate) fn write_xlsx(dir: &Path, file: &str, sheets: &[(&str, Vec<Vec<X>>)]) -> PathBuf {
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const PKG: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    let mut types = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>");
    let mut book = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><workbook xmlns=\"{MAIN}\" xmlns:r=\"{REL}\"><sheets>");
    let mut rels = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Relationships xmlns=\"{PKG}\">");
    let mut entries = vec![];
    for (i, (name, rows)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!("<Override PartName=\"/xl/worksheets/sheet{n}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"));
        book.push_str(&format!(
            "<sheet name=\"{}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>",
            xml_escape(name)
        ));
        rels.push_str(&format!("<Relationship Id=\"rId{n}\" Type=\"{REL}/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"));
        let mut sheet = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><worksheet xmlns=\"{MAIN}\"><sheetData>");
        for (r, row) in rows.iter().enumerate() {
            sheet.push_str(&format!("<row r=\"{}\">", r + 1));
            for (c, v) in row.iter().enumerate() {
                let at = format!("{}{}", (b'A' + c as u8) as char, r + 1);
                match v {
                    X::S(s) => sheet.push_str(&format!("<c r=\"{at}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>", xml_escape(s))),
                    X::N(f) => sheet.push_str(&format!("<c r=\"{at}\"><v>{f}</v></c>")),
                    X::E => {}
                }
            }
            sheet.push_str("</row>");
        }
        sheet.push_str("</sheetData></worksheet>");
        entries.push((format!("xl/worksheets/sheet{n}.xml"), sheet.into_bytes()));
    }
    types.push_str("</Types>");
    book.push_str("</sheets></workbook>");
    rels.push_str("</Relationships>");
    let root = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><Relationships xmlns=\"{PKG}\"><Relationship Id=\"rId1\" Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>");
    let mut all = vec![
        ("[Content_Types].xml".to_string(), types.into_bytes()),
        ("_rels/.rels".to_string(), root.into_bytes()),
        ("xl/workbook.xml".to_string(), book.into_bytes()),
        ("xl/_rels/workbook.xml.rels".to_string(), rels.into_bytes()),
    ];
    all.extend(entries);
    let p = dir.join(file);
    std::fs::write(&p, zip(&all)).unwrap();
    p
}

/// A fictional workbook exercising what the conformance workbooks do not: loosely named sheets,
/// a header below a title row, header variants, text dates, `#N/A`, a row without an id, empty
/// rows, a List 6 episode completing its List 3 referral, and linking to the latest referral.
fn fictional_workbook(dir: &Path) -> PathBuf {
    use X::{E, N, S};
    write_xlsx(
        dir,
        "fictional_annex_a.xlsx",
        &[
            ("Cover", vec![vec![S("Fictional Annex A for tests")]]),
            (
                "list 3 - referrals",
                vec![
                    vec![S("Annex A List 3: referrals (fictional)")],
                    vec![],
                    vec![S("Child  Unique ID "), S("GENDER"), S("Ethnicity"), S("Date of\u{a0}Birth"), S("Age of Child (Years)"), S("DATE OF REFERRAL"), S("Referral Source"), S("Referral NFA?"), S("Allocated Worker")],
                    vec![S("FAKE-A1"), S("b) Female"), S("a) WBRI"), S("15/06/2016"), N(7.2), S("01/09/2023"), S("q) 6: Police"), S("b) No"), S("Test Worker\u{a0}One")],
                    vec![S("FAKE-A1"), S("Female"), S("WBRI"), N(42536.0), N(7.3), N(45200.0), S("2A"), S("No"), S("Test Worker One")],
                    vec![E, S("a) Male"), S("a) WBRI"), E, E, S("02/10/2023"), S("6"), S("No"), S("Test Worker Two")],
                    vec![S(""), S(""), S(""), S(""), S(""), S(""), S(""), S(""), S("")],
                    vec![S("FAKE-A2"), S("#N/A"), S("#N/A"), S(""), E, S("05/10/2023"), S("u) 10: Unknown"), S("a) Yes"), S("#N/A")],
                    vec![],
                    vec![],
                ],
            ),
            (
                "List6",
                vec![
                    vec![S("Child Unique ID"), S("Gender"), S("Ethnicity"), S("Date of Birth"), S("Age"), S("Does the Child have a Disability"), S("CIN Start Date"), S("Primary Need Code"), S("CIN Closure Date"), S("Reason for Closure"), S("Case Status"), S("Allocated Team")],
                    vec![S("FAKE-A1"), S("Female"), S("WBRI"), S("15/06/2016"), N(7.0), S("a) Yes"), S("01/09/2023"), S("N4 - Family in acute stress"), S("20/12/2023"), S("RC8 - Case closed after assessment, no further action"), S("e) Closed episode"), S("Test Team")],
                    vec![S("FAKE-A3"), S("Male"), S("WBRI"), E, E, S("b) No"), S("03/03/2023"), S("N1 - Abuse or neglect"), E, E, S("c) Child in need plan"), S("Test Team")],
                ],
            ),
            (
                "LIST 4",
                vec![
                    vec![S("Child Unique ID"), S("Continuous Assessment Start Date"), S("Continuous Assessment Date of Authorisation"), S("Child Seen During Continuous Assessment"), S("Was the child assessed as requiring LA children\u{2019}s social care support?")],
                    vec![S("FAKE-A1"), S("03/10/2023"), E, S("a) Yes"), S("Yes")],
                    vec![S("FAKE-A1"), S("05/09/2023"), S("20/09/2023"), S("No"), S("No")],
                    vec![S("FAKE-A9"), S("05/09/2023"), E, S("c) Unknown"), E],
                ],
            ),
            (
                "List 7",
                vec![
                    vec![S("Child Unique ID"), S("Child Protection Plan Start Date"), S("Initial Category of Abuse"), S("Latest Category of Abuse"), S("Date of latest review conference"), S("Child Protection Plan End Date"), S("Sum of Number of Previous Child Protection Plans")],
                    vec![S("FAKE-A2"), S("16/10/2023"), S("a) Neglect"), S("e) Multiple/not recommended"), E, E, N(2.0)],
                ],
            ),
            ("List 9", vec![vec![S("Child Unique ID"), S("Allocated Personal Advisor")], vec![S("FAKE-A4"), S("Test Adviser")]]),
        ],
    )
}

#[test]
fn loose_sheet_names_headers_below_a_title_text_dates_and_list_6_merging() {
    let d = tmp();
    let cfg = one_la_config(d.path());
    let wb = fictional_workbook(d.path());
    let store = d.path().join("store");
    let (out, counts) = ingest_ok(&store, &[wb], Some(&cfg));
    assert_counts(
        "fictional workbook",
        &counts,
        &[
            // List 3: 4 rows with data (one without an id), List 6: one more referral.
            ("referrals", 5, 4, 1),
            ("assessments", 3, 3, 0),
            ("cp_plans", 1, 1, 0),
            ("children", 4, 4, 0),
        ],
    );
    assert!(out.contains("Lists 8-11"), "{out}");
    assert!(
        out.contains("List 6: 1 CIN episode(s) completed their List 3 referral"),
        "{out}"
    );
    let p = |id: &str| keyed().child_id(id);

    let rejects = issues(&store, "rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        (
            rejects[0].table.as_str(),
            rejects[0].position.as_str(),
            rejects[0].column.as_str()
        ),
        ("referrals", "List 3 row 6", "Child  Unique ID")
    );

    let r = read_table(&store, "referrals");
    let r1 = format!("{}-2023-09-01-1", p("FAKE-A1"));
    let r2 = format!("{}-2023-10-01-1", p("FAKE-A1"));
    // The List 6 episode completed the List 3 referral of the same child and date.
    assert_row(
        &r,
        row_where(&r, "referral_id", &r1),
        &[
            ("source", "6"),
            ("referral_nfa", "false"),
            ("primary_need", "N4"),
            ("closure_date", "2023-12-20"),
            ("closure_reason", "RC8"),
            ("source_pos", "List 3 row 4 + List 6 row 2"),
        ],
    );
    // An Excel serial date and a bare code.
    assert_row(
        &r,
        row_where(&r, "referral_id", &r2),
        &[
            ("received_at", "2023-10-01T00:00:00"),
            ("source", "2A"),
            ("primary_need", ""),
        ],
    );
    assert_row(
        &r,
        row_where(&r, "child_id", &p("FAKE-A2")),
        &[("source", "10"), ("referral_nfa", "true")],
    );
    let own = row_where(&r, "child_id", &p("FAKE-A3"));
    assert_row(
        &r,
        own,
        &[
            ("received_at", "2023-03-03T00:00:00"),
            ("primary_need", "N1"),
            ("source_pos", "List 6 row 3"),
        ],
    );
    let dq = issues(&store, "data_quality");
    let flag = dq
        .iter()
        .find(|i| i.flag == "cin_without_referral")
        .expect("flag");
    assert_eq!(flag.position, "List 6 row 3");

    // Assessments hang off the latest referral on or before their start.
    let a = read_table(&store, "assessments");
    let rows = rows_where(&a, "child_id", &p("FAKE-A1"));
    let by_start: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|&i| {
            (
                cell(&a, "start_date", i),
                cell(&a, "referral_id", i),
                cell(&a, "child_seen", i),
            )
        })
        .collect();
    assert_eq!(
        by_start,
        [
            ("2023-09-05".to_string(), r1.clone(), "false".to_string()),
            ("2023-10-03".to_string(), r2.clone(), "true".to_string())
        ]
        .into_iter()
        .collect()
    );
    // `c) Unknown` is missing; no referral at all: an orphan.
    let lone = row_where(&a, "child_id", &p("FAKE-A9"));
    assert_row(
        &a,
        lone,
        &[
            ("child_seen", ""),
            ("referral_id", &format!("{}-noref-2023-09-05", p("FAKE-A9"))),
        ],
    );
    assert!(dq
        .iter()
        .any(|i| i.flag == "orphan" && i.position == "List 4 row 4"));

    let plans = read_table(&store, "cp_plans");
    assert_row(
        &plans,
        0,
        &[
            ("referral_id", &format!("{}-2023-10-05-1", p("FAKE-A2"))),
            ("initial_category", "NEG"),
            ("latest_category", "MUL"),
            ("previous_plans", "2"),
        ],
    );

    // Children: `#N/A` is missing; the date of birth from text or a serial, as its month; the
    // disability from the first list that has the column.
    let ch = read_table(&store, "children");
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("FAKE-A1")),
        &[
            ("sex", "F"),
            ("ethnicity", "WBRI"),
            ("birth_month", "2016-06-01"),
            ("disability", "true"),
            ("source_pos", "List 3 row 4"),
        ],
    );
    assert_row(
        &ch,
        row_where(&ch, "child_id", &p("FAKE-A2")),
        &[("sex", ""), ("ethnicity", ""), ("birth_month", "")],
    );
    assert!(
        rows_where(&ch, "child_id", &p("FAKE-A4")).is_empty(),
        "List 9 is not read"
    );

    // The raw layer has the curly-quoted header as written; workers, teams, advisers nowhere.
    let raw = read_table(&store, "raw");
    assert!(col(&raw, "field").contains(
        &"Was the child assessed as requiring LA children\u{2019}s social care support?"
            .to_string()
    ));
    assert!(col(&raw, "field").contains(&"Case Status".to_string()));
    let ids: BTreeSet<String> = [
        "Test Worker One",
        "Test Worker\u{a0}One",
        "Test Worker Two",
        "Test Team",
        "Test Adviser",
        "FAKE-A1",
        "FAKE-A2",
        "FAKE-A3",
        "FAKE-A4",
        "FAKE-A9",
        "2016-06-15",
        "15/06/2016",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_nowhere(&store, &ids);
}

#[test]
fn a_workbook_without_list_sheets_or_without_a_required_column_fails_clearly() {
    use X::S;
    let d = tmp();
    let cfg = one_la_config(d.path());
    let none = write_xlsx(
        d.path(),
        "no_lists.xlsx",
        &[
            ("Sheet1", vec![vec![S("Child Unique ID")]]),
            ("Contacts", vec![]),
        ],
    );
    let store = d.path().join("store");
    let o = ingest_with(&store, &[none.clone()], Some(&cfg), true);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no_lists.xlsx")
            && err.contains("no Annex A sheets")
            && err.contains("'Sheet1', 'Contacts'"),
        "{err}"
    );

    let no_date = write_xlsx(
        d.path(),
        "no_date.xlsx",
        &[(
            "List 3",
            vec![
                vec![S("Child Unique ID"), S("Gender"), S("Referral Source")],
                vec![S("FAKE-B1"), S("Male"), S("6")],
            ],
        )],
    );
    let o = ingest_with(&store, &[no_date], Some(&cfg), true);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no_date.xlsx") && err.contains("List 3 has no column for Date of Referral"),
        "{err}"
    );

    let no_header = write_xlsx(
        d.path(),
        "no_header.xlsx",
        &[(
            "List 1",
            vec![vec![S("something else")], vec![S("FAKE-B2")]],
        )],
    );
    let o = ingest_with(&store, &[no_header], Some(&cfg), true);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("sheet 'List 1'") && stderr(&o).contains("no header row"),
        "{}",
        stderr(&o)
    );
    assert!(!store.join("CURRENT").exists());
}
