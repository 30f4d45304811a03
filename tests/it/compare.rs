//! `safeguard compare` and the shipped DfE benchmark asset (issue 13), through the real binary.
//!
//! The published figures asserted here were read by hand from the DfE's files in
//! `../shared/benchmarks/dfe/` (the year ending 31 March 2025 is `time_period` 2025 = 2024-25);
//! each literal says where it comes from. Our own figures come from small fictional fixtures
//! whose counts are worked out in the comments. The default config's LAs are 940 and 941.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{root, run_in, stderr, stdout, write};

/// One output row, by column name.
type Row = BTreeMap<String, String>;

/// The comparison table of one run, keyed by (measure_id, breakdown_value, la_code, year).
struct Compared {
    rows: BTreeMap<(String, String, String, String), Row>,
    header: Vec<String>,
    summary: String,
}

impl Compared {
    #[track_caller]
    fn row(&self, m: &str, bv: &str, la: &str, year: &str) -> &Row {
        self.rows
            .get(&(m.into(), bv.into(), la.into(), year.into()))
            .unwrap_or_else(|| {
                let have: Vec<_> = self.rows.keys().filter(|k| k.0 == m && k.2 == la).collect();
                panic!("no row ({m}, {bv}, {la}, {year}); rows of {m} for {la}: {have:?}")
            })
    }

    fn has(&self, m: &str, bv: &str, la: &str, year: &str) -> bool {
        self.rows
            .contains_key(&(m.into(), bv.into(), la.into(), year.into()))
    }
}

/// A number cell (None when empty).
#[track_caller]
fn num(r: &Row, c: &str) -> Option<f64> {
    let s = r.get(c).unwrap_or_else(|| panic!("no column {c}"));
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|_| panic!("{c} = '{s}'")))
}

#[track_caller]
fn close(r: &Row, c: &str, want: f64) {
    let got = num(r, c).unwrap_or_else(|| panic!("{c} is empty in {r:?}"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{c}: got {got}, want {want} in {r:?}"
    );
}

#[track_caller]
fn text<'a>(r: &'a Row, c: &str) -> &'a str {
    r.get(c).unwrap_or_else(|| panic!("no column {c}"))
}

