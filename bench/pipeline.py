"""The whole pipeline at several scales: per-layer time and rows/s, peak memory, full vs incremental, and the floor.

The floor is the same session reading every landing file once with Spark's own readers and writing it to Delta
without transforms. Each scale runs in its own process (its own JVM and metastore). The full, incremental and
rerun figures come from one warm session; then one more day runs in a fresh process, as a scheduled daily run
does (`incremental_cold`: JVM start-up, the first compilation of every query's code, empty caches).

    bench/run                      # scales 1 and 10
    bench/run --scales 1 10 100    # add scale 100 where it fits the time budget

Each scale has a time budget (--budget-minutes, 45): a scale still running then is stopped and recorded as
unfinished, with how far it got (generation, floor, and the jobs of the full run that finished, per layer), read
from the progress log the scale's process keeps (<base>/pipeline_s<scale>/_bench_progress.jsonl).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, bench_config, jvm_peak_mb, python_peak_mb, run_scales  # noqa: E402

MAINTENANCE = "ops_maintenance"  # runs last in every run; maintains when due (conf maintenance.every_days)
BUDGET_MINUTES = 45
PROGRESS = "_bench_progress.jsonl"


def run_all(spark, cfg, manifest, progress=None, names: list[str] | None = None) -> dict:
    """One `lakehouse run` of every job (or of `names`); with a `progress` stream, the runner's events go there as
    JSON lines."""
    from lakehouse_core.runner import Reporter, run_jobs

    names = names or list(manifest.order)
    reporter = Reporter(fmt="json", stream=progress) if progress else Reporter(quiet=True)
    t0 = time.perf_counter()
    summary = run_jobs(spark, cfg, manifest, names, command="bench", reporter=reporter)
    wall = time.perf_counter() - t0
    layers: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "rows_written": 0, "rows_read": 0})
    for o in summary.outcomes:
        layer = layers[o.layer]
        layer["seconds"] += o.seconds
        layer["rows_written"] += o.result.rows_written or 0
        layer["rows_read"] += o.result.rows_read or 0
    # Jobs run 2 at a time, so a layer's job seconds add up to more than its wall time: the wall time is from its
    # first job's start to its last job's end (ops.job_run). gold_customer_360 runs after the ML jobs.
    from pyspark.sql import functions as F

    from lakehouse_core.catalog import qualified

    spans = (spark.table(qualified(cfg, "ops.job_run")).where(F.col("run_id") == summary.run_id)
             .groupBy("layer").agg(F.min("started_at").alias("a"), F.max("ended_at").alias("b")).collect())
    for r in spans:
        if r.layer in layers and r.a and r.b:
            layers[r.layer]["wall_seconds"] = round((r.b - r.a).total_seconds(), 2)
    for o in summary.outcomes:
        if (o.result.detail or {}).get("skipped"):
            layers[o.layer].setdefault("skipped", {})[o.job] = o.result.detail["skipped"]
    for layer in layers.values():
        layer["seconds"] = round(layer["seconds"], 2)
        layer["rows_per_second"] = round(layer["rows_written"] / layer["seconds"]) if layer["seconds"] else None
    return {"seconds": round(wall, 2), "layers": dict(layers)}


def bench_scale(scale: float, days: int, base: Path) -> dict:
    from bench.bronze import floor
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    root = base / f"pipeline_s{scale:g}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log = open(root / PROGRESS, "a")  # noqa: SIM115 - open for the whole measurement, read by the parent

    def phase(name: str, **fields) -> None:
        log.write(json.dumps({"event": "phase", "phase": name, **fields}, default=str) + "\n")
        log.flush()

    cfg = bench_config(root)
    landing, truth = Path(cfg.path("landing")), Path(cfg.path("truth"))
    t0 = time.perf_counter()
    gen = generate(landing, truth, days=days, scale=scale, seed=42, defects=0.01)
    gen_s = time.perf_counter() - t0
    phase("generated", seconds=round(gen_s, 2), landing_rows=sum(gen["rows"].values()))
    spark = get_spark(cfg, "bench-pipeline")
    manifest = load_manifest()
    floor(spark, landing, root / "_warm")  # JVM warm-up, not measured
    floor_s, floor_rows = floor(spark, landing, root / "_floor")
    phase("floor", seconds=round(floor_s, 2), rows=floor_rows)
    phase("full")
    full = run_all(spark, cfg, manifest, log)
    generate(landing, truth, days=days + 1, scale=scale, seed=42, defects=0.01)
    phase("incremental")
    incremental = run_all(spark, cfg, manifest, log)
    phase("rerun")
    rerun = run_all(spark, cfg, manifest, log)
    # The full run maintained (nothing recorded before it) and the daily runs after it, the same day, found it not
    # due; the day it is due (weekly by default) it runs after that day's jobs, as here on the new day's lake.
    phase("maintenance_due")
    due_cfg = dataclasses.replace(cfg, raw={**cfg.raw, "maintenance": {**cfg.section("maintenance"), "every_days": 0}})
    maintenance = run_all(spark, due_cfg, manifest, log, names=[MAINTENANCE])
    log.close()
    out = {
        "scale": scale, "days": days, "landing_rows": sum(gen["rows"].values()), "generate_seconds": round(gen_s, 2),
        "floor_seconds": round(floor_s, 2), "floor_rows": floor_rows,
        "full": full, "incremental": incremental, "rerun_nothing_new": rerun,
        "full_vs_floor": round(full["seconds"] / floor_s, 2),
        "incremental_vs_full": round(incremental["seconds"] / full["seconds"], 3),
        "maintenance_due": maintenance,
        "maintenance_day_vs_full": round((incremental["seconds"] + maintenance["seconds"]) / full["seconds"], 3),
        "jvm_peak_mb": jvm_peak_mb(spark), "python_peak_mb": round(python_peak_mb()),
    }
    spark.stop()
    return out


def progress(base: Path, scale: float) -> dict:
    """How far an unfinished scale got, from its progress log: generation, floor, and per run the jobs that ended
    (job seconds and rows per layer) and those still running when it was stopped."""
    path = base / f"pipeline_s{scale:g}" / PROGRESS
    out: dict = {}
    run: dict | None = None
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"log": f"{path} not found"}
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a line cut short by the kill
        if e.get("event") == "phase":
            if e["phase"] in ("generated", "floor"):
                out[e["phase"]] = {k: v for k, v in e.items() if k not in ("event", "phase")}
            else:
                run = out[e["phase"]] = {"layers": {}, "running": []}
        elif run is not None and e.get("event") == "job_started":
            run["running"].append(e["job"])
        elif run is not None and e.get("event") == "job_ended":
            with contextlib.suppress(ValueError):
                run["running"].remove(e["job"])
            layer = run["layers"].setdefault(e["layer"], {"jobs": 0, "seconds": 0.0, "rows_written": 0})
            layer["jobs"] += 1
            layer["seconds"] = round(layer["seconds"] + (e.get("seconds") or 0), 2)
            layer["rows_written"] += e.get("rows_written") or 0
        elif run is not None and e.get("event") == "run_ended":
            run["seconds"] = e.get("seconds")
    return out


def bench_cold(scale: float, days: int, base: Path) -> dict:
    """One more daily batch on the lake `bench_scale` left, in this fresh process: session start-up and the run."""
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    root = base / f"pipeline_s{scale:g}"
    cfg = bench_config(root)
    generate(Path(cfg.path("landing")), Path(cfg.path("truth")), days=days + 2, scale=scale, seed=42, defects=0.01)
    t0 = time.perf_counter()
    spark = get_spark(cfg, "bench-pipeline-cold")
    spark.sql("SHOW DATABASES").collect()  # opens the metastore
    start = time.perf_counter() - t0
    run = run_all(spark, cfg, load_manifest())
    spark.stop()
    return {"session_start_seconds": round(start, 2), **run}


def add_cold_runs(scales: list[float], days: int, base: str) -> None:
    """`bench_cold` for the `scales` just measured (in bench/results/pipeline.json), each in a new process."""
    from bench.common import write_results

    runs = [r for r in json.loads((RESULTS / "pipeline.json").read_text())["runs"] if finished(r)]
    fresh = [r for r in runs if r["scale"] in scales]
    for r in fresh:
        out = subprocess.run([sys.executable, __file__, "--cold", "--scales", str(r["scale"]), "--days", str(days),
                              "--base", base], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"cold run at scale {r['scale']} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
            continue
        cold = json.loads(out.stdout.strip().splitlines()[-1])
        r["incremental_cold"] = cold
        r["incremental_cold_vs_warm"] = round(cold["seconds"] / r["incremental"]["seconds"], 2)
        print(json.dumps({"scale": r["scale"], "incremental_cold": cold}), flush=True)
    if fresh:
        write_results("pipeline", {"runs": fresh})


def finished(run: dict) -> bool:
    return "failed" not in run and "unfinished" not in run


def unfinished_row(r: dict) -> str:
    """The table's line for a scale stopped at its time budget: how far it got."""
    u = r["unfinished"]
    p = u.get("progress") or {}
    gen, floor_ = p.get("generated", {}), p.get("floor", {})
    reached = []
    for name in ("full", "incremental", "rerun", "maintenance_due"):
        if name in p:
            done = ", ".join(f"{layer} {v['jobs']} job(s) {v['seconds']:g} s" for layer, v in p[name]["layers"].items())
            running = ", ".join(p[name]["running"])
            reached.append(f"{name} run: {done or 'no job done'}" + (f"; running: {running}" if running else ""))
    text = f"not done within {u['budget_minutes']:g} min ({'; '.join(reached) or 'before the full run'})"
    rows = f"{gen['landing_rows']:,}" if "landing_rows" in gen else ""
    return (f"| {r['scale']:g} | {rows} | {floor_.get('seconds', '')} | {text} |" + " |" * 13)


