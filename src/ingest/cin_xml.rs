//! Reader for the DfE Children in Need (CIN) census XML return, census years 2017-18 to 2026-27
//! (data-contract.md sections 1, 2 and 4; anchors-csc.md section 2).
//!
//! The file is streamed with quick-xml: the `Header` and then one `<Child>` at a time are built as
//! small element trees, mapped onto the canonical tables and handed to the sink; nothing else is
//! held. Real returns have no XML declaration and no namespace, and some carry stray text inside
//! element-only parents (`</UPNunknown>PersonBirthDate`): that text is ignored.
//!
//! The whole file fails (nothing from the run is stored) when it is not well-formed XML, is
//! truncated, its root is not `Message`, `Header/CollectionDetails/Collection` is not `CIN`, an
//! element that carries rows is out of its place in the census schema ([`PLACES`]: its rows would
//! vanish), or it passes a bound that keeps memory and recursion small whatever the input
//! (nesting [`MAX_DEPTH`], [`MAX_TREE_ELEMENTS`] per Child, [`MAX_TEXT`] per value); the message
//! names the file and the line:column.
//!
//! Mapping (the same ids whichever return an episode is in, so a newer return supersedes it). Which
//! census item fills which column, the sex code map and the raw layer's allow-list are data:
//! `specs/cin_census.toml` ([`super::specs::cin`]); each table has its function below, which sets
//! the columns it derives (ids, links, the LA, the values worked out from several items) and
//! fills the rest from the spec:
//! - `children`: one row per `Child` (LAchildID pseudonymised by the validator; birth month only;
//!   sex from `GenderCurrent` 1/2/0/9 or `Sex` M/F/U, legacy digits accepted under `Sex`).
//! - `referrals`: one per `CINdetails`, id `{pseudonym}-{CINreferralDate}-{n}` where n counts the
//!   child's episodes with that referral date in this return (n > 1 is flagged).
//! - `assessments` `{referral}-A{k}`, `s47_enquiries` `{referral}-S{k}` (plus `{referral}-T` for a
//!   `CINdetails`-level `DateOfInitialCPC`: a transfer-in conference), `cp_plans` `{referral}-P{k}`,
//!   `cp_reviews` (plan, `CPPreviewDate`).
//! - `pre_proceedings`: each 2026-27 `PreProceedingsandFGDM` block of an episode, id
//!   `{referral}-PP{k}` ([`super::cin_pp`]; a 2026-27 or later return with none is DfE query 8995Q).
//! - CIN plans, `UPNunknown`, disability codes and the
//!   other census items on the raw layer's allow-list (the spec's `raw`) go to the raw
//!   layer; any other element (also inside `Header`) is dropped and named in the summary, never
//!   its text. UPN, FormerUPN, the exact birth date, the expected birth date and the death date are
//!   never stored.
//! - `Header/Source/LEA` must be a three-digit LA code and `ReferenceDate` a date within the
//!   calendar's years (1990-2040), else the file fails. Messages show input values only as the
//!   echo rule allows ([`super::privacy`]).

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::parse;
use super::privacy::{self, Echo};
use super::raw_allow;
use super::sink::{Row, Sink};
use super::specs::{self, CinTable};
use crate::error::UserError;
use crate::schema::{
    self, TableSpec, ASSESSMENTS, CHILDREN, CP_PLANS, CP_REVIEWS, PRE_PROCEEDINGS, REFERRALS,
    S47_ENQUIRIES,
};

/// One element of the `Header` or of one `Child`: its name, its own text (for a leaf; stray text
/// in a parent is collected too but never read) and its child elements in file order.
#[derive(Debug)]
struct Node {
    name: String,
    text: String,
    /// Byte offset of the start tag, for line:column in error messages.
    offset: u64,
    children: Vec<Node>,
}

impl Node {
    fn new(name: String, offset: u64) -> Node {
        Node {
            name,
            text: String::new(),
            offset,
            children: vec![],
        }
    }
    /// The first child element called `name`.
    fn first(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    /// Every child element called `name`, in file order.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// A leaf's trimmed text, None when empty.
    fn value(&self) -> Option<&str> {
        if !self.children.is_empty() {
            return None;
        }
        let t = self.text.trim();
        (!t.is_empty()).then_some(t)
    }
    /// The value of the first child element called `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.first(name).and_then(Node::value)
    }
    /// A descendant by element path.
    fn at(&self, path: &[&str]) -> Option<&Node> {
        let mut n = self;
        for p in path {
            n = n.first(p)?;
        }
        Some(n)
    }
    /// A canonical text form of the whole subtree (to recognise an exact duplicate block).
    fn signature(&self) -> String {
        let mut s = String::new();
        self.write_signature(&mut s);
        s
    }
    fn write_signature(&self, s: &mut String) {
        s.push('<');
        s.push_str(&self.name);
        s.push('>');
        if self.children.is_empty() {
            s.push_str(self.text.trim());
        }
        for c in &self.children {
            c.write_signature(s);
        }
        s.push_str("</>");
    }
}

/// What the header gives every row.
struct Header {
    la: String,
}

