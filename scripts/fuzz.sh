#!/usr/bin/env bash
# Fuzzes the three readers (canonical CSV, CIN census XML, Annex A xlsx) for a while.
#
# Usage: scripts/fuzz.sh [MINUTES] [WHAT]
#   MINUTES  how long each part runs (default: $SAFEGUARD_FUZZ_MINUTES, else 10)
#   WHAT     harness | csv | cin_xml | xlsx | all (default all)
#
# - harness: the stable-toolchain mutational fuzzer (tests/it/fuzz.rs) for MINUTES, with every
#   mutation kind (also those in its KNOWN_OPEN list), a fresh PRNG seed (printed; set
#   SAFEGUARD_FUZZ_SEED to repeat a run), each case in a child process under an address-space cap
#   and a timeout, and every text finding minimised. Findings are saved to $SAFEGUARD_FUZZ_FINDINGS
#   (default fuzz-findings/ here, which git ignores).
# - csv, cin_xml, xlsx: the cargo-fuzz (libFuzzer) targets in fuzz/, MINUTES each, with an RSS
#   limit and a per-input timeout, seeded from ../shared/conformance and data-samples/. Needs
#   `cargo install cargo-fuzz`; runs on the stable toolchain with RUSTC_BOOTSTRAP=1 and no
#   sanitizer (skipped with a message where cargo-fuzz is absent). Crashes land in
#   fuzz/artifacts/TARGET/; `cargo fuzz run --dev --sanitizer none TARGET FILE` replays one.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-${SAFEGUARD_FUZZ_MINUTES:-10}}"
what="${2:-all}"
case "$minutes" in '' | *[!0-9]*) echo "MINUTES must be a whole number, not '$minutes'" >&2; exit 1 ;; esac
case "$what" in harness | csv | cin_xml | xlsx | all) ;; *) echo "WHAT is harness, csv, cin_xml, xlsx or all, not '$what'" >&2; exit 1 ;; esac
seconds=$((minutes * 60))
findings="${SAFEGUARD_FUZZ_FINDINGS:-$PWD/fuzz-findings}"
conformance="$PWD/../shared/conformance"
mem_mb="${SAFEGUARD_FUZZ_MEM_MB:-2048}"
timeout_s="${SAFEGUARD_FUZZ_TIMEOUT:-30}"

run_harness() {
  local seed="${SAFEGUARD_FUZZ_SEED:-$(date +%s)}"
  echo "== harness: $minutes minute(s), seed $seed, findings in $findings"
  SAFEGUARD_FUZZ_SECONDS="$seconds" SAFEGUARD_FUZZ_SEED="$seed" SAFEGUARD_FUZZ_ALL=1 \
    SAFEGUARD_FUZZ_MINIMIZE=1 SAFEGUARD_FUZZ_FINDINGS="$findings" \
    SAFEGUARD_FUZZ_MEM_MB="$mem_mb" SAFEGUARD_FUZZ_TIMEOUT="$timeout_s" \
    cargo test --locked --test it fuzz::fuzz_readers_bounded -- --exact --nocapture
}

# A target's seed corpus (rebuilt each run; never committed) and dictionary.
build_corpus() {
  local target="$1" dir="fuzz/corpus/$1"
  rm -rf "$dir" && mkdir -p "$dir"
  case "$target" in
    csv)
      for f in data-samples/*/*.csv; do
        head -n 41 "$f" >"$dir/$(basename "$(dirname "$f")")-$(basename "$f")"
      done
      # Column names from the samples' headers, as libFuzzer dictionary entries.
      head -q -n 1 data-samples/*/*.csv | tr ',' '\n' | tr -d '\r' | sort -u |
        sed 's/.*/"&"/' >fuzz/csv.dict
      printf '"\\""\n","\n"\\x0d\\x0a"\n"9999-12-31"\n"2024-02-29T12:00:00"\n' >>fuzz/csv.dict
      ;;
    cin_xml)
      if [ -d "$conformance/cin_census" ]; then
        find "$conformance/cin_census" -name '*.xml' -size -64k | while read -r f; do
          cp "$f" "$dir/$(basename "$(dirname "$f")")-$(basename "$f")"
        done
      fi
      # Element names from the seeds, as start and end tags.
      cat "$dir"/* 2>/dev/null | grep -o '<[A-Za-z][A-Za-z0-9]*' | sort -u |
        sed 's/<\(.*\)/"<\1>"\n"<\/\1>"/' >fuzz/cin_xml.dict || true
      ;;
    xlsx)
      if [ -d "$conformance/annex_a" ] && command -v python3 >/dev/null; then
        # Each workbook as the target's list of parts (fuzz/src/lib.rs), plus the raw zip.
        find "$conformance/annex_a" -name '*.xlsx' | while read -r f; do
          python3 - "$f" "$dir/$(basename "$f").parts" <<'EOF'
import struct, sys, zipfile
out = bytearray()
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        name, data = info.filename.encode(), z.read(info)
        out += struct.pack("<H", len(name)) + name + struct.pack("<I", len(data)) + data
open(sys.argv[2], "wb").write(out)
EOF
          cp "$f" "$dir/"
        done
      fi
      printf '"<c r=\\"A1\\" t=\\"s\\">"\n"<v>"\n"</v>"\n"<row r=\\"1\\">"\n"<dimension ref=\\"A1:XFD1048576\\"/>"\n"<sheet name=\\"List 3\\""\n' >fuzz/xlsx.dict
      ;;
  esac
  echo "corpus $dir: $(ls "$dir" | wc -l) file(s)"
}

run_cargo_fuzz() {
  local target="$1"
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "SKIPPED cargo-fuzz $target: cargo-fuzz is not installed (cargo install cargo-fuzz)"
    return 0
  fi
  # The fuzz crate's lock starts from the project's, so both build the same versions.
  [ -f fuzz/Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock
  build_corpus "$target"
  echo "== cargo-fuzz $target: $minutes minute(s), RSS limit $mem_mb MiB, timeout $timeout_s s"
  local scratch
  scratch="$(mktemp -d /dev/shm/safeguard-fuzz.XXXXXX 2>/dev/null || mktemp -d)"
  # libFuzzer's own limits, and an address-space cap (8 GiB) as a backstop. --dev: a debug
  # build (a release build of Polars takes ~20 minutes cold); fuzzing is slower but starts soon.
  (
    ulimit -v $((8 * 1024 * 1024))
    TMPDIR="$scratch" RUSTC_BOOTSTRAP=1 cargo fuzz run --dev --sanitizer none "$target" \
      "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb="$mem_mb" \
      -malloc_limit_mb="$mem_mb" -timeout="$timeout_s" -dict="fuzz/$target.dict" \
      -print_final_stats=1
  ) || echo "cargo-fuzz $target stopped on a finding: see fuzz/artifacts/$target/"
  rm -rf "$scratch"
}

case "$what" in
  harness) run_harness ;;
  csv | cin_xml | xlsx) run_cargo_fuzz "$what" ;;
  all)
    run_harness || echo "the harness reported findings (above)"
    for t in csv cin_xml xlsx; do run_cargo_fuzz "$t"; done
    ;;
esac
