-- Pre-proceedings and family group decision-making (ids pp_...): the CIN census module of 2026-27
-- (`PreProceedingsandFGDM`, the store's `pre_proceedings` table, from the census or
-- pre_proceedings.csv).
--
-- Sources:
--   Children's Wellbeing and Schools Act 2026, section 1 (enacted 29 April 2026): before it
--   applies for a care order, a local authority must offer the family a family group
--   decision-making (FGDM) meeting, and the offer goes in the letter before proceedings. No time
--   limit is set in the sources held: the durations below are distributions, with no national
--   limit.
--   DfE CIN census 2026-27, module 5 (anchors-csc.md section 2.1): PPStartDate (the decision to
--   begin pre-proceedings), LBPSentDate, FGDMMeetingOffer, FGDMMeetingFac, InitialPPMeetingDate,
--   ReviewMeetingsCount, StepDecisionDate, PPOutcome (code set CS131: A, B, C - their meanings
--   are not in the sources held, so the codes are shown as sent), CourtAppDate, LetterInitCPDate.
--
-- "In the period" is the reporting year's dates (1 April - 31 March) of the date each measure
-- names; open pre-proceedings are taken at `as_at` (the period end, or the reference date when
-- that comes first). Weeks = calendar days / 7: the bands are cut at whole weeks (day counts that
-- are multiples of 7), and the p25 / median / p75 statistic rows are in calendar days (the report
-- shows them in weeks, days / 7 to one decimal place).
--
-- Choices where the sources are silent:
--   - The breakdowns: the child's age band at the decision to begin pre-proceedings (from the
--     birth month, as referral_base; PPStartDate missing: the first date recorded of the letter,
--     the initial meeting and the step decision), sex and ethnicity group (child_attr), and
--     plan_category: the latest category of abuse (initial when no latest) of the child's most
--     recent CP plan in the same LA started on or before that date, 'no plan' when there is none.
--   - An item not recorded leaves the record out of the measure that needs it (`excluded`,
--     counted and reported; the DfE rule that asks for it raises a data-quality flag).

-- The records with the child's characteristics at the start of pre-proceedings.
CREATE TABLE pp_age AS
SELECT
    pp.*,
    COALESCE(pp.pp_start_date, pp.lbp_sent_date, pp.initial_meeting_date, pp.step_decision_date)
        AS anchor_date,
    COALESCE(c.sex, 'U') AS sex,
    COALESCE(c.ethnicity_group, 'Not known') AS ethnicity_group,
    COALESCE(c.unborn, FALSE) AS unborn,
    c.birth_month
FROM pre_proceedings pp
LEFT JOIN child_attr c ON c.la_code = pp.la_code AND c.child_id = pp.child_id;

-- The start of the child's most recent plan (same LA) on or before the anchor date, and its
-- category (two plans starting the same day: the later category in the alphabet, to be
-- deterministic).
CREATE TABLE pp_plan_start AS
SELECT a.la_code, a.pp_id, MAX(c.start_date) AS plan_start
FROM pp_age a
JOIN cp_plans c ON c.la_code = a.la_code AND c.child_id = a.child_id
WHERE c.start_date <= a.anchor_date
GROUP BY a.la_code, a.pp_id;

CREATE TABLE pp_plan AS
SELECT s.la_code, s.pp_id, MAX(COALESCE(c.latest_category, c.initial_category)) AS plan_category
FROM pp_plan_start s
JOIN pp_age a ON a.la_code = s.la_code AND a.pp_id = s.pp_id
JOIN cp_plans c ON c.la_code = a.la_code AND c.child_id = a.child_id AND c.start_date = s.plan_start
GROUP BY s.la_code, s.pp_id;

