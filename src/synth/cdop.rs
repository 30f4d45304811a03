//! Child deaths reviewed by the partnership's Child Death Overview Panel (one CDOP for all its LAs):
//! `cdop_reviews.csv` and `cdop_factors.csv`.
//!
//! About `cdop_deaths_per_year` deaths a year, from 18 months before the window (so the first year has
//! its full share of reviews completed) to the reference date, with the national shape of
//! anchors-cdop.md: category mix (perinatal/neonatal ~1/3, chromosomal/congenital ~1/4, ...), ~40%
//! under 28 days (with deliberate ages of 27, 28, 364, 365 and 366 days on the band edges), modifiable
//! factors identified in ~26% of reviews and insufficient information in ~2.5%, reviews completed
//! typically 6-18 months after death (later ones still open at the reference date: their category,
//! outcome and factors are not yet decided), SCR/LCSPR rare, ~5% dying outside the area. About one
//! death in five is of a child known to children's social care: such a row carries the child's
//! `child_id`, and `journey::death_linked_child` generates that child with a referral before death.

use anyhow::Result;
use chrono::{Months, NaiveDate};

use super::codes;
use super::csv_out::{yn, Cell, CsvTables};
use super::dates::{add_days, Window};
use super::dist::{banded, between, chance, lognormal_days, pick, rng_for, SynthRng};
use super::ids::{child_id, child_key, event_id, ChildKind, Table};
use super::journey::DeathLink;
use crate::schema::{CDOP_FACTORS, CDOP_REVIEWS};

/// One death notified to the CDOP.
#[derive(Debug, Clone)]
pub struct Death {
    pub idx: u64,
    pub case_id: String,
    pub la: u16,
    pub date: NaiveDate,
    pub notified: NaiveDate,
    pub age_days: i64,
    pub sex: &'static str,
    pub ethnicity: &'static str,
    pub imd_decile: u8,
    pub expected: bool,
    pub category: u8,
    pub modifiable: &'static str,
    pub place: &'static str,
    pub event: Option<&'static str>,
    pub review_completed: Option<NaiveDate>,
    pub scr: bool,
    pub outside_area: bool,
    pub known_to_services: bool,
    /// (domain, factor, grade)
    pub factors: Vec<(&'static str, &'static str, u8)>,
}

impl Death {
    pub fn birth(&self) -> NaiveDate {
        add_days(self.date, -self.age_days)
    }

    /// The `child_id` of the linked child (same key as `journey::death_linked_child`).
    pub fn child_id(&self, seed: u64) -> Option<String> {
        self.known_to_services
            .then(|| child_id(seed, child_key(self.la, ChildKind::DeathLinked, self.idx)))
    }

    pub fn link(&self) -> Option<DeathLink> {
        self.known_to_services.then(|| DeathLink {
            la: self.la,
            idx: self.idx,
            death: self.date,
            birth: self.birth(),
            sex: self.sex,
            ethnicity: self.ethnicity,
        })
    }
}

/// The CDOP's short code: initials of the first LA's name (at most two) + `C` (e.g. `NNC`).
pub fn cdop_code(first_la_name: &str) -> String {
    let initials: String = first_la_name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .take(2)
        .collect();
    format!(
        "{}C",
        if initials.is_empty() {
            "X".to_string()
        } else {
            initials
        }
    )
}

/// Age-at-death bands in days: under 28 days, 28-364 days, 1-4, 5-9, 10-14, 15-17 years.
const AGE_BANDS: [(i64, i64); 6] = [
    (0, 27),
    (28, 364),
    (365, 1825),
    (1826, 3652),
    (3653, 5478),
    (5479, 6500),
];

fn age_weights(category: u8) -> [f64; 6] {
    match category {
        8 => [85.0, 13.0, 2.0, 0.0, 0.0, 0.0],
        7 => [40.0, 30.0, 15.0, 7.0, 5.0, 3.0],
        10 => [3.0, 77.0, 18.0, 1.0, 1.0, 0.0],
        9 => [10.0, 30.0, 25.0, 12.0, 12.0, 11.0],
        4 => [1.0, 4.0, 25.0, 25.0, 25.0, 20.0],
        3 => [2.0, 10.0, 20.0, 15.0, 20.0, 33.0],
        2 => [0.0, 0.0, 0.0, 0.0, 30.0, 70.0],
        1 => [10.0, 35.0, 30.0, 10.0, 7.0, 8.0],
        _ => [8.0, 22.0, 20.0, 15.0, 17.0, 18.0],
    }
}

fn age_at_death(rng: &mut SynthRng, category: u8, date: NaiveDate) -> i64 {
    let mut age = if chance(rng, 0.08) && category != 2 {
        pick(
            rng,
            &[
                (0i64, 1.0),
                (1, 1.0),
                (27, 2.0),
                (28, 2.0),
                (364, 2.0),
                (365, 2.0),
                (366, 1.0),
            ],
        )
    } else {
        let w = age_weights(category);
        let bands: Vec<(i64, i64, f64)> = AGE_BANDS
            .iter()
            .zip(w)
            .map(|(&(lo, hi), w)| (lo, hi, w))
            .collect();
        banded(rng, &bands)
    };
    // Keep every death before the 18th birthday (out-of-scope deaths are not generated).
    let birth = add_days(date, -age);
    if birth
        .checked_add_months(Months::new(216))
        .is_some_and(|b18| b18 <= date)
    {
        age = 6400;
    }
    age
}

