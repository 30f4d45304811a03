//! Direction and size of a change, for the summary table and the readings (issue 14 item 2):
//! whether a move is better, worse or neither (the measure's `polarity` in the catalogue), and
//! whether it is large enough to mean anything - for a proportion, the 95% Wilson score interval
//! on this year's value and whether last year's value lies outside it.
//!
//! Why Wilson: it stays inside 0-100% and behaves at small counts and near 0% or 100%, where
//! the textbook normal interval (p ± 1.96 √(p(1-p)/n)) collapses or runs past the ends; it is
//! the interval the ONS and the NHS use for published proportions.
//!
//! The test is a reading aid, not a formal significance test: a board should not be alarmed by
//! a 2-point move on 80 cases (72/80 = 90.0% has the interval 81.5% to 94.8%, so last year's
//! 88% is well within it). Every input is a published (suppressed) count: no interval is given
//! for a value the report does not publish.

use crate::measures::catalogue::Polarity;

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The 95% Wilson score interval of `x` events out of `n`: (low, high), fractions 0 to 1.
/// None when n = 0.
pub fn wilson(x: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 || x > n {
        return None;
    }
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Which way a change went, by the measure's polarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Better,
    Worse,
    /// The measure is neutral: neither higher nor lower is better in itself.
    Neither,
    /// No change.
    Same,
}

impl Direction {
    /// The word the report prints.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Better => "better",
            Direction::Worse => "worse",
            Direction::Neither => "neither better nor worse",
            Direction::Same => "no change",
        }
    }
}

/// The direction of a move from `before` to `now` for a measure of `polarity` (moves under
/// 0.05 percentage points, which print as 0.0, are no change).
pub fn direction(polarity: Polarity, now: f64, before: f64) -> Direction {
    let d = now - before;
    if d.abs() < 0.0005 {
        return Direction::Same;
    }
    match (polarity, d > 0.0) {
        (Polarity::HigherIsBetter, true) | (Polarity::LowerIsBetter, false) => Direction::Better,
        (Polarity::HigherIsBetter, false) | (Polarity::LowerIsBetter, true) => Direction::Worse,
        (Polarity::Neutral, _) => Direction::Neither,
    }
}

/// A change from last year to this year, with what can be said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// now - before, in percentage points.
    pub points: f64,
    pub direction: Direction,
    /// This year's 95% Wilson interval, when this year's counts are published.
    pub interval: Option<(f64, f64)>,
    /// Whether last year's value lies outside this year's interval (None without an interval).
    pub clear: Option<bool>,
}

/// The change of a proportion from `before` to this year's `x` of `n` (published counts).
pub fn change(polarity: Polarity, x: u64, n: u64, before: f64) -> Option<Change> {
    if n == 0 {
        return None;
    }
    let now = x as f64 / n as f64;
    let interval = wilson(x, n);
    Some(Change {
        points: (now - before) * 100.0,
        direction: direction(polarity, now, before),
        interval,
        clear: interval.map(|(lo, hi)| before < lo || before > hi),
    })
}

fn pct1(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

impl Change {
    /// "up 1.2 points" / "down 0.5 points" / "no change".
    pub fn movement(&self) -> String {
        if self.direction == Direction::Same {
            "no change".into()
        } else {
            format!(
                "{} {:.1} points",
                if self.points > 0.0 { "up" } else { "down" },
                self.points.abs()
            )
        }
    }

    /// The summary table's cell: "up 1.2 points: better; a clear change".
    pub fn short(&self) -> String {
        let mut s = self.movement();
        if self.direction != Direction::Same {
            s.push_str(": ");
            s.push_str(self.direction.word());
        }
        match self.clear {
            Some(true) => s.push_str("; a clear change"),
            Some(false) if self.direction != Direction::Same => {
                s.push_str("; within chance variation")
            }
            _ => {}
        }
        s
    }

    /// How the size of the change is explained in words, with the interval.
    pub fn size_sentence(&self, before: f64) -> Option<String> {
        let (lo, hi) = self.interval?;
        let range = format!("{} to {}", pct1(lo), pct1(hi));
        Some(if self.clear == Some(true) {
            format!(
                "last year's {} lies outside this year's 95% interval ({range}), so the change is unlikely to be chance",
                pct1(before)
            )
        } else {
            format!(
                "last year's {} lies inside this year's 95% interval ({range}), so the change could be chance",
                pct1(before)
            )
        })
    }
}
