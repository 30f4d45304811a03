//! The measure catalogue, `queries/catalogue.toml`: the one list of every measure (id, title,
//! definition, the SQL file whose statement computes it, statutory source, polarity, unit, its
//! breakdown and distribution columns, what it needs from the store, whether it is a headline).
//! Everything else is derived from it: the statements that run and their order, how a
//! statement's columns are summed ([`super::aggregate`]), "not measurable" ([`not_measurable`]),
//! the report's summary table ([`Catalogue::headlines`]) and the output order.
//!
//! The catalogue and every `queries/*.sql` are compiled into the binary (`build.rs`); the
//! environment variable `SAFEGUARD_QUERIES=DIR` makes the run read them from DIR instead (a
//! partnership's own measures, or a test's). A catalogue that does not fit its SQL is refused
//! when it is loaded, naming the file, and the line where one is known ([`load_from`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use polars::prelude::*;
use serde::Deserialize;

use super::sql;
use crate::error::UserError;
use crate::schema;
use crate::store::Store;

// The files of queries/ as they were at build time: (file name, text).
include!(concat!(env!("OUT_DIR"), "/queries.rs"));

/// The catalogue's file name, in `queries/` or the `SAFEGUARD_QUERIES` folder.
pub const CATALOGUE_FILE: &str = "catalogue.toml";

/// Event-row columns every measure statement has; any other column must be declared.
pub const RESERVED: &[&str] = &["measure_id", "la_code", "outcome"];

/// What the numbers mean for the partnership: whether a higher value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    LowerIsBetter,
    HigherIsBetter,
    Neutral,
}

/// What a measure's `value` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// numerator / denominator, a fraction from 0 to 1.
    Proportion,
    /// numerator / children aged 0-17 x 10,000 (a `rate` measure).
    #[serde(rename = "per_10000_children")]
    Per10000Children,
}

/// The unit of a measure's `statistic` rows (p25, median, p75).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuartileUnit {
    WorkingDays,
    CalendarDays,
}

/// Where a measure comes from: the statutory or published text, with its edition and limit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// e.g. "Working Together to Safeguard Children", "Children in need statistics (DfE)",
    /// "project definition".
    pub document: String,
    pub edition: Option<String>,
    /// Chapter, paragraph or table.
    pub section: Option<String>,
    /// The limit or standard in the source's words, e.g. "1 working day".
    pub limit: Option<String>,
    /// Earlier editions and where the seeds hold their text.
    pub history: Option<String>,
}

/// A measure's place in the report's summary table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headline {
    /// Its row in the summary table (1 first).
    pub order: u32,
    /// The summary table's "Statutory limit" cell, as printed (empty: none).
    #[serde(default)]
    pub limit_label: String,
}

/// The column whose p25, median and p75 (nearest rank, over the `met` and `counted` rows) become
/// the measure's `statistic` rows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quartiles {
    pub column: String,
    pub unit: QuartileUnit,
}

/// A rate: the numerator per LA over a population, times `per`; no `NONE` row (its rows count
/// different things, one per breakdown value).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub denominator: RateDenominator,
    pub per: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RateDenominator {
    /// The LA's children aged 0-17 in the population table: the row of the calendar year the
    /// reporting year starts in, else the latest earlier one; the partnership's is the sum.
    #[serde(rename = "population_0_17")]
    Population0To17,
}

