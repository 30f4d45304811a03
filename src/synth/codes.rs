//! Code lists and their synthetic weights.
//!
//! Codes are the CIN census codes (`anchors-csc.md` section 2.2) and the CDOP codes (`cdop.md`).
//! Weights are rounded national shapes (DfE "Children in need" release, NCMD / LSCB1 returns); they
//! are plausible, not published figures for any real area.

/// Ethnicity (CIN codes), weighted towards White British as in a Midlands shire.
pub const ETHNICITY: &[(&str, f64)] = &[
    ("WBRI", 68.0),
    ("WIRI", 0.5),
    ("WIRT", 0.3),
    ("WOTH", 7.0),
    ("WROM", 1.0),
    ("MWBC", 3.0),
    ("MWBA", 1.0),
    ("MWAS", 1.0),
    ("MOTH", 2.5),
    ("AIND", 1.5),
    ("APKN", 1.0),
    ("ABAN", 0.5),
    ("AOTH", 1.5),
    ("BCRB", 1.0),
    ("BAFR", 3.5),
    ("BOTH", 1.0),
    ("CHNE", 0.2),
    ("OOTH", 1.5),
    ("REFU", 0.5),
    ("NOBT", 2.5),
];

/// Disability codes (CIN `Disability`) for a child recorded as disabled.
pub const DISABILITY: &[(&str, f64)] = &[
    ("AUT", 25.0),
    ("LD", 20.0),
    ("BEH", 15.0),
    ("COMM", 12.0),
    ("MOB", 8.0),
    ("DDA", 6.0),
    ("PC", 4.0),
    ("HEAR", 3.0),
    ("VIS", 3.0),
    ("HAND", 2.0),
    ("CON", 1.0),
    ("INC", 1.0),
];

/// Referral / contact source (CIN `ReferralSource`). `5D` is added separately (only from 2022-23,
/// mostly for step-ups from early help); before 2022-23 its share falls under `5B`.
pub const SOURCE: &[(&str, f64)] = &[
    ("1A", 5.0),
    ("1B", 1.0),
    ("1C", 1.0),
    ("1D", 1.0),
    ("2A", 19.0),
    ("2B", 1.5),
    ("3A", 2.5),
    ("3B", 2.0),
    ("3C", 0.5),
    ("3D", 3.0),
    ("3E", 3.0),
    ("3F", 4.0),
    ("4", 2.0),
    ("5A", 3.0),
    ("5B", 5.0),
    ("5C", 1.0),
    ("6", 29.0),
    ("7", 3.0),
    ("8", 4.0),
    ("9", 1.5),
    ("10", 2.0),
];

/// Referral sources for an unborn child (midwifery and health dominate).
pub const SOURCE_UNBORN: &[(&str, f64)] = &[
    ("3D", 30.0),
    ("3F", 25.0),
    ("3A", 5.0),
    ("5A", 10.0),
    ("5B", 10.0),
    ("6", 12.0),
    ("1A", 3.0),
    ("8", 5.0),
];

/// Primary need (CIN `PrimaryNeedCode`) for referrals that go on to an assessment.
pub const NEED: &[(&str, f64)] = &[
    ("N1", 57.0),
    ("N2", 8.0),
    ("N3", 3.5),
    ("N4", 8.5),
    ("N5", 14.0),
    ("N6", 2.5),
    ("N7", 0.3),
    ("N8", 1.5),
    ("N9", 2.5),
    ("N0", 2.2),
];

/// Primary need for referrals closed with no further action.
pub const NEED_NFA: &[(&str, f64)] = &[
    ("N9", 35.0),
    ("N0", 15.0),
    ("N1", 20.0),
    ("N4", 10.0),
    ("N5", 12.0),
    ("N3", 3.0),
    ("N6", 5.0),
];

/// Assessment factors (CIN `AssessmentFactors`), with the chance each is identified; `21` (no
/// factors) is handled apart because it must stand alone.
pub const FACTORS: &[(&str, f64)] = &[
    ("3B", 0.30),
    ("4B", 0.30),
    ("17A", 0.18),
    ("16A", 0.15),
    ("2B", 0.12),
    ("1B", 0.10),
    ("4A", 0.12),
    ("3A", 0.10),
    ("18C", 0.06),
    ("14A", 0.05),
    ("15A", 0.05),
    ("5B", 0.05),
    ("24A", 0.04),
    ("10A", 0.04),
    ("6B", 0.04),
    ("11A", 0.03),
    ("19C", 0.03),
    ("20", 0.03),
    ("2A", 0.02),
    ("1A", 0.01),
    ("7A", 0.01),
    ("13A", 0.01),
    ("22A", 0.003),
    ("23A", 0.003),
    ("12A", 0.003),
    ("9A", 0.005),
];

