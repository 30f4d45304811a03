//! `safeguard synth`: a seeded, deterministic generator of a realistic but entirely FICTIONAL
//! safeguarding partnership: its LAs' front door, early help, referrals, assessments, s47 enquiries,
//! conferences, CP plans and reviews, its CDOP's child death reviews, and population estimates, as the
//! canonical CSV tables of data-contract.md section 3 and/or as DfE CIN census XML returns.
//!
//! The same options always give byte-identical files. Generation streams LA by LA and child by child
//! (per-child state only), writing rows straight to buffered writers, so a national-size year
//! (650,000 referrals over 150 LAs) runs in bounded memory.
//!
//! What is written:
//! - The window is `years` financial years from 1 April `first_year`; the reference (extract) date is
//!   the last 31 March. Nothing is dated after it: clocks still running then have no end yet. (The
//!   one exception is the expected `birth_month` of a child still unborn then, marked `unborn = Y`.)
//! - Journeys are simulated from three years before the window. A child is written when it has a
//!   record active in the window (a contact or referral received in it, an episode or early help open
//!   in it), with its records active in the 12 months before the window too, as a case-system extract
//!   of open cases with a year's look-back would have them: so re-referrals in the first year see
//!   their earlier referral, and plans open at the window start are there. That look-back year is
//!   partial (only children active later); measures should be read for the window's years. Plans
//!   before the look-back count only through `previous_plans`.
//! - The referral budget `referrals_per_year x years` is split between the LAs (random sizes) and is
//!   met (to within one child's referrals) by referrals received in the window. Besides ordinary
//!   children, ~1% of plan children move between two of the partnership's LAs (a plan ended
//!   `MOVED_LA`, then a transfer-in conference and plan in the other LA; such a child has one
//!   `children.csv` row per LA, same `child_id`), and the children known to services in the CDOP's
//!   reviews are generated to lead up to their deaths.
//! - Pre-proceedings (the CIN census module of 2026-27) are written for those begun on or after
//!   1 April 2026 (`pre_proceedings.rs`): a window ending before 2026-27 has none.
//! - `SynthFormat::Csv` writes the 13 canonical CSVs. `CinXml` writes one census file per LA per year
//!   (`cin_<la>_<yyyy>.xml`) plus the CSVs the census has no place for (`contacts.csv`,
//!   `early_help.csv`, `cdop_reviews.csv`, `cdop_factors.csv`, `population.csv`). `Both` writes all.

mod cdop;
mod cin_xml;
mod codes;
mod csv_out;
mod dates;
mod dist;
mod ids;
mod journey;
mod model;
mod population;
mod pre_proceedings;

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::calendar::Calendar;
use crate::error::UserError;
use crate::schema::{self, TableSpec};
use cin_xml::CinXmlLa;
use csv_out::CsvTables;
use dates::{Clock, Window};
use dist::{between, poisson, rng_for};
use journey::Gen;
use model::Child;

/// Output format of a synth run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynthFormat {
    /// The 13 canonical CSV tables.
    #[default]
    Csv,
    /// CIN census XML per LA per year, plus the non-census CSVs (see the module doc).
    CinXml,
    /// Everything.
    Both,
}

/// Options of a synth run.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Folder to write into (created if missing; existing files of the same names are replaced).
    pub out_dir: PathBuf,
    /// The partnership's LAs: (DfE three-digit la_code, name).
    pub las: Vec<(String, String)>,
    /// First financial year's starting calendar year (2021 => 2021-22).
    pub first_year: i32,
    /// Number of financial years.
    pub years: u32,
    /// Referrals received per year across the whole partnership (England: ~650,000 over 150 LAs).
    pub referrals_per_year: u64,
    pub seed: u64,
    /// Deaths a year notified to the partnership's CDOP.
    pub cdop_deaths_per_year: u32,
    pub format: SynthFormat,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            out_dir: PathBuf::from("synth"),
            las: vec![
                ("940".to_string(), "North Northamptonshire".to_string()),
                ("941".to_string(), "West Northamptonshire".to_string()),
            ],
            first_year: 2021,
            years: 4,
            referrals_per_year: 1_200,
            seed: 1,
            cdop_deaths_per_year: 60,
            format: SynthFormat::Csv,
            progress: false,
        }
    }
}

