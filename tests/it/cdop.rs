//! Child death review (cdop.md): the age band by birthday, the `cdop_` figures of
//! `safeguard measures` on a small hand-worked fixture (ingested through the real binary), and the
//! national return (`write_return`) with its validation report, with no full date and no
//! identifier in any file it writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use safeguard::cdop::age::{age_band, age_years, birth_date, birthday, AgeBand};
use safeguard::cdop::cases::{review_time_band, whole_months, REVIEW_TIME_BANDS};
use safeguard::cdop::{write_return, ReturnSummary};
use safeguard::period::FinYear;
use safeguard::store::Store;

use crate::common::{bin, read_table, stderr, stdout, write, TEST_KEY};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Days from `birth` to `death`.
fn days(birth: NaiveDate, death: NaiveDate) -> i64 {
    (death - birth).num_days()
}

// ---------------------------------------------------------------------------------------------
// age bands (pure)

#[test]
fn age_band_27_and_28_days() {
    let death = d(2024, 6, 30);
    assert_eq!(age_band(death, 0), AgeBand::Under28Days);
    assert_eq!(age_band(death, 27), AgeBand::Under28Days);
    assert_eq!(age_band(death, 28), AgeBand::Days28ToUnder1);
}

#[test]
fn age_band_first_birthday_common_and_leap_years() {
    // Born 1 March 2022: first birthday 1 March 2023, 365 days on (no 29 February between).
    let birth = d(2022, 3, 1);
    assert_eq!(
        age_band(d(2023, 2, 28), days(birth, d(2023, 2, 28))),
        AgeBand::Days28ToUnder1
    );
    assert_eq!(days(birth, d(2023, 2, 28)), 364);
    assert_eq!(age_band(d(2023, 3, 1), 365), AgeBand::Years1To4);
    // Born 1 March 2023: the year to the first birthday holds 29 February 2024, so 365 days old
    // on 29 February 2024 is still under 1, and 366 days (1 March 2024) is 1.
    let birth = d(2023, 3, 1);
    assert_eq!(days(birth, d(2024, 2, 29)), 365);
    assert_eq!(age_band(d(2024, 2, 29), 365), AgeBand::Days28ToUnder1);
    assert_eq!(age_band(d(2024, 3, 1), 366), AgeBand::Years1To4);
    // 364 days in a leap span: still under 1.
    assert_eq!(age_band(d(2024, 2, 28), 364), AgeBand::Days28ToUnder1);
}

#[test]
fn age_band_29_february_birthday_falls_on_1_march() {
    let birth = d(2024, 2, 29);
    assert_eq!(birthday(birth, 1), Some(d(2025, 3, 1)));
    assert_eq!(birthday(birth, 4), Some(d(2028, 2, 29)));
    assert_eq!(birthday(birth, 18), Some(d(2042, 3, 1)));
    // 28 February 2025 is 365 days on and still before the first birthday.
    assert_eq!(days(birth, d(2025, 2, 28)), 365);
    assert_eq!(age_band(d(2025, 2, 28), 365), AgeBand::Days28ToUnder1);
    assert_eq!(age_band(d(2025, 3, 1), 366), AgeBand::Years1To4);
    assert_eq!(age_years(birth, d(2025, 2, 28)), Some(0));
    assert_eq!(age_years(birth, d(2025, 3, 1)), Some(1));
    // Born 29 February 2008: 18 on 1 March 2026.
    let birth = d(2008, 2, 29);
    let eve = d(2026, 2, 28);
    assert_eq!(age_band(eve, days(birth, eve)), AgeBand::Years15To17);
    let day = d(2026, 3, 1);
    assert_eq!(age_band(day, days(birth, day)), AgeBand::OutOfScope);
}

