//! The canonical tables of the data contract (data-contract.md section 3): every column, its type,
//! whether it is required, its code list, each table's key and its parent link.
//!
//! Every reader (canonical CSV, CIN census XML, Annex A) produces rows in these shapes; validation,
//! the store and the measures all read this one description, so a column is named the same way
//! everywhere.

/// How a cell is parsed and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A record identifier (kept as text).
    Id,
    /// A child identifier: pseudonymised with the partnership key when one is given.
    ChildId,
    /// Short free text that is not identifying (a lead agency, a CDOP code, a population source).
    Text,
    /// One code from a closed list (matched case-insensitively, stored as listed).
    Code(&'static [&'static str]),
    /// Several codes from a closed list, separated by `;`.
    Codes(&'static [&'static str]),
    /// A calendar date (`YYYY-MM-DD` or `DD/MM/YYYY`; a datetime keeps its date).
    Date,
    /// A datetime; a bare date is accepted with the time unknown.
    DateTime,
    /// A month (`YYYY-MM`), stored as the first of the month.
    YearMonth,
    /// Yes/no: `Y/N/Yes/No/true/false/1/0`, any case.
    YesNo,
    /// A whole number in an inclusive range.
    Int { min: i64, max: i64 },
    /// Free text that may identify someone: never stored; only whether it was recorded is kept.
    Withheld,
    /// The DfE three-digit LA number (`940`): exactly three ASCII digits.
    LaCode,
    /// A CDOP factor: a known factor code ([`CDOP_FACTOR_CODES`], matched after [`factor_code`]'s
    /// normalisation) or a short code with a digit; anything else (free text, a name, a formula)
    /// is stored as [`UNCODED_FACTOR`] with a data-quality flag, never as written.
    Factor,
}

/// One column of a canonical table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// A link from a row to the row it belongs to (its referral, plan or CDOP case).
#[derive(Debug, Clone, Copy)]
pub struct Parent {
    pub column: &'static str,
    pub table: &'static str,
    pub parent_column: &'static str,
}

/// One canonical table.
#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [ColumnSpec],
    /// Columns that identify a row: a second row with the same key in one file is a duplicate,
    /// and a row from a newer extract with the same key supersedes the older one.
    pub key: &'static [&'static str],
    pub parent: Option<Parent>,
}

impl TableSpec {
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
    pub fn required(&self) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().filter(|c| c.required)
    }
    /// The canonical CSV file name, e.g. `referrals.csv`.
    pub fn file_name(&self) -> String {
        format!("{}.csv", self.name)
    }
}

const fn req(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: true,
    }
}
const fn opt(name: &'static str, kind: Kind) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required: false,
    }
}

// ---- code lists (anchors-csc.md section 2.2, cdop.md section 1) ----

