//! `safeguard measures` on small fictional fixtures, driven through the real binary (ingest, then
//! measures, the CSV output parsed back): every measure id of the catalogue (measures.md section 3)
//! with exact numerator, denominator, excluded and pending, and the edge rules of section 4.
//!
//! Every expected figure is written as a literal and counted by hand in the comment beside it
//! (working days counted on the England and Wales calendar: 2024 Good Friday 29 March, Easter
//! Monday 1 April, Christmas 25/26 December, New Year 1 January 2025; 2025 Good Friday 18 April,
//! Easter Monday 21 April). `wd(a, b)` = the working days d with a < d <= b.
//!
//! Two LAs, 940 and 941, so that every partnership row (`ALL`, the sum of the LAs) is checked too.

use std::collections::BTreeMap;

use tempfile::TempDir;

use crate::common::{run_in, stderr, stdout, write};

// ---------------------------------------------------------------------------------------------
// helpers

/// One row of the tidy table, less its key.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    numerator: i64,
    denominator: i64,
    value: Option<f64>,
    excluded: i64,
    pending: i64,
}

/// (measure_id, period, la_code, breakdown, breakdown_value)
type Key = (String, String, String, String, String);

/// The measures table of one run, with the run summary (stdout).
struct Table {
    rows: BTreeMap<Key, Row>,
    summary: String,
}

/// A temp folder with the fixture ingested into `store`.
struct Fixture {
    dir: TempDir,
}

/// Strips the indentation and `  # comments` of a fixture written inline; drops empty lines.
fn csv(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Splits one CSV line (quotes as the writer uses them; no embedded newlines).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

impl Fixture {
    /// Writes `files` (name, inline CSV) to `data/` and runs `safeguard ingest data --store store`.
    fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        for (name, text) in files {
            write(&data, name, &csv(text));
        }
        let o = run_in(dir.path(), &["ingest", "data", "--store", "store"]);
        assert!(
            o.status.success(),
            "ingest failed:\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
        Fixture { dir }
    }

    /// `safeguard measures --store store --out m.csv ARGS`, parsed.
    fn measures(&self, args: &[&str]) -> Table {
        let mut a = vec!["measures", "--store", "store", "--out", "m.csv"];
        a.extend_from_slice(args);
        let o = run_in(self.dir.path(), &a);
        assert!(
            o.status.success(),
            "measures {args:?} failed:\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
        let text = std::fs::read_to_string(self.dir.path().join("m.csv")).expect("m.csv written");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("measure_id,period,la_code,breakdown,breakdown_value,numerator,denominator,value,excluded,pending"),
            "the columns of measures.md section 5"
        );
        let mut rows = BTreeMap::new();
        for line in lines {
            let f = split_csv(line);
            assert_eq!(f.len(), 10, "{line}");
            let int = |s: &str| -> i64 {
                s.parse()
                    .unwrap_or_else(|_| panic!("not an integer '{s}' in {line}"))
            };
            let key = (
                f[0].clone(),
                f[1].clone(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
            );
            let row = Row {
                numerator: int(&f[5]),
                denominator: int(&f[6]),
                value: (!f[7].is_empty()).then(|| f[7].parse().expect("value is a number")),
                excluded: int(&f[8]),
                pending: int(&f[9]),
            };
            assert!(rows.insert(key, row).is_none(), "duplicate row: {line}");
        }
        Table {
            rows,
            summary: stdout(&o),
        }
    }
}

impl Table {
    fn row(&self, m: &str, p: &str, la: &str, b: &str, v: &str) -> Option<&Row> {
        self.rows
            .get(&(m.into(), p.into(), la.into(), b.into(), v.into()))
    }

    /// Asserts [numerator, denominator, excluded, pending] of a row, and that `value` is
    /// numerator / denominator (empty when the denominator is 0).
    #[track_caller]
    fn check(&self, m: &str, p: &str, la: &str, b: &str, v: &str, expected: [i64; 4]) {
        let r = self.row(m, p, la, b, v).unwrap_or_else(|| {
            panic!(
                "no row ({m}, {p}, {la}, {b}, {v}); rows of {m}:\n{}",
                self.dump(m)
            )
        });
        assert_eq!(
            [r.numerator, r.denominator, r.excluded, r.pending],
            expected,
            "({m}, {p}, {la}, {b}, {v}) as [num, den, excluded, pending]"
        );
        let want = (r.denominator > 0).then(|| r.numerator as f64 / r.denominator as f64);
        assert_close(
            r.value,
            want,
            &format!("value of ({m}, {p}, {la}, {b}, {v})"),
        );
    }

    /// The headline row (breakdown NONE).
    #[track_caller]
    fn headline(&self, m: &str, p: &str, la: &str, expected: [i64; 4]) {
        self.check(m, p, la, "NONE", "", expected);
    }

    #[track_caller]
    fn absent(&self, m: &str, p: &str, la: &str, b: &str, v: &str) {
        assert!(
            self.row(m, p, la, b, v).is_none(),
            "unexpected row ({m}, {p}, {la}, {b}, {v}): {:?}",
            self.row(m, p, la, b, v)
        );
    }

    /// A quartile row (`statistic`): its value in working days, and n as numerator and denominator.
    #[track_caller]
    fn stat(&self, m: &str, p: &str, la: &str, q: &str, n: i64, value: f64) {
        let r = self.row(m, p, la, "statistic", q).unwrap_or_else(|| {
            panic!(
                "no statistic {q} for ({m}, {p}, {la}); rows:\n{}",
                self.dump(m)
            )
        });
        assert_eq!(
            (r.numerator, r.denominator),
            (n, n),
            "n of {q} ({m}, {p}, {la})"
        );
        assert_close(r.value, Some(value), &format!("{q} of ({m}, {p}, {la})"));
    }

    fn has_measure(&self, m: &str) -> bool {
        self.rows.keys().any(|k| k.0 == m)
    }

    fn dump(&self, m: &str) -> String {
        self.rows
            .iter()
            .filter(|(k, _)| k.0 == m)
            .map(|(k, r)| format!("  {k:?} {r:?}\n"))
            .collect()
    }
}

#[track_caller]
fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) if (g - w).abs() <= 1e-9 * w.abs().max(1.0) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

const Y23: &str = "2023-24";
const Y24: &str = "2024-25";

// ---------------------------------------------------------------------------------------------
// front door: contacts

const CONTACTS: &str = "
    contact_id,child_id,la_code,received_at,source,level_of_need,decision_at,outcome
    K0,C0,940,2024-03-27T09:00:00,2A,4,2024-03-28T09:00:00,REFERRAL    # Wed->Thu: 1 WD, exactly 24h; decided 2023-24
    K1,C1,940,2024-03-28T09:00:00,2A,4,2024-04-02T09:00:00,REFERRAL    # Thu->Tue after Easter: 1 WD
    K2,C2,940,2024-03-28T09:00:00,5A,1,2024-04-03T09:00:00,NFA         # Thu->Wed after Easter: 2 WD
    K3,C3,941,2024-03-31T12:00:00,5A,4,2024-04-02T10:00:00,REFERRAL    # Sun 31 Mar->Tue: 1 WD, 46h
    K4,C4,941,2024-06-10T09:00:00,2A,2,2024-06-11T09:00:00,SIGNPOST    # 24:00:00 exactly
    K5,C5,941,2024-06-10T09:00:00,2A,2,2024-06-11T09:00:01,EARLY_HELP  # 24:00:01
    K6,C6,940,2024-06-12T09:00:00,5A,2,2024-06-12,ADVICE               # decision a bare date, same day
    K7,C7,940,2024-07-01T10:00:00,5A,4,2024-07-01T09:00:00,REFERRAL    # decided before receipt
    K8,C8,941,2025-03-31T16:00:00,2A,3,,                               # open on the reference date
    K9,C9,940,2025-03-20T10:00:00,5A,3,,                               # open, 7 WD old
";

#[test]
fn contact_decisions_use_the_decision_date_working_days_and_24_clock_hours() {
    let f = Fixture::new(&[
        ("contacts.csv", CONTACTS),
        (
            "referrals.csv",
            "
            referral_id,child_id,la_code,received_at,source,decision_at
            RF1,C1,940,2024-05-01T10:00:00,,2024-05-01            # bare decision date, same day
            RF2,C2,940,2024-05-02T10:00:00,,2024-05-02T09:30:00   # timed before receipt
            ",
        ),
    ]);
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ]);

    // contact_decision_1wd, 2024-25 = decided 1 Apr 2024 - 31 Mar 2025 (by decision date):
    // K1..K7. K1: wd(Thu 28 Mar, Tue 2 Apr) = 1 (Good Friday, weekend, Easter Monday skipped):
    // passes; K2: Wed 3 Apr = 2: fails. K3 received Sun 31 Mar (2023-24), decided Tue 2 Apr:
    // wd = 1 (1 Apr is Easter Monday): passes, counted in 2024-25. K4, K5: Mon->Tue = 1. K6:
    // decided the same date (bare date: time unknown, not a negative interval) = 0: passes.
    // K7: decision timed before receipt on the same day: negative interval, excluded.
    // Pending (for information): undecided contacts within 1 WD at 31 Mar 2025: K8 (0 WD);
    // K9 is 7 WD old (21, 24-28, 31 March): not pending.
    // 940: K1 num, K2 den, K6 num, K7 excluded -> 2/3, excluded 1.
    t.headline("contact_decision_1wd", Y24, "940", [2, 3, 1, 0]);
    // 941: K3, K4, K5 num -> 3/3, K8 pending.
    t.headline("contact_decision_1wd", Y24, "941", [3, 3, 0, 1]);
    t.headline("contact_decision_1wd", Y24, "ALL", [5, 6, 1, 1]);
    // By month of decision: April 2024 = K1 (num), K2 (den), K3 (num).
    t.check(
        "contact_decision_1wd",
        Y24,
        "ALL",
        "month",
        "2024-04",
        [2, 3, 0, 0],
    );
    // 2023-24: only K0 was decided in 2023-24 (Wed 27 -> Thu 28 March = 1 WD). K1, K2, K3 were
    // received in 2023-24 but decided in April 2024: not in 2023-24's timeliness. At the year
    // end (31 Mar 2024, before the reference date) K1 and K2 (received Thu 28 Mar) were still
    // undecided and inside their 1 WD (Good Friday and the weekend follow: wd = 0): pending.
    t.headline("contact_decision_1wd", Y23, "940", [1, 1, 0, 2]);

    // mash_decision_24h, 2024-25: only rows where both are datetimes.
    // 940: K1 (5 days) den, K2 den, K6 (bare decision date) excluded, K7 (negative) excluded.
    t.headline("mash_decision_24h", Y24, "940", [0, 2, 2, 0]);
    // 941: K3 (46h) den, K4 (24:00:00: passes) num, K5 (24:00:01: fails) den.
    t.headline("mash_decision_24h", Y24, "941", [1, 3, 0, 0]);
    t.headline("mash_decision_24h", Y24, "ALL", [1, 5, 2, 0]);
    // 2023-24: K0, exactly 24 hours.
    t.headline("mash_decision_24h", Y23, "ALL", [1, 1, 0, 0]);

    // contact_to_referral: the cohort received in the period, followed to the reference date.
    // 2024-25 received: K4 SIGNPOST, K5 EARLY_HELP, K6 ADVICE, K7 REFERRAL (its negative
    // decision interval does not matter here), K8 and K9 no outcome yet: pending (however old).
    // 940: K6 den, K7 num, K9 pending.
    t.headline("contact_to_referral", Y24, "940", [1, 2, 0, 1]);
    // 941: K4, K5 den, K8 pending.
    t.headline("contact_to_referral", Y24, "941", [0, 2, 0, 1]);
    t.headline("contact_to_referral", Y24, "ALL", [1, 4, 0, 2]);
    // By level of need: 2 = K4, K5, K6 (none a referral); 4 = K7; 3 = K8, K9 (pending).
    t.check(
        "contact_to_referral",
        Y24,
        "ALL",
        "level_of_need",
        "2",
        [0, 3, 0, 0],
    );
    t.check(
        "contact_to_referral",
        Y24,
        "ALL",
        "level_of_need",
        "4",
        [1, 1, 0, 0],
    );
    t.check(
        "contact_to_referral",
        Y24,
        "ALL",
        "level_of_need",
        "3",
        [0, 0, 0, 2],
    );
    // By source: 2A = K4, K5 (den), K8 (pending); 5A = K6 (den), K7 (num), K9 (pending).
    t.check(
        "contact_to_referral",
        Y24,
        "ALL",
        "source",
        "2A",
        [0, 2, 0, 1],
    );
    t.check(
        "contact_to_referral",
        Y24,
        "ALL",
        "source",
        "5A",
        [1, 2, 0, 1],
    );
    // 2023-24 cohort (received 1 Apr 2023 - 31 Mar 2024, whenever decided): K0 REFERRAL, K1
    // REFERRAL, K2 NFA (940); K3 REFERRAL (941, received Sunday 31 March).
    t.headline("contact_to_referral", Y23, "940", [2, 3, 0, 0]);
    t.headline("contact_to_referral", Y23, "941", [1, 1, 0, 0]);
    t.headline("contact_to_referral", Y23, "ALL", [3, 4, 0, 0]);

    // The same negative-interval rule for referrals: RF1's decision is a bare date on the day of
    // receipt (time unknown: 0 WD, passes); RF2's was timed half an hour before its receipt.
    t.headline("referral_decision_1wd", Y24, "940", [1, 1, 1, 0]);
}

