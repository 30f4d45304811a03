//! The in-memory shape of one child's journey (per-child state only) and the "cut" that truncates
//! it at a date: the reference date (clocks still running stay open), or the end of the child's
//! involvement (death, 18th birthday), which also closes what is open.

use chrono::{NaiveDate, NaiveDateTime};

/// A timestamp as recorded: a datetime, a bare date (time not recorded) or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    At(NaiveDateTime),
    Day(NaiveDate),
    Missing,
}

impl Stamp {
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            Stamp::At(t) => Some(t.date()),
            Stamp::Day(d) => Some(*d),
            Stamp::Missing => None,
        }
    }
}

/// One child and everything generated for it.
#[derive(Debug, Clone)]
pub struct Child {
    pub id: String,
    /// Exact (expected) date of birth; only its month is ever written.
    pub birth: NaiveDate,
    /// `M`, `F` or `U` (as known once born).
    pub sex: &'static str,
    pub ethnicity: &'static str,
    /// CIN disability codes; empty = no disability.
    pub disabilities: Vec<&'static str>,
    pub death: Option<NaiveDate>,
    /// Always write this child, even with no activity in the window (a CDOP record links to it).
    pub force_write: bool,
    pub contacts: Vec<Contact>,
    pub episodes: Vec<Episode>,
    pub early_help: Vec<EarlyHelp>,
}

/// A front-door contact.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub la: u16,
    pub received: NaiveDateTime,
    pub source: &'static str,
    /// 1-4, 0 = not recorded.
    pub level: u8,
    pub decision: Stamp,
    /// Set when decided (even when the decision time was not recorded).
    pub outcome: Option<&'static str>,
    /// Date the outcome was reached (for the cut), when known.
    pub decided_on: NaiveDate,
}

/// A CIN episode: one referral and what followed it.
#[derive(Debug, Clone)]
pub struct Episode {
    pub id: String,
    pub la: u16,
    pub contact_id: Option<String>,
    pub received: Stamp,
    pub source: &'static str,
    pub decision: Stamp,
    /// `None` while the referral is undecided.
    pub nfa: Option<bool>,
    pub need: &'static str,
    pub closure: Option<(NaiveDate, &'static str)>,
    pub assessments: Vec<Assessment>,
    pub discussions: Vec<Discussion>,
    pub s47s: Vec<S47>,
    pub plans: Vec<Plan>,
    /// Pre-proceedings (recorded from the 2026-27 census: `super::pre_proceedings`).
    pub pre_proceedings: Vec<PreProceedings>,
}

/// Pre-proceedings under the Public Law Outline, with the family group decision-making offer of
/// the Children's Wellbeing and Schools Act 2026 (what the 2026-27 census module records).
#[derive(Debug, Clone)]
pub struct PreProceedings {
    pub id: String,
    /// The decision to begin pre-proceedings (PPStartDate).
    pub start: NaiveDate,
    /// The letter before proceedings.
    pub letter: Option<NaiveDate>,
    /// Whether the letter offered an FGDM meeting (None: not recorded).
    pub fgdm_offered: Option<bool>,
    /// The FGDM meeting facilitated after the offer, when one was.
    pub fgdm_meeting: Option<NaiveDate>,
    /// FGDMMeetingFac left unrecorded (a data-quality gap).
    pub fgdm_facilitated_missing: bool,
    pub initial_meeting: Option<NaiveDate>,
    pub review_meetings: Vec<NaiveDate>,
    /// ReviewMeetingsCount left unrecorded (a data-quality gap).
    pub review_count_missing: bool,
    /// The decision to step up or down, with its CS131 outcome code (None: not recorded).
    pub decision: Option<(NaiveDate, Option<&'static str>)>,
    pub court_application: Option<NaiveDate>,
    pub care_proceedings_letter: Option<NaiveDate>,
}

impl PreProceedings {
    /// Keeps what had happened by `at` (the caller drops one begun after it).
    pub fn cut(&mut self, at: NaiveDate) {
        if self.letter.is_some_and(|d| d > at) {
            self.letter = None;
            self.fgdm_offered = None;
            self.fgdm_meeting = None;
        }
        if self.fgdm_meeting.is_some_and(|d| d > at) {
            self.fgdm_meeting = None;
        }
        if self.initial_meeting.is_some_and(|d| d > at) {
            self.initial_meeting = None;
        }
        self.review_meetings.retain(|d| *d <= at);
        if self.decision.is_some_and(|(d, _)| d > at) {
            self.decision = None;
        }
        if self.court_application.is_some_and(|d| d > at) {
            self.court_application = None;
        }
        if self.care_proceedings_letter.is_some_and(|d| d > at) {
            self.care_proceedings_letter = None;
        }
    }

    /// FGDMMeetingFac as recorded: whether a meeting was facilitated (so far), for an offer.
    pub fn fgdm_facilitated(&self) -> Option<bool> {
        match self.fgdm_offered {
            Some(true) if !self.fgdm_facilitated_missing => Some(self.fgdm_meeting.is_some()),
            _ => None,
        }
    }

