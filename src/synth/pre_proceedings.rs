//! Synthetic pre-proceedings (the Public Law Outline's pre-proceedings, with the family group
//! decision-making offer of the Children's Wellbeing and Schools Act 2026): what the CIN census
//! module of 2026-27 records, for episodes whose pre-proceedings begin on or after 1 April 2026
//! (the module's first census year; earlier ones were never collected, so none is written).
//!
//! Each episode draws from its own seeded stream (child key and episode number), apart from the
//! child's main stream: adding the module changed none of the other synthetic rows.
//!
//! Plausible mixes (no national figures exist yet; these are the generator's assumptions):
//! - a quarter of episodes with a CP plan enter pre-proceedings, 1-9 months into the plan; 1% of
//!   assessed episodes without a plan that stay open at least 3 months do too;
//! - 93% have a letter before proceedings, 2-21 days after the decision; once the duty applies
//!   most letters offer an FGDM meeting (88% offered, 10% not, 2% not recorded: DfE rule 9007);
//! - 30% of offers are followed by a facilitated meeting 1-6 weeks after the letter (3% of
//!   offers leave FGDMMeetingFac unrecorded: query 9010Q);
//! - an initial meeting 3-21 days after the letter (95%), then review meetings every 4-7 weeks
//!   (the count unrecorded for 4%: query 9015Q);
//! - the step up or down decision weeks to months after the start (log-normal, median 16 weeks,
//!   4 weeks to 14 months), never after the episode closes; outcome codes A 45%, B 35%, C 20%
//!   (1% not recorded), their meanings unknown and not tied to the court application;
//! - 30% of decisions are followed by a court application within 4 weeks, and the letter to
//!   initiate care proceedings on the same day or up to a week later.

use anyhow::Result;
use chrono::NaiveDate;

use super::codes;
use super::dates::{add_days, ymd, Clock};
use super::dist::{between, chance, lognormal_days, pick, rng_for, SynthRng};
use super::model::{Episode, PreProceedings};

/// The first day the census module records: 1 April 2026 (the 2026-27 census year).
pub fn module_start() -> Result<NaiveDate> {
    ymd(2026, 4, 1)
}

/// Share of episodes with a CP plan that enter pre-proceedings.
const P_WITH_PLAN: f64 = 0.25;
/// Share of assessed episodes without a plan, open at least 3 months, that do.
const P_WITHOUT_PLAN: f64 = 0.01;
/// Salt of the module's own random stream.
const SALT: u64 = 0x0050_4C4F_2026;

/// The pre-proceedings of episode number `episode` of the child `key` (if any), given its
/// episode as generated (plans, assessments and natural closure). `id` makes the record's id.
pub fn generate(
    seed: u64,
    key: u64,
    episode: u32,
    ep: &Episode,
    clock: Clock,
    id: &mut dyn FnMut() -> Result<String>,
) -> Result<Option<PreProceedings>> {
    let mut rng = rng_for(seed ^ SALT, key.rotate_left(12) ^ u64::from(episode));
    let Some((closure, _)) = ep.closure else {
        return Ok(None);
    };
    let start = if let Some(plan) = ep.plans.first() {
        if !chance(&mut rng, P_WITH_PLAN) {
            return Ok(None);
        }
        add_days(plan.start, between(&mut rng, 30, 270))
    } else {
        let Some(authorised) = ep.assessments.first().and_then(|a| a.authorised) else {
            return Ok(None);
        };
        if (closure - authorised).num_days() < 90 || !chance(&mut rng, P_WITHOUT_PLAN) {
            return Ok(None);
        }
        add_days(authorised, between(&mut rng, 14, 60))
    };
    let start = clock.on_or_after(start)?;
    // Time to decide; the decision falls by the episode's closure.
    if start < module_start()? || (closure - start).num_days() < 21 {
        return Ok(None);
    }
    let decided = clock
        .on_or_after(add_days(
            start,
            lognormal_days(&mut rng, 112.0, 0.5, 28, 420),
        ))?
        .min(closure);
    Ok(Some(record(&mut rng, clock, id()?, start, decided)?))
}

/// One pre-proceedings from its start to its decision.
fn record(
    rng: &mut SynthRng,
    clock: Clock,
    id: String,
    start: NaiveDate,
    decided: NaiveDate,
) -> Result<PreProceedings> {
    let mut pp = PreProceedings {
        id,
        start,
        letter: None,
        fgdm_offered: None,
        fgdm_meeting: None,
        fgdm_facilitated_missing: false,
        initial_meeting: None,
        review_meetings: vec![],
        review_count_missing: chance(rng, 0.04),
        decision: None,
        court_application: None,
        care_proceedings_letter: None,
    };
    let outcome = if chance(rng, 0.01) {
        None
    } else {
        Some(pick(rng, codes::PP_OUTCOME))
    };
    pp.decision = Some((decided, outcome));
    if chance(rng, 0.93) {
        let letter = clock
            .on_or_after(add_days(start, between(rng, 2, 21)))?
            .min(decided);
        pp.letter = Some(letter);
        pp.fgdm_offered = pick(rng, &[(Some(true), 88.0), (Some(false), 10.0), (None, 2.0)]);
        if pp.fgdm_offered == Some(true) {
            pp.fgdm_facilitated_missing = chance(rng, 0.03);
            if chance(rng, 0.30) {
                let meeting = clock.on_or_after(add_days(letter, between(rng, 7, 42)))?;
                pp.fgdm_meeting = (meeting <= decided).then_some(meeting);
            }
        }
        if chance(rng, 0.95) {
            let initial = clock.on_or_after(add_days(letter, between(rng, 3, 21)))?;
            if initial <= decided {
                pp.initial_meeting = Some(initial);
                let mut d = initial;
                loop {
                    d = clock.on_or_after(add_days(d, between(rng, 28, 49)))?;
                    if d >= decided {
                        break;
                    }
                    pp.review_meetings.push(d);
                }
            }
        }
    }
    if chance(rng, 0.30) {
        let court = clock.on_or_after(add_days(decided, between(rng, 0, 28)))?;
        pp.court_application = Some(court);
        pp.care_proceedings_letter = Some(clock.on_or_after(add_days(court, between(rng, 0, 7)))?);
    }
    Ok(pp)
}
