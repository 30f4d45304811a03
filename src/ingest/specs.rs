//! The format maps as data: `specs/cin_census.toml` (census items -> canonical columns, code maps,
//! the raw layer's census items) and `specs/annex_a.toml` (header rules, value maps, the raw
//! layer's Annex A columns), compiled into the binary and parsed once, on first use.
//!
//! The readers keep the parsing logic; these files say where each value comes from and how it is
//! cleaned. A spec that does not fit the canonical tables (an unknown table or column, a value map
//! or raw shape that does not exist, a required field no list has) is a bug in the build: it
//! panics on first use, and the test suite's first Annex A or CIN test catches it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::raw_allow::RawKind;
use crate::schema::{self, TableSpec};

const CIN_TOML: &str = include_str!("../../specs/cin_census.toml");
const ANNEX_A_TOML: &str = include_str!("../../specs/annex_a.toml");

/// The CIN census spec, parsed and checked once.
pub fn cin() -> &'static CinSpec {
    static SPEC: OnceLock<CinSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let spec: CinSpec = toml::from_str(CIN_TOML)
            .unwrap_or_else(|e| panic!("specs/cin_census.toml does not parse: {e}"));
        spec.check();
        spec
    })
}

/// The Annex A spec, parsed and checked once.
pub fn annex_a() -> &'static AnnexASpec {
    static SPEC: OnceLock<AnnexASpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let spec: AnnexASpec = toml::from_str(ANNEX_A_TOML)
            .unwrap_or_else(|e| panic!("specs/annex_a.toml does not parse: {e}"));
        spec.check();
        spec
    })
}

fn table_spec(file: &str, name: &str) -> &'static TableSpec {
    schema::table(name).unwrap_or_else(|| panic!("{file}: `{name}` is not a canonical table"))
}

fn check_column(file: &str, table: &str, column: &str) {
    if table_spec(file, table).column(column).is_none() {
        panic!("{file}: `{column}` is not a column of {table}");
    }
}

/// A raw-layer shape as the specs write it (`date`, `one_of:DISABILITY`...).
fn raw_kind(file: &str, shape: &str) -> RawKind {
    RawKind::parse(shape).unwrap_or_else(|| panic!("{file}: `{shape}` is not a raw-layer shape"))
}

// ---- CIN census ----

/// `specs/cin_census.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CinSpec {
    /// Per table (and `transfer_in`, stored in s47_enquiries): where its columns come from.
    pub tables: BTreeMap<String, CinTable>,
    /// Code maps: name -> (code -> the values that mean it).
    pub codes: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Identifying items never stored (paths from Child), not named as dropped.
    pub never_stored: Vec<String>,
    pub raw: Vec<CinRaw>,
    pub raw_blocks: Vec<CinRawBlock>,
}

/// One table's block and columns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CinTable {
    pub block: String,
    pub columns: BTreeMap<String, CinSource>,
}

/// Where a column's value comes from: an item, the first present of several, through a code map.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum CinSource {
    Item(String),
    FirstOf(Vec<String>),
    Coded {
        from: Vec<String>,
        codes: Option<String>,
    },
}

impl CinSource {
    /// The item paths, in order of preference.
    pub fn paths(&self) -> &[String] {
        match self {
            CinSource::Item(p) => std::slice::from_ref(p),
            CinSource::FirstOf(ps) | CinSource::Coded { from: ps, .. } => ps,
        }
    }
    /// The code map the value goes through, if any.
    pub fn codes(&self) -> Option<&str> {
        match self {
            CinSource::Coded { codes, .. } => codes.as_deref(),
            _ => None,
        }
    }
}

/// A census item kept in the raw layer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CinRaw {
    pub parent: String,
    pub item: String,
    /// The census year the item entered the return (documentation).
    pub since: u16,
    pub shape: String,
}

/// A census block whose items are kept in the raw layer, item by item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CinRawBlock {
    pub parent: String,
    pub block: String,
}