pub const SEX: &[&str] = &["M", "F", "U"];
pub const ETHNICITY: &[&str] = &[
    "WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN", "ABAN",
    "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
];
pub const REFERRAL_SOURCE: &[&str] = &[
    "1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "5A", "5B", "5C",
    "5D", "6", "7", "8", "9", "10",
];
pub const PRIMARY_NEED: &[&str] = &["N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9"];
pub const CLOSURE_REASON: &[&str] = &[
    "RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9",
];
pub const CONTACT_OUTCOME: &[&str] = &["REFERRAL", "EARLY_HELP", "SIGNPOST", "NFA", "ADVICE"];
pub const EARLY_HELP_OUTCOME: &[&str] = &["NEEDS_MET", "STEP_UP", "DISENGAGED", "MOVED", "OTHER"];
pub const STEPPED_DOWN_FROM: &[&str] = &["REFERRAL", "ASSESSMENT", "CIN", "CPP"];
pub const ASSESSMENT_FACTORS: &[&str] = &[
    "1A", "1B", "1C", "2A", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C", "5A", "5B", "5C", "6A",
    "6B", "6C", "7A", "8B", "8C", "8D", "8E", "8F", "9A", "10A", "11A", "12A", "13A", "14A", "15A",
    "16A", "17A", "18A", "18B", "18C", "19A", "19B", "19C", "20", "21", "22A", "23A", "24A",
];
pub const ICPC_RESULT: &[&str] = &["CPP", "NO_CPP"];
pub const CATEGORY_OF_ABUSE: &[&str] = &["NEG", "PHY", "SAB", "EMO", "MUL"];
pub const PLAN_END_REASON: &[&str] = &[
    "NO_LONGER_AT_RISK",
    "MOVED_LA",
    "REACHED_18",
    "DIED",
    "LEFT_UK",
    "OTHER",
];
pub const CDOP_CATEGORY: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
pub const MODIFIABLE: &[&str] = &["IDENTIFIED", "NOT_IDENTIFIED", "INSUFFICIENT"];
pub const PLACE_OF_DEATH: &[&str] = &[
    "HOSPITAL",
    "HOME",
    "HOSPICE",
    "PUBLIC_PLACE",
    "ABROAD",
    "OTHER",
];
pub const CDOP_EVENT: &[&str] = &[
    "NEONATAL",
    "SUDI",
    "KNOWN_LIFE_LIMITING",
    "ROAD_TRAFFIC",
    "DROWNING",
    "FIRE_BURNS",
    "POISONING",
    "OTHER_ACCIDENT",
    "SUBSTANCE_MISUSE",
    "APPARENT_HOMICIDE",
    "APPARENT_SUICIDE",
    "OTHER",
];
pub const CDOP_DOMAIN: &[&str] = &["A", "B", "C", "D"];
/// `PPOutcome`, the outcome of pre-proceedings (CIN census 2026-27 code set CS131; DfE rule 9011).
/// The meanings of A, B and C are not in the sources this project holds: they are stored and
/// shown as codes.
pub const PP_OUTCOME: &[&str] = &["A", "B", "C"];
pub const LA_CODE_LEN: usize = 3;

/// Whether `v` is an LA code: exactly three ASCII digits (data-contract.md section 3).
pub fn is_la_code(v: &str) -> bool {
    v.len() == LA_CODE_LEN && v.bytes().all(|b| b.is_ascii_digit())
}

/// What a CDOP factor that is not a code is stored as.
pub const UNCODED_FACTOR: &str = "UNCODED";

/// Known CDOP factor codes: the factors the synthetic data and the samples use (themes of the
/// NCMD analysis form and of published CDOP reports, cdop.md, anchors-cdop.md), upper case with
/// `_` between words.
pub const CDOP_FACTOR_CODES: &[&str] = &[
    "ACCESS_TO_SERVICES",
    "ADHERENCE_TO_TREATMENT",
    "ASTHMA_MANAGEMENT",
    "BULLYING",
    "CHILD_MENTAL_HEALTH",
    "CHILD_PROTECTION_PRACTICE",
    "CONSANGUINITY",
    "CO_SLEEPING",
    "DELAY_IN_CARE",
    "DELAY_IN_DIAGNOSIS",
    "DELAY_IN_SEEKING_HELP",
    "DOMESTIC_ABUSE",
    "DOMESTIC_VIOLENCE",
    "DROWNING",
    "FIRE_SAFETY",
    "GANG_OR_KNIFE_CRIME",
    "HOUSING_CONDITIONS",
    "INFORMATION_SHARING",
    "LATE_BOOKING",
    "MATERNAL_OBESITY",
    "MULTI_AGENCY_WORKING",
    "ONLINE_HARM",
    "PARENTAL_ALCOHOL_USE",
    "PARENTAL_MENTAL_HEALTH",
    "PARENTAL_SUBSTANCE_MISUSE",
    "PREVIOUS_SELF_HARM",
    "RECOGNITION_OF_ILLNESS",
    "ROAD_SAFETY",
    "SAFE_SLEEP",
    "SMOKING_IN_HOUSEHOLD",
    "SMOKING_IN_PREGNANCY",
    "SUBSTANCE_MISUSE_CHILD",
    "SUBSTANCE_MISUSE_IN_PREGNANCY",
    "SUPERVISION",
    "TRANSITION_OF_CARE",
    "UNSAFE_SLEEP",
    "VACCINATION_STATUS",
    "WATER_SAFETY",
];

