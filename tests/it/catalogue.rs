//! The measure catalogue (`queries/catalogue.toml`) and what the program does to the SQL
//! (`queries/README.md`): the worked example of adding a measure, applied to a copy of
//! `queries/` and run with `SAFEGUARD_QUERIES`; a test for each SQL rewrite, and that the
//! rewrites change no figure; a catalogue or SQL of the user's that does not fit is a one-line
//! user error naming the file; the report's headlines follow the catalogue.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use safeguard::measures::catalogue::{load_embedded, Polarity, Unit};
use safeguard::measures::sql;
use safeguard::period::FinYear;

use crate::common::{bin, read_measures, root, run_in, stderr, stdout};
use crate::measures::{copy_tree, run_case};

/// A copy of `queries/` in `dir/queries`.
fn copy_queries(dir: &Path) -> PathBuf {
    let q = dir.join("queries");
    copy_tree(&root().join("queries"), &q);
    q
}

/// Ingests a case folder's input (comments dropped as the harness does) into `dir/store`.
fn store_of_case(dir: &Path, case: &str) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for e in std::fs::read_dir(root().join("tests/measures").join(case).join("input")).unwrap() {
        let p = e.unwrap().path();
        let text: String = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|l| l.find(" #").map_or(l, |i| &l[..i]).trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(data.join(p.file_name().unwrap()), text).unwrap();
    }
    let o = run_in(dir, &["ingest", "data", "--store", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `measures` on `dir/store` with `queries` as SAFEGUARD_QUERIES (None: the compiled-in ones).
fn measures_with(dir: &Path, queries: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut c = bin();
    c.current_dir(dir)
        .args(["measures", "--store", "store", "--out", "m.csv"])
        .args(args);
    if let Some(q) = queries {
        c.env("SAFEGUARD_QUERIES", q);
    }
    c.output().expect("the binary runs")
}

// ---------------------------------------------------------------------------------------------
// the catalogue

#[test]
fn the_catalogue_holds_sources_polarity_units_and_headlines() {
    let cat = load_embedded().expect("the compiled-in catalogue loads");
    let m = |id: &str| cat.measure(id).unwrap_or_else(|| panic!("{id} catalogued"));
    // The statutory limits: Working Together 2023, the 2013 text in the seeds as history.
    for (id, limit, line) in [
        ("referral_decision_1wd", "1 working day", "L1805"),
        ("assessment_45wd_from_referral", "45 working days", "L1807"),
        ("icpc_15wd", "15 working days", "L2001"),
    ] {
        let s = &m(id).source;
        assert_eq!(s.document, "Working Together to Safeguard Children", "{id}");
        assert_eq!(s.edition.as_deref(), Some("2023"), "{id}");
        assert!(
            s.limit.as_deref().is_some_and(|l| l.starts_with(limit)),
            "{id}: {s:?}"
        );
        assert!(
            s.history.as_deref().is_some_and(|h| h.contains(line)),
            "{id}: {s:?}"
        );
        assert_eq!(m(id).polarity, Polarity::HigherIsBetter, "{id}");
    }
    assert_eq!(m("rereferral_12m").polarity, Polarity::LowerIsBetter);
    assert_eq!(m("contact_to_referral").polarity, Polarity::Neutral);
    assert_eq!(m("rate_per_10k").unit, Unit::Per10000Children);
    assert_eq!(m("icpc_15wd").unit, Unit::Proportion);
    for mm in &cat.measures {
        assert!(!mm.polarity_reason.trim().is_empty(), "{}", mm.id);
    }
    // The report's summary table: 13 headlines in the order it prints them.
    let h: Vec<(&str, &str, &str)> = cat
        .headlines()
        .into_iter()
        .map(|m| {
            let limit = m.headline.as_ref().unwrap().limit_label.as_str();
            (m.id.as_str(), m.title.as_str(), limit)
        })
        .collect();
    assert_eq!(h.len(), 13);
    assert_eq!(
        h[0],
        (
            "referral_decision_1wd",
            "Referral decisions within 1 working day",
            "1 working day (WT2023)"
        )
    );
    assert_eq!(h[1].0, "rereferral_12m");
    assert_eq!(h[12].0, "cdop_modifiable_all");
    // Every SELECT is tied to its measure; the pending rows of the timeliness measures are their
    // own statements.
    let icpc: Vec<&str> = cat
        .files
        .iter()
        .flat_map(|f| &f.statements)
        .filter(|s| s.measure.as_deref() == Some("icpc_15wd"))
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(icpc.len(), 2);
    assert!(icpc[1].contains("'pending' AS outcome") && !icpc[1].contains("UNION"));
}

// ---------------------------------------------------------------------------------------------
// the worked example of queries/README.md

/// The fenced code blocks of a markdown text whose first line names a file (`-- path` or
/// `# path`): (path, the block's text).
fn file_blocks(md: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut lines = md.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with("```") || l.len() == 3 {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let Some(first) = body.first() else { continue };
        let path = first
            .strip_prefix("-- ")
            .or_else(|| first.strip_prefix("# "))
            .map(str::trim)
            .filter(|p| p.starts_with("queries/") || p.starts_with("tests/"));
        if let Some(p) = path {
            out.push((p.to_string(), body.join("\n") + "\n"));
        }
    }
    out
}

#[test]
fn the_readme_example_adds_a_measure_with_no_rust() {
    let readme = std::fs::read_to_string(root().join("queries/README.md")).unwrap();
    let blocks = file_blocks(&readme);
    assert!(blocks.len() >= 5, "the example's blocks: {blocks:?}");
    let tmp = tempfile::tempdir().unwrap();
    let queries = copy_queries(tmp.path());
    let mut case: Option<PathBuf> = None;
    for (path, text) in &blocks {
        // Only queries/ and one test case folder.
        let target = if let Some(rest) = path.strip_prefix("queries/") {
            queries.join(rest)
        } else if let Some(rest) = path.strip_prefix("tests/measures/") {
            let (name, _) = rest.split_once('/').expect("tests/measures/<case>/<file>");
            let dir = tmp.path().join("cases").join(name);
            assert!(case.as_ref().is_none_or(|c| *c == dir), "one case folder");
            case = Some(dir.clone());
            tmp.path().join("cases").join(rest)
        } else {
            panic!("the example touches {path}: only queries/ and tests/measures/<case>/");
        };
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let mut old = std::fs::read_to_string(&target).unwrap_or_default();
        if !old.is_empty() && !old.ends_with('\n') {
            old.push('\n');
        }
        let sep = if old.is_empty() { "" } else { "\n" };
        std::fs::write(&target, format!("{old}{sep}{text}")).unwrap();
    }
    let case = case.expect("the example has a test case");

    // The case holds against the changed queries...
    let problems = run_case(&case, Some(&queries), false);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // ...and not against the compiled-in ones, which lack the measure.
    assert!(!run_case(&case, None, false).is_empty());

    // `safeguard measures` gives the new id on another store (tests/measures/assessments), and
    // it is not measurable where no assessment records child_seen.
    store_of_case(tmp.path(), "assessments");
    let o = measures_with(tmp.path(), Some(&queries), &["--year", "2024-25"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let t = read_measures(&tmp.path().join("m.csv"));
    let ids: std::collections::BTreeSet<&str> = t.keys().map(|k| k.0.as_str()).collect();
    assert!(ids.contains("assessment_child_seen"), "{ids:?}");
    // tests/measures/assessments: 11 assessments authorised in 2024-25 (940: A1-A4, A9; 941: A5-A8,
    // A12, A13), all seen (A13 too: its missing referral breaks no part of this measure).
    let all = &t[&(
        "assessment_child_seen".to_string(),
        "2024-25".to_string(),
        "ALL".to_string(),
        "NONE".to_string(),
        String::new(),
    )];
    assert_eq!(all.counts(), [11, 11, 0, 0]);

    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path().join("data")).unwrap();
    std::fs::write(
        empty.path().join("data/assessments.csv"),
        "assessment_id,referral_id,child_id,la_code,start_date,authorisation_date\nA1,R1,C1,940,2024-05-01,2024-05-20\n",
    )
    .unwrap();
    let o = run_in(empty.path(), &["ingest", "data", "--store", "store"]);
    assert!(o.status.success());
    let o = measures_with(empty.path(), Some(&queries), &["--year", "2024-25"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "not measurable: assessment_child_seen: no assessment records whether the child was seen"
        ),
        "{}",
        stdout(&o)
    );
    assert!(!std::fs::read_to_string(empty.path().join("m.csv"))
        .unwrap()
        .contains("assessment_child_seen"));
}

// ---------------------------------------------------------------------------------------------
// the SQL rewrites (queries/README.md, "What the program does to the SQL")

#[test]
fn rewrite_1_statements_split_at_semicolons_outside_literals_and_comments() {
    let text = "-- a comment; with a semicolon and it's an apostrophe\n\
                CREATE TABLE v AS SELECT 'a;b' AS x, '--not a comment' AS y; -- trailing\n\
                SELECT 'it''s' AS measure_id, la_code, 'met' AS outcome FROM v;\n\
                \n;\n";
    let st = sql::statements(text);
    assert_eq!(
        st,
        [
            "CREATE TABLE v AS SELECT 'a;b' AS x, '--not a comment' AS y",
            "SELECT 'it''s' AS measure_id, la_code, 'met' AS outcome FROM v",
        ]
    );
    assert_eq!(sql::created_table(&st[0]).as_deref(), Some("v"));
    assert_eq!(sql::measure_ids(&st[1]), ["it's"]);
    // The words of the code, not of its literals.
    let words: Vec<String> = sql::identifiers(&st[0]).collect();
    assert!(words.contains(&"y".to_string()) && !words.contains(&"comment".to_string()));
}

#[test]
fn rewrite_2_parameters_read_through_cross_join_params_p_become_date_literals() {
    let year = FinYear(2024);
    let reference = NaiveDate::from_ymd_opt(2025, 4, 30).unwrap();
    // 2024-04-01 = day 19814 since 1970-01-01; 2025-03-31 = 20178; 2025-04-30 = 20208.
    let b = sql::bind_params(
        "SELECT x FROM t CROSS JOIN params p WHERE t.d BETWEEN p.period_start AND p.period_end",
        year,
        reference,
    );
    assert_eq!(
        b.sql,
        "SELECT x FROM t  WHERE t.d BETWEEN CAST(19814 AS DATE) AND CAST(20178 AS DATE)"
    );
    assert!(b.year_dependent);
    // as_at = the earlier of the period end and the reference date.
    let b = sql::bind_params("SELECT p.as_at FROM t CROSS JOIN params p", year, reference);
    assert_eq!(b.sql, "SELECT CAST(20178 AS DATE) FROM t ");
    // Only the reference date: the same in every year of a run.
    let b = sql::bind_params(
        "SELECT x FROM t CROSS JOIN params p WHERE t.d <= p.reference_date",
        year,
        reference,
    );
    assert_eq!(b.sql, "SELECT x FROM t  WHERE t.d <= CAST(20208 AS DATE)");
    assert!(!b.year_dependent);
    // A `p.` in a JOIN's ON condition is left for the join, and the cross join stays.
    let on = "SELECT x FROM t CROSS JOIN params p JOIN calendar c ON c.date = p.as_at WHERE t.d <= p.period_end";
    let b = sql::bind_params(on, year, reference);
    assert_eq!(
        b.sql,
        "SELECT x FROM t CROSS JOIN params p JOIN calendar c ON c.date = p.as_at WHERE t.d <= CAST(20178 AS DATE)"
    );
    assert!(b.year_dependent);
    // An unknown parameter keeps the cross join; `dp.x` is not `p.x`; another spelling is left
    // as written (correct, only slower).
    let b = sql::bind_params(
        "SELECT p.period, dp.as_at FROM t CROSS JOIN params p",
        year,
        reference,
    );
    assert_eq!(
        b.sql,
        "SELECT p.period, dp.as_at FROM t CROSS JOIN params p"
    );
    let other = "SELECT x FROM t CROSS JOIN params q WHERE t.d <= q.period_end";
    let b = sql::bind_params(other, year, reference);
    assert_eq!(b.sql, other);
    assert!(b.year_dependent, "it reads params");
}

#[test]
fn rewrite_3_casts_of_store_date_columns_become_try_casts() {
    assert_eq!(
        sql::infallible_casts(
            "WHERE CAST(c.decision_at AS DATE) <= CAST(received_at AS DATE) AND TRY_CAST(r.received_at AS DATE) IS NOT NULL"
        ),
        "WHERE TRY_CAST(c.decision_at AS DATE) <= TRY_CAST(received_at AS DATE) AND TRY_CAST(r.received_at AS DATE) IS NOT NULL"
    );
    // Not a store date column, not a column, not a cast to DATE: as written.
    for kept in [
        "CAST(c.level_of_need AS DATE)",
        "CAST(period_start - INTERVAL '2 years' AS DATE)",
        "CAST(c.decision_at AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CAST(19814 AS DATE)",
    ] {
        assert_eq!(sql::infallible_casts(kept), kept);
    }
}

#[test]
fn the_rewrites_change_no_figure() {
    // Every case input in one store, measured with the rewrites and without: the same bytes.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for case in ["contacts", "s47_conferences", "review_chain"] {
        let sub = tmp.path().join(case);
        store_of_case(&sub, case);
        for e in std::fs::read_dir(sub.join("data")).unwrap() {
            let p = e.unwrap().path();
            let target = data.join(format!(
                "{case}-{}",
                p.file_name().unwrap().to_string_lossy()
            ));
            std::fs::create_dir_all(&data).unwrap();
            // Separate files of one table: the rows of each case.
            std::fs::copy(&p, target).unwrap();
        }
    }
    let o = run_in(tmp.path(), &["ingest", "data", "--store", "store"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let args = [
        "--years",
        "2023-24..2024-25",
        "--reference-date",
        "2025-03-31",
    ];
    let with = measures_with(tmp.path(), None, &args);
    assert!(with.status.success(), "{}", stderr(&with));
    let a = std::fs::read(tmp.path().join("m.csv")).unwrap();
    let mut c = bin();
    let without = c
        .current_dir(tmp.path())
        .env("SAFEGUARD_SQL_REWRITES", "0")
        .args(["measures", "--store", "store", "--out", "m.csv"])
        .args(args)
        .output()
        .unwrap();
    assert!(without.status.success(), "{}", stderr(&without));
    let b = std::fs::read(tmp.path().join("m.csv")).unwrap();
    assert!(a.len() > 2000, "a real table: {} bytes", a.len());
    assert!(a == b, "the measures differ with SAFEGUARD_SQL_REWRITES=0");
    assert_eq!(stdout(&with), stdout(&without));
}

// ---------------------------------------------------------------------------------------------
// a catalogue or SQL of the user's that does not fit

/// Runs `measures` on a small store with a copy of queries/ changed by `edit`; returns the exit
/// code and stderr.
fn broken(edit: impl Fn(&Path)) -> (Option<i32>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let queries = copy_queries(tmp.path());
    edit(&queries);
    store_of_case(tmp.path(), "rereferrals");
    let o = measures_with(tmp.path(), Some(&queries), &["--year", "2024-25"]);
    (o.status.code(), stderr(&o))
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[track_caller]
fn assert_user_error(result: (Option<i32>, String), wanted: &[&str]) {
    let (code, err) = result;
    assert_eq!(code, Some(1), "exit 1 (a user error):\n{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line:\n{err}");
    for w in wanted {
        assert!(err.contains(w), "{w:?} in:\n{err}");
    }
}

#[test]
fn a_catalogue_that_does_not_fit_its_sql_is_a_user_error_naming_the_file() {
    // TOML syntax: the line and column.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("catalogue.toml"),
                "data_quality = ",
                "data_quality == ",
            )
        }),
        &["catalogue.toml:25:15:"],
    );
    // A typo'd field.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("catalogue.toml"),
                "polarity_reason =",
                "polarity_reasn =",
            )
        }),
        &["catalogue.toml", "polarity_reasn"],
    );
    // A SELECT naming a measure the catalogue does not have.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("front_door.sql"),
                "'referral_nfa' AS measure_id",
                "'referral_nfa_typo' AS measure_id",
            )
        }),
        &[
            "front_door.sql",
            "referral_nfa_typo",
            "not in catalogue.toml",
        ],
    );
    // A need the catalogue does not define; a file it cannot read.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("catalogue.toml"),
                "needs = [\"early_help\"]",
                "needs = [\"early_hlp\"]",
            )
        }),
        &["catalogue.toml", "early_help_step_up", "early_hlp"],
    );
    assert_user_error(
        broken(|q| std::fs::remove_file(q.join("rates.sql")).unwrap()),
        &["rates.sql", "cannot be read"],
    );
    // No catalogue in the folder at all.
    assert_user_error(
        broken(|q| std::fs::remove_file(q.join("catalogue.toml")).unwrap()),
        &["SAFEGUARD_QUERIES", "catalogue.toml"],
    );
    // A first year (`since`) that is not a financial year.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("catalogue.toml"),
                "since = { period = \"2026-27\"",
                "since = { period = \"2026-28\"",
            )
        }),
        &["measure 'pp_started'", "since.period", "2026-28"],
    );
}

