"""DuckDB running the project's own measure definitions (queries/*.sql) over a safeguard store.

Usage: duckdb_measures.py STORE_GEN_DIR HOLIDAYS_FILE REFERENCE_DATE OUT_CSV YEAR [YEAR...]
  STORE_GEN_DIR  the live generation folder (store/gen-NNNNNN) holding <table>/<part>.parquet
  HOLIDAYS_FILE  `safeguard calendar --from 1990-01-01 --to 2040-12-31` output (one date a line)
  YEAR           a financial year such as 2025-26

The adapter (everything else is the SQL as written):
  - each store table is a VIEW over its Parquet files, one per LA partition (read_parquet);
  - `calendar(date, wd)`: every date 1990-2040 with wd = the number of working days (Mon-Fri, not
    an England and Wales bank holiday) up to and including the date, so wd(a, b) = b.wd - a.wd,
    the same differences as the program's ordinal (src/measures/mod.rs calendar_frame);
  - `params(period, period_start, period_end, reference_date, as_at)`: one row per year, as
    src/measures/mod.rs params_frame makes it;
  - the files, their order, and each measure's distribution and quartile columns come from
    queries/catalogue.toml; statements are split as src/measures/sql.rs `statements` does (strip
    `--` comments, split on `;`; the queries hold no `;` or `--` inside a string literal);
  - the one textual translation: `CREATE TABLE` -> `CREATE OR REPLACE TEMP TABLE`, because the
    files are run once per year in one connection (Polars' SQLContext registers the same name
    again; DuckDB refuses to create an existing table). DuckDB materialises these tables; Polars
    keeps them as lazy views that each SELECT re-plans.
  - queries/cdop.sql is NOT run: it reads `cdop_base`, a table the program builds in Rust from
    cdop_reviews (src/cdop/cases.rs: age band by birthday, IMD quintile, review-time bands...), not
    SQL. Review timeliness (cpp_review_timely) is Rust too (src/measures/reviews.rs). Both are
    small tables (deaths; plan reviews) - see BENCHMARKS.md.
  - aggregation: the event rows of a year's SELECTs are summed by key across statements as
    src/measures/aggregate.rs does (per LA and ALL; NONE and every breakdown column; outcomes
    met / counted in the numerator, not_met in the denominator only; p25/median/p75 of the
    catalogue's quartile column over met and counted rows), in DuckDB with GROUPING SETS and
    quantile_disc.
"""

import csv
import re
import tomllib
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = tomllib.loads((ROOT / "queries" / "catalogue.toml").read_text())
# "cdop.sql": needs cdop_base, built in Rust (see above).
QUERY_FILES = [f for f in CATALOGUE["files"] if f != "cdop.sql"]
TABLES = [
    "children", "contacts", "referrals", "early_help", "assessments", "strategy_discussions",
    "s47_enquiries", "cp_plans", "cp_reviews", "cdop_reviews", "cdop_factors", "population",
]
RESERVED = {"measure_id", "la_code", "outcome"}
# (measure, column) pairs that are distributions; measure -> its quartile column.
DISTRIBUTIONS = {(m["id"], d) for m in CATALOGUE["measure"] for d in m.get("distributions", [])}
QUARTILES = {m["id"]: m["quartiles"]["column"] for m in CATALOGUE["measure"] if "quartiles" in m}
# What each outcome adds: [numerator, denominator, excluded, pending].
OUTCOMES = {"met": (1, 1, 0, 0), "counted": (1, 1, 0, 0), "not_met": (0, 1, 0, 0),
            "excluded": (0, 0, 1, 0), "pending": (0, 0, 0, 1)}


def statements(sql: str) -> list[str]:
    stripped = "\n".join(l.split("--", 1)[0] for l in sql.splitlines())
    return [s.strip() for s in stripped.split(";") if s.strip()]


def translate(stmt: str) -> str:
    return re.sub(r"^\s*CREATE\s+TABLE\b", "CREATE OR REPLACE TEMP TABLE", stmt, flags=re.I)


def year_bounds(fy: str) -> tuple[date, date]:
    y = int(fy[:4])
    return date(y, 4, 1), date(y + 1, 3, 31)


