#!/usr/bin/env bash
# Rebuilds the shipped DfE benchmark asset (assets/benchmarks/dfe.parquet and neighbours.csv)
# from the DfE's published Children in need files: the one documented command (README, "How we
# compare"). The test `compare::the_shipped_asset_is_rebuilt_exactly_from_the_shared_files`
# runs the same build from ../shared/benchmarks and checks it equals what is shipped.
#
# Usage: scripts/refresh-benchmarks.sh [FOLDER]
#   FOLDER holds dfe/ with the CSVs (default: ../shared/benchmarks beside the project).
set -euo pipefail
cd "$(dirname "$0")/.."
from="${1:-../shared/benchmarks}"
if [ ! -d "$from/dfe" ]; then
  echo "error: $from/dfe: no such folder (the DfE's CSVs go there; see README, How we compare)" >&2
  exit 1
fi
cargo run --quiet --locked -- benchmarks-refresh --from "$from" --out assets/benchmarks
ls -l assets/benchmarks/dfe.parquet assets/benchmarks/neighbours.csv
git status --short assets/benchmarks || true