/// One measure of the catalogue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub id: String,
    /// Plain words, as the report's summary table shows a headline.
    pub title: String,
    /// Numerator / denominator in words (measures.md section 3).
    pub definition: String,
    /// The SQL file whose SELECT statements naming `'<id>' AS measure_id` compute it.
    pub sql: Option<String>,
    /// Or a computation in Rust: `review_chain` (src/measures/reviews.rs).
    pub rust: Option<String>,
    pub source: Source,
    pub polarity: Polarity,
    /// One line: why that polarity.
    pub polarity_reason: String,
    pub unit: Unit,
    /// Columns that split the fraction: numerator and denominator both within the value.
    #[serde(default)]
    pub breakdowns: Vec<String>,
    /// Columns that are distributions: numerator = rows with the value, denominator = all rows
    /// counted (the measure's `NONE` denominator).
    #[serde(default)]
    pub distributions: Vec<String>,
    pub quartiles: Option<Quartiles>,
    /// What it needs from the store (`[[need]]` entries): when one is missing it is "not
    /// measurable" with that need's reason, never a zero.
    #[serde(default)]
    pub needs: Vec<String>,
    /// The needs are checked only when this table has rows.
    pub needs_only_when: Option<String>,
    pub headline: Option<Headline>,
    pub rate: Option<Rate>,
    /// The first reporting year the measure exists (a census module, a new duty): a year before
    /// it is "not measurable" with the reason, never a zero.
    pub since: Option<Since>,
}

/// A measure's first reporting year and why there is none before it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Since {
    /// A financial year, e.g. `2026-27`.
    pub period: String,
    /// Why the years before it have no figure (shown after "not measurable before <period>: ").
    pub reason: String,
}

impl Since {
    /// The first year (checked when the catalogue is loaded).
    pub fn first(&self) -> super::FinYear {
        self.period
            .parse()
            .expect("since.period checked when the catalogue was loaded")
    }

    /// The words "not measurable" says for a year before it.
    pub fn why(&self) -> String {
        format!("not measurable before {}: {}", self.period, self.reason)
    }
}

/// A need's reason, shown when it is missing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// `table` (it has rows) or `table.column` (when the table has rows, one has a value).
    pub what: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueToml {
    files: Vec<String>,
    data_quality: String,
    #[serde(default, rename = "need")]
    needs: Vec<Need>,
    #[serde(rename = "measure")]
    measures: Vec<Measure>,
}

/// One statement of a SQL file.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The text as run (comments dropped; parameters not yet bound).
    pub text: String,
    /// The measure a SELECT computes (its `'<id>' AS measure_id`).
    pub measure: Option<String>,
}

/// A SQL file of the catalogue, split into statements.
#[derive(Debug, Clone)]
pub struct SqlFile {
    pub name: String,
    pub statements: Vec<Statement>,
}

/// The loaded catalogue with its SQL.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// In output order.
    pub measures: Vec<Measure>,
    pub needs: Vec<Need>,
    /// In run order.
    pub files: Vec<SqlFile>,
    pub data_quality: SqlFile,
    /// Where it was read from: `queries` (compiled in) or the `SAFEGUARD_QUERIES` folder.
    pub origin: PathBuf,
    /// Compiled in (a fault in it is internal), or the user's folder (a fault is theirs).
    pub embedded: bool,
}

impl Catalogue {
    pub fn measure(&self, id: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.id == id)
    }

    /// A measure's position in the output order (unknown ids last).
    pub fn position(&self, id: &str) -> usize {
        self.measures
            .iter()
            .position(|m| m.id == id)
            .unwrap_or(usize::MAX)
    }

    /// The headline measures in summary-table order.
    pub fn headlines(&self) -> Vec<&Measure> {
        let mut h: Vec<&Measure> = self
            .measures
            .iter()
            .filter(|m| m.headline.is_some())
            .collect();
        h.sort_by_key(|m| m.headline.as_ref().map_or(0, |h| h.order));
        h
    }

    /// An error met running this catalogue's SQL: the user's (exit 1, on one line) when the
    /// SQL is theirs (`SAFEGUARD_QUERIES`), else internal (exit 2).
    pub fn fault(&self, e: anyhow::Error) -> anyhow::Error {
        if self.embedded {
            return e;
        }
        let text = format!("{e:#}");
        let one_line: Vec<&str> = text.split_whitespace().collect();
        UserError::Message(one_line.join(" ")).into()
    }

    /// The measure computed by the named Rust computation, if the catalogue has one.
    pub fn rust_measure(&self, name: &str) -> Option<&Measure> {
        self.measures
            .iter()
            .find(|m| m.rust.as_deref() == Some(name))
    }
}