/// Reads one CIN census return into the sink.
pub fn read(path: &Path, sink: &mut Sink) -> Result<(), UserError> {
    let file = super::input::open(path)?;
    let mut reader = Reader::from_reader(BufReader::with_capacity(1 << 16, file));
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        cfg.trim_text(false);
    }
    let fail = |offset: u64, msg: String| UserError::at(path, &line_col(path, offset), msg);

    let mut buf = Vec::new();
    // Names of the open elements, root first.
    let mut open: Vec<String> = vec![];
    // The tree being built (Header or one Child), innermost element last.
    let mut building: Vec<Node> = vec![];
    let mut root_done = false;
    let mut header: Option<Header> = None;
    let mut ctx = ChildMapper::default();
    let mut child_index = 0usize;
    // Elements in the tree being built (one Header or one Child), to bound its memory.
    let mut tree_elements = 0usize;

    loop {
        let before = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                return Err(fail(
                    reader.error_position(),
                    format!(
                        "not well-formed XML ({}); the file is malformed or truncated",
                        privacy::scrub(&e.to_string())
                    ),
                ))
            }
        };
        // A start tag, or an empty element (a start and an end at once).
        let mut start = |e: &BytesStart, empty: bool| -> Result<Option<Node>, UserError> {
            let name = element_name(e).map_err(|m| fail(before, m))?;
            if open.is_empty() {
                if root_done {
                    return Err(fail(
                        before,
                        format!(
                            "a second root element <{}> after </Message>",
                            privacy::field_name(&name)
                        ),
                    ));
                }
                if name != "Message" {
                    return Err(fail(
                        before,
                        format!("the root element is <{}>, not <Message>: this is not a CIN census return", privacy::field_name(&name)),
                    ));
                }
                if empty {
                    return Err(fail(
                        before,
                        "the <Message> element is empty: no Header, no Children".into(),
                    ));
                }
                open.push(name);
                return Ok(None);
            }
            let depth = open.len();
            // Nesting: no CIN census return nests more than 6 below Message; past MAX_DEPTH the
            // file is refused before anything deeper is held.
            if depth > MAX_DEPTH {
                return Err(fail(
                    before,
                    format!(
                        "<{}> is nested {depth} elements deep below <Message> (inside {}): a CIN census return nests at most 6, and more than {MAX_DEPTH} is refused; the file is malformed",
                        short(&name),
                        show_path(&open)
                    ),
                ));
            }
            // An element that carries rows (or the structure above them) anywhere but its place
            // in the census schema: its rows would vanish, so the file's structure is broken.
            if let Some((_, parents, expected)) = PLACES.iter().find(|(n, ..)| *n == name) {
                if !parents.contains(&open[depth - 1].as_str()) {
                    return Err(fail(
                        before,
                        format!(
                            "a <{name}> inside {} (expected {expected}): {}, so the file's structure is broken and its rows cannot be read",
                            show_path(&open),
                            if parents.is_empty() {
                                format!("<{name}> is only the root")
                            } else {
                                format!("<{name}> belongs directly inside <{}>", parents.join("> or <"))
                            }
                        ),
                    ));
                }
            }
            let is_child = building.is_empty() && name == "Child";
            if is_child && header.is_none() {
                return Err(fail(
                    before,
                    "a <Child> comes before the Header: Header/CollectionDetails/Collection (CIN), ReferenceDate and Source/LEA are needed first".into(),
                ));
            }
            // Inside a tree being built, or the start of the Header or of one Child.
            if !building.is_empty() || name == "Header" || is_child {
                if building.is_empty() {
                    tree_elements = 0;
                }
                tree_elements += 1;
                if tree_elements > MAX_TREE_ELEMENTS {
                    return Err(fail(
                        before,
                        format!(
                            "the <{}> this element is in holds more than {MAX_TREE_ELEMENTS} elements: no real record has anywhere near as many; the file is malformed",
                            building.first().map_or("Header", |n| n.name.as_str())
                        ),
                    ));
                }
                building.push(Node::new(name.clone(), before));
            }
            // Anything else (the Children wrapper, unknown top-level elements) is walked through.
            if empty {
                return Ok(finish_element(&mut building));
            }
            open.push(name);
            Ok(None)
        };
        let finished = match event {
            Event::Start(e) => start(&e, false)?,
            Event::Empty(e) => start(&e, true)?,
            Event::End(_) => {
                open.pop();
                if open.is_empty() {
                    root_done = true;
                }
                finish_element(&mut building)
            }
            Event::Text(t) => {
                // Only a leaf's text is read: a parent's stray text is not kept.
                if let Some(n) = building.last_mut().filter(|n| n.children.is_empty()) {
                    let s = t
                        .unescape()
                        .map_err(|e| fail(before, format!("unreadable text ({}): the file must be UTF-8 XML with valid escapes", privacy::scrub(&e.to_string()))))?;
                    push_text(n, &s).map_err(|m| fail(before, m))?;
                } else if open.is_empty() && !t.iter().all(|b| b.is_ascii_whitespace()) {
                    return Err(fail(
                        before,
                        if root_done {
                            "text after </Message>".into()
                        } else {
                            "text before the root element: this is not a CIN census XML file".into()
                        },
                    ));
                }
                None
            }
            Event::CData(t) => {
                if let Some(n) = building.last_mut().filter(|n| n.children.is_empty()) {
                    let s =
                        std::str::from_utf8(&t).map_err(|_| fail(before, "not UTF-8".into()))?;
                    push_text(n, s).map_err(|m| fail(before, m))?;
                }
                None
            }
            Event::Eof => {
                if let Some(inside) = open.last() {
                    return Err(fail(
                        reader.buffer_position(),
                        format!(
                            "the file ends inside <{inside}> ({}): it is truncated",
                            open.join("/")
                        ),
                    ));
                }
                if !root_done {
                    return Err(fail(
                        0,
                        "no <Message> element: this is not a CIN census XML file".into(),
                    ));
                }
                break;
            }
            // Declarations, comments, processing instructions, DOCTYPE: nothing to read.
            _ => None,
        };
        if let Some(node) = finished {
            match node.name.as_str() {
                "Header" => {
                    if header.is_some() {
                        return Err(fail(node.offset, "a second Header".into()));
                    }
                    header = Some(read_header(path, &node, sink)?);
                }
                _ => {
                    child_index += 1;
                    let h = header.as_ref().expect("checked when the Child started");
                    ctx.child(sink, h, &node, child_index);
                }
            }
        }
        buf.clear();
    }
    if header.is_none() {
        return Err(UserError::file(
            path,
            "no Header/CollectionDetails/Collection: this is not a CIN census return".into(),
        ));
    }
    super::cin_pp::after_return(sink);
    Ok(())
}

