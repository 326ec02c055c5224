"""Benchmark of the c360 pipeline against its floor, on the same generated data (``make bench``).

    python -m benchmarks.run --orders 1000000
    python -m benchmarks.run --orders 100000,1000000 --orders 10000000
    python -m benchmarks.run --orders 50000000 --memory-limit 4GB
    make bench BENCH_ARGS="--orders 1000000"

Per size (customers = orders / 20, ``c360 demo-data --seed 1 --as-of 2026-06-30``), each in its own subprocess
(wall time and peak RSS from ``os.wait4``):

- **T0 raw** (``benchmarks.t0``): the same ingestion, the compiled SQL of every dbt model in DAG order and the
  compiled SQL of every dbt test, in one DuckDB connection; the floor.
- **T1**: ``dbt build --exclude-resource-type unit_test --vars '{"as_of_date": ...}'`` on a copy of the database
  right after T0's ingestion.
- **T2**: ``c360 run --as-of DATE --quiet`` on a fresh ``C360_HOME``; split by phase from the Dagster run's step
  stats (``benchmarks.run_stats``). Up to 1M orders T2 runs three times from scratch and the median run is
  reported (a shared 2-core VM varies by a second or two between runs); ``--t2-repeat`` changes that.
- **incremental**: a JSON Lines file with 1 % new orders for DATE + 1 day and 0.2 % late updates
  (``benchmarks.daily_delta``) is added to ``landing/orders/``, then ``c360 run --as-of DATE+1 --quiet``.

Results are merged into ``benchmarks/results/results.json`` (one entry per size and memory limit, with machine
info) and ``benchmarks/results/RESULTS.md`` is regenerated from it. Generated data goes to ``--data-dir``
(default ``/tmp/c360-bench``), one folder per size, removed afterwards unless ``--keep-data``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path

from benchmarks.report import RESULTS_DIR, write_markdown
from c360.settings import Settings
from ingestion.contracts import SOURCES

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------------------------------ measuring


def measure(cmd: list[str], *, env: dict[str, str], log_file: Path, cwd: Path = REPO_ROOT) -> dict:
    """Run ``cmd`` to completion; wall time, exit code, peak RSS (KiB) of the process and its waited children."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    commit_at_start = git_commit()
    with open(log_file, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": wall,
        "exit_code": proc.returncode,
        "peak_rss_kb": usage.ru_maxrss,
        "cpu_user_s": usage.ru_utime,
        "cpu_sys_s": usage.ru_stime,
        "loadavg": [load_before, os.getloadavg()[0]],
        "git_commit": commit_at_start,  # other people commit while long benchmarks run
        "log": str(log_file),
    }


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def base_env(memory_limit: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "DAGSTER_", "DBT_"))}
    env.update(
        GX_ANALYTICS_ENABLED="False",
        DAGSTER_DISABLE_TELEMETRY="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        PYTHONUNBUFFERED="1",
    )
    if memory_limit:
        env["C360_DUCKDB_MEMORY_LIMIT"] = memory_limit
    return env


# ------------------------------------------------------------------------------------------------ machine info


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu_model": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb, "platform": platform.platform()}


