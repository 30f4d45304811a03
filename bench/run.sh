#!/usr/bin/env bash
# One command: generate national-scale data, time every step of the pipeline against the floor,
# DuckDB and pandas, and regenerate BENCHMARKS.md. See bench/README.md.
#
#   bench/run.sh                 # the issue's size: 650,000 referrals/year x 5 years x 150 LAs
#   SCALE=0.1 bench/run.sh       # a tenth of it (scaling table base scales too)
#   bench/run.sh render          # rewrite BENCHMARKS.md from bench/out/results.json
#
# Generated data goes to $BENCH_WORK (default /tmp/safeguard-bench), results to bench/out/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/safeguard-target}"
venv="${BENCH_VENV:-/tmp/benchvenv}"

if [ ! -x "$venv/bin/python" ]; then
  echo "== making $venv (duckdb, pandas, pyarrow, polars, numpy from PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb pandas pyarrow polars numpy
fi

if [ "${1:-run}" = "run" ] && [ -z "${SAFEGUARD_BIN:-}" ] && [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "== cargo build --release"
  (cd "$root" && cargo build --release --quiet)
fi

exec "$venv/bin/python" "$here/harness.py" "${1:-run}"
