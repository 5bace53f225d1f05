"""Bronze ingestion beside its floor (plain spark.read + write to Delta of the same files), full and incremental.

    .venv/bin/python bench/bronze.py --scales 1 10 --days 5
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


def floor(spark, landing: Path, out: Path) -> tuple[float, int]:
    """The same files read once by Spark's own readers and written to Delta without transforms."""
    from lakedb.sources import SOURCES

    t0, rows = time.perf_counter(), 0
    for src in SOURCES:
        if src.format == "xlsx":
            continue  # a 100-row workbook read on the driver; excluded from both sides
        files = sorted(str(p) for p in (landing / src.name).rglob("*") if p.is_file())
        if src.format == "csv":
            df = spark.read.option("header", "true").csv(files)
        else:
            # Spark's own JSON reader, as the format requires (it infers the schema: one more pass). Until
            # 2026-12-06 this was spark.read.text, lines in and lines out, which parses nothing.
            df = spark.read.json(files)
        df.write.format("delta").mode("overwrite").save(str(out / src.bronze_table))
        rows += spark.read.format("delta").load(str(out / src.bronze_table)).count()
    return time.perf_counter() - t0, rows


def run_bronze(spark, cfg, manifest) -> tuple[float, int]:
    from lakehouse_core.runner import Reporter, run_jobs

    names = [n for n in manifest.select("layer:bronze") if manifest.jobs[n].args.get("source_name") != "hr/Agent"]
    t0 = time.perf_counter()
    summary = run_jobs(spark, cfg, manifest, names, reporter=Reporter(quiet=True))
    rows = sum((o.result.rows_read or 0) for o in summary.outcomes)
    return time.perf_counter() - t0, rows


def bench_scale(scale: float, days: int, base: Path) -> dict:
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    root = base / f"bronze_s{scale:g}"
    shutil.rmtree(root, ignore_errors=True)
    cfg = bench_config(root)
    landing = Path(cfg.path("landing"))
    t0 = time.perf_counter()
    generate(landing, Path(cfg.path("truth")), days=days, scale=scale, seed=7, defects=0.01)
    gen_s = time.perf_counter() - t0
    spark = get_spark(cfg, "bench-bronze")
    manifest = load_manifest()
    warm = root / "_warm"
    floor(spark, landing, warm)  # JVM warm-up, not measured
    # Session start-up too, not ingestion: the first catalog call opens the metastore (a new Derby database here).
    # The floor never uses the catalog, so it would be charged to bronze alone; it is reported on its own.
    t0 = time.perf_counter()
    spark.sql("SHOW DATABASES").collect()
    catalog_open_s = time.perf_counter() - t0
    floor_s, floor_rows = floor(spark, landing, root / "_floor")
    full_s, full_rows = run_bronze(spark, cfg, manifest)
    # One more daily batch: the simulator is deterministic, so regenerating with days+1 adds only the new batch.
    generate(landing, Path(cfg.path("truth")), days=days + 1, scale=scale, seed=7, defects=0.01)
    incr_s, incr_rows = run_bronze(spark, cfg, manifest)
    rerun_s, rerun_rows = run_bronze(spark, cfg, manifest)
    out = {
        "scale": scale, "days": days, "generate_seconds": round(gen_s, 2),
        "catalog_open_seconds": round(catalog_open_s, 2),
        "floor_seconds": round(floor_s, 2), "floor_rows": floor_rows,
        "bronze_full_seconds": round(full_s, 2), "bronze_full_rows": full_rows,
        "bronze_vs_floor": round(full_s / floor_s, 2),
        "bronze_incremental_seconds": round(incr_s, 2), "bronze_incremental_rows": incr_rows,
        "incremental_vs_full": round(incr_s / full_s, 3),
        "rerun_seconds": round(rerun_s, 2), "rerun_rows": rerun_rows,
        "rows_per_second_full": round(full_rows / full_s),
        "parallel_jobs": cfg.section("runner").get("parallel_jobs", 1),
        "parallel_jobs_by_layer": cfg.section("runner").get("parallel_jobs_by_layer") or {},
        "jvm_peak_mb": jvm_peak_mb(spark), "python_peak_mb": round(python_peak_mb()),
    }
    spark.stop()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--base", default="/tmp/lakehouse-bench")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:  # one scale per process: each gets its own JVM and metastore
        print(json.dumps(bench_scale(args.scales[0], args.days, Path(args.base))))
        return
    extra = ["--days", str(args.days), "--base", args.base]
    raise SystemExit(run_scales(__file__, "bronze", args.scales, extra))


if __name__ == "__main__":
    main()
