"""Benchmark of the source-systems simulator: seconds, rows, bytes and peak memory per scale.

    python bench/generate.py                 # scales 1 and 10, 10 daily batches
    python bench/generate.py --scale 100     # only the scales given (repeatable)

Each scale runs in its own child process so its peak RSS is its own. Results are printed and written
to bench/results/generate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def one(scale: float, days: int, seed: int, out: Path) -> dict:
    """Generate once in this process and report."""
    from lakehouse_core.simulator import generate

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = generate(out / "landing", out / "truth", days=days, scale=scale, seed=seed, defects=0.01)
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rows = summary["rows"]
    return {
        "scale": scale, "days": days, "seed": seed, "seconds": round(seconds, 2),
        "rows": rows, "total_rows": sum(rows.values()),
        "rows_per_second": round(sum(rows.values()) / seconds),
        "files": summary["files"], "bytes": summary["bytes"], "mb": round(summary["bytes"] / 2**20, 1),
        "customers": summary["customers"], "defective_rows": summary["defective_rows"],
        # CPU seconds of this process: a fairer figure than wall time on a machine busy with other work.
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, action="append", help="scale to run (repeatable; default 1 and 10)")
    p.add_argument("--days", type=int, default=10)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    p.add_argument("--results", type=Path, default=HERE / "results" / "generate.json")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    scales = args.scale or [1.0, 10.0]
    if args.child:
        print(json.dumps(one(scales[0], args.days, args.seed, args.out)))
        return
    base = args.out or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    results = []
    try:
        for scale in scales:
            cmd = [sys.executable, __file__, "--child", "--scale", str(scale), "--days", str(args.days),
                   "--seed", str(args.seed), "--out", str(base / f"s{scale:g}")]
            load = os.getloadavg()[0]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["load_average_before"] = round(load, 2)
            results.append(result)
            print(f"scale {scale:g}: {result['seconds']}s ({result['cpu_seconds']} CPU s), "
                  f"{result['total_rows']:,} rows, {result['mb']} MB, peak RSS {result['peak_rss_mb']} MB",
                  file=sys.stderr)
    finally:
        if args.out is None:
            shutil.rmtree(base, ignore_errors=True)
    report = {"benchmark": "simulator.generate", "cpus": os.cpu_count(), "python": platform.python_version(),
              "results": results}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
