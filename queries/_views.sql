-- Shared views for every measure file. Run first; each CREATE TABLE makes a view the measure
-- files can read. Nothing here is a measure.
--
-- Tables available (the store, plus three made by the program):
--   children, contacts, referrals, early_help, assessments, strategy_discussions, s47_enquiries,
--   cp_plans, cp_reviews, cdop_reviews, cdop_factors, population   (data-contract.md section 3),
--   pre_proceedings (the 2026-27 census module; README "Pre-proceedings")
--   calendar (date, wd)  - wd is the working-day ordinal of the England and Wales calendar plus
--                          local closure days, so wd(a, b) = b.wd - a.wd (measures.md section 1:
--                          the working days d with a < d <= b; same day = 0)
--   params (period, period_start, period_end, reference_date, as_at)  - the reporting year asked
--                          for (1 April - 31 March), the data's reference date (measures.md s. 2),
--                          and as_at = the earlier of period_end and reference_date: the date at
--                          which the timeliness measures' `pending` (open, inside the limit) is
--                          taken, so each year of a trend has its own

-- One row per child per LA, with the broad ethnic group used in national tables.
CREATE TABLE child_attr AS
SELECT
    la_code,
    child_id,
    birth_month,
    COALESCE(sex, 'U') AS sex,
    COALESCE(unborn, FALSE) AS unborn,
    CASE
        WHEN ethnicity IN ('WBRI', 'WIRI', 'WIRT', 'WOTH', 'WROM') THEN 'White'
        WHEN ethnicity IN ('MWBC', 'MWBA', 'MWAS', 'MOTH') THEN 'Mixed'
        WHEN ethnicity IN ('AIND', 'APKN', 'ABAN', 'AOTH') THEN 'Asian or Asian British'
        WHEN ethnicity IN ('BCRB', 'BAFR', 'BOTH') THEN 'Black or Black British'
        WHEN ethnicity = 'CHNE' THEN 'Chinese'
        WHEN ethnicity = 'OOTH' THEN 'Other'
        ELSE 'Not known'
    END AS ethnicity_group
FROM children;

-- Referrals with their dates and the child's characteristics at referral. Age is in whole years
-- at the referral date from the birth month (the store keeps only the month: a child counts as a
-- year older from the first of the birth month).
CREATE TABLE referral_age AS
SELECT
    r.*,
    CAST(r.received_at AS DATE) AS received_date,
    CAST(r.decision_at AS DATE) AS decision_date,
    STRFTIME(r.received_at, '%Y-%m') AS month,
    COALESCE(c.sex, 'U') AS sex,
    COALESCE(c.ethnicity_group, 'Not known') AS ethnicity_group,
    COALESCE(c.unborn, FALSE) AS unborn,
    c.birth_month,
    DATE_PART('year', CAST(r.received_at AS DATE)) - DATE_PART('year', c.birth_month)
        - CASE WHEN DATE_PART('month', CAST(r.received_at AS DATE)) < DATE_PART('month', c.birth_month)
               THEN 1 ELSE 0 END AS age_years
FROM referrals r
LEFT JOIN child_attr c ON c.la_code = r.la_code AND c.child_id = r.child_id;

CREATE TABLE referral_base AS
SELECT
    *,
    CASE
        WHEN unborn OR birth_month > received_date THEN 'unborn'
        WHEN age_years IS NULL THEN 'not known'
        WHEN age_years < 1 THEN 'under 1'
        WHEN age_years <= 4 THEN '1-4'
        WHEN age_years <= 9 THEN '5-9'
        WHEN age_years <= 15 THEN '10-15'
        WHEN age_years <= 17 THEN '16-17'
        ELSE '18+'
    END AS age_band
FROM referral_age;
