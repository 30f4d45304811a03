-- Section 47 enquiries and initial child protection conferences (ICPCs).
--
-- Sources:
--   Working Together 2013 (seeds/003 L2001): "The initial child protection conference should take
--   place within 15 working days of a strategy discussion, or the strategy discussion at which
--   section 47 enquiries were initiated if more than one has been held" -> icpc_15wd, counted
--   from the s47 start date (= that strategy discussion).
--   DfE Children in need statistics, table C4: duration between the start of the s47 enquiry and
--   the ICPC in working days, bands 0-10, 11-15, 16-20, 21+; "excludes cases where the ICPC date
--   is before the section 47 date, however these will be included in overall number of ICPCs".
--   Transfer-in conferences (a child moving in on a plan, WT2013 seeds/003 L2052) are not s47
--   enquiries: out of referral_to_s47, s47_to_icpc and icpc_15wd (counted as excluded there),
--   ICPCs held for icpc_to_cpp (measures.md section 4).

CREATE TABLE s47_clock AS
SELECT
    s.*,
    COALESCE(s.transfer_in, FALSE) AS is_transfer_in,
    ci.wd - cs.wd AS wd_to_icpc,
    STRFTIME(s.icpc_date, '%Y-%m') AS month,
    r.age_band, r.sex, r.ethnicity_group, r.source
FROM s47_enquiries s
LEFT JOIN referral_base r ON r.la_code = s.la_code AND r.referral_id = s.referral_id
LEFT JOIN calendar cs ON cs.date = s.start_date
LEFT JOIN calendar ci ON ci.date = s.icpc_date;

-- referral_to_s47: the cohort of referrals received in the period with an s47 enquiry (not a
-- transfer-in) by the reference date / all. A referral whose only conference is a transfer-in is
-- excluded.
CREATE TABLE s47_referrals AS
SELECT
    s.la_code,
    s.referral_id,
    MAX(CASE WHEN s.is_transfer_in THEN 0 ELSE 1 END) AS has_s47
FROM s47_clock s CROSS JOIN params p
WHERE s.start_date <= p.reference_date
GROUP BY s.la_code, s.referral_id;

SELECT
    'referral_to_s47' AS measure_id,
    r.la_code,
    CASE
        WHEN x.has_s47 = 1 THEN 'met'
        WHEN x.has_s47 = 0 THEN 'excluded'
        ELSE 'not_met'
    END AS outcome,
    r.month, r.age_band, r.sex, r.ethnicity_group, r.source
FROM referral_base r
CROSS JOIN params p
LEFT JOIN s47_referrals x ON x.la_code = r.la_code AND x.referral_id = r.referral_id
WHERE r.received_date BETWEEN p.period_start AND p.period_end;

-- s47_to_icpc: s47 enquiries started in the period that reached an ICPC by the reference date /
-- all started. Not reached, not marked not-required, and still within 15 working days at the
-- reference date: pending.
SELECT
    's47_to_icpc' AS measure_id,
    s.la_code,
    CASE
        WHEN s.is_transfer_in THEN 'excluded'
        WHEN s.icpc_date IS NOT NULL AND s.icpc_date <= p.reference_date THEN 'met'
        WHEN COALESCE(s.icpc_not_required, FALSE) THEN 'not_met'
        WHEN cref.wd - cs.wd <= 15 THEN 'pending'
        ELSE 'not_met'
    END AS outcome,
    STRFTIME(s.start_date, '%Y-%m') AS month,
    s.age_band, s.sex, s.ethnicity_group, s.source
FROM s47_clock s
CROSS JOIN params p
LEFT JOIN calendar cs ON cs.date = s.start_date
LEFT JOIN calendar cref ON cref.date = p.reference_date
WHERE s.start_date BETWEEN p.period_start AND p.period_end;

-- icpc_15wd (WT2013; DfE C4): ICPCs held in the period within 15 working days of the s47 start.
-- Transfer-in conferences and ICPCs dated before their s47 start: excluded (and counted).
-- Pending (for information): s47s with no ICPC at `as_at` (the period end, or the reference date
-- when that comes first), not marked not-required, inside 15 working days then.
SELECT
    'icpc_15wd' AS measure_id,
    s.la_code,
    CASE
        WHEN s.is_transfer_in THEN 'excluded'
        WHEN s.wd_to_icpc IS NULL OR s.wd_to_icpc < 0 THEN 'excluded'
        WHEN s.wd_to_icpc <= 15 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    s.month, s.age_band, s.sex, s.ethnicity_group, s.source