// ---------------------------------------------------------------------------------------------
// referrals and assessments

const REFERRALS_A: &str = "
    referral_id,child_id,la_code,received_at,source,decision_at,referral_nfa,primary_need,closure_date,closure_reason,contact_id
    R1,C1,940,2024-03-28,2A,2024-04-02,N,N1,,,     # Thu -> Tue after Easter: 1 WD
    R2,C2,940,2024-03-28,2A,2024-04-03,N,N1,,,     # Thu -> Wed: 2 WD
    R3,C3,941,2024-03-31,5A,2024-04-02,N,N1,,,     # Sun 31 Mar -> Tue 2 Apr: 1 WD
    R4,C4,940,2024-09-02,5A,,N,N1,2025-04-02,RC8,  # closed RC8 after the year end
    R5,C5,940,2024-09-02,5A,,N,N1,2024-11-20,RC9,
    R6,C6,940,2024-09-02,5A,,N,N1,2024-12-01,RC1,
    R7,C7,940,2024-09-02,5A,,N,N1,,,
    R12,C12,940,2024-06-03,5A,,N,N1,,,
    R16,C16,940,2024-05-01,2A,,Y,,,,               # NFA, no assessment
    R8,C8,941,2024-10-01,,,N,,2024-10-01,RC9,
    R9,C9,941,2024-10-01,,,N,,,,
    R10,C10,941,2024-10-01,,,N,,,,
    R11,C11,941,2024-12-02,,,N,,,,
    R13,C13,941,2025-03-03,,,N,,,,
    R14,C14,941,2024-12-02,,,N,,,,
    R15,C15,941,2024-10-01,,,N,,,,
    R17,C17,941,2024-05-01,,,,,,,                  # no assessment
";

const ASSESSMENTS_A: &str = "
    assessment_id,referral_id,child_id,la_code,start_date,authorisation_date,factors,child_seen,reason_over_45wd
    A0,R1,C1,940,2024-03-28,2024-03-28,,Y,     # 2023-24, same day
    A1,R4,C4,940,2024-09-02,2024-11-04,,Y,     # referral 45, start 45
    A2,R5,C5,940,2024-09-02,2024-11-05,,Y,     # referral 46, start 46
    A3,R6,C6,940,2024-09-09,2024-11-11,,Y,     # referral 50, start 45
    A4,R7,C7,940,2024-09-09,2024-11-12,,Y,     # referral 51, start 46
    A9,R12,C12,940,2024-06-10,2024-06-07,,Y,   # referral 4, start -1 (authorised before start)
    A5,R8,C8,941,2024-10-01,2024-10-01,,Y,     # 0, 0
    A6,R9,C9,941,2024-10-02,2024-10-15,,Y,     # referral 10, start 9
    A7,R10,C10,941,2024-10-01,2025-01-15,,Y,   # 73, 73
    A8,R11,C11,941,2024-11-28,2024-11-29,,Y,   # referral -1 (before its referral), start 1
    A12,R15,C15,941,2024-10-01,2024-11-29,,Y,  # 43, 43
    A13,R99,C99,941,2024-10-01,2024-10-10,,Y,  # orphan: no referral R99; start 7
    A10,R13,C13,941,2025-03-04,,,,             # open
    A11,R14,C14,941,2024-12-02,,,,             # open, long past 45 WD
