//! Per-child event generation: who the child is, the front-door contacts about them, each referral
//! and what followed it (assessment, strategy discussion, s47, ICPC, CP plan, reviews, closure),
//! early help before and after, repeat referrals, and the rare move between two LAs or death.
//!
//! Every child draws from its own seeded stream, so a child can be regenerated on its own (a mover is
//! generated in both of its LAs' passes and comes out the same). The journey is first generated
//! "naturally" (clocks may run past the reference date) and then cut at the end of the child's
//! involvement (death, 18th birthday) and at the reference date (`model::Child::cut`).
//!
//! Rates are tuned so that a partnership's files reproduce England's funnel (anchors-csc.md 3.2):
//! ~2.5 contacts per referral, ~22% re-referrals within 12 months, ~7% referral NFA, ~90% of other
//! referrals assessed (C2 duration bands), ~30% of assessed episodes closed RC8/RC9, s47 for ~35% of
//! referrals, ~36% of s47 reaching an ICPC (C4 duration bands), ~86% of ICPCs giving a plan (D3
//! category mix, D7 duration bands), ~22% of plans second or subsequent.
//!
//! Deliberate data-quality issues (each well under 1% of its rows, as real extracts have):
//! - DQ1 an ICPC dated before its s47 start (keyed on the wrong date): ~0.4% of ICPCs;
//! - DQ2 an assessment authorised before it started (dates swapped): ~0.3% of assessments;
//! - DQ3 a contact decided with no decision time recorded (`decision_at` empty, outcome present):
//!   ~0.3% of contacts;
//! - DQ4 a contact decision timed before its receipt on the same day: ~0.1% of contacts;
//! - DQ5 a CP review dated after the plan ended (a late-keyed review): ~0.3% of ended plans;
//! - DQ6 an s47 with no ICPC and "ICPC not required" not recorded: ~0.6% of s47s.
//!
//! Also realistic but not errors: ~2% of contact decisions recorded as a bare date (time unknown).
//!
//! Pre-proceedings (from 2026-27) come from `super::pre_proceedings`, on a stream of their own.

use anyhow::{bail, Result};
use chrono::{NaiveDate, NaiveDateTime, Timelike};

use super::codes;
use super::dates::{add_days, add_months, at, census_2023_start, Clock, Window};
use super::dist::{banded, between, chance, lognormal_days, pick, poisson, rng_for, SynthRng};
use super::ids::{child_id, child_key, event_id, ChildKind, Table, MAX_SEQ};
use super::model::{
    Assessment, Child, Closing, Contact, Discussion, EarlyHelp, Episode, Plan, Stamp, S47,
};
use super::pre_proceedings;

// ---- tuning -------------------------------------------------------------------------------------

/// Share of referrals closed with no further action.
const P_REFERRAL_NFA: f64 = 0.07;
/// Share of non-NFA referrals with an s47 enquiry (35% of all referrals).
const P_S47: f64 = 0.376;
/// Share of non-NFA, non-s47 referrals with a strategy discussion that starts no s47.
const P_DISCUSSION_ONLY: f64 = 0.055;
/// Share of s47 enquiries reaching an ICPC.
const P_ICPC: f64 = 0.36;
/// Share of ICPCs resulting in a plan.
const P_PLAN: f64 = 0.86;
/// Chance of another referral after an episode closes.
const P_NEXT_REFERRAL: f64 = 0.50;
/// Non-referral contacts per year about a child between episodes.
const GAP_CONTACTS_PER_YEAR: f64 = 0.5;
/// Chance that a referral is a step-up from an early help episode.
const P_STEP_UP: f64 = 0.06;
/// Share of referrals that arrive without a front-door contact (e.g. out-of-hours, another LA).
const P_NO_CONTACT: f64 = 0.03;
/// Most referrals generated for one child (a safety cap).
const MAX_REFERRALS: usize = 40;

/// Working days from referral to assessment start.
const ASSESSMENT_START_WD: &[(i64, i64, f64)] = &[(0, 0, 55.0), (1, 1, 20.0), (2, 5, 25.0)];
/// Working days from assessment start to authorisation: DfE C2 2024-25 bands (quartiles 17/33/43).
const ASSESSMENT_WD: &[(i64, i64, f64)] = &[
    (0, 0, 1.80),
    (1, 10, 11.65),
    (11, 20, 17.29),
    (21, 30, 15.76),
    (31, 40, 20.25),
    (41, 45, 18.92),
    (46, 50, 5.80),
    (51, 60, 4.29),
    (61, 110, 4.24),
];
/// Working days from referral to the strategy discussion.
const DISCUSSION_WD: &[(i64, i64, f64)] =
    &[(0, 0, 35.0), (1, 1, 25.0), (2, 5, 25.0), (6, 30, 15.0)];
