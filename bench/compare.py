"""Compares another engine's measures table with safeguard's (same columns; extra ones ignored).

Usage: compare.py SAFEGUARD_CSV OTHER_CSV [LABEL]
Prints one JSON object: rows compared, rows that differ (numerator, denominator, excluded,
pending, and value for the p25/median/p75 rows), measures only one side has, a few examples.
rate_per_10k is left out (the program divides it by the population after the SQL).
"""

import json
import sys

import polars as pl

KEY = ["measure_id", "period", "la_code", "breakdown", "breakdown_value"]


def load(path: str) -> pl.DataFrame:
    df = pl.read_csv(path, infer_schema_length=0)  # all strings
    df = df.with_columns(pl.col("breakdown_value").fill_null(""))
    return df.filter(pl.col("measure_id") != "rate_per_10k")


def main() -> None:
    sg, other = load(sys.argv[1]), load(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else "other"
    ms_sg = set(sg["measure_id"].unique())
    ms_o = set(other["measure_id"].unique())
    common = ms_sg & ms_o
    sg = sg.filter(pl.col("measure_id").is_in(list(common)))
    other = other.filter(pl.col("measure_id").is_in(list(common)))
    # Compare only the breakdowns the other side produced (pandas: NONE only).
    bds = set(other["breakdown"].unique())
    sg = sg.filter(pl.col("breakdown").is_in(list(bds)))
    j = sg.join(other, on=KEY, how="full", suffix="_o", coalesce=True)
    num = lambda c: pl.col(c).cast(pl.Float64, strict=False).fill_null(0)
    diff = pl.lit(False)
    for c in ["numerator", "denominator", "excluded", "pending"]:
        if c in other.columns:
            diff = diff | ((num(c) - num(c + "_o")).abs() > 0.5)
    stat = pl.col("breakdown") == "statistic"
    if "value" in other.columns:
        diff = (~stat & diff) | (stat & ((num("value") - num("value_o")).abs() > 0.5))
    # A row only one side has counts as a difference unless its counts are all zero there (the
    # program emits pending-only rows, 0/0; the pandas baseline has no pending).
    missing = pl.col("numerator").is_null() | pl.col("numerator_o").is_null()
    bad = j.filter(diff | (missing & ~stat & (num("denominator") + num("excluded") + num("denominator_o")
                                           + num("excluded_o") > 0)))
    res = {
        "label": label,
        "measures_compared": sorted(common),
        "only_safeguard": sorted(ms_sg - ms_o),
        "only_other": sorted(ms_o - ms_sg),
        "rows_compared": j.height,
        "rows_differing": bad.height,
        "examples": bad.head(5).to_dicts(),
    }
    print(json.dumps(res, default=str))


if __name__ == "__main__":
    main()