";

fn assessment_fixture() -> Fixture {
    Fixture::new(&[
        ("referrals.csv", REFERRALS_A),
        ("assessments.csv", ASSESSMENTS_A),
    ])
}

#[test]
fn referral_decisions_nfa_and_the_conversion_cohort() {
    let f = assessment_fixture();
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-04-30",
    ]);

    // referral_decision_1wd: decided in the period by decision date. 2024-25: R1 (Thu 28 Mar ->
    // Tue 2 Apr = 1 WD: passes), R2 (-> Wed 3 Apr = 2 WD: fails), R3 (Sun 31 Mar -> Tue 2 Apr =
    // 1 WD). No other referral has a decision; none is undecided within 1 WD of 30 April 2025.
    t.headline("referral_decision_1wd", Y24, "940", [1, 2, 0, 0]);
    t.headline("referral_decision_1wd", Y24, "941", [1, 1, 0, 0]);
    t.headline("referral_decision_1wd", Y24, "ALL", [2, 3, 0, 0]);
    t.check(
        "referral_decision_1wd",
        Y24,
        "ALL",
        "source",
        "2A",
        [1, 2, 0, 0],
    );
    // Nothing was decided in 2023-24 (R1-R3 were received then, decided in April 2024), so
    // 2023-24 has no fraction; at its year end (31 Mar 2024) R1, R2 (received Thu 28 Mar) and R3
    // (Sun 31 Mar) were undecided and inside their 1 WD (wd = 0): pending, for information.
    t.headline("referral_decision_1wd", Y23, "940", [0, 0, 0, 2]);
    t.headline("referral_decision_1wd", Y23, "941", [0, 0, 0, 1]);
    t.headline("referral_decision_1wd", Y23, "ALL", [0, 0, 0, 3]);

    // referral_nfa: received in the period. 2024-25: 940 = R4, R5, R6, R7, R12, R16 (R16 NFA);
    // 941 = R8, R9, R10, R11, R13, R14, R15, R17 (R17's flag empty: not NFA).
    t.headline("referral_nfa", Y24, "940", [1, 6, 0, 0]);
    t.headline("referral_nfa", Y24, "941", [0, 8, 0, 0]);
    t.headline("referral_nfa", Y24, "ALL", [1, 14, 0, 0]);
    t.headline("referral_nfa", Y23, "ALL", [0, 3, 0, 0]); // R1, R2, R3

    // referral_to_assessment: the cohort received in the period with an assessment started by
    // the reference date. 2024-25: 940 all but R16 (5/6); 941 all but R17 (7/8; R13 and R14's
    // assessments are open but started).
    t.headline("referral_to_assessment", Y24, "940", [5, 6, 0, 0]);
    t.headline("referral_to_assessment", Y24, "941", [7, 8, 0, 0]);
    t.headline("referral_to_assessment", Y24, "ALL", [12, 14, 0, 0]);
    // 2023-24's cohort holds R1, R2 (940) and R3 (941, received Sunday 31 March 2024, decided in
    // 2024-25): only R1 has an assessment (A0).
    t.headline("referral_to_assessment", Y23, "940", [1, 2, 0, 0]);
    t.headline("referral_to_assessment", Y23, "941", [0, 1, 0, 0]);
    t.headline("referral_to_assessment", Y23, "ALL", [1, 3, 0, 0]);
}

#[test]
fn assessment_timeliness_on_both_clocks_at_45_and_46_working_days() {
    let f = assessment_fixture();
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-04-30",
    ]);

    // Referral received Mon 2 Sep 2024: September after the 2nd gives 20 WD (3-6, 9-13, 16-20,
    // 23-27, 30), October 23 (1-4, 7-11, 14-18, 21-25, 28-31) -> 43 by 31 Oct; Fri 1 Nov = 44,
    // Mon 4 Nov = 45, Tue 5 Nov = 46. A start on Mon 9 Sep is 5 WD later, so 11 Nov = 50 from
    // the referral and 45 from the start; 12 Nov = 51 and 46.
    //
    // assessment_45wd_from_referral, 2024-25 (authorised in the period):
    // 940: A1 45 num, A2 46 den, A3 50 den, A4 51 den, A9 wd(3 Jun, 7 Jun) = 4 num (its start
    // clock is broken, not this one) -> 2/5.
    t.headline("assessment_45wd_from_referral", Y24, "940", [2, 5, 0, 0]);
    // 941: A5 0 num, A6 wd(1 Oct, 15 Oct) = 10 num, A7 wd(1 Oct, 15 Jan) = 73 (Christmas and
    // New Year skipped) den, A12 wd(1 Oct, 29 Nov) = 43 num, A8 authorised before its referral
    // (-1) excluded, A13 no referral excluded -> 3/4, excluded 2. Pending (open, within 45 WD
    // of the referral at 30 April 2025): A10, wd(3 Mar, 30 Apr) = 20 in March + 20 in April
    // (Good Friday 18 and Easter Monday 21 skipped) = 40. A11: wd(2 Dec, 30 Apr) > 45.
    t.headline("assessment_45wd_from_referral", Y24, "941", [3, 4, 2, 1]);
    t.headline("assessment_45wd_from_referral", Y24, "ALL", [5, 9, 2, 1]);
    // 2023-24: A0, same day as its referral.
    t.headline("assessment_45wd_from_referral", Y23, "940", [1, 1, 0, 0]);

    // assessment_45wd_from_start (DfE C2 clock), 2024-25:
    // 940: A1 45 num, A2 46 den, A3 45 num, A4 46 den, A9 -1 excluded -> 2/4, excluded 1.
    t.headline("assessment_45wd_from_start", Y24, "940", [2, 4, 1, 0]);
    // 941: A5 0, A6 wd(2 Oct, 15 Oct) = 9, A8 1, A12 43, A13 wd(1 Oct, 10 Oct) = 7: num; A7 73
    // den -> 5/6. Pending: A10, wd(4 Mar, 30 Apr) = 39.
    t.headline("assessment_45wd_from_start", Y24, "941", [5, 6, 0, 1]);
    t.headline("assessment_45wd_from_start", Y24, "ALL", [7, 10, 1, 1]);
    t.headline("assessment_45wd_from_start", Y23, "940", [1, 1, 0, 0]);
}

#[test]
fn assessment_duration_bands_and_nearest_rank_quartiles() {
    let f = assessment_fixture();
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-04-30"]);
    let m = "assessment_duration_band";

    // wd(start, authorisation) of the 2024-25 assessments (A9, -1, excluded):
    // 940: A1 45, A2 46, A3 45, A4 46 -> sorted 45 45 46 46 (n 4).
    // 941: A5 0, A6 9, A7 73, A8 1, A12 43, A13 7 -> sorted 0 1 7 9 43 73 (n 6).
    // ALL: 0 1 7 9 43 45 45 46 46 73 (n 10).
    t.headline(m, Y24, "940", [4, 4, 1, 0]);
    t.headline(m, Y24, "941", [6, 6, 0, 0]);
    t.headline(m, Y24, "ALL", [10, 10, 1, 0]);
    // Bands: numerator = in the band, denominator = all counted.
    t.check(m, Y24, "ALL", "band", "same_day", [1, 10, 0, 0]); // A5
    t.check(m, Y24, "ALL", "band", "1-10", [3, 10, 0, 0]); // A6 9, A8 1, A13 7
    t.check(m, Y24, "ALL", "band", "41-45", [3, 10, 0, 0]); // A1, A3, A12
    t.check(m, Y24, "ALL", "band", "46-50", [2, 10, 0, 0]); // A2, A4
    t.check(m, Y24, "ALL", "band", "61+", [1, 10, 0, 0]); // A7
    for empty in ["11-20", "21-30", "31-40", "51-60"] {
        t.absent(m, Y24, "ALL", "band", empty);
    }
    t.check(m, Y24, "940", "band", "41-45", [2, 4, 0, 0]);
    t.check(m, Y24, "940", "band", "46-50", [2, 4, 0, 0]);
    // The excluded A9 (-1 WD) belongs to no band: no 940 "1-10" row.
    t.absent(m, Y24, "940", "band", "1-10");
    t.check(m, Y24, "941", "band", "1-10", [3, 6, 0, 0]);
    // Nearest rank: the ceil(q x n)-th smallest.
    // ALL n 10: p25 = 3rd = 7, median = 5th = 43, p75 = 8th = 46.
    t.stat(m, Y24, "ALL", "p25", 10, 7.0);
    t.stat(m, Y24, "ALL", "median", 10, 43.0);
    t.stat(m, Y24, "ALL", "p75", 10, 46.0);
    // 940 n 4: p25 = 1st = 45, median = 2nd = 45, p75 = 3rd = 46.
    t.stat(m, Y24, "940", "p25", 4, 45.0);
    t.stat(m, Y24, "940", "median", 4, 45.0);
    t.stat(m, Y24, "940", "p75", 4, 46.0);
    // 941 n 6: p25 = ceil(1.5) = 2nd = 1, median = 3rd = 7, p75 = ceil(4.5) = 5th = 43.
    t.stat(m, Y24, "941", "p25", 6, 1.0);
    t.stat(m, Y24, "941", "median", 6, 7.0);
    t.stat(m, Y24, "941", "p75", 6, 43.0);
}

