"""Silver at scale: the full build, then an incremental run after one more daily batch, and an idle rerun.

    .venv/bin/python bench/silver.py --scales 1 10 --days 5

Per scale (one process each, its own JVM and metastore): generate `days` batches, run bronze, time the
silver jobs' first run (a full build); generate one more batch, run bronze, time the silver jobs again
(incremental: only the new batch); time a rerun with nothing new; then time a --full-refresh rebuild of all
`days + 1` batches with a warm JVM. Goal: incremental under 15% of the full build at scale 10.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_config, jvm_peak_mb, python_peak_mb, run_scales  # noqa: E402

SEED, DEFECTS = 7, 0.01


def run(spark, cfg, manifest, names, full_refresh=False) -> tuple[float, dict]:
    from lakehouse_core.runner import Reporter, run_jobs

    t0 = time.perf_counter()
    summary = run_jobs(spark, cfg, manifest, names, full_refresh=full_refresh, reporter=Reporter(quiet=True))
    seconds = time.perf_counter() - t0
    jobs = {o.job: {"seconds": round(o.seconds, 2), "rows_read": o.result.rows_read,
                    "rows_written": o.result.rows_written} for o in summary.outcomes}
    return seconds, jobs


def conservation(spark, cfg) -> dict:
    rows = spark.sql(f"SELECT * FROM {cfg.database('ops')}.conservation").collect()
    return {"entity_batches": len(rows), "unbalanced": sum(1 for r in rows if not r.balanced),
            "bronze_rows": sum(r.bronze_rows for r in rows), "accepted": sum(r.accepted for r in rows),
            "quarantined": sum(r.quarantined for r in rows), "duplicates": sum(r.duplicates for r in rows),
            "held": sum(r.held for r in rows)}


def bench_scale(scale: float, days: int, base: Path, driver_memory: str) -> dict:
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    root = base / f"silver_s{scale:g}"
    shutil.rmtree(root, ignore_errors=True)
    cfg = bench_config(root, driver_memory)
    landing, truth = Path(cfg.path("landing")), Path(cfg.path("truth"))
    generate(landing, truth, days=days, scale=scale, seed=SEED, defects=DEFECTS)
    spark = get_spark(cfg, "bench-silver")
    manifest = load_manifest()
    bronze = [n for n in manifest.select("layer:bronze") if manifest.jobs[n].entry == "jobs.bronze.ingest"]
    silver = manifest.select("layer:silver")
    bronze_s, _ = run(spark, cfg, manifest, bronze)
    full_s, full_jobs = run(spark, cfg, manifest, silver)
    full_rows = conservation(spark, cfg)
    # One more daily batch: the simulator is deterministic, so days + 1 only adds the new batch.
    generate(landing, truth, days=days + 1, scale=scale, seed=SEED, defects=DEFECTS)
    bronze_incr_s, _ = run(spark, cfg, manifest, bronze)
    incr_s, incr_jobs = run(spark, cfg, manifest, silver)
    rerun_s, _ = run(spark, cfg, manifest, silver)
    after = conservation(spark, cfg)
    refresh_s, refresh_jobs = run(spark, cfg, manifest, silver, full_refresh=True)
    out = {
        "scale": scale, "days": days, "driver_memory": driver_memory,
        "bronze_seconds": round(bronze_s, 2), "bronze_incremental_seconds": round(bronze_incr_s, 2),
        "silver_full_seconds": round(full_s, 2), "silver_incremental_seconds": round(incr_s, 2),
        "incremental_vs_full": round(incr_s / full_s, 3),
        "silver_rerun_seconds": round(rerun_s, 2),
        "silver_full_refresh_warm_seconds": round(refresh_s, 2),
        "incremental_vs_warm_full_refresh": round(incr_s / refresh_s, 3),
        "rows_full": full_rows, "rows_after_incremental": after,
        "incremental_bronze_rows": after["bronze_rows"] - full_rows["bronze_rows"],
        "jobs_full": full_jobs, "jobs_incremental": incr_jobs, "jobs_full_refresh": refresh_jobs,
        "jvm_peak_mb": jvm_peak_mb(spark), "python_peak_mb": round(python_peak_mb()),
    }
    spark.stop()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--base", default="/tmp/lakehouse-bench")
    p.add_argument("--driver-memory", default="2g")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:  # one scale per process: each gets its own JVM and metastore
        print(json.dumps(bench_scale(args.scales[0], args.days, Path(args.base), args.driver_memory)))
        return
    extra = ["--days", str(args.days), "--base", args.base, "--driver-memory", args.driver_memory]
    raise SystemExit(run_scales(__file__, "silver", args.scales, extra,
                                show=lambda r: {k: v for k, v in r.items() if not k.startswith("jobs_")}))


if __name__ == "__main__":
    main()