/// The Rust computations a measure can name with `rust = "..."`.
pub const RUST_COMPUTATIONS: &[&str] = &["review_chain"];

/// The catalogue of this run: the `SAFEGUARD_QUERIES` folder's when that is set, else the one
/// compiled in; loaded and checked once per process.
pub fn catalogue() -> Result<&'static Catalogue> {
    static CATALOGUE: OnceLock<std::result::Result<Catalogue, (bool, String)>> = OnceLock::new();
    let loaded = CATALOGUE.get_or_init(|| {
        let result = match std::env::var_os("SAFEGUARD_QUERIES") {
            Some(dir) => load_dir(Path::new(&dir)),
            None => load_embedded(),
        };
        result.map_err(|e| (crate::error::exit_code(&e) == 1, format!("{e:#}")))
    });
    match loaded {
        Ok(c) => Ok(c),
        Err((true, msg)) => Err(UserError::Message(msg.clone()).into()),
        Err((false, msg)) => Err(anyhow::anyhow!("{msg}")),
    }
}

/// The catalogue compiled into the binary. A fault in it is a build fault: an internal error.
pub fn load_embedded() -> Result<Catalogue> {
    let read = |name: &str| -> Option<String> {
        EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string())
    };
    let mut c = load_from(Path::new("queries"), &read).map_err(|e| anyhow::anyhow!("{e}"))?;
    c.embedded = true;
    Ok(c)
}

/// The catalogue and SQL of a folder (`SAFEGUARD_QUERIES`). A fault is the user's: exit 1.
pub fn load_dir(dir: &Path) -> Result<Catalogue> {
    if !dir.join(CATALOGUE_FILE).is_file() {
        return Err(UserError::file(
            dir,
            format!("SAFEGUARD_QUERIES: no {CATALOGUE_FILE} in this folder"),
        )
        .into());
    }
    let read = |name: &str| -> Option<String> { std::fs::read_to_string(dir.join(name)).ok() };
    Ok(load_from(dir, &read)?)
}

