//! The England and Wales working-day calendar (`safeguard::calendar`), measures.md section 1.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use safeguard::calendar::{Calendar, CalendarError};
use std::collections::BTreeSet;

/// Bank holidays 1990-2040 as observed (weekdays only), generated independently with
/// python-holidays; see the header line of the file.
const TRUTH_SET: &str = include_str!("../data/calendar/ew_bank_holidays_1990_2040.txt");

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn cal() -> Calendar {
    Calendar::england_and_wales()
}

/// Whether `d` is listed by `holidays()` (a non-working weekday).
fn is_holiday(cal: &Calendar, d: NaiveDate) -> bool {
    cal.holidays(d, d).expect("in range").contains(&d)
}

fn truth_set() -> Vec<NaiveDate> {
    TRUTH_SET
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| NaiveDate::parse_from_str(l, "%Y-%m-%d").expect("ISO date in truth set"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The full set.

#[test]
fn holidays_1990_2040_match_truth_set_exactly() {
    let expected = truth_set();
    // 8 regular holidays a year for 51 years, plus 7 one-off extras (1999 millennium, 2002 golden
    // jubilee, 2011 royal wedding, 2012 diamond jubilee, 2022 platinum jubilee and state funeral,
    // 2023 coronation); moved holidays add one date and remove one.
    assert_eq!(expected.len(), 8 * 51 + 7);
    let got = cal()
        .holidays(date(1990, 1, 1), date(2040, 12, 31))
        .unwrap();
    assert_eq!(got, expected);
}

#[test]
fn holidays_2016_2027_match_anchor_list() {
    // anchors-csc.md section 5 (gov.uk bank-holidays.json, reconciled).
    let anchors: &[(i32, &[(u32, u32)])] = &[
        (
            2016,
            &[
                (1, 1),
                (3, 25),
                (3, 28),
                (5, 2),
                (5, 30),
                (8, 29),
                (12, 26),
                (12, 27),
            ],
        ),
        (
            2017,
            &[
                (1, 2),
                (4, 14),
                (4, 17),
                (5, 1),
                (5, 29),
                (8, 28),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2018,
            &[
                (1, 1),
                (3, 30),
                (4, 2),
                (5, 7),
                (5, 28),
                (8, 27),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2019,
            &[
                (1, 1),
                (4, 19),
                (4, 22),
                (5, 6),
                (5, 27),
                (8, 26),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2020,
            &[
                (1, 1),
                (4, 10),
                (4, 13),
                (5, 8),
                (5, 25),
                (8, 31),
                (12, 25),
                (12, 28),
            ],
        ),
        (
            2021,
            &[
                (1, 1),
                (4, 2),
                (4, 5),
                (5, 3),
                (5, 31),
                (8, 30),
                (12, 27),
                (12, 28),
            ],
        ),
        (
            2022,
            &[
                (1, 3),
                (4, 15),
                (4, 18),
                (5, 2),
                (6, 2),
                (6, 3),
                (8, 29),
                (9, 19),
                (12, 26),
                (12, 27),
            ],
        ),
        (
            2023,
            &[
                (1, 2),
                (4, 7),
                (4, 10),
                (5, 1),
                (5, 8),
                (5, 29),
                (8, 28),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2024,
            &[
                (1, 1),
                (3, 29),
                (4, 1),
                (5, 6),
                (5, 27),
                (8, 26),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2025,
            &[
                (1, 1),
                (4, 18),
                (4, 21),
                (5, 5),
                (5, 26),
                (8, 25),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2026,
            &[
                (1, 1),
                (4, 3),
                (4, 6),
                (5, 4),
                (5, 25),
                (8, 31),
                (12, 25),
                (12, 28),
            ],
        ),
        (
            2027,
            &[
                (1, 1),
                (3, 26),
                (3, 29),
                (5, 3),
                (5, 31),
                (8, 30),
                (12, 27),
                (12, 28),
            ],
        ),
    ];
    let cal = cal();
    for (year, days) in anchors {
        let expected: Vec<NaiveDate> = days.iter().map(|&(m, d)| date(*year, m, d)).collect();
        let got = cal
            .holidays(date(*year, 1, 1), date(*year, 12, 31))
            .unwrap();
        assert_eq!(got, expected, "bank holidays in {year}");
    }
}

// ---------------------------------------------------------------------------------------------
// One-off changes, each on its own.

#[test]
fn one_off_1995_ve_day_50th() {
    let cal = cal();
    // Early May moved from its regular first Monday (1 May) to Monday 8 May, VE Day's 50th.
    assert!(is_holiday(&cal, date(1995, 5, 8)));
    assert!(!is_holiday(&cal, date(1995, 5, 1)));
    assert!(cal.is_working_day(date(1995, 5, 1)).unwrap());
}

#[test]
fn one_off_1999_millennium() {
    let cal = cal();
    // Friday 31 Dec 1999, an extra day; Christmas (Sat) and Boxing Day (Sun) were substituted by
    // Mon 27 and Tue 28 as usual, and New Year's Day 2000 (Sat) by Mon 3 Jan 2000 (regular rule).
    assert!(is_holiday(&cal, date(1999, 12, 31)));
    assert_eq!(
        cal.holidays(date(1999, 12, 20), date(2000, 1, 7)).unwrap(),
        vec![
            date(1999, 12, 27),
            date(1999, 12, 28),
            date(1999, 12, 31),
            date(2000, 1, 3)
        ]
    );
}

#[test]
fn one_off_2002_golden_jubilee() {
    let cal = cal();
    // Spring holiday moved from its regular last Monday (27 May) to Tue 4 June; the Golden
    // Jubilee was Mon 3 June.
    assert!(is_holiday(&cal, date(2002, 6, 3)));
    assert!(is_holiday(&cal, date(2002, 6, 4)));
    assert!(!is_holiday(&cal, date(2002, 5, 27)));
}

#[test]
fn one_off_2011_royal_wedding() {
    // Friday 29 April 2011, an extra day (early May, Mon 2 May, still a holiday).
    let cal = cal();
    assert!(is_holiday(&cal, date(2011, 4, 29)));
    assert!(is_holiday(&cal, date(2011, 5, 2)));
}

#[test]
fn one_off_2012_diamond_jubilee() {
    let cal = cal();
    // Spring holiday moved from 28 May to Mon 4 June; Diamond Jubilee Tue 5 June.
    assert!(is_holiday(&cal, date(2012, 6, 4)));
    assert!(is_holiday(&cal, date(2012, 6, 5)));
    assert!(!is_holiday(&cal, date(2012, 5, 28)));
}

#[test]
fn one_off_2020_ve_day_75th() {
    let cal = cal();
    // Early May moved from Mon 4 May to Fri 8 May, VE Day's 75th.
    assert!(is_holiday(&cal, date(2020, 5, 8)));
    assert!(!is_holiday(&cal, date(2020, 5, 4)));
    // Thu 7 May -> Mon 11 May: Fri 8 is off, the weekend too, so only Mon 11 counts.
    assert_eq!(cal.wd(date(2020, 5, 7), date(2020, 5, 11)).unwrap(), 1);
}

#[test]
fn one_off_2022_platinum_jubilee() {
    let cal = cal();
    // Spring holiday moved from Mon 30 May to Thu 2 June; Platinum Jubilee Fri 3 June.
    assert!(is_holiday(&cal, date(2022, 6, 2)));
    assert!(is_holiday(&cal, date(2022, 6, 3)));
    assert!(!is_holiday(&cal, date(2022, 5, 30)));
    // Wed 1 June -> Mon 6 June: Thu, Fri off, weekend, so only Mon 6 counts.
    assert_eq!(cal.wd(date(2022, 6, 1), date(2022, 6, 6)).unwrap(), 1);
}

#[test]
fn one_off_2022_state_funeral() {
    let cal = cal();
    // Monday 19 September 2022, an extra day.
    assert!(is_holiday(&cal, date(2022, 9, 19)));
    // Fri 16 Sep -> Tue 20 Sep: weekend and Mon 19 skipped, only Tue 20 counts.
    assert_eq!(cal.wd(date(2022, 9, 16), date(2022, 9, 20)).unwrap(), 1);
}

#[test]
fn one_off_2023_coronation() {
    let cal = cal();
    // Monday 8 May 2023, an extra day; the regular early May on Mon 1 May stays.
    assert!(is_holiday(&cal, date(2023, 5, 8)));
    assert!(is_holiday(&cal, date(2023, 5, 1)));
    // Fri 5 May -> Tue 9 May: weekend and Mon 8 skipped, only Tue 9 counts.
    assert_eq!(cal.wd(date(2023, 5, 5), date(2023, 5, 9)).unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// Substitute days: only the observed weekday is listed, never the weekend date.

#[test]
fn christmas_on_saturday_2021() {
    // Christmas Sat 25, Boxing Day Sun 26 -> substitutes Mon 27 and Tue 28.
    assert_eq!(
        cal()
            .holidays(date(2021, 12, 20), date(2021, 12, 31))
            .unwrap(),
        vec![date(2021, 12, 27), date(2021, 12, 28)]
    );
}

#[test]
fn christmas_on_sunday_2022() {
    // Christmas Sun 25 -> Boxing Day on Mon 26 as usual, Christmas substitute Tue 27.
    assert_eq!(
        cal()
            .holidays(date(2022, 12, 20), date(2022, 12, 31))
            .unwrap(),
        vec![date(2022, 12, 26), date(2022, 12, 27)]
    );
}

#[test]
fn boxing_day_on_saturday_2020() {
    // Christmas Fri 25, Boxing Day Sat 26 -> substitute Mon 28.
    assert_eq!(
        cal()
            .holidays(date(2020, 12, 20), date(2020, 12, 31))
            .unwrap(),
        vec![date(2020, 12, 25), date(2020, 12, 28)]
    );
}

#[test]
fn new_year_on_saturday_2022() {
    // New Year's Day Sat 1 Jan 2022 -> substitute Mon 3 Jan.
    assert_eq!(
        cal().holidays(date(2022, 1, 1), date(2022, 1, 31)).unwrap(),
        vec![date(2022, 1, 3)]
    );
}

#[test]
fn new_year_on_sunday_2017() {
    // New Year's Day Sun 1 Jan 2017 -> substitute Mon 2 Jan.
    assert_eq!(
        cal().holidays(date(2017, 1, 1), date(2017, 1, 31)).unwrap(),
        vec![date(2017, 1, 2)]
    );
}

// ---------------------------------------------------------------------------------------------
// wd and add_working_days.

#[test]
fn wd_over_easter_2024() {
    // Thu 28 Mar -> Tue 2 Apr: Good Friday 29 Mar, the weekend, Easter Monday 1 Apr all skipped,
    // so only Tue 2 Apr counts.
    assert_eq!(cal().wd(date(2024, 3, 28), date(2024, 4, 2)).unwrap(), 1);
}

#[test]
fn wd_over_easter_2020() {
    // Thu 9 Apr -> Tue 14 Apr: Good Friday 10, weekend, Easter Monday 13 skipped.
    assert_eq!(cal().wd(date(2020, 4, 9), date(2020, 4, 14)).unwrap(), 1);
}

#[test]
fn forty_fifth_working_day_after_thursday_28_march_2024() {
    // After Thu 28 Mar 2024: Fri 29 Mar (Good Friday) and Mon 1 Apr (Easter Monday) are off.
    //   Tue 2 - Fri 5 Apr        4  (running total  4)
    //   8-12, 15-19, 22-26 Apr   15 (19)
    //   29 Apr - 3 May           5  (24)
    //   Tue 7 - Fri 10 May       4  (28)  Mon 6 May early May bank holiday
    //   13-17, 20-24 May         10 (38)
    //   Tue 28 - Fri 31 May      4  (42)  Mon 27 May spring bank holiday
    //   Mon 3, Tue 4, Wed 5 Jun  3  (45)
    // so the 45th working day is Wednesday 5 June 2024.
    let cal = cal();
    let start = date(2024, 3, 28);
    assert_eq!(cal.add_working_days(start, 45).unwrap(), date(2024, 6, 5));
    assert_eq!(cal.wd(start, date(2024, 6, 5)).unwrap(), 45);
    assert_eq!(cal.wd(start, date(2024, 6, 4)).unwrap(), 44);
}

#[test]
fn wd_same_day_is_zero() {
    let cal = cal();
    // a < d <= a is empty, on a working day, a weekend day and a bank holiday alike.
    for d in [date(2024, 3, 27), date(2024, 3, 30), date(2024, 3, 29)] {
        assert_eq!(cal.wd(d, d).unwrap(), 0);
        assert_eq!(cal.add_working_days(d, 0).unwrap(), d);
    }
}

#[test]
fn wd_negative_interval() {
    let cal = cal();
    // Tue 2 Apr 2024 back to Thu 28 Mar: -(wd(28 Mar, 2 Apr)) = -1.
    assert_eq!(cal.wd(date(2024, 4, 2), date(2024, 3, 28)).unwrap(), -1);
    // Wed 5 Jun back to Thu 28 Mar: -45 (see the 45th-working-day test).
    assert_eq!(cal.wd(date(2024, 6, 5), date(2024, 3, 28)).unwrap(), -45);
}

#[test]
fn wd_from_a_saturday() {
    let cal = cal();
    // Sat 6 Jan 2024 -> Mon 8 Jan: Sun 7 is not a working day, Mon 8 is: 1.
    assert_eq!(cal.wd(date(2024, 1, 6), date(2024, 1, 8)).unwrap(), 1);
    // Sat -> Sun: nothing in between counts: 0.
    assert_eq!(cal.wd(date(2024, 1, 6), date(2024, 1, 7)).unwrap(), 0);
    // The first working day after a Saturday is the Monday.
    assert_eq!(
        cal.add_working_days(date(2024, 1, 6), 1).unwrap(),
        date(2024, 1, 8)
    );
}

#[test]
fn is_working_day_basics() {
    let cal = cal();
    assert!(cal.is_working_day(date(2024, 3, 28)).unwrap()); // Thursday
    assert!(!cal.is_working_day(date(2024, 3, 29)).unwrap()); // Good Friday
    assert!(!cal.is_working_day(date(2024, 3, 30)).unwrap()); // Saturday
    assert!(!cal.is_working_day(date(2024, 3, 31)).unwrap()); // Sunday
    assert!(!cal.is_working_day(date(1990, 1, 1)).unwrap()); // New Year's Day, first day
    assert!(cal.is_working_day(date(1990, 1, 2)).unwrap()); // Tuesday
    assert!(!cal.is_working_day(date(2040, 12, 25)).unwrap()); // Christmas, Tuesday
    assert!(cal.is_working_day(date(2040, 12, 31)).unwrap()); // Monday, last day
}

#[test]
fn ordinal_base_and_first_days() {
    let cal = cal();
    // ordinal(d) counts working days in (1990-01-01, d]: Mon 1 Jan 1990 is the base (0), Tue 2
    // is the first working day after it (1), Fri 5 the fourth; the weekend adds none.
    assert_eq!(cal.ordinal(date(1990, 1, 1)).unwrap(), 0);
    assert_eq!(cal.ordinal(date(1990, 1, 2)).unwrap(), 1);
    assert_eq!(cal.ordinal(date(1990, 1, 5)).unwrap(), 4);
    assert_eq!(cal.ordinal(date(1990, 1, 7)).unwrap(), 4);
    assert_eq!(cal.ordinal(date(1990, 1, 8)).unwrap(), 5);
}

#[test]
fn add_working_days_at_the_end_of_the_range() {
    let cal = cal();
    // After Mon 24 Dec 2040: Tue 25 and Wed 26 are Christmas and Boxing Day, Thu 27 (1),
    // Fri 28 (2), Mon 31 (3); the 4th would be in 2041, beyond the calendar.
    assert_eq!(
        cal.add_working_days(date(2040, 12, 24), 3).unwrap(),
        date(2040, 12, 31)
    );
    assert_eq!(
        cal.add_working_days(date(2040, 12, 24), 4),
        Err(CalendarError::OutOfRange(date(2041, 1, 1)))
    );
    assert!(cal.add_working_days(date(1990, 1, 1), u32::MAX).is_err());
    assert_eq!(
        cal.add_working_days(date(2040, 12, 31), 0).unwrap(),
        date(2040, 12, 31)
    );
}

#[test]
fn out_of_range_is_an_error_in_every_method() {
    let cal = cal();
    let ok = date(2024, 1, 1);
    for bad in [date(1989, 12, 31), date(2041, 1, 1)] {
        let err = CalendarError::OutOfRange(bad);
        assert_eq!(cal.is_working_day(bad).unwrap_err(), err);
        assert_eq!(cal.ordinal(bad).unwrap_err(), err);
        assert_eq!(cal.wd(bad, ok).unwrap_err(), err);
        assert_eq!(cal.wd(ok, bad).unwrap_err(), err);
        assert_eq!(cal.add_working_days(bad, 0).unwrap_err(), err);
        assert_eq!(cal.add_working_days(bad, 3).unwrap_err(), err);
        assert_eq!(cal.holidays(bad, ok).unwrap_err(), err);
        assert_eq!(cal.holidays(ok, bad).unwrap_err(), err);
        assert_eq!(cal.clone().with_closures(&[ok, bad]).unwrap_err(), err);
    }
    // The range's own ends are fine.
    assert!(cal.wd(date(1990, 1, 1), date(2040, 12, 31)).is_ok());
}

#[test]
fn holidays_range_is_inclusive_and_empty_when_reversed() {
    let cal = cal();
    // Both ends inclusive: Good Friday and Easter Monday 2024.
    assert_eq!(
        cal.holidays(date(2024, 3, 29), date(2024, 4, 1)).unwrap(),
        vec![date(2024, 3, 29), date(2024, 4, 1)]
    );
    // No bank holiday in a range of weekdays in June 2024, none when to < from.
    assert!(cal
        .holidays(date(2024, 6, 1), date(2024, 6, 30))
        .unwrap()
        .is_empty());
    assert!(cal
        .holidays(date(2024, 4, 1), date(2024, 3, 29))
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// Local closures.

#[test]
fn local_closures_christmas_2024() {
    let closures = [date(2024, 12, 27), date(2024, 12, 30), date(2024, 12, 31)];
    let plain = cal();
    let shut = cal().with_closures(&closures).unwrap();
    let (a, b) = (date(2024, 12, 24), date(2025, 1, 2));
    // Tue 24 Dec -> Thu 2 Jan: 25, 26 Dec and 1 Jan are bank holidays, 28-29 a weekend; without
    // closures Fri 27, Mon 30, Tue 31 and Thu 2 count (4); with them only Thu 2 Jan (1).
    assert_eq!(plain.wd(a, b).unwrap(), 4);
    assert_eq!(shut.wd(a, b).unwrap(), 1);
    assert_eq!(shut.add_working_days(a, 1).unwrap(), date(2025, 1, 2));
    assert!(!shut.is_working_day(date(2024, 12, 30)).unwrap());
    // holidays() lists the closures with the bank holidays, sorted, each once.
    assert_eq!(
        shut.holidays(date(2024, 12, 20), date(2025, 1, 5)).unwrap(),
        vec![
            date(2024, 12, 25),
            date(2024, 12, 26),
            date(2024, 12, 27),
            date(2024, 12, 30),
            date(2024, 12, 31),
            date(2025, 1, 1),
        ]
    );
    // Ordinals before the closures are unchanged, after them shifted by 3.
    assert_eq!(shut.ordinal(a).unwrap(), plain.ordinal(a).unwrap());
    assert_eq!(shut.ordinal(b).unwrap(), plain.ordinal(b).unwrap() - 3);
}

#[test]
fn closures_on_weekends_bank_holidays_or_repeated_change_nothing_more() {
    let plain = cal();
    // Sat 28 Dec 2024 (weekend) and Wed 25 Dec (Christmas): no effect.
    let same = cal()
        .with_closures(&[date(2024, 12, 28), date(2024, 12, 25)])
        .unwrap();
    assert_eq!(
        same.holidays(date(1990, 1, 1), date(2040, 12, 31)).unwrap(),
        plain
            .holidays(date(1990, 1, 1), date(2040, 12, 31))
            .unwrap()
    );
    assert_eq!(
        same.ordinal(date(2040, 12, 31)).unwrap(),
        plain.ordinal(date(2040, 12, 31)).unwrap()
    );
    // The same closure twice, or added in two calls, counts once.
    let twice = cal()
        .with_closures(&[date(2024, 12, 27), date(2024, 12, 27)])
        .unwrap()
        .with_closures(&[date(2024, 12, 27)])
        .unwrap();
    assert_eq!(twice.wd(date(2024, 12, 24), date(2025, 1, 2)).unwrap(), 3);
}

#[test]
fn default_is_england_and_wales() {
    let all = (date(1990, 1, 1), date(2040, 12, 31));
    assert_eq!(
        Calendar::default().holidays(all.0, all.1).unwrap(),
        cal().holidays(all.0, all.1).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Consistency against a naive day-by-day count built from the truth set alone.

#[test]
fn wd_ordinal_and_add_agree_with_naive_count() {
    let cal = cal();
    let holidays: BTreeSet<NaiveDate> = truth_set().into_iter().collect();
    let naive_working = |d: NaiveDate| {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&d)
    };
    let first = date(1990, 1, 1);
    let span = (date(2040, 12, 31) - first).num_days() as u64; // last day's index
                                                               // A fixed linear congruential sequence: reproducible, spread over the whole range, plus
                                                               // some short intervals (within 40 days) where off-by-one errors show.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % (bound + 1)
    };
    for i in 0..300 {
        let a = first + Days::new(next(span));
        let b = if i % 2 == 0 {
            first + Days::new(next(span))
        } else {
            let near = a + Days::new(next(40));
            near.min(date(2040, 12, 31))
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let count = lo
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= hi)
            .filter(|d| naive_working(*d))
            .count() as i64;
        let expected = if a <= b { count } else { -count };
        assert_eq!(cal.wd(a, b).unwrap(), expected, "wd({a}, {b})");
        assert_eq!(
            i64::from(cal.ordinal(b).unwrap()) - i64::from(cal.ordinal(a).unwrap()),
            expected,
            "ordinal difference for ({a}, {b})"
        );
        assert_eq!(
            cal.is_working_day(a).unwrap(),
            naive_working(a),
            "is_working_day({a})"
        );
        // add_working_days inverts wd: x is reached with exactly n working days, and the day
        // before x has only n - 1 (x is the smallest such date).
        let n = next(60) as u32;
        if let Ok(x) = cal.add_working_days(a, n) {
            assert_eq!(
                cal.wd(a, x).unwrap(),
                i64::from(n),
                "add_working_days({a}, {n})"
            );
            if n > 0 {
                assert!(
                    naive_working(x),
                    "add_working_days({a}, {n}) = {x} is a working day"
                );
                let before = x.pred_opt().unwrap();
                assert_eq!(cal.wd(a, before).unwrap(), i64::from(n) - 1);
            }
        }
    }
}