/// The last name of an item path: the element the value is in (`ChildIdentifiers/LAchildID` ->
/// `LAchildID`), as rejects and flags name it.
pub fn leaf(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl CinSpec {
    const FILE: &'static str = "specs/cin_census.toml";

    fn check(&self) {
        for (name, t) in &self.tables {
            let table = if name == "transfer_in" {
                "s47_enquiries"
            } else {
                name
            };
            for (column, source) in &t.columns {
                check_column(Self::FILE, table, column);
                if let Some(c) = source.codes() {
                    assert!(
                        self.codes.contains_key(c),
                        "{}: no code map `{c}`",
                        Self::FILE
                    );
                }
                assert!(
                    !source.paths().is_empty(),
                    "{}: {name}.{column} names no item",
                    Self::FILE
                );
            }
        }
        for r in &self.raw {
            raw_kind(Self::FILE, &r.shape);
        }
    }

    /// The table's map (a table of the file: a bug otherwise).
    pub fn table(&self, name: &str) -> &CinTable {
        self.tables
            .get(name)
            .unwrap_or_else(|| panic!("{}: no table `{name}`", Self::FILE))
    }

    /// A value through the code map `name`: the code whose values hold it (trimmed, any case),
    /// else the value as written.
    pub fn code(&self, name: &str, v: &str) -> String {
        let t = v.trim().to_ascii_uppercase();
        self.codes
            .get(name)
            .and_then(|m| {
                m.iter()
                    .find(|(_, vs)| vs.iter().any(|x| x.eq_ignore_ascii_case(&t)))
            })
            .map_or_else(|| v.to_string(), |(code, _)| code.clone())
    }

    /// The blocks directly below `block` (a path from Child) that have tables of their own.
    pub fn blocks_below(&self, block: &str) -> Vec<&str> {
        let prefix = format!("{block}/");
        let mut out: Vec<&str> = self
            .tables
            .values()
            .filter_map(|t| t.block.strip_prefix(prefix.as_str()))
            .filter(|b| !b.contains('/'))
            .collect();
        out.dedup();
        out
    }

    /// The shape of a kept census item, or None when it is not on the allow-list.
    pub fn raw_kind(&self, parent: &str, name: &str) -> Option<RawKind> {
        self.raw
            .iter()
            .find(|x| x.parent == parent && x.item == name)
            .map(|x| raw_kind(Self::FILE, &x.shape))
    }

    /// Whether a census block is kept item by item.
    pub fn raw_block(&self, parent: &str, name: &str) -> bool {
        self.raw_blocks
            .iter()
            .any(|b| b.parent == parent && b.block == name)
    }
}

impl CinTable {
    /// The source of a column (one the file maps: a bug otherwise).
    pub fn source(&self, column: &str) -> &CinSource {
        self.columns
            .get(column)
            .unwrap_or_else(|| panic!("{}: no item for `{column}`", CinSpec::FILE))
    }

    /// Whether an item (a path below the block) fills a column of this table.
    pub fn reads(&self, path: &str) -> bool {
        self.columns
            .values()
            .any(|s| s.paths().iter().any(|p| p == path))
    }
}

// ---- Annex A ----

/// `specs/annex_a.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnexASpec {
    /// Normalised headers known and never stored (not named as dropped).
    pub not_stored: Vec<String>,
    /// Headers never mapped (except by identifying fields).
    pub withheld: Rule,
    /// The child's columns, in every list (tried first).
    pub common: Vec<Field>,
    pub list: Vec<ListSpec>,
    /// Value maps by name.
    pub values: BTreeMap<String, ValueMap>,
}

/// A match on a normalised header or a cleaned value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub equals: Vec<String>,
    #[serde(default)]
    pub starts_with: Vec<String>,
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default)]
    pub contains_all: Vec<Vec<String>>,
    #[serde(default)]
    pub unless: Vec<String>,
}

impl Rule {
    /// Whether `h` (normalised) is taken by this rule.
    pub fn matches(&self, h: &str) -> bool {
        !self.unless.iter().any(|u| h.contains(u.as_str()))
            && (self.equals.iter().any(|e| h == e)
                || self.starts_with.iter().any(|p| h.starts_with(p.as_str()))
                || self.contains.iter().any(|p| h.contains(p.as_str()))
                || self
                    .contains_all
                    .iter()
                    .any(|g| g.iter().all(|p| h.contains(p.as_str()))))
    }
}