#[test]
fn assessment_not_in_need_follows_closures_to_the_reference_date() {
    let f = assessment_fixture();
    // Reference date 30 April 2025: R4's episode closed RC8 on 2 April 2025, after the year
    // end but before the reference date: A1 counts as not in need (measures.md section 4).
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-04-30"]);
    // Authorised in 2024-25. 940: A1 (R4 RC8) num, A2 (R5 RC9) num, A3 (R6 RC1) den, A4, A9
    // (open episodes) den -> 2/5.
    t.headline("assessment_not_in_need", Y24, "940", [2, 5, 0, 0]);
    // 941: A5 (R8 RC9) num, A6, A7, A8, A12 den; A13 has no referral (no episode): excluded.
    t.headline("assessment_not_in_need", Y24, "941", [1, 5, 1, 0]);
    t.headline("assessment_not_in_need", Y24, "ALL", [3, 10, 1, 0]);
    // assessment_to_early_help: RC9 only: A2 (940), A5 (941).
    t.headline("assessment_to_early_help", Y24, "940", [1, 5, 0, 0]);
    t.headline("assessment_to_early_help", Y24, "941", [1, 5, 1, 0]);
    t.headline("assessment_to_early_help", Y24, "ALL", [2, 10, 1, 0]);

    // With data only to 31 March 2025 the 2 April closure is not yet known: A1 is not counted.
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    t.headline("assessment_not_in_need", Y24, "940", [1, 5, 0, 0]);
    t.headline("assessment_not_in_need", Y24, "ALL", [2, 10, 1, 0]);
}

// ---------------------------------------------------------------------------------------------
// re-referrals

#[test]
fn rereferrals_look_back_12_calendar_months_within_the_same_la() {
    let f = Fixture::new(&[(
        "referrals.csv",
        "
        referral_id,child_id,la_code,received_at
        Q1,C1,940,2023-03-01
        Q2,C1,940,2024-03-01   # looks back to 2023-03-01 inclusive: Q1 counts -> re-referral
        Q3,C2,940,2023-02-28
        Q4,C2,940,2024-03-01   # Q3 is a day outside the 12 months -> not
        Q6,C3,940,2023-02-28
        Q5,C3,940,2024-02-29   # 29 Feb looks back to 28 Feb 2023 inclusive: Q6 -> re-referral
        Q8,C4,940,2023-02-27
        Q7,C4,940,2024-02-29   # Q8 is a day outside -> not
        Q9,C5,940,2024-06-10
        Q10,C5,940,2024-06-10  # same day as Q9: neither is before the other -> not (both)
        Q11,C6,941,2024-05-01
        Q12,C6,940,2024-07-01  # the earlier referral is in the other LA -> not
        Q13,C7,941,2024-04-15
        Q14,C7,941,2024-09-15  # 5 months after Q13 in the same LA -> re-referral
        ",
    )]);
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ]);
    // 2023-24 (received 1 Apr 2023 - 31 Mar 2024): Q2 num, Q4 den, Q5 num, Q7 den (all 940).
    t.headline("rereferral_12m", Y23, "940", [2, 4, 0, 0]);
    t.absent("rereferral_12m", Y23, "941", "NONE", "");
    t.headline("rereferral_12m", Y23, "ALL", [2, 4, 0, 0]);
    // 2024-25: 940 = Q9, Q10 (same day), Q12 (other LA's earlier referral): 0/3;
    // 941 = Q11 (first), Q13 (first), Q14 (re-referral): 1/3. Partnership = sum: 1/6 (Q12 is
    // not a partnership re-referral either: counted within each LA, as the DfE does).
    t.headline("rereferral_12m", Y24, "940", [0, 3, 0, 0]);
    t.headline("rereferral_12m", Y24, "941", [1, 3, 0, 0]);
    t.headline("rereferral_12m", Y24, "ALL", [1, 6, 0, 0]);
    t.check(
        "rereferral_12m",
        Y24,
        "ALL",
        "month",
        "2024-09",
        [1, 1, 0, 0],
    );
}

// ---------------------------------------------------------------------------------------------
// section 47 enquiries and ICPCs

const REFERRALS_S: &str = "
    referral_id,child_id,la_code,received_at
    R1,C1,940,2024-12-09
    R2,C2,940,2024-12-09
    R3,C3,940,2024-06-28
    R4,C4,940,2024-09-06
    R5,C5,940,2024-04-29
    R12,C12,940,2024-08-01   # no s47
    R6,C6,941,2025-03-19
    R7,C7,941,2025-02-03
    R8,C8,941,2024-06-03
    R9,C9,941,2024-09-30
    R10,C10,941,2024-11-01
    R11,C11,941,2024-03-18   # 2023-24
    R13,C13,941,2024-08-01   # no s47
    R14,C14,941,2025-03-07
    R15,C15,941,2025-03-07
";

const S47_S: &str = "
    s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,icpc_result,transfer_in
    S1,R1,C1,940,2024-12-10,,2025-01-03,CPP,N      # 15 WD across Christmas
    S2,R2,C2,940,2024-12-10,,2025-01-06,NO_CPP,N   # 16 WD
    S3,R3,C3,940,2024-07-01,,2024-07-05,,Y         # transfer-in conference; plan starts that day
    S4,R4,C4,940,2024-09-10,,2024-09-09,CPP,       # ICPC before its s47 start
    S5,R5,C5,940,2024-05-01,Y,,,                   # ICPC not required
    S6,R6,C6,941,2025-03-20,,,,                    # no ICPC, 7 WD at the reference date
    S12,R14,C14,941,2025-03-10,,,,                 # no ICPC, 15 WD at the reference date
    S13,R15,C15,941,2025-03-07,,,,                 # no ICPC, 16 WD at the reference date
    S7,R7,C7,941,2025-02-03,,,,                    # no ICPC, 40 WD
    S8,R8,C8,941,2024-06-03,,2024-06-05,,          # 2 WD; result inferred from a plan that day
    S9,R9,C9,941,2024-10-01,,2024-11-15,NO_CPP,    # 33 WD
    S10,R10,C10,941,2024-11-04,,2024-11-22,CPP,    # 14 WD
    S11,R11,C11,941,2024-03-20,,2024-04-10,CPP,    # started 2023-24, ICPC 2024-25: 13 WD
";

const PLANS_S: &str = "
    plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category,latest_category,previous_plans,first_core_group_date,end_reason
    P3,R3,C3,940,2024-07-05,,PHY,,,,
    P8,R8,C8,941,2024-06-05,,NEG,,,,
";

fn s47_fixture() -> Fixture {
    Fixture::new(&[
        ("referrals.csv", REFERRALS_S),
        ("s47_enquiries.csv", S47_S),
        ("cp_plans.csv", PLANS_S),
    ])
}

