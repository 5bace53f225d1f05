"""The payments database extract (jobs/bronze/jdbc.py) at scale 10: rows per second with and without
partitioned reads, beside its floor (the same rows read over JDBC and thrown away).

    .venv/bin/python bench/jdbc.py                    # scale 10, 5 daily batches, partitions 1 and 4
    .venv/bin/python bench/jdbc.py --scale 1 --days 2  # a quick look

Starts its own throwaway PostgreSQL on a free loopback port (scripts/postgres.sh), loads the simulator's
payments files into it with the loader (`lakehouse load-postgres`), then extracts the whole table into a
fresh bronze table per partition count (alternated, `--repeat` times, best kept), and finally one more daily
batch incrementally. Results go to bench/results/jdbc.json.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_config, jvm_peak_mb, write_results  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"
TABLE = 'public."The_transaction"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lake_cfg(root: Path, suffix: str, port: int, partitions: int):
    from lakehouse_core.config import Config

    cfg = bench_config(root, driver_memory="2g")
    raw = dict(cfg.raw)
    raw["databases"] = {layer: f"{layer}_{suffix}" for layer in ("bronze", "silver", "gold", "ops")}
    raw["spark"] = {**raw["spark"], "packages": ["org.postgresql:postgresql:42.7.4"]}
    raw["sources"] = {"payments": {
        "kind": "jdbc", "url": f"jdbc:postgresql://127.0.0.1:{port}/payments", "table": TABLE, "user": "lakehouse",
        "password_env": "LAKEHOUSE_PG_PASSWORD", "partition_column": "Transaction_id",
        "watermark_column": "modified_at", "batch_column": "batch", "num_partitions": partitions}}
    return Config(env="bench", root=str(root), raw=raw)


def extract(spark, cfg, run_id: str) -> tuple[float, int]:
    from jobs.bronze import jdbc
    from lakehouse_core.context import JobContext

    t0 = time.perf_counter()
    result = jdbc.run(JobContext(spark=spark, cfg=cfg, run_id=run_id, job="bench", log=lambda m: None))
    return time.perf_counter() - t0, result.rows_written


def floor(spark, cfg, password: str, partitions: int) -> float:
    """The table read over JDBC as text and discarded: what any extract costs before Delta and bookkeeping."""
    from jobs.bronze import jdbc
    from lakedb.sources import source
    from lakehouse_core.jdbc import jdbc_source

    spec = jdbc_source(cfg, "payments/The_transaction")
    t0 = time.perf_counter()
    cols = jdbc.resolve_columns(jdbc.table_columns(spark, spec, password), source(spec.source), spec)
    plan = jdbc.plan_extract(spark, spec, password, cols, None)
    plan = jdbc.Plan(plan.rows, plan.lo, plan.hi, plan.mark, jdbc.partitions_for(plan.rows, plan.lo, plan.hi,
                                                                                 partitions))
    jdbc.read_extract(spark, spec, password, cols, None, plan).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=10)
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--partitions", type=int, nargs="+", default=[1, 4])
    p.add_argument("--repeat", type=int, default=2, help="measurements per partition count (the best is kept)")
    p.add_argument("--base", default="/tmp/lakehouse-bench-jdbc")
    args = p.parse_args()

    from lakedb.sources import source
    from lakehouse_core.pgload import Target, load_landing
    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate

    base = Path(args.base)
    shutil.rmtree(base, ignore_errors=True)
    port, password = free_port(), "bench-" + secrets.token_urlsafe(12)
    os.environ["LAKEHOUSE_PG_PASSWORD"] = password
    env = {**os.environ, "LAKEHOUSE_PG_PORT": str(port), "LAKEHOUSE_PG_DIR": str(base / "pg")}
    subprocess.run(["bash", str(SCRIPT), "start"], env=env, check=True, capture_output=True)
    try:
        landing, truth = base / "landing", base / "_truth"
        src, target = source("payments/The_transaction"), Target("127.0.0.1", port, "payments", "lakehouse")
        generate(landing, truth, days=args.days, scale=args.scale, seed=7, defects=0.01)
        t0 = time.perf_counter()
        loaded = load_landing(target, password, landing, src, TABLE)
        load_s = time.perf_counter() - t0
        db_rows = sum(b["inserted"] for b in loaded["batches"])

        warm = lake_cfg(base / "lake", "warm", port, 2)
        spark = get_spark(warm, "bench-jdbc")
        extract(spark, warm, "warm-up")  # JIT of the JDBC reader and the Parquet writer; not measured
        timings: dict[int, list[tuple[float, float, int]]] = {n: [] for n in args.partitions}
        for rep in range(args.repeat):  # alternated, so a slow spell of the machine hits both sides
            for n in args.partitions:
                cfg = lake_cfg(base / "lake", f"p{n}r{rep}", port, n)
                floor_s = floor(spark, cfg, password, n)
                seconds, rows = extract(spark, cfg, f"full-p{n}")
                timings[n].append((seconds, floor_s, rows))
                print({"num_partitions": n, "repeat": rep, "extract_seconds": round(seconds, 2),
                       "floor_seconds": round(floor_s, 2), "rows": rows}, flush=True)
        runs = []
        for n, ts in timings.items():
            seconds, floor_s, rows = min(t[0] for t in ts), min(t[1] for t in ts), ts[0][2]
            runs.append({"num_partitions": n, "rows": rows, "extract_seconds": round(seconds, 2),
                         "rows_per_second": round(rows / seconds), "floor_seconds": round(floor_s, 2),
                         "floor_rows_per_second": round(rows / floor_s),
                         "all_extract_seconds": [round(t[0], 2) for t in ts]})

        # One more delivery: new transactions and late status changes, extracted incrementally.
        generate(landing, truth, days=args.days + 1, scale=args.scale, seed=7, defects=0.01)
        more = load_landing(target, password, landing, src, TABLE)
        cfg = lake_cfg(base / "lake", f"p{args.partitions[-1]}r0", port, args.partitions[-1])
        incr_s, incr_rows = extract(spark, cfg, "incremental")
        rerun_s, rerun_rows = extract(spark, cfg, "rerun")
        payload = {
            "scale": args.scale, "days": args.days, "database_rows": db_rows,
            "load": {"seconds": round(load_s, 2), "rows_per_second": round(db_rows / load_s),
                     "rejected": loaded["rejected"]},
            "full_extract": runs,
            "partitioned_speedup": round(runs[0]["extract_seconds"] / runs[-1]["extract_seconds"], 2)
            if len(runs) > 1 else None,
            "incremental": {"batch": more["batches"][-1]["batch"], "inserted": more["batches"][-1]["inserted"],
                            "updated": more["batches"][-1]["updated"], "rows": incr_rows,
                            "seconds": round(incr_s, 2)},
            "rerun": {"rows": rerun_rows, "seconds": round(rerun_s, 2)},
            "jvm_peak_mb": jvm_peak_mb(spark), "load_average": os.getloadavg(),
        }
        spark.stop()
        print(write_results("jdbc", payload))
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True)


if __name__ == "__main__":
    main()