FROM s47_clock s
CROSS JOIN params p
WHERE s.icpc_date BETWEEN p.period_start AND p.period_end;

-- ... its pending s47s: no ICPC at `as_at`, not marked not-required, inside 15 working days then.
SELECT 'icpc_15wd' AS measure_id, s.la_code, 'pending' AS outcome
FROM s47_clock s
CROSS JOIN params p
JOIN calendar cs ON cs.date = s.start_date
JOIN calendar cref ON cref.date = p.as_at
WHERE NOT s.is_transfer_in
  AND (s.icpc_date IS NULL OR s.icpc_date > p.as_at)
  AND NOT COALESCE(s.icpc_not_required, FALSE)
  AND s.start_date <= p.as_at
  AND cref.wd - cs.wd <= 15;

-- icpc_duration_band (DfE C4): the same ICPCs by working days from s47 start; quartiles from `wd`.
SELECT
    'icpc_duration_band' AS measure_id,
    s.la_code,
    CASE
        WHEN s.is_transfer_in OR s.wd_to_icpc IS NULL OR s.wd_to_icpc < 0 THEN 'excluded'
        ELSE 'counted'
    END AS outcome,
    s.wd_to_icpc AS wd,
    CASE
        WHEN s.is_transfer_in OR s.wd_to_icpc IS NULL OR s.wd_to_icpc < 0 THEN CAST(NULL AS VARCHAR)
        WHEN s.wd_to_icpc <= 10 THEN '0-10'
        WHEN s.wd_to_icpc <= 15 THEN '11-15'
        WHEN s.wd_to_icpc <= 20 THEN '16-20'
        ELSE '21+'
    END AS band
FROM s47_clock s
CROSS JOIN params p
WHERE s.icpc_date BETWEEN p.period_start AND p.period_end;

-- icpc_to_cpp: ICPCs held in the period (transfer-in conferences included) that resulted in a
-- plan: icpc_result CPP, or, where the result is not recorded, a plan for the child starting on
-- the conference date (DfE rule 2885: CPP start = ICPC date).
CREATE TABLE plan_starts AS
SELECT DISTINCT la_code, child_id, start_date FROM cp_plans;

SELECT
    'icpc_to_cpp' AS measure_id,
    s.la_code,
    CASE
        WHEN s.icpc_result = 'CPP' THEN 'met'
        WHEN s.icpc_result IS NULL AND ps.start_date IS NOT NULL THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    s.month
FROM s47_clock s
CROSS JOIN params p
LEFT JOIN plan_starts ps
    ON ps.la_code = s.la_code AND ps.child_id = s.child_id AND ps.start_date = s.icpc_date
WHERE s.icpc_date BETWEEN p.period_start AND p.period_end;

-- referral_to_icpc and referral_to_cpp (the project's own cohort conversions, for the threshold
-- funnel): the cohort of referrals received in the period whose s47 (not a transfer-in) reached an
-- ICPC, and whose ICPC resulted in a plan, by the reference date / all cohort referrals.
CREATE TABLE referral_conference AS
SELECT
    s.la_code,
    s.referral_id,
    MAX(CASE WHEN s.icpc_date <= p.reference_date THEN 1 ELSE 0 END) AS icpc,
    MAX(CASE WHEN s.icpc_date <= p.reference_date
              AND (s.icpc_result = 'CPP' OR (s.icpc_result IS NULL AND ps.start_date IS NOT NULL))
             THEN 1 ELSE 0 END) AS cpp
FROM s47_clock s
CROSS JOIN params p
LEFT JOIN plan_starts ps
    ON ps.la_code = s.la_code AND ps.child_id = s.child_id AND ps.start_date = s.icpc_date
WHERE NOT s.is_transfer_in
GROUP BY s.la_code, s.referral_id;

SELECT
    'referral_to_icpc' AS measure_id,
    r.la_code,
    CASE WHEN x.icpc = 1 THEN 'met' ELSE 'not_met' END AS outcome,
    r.month
FROM referral_base r
CROSS JOIN params p
LEFT JOIN referral_conference x ON x.la_code = r.la_code AND x.referral_id = r.referral_id
WHERE r.received_date BETWEEN p.period_start AND p.period_end;

SELECT
    'referral_to_cpp' AS measure_id,
    r.la_code,
    CASE WHEN x.cpp = 1 THEN 'met' ELSE 'not_met' END AS outcome,
    r.month
FROM referral_base r
CROSS JOIN params p
LEFT JOIN referral_conference x ON x.la_code = r.la_code AND x.referral_id = r.referral_id
WHERE r.received_date BETWEEN p.period_start AND p.period_end;
