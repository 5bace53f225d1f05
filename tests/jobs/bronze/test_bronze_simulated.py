"""Bronze on simulator data with defects (the session's `pipeline_lake`): conservation per file, every bronze
defect with its reason, file-level findings, idempotent reruns, and no clear-text password anywhere under the root."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.bronze import ingest
from lakedb.sources import SOURCES
from lakehouse_core.context import JobContext
from lakehouse_core.simulator.defects import DEFECT_KINDS, QUARANTINED_BRONZE
from tests.security.secrets_scan import find_clear_text, landing_passwords


def ingest_all(spark, cfg, run_id):
    results = {}
    for src in SOURCES:
        ctx = JobContext(spark=spark, cfg=cfg, run_id=run_id, job=f"bronze_{src.bronze_table}", log=lambda m: None)
        results[src.name] = ingest.run(ctx, src.name)
    return results


@pytest.fixture(scope="module")
def lake(spark, pipeline_lake):
    """The session's simulated lake (tests/conftest.py: 3 batches, 3% defects), then bronze once more."""
    cfg = pipeline_lake.cfg
    results = {o.job: o.result for o in pipeline_lake.summary.outcomes}
    first = {src.name: results[f"bronze_{src.bronze_table}"] for src in SOURCES}
    return cfg, first, ingest_all(spark, cfg, "run2")


def truth_rows(cfg, name):
    with open(Path(cfg.path("truth")) / name, newline="") as fh:
        return list(csv.DictReader(fh))


def landing_rel(cfg, path: str) -> str:
    return path.split("/landing/", 1)[1]


def test_every_landing_line_is_one_bronze_row(spark, lake):
    cfg, _, _ = lake
    expected = {r["file"]: int(r["data_lines"]) for r in truth_rows(cfg, "files.csv")}
    got = Counter()
    for src in SOURCES:
        for r in spark.table(f"{cfg.database('bronze')}.{src.bronze_table}").groupBy("_source_file").count().collect():
            got[landing_rel(cfg, r["_source_file"])] = r["count"]
    assert {f: got.get(f, 0) for f in expected} == expected
    ledger = {landing_rel(cfg, r.file): r.rows_read for r in spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    assert ledger == expected


def test_rerun_reads_no_file_again(lake):
    _, first, second = lake
    assert sum(r.rows_read for r in first.values()) > 0
    assert {k: (r.rows_read, r.detail["files_new"]) for k, r in second.items()} == {k: (0, 0) for k in second}


def test_each_bronze_defect_is_quarantined_with_its_reason(spark, lake):
    cfg, _, _ = lake
    wanted = Counter((d["file"], d["reason"]) for d in truth_rows(cfg, "defects.csv")
                     if DEFECT_KINDS[d["kind"]].handling == QUARANTINED_BRONZE)
    assert wanted, "the simulator planted no bronze-level defect"
    got = Counter()
    for src in SOURCES:
        rows = (spark.table(f"{cfg.database('bronze')}.{src.bronze_table}").where(F.col("_corrupt_reason").isNotNull())
                .groupBy("_source_file", "_corrupt_reason").count().collect())
        for r in rows:
            got[(landing_rel(cfg, r["_source_file"]), r["_corrupt_reason"])] = r["count"]
    assert got == wanted


def test_file_level_defects_are_flagged(spark, lake):
    cfg, _, _ = lake
    flag_for = {"extra_column": "extra_columns", "missing_column": "missing_columns", "empty_file": "empty_file",
                "bom": "bom", "crlf": "crlf"}
    flags = {landing_rel(cfg, r.file): set(r.flags) for r in spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    planted = [(d["file"], flag_for[d["kind"]]) for d in truth_rows(cfg, "defects.csv") if d["kind"] in flag_for]
    assert sorted({k for _, k in planted}) == sorted(flag_for.values())
    assert [(f, k) for f, k in planted if k not in flags[f]] == []


def test_no_landing_password_in_clear_text_under_the_root(lake):
    cfg, _, _ = lake
    secrets = landing_passwords(Path(cfg.path("landing")))
    assert len(secrets) > 100
    assert find_clear_text(Path(cfg.root), secrets) == []
