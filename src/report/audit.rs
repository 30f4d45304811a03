//! A linear disclosure audit, for a table the report pools or combines from published cells
//! (issue 14: the child deaths chart pooled over three years, with small categories combined).
//!
//! Small-number suppression (src/suppress.rs) protects the lines of one table. A pooled table
//! printed beside the yearly one it is summed from adds relations suppress.rs cannot see: a
//! three-year total minus two shown years gives the third. The audit checks those relations:
//! every published count is a sum of unknown base counts (one per LA, year and finest
//! breakdown value), a shown cell is an equation, and a withheld cell is *recovered* when its
//! sum is a linear combination of the shown equations. [`Audit`] holds the equations of the
//! table already published (measures.csv), and says which withheld cells the new table's
//! shown cells would let a reader recover that they could not recover before.
//!
//! Like suppress.rs, it covers recovery by adding and subtracting published counts, not bounds
//! (that each withheld count is 1 to the threshold).

/// A linear form over the base counts: the coefficient of each.
pub type Form = Vec<f64>;

const EPS: f64 = 1e-7;

/// The span of a set of linear forms, kept in echelon form (each row has a leading 1 at its
/// pivot and zeros at the pivots of the rows before it).
#[derive(Debug, Clone, Default)]
pub struct Span {
    rows: Vec<(usize, Form)>,
}

impl Span {
    /// `v` minus its part in the span.
    pub fn reduce(&self, v: &[f64]) -> Form {
        let mut v = v.to_vec();
        for (p, row) in &self.rows {
            let f = v.get(*p).copied().unwrap_or(0.0);
            if f.abs() > EPS {
                for (x, r) in v.iter_mut().zip(row) {
                    *x -= f * r;
                }
            }
        }
        v
    }

    /// Whether `v` is a combination of the forms added.
    pub fn contains(&self, v: &[f64]) -> bool {
        self.reduce(v).iter().all(|x| x.abs() <= EPS)
    }

    /// Adds a form; false when it was already in the span.
    pub fn add(&mut self, v: &[f64]) -> bool {
        let r = self.reduce(v);
        let Some(p) = r.iter().position(|x| x.abs() > EPS) else {
            return false;
        };
        let lead = r[p];
        self.rows.push((p, r.iter().map(|x| x / lead).collect()));
        true
    }
}

/// The equations of a published table and the withheld cells they must not give away.
#[derive(Debug, Clone)]
pub struct Audit {
    base: Span,
    /// The withheld cells of the published table, with whether they were already recoverable
    /// from it alone (then a new table cannot make it worse).
    withheld: Vec<(Form, bool)>,
}

impl Audit {
    /// From the published table's shown and withheld cells, as forms over the base counts.
    pub fn new(shown: &[Form], withheld: &[Form]) -> Audit {
        let mut base = Span::default();
        for f in shown {
            base.add(f);
        }
        let withheld = withheld
            .iter()
            .map(|f| (f.clone(), base.contains(f)))
            .collect();
        Audit { base, withheld }
    }

    /// How many withheld cells of the published table are recoverable from it alone (a flaw
    /// of that table, reported, not caused by the new one).
    pub fn already_recoverable(&self) -> usize {
        self.withheld.iter().filter(|w| w.1).count()
    }

    /// The withheld cells a reader could recover once `shown` (the new table's shown cells) is
    /// published too: indices into the published table's withheld cells, then
    /// `published withheld count + i` for the new table's own withheld cells `new_withheld[i]`.
    /// Cells recoverable before the new table are not counted.
    pub fn recovered(&self, shown: &[Form], new_withheld: &[Form]) -> Vec<usize> {
        let mut span = self.base.clone();
        for f in shown {
            span.add(f);
        }
        let n = self.withheld.len();
        let mut out: Vec<usize> = self
            .withheld
            .iter()
            .enumerate()
            .filter(|(_, (f, before))| !before && span.contains(f))
            .map(|(i, _)| i)
            .collect();
        out.extend(
            new_withheld
                .iter()
                .enumerate()
                .filter(|(_, f)| !self.base.contains(f) && span.contains(f))
                .map(|(i, _)| n + i),
        );
        out
    }

    /// The form of a recovered cell (an index from [`Audit::recovered`]).
    pub fn form<'a>(&'a self, i: usize, new_withheld: &'a [Form]) -> &'a Form {
        if i < self.withheld.len() {
            &self.withheld[i].0
        } else {
            &new_withheld[i - self.withheld.len()]
        }
    }
}
