//! The command line as a user meets it, driven through the real binary: `workdays` and `calendar`
//! (measures.md section 1) with and without local closures, config errors, exit codes, `--help`
//! and `--version`, a closed output pipe, and the commands that need a store run without one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};

use crate::common::{bin, run_in, stderr, stdout, write};

/// The ten bank holidays of 2022 in England and Wales as observed (gov.uk): the 1 January fell on
/// a Saturday, the spring holiday moved to 2 June with the platinum jubilee on 3 June, the state
/// funeral on 19 September, and Christmas Day fell on a Sunday (Boxing Day Monday 26, substitute
/// Tuesday 27).
const HOLIDAYS_2022: &str = "2022-01-03\n2022-04-15\n2022-04-18\n2022-05-02\n2022-06-02\n\
                             2022-06-03\n2022-08-29\n2022-09-19\n2022-12-26\n2022-12-27\n";

const CLOSURES: &str = "closure_days = [\"2024-12-27\", \"2024-12-30\", \"2024-12-31\"]\n";

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// Runs `args` in a fresh empty folder (no `safeguard.toml` around).
fn run(args: &[&str]) -> Output {
    let dir = tmp();
    run_in(dir.path(), args)
}

/// Asserts exit 0 and returns stdout.
fn ok(o: &Output) -> String {
    assert_eq!(
        code(o),
        Some(0),
        "expected exit 0\nstdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts a user error: exit 1, nothing on stdout, a message on stderr; returns stderr.
fn user_error(o: &Output) -> String {
    assert_eq!(
        code(o),
        Some(1),
        "expected exit 1 (user error)\nstdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    assert!(stdout(o).is_empty(), "nothing on stdout: {}", stdout(o));
    let e = stderr(o);
    assert!(!e.trim().is_empty(), "a message on stderr");
    assert!(!e.contains("panicked"), "no panic: {e}");
    e
}

/// Asserts the one-line message of a user error (plus nothing else) and returns it.
fn one_line_error(o: &Output) -> String {
    let e = user_error(o);
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "a one-line message, got:\n{e}");
    lines[0].to_string()
}

fn workdays(args: &[&str]) -> String {
    let mut all = vec!["workdays"];
    all.extend_from_slice(args);
    ok(&run(&all))
}

// ---------------------------------------------------------------------------------------------
// workdays

#[test]
fn workdays_over_easter_2024_is_one() {
    // Thu 28 March -> Tue 2 April 2024: Good Friday 29, weekend, Easter Monday 1 April; only
    // Tuesday 2 April counts.
    assert_eq!(workdays(&["2024-03-28", "2024-04-02"]), "1\n");
}

#[test]
fn workdays_same_day_is_zero_and_reversed_is_negative() {
    assert_eq!(workdays(&["2024-04-02", "2024-04-02"]), "0\n");
    // A Saturday to itself is 0 as well.
    assert_eq!(workdays(&["2024-03-30", "2024-03-30"]), "0\n");
    assert_eq!(workdays(&["2024-04-02", "2024-03-28"]), "-1\n");
    // Reversed over a full week: minus five.
    assert_eq!(workdays(&["2024-06-14", "2024-06-07"]), "-5\n");
}

#[test]
fn workdays_from_a_saturday() {
    // Sat 1 June 2024 -> Mon 3 June: Sunday does not count, Monday does.
    assert_eq!(workdays(&["2024-06-01", "2024-06-03"]), "1\n");
    // Sat 30 March 2024 (Easter Saturday) -> Wed 3 April: Easter Monday skipped; Tue, Wed count.
    assert_eq!(workdays(&["2024-03-30", "2024-04-03"]), "2\n");
    // Sat -> Sun is 0.
    assert_eq!(workdays(&["2024-06-01", "2024-06-02"]), "0\n");
}

#[test]
fn workdays_across_christmas_2022_with_a_substitute_day() {
    // Christmas Day 2022 was a Sunday: Boxing Day Monday 26 and the substitute Tuesday 27 are
    // both holidays. Fri 23 -> Wed 28 December: only Wednesday counts.
    assert_eq!(workdays(&["2022-12-23", "2022-12-28"]), "1\n");
    // Fri 23 -> Tue 27: none (Sunday 25 itself is never a holiday "date" that matters).
    assert_eq!(workdays(&["2022-12-23", "2022-12-27"]), "0\n");
    // Across the whole fortnight: 19 Dec -> 3 Jan 2023 (Mon 2 Jan substitute for Sunday 1 Jan).
    // Working days: 20, 21, 22, 23, 28, 29, 30 Dec and 3 Jan = 8.
    assert_eq!(workdays(&["2022-12-19", "2023-01-03"]), "8\n");
}

#[test]
fn workdays_outside_the_calendar_or_not_a_date_is_a_user_error() {
    let line = one_line_error(&run(&["workdays", "1989-12-29", "1990-01-02"]));
    assert!(line.contains("1989-12-29"), "names the date: {line}");
    assert!(
        line.contains("1990") && line.contains("2040"),
        "names the range: {line}"
    );
    // Not a date: clap's message, exit 1.
    let e = user_error(&run(&["workdays", "2024-02-30", "2024-03-01"]));
    assert!(e.contains("2024-02-30"), "names the value: {e}");
}

// ---------------------------------------------------------------------------------------------
// calendar

#[test]
fn calendar_2022_prints_exactly_the_ten_observed_holidays() {
    let o = run(&["calendar", "--from", "2022-01-01", "--to", "2022-12-31"]);
    assert_eq!(ok(&o), HOLIDAYS_2022);
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn calendar_whole_range_prints_415_iso_dates() {
    let o = run(&["calendar", "--from", "1990-01-01", "--to", "2040-12-31"]);
    let out = ok(&o);
    let lines: Vec<&str> = out.lines().collect();
    // 8 regular holidays a year for 51 years plus 7 one-off extra days.
    assert_eq!(lines.len(), 415);
    let mut prev = None;
    for l in &lines {
        let d = chrono::NaiveDate::parse_from_str(l, "%Y-%m-%d")
            .unwrap_or_else(|_| panic!("not an ISO date: {l:?}"));
        assert_eq!(l.len(), 10, "ISO date only: {l:?}");
        assert!(prev < Some(d), "sorted and distinct: {l}");
        prev = Some(d);
    }
    assert!(out.ends_with('\n'));
    assert_eq!(lines.first(), Some(&"1990-01-01"));
    assert_eq!(lines.last(), Some(&"2040-12-26"));
}

#[test]
fn calendar_range_is_inclusive_and_may_be_empty() {
    assert_eq!(
        ok(&run(&[
            "calendar",
            "--from",
            "2022-12-27",
            "--to",
            "2022-12-27"
        ])),
        "2022-12-27\n"
    );
    // A range with no holiday prints nothing and succeeds.
    assert_eq!(
        ok(&run(&[
            "calendar",
            "--from",
            "2022-07-01",
            "--to",
            "2022-07-31"
        ])),
        ""
    );
}

#[test]
fn calendar_outside_the_range_exits_1_naming_the_date_and_the_range() {
    let line = one_line_error(&run(&[
        "calendar",
        "--from",
        "1989-12-31",
        "--to",
        "1990-12-31",
    ]));
    assert!(line.contains("1989-12-31"), "names the date: {line}");
    assert!(
        line.contains("1990-01-01") && line.contains("2040-12-31"),
        "names the range: {line}"
    );
    let line = one_line_error(&run(&[
        "calendar",
        "--from",
        "2040-01-01",
        "--to",
        "2041-01-01",
    ]));
    assert!(line.contains("2041-01-01"), "names the date: {line}");
}

#[test]
fn calendar_to_before_from_exits_1() {
    let line = one_line_error(&run(&[
        "calendar",
        "--from",
        "2022-12-31",
        "--to",
        "2022-01-01",
    ]));
    assert!(
        line.contains("2022-12-31") && line.contains("2022-01-01"),
        "names both dates: {line}"
    );
}

// ---------------------------------------------------------------------------------------------
// local closures (measures.md section 1: added only when a config is given)

#[test]
fn closure_days_from_the_config_are_not_working_days() {
    let dir = tmp();
    write(dir.path(), "closures.toml", CLOSURES);
    // Tue 24 Dec 2024 -> Thu 2 Jan 2025: Christmas, Boxing Day and New Year's Day are holidays;
    // the 27th, 30th and 31st are working days unless closed. Only Thursday 2 January is left.
    let with = run_in(
        dir.path(),
        &[
            "--config",
            "closures.toml",
            "workdays",
            "2024-12-24",
            "2025-01-02",
        ],
    );
    assert_eq!(ok(&with), "1\n");
    // The global option also works after the subcommand.
    let after = run_in(
        dir.path(),
        &[
            "workdays",
            "--config",
            "closures.toml",
            "2024-12-24",
            "2025-01-02",
        ],
    );
    assert_eq!(ok(&after), "1\n");
    let without = run_in(dir.path(), &["workdays", "2024-12-24", "2025-01-02"]);
    assert_eq!(ok(&without), "4\n");
}

#[test]
fn calendar_lists_closures_only_when_a_config_is_given() {
    let dir = tmp();
    write(dir.path(), "closures.toml", CLOSURES);
    let with = run_in(
        dir.path(),
        &[
            "calendar",
            "--config",
            "closures.toml",
            "--from",
            "2024-12-01",
            "--to",
            "2024-12-31",
        ],
    );
    assert_eq!(
        ok(&with),
        "2024-12-25\n2024-12-26\n2024-12-27\n2024-12-30\n2024-12-31\n"
    );
    let without = run_in(
        dir.path(),
        &["calendar", "--from", "2024-12-01", "--to", "2024-12-31"],
    );
    assert_eq!(ok(&without), "2024-12-25\n2024-12-26\n");
    // A ./safeguard.toml found in the folder is not "given": `calendar` still prints the bank
    // holidays as published (its --help: "added only when --config is given").
    write(dir.path(), "safeguard.toml", CLOSURES);
    let found = run_in(
        dir.path(),
        &["calendar", "--from", "2024-12-01", "--to", "2024-12-31"],
    );
    assert_eq!(ok(&found), "2024-12-25\n2024-12-26\n");
}

#[test]
fn bad_config_exits_1_naming_the_file_line_and_column() {
    let dir = tmp();
    write(
        dir.path(),
        "unknown.toml",
        "partnership = \"Test\"\nclosure_dayz = [\"2024-12-27\"]\n",
    );
    let line = one_line_error(&run_in(
        dir.path(),
        &[
            "--config",
            "unknown.toml",
            "workdays",
            "2024-12-24",
            "2025-01-02",
        ],
    ));
    assert!(
        line.contains("unknown.toml:2:1"),
        "file:line:column: {line}"
    );
    assert!(line.contains("closure_dayz"), "names the key: {line}");

    write(
        dir.path(),
        "baddate.toml",
        "partnership = \"Test\"\nclosure_days = [\"2024-12-27\", \"2024-12-32\"]\n",
    );
    let line = one_line_error(&run_in(
        dir.path(),
        &[
            "--config",
            "baddate.toml",
            "calendar",
            "--from",
            "2024-12-01",
            "--to",
            "2024-12-31",
        ],
    ));
    assert!(line.contains("baddate.toml:2:"), "file:line:column: {line}");
    let at = line.split("baddate.toml:2:").nth(1).unwrap_or("");
    assert!(
        at.starts_with(|c: char| c.is_ascii_digit()),
        "a column after the line: {line}"
    );

    // A config found as ./safeguard.toml is read too, and its errors name it.
    write(dir.path(), "safeguard.toml", "bogus = 1\n");
    let line = one_line_error(&run_in(
        dir.path(),
        &["workdays", "2024-12-24", "2025-01-02"],
    ));
    assert!(
        line.contains("safeguard.toml:1:1"),
        "file:line:column: {line}"
    );

    // A config that does not exist.
    let line = one_line_error(&run_in(
        dir.path(),
        &[
            "--config",
            "absent.toml",
            "workdays",
            "2024-12-24",
            "2025-01-02",
        ],
    ));
    assert!(line.contains("absent.toml"), "names the file: {line}");
}

#[test]
fn closure_day_outside_the_calendar_exits_1_naming_the_config() {
    let dir = tmp();
    write(dir.path(), "old.toml", "closure_days = [\"1985-12-27\"]\n");
    let line = one_line_error(&run_in(
        dir.path(),
        &[
            "--config",
            "old.toml",
            "workdays",
            "2024-12-24",
            "2025-01-02",
        ],
    ));
    assert!(line.contains("1985-12-27"), "names the date: {line}");
    assert!(line.contains("old.toml"), "names the file: {line}");
}

// ---------------------------------------------------------------------------------------------
// exit codes, help, version

#[test]
fn unknown_subcommand_and_bad_arguments_exit_1_with_clap_message() {
    let e = user_error(&run(&["frobnicate"]));
    assert!(e.contains("frobnicate"), "names the subcommand: {e}");
    assert!(e.contains("Usage"), "clap's usage line: {e}");

    let e = user_error(&run(&["calendar", "--from", "2022-01-01"]));
    assert!(e.contains("--to"), "names the missing argument: {e}");

    let e = user_error(&run(&[
        "calendar",
        "--from",
        "01/01/2022",
        "--to",
        "2022-12-31",
    ]));
    assert!(e.contains("01/01/2022"), "names the bad value: {e}");

    let e = user_error(&run(&["workdays", "2024-01-01"]));
    assert!(e.contains("<B>"), "names the missing argument: {e}");

    let e = user_error(&run(&["measures", "--bogus-flag"]));
    assert!(e.contains("--bogus-flag"), "names the flag: {e}");

    let e = user_error(&run(&["synth", "--out", "x", "--format", "json"]));
    assert!(e.contains("json"), "names the bad value: {e}");

    // No subcommand at all: the usage, exit 1.
    let e = user_error(&run(&[]));
    assert!(e.contains("Usage"), "{e}");
}

#[test]
fn help_everywhere_exits_0_with_an_example() {
    for sub in [
        None,
        Some("ingest"),
        Some("run"),
        Some("measures"),
        Some("cdop-return"),
        Some("report"),
        Some("synth"),
        Some("calendar"),
        Some("workdays"),
    ] {
        let mut args: Vec<&str> = sub.into_iter().collect();
        args.push("--help");
        let o = run(&args);
        let text = ok(&o);
        assert!(
            text.contains("Example"),
            "`safeguard {}` has an example:\n{text}",
            args.join(" ")
        );
        assert!(text.contains("Usage"), "{text}");
        assert!(stderr(&o).is_empty(), "help goes to stdout: {}", stderr(&o));
        // `-h` and `help <sub>` exit 0 as well.
        let mut short: Vec<&str> = sub.into_iter().collect();
        short.push("-h");
        ok(&run(&short));
        if let Some(s) = sub {
            let text = ok(&run(&["help", s]));
            assert!(text.contains("Example"), "`safeguard help {s}`:\n{text}");
        }
    }
}

#[test]
fn version_exits_0() {
    let o = run(&["--version"]);
    let text = ok(&o);
    assert!(
        text.starts_with("safeguard ") && text.contains(env!("CARGO_PKG_VERSION")),
        "{text}"
    );
    let o = run(&["calendar", "--version"]);
    assert!(ok(&o).contains(env!("CARGO_PKG_VERSION")));
}

// ---------------------------------------------------------------------------------------------
// a closed output pipe

fn calendar_all(dir: &Path) -> std::process::Child {
    bin()
        .current_dir(dir)
        .args(["calendar", "--from", "1990-01-01", "--to", "2040-12-31"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

#[test]
fn output_into_a_closed_pipe_does_not_panic() {
    let dir = tmp();
    // Like `safeguard calendar ... | head -1`.
    let mut child = calendar_all(dir.path());
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("a line");
    assert_eq!(line, "1990-01-01\n");
    drop(reader);
    let out = child.wait_with_output().expect("the binary finishes");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert!(out.status.success(), "exit 0, got {:?}: {err}", out.status);

    // The reader gone before anything is written: every write fails with EPIPE.
    let mut child = calendar_all(dir.path());
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("the binary finishes");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert!(out.status.success(), "exit 0, got {:?}: {err}", out.status);
    assert!(err.is_empty(), "nothing on stderr: {err}");
}

// ---------------------------------------------------------------------------------------------
// commands that need a store

#[test]
fn commands_needing_a_store_say_to_run_ingest_first() {
    let dir = tmp();
    let cases: [&[&str]; 3] = [
        &["measures", "--store", "nostore", "--out", "m.csv"],
        &["report", "--store", "nostore", "--out", "rep"],
        &["cdop-return", "--store", "nostore", "--out", "ret"],
    ];
    for args in cases {
        let line = one_line_error(&run_in(dir.path(), args));
        assert!(
            line.contains("ingest") && line.contains("first"),
            "`safeguard {}` says to run ingest first: {line}",
            args.join(" ")
        );
        assert!(line.contains("nostore"), "names the folder: {line}");
    }
    // The default store folder (./store) too.
    let line = one_line_error(&run_in(dir.path(), &["measures", "--out", "m.csv"]));
    assert!(line.contains("ingest"), "{line}");
    // Nothing was created.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no files left behind: {left:?}");
    // A folder that exists but holds no store.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    for args in [
        &["measures", "--store", "empty", "--out", "m.csv"][..],
        &["report", "--store", "empty", "--out", "rep"][..],
        &["cdop-return", "--store", "empty", "--out", "ret"][..],
    ] {
        let line = one_line_error(&run_in(dir.path(), args));
        assert!(
            line.contains("ingest") && line.contains("first"),
            "`safeguard {}` says to run ingest first: {line}",
            args.join(" ")
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path().join("empty"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "the empty folder is left empty: {left:?}");
}