#[test]
fn age_band_year_bands_and_the_18th_birthday() {
    let birth = d(2006, 6, 1);
    let at = |y: i32, m: u32, dd: u32| {
        let death = d(y, m, dd);
        age_band(death, days(birth, death))
    };
    assert_eq!(at(2007, 5, 31), AgeBand::Days28ToUnder1);
    assert_eq!(at(2007, 6, 1), AgeBand::Years1To4);
    assert_eq!(at(2011, 5, 31), AgeBand::Years1To4);
    assert_eq!(at(2011, 6, 1), AgeBand::Years5To9);
    assert_eq!(at(2016, 5, 31), AgeBand::Years5To9);
    assert_eq!(at(2016, 6, 1), AgeBand::Years10To14);
    assert_eq!(at(2021, 5, 31), AgeBand::Years10To14);
    assert_eq!(at(2021, 6, 1), AgeBand::Years15To17);
    assert_eq!(at(2024, 5, 31), AgeBand::Years15To17);
    assert_eq!(
        at(2024, 6, 1),
        AgeBand::OutOfScope,
        "a death on the 18th birthday is out of scope"
    );
    assert_eq!(days(birth, d(2024, 6, 1)), 6575);
    assert!(!AgeBand::OutOfScope.in_scope());
    assert_eq!(birth_date(d(2024, 6, 1), 6575), Some(birth));
    assert_eq!(age_band(d(2024, 6, 1), -1), AgeBand::NotKnown);
    assert_eq!(
        AgeBand::IN_SCOPE.map(AgeBand::label),
        [
            "under 28 days",
            "28 days to under 1 year",
            "1-4",
            "5-9",
            "10-14",
            "15-17"
        ]
    );
}

#[test]
fn time_to_review_months_and_bands() {
    assert_eq!(whole_months(d(2024, 2, 1), d(2024, 8, 1)), Some(6));
    assert_eq!(whole_months(d(2024, 2, 1), d(2024, 7, 31)), Some(5));
    assert_eq!(
        whole_months(d(2024, 1, 31), d(2024, 2, 29)),
        Some(1),
        "month ends clamp"
    );
    assert_eq!(whole_months(d(2024, 1, 31), d(2024, 2, 28)), Some(0));
    assert_eq!(whole_months(d(2024, 5, 1), d(2024, 4, 30)), None);
    let band = |m| review_time_band(m, REVIEW_TIME_BANDS);
    assert_eq!(band(0), "under 6 months");
    assert_eq!(band(5), "under 6 months");
    assert_eq!(band(6), "6 to under 12 months");
    assert_eq!(band(11), "6 to under 12 months");
    assert_eq!(band(12), "12 to under 24 months");
    assert_eq!(band(24), "24 months or more");
    // Configurable bands.
    assert_eq!(review_time_band(13, &[3, 12]), "12 months or more");
    assert_eq!(review_time_band(2, &[3, 12]), "under 3 months");
}

// ---------------------------------------------------------------------------------------------
// the fixture: 16 deaths of a fictional CDOP (hand-worked values in the tests below)

