//! Hostile inputs of the structural and resource classes (issue 11, classes 3, 5 and 9): rows
//! that would vanish (broken CSV quoting, a file cut mid-line, CIN elements out of place, formula
//! rows without values), inputs that would exhaust memory or hang (deep XML, a cell at
//! XFD1048576, symlink cycles) and files named for what they are (encrypted workbooks, `.xls`, a
//! store inside the input folder). Every file is made here; the real binary reads it.
//!
//! Each case asserts the exit code; when the file must fail, that the store is byte-identical
//! and the message names the file and the position; when it must not, that `read = stored +
//! rejected` for every table. The resource cases run under a 1 GiB address-space cap
//! (`ulimit -v`): the readers' old allocations (hundreds of GiB) would abort there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{bin, issues, snapshot, stderr, stdout, summary_counts, TEST_KEY};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// `safeguard ingest ARGS... --store STORE` in `dir`, with the test key; under a 1 GiB
/// address-space cap when `capped`.
fn ingest(dir: &Path, store: &str, args: &[&str], capped: bool) -> Output {
    let mut c = if capped {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg("ulimit -v 1048576 && exec \"$@\"")
            .arg("sh")
            .arg(bin().get_program());
        c
    } else {
        bin()
    };
    c.env_remove("SAFEGUARD_KEY")
        .env("SAFEGUARD_KEY", TEST_KEY)
        .current_dir(dir)
        .arg("-q")
        .arg("ingest")
        .args(args)
        .args(["--store", store]);
    c.output().expect("the binary runs")
}

/// A store holding one good contacts file, to show a failed run leaves it byte-identical.
fn seeded_store(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::write(
        dir.join("seed.csv"),
        "contact_id,child_id,la_code,received_at\nS1,PSEED1,941,2023-04-03T09:00:00\n",
    )
    .unwrap();
    let o = ingest(dir, "store", &["seed.csv"], false);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let snap = snapshot(&dir.join("store"));
    assert!(
        snap.keys().any(|k| k.ends_with("CURRENT")),
        "a store was written"
    );
    snap
}

/// Asserts exit 1, a message naming `file` and containing each of `want`, and the store as it was.
fn assert_fails(
    dir: &Path,
    o: &Output,
    before: &BTreeMap<PathBuf, Vec<u8>>,
    file: &str,
    want: &[&str],
) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{file}: exit 1 wanted:\n{}{err}",
        stdout(o)
    );
    assert!(
        err.contains(file),
        "{file}: the message names the file: {err}"
    );
    for w in want {
        assert!(err.contains(w), "{file}: want {w:?} in {err}");
    }
    assert!(
        !stdout(o).contains("ingested"),
        "{file}: nothing reported ingested"
    );
    assert_eq!(
        &snapshot(&dir.join("store")),
        before,
        "{file}: the store changed"
    );
}

