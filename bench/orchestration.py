"""One `lakehouse run` of the pipeline in one Spark session vs the same jobs as one spark-submit each.

    .venv/bin/python bench/orchestration.py --scale 1 --days 2 [--select "layer:bronze,layer:silver,layer:gold"]

Both modes ingest the same simulated landing files into their own fresh root, one Spark process at a time
(driver memory 2g, local[2]). Writes the result as a Markdown note (default bench/results/orchestration.md, with a .json beside it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.common import BENCH_SECRET_KEY  # noqa: E402
from lakehouse_core.config import load_config  # noqa: E402
from lakehouse_core.manifest import load_manifest  # noqa: E402
from lakehouse_core.session import _cached_jars, packages_for  # noqa: E402
from lakehouse_core.simulator import generate  # noqa: E402


def timed(cmd: list[str], env: dict, log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        subprocess.run(cmd, env=env, cwd=PROJECT, stdout=fh, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--select", default="layer:bronze,layer:silver,layer:gold")
    p.add_argument("--out", default=str(PROJECT / "bench" / "results" / "orchestration.md"))
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed after)")
    args = p.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="lakehouse-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    landing = work / "landing"
    summary = generate(landing, work / "_truth", days=args.days, scale=args.scale, seed=args.seed)
    rows = sum(summary["rows"].values())
    manifest = load_manifest()
    names = manifest.select(args.select)
    env = {**os.environ, "LAKEHOUSE_SECRET_KEY": os.environ.get("LAKEHOUSE_SECRET_KEY", BENCH_SECRET_KEY),
           "LAKEHOUSE_CONF_DIR": str(PROJECT / "conf")}
    venv_bin = Path(sys.executable).parent

    def fresh_root(name: str) -> Path:
        root = work / name
        root.mkdir()
        (root / "landing").symlink_to(landing)
        return root

    one = fresh_root("one_session")
    t_one = timed([str(venv_bin / "lakehouse"), "run", "--root", str(one), "--select", args.select], env, log)

    jars = _cached_jars(packages_for(load_config("local", str(one))))
    if not jars:
        raise SystemExit("the Delta jars are not cached yet: run `lakehouse run` once first")
    import pyspark

    submit = Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit"
    each = fresh_root("submit_each")
    per_job = []
    for name in names:
        cmd = [str(submit), "--master", "local[2]", "--driver-memory", "2g", "--jars",
               ",".join(str(Path(j)) for j in jars), str(PROJECT / manifest.jobs[name].main_file),
               "--job", name, "--root", str(each)]
        per_job.append((name, timed(cmd, {**env, "PYSPARK_PYTHON": sys.executable}, log)))
    t_each = sum(s for _, s in per_job)

    lines = [
        "# Orchestration: one session vs one spark-submit per job",
        "",
        f"Measured {dt.date.today()} on {platform.machine()} with {os.cpu_count()} cores, `local[2]`, driver 2g, "
        f"by `bench/orchestration.py --scale {args.scale:g} --days {args.days}`.",
        f"Input: {rows:,} landing rows ({summary['customers']:,} customers, {args.days} daily batches). "
        f"Selection `{args.select}`: {len(names)} jobs.",
        "",
        "| mode | wall time (s) |",
        "|---|---:|",
        f"| one `lakehouse run` (one Spark session) | {t_one:.1f} |",
        f"| one `spark-submit` per job ({len(names)} JVMs) | {t_each:.1f} |",
        "",
        f"One session is {t_each / t_one:.1f}x faster: every spark-submit pays a JVM start, Delta and metastore "
        "initialisation and a cold cache. Per job (spark-submit each):",
        "",
        "| job | seconds |",
        "|---|---:|",
        *[f"| {n} | {s:.1f} |" for n, s in per_job],
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    Path(args.out).with_suffix(".json").write_text(json.dumps({
        "scale": args.scale, "days": args.days, "select": args.select, "landing_rows": rows, "jobs": names,
        "one_session_seconds": round(t_one, 1), "submit_each_seconds": round(t_each, 1),
        "per_job_submit_seconds": {n: round(s, 1) for n, s in per_job}, "cpus": os.cpu_count()}, indent=2) + "\n")
    print("\n".join(lines))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