/// Writes the fixture (name, CSV) into `data/`, ingests it into `store`, and returns the folder.
fn fixture(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    for (name, body) in files {
        let body: String = body
            .lines()
            .map(|l| l.split(" #").next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        write(&data, name, &body);
    }
    let o = run_in(dir.path(), &["ingest", "data", "--store", "store"]);
    assert!(o.status.success(), "ingest: {}{}", stdout(&o), stderr(&o));
    dir
}

/// Runs `safeguard compare --store store --out c.csv ARGS` in `dir` and reads the table back.
fn compare(dir: &Path, args: &[&str]) -> Compared {
    let mut a = vec!["compare", "--store", "store", "--out", "c.csv"];
    a.extend_from_slice(args);
    let o = run_in(dir, &a);
    assert!(
        o.status.success(),
        "compare {args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let mut rdr = csv::Reader::from_path(dir.join("c.csv")).expect("c.csv written");
    let header: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.expect("a CSV record");
        let row: Row = header
            .iter()
            .cloned()
            .zip(rec.iter().map(str::to_string))
            .collect();
        let key = (
            row["measure_id"].clone(),
            row["breakdown_value"].clone(),
            row["la_code"].clone(),
            row["year"].clone(),
        );
        assert!(rows.insert(key, row).is_none(), "a duplicate row");
    }
    Compared {
        rows,
        header,
        summary: stdout(&o),
    }
}

// Referrals: 940 has five in 2024-25, one a re-referral (C1 again within 12 months): 1/5.
// 941 has four, two re-referrals (C5 three times): 2/4. The partnership: 3/9. 941 also has one in
// 2020-21 (before it existed: the fixture is fictional) and 940 one in 2025-26 (not yet
// published). 940 has two ICPCs in 2024-25: 10 and 20 working days after the s47 start: 1/2.
const REFERRALS: &str = "
    referral_id,child_id,la_code,received_at
    R1,C1,940,2024-05-01
    R2,C1,940,2024-09-01        # re-referral (4 months after R1)
    R3,C2,940,2024-06-01
    R4,C3,940,2024-07-01
    R5,C4,940,2024-08-01
    R6,C8,940,2025-05-01        # 2025-26
    S1,C5,941,2024-04-10
    S2,C5,941,2024-06-10        # re-referral
    S3,C5,941,2024-08-10        # re-referral
    S4,C6,941,2024-07-01
    S0,C7,941,2020-06-01        # 2020-21
";
const S47: &str = "
    s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,icpc_result,transfer_in
    E1,R3,C2,940,2024-06-03,,2024-06-17,CPP,      # Mon -> Mon two weeks on: 10 working days
    E2,R4,C3,940,2024-07-01,,2024-07-29,CPP,      # 20 working days
";

fn northamptonshire() -> tempfile::TempDir {
    fixture(&[("referrals.csv", REFERRALS), ("s47_enquiries.csv", S47)])
}

#[test]
fn compare_940_with_its_2025_neighbours_region_and_england_in_2024_25() {
    let f = northamptonshire();
    let t = compare(
        f.path(),
        &[
            "--years",
            "2019-20..2025-26",
            "--reference-date",
            "2026-03-31",
        ],
    );
    // The columns, named exactly so.
    for c in [
        "measure_id",
        "la_code",
        "year",
        "own_value",
        "published_value",
        "difference",
        "sn_mean",
        "sn_median",
        "sn_count",
        "region_value",
        "england_value",
        "rank",
        "rank_of",
        "quartile_band",
        "polarity",
    ] {
        assert!(
            t.header.iter().any(|h| h == c),
            "no column {c}: {:?}",
            t.header
        );
    }

    // Re-referrals, 940, 2024-25 (C1: rereferral_count 1121 of referral_count 4682, 23.9%).
    let r = t.row("rereferral_12m", "", "940", "2024-25");
    close(r, "own_value", 0.2); // 1 of 5
    close(r, "published_value", 0.239);
    close(r, "difference", (0.2 - 0.239) * 100.0); // -3.9 percentage points
    assert_eq!(text(r, "unit"), "proportion");
    assert_eq!(
        (
            text(r, "published_numerator"),
            text(r, "published_denominator")
        ),
        ("1121", "4682")
    );
    // The 2025 model's ten neighbours of 940 (sn_model_2025_wide.csv) and their 2025
    // rereferral_percent in C1: 866 Swindon 23.0, 941 West Northamptonshire 23.9, 935 Suffolk
    // 20.1, 925 Lincolnshire 22.9, 933 Somerset 22.1, 883 Thurrock 16.0, 891 Nottinghamshire
    // 23.1, 813 North Lincolnshire 14.0, 887 Medway 24.8, 384 Wakefield 18.5.
    // Sum 208.4 -> mean 20.84%; sorted 14.0 16.0 18.5 20.1 22.1 | 22.9 23.0 23.1 23.9 24.8 ->
    // median (22.1 + 22.9) / 2 = 22.5%.
    assert_eq!(text(r, "sn_count"), "10");
    close(r, "sn_mean", 0.2084);
    close(r, "sn_median", 0.225);
    assert_eq!(text(r, "sn_model"), "2025");
    assert_eq!(text(r, "sn_average_used"), "sn_median");
    close(r, "region_value", 0.247); // East Midlands, 2025: 24.7
    close(r, "england_value", 0.226); // National, 2025: 22.6
    assert_eq!(text(r, "region"), "E12000004");
    // Rank among the 153 LAs of 2025 (counted in C1): 26 have more than 23.9%, three have
    // exactly 23.9% (940, 941 and 851 Portsmouth): they share rank 27. Lower is better: 124 LAs
    // are lower, so 940 is 125th best of 153: (125 - 1) x 4 / 153 = 3.2 -> band D.
    assert_eq!(
        (
            text(r, "rank"),
            text(r, "rank_of"),
            text(r, "quartile_band")
        ),
        ("27", "153", "D")
    );
    assert_eq!(text(r, "polarity"), "lower_is_better");
    assert_eq!(text(r, "status"), "both");
    let r941 = t.row("rereferral_12m", "", "941", "2024-25");
    assert_eq!(text(r941, "rank"), "27", "the tie shares the best rank");
    close(r941, "own_value", 0.5); // 2 of 4

    // ICPCs within 15 working days, 940, 2024-25, from C4's bands (0-10 + 11-15) / all four:
    // 940 itself 113 + 420 of 113 + 420 + 59 + 62 = 533 / 654.
    let r = t.row("icpc_15wd", "", "940", "2024-25");
    close(r, "own_value", 0.5); // 10 and 20 working days: 1 of 2
    close(r, "published_value", 533.0 / 654.0);
    assert_eq!(text(r, "polarity"), "higher_is_better");
    // The neighbours' bands in C4 2025: 866 Swindon (c, 197, 25, c), 925 Lincolnshire
    // (97, 482, c, c) and 883 Thurrock (39, 71, c, c) have a suppressed band: left out, not
    // counted as 0. The seven others:
    let seven = [
        467.0 / 586.0, // 941: 79 + 388 of 79 + 388 + 50 + 69
        388.0 / 533.0, // 935: 59 + 329 of 59 + 329 + 80 + 65
        423.0 / 468.0, // 933: 40 + 383 of 40 + 383 + 26 + 19
        783.0 / 831.0, // 891: 254 + 529 of 254 + 529 + 18 + 30
        223.0 / 223.0, // 813: 50 + 173 of 50 + 173 + 0 + 0
        368.0 / 478.0, // 887: 41 + 327 of 41 + 327 + 56 + 54
        590.0 / 727.0, // 384: 38 + 552 of 38 + 552 + 90 + 47
    ];
    assert_eq!(text(r, "sn_count"), "7");
    close(r, "sn_mean", seven.iter().sum::<f64>() / 7.0);
    // Sorted: 0.728 (935), 0.770 (887), 0.797 (941), 0.812 (384), 0.904, 0.942, 1.0 -> 384's.
    close(r, "sn_median", 590.0 / 727.0);

    // 941's neighbours (822, 940, 937, 866, 933, 935, 311, 855, 931, 303): only 866 Swindon has
    // a suppressed band, so nine count.
    let r = t.row("icpc_15wd", "", "941", "2024-25");
    let nine = [
        165.0 / 201.0, // 822: 9 + 156 of 9 + 156 + 13 + 23
        533.0 / 654.0, // 940
        451.0 / 551.0, // 937: 36 + 415 of 36 + 415 + 61 + 39
        423.0 / 468.0, // 933
        388.0 / 533.0, // 935
        479.0 / 599.0, // 311: 62 + 417 of 62 + 417 + 54 + 66
        615.0 / 748.0, // 855: 43 + 572 of 43 + 572 + 63 + 70
        560.0 / 679.0, // 931: 23 + 537 of 23 + 537 + 51 + 68
        275.0 / 334.0, // 303: 22 + 253 of 22 + 253 + 27 + 32
    ];
    assert_eq!(text(r, "sn_count"), "9");
    close(r, "sn_mean", nine.iter().sum::<f64>() / 9.0);
    // Sorted: 0.728, 0.800, 0.815, 0.819, [0.821 = 822's], 0.822, 0.823, 0.825, 0.904.
    close(r, "sn_median", 165.0 / 201.0);

    // The partnership sums its LAs' published counts: (1121 + 1086) / (4682 + 4542).
    let r = t.row("rereferral_12m", "", "ALL", "2024-25");
    assert_eq!(
        (
            text(r, "published_numerator"),
            text(r, "published_denominator")
        ),
        ("2207", "9224")
    );
    close(r, "published_value", 2207.0 / 9224.0);
    close(r, "own_value", 3.0 / 9.0);
    assert_eq!(
        (text(r, "own_numerator"), text(r, "own_denominator")),
        ("3", "9")
    );
    for c in [
        "rank",
        "rank_of",
        "quartile_band",
        "sn_count",
        "sn_mean",
        "sn_median",
    ] {
        assert_eq!(text(r, c), "", "the partnership has no {c} of its own");
    }
    close(r, "region_value", 0.247); // both LAs are in the East Midlands
                                     // A quartile cannot be summed: no published value for the partnership.
    let r = t.row("icpc_duration_band", "median", "ALL", "2024-25");
    assert_eq!(text(r, "published_value"), "");
    assert!(text(r, "note").contains("cannot be combined"), "{r:?}");

    // 940 and 941 start in 2021-22. 940 has nothing in the store before then: no row at all.
    for y in ["2019-20", "2020-21"] {
        assert!(
            !t.rows.keys().any(|k| k.2 == "940" && k.3 == y),
            "940 has a row in {y}"
        );
    }
    // 941 has a (fictional) referral in 2020-21: our figure, and no published one - not zero.
    let r = t.row("rereferral_12m", "", "941", "2020-21");
    close(r, "own_value", 0.0);
    assert_eq!(text(r, "published_value"), "");
    assert_eq!(text(r, "status"), "store_only");
    assert!(
        text(r, "note").contains("LA 941 did not exist in 2020-21"),
        "{r:?}"
    );
    // 2025-26 is in the store, not yet published.
    let r = t.row("rereferral_12m", "", "940", "2025-26");
    assert_eq!(text(r, "published_value"), "");
    assert!(
        text(r, "note").contains("the DfE has not published 2025-26"),
        "{r:?}"
    );
    // 2021-22 to 2023-24: published, our store has nothing for 940 then.
    let r = t.row("rereferral_12m", "", "940", "2022-23");
    assert_eq!(text(r, "status"), "published_only");
    close(r, "published_value", 0.293); // C1 2023, 940: 29.3
    assert_eq!(text(r, "own_value"), "");
    // A suppressed published value is left empty with its symbol: 940's plans open 1 to 2 years
    // at 31 March 2025 are c in D5.
    let r = t.row(
        "cpp_duration_open",
        "1 to less than 2 years",
        "940",
        "2024-25",
    );
    assert_eq!(
        (text(r, "published_value"), text(r, "published_symbol")),
        ("", "c")
    );
    // Rates: no population in the store, so not measurable; the DfE's rate is still there:
    // 4682 referrals / 83,113 children (ONS mid-2024, 940) x 10,000.
    let r = t.row("rate_per_10k", "referrals", "940", "2024-25");
    close(r, "published_value", 4682.0 / 83113.0 * 10_000.0);
    assert_eq!(text(r, "own_value"), "");
    assert!(text(r, "note").contains("not measurable"), "{r:?}");

    // The run prints a reconciliation sentence per headline measure and LA for the last year
    // asked (2025-26 above has no published figures): 2024-25 alone, 940 alone.
    let t = compare(
        f.path(),
        &[
            "--year",
            "2024-25",
            "--la",
            "940",
            "--reference-date",
            "2026-03-31",
        ],
    );
    assert!(
        t.summary.contains(
            "North Northamptonshire's re-referral rate for 2024-25, 20.0%, is 3.9 points below the DfE's published 23.9%."
        ),
        "{}",
        t.summary
    );
    assert!(
        !t.has("rereferral_12m", "", "941", "2024-25"),
        "--la 940 only"
    );
    assert!(
        !t.has("rereferral_12m", "", "ALL", "2024-25"),
        "--la 940 only"
    );
}

#[test]
fn parquet_output_help_and_bad_arguments() {
    let f = northamptonshire();
    let csv = compare(
        f.path(),
        &["--year", "2024-25", "--reference-date", "2026-03-31"],
    );
    let o = run_in(
        f.path(),
        &[
            "compare",
            "--store",
            "store",
            "--year",
            "2024-25",
            "--reference-date",
            "2026-03-31",
            "--out",
            "out/c.parquet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let df = safeguard::store::read_parquet(&f.path().join("out/c.parquet")).expect("parquet");
    assert_eq!(df.height(), csv.rows.len(), "the same rows as the CSV");
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(names, csv.header, "the same columns as the CSV");
    let help = run_in(f.path(), &["compare", "--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("Example: safeguard compare"));
    assert!(!stdout(&help).contains("benchmarks-dir"), "a hidden option");
    // Bad arguments: exit 1 with one line.
    for args in [
        vec!["--year", "2024"],
        vec!["--neighbours", "2019"],
        vec!["--store", "no-such-store"],
    ] {
        let mut a = vec!["compare", "--out", "x.csv"];
        a.extend(args.iter().copied());
        let o = run_in(f.path(), &a);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    }
    // The default years run from the store's first referral (941's, 2020-21) to the latest
    // complete year at the reference date (2025-26).
    let t = compare(f.path(), &["--reference-date", "2026-03-31"]);
    let years: std::collections::BTreeSet<&str> = t.rows.keys().map(|k| k.3.as_str()).collect();
    assert_eq!(
        years.into_iter().collect::<Vec<_>>(),
        ["2020-21", "2021-22", "2022-23", "2023-24", "2024-25", "2025-26"]
    );
}

#[test]
fn the_2021_model_gives_other_neighbours() {
    let f = northamptonshire();
    let t = compare(
        f.path(),
        &[
            "--year",
            "2024-25",
            "--neighbours",
            "2021",
            "--reference-date",
            "2026-03-31",
        ],
    );
    // New_Statistical_Neighbour_Groupings_April_2021.csv, 940: 941, 891, 860, 925, 830, 909,
    // 886, 885, 935, 937. Cumbria (909) was split in 2023: no 2025 row, so nine count. Their C1
    // 2025 rereferral_percent: 941 23.9, 891 23.1, 860 Staffordshire 14.2, 925 22.9,
    // 830 Derbyshire 28.9, 886 Kent 21.6, 885 Worcestershire 17.8, 935 20.1, 937 Warwickshire 17.0.
    let r = t.row("rereferral_12m", "", "940", "2024-25");
    assert_eq!(text(r, "sn_model"), "2021");
    assert_eq!(text(r, "sn_count"), "9");
    let nine = [23.9, 23.1, 14.2, 22.9, 28.9, 21.6, 17.8, 20.1, 17.0];
    close(r, "sn_mean", nine.iter().sum::<f64>() / 9.0 / 100.0);
    close(r, "sn_median", 0.216); // sorted: 14.2 17.0 17.8 20.1 [21.6] 22.9 23.1 23.9 28.9
}

/// A crafted benchmark folder: eleven LAs, one suppressed, one tie, three polarities.
fn crafted(dir: &Path) {
    let b = dir.join("bench");
    std::fs::create_dir(&b).expect("bench dir");
    let mut csv = String::from(
        "measure_id,breakdown,breakdown_value,year,level,la_code,region,name,numerator,denominator,value,symbol\n",
    );
    let values = [
        ("940", Some(20)),
        ("941", Some(20)),
        ("901", Some(10)),
        ("902", Some(30)),
        ("903", Some(25)),
        ("904", None),
        ("905", Some(15)),
        ("906", Some(40)),
        ("907", Some(22)),
        ("908", Some(18)),
        ("909", Some(35)),
    ];
    for (m, b, bv, scale) in [
        ("rereferral_12m", "NONE", "", 0.01),
        ("icpc_15wd", "NONE", "", 0.01),
        ("rate_per_10k", "count", "referrals", 10.0),
    ] {
        csv.push_str(&format!(
            "{m},{b},{bv},2024-25,national,,,England,,,{},\n",
            23.0 * scale
        ));
        csv.push_str(&format!(
            "{m},{b},{bv},2024-25,regional,,E12000004,East Midlands,,,{},\n",
            24.0 * scale
        ));
        for (la, v) in values {
            match v {
                Some(v) => csv.push_str(&format!(
                    "{m},{b},{bv},2024-25,la,{la},E12000004,LA {la},{v},100,{},\n",
                    v as f64 * scale
                )),
                None => csv.push_str(&format!(
                    "{m},{b},{bv},2024-25,la,{la},E12000004,LA {la},,100,,c\n"
                )),
            }
        }
    }
    write(&b, "dfe.csv", &csv);
    let mut nb = String::from("model,la_code,rank,neighbour\n");
    for (i, n) in [
        "941", "901", "902", "903", "904", "905", "906", "907", "908", "909",
    ]
    .iter()
    .enumerate()
    {
        nb.push_str(&format!("2025,940,{},{n}\n", i + 1));
    }
    write(&b, "neighbours.csv", &nb);
}

#[test]
fn ranks_ties_quartile_bands_by_polarity_and_a_suppressed_neighbour_left_out() {
    let f = northamptonshire();
    crafted(f.path());
    let t = compare(
        f.path(),
        &[
            "--year",
            "2024-25",
            "--la",
            "940",
            "--la",
            "906",
            "--la",
            "901",
            "--reference-date",
            "2026-03-31",
            "--benchmarks-dir",
            "bench",
        ],
    );
    // Values (per cent): 906 40, 909 35, 902 30, 903 25, 907 22, 940 20, 941 20, 908 18,
    // 905 15, 901 10; 904 is c: ten LAs have a value.
    // 940's neighbours: the ten others; 904 (c) is left out: nine, summing 215 -> mean 23.888..;
    // sorted 10 15 18 20 [22] 25 30 35 40 -> median 22. (Counting c as 0: ten, mean 21.5.)
    let r = t.row("rereferral_12m", "", "940", "2024-25");
    assert_eq!(text(r, "sn_count"), "9");
    close(r, "sn_mean", 2.15 / 9.0);
    close(r, "sn_median", 0.22);
    // Ranks, 1 = highest: 906 1, 909 2, 902 3, 903 4, 907 5, 940 and 941 6 (a tie shares the
    // best rank), 908 8, 905 9, 901 10.
    // Bands: position in the best-first order p of n = 10, band by (p - 1) x 4 / 10: 0 A, 1 B,
    // 2 C, 3 D. Lower is better (re-referrals): 940 is 4th lowest -> 12/10 -> B; 906 10th -> D;
    // 901 1st -> A. Higher is better (ICPCs in time) and neutral (rates, highest first): 940 is
    // 6th -> 20/10 -> C; 906 1st -> A; 901 10th -> D.
    for (m, bv, bands) in [
        ("rereferral_12m", "", ["B", "D", "A"]),
        ("icpc_15wd", "", ["C", "A", "D"]),
        ("rate_per_10k", "referrals", ["C", "A", "D"]),
    ] {
        for ((la, rank), band) in [("940", "6"), ("906", "1"), ("901", "10")]
            .iter()
            .zip(bands)
        {
            let r = t.row(m, bv, la, "2024-25");
            assert_eq!(
                (
                    text(r, "rank"),
                    text(r, "rank_of"),
                    text(r, "quartile_band")
                ),
                (*rank, "10", band),
                "{m} {la}"
            );
        }
    }
    assert_eq!(
        text(
            t.row("rate_per_10k", "referrals", "940", "2024-25"),
            "polarity"
        ),
        "neutral"
    );
    // 906 and 901 are not in the store: the published side only, and no neighbours recorded.
    let r = t.row("rereferral_12m", "", "906", "2024-25");
    assert_eq!(text(r, "status"), "published_only");
    assert!(
        text(r, "note").contains("no statistical neighbours"),
        "{r:?}"
    );
}

#[test]
fn a_benchmark_folder_with_a_missing_value_and_no_symbol_is_a_user_error() {
    let f = northamptonshire();
    let b = f.path().join("bench");
    std::fs::create_dir(&b).expect("bench dir");
    write(
        &b,
        "dfe.csv",
        "measure_id,breakdown,breakdown_value,year,level,la_code,region,name,numerator,denominator,value,symbol\n\
         rereferral_12m,NONE,,2024-25,la,940,E12000004,A,1,10,,\n",
    );
    write(&b, "neighbours.csv", "model,la_code,rank,neighbour\n");
    let o = run_in(
        f.path(),
        &[
            "compare",
            "--store",
            "store",
            "--out",
            "c.csv",
            "--benchmarks-dir",
            "bench",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("dfe.csv:2:12") && err.contains("symbol"),
        "{err}"
    );
}

#[test]
fn the_shipped_asset_is_rebuilt_exactly_from_the_shared_files() {
    let shared = root().join("../shared/benchmarks");
    if !shared.join("dfe").is_dir() {
        eprintln!("SKIPPED: ../shared/benchmarks is not present beside the project");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let o = run_in(
        dir.path(),
        &[
            "benchmarks-refresh",
            "--from",
            shared.to_str().expect("utf-8 path"),
            "--out",
            "assets",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    for name in ["dfe.parquet", "neighbours.csv"] {
        let built = std::fs::read(dir.path().join("assets").join(name)).expect("built");
        let shipped = std::fs::read(root().join("assets/benchmarks").join(name)).expect("shipped");
        assert!(
            built == shipped,
            "assets/benchmarks/{name} differs from what scripts/refresh-benchmarks.sh builds: run it"
        );
    }
    let shipped = std::fs::metadata(root().join("assets/benchmarks/dfe.parquet"))
        .expect("asset")
        .len();
    assert!(shipped < 600_000, "the asset is {shipped} bytes");
}

#[test]
fn the_reconciliation_sentence() {
    use safeguard::compare::{reconcile, CompareRow};
    let row = |own: Option<f64>, published: Option<f64>| CompareRow {
        measure_id: "rereferral_12m".into(),
        breakdown: "NONE".into(),
        la_code: "940".into(),
        year: "2024-25".into(),
        own_value: own,
        published_value: published,
        unit: "proportion".into(),
        ..Default::default()
    };
    // The example.
    assert_eq!(
        reconcile::sentence(&row(Some(0.221), Some(0.223)), "Our"),
        "Our re-referral rate for 2024-25, 22.1%, is 0.2 points below the DfE's published 22.3%."
    );
    // The difference is between the figures as shown: 22.14% and 22.26% show as 22.1% and 22.3%.
    assert_eq!(
        reconcile::sentence(&row(Some(0.2214), Some(0.2226)), "Our"),
        "Our re-referral rate for 2024-25, 22.1%, is 0.2 points below the DfE's published 22.3%."
    );
    assert_eq!(
        reconcile::sentence(&row(Some(0.2231), Some(0.223)), "Our"),
        "Our re-referral rate for 2024-25, 22.3%, matches the DfE's published 22.3%."
    );
    let mut r = row(Some(0.25), None);
    r.published_symbol = "c".into();
    assert_eq!(
        reconcile::sentence(&r, "Our"),
        "Our re-referral rate for 2024-25 is 25.0%; the DfE's figure is not shown (c: suppressed to protect confidentiality)."
    );
    let mut r = row(Some(562.04), Some(514.1));
    r.measure_id = "rate_per_10k".into();
    r.breakdown = "count".into();
    r.breakdown_value = "referrals".into();
    r.unit = "per_10k".into();
    r.la_code = "ALL".into();
    assert_eq!(
        reconcile::sentence(&r, "The partnership's"),
        "The partnership's referrals per 10,000 children for 2024-25, 562.0, is 47.9 above the DfE's published figures for its LAs combined, 514.1."
    );
    let general = reconcile::known_differences("rereferral_12m");
    assert!(general.iter().any(|s| s.starts_with("late returns")));
    assert!(reconcile::known_differences("assessment_not_in_need")
        .iter()
        .any(|s| s.contains("denominator")));
}