/// Closes the innermost element being built; returns it when it was the top of its tree.
fn finish_element(building: &mut Vec<Node>) -> Option<Node> {
    let node = building.pop()?;
    match building.last_mut() {
        Some(parent) => {
            parent.children.push(node);
            None
        }
        None => Some(node),
    }
}

/// Elements nested deeper than this below `Message` fail the file (a return nests 6 deep at
/// most): the trees built, and the recursion over them, stay small whatever the input.
const MAX_DEPTH: usize = 64;

/// Elements one `Child` (or the `Header`) may hold: a child with a hundred episodes has a few
/// thousand. Bounds the memory of the tree built for one child.
const MAX_TREE_ELEMENTS: usize = 100_000;

/// The longest text one element may hold (a CIN value is a date, a code or an id).
const MAX_TEXT: usize = 1 << 20;

/// Where the census schema (CIN_schema_2017.xsd to CIN_schema_2026.xsd) places each element that
/// carries rows or the structure above them: (element, its possible parents, its path). Found
/// under any other parent (a `Child` in a `Child`, `CINdetails` in an unknown wrapper), its rows
/// would not be read, so the file fails. Other unknown elements go to the raw layer.
const PLACES: &[(&str, &[&str], &str)] = &[
    ("Message", &[], "the root element only"),
    ("Header", &["Message"], "Message/Header"),
    ("Children", &["Message"], "Message/Children"),
    ("Child", &["Children"], "Message/Children/Child"),
    (
        "ChildIdentifiers",
        &["Child"],
        "Message/Children/Child/ChildIdentifiers",
    ),
    (
        "ChildCharacteristics",
        &["Child"],
        "Message/Children/Child/ChildCharacteristics",
    ),
    (
        "CINdetails",
        &["Child"],
        "Message/Children/Child/CINdetails",
    ),
    (
        "Assessments",
        &["CINdetails"],
        "Child/CINdetails/Assessments",
    ),
    ("Section47", &["CINdetails"], "Child/CINdetails/Section47"),
    (
        "ChildProtectionPlans",
        &["CINdetails"],
        "Child/CINdetails/ChildProtectionPlans",
    ),
    (
        "DateOfInitialCPC",
        &["CINdetails", "Section47"],
        "CINdetails/DateOfInitialCPC or CINdetails/Section47/DateOfInitialCPC",
    ),
    (
        "Reviews",
        &["ChildProtectionPlans"],
        "CINdetails/ChildProtectionPlans/Reviews",
    ),
    (
        "CPPreviewDate",
        &["Reviews"],
        "ChildProtectionPlans/Reviews/CPPreviewDate",
    ),
    (
        "PreProceedingsandFGDM",
        &["CINdetails"],
        "Child/CINdetails/PreProceedingsandFGDM",
    ),
];

/// Appends text to a leaf, within [`MAX_TEXT`].
fn push_text(n: &mut Node, s: &str) -> Result<(), String> {
    if n.text.len() + s.len() > MAX_TEXT {
        return Err(format!(
            "the text of <{}> is longer than {} bytes: no CIN census value is; the file is malformed",
            short(&n.name),
            MAX_TEXT
        ));
    }
    n.text.push_str(s);
    Ok(())
}

/// An element name for a message: control characters removed, cut to 60 characters
/// ([`privacy::field_name`]).
fn short(name: &str) -> String {
    privacy::field_name(name)
}

/// The open elements as a path for a message: at most the first 6 and the last 2.
fn show_path(open: &[String]) -> String {
    let names: Vec<String> = if open.len() > 8 {
        open[..6]
            .iter()
            .map(|n| short(n))
            .chain([format!("...({} more)...", open.len() - 8)])
            .chain(open[open.len() - 2..].iter().map(|n| short(n)))
            .collect()
    } else {
        open.iter().map(|n| short(n)).collect()
    };
    names.join("/")
}