CREATE TABLE pp_base AS
SELECT
    a.*,
    CASE
        WHEN a.anchor_date IS NULL THEN 'not known'
        WHEN a.unborn OR a.birth_month > a.anchor_date THEN 'unborn'
        WHEN a.birth_month IS NULL THEN 'not known'
        WHEN DATE_PART('year', a.anchor_date) - DATE_PART('year', a.birth_month)
             - CASE WHEN DATE_PART('month', a.anchor_date) < DATE_PART('month', a.birth_month)
                    THEN 1 ELSE 0 END < 1 THEN 'under 1'
        WHEN DATE_PART('year', a.anchor_date) - DATE_PART('year', a.birth_month)
             - CASE WHEN DATE_PART('month', a.anchor_date) < DATE_PART('month', a.birth_month)
                    THEN 1 ELSE 0 END <= 4 THEN '1-4'
        WHEN DATE_PART('year', a.anchor_date) - DATE_PART('year', a.birth_month)
             - CASE WHEN DATE_PART('month', a.anchor_date) < DATE_PART('month', a.birth_month)
                    THEN 1 ELSE 0 END <= 9 THEN '5-9'
        WHEN DATE_PART('year', a.anchor_date) - DATE_PART('year', a.birth_month)
             - CASE WHEN DATE_PART('month', a.anchor_date) < DATE_PART('month', a.birth_month)
                    THEN 1 ELSE 0 END <= 15 THEN '10-15'
        WHEN DATE_PART('year', a.anchor_date) - DATE_PART('year', a.birth_month)
             - CASE WHEN DATE_PART('month', a.anchor_date) < DATE_PART('month', a.birth_month)
                    THEN 1 ELSE 0 END <= 17 THEN '16-17'
        ELSE '18+'
    END AS age_band,
    COALESCE(pl.plan_category, 'no plan') AS plan_category,
    CAST(a.step_decision_date AS INTEGER) - CAST(a.pp_start_date AS INTEGER) AS pp_days,
    CAST(a.initial_meeting_date AS INTEGER) - CAST(a.lbp_sent_date AS INTEGER) AS lbp_meeting_days
FROM pp_age a
LEFT JOIN pp_plan pl ON pl.la_code = a.la_code AND pl.pp_id = a.pp_id;

