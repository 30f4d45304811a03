#!/usr/bin/env bash
# Opens a report's index.html in headless Chromium and saves a screenshot of the page, so anyone
# can see what a board chair sees. Usage: scripts/screenshot.sh [REPORT_DIR] [OUT_PNG]
# Default: the newest folder under reports/ and docs/report-screenshot.png.
# Needs Debian's chromium package (apt-get install chromium); skips with a message without it.
set -euo pipefail
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
dir="${1:+$(abs "$1")}"
out="${2:+$(abs "$2")}"
cd "$(dirname "$0")/.."
dir="${dir:-$(ls -d "$PWD"/reports/*/ 2>/dev/null | sort | tail -n 1)}"
out="${out:-$PWD/docs/report-screenshot.png}"
if [ -z "$dir" ] || [ ! -f "$dir/index.html" ]; then
  echo "no report found: run 'safeguard run' first (or give REPORT_DIR)" >&2
  exit 1
fi
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "SKIPPED: Chromium is not installed (apt-get install chromium); no screenshot taken"
  exit 0
fi
mkdir -p "$(dirname "$out")"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1100,2400 \
  --screenshot="$out" "file://${dir%/}/index.html" >/dev/null 2>&1
test -s "$out"
echo "screenshot: $out"
