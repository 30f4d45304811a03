-- Front door: contacts, referral decisions, threshold conversion, NFA, re-referrals, early help.
--
-- Sources:
--   Working Together 2013 (seeds/003 L1805), para 55: "Within one working day of a referral being
--   received, a local authority social worker should make a decision about the type of response
--   that is required and acknowledge receipt to the referrer."
--   DfE Children in need statistics, table C1: referrals, re-referrals within 12 months of a
--   previous referral, referrals with no further action.
--   24 clock hours for a MASH decision: Northamptonshire 2013 local standard.
--
-- Every SELECT returns one row per event with: measure_id, la_code, outcome ('met' = in the
-- numerator and denominator, 'not_met' = denominator only, 'excluded', 'pending') and the
-- breakdown columns its catalogue entry declares (queries/catalogue.toml). The program sums them
-- per LA and for the partnership (measures.md section 5), across the statements of a measure.
-- wd(a, b) = cal_b.wd - cal_a.wd (see _views.sql).

-- contact_decision_1wd: contacts decided in the period (by decision date) within 1 working day
-- of receipt. A decision before receipt is a negative interval: excluded. Pending (for
-- information): contacts not yet decided at `as_at` (the period end, or the reference date when
-- that comes first) that are still inside their 1 working day then.
SELECT
    'contact_decision_1wd' AS measure_id,
    c.la_code,
    CASE
        -- Negative only by date, or by time where both carry one (a bare date's time is unknown).
        WHEN CAST(c.decision_at AS DATE) < CAST(c.received_at AS DATE)
          OR (c.decision_at_has_time AND c.received_at_has_time AND c.decision_at < c.received_at)
          THEN 'excluded'
        WHEN cd.wd - cr.wd <= 1 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    STRFTIME(c.decision_at, '%Y-%m') AS month
FROM contacts c
CROSS JOIN params p
JOIN calendar cr ON cr.date = CAST(c.received_at AS DATE)
JOIN calendar cd ON cd.date = CAST(c.decision_at AS DATE)
WHERE CAST(c.decision_at AS DATE) BETWEEN p.period_start AND p.period_end;

-- ... its pending contacts (no breakdown: counted in the NONE row only).
SELECT 'contact_decision_1wd' AS measure_id, c.la_code, 'pending' AS outcome
FROM contacts c
CROSS JOIN params p
JOIN calendar cr ON cr.date = CAST(c.received_at AS DATE)
JOIN calendar cref ON cref.date = p.as_at
WHERE (c.decision_at IS NULL OR CAST(c.decision_at AS DATE) > p.as_at)
  AND CAST(c.received_at AS DATE) <= p.as_at
  AND cref.wd - cr.wd <= 1;

-- mash_decision_24h: contacts decided in the period within 24 clock hours (at most 24:00:00
-- after receipt). Only where both are datetimes: a bare date has no time and is excluded.
SELECT
    'mash_decision_24h' AS measure_id,
    c.la_code,
    CASE
        WHEN NOT (c.received_at_has_time AND c.decision_at_has_time) THEN 'excluded'
        WHEN c.decision_at < c.received_at THEN 'excluded'
        WHEN c.decision_at <= c.received_at + INTERVAL '24 hours' THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    STRFTIME(c.decision_at, '%Y-%m') AS month
FROM contacts c
CROSS JOIN params p
WHERE CAST(c.decision_at AS DATE) BETWEEN p.period_start AND p.period_end;

-- referral_decision_1wd: referrals decided in the period within 1 working day of receipt.
SELECT
    'referral_decision_1wd' AS measure_id,
    r.la_code,
    CASE
        WHEN r.decision_date < r.received_date
          OR (r.decision_at_has_time AND r.received_at_has_time AND r.decision_at < r.received_at)
          THEN 'excluded'
        WHEN cd.wd - cr.wd <= 1 THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    STRFTIME(r.decision_at, '%Y-%m') AS month,
    r.source, r.age_band, r.sex, r.ethnicity_group
FROM referral_base r
CROSS JOIN params p
JOIN calendar cr ON cr.date = r.received_date
JOIN calendar cd ON cd.date = r.decision_date
WHERE r.decision_date BETWEEN p.period_start AND p.period_end;

-- ... its pending referrals: undecided at `as_at` and still inside 1 working day then.
SELECT 'referral_decision_1wd' AS measure_id, r.la_code, 'pending' AS outcome
FROM referral_base r
CROSS JOIN params p
JOIN calendar cr ON cr.date = r.received_date
JOIN calendar cref ON cref.date = p.as_at
WHERE (r.decision_at IS NULL OR r.decision_date > p.as_at)
  AND r.received_date <= p.as_at
  AND cref.wd - cr.wd <= 1;

-- contact_to_referral: the cohort of contacts received in the period, followed to the reference
-- date: outcome REFERRAL / all contacts with an outcome. No outcome yet = pending.
SELECT
    'contact_to_referral' AS measure_id,
    c.la_code,
    CASE
        WHEN c.outcome IS NULL THEN 'pending'
        WHEN c.outcome = 'REFERRAL' THEN 'met'
        ELSE 'not_met'
    END AS outcome,
    STRFTIME(c.received_at, '%Y-%m') AS month,
    CAST(c.level_of_need AS VARCHAR) AS level_of_need,
    c.source
FROM contacts c
CROSS JOIN params p
WHERE CAST(c.received_at AS DATE) BETWEEN p.period_start AND p.period_end;

-- referral_nfa (DfE C1): referrals received in the period with no further action.
SELECT
    'referral_nfa' AS measure_id,
    r.la_code,
    CASE WHEN r.referral_nfa THEN 'met' ELSE 'not_met' END AS outcome,
    r.month, r.age_band, r.sex, r.ethnicity_group, r.source
FROM referral_base r
CROSS JOIN params p
WHERE r.received_date BETWEEN p.period_start AND p.period_end;

-- rereferral_12m (DfE C1): referrals in the period for a child with another referral to the same
-- LA strictly earlier and no more than 12 calendar months before it (2024-03-01 looks back to
-- 2023-03-01 inclusive; from 29 February, to 28 February). Counted within each LA, as the DfE
-- counts per council; the partnership figure is the sum of the LAs'.
CREATE TABLE rereferred AS
SELECT DISTINCT r.la_code, r.referral_id
FROM referral_base r
JOIN referral_base e ON e.la_code = r.la_code AND e.child_id = r.child_id
WHERE e.received_date < r.received_date
  AND e.received_date >= r.received_date - INTERVAL '12 months';

SELECT
    'rereferral_12m' AS measure_id,
    r.la_code,
    CASE WHEN x.referral_id IS NOT NULL THEN 'met' ELSE 'not_met' END AS outcome,
    r.month, r.age_band, r.sex, r.ethnicity_group, r.source
FROM referral_base r
CROSS JOIN params p
LEFT JOIN rereferred x ON x.la_code = r.la_code AND x.referral_id = r.referral_id
WHERE r.received_date BETWEEN p.period_start AND p.period_end;

-- early_help_step_up: early help episodes ended in the period that stepped up: outcome STEP_UP,
-- or a referral of the same child (any LA) received on or after the end date and on or before
-- the date 3 calendar months after it (clamped to the month's last day). Still inside those 3
-- months at the reference date with no step-up yet = pending.
CREATE TABLE stepped_up AS
SELECT DISTINCT e.la_code, e.episode_id
FROM early_help e
JOIN referral_base r ON r.child_id = e.child_id
CROSS JOIN params p
WHERE r.received_date >= e.end_date
  AND r.received_date <= e.end_date + INTERVAL '3 months'
  AND r.received_date <= p.reference_date;

SELECT
    'early_help_step_up' AS measure_id,
    e.la_code,
    CASE
        WHEN e.end_date < e.start_date THEN 'excluded'
        WHEN e.outcome = 'STEP_UP' OR s.episode_id IS NOT NULL THEN 'met'
        WHEN e.end_date + INTERVAL '3 months' > p.reference_date THEN 'pending'
        ELSE 'not_met'
    END AS outcome,
    STRFTIME(e.end_date, '%Y-%m') AS month
FROM early_help e
CROSS JOIN params p
LEFT JOIN stepped_up s ON s.la_code = e.la_code AND s.episode_id = e.episode_id
WHERE e.end_date BETWEEN p.period_start AND p.period_end;