/// Working days from s47 start to ICPC: DfE C4 2022-23 shape (quartiles 13/14/15, ~78% <= 15).
const ICPC_WD: &[(i64, i64, f64)] = &[
    (3, 10, 9.2),
    (11, 11, 3.5),
    (12, 12, 5.5),
    (13, 13, 15.0),
    (14, 14, 23.0),
    (15, 15, 22.2),
    (16, 20, 9.5),
    (21, 45, 12.1),
];
/// Plan length in days: DfE D7 bands (<=3m 16%, 3-6m 11%, 6-12m 43%, 1-2y 25%, 2y+ 4%), with a few
/// days' margin inside each band so that moving the end to a working day keeps it in its band.
const PLAN_DAYS: &[(i64, i64, f64)] = &[
    (14, 86, 16.0),
    (95, 178, 10.0),
    (188, 360, 43.0),
    (369, 725, 25.0),
    (735, 1100, 5.5),
];
/// Working days from plan start to the first core group.
const CORE_GROUP_WD: &[(i64, i64, f64)] = &[(1, 5, 25.0), (6, 10, 63.0), (11, 20, 10.0)];
/// Days from an episode's closure to the next referral of the same child.
const NEXT_REFERRAL_DAYS: &[(i64, i64, f64)] = &[
    (7, 120, 38.0),
    (121, 300, 27.0),
    (301, 540, 20.0),
    (541, 1200, 15.0),
];
/// Age at first referral in days: unborn (negative), under 1, 1-4, 5-9, 10-15, 16-17.
const AGE_DAYS: &[(i64, i64, f64)] = &[
    (-150, -14, 4.0),
    (0, 364, 10.0),
    (365, 1825, 21.0),
    (1826, 3652, 25.0),
    (3653, 5843, 31.0),
    (5844, 6550, 9.0),
];

const CLOSE_AT_DEATH: Closing = Closing {
    closure_reason: "RC2",
    plan_end_reason: "DIED",
    early_help_outcome: "OTHER",
};
const CLOSE_AT_18: Closing = Closing {
    closure_reason: "RC7",
    plan_end_reason: "REACHED_18",
    early_help_outcome: "OTHER",
};

// ---- public entry points ------------------------------------------------------------------------

/// Shared context for generating children.
pub struct Gen<'a> {
    pub clock: Clock<'a>,
    pub win: &'a Window,
    pub seed: u64,
}

/// A CDOP death of a child known to services: the journey is generated to lead up to it.
#[derive(Debug, Clone)]
pub struct DeathLink {
    pub la: u16,
    pub idx: u64,
    pub death: NaiveDate,
    pub birth: NaiveDate,
    pub sex: &'static str,
    pub ethnicity: &'static str,
}

/// A child referred to children's social care (first referral anywhere in the simulated history).
pub fn referred_child(g: &Gen, la: u16, idx: u64) -> Result<Child> {
    let mut b = Builder::new(g, child_key(la, ChildKind::Referred, idx), la);
    let first = b.uniform_day(g.win.sim_start, g.win.reference);
    b.characteristics(first);
    b.prior_plans(first);
    b.chain(first, None)?;
    b.finish()
}

/// A child known only through front-door contacts (and any early help they led to).
pub fn contact_only_child(g: &Gen, la: u16, idx: u64) -> Result<Child> {
    let mut b = Builder::new(g, child_key(la, ChildKind::ContactOnly, idx), la);
    let first = b.uniform_day(g.win.sim_start, g.win.reference);
    b.characteristics(first);
    let n = pick(&mut b.rng, &[(1u32, 75.0), (2, 20.0), (3, 5.0)]);
    let mut d = first;
    for _ in 0..n {
        let day = b.contact_day(d, add_days(d, 6))?;
        let outcome = pick(&mut b.rng, codes::CONTACT_OUTCOME);
        let source = pick(&mut b.rng, codes::SOURCE);
        let c = b.contact(day, outcome, source)?;
        if outcome == "EARLY_HELP" {
            let start = add_days(c.decided_on, between(&mut b.rng, 0, 14));
            b.early_help(start, None)?;
        }
        b.child.contacts.push(c);
        d = add_days(d, between(&mut b.rng, 30, 400));
    }
    b.finish()
}

/// A child on a plan in LA `la` who moves to LA `dest` (plan ended `MOVED_LA`, then a transfer-in
/// conference there). Its key depends only on (`la`, `idx`), so both LA passes regenerate it.
pub fn mover_child(g: &Gen, la: u16, idx: u64, dest: u16) -> Result<Child> {
    let mut b = Builder::new(g, child_key(la, ChildKind::Mover, idx), la);
    let lo = add_days(g.win.start, -300);
    let hi = add_days(g.win.reference, -420).max(g.win.start);
    let first = b.uniform_day(lo, hi);
    b.characteristics_with_ages(first, &AGE_DAYS[1..5]);
    b.prior_plans(first);
    b.chain(first, Some(dest))?;
    b.finish()
}

/// The destination LA of mover `idx` of LA `la` (any other LA of the partnership).
pub fn mover_destination(seed: u64, la: u16, idx: u64, n_las: u16) -> u16 {
    if n_las < 2 {
        return la;
    }
    let mut rng = rng_for(seed ^ 0xD0_0D, child_key(la, ChildKind::Mover, idx));
    let step = between(&mut rng, 1, n_las as i64 - 1) as u16;
    (la + step) % n_las
}