/// The summary's (read, stored, rejected) per table, each checked: read = stored + rejected.
fn summary(o: &Output) -> BTreeMap<String, (u64, u64, u64)> {
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(o), stderr(o));
    summary_counts(&stdout(o))
        .into_iter()
        .map(|(t, c)| (t, (c.read, c.stored, c.rejected)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// CSV: quoting that makes the rest of the file ambiguous, a file cut mid-line

const CONTACTS_HEADER: &str =
    "contact_id,child_id,la_code,received_at,source,level_of_need,decision_at,outcome";

/// A contacts file of 51 rows (lines 2-52); `edit(i, fields)` changes row i (1-based).
fn contacts(edit: impl Fn(usize, &mut Vec<String>), end: &str) -> String {
    let mut lines = vec![CONTACTS_HEADER.to_string()];
    for i in 1..=51 {
        let mut f: Vec<String> = [
            format!("C{i:04}"),
            format!("P{i:04}"),
            "941".into(),
            "2023-10-05T20:26:09".into(),
            "5A".into(),
            "3".into(),
            "2023-10-07T17:10:44".into(),
            "REFERRAL".into(),
        ]
        .to_vec();
        edit(i, &mut f);
        lines.push(f.join(","));
    }
    lines.join("\n") + end
}

#[test]
fn broken_csv_quoting_fails_the_file_at_the_quote_and_stores_nothing() {
    let d = tmp();
    let dir = d.path();
    let before = seeded_store(dir);
    // Row 2 is on line 3; its fields before `outcome` take 61 characters (C0002, P0002, 941,
    // two datetimes of 19, 5A, 3 and seven commas), so the quote opens at column 62; the one
    // before `source` at 6+6+4+20+1 = 37.
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unclosed_last.csv",
            contacts(
                |i, f| {
                    if i == 2 {
                        f[7] = "\"REFERRAL".into()
                    }
                },
                "\n",
            ),
            vec!["unclosed_last.csv:3:62:", "'outcome'", "never closed"],
        ),
        (
            "unclosed_middle.csv",
            contacts(
                |i, f| {
                    if i == 2 {
                        f[4] = "\"5A".into()
                    }
                },
                "\n",
            ),
            vec!["unclosed_middle.csv:3:37:", "'source'", "never closed"],
        ),
        // CRLF line ends (Excel's) and no final line break: the same line and column.
        (
            "unclosed_crlf.csv",
            contacts(
                |i, f| {
                    if i == 2 {
                        f[7] = "\"REFERRAL".into()
                    }
                },
                "",
            )
            .replace('\n', "\r\n"),
            vec!["unclosed_crlf.csv:3:62:", "never closed"],
        ),
        // The stray quote re-pairs with a later quoted value (row 20's): the field count still
        // matches, but text follows the quote that closes it.
        (
            "repaired.csv",
            contacts(
                |i, f| match i {
                    2 => f[4] = "\"5A".into(),
                    20 => f[7] = "\"REFERRAL\"".into(),
                    _ => {}
                },
                "\n",
            ),
            vec![
                "repaired.csv:3:37:",
                "text follows the closing quote",
                "'source'",
            ],
        ),
        // A value that runs over a line break in a canonical column (an id, a date, a code).
        (
            "multiline.csv",
            contacts(
                |i, f| {
                    if i == 5 {
                        f[7] = "\"REFER\nRAL\"".into()
                    }
                },
                "\n",
            ),
            vec!["multiline.csv:6:62:", "runs over a line break", "'outcome'"],
        ),
        // An unclosed quote in the header: nothing after it is a row.
        (
            "header.csv",
            contacts(|_, _| {}, "\n").replacen(",outcome", ",\"outcome", 1),
            vec!["header.csv:1:74:", "never closed"],
        ),
    ];
    for (name, text, want) in cases {
        std::fs::write(dir.join(name), text).unwrap();
        let o = ingest(dir, "store", &[name], false);
        assert_fails(dir, &o, &before, name, &want);
        // The swallowed rows' ids are not echoed.
        assert!(!stderr(&o).contains("P0003"), "{name}: {}", stderr(&o));
    }
}

#[test]
fn quoted_line_breaks_in_free_text_are_read_and_every_row_counted() {
    let d = tmp();
    let dir = d.path();
    std::fs::write(
        dir.join("notes.csv"),
        "contact_id,child_id,la_code,received_at,notes\n\
         C1,P1,941,2023-10-05T09:00:00,\"first line\nsecond line\"\n\
         C2,P2,941,2023-10-06T09:00:00,\"quoted \"\"word\"\"\"\n\
         C3,P3,941,2023-10-07T09:00:00,\n",
    )
    .unwrap();
    let s = summary(&ingest(dir, "store", &["notes.csv"], false));
    assert_eq!(s["contacts"], (3, 3, 0));
}

