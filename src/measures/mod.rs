//! `safeguard measures`: every measure of measures.md section 3, for the partnership and each LA,
//! as one tidy table.
//!
//! The definitions live in `queries/*.sql` (embedded in the binary), run by the Polars SQL engine
//! over the store, one file per measure family; each SELECT returns event rows that
//! [`aggregate`] turns into numerators and denominators. Working days come from a precomputed
//! calendar table (a working-day ordinal per date), so `wd(a, b)` is a subtraction. Review
//! timeliness, a chain SQL cannot express clearly, is in [`reviews`].
//!
//! For speed at national scale ([`compute`]): each store table is scanned with only the columns
//! the SQL names; the year's parameters are bound as literals (`bind_params`); a view that does
//! not depend on the year is computed once per run, a view read by several statements is
//! materialised and let go after its last reader (`RunPlan`). `SAFEGUARD_TIMING=1` prints each
//! statement's time on stderr (`=plans` adds the optimised plans).

pub mod aggregate;
pub mod period;
pub mod reviews;

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::calendar::{Calendar, FIRST_YEAR, LAST_YEAR};
use crate::ingest::parse::{epoch_days, from_epoch_days};
use crate::schema;
use crate::store::Store;
pub use aggregate::{MeasureRow, ALL};
pub use period::FinYear;

/// The measure files, in the order they run (`_views.sql` first: shared views, no measures).
pub const QUERY_FILES: &[(&str, &str)] = &[
    ("_views.sql", include_str!("../../queries/_views.sql")),
    (
        "front_door.sql",
        include_str!("../../queries/front_door.sql"),
    ),
    (
        "assessments.sql",
        include_str!("../../queries/assessments.sql"),
    ),
    (
        "s47_conferences.sql",
        include_str!("../../queries/s47_conferences.sql"),
    ),
    ("plans.sql", include_str!("../../queries/plans.sql")),
    ("rates.sql", include_str!("../../queries/rates.sql")),
    ("cdop.sql", include_str!("../../queries/cdop.sql")),
];

/// Every measure id of the catalogue (measures.md section 3), in catalogue order.
pub const CATALOGUE: &[&str] = &[
    "contact_decision_1wd",
    "mash_decision_24h",
    "referral_decision_1wd",
    "contact_to_referral",
    "referral_nfa",
    "rereferral_12m",
    "referral_to_assessment",
    "assessment_not_in_need",
    "assessment_to_early_help",
    "assessment_45wd_from_referral",
    "assessment_45wd_from_start",
    "assessment_duration_band",
    "referral_to_s47",
    "s47_to_icpc",
    "icpc_15wd",
    "icpc_duration_band",
    "icpc_to_cpp",
    "referral_to_icpc",
    "referral_to_cpp",
    "core_group_10wd",
    "cpp_review_timely",
    "cpp_second_or_subsequent",
    "cpp_by_category",
    "cpp_duration_ended",
    "cpp_duration_open",
    "early_help_step_up",
    "rate_per_10k",
    // Child death review (queries/cdop.sql).
    "cdop_reviews_completed",
    "cdop_modifiable_all",
    "cdop_modifiable_sufficient",
    "cdop_modifiable_sufficient_pooled3",
    "cdop_modifiable_sufficient_pooled5",
    "cdop_time_to_review",
    "cdop_open_at_year_end",
    "cdop_deaths_notified",
    "cdop_factor_recurrence",
    "cdop_factor_recurrence_pooled3",
    "cdop_factor_recurrence_pooled5",
    "cdop_known_to_services",
];

/// What `measures` computed, with the run summary's facts.
#[derive(Debug, Default)]
pub struct MeasuresOutput {
    pub rows: Vec<MeasureRow>,
    pub reference_date: Option<NaiveDate>,
    pub reference_source: String,
    /// measure id -> why the data cannot support it.
    pub not_measurable: BTreeMap<String, String>,
    /// Lines for the run summary (population used, etc.).
    pub notes: Vec<String>,
    /// Data-quality counts no measure carries (queries/data_quality.sql), for the last year
    /// asked for: (subject, reason, rows).
    pub data_quality: Vec<(String, String, u64)>,
}