/// The child known to services whose death `link` the CDOP reviews.
pub fn death_linked_child(g: &Gen, link: &DeathLink) -> Result<Child> {
    let mut b = Builder::new(
        g,
        child_key(link.la, ChildKind::DeathLinked, link.idx),
        link.la,
    );
    b.child.birth = link.birth;
    b.child.sex = link.sex;
    b.child.ethnicity = link.ethnicity;
    b.child.death = Some(link.death);
    b.child.force_write = true;
    if chance(&mut b.rng, 0.08) {
        b.child
            .disabilities
            .push(pick(&mut b.rng, codes::DISABILITY));
    }
    let lo = g.win.sim_start.max(add_days(link.birth, -150));
    let first = add_days(link.death, -between(&mut b.rng, 14, 540)).max(lo);
    let first = first.min(add_days(link.death, -1));
    b.chain(first, None)?;
    b.finish()
}

/// A referral's in-window count for the budget: referrals of LA `la` received in the window.
pub fn referrals_in_window(child: &Child, la: u16, win: &Window) -> u64 {
    child
        .episodes
        .iter()
        .filter(|e| e.la == la && e.received_date().is_some_and(|d| win.contains(d)))
        .count() as u64
}

// ---- the builder --------------------------------------------------------------------------------

struct Builder<'g, 'a> {
    g: &'g Gen<'a>,
    rng: SynthRng,
    key: u64,
    la: u16,
    child: Child,
    plans_so_far: u32,
    seq: [u32; 10],
    last_eh: Option<usize>,
    eh_busy_until: NaiveDate,
}

impl<'g, 'a> Builder<'g, 'a> {
    fn new(g: &'g Gen<'a>, key: u64, la: u16) -> Self {
        let child = Child {
            id: child_id(g.seed, key),
            birth: g.win.sim_start,
            sex: "U",
            ethnicity: "NOBT",
            disabilities: Vec::new(),
            death: None,
            force_write: false,
            contacts: Vec::new(),
            episodes: Vec::new(),
            early_help: Vec::new(),
        };
        Builder {
            g,
            rng: rng_for(g.seed, key),
            key,
            la,
            child,
            plans_so_far: 0,
            seq: [0; 10],
            last_eh: None,
            eh_busy_until: NaiveDate::MIN,
        }
    }

