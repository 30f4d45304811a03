-- Child death review: the Child Death Overview Panel's figures (ids beginning cdop_).
--
-- Sources:
--   Working Together 2013 chapter 5 (seeds/003 from L2537): the CDOP reviews the death of every
--   child under 18 normally resident in its area, decides whether modifiable factors may have
--   contributed, and reports patterns and trends to the partnership.
--   cdop.md section 2 (the figures) and anchors-cdop.md section 1.5 (denominator rules): reviews
--   are counted by review completion date within the year, deaths notified by notification date
--   - "keep the two cohorts separate"; "% modifiable" both of all completed reviews
--   ("20% of all the child death reviews which were completed", DfE 2012) and of reviews with
--   sufficient information (the national breakdowns: "based on ... where there was sufficient
--   information available").
--
-- Reads the view cdop_base, made by the program before this file runs (src/cdop/cases.rs): one
-- row per death in cdop_reviews with
--   age_band          by BIRTHDAY: birth date = date_of_death - age_at_death_days (29 February
--                     birthdays fall on 1 March in a common year): 'under 28 days',
--                     '28 days to under 1 year', '1-4', '5-9', '10-14', '15-17', and
--                     '18 or over (out of scope)' / 'not known'
--   in_scope          under 18 at death and age known. A death out of scope is never counted:
--                     it is 'excluded' in every figure it would fall in, so it shows in the
--                     `excluded` column.
--   ethnicity_group   the broad groups White, Mixed, Asian or Asian British, Black or Black
--                     British, Chinese, Other, Not known (from the CIN code)
--   imd_quintile      '1'..'5' (deciles 1-2 = quintile 1, most deprived) or 'not known'
--   notified_on       notified_date, else date_of_death
--   completed_before_death  a review completion date before the death: bad data, 'excluded'
--   days_to_review, months_to_review (whole calendar months), review_time_band ('under 6
--                     months', '6 to under 12 months', '12 to under 24 months', '24 months or
--                     more')
--   sex (M/F/U), expected (expected/unexpected/not known), place_of_death (or 'not known'),
--   event (or 'not recorded'), scr_or_lcspr and died_outside_area (Y/N/not known), category and
--   modifiable as stored (null when not recorded).
--
-- Each measure's catalogue entry (queries/catalogue.toml) says which of its columns are
-- distributions (`category`, `band`, `modifiable`, `category_modifiable`, `domain`, `factor`:
-- numerator = the rows with that value, denominator = all rows counted) and which split a
-- fraction (`category_of_death` and the rest: numerator and denominator both within the value).
-- Outcomes: 'met' / 'not_met' for a fraction, 'counted' for a count or distribution.
-- la_code is the LA of the child's usual residence.

-- The pooling windows: the period's year and the 2 (or 4) years before it.
CREATE TABLE cdop_window AS
SELECT
    period_start,
    period_end,
    CAST(period_start - INTERVAL '2 years' AS DATE) AS pool3_start,
    CAST(period_start - INTERVAL '4 years' AS DATE) AS pool5_start
FROM params;

-- Reviews completed in the 5 years up to the period end, marked by window. `countable`: in scope
-- and not completed before the death.
CREATE TABLE cdop_completed_pool AS
SELECT
    b.*,
    b.in_scope AND NOT b.completed_before_death AS countable,
    COALESCE(b.category, 'not recorded') AS category_shown,
    COALESCE(b.modifiable, 'not recorded') AS modifiable_shown,
    b.review_completed_date >= w.period_start AS in_period,
    b.review_completed_date >= w.pool3_start AS in_pool3
FROM cdop_base b
CROSS JOIN cdop_window w
WHERE b.review_completed_date BETWEEN w.pool5_start AND w.period_end;

CREATE TABLE cdop_completed AS
SELECT * FROM cdop_completed_pool WHERE in_period;

-- cdop_reviews_completed: reviews completed in the period (the core national table), by
-- category of death, by modifiable outcome, and by the two together (`category_modifiable` =
-- '3|IDENTIFIED'); 'not recorded' where a review lacks one. Out of scope or completed before
-- the death: excluded.
SELECT
    'cdop_reviews_completed' AS measure_id,
    la_code,
    CASE WHEN countable THEN 'counted' ELSE 'excluded' END AS outcome,
    category_shown AS category,
    modifiable_shown AS modifiable,
    category_shown || '|' || modifiable_shown AS category_modifiable
FROM cdop_completed;

-- cdop_modifiable_all: reviews completed in the period with modifiable factors IDENTIFIED / all
-- reviews completed in the period with an outcome recorded (IDENTIFIED + NOT_IDENTIFIED +
-- INSUFFICIENT). No outcome recorded, out of scope, completed before death: excluded.
SELECT
    'cdop_modifiable_all' AS measure_id,
    la_code,
    CASE
        WHEN NOT countable OR modifiable IS NULL THEN 'excluded'
        WHEN modifiable = 'IDENTIFIED' THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    age_band, sex, ethnicity_group, imd_quintile, expected, place_of_death, event,
    category_shown AS category_of_death, scr_or_lcspr
FROM cdop_completed;

-- cdop_modifiable_sufficient: IDENTIFIED / (IDENTIFIED + NOT_IDENTIFIED): reviews with
-- sufficient information (the national breakdowns use this one). INSUFFICIENT, no outcome, out
-- of scope, completed before death: excluded.
SELECT
    'cdop_modifiable_sufficient' AS measure_id,
    la_code,
    CASE
        WHEN NOT countable OR modifiable IS NULL OR modifiable = 'INSUFFICIENT' THEN 'excluded'
        WHEN modifiable = 'IDENTIFIED' THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    age_band, sex, ethnicity_group, imd_quintile, expected, place_of_death, event,
    category_shown AS category_of_death, scr_or_lcspr
FROM cdop_completed;

-- cdop_modifiable_sufficient_pooled3 / _pooled5: the same over reviews completed in the
-- period's year and the 2 (4) years before it (a panel reviews 50-80 deaths a year: patterns
-- only show when years are pooled), by category of death, age band and expected/unexpected.
SELECT
    'cdop_modifiable_sufficient_pooled3' AS measure_id,
    la_code,
    CASE
        WHEN NOT countable OR modifiable IS NULL OR modifiable = 'INSUFFICIENT' THEN 'excluded'
        WHEN modifiable = 'IDENTIFIED' THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    category_shown AS category_of_death, age_band, expected
FROM cdop_completed_pool
WHERE in_pool3;

SELECT
    'cdop_modifiable_sufficient_pooled5' AS measure_id,
    la_code,
    CASE
        WHEN NOT countable OR modifiable IS NULL OR modifiable = 'INSUFFICIENT' THEN 'excluded'
        WHEN modifiable = 'IDENTIFIED' THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    category_shown AS category_of_death, age_band, expected
FROM cdop_completed_pool;

-- cdop_time_to_review: reviews completed in the period by time from death to completion in
-- whole calendar months (band; a review completed exactly 6 months after the death is in
-- '6 to under 12 months'); the `statistic` rows (p25, median, p75) are of days_to_review,
-- in calendar days (the catalogue's `quartiles`). Out of scope, completed before death: excluded.
SELECT
    'cdop_time_to_review' AS measure_id,
    la_code,
    CASE WHEN countable THEN 'counted' ELSE 'excluded' END AS outcome,
    review_time_band AS band,
    days_to_review
FROM cdop_completed;

-- cdop_open_at_year_end: deaths notified (notified_on) by the period end, died by then, with no
-- review completed by then (ongoing reviews of the national return), by age band (`band`).
-- Out of scope: excluded.
SELECT
    'cdop_open_at_year_end' AS measure_id,
    b.la_code,
    CASE WHEN b.in_scope THEN 'counted' ELSE 'excluded' END AS outcome,
    b.age_band AS band
FROM cdop_base b
CROSS JOIN params p
WHERE b.notified_on <= p.period_end
  AND b.date_of_death <= p.period_end
  AND (b.review_completed_date IS NULL OR b.review_completed_date > p.period_end);

-- cdop_deaths_notified: deaths notified in the period (notified_on: notified_date, else date of
-- death) - the other cohort, never mixed with reviews completed - by age band (`band`) and
-- category of death ('not yet categorised' until the review sets it). Out of scope: excluded.
SELECT
    'cdop_deaths_notified' AS measure_id,
    b.la_code,
    CASE WHEN b.in_scope THEN 'counted' ELSE 'excluded' END AS outcome,
    b.age_band AS band,
    COALESCE(b.category, 'not yet categorised') AS category
FROM cdop_base b
CROSS JOIN params p
WHERE b.notified_on BETWEEN p.period_start AND p.period_end;

-- cdop_factor_recurrence: modifiable factors (grade 2: "a modifiable factor that may have
-- contributed") recorded for reviews completed in the period, one row per review and factor.
-- NONE = factor mentions; `domain` (A-D) and `factor` ('B|code': each factor counts the reviews
-- it was graded 2 in) and `category` (of death) are distributions of the mentions. Factors of
-- reviews out of scope or completed before death: excluded. _pooled3 / _pooled5: the same over
-- the period's year and the 2 (4) years before.
CREATE TABLE cdop_factor2 AS
SELECT DISTINCT
    case_id,
    domain,
    factor,
    CASE domain
        WHEN 'A' THEN 'A: factors intrinsic to the child'
        WHEN 'B' THEN 'B: social environment, family and parenting capacity'
        WHEN 'C' THEN 'C: physical environment'
        WHEN 'D' THEN 'D: service provision'
        ELSE domain
    END AS domain_name
FROM cdop_factors
WHERE grade = 2;

CREATE TABLE cdop_factor_rows AS
SELECT
    c.la_code,
    CASE WHEN c.countable THEN 'counted' ELSE 'excluded' END AS outcome,
    f.domain_name AS domain,
    f.domain || '|' || f.factor AS factor,
    c.category_shown AS category,
    c.in_period,
    c.in_pool3
FROM cdop_completed_pool c
JOIN cdop_factor2 f ON f.case_id = c.case_id;

SELECT 'cdop_factor_recurrence' AS measure_id, la_code, outcome, domain, factor, category
FROM cdop_factor_rows
WHERE in_period;

SELECT 'cdop_factor_recurrence_pooled3' AS measure_id, la_code, outcome, domain, factor, category
FROM cdop_factor_rows
WHERE in_pool3;

SELECT 'cdop_factor_recurrence_pooled5' AS measure_id, la_code, outcome, domain, factor, category
FROM cdop_factor_rows;

-- cdop_known_to_services: reviews completed in the period whose child_id links to a referral
-- (received), a child protection plan (started) or an s47 enquiry (started) of that child dated
-- strictly before the death, in any LA of the store / all reviews completed in the period. A
-- review without a child_id counts as not known (the extract gives one only when the child was
-- known). Out of scope, completed before death: excluded.
CREATE TABLE cdop_known_referral AS
SELECT DISTINCT c.cdop_code, c.case_id
FROM cdop_completed c
JOIN referrals r ON r.child_id = c.child_id
WHERE CAST(r.received_at AS DATE) < c.date_of_death;

CREATE TABLE cdop_known_plan AS
SELECT DISTINCT c.cdop_code, c.case_id
FROM cdop_completed c
JOIN cp_plans x ON x.child_id = c.child_id
WHERE x.start_date < c.date_of_death;

CREATE TABLE cdop_known_s47 AS
SELECT DISTINCT c.cdop_code, c.case_id
FROM cdop_completed c
JOIN s47_enquiries x ON x.child_id = c.child_id
WHERE x.start_date < c.date_of_death;

SELECT
    'cdop_known_to_services' AS measure_id,
    c.la_code,
    CASE
        WHEN NOT c.countable THEN 'excluded'
        WHEN kr.case_id IS NOT NULL OR kp.case_id IS NOT NULL OR ks.case_id IS NOT NULL THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    c.age_band,
    c.category_shown AS category_of_death
FROM cdop_completed c
LEFT JOIN cdop_known_referral kr ON kr.cdop_code = c.cdop_code AND kr.case_id = c.case_id
LEFT JOIN cdop_known_plan kp ON kp.cdop_code = c.cdop_code AND kp.case_id = c.case_id
LEFT JOIN cdop_known_s47 ks ON ks.cdop_code = c.cdop_code AND ks.case_id = c.case_id;