/// An element's local name. Names are shown in messages and the summary only through
/// [`privacy::field_name`] (control characters removed, length capped).
fn element_name(e: &BytesStart) -> Result<String, String> {
    std::str::from_utf8(e.local_name().as_ref())
        .map(str::to_string)
        .map_err(|_| "an element name is not UTF-8".to_string())
}

/// `line:column` (1-based; the column counts bytes) of a byte offset in the file.
fn line_col(path: &Path, offset: u64) -> String {
    let Ok(f) = super::input::open(path) else {
        return format!("byte {offset}");
    };
    let (mut line, mut col) = (1u64, 1u64);
    let mut remaining = offset;
    for b in BufReader::new(f).bytes() {
        if remaining == 0 {
            break;
        }
        let Ok(b) = b else { break };
        if b == b'\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
        remaining -= 1;
    }
    format!("{line}:{col}")
}

/// Checks the header (Collection = CIN), sets the vintage from `ReferenceDate` and gives the LA.
fn read_header(path: &Path, h: &Node, sink: &mut Sink) -> Result<Header, UserError> {
    let at = |n: &Node| line_col(path, n.offset);
    let collection = h.at(&["CollectionDetails", "Collection"]);
    match collection.and_then(Node::value) {
        Some(c) if c.eq_ignore_ascii_case("CIN") => {}
        Some(c) => {
            return Err(UserError::at(
                path,
                &at(collection.expect("has a value")),
                format!("Header/CollectionDetails/Collection is '{}', not CIN: this is not a CIN census return", privacy::shown(Echo::Code, c)),
            ))
        }
        None => {
            return Err(UserError::at(
                path,
                &at(h),
                "Header/CollectionDetails/Collection is missing: this is not a CIN census return".into(),
            ))
        }
    }
    // The census year comes from ReferenceDate, never from Year or the file name.
    let rd_node = h.at(&["CollectionDetails", "ReferenceDate"]);
    let reference_date = match rd_node.and_then(Node::value) {
        None => return Err(UserError::at(
            path,
            &at(h),
            "Header/CollectionDetails/ReferenceDate is missing: the census year cannot be known"
                .into(),
        )),
        Some(v) => parse::parse_date(v).map_err(|why| {
            UserError::at(
                path,
                &at(rd_node.expect("has a value")),
                format!(
                    "Header/CollectionDetails/ReferenceDate '{}': {why}",
                    privacy::shown(Echo::Date, v)
                ),
            )
        })?,
    };
    // A ReferenceDate outside the calendar's years (9999-03-31) would become the default year of
    // every command: the file is refused.
    if !(crate::calendar::FIRST_YEAR..=crate::calendar::LAST_YEAR).contains(&reference_date.year())
    {
        return Err(UserError::at(
            path,
            &at(rd_node.expect("has a value")),
            format!(
                "Header/CollectionDetails/ReferenceDate {reference_date} is outside the calendar's years {}-{}: the census year cannot be known",
                crate::calendar::FIRST_YEAR,
                crate::calendar::LAST_YEAR
            ),
        ));
    }
    if (reference_date.month(), reference_date.day()) != (3, 31) {
        let start = if reference_date.month() >= 4 {
            reference_date.year()
        } else {
            reference_date.year() - 1
        };
        sink.note(format!(
            "ReferenceDate {reference_date} is not 31 March: read as the {start}-{:02} census return (newer returns of the same LA still supersede it by ReferenceDate)",
            (start + 1) % 100
        ));
    }
    sink.set_vintage(reference_date);
    let lea = h.at(&["Source", "LEA"]);
    let la =
        match lea.and_then(Node::value) {
            // The LA code becomes a published LA: exactly three digits, or the file is refused.
            Some(la) if !schema::is_la_code(la) => return Err(UserError::at(
                path,
                &at(lea.expect("has a value")),
                format!(
                    "Header/Source/LEA '{}' is not an LA code (the DfE three-digit LA number, e.g. 940)",
                    privacy::shown(Echo::LaCode, la)
                ),
            )),
            Some(la) => la.to_string(),
            None => match sink.default_la.clone() {
                Some(la) if !schema::is_la_code(&la) => return Err(UserError::at(
                    path,
                    &at(h),
                    format!(
                        "Header/Source/LEA is missing and the LA code '{}' (from the config's only LA) is not the DfE three-digit LA number: pass --la CODE",
                        privacy::shown(Echo::LaCode, &la)
                    ),
                )),
                Some(la) => {
                    sink.note(format!(
                        "Header/Source/LEA is missing: rows filed under LA {la}"
                    ));
                    la
                }
                None => return Err(UserError::at(
                    path,
                    &at(h),
                    "Header/Source/LEA (the LA number) is missing: the return's LA cannot be known"
                        .into(),
                )),
            },
        };
    // The rest of the header: the allow-listed items (year, software, release, serial,
    // timestamp) go to the raw layer; anything else is dropped and named in the summary.
    for group in &h.children {
        match group.name.as_str() {
            "CollectionDetails" | "Source" => {
                let pos = format!("Header/{}", group.name);
                for item in &group.children {
                    if !matches!(item.name.as_str(), "Collection" | "ReferenceDate" | "LEA") {
                        raw_item(sink, &pos, &group.name, item, None);
                    }
                }
            }
            other => sink.drop_field(&format!("Header/{other}")),
        }
    }
    Ok(Header { la })
}