def markdown(runs: list[dict]) -> str:
    """Wall seconds; per layer "full / incremental" (its first job's start to its last job's end). The full run
    maintains (ops), the incremental run finds maintenance not due; "maintenance day" adds maintenance when due."""
    lines = ["| scale | landing rows | floor s | full s | full/floor | incremental s | incr/full | "
             "maintenance when due s | maintenance day/full | rerun s | incremental in a new process s | "
             "bronze s full / incr | silver s full / incr | gold s full / incr | ml s full / incr | "
             "ops s full / incr | JVM peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if "unfinished" in r:
            lines.append(unfinished_row(r))
            continue

        def wall(run: dict, name: str) -> str:
            layer = run["layers"].get(name, {})
            return str(layer.get("wall_seconds", layer.get("seconds", "")))

        per_layer = " | ".join(f"{wall(r['full'], n)} / {wall(r['incremental'], n)}"
                               for n in ("bronze", "silver", "gold", "ml", "ops"))
        due = r.get("maintenance_due", {})
        lines.append(f"| {r['scale']:g} | {r['landing_rows']:,} | {r['floor_seconds']} | {r['full']['seconds']} | "
                     f"{r['full_vs_floor']} | {r['incremental']['seconds']} | {r['incremental_vs_full']} | "
                     f"{due.get('seconds', '')} | {r.get('maintenance_day_vs_full', '')} | "
                     f"{r['rerun_nothing_new']['seconds']} | {r.get('incremental_cold', {}).get('seconds', '')} | "
                     f"{per_layer} | {round(r['jvm_peak_mb'] or 0)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--base", default="/tmp/lakehouse-bench")
    p.add_argument("--budget-minutes", type=float, default=BUDGET_MINUTES,
                   help="stop a scale still running after this long and record how far it got (0: no limit)")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(bench_scale(args.scales[0], args.days, Path(args.base))))
        return
    if args.cold:
        print(json.dumps(bench_cold(args.scales[0], args.days, Path(args.base))))
        return
    code = run_scales(__file__, "pipeline", args.scales, ["--days", str(args.days), "--base", args.base],
                      budget_minutes=args.budget_minutes, progress=lambda s: progress(Path(args.base), s))
    add_cold_runs(args.scales, args.days, args.base)
    runs = [r for r in json.loads((RESULTS / "pipeline.json").read_text())["runs"] if "failed" not in r]
    (RESULTS / "pipeline.md").write_text(markdown(runs))
    print(markdown(runs))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