fn place_of_death(rng: &mut SynthRng, category: u8) -> &'static str {
    let places: &[(&str, f64)] = match category {
        10 => &[("HOME", 60.0), ("HOSPITAL", 35.0), ("OTHER", 5.0)],
        3 => &[
            ("HOSPITAL", 50.0),
            ("PUBLIC_PLACE", 35.0),
            ("HOME", 10.0),
            ("OTHER", 5.0),
        ],
        2 => &[
            ("HOME", 45.0),
            ("PUBLIC_PLACE", 40.0),
            ("HOSPITAL", 12.0),
            ("OTHER", 3.0),
        ],
        1 => &[("HOME", 40.0), ("HOSPITAL", 55.0), ("OTHER", 5.0)],
        4 | 6 | 7 => &[("HOSPITAL", 68.0), ("HOSPICE", 17.0), ("HOME", 15.0)],
        8 => &[("HOSPITAL", 95.0), ("HOME", 3.0), ("OTHER", 2.0)],
        _ => &[("HOSPITAL", 88.0), ("HOME", 10.0), ("OTHER", 2.0)],
    };
    pick(rng, places)
}

fn event(rng: &mut SynthRng, category: u8) -> Option<&'static str> {
    match category {
        8 => Some("NEONATAL"),
        10 => Some("SUDI"),
        4 | 6 | 7 => chance(rng, 0.6).then_some("KNOWN_LIFE_LIMITING"),
        3 => Some(pick(
            rng,
            &[
                ("ROAD_TRAFFIC", 40.0),
                ("DROWNING", 15.0),
                ("FIRE_BURNS", 5.0),
                ("POISONING", 5.0),
                ("OTHER_ACCIDENT", 35.0),
            ],
        )),
        2 => Some(pick(
            rng,
            &[
                ("APPARENT_SUICIDE", 85.0),
                ("SUBSTANCE_MISUSE", 10.0),
                ("OTHER", 5.0),
            ],
        )),
        1 => Some(pick(rng, &[("APPARENT_HOMICIDE", 80.0), ("OTHER", 20.0)])),
        _ => chance(rng, 0.2).then_some("OTHER"),
    }
}

