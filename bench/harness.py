"""The benchmark harness behind bench/run.sh (see bench/README.md).

    harness.py run      generate the data, time every step, write bench/out/results.json and
                        BENCHMARKS.md
    harness.py render   rewrite BENCHMARKS.md from bench/out/results.json

Every step runs as a child process: wall time from the parent's clock, peak RSS from wait4()'s
ru_maxrss (the kernel's high-water mark for that process), and a watchdog that kills a step whose
RSS passes BENCH_MEM_LIMIT_GB (the machine is shared; a killed step is reported as such).
"""

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
RESULTS = OUT / "results.json"
PY = sys.executable
KEY = "bench-only-pseudonym-key-0123456789"


def env_num(name, default, cast=float):
    v = os.environ.get(name)
    return cast(v) if v not in (None, "") else default


# ---- configuration (environment) ----
SCALE = env_num("SCALE", 1.0)
BASE_RPY = env_num("BENCH_REFERRALS_PER_YEAR", 650_000, int)
YEARS = env_num("BENCH_YEARS", 5, int)
LAS = env_num("BENCH_LAS", 150, int)
DEATHS = env_num("BENCH_DEATHS_PER_YEAR", 3_500, int)
RUNS = env_num("BENCH_RUNS", 3, int)
# A step whose first run takes longer than this many seconds is run once only.
AFFORD = env_num("BENCH_AFFORD_S", 600.0)
TIMEOUT = env_num("BENCH_TIMEOUT_S", 3600.0)
MEM_LIMIT_GB = env_num("BENCH_MEM_LIMIT_GB", 18.0)
SCALING = [int(x) for x in os.environ.get("BENCH_SCALING", "1 2 4").split()]
SCALING_BASE = env_num("BENCH_SCALING_BASE", max(1, round(65_000 * SCALE)), int)
SKIP = set(os.environ.get("BENCH_SKIP", "").split())
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/safeguard-bench"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = Path(os.environ.get("SAFEGUARD_BIN", TARGET / "release" / "safeguard"))
FIRST_YEAR = 2021
RPY = max(1, round(BASE_RPY * SCALE))


def fy(y: int) -> str:
    return f"{y}-{(y + 1) % 100:02d}"


LAST_FY = fy(FIRST_YEAR + YEARS - 1)
ALL_FY = [fy(FIRST_YEAR + i) for i in range(YEARS)]
REFERENCE = f"{FIRST_YEAR + YEARS}-03-31"