/// Distinct children written (`children.csv` rows) per year of referral budget: about
/// `referrals_per_year x (CHILDREN_PER_REFERRAL_YEAR x years + CHILDREN_EDGE_YEARS)`, measured on the
/// default two-LA partnership (1, 2 and 4 years). Children active in several years are counted once,
/// and the window's edges add children with open cases or contacts only, hence the affine form.
pub const CHILDREN_PER_REFERRAL_YEAR: f64 = 1.08;
/// See [`CHILDREN_PER_REFERRAL_YEAR`].
pub const CHILDREN_EDGE_YEARS: f64 = 1.35;

impl SynthOptions {
    /// The same options sized to about `children` distinct children in total (`children.csv` rows,
    /// including those known only through contacts) for `self.years`:
    /// `referrals_per_year = children / (CHILDREN_PER_REFERRAL_YEAR x years + CHILDREN_EDGE_YEARS)`,
    /// at least 1. The result is within a few percent of `children` (set `years` first).
    pub fn for_children(mut self, children: u64) -> SynthOptions {
        let years = self.years.max(1) as f64;
        let per_budget_year = CHILDREN_PER_REFERRAL_YEAR * years + CHILDREN_EDGE_YEARS;
        self.referrals_per_year = ((children as f64 / per_budget_year).round() as u64).max(1);
        self
    }

    /// The same options with `n` LAs (the CLI's `--las N`): the first of the two default
    /// Northamptonshire LAs for `n = 1`, both for `n = 2`, and for `n >= 3` fictional LAs numbered
    /// `701`, `702`, ... named `Synthetic LA 701`, ... (at most 255).
    pub fn with_la_count(mut self, n: u32) -> SynthOptions {
        self.las = match n {
            0 | 1 => vec![("940".to_string(), "North Northamptonshire".to_string())],
            2 => SynthOptions::default().las,
            _ => (0..n.min(255))
                .map(|i| (format!("{}", 701 + i), format!("Synthetic LA {}", 701 + i)))
                .collect(),
        };
        self
    }
}

/// What a synth run wrote.
#[derive(Debug, Clone)]
pub struct SynthSummary {
    /// Every file written with its data rows (for XML files: children).
    pub files: Vec<(PathBuf, u64)>,
    /// The data's reference date (31 March of the last year).
    pub reference_date: NaiveDate,
    /// 1 April of the first year.
    pub window_start: NaiveDate,
    /// Referrals received in the window (the budget, met to within one child's referrals).
    pub referrals_in_window: u64,
    /// Children written, one per child per LA it appears in (the `children.csv` rows when CSVs are
    /// written).
    pub children: u64,
    /// CDOP cases written.
    pub cdop_cases: u64,
}

/// Mean number of contact-only children per referred child (front door volume ~2.5 contacts per
/// referral).
const CONTACT_ONLY_PER_REFERRED_CHILD: f64 = 1.0;
/// Movers per in-window referral (~11% of referrals lead to a plan; ~1% of those move).
const MOVERS_PER_REFERRAL: f64 = 0.0011;

/// The most financial years a run may span (the calendar allows 1994-2035).
pub const MAX_YEARS: u32 = 40;
/// The most referrals a year (England has about 650,000).
pub const MAX_REFERRALS_PER_YEAR: u64 = 5_000_000;
/// The most child deaths a year (England has about 3,500).
pub const MAX_DEATHS_PER_YEAR: u32 = 100_000;
/// The simulation's window: journeys start three years before the first year and the calendar
/// (1990-2040) must cover them and the last year's follow-up.
pub const FIRST_SIMULATED_YEAR: i32 = 1994;
pub const LAST_SIMULATED_YEAR: i32 = 2035;