/// A date cell in its normal form (for ids and comparisons), or None when it is not a date.
fn norm_date(v: &str) -> Option<NaiveDate> {
    parse::parse_date(v.trim()).ok()
}

/// The referral date as written into ids: `YYYY-MM-DD` when it is a date, else `baddate` (the
/// referral is then rejected for its bad date, and what hangs off it shows as an orphan). Never
/// the text as written: it could be anything (a name typed in the date field).
fn id_date(v: Option<&str>) -> String {
    match v {
        Some(v) => norm_date(v).map_or_else(|| "baddate".to_string(), |d| d.to_string()),
        None => "nodate".into(),
    }
}

/// A date of birth for `birth_month`: degraded to the month here, so the exact date never reaches
/// the validator. A value that is not a date is passed on as it is: the validator never shows a
/// birth month's value (privacy::echo_for), so its flag names the column, position and reason.
pub(super) fn birth_month_value(v: &str) -> String {
    match norm_date(v) {
        Some(d) => format!("{:04}-{:02}", d.year(), d.month()),
        None => v.to_string(),
    }
}

/// Maps each `Child` onto the canonical tables: one function per table below, each taking
/// its columns from `specs/cin_census.toml` ([`specs::cin`]) and setting the ones it derives.
#[derive(Default)]
struct ChildMapper {
    /// (pseudonym, referral date) -> episodes seen so far in this return.
    episodes: HashMap<(String, String), u32>,
}

/// One `Child` being mapped: what every row of it carries.
struct Kid<'a> {
    raw_id: &'a str,
    pseudo: String,
    la: &'a str,
    /// Why the Child cannot be mapped at all (no LAchildID): then every row of it is rejected,
    /// so that rows read = stored + rejected still holds.
    broken: Option<String>,
}

/// The name rejects and flags give the child id (`LAchildID`).
fn child_id_label() -> &'static str {
    specs::leaf(specs::cin().table("children").source("child_id").paths()[0].as_str())
}

impl Kid<'_> {
    /// Starts a row of `spec` for this child, with its child id and LA (or refused whole when
    /// the Child cannot be mapped).
    fn row<'s>(
        &self,
        sink: &'s mut Sink,
        spec: &'static TableSpec,
        pos: String,
    ) -> Row<'s, 'static> {
        let mut row = sink.row_for(spec, pos);
        if let Some(why) = &self.broken {
            row.refuse(child_id_label(), why.clone());
        }
        row.set("child_id", self.raw_id, child_id_label())
            .set("la_code", self.la, "LEA");
        row
    }
}

/// The value of an item (a path below `node`).
fn item<'n>(node: &'n Node, path: &str) -> Option<&'n str> {
    let (parents, name) = match path.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, path),
    };
    let parent = match parents {
        Some(p) => node.at(&p.split('/').collect::<Vec<_>>())?,
        None => node,
    };
    parent.get(name)
}

/// Sets every column of `table` not set yet from its item below `node` (the first present of
/// its items; through its code map), named as that item.
fn fill(row: &mut Row<'_, 'static>, node: &Node, table: &'static CinTable) {
    for (column, source) in &table.columns {
        if row.is_set(column) {
            continue;
        }
        let paths = source.paths();
        let found = paths.iter().find_map(|p| item(node, p).map(|v| (p, v)));
        let (path, value) = match found {
            Some((p, v)) => (p, Some(v)),
            None => (&paths[0], None),
        };
        let value = match (value, source.codes()) {
            (Some(v), Some(codes)) => Some(specs::cin().code(codes, v)),
            (v, _) => v.map(str::to_string),
        };
        row.set(column, value, specs::leaf(path));
    }
}

/// A repeated item's block and name (`Reviews/CPPreviewDate`).
fn in_block(path: &str) -> (&str, &str) {
    path.split_once('/').unwrap_or(("", path))
}

/// The column's item, and its name for rejects and flags.
fn source_of(table: &str, column: &str) -> (&'static str, &'static str) {
    let path = specs::cin().table(table).source(column).paths()[0].as_str();
    (path, specs::leaf(path))
}

impl ChildMapper {
    fn child(&mut self, sink: &mut Sink, h: &Header, c: &Node, index: usize) {
        let pos = format!("Child[{index}]");
        let raw_id = item(c, source_of("children", "child_id").0);
        let broken = raw_id.is_none().then(|| {
            "the Child has no LAchildID: its rows cannot be pseudonymised or linked".to_string()
        });
        let raw_id = raw_id.unwrap_or("");
        let pseudo = if broken.is_some() {
            String::new()
        } else {
            sink.pseudo.child_id(raw_id)
        };
        let kid = Kid {
            raw_id,
            pseudo,
            la: h.la.as_str(),
            broken,
        };
        children(sink, &kid, c, &pos);
        for (j, ep) in c.all("CINdetails").enumerate() {
            self.episode(sink, &kid, ep, &format!("{pos}/CINdetails[{}]", j + 1));
        }
    }