-- pp_started: pre-proceedings begun in the period (PPStartDate), by age band, sex, ethnicity
-- group and plan category (distributions: the NONE row's numerator is the count).
SELECT
    'pp_started' AS measure_id,
    b.la_code,
    'counted' AS outcome,
    b.age_band, b.sex, b.ethnicity_group, b.plan_category
FROM pp_base b
CROSS JOIN params p
WHERE b.pp_start_date BETWEEN p.period_start AND p.period_end;

-- pp_started_per_10k: the same count per 10,000 children aged 0-17 (rates.sql's population
-- rule: the program divides each LA's count by its population for the year).
SELECT
    'pp_started_per_10k' AS measure_id,
    b.la_code,
    'counted' AS outcome,
    'pp_started' AS count
FROM pre_proceedings b
CROSS JOIN params p
WHERE b.pp_start_date BETWEEN p.period_start AND p.period_end;

-- pp_lbp_fgdm_offered (the 2026 Act's own measure): letters before proceedings sent in the
-- period that offered an FGDM meeting / letters sent in the period. Offer not recorded
-- (DfE rule 9007): excluded.
SELECT
    'pp_lbp_fgdm_offered' AS measure_id,
    b.la_code,
    CASE
        WHEN b.fgdm_offered IS NULL THEN 'excluded'
        WHEN b.fgdm_offered THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    b.age_band, b.sex, b.ethnicity_group, b.plan_category
FROM pp_base b
CROSS JOIN params p
WHERE b.lbp_sent_date BETWEEN p.period_start AND p.period_end;

-- pp_fgdm_facilitated: FGDM offers made in the period (the letter's date) followed by a
-- facilitated meeting / those offers whose pre-proceedings had ended (the cohort, followed to the
-- reference date). An offer whose pre-proceedings is still open at the reference date with no
-- meeting facilitated yet is `pending` (the meeting may yet be held); ended with FGDMMeetingFac
-- not recorded (query 9010Q): excluded.
SELECT
    'pp_fgdm_facilitated' AS measure_id,
    b.la_code,
    CASE
        WHEN b.fgdm_facilitated THEN 'met'
        WHEN b.step_decision_date IS NULL OR b.step_decision_date > p.reference_date
            THEN 'pending'
        WHEN b.fgdm_facilitated IS NULL THEN 'excluded'
        ELSE 'not_met'
    END AS outcome,
    b.age_band, b.sex, b.ethnicity_group, b.plan_category
FROM pp_base b
CROSS JOIN params p
WHERE b.fgdm_offered AND b.lbp_sent_date BETWEEN p.period_start AND p.period_end;

-- pp_outcome: pre-proceedings with a step decision in the period, by PPOutcome (CS131 code as
-- sent; 'not recorded' when empty).
SELECT
    'pp_outcome' AS measure_id,
    b.la_code,
    'counted' AS outcome,
    COALESCE(b.outcome, 'not recorded') AS pp_outcome
FROM pp_base b
CROSS JOIN params p
WHERE b.step_decision_date BETWEEN p.period_start AND p.period_end;

-- pp_duration: weeks from PPStartDate to StepDecisionDate for those decided in the period, in
-- bands (up to 4 weeks = 0-28 days, over 4 to 8 = 29-56, over 8 to 12 = 57-84, over 12 to 16 =
-- 85-112, over 16 to 26 = 113-182, over 26 weeks = 183 days or more); statistic rows in calendar
-- days. No PPStartDate, or a decision before it (rule 9009): excluded.
SELECT
    'pp_duration' AS measure_id,
    b.la_code,
    CASE WHEN b.pp_days IS NULL OR b.pp_days < 0 THEN 'excluded' ELSE 'counted' END AS outcome,
    CASE
        WHEN b.pp_days IS NULL OR b.pp_days < 0 THEN CAST(NULL AS VARCHAR)
        WHEN b.pp_days <= 28 THEN 'up to 4 weeks'
        WHEN b.pp_days <= 56 THEN 'over 4 to 8 weeks'
        WHEN b.pp_days <= 84 THEN 'over 8 to 12 weeks'
        WHEN b.pp_days <= 112 THEN 'over 12 to 16 weeks'
        WHEN b.pp_days <= 182 THEN 'over 16 to 26 weeks'
        ELSE 'over 26 weeks'
    END AS band,
    CASE WHEN b.pp_days >= 0 THEN b.pp_days END AS days
FROM pp_base b
CROSS JOIN params p
WHERE b.step_decision_date BETWEEN p.period_start AND p.period_end;

-- ... and those still open at `as_at` (begun by then, no step decision by then): `pending`, in
-- the band of their age at `as_at` (so a band's row shows how many are still open at that age).
SELECT
    'pp_duration' AS measure_id,
    b.la_code,
    'pending' AS outcome,
    CASE
        WHEN CAST(p.as_at AS INTEGER) - CAST(b.pp_start_date AS INTEGER) <= 28 THEN 'up to 4 weeks'
        WHEN CAST(p.as_at AS INTEGER) - CAST(b.pp_start_date AS INTEGER) <= 56 THEN 'over 4 to 8 weeks'
        WHEN CAST(p.as_at AS INTEGER) - CAST(b.pp_start_date AS INTEGER) <= 84 THEN 'over 8 to 12 weeks'
        WHEN CAST(p.as_at AS INTEGER) - CAST(b.pp_start_date AS INTEGER) <= 112 THEN 'over 12 to 16 weeks'
        WHEN CAST(p.as_at AS INTEGER) - CAST(b.pp_start_date AS INTEGER) <= 182 THEN 'over 16 to 26 weeks'
        ELSE 'over 26 weeks'
    END AS band,
    CAST(NULL AS INTEGER) AS days
FROM pp_base b
CROSS JOIN params p
WHERE b.pp_start_date <= p.as_at
  AND (b.step_decision_date IS NULL OR b.step_decision_date > p.as_at);

-- pp_to_court: pre-proceedings with a step decision in the period that led to a court
-- application (CourtAppDate recorded by the reference date) / pre-proceedings decided in the
-- period (the cohort, followed to the reference date).
SELECT
    'pp_to_court' AS measure_id,
    b.la_code,
    CASE
        WHEN b.court_application_date IS NOT NULL AND b.court_application_date <= p.reference_date
            THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    b.age_band, b.sex, b.ethnicity_group, b.plan_category
FROM pp_base b
CROSS JOIN params p
WHERE b.step_decision_date BETWEEN p.period_start AND p.period_end;

-- pp_lbp_to_meeting: weeks from the letter before proceedings to the initial pre-proceedings
-- meeting, for initial meetings held in the period (bands up to 1 week = 0-7 days, over 1 to 2 =
-- 8-14, over 2 to 4 = 15-28, over 4 weeks = 29 days or more; statistic rows in calendar days).
-- No letter date, or a meeting before the letter: excluded.
SELECT
    'pp_lbp_to_meeting' AS measure_id,
    b.la_code,
    CASE
        WHEN b.lbp_meeting_days IS NULL OR b.lbp_meeting_days < 0 THEN 'excluded'
        ELSE 'counted'
    END AS outcome,
    CASE
        WHEN b.lbp_meeting_days IS NULL OR b.lbp_meeting_days < 0 THEN CAST(NULL AS VARCHAR)
        WHEN b.lbp_meeting_days <= 7 THEN 'up to 1 week'
        WHEN b.lbp_meeting_days <= 14 THEN 'over 1 to 2 weeks'
        WHEN b.lbp_meeting_days <= 28 THEN 'over 2 to 4 weeks'
        ELSE 'over 4 weeks'
    END AS band,
    CASE WHEN b.lbp_meeting_days >= 0 THEN b.lbp_meeting_days END AS days
FROM pp_base b
CROSS JOIN params p
WHERE b.initial_meeting_date BETWEEN p.period_start AND p.period_end;