/// Reads and checks a catalogue, its SQL files read through `read` (None: no such file). The
/// error names the file (under `dir`) and, for TOML syntax, the line and column.
pub fn load_from(
    dir: &Path,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Catalogue, UserError> {
    let cat_path = dir.join(CATALOGUE_FILE);
    let text =
        read(CATALOGUE_FILE).ok_or_else(|| UserError::file(&cat_path, "cannot be read".into()))?;
    let toml: CatalogueToml = toml::from_str(&text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                UserError::at(&cat_path, &format!("{line}:{col}"), msg)
            }
            None => UserError::file(&cat_path, msg),
        }
    })?;
    let bad = |msg: String| UserError::file(&cat_path, msg);

    let read_sql = |name: &str| -> Result<SqlFile, UserError> {
        if !name.ends_with(".sql") || name.contains(['/', '\\']) {
            return Err(bad(format!(
                "'{name}' is not a file name of this folder ending .sql"
            )));
        }
        let text = read(name).ok_or_else(|| {
            UserError::file(
                &dir.join(name),
                "named in catalogue.toml but cannot be read".into(),
            )
        })?;
        let statements = sql::statements(&text)
            .into_iter()
            .map(|text| Statement {
                measure: None,
                text,
            })
            .collect();
        Ok(SqlFile {
            name: name.to_string(),
            statements,
        })
    };
    let mut files = vec![];
    for name in &toml.files {
        if files.iter().any(|f: &SqlFile| &f.name == name) {
            return Err(bad(format!("files: '{name}' is listed twice")));
        }
        files.push(read_sql(name)?);
    }
    let data_quality = read_sql(&toml.data_quality)?;

    // The needs.
    let mut needs_known = HashSet::new();
    for n in &toml.needs {
        let (table, column) = match n.what.split_once('.') {
            Some((t, c)) => (t, Some(c)),
            None => (n.what.as_str(), None),
        };
        let Some(spec) = schema::table(table) else {
            return Err(bad(format!("need '{}': no store table '{table}'", n.what)));
        };
        if let Some(c) = column {
            if !spec.columns.iter().any(|x| x.name == c) {
                return Err(bad(format!(
                    "need '{}': table {table} has no column '{c}'",
                    n.what
                )));
            }
        }
        if !needs_known.insert(n.what.clone()) {
            return Err(bad(format!("need '{}' is given twice", n.what)));
        }
    }

    // The measures.
    let mut ids = HashSet::new();
    let mut orders = HashMap::new();
    for m in &toml.measures {
        let id = &m.id;
        let ok_id = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok_id {
            return Err(bad(format!(
                "measure id '{id}': use lower case letters, digits and _"
            )));
        }
        if !ids.insert(id.clone()) {
            return Err(bad(format!("measure '{id}' is listed twice")));
        }
        let at = |msg: String| bad(format!("measure '{id}': {msg}"));
        match (&m.sql, &m.rust) {
            (Some(f), None) => {
                if !toml.files.contains(f) {
                    return Err(at(format!("sql = '{f}' is not one of `files`")));
                }
            }
            (None, Some(r)) => {
                if !RUST_COMPUTATIONS.contains(&r.as_str()) {
                    return Err(at(format!(
                        "rust = '{r}': the Rust computations are {RUST_COMPUTATIONS:?}"
                    )));
                }
            }
            _ => return Err(at("give exactly one of `sql` and `rust`".into())),
        }
        for (what, text) in [
            ("title", &m.title),
            ("definition", &m.definition),
            ("polarity_reason", &m.polarity_reason),
            ("source.document", &m.source.document),
        ] {
            if text.trim().is_empty() {
                return Err(at(format!("{what} is empty")));
            }
        }
        let quartile = m.quartiles.as_ref().map(|q| q.column.as_str());
        let mut columns = HashSet::new();
        for c in m
            .breakdowns
            .iter()
            .chain(&m.distributions)
            .map(String::as_str)
            .chain(quartile)
        {
            if RESERVED.contains(&c) || c == "NONE" || c == "statistic" {
                return Err(at(format!("'{c}' cannot be a breakdown (a reserved name)")));
            }
            if !columns.insert(c) {
                return Err(at(format!("column '{c}' is declared twice")));
            }
        }
        for n in m.needs.iter().chain(&m.needs_only_when) {
            let known = if Some(n) == m.needs_only_when.as_ref() {
                schema::table(n).is_some()
            } else {
                needs_known.contains(n)
            };
            if !known {
                return Err(at(format!(
                    "need '{n}' is not a [[need]] of the catalogue (or, for needs_only_when, a store table)"
                )));
            }
        }
        if let Some(h) = &m.headline {
            if let Some(other) = orders.insert(h.order, id.clone()) {
                return Err(at(format!("headline order {} is also {other}'s", h.order)));
            }
        }
        if let Some(since) = &m.since {
            if let Err(e) = since.period.parse::<super::FinYear>() {
                return Err(at(format!("since.period: {e}")));
            }
            if since.reason.trim().is_empty() {
                return Err(at("since.reason is empty".into()));
            }
        }
        if m.rate.is_some() != (m.unit == Unit::Per10000Children) {
            return Err(at(
                "a rate (unit per_10000_children) and `rate = { ... }` go together".into(),
            ));
        }
    }

    // Each SELECT of a measure file names one measure of that file.
    for f in &mut files {
        for st in &mut f.statements {
            if !sql::is_select(&st.text) {
                continue;
            }
            let named = sql::measure_ids(&st.text);
            let [id] = named.as_slice() else {
                return Err(UserError::file(
                    &dir.join(&f.name),
                    format!(
                        "statement '{}': a SELECT must name its one measure as '<id>' AS measure_id (found {named:?})",
                        sql::first_line(&st.text)
                    ),
                ));
            };
            match toml.measures.iter().find(|m| &m.id == id) {
                Some(m) if m.sql.as_deref() == Some(f.name.as_str()) => {}
                Some(_) => {
                    return Err(UserError::file(
                        &dir.join(&f.name),
                        format!(
                        "measure '{id}' is computed here, but catalogue.toml gives it another file"
                    ),
                    ))
                }
                None => {
                    return Err(UserError::file(
                        &dir.join(&f.name),
                        format!("measure '{id}' is not in catalogue.toml"),
                    ))
                }
            }
            st.measure = Some(id.clone());
        }
    }
    for m in &toml.measures {
        if let Some(f) = &m.sql {
            let found = files
                .iter()
                .filter(|x| &x.name == f)
                .flat_map(|x| &x.statements)
                .any(|s| s.measure.as_ref() == Some(&m.id));
            if !found {
                return Err(UserError::file(
                    &dir.join(f),
                    format!(
                        "no SELECT names '{}' AS measure_id (catalogue.toml says it is computed here)",
                        m.id
                    ),
                ));
            }
        }
    }
    Ok(Catalogue {
        measures: toml.measures,
        needs: toml.needs,
        files,
        data_quality,
        origin: dir.to_path_buf(),
        embedded: false,
    })
}