impl MeasuresOutput {
    pub fn frame(&self) -> Result<DataFrame> {
        aggregate::to_frame(&self.rows)
    }

    pub fn render_summary(&self) -> String {
        let mut s = String::new();
        if let Some(d) = self.reference_date {
            s.push_str(&format!(
                "reference date: {d} ({})\n",
                self.reference_source
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        for (subject, reason, n) in &self.data_quality {
            s.push_str(&format!("data quality: {subject}: {n} row(s): {reason}\n"));
        }
        for (m, why) in &self.not_measurable {
            s.push_str(&format!("not measurable: {m}: {why}\n"));
        }
        s
    }
}

/// The data's reference date: the one given, else the latest CIN census ReferenceDate in the
/// store, else the latest event date in the store. Only dates within the calendar's years count:
/// ingest refuses or flags others, and a store written before it did must not have its default
/// year driven by a 9999-12-31.
pub fn reference_date(store: &Store, given: Option<NaiveDate>) -> Result<(NaiveDate, String)> {
    if let Some(d) = given {
        return Ok((d, "given".into()));
    }
    let first = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("valid");
    let last = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).expect("valid");
    if let Some(d) = store
        .manifest
        .sources
        .iter()
        .filter_map(|s| s.vintage)
        .filter(|d| (first..=last).contains(d))
        .max()
    {
        return Ok((d, "latest CIN census ReferenceDate in the store".into()));
    }
    let mut latest: Option<NaiveDate> = None;
    for spec in schema::TABLES {
        if spec.name == "population" || spec.name == "children" {
            continue;
        }
        // The latest date of each date column, read lazily (only those columns, one row back).
        let maxima: Vec<Expr> = spec
            .columns
            .iter()
            .filter(|c| matches!(c.kind, schema::Kind::Date | schema::Kind::DateTime))
            .map(|c| {
                let days = col(c.name).cast(DataType::Date).cast(DataType::Int32);
                days.clone()
                    .filter(
                        days.clone()
                            .gt_eq(lit(epoch_days(first)))
                            .and(days.lt_eq(lit(epoch_days(last)))),
                    )
                    .max()
                    .alias(c.name)
            })
            .collect();
        if maxima.is_empty() {
            continue;
        }
        let df = store.scan(spec.name)?.select(maxima).collect()?;
        for c in df.columns() {
            if let Some(max) = c.i32()?.get(0) {
                let d = from_epoch_days(max);
                latest = Some(latest.map_or(d, |l: NaiveDate| l.max(d)));
            }
        }
    }
    latest
        .map(|d| (d, "latest event date in the store".to_string()))
        .ok_or_else(|| {
            crate::error::UserError::Message("the store holds no dated events".into()).into()
        })
}

/// The calendar as a table: every date of the covered range with its working-day ordinal.
pub fn calendar_frame(cal: &Calendar) -> Result<DataFrame> {
    let first = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).expect("valid");
    let last = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).expect("valid");
    let mut dates = vec![];
    let mut wds = vec![];
    let mut d = first;
    while d <= last {
        dates.push(epoch_days(d));
        wds.push(cal.ordinal(d)?);
        d = d.succ_opt().expect("within range");
    }
    Ok(DataFrame::new(
        dates.len(),
        vec![
            Series::new("date".into(), dates)
                .cast(&DataType::Date)?
                .into(),
            Series::new("wd".into(), wds).cast(&DataType::Int64)?.into(),
        ],
    )?)
}