    /// One `CINdetails`: its referral, and the assessments, s47s, transfer-in conference, plans
    /// and pre-proceedings that hang off it; then its other items to the raw layer.
    fn episode(&mut self, sink: &mut Sink, kid: &Kid, ep: &Node, epos: &str) {
        let ref_date = ep.get(source_of("referrals", "received_at").0);
        let date_key = id_date(ref_date);
        let n = self
            .episodes
            .entry((kid.pseudo.clone(), date_key.clone()))
            .or_insert(0);
        *n += 1;
        let n = *n;
        let referral_id = format!("{}-{date_key}-{n}", kid.pseudo);
        let mut row = kid.row(sink, &REFERRALS, epos.to_string());
        row.set("referral_id", &referral_id, "");
        fill(&mut row, ep, specs::cin().table("referrals"));
        if row.finish() && n > 1 {
            sink.flag(
                "referrals",
                epos.to_string(),
                source_of("referrals", "received_at").1,
                "same_day_episode",
                format!(
                    "episode {n} of this child with CINreferralDate {date_key} in this return: every one is kept, in file order"
                ),
            );
        }
        // Plan start dates decide whether an ICPC resulted in a plan.
        let plan_starts: HashSet<NaiveDate> = ep
            .all("ChildProtectionPlans")
            .filter_map(|p| p.get(source_of("cp_plans", "start_date").0))
            .filter_map(norm_date)
            .collect();
        let ep_rows = Episode {
            kid,
            node: ep,
            pos: epos,
            referral_id: &referral_id,
            plan_starts,
        };
        ep_rows.assessments(sink);
        let s47_icpcs = ep_rows.s47s(sink);
        ep_rows.transfer_in(sink, &s47_icpcs);
        ep_rows.plans(sink);
        ep_rows.pre_proceedings(sink);
        rest(sink, ep, epos, &specs::cin().table("referrals").block, true);
    }
}

/// The child's `children` row, and its other identifiers and characteristics to the raw layer.
fn children(sink: &mut Sink, kid: &Kid, c: &Node, pos: &str) {
    let (birth_path, birth_label) = source_of("children", "birth_month");
    let (expected_path, expected_label) = source_of("children", "unborn");
    let (disability_path, disability_label) = source_of("children", "disability");
    let birth = item(c, birth_path);
    let expected = item(c, expected_path);
    // Disability: Y when any code is not NONE, N when all are NONE.
    let (codes_at, code_name) = disability_path
        .rsplit_once('/')
        .expect("a Disability code is below its block");
    let codes: Vec<&str> = c
        .at(&codes_at.split('/').collect::<Vec<_>>())
        .map(|d| d.all(code_name).filter_map(Node::value).collect())
        .unwrap_or_default();
    let disability = (!codes.is_empty()).then(|| {
        if codes.iter().any(|d| !d.eq_ignore_ascii_case("NONE")) {
            "Y"
        } else {
            "N"
        }
    });
    // Unborn: an expected birth date and no birth date. The expected date itself is not kept.
    let unborn = match (birth, expected) {
        (Some(_), _) => Some("N"),
        (None, Some(_)) => Some("Y"),
        (None, None) => None,
    };
    let mut row = kid.row(sink, &CHILDREN, pos.to_string());
    row.set("birth_month", birth.map(birth_month_value), birth_label)
        .set("disability", disability, disability_label)
        .set("unborn", unborn, expected_label);
    fill(&mut row, c, specs::cin().table("children"));
    row.finish();
    // Raw layer: UPNunknown and the disability codes (the allow-list); every other item not
    // read above is dropped and named in the summary.
    // Only the first ChildIdentifiers and ChildCharacteristics are read (a census Child has one).
    let table = specs::cin().table("children");
    let never = &specs::cin().never_stored;
    for name in ["ChildIdentifiers", "ChildCharacteristics"] {
        let Some(block) = c.first(name) else {
            continue;
        };
        let bpos = format!("{pos}/{name}");
        for it in &block.children {
            let path = format!("{name}/{}", it.name);
            if table.reads(&path) || never.contains(&path) {
                continue;
            }
            if path == codes_at {
                let dpos = format!("{bpos}/{}", it.name);
                for d in &it.children {
                    raw_item(sink, &dpos, &it.name, d, None);
                }
            } else {
                raw_item(sink, &bpos, name, it, None);
            }
        }
    }
    for it in &c.children {
        if !matches!(
            it.name.as_str(),
            "ChildIdentifiers" | "ChildCharacteristics" | "CINdetails"
        ) {
            raw_item(sink, pos, "Child", it, None);
        }
    }
}

/// One episode's rows below its referral.
struct Episode<'a> {
    kid: &'a Kid<'a>,
    node: &'a Node,
    pos: &'a str,
    referral_id: &'a str,
    plan_starts: HashSet<NaiveDate>,
}