#[test]
fn a_file_cut_mid_line_never_stores_its_last_row_silently() {
    let d = tmp();
    let dir = d.path();
    // Cut in the last column: `REFER` is no outcome code, so the row is rejected as possibly cut
    // (an optional column's bad value would otherwise store the row with the cell empty).
    std::fs::write(
        dir.join("cut.csv"),
        contacts(
            |i, f| {
                if i == 51 {
                    f[7] = "REFER".into()
                }
            },
            "",
        ),
    )
    .unwrap();
    let s = summary(&ingest(dir, "store", &["cut.csv"], false));
    assert_eq!(s["contacts"], (51, 50, 1));
    let rej = issues(&dir.join("store"), "rejects");
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(
        (rej[0].position.as_str(), rej[0].column.as_str()),
        ("line 52", "outcome")
    );
    assert!(rej[0].reason.contains("may have been cut short"), "{rej:?}");

    // Cut so that the value still parses (17:10:4 for 17:10:44): stored, and flagged.
    let last_col = "contact_id,child_id,la_code,received_at,source,level_of_need,decision_at";
    std::fs::write(
        dir.join("cut_valid.csv"),
        format!("{last_col}\nV1,PV1,941,2023-10-05T20:26:09,5A,3,2023-10-07T17:10:44\nV2,PV2,941,2023-10-05T20:26:09,5A,3,2023-10-07T17:10:4"),
    )
    .unwrap();
    let s = summary(&ingest(dir, "store2", &["cut_valid.csv"], false));
    assert_eq!(s["contacts"], (2, 2, 0));
    let dq = issues(&dir.join("store2"), "data_quality");
    let flags: Vec<_> = dq
        .iter()
        .filter(|i| i.flag == "no_final_line_break")
        .collect();
    assert_eq!(flags.len(), 1, "{dq:?}");
    assert_eq!(
        (flags[0].position.as_str(), flags[0].column.as_str()),
        ("line 3", "decision_at")
    );

    // A last field quoted and closed is whole: no flag.
    std::fs::write(
        dir.join("quoted_end.csv"),
        "contact_id,child_id,la_code,received_at,outcome\nQ1,PQ1,941,2023-10-05T20:26:09,\"REFERRAL\"",
    )
    .unwrap();
    let s = summary(&ingest(dir, "store3", &["quoted_end.csv"], false));
    assert_eq!(s["contacts"], (1, 1, 0));
    assert!(
        issues(&dir.join("store3"), "data_quality")
            .iter()
            .all(|i| i.flag != "no_final_line_break"),
        "a closed quote ends the row"
    );
}

// ---------------------------------------------------------------------------------------------
// CIN XML: elements out of place, deep nesting

/// A CIN return whose `Children` holds one good child (lines 12-21) and then `extra` from line 22.
fn cin(extra: &str) -> String {
    let child = |id: &str| {
        format!(
            "<Child>\n<ChildIdentifiers>\n<LAchildID>{id}</LAchildID>\n</ChildIdentifiers>\n<CINdetails>\n<CINreferralDate>2023-05-01</CINreferralDate>\n<ReferralSource>1A</ReferralSource>\n<ReferralNFA>0</ReferralNFA>\n</CINdetails>\n</Child>\n"
        )
    };
    format!(
        "<Message>\n<Header>\n<CollectionDetails>\n<Collection>CIN</Collection>\n<ReferenceDate>2024-03-31</ReferenceDate>\n</CollectionDetails>\n<Source>\n<LEA>999</LEA>\n</Source>\n</Header>\n<Children>\n{}{extra}</Children>\n</Message>\n",
        child("FAKE-CHILD-1")
    )
}

/// The start of a second child (lines 22-25), up to its identifiers.
const SECOND: &str =
    "<Child>\n<ChildIdentifiers>\n<LAchildID>FAKE-CHILD-2</LAchildID>\n</ChildIdentifiers>\n";

#[test]
fn cin_row_elements_out_of_their_schema_place_fail_the_file_naming_element_and_position() {
    let d = tmp();
    let dir = d.path();
    let before = seeded_store(dir);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "child_in_child.xml",
            cin(&format!(
                "{SECOND}<Child>\n<ChildIdentifiers>\n<LAchildID>FAKE-CHILD-3</LAchildID>\n</ChildIdentifiers>\n</Child>\n</Child>\n"
            )),
            vec!["child_in_child.xml:26:1:", "a <Child> inside Message/Children/Child"],
        ),
        (
            "wrapped_episode.xml",
            cin(&format!(
                "{SECOND}<Episodes>\n<CINdetails>\n<CINreferralDate>2023-06-01</CINreferralDate>\n</CINdetails>\n</Episodes>\n</Child>\n"
            )),
            vec![
                "wrapped_episode.xml:27:1:",
                "a <CINdetails> inside Message/Children/Child/Episodes",
            ],
        ),
        (
            "plan_under_child.xml",
            cin(&format!(
                "{SECOND}<ChildProtectionPlans>\n<CPPstartDate>2023-06-01</CPPstartDate>\n</ChildProtectionPlans>\n</Child>\n"
            )),
            vec!["plan_under_child.xml:26:1:", "a <ChildProtectionPlans> inside"],
        ),
        (
            "review_under_plan.xml",
            cin(&format!(
                "{SECOND}<CINdetails>\n<CINreferralDate>2023-06-01</CINreferralDate>\n<ChildProtectionPlans>\n<CPPreviewDate>2023-07-01</CPPreviewDate>\n</ChildProtectionPlans>\n</CINdetails>\n</Child>\n"
            )),
            vec!["review_under_plan.xml:29:1:", "a <CPPreviewDate> inside"],
        ),
    ];
    for (name, text, want) in cases {
        std::fs::write(dir.join(name), text).unwrap();
        let o = ingest(dir, "store", &[name], false);
        assert_fails(dir, &o, &before, name, &want);
        assert!(!stderr(&o).contains("FAKE-CHILD"), "{name}: no id echoed");
    }
}

