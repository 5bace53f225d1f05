"""bench/run's time budget: a scale still running is stopped with what it started, and how far it got is read back."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time

from bench.common import run_within
from bench.pipeline import PROGRESS, markdown, progress


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of a process that is gone is reaped by init; until then it is a zombie, not running.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_command_over_its_budget_is_killed_with_the_processes_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    # The parent starts a long-lived child (as PySpark starts its JVM), then outlives the budget itself.
    script = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """)
    t0 = time.monotonic()
    assert run_within([sys.executable, "-c", script], budget_s=3) is None
    assert time.monotonic() - t0 < 30
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_a_command_within_its_budget_returns_its_output():
    out = run_within([sys.executable, "-c", "import sys; print('done'); print('oops', file=sys.stderr)"], budget_s=30)
    assert (out.returncode, out.stdout, out.stderr) == (0, "done\n", "oops\n")


def test_progress_of_an_unfinished_scale_and_its_line_in_the_table(tmp_path):
    root = tmp_path / "pipeline_s100"
    root.mkdir()
    events = [
        {"event": "phase", "phase": "generated", "seconds": 300.5, "landing_rows": 23894000},
        {"event": "phase", "phase": "floor", "seconds": 120.25, "rows": 23880000},
        {"event": "phase", "phase": "full"},
        {"event": "run_started", "run_id": "r1"},
        {"event": "job_started", "job": "bronze_a", "layer": "bronze"},
        {"event": "job_started", "job": "bronze_b", "layer": "bronze"},
        {"event": "job_ended", "job": "bronze_b", "layer": "bronze", "status": "succeeded", "seconds": 40.5,
         "rows_written": 1000},
        {"event": "job_ended", "job": "bronze_a", "layer": "bronze", "status": "succeeded", "seconds": 60.25,
         "rows_written": 2000},
        {"event": "job_started", "job": "silver_customer", "layer": "silver"},
        {"event": "job_ended", "job": "silver_customer", "layer": "silver", "status": "succeeded", "seconds": 100,
         "rows_written": 900},
        {"event": "job_started", "job": "silver_transaction", "layer": "silver"},
    ]
    lines = [json.dumps(e) for e in events] + ['{"event": "job_prog']  # the last line cut short by the kill
    (root / PROGRESS).write_text("\n".join(lines))

    got = progress(tmp_path, 100)

    assert got == {
        "generated": {"seconds": 300.5, "landing_rows": 23894000},
        "floor": {"seconds": 120.25, "rows": 23880000},
        "full": {"layers": {"bronze": {"jobs": 2, "seconds": 100.75, "rows_written": 3000},
                            "silver": {"jobs": 1, "seconds": 100, "rows_written": 900}},
                 "running": ["silver_transaction"]},
    }
    run = {"scale": 100.0, "unfinished": {"budget_minutes": 45.0, "stopped_after_seconds": 2700.2, "progress": got}}
    assert markdown([run]).splitlines()[2] == (
        "| 100 | 23,894,000 | 120.25 | not done within 45 min (full run: bronze 2 job(s) 100.75 s, silver 1 job(s) "
        "100 s; running: silver_transaction) |" + " |" * 13)


def test_progress_without_a_log_says_so(tmp_path):
    assert progress(tmp_path, 100) == {"log": f"{tmp_path / 'pipeline_s100' / PROGRESS} not found"}