/// A CDOP factor as stored, or None when it is not a code (then it is stored as
/// [`UNCODED_FACTOR`]). Case, spaces and hyphens are normalised (`unsafe sleep` ->
/// `UNSAFE_SLEEP`); the result must be a known code, or a short code shape: 1-10 characters of
/// `A-Z`, `0-9`, `_` and `.` with at least one digit (an LA's own numbered codes such as `B12` or
/// `F1`). A name or a formula has no digit, or characters outside that set.
pub fn factor_code(v: &str) -> Option<String> {
    let mut c = String::with_capacity(v.len());
    for w in v.trim().split([' ', '-', '_']).filter(|w| !w.is_empty()) {
        if !c.is_empty() {
            c.push('_');
        }
        c.push_str(&w.to_ascii_uppercase());
    }
    if CDOP_FACTOR_CODES.contains(&c.as_str()) || c == UNCODED_FACTOR {
        return Some(c);
    }
    let coded = (1..=10).contains(&c.len())
        && c.bytes().any(|b| b.is_ascii_digit())
        && c.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    coded.then_some(c)
}

// ---- the tables ----

pub static CHILDREN: TableSpec = TableSpec {
    name: "children",
    columns: &[
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        opt("birth_month", Kind::YearMonth),
        opt("sex", Kind::Code(SEX)),
        opt("ethnicity", Kind::Code(ETHNICITY)),
        opt("disability", Kind::YesNo),
        opt("unborn", Kind::YesNo),
    ],
    key: &["la_code", "child_id"],
    parent: None,
};

