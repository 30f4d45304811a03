"""Cuts a monthly extract for one LA out of the canonical CSVs: the rows of that LA dated in the
month (contacts and referrals received, assessments, strategy discussions, s47 enquiries and plans
started), with their children - what an LA's case system would send again after a month's work.
Values are copied as text, unchanged: re-ingested, each row supersedes its earlier copy.

Usage: month_extract.py CSV_DIR OUT_DIR LA_CODE YYYY-MM
"""

import sys
from pathlib import Path

import polars as pl

DATED = {
    "contacts.csv": "received_at",
    "referrals.csv": "received_at",
    "assessments.csv": "start_date",
    "strategy_discussions.csv": "date",
    "s47_enquiries.csv": "start_date",
    "cp_plans.csv": "start_date",
}


def main() -> None:
    src, out, la, month = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    out.mkdir(parents=True, exist_ok=True)
    children = set()
    total = 0
    for name, col in DATED.items():
        df = pl.read_csv(src / name, infer_schema_length=0)
        df = df.filter((pl.col("la_code") == la) & pl.col(col).str.starts_with(month))
        children |= set(df["child_id"].to_list())
        df.write_csv(out / name)
        total += df.height
    ch = pl.read_csv(src / "children.csv", infer_schema_length=0)
    ch = ch.filter((pl.col("la_code") == la) & pl.col("child_id").is_in(list(children)))
    ch.write_csv(out / "children.csv")
    total += ch.height
    print(f"month extract {la} {month}: {total} rows -> {out}")


if __name__ == "__main__":
    main()
