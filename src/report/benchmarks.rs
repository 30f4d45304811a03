//! England's published figures, for comparison in the report: by default the national rows of
//! the shipped benchmark asset (`assets/benchmarks/`: the DfE's Children in need statistics, and
//! the hand-kept figures the DfE files lack, each with its source; see `crate::compare`), or a
//! small CSV the user gives (`measure_id, period, value, source`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::UserError;

/// England's value of a measure for a period, with its source.
#[derive(Debug, Clone, Default)]
pub struct Benchmarks {
    values: BTreeMap<(String, String), (f64, String)>,
}

/// A benchmark value: a finite number, a share (0 to 1, e.g. 0.219 for 21.9%) for every measure
/// but the rates per 10,000 children (`rate_per_10k`, 0 or more). NaN, infinities, negative
/// values and shares above 1 would draw meaningless reference lines: they are errors.
fn check_value(measure: &str, text: &str) -> Result<f64, String> {
    let t = text.trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("value '{t}' is not a number"))?;
    if !v.is_finite() {
        return Err(format!("value '{t}' is not a finite number"));
    }
    if v < 0.0 {
        return Err(format!("value {t} is negative"));
    }
    if measure != "rate_per_10k" && v > 1.0 {
        return Err(format!(
            "value {t} for {measure} is above 1: shares are fractions (0.219 for 21.9%)"
        ));
    }
    Ok(v)
}

impl Benchmarks {
    /// The shipped England figures: every headline (breakdown `NONE`) national value of the
    /// benchmark asset, DfE and hand-kept.
    pub fn shipped() -> Benchmarks {
        let Ok(p) = crate::compare::published::Published::shipped() else {
            return Benchmarks::default();
        };
        let mut values = BTreeMap::new();
        for (series, year) in p.figures.keys() {
            if series.1 != "NONE" {
                continue;
            }
            if let Some((v, source)) = p.england(&series.0, year) {
                values.insert((series.0.clone(), year.clone()), (v, source));
            }
        }
        Benchmarks { values }
    }

    /// Reads a benchmark file `measure_id,period,value,source`.
    pub fn load(path: &Path) -> Result<Benchmarks, UserError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UserError::file(path, format!("cannot read: {e}")))?;
        Benchmarks::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Benchmarks, UserError> {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut values = BTreeMap::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| UserError::at(path, &format!("{}", i + 2), e.to_string()))?;
            let (Some(m), Some(p), Some(v)) = (rec.get(0), rec.get(1), rec.get(2)) else {
                return Err(UserError::at(
                    path,
                    &format!("{}", i + 2),
                    "expected measure_id,period,value,source".into(),
                ));
            };
            let line = i + 2;
            let at = |col: usize| format!("{line}:{col}");
            let v = check_value(m, v).map_err(|e| UserError::at(path, &at(3), e))?;
            let key = (m.to_string(), p.to_string());
            if values.contains_key(&key) {
                return Err(UserError::at(
                    path,
                    &at(1),
                    format!("{m} {p} is given twice"),
                ));
            }
            values.insert(key, (v, rec.get(3).unwrap_or("").to_string()));
        }
        Ok(Benchmarks { values })
    }

    /// England's value for `measure` in `period`.
    pub fn get(&self, measure: &str, period: &str) -> Option<f64> {
        self.values
            .get(&(measure.to_string(), period.to_string()))
            .map(|v| v.0)
    }

    /// The latest England value for `measure` at or before `period`, with its period.
    pub fn latest(&self, measure: &str, period: &str) -> Option<(String, f64)> {
        self.values
            .iter()
            .filter(|((m, p), _)| m == measure && p.as_str() <= period)
            .max_by(|a, b| a.0 .1.cmp(&b.0 .1))
            .map(|((_, p), (v, _))| (p.clone(), *v))
    }
}