fn params_frame(year: FinYear, reference: NaiveDate) -> Result<DataFrame> {
    let date = |d: NaiveDate| -> Result<Column> {
        Ok(Series::new("x".into(), [epoch_days(d)])
            .cast(&DataType::Date)?
            .into())
    };
    let mut start = date(year.start())?;
    start.rename("period_start".into());
    let mut end = date(year.end())?;
    end.rename("period_end".into());
    let mut r = date(reference)?;
    r.rename("reference_date".into());
    let mut as_at = date(reference.min(year.end()))?;
    as_at.rename("as_at".into());
    Ok(DataFrame::new(
        1,
        vec![
            Series::new("period".into(), [year.to_string()]).into(),
            start,
            end,
            r,
            as_at,
        ],
    )?)
}

/// Splits a SQL file into statements (on `;`), dropping `--` comments.
pub fn statements(sql: &str) -> Vec<String> {
    let stripped: String = sql
        .lines()
        .map(|l| match l.find("--") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    stripped
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Decides which measures the data cannot support, and why (never a zero in their place).
fn not_measurable(store: &Store) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    // Counts read lazily: a table's height from the Parquet metadata, a column's nulls from that
    // column alone (reading whole tables here cost seconds and gigabytes at national scale).
    let count = |lf: LazyFrame, e: Expr| -> Result<u64> {
        let df = lf.select([e.cast(DataType::UInt64).alias("n")]).collect()?;
        Ok(df.column("n")?.u64()?.get(0).unwrap_or(0))
    };
    let height = |t: &str| -> Result<u64> { count(store.scan(t)?, len()) };
    let any = |t: &str, c: &str| -> Result<bool> {
        Ok(count(store.scan(t)?, col(c).is_not_null().sum())? > 0)
    };
    let mut set = |ids: &[&str], why: &str| {
        for id in ids {
            out.entry(id.to_string()).or_insert_with(|| why.to_string());
        }
    };
    if height("contacts")? == 0 {
        set(
            &[
                "contact_decision_1wd",
                "mash_decision_24h",
                "contact_to_referral",
            ],
            "no contacts in the store (the CIN census carries none; give contacts.csv)",
        );
    } else if !any("contacts", "decision_at")? {
        set(
            &["contact_decision_1wd", "mash_decision_24h"],
            "no contact has a decision time recorded",
        );
    }
    if height("referrals")? == 0 {
        set(
            &[
                "referral_decision_1wd",
                "referral_nfa",
                "rereferral_12m",
                "referral_to_assessment",
                "referral_to_s47",
            ],
            "no referrals in the store",
        );
    } else if !any("referrals", "decision_at")? {
        set(
            &["referral_decision_1wd"],
            "no referral has a decision date (the CIN census and Annex A have none; give decision_at in referrals.csv)",
        );
    }
    if height("early_help")? == 0 {
        set(
            &["early_help_step_up"],
            "no early help episodes in the store",
        );
    }
    if height("cp_plans")? > 0 && !any("cp_plans", "first_core_group_date")? {
        set(
            &["core_group_10wd"],
            "no plan has a first core group date (the CIN census has none)",
        );
    }
    if height("cp_plans")? > 0 && height("cp_reviews")? == 0 {
        set(
            &["cpp_review_timely"],
            "no review conference dates in the store",
        );
    }
    if height("cdop_reviews")? == 0 {
        let cdop: Vec<&str> = CATALOGUE
            .iter()
            .copied()
            .filter(|m| m.starts_with("cdop_"))
            .collect();
        set(
            &cdop,
            "no child death reviews in the store (give cdop_reviews.csv)",
        );
    }
    if height("cdop_factors")? == 0 {
        set(
            &[
                "cdop_factor_recurrence",
                "cdop_factor_recurrence_pooled3",
                "cdop_factor_recurrence_pooled5",
            ],
            "no contributory factors in the store (give cdop_factors.csv)",
        );
    }
    if height("cdop_reviews")? > 0 && !any("cdop_reviews", "child_id")? {
        set(
            &["cdop_known_to_services"],
            "no child death review carries a child_id to link to the safeguarding tables",
        );
    }
    if height("population")? == 0 {
        set(
            &["rate_per_10k"],
            "no population in the store (give population.csv)",
        );
    }
    Ok(out)
}

/// Computes every measure for each of `years`.
pub fn compute(
    store: &Store,
    cal: &Calendar,
    years: &[FinYear],
    given_reference: Option<NaiveDate>,
) -> Result<MeasuresOutput> {
    let (reference, reference_source) = reference_date(store, given_reference)?;
    let mut out = MeasuresOutput {
        reference_date: Some(reference),
        reference_source,
        not_measurable: not_measurable(store)?,
        ..Default::default()
    };
    let calendar = calendar_frame(cal)?;
    let population = store.read_table("population")?;
    // The review chain's inputs, read once for every year, with only the columns it uses.
    let plans = store
        .scan("cp_plans")?
        .select(
            reviews::PLAN_COLUMNS
                .iter()
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    let revs = store
        .scan("cp_reviews")?
        .select(
            reviews::REVIEW_COLUMNS
                .iter()
                .map(|c| col(*c))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    // The CDOP deaths with their age band by birthday etc. (src/cdop/cases.rs), for cdop.sql.
    let cdop_base = crate::cdop::base_from_reviews(&store.read_table("cdop_reviews")?)?;
    // The words of the SQL outside comments and string literals: every column it can name.
    let sql_words: HashSet<String> = QUERY_FILES
        .iter()
        .map(|(_, sql)| *sql)
        .chain([DATA_QUALITY_SQL])
        .flat_map(statements)
        .flat_map(|st| {
            let code: String = st.split('\'').step_by(2).collect::<Vec<_>>().join(" ");
            identifiers(&code).collect::<Vec<_>>()
        })
        .collect();
    let tables = schema::TABLES
        .iter()
        .map(|spec| Ok((spec.name, table_scan(store, spec.name, &sql_words)?)))
        .collect::<Result<Vec<_>>>()?;
    let plan = RunPlan::new(years, reference);
    // The views computed once for the run: Some(frame) to register again in each later year,
    // None when no later statement reads the view (it was read lazily, or has been dropped).
    let mut kept_views: BTreeMap<String, Option<DataFrame>> = BTreeMap::new();
    // SAFEGUARD_TIMING=1: each statement's time (and a materialised view's size) on stderr;
    // SAFEGUARD_TIMING=plans: each SELECT's optimised plan too.
    let timing = std::env::var_os("SAFEGUARD_TIMING").is_some_and(|v| v != "0");
    let show_plans = std::env::var_os("SAFEGUARD_TIMING").is_some_and(|v| v == "plans");
    let time = |t: std::time::Instant, what: &str, file: &str, stmt: &str| {
        if timing {
            eprintln!(
                "timing: {:>7.3} s  {what}  {file}: {}",
                t.elapsed().as_secs_f64(),
                first_line(stmt)
            );
        }
    };
    // The review chains, shared by the years whose `until` is the same (reviews::plan_chains).
    let mut chains: Option<(NaiveDate, Vec<(String, Vec<reviews::Due>)>)> = None;
    for (y, &year) in years.iter().enumerate() {
        let last_year = y + 1 == years.len();
        let mut ctx = SQLContext::new();
        for (name, lf) in &tables {
            ctx.register(name, lf.clone());
        }
        ctx.register("calendar", calendar.clone().lazy());
        ctx.register("params", params_frame(year, reference)?.lazy());
        ctx.register("cdop_base", cdop_base.clone().lazy());
        let period = year.to_string();
        for (i, st) in plan.statements.iter().enumerate() {
            let file = st.file;
            let stmt = infallible_casts(&bind_params(&st.unbound, year, reference).sql);
            if let Some(name) = &st.created {
                if let Some(kept) = kept_views.get(name) {
                    if let Some(df) = kept {
                        ctx.register(name, df.clone().lazy());
                    }
                    continue;
                }
            }
            let t = std::time::Instant::now();
            let lf = ctx
                .execute(&stmt)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("queries/{file}: {}", first_line(&stmt)))?;
            if let Some(name) = &st.created {
                // (`execute` of a CREATE registers the view lazily and returns a status frame.)
                let df = if st.materialise {
                    let df = ctx
                        .execute(&format!("SELECT * FROM {name}"))
                        .and_then(|lf| {
                            if show_plans {
                                eprintln!("=== {file}: {name}\n{}", lf.explain(true)?);
                            }
                            lf.collect()
                        })
                        .map_err(anyhow::Error::from)
                        .with_context(|| format!("queries/{file}: {}", first_line(&stmt)))?;
                    let what = format!(
                        "{} {name}: {} rows x {} cols, {} MB",
                        if st.per_year { "per-year" } else { "kept" },
                        df.height(),
                        df.width(),
                        df.estimated_size() >> 20
                    );
                    time(t, &what, file, &stmt);
                    ctx.register(name, df.clone().lazy());
                    Some(df)
                } else {
                    None
                };
                if !st.per_year {
                    kept_views.insert(name.clone(), df);
                }
            } else {
                if show_plans {
                    eprintln!("=== {file}: {}\n{}", first_line(&stmt), lf.explain(true)?);
                }
                let df = lf
                    .collect()
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("queries/{file}: {}", first_line(&stmt)))?;
                time(t, &format!("{period} select"), file, &stmt);
                let t = std::time::Instant::now();
                out.rows.extend(aggregate::summarise(&df, &period)?);
                time(t, &format!("{period} summarise"), file, &stmt);
            }
            // Views no later statement of the year reads are let go; a kept one is dropped for
            // good when no later year needs it either.
            for name in &plan.done_after[i] {
                ctx.unregister(name);
                if last_year || !plan.read_every_year.contains(name) {
                    if let Some(kept) = kept_views.get_mut(name) {
                        *kept = None;
                    }
                }
            }
        }
        let t = std::time::Instant::now();
        if Some(&year) == years.last() {
            out.data_quality = data_quality_counts(&mut ctx)?;
            time(t, "data quality", "data_quality.sql", "");
        }
        let t = std::time::Instant::now();
        let until = year.end().max(reference);
        if chains.as_ref().is_none_or(|(u, _)| *u != until) {
            chains = Some((until, reviews::plan_chains(&plans, &revs, until)?));
        }
        let events = reviews::events_from_chains(
            &chains.as_ref().expect("just made").1,
            year.start(),
            year.end(),
            reference,
        )?;
        out.rows.extend(aggregate::summarise(&events, &period)?);
        time(t, &format!("{period} review chain"), "reviews.rs", "");
        out.notes
            .extend(apply_population(&mut out.rows, &population, year)?);
    }
    // Measures the data can't support are absent, never zero. A rate's NONE row would add up
    // unlike counts: rates exist only per count.
    out.rows.retain(|r| {
        !out.not_measurable.contains_key(&r.measure_id)
            && !(r.measure_id == "rate_per_10k" && r.breakdown == "NONE")
    });
    sort_rows(&mut out.rows);
    Ok(out)
}

/// One statement of the query files, with what the run needs to know about it.
struct PlannedStatement {
    file: &'static str,
    unbound: String,
    /// The view a `CREATE TABLE` makes.
    created: Option<String>,
    /// Reads the year's parameters, directly or through a per-year view.
    per_year: bool,
    /// A view read more than once in the run: collected into a frame (else left lazy, computed
    /// within the one statement that reads it).
    materialise: bool,
}

/// The statements of [`QUERY_FILES`] in order, which views each year must compute, and when a
/// view is last read.
struct RunPlan {
    statements: Vec<PlannedStatement>,
    /// After statement i no later statement of the year reads these views.
    done_after: Vec<Vec<String>>,
    /// Year-independent views that a per-year statement reads (needed again in each year).
    read_every_year: HashSet<String>,
}

impl RunPlan {
    fn new(years: &[FinYear], reference: NaiveDate) -> RunPlan {
        let any_year = years.first().copied().unwrap_or(FinYear(2000));
        let mut planned = vec![];
        let mut words: Vec<HashSet<String>> = vec![];
        // `params` and the views that read it. A statement that reads only `p.reference_date`
        // (the same in every year) is bound to a literal and so is year-independent.
        let mut per_year_views: HashSet<String> = ["params".to_string()].into();
        for (file, sql) in QUERY_FILES {
            for unbound in statements(sql) {
                let bound = bind_params(&unbound, any_year, reference);
                let created = created_table(&unbound);
                let per_year = bound.year_dependent
                    || identifiers(&bound.sql).any(|w| per_year_views.contains(&w));
                if let (true, Some(name)) = (per_year, &created) {
                    per_year_views.insert(name.clone());
                }
                words.push(identifiers(&unbound).collect());
                planned.push(PlannedStatement {
                    file,
                    unbound,
                    created,
                    per_year,
                    materialise: false,
                });
            }
        }
        let mut statements = planned;
        let mut done_after = vec![vec![]; statements.len()];
        let mut read_every_year = HashSet::new();
        for i in 0..statements.len() {
            let Some(name) = statements[i].created.clone() else {
                continue;
            };
            let readers: Vec<usize> = (i + 1..statements.len())
                .filter(|&j| words[j].contains(&name))
                .collect();
            // How many times the view is read in the whole run: a per-year statement reads it
            // in every year, a year-independent one once.
            let reads: usize = readers
                .iter()
                .map(
                    |&j| match (statements[i].per_year, statements[j].per_year) {
                        (false, true) => years.len(),
                        _ => 1,
                    },
                )
                .sum();
            statements[i].materialise = reads >= 2;
            if !statements[i].per_year && readers.iter().any(|&j| statements[j].per_year) {
                read_every_year.insert(name.clone());
            }
            done_after[readers.last().copied().unwrap_or(i)].push(name);
        }
        RunPlan {
            statements,
            done_after,
            read_every_year,
        }
    }
}

/// A store table for the SQL: a lazy scan of only the columns whose names occur in the SQL
/// (`words`: every word of the query files outside comments and string literals). The bookkeeping
/// columns (`source_hash`, `source_file`, `source_pos`, `dq_flags`, ...) and unused ones are
/// never read, and the views kept for the whole run (`referral_base` etc., built with `r.*`) hold
/// only what some query can name. A `*` reaches a measure's output columns only through
/// `cdop_base`, which is not a store table.
fn table_scan(store: &Store, name: &str, words: &HashSet<String>) -> Result<LazyFrame> {
    let mut lf = store.scan(name)?;
    let used: Vec<Expr> = lf
        .collect_schema()?
        .iter_names()
        .filter(|c| words.contains(&c.to_ascii_lowercase()))
        .map(|c| col(c.clone()))
        .collect();
    if std::env::var_os("SAFEGUARD_TIMING").is_some_and(|v| v == "plans") {
        eprintln!("=== {name}: {used:?}");
    }
    // A table the SQL names no column of is left whole (never read unless a query names it).
    Ok(if used.is_empty() { lf } else { lf.select(used) })
}

/// queries/data_quality.sql, run on the last year's context.
const DATA_QUALITY_SQL: &str = include_str!("../../queries/data_quality.sql");

/// Runs queries/data_quality.sql: each SELECT gives (subject, reason, rows).
fn data_quality_counts(ctx: &mut SQLContext) -> Result<Vec<(String, String, u64)>> {
    let mut out = vec![];
    for stmt in statements(DATA_QUALITY_SQL) {
        let stmt = infallible_casts(&stmt);
        let df = ctx
            .execute(&stmt)
            .and_then(|lf| lf.collect())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("queries/data_quality.sql: {}", first_line(&stmt)))?;
        let subject = df.column("subject")?.str()?.clone();
        let reason = df.column("reason")?.str()?.clone();
        let rows = df.column("rows")?.cast(&DataType::UInt64)?;
        for ((s, r), n) in subject.iter().zip(reason.iter()).zip(rows.u64()?.iter()) {
            if let (Some(s), Some(r), Some(n)) = (s, r, n) {
                if n > 0 {
                    out.push((s.to_string(), r.to_string(), n));
                }
            }
        }
    }
    Ok(out)
}