#[test]
fn a_statement_column_or_outcome_the_catalogue_does_not_declare_is_a_user_error() {
    // A breakdown column no catalogue entry declares: never a silent guess.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("catalogue.toml"),
                "breakdowns = [\"month\", \"age_band\", \"sex\", \"ethnicity_group\", \"source\"]\nneeds = [\"referrals\"]\nheadline = { order = 2",
                "breakdowns = [\"month\", \"age_band\", \"sex\", \"ethnicity_group\"]\nneeds = [\"referrals\"]\nheadline = { order = 2",
            )
        }),
        &["front_door.sql", "column 'source'", "rereferral_12m"],
    );
    // An outcome that is not one of the five.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("front_door.sql"),
                "CASE WHEN x.referral_id IS NOT NULL THEN 'met' ELSE 'not_met' END AS outcome",
                "CASE WHEN x.referral_id IS NOT NULL THEN 'num' ELSE 'den' END AS outcome",
            )
        }),
        &[
            "front_door.sql",
            "outcome '",
            "(the outcomes are met, not_met, counted, excluded, pending)",
        ],
    );
    // A SQL error in the user's statement.
    assert_user_error(
        broken(|q| {
            replace_in(
                &q.join("rates.sql"),
                "FROM referral_base r",
                "FROM referral_bsae r",
            )
        }),
        &["rates.sql", "referral_bsae"],
    );
}

// ---------------------------------------------------------------------------------------------
// the report follows the catalogue

#[test]
fn the_report_summary_table_takes_its_headlines_from_the_catalogue() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = copy_queries(tmp.path());
    replace_in(
        &queries.join("catalogue.toml"),
        "title = \"Re-referrals within 12 months\"",
        "title = \"Children referred again within a year\"",
    );
    replace_in(
        &queries.join("catalogue.toml"),
        "headline = { order = 2, limit_label = \"\" }",
        "headline = { order = 2, limit_label = \"none set\" }",
    );
    store_of_case(tmp.path(), "rereferrals");
    let o = bin()
        .current_dir(tmp.path())
        .env("SAFEGUARD_QUERIES", &queries)
        .args([
            "report", "--store", "store", "--year", "2024-25", "--out", "r",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let html = std::fs::read_to_string(tmp.path().join("r/index.html")).unwrap();
    let row = html
        .split("<tr data-measure=\"rereferral_12m\">")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("the rereferral_12m row");
    assert!(
        row.contains("<th scope=\"row\">Children referred again within a year<"),
        "{row}"
    );
    assert!(row.contains("none set"), "{row}");
}