#[test]
fn icpc_within_15_working_days_across_christmas_transfer_ins_and_pending() {
    let f = s47_fixture();
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ]);

    // icpc_15wd, 2024-25 (ICPCs held in the period). Strategy discussion Tue 10 Dec 2024:
    // 11, 12, 13 (3), 16-20 (8), 23 (9), 24 (10), [25, 26 Dec], 27 (11), 30 (12), 31 (13),
    // [1 Jan], Thu 2 Jan (14), Fri 3 Jan (15), Mon 6 Jan (16).
    // 940: S1 3 Jan = 15 num; S2 6 Jan = 16 den; S3 transfer-in excluded; S4 ICPC the day
    // before its s47 start excluded -> 1/2, excluded 2.
    t.headline("icpc_15wd", Y24, "940", [1, 2, 2, 0]);
    // 941: S8 wd(3 Jun, 5 Jun) = 2 num; S9 wd(1 Oct, 15 Nov) = 33 den; S10 wd(4 Nov, 22 Nov) =
    // 14 num; S11 wd(20 Mar, 10 Apr 2024) = 13 (Good Friday, Easter Monday skipped) num -> 3/4.
    // Pending (no ICPC, not marked not-required, wd(start, 31 Mar 2025) <= 15): S6 (7), S12
    // (15); S13 (16) and S7 (40) are past it; S5 is marked not required.
    t.headline("icpc_15wd", Y24, "941", [3, 4, 0, 2]);
    t.headline("icpc_15wd", Y24, "ALL", [4, 6, 2, 2]);

    // s47_to_icpc, 2024-25 (s47s started in the period, followed to the reference date):
    // 940: S1, S2 num; S4 num (an ICPC before its s47 still reached an ICPC); S5 den (not
    // required); S3 transfer-in excluded -> 3/4, excluded 1.
    t.headline("s47_to_icpc", Y24, "940", [3, 4, 1, 0]);
    // 941: S8, S9, S10 num; S7 and S13 den (window closed without an ICPC); S6, S12 pending.
    t.headline("s47_to_icpc", Y24, "941", [3, 5, 0, 2]);
    t.headline("s47_to_icpc", Y24, "ALL", [6, 9, 1, 2]);
    // 2023-24: S11 started 20 Mar 2024, ICPC 10 Apr 2024: reached (followed to the reference
    // date, whatever year is asked for).
    t.headline("s47_to_icpc", Y23, "941", [1, 1, 0, 0]);
    t.headline("s47_to_icpc", Y23, "ALL", [1, 1, 0, 0]);

    // referral_to_s47, 2024-25 cohort: 940: R1, R2, R4, R5 num; R12 den; R3 (its only
    // conference is a transfer-in) excluded -> 4/5, excluded 1.
    t.headline("referral_to_s47", Y24, "940", [4, 5, 1, 0]);
    // 941: R6, R7, R8, R9, R10, R14, R15 num; R13 den -> 7/8.
    t.headline("referral_to_s47", Y24, "941", [7, 8, 0, 0]);
    t.headline("referral_to_s47", Y24, "ALL", [11, 13, 1, 0]);
    t.headline("referral_to_s47", Y23, "ALL", [1, 1, 0, 0]); // R11

    // icpc_to_cpp, 2024-25 (ICPCs held, transfer-in conferences included): 940: S1 CPP, S3
    // (no result; plan P3 starts that day), S4 CPP num; S2 den -> 3/4.
    t.headline("icpc_to_cpp", Y24, "940", [3, 4, 0, 0]);
    // 941: S8 (no result; plan P8 that day), S10, S11 num; S9 den -> 3/4.
    t.headline("icpc_to_cpp", Y24, "941", [3, 4, 0, 0]);
    t.headline("icpc_to_cpp", Y24, "ALL", [6, 8, 0, 0]);

    // referral_to_icpc / referral_to_cpp (the project's own funnel conversions, s47_conferences.sql:
    // cohort referrals whose s47, not a transfer-in, reached an ICPC / resulted in a plan by the
    // reference date, over all cohort referrals; no pending, no exclusion).
    // 940: R1 (S1 ICPC, CPP), R2 (S2 ICPC, NO_CPP), R4 (S4 ICPC before its s47, CPP) reached an
    // ICPC; R3 (transfer-in only), R5 (not required), R12 (no s47) did not -> ICPC 3/6, plan 2/6.
    t.headline("referral_to_icpc", Y24, "940", [3, 6, 0, 0]);
    t.headline("referral_to_cpp", Y24, "940", [2, 6, 0, 0]);
    // 941: R8 (S8, plan P8 that day), R9 (S9, NO_CPP), R10 (S10, CPP) reached an ICPC; R6, R7,
    // R13, R14, R15 did not -> ICPC 3/8, plan 2/8.
    t.headline("referral_to_icpc", Y24, "941", [3, 8, 0, 0]);
    t.headline("referral_to_cpp", Y24, "941", [2, 8, 0, 0]);
    t.headline("referral_to_icpc", Y24, "ALL", [6, 14, 0, 0]);
    t.headline("referral_to_cpp", Y24, "ALL", [4, 14, 0, 0]);
    // 2023-24: R11, received 18 Mar 2024, ICPC 10 Apr 2024 (CPP).
    t.headline("referral_to_icpc", Y23, "ALL", [1, 1, 0, 0]);
    t.headline("referral_to_cpp", Y23, "ALL", [1, 1, 0, 0]);
}

#[test]
fn icpc_duration_bands_and_quartiles() {
    let f = s47_fixture();
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    let m = "icpc_duration_band";
    // 2024-25 ICPCs by wd(s47 start, ICPC); S3 (transfer-in) and S4 (before its s47) excluded.
    // 940: S1 15, S2 16. 941: S8 2, S9 33, S10 14, S11 13. ALL sorted: 2 13 14 15 16 33.
    t.headline(m, Y24, "940", [2, 2, 2, 0]);
    t.headline(m, Y24, "941", [4, 4, 0, 0]);
    t.headline(m, Y24, "ALL", [6, 6, 2, 0]);
    t.check(m, Y24, "ALL", "band", "0-10", [1, 6, 0, 0]); // S8
    t.check(m, Y24, "ALL", "band", "11-15", [3, 6, 0, 0]); // S1, S10, S11
    t.check(m, Y24, "ALL", "band", "16-20", [1, 6, 0, 0]); // S2
    t.check(m, Y24, "ALL", "band", "21+", [1, 6, 0, 0]); // S9
    t.check(m, Y24, "940", "band", "11-15", [1, 2, 0, 0]);
    t.check(m, Y24, "940", "band", "16-20", [1, 2, 0, 0]);
    // The excluded S3 (4 WD) and S4 (-1) belong to no band.
    t.absent(m, Y24, "940", "band", "0-10");
    // ALL n 6: p25 = ceil(1.5) = 2nd = 13, median = 3rd = 14, p75 = ceil(4.5) = 5th = 16.
    t.stat(m, Y24, "ALL", "p25", 6, 13.0);
    t.stat(m, Y24, "ALL", "median", 6, 14.0);
    t.stat(m, Y24, "ALL", "p75", 6, 16.0);
    // 940 n 2: p25 = 1st = 15, median = 1st = 15, p75 = 2nd = 16.
    t.stat(m, Y24, "940", "p25", 2, 15.0);
    t.stat(m, Y24, "940", "median", 2, 15.0);
    t.stat(m, Y24, "940", "p75", 2, 16.0);
    // 941 sorted 2 13 14 33: p25 = 1st = 2, median = 2nd = 13, p75 = 3rd = 14.
    t.stat(m, Y24, "941", "p25", 4, 2.0);
    t.stat(m, Y24, "941", "median", 4, 13.0);
    t.stat(m, Y24, "941", "p75", 4, 14.0);
}

// ---------------------------------------------------------------------------------------------
// child protection plans

const PLAN_REFERRALS: &str = "
    referral_id,child_id,la_code,received_at
    R1,C0,940,2022-01-04
    R1,C0,941,2022-01-04
";

