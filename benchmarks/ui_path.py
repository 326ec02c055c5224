"""A run launched from the UI (through the Dagster daemon) against `c360 run`, on the same data (``make bench-ui``).

    python -m benchmarks.ui_path --orders 100k,1M

Per size, on the demo data of ``benchmarks.run`` (seed 1, as-of 2026-06-30), alternating the two paths from scratch
(a fresh data home each time, ``--repeat`` times each):

- **cli**: ``c360 run --as-of DATE --quiet``, wall time of the process;
- **ui**: a running ``c360 ui`` (webserver, daemon, code server: started before, settled, and not counted), one run of the
  ``c360_pipeline`` job for the partition submitted through GraphQL as the launchpad does; wall time from the
  submission until the run is finished, as a user waits for it (queueing by the daemon, the run worker's start-up and
  the run), and the run's own start-to-end time from Dagster's run record.

Results: ``benchmarks/results/ui_path.json`` and ``benchmarks/results/UI_PATH.md``; the ratio ui / cli is the figure
to watch (the runs of both paths use one process each and the in-process executor).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.report import RESULTS_DIR
from benchmarks.run import (
    BIN,
    base_env,
    generate,
    git_commit,
    link_landing,
    log,
    machine_info,
    measure,
    parse_sizes,
    versions,
)

AS_OF = date(2026, 6, 30)


def _fresh_home(landing: Path, home: Path) -> Path:
    shutil.rmtree(home, ignore_errors=True)
    link_landing(landing, home / "landing")
    (home / ".c360-demo-home").write_text("benchmark home: generated demo data\n")
    return home


def cli_run(landing: Path, home: Path, env: dict, logs: Path, label: str) -> float:
    _fresh_home(landing, home)
    m = measure(
        [str(BIN / "c360"), "run", "--as-of", AS_OF.isoformat(), "--quiet"],
        env={**env, "C360_HOME": str(home), "C360_LANDING_SETTLE_SECONDS": "0"},
        log_file=logs / f"{label}.log",
    )
    if m["exit_code"] != 0:
        raise SystemExit(f"c360 run failed (see {logs / f'{label}.log'})")
    return m["wall_s"]


def ui_run(landing: Path, home: Path, env: dict, logs: Path, label: str) -> dict:
    from orchestration.ui_driver import running_ui

    _fresh_home(landing, home)
    with running_ui(
        home, logs / f"{label}.log", **{k: v for k, v in env.items() if k.startswith("C360_")}
    ) as ui:
        ui.wait_until_idle()
        started = time.perf_counter()
        run_id = ui.client.submit_job_execution(
            "c360_pipeline", tags={"dagster/partition": AS_OF.isoformat()}
        )
        [finished] = ui.wait_for_runs(1, timeout=3600)
        wall = time.perf_counter() - started
    if finished["runId"] != run_id or finished["status"] != "SUCCESS":
        raise SystemExit(f"the UI run did not succeed: {finished} (see {logs / f'{label}.log'})")
    return {"wall_s": wall, "run_s": finished["endTime"] - finished["startTime"]}


def bench_size(n: int, args: argparse.Namespace) -> dict:
    env = base_env(None)
    gen_home = args.data_dir / f"gen_{n}_seed1"
    logs = args.data_dir / f"ui_{n}" / "logs"
    generate(n, 1, AS_OF, gen_home, env, logs, reuse=True)
    landing = gen_home / "landing"
    cli, ui = [], []
    for i in range(args.repeat):
        cli.append(cli_run(landing, args.data_dir / f"ui_{n}" / "cli", env, logs, f"cli_{i + 1}"))
        ui.append(ui_run(landing, args.data_dir / f"ui_{n}" / "ui", env, logs, f"ui_{i + 1}"))
        log(f"{n:,} orders, round {i + 1}: c360 run {cli[-1]:.1f} s, UI {ui[-1]['wall_s']:.1f} s")
    entry = {
        "orders": n,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": git_commit(),
        "machine": machine_info(),
        "versions": versions(),
        "cli_wall_s": cli,
        "ui_wall_s": [u["wall_s"] for u in ui],
        "ui_run_s": [u["run_s"] for u in ui],
    }
    entry["ratio_median"] = statistics.median(entry["ui_wall_s"]) / statistics.median(cli)
    shutil.rmtree(args.data_dir / f"ui_{n}" / "cli", ignore_errors=True)
    shutil.rmtree(args.data_dir / f"ui_{n}" / "ui", ignore_errors=True)
    return entry


def write(results: list[dict]) -> tuple[Path, Path]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "ui_path.json"
    old = json.loads(path.read_text())["results"] if path.exists() else []
    merged = {r["orders"]: r for r in old} | {r["orders"]: r for r in results}
    path.write_text(json.dumps({"results": [merged[k] for k in sorted(merged)]}, indent=1) + "\n")
    lines = [
        "# A run launched from the UI against `c360 run`",
        "",
        "Median wall times of alternating runs from scratch on the same data (`python -m benchmarks.ui_path`).",
        "",
        "| orders | c360 run | UI launch → finished | UI run (start → end) | ratio UI / c360 run | runs | commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in (merged[k] for k in sorted(merged)):
        lines.append(
            f"| {r['orders']:,} | {statistics.median(r['cli_wall_s']):.1f} s | "
            f"{statistics.median(r['ui_wall_s']):.1f} s | {statistics.median(r['ui_run_s']):.1f} s | "
            f"{r['ratio_median']:.2f} | {len(r['cli_wall_s'])} each | {r['git_commit']} |"
        )
    markdown = RESULTS_DIR / "UI_PATH.md"
    markdown.write_text("\n".join(lines) + "\n")
    return path, markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", action="append", default=[], help="sizes, e.g. 100k,1M")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path per size")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/c360-bench"))
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.orders or ["100k"])
    results = [bench_size(n, args) for n in sizes]
    paths = write(results)
    log(f"results in {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
