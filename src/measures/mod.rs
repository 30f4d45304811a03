//! `safeguard measures`: every measure of the catalogue (`queries/catalogue.toml`; measures.md
//! section 3 and cdop.md), for the partnership and each LA, as one tidy table.
//!
//! The catalogue ([`catalogue`]) lists the measures and the SQL files that define them, run by
//! the Polars SQL engine over the store; each SELECT returns event rows that [`aggregate`] sums
//! into numerators and denominators. Working days come from a precomputed calendar table (a
//! working-day ordinal per date), so `wd(a, b)` is a subtraction. Review timeliness, a chain
//! SQL cannot express clearly, is in [`reviews`].
//!
//! For speed at national scale ([`compute`]): each store table is scanned with only the columns
//! the SQL names; the year's parameters are bound as literals ([`sql::bind_params`]); a view that
//! does not depend on the year is computed once per run, a view read by several statements is
//! materialised and let go after its last reader (`RunPlan`). `SAFEGUARD_TIMING=1` prints each
//! statement's time on stderr (`=plans` adds the optimised plans).

pub mod aggregate;
pub mod catalogue;
pub mod reviews;
pub mod sql;

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::calendar::{Calendar, FIRST_DATE, LAST_DATE};
use crate::dates::epoch_days;
use crate::period::{FinYear, Reference};
use crate::schema;
use crate::store::Store;
pub use aggregate::{MeasureRow, ALL};
pub use catalogue::{catalogue, Catalogue};

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