#[test]
fn plans_started_core_group_second_plans_and_categories() {
    let f = Fixture::new(&[
        ("referrals.csv", PLAN_REFERRALS),
        (
            "cp_plans.csv",
            "
            plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category,latest_category,previous_plans,first_core_group_date,end_reason
            P1,R1,D2,940,2024-12-10,,NEG,,,2024-12-24,    # core group 10 WD
            P2,R1,D3,940,2024-12-10,,EMO,,,2024-12-27,    # core group 11 WD (Christmas)
            P5,R1,D1,940,2024-05-01,,NEG,,,,              # earlier plan P10 in 941
            P6,R1,D5,940,2024-07-01,,PHY,,2,,             # previous_plans 2
            P11,R1,D8,940,2024-08-01,,SAB,,,,             # same day as P12 in 941
            P3,R1,D6,941,2024-06-03,,SAB,,,,
            P4,R1,D7,941,2024-06-03,,MUL,,,2024-05-31,    # core group before the start
            P12,R1,D8,941,2024-08-01,,NEG,,0,,
            P10,R1,D1,941,2022-05-01,2023-01-10,NEG,,,,NO_LONGER_AT_RISK
            ",
        ),
    ]);
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);

    // core_group_10wd: plans started in 2024-25 with the date recorded. From Tue 10 Dec 2024:
    // 24 Dec is the 10th WD (11-13, 16-20, 23, 24) -> P1 num; 27 Dec the 11th (25, 26 skipped)
    // -> P2 den. Not recorded: P5, P6, P11 (940), P3, P12 (941); P4's core group is the
    // working day before its start (-1): excluded too.
    t.headline("core_group_10wd", Y24, "940", [1, 2, 3, 0]);
    t.headline("core_group_10wd", Y24, "941", [0, 0, 3, 0]);
    t.headline("core_group_10wd", Y24, "ALL", [1, 2, 6, 0]);

    // cpp_second_or_subsequent: 940: P5 (child D1 had P10 in 941 in 2022) and P6
    // (previous_plans 2) num; P1, P2 den; P11 den (D8's plan in 941 starts the same day: not
    // strictly earlier) -> 2/5. 941: P3, P4, P12 den -> 0/3.
    t.headline("cpp_second_or_subsequent", Y24, "940", [2, 5, 0, 0]);
    t.headline("cpp_second_or_subsequent", Y24, "941", [0, 3, 0, 0]);
    t.headline("cpp_second_or_subsequent", Y24, "ALL", [2, 8, 0, 0]);

    // cpp_by_category: started in 2024-25 by initial category.
    // 940: NEG P1, P5; EMO P2; PHY P6; SAB P11. 941: SAB P3; MUL P4; NEG P12.
    let m = "cpp_by_category";
    t.headline(m, Y24, "940", [5, 5, 0, 0]);
    t.headline(m, Y24, "ALL", [8, 8, 0, 0]);
    t.check(m, Y24, "940", "category", "NEG", [2, 5, 0, 0]);
    t.check(m, Y24, "940", "category", "EMO", [1, 5, 0, 0]);
    t.check(m, Y24, "940", "category", "PHY", [1, 5, 0, 0]);
    t.check(m, Y24, "940", "category", "SAB", [1, 5, 0, 0]);
    t.check(m, Y24, "941", "category", "MUL", [1, 3, 0, 0]);
    t.check(m, Y24, "ALL", "category", "NEG", [3, 8, 0, 0]);
    t.check(m, Y24, "ALL", "category", "SAB", [2, 8, 0, 0]);
    t.check(m, Y24, "ALL", "category", "EMO", [1, 8, 0, 0]);
    t.check(m, Y24, "ALL", "category", "PHY", [1, 8, 0, 0]);
    t.check(m, Y24, "ALL", "category", "MUL", [1, 8, 0, 0]);
}

const LT3: &str = "3 months or less";
const M3_6: &str = "more than 3 to 6 months";
const M6_12: &str = "more than 6 months to less than 1 year";
const Y1_2: &str = "1 to less than 2 years";
const Y2P: &str = "2 years or more";

#[test]
fn plan_durations_ended_and_open_at_the_band_edges() {
    let f = Fixture::new(&[
        ("referrals.csv", PLAN_REFERRALS),
        (
            "cp_plans.csv",
            "
            plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category
            E1,R1,G1,940,2024-01-10,2024-04-10,NEG   # exactly 3 months
            E2,R1,G2,940,2024-01-10,2024-04-11,NEG   # 3 months and a day
            E3,R1,G3,940,2024-01-10,2024-07-10,NEG   # exactly 6 months
            E4,R1,G4,940,2024-01-10,2024-07-11,NEG   # 6 months and a day
            O8,R1,G5,940,2024-06-01,2025-03-31,NEG   # ended on 31 March: ended, not open
            E5,R1,G6,941,2023-05-15,2024-05-14,NEG   # a day short of a year
            E6,R1,G7,941,2023-05-15,2024-05-15,NEG   # exactly 1 year
            E7,R1,G8,941,2022-06-01,2024-05-31,NEG   # a day short of 2 years
            E8,R1,G9,941,2022-06-01,2024-06-01,NEG   # exactly 2 years
            E9,R1,G10,941,2024-09-01,2024-08-01,NEG  # ends before it starts
            X2,R1,G11,941,2022-01-01,2024-03-31,NEG  # ended in 2023-24
            O1,R1,H1,940,2024-12-31,,NEG             # 31 Mar 2025 = exactly 3 months
            O2,R1,H2,940,2024-12-30,,NEG             # 3 months and a day
            O6,R1,H3,940,2023-03-31,,NEG             # exactly 2 years
            O7,R1,H4,940,2023-04-01,,NEG             # a day short of 2 years
            X1,R1,H9,940,2025-04-05,,NEG             # starts after the year
            O3,R1,H5,941,2024-06-15,,NEG
            O4,R1,H6,941,2024-03-31,,NEG             # exactly 1 year
            O5,R1,H7,941,2024-04-01,,NEG             # a day short of 1 year
            O9,R1,H8,941,2024-06-01,2025-04-15,NEG   # ends after 31 March: open at the year end
            ",
        ),
    ]);
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-04-30"]);

    // cpp_duration_ended: ended 1 Apr 2024 - 31 Mar 2025. 940: E1 <=3m; E2, E3 >3-6m; E4, O8
    // (1 Jun -> 31 Mar: past 1 Dec, before 1 Jun) >6m-<1y. 941: E5 >6m-<1y; E6, E7 1-<2y;
    // E8 2y+; E9 (end before start) excluded.
    let m = "cpp_duration_ended";
    t.headline(m, Y24, "940", [5, 5, 0, 0]);
    t.headline(m, Y24, "941", [4, 4, 1, 0]);
    t.headline(m, Y24, "ALL", [9, 9, 1, 0]);
    t.check(m, Y24, "940", "band", LT3, [1, 5, 0, 0]);
    t.check(m, Y24, "940", "band", M3_6, [2, 5, 0, 0]);
    t.check(m, Y24, "940", "band", M6_12, [2, 5, 0, 0]);
    t.check(m, Y24, "941", "band", M6_12, [1, 4, 0, 0]);
    t.check(m, Y24, "941", "band", Y1_2, [2, 4, 0, 0]);
    t.check(m, Y24, "941", "band", Y2P, [1, 4, 0, 0]);
    // The excluded E9 belongs to no band.
    t.absent(m, Y24, "941", "band", LT3);
    t.check(m, Y24, "ALL", "band", LT3, [1, 9, 0, 0]);
    t.check(m, Y24, "ALL", "band", M3_6, [2, 9, 0, 0]);
    t.check(m, Y24, "ALL", "band", M6_12, [3, 9, 0, 0]);
    t.check(m, Y24, "ALL", "band", Y1_2, [2, 9, 0, 0]);
    t.check(m, Y24, "ALL", "band", Y2P, [1, 9, 0, 0]);

    // cpp_duration_open: open at 31 March 2025, length at that date. 940: O1 <=3m; O2 >3-6m;
    // O7 1-<2y; O6 2y+. 941: O3, O5, O9 >6m-<1y; O4 1-<2y. Not open: the E plans and O8 (ended
    // by 31 March), X1 (not started), X2.
    let m = "cpp_duration_open";
    t.headline(m, Y24, "940", [4, 4, 0, 0]);
    t.headline(m, Y24, "941", [4, 4, 0, 0]);
    t.headline(m, Y24, "ALL", [8, 8, 0, 0]);
    t.check(m, Y24, "940", "band", LT3, [1, 4, 0, 0]);
    t.check(m, Y24, "940", "band", M3_6, [1, 4, 0, 0]);
    t.check(m, Y24, "940", "band", Y1_2, [1, 4, 0, 0]);
    t.check(m, Y24, "940", "band", Y2P, [1, 4, 0, 0]);
    t.check(m, Y24, "941", "band", M6_12, [3, 4, 0, 0]);
    t.check(m, Y24, "941", "band", Y1_2, [1, 4, 0, 0]);
    t.check(m, Y24, "ALL", "band", LT3, [1, 8, 0, 0]);
    t.check(m, Y24, "ALL", "band", M3_6, [1, 8, 0, 0]);
    t.check(m, Y24, "ALL", "band", M6_12, [3, 8, 0, 0]);
    t.check(m, Y24, "ALL", "band", Y1_2, [2, 8, 0, 0]);
    t.check(m, Y24, "ALL", "band", Y2P, [1, 8, 0, 0]);
}

