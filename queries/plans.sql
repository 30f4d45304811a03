-- Child protection plans: first core group, second or subsequent plans, category, durations.
-- (Review timeliness, cpp_review_timely, follows a chain of due dates that SQL cannot express
-- clearly: it is computed in src/measures/reviews.rs from the same tables.)
--
-- Sources:
--   Working Together 2013 (seeds/003 L2032): the core group should "meet within 10 working days
--   from the initial child protection conference if the child is the subject of a child
--   protection plan" -> core_group_10wd, counted from the plan start (= the ICPC date, DfE rule
--   2885).
--   DfE Children in need statistics, table D3: children who became the subject of a plan in the
--   year who had previously been the subject of a plan, "regardless of how long ago"; initial
--   category of abuse. D5 (open at 31 March) and D7 (ended in the year): plan length bands
--   3 months or less, more than 3 months to 6 months, more than 6 months and less than 1 year,
--   1 year and less than 2 years, 2 years or more.

CREATE TABLE plan_base AS
SELECT
    c.*,
    COALESCE(r.age_band, 'not known') AS age_band,
    COALESCE(r.sex, 'U') AS sex,
    COALESCE(r.ethnicity_group, 'Not known') AS ethnicity_group,
    STRFTIME(c.start_date, '%Y-%m') AS month
FROM cp_plans c
LEFT JOIN referral_base r ON r.la_code = c.la_code AND r.referral_id = c.referral_id;

-- core_group_10wd: plans started in the period with the first core group within 10 working days
-- of the start / plans started in the period with that date recorded (the rest: excluded).
SELECT
    'core_group_10wd' AS measure_id,
    c.la_code,
    CASE
        WHEN c.first_core_group_date IS NULL THEN 'excluded'
        WHEN cg.wd - cs.wd < 0 THEN 'excluded'
        WHEN cg.wd - cs.wd <= 10 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    c.month
FROM plan_base c
CROSS JOIN params p
LEFT JOIN calendar cs ON cs.date = c.start_date
LEFT JOIN calendar cg ON cg.date = c.first_core_group_date
WHERE c.start_date BETWEEN p.period_start AND p.period_end;

-- cpp_second_or_subsequent (DfE D3): plans started in the period for a child with a plan
-- starting strictly earlier anywhere in the store (any LA), or previous_plans > 0.
CREATE TABLE earlier_plan AS
SELECT DISTINCT c.la_code, c.plan_id
FROM cp_plans c
JOIN cp_plans e ON e.child_id = c.child_id
WHERE e.start_date < c.start_date;

SELECT
    'cpp_second_or_subsequent' AS measure_id,
    c.la_code,
    CASE
        WHEN x.plan_id IS NOT NULL OR COALESCE(c.previous_plans, 0) > 0 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    c.month, c.age_band, c.sex, c.ethnicity_group
FROM plan_base c
CROSS JOIN params p
LEFT JOIN earlier_plan x ON x.la_code = c.la_code AND x.plan_id = c.plan_id
WHERE c.start_date BETWEEN p.period_start AND p.period_end;

-- cpp_by_category (DfE D3): plans started in the period by initial category of abuse.
SELECT
    'cpp_by_category' AS measure_id,
    c.la_code,
    'counted' AS outcome,
    c.initial_category AS category
FROM plan_base c
CROSS JOIN params p
WHERE c.start_date BETWEEN p.period_start AND p.period_end;

-- cpp_duration_ended (DfE D7): plans ended in the period, by length (end - start in calendar
-- months, with month ends clamped). An end before the start: excluded.
SELECT
    'cpp_duration_ended' AS measure_id,
    c.la_code,
    CASE WHEN c.end_date < c.start_date THEN 'excluded' ELSE 'counted' END AS outcome,
    CASE
        WHEN c.end_date < c.start_date THEN CAST(NULL AS VARCHAR)
        WHEN c.end_date <= c.start_date + INTERVAL '3 months' THEN '3 months or less'
        WHEN c.end_date <= c.start_date + INTERVAL '6 months' THEN 'more than 3 to 6 months'
        WHEN c.end_date < c.start_date + INTERVAL '12 months' THEN 'more than 6 months to less than 1 year'
        WHEN c.end_date < c.start_date + INTERVAL '24 months' THEN '1 to less than 2 years'
        ELSE '2 years or more'
    END AS band
FROM plan_base c
CROSS JOIN params p
WHERE c.end_date BETWEEN p.period_start AND p.period_end;

-- cpp_duration_open (DfE D5): plans open at the end of the period (started by then, not ended by
-- then), by length at the period end.
SELECT
    'cpp_duration_open' AS measure_id,
    c.la_code,
    'counted' AS outcome,
    CASE
        WHEN p.period_end <= c.start_date + INTERVAL '3 months' THEN '3 months or less'
        WHEN p.period_end <= c.start_date + INTERVAL '6 months' THEN 'more than 3 to 6 months'
        WHEN p.period_end < c.start_date + INTERVAL '12 months' THEN 'more than 6 months to less than 1 year'
        WHEN p.period_end < c.start_date + INTERVAL '24 months' THEN '1 to less than 2 years'
        ELSE '2 years or more'
    END AS band
FROM plan_base c
CROSS JOIN params p
WHERE c.start_date <= p.period_end
  AND (c.end_date IS NULL OR c.end_date > p.period_end)
  AND c.start_date <= p.reference_date;
