"""spark-submit entry: run one job of the manifest on its own, recorded in `ops` like any run.

    spark-submit jobs/bronze/ingest.py --job bronze_crm_customer --env synapse
"""

from __future__ import annotations

import argparse
import sys

from lakehouse_core.errors import LakehouseError


def main(entry: str, argv: list[str] | None = None) -> int:
    from lakehouse_core.config import load_config
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.runner import Reporter, run_jobs, run_lock
    from lakehouse_core.session import get_spark

    p = argparse.ArgumentParser(prog=f"spark-submit {entry.replace('.', '/')}.py")
    p.add_argument("--job", help="job name from conf/pipeline.yml (needed when the file serves several jobs)")
    p.add_argument("--root", default=None)
    p.add_argument("--env", default="local")
    p.add_argument("--full-refresh", action="store_true")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.env, args.root)
        manifest = load_manifest()
        if entry == "__main__":
            candidates = list(manifest.jobs)
        else:
            candidates = [n for n, j in manifest.jobs.items() if j.entry == entry]
        if args.job:
            if args.job not in manifest.jobs:
                raise LakehouseError(f"unknown job {args.job!r}")
            name = args.job
        elif len(candidates) == 1:
            name = candidates[0]
        else:
            raise LakehouseError(f"--job is required: this file serves {', '.join(candidates)}")
        with run_lock(cfg):
            spark = get_spark(cfg, f"lakehouse {name}")
            run_jobs(spark, cfg, manifest, [name], command="submit", selection=name,
                     full_refresh=args.full_refresh, reporter=Reporter())
    except LakehouseError as exc:
        print(f"lakehouse {args.job or entry}: {exc}", file=sys.stderr)
        return 1
    return 0