def versions() -> dict:
    out = {"python": platform.python_version()}
    packages = ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "dagster-dbt", "great_expectations")
    for package in (*packages, "pyspark", "dbt-spark"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def git_commit() -> str | None:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


# ------------------------------------------------------------------------------------------------ steps


def link_landing(src: Path, dst: Path) -> None:
    """A landing zone for one home: hard links to the generated files (each home can add its own files)."""
    for source in SOURCES:
        (dst / source).mkdir(parents=True, exist_ok=True)
        for f in sorted((src / source).iterdir()):
            if f.is_file() and not f.name.startswith("."):
                try:
                    os.link(f, dst / source / f.name)
                except OSError:
                    shutil.copyfile(f, dst / source / f.name)


def generate(n: int, seed: int, as_of: date, gen_home: Path, env: dict, logs: Path, reuse: bool) -> dict:
    marker = gen_home / "generated.json"
    wanted = {"orders": n, "seed": seed, "as_of": as_of.isoformat()}
    if reuse and marker.exists() and json.loads(marker.read_text()).get("params") == wanted:
        log(f"reusing generated data in {gen_home}")
        return json.loads(marker.read_text())["measure"]
    gen_home.mkdir(parents=True, exist_ok=True)
    log(f"generating {n:,} orders (seed {seed}, as-of {as_of}) in {gen_home}")
    m = measure(
        [
            str(BIN / "c360"),
            "demo-data",
            "--orders",
            str(n),
            "--seed",
            str(seed),
            "--as-of",
            as_of.isoformat(),
        ],
        env={**env, "C360_HOME": str(gen_home)},
        log_file=logs / "generate.log",
    )
    if m["exit_code"] != 0:
        raise SystemExit(f"demo-data failed:\n{tail(logs / 'generate.log')}")
    marker.write_text(json.dumps({"params": wanted, "measure": m}))
    log(f"  generated in {m['wall_s']:.1f} s, peak RSS {m['peak_rss_kb'] / 1048576:.2f} GB")
    return m


def dbt_command(args: list[str], as_of: date, target: Path, logs: Path) -> list[str]:
    """A dbt subprocess on the repository's project, writing to a private target and log path."""
    return [
        str(BIN / "dbt"),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(logs / "dbt"),
        "--vars",
        json.dumps({"as_of_date": as_of.isoformat()}),
    ]


def dbt_compile(as_of: date, target: Path, build_db: Path, env: dict, logs: Path) -> Path:
    """``dbt compile`` into a private target path (the repository's dbt_project/target stays untouched)."""
    log("dbt compile (for T0's compiled SQL and manifest)")
    build_db.parent.mkdir(parents=True, exist_ok=True)
    m = measure(
        dbt_command(["compile", "--quiet"], as_of, target, logs),
        env={**env, "C360_BUILD_DB": str(build_db)},
        log_file=logs / "dbt_compile.log",
    )
    if m["exit_code"] != 0:
        raise SystemExit(f"dbt compile failed:\n{tail(logs / 'dbt_compile.log')}")
    for suffix in ("", ".wal"):  # compile opened (created) an empty database there
        Path(str(build_db) + suffix).unlink(missing_ok=True)
    return target / "manifest.json"


def run_t0(
    work: Path,
    landing: Path,
    manifest: Path,
    as_of: date,
    t1_db: Path | None,
    memory_limit: str | None,
    env: dict,
    logs: Path,
) -> dict:
    log("T0 raw: ingestion + compiled SQL + BG/NBD fit + tests in one DuckDB connection")
    shutil.rmtree(work / "t0", ignore_errors=True)
    out = work / "t0.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.t0",
        "--db",
        str(work / "t0" / "build.duckdb"),
        "--landing",
        str(landing),
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        "--as-of",
        as_of.isoformat(),
    ]
    if t1_db is not None:
        cmd += ["--snapshot-after-ingest", str(t1_db)]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    m = measure(cmd, env=env, log_file=logs / "t0.log")
    if m["exit_code"] != 0:
        raise SystemExit(f"T0 failed:\n{tail(logs / 't0.log')}")
    detail = json.loads(out.read_text())
    m.update(detail)
    m["wall_s"] -= detail.get("snapshot_s", 0.0)  # copying the database for T1 is not T0's work
    log(
        f"  T0 {m['total_s']:.1f} s (ingestion {m['ingest_s']:.1f}, models {m['models_s']:.1f}, "
        f"fit {m['fit_s']:.1f}, tests "
        f"{m['tests_s']:.1f}; {m['tests_failed']} failing error tests), peak RSS {m['peak_rss_kb'] / 1048576:.2f} GB"
    )
    return m