# ---- running and measuring ----
def run(cmd, env=None, timeout=TIMEOUT, cwd=None, quiet=False):
    """Runs cmd; returns dict(wall, rss_mb, rc, out, err, killed)."""
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.perf_counter()
    p = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=e, cwd=cwd, start_new_session=True)
    killed = {"why": None}
    out_chunks, err_chunks = [], []
    th_o = threading.Thread(target=lambda: out_chunks.append(p.stdout.read()))
    th_e = threading.Thread(target=lambda: err_chunks.append(p.stderr.read()))
    th_o.start()
    th_e.start()

    done = threading.Event()

    def watch():
        # Never p.poll() here: it would reap the child before wait4() gets its rusage.
        limit_kb = MEM_LIMIT_GB * 1024 * 1024
        while not done.is_set():
            try:
                with open(f"/proc/{p.pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmRSS:") and int(line.split()[1]) > limit_kb:
                            killed["why"] = f"killed: RSS passed {MEM_LIMIT_GB:g} GiB"
                            os.killpg(p.pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
            if time.perf_counter() - t0 > timeout:
                killed["why"] = f"killed: over {timeout:g} s"
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    th_w = threading.Thread(target=watch, daemon=True)
    th_w.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    p.returncode = os.waitstatus_to_exitcode(status)
    th_o.join()
    th_e.join()
    out = (out_chunks[0] if out_chunks else b"").decode(errors="replace")
    err = (err_chunks[0] if err_chunks else b"").decode(errors="replace")
    r = {"wall": wall, "rss_mb": ru.ru_maxrss / 1024, "rc": p.returncode, "out": out[-4000:],
         "err": err[-2000:], "killed": killed["why"]}
    if not quiet:
        status = "ok" if p.returncode == 0 else (killed["why"] or f"exit {p.returncode}")
        print(f"    {wall:8.2f} s  {r['rss_mb']:8.0f} MB  {status}", flush=True)
        if p.returncode != 0 and not killed["why"]:
            print("    " + err[-600:].replace("\n", "\n    "), flush=True)
    return r


def timed_step(results, name, label, cmd_fn, runs=RUNS, env=None, before=None):
    """Runs a step `runs` times (once if the first run is over AFFORD s); keeps the runs."""
    print(f"== {name}: {label}", flush=True)
    rs = []
    for i in range(runs):
        if before:
            before(i)
        r = run(cmd_fn(i), env=env)
        rs.append(r)
        if r["rc"] != 0 or r["wall"] > AFFORD:
            break
    ok = [r for r in rs if r["rc"] == 0]
    step = {
        "label": label,
        "runs": len(ok),
        "walls": [round(r["wall"], 3) for r in ok],
        "median_s": statistics.median([r["wall"] for r in ok]) if ok else None,
        "rss_mb": max(r["rss_mb"] for r in ok) if ok else None,
        "failed": None if ok else (rs[-1]["killed"] or f"exit {rs[-1]['rc']}: "
                                   + rs[-1]["err"].strip().splitlines()[-1][:200]
                                   if rs[-1]["err"].strip() else f"exit {rs[-1]['rc']}"),
        "out": rs[-1]["out"][-3000:],
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "binary": versions_cache.get("safeguard_sha"),
    }
    results["steps"][name] = step
    save(results)
    return step


versions_cache: dict = {}


def save(results):
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=str))


def du_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            total += p.stat().st_size
    return total / 1e6


def parse_ingest_table(out: str) -> dict:
    rows = {}
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("table") and "stored" in l:
            for m in lines[i + 1:]:
                parts = m.split()
                if len(parts) == 5 and parts[1].isdigit():
                    rows[parts[0]] = {"read": int(parts[1]), "stored": int(parts[2]),
                                      "rejected": int(parts[3]), "flagged": int(parts[4])}
                else:
                    break
    return rows


CENSUS_SIDE = ["contacts.csv", "early_help.csv", "cdop_reviews.csv", "cdop_factors.csv",
               "population.csv"]


def generate(rpy: int, fmt: str, quiet_label: str) -> tuple[Path, dict | None]:
    """Synth data (cached by parameters) as WORK/data-.../{raw,csv,xml}."""
    d = WORK / f"data-r{rpy}-y{YEARS}-l{LAS}-d{DEATHS}-{fmt}"
    stamp = d / "DONE"
    info = None
    if not stamp.exists():
        if d.exists():
            shutil.rmtree(d)
        print(f"== synth {quiet_label}: {rpy} referrals/year x {YEARS} years, {LAS} LAs ({fmt})",
              flush=True)
        r = run([BIN, "--quiet", "synth", "--out", d / "raw", "--referrals-per-year", rpy,
                 "--years", YEARS, "--las", LAS, "--deaths-per-year", DEATHS, "--format", fmt,
                 "--first-year", FIRST_YEAR])
        if r["rc"] != 0:
            raise SystemExit(f"synth failed: {r['err']}")
        info = {"wall": r["wall"], "rss_mb": r["rss_mb"]}
        (d / "csv").mkdir()
        (d / "xml").mkdir()
        for f in sorted((d / "raw").iterdir()):
            if f.suffix == ".csv":
                (d / "csv" / f.name).symlink_to(f)
                if f.name in CENSUS_SIDE:
                    (d / "xml" / f.name).symlink_to(f)
            elif f.suffix == ".xml":
                (d / "xml" / f.name).symlink_to(f)
        (d / "synth.json").write_text(json.dumps(info))
        stamp.write_text("ok")
    else:
        info = json.loads((d / "synth.json").read_text())
        print(f"== synth {quiet_label}: reusing {d}", flush=True)
    return d, info