pub static CONTACTS: TableSpec = TableSpec {
    name: "contacts",
    columns: &[
        req("contact_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("received_at", Kind::DateTime),
        opt("source", Kind::Code(REFERRAL_SOURCE)),
        opt("level_of_need", Kind::Int { min: 1, max: 4 }),
        opt("decision_at", Kind::DateTime),
        opt("outcome", Kind::Code(CONTACT_OUTCOME)),
    ],
    key: &["la_code", "contact_id"],
    parent: None,
};

pub static REFERRALS: TableSpec = TableSpec {
    name: "referrals",
    columns: &[
        req("referral_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("received_at", Kind::DateTime),
        opt("source", Kind::Code(REFERRAL_SOURCE)),
        opt("decision_at", Kind::DateTime),
        opt("referral_nfa", Kind::YesNo),
        opt("primary_need", Kind::Code(PRIMARY_NEED)),
        opt("closure_date", Kind::Date),
        opt("closure_reason", Kind::Code(CLOSURE_REASON)),
        opt("contact_id", Kind::Id),
    ],
    key: &["la_code", "referral_id"],
    parent: None,
};

pub static EARLY_HELP: TableSpec = TableSpec {
    name: "early_help",
    columns: &[
        req("episode_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("start_date", Kind::Date),
        opt("end_date", Kind::Date),
        opt("lead_agency", Kind::Text),
        opt("outcome", Kind::Code(EARLY_HELP_OUTCOME)),
        opt("stepped_down_from", Kind::Code(STEPPED_DOWN_FROM)),
    ],
    key: &["la_code", "episode_id"],
    parent: None,
};

const REFERRAL_PARENT: Option<Parent> = Some(Parent {
    column: "referral_id",
    table: "referrals",
    parent_column: "referral_id",
});

pub static ASSESSMENTS: TableSpec = TableSpec {
    name: "assessments",
    columns: &[
        req("assessment_id", Kind::Id),
        req("referral_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("start_date", Kind::Date),
        opt("authorisation_date", Kind::Date),
        opt("factors", Kind::Codes(ASSESSMENT_FACTORS)),
        opt("child_seen", Kind::YesNo),
        opt("reason_over_45wd", Kind::Withheld),
    ],
    key: &["la_code", "assessment_id"],
    parent: REFERRAL_PARENT,
};

pub static STRATEGY_DISCUSSIONS: TableSpec = TableSpec {
    name: "strategy_discussions",
    columns: &[
        req("discussion_id", Kind::Id),
        req("referral_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("date", Kind::Date),
        opt("s47_initiated", Kind::YesNo),
    ],
    key: &["la_code", "discussion_id"],
    parent: REFERRAL_PARENT,
};

pub static S47_ENQUIRIES: TableSpec = TableSpec {
    name: "s47_enquiries",
    columns: &[
        req("s47_id", Kind::Id),
        req("referral_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("start_date", Kind::Date),
        opt("icpc_not_required", Kind::YesNo),
        opt("icpc_date", Kind::Date),
        opt("icpc_result", Kind::Code(ICPC_RESULT)),
        opt("transfer_in", Kind::YesNo),
    ],
    key: &["la_code", "s47_id"],
    parent: REFERRAL_PARENT,
};

pub static CP_PLANS: TableSpec = TableSpec {
    name: "cp_plans",
    columns: &[
        req("plan_id", Kind::Id),
        req("referral_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        req("start_date", Kind::Date),
        opt("end_date", Kind::Date),
        req("initial_category", Kind::Code(CATEGORY_OF_ABUSE)),
        opt("latest_category", Kind::Code(CATEGORY_OF_ABUSE)),
        opt("previous_plans", Kind::Int { min: 0, max: 99 }),
        opt("first_core_group_date", Kind::Date),
        opt("end_reason", Kind::Code(PLAN_END_REASON)),
    ],
    key: &["la_code", "plan_id"],
    parent: REFERRAL_PARENT,
};

/// Pre-proceedings and family group decision-making (the CIN census `PreProceedingsandFGDM`
/// module from 2026-27; the Children's Wellbeing and Schools Act 2026 s.1 duty to offer an FGDM
/// meeting in the letter before proceedings). Every column but the ids is optional: the module is
/// new and returns will come incomplete, so gaps are data-quality flags (the DfE's draft rules
/// 9005-9015Q, `crate::ingest::pp_rules`), never rejections.
pub static PRE_PROCEEDINGS: TableSpec = TableSpec {
    name: "pre_proceedings",
    columns: &[
        req("pp_id", Kind::Id),
        req("referral_id", Kind::Id),
        req("child_id", Kind::ChildId),
        req("la_code", Kind::LaCode),
        opt("pp_start_date", Kind::Date),
        opt("lbp_sent_date", Kind::Date),
        opt("fgdm_offered", Kind::YesNo),
        opt("fgdm_facilitated", Kind::YesNo),
        opt("initial_meeting_date", Kind::Date),
        opt("review_meetings", Kind::Int { min: 0, max: 999 }),
        opt("step_decision_date", Kind::Date),
        opt("outcome", Kind::Code(PP_OUTCOME)),
        opt("court_application_date", Kind::Date),
        opt("care_proceedings_letter_date", Kind::Date),
    ],
    key: &["la_code", "pp_id"],
    parent: REFERRAL_PARENT,
};

pub static CP_REVIEWS: TableSpec = TableSpec {
    name: "cp_reviews",
    columns: &[req("plan_id", Kind::Id), req("review_date", Kind::Date)],
    key: &["plan_id", "review_date"],
    parent: Some(Parent {
        column: "plan_id",
        table: "cp_plans",
        parent_column: "plan_id",
    }),
};

pub static CDOP_REVIEWS: TableSpec = TableSpec {
    name: "cdop_reviews",
    columns: &[
        req("case_id", Kind::Id),
        req("cdop_code", Kind::Text),
        req("la_code", Kind::LaCode),
        req("date_of_death", Kind::Date),
        opt("notified_date", Kind::Date),
        req(
            "age_at_death_days",
            Kind::Int {
                min: 0,
                max: 40_000,
            },
        ),
        opt("sex", Kind::Code(SEX)),
        opt("ethnicity", Kind::Code(ETHNICITY)),
        opt("imd_decile", Kind::Int { min: 1, max: 10 }),
        opt("expected", Kind::YesNo),
        opt("category", Kind::Code(CDOP_CATEGORY)),
        opt("modifiable", Kind::Code(MODIFIABLE)),
        opt("place_of_death", Kind::Code(PLACE_OF_DEATH)),
        opt("event", Kind::Code(CDOP_EVENT)),
        opt("review_completed_date", Kind::Date),
        opt("scr_or_lcspr", Kind::YesNo),
        opt("died_outside_area", Kind::YesNo),
        opt("child_id", Kind::ChildId),
    ],
    key: &["cdop_code", "case_id"],
    parent: None,
};

pub static CDOP_FACTORS: TableSpec = TableSpec {
    name: "cdop_factors",
    columns: &[
        req("case_id", Kind::Id),
        req("domain", Kind::Code(CDOP_DOMAIN)),
        req("factor", Kind::Factor),
        req("grade", Kind::Int { min: 0, max: 2 }),
    ],
    key: &["case_id", "domain", "factor"],
    parent: Some(Parent {
        column: "case_id",
        table: "cdop_reviews",
        parent_column: "case_id",
    }),
};

pub static POPULATION: TableSpec = TableSpec {
    name: "population",
    columns: &[
        req("la_code", Kind::LaCode),
        req(
            "year",
            Kind::Int {
                min: 1900,
                max: 2100,
            },
        ),
        req(
            "age_0_17",
            Kind::Int {
                min: 1,
                max: 100_000_000,
            },
        ),
        opt("source", Kind::Text),
    ],
    key: &["la_code", "year"],
    parent: None,
};

/// Every canonical table, parents before the tables that point at them.
pub static TABLES: &[&TableSpec] = &[
    &CHILDREN,
    &CONTACTS,
    &REFERRALS,
    &EARLY_HELP,
    &ASSESSMENTS,
    &STRATEGY_DISCUSSIONS,
    &S47_ENQUIRIES,
    &CP_PLANS,
    &PRE_PROCEEDINGS,
    &CP_REVIEWS,
    &CDOP_REVIEWS,
    &CDOP_FACTORS,
    &POPULATION,
];

/// The table with this name.
pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().copied().find(|t| t.name == name)
}

/// Normalises a header cell: trimmed, lower case, runs of non-alphanumerics as one `_`.
pub fn normalise_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut gap = false;
    for ch in h.trim().trim_start_matches('\u{feff}').chars() {
        if ch.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.extend(ch.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// Why a header names an identifying column, or None. Used to refuse a canonical CSV that carries
/// names, addresses, postcodes, NHS numbers, UPNs, worker names, exact dates of birth or contact
/// details (data-contract.md section 2).
pub fn identifying_column(normalised: &str) -> Option<&'static str> {
    let tokens: Vec<&str> = normalised.split('_').collect();
    let has = |t: &str| tokens.iter().any(|x| *x == t);
    let joined = tokens.concat();
    const NAME_WORDS: &[&str] = &[
        "name",
        "names",
        "forename",
        "forenames",
        "surname",
        "firstname",
        "lastname",
        "fullname",
        "givenname",
        "familyname",
        "middlename",
    ];
    // An LA's, team's, agency's or school's name identifies no child.
    let organisation = tokens.iter().any(|t| {
        matches!(
            *t,
            "la" | "team" | "agency" | "school" | "organisation" | "organization" | "cdop" | "lead"
        )
    });
    if !organisation
        && (NAME_WORDS.iter().any(|w| has(w)) || NAME_WORDS[3..].iter().any(|w| joined.contains(w)))
    {
        return Some("a name");
    }
    if has("address") || joined.contains("address") {
        return Some("an address");
    }
    if joined.contains("postcode") || (has("post") && has("code")) {
        return Some("a postcode");
    }
    if has("nhs") || joined.starts_with("nhs") {
        return Some("an NHS number");
    }
    if has("upn") || joined.contains("formerupn") {
        return Some("a UPN");
    }
    if has("worker") || joined.contains("socialworker") {
        return Some("a worker's name");
    }
    if matches!(
        normalised,
        "dob" | "date_of_birth" | "birth_date" | "birthdate" | "person_birth_date"
    ) || joined == "dateofbirth"
    {
        return Some("an exact date of birth (give birth_month instead)");
    }
    if has("email") || has("phone") || has("telephone") || has("mobile") {
        return Some("contact details");
    }
    None
}

/// True for a column that looks like free text (notes, comments, reasons, descriptions), which
/// may name people and is never kept, even in the raw layer.
pub fn free_text_column(normalised: &str) -> bool {
    normalised.split('_').any(|t| {
        matches!(
            t,
            "note"
                | "notes"
                | "comment"
                | "comments"
                | "reason"
                | "reasons"
                | "text"
                | "description"
                | "narrative"
                | "summary"
                | "details"
                | "detail"
                | "free"
                | "remarks"
                | "remark"
        )
    })
}