/// Generates the deaths to write (notified in the window, or reviewed in it, or still under review).
pub fn generate(seed: u64, win: &Window, la_weights: &[f64], per_year: u32) -> Result<Vec<Death>> {
    let mut rng = rng_for(seed ^ 0xCD0F, 0);
    let from = win
        .start
        .checked_sub_months(Months::new(18))
        .unwrap_or(win.start);
    // Month by month, so that every year gets its share: per_year / 12 a month (with the fraction
    // carried over), give or take one, on uniform days of the month.
    let mut dates: Vec<NaiveDate> = Vec::new();
    let mut month = from;
    let mut carry = 0.0f64;
    while month <= win.reference {
        let next = month
            .checked_add_months(Months::new(1))
            .unwrap_or(win.reference);
        carry += per_year as f64 / 12.0;
        let mut k = carry.floor() as i64;
        carry -= k as f64;
        if k > 0 && chance(&mut rng, 0.3) {
            k += if chance(&mut rng, 0.5) { 1 } else { -1 };
        }
        let span = (next - month).num_days() - 1;
        let mut in_month: Vec<NaiveDate> = (0..k.max(0))
            .map(|_| add_days(month, between(&mut rng, 0, span)))
            .collect();
        in_month.sort();
        dates.extend(in_month);
        month = next;
    }
    let las: Vec<(u16, f64)> = la_weights
        .iter()
        .enumerate()
        .map(|(i, w)| (i as u16, *w))
        .collect();

    let mut out = Vec::new();
    for (i, date) in dates.into_iter().enumerate() {
        let idx = i as u64;
        let mut r = rng_for(seed ^ 0xDEA7, idx);
        let category = pick(&mut r, codes::DEATH_CATEGORY);
        let age_days = age_at_death(&mut r, category, date);
        let notified = add_days(
            date,
            pick(&mut r, &[(0i64, 55.0), (1, 30.0), (2, 10.0), (3, 5.0)]),
        );
        let median = if category == 1 { 600.0 } else { 330.0 };
        let completed = add_days(date, lognormal_days(&mut r, median, 0.45, 120, 1100));
        let review_completed = (completed <= win.reference).then_some(completed);
        if notified > win.reference {
            continue; // not yet notified at the reference date
        }
        if notified < win.start && review_completed.is_some_and(|d| d < win.start) {
            continue; // reviewed before the window: not in this extract
        }
        let scr_p = match category {
            1 => 0.8,
            10 => 0.08,
            2 => 0.05,
            3 => 0.03,
            _ => 0.005,
        };
        let scr = chance(&mut r, scr_p);
        let mut place = place_of_death(&mut r, category);
        if chance(&mut r, 0.01) {
            place = "ABROAD";
        }
        let outside_area = place == "ABROAD" || chance(&mut r, 0.05);
        let expected_p = match category {
            4 => 0.8,
            6 | 7 => 0.75,
            8 => 0.6,
            5 | 9 => 0.3,
            _ => 0.02,
        };
        let expected = chance(&mut r, expected_p);
        let sex = if age_days < 28 && chance(&mut r, 0.03) {
            "U"
        } else {
            pick(&mut r, &[("M", 55.0), ("F", 45.0)])
        };
        let ethnicity = pick(&mut r, codes::ETHNICITY);
        let imd_decile = pick(&mut r, codes::IMD_DECILE);
        let event = event(&mut r, category);
        let known_to_services = scr || chance(&mut r, codes::known_to_services_rate(category));
        let la = pick(&mut r, &las);

        let mut factors = Vec::new();
        let modifiable = if review_completed.is_none() {
            ""
        } else if chance(&mut r, 0.025) {
            let (domain, factor) = pick_factor(&mut r, category);
            factors.push((domain, factor, 0));
            "INSUFFICIENT"
        } else {
            let rate = if scr {
                codes::modifiable_rate(category).max(0.7)
            } else {
                codes::modifiable_rate(category)
            };
            if chance(&mut r, rate) {
                let k = pick(&mut r, &[(1usize, 45.0), (2, 35.0), (3, 20.0)]);
                for _ in 0..k {
                    let (domain, factor) = pick_factor(&mut r, category);
                    if !factors.iter().any(|f: &(&str, &str, u8)| f.1 == factor) {
                        factors.push((domain, factor, 2));
                    }
                }
                if chance(&mut r, 0.3) {
                    let (domain, factor) = pick_factor(&mut r, category);
                    if !factors.iter().any(|f| f.1 == factor) {
                        factors.push((domain, factor, 1));
                    }
                }
                "IDENTIFIED"
            } else {
                if chance(&mut r, 0.3) {
                    let (domain, factor) = pick_factor(&mut r, category);
                    factors.push((domain, factor, 1));
                }
                "NOT_IDENTIFIED"
            }
        };
        out.push(Death {
            idx,
            case_id: event_id(seed, Table::CdopCase, idx, 0),
            la,
            date,
            notified,
            age_days,
            sex,
            ethnicity,
            imd_decile,
            expected,
            category,
            modifiable,
            place,
            event,
            review_completed,
            scr,
            outside_area,
            known_to_services,
            factors,
        });
    }
    Ok(out)
}

fn pick_factor(r: &mut SynthRng, category: u8) -> (&'static str, &'static str) {
    let list = codes::death_factors(category);
    list[between(r, 0, list.len() as i64 - 1) as usize]
}

/// Writes the deaths' rows to `cdop_reviews.csv` and `cdop_factors.csv`.
pub fn write(
    deaths: &[Death],
    seed: u64,
    cdop_code: &str,
    la_codes: &[String],
    csv: &mut CsvTables,
) -> Result<()> {
    for d in deaths {
        let la_code = la_codes.get(d.la as usize).map_or("", String::as_str);
        let decided = d.review_completed.is_some();
        let category = if decided {
            Cell::num(d.category as i64)
        } else {
            Cell::empty()
        };
        let child = d.child_id(seed);
        let mut r = csv.row(&CDOP_REVIEWS);
        r.set("case_id", d.case_id.as_bytes())
            .set("cdop_code", cdop_code.as_bytes())
            .set("la_code", la_code.as_bytes())
            .set("date_of_death", Cell::date(d.date).as_bytes())
            .set("notified_date", Cell::date(d.notified).as_bytes())
            .set("age_at_death_days", Cell::num(d.age_days).as_bytes())
            .set("sex", d.sex.as_bytes())
            .set("ethnicity", d.ethnicity.as_bytes())
            .set("imd_decile", Cell::num(d.imd_decile as i64).as_bytes())
            .set("expected", yn(d.expected))
            .set("category", category.as_bytes())
            .set("modifiable", d.modifiable.as_bytes())
            .set("place_of_death", d.place.as_bytes())
            .set("event", d.event.unwrap_or("").as_bytes())
            .set(
                "review_completed_date",
                Cell::opt_date(d.review_completed).as_bytes(),
            )
            .set("scr_or_lcspr", yn(d.scr))
            .set("died_outside_area", yn(d.outside_area))
            .set("child_id", child.as_deref().unwrap_or("").as_bytes());
        r.write()?;
        for (domain, factor, grade) in &d.factors {
            let mut r = csv.row(&CDOP_FACTORS);
            r.set("case_id", d.case_id.as_bytes())
                .set("domain", domain.as_bytes())
                .set("factor", factor.as_bytes())
                .set("grade", Cell::num(*grade as i64).as_bytes());
            r.write()?;
        }
    }
    Ok(())
}