def live_gen(store: Path) -> Path:
    return store / (store / "CURRENT").read_text().strip()


def versions() -> dict:
    v = {}

    def cmd(c):
        try:
            return subprocess.run(c, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    v["safeguard"] = cmd([BIN, "--version"]).removeprefix("safeguard ")
    import hashlib
    versions_cache["safeguard_sha"] = hashlib.sha256(BIN.read_bytes()).hexdigest()[:12]
    v["safeguard binary sha256"] = versions_cache["safeguard_sha"]
    v["rustc"] = cmd(["rustc", "--version"]).removeprefix("rustc ")
    lock = (ROOT / "Cargo.lock").read_text().split("[[package]]")
    for pkg in lock:
        if '\nname = "polars"\n' in pkg:
            v["polars (Rust crate)"] = pkg.split('version = "')[1].split('"')[0]
    py = subprocess.run([PY, "-c", "import duckdb,pandas,polars,pyarrow,numpy,sys;"
                         "print(sys.version.split()[0],duckdb.__version__,pandas.__version__,"
                         "polars.__version__,pyarrow.__version__,numpy.__version__)"],
                        capture_output=True, text=True).stdout.split()
    for k, x in zip(["python", "duckdb", "pandas", "polars (Python)", "pyarrow", "numpy"], py):
        v[k] = x
    return v


def machine() -> dict:
    m = {"cores": os.cpu_count(), "kernel": platform.release()}
    try:
        for l in Path("/proc/cpuinfo").read_text().splitlines():
            if l.startswith("model name"):
                m["cpu"] = l.split(":", 1)[1].strip()
                break
        for l in Path("/proc/meminfo").read_text().splitlines():
            if l.startswith("MemTotal"):
                m["ram_gib"] = round(int(l.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return m


def do_run() -> None:
    if not BIN.exists():
        raise SystemExit(f"no binary at {BIN}: cargo build --release first")
    WORK.mkdir(parents=True, exist_ok=True)
    results = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {"scale": SCALE, "referrals_per_year": RPY, "years": YEARS, "las": LAS,
                   "deaths_per_year": DEATHS, "runs": RUNS, "afford_s": AFFORD,
                   "mem_limit_gb": MEM_LIMIT_GB, "scaling": SCALING, "scaling_base": SCALING_BASE,
                   "reference_date": REFERENCE, "years_range": f"{ALL_FY[0]}..{LAST_FY}",
                   "work": str(WORK)},
        "machine": machine(),
        "versions": versions(),
        "steps": {},
        "checks": {},
        "scaling": [],
    }
    if os.environ.get("BENCH_RESUME") == "1" and RESULTS.exists():
        # Keep the steps of the last run that this run skips (BENCH_SKIP); re-run the rest.
        old = json.loads(RESULTS.read_text())
        if old.get("config", {}).get("referrals_per_year") != RPY:
            raise SystemExit("BENCH_RESUME: the saved results are for another size")
        results["steps"] = old.get("steps", {})
        results["checks"] = old.get("checks", {})
        results["data"] = old.get("data", {})
        results["scaling"] = old.get("scaling", []) if "scaling" in SKIP else []
        results["resumed_from"] = old.get("started")
    save(results)
    hol = WORK / "holidays.txt"
    hol.write_text(subprocess.run([BIN, "calendar", "--from", "1990-01-01", "--to", "2040-12-31"],
                                  capture_output=True, text=True, check=True).stdout)

    data, synth_info = generate(RPY, "both", "main")
    csv_dir, xml_dir = data / "csv", data / "xml"
    results.setdefault("data", {}).update({
        "synth": synth_info,
        "csv_mb": du_mb(data / "raw") - sum(f.stat().st_size for f in (data / "raw").glob("*.xml")) / 1e6,
        "xml_mb": sum(f.stat().st_size for f in (data / "raw").glob("*.xml")) / 1e6,
        "xml_files": len(list((data / "raw").glob("*.xml"))),
    })
    save(results)
    stores = WORK / "stores"
    stores.mkdir(exist_ok=True)
    S = stores / "csv"
    SX = stores / "xml"
    out = WORK / "outputs"
    out.mkdir(exist_ok=True)

    def fresh(path):
        def f(_i):
            if path.exists():
                shutil.rmtree(path)
        return f

    if "floor" not in SKIP:
        timed_step(results, "floor", "Polars (Python) scan_csv -> Parquet, no validation",
                   lambda i: [PY, BENCH / "floor.py", csv_dir, WORK / "floor"],
                   before=fresh(WORK / "floor"))
    if "ingest" not in SKIP or not (S / "CURRENT").exists():
        st = timed_step(results, "ingest_csv", "safeguard ingest (12 canonical CSVs -> store)",
                        lambda i: [BIN, "--quiet", "ingest", csv_dir, "--store", S],
                        before=fresh(S))
        results["data"]["rows"] = parse_ingest_table(st["out"])
    if (S / "CURRENT").exists():
        results["data"]["store_mb"] = du_mb(live_gen(S))
    save(results)
    if "ingest" not in SKIP and "ingest_xml" not in SKIP:
        st = timed_step(results, "ingest_xml",
                        f"safeguard ingest (CIN census XML, {results['data']['xml_files']} files "
                        "+ 5 side CSVs -> store)",
                        lambda i: [BIN, "--quiet", "ingest", xml_dir, "--store", SX],
                        env={"SAFEGUARD_KEY": KEY}, before=fresh(SX))
        results["data"]["rows_xml"] = parse_ingest_table(st["out"])
        if st["runs"]:
            shutil.rmtree(SX, ignore_errors=True)  # only the CSV store is used from here on
    have_store = (S / "CURRENT").exists()
    if have_store:
        gen = live_gen(S)
        mref = ["--reference-date", REFERENCE]
        if "measures" not in SKIP:
            timed_step(results, "measures_1y", f"safeguard measures --year {LAST_FY}",
                       lambda i: [BIN, "--quiet", "measures", "--store", S, "--year", LAST_FY,
                                  *mref, "--out", out / "measures-1y.csv"])
            timed_step(results, "measures_5y",
                       f"safeguard measures --years {ALL_FY[0]}..{LAST_FY}",
                       lambda i: [BIN, "--quiet", "measures", "--store", S, "--years",
                                  f"{ALL_FY[0]}..{LAST_FY}", *mref,
                                  "--out", out / "measures-5y.csv"])
        if "report" not in SKIP:
            timed_step(results, "report", f"safeguard report --year {LAST_FY}",
                       lambda i: [BIN, "--quiet", "report", "--store", S, "--year", LAST_FY,
                                  *mref, "--out", out / "report"],
                       before=fresh(out / "report"))
        if "duckdb" not in SKIP:
            timed_step(results, "duckdb_1y", "DuckDB, queries/*.sql, 1 year",
                       lambda i: [PY, BENCH / "duckdb_measures.py", gen, hol, REFERENCE,
                                  out / "duckdb-1y.csv", LAST_FY])
            timed_step(results, "duckdb_5y", "DuckDB, queries/*.sql, 5 years",
                       lambda i: [PY, BENCH / "duckdb_measures.py", gen, hol, REFERENCE,
                                  out / "duckdb-5y.csv", *ALL_FY])
        if "pandas" not in SKIP:
            timed_step(results, "pandas_1y", "pandas, headline measures, 1 year",
                       lambda i: [PY, BENCH / "pandas_baseline.py", gen, hol, REFERENCE,
                                  out / "pandas-1y.csv", LAST_FY])
            timed_step(results, "pandas_5y", "pandas, headline measures, 5 years",
                       lambda i: [PY, BENCH / "pandas_baseline.py", gen, hol, REFERENCE,
                                  out / "pandas-5y.csv", *ALL_FY])
        # Cross-checks: the other engines' figures against safeguard's.
        for label, other in [("duckdb", "duckdb-5y.csv"), ("pandas", "pandas-5y.csv")]:
            if (out / "measures-5y.csv").exists() and (out / other).exists():
                r = run([PY, BENCH / "compare.py", out / "measures-5y.csv", out / other, label],
                        quiet=True)
                if r["rc"] == 0:
                    results["checks"][label] = json.loads(r["out"])
        save(results)
        if "reingest" not in SKIP:
            la = "701" if LAS >= 3 else "940"
            month = f"{FIRST_YEAR + YEARS}-03"
            mdir = WORK / "month"
            if mdir.exists():
                shutil.rmtree(mdir)
            r = run([PY, BENCH / "month_extract.py", csv_dir, mdir, la, month], quiet=True)
            results["data"]["month_extract"] = r["out"].strip()
            SR = stores / "reingest"

            def copy_store(_i):
                if SR.exists():
                    shutil.rmtree(SR)
                shutil.copytree(S, SR, symlinks=True)

            timed_step(results, "reingest_month",
                       f"safeguard ingest of one month for LA {la} ({month}) into the 5-year store",
                       lambda i: [BIN, "--quiet", "ingest", mdir, "--store", SR],
                       before=copy_store)
            shutil.rmtree(SR, ignore_errors=True)
    if "scaling" not in SKIP:
        for k in SCALING:
            rpy = SCALING_BASE * k
            d, sinfo = generate(rpy, "csv", f"scaling {k}x")
            sdir = stores / f"scale-{k}"
            shutil.rmtree(sdir, ignore_errors=True)
            print(f"== scaling {k}x: ingest", flush=True)
            r = run([BIN, "--quiet", "ingest", d / "csv", "--store", sdir])
            row = {"k": k, "referrals_per_year": rpy,
                   "csv_mb": du_mb(d / "raw"),
                   "rows": sum(v["read"] for v in parse_ingest_table(r["out"]).values()),
                   "ingest_s": r["wall"] if r["rc"] == 0 else None,
                   "ingest_rss_mb": r["rss_mb"] if r["rc"] == 0 else None,
                   "ingest_failed": r["killed"] or (None if r["rc"] == 0 else f"exit {r['rc']}")}
            if r["rc"] == 0:
                print(f"== scaling {k}x: measures 5 years", flush=True)
                m = run([BIN, "--quiet", "measures", "--store", sdir, "--years",
                         f"{ALL_FY[0]}..{LAST_FY}", "--reference-date", REFERENCE,
                         "--out", WORK / "outputs" / f"scale-{k}.csv"])
                row["measures_s"] = m["wall"] if m["rc"] == 0 else None
                row["measures_rss_mb"] = m["rss_mb"] if m["rc"] == 0 else None
            shutil.rmtree(sdir, ignore_errors=True)
            results["scaling"].append(row)
            save(results)
    results["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save(results)
    render(results)


# ---- BENCHMARKS.md ----
def fmt_s(x):
    if x is None:
        return "-"
    return f"{x:,.1f}" if x >= 10 else f"{x:,.2f}"


def fmt_mb(x):
    if x is None:
        return "-"
    return f"{x / 1024:,.2f} GiB" if x >= 1024 else f"{x:,.0f} MiB"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:,.2f}x"


def render(results) -> None:
    st = results["steps"]
    cfg = results["config"]
    g = lambda n: st.get(n, {}).get("median_s")
    rss = lambda n: st.get(n, {}).get("rss_mb")
    floor = g("floor")
    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("Generated by `bench/run.sh` (see `bench/README.md`); do not edit by hand. "
      f"Run started {results['started']}"
      + (f", finished {results['finished']}." if results.get("finished") else " (unfinished)."))
    w("")
    full = cfg["referrals_per_year"] == 650_000 and cfg["years"] == 5 and cfg["las"] == 150
    w(f"**Data:** `safeguard synth --referrals-per-year {cfg['referrals_per_year']:,} --years "
      f"{cfg['years']} --las {cfg['las']} --deaths-per-year {cfg['deaths_per_year']:,}` "
      f"(scale {cfg['scale']:g} of national: "
      + ("**the issue's national scale**" if full else "**smaller than the issue's national scale**")
      + f"); reference date {cfg['reference_date']}; trend {cfg['years_range']}.")
    w("")
    m, v = results["machine"], results["versions"]
    w(f"**Machine:** {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('ram_gib')} GiB RAM, "
      f"Linux {m.get('kernel')}. Files on local disk, page cache warm after the first run.")
    w("")
    w("**Versions:** " + ", ".join(f"{k} {x}" for k, x in v.items()) + ".")
    w("")
    if results.get("resumed_from"):
        dates = sorted({s.get("at", results["resumed_from"])[:16] for s in st.values()})
        w(f"_Partly re-run: steps were timed at {', '.join(dates)} (UTC); each step's time is in "
          f"`bench/out/results.json`. Steps not re-run are from the run of {results['resumed_from']}"
          f" (see the notes below for which binary each figure comes from)._")
        w("")
    w(f"**Method:** each step is a separate process, timed by wall clock; the figure is the median "
      f"of {cfg['runs']} runs, except that a step whose first run took over {cfg['afford_s']:g} s "
      f"was run once (the `runs` column says how many). Peak RSS is the kernel's high-water mark "
      f"for the process (wait4 ru_maxrss), the largest over the runs. A watchdog kills any step "
      f"over {cfg['mem_limit_gb']:g} GiB RSS (the machine is shared). Ingest runs start from an "
      f"empty store each time.")
    w("")

    d = results.get("data", {})
    w("## Data")
    w("")
    rows = d.get("rows", {})
    if rows:
        w("| table | rows (CSV) | rows (CIN XML run) |")
        w("|---|---:|---:|")
        rx = d.get("rows_xml", {})
        for t, c in rows.items():
            w(f"| {t} | {c['read']:,} | {rx.get(t, {}).get('read', 0):,} |")
        w(f"| **total** | **{sum(c['read'] for c in rows.values()):,}** | "
          f"**{sum(c['read'] for c in rx.values()):,}** |")
        w("")
    w(f"CSV: {d.get('csv_mb', 0):,.0f} MB (12 files). CIN census XML: {d.get('xml_mb', 0):,.0f} MB "
      f"({d.get('xml_files', 0)} files, one per LA per year) plus the 5 CSVs the census has no "
      f"place for. Store (live generation, zstd Parquet): {d.get('store_mb', 0):,.0f} MB. "
      + (f"Generating it (`synth --format both`) took {fmt_s(d['synth']['wall'])} s, peak "
         f"{fmt_mb(d['synth']['rss_mb'])}." if d.get("synth") else ""))
    w("")

    w("## Timings")
    w("")
    w("| step | what | runs | median s | runs (s) | peak RSS | vs floor | vs DuckDB (same years) |")
    w("|---|---|---:|---:|---|---:|---:|---:|")
    duck = {"measures_1y": "duckdb_1y", "measures_5y": "duckdb_5y", "pandas_1y": "duckdb_1y",
            "pandas_5y": "duckdb_5y", "duckdb_1y": "duckdb_1y", "duckdb_5y": "duckdb_5y"}
    for name, s in st.items():
        vs_floor = ratio(s["median_s"], floor) if name.startswith(("ingest", "floor")) else ""
        vs_duck = ratio(s["median_s"], g(duck[name])) if name in duck else ""
        walls = ", ".join(fmt_s(x) for x in s["walls"])
        what = s["label"] + (f" **FAILED: {s['failed']}**" if s.get("failed") else "")
        w(f"| {name} | {what} | {s['runs']} | {fmt_s(s['median_s'])} | {walls} | "
          f"{fmt_mb(s['rss_mb'])} | {vs_floor} | {vs_duck} |")
    w("")
    pipeline = None
    if all(g(n) is not None for n in ["ingest_csv", "measures_5y", "report"]):
        pipeline = g("ingest_csv") + g("measures_5y") + g("report")
        w(f"**Whole pipeline** (ingest CSV + 5-year measures + report): {fmt_s(pipeline)} s = "
          f"**{ratio(pipeline, floor)} the floor** ({fmt_s(floor)} s).")
        w("")
    if g("measures_5y") and g("pandas_5y"):
        w(f"`measures` over 5 years takes {ratio(g('measures_5y'), g('duckdb_5y'))} DuckDB's time "
          f"on the same SQL, and {ratio(g('measures_5y'), g('pandas_5y'))} the time of the pandas "
          f"version (which computes 7 headline measures, without breakdowns, against `measures`' "
          f"{len(results.get('checks', {}).get('duckdb', {}).get('measures_compared', [])) + 13 or '~38'}"
          f" measures with every breakdown). One year: {ratio(g('measures_1y'), g('duckdb_1y'))} "
          f"DuckDB's time, {ratio(g('measures_1y'), g('pandas_1y'))} pandas'. Ratios above 1x mean "
          f"`measures` is slower.")
        w("")

    ch = results.get("checks", {})
    if ch:
        w("## Cross-checks (same figures?)")
        w("")
        for label, c in ch.items():
            w(f"- **{label}** vs `measures` (5 years): {c['rows_compared']:,} rows compared "
              f"(measure x year x LA/ALL x breakdown value; numerator, denominator, excluded"
              + (", pending, and the p25/median/p75 values" if label == "duckdb" else "")
              + f"), **{c['rows_differing']} differ**. Measures compared: {len(c['measures_compared'])}"
              + (f"; not computed by {label}: " + ", ".join(c["only_safeguard"]) if label == "duckdb" else "")
              + ".")
        w("")

    sc = results.get("scaling", [])
    if sc:
        w("## Scaling (ingest memory as input grows)")
        w("")
        w(f"One run each; `synth --referrals-per-year N --years {cfg['years']} --las {cfg['las']}` "
          f"CSVs, ingested into an empty store, then `measures` for the {cfg['years']}-year trend.")
        w("")
        w("| size | referrals/year | input rows | CSV MB | ingest s | ingest peak RSS | RSS per M rows | measures 5y s | measures peak RSS |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in sc:
            per = (r["ingest_rss_mb"] / (r["rows"] / 1e6)) if r.get("ingest_rss_mb") and r["rows"] else None
            w(f"| {r['k']}x | {r['referrals_per_year']:,} | {r['rows']:,} | {r['csv_mb']:,.0f} | "
              f"{fmt_s(r.get('ingest_s'))}{' ' + r['ingest_failed'] if r.get('ingest_failed') else ''} | "
              f"{fmt_mb(r.get('ingest_rss_mb'))} | {fmt_mb(per)} | {fmt_s(r.get('measures_s'))} | "
              f"{fmt_mb(r.get('measures_rss_mb'))} |")
        w("")

    if "reingest_month" in st:
        w("## Re-ingesting one month")
        w("")
        w(f"{d.get('month_extract', '')}: ingested into a copy of the 5-year store "
          f"(copying not timed): median {fmt_s(g('reingest_month'))} s, peak "
          f"{fmt_mb(rss('reingest_month'))}; the full CSV ingest takes {fmt_s(g('ingest_csv'))} s.")
        w("")

    w("## Targets (issue 7)")
    w("")
    if not full:
        w("_These figures are not at the issue's national scale (650,000 referrals a year, 5 years, "
          "150 LAs); a target below is judged on this run's size only._")
        w("")

    def verdict(ok):
        return "unknown (not measured)" if ok is None else ("**met**" if ok else "**not met**")

    t1 = None if pipeline is None or not floor else pipeline <= 2 * floor
    w(f"1. Whole pipeline within 2x the floor: {verdict(t1)} - {ratio(pipeline, floor)} "
      f"({fmt_s(pipeline)} s vs {fmt_s(floor)} s).")
    t2a = None if not (g("measures_5y") and g("duckdb_5y")) else g("measures_5y") <= g("duckdb_5y")
    t2a1 = None if not (g("measures_1y") and g("duckdb_1y")) else g("measures_1y") <= g("duckdb_1y")
    t2b = None if not (g("measures_5y") and g("pandas_5y")) else g("pandas_5y") >= 10 * g("measures_5y")
    w(f"2. `measures` at least as fast as DuckDB on the same SQL: 5-year trend {verdict(t2a)} - "
      f"{fmt_s(g('measures_5y'))} s vs {fmt_s(g('duckdb_5y'))} s ({ratio(g('measures_5y'), g('duckdb_5y'))}); "
      f"one year {verdict(t2a1)} - {fmt_s(g('measures_1y'))} s vs {fmt_s(g('duckdb_1y'))} s "
      f"({ratio(g('measures_1y'), g('duckdb_1y'))}). "
      f"At least 10x faster than pandas: {verdict(t2b)} - pandas takes {fmt_s(g('pandas_5y'))} s "
      f"for 5 years, {ratio(g('pandas_5y'), g('measures_5y'))} the time of `measures` (10x needed; "
      f"pandas computes 7 measures without breakdowns).")
    peak = max([s["rss_mb"] for s in st.values() if s.get("rss_mb") and not s["label"].startswith(("DuckDB", "pandas", "Polars"))] or [0])
    peak_step = max(((s["rss_mb"] or 0, n) for n, s in st.items() if not s["label"].startswith(("DuckDB", "pandas", "Polars"))), default=(0, "-"))[1]
    failed = [n for n, s in st.items() if s.get("failed")]
    t3 = None if not st else (peak < 4096 and not any(n.startswith(("ingest", "measures", "report")) for n in failed))
    flat = None
    if len(sc) >= 2 and all(r.get("ingest_rss_mb") for r in sc):
        growth = sc[-1]["ingest_rss_mb"] / sc[0]["ingest_rss_mb"]
        size = sc[-1]["rows"] / sc[0]["rows"]
        flat = growth < 1.25
        flat_txt = (f"ingest peak RSS went from {fmt_mb(sc[0]['ingest_rss_mb'])} to "
                    f"{fmt_mb(sc[-1]['ingest_rss_mb'])} ({growth:.2f}x) while input grew {size:.2f}x")
    else:
        flat_txt = "not measured"
    w(f"3. Peak RSS under 4 GiB for every step: {verdict(t3)} - largest {fmt_mb(peak)} "
      f"({peak_step})" + (f"; failed: {', '.join(failed)}" if failed else "") +
      f". Ingest memory flat as input grows: {verdict(flat)} - {flat_txt}.")
    t4 = (None if g("reingest_month") is None or g("ingest_csv") is None
          else g("reingest_month") < 10 and g("reingest_month") < 0.25 * g("ingest_csv"))
    w(f"4. Re-ingesting one month for one LA costs seconds, not a rebuild (judged: under 10 s and "
      f"under a quarter of the full ingest): {verdict(t4)} - "
      f"{fmt_s(g('reingest_month'))} s vs {fmt_s(g('ingest_csv'))} s for the full ingest.")
    w("")
    notes = BENCH / "NOTES.md"
    if notes.exists():
        w(notes.read_text().strip())
        w("")
    (ROOT / "BENCHMARKS.md").write_text("\n".join(L) + "\n")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "run"
    if what == "run":
        do_run()
    elif what == "render":
        render(json.loads(RESULTS.read_text()))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