    /// ReviewMeetingsCount as recorded: once the initial meeting has been held.
    pub fn review_count(&self) -> Option<usize> {
        (self.initial_meeting.is_some() && !self.review_count_missing)
            .then_some(self.review_meetings.len())
    }
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub id: String,
    pub start: NaiveDate,
    pub authorised: Option<NaiveDate>,
    pub factors: Vec<&'static str>,
    pub child_seen: bool,
    pub reason_over_45: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Discussion {
    pub id: String,
    pub date: NaiveDate,
    pub s47_initiated: bool,
}

#[derive(Debug, Clone)]
pub struct S47 {
    pub id: String,
    pub start: NaiveDate,
    /// Date the "ICPC not required" decision was made (None = not made).
    pub not_required_on: Option<NaiveDate>,
    pub icpc: Option<NaiveDate>,
    /// `Some(true)` = a plan followed.
    pub icpc_plan: Option<bool>,
    pub transfer_in: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub id: String,
    pub start: NaiveDate,
    pub end: Option<(NaiveDate, &'static str)>,
    pub initial_category: &'static str,
    pub latest_category: &'static str,
    pub previous_plans: u32,
    pub core_group: Option<NaiveDate>,
    pub reviews: Vec<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct EarlyHelp {
    pub id: String,
    pub la: u16,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub lead_agency: &'static str,
    pub outcome: Option<&'static str>,
    pub stepped_down_from: Option<&'static str>,
}

/// What closes open records at a cut: `None` leaves them open (the reference date).
#[derive(Debug, Clone, Copy)]
pub struct Closing {
    pub closure_reason: &'static str,
    pub plan_end_reason: &'static str,
    pub early_help_outcome: &'static str,
}

impl Episode {
    /// Keeps what happened on or before `at`; with `closing`, closes what is still open at `at`.
    /// The caller drops episodes received after `at`.
    pub fn cut(&mut self, at: NaiveDate, closing: Option<Closing>) {
        if self.decision.date().is_some_and(|d| d > at) {
            self.decision = Stamp::Missing;
            self.nfa = None;
        }
        self.assessments.retain(|a| a.start <= at);
        for a in &mut self.assessments {
            if a.authorised.is_some_and(|d| d > at) {
                a.authorised = None;
                a.factors.clear();
                a.reason_over_45 = None;
            }
        }
        self.discussions.retain(|d| d.date <= at);
        self.s47s.retain(|s| s.start <= at);
        for s in &mut self.s47s {
            if s.icpc.is_some_and(|d| d > at) {
                s.icpc = None;
                s.icpc_plan = None;
            }
            if s.not_required_on.is_some_and(|d| d > at) {
                s.not_required_on = None;
            }
        }
        self.plans.retain(|p| p.start <= at);
        for p in &mut self.plans {
            if p.end.is_some_and(|(d, _)| d > at) {
                p.end = None;
            }
            p.reviews.retain(|r| *r <= at);
            if p.core_group.is_some_and(|d| d > at) {
                p.core_group = None;
            }
        }
        self.pre_proceedings.retain(|p| p.start <= at);
        for p in &mut self.pre_proceedings {
            p.cut(at);
        }
        if self.closure.is_some_and(|(d, _)| d > at) {
            self.closure = None;
        }
        if let Some(c) = closing {
            for p in &mut self.plans {
                if p.end.is_none() {
                    p.end = Some((at, c.plan_end_reason));
                }
            }
            if self.closure.is_none() {
                self.closure = Some((at, c.closure_reason));
            }
        }
    }

    /// True when the episode is open at some point on or after `from` (given it was cut already).
    pub fn active_from(&self, from: NaiveDate) -> bool {
        self.closure.is_none_or(|(d, _)| d >= from)
    }

    pub fn received_date(&self) -> Option<NaiveDate> {
        self.received.date()
    }
}

impl EarlyHelp {
    pub fn cut(&mut self, at: NaiveDate, closing: Option<Closing>) {
        if self.end.is_some_and(|d| d > at) {
            self.end = None;
            self.outcome = None;
        }
        if let (Some(c), None) = (closing, self.end) {
            self.end = Some(at);
            self.outcome = Some(c.early_help_outcome);
        }
    }
}

impl Contact {
    pub fn cut(&mut self, at: NaiveDate) {
        if self.decided_on > at {
            self.decision = Stamp::Missing;
            self.outcome = None;
        }
    }
}

impl Child {
    /// Truncates the whole journey at `at` (see the module doc).
    pub fn cut(&mut self, at: NaiveDate, closing: Option<Closing>) {
        self.contacts.retain(|c| c.received.date() <= at);
        for c in &mut self.contacts {
            c.cut(at);
        }
        self.episodes
            .retain(|e| e.received_date().is_some_and(|d| d <= at));
        for e in &mut self.episodes {
            e.cut(at, closing);
        }
        self.early_help.retain(|e| e.start <= at);
        for e in &mut self.early_help {
            e.cut(at, closing);
        }
    }

    /// True when any record of LA `la` is active in `[from, to]` (the journey is cut at `to`).
    pub fn active_in(&self, la: u16, from: NaiveDate) -> bool {
        self.contacts
            .iter()
            .any(|c| c.la == la && c.received.date() >= from)
            || self
                .episodes
                .iter()
                .any(|e| e.la == la && e.active_from(from))
            || self
                .early_help
                .iter()
                .any(|e| e.la == la && e.end.is_none_or(|d| d >= from))
    }

    /// True when the child has any record of LA `la`.
    pub fn has_la(&self, la: u16) -> bool {
        self.contacts.iter().any(|c| c.la == la)
            || self.episodes.iter().any(|e| e.la == la)
            || self.early_help.iter().any(|e| e.la == la)
    }
}
