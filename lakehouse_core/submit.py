"""spark-submit entry: run one job of the manifest (or, from `jobs/pipeline.py`, a selection) recorded in `ops`.

    spark-submit jobs/bronze/ingest.py --job bronze_crm_customer --env synapse
    spark-submit --master spark://host:7077 --py-files dist/lakehouse_py_files.zip --jars <delta jars> \\
        jobs/pipeline.py --select layer:bronze --root /shared/lakehouse
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lakehouse_core.errors import LakehouseError

PIPELINE = "pipeline"  # the entry name of jobs/pipeline.py: any selection of the manifest in one session


def parser(entry: str) -> argparse.ArgumentParser:
    prog = "spark-submit " + (Path(sys.argv[0]).name if entry in ("__main__", PIPELINE) else
                              entry.replace(".", "/") + ".py")
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--job", help="job name from conf/pipeline.yml (needed when the file serves several jobs)")
    if entry == PIPELINE:
        p.add_argument("--select", default=None, help="job, +job, job+, layer:NAME (default: the whole manifest)")
    p.add_argument("--root", default=None)
    p.add_argument("--env", default=os.environ.get("LAKEHOUSE_ENV", "local"))
    p.add_argument("--full-refresh", action="store_true")
    return p


def jobs_to_run(manifest, entry: str, job: str | None, select: str | None, main_file: str) -> list[str]:
    """The jobs this main file runs: --job, else the only job whose entry is this file, else --select."""
    if job:
        if job not in manifest.jobs:
            raise LakehouseError(f"unknown job {job!r} (see `lakehouse plan`)")
        return [job]
    if entry == PIPELINE:
        names = manifest.select(select)
        if not names:
            raise LakehouseError(f"no job matches --select {select!r}")
        return names
    if entry == "__main__":
        candidates = [n for n, j in manifest.jobs.items() if main_file.endswith("/" + j.main_file)]
    else:
        candidates = [n for n, j in manifest.jobs.items() if j.entry == entry]
    if len(candidates) == 1:
        return candidates
    if not candidates:
        raise LakehouseError(f"no job of the manifest has {main_file} as its entry")
    raise LakehouseError(f"--job is required: this file serves {', '.join(candidates)}")


def adopt_submit_master(cfg) -> None:
    """Under spark-submit the JVM already runs with `--master`: the local builder must not replace it."""
    if not cfg.local or not os.environ.get("PYSPARK_GATEWAY_PORT"):
        return
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connects to spark-submit's JVM, whose system properties hold --master
    master = SparkConf().get("spark.master", None)
    if master:
        cfg.raw.setdefault("spark", {})["master"] = master


def main(entry: str, argv: list[str] | None = None) -> int:
    from lakehouse_core.config import load_config
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.runner import Reporter, run_jobs, run_lock
    from lakehouse_core.session import get_spark

    args = parser(entry).parse_args(argv)
    try:
        cfg = load_config(args.env, args.root)
        manifest = load_manifest()
        names = jobs_to_run(manifest, entry, args.job, getattr(args, "select", None),
                            str(Path(sys.argv[0]).resolve()))
        with run_lock(cfg):
            adopt_submit_master(cfg)
            spark = get_spark(cfg, f"lakehouse {names[0] if len(names) == 1 else 'pipeline'}")
            run_jobs(spark, cfg, manifest, names, command="submit",
                     selection=args.job or getattr(args, "select", None), full_refresh=args.full_refresh,
                     reporter=Reporter())
    except LakehouseError as exc:
        print(f"lakehouse {args.job or entry}: {exc}", file=sys.stderr)
        return 1
    return 0