const REVIEWS: &str = "\
case_id,cdop_code,la_code,date_of_death,notified_date,age_at_death_days,sex,ethnicity,imd_decile,expected,category,modifiable,place_of_death,event,review_completed_date,scr_or_lcspr,died_outside_area,child_id
case-k7q-01,NNC,940,2024-01-10,2024-01-11,10,M,WBRI,1,Y,8,NOT_IDENTIFIED,HOSPITAL,NEONATAL,2024-06-10,N,N,
case-k7q-02,NNC,940,2023-12-01,2023-12-02,200,F,MWBC,2,N,8,IDENTIFIED,HOME,SUDI,2024-09-15,N,N,kid-x93-02
case-k7q-03,NNC,940,2023-05-20,2023-05-21,2000,M,BAFR,3,N,3,IDENTIFIED,PUBLIC_PLACE,ROAD_TRAFFIC,2024-07-01,Y,N,kid-x93-03
case-k7q-04,NNC,941,2024-02-01,2024-02-02,5000,F,WBRI,10,Y,4,NOT_IDENTIFIED,HOSPICE,KNOWN_LIFE_LIMITING,2024-08-01,N,N,
case-k7q-05,NNC,941,2023-09-09,2023-09-10,6000,M,AOTH,5,N,3,INSUFFICIENT,HOME,OTHER_ACCIDENT,2025-01-20,N,N,
case-k7q-06,NNC,941,2022-03-15,2022-03-16,3000,M,,,N,1,IDENTIFIED,HOME,APPARENT_HOMICIDE,2025-03-31,Y,N,kid-x93-06
case-k7q-07,NNC,940,2024-03-01,2024-03-02,100,F,WBRI,4,N,10,INSUFFICIENT,HOME,SUDI,2024-04-01,N,N,
case-k7q-08,NNC,940,2024-08-01,,400,M,WBRI,4,Y,5,NOT_IDENTIFIED,HOSPITAL,,2024-05-05,N,N,
case-k7q-09,NNC,941,2024-06-01,2024-06-02,6575,M,WBRI,6,Y,5,NOT_IDENTIFIED,HOSPITAL,,2024-12-01,N,N,
case-k7q-10,NNC,940,2024-01-01,2024-01-02,400,F,WBRI,7,N,,IDENTIFIED,HOME,OTHER,2024-10-01,N,N,
case-k7q-11,NNC,940,2025-01-10,2025-01-11,20,M,WBRI,1,N,,,HOSPITAL,,,,Y,
case-k7q-12,NNC,941,2024-12-01,2024-12-02,1000,F,WBRI,2,N,9,NOT_IDENTIFIED,HOSPITAL,,2025-05-01,N,N,
case-k7q-13,NNC,941,2025-02-01,2025-02-02,6606,M,WBRI,3,N,,,PUBLIC_PLACE,,,,Y,
case-k7q-14,NNC,940,2022-06-01,2022-06-02,4000,M,WBRI,3,N,3,IDENTIFIED,PUBLIC_PLACE,ROAD_TRAFFIC,2023-06-01,N,N,
case-k7q-15,NNC,941,2021-10-01,2021-10-02,700,F,WBRI,3,N,3,NOT_IDENTIFIED,HOME,OTHER,2022-05-01,N,N,
case-k7q-16,NNC,941,2019-10-01,2019-10-02,900,F,WBRI,3,N,3,IDENTIFIED,HOME,DROWNING,2020-07-01,N,N,
";

const FACTORS: &str = "\
case_id,domain,factor,grade
case-k7q-03,B,SUPERVISION,2
case-k7q-03,C,ROAD_SAFETY,2
case-k7q-03,D,INFORMATION_SHARING,1
case-k7q-06,B,DOMESTIC_ABUSE,2
case-k7q-06,D,MULTI_AGENCY_WORKING,2
case-k7q-14,C,ROAD_SAFETY,2
case-k7q-08,B,SUPERVISION,2
";

// kid-x93-06: referral before the death; kid-x93-02: referral only after the death;
// kid-x93-03: referral and plan before the death.
const REFERRALS: &str = "\
referral_id,child_id,la_code,received_at
ref-06,kid-x93-06,941,2021-01-01
ref-02,kid-x93-02,940,2024-01-01
ref-03,kid-x93-03,940,2022-12-01
";

const PLANS: &str = "\
plan_id,referral_id,child_id,la_code,start_date,initial_category
plan-03,ref-03,kid-x93-03,940,2023-01-01,NEG
";

const CASE_IDS: &[&str] = &[
    "case-k7q-01",
    "case-k7q-02",
    "case-k7q-03",
    "case-k7q-04",
    "case-k7q-05",
    "case-k7q-06",
    "case-k7q-07",
    "case-k7q-08",
    "case-k7q-09",
    "case-k7q-10",
    "case-k7q-11",
    "case-k7q-12",
    "case-k7q-13",
    "case-k7q-14",
    "case-k7q-15",
    "case-k7q-16",
];
const CHILD_IDS: &[&str] = &["kid-x93-02", "kid-x93-03", "kid-x93-06"];

