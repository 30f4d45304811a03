-- Rates per 10,000 children aged 0-17 (DfE: ONS mid-year estimates). Each row is one event; the
-- program counts them per LA and divides by the LA's population for the year (the mid-year
-- estimate of the calendar year in which the reporting year starts, else the latest earlier one;
-- the partnership's population is the sum of its LAs'), times 10,000.

SELECT 'rate_per_10k' AS measure_id, r.la_code, 'counted' AS outcome, 'referrals' AS count
FROM referral_base r CROSS JOIN params p
WHERE r.received_date BETWEEN p.period_start AND p.period_end
UNION ALL
SELECT 'rate_per_10k' AS measure_id, a.la_code, 'counted' AS outcome, 'assessments' AS count
FROM assessments a CROSS JOIN params p
WHERE a.authorisation_date BETWEEN p.period_start AND p.period_end
UNION ALL
SELECT 'rate_per_10k' AS measure_id, s.la_code, 'counted' AS outcome, 's47' AS count
FROM s47_enquiries s CROSS JOIN params p
WHERE s.start_date BETWEEN p.period_start AND p.period_end AND NOT COALESCE(s.transfer_in, FALSE)
UNION ALL
SELECT 'rate_per_10k' AS measure_id, s.la_code, 'counted' AS outcome, 'icpc' AS count
FROM s47_enquiries s CROSS JOIN params p
WHERE s.icpc_date BETWEEN p.period_start AND p.period_end
UNION ALL
SELECT 'rate_per_10k' AS measure_id, c.la_code, 'counted' AS outcome, 'cpp_started' AS count
FROM cp_plans c CROSS JOIN params p
WHERE c.start_date BETWEEN p.period_start AND p.period_end
UNION ALL
SELECT 'rate_per_10k' AS measure_id, c.la_code, 'counted' AS outcome, 'cpp_open' AS count
FROM cp_plans c CROSS JOIN params p
WHERE c.start_date <= p.period_end AND (c.end_date IS NULL OR c.end_date > p.period_end);