/// Initial category of abuse for a CP plan (DfE D3 shape).
pub const CATEGORY: &[(&str, f64)] = &[
    ("NEG", 48.0),
    ("EMO", 37.0),
    ("PHY", 7.0),
    ("SAB", 4.0),
    ("MUL", 4.0),
];

/// Non-referral contact outcomes.
pub const CONTACT_OUTCOME: &[(&str, f64)] = &[
    ("EARLY_HELP", 24.0),
    ("SIGNPOST", 20.0),
    ("NFA", 31.0),
    ("ADVICE", 25.0),
];

/// Level of need (1-4) given a contact outcome; `0` means not recorded.
pub fn level_of_need(outcome: &str) -> &'static [(u8, f64)] {
    match outcome {
        "REFERRAL" => &[(4, 62.0), (3, 33.0), (2, 4.0), (0, 1.0)],
        "EARLY_HELP" => &[(2, 70.0), (3, 24.0), (1, 4.0), (0, 2.0)],
        "SIGNPOST" => &[(1, 50.0), (2, 44.0), (3, 4.0), (0, 2.0)],
        "NFA" => &[(1, 65.0), (2, 29.0), (3, 4.0), (0, 2.0)],
        _ => &[(1, 55.0), (2, 39.0), (3, 4.0), (0, 2.0)],
    }
}

/// Lead agency of an early help episode.
pub const LEAD_AGENCY: &[(&str, f64)] = &[
    ("LA family support", 40.0),
    ("School", 25.0),
    ("Health visiting", 12.0),
    ("Voluntary sector", 10.0),
    ("Children's centre", 8.0),
    ("Youth service", 5.0),
];

/// Early help outcomes when the episode ends on its own (STEP_UP arises from a following referral).
pub const EH_OUTCOME: &[(&str, f64)] = &[
    ("NEEDS_MET", 66.0),
    ("DISENGAGED", 19.0),
    ("MOVED", 6.0),
    ("OTHER", 9.0),
];

/// Free-text reasons recorded for an assessment over 45 working days (kept out of outputs).
pub const OVER_45_REASON: &[(&str, f64)] = &[
    ("Awaiting information from a partner agency", 30.0),
    ("Complex family; several children assessed together", 20.0),
    ("Family not available for visits", 20.0),
    ("Staff absence; case reallocated", 15.0),
    ("Specialist assessment commissioned", 15.0),
];

/// Closure reasons for an episode that ends after a period of support (CIN or CP).
pub const CLOSURE_AFTER_SUPPORT: &[(&str, f64)] = &[
    ("RC7", 89.0),
    ("RC3", 2.5),
    ("RC4", 2.5),
    ("RC5", 3.0),
    ("RC6", 2.7),
    ("RC1", 0.3),
];

/// CDOP category of death (1-10) with its national share (perinatal ~1/3, congenital ~1/4).
pub const DEATH_CATEGORY: &[(u8, f64)] = &[
    (8, 33.0),
    (7, 24.0),
    (4, 8.0),
    (5, 7.0),
    (9, 6.0),
    (6, 5.0),
    (10, 6.0),
    (3, 6.0),
    (2, 4.0),
    (1, 1.5),
];

/// Chance that modifiable factors are identified, by category of death.
pub fn modifiable_rate(category: u8) -> f64 {
    match category {
        1 => 0.65,
        2 => 0.60,
        3 => 0.55,
        4 => 0.05,
        5 => 0.25,
        6 => 0.15,
        7 => 0.12,
        8 => 0.28,
        9 => 0.25,
        _ => 0.50,
    }
}

/// Chance that the child was known to children's social care before death, by category.
pub fn known_to_services_rate(category: u8) -> f64 {
    match category {
        1 => 0.80,
        2 => 0.50,
        10 => 0.40,
        3 => 0.30,
        8 => 0.15,
        7 => 0.12,
        _ => 0.15,
    }
}

