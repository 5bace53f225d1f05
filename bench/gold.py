"""Gold at several scales: full build, rerun with nothing new, one new daily batch, full refresh.

Simulated sources go through bronze and silver (not measured here, see bench/pipeline.py), then the gold
layer is timed job by job. After the full build and after the new batch, each original report is checked
against the independent Spark SQL of tests/jobs/gold/test_reports.py over the same silver tables, and
the rerun must write nothing. Each scale runs in its own process (its own JVM and metastore).

    .venv/bin/python bench/gold.py --scales 1 10 --days 3     # -> bench/results/gold.json
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

SEED, DEFECTS = 42, 0.01


def run_jobs_timed(spark, cfg, manifest, names: list[str], full_refresh: bool = False) -> dict:
    from lakehouse_core.runner import Reporter, run_jobs

    t0 = time.perf_counter()
    summary = run_jobs(spark, cfg, manifest, names, command="bench", full_refresh=full_refresh,
                       reporter=Reporter(quiet=True))
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "rows_written": sum(o.result.rows_written or 0 for o in summary.outcomes),
        "jobs": {o.job: {"seconds": round(o.seconds, 2), "rows_written": o.result.rows_written,
                         "skipped": bool(o.result.detail.get("skipped"))} for o in summary.outcomes},
    }


def reports_match(spark, cfg) -> dict[str, bool]:
    """Each gold report against the independent SQL of the tests, over this lake's silver tables."""
    from jobs.gold.ref_exchange_rate import read_rates
    from tests.jobs.gold.test_reports import REPORTS

    spark.createDataFrame([(r[0], r[1], r[3]) for r in read_rates()],
                          "currency STRING, rate_date DATE, rate DECIMAL(18,8)").createOrReplaceTempView("test_rates")
    out = {}
    for report, sql in sorted(REPORTS.items()):
        got = {tuple(r) for r in spark.table(f"{cfg.database('gold')}.{report}").collect()}
        expected = {tuple(r) for r in spark.sql(sql.format(s=cfg.database("silver"))).collect()}
        out[report] = got == expected and bool(got)
    return out


def table_rows(spark, cfg) -> dict[str, int]:
    import lakedb.gold

    return {t.name: spark.table(f"{cfg.database('gold')}.{t.name}").count() for t in lakedb.gold.TABLES}


def bench_scale(scale: float, days: int, base: Path) -> dict:
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    root = base / f"gold_s{scale:g}"
    shutil.rmtree(root, ignore_errors=True)
    cfg = bench_config(root, driver_memory="2g")
    landing, truth = Path(cfg.path("landing")), Path(cfg.path("truth"))
    generate(landing, truth, days=days, scale=scale, seed=SEED, defects=DEFECTS)
    spark = get_spark(cfg, "bench-gold")
    manifest = load_manifest()
    upstream = [n for n in manifest.order if manifest.jobs[n].layer in ("bronze", "silver")]
    gold = manifest.select("layer:gold")

    out: dict = {"scale": scale, "days": days}
    out["upstream_first_seconds"] = run_jobs_timed(spark, cfg, manifest, upstream)["seconds"]
    out["gold_full"] = run_jobs_timed(spark, cfg, manifest, gold)
    out["gold_rerun_nothing_new"] = run_jobs_timed(spark, cfg, manifest, gold)
    out["reports_match_after_full"] = reports_match(spark, cfg)
    out["rows_after_full"] = table_rows(spark, cfg)

    # One more daily batch: the simulator is deterministic, so days+1 adds only the new batch's files.
    generate(landing, truth, days=days + 1, scale=scale, seed=SEED, defects=DEFECTS)
    out["upstream_batch_seconds"] = run_jobs_timed(spark, cfg, manifest, upstream)["seconds"]
    out["gold_incremental"] = run_jobs_timed(spark, cfg, manifest, gold)
    out["reports_match_after_batch"] = reports_match(spark, cfg)
    out["gold_full_refresh_up_to_date"] = run_jobs_timed(spark, cfg, manifest, gold, full_refresh=True)
    out["rows_after_batch"] = table_rows(spark, cfg)
    out["incremental_vs_full"] = round(out["gold_incremental"]["seconds"] / out["gold_full"]["seconds"], 3)
    out["jvm_peak_mb"], out["python_peak_mb"] = jvm_peak_mb(spark), round(python_peak_mb())
    spark.stop()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--base", default="/tmp/lakehouse-bench")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(bench_scale(args.scales[0], args.days, Path(args.base))))
        return
    extra = ["--days", str(args.days), "--base", args.base]
    raise SystemExit(run_scales(__file__, "gold", args.scales, extra))


if __name__ == "__main__":
    main()