impl Episode<'_> {
    /// CPP when a plan of the episode starts on the ICPC's date, else NO_CPP.
    fn icpc_result(&self, icpc: Option<&str>) -> Option<&'static str> {
        let d = norm_date(icpc?)?;
        Some(if self.plan_starts.contains(&d) {
            "CPP"
        } else {
            "NO_CPP"
        })
    }

    fn assessments(&self, sink: &mut Sink) {
        let table = specs::cin().table("assessments");
        let (factors_path, factors_label) = source_of("assessments", "factors");
        let (factors_block, factor) = in_block(factors_path);
        for (k, a) in self.node.all("Assessments").enumerate() {
            let apos = format!("{}/Assessments[{}]", self.pos, k + 1);
            let factors = a.first(factors_block).map(|f| {
                f.all(factor)
                    .filter_map(Node::value)
                    .collect::<Vec<_>>()
                    .join(";")
            });
            let mut row = self.kid.row(sink, &ASSESSMENTS, apos.clone());
            row.set(
                "assessment_id",
                format!("{}-A{}", self.referral_id, k + 1),
                "",
            )
            .set("referral_id", self.referral_id, "")
            .set("factors", factors.filter(|f| !f.is_empty()), factors_label);
            fill(&mut row, a, table);
            row.finish();
            unread_items(sink, a, &apos, table, factors_path);
        }
    }

    /// The s47 enquiries; returns their ICPC dates and positions.
    fn s47s(&self, sink: &mut Sink) -> Vec<(Option<NaiveDate>, String)> {
        let table = specs::cin().table("s47_enquiries");
        let mut icpcs = vec![];
        for (k, s47) in self.node.all("Section47").enumerate() {
            let spos = format!("{}/Section47[{}]", self.pos, k + 1);
            let icpc = item(s47, source_of("s47_enquiries", "icpc_date").0);
            if let Some(d) = icpc {
                icpcs.push((norm_date(d), spos.clone()));
            }
            let mut row = self.kid.row(sink, &S47_ENQUIRIES, spos.clone());
            row.set("s47_id", format!("{}-S{}", self.referral_id, k + 1), "")
                .set("referral_id", self.referral_id, "")
                .set("icpc_result", self.icpc_result(icpc), "")
                .set("transfer_in", "N", "");
            fill(&mut row, s47, table);
            row.finish();
            rest(sink, s47, &spos, &table.block, false);
        }
        icpcs
    }

    /// A `DateOfInitialCPC` directly under `CINdetails` is a transfer-in conference
    /// (measures.md section 4): a child moving in on another LA's plan, not an s47 enquiry.
    fn transfer_in(&self, sink: &mut Sink, s47_icpcs: &[(Option<NaiveDate>, String)]) {
        let (icpc_path, icpc_label) = source_of("transfer_in", "icpc_date");
        let Some(icpc) = item(self.node, icpc_path) else {
            return;
        };
        let tpos = format!("{}/{icpc_path}", self.pos);
        let d = norm_date(icpc);
        if let Some((_, spos)) = s47_icpcs.iter().find(|(sd, _)| d.is_some() && *sd == d) {
            // The same conference recorded at both levels: stored once, as the s47's ICPC.
            if self.kid.broken.is_none() {
                sink.flag(
                    "s47_enquiries",
                    spos.clone(),
                    icpc_label,
                    "icpc_recorded_twice",
                    format!(
                        "DateOfInitialCPC {} is recorded both under CINdetails and under Section47 (DfE rule 2884): stored once, as this enquiry's ICPC",
                        d.map_or_else(String::new, |d| d.to_string())
                    ),
                );
            }
            return;
        }
        // The census does not carry the date the LA was notified of the move, so the referral
        // date stands in for the transfer-in row's start_date.
        let mut row = self.kid.row(sink, &S47_ENQUIRIES, tpos.clone());
        row.set("s47_id", format!("{}-T", self.referral_id), "")
            .set("referral_id", self.referral_id, "")
            .set("icpc_result", self.icpc_result(Some(icpc)), "")
            .set("transfer_in", "Y", "");
        fill(&mut row, self.node, specs::cin().table("transfer_in"));
        if row.finish() && !s47_icpcs.is_empty() {
            let others: Vec<String> = s47_icpcs
                .iter()
                .map(|(sd, p)| {
                    format!(
                        "{} at {p}",
                        sd.map_or_else(|| "?".to_string(), |x| x.to_string())
                    )
                })
                .collect();
            sink.flag(
                "s47_enquiries",
                tpos,
                icpc_label,
                "icpc_both_levels",
                format!(
                    "DateOfInitialCPC {} under CINdetails and a different one under Section47 ({}) breaks DfE rule 2884: the CINdetails one is stored as a transfer-in conference",
                    privacy::shown(Echo::Date, icpc),
                    others.join(", ")
                ),
            );
        }
    }

    /// Child protection plans and their reviews; an exact duplicate block is rejected, not
    /// numbered again.
    fn plans(&self, sink: &mut Sink) {
        let table = specs::cin().table("cp_plans");
        let (review_path, review_label) = source_of("cp_reviews", "review_date");
        let (reviews_block, review) = in_block(review_path);
        // (signature -> position): a map, so that many plans in one episode stay linear.
        let mut kept: HashMap<String, String> = HashMap::new();
        for (k, p) in self.node.all("ChildProtectionPlans").enumerate() {
            let ppos = format!("{}/ChildProtectionPlans[{}]", self.pos, k + 1);
            let reviews: Vec<(usize, &str)> = p
                .all(reviews_block)
                .flat_map(|r| r.all(review))
                .filter_map(Node::value)
                .enumerate()
                .collect();
            let review_pos = |r: usize| format!("{ppos}/{review}[{}]", r + 1);
            let sig = p.signature();
            if let Some(first) = kept.get(&sig) {
                let first = first.rsplit('/').next().unwrap_or(first).to_string();
                sink.reject(
                    &CP_PLANS,
                    ppos.clone(),
                    "ChildProtectionPlans",
                    "",
                    format!("duplicate CP plan (same start, end and reviews as {first})"),
                );
                for (r, _) in &reviews {
                    sink.reject(
                        &CP_REVIEWS,
                        review_pos(*r),
                        review_label,
                        "",
                        format!("review of a duplicate CP plan (same as {first})"),
                    );
                }
                continue;
            }
            kept.insert(sig, ppos.clone());
            let plan_id = format!("{}-P{}", self.referral_id, kept.len());
            let mut row = self.kid.row(sink, &CP_PLANS, ppos.clone());
            row.set("plan_id", &plan_id, "")
                .set("referral_id", self.referral_id, "");
            fill(&mut row, p, table);
            row.finish();
            for (r, date) in &reviews {
                let mut row = sink.row_for(&CP_REVIEWS, review_pos(*r));
                if let Some(why) = &self.kid.broken {
                    row.refuse(child_id_label(), why.clone());
                }
                row.set("plan_id", &plan_id, "")
                    .set("review_date", *date, review_label);
                row.finish();
            }
            unread_items(sink, p, &ppos, table, review_path);
        }
    }
}