    fn clock(&self) -> Clock<'a> {
        self.g.clock
    }

    fn next_id(&mut self, table: Table) -> Result<String> {
        let s = &mut self.seq[table as usize];
        *s += 1;
        if *s > MAX_SEQ {
            bail!("synthetic child has more than {MAX_SEQ} rows in one table");
        }
        Ok(event_id(self.g.seed, table, self.key, *s))
    }

    fn uniform_day(&mut self, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
        add_days(lo, between(&mut self.rng, 0, (hi - lo).num_days()))
    }

    // ---- who the child is ----

    fn characteristics(&mut self, first_referral: NaiveDate) {
        self.characteristics_with_ages(first_referral, AGE_DAYS);
    }

    fn characteristics_with_ages(&mut self, first_referral: NaiveDate, ages: &[(i64, i64, f64)]) {
        let age = banded(&mut self.rng, ages);
        self.child.birth = add_days(first_referral, -age);
        self.child.sex = pick(&mut self.rng, &[("M", 50.6), ("F", 49.0), ("U", 0.4)]);
        self.child.ethnicity = pick(&mut self.rng, codes::ETHNICITY);
        if chance(&mut self.rng, 0.07) {
            let first = pick(&mut self.rng, codes::DISABILITY);
            self.child.disabilities.push(first);
            if chance(&mut self.rng, 0.3) {
                let second = pick(&mut self.rng, codes::DISABILITY);
                if second != first {
                    self.child.disabilities.push(second);
                }
            }
        }
    }

    /// Plans before the simulated history (recorded only through `previous_plans`).
    fn prior_plans(&mut self, first_referral: NaiveDate) {
        if (first_referral - self.child.birth).num_days() > 730 {
            self.plans_so_far = pick(&mut self.rng, &[(0u32, 79.0), (1, 16.0), (2, 5.0)]);
        }
    }

    fn eighteenth_birthday(&self) -> NaiveDate {
        add_months(self.child.birth, 216)
    }

    fn unborn_on(&self, d: NaiveDate) -> bool {
        d < self.child.birth
    }

    fn age_years_on(&self, d: NaiveDate) -> i64 {
        (d - self.child.birth).num_days() / 365
    }

    // ---- times of day ----

    /// Seconds after midnight for something received on day `d`.
    fn received_secs(&mut self, d: NaiveDate) -> Result<u32> {
        let secs = if self.clock().is_wd(d)? && chance(&mut self.rng, 0.82) {
            between(&mut self.rng, 8 * 3600, 18 * 3600 - 1)
        } else if chance(&mut self.rng, 0.5) {
            between(&mut self.rng, 18 * 3600, 86_399)
        } else {
            between(&mut self.rng, 0, 8 * 3600 - 1)
        };
        Ok(secs as u32)
    }

    fn office_secs(&mut self) -> u32 {
        between(&mut self.rng, 9 * 3600, 17 * 3600 + 1800) as u32
    }

    /// A decision time after `received`: same working day with `p_same`, by the next working day
    /// with `p_next` (cumulative), else 2-6 working days later; always during office hours.
    fn decide(
        &mut self,
        received: NaiveDateTime,
        p_same: f64,
        p_next: f64,
    ) -> Result<NaiveDateTime> {
        let d = received.date();
        let u: f64 = between(&mut self.rng, 0, 1_000_000) as f64 / 1_000_000.0;
        let secs = received.num_seconds_from_midnight();
        if u < p_same && self.clock().is_wd(d)? && (6 * 3600..16 * 3600 + 1800).contains(&secs) {
            let lo = (secs + 300).max(9 * 3600) as i64;
            return Ok(at(d, between(&mut self.rng, lo, 18 * 3600) as u32));
        }
        let n = if u < p_next {
            1
        } else {
            between(&mut self.rng, 2, 6) as u32
        };
        let day = self.clock().add_wd(d, n)?;
        let secs = self.office_secs();
        Ok(at(day, secs))
    }

    /// A contact day in `[lo, hi]`, working days preferred (weekend contacts are mostly police).
    fn contact_day(&mut self, lo: NaiveDate, hi: NaiveDate) -> Result<NaiveDate> {
        let mut d = self.uniform_day(lo, hi);
        for _ in 0..6 {
            if self.clock().is_wd(d)? || chance(&mut self.rng, 0.3) {
                return Ok(d);
            }
            d = self.uniform_day(lo, hi);
        }
        Ok(d)
    }

    // ---- front door ----

    fn contact(
        &mut self,
        d: NaiveDate,
        outcome: &'static str,
        source: &'static str,
    ) -> Result<Contact> {
        let secs = self.received_secs(d)?;
        let received = at(d, secs);
        let decided = self.decide(received, 0.62, 0.90)?;
        let u = between(&mut self.rng, 0, 9999);
        let decision = if u < 30 {
            // DQ3: outcome recorded, decision time not.
            Stamp::Missing
        } else if u < 40 && secs > 10 * 3600 {
            // DQ4: decision timed before receipt on the same day.
            let back = between(&mut self.rng, 600, 7200) as u32;
            Stamp::At(at(d, secs - back))
        } else if u < 240 {
            Stamp::Day(decided.date())
        } else {
            Stamp::At(decided)
        };
        let level = pick(&mut self.rng, codes::level_of_need(outcome));
        Ok(Contact {
            id: self.next_id(Table::Contact)?,
            la: self.la,
            received,
            source,
            level,
            decision,
            outcome: Some(outcome),
            decided_on: decided.date(),
        })
    }

    fn referral_source(&mut self, d: NaiveDate, step_up: bool) -> &'static str {
        if step_up && chance(&mut self.rng, 0.7) {
            return if d >= census_2023_start() { "5D" } else { "5B" };
        }
        if self.unborn_on(d) {
            pick(&mut self.rng, codes::SOURCE_UNBORN)
        } else {
            pick(&mut self.rng, codes::SOURCE)
        }
    }

    /// Non-referral contacts (and any early help they lead to) between `a` and `b`; `b` is the next
    /// referral when `next_referral`.
    fn gap_activity(&mut self, a: NaiveDate, b: NaiveDate, next_referral: bool) -> Result<()> {
        let days = (b - a).num_days();
        if days < 3 {
            return Ok(());
        }
        let n = poisson(
            &mut self.rng,
            GAP_CONTACTS_PER_YEAR * days as f64 / 365.25,
            6,
        );
        let mut dates: Vec<NaiveDate> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let d = self.contact_day(add_days(a, 1), add_days(b, -1))?;
            if d >= self.child.birth || (self.child.birth - d).num_days() < 200 {
                dates.push(d);
            }
        }
        dates.sort();
        for d in dates {
            let outcome = pick(&mut self.rng, codes::CONTACT_OUTCOME);
            let source = pick(&mut self.rng, codes::SOURCE);
            let c = self.contact(d, outcome, source)?;
            let decided = c.decided_on;
            self.child.contacts.push(c);
            if outcome == "EARLY_HELP" {
                let start = add_days(decided, between(&mut self.rng, 0, 14));
                if !next_referral || start < add_days(b, -7) {
                    self.early_help(start, None)?;
                }
            }
        }
        Ok(())
    }

    // ---- early help ----

    fn early_help(&mut self, start: NaiveDate, from: Option<&'static str>) -> Result<()> {
        if start <= self.eh_busy_until {
            return Ok(());
        }
        let days = lognormal_days(&mut self.rng, 170.0, 0.55, 28, 720);
        let end = add_days(start, days);
        let eh = EarlyHelp {
            id: self.next_id(Table::EarlyHelp)?,
            la: self.la,
            start,
            end: Some(end),
            lead_agency: pick(&mut self.rng, codes::LEAD_AGENCY),
            outcome: Some(pick(&mut self.rng, codes::EH_OUTCOME)),
            stepped_down_from: from,
        };
        self.child.early_help.push(eh);
        self.last_eh = Some(self.child.early_help.len() - 1);
        self.eh_busy_until = end;
        Ok(())
    }

    /// A referral on `t` ends any early help still running then (outcome STEP_UP).
    fn meet_referral(&mut self, t: NaiveDate) {
        let Some(i) = self.last_eh else { return };
        let cut_back = between(&mut self.rng, 0, 5);
        let Some(eh) = self.child.early_help.get_mut(i) else {
            return;
        };
        if eh.start >= add_days(t, -2) {
            self.child.early_help.truncate(i);
            self.last_eh = None;
            self.eh_busy_until = t;
        } else if eh.end.is_some_and(|e| e >= add_days(t, -3)) {
            let end = add_days(t, -cut_back).max(add_days(eh.start, 1));
            eh.end = Some(end);
            eh.outcome = Some("STEP_UP");
            self.eh_busy_until = end;
        }
    }

    /// Maybe an early help episode that steps up into the referral on `t`; true if it does.
    fn maybe_step_up(&mut self, gap_start: NaiveDate, t: NaiveDate) -> Result<bool> {
        if let Some(eh) = self.last_eh.and_then(|i| self.child.early_help.get(i)) {
            if eh.start < add_days(t, -2) && eh.end.is_some_and(|e| e >= add_days(t, -3)) {
                return Ok(true);
            }
        }
        if !chance(&mut self.rng, P_STEP_UP) {
            return Ok(false);
        }
        let start = add_days(t, -between(&mut self.rng, 60, 270));
        if start <= gap_start
            || start <= self.eh_busy_until
            || add_days(start, 150) < self.child.birth
        {
            return Ok(false);
        }
        let end = add_days(t, -between(&mut self.rng, 0, 7));
        let eh = EarlyHelp {
            id: self.next_id(Table::EarlyHelp)?,
            la: self.la,
            start,
            end: Some(end),
            lead_agency: pick(&mut self.rng, codes::LEAD_AGENCY),
            outcome: Some("STEP_UP"),
            stepped_down_from: None,
        };
        self.child.early_help.push(eh);
        self.last_eh = Some(self.child.early_help.len() - 1);
        self.eh_busy_until = end;
        Ok(true)
    }

    /// Early help after an episode closes, as a step-down.
    fn step_down(&mut self, ep: &Episode, closure: NaiveDate) -> Result<()> {
        let reason = ep.closure.map(|c| c.1).unwrap_or("");
        let (p, from) = if ep.nfa == Some(true) {
            (0.08, "REFERRAL")
        } else if reason == "RC9" {
            (1.0, "ASSESSMENT")
        } else if reason == "RC8" {
            (
                if closure < census_2023_start() {
                    0.30
                } else {
                    0.04
                },
                "ASSESSMENT",
            )
        } else if reason == "RC7" && !ep.plans.is_empty() {
            (0.20, "CPP")
        } else if reason == "RC7" {
            (0.22, "CIN")
        } else {
            (0.0, "")
        };
        if p > 0.0 && chance(&mut self.rng, p) {
            let start = add_days(closure, between(&mut self.rng, 0, 10));
            self.early_help(start, Some(from))?;
        }
        Ok(())
    }

    // ---- the chain of referrals ----

    fn chain(&mut self, first: NaiveDate, mover_dest: Option<u16>) -> Result<()> {
        let win_ref = self.g.win.reference;
        let life_end = match self.child.death {
            Some(d) => d.min(self.eighteenth_birthday()),
            None => self.eighteenth_birthday(),
        };
        let stop = win_ref.min(life_end);
        let mut t = first;
        let earliest = self.g.win.sim_start.max(add_days(self.child.birth, -200));
        let mut gap_start = add_days(first, -365).max(earliest).min(first);
        for k in 0..MAX_REFERRALS {
            self.gap_activity(gap_start, t, true)?;
            let step_up = self.maybe_step_up(gap_start, t)?;
            self.meet_referral(t);
            let forced = mover_dest.is_some() && k == 0;
            let (mut ep, mut closure) = self.episode(t, forced, step_up)?;
            if let (Some(dest), true) = (mover_dest, forced) {
                let (next, next_closure) = self.move_to(&mut ep, dest)?;
                self.child.episodes.push(ep);
                ep = next;
                closure = next_closure;
            }
            self.step_down(&ep, closure)?;
            self.child.episodes.push(ep);
            if closure >= stop {
                break;
            }
            if !chance(&mut self.rng, P_NEXT_REFERRAL) {
                let until = add_days(closure, 730).min(stop);
                self.gap_activity(closure, until, false)?;
                break;
            }
            let next = add_days(closure, banded(&mut self.rng, NEXT_REFERRAL_DAYS));
            if next > stop {
                self.gap_activity(closure, stop, false)?;
                break;
            }
            gap_start = closure;
            t = next;
        }
        Ok(())
    }

    // ---- one episode ----

    /// One referral on (contact) day `t` and everything that follows it, with its natural closure
    /// date (which may lie beyond the reference date; the cut removes it).
    fn episode(
        &mut self,
        t: NaiveDate,
        force_plan: bool,
        step_up: bool,
    ) -> Result<(Episode, NaiveDate)> {
        let clock = self.clock();
        let source = self.referral_source(t, step_up);
        let (contact_id, received) = if chance(&mut self.rng, P_NO_CONTACT) {
            let secs = self.received_secs(t)?;
            (None, Stamp::At(at(t, secs)))
        } else {
            let c = self.contact(t, "REFERRAL", source)?;
            let received = match c.decision {
                Stamp::At(dt) if dt >= c.received => Stamp::At(dt),
                Stamp::Day(d) => Stamp::Day(d),
                _ => {
                    let secs = self.office_secs();
                    Stamp::At(at(c.decided_on, secs))
                }
            };
            let id = c.id.clone();
            self.child.contacts.push(c);
            (Some(id), received)
        };
        let received_at = match received {
            Stamp::At(dt) => dt,
            Stamp::Day(d) => at(d, 12 * 3600),
            Stamp::Missing => at(t, 12 * 3600),
        };
        let r = received_at.date();
        let decided = self.decide(received_at, 0.72, 0.88)?;
        let decided_on = decided.date();
        let nfa = !force_plan && chance(&mut self.rng, P_REFERRAL_NFA);
        let need = if nfa {
            pick(&mut self.rng, codes::NEED_NFA)
        } else {
            pick(&mut self.rng, codes::NEED)
        };
        let mut ep = Episode {
            id: self.next_id(Table::Referral)?,
            la: self.la,
            contact_id,
            received,
            source,
            decision: Stamp::At(decided),
            nfa: Some(nfa),
            need,
            closure: None,
            assessments: Vec::new(),
            discussions: Vec::new(),
            s47s: Vec::new(),
            plans: Vec::new(),
            pre_proceedings: Vec::new(),
        };
        if nfa {
            ep.closure = Some((decided_on, "RC8"));
            return Ok((ep, decided_on));
        }

        let s47 = force_plan || chance(&mut self.rng, P_S47);
        let assessed = if s47 {
            force_plan || chance(&mut self.rng, 0.97)
        } else {
            chance(&mut self.rng, 0.86)
        };
        // The latest date anything in the episode happened (closure comes after it).
        let mut busy_until = decided_on;

        if assessed {
            let k = banded(&mut self.rng, ASSESSMENT_START_WD) as u32;
            let start = clock.add_wd(r, k)?.max(clock.on_or_after(decided_on)?);
            let a = self.assessment(start)?;
            busy_until = busy_until.max(a.authorised.unwrap_or(start));
            ep.assessments.push(a);
        }

        let mut plan_end: Option<(NaiveDate, &'static str)> = None;
        let mut icpc_held = false;
        if s47 {
            let k = banded(&mut self.rng, DISCUSSION_WD) as u32;
            let sd = clock.add_wd(clock.on_or_after(r)?, k)?;
            ep.discussions.push(Discussion {
                id: self.next_id(Table::Discussion)?,
                date: sd,
                s47_initiated: true,
            });
            let mut s = S47 {
                id: self.next_id(Table::S47)?,
                start: sd,
                not_required_on: None,
                icpc: None,
                icpc_plan: None,
                transfer_in: false,
            };
            busy_until = busy_until.max(sd);
            if force_plan || chance(&mut self.rng, P_ICPC) {
                icpc_held = true;
                let icpc = if chance(&mut self.rng, 0.004) {
                    // DQ1: ICPC keyed before the s47 start.
                    let back = between(&mut self.rng, 1, 3) as u32;
                    clock.sub_wd(sd, back)?
                } else {
                    clock.add_wd(sd, banded(&mut self.rng, ICPC_WD) as u32)?
                };
                let plan = force_plan || chance(&mut self.rng, P_PLAN);
                s.icpc = Some(icpc);
                s.icpc_plan = Some(plan);
                busy_until = busy_until.max(icpc);
                if plan {
                    let (p, end) = self.plan(icpc, None, None)?;
                    plan_end = Some(end);
                    busy_until = busy_until.max(end.0);
                    ep.plans.push(p);
                }
            } else if chance(&mut self.rng, 0.99) {
                let on = clock.add_wd(sd, between(&mut self.rng, 5, 15) as u32)?;
                s.not_required_on = Some(on);
                busy_until = busy_until.max(on);
            } // else DQ6: neither an ICPC nor "not required" recorded.
            ep.s47s.push(s);
        } else if chance(&mut self.rng, P_DISCUSSION_ONLY) {
            let sd = clock.add_wd(r, between(&mut self.rng, 0, 5) as u32)?;
            ep.discussions.push(Discussion {
                id: self.next_id(Table::Discussion)?,
                date: sd,
                s47_initiated: false,
            });
            busy_until = busy_until.max(sd);
        }

        let closure = self.closure(&ep, assessed, s47, icpc_held, plan_end, busy_until)?;
        ep.closure = Some(closure);
        // Pre-proceedings (the 2026-27 census module), from a stream of their own.
        let (seed, key, clock) = (self.g.seed, self.key, self.clock());
        let n = self.seq[Table::Referral as usize];
        let mut id = || self.next_id(Table::PreProceedings);
        if let Some(pp) = pre_proceedings::generate(seed, key, n, &ep, clock, &mut id)? {
            ep.pre_proceedings.push(pp);
        }
        Ok((ep, closure.0))
    }

    fn assessment(&mut self, start: NaiveDate) -> Result<Assessment> {
        let wd = banded(&mut self.rng, ASSESSMENT_WD);
        let authorised = if chance(&mut self.rng, 0.003) {
            // DQ2: authorisation dated before the start (dates swapped on entry).
            add_days(start, -between(&mut self.rng, 1, 10))
        } else {
            self.clock().add_wd(start, wd as u32)?
        };
        let mut factors: Vec<&'static str> = Vec::new();
        if !chance(&mut self.rng, 0.08) {
            for &(code, p) in codes::FACTORS {
                if chance(&mut self.rng, p) {
                    factors.push(code);
                }
            }
        }
        if factors.is_empty() {
            factors.push("21");
        }
        let reason_over_45 = if wd > 45 && chance(&mut self.rng, 0.7) {
            Some(pick(&mut self.rng, codes::OVER_45_REASON))
        } else {
            None
        };
        Ok(Assessment {
            id: self.next_id(Table::Assessment)?,
            start,
            authorised: Some(authorised),
            factors,
            child_seen: chance(&mut self.rng, 0.97),
            reason_over_45,
        })
    }

    /// A CP plan starting at `start` (its ICPC), with its natural end.
    fn plan(
        &mut self,
        start: NaiveDate,
        initial: Option<&'static str>,
        days: Option<i64>,
    ) -> Result<(Plan, (NaiveDate, &'static str))> {
        let clock = self.clock();
        let initial = initial.unwrap_or_else(|| pick(&mut self.rng, codes::CATEGORY));
        let latest = if chance(&mut self.rng, 0.12) {
            pick(&mut self.rng, codes::CATEGORY)
        } else {
            initial
        };
        let days = days.unwrap_or_else(|| banded(&mut self.rng, PLAN_DAYS));
        let end = clock.on_or_after(add_days(start, days))?;
        let end_reason = pick(
            &mut self.rng,
            &[
                ("NO_LONGER_AT_RISK", 93.0),
                ("OTHER", 3.5),
                ("MOVED_LA", 2.5),
                ("LEFT_UK", 1.0),
            ],
        );
        let core_group = if chance(&mut self.rng, 0.02) {
            None
        } else {
            Some(clock.add_wd(start, banded(&mut self.rng, CORE_GROUP_WD) as u32)?)
        };
        // Review chain: first due 3 months after the start, then 6 months after the last one held.
        let mut reviews = Vec::new();
        let mut due = add_months(start, 3);
        while due < end && reviews.len() < 12 {
            let held = if chance(&mut self.rng, 0.93) {
                clock.on_or_before(add_days(due, -between(&mut self.rng, 0, 14)))?
            } else {
                clock.on_or_after(add_days(due, between(&mut self.rng, 1, 35)))?
            };
            if held >= end {
                break;
            }
            reviews.push(held);
            due = add_months(held, 6);
        }
        // Most plans end at a review conference held on the end date.
        let last = reviews.last().copied().unwrap_or(start);
        if end_reason == "NO_LONGER_AT_RISK"
            && (end - last).num_days() >= 28
            && chance(&mut self.rng, 0.6)
        {
            reviews.push(end);
        }
        if chance(&mut self.rng, 0.003) {
            // DQ5: a review keyed after the plan had ended.
            reviews.push(clock.on_or_after(add_days(end, between(&mut self.rng, 5, 40)))?);
        }
        let plan = Plan {
            id: self.next_id(Table::Plan)?,
            start,
            end: Some((end, end_reason)),
            initial_category: initial,
            latest_category: latest,
            previous_plans: self.plans_so_far,
            core_group,
            reviews,
        };
        self.plans_so_far += 1;
        Ok((plan, (end, end_reason)))
    }

    /// The natural closure of an episode.
    fn closure(
        &mut self,
        ep: &Episode,
        assessed: bool,
        s47: bool,
        icpc_held: bool,
        plan_end: Option<(NaiveDate, &'static str)>,
        busy_until: NaiveDate,
    ) -> Result<(NaiveDate, &'static str)> {
        if let Some((end, reason)) = plan_end {
            let d = if chance(&mut self.rng, 0.25) {
                end
            } else {
                add_days(end, between(&mut self.rng, 1, 180))
            };
            let r = if reason == "MOVED_LA" {
                "RC5"
            } else {
                self.support_closure_reason(d)
            };
            return Ok((if reason == "MOVED_LA" { end } else { d }, r));
        }
        let p_not_in_need = match (s47, icpc_held) {
            (true, true) => 0.30,
            (true, false) => 0.45,
            _ => 0.32,
        };
        let authorised = ep.assessments.first().and_then(|a| a.authorised);
        if let (true, Some(_)) = (assessed, authorised) {
            if chance(&mut self.rng, p_not_in_need) {
                let d = add_days(busy_until, between(&mut self.rng, 0, 14));
                let r = if d >= census_2023_start() && chance(&mut self.rng, 0.45) {
                    "RC9"
                } else {
                    "RC8"
                };
                return Ok((d, r));
            }
            let d = add_days(
                busy_until,
                lognormal_days(&mut self.rng, 160.0, 0.85, 14, 1400),
            );
            return Ok((d, self.support_closure_reason(d)));
        }
        let d = add_days(busy_until, between(&mut self.rng, 3, 40));
        Ok((d, "RC7"))
    }

    fn support_closure_reason(&mut self, d: NaiveDate) -> &'static str {
        let r = pick(&mut self.rng, codes::CLOSURE_AFTER_SUPPORT);
        match r {
            "RC6" if self.age_years_on(d) < 17 => "RC7",
            "RC1" if self.age_years_on(d) > 8 => "RC7",
            other => other,
        }
    }

    // ---- a move between two of the partnership's LAs ----

    /// Ends the plan of `ep` with a move to `dest` and returns the transfer-in episode there.
    fn move_to(&mut self, ep: &mut Episode, dest: u16) -> Result<(Episode, NaiveDate)> {
        let clock = self.clock();
        let Some(plan) = ep.plans.last_mut() else {
            bail!("mover without a plan")
        };
        let start = plan.start;
        let natural_end = plan.end.map(|e| e.0).unwrap_or(start);
        let total = (natural_end - start).num_days().max(200);
        let offset = between(&mut self.rng, 45, (total - 30).max(46));
        let moved = clock.on_or_after(add_days(start, offset))?;
        let remaining = (total - (moved - start).num_days()).max(30);
        plan.end = Some((moved, "MOVED_LA"));
        plan.reviews.retain(|r| *r < moved);
        let category = plan.latest_category;
        ep.closure = Some((moved, "RC5"));

        self.la = dest;
        self.last_eh = None;
        let notified = clock.on_or_after(add_days(moved, between(&mut self.rng, 1, 10)))?;
        let secs = self.office_secs();
        let received = at(notified, secs);
        let decided = at(notified, (secs + 3600).min(19 * 3600));
        let icpc = clock.add_wd(notified, between(&mut self.rng, 5, 15) as u32)?;
        let mut next = Episode {
            id: self.next_id(Table::Referral)?,
            la: dest,
            contact_id: None,
            received: Stamp::At(received),
            source: "5C",
            decision: Stamp::At(decided),
            nfa: Some(false),
            need: ep.need,
            closure: None,
            assessments: Vec::new(),
            discussions: Vec::new(),
            s47s: Vec::new(),
            plans: Vec::new(),
            pre_proceedings: Vec::new(),
        };
        let mut busy_until = icpc;
        if chance(&mut self.rng, 0.5) {
            let start = clock.add_wd(notified, between(&mut self.rng, 0, 3) as u32)?;
            let a = self.assessment(start)?;
            busy_until = busy_until.max(a.authorised.unwrap_or(start));
            next.assessments.push(a);
        }
        next.s47s.push(S47 {
            id: self.next_id(Table::S47)?,
            start: notified,
            not_required_on: None,
            icpc: Some(icpc),
            icpc_plan: Some(true),
            transfer_in: true,
        });
        let (p, end) = self.plan(icpc, Some(category), Some(remaining))?;
        next.plans.push(p);
        busy_until = busy_until.max(end.0);
        let assessed = !next.assessments.is_empty();
        let closure = self.closure(&next, assessed, true, true, Some(end), busy_until)?;
        next.closure = Some(closure);
        Ok((next, closure.0))
    }

    // ---- finishing ----

    fn finish(mut self) -> Result<Child> {
        let win_ref = self.g.win.reference;
        let b18 = self.eighteenth_birthday();
        match self.child.death {
            Some(d) if d <= win_ref => self.child.cut(d, Some(CLOSE_AT_DEATH)),
            _ if b18 <= win_ref => self.child.cut(b18, Some(CLOSE_AT_18)),
            _ => {}
        }
        self.child.cut(win_ref, None);
        self.child.contacts.sort_by_key(|c| c.received);
        self.child.early_help.sort_by_key(|e| e.start);
        Ok(self.child)
    }
}