/// Writes the year's parameters into a statement that reads them through `CROSS JOIN params p`:
/// each `p.period_start`, `p.period_end`, `p.reference_date`, `p.as_at` outside a JOIN's ON
/// condition becomes a date literal (and the cross join goes when nothing else reads `p`). The
/// same rows result (`params` is one row), but Polars otherwise turns the cross join and a range
/// predicate on it into an inequality join that sorts the whole table, where a literal range is
/// a filter pushed down to the scan.
fn bind_params(stmt: &str, year: FinYear, reference: NaiveDate) -> Bound {
    const CROSS: &str = "CROSS JOIN params p";
    if !stmt.contains(CROSS) {
        return Bound {
            sql: stmt.to_string(),
            year_dependent: false,
        };
    }
    let date = |d: NaiveDate| format!("CAST({} AS DATE)", epoch_days(d));
    let values = [
        ("period_start", date(year.start())),
        ("period_end", date(year.end())),
        ("reference_date", date(reference)),
        ("as_at", date(reference.min(year.end()))),
    ];
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(stmt.len() + 256);
    let mut rest = stmt;
    let mut all_bound = true;
    let mut year_dependent = false;
    // The clause being read: a `p.` in a JOIN's ON condition is left for the join.
    let mut in_on = false;
    while let Some(i) = rest.find("p.") {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        for w in before.split(|c: char| !word(c)) {
            match w.to_ascii_uppercase().as_str() {
                "ON" => in_on = true,
                "SELECT" | "FROM" | "JOIN" | "WHERE" | "GROUP" | "UNION" | "ORDER" => in_on = false,
                _ => {}
            }
        }
        let after = &at[2..];
        let name_len = after.find(|c: char| !word(c)).unwrap_or(after.len());
        let starts_word = !out.chars().next_back().is_some_and(word);
        match values.iter().find(|(n, _)| *n == &after[..name_len]) {
            Some((n, v)) if starts_word && !in_on => {
                year_dependent |= *n != "reference_date";
                out.push_str(v);
                rest = &after[name_len..];
            }
            _ => {
                if starts_word {
                    all_bound = false; // a `p.` we do not know: keep the cross join
                }
                out.push_str("p.");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if all_bound {
        out = out.replace(CROSS, "");
    }
    Bound {
        sql: out,
        year_dependent: year_dependent || !all_bound,
    }
}

/// Writes `CAST(t.c AS DATE)` as `TRY_CAST(t.c AS DATE)` where `c` is a date or datetime column
/// of the store (`received_at`, `decision_at`, ...): the same values (a datetime always has a
/// date), but Polars takes a strict cast for one that may fail and will not push a filter on it
/// below a projection or join. A filter such as `CAST(c.decision_at AS DATE) BETWEEN ...` then
/// stayed above the calendar joins, which joined all 9M contacts of a national store.
fn infallible_casts(stmt: &str) -> String {
    let dated = |name: &str| {
        let mut kinds = schema::TABLES
            .iter()
            .flat_map(|t| t.columns)
            .filter(|c| c.name == name)
            .map(|c| c.kind);
        let mut any = false;
        let all = kinds.all(|k| {
            any = true;
            matches!(k, schema::Kind::Date | schema::Kind::DateTime)
        });
        any && all
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(stmt.len() + 64);
    let mut rest = stmt;
    while let Some(i) = rest.find("CAST(") {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        let inner = &at[5..];
        let close = inner.find(')').unwrap_or(0);
        let operand = inner[..close].strip_suffix(" AS DATE").unwrap_or("");
        let column = operand.rsplit('.').next().unwrap_or("");
        let simple = !operand.is_empty() && operand.chars().all(|c| word(c) || c == '.');
        if !before.ends_with(word) && simple && dated(column) {
            out.push_str("TRY_");
        }
        out.push_str("CAST(");
        rest = inner;
    }
    out.push_str(rest);
    out
}

/// A statement with the year's parameters bound ([`bind_params`]).
struct Bound {
    sql: String,
    /// It read a parameter other than `reference_date` (or still reads `params`): its result
    /// differs between years. (The reference date is the same for every year of a run.)
    year_dependent: bool,
}

/// The table a `CREATE TABLE name AS ...` statement makes (lower case), if it is one.
fn created_table(stmt: &str) -> Option<String> {
    let mut words = stmt.split_whitespace();
    let (c, t, name) = (words.next()?, words.next()?, words.next()?);
    (c.eq_ignore_ascii_case("CREATE") && t.eq_ignore_ascii_case("TABLE"))
        .then(|| name.to_ascii_lowercase())
}

/// The words of a SQL statement (lower case), for the view dependency check.
fn identifiers(stmt: &str) -> impl Iterator<Item = String> + '_ {
    stmt.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

fn first_line(stmt: &str) -> String {
    stmt.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .chars()
        .take(80)
        .collect()
}

/// `rate_per_10k`: the rows counted per LA get the LA's 0-17 population as denominator and a
/// value per 10,000 (the partnership's is the sum of its LAs'). Returns the summary note.
fn apply_population(
    rows: &mut [MeasureRow],
    population: &DataFrame,
    year: FinYear,
) -> Result<Vec<String>> {
    let mut pop: BTreeMap<String, (i64, i64)> = BTreeMap::new(); // la -> (year, age_0_17)
    if population.height() > 0 {
        let las = population.column("la_code")?.str()?.clone();
        let yrs = population.column("year")?.cast(&DataType::Int64)?;
        let n = population.column("age_0_17")?.cast(&DataType::Int64)?;
        for ((la, y), n) in las.iter().zip(yrs.i64()?.iter()).zip(n.i64()?.iter()) {
            let (Some(la), Some(y), Some(n)) = (la, y, n) else {
                continue;
            };
            if y > year.0 as i64 {
                continue;
            }
            let e = pop.entry(la.to_string()).or_insert((y, n));
            if y > e.0 {
                *e = (y, n);
            }
        }
    }
    let total: i64 = pop.values().map(|v| v.1).sum();
    let mut notes = vec![];
    for (la, (y, n)) in &pop {
        notes.push(format!(
            "{year}: population of LA {la}: {n} children aged 0-17 (mid-{y})"
        ));
    }
    let period = year.to_string();
    for r in rows
        .iter_mut()
        .filter(|r| r.measure_id == "rate_per_10k" && r.period == period)
    {
        if r.breakdown == "NONE" {
            continue;
        }
        let p = if r.la_code == ALL {
            total
        } else {
            pop.get(&r.la_code).map_or(0, |v| v.1)
        };
        r.denominator = p as f64;
        r.value = (p > 0).then(|| r.numerator / p as f64 * 10_000.0);
    }
    Ok(notes)
}

fn sort_rows(rows: &mut [MeasureRow]) {
    let order = |m: &str| CATALOGUE.iter().position(|c| *c == m).unwrap_or(usize::MAX);
    rows.sort_by(|a, b| {
        (
            order(&a.measure_id),
            &a.period,
            a.la_code != ALL,
            &a.la_code,
            a.breakdown != "NONE",
            &a.breakdown,
            &a.breakdown_value,
        )
            .cmp(&(
                order(&b.measure_id),
                &b.period,
                b.la_code != ALL,
                &b.la_code,
                b.breakdown != "NONE",
                &b.breakdown,
                &b.breakdown_value,
            ))
    });
}