def setup(con, gen: Path, holidays_file: Path) -> None:
    for t in TABLES:
        d = gen / t
        if d.is_dir() and any(d.glob("*.parquet")):
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{d}/*.parquet')")
        else:
            raise SystemExit(f"missing {d}/*.parquet")
    hol = [l.strip() for l in holidays_file.read_text().splitlines() if l.strip()]
    con.execute("CREATE TEMP TABLE holidays(d DATE)")
    con.executemany("INSERT INTO holidays VALUES (?)", [[h] for h in hol])
    con.execute(
        """
        CREATE TEMP TABLE calendar AS
        SELECT CAST(t.day AS DATE) AS date,
               CAST(SUM(CASE WHEN isodow(t.day) <= 5 AND h.d IS NULL THEN 1 ELSE 0 END)
                    OVER (ORDER BY t.day) AS BIGINT) AS wd
        FROM range(DATE '1990-01-01', DATE '2041-01-01', INTERVAL 1 DAY) t(day)
        LEFT JOIN holidays h ON h.d = CAST(t.day AS DATE)
        """
    )


def summarise(con, acc: dict) -> None:
    """Adds the statement's event rows (table ev) to the year's sums `acc`; its quartile values to
    the table evq."""
    cols = [c[0] for c in con.execute("DESCRIBE ev").fetchall()]
    ids = [r[0] for r in con.execute("SELECT DISTINCT measure_id FROM ev").fetchall()]
    qcols = {QUARTILES[m] for m in ids if m in QUARTILES and QUARTILES[m] in cols}
    bds = [c for c in cols if c not in RESERVED and c not in qcols]
    sets = ["(measure_id, la_code, outcome)"]
    for b in bds:
        sets += [f"(measure_id, la_code, outcome, {b})"]
    sel_b = "".join(f", CAST({b} AS VARCHAR) AS {b}, GROUPING({b}) AS g_{b}" for b in bds)
    rows = con.execute(
        f"""SELECT measure_id, la_code, outcome{sel_b}, COUNT(*) AS n
            FROM ev WHERE measure_id IS NOT NULL AND la_code IS NOT NULL AND outcome IS NOT NULL
            GROUP BY GROUPING SETS ({", ".join(sets)})"""
    ).fetchall()
    for r in rows:
        m, la, outcome = r[0], r[1], r[2]
        n = r[-1]
        key = (m, la, "NONE", "")
        for i, b in enumerate(bds):
            v, g = r[3 + 2 * i], r[4 + 2 * i]
            if not g:
                if v is None:  # a row with no value for the breakdown is not counted in it
                    key = None
                else:
                    key = (m, la, b, v)
                break
        if key is None:
            continue
        a = acc.setdefault(key, [0, 0, 0, 0])
        for i, x in enumerate(OUTCOMES[outcome]):
            a[i] += x * n
    for q in qcols:
        con.execute(
            f"""INSERT INTO evq SELECT measure_id, la_code, CAST({q} AS BIGINT) FROM ev
                WHERE outcome IN ('met', 'counted') AND {q} IS NOT NULL AND la_code IS NOT NULL"""
        )


def finish(con, period: str, acc: dict, out: list) -> None:
    """The year's rows: per LA and ALL (the sum of the LAs), and the quartiles from evq."""
    total: dict = {}
    for (m, la, b, v), a in acc.items():
        for key in [(m, la, b, v), (m, "ALL", b, v)]:
            t = total.setdefault(key, [0, 0, 0, 0])
            for i in range(4):
                t[i] += a[i]
    for (m, la, b, v), a in total.items():
        den = total.get((m, la, "NONE", ""), [0, 0])[1] if (m, b) in DISTRIBUTIONS else a[1]
        out.append((m, period, la, b, v, a[0], den, a[0] / den if den else None, a[2], a[3]))
    qs = con.execute(
        """SELECT measure_id, la_code, GROUPING(la_code), COUNT(*),
                  quantile_disc(wd, [0.25, 0.5, 0.75])
           FROM evq GROUP BY GROUPING SETS ((measure_id, la_code), (measure_id))"""
    ).fetchall()
    for m, la, g, n, q in qs:
        la = "ALL" if g else la
        for label, x in zip(["p25", "median", "p75"], q):
            out.append((m, period, la, "statistic", label, n, n, x, 0, 0))


def main() -> None:
    gen, holidays_file, reference = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    out_csv, years = Path(sys.argv[4]), sys.argv[5:]
    t0 = time.perf_counter()
    con = duckdb.connect()
    setup(con, gen, holidays_file)
    ref = date.fromisoformat(reference)
    out: list = []
    files = [(f, statements((ROOT / "queries" / f).read_text())) for f in QUERY_FILES]
    for fy in years:
        start, end = year_bounds(fy)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE params AS SELECT ? AS period, CAST(? AS DATE) AS period_start, "
            "CAST(? AS DATE) AS period_end, CAST(? AS DATE) AS reference_date, CAST(? AS DATE) AS as_at",
            [fy, start, end, ref, min(ref, end)],
        )
        con.execute("CREATE OR REPLACE TEMP TABLE evq (measure_id VARCHAR, la_code VARCHAR, wd BIGINT)")
        acc: dict = {}
        for f, stmts in files:
            for s in stmts:
                t = translate(s)
                try:
                    if t.upper().startswith("CREATE"):
                        con.execute(t)
                    else:
                        con.execute(f"CREATE OR REPLACE TEMP TABLE ev AS {t}")
                        summarise(con, acc)
                except duckdb.Error as e:
                    raise SystemExit(f"queries/{f}: {s.splitlines()[0][:80]}: {e}")
        finish(con, fy, acc, out)
    with out_csv.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["measure_id", "period", "la_code", "breakdown", "breakdown_value",
                    "numerator", "denominator", "value", "excluded", "pending"])
        w.writerows(sorted(out, key=lambda r: tuple(str(x) for x in r)))
    print(f"duckdb: {len(out)} rows in {time.perf_counter() - t0:.2f}s -> {out_csv}")


if __name__ == "__main__":
    main()