/// The calendar as a table: every date of the covered range with its working-day ordinal.
pub fn calendar_frame(cal: &Calendar) -> Result<DataFrame> {
    let mut dates = vec![];
    let mut wds = vec![];
    let mut d = FIRST_DATE;
    while d <= LAST_DATE {
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

/// Computes every measure of the catalogue for each of `years`, at the data's reference date.
pub fn compute(
    store: &Store,
    cal: &Calendar,
    years: &[FinYear],
    at: &Reference,
) -> Result<MeasuresOutput> {
    let cat = catalogue()?;
    let reference = at.date;
    let mut out = MeasuresOutput {
        reference_date: Some(reference),
        reference_source: at.source.clone(),
        not_measurable: catalogue::not_measurable(cat, store)?,
        ..Default::default()
    };
    let calendar = calendar_frame(cal)?;
    let population = store.read_table("population")?;
    // The review chain's measure (if the catalogue has it) and its inputs, read once for every
    // year, with only the columns it uses.
    let review_measure = cat.rust_measure("review_chain");
    let (plans, revs) = match review_measure {
        Some(_) => (
            store
                .scan("cp_plans")?
                .select(
                    reviews::PLAN_COLUMNS
                        .iter()
                        .map(|c| col(*c))
                        .collect::<Vec<_>>(),
                )
                .collect()?,
            store
                .scan("cp_reviews")?
                .select(
                    reviews::REVIEW_COLUMNS
                        .iter()
                        .map(|c| col(*c))
                        .collect::<Vec<_>>(),
                )
                .collect()?,
        ),
        None => (DataFrame::empty(), DataFrame::empty()),
    };
    // The CDOP deaths with their age band by birthday etc. (src/cdop/cases.rs), for cdop.sql.
    let cdop_base = crate::cdop::base_from_reviews(&store.read_table("cdop_reviews")?)?;
    // The words of the SQL outside comments and string literals: every column it can name.
    let sql_words: HashSet<String> = cat
        .files
        .iter()
        .chain([&cat.data_quality])
        .flat_map(|f| &f.statements)
        .flat_map(|st| sql::identifiers(&st.text).collect::<Vec<_>>())
        .collect();
    let tables = schema::TABLES
        .iter()
        .map(|spec| Ok((spec.name, table_scan(store, spec.name, &sql_words)?)))
        .collect::<Result<Vec<_>>>()?;
    let plan = RunPlan::new(cat, years, reference);
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
                sql::first_line(stmt)
            );
        }
    };
    let origin = cat.origin.display().to_string();
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
        let mut summary = aggregate::Summary::new();
        for (i, st) in plan.statements.iter().enumerate() {
            let file = format!("{origin}/{}", st.file);
            let stmt = sql::infallible_casts(&sql::bind_params(&st.unbound, year, reference).sql);
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
                .with_context(|| format!("{file}: {}", sql::first_line(&stmt)))
                .map_err(|e| cat.fault(e))?;
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
                        .with_context(|| format!("{file}: {}", sql::first_line(&stmt)))
                        .map_err(|e| cat.fault(e))?;
                    let what = format!(
                        "{} {name}: {} rows x {} cols, {} MB",
                        if st.per_year { "per-year" } else { "kept" },
                        df.height(),
                        df.width(),
                        df.estimated_size() >> 20
                    );
                    time(t, &what, &file, &stmt);
                    ctx.register(name, df.clone().lazy());
                    Some(df)
                } else {
                    None
                };
                if !st.per_year {
                    kept_views.insert(name.clone(), df);
                }
            } else if let Some(id) = &st.measure {
                if show_plans {
                    eprintln!(
                        "=== {file}: {}\n{}",
                        sql::first_line(&stmt),
                        lf.explain(true)?
                    );
                }
                let df = lf
                    .collect()
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("{file}: {}", sql::first_line(&stmt)))
                    .map_err(|e| cat.fault(e))?;
                time(t, &format!("{period} select"), &file, &stmt);
                let t = std::time::Instant::now();
                let measure = cat
                    .measure(id)
                    .expect("checked when the catalogue was loaded");
                summary
                    .add(&df, measure, &format!("{file}: {}", sql::first_line(&stmt)))
                    .map_err(|e| cat.fault(e))?;
                time(t, &format!("{period} summarise"), &file, &stmt);
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
            out.data_quality = data_quality_counts(&mut ctx, cat)?;
            time(t, "data quality", &cat.data_quality.name, "");
        }
        if let Some(measure) = review_measure {
            let t = std::time::Instant::now();
            let until = year.end().max(reference);
            if chains.as_ref().is_none_or(|(u, _)| *u != until) {
                chains = Some((until, reviews::plan_chains(&plans, &revs, until)?));
            }
            let events = reviews::events_from_chains(
                &measure.id,
                &chains.as_ref().expect("just made").1,
                year.start(),
                year.end(),
                reference,
            )?;
            summary.add(&events, measure, "src/measures/reviews.rs")?;
            time(t, &format!("{period} review chain"), "reviews.rs", "");
        }
        out.rows.extend(summary.rows(&period, cat));
        out.notes
            .extend(apply_population(&mut out.rows, &population, year, cat)?);
    }
    // A measure with a first year (`since`) is not measurable in the years before it: "not
    // measurable" when every year asked is before it, else a note naming those years.
    let mut before_since: HashSet<(String, String)> = HashSet::new();
    for m in &cat.measures {
        let Some(since) = &m.since else { continue };
        let early: Vec<String> = years
            .iter()
            .filter(|y| **y < since.first())
            .map(|y| y.to_string())
            .collect();
        if early.is_empty() {
            continue;
        }
        if early.len() == years.len() {
            out.not_measurable.insert(m.id.clone(), since.why());
        } else if !out.not_measurable.contains_key(&m.id) {
            out.notes
                .push(format!("{}: {}: {}", early.join(", "), m.id, since.why()));
        }
        before_since.extend(early.into_iter().map(|y| (m.id.clone(), y)));
    }
    // Measures the data can't support are absent, never zero. A rate's NONE row would add up
    // unlike counts: rates exist only per count.
    out.rows.retain(|r| {
        let unsupported = out.not_measurable.contains_key(&r.measure_id)
            || before_since.contains(&(r.measure_id.clone(), r.period.clone()));
        let rate_none =
            r.breakdown == "NONE" && cat.measure(&r.measure_id).is_some_and(|m| m.rate.is_some());
        !(unsupported || rate_none)
    });
    sort_rows(&mut out.rows, cat);
    Ok(out)
}

