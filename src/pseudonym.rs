//! Pseudonymisation at the door (data-contract.md section 2): a child's LA identifier becomes
//! HMAC-SHA256(partnership key, id), truncated to 16 hex characters, before anything is written.
//! The same key gives the same pseudonym across years and formats, so a child's journeys link.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hex characters kept of the HMAC: 64 bits, so collisions are negligible at national scale.
pub const PSEUDONYM_HEX_LEN: usize = 16;
/// The shortest key accepted.
pub const MIN_KEY_LEN: usize = 16;
/// The fingerprint of "no key" (identifiers stored as given).
pub const UNKEYED: &str = "unkeyed";
/// The fixed string whose HMAC under the key is the key's fingerprint.
const FINGERPRINT_INPUT: &[u8] = b"safeguard key fingerprint v1";

/// Replaces child identifiers, or passes them through when no key was given (canonical CSVs are
/// pseudonymous extracts already).
#[derive(Clone)]
pub struct Pseudonymiser {
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        write!(f, "Pseudonymiser {{ keyed: {} }}", self.key.is_some())
    }
}

impl Pseudonymiser {
    /// With a partnership key. The key is trimmed of surrounding white space.
    pub fn keyed(key: &[u8]) -> Result<Pseudonymiser, String> {
        let key = trim_bytes(key);
        if key.len() < MIN_KEY_LEN {
            return Err(format!(
                "the pseudonym key is {} bytes; it must be at least {MIN_KEY_LEN}",
                key.len()
            ));
        }
        Ok(Pseudonymiser {
            key: Some(key.to_vec()),
        })
    }
    /// Without a key: identifiers are stored as given.
    pub fn passthrough() -> Pseudonymiser {
        Pseudonymiser { key: None }
    }
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }
    /// Names the key without revealing it, for the store's manifest: `hmac-sha256:` and the
    /// first 16 hex characters of HMAC-SHA256(key, "safeguard key fingerprint v1"), or
    /// [`UNKEYED`]. Two runs with the same key give the same fingerprint; the key cannot be
    /// recovered from it (no more than from any pseudonym).
    pub fn fingerprint(&self) -> String {
        match &self.key {
            None => UNKEYED.to_string(),
            Some(key) => format!("hmac-sha256:{}", hmac_hex(key, FINGERPRINT_INPUT)),
        }
    }
    /// The stored form of a child identifier.
    pub fn child_id(&self, id: &str) -> String {
        match &self.key {
            None => id.to_string(),
            Some(key) => hmac_hex(key, id.trim().as_bytes()),
        }
    }
}

/// HMAC-SHA256(key, data) as hex, truncated to [`PSEUDONYM_HEX_LEN`] characters.
fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    let mut hex = hex::encode(mac.finalize().into_bytes());
    hex.truncate(PSEUDONYM_HEX_LEN);
    hex
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}
