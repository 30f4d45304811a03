//! The reconciliation in words: one plain sentence per measure comparing our figure with the
//! DfE's published one ("Our re-referral rate for 2024-25, 22.1%, is 0.2 points below the DfE's
//! published 22.3%."), and the known reasons the two can differ - for the report's comparison
//! section and `compare`'s summary.

use super::{symbol_meaning, CompareRow};
use crate::measures::ALL;

/// How a series is named in a sentence ("re-referral rate", "ICPCs per 10,000 children").
pub fn measure_phrase(measure_id: &str, breakdown: &str, breakdown_value: &str) -> String {
    match (measure_id, breakdown, breakdown_value) {
        ("rereferral_12m", ..) => "re-referral rate".into(),
        ("referral_nfa", ..) => "share of referrals with no further action".into(),
        ("assessment_not_in_need", ..) => "share assessed as not in need".into(),
        ("assessment_45wd_from_start", ..) => {
            "share of assessments within 45 working days of their start".into()
        }
        ("s47_to_icpc", ..) => "ICPCs as a share of s47 enquiries".into(),
        ("icpc_15wd", ..) => "share of ICPCs within 15 working days".into(),
        ("icpc_duration_band", "band", b) => {
            format!("share of ICPCs held {b} working days after the s47 start")
        }
        ("icpc_duration_band", "statistic", "p25") => {
            "quarter point of working days from s47 start to ICPC".into()
        }
        ("icpc_duration_band", "statistic", "median") => {
            "median working days from s47 start to ICPC".into()
        }
        ("icpc_duration_band", "statistic", "p75") => {
            "three-quarter point of working days from s47 start to ICPC".into()
        }
        ("icpc_to_cpp", ..) => "share of ICPCs resulting in a plan".into(),
        ("cpp_second_or_subsequent", ..) => {
            "share of new plans that are second or subsequent".into()
        }
        ("cpp_duration_open", "band", b) => format!("share of plans open at 31 March for {b}"),
        ("rate_per_10k", "count", c) => {
            let what = match c {
                "referrals" => "referrals",
                "assessments" => "assessments",
                "s47" => "s47 enquiries",
                "icpc" => "ICPCs",
                "cpp_started" => "plans started",
                "cpp_open" => "plans open at 31 March",
                "cin_open" => "children in need at 31 March",
                other => other,
            };
            format!("{what} per 10,000 children")
        }
        ("cdop_modifiable_all", ..) => {
            "share of child death reviews finding modifiable factors".into()
        }
        (m, "NONE", _) => m.into(),
        (m, b, v) => format!("{m} ({b} {v})"),
    }
}

/// A value as the report shows it: a proportion as a percentage to 1 decimal place, a rate to 1
/// decimal place, working days whole. Returns (text, the shown number) so a difference can be
/// taken between the numbers as shown.
fn shown(value: f64, unit: &str) -> (String, f64) {
    match unit {
        "proportion" => {
            let v = (value * 1000.0).round() / 10.0;
            (format!("{v:.1}%"), v)
        }
        "working_days" => {
            let v = value.round();
            (format!("{v:.0}"), v)
        }
        _ => {
            let v = (value * 10.0).round() / 10.0;
            (format!("{v:.1}"), v)
        }
    }
}

/// The difference between two shown numbers in words: "0.2 points below", "the same as".
fn gap(own: f64, published: f64, unit: &str) -> String {
    let d = own - published;
    let (size, word) = match unit {
        "proportion" => (format!("{:.1}", d.abs()), " points"),
        "working_days" => (
            format!("{:.0}", d.abs()),
            if (d.abs() - 1.0).abs() < 0.5 {
                " working day"
            } else {
                " working days"
            },
        ),
        _ => (format!("{:.1}", d.abs()), ""),
    };
    if size.parse::<f64>().is_ok_and(|s| s == 0.0) {
        return "the same as".into();
    }
    let dir = if d > 0.0 { "above" } else { "below" };
    format!("{size}{word} {dir}")
}

/// One sentence reconciling a row: `who` is the subject's owner ("Our", "North
/// Northamptonshire's"). The numbers are those shown, and the difference is between them.
pub fn sentence(row: &CompareRow, who: &str) -> String {
    let phrase = measure_phrase(&row.measure_id, &row.breakdown, &row.breakdown_value);
    let subject = format!("{who} {phrase} for {}", row.year);
    let theirs = if row.la_code == ALL {
        "the DfE's published figures for its LAs combined,"
    } else {
        "the DfE's published"
    };
    let unit = row.unit.as_str();
    match (row.own_value, row.published_value) {
        (Some(o), Some(p)) => {
            let ((ot, ov), (pt, pv)) = (shown(o, unit), shown(p, unit));
            match gap(ov, pv, unit).as_str() {
                "the same as" => format!("{subject}, {ot}, matches {theirs} {pt}."),
                g => format!("{subject}, {ot}, is {g} {theirs} {pt}."),
            }
        }
        (Some(o), None) => {
            let (ot, _) = shown(o, unit);
            if row.published_symbol.is_empty() {
                format!(
                    "{subject} is {ot}; there is no published figure to check it against ({}).",
                    row.note
                )
            } else {
                format!(
                    "{subject} is {ot}; the DfE's figure is not shown ({}: {}).",
                    row.published_symbol,
                    symbol_meaning(&row.published_symbol)
                )
            }
        }
        (None, Some(p)) => {
            let (pt, _) = shown(p, unit);
            format!("{subject} cannot be checked: the DfE published {pt}, and the store has no figure ({}).", row.note)
        }
        (None, None) => format!(
            "{subject}: neither the store nor the DfE has a figure ({}).",
            row.note
        ),
    }
}

/// Why our figure and the DfE's can differ for a measure: the general reasons, then any the
/// measure has of its own.
pub fn known_differences(measure_id: &str) -> Vec<&'static str> {
    let mut v = vec![
        "late returns: the DfE's figure is from the census as returned in the May after the year; our store may hold records added or corrected since",
        "the census's own cut-offs: the DfE counts what the return held at 31 March; we follow closures and conferences to the data's reference date",
        "the working-day calendar: ours is England and Wales bank holidays plus the partnership's closure days; the DfE's census rules use their own",
        "rounding and suppression: the DfE publishes percentages to one decimal place, rounds national and regional counts, and shows small counts as c",
    ];
    match measure_id {
        "assessment_not_in_need" => v.push(
            "a different denominator: the DfE's share is of referrals in the year; ours is of assessments authorised in the year",
        ),
        "s47_to_icpc" => v.push(
            "not the same measure: the DfE's figure is ICPCs in the year / s47 enquiries in the year; ours follows the year's enquiries to their conference",
        ),
        "icpc_to_cpp" => v.push(
            "the DfE's figure is plans started in the year / ICPCs in the year; ours follows the year's conferences to their result",
        ),
        "rate_per_10k" => v.push(
            "the population: both use the ONS mid-year estimate of the year the reporting year starts in, but our store holds the population file it was given",
        ),
        "cpp_second_or_subsequent" => v.push(
            "earlier plans: the DfE counts any previous plan the child had anywhere; we see the plans in our store and the previous_plans count where given",
        ),
        "rereferral_12m" => v.push(
            "earlier referrals: the look-back needs the twelve months before the first year in the store; a re-referral whose first referral predates the store is not seen",
        ),
        _ => {}
    }
    v
}