/// Contributory factors recorded by the CDOP, by category: (domain, short code).
pub fn death_factors(category: u8) -> &'static [(&'static str, &'static str)] {
    match category {
        1 => &[
            ("B", "DOMESTIC_ABUSE"),
            ("B", "PARENTAL_SUBSTANCE_MISUSE"),
            ("B", "PARENTAL_MENTAL_HEALTH"),
            ("D", "INFORMATION_SHARING"),
            ("D", "CHILD_PROTECTION_PRACTICE"),
        ],
        2 => &[
            ("A", "CHILD_MENTAL_HEALTH"),
            ("A", "PREVIOUS_SELF_HARM"),
            ("B", "BULLYING"),
            ("B", "ONLINE_HARM"),
            ("D", "ACCESS_TO_SERVICES"),
            ("A", "SUBSTANCE_MISUSE_CHILD"),
        ],
        3 => &[
            ("C", "ROAD_SAFETY"),
            ("B", "SUPERVISION"),
            ("C", "WATER_SAFETY"),
            ("C", "HOUSING_CONDITIONS"),
            ("C", "FIRE_SAFETY"),
        ],
        8 => &[
            ("B", "SMOKING_IN_PREGNANCY"),
            ("B", "MATERNAL_OBESITY"),
            ("B", "LATE_BOOKING"),
            ("B", "SUBSTANCE_MISUSE_IN_PREGNANCY"),
            ("D", "ACCESS_TO_SERVICES"),
            ("D", "DELAY_IN_CARE"),
        ],
        10 => &[
            ("C", "UNSAFE_SLEEP"),
            ("B", "CO_SLEEPING"),
            ("B", "SMOKING_IN_HOUSEHOLD"),
            ("B", "PARENTAL_SUBSTANCE_MISUSE"),
            ("B", "PARENTAL_ALCOHOL_USE"),
        ],
        5 | 9 => &[
            ("B", "DELAY_IN_SEEKING_HELP"),
            ("D", "DELAY_IN_CARE"),
            ("D", "RECOGNITION_OF_ILLNESS"),
            ("B", "VACCINATION_STATUS"),
            ("A", "ASTHMA_MANAGEMENT"),
            ("D", "ACCESS_TO_SERVICES"),
        ],
        7 => &[
            ("B", "CONSANGUINITY"),
            ("B", "LATE_BOOKING"),
            ("D", "ACCESS_TO_SERVICES"),
        ],
        4 => &[("D", "DELAY_IN_DIAGNOSIS"), ("D", "ACCESS_TO_SERVICES")],
        _ => &[
            ("B", "ADHERENCE_TO_TREATMENT"),
            ("D", "TRANSITION_OF_CARE"),
            ("D", "ACCESS_TO_SERVICES"),
        ],
    }
}

/// Imd decile 1-10 (1 most deprived), skewed to deprived areas.
pub const IMD_DECILE: &[(u8, f64)] = &[
    (1, 18.0),
    (2, 15.0),
    (3, 13.0),
    (4, 11.0),
    (5, 10.0),
    (6, 9.0),
    (7, 8.0),
    (8, 6.0),
    (9, 5.0),
    (10, 5.0),
];

/// Pre-proceedings outcome (CIN census 2026-27 `PPOutcome`, code set CS131): their meanings are
/// unknown, so the weights are the generator's assumption (`super::pre_proceedings`).
pub const PP_OUTCOME: &[(&str, f64)] = &[("A", 45.0), ("B", 35.0), ("C", 20.0)];

/// Checks that every code drawn here is one of the schema's code lists (`specs/tables.toml`):
/// the schema declares the codes, this module only weighs them. A code missing from the schema
/// is a bug here (the generated data would be rejected or flagged on ingest).
pub fn check_against_schema() -> Result<(), String> {
    use crate::schema;
    // (name here, the weighted codes, the schema's list they come from)
    type Drawn<'a> = (&'a str, &'a [(&'a str, f64)], &'a [&'a str]);
    let weighted: &[Drawn] = &[
        ("ETHNICITY", ETHNICITY, schema::ETHNICITY),
        ("DISABILITY", DISABILITY, schema::DISABILITY),
        ("SOURCE", SOURCE, schema::REFERRAL_SOURCE),
        ("SOURCE_UNBORN", SOURCE_UNBORN, schema::REFERRAL_SOURCE),
        ("NEED", NEED, schema::PRIMARY_NEED),
        ("NEED_NFA", NEED_NFA, schema::PRIMARY_NEED),
        ("FACTORS", FACTORS, schema::ASSESSMENT_FACTORS),
        ("CATEGORY", CATEGORY, schema::CATEGORY_OF_ABUSE),
        ("CONTACT_OUTCOME", CONTACT_OUTCOME, schema::CONTACT_OUTCOME),
        ("EH_OUTCOME", EH_OUTCOME, schema::EARLY_HELP_OUTCOME),
        (
            "CLOSURE_AFTER_SUPPORT",
            CLOSURE_AFTER_SUPPORT,
            schema::CLOSURE_REASON,
        ),
        ("PP_OUTCOME", PP_OUTCOME, schema::PP_OUTCOME),
    ];
    let mut missing: Vec<String> = weighted
        .iter()
        .flat_map(|(name, codes, list)| {
            codes
                .iter()
                .filter(|(c, _)| !list.contains(c))
                .map(move |(c, _)| format!("{name}: {c}"))
        })
        .collect();
    for category in 1..=10 {
        for (domain, factor) in death_factors(category) {
            if !schema::CDOP_DOMAIN.contains(domain) || !schema::CDOP_FACTOR_CODES.contains(factor)
            {
                missing.push(format!(
                    "death factors of category {category}: {domain} {factor}"
                ));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "synthetic codes not in the schema's code lists: {}",
            missing.join(", ")
        ))
    }
}
