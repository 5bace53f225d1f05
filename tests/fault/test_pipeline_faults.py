"""The whole pipeline (bronze, silver, gold) under faults: SIGKILL at chosen points, two runs at once, a job that
raises midway. After each, a normal rerun (or --resume) must leave the lake exactly as a clean run leaves it.

In CI the runs select `+gold_fact_transaction` (13 of the 28 jobs: every layer, the customer and payment side)
and try 1 kill point; `bench/faults.py` selects bronze, silver and gold whole and tries 10
(`LAKEHOUSE_FAULT_SELECT`, `LAKEHOUSE_KILLS`). The first kill lands in the middle of bronze ingestion, once two
bronze tables hold their first append (where exactly-once is at stake: some files in bronze, some not, a ledger
half written); the others at a count of Delta commits under the warehouse (the clean run's commits split into
equal slices, a seeded random place in each), which spreads them over table creation, bronze, silver and gold
whatever the machine's speed. Each kill then waits a random delay under 0.3 s.
`LAKEHOUSE_FAULT_LOG`, if set, gets one JSON line per kill.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from pathlib import Path

import pytest

import lakedb
from tests.fault.lake_state import bronze_rows_per_file, differences, duplicate_keys, lake_state, read, table_path
from tests.fault.procs import delta_commits, generated_landing, kill_when, lakehouse, new_lake, start
from tests.security.secrets_scan import find_clear_text, landing_passwords

pytestmark = pytest.mark.fault

SELECT = os.environ.get("LAKEHOUSE_FAULT_SELECT", "+gold_fact_transaction")
KILLS = int(os.environ.get("LAKEHOUSE_KILLS", "1"))
INJECT = str(Path(__file__).parent / "inject")


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return generated_landing(tmp_path_factory.mktemp("faults_src"), seed=11)


@pytest.fixture(scope="module")
def clean(spark, landing, tmp_path_factory):
    """The reference: one run, during which a second `lakehouse run` on the same root is attempted."""
    root = new_lake(landing, tmp_path_factory.mktemp("faults_clean"))
    t0 = time.monotonic()
    first = start("run", "--select", SELECT, root=root)
    lock = root / "_run.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().startswith("pid ")) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = lakehouse("run", "--select", SELECT, root=root, timeout=300)
    output = first.communicate(timeout=1200)[0].decode()
    seconds = time.monotonic() - t0
    assert first.returncode == 0, output[-3000:]
    return {"root": root, "seconds": seconds, "second": second, "state": lake_state(spark, root)}


def test_a_second_run_on_the_same_root_at_once_is_refused_and_changes_nothing(clean):
    second = clean["second"]
    assert second.returncode == 1
    assert second.stderr.startswith(f"lakehouse run: another lakehouse run is using {clean['root']} (pid ")
    assert second.stderr.endswith("; wait for it to finish\n")


def test_the_clean_run_ingests_every_landing_row_once_and_holds_no_duplicate_key(spark, landing, clean):
    root = clean["root"]
    got = bronze_rows_per_file(spark, root)
    folders = {f.rsplit("/", 2)[0] for f in got}  # system/entity of the sources the selection ingests
    with open(landing / "_truth" / "files.csv", newline="") as fh:
        expected = {r["file"]: int(r["data_lines"]) for r in csv.DictReader(fh)
                    if int(r["data_lines"]) > 0 and r["file"].rsplit("/", 2)[0] in folders}
    assert got == expected
    assert len(folders) == len({t.id for t in lakedb.TABLES if t.layer == "bronze" and table_path(root, t.id).is_dir()})
    assert duplicate_keys(spark, root) == {}


def test_no_landing_password_in_clear_text_anywhere_under_the_root(landing, clean):
    secrets = landing_passwords(landing / "landing")
    assert len(secrets) >= 100  # every customer row's password, damaged lines included
    assert find_clear_text(clean["root"], secrets) == []


def commits(root: Path) -> int:
    return sum(delta_commits(table) for table in (root / "warehouse").glob("*.db/*"))


def bronze_appended(root: Path) -> int:
    """Bronze tables holding at least one commit after their creation."""
    return sum(delta_commits(table) > 1 for table in (root / "warehouse" / "bronze.db").glob("*"))


MID_BRONZE = 2  # the first kill: once this many bronze tables hold their first append


def kill_points(total: int, n: int) -> list[tuple[int | None, float]]:
    """`n` (commit count, delay) pairs. The first count is None: kill mid-bronze (`MID_BRONZE`). The others fall
    one in each of n - 1 equal slices of a run making `total` commits."""
    rng = random.Random(20261127)
    return [(None, round(rng.uniform(0, 0.3), 2))] + [
        (max(1, round(total * (i + rng.uniform(0.15, 0.85)) / (n - 1))), round(rng.uniform(0, 0.3), 2))
        for i in range(n - 1)]


@pytest.mark.parametrize("index", range(KILLS))
def test_sigkill_at_a_random_point_then_a_rerun_gives_the_clean_lake(spark, landing, clean, tmp_path, index):
    at, delay = kill_points(commits(clean["root"]), KILLS)[index]
    root = new_lake(landing, tmp_path)
    proc = start("run", "--select", SELECT, root=root)
    t0 = time.monotonic()
    ready = (lambda: bronze_appended(root) >= MID_BRONZE) if at is None else (lambda: commits(root) >= at)
    killed = kill_when(proc, ready, delay=delay, timeout=1200)
    killed_after = time.monotonic() - t0
    at_commit = commits(root)
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    running = [line for line in output.splitlines() if line.startswith("[")]
    assert killed, f"the run ended before its kill point ({at or f'{MID_BRONZE} bronze tables appended'})"
    if at is None:  # mid-bronze indeed: not every bronze table had its append yet
        assert MID_BRONZE <= bronze_appended(root) < len(list((clean["root"] / "warehouse" / "bronze.db").glob("*")))
    t1 = time.monotonic()
    rerun = lakehouse("run", "--select", SELECT, root=root, timeout=1200)
    rerun_seconds = time.monotonic() - t1
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    diff = differences(clean["state"], lake_state(spark, root))
    dups = duplicate_keys(spark, root)
    if os.environ.get("LAKEHOUSE_FAULT_LOG"):
        with open(os.environ["LAKEHOUSE_FAULT_LOG"], "a") as fh:
            fh.write(json.dumps({"kill": index + 1, "at_commit": at_commit, "of_commits": commits(clean["root"]),
                                 "killed_after_seconds": round(killed_after, 1), "last_started": running[-1:],
                                 "recovered": [line.strip() for line in rerun.stderr.splitlines()
                                               if "interrupted" in line or "recovering" in line],
                                 "rerun_seconds": round(rerun_seconds, 1), "tables_differing": sorted(diff),
                                 "duplicate_keys": dups}) + "\n")
    assert diff == {}
    assert dups == {}


def test_a_job_that_raises_midway_is_recorded_and_resume_finishes_with_the_clean_lake(spark, landing, clean,
                                                                                     tmp_path):
    root = new_lake(landing, tmp_path)
    failed = lakehouse("run", "--select", SELECT, root=root, timeout=1200,
                       env={"PYTHONPATH": INJECT, "LAKEHOUSE_TEST_RAISE_IN": "silver_transaction"})
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert ("job silver_transaction failed: RuntimeError: injected fault: silver_transaction stops before "
            "recording its outcome") in failed.stderr
    log = read(spark, root, "ops.run_log").collect()
    assert [(r.status, r.failed_job) for r in log] == [("failed", "silver_transaction")]
    jobs = {r.job: r.status for r in read(spark, root, "ops.job_run").collect()}
    assert jobs["silver_transaction"] == "failed"
    assert all(jobs[j] == "succeeded" for j in jobs if j.startswith("bronze_"))

    resumed = lakehouse("run", "--resume", root=root, timeout=1200)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "undoing 1 interrupted attempt(s) of silver_transaction" in resumed.stderr
    assert differences(clean["state"], lake_state(spark, root)) == {}
    assert duplicate_keys(spark, root) == {}
