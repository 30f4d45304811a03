//! The partnership's configuration (TOML): its name, LAs, reporting year, reference date, local
//! closure days, where the pseudonym key comes from, and the suppression threshold.
//!
//! Every field has a default, so the bundled samples need no config file. The file is
//! `--config FILE`, else `safeguard.toml` in the working folder when there is one.
//!
//! ```toml
//! partnership = "Northamptonshire Safeguarding Children Partnership"
//! reporting_year = "2024-25"        # default: the latest complete year in the store
//! reference_date = "2025-03-31"     # default: the latest CIN ReferenceDate, else latest event
//! key_file = "/secure/partnership.key"   # or the environment variable SAFEGUARD_KEY
//! closure_days = ["2024-12-27", "2024-12-30", "2024-12-31"]
//! suppression_threshold = 5
//!
//! [[la]]
//! code = "940"
//! name = "North Northamptonshire"
//! ```

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::UserError;
use crate::pseudonym::Pseudonymiser;

/// The environment variable that may hold the partnership's pseudonym key.
pub const KEY_ENV: &str = "SAFEGUARD_KEY";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct La {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub partnership: String,
    #[serde(rename = "la")]
    pub las: Vec<La>,
    pub reporting_year: Option<String>,
    pub reference_date: Option<NaiveDate>,
    pub key_file: Option<PathBuf>,
    pub closure_days: Vec<NaiveDate>,
    pub suppression_threshold: u32,
    /// Where the file was read from (None for the defaults).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            partnership: "Northamptonshire Safeguarding Children Partnership (synthetic sample)"
                .into(),
            las: vec![
                La {
                    code: "940".into(),
                    name: "North Northamptonshire".into(),
                },
                La {
                    code: "941".into(),
                    name: "West Northamptonshire".into(),
                },
            ],
            reporting_year: None,
            reference_date: None,
            key_file: None,
            closure_days: vec![],
            suppression_threshold: 5,
            path: None,
        }
    }
}

impl Config {
    /// Reads `path`, or `safeguard.toml` when present, or gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, UserError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from("safeguard.toml");
                if !p.exists() {
                    return Ok(Config::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| UserError::file(&path, format!("cannot read the config: {e}")))?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    let col = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(":{line}:{col}")
                })
                .unwrap_or_default();
            UserError::Message(format!("{}{at}: {}", path.display(), e.message()))
        })?;
        // Each LA once, by its DfE three-digit code: a duplicate would double its figures in
        // the report's LA breakdowns.
        let mut seen = std::collections::HashSet::new();
        for (i, la) in cfg.las.iter().enumerate() {
            let code = la.code.as_str();
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UserError::file(
                    &path,
                    format!(
                        "[[la]] entry {}: code {:?} is not a DfE three-digit LA number",
                        i + 1,
                        la.code
                    ),
                ));
            }
            if !seen.insert(code.to_string()) {
                return Err(UserError::file(
                    &path,
                    format!("[[la]] entry {}: LA code {code} is given twice", i + 1),
                ));
            }
        }
        if cfg.suppression_threshold < 1 {
            return Err(UserError::file(
                &path,
                "suppression_threshold must be at least 1".into(),
            ));
        }
        if let Some(dir) = path.parent() {
            if let Some(k) = &cfg.key_file {
                if k.is_relative() {
                    cfg.key_file = Some(dir.join(k));
                }
            }
        }
        cfg.path = Some(path);
        Ok(cfg)
    }

    /// The pseudonymiser: keyed from `SAFEGUARD_KEY` or `key_file`, else a passthrough.
    pub fn pseudonymiser(&self) -> Result<Pseudonymiser, UserError> {
        if let Ok(k) = std::env::var(KEY_ENV) {
            if !k.trim().is_empty() {
                return Pseudonymiser::keyed(k.as_bytes())
                    .map_err(|e| UserError::Message(format!("{KEY_ENV}: {e}")));
            }
        }
        if let Some(f) = &self.key_file {
            let bytes = std::fs::read(f)
                .map_err(|e| UserError::file(f, format!("cannot read the key file: {e}")))?;
            warn_if_shared(f);
            return Pseudonymiser::keyed(&bytes).map_err(|e| UserError::file(f, e));
        }
        Ok(Pseudonymiser::passthrough())
    }

    /// The LA's name, or its code when the config does not name it.
    pub fn la_name(&self, code: &str) -> String {
        self.las
            .iter()
            .find(|l| l.code == code)
            .map_or_else(|| code.to_string(), |l| l.name.clone())
    }
}

/// Warns (on stderr, once a run) when the key file can be read or written by other users than
/// its owner: its permissions are the partnership's to set, but anyone who can read the key can
/// turn a known identifier into its pseudonym.
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o066 != 0 && !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "warning: {}: the pseudonym key file can be read or changed by other users (mode {mode:03o}): make it readable by its owner only (chmod 600)",
            path.display()
        );
    }
}
