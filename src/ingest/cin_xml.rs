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
//! Mapping (the same ids whichever return an episode is in, so a newer return supersedes it):
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
//!   other census items on the raw layer's allow-list ([`super::raw_allow::CIN`]) go to the raw
//!   layer; any other element (also inside `Header`) is dropped and named in the summary, never
//!   its text. UPN, FormerUPN, the exact birth date, the expected birth date and the death date are
//!   never stored.
//! - `Header/Source/LEA` must be a three-digit LA code and `ReferenceDate` a date within the
//!   calendar's years (1990-2040), else the file fails. Messages show input values only as the
//!   echo rule allows ([`super::privacy`]).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::parse;
use super::privacy::{self, Echo};
use super::raw_allow;
use super::sink::Sink;
use crate::error::UserError;
use crate::schema::{
    self, TableSpec, ASSESSMENTS, CHILDREN, CP_PLANS, CP_REVIEWS, REFERRALS, S47_ENQUIRIES,
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
    let file = File::open(path).map_err(|e| UserError::file(path, format!("cannot open: {e}")))?;
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
    let Ok(f) = File::open(path) else {
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

/// `ChildIdentifiers` items that identify a child: read by the reader (LAchildID pseudonymised,
/// the birth date degraded to its month, the expected birth date only as `unborn`) or never
/// stored (UPN, FormerUPN, the death date). Known census items, so not reported as dropped.
const IDENTIFYING: &[&str] = &[
    "LAchildID",
    "UPN",
    "FormerUPN",
    "PersonBirthDate",
    "ExpectedPersonBirthDate",
    "PersonDeathDate",
];

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

fn s(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// Maps each `Child` onto the canonical tables.
#[derive(Default)]
struct ChildMapper {
    /// (pseudonym, referral date) -> episodes seen so far in this return.
    episodes: HashMap<(String, String), u32>,
}

/// Where a child's rows go: the validator, or (for a Child that cannot be mapped at all) straight
/// to the rejects, so that rows read = stored + rejected still holds.
struct Emit<'a> {
    sink: &'a mut Sink,
    broken: Option<String>,
}

impl Emit<'_> {
    fn row(
        &mut self,
        spec: &'static TableSpec,
        pos: String,
        values: Vec<Option<String>>,
        labels: &[&str],
    ) -> bool {
        match &self.broken {
            Some(why) => {
                self.sink.reject(spec, pos, "LAchildID", "", why.clone());
                false
            }
            None => self.sink.row_labelled(spec, pos, values, labels),
        }
    }
}

impl ChildMapper {
    fn child(&mut self, sink: &mut Sink, h: &Header, c: &Node, index: usize) {
        let pos = format!("Child[{index}]");
        let ids = c.first("ChildIdentifiers");
        let raw_id = ids.and_then(|i| i.get("LAchildID"));
        let broken = match raw_id {
            Some(_) => None,
            None => Some(
                "the Child has no LAchildID: its rows cannot be pseudonymised or linked"
                    .to_string(),
            ),
        };
        let raw_id = raw_id.unwrap_or("");
        let pseudo = if broken.is_some() {
            String::new()
        } else {
            sink.pseudo.child_id(raw_id)
        };
        let la = h.la.as_str();

        // ---- children ----
        let birth = ids.and_then(|i| i.get("PersonBirthDate"));
        let expected = ids.and_then(|i| i.get("ExpectedPersonBirthDate"));
        let (sex, sex_label) = match (
            ids.and_then(|i| i.get("GenderCurrent")),
            ids.and_then(|i| i.get("Sex")),
        ) {
            (_, Some(v)) => (Some(sex_code(v)), "Sex"),
            (Some(v), None) => (Some(sex_code(v)), "GenderCurrent"),
            (None, None) => (None, "Sex"),
        };
        let chars = c.first("ChildCharacteristics");
        let disabilities: Vec<&str> = chars
            .and_then(|ch| ch.first("Disabilities"))
            .map(|d| d.all("Disability").filter_map(Node::value).collect())
            .unwrap_or_default();
        let disability = if disabilities.is_empty() {
            None
        } else if disabilities.iter().any(|d| !d.eq_ignore_ascii_case("NONE")) {
            Some("Y".to_string())
        } else {
            Some("N".to_string())
        };
        // Unborn: an expected birth date and no birth date. The expected date itself is not kept.
        let unborn = match (birth, expected) {
            (Some(_), _) => Some("N".to_string()),
            (None, Some(_)) => Some("Y".to_string()),
            (None, None) => None,
        };
        let mut out = Emit { sink, broken };
        out.row(
            &CHILDREN,
            pos.clone(),
            vec![
                Some(raw_id.to_string()),
                Some(la.to_string()),
                birth.map(birth_month_value),
                sex,
                s(chars.and_then(|ch| ch.get("Ethnicity"))),
                disability,
                unborn,
            ],
            &[
                "LAchildID",
                "LEA",
                "PersonBirthDate",
                sex_label,
                "Ethnicity",
                "Disability",
                "ExpectedPersonBirthDate",
            ],
        );
        // Raw layer: UPNunknown and the disability codes (the allow-list); every other item not
        // read above is dropped and named in the summary.
        if let Some(ids) = ids {
            let ipos = format!("{pos}/ChildIdentifiers");
            for item in &ids.children {
                match item.name.as_str() {
                    "GenderCurrent" | "Sex" => {}
                    n if IDENTIFYING.contains(&n) => {}
                    _ => raw_item(out.sink, &ipos, "ChildIdentifiers", item, None),
                }
            }
        }
        if let Some(ch) = chars {
            let cpos = format!("{pos}/ChildCharacteristics");
            for item in &ch.children {
                match item.name.as_str() {
                    "Ethnicity" => {}
                    "Disabilities" => {
                        let dpos = format!("{cpos}/Disabilities");
                        for d in &item.children {
                            raw_item(out.sink, &dpos, "Disabilities", d, None);
                        }
                    }
                    _ => raw_item(out.sink, &cpos, "ChildCharacteristics", item, None),
                }
            }
        }
        for item in &c.children {
            if !matches!(
                item.name.as_str(),
                "ChildIdentifiers" | "ChildCharacteristics" | "CINdetails"
            ) {
                raw_item(out.sink, &pos, "Child", item, None);
            }
        }

        // ---- episodes ----
        for (j, ep) in c.all("CINdetails").enumerate() {
            let epos = format!("{pos}/CINdetails[{}]", j + 1);
            let ref_date = ep.get("CINreferralDate");
            let date_key = id_date(ref_date);
            let n = self
                .episodes
                .entry((pseudo.clone(), date_key.clone()))
                .or_insert(0);
            *n += 1;
            let n = *n;
            let referral_id = format!("{pseudo}-{date_key}-{n}");
            let stored = out.row(
                &REFERRALS,
                epos.clone(),
                vec![
                    Some(referral_id.clone()),
                    Some(raw_id.to_string()),
                    Some(la.to_string()),
                    s(ref_date),
                    s(ep.get("ReferralSource")),
                    None,
                    s(ep.get("ReferralNFA")),
                    s(ep.get("PrimaryNeedCode")),
                    s(ep.get("CINclosureDate")),
                    s(ep.get("ReasonForClosure")),
                    None,
                ],
                &[
                    "",
                    "LAchildID",
                    "LEA",
                    "CINreferralDate",
                    "ReferralSource",
                    "",
                    "ReferralNFA",
                    "PrimaryNeedCode",
                    "CINclosureDate",
                    "ReasonForClosure",
                    "",
                ],
            );
            if stored && n > 1 {
                out.sink.flag(
                    "referrals",
                    epos.clone(),
                    "CINreferralDate",
                    "same_day_episode",
                    format!(
                        "episode {n} of this child with CINreferralDate {date_key} in this return: kept, in file order (data-contract.md section 4)"
                    ),
                );
            }

            // Plan start dates decide whether an ICPC resulted in a plan.
            let plan_starts: HashSet<NaiveDate> = ep
                .all("ChildProtectionPlans")
                .filter_map(|p| p.get("CPPstartDate"))
                .filter_map(norm_date)
                .collect();
            let icpc_result = |icpc: Option<&str>| -> Option<String> {
                let d = norm_date(icpc?)?;
                Some(
                    if plan_starts.contains(&d) {
                        "CPP"
                    } else {
                        "NO_CPP"
                    }
                    .to_string(),
                )
            };

            for (k, a) in ep.all("Assessments").enumerate() {
                let apos = format!("{epos}/Assessments[{}]", k + 1);
                let factors = a.first("FactorsIdentifiedAtAssessment").map(|f| {
                    f.all("AssessmentFactors")
                        .filter_map(Node::value)
                        .collect::<Vec<_>>()
                        .join(";")
                });
                out.row(
                    &ASSESSMENTS,
                    apos.clone(),
                    vec![
                        Some(format!("{referral_id}-A{}", k + 1)),
                        Some(referral_id.clone()),
                        Some(raw_id.to_string()),
                        Some(la.to_string()),
                        s(a.get("AssessmentActualStartDate")),
                        s(a.get("AssessmentAuthorisationDate")),
                        factors.filter(|f| !f.is_empty()),
                        None,
                        None,
                    ],
                    &[
                        "",
                        "",
                        "LAchildID",
                        "LEA",
                        "AssessmentActualStartDate",
                        "AssessmentAuthorisationDate",
                        "AssessmentFactors",
                        "",
                        "",
                    ],
                );
                for item in &a.children {
                    match item.name.as_str() {
                        "AssessmentActualStartDate" | "AssessmentAuthorisationDate" => {}
                        "FactorsIdentifiedAtAssessment" => {
                            for f in item
                                .children
                                .iter()
                                .filter(|f| f.name != "AssessmentFactors")
                            {
                                out.sink.drop_field(&format!(
                                    "FactorsIdentifiedAtAssessment/{}",
                                    f.name
                                ));
                            }
                        }
                        _ => raw_item(out.sink, &apos, "Assessments", item, None),
                    }
                }
            }

            let mut s47_icpcs: Vec<(Option<NaiveDate>, String)> = vec![];
            for (k, s47) in ep.all("Section47").enumerate() {
                let spos = format!("{epos}/Section47[{}]", k + 1);
                let icpc = s47.get("DateOfInitialCPC");
                if let Some(d) = icpc {
                    s47_icpcs.push((norm_date(d), spos.clone()));
                }
                out.row(
                    &S47_ENQUIRIES,
                    spos.clone(),
                    vec![
                        Some(format!("{referral_id}-S{}", k + 1)),
                        Some(referral_id.clone()),
                        Some(raw_id.to_string()),
                        Some(la.to_string()),
                        s(s47.get("S47ActualStartDate")),
                        s(s47.get("ICPCnotRequired")),
                        s(icpc),
                        icpc_result(icpc),
                        Some("N".into()),
                    ],
                    &[
                        "",
                        "",
                        "LAchildID",
                        "LEA",
                        "S47ActualStartDate",
                        "ICPCnotRequired",
                        "DateOfInitialCPC",
                        "",
                        "",
                    ],
                );
                for item in &s47.children {
                    if !matches!(
                        item.name.as_str(),
                        "S47ActualStartDate" | "DateOfInitialCPC" | "ICPCnotRequired"
                    ) {
                        raw_item(out.sink, &spos, "Section47", item, None);
                    }
                }
            }

            // A DateOfInitialCPC directly under CINdetails is a transfer-in conference (measures.md
            // section 4): a child moving in on another LA's plan, not an s47 enquiry.
            if let Some(icpc) = ep.get("DateOfInitialCPC") {
                let tpos = format!("{epos}/DateOfInitialCPC");
                let d = norm_date(icpc);
                let same = s47_icpcs.iter().find(|(sd, _)| d.is_some() && *sd == d);
                if let Some((_, spos)) = same {
                    // The same conference recorded at both levels: stored once, as the s47's ICPC.
                    if out.broken.is_none() {
                        out.sink.flag(
                            "s47_enquiries",
                            spos.clone(),
                            "DateOfInitialCPC",
                            "icpc_recorded_twice",
                            format!(
                                "DateOfInitialCPC {} is recorded both under CINdetails and under Section47 (DfE rule 2884): stored once, as this enquiry's ICPC",
                                d.map_or_else(String::new, |d| d.to_string())
                            ),
                        );
                    }
                } else {
                    // The census does not carry the date the LA was notified of the move, so the
                    // referral date stands in for the transfer-in row's start_date.
                    let stored = out.row(
                        &S47_ENQUIRIES,
                        tpos.clone(),
                        vec![
                            Some(format!("{referral_id}-T")),
                            Some(referral_id.clone()),
                            Some(raw_id.to_string()),
                            Some(la.to_string()),
                            s(ref_date),
                            None,
                            Some(icpc.to_string()),
                            icpc_result(Some(icpc)),
                            Some("Y".into()),
                        ],
                        &[
                            "",
                            "",
                            "LAchildID",
                            "LEA",
                            "CINreferralDate",
                            "",
                            "DateOfInitialCPC",
                            "",
                            "",
                        ],
                    );
                    if stored && !s47_icpcs.is_empty() {
                        let others: Vec<String> = s47_icpcs
                            .iter()
                            .map(|(sd, p)| {
                                format!(
                                    "{} at {p}",
                                    sd.map_or_else(|| "?".to_string(), |x| x.to_string())
                                )
                            })
                            .collect();
                        out.sink.flag(
                            "s47_enquiries",
                            tpos.clone(),
                            "DateOfInitialCPC",
                            "icpc_both_levels",
                            format!(
                                "DateOfInitialCPC {} under CINdetails and a different one under Section47 ({}) breaks DfE rule 2884: the CINdetails one is stored as a transfer-in conference",
                                privacy::shown(Echo::Date, icpc),
                                others.join(", ")
                            ),
                        );
                    }
                }
            }

            // Child protection plans; an exact duplicate block is rejected, not numbered again.
            // (signature -> position): a map, so that many plans in one episode stay linear.
            let mut kept: HashMap<String, String> = HashMap::new();
            for (k, p) in ep.all("ChildProtectionPlans").enumerate() {
                let ppos = format!("{epos}/ChildProtectionPlans[{}]", k + 1);
                let reviews: Vec<(usize, &str)> = p
                    .all("Reviews")
                    .flat_map(|r| r.all("CPPreviewDate"))
                    .filter_map(Node::value)
                    .enumerate()
                    .collect();
                let sig = p.signature();
                if let Some(first) = kept.get(&sig) {
                    let first = first.rsplit('/').next().unwrap_or(first).to_string();
                    out.sink.reject(
                        &CP_PLANS,
                        ppos.clone(),
                        "ChildProtectionPlans",
                        "",
                        format!("duplicate CP plan (same start, end and reviews as {first})"),
                    );
                    for (r, _) in &reviews {
                        out.sink.reject(
                            &CP_REVIEWS,
                            format!("{ppos}/CPPreviewDate[{}]", r + 1),
                            "CPPreviewDate",
                            "",
                            format!("review of a duplicate CP plan (same as {first})"),
                        );
                    }
                    continue;
                }
                kept.insert(sig, ppos.clone());
                let plan_id = format!("{referral_id}-P{}", kept.len());
                out.row(
                    &CP_PLANS,
                    ppos.clone(),
                    vec![
                        Some(plan_id.clone()),
                        Some(referral_id.clone()),
                        Some(raw_id.to_string()),
                        Some(la.to_string()),
                        s(p.get("CPPstartDate")),
                        s(p.get("CPPendDate")),
                        s(p.get("InitialCategoryOfAbuse")),
                        s(p.get("LatestCategoryOfAbuse")),
                        s(p.get("NumberOfPreviousCPP")),
                        None,
                        None,
                    ],
                    &[
                        "",
                        "",
                        "LAchildID",
                        "LEA",
                        "CPPstartDate",
                        "CPPendDate",
                        "InitialCategoryOfAbuse",
                        "LatestCategoryOfAbuse",
                        "NumberOfPreviousCPP",
                        "",
                        "",
                    ],
                );
                for (r, date) in &reviews {
                    out.row(
                        &CP_REVIEWS,
                        format!("{ppos}/CPPreviewDate[{}]", r + 1),
                        vec![Some(plan_id.clone()), Some(date.to_string())],
                        &["", "CPPreviewDate"],
                    );
                }
                for item in &p.children {
                    match item.name.as_str() {
                        "CPPstartDate"
                        | "CPPendDate"
                        | "InitialCategoryOfAbuse"
                        | "LatestCategoryOfAbuse"
                        | "NumberOfPreviousCPP" => {}
                        "Reviews" => {
                            for r in item.children.iter().filter(|r| r.name != "CPPreviewDate") {
                                out.sink.drop_field(&format!("Reviews/{}", r.name));
                            }
                        }
                        _ => raw_item(out.sink, &ppos, "ChildProtectionPlans", item, None),
                    }
                }
            }

            // Pre-proceedings (2026-27): pre_proceedings rows; CIN plans: the raw layer; anything
            // else is dropped.
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for item in &ep.children {
                match item.name.as_str() {
                    "CINreferralDate"
                    | "ReferralSource"
                    | "PrimaryNeedCode"
                    | "CINclosureDate"
                    | "ReasonForClosure"
                    | "DateOfInitialCPC"
                    | "ReferralNFA"
                    | "Assessments"
                    | "Section47"
                    | "ChildProtectionPlans" => {}
                    super::cin_pp::BLOCK => {
                        let k = seen.entry(super::cin_pp::BLOCK).or_insert(0);
                        *k += 1;
                        let items: Vec<super::cin_pp::Item> = item
                            .children
                            .iter()
                            .map(|c| super::cin_pp::Item {
                                name: &c.name,
                                value: c.value(),
                                nested: !c.children.is_empty(),
                            })
                            .collect();
                        let ep = super::cin_pp::Episode {
                            pos: &epos,
                            referral_id: &referral_id,
                            raw_child_id: raw_id,
                            la,
                            broken: out.broken.as_deref(),
                        };
                        super::cin_pp::block(out.sink, ep, *k, &items);
                    }
                    name => {
                        let k = seen.entry(name).or_insert(0);
                        *k += 1;
                        raw_item(out.sink, &epos, "CINdetails", item, Some(*k));
                    }
                }
            }
        }
    }
}

/// An element of `parent` that the reader does not map: kept in the raw layer only when the
/// allow-list ([`raw_allow::CIN`]) knows it - a leaf as one field of its parent (at the parent's
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

/// `GenderCurrent` (1 male, 2 female, 0 not recorded or unborn, 9 indeterminate) or `Sex`
/// (M/F/U, legacy digits accepted) as the canonical M/F/U. Anything else is passed on for the
/// validator to flag.
fn sex_code(v: &str) -> String {
    match v.trim().to_ascii_uppercase().as_str() {
        "1" | "M" => "M".into(),
        "2" | "F" => "F".into(),
        "0" | "9" | "U" => "U".into(),
        _ => v.to_string(),
    }
}