/// Checks the options: every problem is a user error (exit 1) naming the argument.
pub fn validate(opts: &SynthOptions) -> Result<()> {
    let err = |m: String| -> anyhow::Error { UserError::Message(m).into() };
    if opts.las.is_empty() {
        return Err(err("synth needs at least one LA".into()));
    }
    if opts.las.len() > 255 {
        return Err(err(format!(
            "--la: synth supports at most 255 LAs, got {}",
            opts.las.len()
        )));
    }
    let mut seen = HashSet::new();
    for (code, _) in &opts.las {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "--la: {code:?} is not a DfE three-digit LA number"
            )));
        }
        if !seen.insert(code) {
            return Err(err(format!("--la: la_code {code} is given twice")));
        }
    }
    if opts.years == 0 || opts.years > MAX_YEARS {
        return Err(err(format!(
            "--years {}: give 1 to {MAX_YEARS} financial years",
            opts.years
        )));
    }
    let last = i32::try_from(opts.years)
        .ok()
        .and_then(|y| opts.first_year.checked_add(y));
    if opts.first_year < FIRST_SIMULATED_YEAR || last.is_none_or(|l| l > LAST_SIMULATED_YEAR) {
        return Err(err(format!(
            "--first-year {} with --years {}: the years simulated must lie in {FIRST_SIMULATED_YEAR}-{LAST_SIMULATED_YEAR} (the calendar covers 1990-2040 and journeys start three years early), so --first-year must be at least {FIRST_SIMULATED_YEAR} and --first-year + --years at most {LAST_SIMULATED_YEAR}",
            opts.first_year, opts.years
        )));
    }
    if opts.referrals_per_year == 0 || opts.referrals_per_year > MAX_REFERRALS_PER_YEAR {
        return Err(err(format!(
            "--referrals-per-year {} (or --children): give 1 to {MAX_REFERRALS_PER_YEAR} referrals a year",
            opts.referrals_per_year
        )));
    }
    if opts.cdop_deaths_per_year > MAX_DEATHS_PER_YEAR {
        return Err(err(format!(
            "--deaths-per-year {}: give at most {MAX_DEATHS_PER_YEAR}",
            opts.cdop_deaths_per_year
        )));
    }
    Ok(())
}

/// Relative size of each LA (the same for a given seed and number of LAs).
fn la_weights(seed: u64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let mut rng = rng_for(seed ^ 0x1A5, i as u64);
            between(&mut rng, 700, 1300) as f64 / 1000.0
        })
        .collect()
}

/// The tables written as CSV: all of them, or with CIN census XML those the census does not
/// carry.
fn selected_tables(format: SynthFormat) -> Vec<&'static TableSpec> {
    match format {
        SynthFormat::Csv | SynthFormat::Both => schema::TABLES.to_vec(),
        SynthFormat::CinXml => vec![
            &schema::CONTACTS,
            &schema::EARLY_HELP,
            &schema::CDOP_REVIEWS,
            &schema::CDOP_FACTORS,
            &schema::POPULATION,
        ],
    }
}

/// Writes one child's LA part (if active in the window) to the CSVs and the LA's census files.
struct Emitter<'a> {
    win: &'a Window,
    clock: Clock<'a>,
    csv: &'a mut CsvTables,
    children: u64,
}

impl Emitter<'_> {
    /// Returns whether the child was written.
    fn emit(
        &mut self,
        child: &Child,
        la: u16,
        la_code: &str,
        xml: Option<&mut CinXmlLa>,
    ) -> Result<bool> {
        if !child.has_la(la) || !(child.force_write || child.active_in(la, self.win.start)) {
            return Ok(false);
        }
        // A child linked from a CDOP review keeps its whole history (its referral before death).
        let keep_from = if child.force_write {
            self.win.sim_start
        } else {
            self.win.history_start
        };
        self.csv
            .write_child(child, la, la_code, keep_from, self.win.reference)?;
        if let Some(x) = xml {
            x.write_child(child, la, self.clock)?;
        }
        self.children += 1;
        Ok(true)
    }
}

