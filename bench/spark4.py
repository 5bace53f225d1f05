"""The same landing files through both lanes: Spark 3.5 + Delta 3.x (.venv) and Spark 4 + Delta 4 (.venv-spark4).

    make install .venv-spark4/.installed
    .venv/bin/python bench/spark4.py --scale 0.05 --days 3

Each lane runs `lakehouse run` (bronze, silver, gold) on its own copy of one simulated landing (file times kept,
so the ledgers can agree), then every bronze, silver and gold table and the ops ledgers of both lakes are reduced
to order-free digests (tests/fault/lake_state.py: run ids, run times and ciphertexts left out) and compared.
Writes bench/results/spark4.json: each lane's versions and time, and the tables that differ (none, when the
lanes agree).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.common import BENCH_SECRET_KEY, bench_config, write_results  # noqa: E402
from bench.orchestration import timed  # noqa: E402

LANES = {"spark35": PROJECT / ".venv", "spark4": PROJECT / ".venv-spark4"}


def lane_versions(venv: Path) -> dict:
    code = ("import json, pyspark; from importlib.metadata import version; "
            "print(json.dumps({'pyspark': pyspark.__version__, 'delta_spark': version('delta-spark')}))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_lane(venv: Path, root: Path, select: str, env: dict) -> float:
    return timed([str(venv / "bin" / "lakehouse"), "run", "--root", str(root), "--select", select, "--quiet"],
                 env, root / "run.log")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--select", default="layer:bronze,layer:silver,layer:gold")
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one, removed after)")
    args = p.parse_args()
    missing = [str(v) for v in LANES.values() if not (v / "bin" / "lakehouse").exists()]
    if missing:
        print(f"lanes not installed: {', '.join(missing)} (make install .venv-spark4/.installed)", file=sys.stderr)
        return 2

    from lakehouse_core.session import get_spark
    from lakehouse_core.simulator import generate
    from tests.fault.lake_state import lake_state

    work = Path(args.work or tempfile.mkdtemp(prefix="lakehouse-spark4-"))
    source = work / "landing"
    shutil.rmtree(source, ignore_errors=True)
    generate(source, work / "_truth", days=args.days, scale=args.scale, seed=args.seed)
    env = {**os.environ, "LAKEHOUSE_SECRET_KEY": os.environ.get("LAKEHOUSE_SECRET_KEY", BENCH_SECRET_KEY)}
    env.pop("PYSPARK_PYTHON", None)
    lanes = {}
    for name, venv in LANES.items():
        root = work / name
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(source, root / "landing")  # copy2: modification times kept, as the ledger records them
        lanes[name] = {**lane_versions(venv), "seconds": round(run_lane(venv, root, args.select, env), 1)}
        print(f"{name}: {lanes[name]}", flush=True)

    spark = get_spark(bench_config(work / "_reader"), "bench-spark4")
    states = {name: lake_state(spark, work / name) for name in LANES}
    spark.stop()
    a, b = states["spark35"], states["spark4"]
    differ = sorted(t for t in a if a[t] != b[t])
    result = {"scale": args.scale, "days": args.days, "select": args.select, "lanes": lanes,
              "tables_compared": len(a), "tables_present": sum(v is not None for v in a.values()),
              "rows_compared": sum(v[0] for v in a.values() if v), "tables_differing": differ}
    print(json.dumps(result, indent=2))
    print(write_results("spark4", result))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