/// One column a list reads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub field: String,
    /// The field's name in a "no column for" message.
    pub describe: Option<String>,
    /// Mapped even though its header looks identifying (withheld).
    #[serde(default)]
    pub identifying: bool,
    /// Cells read as dates.
    #[serde(default)]
    pub date: bool,
    #[serde(rename = "match")]
    pub rule: Rule,
    /// The table of `column` when it is not the list's (`children` for a common field).
    pub table: Option<String>,
    pub column: Option<String>,
    /// The value map or clean-up (`code`, `birth_month`, or a name of `values`).
    pub value: Option<String>,
    /// A common field's name in the `children` rows' rejects and flags.
    pub label: Option<String>,
}

/// One list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    pub number: u8,
    pub table: String,
    pub required: Vec<String>,
    pub fields: Vec<Field>,
    #[serde(default)]
    pub raw: Vec<RawColumn>,
}

/// An Annex A column kept in the raw layer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    pub header: String,
    pub shape: String,
}

/// A value map: the first entry whose rule takes the cleaned value gives its code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMap {
    pub otherwise: Otherwise,
    pub map: Vec<ValueEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueEntry {
    /// The code ("" = missing).
    pub to: String,
    #[serde(rename = "match")]
    pub rule: Rule,
}

/// What a value that no entry takes becomes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Otherwise {
    /// The value as written (for the validator to flag).
    AsWritten,
    /// The code at the front of it, upper case.
    Code,
}

/// Value clean-ups done in Rust rather than by a map.
pub const BUILT_IN_VALUES: &[&str] = &["code", "birth_month"];

impl AnnexASpec {
    const FILE: &'static str = "specs/annex_a.toml";

    fn check(&self) {
        let value_ok = |v: &Option<String>| {
            if let Some(v) = v {
                assert!(
                    BUILT_IN_VALUES.contains(&v.as_str()) || self.values.contains_key(v),
                    "{}: no value map `{v}`",
                    Self::FILE
                );
            }
        };
        for f in &self.common {
            let c = f.column.as_deref().unwrap_or_else(|| {
                panic!("{}: common field {} has no `column`", Self::FILE, f.field)
            });
            check_column(Self::FILE, "children", c);
            value_ok(&f.value);
        }
        for l in &self.list {
            table_spec(Self::FILE, &l.table);
            for f in &l.fields {
                if let Some(c) = &f.column {
                    check_column(Self::FILE, f.table.as_deref().unwrap_or(&l.table), c);
                }
                value_ok(&f.value);
            }
            for r in &l.required {
                assert!(
                    self.fields(l.number).any(|f| &f.field == r),
                    "{}: List {} requires `{r}`, which it does not read",
                    Self::FILE,
                    l.number
                );
            }
            for r in &l.raw {
                raw_kind(Self::FILE, &r.shape);
            }
        }
    }

    /// A list's spec (Lists 1-7).
    pub fn list(&self, n: u8) -> Option<&ListSpec> {
        self.list.iter().find(|l| l.number == n)
    }

    /// The fields of list `n` in matching order: the common ones, then the list's.
    pub fn fields(&self, n: u8) -> impl Iterator<Item = &Field> {
        self.common
            .iter()
            .chain(self.list(n).into_iter().flat_map(|l| l.fields.iter()))
    }

    /// The shape of a kept Annex A column, or None when it is not on the allow-list.
    pub fn raw_kind(&self, list: u8, normalised: &str) -> Option<RawKind> {
        self.list(list)?
            .raw
            .iter()
            .find(|r| r.header == normalised)
            .map(|r| raw_kind(Self::FILE, &r.shape))
    }

    /// A value through the map `name` (cleaned by `clean` first); None = missing.
    pub fn map_value(
        &self,
        name: &str,
        v: &str,
        clean: &str,
        code: impl Fn(&str) -> String,
    ) -> Option<String> {
        let m = &self.values[name];
        match m.map.iter().find(|e| e.rule.matches(clean)) {
            Some(e) if e.to.is_empty() => None,
            Some(e) => Some(e.to.clone()),
            None => Some(match m.otherwise {
                Otherwise::AsWritten => v.to_string(),
                Otherwise::Code => code(v).to_ascii_uppercase(),
            }),
        }
    }
}