#[test]
fn review_chain_from_29_february_and_from_the_review_held() {
    let f = Fixture::new(&[
        ("referrals.csv", PLAN_REFERRALS),
        (
            "cp_plans.csv",
            "
            plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category
            V1,R1,W1,940,2023-11-30,,NEG
            V2,R1,W2,940,2023-11-30,,NEG
            V3,R1,W3,941,2023-11-30,,NEG
            V4,R1,W4,941,2024-06-15,2024-09-10,NEG   # ends before its first review is due
            V6,R1,W6,941,2024-12-20,,NEG             # first review due after the reference date
            ",
        ),
        (
            "cp_reviews.csv",
            "
            plan_id,review_date
            V1,2024-02-29
            V1,2024-08-20
            V1,2025-02-20
            V2,2024-03-01
            V2,2024-09-02
            V3,2024-03-01
            V3,2024-08-30
            V3,2025-02-28
            V4,2024-10-01   # after the plan ended: ignored
            ",
        ),
    ]);
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-10",
    ]);
    let m = "cpp_review_timely";
    // Plans started 30 Nov 2023: first review due 30 Nov + 3 months = 29 February 2024
    // (30 February clamps to the month's last day).
    // V1: held 29 Feb (on time); next due 29 Aug 2024, held 20 Aug (on time); next due
    //     20 Feb 2025, held 20 Feb (on time); next due 20 Aug 2025 (after the reference date).
    // V2: held 1 Mar (late); next due 6 months after the review held = 1 Sep 2024 (a Sunday:
    //     still that day), held 2 Sep (late); next due 2 Mar 2025, none held by 10 Mar (late).
    // V3: held 1 Mar (late); next due 1 Sep 2024, held 30 Aug (on time: it would be late if
    //     the chain ran from the due date, 29 Aug); next due 30 Aug + 6 months = 28 Feb 2025
    //     (clamped), held 28 Feb (on time).
    // V4: first due 15 Sep 2024, after its end on 10 Sep: owes none (not counted).
    // V6: first due 20 Mar 2025: in 2024-25 but after the reference date: pending.
    // 2023-24 (dues 1 Apr 2023 - 31 Mar 2024): V1 num; V2, V3 den (29 Feb missed).
    t.headline(m, Y23, "940", [1, 2, 0, 0]);
    t.headline(m, Y23, "941", [0, 1, 0, 0]);
    t.headline(m, Y23, "ALL", [1, 3, 0, 0]);
    // 2024-25: V1 num; V2 den; V3 num; V6 pending.
    t.headline(m, Y24, "940", [1, 2, 0, 0]);
    t.headline(m, Y24, "941", [1, 1, 0, 1]);
    t.headline(m, Y24, "ALL", [2, 3, 0, 1]);
}

// ---------------------------------------------------------------------------------------------
// early help

#[test]
fn early_help_step_up_within_3_calendar_months_any_la() {
    let f = Fixture::new(&[
        (
            "early_help.csv",
            "
            episode_id,child_id,la_code,start_date,end_date,lead_agency,outcome,stepped_down_from
            EH1,F1,940,2024-01-10,2024-06-30,School,STEP_UP,
            EH2,F2,940,2024-02-01,2024-06-30,School,NEEDS_MET,
            EH3,F3,940,2024-02-01,2024-06-30,School,NEEDS_MET,
            EH4,F4,941,2024-05-01,2024-11-30,Health,DISENGAGED,
            EH10,F10,941,2024-05-01,2024-11-30,Health,DISENGAGED,
            EH5,F5,941,2024-09-01,2025-01-15,Health,,
            EH6,F6,941,2024-09-01,2024-12-31,Health,NEEDS_MET,
            EH7,F7,941,2024-09-01,2025-01-20,Health,NEEDS_MET,
            EH8,F8,941,2024-01-01,2024-07-31,Health,NEEDS_MET,
            EH9,F9,941,2024-01-01,,Health,,
            ",
        ),
        (
            "referrals.csv",
            "
            referral_id,child_id,la_code,received_at
            R1,F2,941,2024-09-30    # 30 Jun + 3 months, in the other LA
            R2,F3,940,2024-10-01    # a day after 30 Sep
            R3,F4,941,2025-02-28    # 30 Nov + 3 months = 28 Feb 2025 (clamped)
            R4,F10,941,2025-03-01   # the day after it
            R5,F7,941,2025-02-10
            R6,F8,941,2024-05-01    # before the episode ended
            ",
        ),
    ]);
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    let m = "early_help_step_up";
    // Episodes ended in 2024-25 (EH9 has not ended):
    // 940: EH1 STEP_UP num; EH2 referral exactly 3 months after the end (any LA) num; EH3 a
    //      day later den -> 2/3.
    // 941: EH4 referral on the clamped 28 Feb num; EH10 on 1 Mar den; EH7 num; EH8 (referral
    //      before the end) den; EH6 ended 31 Dec, 3 months = 31 Mar = the reference date: the
    //      window has run out, den; EH5 ended 15 Jan, window to 15 Apr: pending -> 2/5, 1.
    t.headline(m, Y24, "940", [2, 3, 0, 0]);
    t.headline(m, Y24, "941", [2, 5, 0, 1]);
    t.headline(m, Y24, "ALL", [4, 8, 0, 1]);
}

// ---------------------------------------------------------------------------------------------
// rates

#[test]
fn rates_per_10000_use_the_population_of_the_year_the_reporting_year_starts() {
    let f = Fixture::new(&[
        (
            "population.csv",
            "
            la_code,year,age_0_17,source
            940,2023,70000,ONS MYE
            940,2024,80000,ONS MYE
            940,2025,99999,ONS projection   # after the year: never used for 2024-25
            941,2022,50000,ONS MYE
            941,2023,60000,ONS MYE          # 941 has no mid-2024: the latest earlier one
            ",
        ),
        (
            "referrals.csv",
            "
            referral_id,child_id,la_code,received_at
            RA1,C1,940,2024-05-01
            RA2,C2,940,2024-06-01
            RB1,C3,941,2024-05-01
            RB2,C4,941,2024-07-01
            RB3,C5,941,2024-08-01
            RB0,C6,941,2024-02-01
            ",
        ),
        (
            "assessments.csv",
            "
            assessment_id,referral_id,child_id,la_code,start_date,authorisation_date
            AA1,RA1,C1,940,2024-05-02,2024-06-10
            ",
        ),
        (
            "s47_enquiries.csv",
            "
            s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,icpc_result,transfer_in
            SA1,RA2,C2,940,2024-06-05,,2024-06-20,CPP,
            ",
        ),
        (
            "cp_plans.csv",
            "
            plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category
            PA1,RA2,C2,940,2024-06-20,,NEG
            ",
        ),
    ]);
    let t = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ]);
    let m = "rate_per_10k";
    // value = count / children 0-17 x 10,000 (not a fraction). Rows only per count.
    let rate = |p: &str, la: &str, count: &str, num: i64, den: i64, value: f64| {
        let r = t
            .row(m, p, la, "count", count)
            .unwrap_or_else(|| panic!("no {m} row {p} {la} {count}:\n{}", t.dump(m)));
        assert_eq!(
            [r.numerator, r.denominator, r.excluded, r.pending],
            [num, den, 0, 0],
            "{p} {la} {count}"
        );
        assert_close(r.value, Some(value), &format!("{m} {p} {la} {count}"));
    };
    // 2024-25: population mid-2024 for 940 (80,000), mid-2023 for 941 (60,000); ALL 140,000.
    rate(Y24, "940", "referrals", 2, 80000, 0.25); // 2 / 80000 x 10^4
    rate(Y24, "941", "referrals", 3, 60000, 0.5); // 3 / 60000 x 10^4
    rate(Y24, "ALL", "referrals", 5, 140000, 5.0 / 14.0); // 5 / 140000 x 10^4 = 0.357...
    rate(Y24, "940", "assessments", 1, 80000, 0.125);
    rate(Y24, "ALL", "assessments", 1, 140000, 1.0 / 14.0);
    rate(Y24, "940", "s47", 1, 80000, 0.125);
    rate(Y24, "940", "icpc", 1, 80000, 0.125);
    rate(Y24, "940", "cpp_started", 1, 80000, 0.125);
    rate(Y24, "940", "cpp_open", 1, 80000, 0.125);
    // 2023-24: mid-2023 for both (70,000 + 60,000); one referral (RB0, 941).
    rate(Y23, "941", "referrals", 1, 60000, 1.0 / 6.0);
    rate(Y23, "ALL", "referrals", 1, 130000, 1.0 / 13.0);
    // No headline row: rates of unlike counts do not add up.
    for p in [Y23, Y24] {
        for la in ["940", "941", "ALL"] {
            t.absent(m, p, la, "NONE", "");
        }
    }
    // The run summary names the population used.
    for note in [
        "2024-25: population of LA 940: 80000 children aged 0-17 (mid-2024)",
        "2024-25: population of LA 941: 60000 children aged 0-17 (mid-2023)",
        "2023-24: population of LA 940: 70000 children aged 0-17 (mid-2023)",
    ] {
        assert!(
            t.summary.contains(note),
            "summary lacks '{note}':\n{}",
            t.summary
        );
    }
}

