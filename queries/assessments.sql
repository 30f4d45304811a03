-- Assessments: conversion from referral, "not in need" outcomes, and timeliness against 45
-- working days on both clocks.
--
-- Sources:
--   Working Together 2013 (seeds/003 L1807), para 57: "The maximum timeframe for the assessment
--   to conclude, such that it is possible to reach a decision on next steps, should be no longer
--   than 45 working days from the point of referral." -> assessment_45wd_from_referral.
--   DfE Children in need statistics, table C2: duration in working days from the assessment's
--   actual start date to its authorisation, in bands same day, 1-10, 11-20, 21-30, 31-40, 41-45,
--   46-50, 51-60, 61+ -> assessment_45wd_from_start and assessment_duration_band.
--   DfE C1: referrals assessed as not in need (episode closed RC8 or RC9).
-- Output columns as in front_door.sql; `wd` carries the working days for bands and quartiles
-- (the catalogue's `quartiles`).

-- referral_to_assessment: the cohort of referrals received in the period, followed to the
-- reference date: those with an assessment / all.
CREATE TABLE assessed_referrals AS
SELECT DISTINCT a.la_code, a.referral_id
FROM assessments a CROSS JOIN params p
WHERE a.start_date <= p.reference_date;

SELECT
    'referral_to_assessment' AS measure_id,
    r.la_code,
    CASE WHEN x.referral_id IS NOT NULL THEN 'met' ELSE 'not_met' END AS outcome,
    r.month, r.age_band, r.sex, r.ethnicity_group, r.source
FROM referral_base r
CROSS JOIN params p
LEFT JOIN assessed_referrals x ON x.la_code = r.la_code AND x.referral_id = r.referral_id
WHERE r.received_date BETWEEN p.period_start AND p.period_end;

-- Assessments with their referral (NULL when the referral is missing: an orphan) and both clocks.
CREATE TABLE assessment_clock AS
SELECT
    a.*,
    r.received_date AS referral_date,
    r.closure_date,
    r.closure_reason,
    r.age_band, r.sex, r.ethnicity_group, r.source,
    STRFTIME(a.authorisation_date, '%Y-%m') AS month,
    cauth.wd - cref.wd AS wd_from_referral,
    cauth.wd - cstart.wd AS wd_from_start
FROM assessments a
LEFT JOIN referral_base r ON r.la_code = a.la_code AND r.referral_id = a.referral_id
LEFT JOIN calendar cref ON cref.date = r.received_date
LEFT JOIN calendar cstart ON cstart.date = a.start_date
LEFT JOIN calendar cauth ON cauth.date = a.authorisation_date;

-- assessment_not_in_need: assessments authorised in the period whose episode closed RC8 or RC9
-- by the reference date (measures.md section 4: closures are followed to the reference date).
SELECT
    'assessment_not_in_need' AS measure_id,
    a.la_code,
    CASE
        WHEN a.referral_date IS NULL THEN 'excluded'
        WHEN a.closure_reason IN ('RC8', 'RC9') AND a.closure_date <= p.reference_date THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    a.month, a.age_band, a.sex, a.ethnicity_group
FROM assessment_clock a
CROSS JOIN params p
WHERE a.authorisation_date BETWEEN p.period_start AND p.period_end;

-- assessment_to_early_help: as above, RC9 (closed after assessment, referred to early help) only.
SELECT
    'assessment_to_early_help' AS measure_id,
    a.la_code,
    CASE
        WHEN a.referral_date IS NULL THEN 'excluded'
        WHEN a.closure_reason = 'RC9' AND a.closure_date <= p.reference_date THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    a.month
FROM assessment_clock a
CROSS JOIN params p
WHERE a.authorisation_date BETWEEN p.period_start AND p.period_end;

-- assessment_45wd_from_referral (statutory clock): authorised in the period with
-- wd(referral received, authorisation) <= 45. No referral, or authorised before the referral:
-- excluded. Pending (for information): assessments open at `as_at` (the period end, or the
-- reference date when that comes first) still inside 45 working days from referral then.
SELECT
    'assessment_45wd_from_referral' AS measure_id,
    a.la_code,
    CASE
        WHEN a.wd_from_referral IS NULL OR a.wd_from_referral < 0 THEN 'excluded'
        WHEN a.wd_from_referral <= 45 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    a.month, a.age_band, a.sex, a.ethnicity_group
FROM assessment_clock a
CROSS JOIN params p
WHERE a.authorisation_date BETWEEN p.period_start AND p.period_end;

-- ... its pending assessments: open at `as_at` and still inside 45 working days from the referral.
SELECT 'assessment_45wd_from_referral' AS measure_id, a.la_code, 'pending' AS outcome
FROM assessment_clock a
CROSS JOIN params p
JOIN calendar cr ON cr.date = p.as_at
JOIN calendar cref ON cref.date = a.referral_date
WHERE (a.authorisation_date IS NULL OR a.authorisation_date > p.as_at)
  AND a.start_date <= p.as_at
  AND cr.wd - cref.wd <= 45;

-- assessment_45wd_from_start (DfE C2 clock): the same from the assessment's start date.
SELECT
    'assessment_45wd_from_start' AS measure_id,
    a.la_code,
    CASE
        WHEN a.wd_from_start IS NULL OR a.wd_from_start < 0 THEN 'excluded'
        WHEN a.wd_from_start <= 45 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    a.month, a.age_band, a.sex, a.ethnicity_group
FROM assessment_clock a
CROSS JOIN params p
WHERE a.authorisation_date BETWEEN p.period_start AND p.period_end;

-- ... its pending assessments: open at `as_at` and still inside 45 working days from the start.
SELECT 'assessment_45wd_from_start' AS measure_id, a.la_code, 'pending' AS outcome
FROM assessment_clock a
CROSS JOIN params p
JOIN calendar cr ON cr.date = p.as_at
JOIN calendar cs ON cs.date = a.start_date
WHERE (a.authorisation_date IS NULL OR a.authorisation_date > p.as_at)
  AND a.start_date <= p.as_at
  AND cr.wd - cs.wd <= 45;

-- assessment_duration_band (DfE C2): assessments authorised in the period by
-- wd(start, authorisation); the program adds the median and quartiles from `wd`.
SELECT
    'assessment_duration_band' AS measure_id,
    a.la_code,
    CASE WHEN a.wd_from_start IS NULL OR a.wd_from_start < 0 THEN 'excluded' ELSE 'counted' END AS outcome,
    a.wd_from_start AS wd,
    CASE
        WHEN a.wd_from_start IS NULL OR a.wd_from_start < 0 THEN CAST(NULL AS VARCHAR)
        WHEN a.wd_from_start = 0 THEN 'same_day'
        WHEN a.wd_from_start <= 10 THEN '1-10'
        WHEN a.wd_from_start <= 20 THEN '11-20'
        WHEN a.wd_from_start <= 30 THEN '21-30'
        WHEN a.wd_from_start <= 40 THEN '31-40'
        WHEN a.wd_from_start <= 45 THEN '41-45'
        WHEN a.wd_from_start <= 50 THEN '46-50'
        WHEN a.wd_from_start <= 60 THEN '51-60'
        ELSE '61+'
    END AS band
FROM assessment_clock a
CROSS JOIN params p
WHERE a.authorisation_date BETWEEN p.period_start AND p.period_end;
