//! Gzip-compressed inputs (`.csv.gz`, `.xml.gz`), recognised by their magic bytes: the same
//! rows as the plain file, found by a folder walk, and refused when corrupt, cut short or a bomb.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::common::{bin, read_table, snapshot, stderr, stdout, summary_counts, write, TEST_KEY};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn ingest(dir: &Path, store: &str, inputs: &[&str]) -> std::process::Output {
    bin()
        .current_dir(dir)
        .env("SAFEGUARD_KEY", TEST_KEY)
        .arg("ingest")
        .args(inputs)
        .args(["--store", store])
        .output()
        .expect("the binary runs")
}

const REFERRALS: &str = "referral_id,child_id,la_code,received_at,source\n\
    R1,C1,940,2024-05-01,1A\n\
    R2,C2,940,2024-05-02,2B\n\
    R3,C3,940,2024-05-03,bad\n";

const CIN: &str = "<Message><Header><CollectionDetails><Collection>CIN</Collection>\
    <Year>2025</Year><ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails>\
    <Source><SourceLevel>L</SourceLevel><LEA>940</LEA></Source></Header><Children><Child>\
    <ChildIdentifiers><LAchildID>FAKE-GZ-1</LAchildID><PersonBirthDate>2015-06-01</PersonBirthDate>\
    <Sex>M</Sex></ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity>\
    </ChildCharacteristics><CINdetails><CINreferralDate>2024-06-03</CINreferralDate>\
    <ReferralSource>1A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode>\
    <ReferralNFA>0</ReferralNFA></CINdetails></Child></Children></Message>\n";

/// Every table of a store as text, without its provenance (the file name and hash differ).
fn tables(store: &Path) -> Vec<String> {
    ["referrals", "children"]
        .iter()
        .map(|t| {
            let df = read_table(store, t);
            let keep: Vec<_> = df
                .get_column_names()
                .into_iter()
                .filter(|c| !c.starts_with("source_"))
                .cloned()
                .collect();
            format!("{}", df.select(keep).unwrap())
        })
        .collect()
}

#[test]
fn a_compressed_csv_and_census_return_give_the_same_rows_as_the_plain_files() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "referrals.csv", REFERRALS);
    write(dir, "cin.xml", CIN);
    std::fs::create_dir(dir.join("gz")).unwrap();
    // Names say nothing: the content is recognised by its magic bytes.
    std::fs::write(dir.join("gz/referrals.csv.gz"), gzip(REFERRALS.as_bytes())).unwrap();
    std::fs::write(dir.join("gz/cin.xml.gz"), gzip(CIN.as_bytes())).unwrap();
    // In the order the folder walk reads the compressed ones (by name).
    let plain = ingest(dir, "plain", &["cin.xml", "referrals.csv"]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    // The folder walk picks up .csv.gz and .xml.gz.
    let packed = ingest(dir, "packed", &["gz"]);
    assert_eq!(packed.status.code(), Some(0), "{}", stderr(&packed));
    let (a, b) = (summary_counts(&stdout(&plain)), summary_counts(&stdout(&packed)));
    assert_eq!(a, b);
    // 3 CSV referrals (one flagged source `bad`) and the census's one.
    assert_eq!(b["referrals"].read, 4);
    assert_eq!(b["referrals"].stored, 4);
    assert_eq!(tables(&dir.join("plain")), tables(&dir.join("packed")));
}

#[test]
fn corrupt_cut_short_and_bomb_gzip_files_fail_and_leave_the_store_as_it_was() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    write(dir, "seed.csv", REFERRALS);
    let o = ingest(dir, "store", &["seed.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = snapshot(&dir.join("store"));

    let whole = gzip(REFERRALS.replace("R1", "R9").as_bytes());
    // Cut short: the last 10 bytes (CRC and size) and some data gone.
    std::fs::write(dir.join("cut.csv.gz"), &whole[..whole.len() - 14]).unwrap();
    // Corrupt: a byte of the deflate stream flipped.
    let mut bad = whole.clone();
    bad[14] ^= 0xff;
    std::fs::write(dir.join("corrupt.csv.gz"), &bad).unwrap();
    // A bomb: a header, then 300 MiB of line breaks, compressed to about 300 KB.
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(b"referral_id,child_id,la_code,received_at\n").unwrap();
    let chunk = vec![b'\n'; 1 << 20];
    for _ in 0..300 {
        e.write_all(&chunk).unwrap();
    }
    std::fs::write(dir.join("bomb.csv.gz"), e.finish().unwrap()).unwrap();
    assert!(std::fs::metadata(dir.join("bomb.csv.gz")).unwrap().len() < 1 << 20);

    for (file, says) in [
        ("cut.csv.gz", "cannot be decompressed"),
        ("corrupt.csv.gz", "cannot be decompressed"),
        ("bomb.csv.gz", "gzip bomb"),
    ] {
        let o = ingest(dir, "store", &[file]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
        assert_eq!(snapshot(&dir.join("store")), before, "{file}");
    }
}