def run_t1(as_of: date, target: Path, t1_db: Path, manifest: Path, env: dict, logs: Path) -> dict:
    """The pipeline's two dbt steps and the fit between them (``benchmarks.t1``), without Dagster."""
    from orchestration.defs.dbt import dbt_steps

    log("T1: dbt build of the fit step's upstream, the fit step, dbt build of the rest (one subprocess)")
    out = t1_db.parent / "t1.json"
    # a copy of the compile's target: dbt parses partially, as in the pipeline, and T0's manifest stays intact
    t1_target = t1_db.parent / "target"
    shutil.copytree(target, t1_target, dirs_exist_ok=True)
    rest = dbt_steps(json.loads(manifest.read_text()))["c360_dbt_models"]
    m = measure(
        [
            sys.executable,
            "-m",
            "benchmarks.t1",
            "--db",
            str(t1_db),
            "--as-of",
            as_of.isoformat(),
            "--target",
            str(t1_target),
            "--rest",
            rest,
            "--out",
            str(out),
        ],
        env=env,
        log_file=logs / "t1.log",
    )
    try:
        detail = json.loads(out.read_text())
        m.update({k: v for k, v in detail.items() if k != "tests"})
        m["slowest_tests"] = sorted(detail["tests"], key=lambda x: -x["seconds"])[:5]
    except (OSError, KeyError, ValueError) as exc:
        m["results_error"] = str(exc)
    status = "" if m["exit_code"] == 0 else f" EXIT {m['exit_code']}:\n{tail(logs / 't1.log')}"
    log(
        f"  T1 {m['wall_s']:.1f} s (upstream {m.get('upstream_s', 0):.1f} s, fit {m.get('fit_s', 0):.1f} s, "
        f"rest {m.get('rest_s', 0):.1f} s; models {m.get('models_s', 0):.1f} s, {m.get('tests_count', 0)} tests "
        f"{m.get('tests_s', 0):.1f} s), peak RSS {m['peak_rss_kb'] / 1048576:.2f} GB{status}"
    )
    return m


def run_floor(
    work: Path, landing: Path, as_of: date, memory_limit: str | None, env: dict, logs: Path, repeat: int = 3
) -> dict:
    """The plain DuckDB floor (``benchmarks.floor``) on the same landing files; the median of ``repeat`` runs
    (a few seconds each: the denominator of every ratio, so one noisy run on a shared machine would skew them)."""
    runs = [_floor_once(work, landing, as_of, memory_limit, env, logs) for _ in range(max(1, repeat))]
    m = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    m["repeats_wall_s"] = [round(r["wall_s"], 2) for r in runs]
    return m


def _floor_once(
    work: Path, landing: Path, as_of: date, memory_limit: str | None, env: dict, logs: Path
) -> dict:
    log("floor: plain DuckDB read of the landing files + customer windows and RFM ranks")
    out = work / "floor.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.floor",
        "--landing",
        str(landing),
        "--as-of",
        as_of.isoformat(),
        "--db",
        str(work / "floor" / "floor.duckdb"),
        "--out",
        str(out),
    ]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    m = measure(cmd, env=env, log_file=logs / "floor.log")
    shutil.rmtree(work / "floor", ignore_errors=True)
    if m["exit_code"] != 0:
        raise SystemExit(f"floor failed:\n{tail(logs / 'floor.log')}")
    m.update(json.loads(out.read_text()))
    log(
        f"  floor {m['wall_s']:.1f} s wall (query {m['query_s']:.1f} s, {m['customers']:,} customers), "
        f"peak RSS {m['peak_rss_kb'] / 1048576:.2f} GB"
    )
    return m


def run_pipeline(label: str, home: Path, as_of: date, env: dict, logs: Path) -> dict:
    log(f"{label}: c360 run --as-of {as_of} --quiet (C360_HOME={home})")
    m = measure(
        [str(BIN / "c360"), "run", "--as-of", as_of.isoformat(), "--quiet"],
        env={**env, "C360_HOME": str(home)},
        log_file=logs / f"{label}.log",
    )
    stats_log = logs / f"{label}_stats.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_stats"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**env, "C360_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")},
    )
    stats_log.write_text(proc.stdout + proc.stderr)
    try:
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        m.update(stats)
        if m.get("run_s"):
            m["startup_s"] = m["wall_s"] - m["run_s"]
            m["between_steps_s"] = m["run_s"] - m["steps_sum_s"]
    except (ValueError, IndexError):
        m["stats_error"] = (proc.stdout + proc.stderr)[-2000:]
    phases = ", ".join(f"{k} {v:.1f}" for k, v in (m.get("phases") or {}).items())
    status = "" if m["exit_code"] == 0 else f" EXIT {m['exit_code']}:\n{tail(logs / f'{label}.log')}"
    log(
        f"  {label} {m['wall_s']:.1f} s wall (run {m.get('run_s') or 0:.1f} s: {phases}; start-up "
        f"{m.get('startup_s') or 0:.1f} s), peak RSS {m['peak_rss_kb'] / 1048576:.2f} GB{status}"
    )
    return m


def delta_loaded(build_db: Path, file_name: str) -> bool:
    """Whether the ingestion log of the build database has the daily file as loaded."""
    import duckdb

    con = duckdb.connect(str(build_db), read_only=True)
    try:
        row = con.execute(
            "select count(*) from raw.ingestion_log where source = 'orders' and status = 'loaded' and file = ?",
            [f"orders/{file_name}"],  # the log names files relative to the landing zone
        ).fetchone()
    finally:
        con.close()
    return bool(row and row[0])