impl Episode<'_> {
    /// The episode's pre-proceedings (the 2026-27 census module): one row per
    /// `PreProceedingsandFGDM` block, id `{referral}-PP{k}` with k counting the episode's blocks
    /// in file order; the block's items by [`super::cin_pp::items`].
    fn pre_proceedings(&self, sink: &mut Sink) {
        for (k, b) in self.node.all(super::cin_pp::BLOCK).enumerate() {
            let pos = format!("{}/{}[{}]", self.pos, super::cin_pp::BLOCK, k + 1);
            // A broken Child's block is rejected whole, its items not looked at.
            let values = match self.kid.broken {
                Some(_) => vec![],
                None => {
                    let items: Vec<super::cin_pp::Item> = b
                        .children
                        .iter()
                        .map(|c| super::cin_pp::Item {
                            name: &c.name,
                            value: c.value(),
                            nested: !c.children.is_empty(),
                        })
                        .collect();
                    super::cin_pp::items(sink, &items)
                }
            };
            let mut row = self.kid.row(sink, &PRE_PROCEEDINGS, pos);
            row.set("pp_id", format!("{}-PP{}", self.referral_id, k + 1), "")
                .set("referral_id", self.referral_id, "");
            for (column, value, item) in values {
                row.set(column, value, item);
            }
            row.finish();
        }
    }
}

/// The items of a row's element that its table does not read: to the raw layer, or dropped. In
/// `list` (`block/item`: the block holding a repeated item read whole, FactorsIdentifiedAtAssessment
/// or Reviews) anything but that item is dropped.
fn unread_items(sink: &mut Sink, node: &Node, pos: &str, table: &CinTable, list: &str) {
    let (block, item) = in_block(list);
    for it in &node.children {
        if it.name == block {
            for x in it.children.iter().filter(|x| x.name != item) {
                sink.drop_field(&format!("{block}/{}", x.name));
            }
        } else if !table.reads(&it.name) {
            raw_item(sink, pos, &node.name, it, None);
        }
    }
}

/// The items of a block (at `block`, a path from Child) that no table of that block reads, and
/// that are not blocks with tables of their own (Assessments, Section47...): to the raw layer, or
/// dropped. `numbered`: a kept block is numbered among its parent's blocks of that name
/// (CINPlanDates[2]).
fn rest(sink: &mut Sink, node: &Node, pos: &str, block: &str, numbered: bool) {
    let spec = specs::cin();
    let tables: Vec<&CinTable> = spec.tables.values().filter(|t| t.block == block).collect();
    let below = spec.blocks_below(block);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for it in &node.children {
        let name = it.name.as_str();
        if below.contains(&name) || tables.iter().any(|t| t.reads(name)) {
            continue;
        }
        let k = numbered.then(|| {
            let k = seen.entry(name).or_insert(0);
            *k += 1;
            *k
        });
        raw_item(sink, pos, &node.name, it, k);
    }
}

/// An element of `parent` that the reader does not map: kept in the raw layer only when the
/// allow-list ([`raw_allow::cin`]) knows it - a leaf as one field of its parent (at the parent's
/// position), a known block (CINPlanDates) item by item at its own
/// position (`[k]`: its number among its parent's blocks of that name). Anything else, leaf or
/// block, is dropped whole and named `parent/name` in the summary; its text is never read.
fn raw_item(sink: &mut Sink, parent_pos: &str, parent: &str, item: &Node, k: Option<usize>) {
    if item.children.is_empty() {
        match raw_allow::cin(parent, &item.name) {
            Some(kind) => {
                if let Some(v) = item.value() {
                    sink.raw(parent_pos.to_string(), parent, &item.name, v, kind);
                }
            }
            None => sink.drop_field(&format!("{parent}/{}", item.name)),
        }
    } else if raw_allow::cin_block(parent, &item.name) {
        let block_pos = match k {
            Some(k) => format!("{parent_pos}/{}[{k}]", item.name),
            None => format!("{parent_pos}/{}", item.name),
        };
        for c in &item.children {
            raw_item(sink, &block_pos, &item.name, c, None);
        }
    } else {
        sink.drop_field(&format!("{parent}/{}", item.name));
    }
}
