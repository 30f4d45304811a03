"""The floor: read every canonical CSV once with the fastest reader at hand (Polars' streaming CSV
scan) and write it straight to zstd Parquet, one file per CSV. No validation, no pseudonymisation,
no provenance columns, no supersession, no link checks: the cost of just moving the bytes.

Usage: floor.py CSV_DIR OUT_DIR
"""

import pathlib
import sys

import polars as pl


def main() -> None:
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    for f in sorted(src.glob("*.csv")):
        # try_parse_dates: the floor still types the date columns, as any sane reader would.
        lf = pl.scan_csv(f, try_parse_dates=True, infer_schema_length=10_000)
        lf.sink_parquet(out / (f.stem + ".parquet"), compression="zstd")
        rows += pl.scan_parquet(out / (f.stem + ".parquet")).select(pl.len()).collect().item()
    print(f"floor: {rows} rows written to {out}")


if __name__ == "__main__":
    main()