# ------------------------------------------------------------------------------------------------ results


def merge_result(results_json: Path, entry: dict) -> None:
    data = json.loads(results_json.read_text()) if results_json.exists() else {"results": []}
    key = (entry["orders"], entry.get("memory_limit"))
    data["results"] = [r for r in data["results"] if (r["orders"], r.get("memory_limit")) != key] + [entry]
    data["results"].sort(key=lambda r: (r["orders"], r.get("memory_limit") or ""))
    results_json.parent.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps(data, indent=1) + "\n")


def slim(m: dict | None) -> dict | None:
    """Drop the bulky per-file / per-test lists before storing a measurement."""
    if m is None:
        return None
    out = {k: v for k, v in m.items() if k not in ("ingest_files", "tests", "steps", "log")}
    for key in ("models", "dbt_models"):
        if key in out:
            out[key] = sorted(out[key], key=lambda x: -x["seconds"])[:10]
    return out


def bench_size(n: int, args: argparse.Namespace) -> dict:
    label = f"orders_{n}" + (f"_mem{args.memory_limit}" if args.memory_limit else "")
    work = args.data_dir / label
    gen_home = args.data_dir / f"gen_{n}_seed{args.seed}"
    logs = work / "logs"
    env = base_env(args.memory_limit)
    for sub in ("t0", "t1", "home", "target"):
        shutil.rmtree(work / sub, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    log(
        f"=== {n:,} orders{f', DuckDB memory limit {args.memory_limit}' if args.memory_limit else ''}: {work}"
    )

    entry: dict = {
        "orders": n,
        "customers": n // 20,
        "memory_limit": args.memory_limit,
        "as_of": args.as_of.isoformat(),
        "seed": args.seed,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "versions": versions(),
        "git_commit": git_commit(),
        "notes": args.notes,
    }
    entry["generation"] = slim(generate(n, args.seed, args.as_of, gen_home, env, logs, reuse=True))
    landing = gen_home / "landing"
    if not args.skip_floor:
        entry["floor"] = run_floor(
            work, landing, args.as_of, args.memory_limit, env, logs, repeat=args.floor_repeat
        )
    t1_db = work / "t1" / "build.duckdb"
    target = work / "target"

    if not args.skip_t0 or not args.skip_t1:
        manifest = dbt_compile(args.as_of, target, t1_db, env, logs)
    if not args.skip_t0 or not args.skip_t1:
        snapshot = None if args.skip_t1 else t1_db
        entry["t0"] = run_t0(work, landing, manifest, args.as_of, snapshot, args.memory_limit, env, logs)
        if args.skip_t0:
            entry["t0"] = None
        shutil.rmtree(work / "t0", ignore_errors=True)  # free the disk before the next step
    if not args.skip_t1:
        entry["t1"] = run_t1(args.as_of, target, t1_db, manifest, env, logs)
        shutil.rmtree(work / "t1", ignore_errors=True)

    home = work / "home"
    repeat = args.t2_repeat if args.t2_repeat is not None else (3 if n <= 1_000_000 else 1)
    runs = []
    for i in range(repeat):
        # each repetition from scratch (a fresh home on the same landing files); the median run is reported
        shutil.rmtree(home, ignore_errors=True)
        link_landing(landing, home / "landing")
        # demo data: the home is a demo home like the generator's (its e-mail hash key is allowed)
        demo_marker = Settings.from_env({"C360_HOME": str(home)}).demo_marker
        shutil.copyfile(Settings.from_env({"C360_HOME": str(gen_home)}).demo_marker, demo_marker)
        runs.append(run_pipeline("t2" if repeat == 1 else f"t2_{i + 1}", home, args.as_of, env, logs))
    entry["t2"] = sorted(runs, key=lambda m: m["wall_s"])[len(runs) // 2]
    entry["t2"]["repeats_wall_s"] = [round(m["wall_s"], 2) for m in runs]
    if repeat > 1:
        walls = ", ".join(f"{m['wall_s']:.1f}" for m in runs)
        log(f"  T2 walls {walls} s: median {entry['t2']['wall_s']:.1f} s")

    if not args.skip_incremental and entry["t2"]["exit_code"] == 0:
        from benchmarks.daily_delta import write_daily_delta

        next_day = args.as_of + timedelta(days=1)
        delta = write_daily_delta(home / "warehouse" / "build.duckdb", home / "landing" / "orders", next_day)
        log(
            f"daily delivery {delta['file']}: {delta['new_orders']:,} new orders, {delta['late_updates']:,} late updates"
        )
        # the file is complete when written: without a settle time, it is not left for a later run because the
        # run reached the orders fewer than C360_LANDING_SETTLE_SECONDS after it was written
        entry["incremental"] = run_pipeline(
            "incremental", home, next_day, {**env, "C360_LANDING_SETTLE_SECONDS": "0"}, logs
        )
        delta["loaded"] = delta_loaded(home / "warehouse" / "build.duckdb", delta["file"])
        if not delta["loaded"]:
            log(
                f"  WARNING: the daily run did not load {delta['file']}: it measured a day without new orders"
            )
        entry["incremental"]["delta"] = delta

    t0s = (entry.get("t0") or {}).get("total_s")
    t2s = entry["t2"]["wall_s"]
    incs = (entry.get("incremental") or {}).get("wall_s")
    floors = (entry.get("floor") or {}).get("wall_s")
    entry["ratios"] = {
        "t2_over_floor": t2s / floors if floors else None,
        "t0_over_floor": t0s / floors if floors and t0s else None,
        "t2_minus_t0_over_t0": (t2s - t0s) / t0s if t0s else None,
        "t2_run_minus_t0_over_t0": ((entry["t2"].get("run_s") or t2s) - t0s) / t0s if t0s else None,
        "t1_over_t0_models_tests": (
            entry["t1"]["wall_s"]
            / (entry["t0"]["models_s"] + entry["t0"].get("fit_s", 0.0) + entry["t0"]["tests_s"])
            if entry.get("t1") and entry.get("t0")
            else None
        ),
        "incremental_over_t2": incs / t2s if incs else None,
    }
    for key in ("generation", "floor", "t0", "t1", "t2", "incremental"):
        entry[key] = slim(entry.get(key))
    merge_result(args.results, entry)
    md = write_markdown(args.results)
    r = entry["ratios"]

    def fmt(value: float | None, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    log(
        f"=== {n:,} orders done: floor {fmt(floors, '.1f')} s, T0 {fmt(t0s, '.1f')} s, T2 {t2s:.1f} s, "
        f"incremental {fmt(incs, '.1f')} s; T2/floor = {fmt(r['t2_over_floor'], '.1f')}, "
        f"(T2-T0)/T0 = {fmt(r['t2_minus_t0_over_t0'], '.2f')}, incremental/T2 = {fmt(r['incremental_over_t2'], '.2f')}; "
        f"results in {args.results} and {md}"
    )
    if not args.keep_data:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(gen_home, ignore_errors=True)
    return entry


def parse_sizes(values: list[str]) -> list[int]:
    sizes = []
    for value in values:
        for part in value.split(","):
            part = part.strip().lower().replace("_", "")
            if not part:
                continue
            factor = 1
            if part.endswith("k"):
                factor, part = 1_000, part[:-1]
            elif part.endswith("m"):
                factor, part = 1_000_000, part[:-1]
            sizes.append(int(float(part) * factor))
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orders",
        action="append",
        default=[],
        help="orders per size; repeatable or a comma list, e.g. 100k,1M (default 100000)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument(
        "--skip-t0", action="store_true", help="no T0 measurement (its ingestion still feeds T1)"
    )
    parser.add_argument("--skip-t1", action="store_true")
    parser.add_argument("--skip-floor", action="store_true", help="no plain DuckDB floor")
    parser.add_argument(
        "--floor-repeat", type=int, default=3, help="run the floor this many times and report the median"
    )
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument(
        "--t2-repeat",
        type=int,
        default=None,
        help="run T2 this many times from scratch and report the median (default 3 up to 1M orders, else 1)",
    )
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory limit for every step, e.g. 4GB")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/c360-bench"))
    parser.add_argument("--keep-data", action="store_true", help="keep the generated data and databases")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "results.json")
    parser.add_argument("--notes", default=None, help="free text stored with the results")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    sizes = parse_sizes(args.orders) or [100_000]
    log(
        f"c360 benchmark: sizes {', '.join(f'{n:,}' for n in sizes)}; data in {args.data_dir}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for n in sizes:
        bench_size(n, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