/// Writes the fixture into a temp dir and ingests it (with a pseudonym key) through the binary.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "cdop_reviews.csv", REVIEWS);
    write(dir.path(), "cdop_factors.csv", FACTORS);
    write(dir.path(), "referrals.csv", REFERRALS);
    write(dir.path(), "cp_plans.csv", PLANS);
    let out = bin()
        .current_dir(dir.path())
        .env("SAFEGUARD_KEY", TEST_KEY)
        .args([
            "ingest",
            "cdop_reviews.csv",
            "cdop_factors.csv",
            "referrals.csv",
            "cp_plans.csv",
            "--store",
            "store",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let store = dir.path().join("store");
    (dir, store)
}

/// A row of the tidy table: (numerator, denominator, value, excluded).
type Row = (i64, i64, String, i64);

fn measures(dir: &Path, year: &str) -> BTreeMap<(String, String, String, String), Row> {
    let out = bin()
        .current_dir(dir)
        .args([
            "measures", "--store", "store", "--year", year, "--out", "m.csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "measures failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    crate::common::read_measures(&dir.join("m.csv"))
        .into_iter()
        .filter(|(k, _)| k.1 == year)
        .map(|((m, _, la, b, v), r)| {
            let value = r.value.map(|x| x.to_string()).unwrap_or_default();
            (
                (m, la, b, v),
                (r.numerator, r.denominator, value, r.excluded),
            )
        })
        .collect()
}

fn get<'a>(
    m: &'a BTreeMap<(String, String, String, String), Row>,
    id: &str,
    la: &str,
    b: &str,
    v: &str,
) -> &'a Row {
    m.get(&(id.into(), la.into(), b.into(), v.into()))
        .unwrap_or_else(|| panic!("no row {id} {la} {b} {v}"))
}

fn nd(r: &Row) -> (i64, i64, i64) {
    (r.0, r.1, r.3)
}

fn value(r: &Row) -> f64 {
    r.2.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// measures

#[test]
fn measures_reviews_completed_by_category_and_modifiable() {
    let (dir, _store) = fixture();
    let m = measures(dir.path(), "2024-25");
    let id = "cdop_reviews_completed";
    // Completed in 2024-25: 01-10; 08 (completed before death) and 09 (18) excluded.
    assert_eq!(nd(get(&m, id, "ALL", "NONE", "")), (8, 8, 2));
    assert_eq!(nd(get(&m, id, "940", "NONE", "")), (5, 5, 1));
    assert_eq!(nd(get(&m, id, "941", "NONE", "")), (3, 3, 1));
    for (cat, n) in [
        ("1", 1),
        ("3", 2),
        ("4", 1),
        ("8", 2),
        ("10", 1),
        ("not recorded", 1),
    ] {
        assert_eq!(get(&m, id, "ALL", "category", cat).0, n, "category {cat}");
        assert_eq!(
            get(&m, id, "ALL", "category", cat).1,
            8,
            "category {cat} is a share of all"
        );
    }
    assert_eq!(
        nd(get(&m, id, "ALL", "category", "5")),
        (0, 8, 2),
        "category 5: only the excluded two"
    );
    for (out, n) in [
        ("IDENTIFIED", 4),
        ("NOT_IDENTIFIED", 2),
        ("INSUFFICIENT", 2),
    ] {
        assert_eq!(get(&m, id, "ALL", "modifiable", out).0, n, "{out}");
    }
    for (cm, n) in [
        ("1|IDENTIFIED", 1),
        ("3|IDENTIFIED", 1),
        ("3|INSUFFICIENT", 1),
        ("4|NOT_IDENTIFIED", 1),
        ("8|IDENTIFIED", 1),
        ("8|NOT_IDENTIFIED", 1),
        ("10|INSUFFICIENT", 1),
        ("not recorded|IDENTIFIED", 1),
    ] {
        assert_eq!(get(&m, id, "ALL", "category_modifiable", cm).0, n, "{cm}");
    }
    assert!(!m.contains_key(&(
        id.into(),
        "ALL".into(),
        "category_modifiable".into(),
        "3|NOT_IDENTIFIED".into()
    )));
}

#[test]
fn measures_modifiable_two_ways() {
    let (dir, _store) = fixture();
    let m = measures(dir.path(), "2024-25");
    // Of all completed reviews with an outcome: IDENTIFIED 4 of 8.
    let all = get(&m, "cdop_modifiable_all", "ALL", "NONE", "");
    assert_eq!(nd(all), (4, 8, 2));
    assert!((value(all) - 0.5).abs() < 1e-9);
    // Of reviews with sufficient information: 4 of 6 (05 and 07 INSUFFICIENT join 08 and 09).
    let suf = get(&m, "cdop_modifiable_sufficient", "ALL", "NONE", "");
    assert_eq!(nd(suf), (4, 6, 4));
    assert!((value(suf) - 4.0 / 6.0).abs() < 1e-9);
    // By LA: 940 = 01 N, 02 I, 03 I, 07 Ins, 10 I; 941 = 04 N, 05 Ins, 06 I.
    assert_eq!(
        nd(get(&m, "cdop_modifiable_all", "940", "NONE", "")),
        (3, 5, 1)
    );
    assert_eq!(
        nd(get(&m, "cdop_modifiable_sufficient", "940", "NONE", "")),
        (3, 4, 2)
    );
    assert_eq!(
        nd(get(&m, "cdop_modifiable_all", "941", "NONE", "")),
        (1, 3, 1)
    );
    assert_eq!(
        nd(get(&m, "cdop_modifiable_sufficient", "941", "NONE", "")),
        (1, 2, 2)
    );
    let s = "cdop_modifiable_sufficient";
    assert_eq!(nd(get(&m, s, "ALL", "expected", "expected")).0, 0);
    assert_eq!(nd(get(&m, s, "ALL", "expected", "expected")).1, 2);
    assert_eq!(nd(get(&m, s, "ALL", "expected", "unexpected")), (4, 4, 2));
    assert_eq!(nd(get(&m, s, "ALL", "sex", "M")), (2, 3, 3));
    assert_eq!(nd(get(&m, s, "ALL", "sex", "F")), (2, 3, 1));
    assert_eq!(nd(get(&m, s, "ALL", "ethnicity_group", "Mixed")), (1, 1, 0));
    assert_eq!(
        nd(get(&m, s, "ALL", "ethnicity_group", "Not known")),
        (1, 1, 0)
    );
    assert_eq!(
        nd(get(&m, s, "ALL", "imd_quintile", "1")),
        (1, 2, 0),
        "deciles 1-2 = quintile 1"
    );
    assert_eq!(nd(get(&m, s, "ALL", "imd_quintile", "5")), (0, 1, 0));
    assert_eq!(nd(get(&m, s, "ALL", "age_band", "5-9")), (2, 2, 0));
    assert_eq!(
        nd(get(&m, s, "ALL", "age_band", "18 or over (out of scope)")),
        (0, 0, 1)
    );
    assert_eq!(nd(get(&m, s, "ALL", "category_of_death", "8")), (1, 2, 0));
    assert_eq!(nd(get(&m, s, "ALL", "category_of_death", "3")), (1, 1, 1));
    assert_eq!(nd(get(&m, s, "ALL", "scr_or_lcspr", "Y")), (2, 2, 0));
    assert_eq!(nd(get(&m, s, "ALL", "place_of_death", "HOME")), (3, 3, 2));
    assert_eq!(nd(get(&m, s, "ALL", "event", "SUDI")), (1, 1, 1));
}

#[test]
fn measures_time_open_notified_pooled_factors_known() {
    let (dir, _store) = fixture();
    let m = measures(dir.path(), "2024-25");
    let t = "cdop_time_to_review";
    assert_eq!(nd(get(&m, t, "ALL", "NONE", "")), (8, 8, 2));
    // 01 5 months, 07 1 month; 02, 04 (exactly 6 months), 10; 03, 05; 06 (36 months).
    assert_eq!(get(&m, t, "ALL", "band", "under 6 months").0, 2);
    assert_eq!(get(&m, t, "ALL", "band", "6 to under 12 months").0, 3);
    assert_eq!(get(&m, t, "ALL", "band", "12 to under 24 months").0, 2);
    assert_eq!(get(&m, t, "ALL", "band", "24 months or more").0, 1);
    // Days: 31, 152, 182, 274, 289, 408, 499, 1112 -> nearest rank p25 152, median 274, p75 408.
    assert_eq!(value(get(&m, t, "ALL", "statistic", "median")), 274.0);
    assert_eq!(value(get(&m, t, "ALL", "statistic", "p25")), 152.0);
    assert_eq!(value(get(&m, t, "ALL", "statistic", "p75")), 408.0);

    // Open at 31 March 2025: 11 (under 28 days) and 12 (1-4; completed May 2025); 13 is 18.
    let o = "cdop_open_at_year_end";
    assert_eq!(nd(get(&m, o, "ALL", "NONE", "")), (2, 2, 1));
    assert_eq!(get(&m, o, "ALL", "band", "under 28 days").0, 1);
    assert_eq!(get(&m, o, "ALL", "band", "1-4").0, 1);

    // Notified in 2024-25: 08 (by date of death), 11, 12; 09 and 13 out of scope.
    let n = "cdop_deaths_notified";
    assert_eq!(nd(get(&m, n, "ALL", "NONE", "")), (3, 3, 2));
    assert_eq!(get(&m, n, "ALL", "category", "not yet categorised").0, 1);

    // Pooled: 2022-23..2024-25 adds 14 (I) and 15 (N); 2020-21.. adds 16 (I).
    assert_eq!(
        nd(get(
            &m,
            "cdop_modifiable_sufficient_pooled3",
            "ALL",
            "NONE",
            ""
        )),
        (5, 8, 4)
    );
    assert_eq!(
        nd(get(
            &m,
            "cdop_modifiable_sufficient_pooled5",
            "ALL",
            "NONE",
            ""
        )),
        (6, 9, 4)
    );
    assert_eq!(
        nd(get(
            &m,
            "cdop_modifiable_sufficient_pooled3",
            "ALL",
            "category_of_death",
            "3"
        )),
        (2, 3, 1)
    );
    assert_eq!(
        nd(get(
            &m,
            "cdop_modifiable_sufficient_pooled5",
            "ALL",
            "category_of_death",
            "3"
        )),
        (3, 4, 1)
    );

    // Grade-2 factors of reviews completed in the year: 03 (B, C) and 06 (B, D); 08's excluded.
    let f = "cdop_factor_recurrence";
    assert_eq!(nd(get(&m, f, "ALL", "NONE", "")), (4, 4, 1));
    assert_eq!(
        get(
            &m,
            f,
            "ALL",
            "domain",
            "B: social environment, family and parenting capacity"
        )
        .0,
        2
    );
    assert_eq!(get(&m, f, "ALL", "factor", "C|ROAD_SAFETY").0, 1);
    assert!(
        !m.contains_key(&(
            f.into(),
            "ALL".into(),
            "factor".into(),
            "D|INFORMATION_SHARING".into()
        )),
        "grade 1 is not counted"
    );
    assert_eq!(
        get(
            &m,
            "cdop_factor_recurrence_pooled3",
            "ALL",
            "factor",
            "C|ROAD_SAFETY"
        )
        .0,
        2
    );

    // Known to services before the death: 03 (referral and plan) and 06 (referral); 02's
    // referral came after the death.
    let k = get(&m, "cdop_known_to_services", "ALL", "NONE", "");
    assert_eq!(nd(k), (2, 8, 2));
}

#[test]
fn measures_without_cdop_data_are_not_measurable() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "referrals.csv", REFERRALS);
    let out = bin()
        .current_dir(dir.path())
        .args(["ingest", "referrals.csv", "--store", "store"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = bin()
        .current_dir(dir.path())
        .args([
            "measures", "--store", "store", "--year", "2024-25", "--out", "m.csv",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("not measurable: cdop_reviews_completed: no child death reviews"));
    let text = std::fs::read_to_string(dir.path().join("m.csv")).unwrap();
    assert!(!text.contains("cdop_"), "no cdop rows without cdop data");
}

// ---------------------------------------------------------------------------------------------
// the national return

fn csv_rows(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let h = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (h, rows)
}

fn national_return(store: &Path, out: &Path) -> ReturnSummary {
    let st = Store::open_existing(store).unwrap();
    write_return(&st, FinYear(2024), d(2025, 5, 1), out).unwrap()
}

#[test]
fn return_summary_and_aggregate() {
    let (dir, store) = fixture();
    let out = dir.path().join("return");
    let s = national_return(&store, &out);
    assert_eq!(s.reviews_completed_in_year, 10);
    assert_eq!(s.reviews_returned, 7);
    assert_eq!(
        s.reviews_left_out, 3,
        "08 before death, 09 aged 18, 10 no category"
    );
    assert_eq!(s.ongoing_at_year_end, 2);
    assert_eq!(s.with_scr_or_lcspr, 2);
    assert_eq!(s.died_in_another_area, 1);
    assert_eq!(s.other_deaths_left_out, 1, "13: 18 and over");
    assert_eq!(s.validation_rows, 5);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.files.len(), 4);
    assert!(s.render().contains("3 left out"));

    let (h, rows) = csv_rows(&out.join("aggregate.csv"));
    assert_eq!(h, ["year", "item", "value", "definition"]);
    let item = |name: &str| {
        rows.iter()
            .find(|r| r[1] == name)
            .unwrap_or_else(|| panic!("{name}"))[2]
            .clone()
    };
    assert_eq!(item("reviews_completed"), "7");
    assert_eq!(item("ongoing_reviews_at_year_end"), "2");
    assert_eq!(item("reviews_with_scr_or_lcspr"), "2");
    assert_eq!(item("notifications_died_in_another_area"), "1");
    assert_eq!(item("reviews_completed_left_out"), "3");
    assert!(rows.iter().all(|r| r[0] == "2024-25"));

    let (h, rows) = csv_rows(&out.join("category_by_modifiable.csv"));
    assert_eq!(
        h,
        [
            "category",
            "category_name",
            "identified",
            "not_identified",
            "insufficient",
            "total"
        ]
    );
    assert_eq!(rows.len(), 11, "ten categories and a total");
    let cat = |c: &str| -> Vec<String> { rows.iter().find(|r| r[0] == c).unwrap()[2..].to_vec() };
    assert_eq!(cat("1"), ["1", "0", "0", "1"]);
    assert_eq!(cat("3"), ["1", "0", "1", "2"]);
    assert_eq!(cat("4"), ["0", "1", "0", "1"]);
    assert_eq!(cat("5"), ["0", "0", "0", "0"], "08 and 09 are left out");
    assert_eq!(cat("8"), ["1", "1", "0", "2"]);
    assert_eq!(cat("10"), ["0", "0", "1", "1"]);
    assert_eq!(cat("total"), ["3", "2", "2", "7"]);
    assert_eq!(
        rows.iter().find(|r| r[0] == "8").unwrap()[1],
        "Perinatal/neonatal event"
    );
}

#[test]
fn return_child_level_and_validation_report() {
    let (dir, store) = fixture();
    let out = dir.path().join("return");
    national_return(&store, &out);
    let (h, rows) = csv_rows(&out.join("child_level.csv"));
    assert_eq!(
        h,
        [
            "la_code",
            "age_band",
            "sex",
            "ethnicity",
            "category",
            "category_name",
            "modifiable",
            "expected",
            "event",
            "place_of_death",
            "scr_or_lcspr",
            "month_of_death",
            "month_review_completed",
        ]
    );
    assert_eq!(rows.len(), 7);
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    // Sorted by month of review completion: 07 (2024-04) first, 06 (2025-03) last.
    assert_eq!(rows[0][col("month_review_completed")], "2024-04");
    assert_eq!(rows[0][col("month_of_death")], "2024-03");
    assert_eq!(rows[0][col("age_band")], "28 days to under 1 year");
    let last = &rows[6];
    assert_eq!(
        [
            &last[col("la_code")],
            &last[col("category")],
            &last[col("modifiable")],
            &last[col("ethnicity")],
            &last[col("scr_or_lcspr")]
        ],
        ["941", "1", "IDENTIFIED", "Not known", "Y"]
    );
    assert_eq!(last[col("age_band")], "5-9");
    assert_eq!(last[col("expected")], "unexpected");
    assert_eq!(last[col("month_of_death")], "2022-03");
    // 08 (category 5, before death) and 09 (category 5, 18) are absent.
    assert!(rows.iter().all(|r| r[col("category")] != "5"));
    assert!(rows
        .iter()
        .all(|r| r[col("age_band")] != "18 or over (out of scope)"));

    let (h, rows) = csv_rows(&out.join("validation_report.csv"));
    assert_eq!(
        h,
        [
            "source_file",
            "source_row",
            "part",
            "problem",
            "reason",
            "fix"
        ]
    );
    let found: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect();
    let part_completed = safeguard::cdop::national_return::PART_COMPLETED;
    let part_ongoing = safeguard::cdop::national_return::PART_ONGOING;
    let part_elsewhere = safeguard::cdop::national_return::PART_ELSEWHERE;
    let want = [
        ("line 9", part_completed, "review_completed_before_death"),
        ("line 10", part_completed, "out_of_scope_age_18_or_over"),
        ("line 11", part_completed, "missing_category"),
        ("line 14", part_elsewhere, "out_of_scope_age_18_or_over"),
        ("line 14", part_ongoing, "out_of_scope_age_18_or_over"),
    ];
    assert_eq!(
        found,
        want.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|r| r[0] == "cdop_reviews.csv"));
    assert!(
        rows.iter().all(|r| !r[4].is_empty() && !r[5].is_empty()),
        "every row says why and what to fix"
    );
}

#[test]
fn return_missing_outcome_and_bad_category_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cdop_reviews.csv",
        "case_id,cdop_code,la_code,date_of_death,age_at_death_days,category,modifiable,review_completed_date\n\
         a1,NNC,940,2024-05-01,30,11,IDENTIFIED,2024-11-01\n\
         a2,NNC,940,2024-05-01,30,2,,2024-11-01\n\
         a3,NNC,940,2024-05-01,30,2,NOT_IDENTIFIED,2024-11-01\n",
    );
    let out = bin()
        .current_dir(dir.path())
        .args(["ingest", "cdop_reviews.csv", "--store", "store"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ret = dir.path().join("ret");
    let s = national_return(&dir.path().join("store"), &ret);
    assert_eq!(
        (
            s.reviews_completed_in_year,
            s.reviews_returned,
            s.reviews_left_out
        ),
        (3, 1, 2)
    );
    let (_, rows) = csv_rows(&ret.join("validation_report.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][3], "missing_category");
    assert!(rows[0][4].contains("not a valid code"), "{}", rows[0][4]);
    assert_eq!(rows[1][3], "missing_modifiable_outcome");
    // A year not yet ended by the reference date is written with a warning.
    let st = Store::open_existing(&dir.path().join("store")).unwrap();
    let s = write_return(&st, FinYear(2024), d(2025, 1, 31), &ret).unwrap();
    assert_eq!(s.warnings.len(), 1);
}

/// Whether `s` holds `dddd-dd-dd` (a full date).
fn has_full_date(s: &str) -> bool {
    let b = s.as_bytes();
    let pat = b"dddd-dd-dd";
    b.windows(pat.len()).any(|w| {
        w.iter().zip(pat).all(|(c, p)| {
            if *p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
    })
}

#[test]
fn return_files_hold_no_full_date_and_no_identifier() {
    assert!(
        has_full_date("x 2024-06-01 y") && !has_full_date("2024-25") && !has_full_date("2024-06")
    );
    let (dir, store) = fixture();
    let out = dir.path().join("return");
    let s = national_return(&store, &out);
    // The pseudonyms the store holds for the three children.
    let reviews = read_table(&store, "cdop_reviews");
    let pseudonyms: Vec<String> = reviews
        .column("child_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    assert_eq!(pseudonyms.len(), 3);
    assert!(
        pseudonyms.iter().all(|p| !CHILD_IDS.contains(&p.as_str())),
        "stored child ids are pseudonyms"
    );
    let mut checked = 0;
    let mut files: Vec<PathBuf> = s.files.clone();
    files.push(dir.path().join("m.csv"));
    measures(dir.path(), "2024-25");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if f.ends_with("m.csv") {
            // The measures table: no identifiers (it has no dates to check).
        } else {
            assert!(
                !has_full_date(&text),
                "{} holds a full date:\n{text}",
                f.display()
            );
        }
        for id in CASE_IDS
            .iter()
            .chain(CHILD_IDS)
            .map(|s| s.to_string())
            .chain(pseudonyms.clone())
        {
            assert!(
                !text.contains(&id),
                "{} holds the identifier {id}",
                f.display()
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 5);
    // Nothing is left half-written.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}