// ---------------------------------------------------------------------------------------------
// the run as a whole

#[test]
fn every_catalogue_measure_is_computed_on_a_full_fixture() {
    // The union of the fixtures above, in one store: every id of the catalogue has rows.
    let f = Fixture::new(&[
        ("contacts.csv", CONTACTS),
        ("referrals.csv", REFERRALS_A),
        ("assessments.csv", ASSESSMENTS_A),
        (
            "s47_enquiries.csv",
            "
            s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,icpc_result,transfer_in
            S1,R4,C4,940,2024-12-10,,2025-01-03,CPP,
            ",
        ),
        (
            "cp_plans.csv",
            "
            plan_id,referral_id,child_id,la_code,start_date,end_date,initial_category,latest_category,previous_plans,first_core_group_date,end_reason
            P1,R4,C4,940,2025-01-03,,NEG,,,2025-01-10,
            P0,R1,C1,940,2024-05-01,2024-10-01,EMO,,,,
            ",
        ),
        ("cp_reviews.csv", "plan_id,review_date\nP1,2025-03-31\nP0,2024-08-01\n"),
        ("early_help.csv", "episode_id,child_id,la_code,start_date,end_date,outcome\nE1,C9,941,2024-01-01,2024-05-01,STEP_UP\n"),
        ("population.csv", "la_code,year,age_0_17\n940,2024,80000\n941,2024,90000\n"),
    ]);
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-04-30"]);
    // (The child death review measures, cdop_*, are cdop.md's and need a CDOP store: not here.)
    for id in safeguard::measures::CATALOGUE
        .iter()
        .filter(|id| !id.starts_with("cdop_"))
    {
        assert!(
            t.has_measure(id),
            "no rows for {id}; summary:\n{}",
            t.summary
        );
    }
    let unsupported: Vec<&str> = t
        .summary
        .lines()
        .filter(|l| l.starts_with("not measurable: ") && !l.starts_with("not measurable: cdop_"))
        .collect();
    assert!(unsupported.is_empty(), "{}", t.summary);
    // A few figures of this store (hand count): the one ICPC, 15 WD (10 Dec -> 3 Jan).
    t.headline("icpc_15wd", Y24, "ALL", [1, 1, 0, 0]);
    // P1 started Fri 3 Jan 2025, core group Fri 10 Jan = 5 WD.
    t.headline("core_group_10wd", Y24, "ALL", [1, 1, 1, 0]); // P0 has no date: excluded
                                                             // P0: started 1 May 2024, first review due 1 Aug 2024, held that day; ended 1 Oct 2024
                                                             // before the next due (1 Feb 2025). P1: due 3 Apr 2025 (after the year).
    t.headline("cpp_review_timely", Y24, "ALL", [1, 1, 0, 0]);
    // P0 ended after 5 months; P1 open at 31 March (under 3 months).
    t.check("cpp_duration_ended", Y24, "ALL", "band", M3_6, [1, 1, 0, 0]);
    t.check("cpp_duration_open", Y24, "ALL", "band", LT3, [1, 1, 0, 0]);
    // E1 stepped up.
    t.headline("early_help_step_up", Y24, "941", [1, 1, 0, 0]);
}

#[test]
fn measures_the_data_cannot_support_are_absent_and_listed_never_zero() {
    // No contacts (as with a CIN census alone), no early help, no population, no decisions.
    let f = Fixture::new(&[(
        "referrals.csv",
        "
        referral_id,child_id,la_code,received_at
        R1,C1,940,2024-05-01
        R2,C2,941,2024-06-01
        ",
    )]);
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    for (id, why) in [
        ("contact_decision_1wd", "no contacts"),
        ("mash_decision_24h", "no contacts"),
        ("contact_to_referral", "no contacts"),
        ("referral_decision_1wd", "no referral has a decision"),
        ("early_help_step_up", "no early help"),
        ("rate_per_10k", "no population"),
    ] {
        assert!(!t.has_measure(id), "{id} has rows:\n{}", t.dump(id));
        let line = t
            .summary
            .lines()
            .find(|l| l.starts_with(&format!("not measurable: {id}: ")))
            .unwrap_or_else(|| panic!("{id} not listed as not measurable:\n{}", t.summary));
        assert!(line.contains(why), "{line}");
    }
    // What the referrals do support is there: R1 (940) and R2 (941), no NFA recorded.
    t.headline("referral_nfa", Y24, "ALL", [0, 2, 0, 0]);
    t.headline("rereferral_12m", Y24, "ALL", [0, 2, 0, 0]);
}

#[test]
fn a_multi_year_run_gives_each_year_as_its_own_single_year_run_does() {
    let f = s47_fixture();
    let both = f.measures(&[
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ]);
    let y23 = f.measures(&["--year", "2023-24", "--reference-date", "2025-03-31"]);
    let y24 = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    let periods: std::collections::BTreeSet<&str> =
        both.rows.keys().map(|k| k.1.as_str()).collect();
    assert_eq!(periods.into_iter().collect::<Vec<_>>(), [Y23, Y24]);
    let mut single = y23.rows.clone();
    single.extend(y24.rows.clone());
    assert_eq!(
        both.rows, single,
        "the two-year table is the two one-year tables together"
    );
    // A figure from each year (see icpc_within_15_working_days_across_christmas...).
    both.headline("s47_to_icpc", Y23, "941", [1, 1, 0, 0]);
    both.headline("s47_to_icpc", Y24, "ALL", [6, 9, 1, 2]);
}

#[test]
fn data_quality_counts_overdue_contacts_open_assessments_and_s47s() {
    let f = Fixture::new(&[
        (
            "contacts.csv",
            "
            contact_id,child_id,la_code,received_at,outcome
            K1,C1,940,2025-03-27T10:00,                # Thu: wd(27 Mar, 31 Mar) = 2 > 1: counted
            K2,C2,940,2025-03-28T10:00,                # Fri: wd(28 Mar, 31 Mar) = 1: not yet
            K3,C3,940,2025-03-03T10:00,REFERRAL        # has an outcome
            ",
        ),
        (
            "referrals.csv",
            "
            referral_id,child_id,la_code,received_at
            R1,C1,940,2025-01-02
            R2,C2,940,2025-01-02
            ",
        ),
        (
            "assessments.csv",
            "
            assessment_id,referral_id,child_id,la_code,start_date,authorisation_date
            A1,R1,C1,940,2025-01-24,                   # 46 WD to 31 Mar: counted (8670Q)
            A2,R2,C2,940,2025-01-27,                   # 45 WD to 31 Mar: not yet
            ",
        ),
        (
            "s47_enquiries.csv",
            "
            s47_id,referral_id,child_id,la_code,start_date,icpc_not_required,icpc_date,transfer_in
            S1,R1,C1,940,2025-03-07,N,,N               # 16 WD to 31 Mar: counted (8675Q)
            S2,R2,C2,940,2025-03-10,N,,N               # 15 WD: not yet
            S3,R2,C2,940,2025-01-06,Y,,N               # not required
            S4,R2,C2,940,2025-01-06,N,,Y               # a transfer-in
            ",
        ),
    ]);
    let t = f.measures(&["--year", "2024-25", "--reference-date", "2025-03-31"]);
    // Working days in March 2025 (no bank holidays): 3-7, 10-14, 17-21, 24-28, 31.
    // A1: 24 Jan -> 31 Mar: Jan 27-31 (5) + Feb (20) + Mar (21) = 46. A2 from 27 Jan: 45.
    // S1: 7 Mar -> 31 Mar: 10-14, 17-21, 24-28, 31 = 16. S2 from 10 Mar: 15.
    for line in [
        "data quality: contacts.outcome: 1 row(s)",
        "data quality: assessments.authorisation_date: 1 row(s)",
        "data quality: s47_enquiries.icpc_date: 1 row(s)",
    ] {
        assert!(
            t.summary.contains(line),
            "missing {line:?} in:\n{}",
            t.summary
        );
    }
}