/// One statement of the query files, with what the run needs to know about it.
struct PlannedStatement {
    file: String,
    unbound: String,
    /// The view a `CREATE TABLE` makes.
    created: Option<String>,
    /// The measure a SELECT computes.
    measure: Option<String>,
    /// Reads the year's parameters, directly or through a per-year view.
    per_year: bool,
    /// A view read more than once in the run: collected into a frame (else left lazy, computed
    /// within the one statement that reads it).
    materialise: bool,
}

/// The statements of the catalogue's files in order, which views each year must compute, and
/// when a view is last read.
struct RunPlan {
    statements: Vec<PlannedStatement>,
    /// After statement i no later statement of the year reads these views.
    done_after: Vec<Vec<String>>,
    /// Year-independent views that a per-year statement reads (needed again in each year).
    read_every_year: HashSet<String>,
}

impl RunPlan {
    fn new(cat: &Catalogue, years: &[FinYear], reference: NaiveDate) -> RunPlan {
        let any_year = years.first().copied().unwrap_or(FinYear(2000));
        let mut planned = vec![];
        let mut words: Vec<HashSet<String>> = vec![];
        // `params` and the views that read it. A statement that reads only `p.reference_date`
        // (the same in every year) is bound to a literal and so is year-independent.
        let mut per_year_views: HashSet<String> = ["params".to_string()].into();
        for f in &cat.files {
            for st in &f.statements {
                let unbound = st.text.clone();
                let bound = sql::bind_params(&unbound, any_year, reference);
                let created = sql::created_table(&unbound);
                let per_year = bound.year_dependent
                    || sql::identifiers(&bound.sql).any(|w| per_year_views.contains(&w));
                if let (true, Some(name)) = (per_year, &created) {
                    per_year_views.insert(name.clone());
                }
                words.push(sql::identifiers(&unbound).collect());
                planned.push(PlannedStatement {
                    file: f.name.clone(),
                    unbound,
                    created,
                    measure: st.measure.clone(),
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

/// The catalogue's data-quality file (queries/data_quality.sql), run on the last year's
/// context: each SELECT gives (subject, reason, rows).
fn data_quality_counts(
    ctx: &mut SQLContext,
    cat: &Catalogue,
) -> Result<Vec<(String, String, u64)>> {
    let mut out = vec![];
    let file = format!("{}/{}", cat.origin.display(), cat.data_quality.name);
    for st in &cat.data_quality.statements {
        let stmt = sql::infallible_casts(&st.text);
        let df = ctx
            .execute(&stmt)
            .and_then(|lf| lf.collect())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{file}: {}", sql::first_line(&stmt)))
            .map_err(|e| cat.fault(e))?;
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

/// The rate measures (`rate = { denominator = "population_0_17", per = N }` in the catalogue:
/// `rate_per_10k`): the rows counted per LA get the LA's 0-17 population as denominator and a
/// value per N (the partnership's is the sum of its LAs'). Returns the summary notes.
fn apply_population(
    rows: &mut [MeasureRow],
    population: &DataFrame,
    year: FinYear,
    cat: &Catalogue,
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
    for r in rows.iter_mut().filter(|r| r.period == period) {
        let Some(rate) = cat.measure(&r.measure_id).and_then(|m| m.rate.as_ref()) else {
            continue;
        };
        if r.breakdown == "NONE" {
            continue;
        }
        let p = if r.la_code == ALL {
            total
        } else {
            pop.get(&r.la_code).map_or(0, |v| v.1)
        };
        r.denominator = p as f64;
        r.value = (p > 0).then(|| r.numerator / p as f64 * f64::from(rate.per));
    }
    Ok(notes)
}

fn sort_rows(rows: &mut [MeasureRow], cat: &Catalogue) {
    let positions: std::collections::HashMap<&str, usize> = cat
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let order = |m: &str| positions.get(m).copied().unwrap_or(usize::MAX);
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
