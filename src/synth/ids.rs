//! Fictional identifiers: obviously synthetic pseudonyms, unique by construction.
//!
//! A child is `P` + 12 lowercase hex characters; records are a table prefix (`C` contact, `R` referral,
//! `EH` early help, `A` assessment, `SD` strategy discussion, `S` s47, `CP` plan, `CD` CDOP case,
//! `PP` pre-proceedings) + 14 hex characters. Each id is a keyed bijection (xorshift-multiply rounds
//! modulo 2^n) of a structured counter, so two different units never share an id and the same
//! options always give the same ids.
//! None of them can look like a UPN (a letter + 12 digits) or an NHS number (10 digits): a hex string
//! that happens to be all decimal digits has its first digit replaced by a letter outside the hex range
//! (`g`..`p`), which keeps the mapping one-to-one.

use super::dist::splitmix64;

/// Which kind of child a key belongs to (2 bits of the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    /// A child referred to children's social care (drives the referral budget).
    Referred = 0,
    /// A child known only through front-door contacts (and perhaps early help).
    ContactOnly = 1,
    /// A child on a plan who moves between two of the partnership's LAs.
    Mover = 2,
    /// A child known to services whose death the CDOP reviews.
    DeathLinked = 3,
}

/// The tables whose rows carry their own id (each gets its own permutation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Contact = 1,
    Referral = 2,
    EarlyHelp = 3,
    Assessment = 4,
    Discussion = 5,
    S47 = 6,
    Plan = 7,
    CdopCase = 8,
    PreProceedings = 9,
}

impl Table {
    fn prefix(self) -> &'static str {
        match self {
            Table::Contact => "C",
            Table::Referral => "R",
            Table::EarlyHelp => "EH",
            Table::Assessment => "A",
            Table::Discussion => "SD",
            Table::S47 => "S",
            Table::Plan => "CP",
            Table::CdopCase => "CD",
            Table::PreProceedings => "PP",
        }
    }
}

/// Largest per-child sequence number an event id can carry (10 bits).
pub const MAX_SEQ: u32 = 1023;

/// The structured 46-bit key of a child: LA index (8 bits), kind (2 bits), index (36 bits).
pub fn child_key(la: u16, kind: ChildKind, idx: u64) -> u64 {
    ((la as u64 & 0xFF) << 38) | ((kind as u64) << 36) | (idx & ((1u64 << 36) - 1))
}

/// A keyed bijection on `bits`-bit integers.
fn permute(x: u64, bits: u32, key: u64) -> u64 {
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let k1 = splitmix64(key) & mask;
    let k2 = splitmix64(key ^ 0xA5A5_A5A5) & mask;
    let mut x = (x ^ k1) & mask;
    for m in [
        0x9E37_79B9_7F4A_7C15u64,
        0xC2B2_AE3D_27D4_EB4F,
        0x1656_67B1_9E37_79F9,
    ] {
        x ^= x >> (bits / 2);
        x = x.wrapping_mul(m | 1) & mask;
        x = x.wrapping_add(k2) & mask;
    }
    x ^= x >> (bits / 2 + 1);
    x
}

/// Lowercase hex of the low `digits` nibbles, with the UPN/NHS guard described above.
fn hex_guarded(x: u64, digits: usize) -> String {
    let mut s = format!("{:0width$x}", x, width = digits);
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let first = s.as_bytes()[0] - b'0';
        s.replace_range(0..1, &((b'g' + first) as char).to_string());
    }
    s
}

/// The pseudonymous `child_id` of a child key.
pub fn child_id(seed: u64, key: u64) -> String {
    format!("P{}", hex_guarded(permute(key, 48, seed ^ 0xC41D), 12))
}

/// The id of the `seq`-th row of `table` for child `key` (`seq <= MAX_SEQ`).
pub fn event_id(seed: u64, table: Table, key: u64, seq: u32) -> String {
    let x = (key << 10) | (seq.min(MAX_SEQ) as u64);
    let p = permute(x, 56, seed ^ ((table as u64) << 48) ^ 0xE7E7);
    format!("{}{}", table.prefix(), hex_guarded(p, 14))
}
