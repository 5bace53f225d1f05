"""SIGKILL in the middle of bronze ingestion, then a normal rerun: every landing row is in bronze exactly once."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from tests.fault.lake_state import bronze_rows_per_file
from tests.fault.procs import delta_commits, generated_landing, kill_when, lakehouse, new_lake, start

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return generated_landing(tmp_path_factory.mktemp("kill_src"), seed=5)


def expected_counts(root: Path) -> dict[str, int]:
    with open(root / "_truth" / "files.csv", newline="") as fh:
        return {r["file"]: int(r["data_lines"]) for r in csv.DictReader(fh) if int(r["data_lines"]) > 0}


@pytest.mark.parametrize("point", [2])
def test_kill_midway_then_rerun_ingests_every_row_exactly_once(spark, landing, tmp_path, point):
    root = new_lake(landing, tmp_path)
    warehouse = root / "warehouse" / "bronze.db"
    proc = start("run", "--select", "layer:bronze", root=root)
    # Kill after `point` bronze tables have committed, a random fraction of a second later.
    killed = kill_when(proc, lambda: sum(delta_commits(d) > 1 for d in warehouse.glob("*")) >= point,
                       delay=random.Random(point).uniform(0, 0.3))
    assert killed, "the run finished before the kill point"
    rerun = lakehouse("run", "--select", "layer:bronze", root=root)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert bronze_rows_per_file(spark, root) == expected_counts(landing)
