-- Data-quality counts that no measure carries (they go to the report's data-quality.csv and the
-- run summary, not to the measures table). Each SELECT returns: subject, reason, rows.
-- Taken at `as_at` (the period end, or the reference date when that comes first).

-- measures.md section 4: "A contact with no outcome stays pending however old it is (the
-- data-quality table counts those older than 1 working day)."
SELECT
    'contacts.outcome' AS subject,
    'no outcome recorded more than 1 working day after receipt' AS reason,
    COUNT(*) AS rows
FROM contacts c
CROSS JOIN params p
JOIN calendar cr ON cr.date = CAST(c.received_at AS DATE)
JOIN calendar ca ON ca.date = p.as_at
WHERE c.outcome IS NULL
  AND CAST(c.received_at AS DATE) <= p.as_at
  AND ca.wd - cr.wd > 1;

-- DfE queries 8670Q and 8675Q are checks on one census return: they look at the events of the
-- episodes (referrals) the return holds, i.e. those open at some point in the census year, as at
-- its end. A store holding several years must count the same way, or an old event whose episode
-- has since closed is counted again in every later year. So each counts an event once, when its
-- referral was received by `as_at` and was not closed before the period start; an event whose
-- referral is not in the store (an orphan, data-contract.md section 5) has no episode to place it
-- in a year and is left out, as from the measures that need the link.

-- DfE query 8670Q: an open assessment started more than 45 working days before the date.
SELECT
    'assessments.authorisation_date' AS subject,
    'open assessment started more than 45 working days before the date, in an episode open in the year (DfE query 8670Q)' AS reason,
    COUNT(*) AS rows
FROM assessments a
CROSS JOIN params p
JOIN referrals r ON r.la_code = a.la_code AND r.referral_id = a.referral_id
JOIN calendar cs ON cs.date = a.start_date
JOIN calendar ca ON ca.date = p.as_at
WHERE (a.authorisation_date IS NULL OR a.authorisation_date > p.as_at)
  AND a.start_date <= p.as_at
  AND CAST(r.received_at AS DATE) <= p.as_at
  AND (r.closure_date IS NULL OR r.closure_date >= p.period_start)
  AND ca.wd - cs.wd > 45;

-- DfE query 8675Q: an s47 with no ICPC, not marked not-required, started more than 15 working
-- days before the date.
SELECT
    's47_enquiries.icpc_date' AS subject,
    's47 with no ICPC, not marked not required, started more than 15 working days before the date, in an episode open in the year (DfE query 8675Q)' AS reason,
    COUNT(*) AS rows
FROM s47_enquiries s
CROSS JOIN params p
JOIN referrals r ON r.la_code = s.la_code AND r.referral_id = s.referral_id
JOIN calendar cs ON cs.date = s.start_date
JOIN calendar ca ON ca.date = p.as_at
WHERE (s.icpc_date IS NULL OR s.icpc_date > p.as_at)
  AND NOT COALESCE(s.icpc_not_required, FALSE)
  AND NOT COALESCE(s.transfer_in, FALSE)
  AND s.start_date <= p.as_at
  AND CAST(r.received_at AS DATE) <= p.as_at
  AND (r.closure_date IS NULL OR r.closure_date >= p.period_start)
  AND ca.wd - cs.wd > 15;