/// Generates the partnership described by `opts` into `opts.out_dir`.
pub fn run(opts: &SynthOptions) -> Result<SynthSummary> {
    validate(opts)?;
    // The schema declares the codes; a code here that it does not list is a bug (exit 2).
    codes::check_against_schema().map_err(anyhow::Error::msg)?;
    crate::csv_out::writable_dir(&opts.out_dir)?;
    let win = Window::new(opts.first_year, opts.years)?;
    let cal = Calendar::england_and_wales();
    let clock = Clock { cal: &cal };
    let g = Gen {
        clock,
        win: &win,
        seed: opts.seed,
    };
    let n = opts.las.len();
    let la_codes: Vec<String> = opts.las.iter().map(|(c, _)| c.clone()).collect();

    let weights = la_weights(opts.seed, n);
    let total_w: f64 = weights.iter().sum();
    let budget_total = opts.referrals_per_year.saturating_mul(opts.years as u64);
    let targets: Vec<u64> = weights
        .iter()
        .map(|w| (budget_total as f64 * w / total_w).round() as u64)
        .collect();
    let movers: Vec<u64> = targets
        .iter()
        .map(|t| {
            if n < 2 || *t == 0 {
                0
            } else {
                ((*t as f64 * MOVERS_PER_REFERRAL).round() as u64).max(1)
            }
        })
        .collect();

    let deaths = cdop::generate(opts.seed, &win, &weights, opts.cdop_deaths_per_year)?;
    let links: Vec<journey::DeathLink> = deaths.iter().filter_map(|d| d.link()).collect();

    let selected = selected_tables(opts.format);
    let mut csv = CsvTables::create(&opts.out_dir, &selected)?;
    let write_xml = matches!(opts.format, SynthFormat::CinXml | SynthFormat::Both);
    let mut xml_files = Vec::new();

    let bar = if opts.progress {
        let b =
            ProgressBar::with_draw_target(Some(targets.iter().sum()), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} synth {msg:>6} [{bar:40}] {pos}/{len} referrals ({eta})",
        ) {
            b.set_style(style.progress_chars("=> "));
        }
        b
    } else {
        ProgressBar::hidden()
    };

    let mut referrals_in_window = 0u64;
    let mut em = Emitter {
        win: &win,
        clock,
        csv: &mut csv,
        children: 0,
    };
    for (la_idx, (la_code, _)) in opts.las.iter().enumerate() {
        let la = la_idx as u16;
        bar.set_message(la_code.clone());
        let mut xml = if write_xml {
            Some(CinXmlLa::create(&opts.out_dir, la_code, &win)?)
        } else {
            None
        };
        let mut la_rng = rng_for(opts.seed ^ 0xC0_47AC7, la as u64);

        // Movers out of this LA (their first part) and into it (their second part), and the
        // children known to services whose deaths the CDOP reviews; their referrals count towards
        // the LA's budget.
        let mut extra: Vec<Child> = Vec::new();
        for m in 0..movers[la_idx] {
            let dest = journey::mover_destination(opts.seed, la, m, n as u16);
            extra.push(journey::mover_child(&g, la, m, dest)?);
        }
        for (origin, &count) in movers.iter().enumerate() {
            let origin = origin as u16;
            if origin == la {
                continue;
            }
            for m in 0..count {
                if journey::mover_destination(opts.seed, origin, m, n as u16) == la {
                    extra.push(journey::mover_child(&g, origin, m, la)?);
                }
            }
        }
        for link in links.iter().filter(|l| l.la == la) {
            extra.push(journey::death_linked_child(&g, link)?);
        }
        let mut count = 0u64;
        for child in &extra {
            if em.emit(child, la, la_code, xml.as_mut())? {
                count += journey::referrals_in_window(child, la, &win);
            }
        }
        bar.inc(count);

        // Referred children until the LA's budget is met, each followed by some contact-only ones.
        let (mut idx, mut co_idx) = (0u64, 0u64);
        while count < targets[la_idx] {
            let child = journey::referred_child(&g, la, idx)?;
            idx += 1;
            let c = journey::referrals_in_window(&child, la, &win);
            count += c;
            bar.inc(c);
            em.emit(&child, la, la_code, xml.as_mut())?;
            for _ in 0..poisson(&mut la_rng, CONTACT_ONLY_PER_REFERRED_CHILD, 8) {
                let child = journey::contact_only_child(&g, la, co_idx)?;
                co_idx += 1;
                em.emit(&child, la, la_code, xml.as_mut())?;
            }
        }
        referrals_in_window += count;

        if let Some(x) = xml {
            xml_files.extend(x.finish()?);
        }
    }
    let children = em.children;
    bar.finish_and_clear();

    let code = cdop::cdop_code(&opts.las[0].1);
    cdop::write(&deaths, opts.seed, &code, &la_codes, &mut csv)?;
    let pops: Vec<population::LaPopulation> = opts
        .las
        .iter()
        .enumerate()
        .map(|(i, (c, _))| population::LaPopulation {
            la_code: c,
            la_index: i as u16,
            referrals_per_year: targets[i] as f64 / opts.years as f64,
        })
        .collect();
    population::write(opts.seed, &pops, opts.first_year, opts.years, &mut csv)?;

    let mut files = csv.finish()?;
    files.extend(xml_files);
    Ok(SynthSummary {
        files,
        reference_date: win.reference,
        window_start: win.start,
        referrals_in_window,
        children,
        cdop_cases: deaths.len() as u64,
    })
}