#[test]
fn cin_nesting_100000_and_1000000_deep_fails_with_a_message_under_a_memory_cap() {
    let d = tmp();
    let dir = d.path();
    let before = seeded_store(dir);
    for depth in [100_000usize, 1_000_000] {
        let name = format!("deep_{depth}.xml");
        let nested = format!(
            "{SECOND}{}x{}\n</Child>\n",
            "<a>".repeat(depth),
            "</a>".repeat(depth)
        );
        std::fs::write(dir.join(&name), cin(&nested)).unwrap();
        let o = ingest(dir, "store", &[&name], true);
        // Message, Children and Child are open: the 63rd <a> (column 1 + 62 x 3) is the 65th
        // element below Message.
        assert_fails(
            dir,
            &o,
            &before,
            &name,
            &[
                &format!("{name}:26:187:"),
                "nested 65 elements deep",
                "more than 64",
            ],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Annex A: a cell at XFD1048576, formula rows without values (workbooks written here)

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

/// A zip of uncompressed ("stored") entries.
fn zip(entries: &[(&str, String)]) -> Vec<u8> {
    let (mut out, mut central) = (vec![], vec![]);
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for (name, data) in entries {
        let (data, offset, crc) = (data.as_bytes(), out.len() as u32, crc32(data.as_bytes()));
        le32(&mut out, 0x0403_4b50);
        for x in [20u16, 0, 0, 0, 0x21] {
            le16(&mut out, x); // version, flags, stored, time, date
        }
        for x in [crc, data.len() as u32, data.len() as u32] {
            le32(&mut out, x);
        }
        le16(&mut out, name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        for x in [20u16, 20, 0, 0, 0, 0x21] {
            le16(&mut central, x);
        }
        for x in [crc, data.len() as u32, data.len() as u32] {
            le32(&mut central, x);
        }
        le16(&mut central, name.len() as u16);
        for x in [0u16, 0, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_size) = (out.len() as u32, central.len() as u32);
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

/// A workbook with one sheet `List 3` whose `<sheetData>` holds `rows` (raw sheet XML).
fn workbook(dir: &Path, name: &str, rows: &str) {
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    const PKG: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    let bytes = zip(&[
        ("[Content_Types].xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/><Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/></Types>".into()),
        ("_rels/.rels", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"{PKG}\"><Relationship Id=\"rId1\" Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>")),
        ("xl/workbook.xml", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"{MAIN}\" xmlns:r=\"{REL}\"><sheets><sheet name=\"List 3\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>")),
        ("xl/_rels/workbook.xml.rels", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"{PKG}\"><Relationship Id=\"rId1\" Type=\"{REL}/worksheet\" Target=\"worksheets/sheet1.xml\"/></Relationships>")),
        ("xl/worksheets/sheet1.xml", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"{MAIN}\"><sheetData>{rows}</sheetData></worksheet>")),
    ]);
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// List 3's header (row 1) and one referral (row 2: child 101, Excel date 45000 = 2023-03-15).
const LIST3: &str = "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Child Unique ID</t></is></c><c r=\"B1\" t=\"inlineStr\"><is><t>Date of Referral</t></is></c></row><row r=\"2\"><c r=\"A2\"><v>101</v></c><c r=\"B2\"><v>45000</v></c></row>";

#[test]
fn a_workbook_with_one_cell_at_xfd1048576_fails_naming_sheet_and_cell_under_a_memory_cap() {
    let d = tmp();
    let dir = d.path();
    let before = seeded_store(dir);
    workbook(
        dir,
        "far_cell.xlsx",
        &format!("{LIST3}<row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row>"),
    );
    assert!(std::fs::metadata(dir.join("far_cell.xlsx")).unwrap().len() < 3000);
    let o = ingest(dir, "store", &["far_cell.xlsx", "--la", "940"], true);
    assert_fails(
        dir,
        &o,
        &before,
        "far_cell.xlsx",
        &["sheet 'List 3' cell XFD1048576"],
    );
}

#[test]
fn cell_references_beyond_excels_grid_fail_the_file_before_calamine_parses_them() {
    // calamine 0.38 computes a reference's column and row in u32 without a check: seven letters
    // (26^7 > 2^32) or eleven digits overflow (a panic in a debug build, a wrapped number in
    // release). Found by the fuzzer. Each is refused before calamine reads the sheet; a row 0, a
    // column past XFD and a dimension whose corners are the wrong way round too.
    for (n, rows) in [
        "<row r=\"3\"><c r=\"ZZZZZZZZ3\"><v>1</v></c></row>",
        "<row r=\"3\"><c r=\"A99999999999\"><v>1</v></c></row>",
        "<row r=\"99999999999\"><c><v>1</v></c></row>",
        "<row r=\"3\"><c r=\"XFE3\"><v>1</v></c></row>",
        "<row r=\"3\"><c r=\"A0\"><v>1</v></c></row>",
        "<row r=\"3\"><c r=\"A3\"><f ref=\"A3:A99999999999\">A2</f><v>1</v></c></row>",
    ]
    .iter()
    .enumerate()
    {
        let d = tmp();
        let dir = d.path();
        let before = seeded_store(dir);
        workbook(dir, "bad_ref.xlsx", &format!("{LIST3}{rows}"));
        let o = ingest(dir, "store", &["bad_ref.xlsx", "--la", "940"], false);
        assert_fails(
            dir,
            &o,
            &before,
            "bad_ref.xlsx",
            &[
                "worksheet part 'xl/worksheets/sheet1.xml'",
                "not a cell of Excel's grid",
            ],
        );
        assert!(!stderr(&o).contains("panicked"), "case {n}: {}", stderr(&o));
    }
}

#[test]
fn an_annex_a_row_of_formulas_without_values_is_read_and_rejected_never_skipped() {
    let d = tmp();
    let dir = d.path();
    // Row 3: two formulas with no saved value (a workbook written without calculating). Row 4:
    // an id, and a date that is such a formula. Row 5: a value under no heading (column F).
    workbook(
        dir,
        "formulas.xlsx",
        &format!(
            "{LIST3}<row r=\"3\"><c r=\"A3\"><f>A2+1</f></c><c r=\"B3\"><f>B2+1</f></c></row><row r=\"4\"><c r=\"A4\"><v>103</v></c><c r=\"B4\"><f>B2+2</f></c></row><row r=\"5\"><c r=\"F5\"><v>7</v></c></row>"
        ),
    );
    let o = ingest(dir, "store", &["formulas.xlsx", "--la", "940"], false);
    let s = summary(&o);
    // Row 2 stored; row 3 rejected as formulas; row 4 rejected (its date is empty); row 5
    // rejected as unreadable.
    assert_eq!(s["referrals"], (4, 1, 3));
    let rej = issues(&dir.join("store"), "rejects");
    let row3: Vec<_> = rej
        .iter()
        .filter(|i| i.position == "List 3 row 3")
        .collect();
    assert_eq!(row3.len(), 1, "{rej:?}");
    assert!(
        row3[0].reason.contains("formula with no saved value"),
        "{rej:?}"
    );
    assert!(rej.iter().any(|i| i.position == "List 3 row 4"), "{rej:?}");
    assert!(
        rej.iter()
            .any(|i| i.position == "List 3 row 5" && i.reason.contains("past the header")),
        "{rej:?}"
    );
    assert!(
        stdout(&o).contains("List 3: 1 formula cell(s) have no saved value"),
        "{}",
        stdout(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// Formats by content: an encrypted workbook, a legacy .xls

/// An OLE2 compound file's first bytes and one directory entry name (UTF-16LE, 64 bytes).
fn ole(entry: &str) -> Vec<u8> {
    let mut b = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    b.resize(512, 0);
    let mut name: Vec<u8> = entry.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    name.resize(64, 0);
    b.extend(name);
    b.resize(1536, 0);
    b
}

#[test]
fn encrypted_workbooks_and_legacy_xls_are_named_for_what_they_are() {
    let d = tmp();
    let dir = d.path();
    let before = seeded_store(dir);
    std::fs::write(dir.join("locked.xlsx"), ole("EncryptedPackage")).unwrap();
    std::fs::write(dir.join("legacy.xls"), ole("Workbook")).unwrap();
    let o = ingest(dir, "store", &["locked.xlsx", "--la", "940"], false);
    assert_fails(
        dir,
        &o,
        &before,
        "locked.xlsx",
        &["encrypted", "remove the password"],
    );
    assert!(!stderr(&o).contains("UTF-8"), "{}", stderr(&o));
    let o = ingest(dir, "store", &["legacy.xls", "--la", "940"], false);
    assert_fails(
        dir,
        &o,
        &before,
        "legacy.xls",
        &["legacy Excel 97-2003", "save it as"],
    );
    assert!(!stderr(&o).contains("UTF-8"), "{}", stderr(&o));

    // In a folder, an .xls is not passed over: the run fails on it.
    std::fs::create_dir(dir.join("extracts")).unwrap();
    std::fs::copy(dir.join("legacy.xls"), dir.join("extracts/annex_a.xls")).unwrap();
    std::fs::write(
        dir.join("extracts/contacts.csv"),
        "contact_id,child_id,la_code,received_at\nX1,PX1,941,2023-04-03T09:00:00\n",
    )
    .unwrap();
    let o = ingest(dir, "store", &["extracts", "--la", "940"], false);
    assert_fails(dir, &o, &before, "annex_a.xls", &["legacy Excel 97-2003"]);
}

// ---------------------------------------------------------------------------------------------
// Folders: symlink cycles, the store inside the input folder

#[cfg(unix)]
#[test]
fn two_symlinks_to_the_parent_folder_end_the_walk_with_a_note_and_nothing_outside_is_read() {
    let d = tmp();
    let dir = d.path();
    std::fs::create_dir(dir.join("in")).unwrap();
    std::fs::write(
        dir.join("in/contacts.csv"),
        "contact_id,child_id,la_code,received_at\nL1,PL1,941,2023-04-03T09:00:00\n",
    )
    .unwrap();
    // A file beside the input folder: reached only through the links, never read.
    std::fs::write(
        dir.join("outside.csv"),
        "contact_id,child_id,la_code,received_at\nO1,PO1,941,2023-04-03T09:00:00\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("..", dir.join("in/up1")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("in/up2")).unwrap();
    let o = ingest(dir, "store", &["in"], false);
    let s = summary(&o);
    assert_eq!(s["contacts"], (1, 1, 0));
    let out = stdout(&o);
    assert!(!out.contains("outside.csv"), "{out}");
    for link in ["in/up1", "in/up2"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("note: {link}: links to"))
                    && l.contains("(a cycle): not followed")),
            "{link}: {out}"
        );
    }
}

#[test]
fn a_store_inside_the_input_folder_is_never_read_as_input_and_the_summary_says_so() {
    let d = tmp();
    let dir = d.path();
    std::fs::create_dir(dir.join("in")).unwrap();
    std::fs::write(
        dir.join("in/contacts.csv"),
        "contact_id,child_id,la_code,received_at\nK1,PK1,941,2023-04-03T09:00:00\nK2,PK2,941,bad\n",
    )
    .unwrap();
    let s = summary(&ingest(dir, "in/store", &["in"], false));
    assert_eq!(s["contacts"], (2, 1, 1));
    // The store now holds rejects.csv and data_quality.csv inside the input folder; a link to
    // one of them beside the extracts is not read either.
    #[cfg(unix)]
    {
        let current = std::fs::read_to_string(dir.join("in/store/CURRENT")).unwrap();
        std::os::unix::fs::symlink(
            format!("store/{}/rejects.csv", current.trim()),
            dir.join("in/rejects_link.csv"),
        )
        .unwrap();
    }
    let before = snapshot(&dir.join("in/store"));
    let o = ingest(dir, "in/store", &["in"], false);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("unchanged in/contacts.csv"), "{out}");
    assert!(!out.contains("ingested"), "{out}");
    assert!(
        out.contains("note: in/store: the store (--store) is not read as input"),
        "{out}"
    );
    #[cfg(unix)]
    assert!(
        out.contains("note: in/rejects_link.csv: links into a safeguard store"),
        "{out}"
    );
    assert_eq!(
        snapshot(&dir.join("in/store")),
        before,
        "the store is unchanged"
    );

    // Another store in the input folder is passed over too; naming a store as input is an error.
    let o = ingest(dir, "other", &["in"], false);
    assert_eq!(summary(&o)["contacts"], (2, 1, 1));
    assert!(
        stdout(&o).contains("note: in/store: a safeguard store, or inside one"),
        "{}",
        stdout(&o)
    );
    let o = ingest(dir, "other", &["in/store"], false);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("in/store: this is, or is inside, a safeguard store"),
        "{}",
        stderr(&o)
    );
}
