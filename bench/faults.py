"""The fault suite's kill loop at full strength: ten SIGKILLs at different points of `lakehouse run`.

    .venv/bin/python bench/faults.py --kills 10

Runs tests/fault/test_pipeline_faults.py with LAKEHOUSE_KILLS=<kills>: a clean reference run (with a second
run attempted at once), then for each kill point a fresh lake killed there and rerun normally; every lake
must equal the clean one (table digests) and hold no duplicate key. Writes bench/results/faults.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, write_results  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--select", default="layer:bronze,layer:silver,layer:gold", help="what each run selects")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "kills.jsonl"
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/fault/test_pipeline_faults.py", "-k", "sigkill or refused or duplicate"],
                             cwd=PROJECT, capture_output=True, text=True,
                             env={**os.environ, "LAKEHOUSE_KILLS": str(args.kills), "LAKEHOUSE_FAULT_LOG": str(log),
                                  "LAKEHOUSE_FAULT_SELECT": args.select})
        seconds = time.perf_counter() - t0
        kills = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    summary = out.stdout.strip().splitlines()[-1:] if out.stdout.strip() else []
    payload = {"kills": args.kills, "select": args.select, "passed": out.returncode == 0, "pytest": summary, "seconds": round(seconds, 1),
               "results": kills}
    write_results("faults", payload)
    rows = ["| kill | at commit | after (s) | job started last | rerun recovered | rerun (s) | tables differing | "
            "duplicate keys |", "|---|---|---|---|---|---|---|---|"]
    for k in kills:
        rows.append(f"| {k['kill']} | {k['at_commit']} of {k['of_commits']} | {k['killed_after_seconds']} | "
                    f"{' '.join(k['last_started'])[:60]} | {'; '.join(k['recovered'])[:120] or '-'} | "
                    f"{k['rerun_seconds']} | {', '.join(k['tables_differing']) or 'none'} | "
                    f"{k['duplicate_keys'] or 'none'} |")
    (RESULTS / "faults.md").write_text(f"# Kill loop: {args.kills} SIGKILLs of `lakehouse run --select {args.select}`\n\n"
                                      f"pytest: {' '.join(summary)}; {seconds:.0f} s in all\n\n" + "\n".join(rows) + "\n")
    print("\n".join(rows))
    if out.returncode != 0:
        print(out.stdout[-5000:], file=sys.stderr)
    raise SystemExit(out.returncode)


if __name__ == "__main__":
    main()