/// Decides which measures the data cannot support, and why (never a zero in their place): a
/// measure is not measurable when one of its needs, taken in order, is missing from the store -
/// a table with no rows, or a column with no value in a table that has rows - and the first
/// missing one gives the reason. `needs_only_when` skips the check while that table is empty.
pub fn not_measurable(cat: &Catalogue, store: &Store) -> Result<BTreeMap<String, String>> {
    let mut facts = StoreFacts {
        store,
        heights: HashMap::new(),
        missing: HashMap::new(),
    };
    let mut out = BTreeMap::new();
    for m in &cat.measures {
        if let Some(t) = &m.needs_only_when {
            if facts.height(t)? == 0 {
                continue;
            }
        }
        for n in &m.needs {
            if facts.missing(n)? {
                let reason = cat
                    .needs
                    .iter()
                    .find(|x| &x.what == n)
                    .map_or_else(|| n.clone(), |x| x.reason.clone());
                out.insert(m.id.clone(), reason);
                break;
            }
        }
    }
    Ok(out)
}

/// What the store holds, read lazily and once: a table's height from the Parquet metadata, a
/// column's non-nulls from that column alone (reading whole tables here cost seconds and
/// gigabytes at national scale).
struct StoreFacts<'a> {
    store: &'a Store,
    heights: HashMap<String, u64>,
    missing: HashMap<String, bool>,
}

impl StoreFacts<'_> {
    fn count(&self, table: &str, e: Expr) -> Result<u64> {
        let df = self
            .store
            .scan(table)?
            .select([e.cast(DataType::UInt64).alias("n")])
            .collect()?;
        Ok(df.column("n")?.u64()?.get(0).unwrap_or(0))
    }

    fn height(&mut self, table: &str) -> Result<u64> {
        if let Some(h) = self.heights.get(table) {
            return Ok(*h);
        }
        let h = self.count(table, len())?;
        self.heights.insert(table.to_string(), h);
        Ok(h)
    }

    /// A need (`table` or `table.column`) missing from the store.
    fn missing(&mut self, need: &str) -> Result<bool> {
        if let Some(m) = self.missing.get(need) {
            return Ok(*m);
        }
        let m = match need.split_once('.') {
            None => self.height(need)? == 0,
            Some((t, c)) => self.height(t)? > 0 && self.count(t, col(c).is_not_null().sum())? == 0,
        };
        self.missing.insert(need.to_string(), m);
        Ok(m)
    }
}
