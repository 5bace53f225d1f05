"""ops.gold_watermark: a job's last processed version per input, read once per run for all gold jobs."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import lakedb
from jobs.gold.common import Inputs, watermarks
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import JobContext, append_rows


def test_a_job_gets_its_latest_version_per_input_and_the_jobs_of_a_run_share_one_read(spark, lake_cfg):
    ensure_tables(spark, lake_cfg, [lakedb.table("ops.gold_watermark")])
    name = f"{lake_cfg.database('ops')}.gold_watermark"
    at = dt.datetime(2025, 1, 1)

    def record(*rows):
        append_rows(spark, name, "ops.gold_watermark", [(job, t, v, "r", at + dt.timedelta(hours=h))
                                                        for job, t, v, h in rows])

    # Versions of an input can go down (a table recreated): the latest written counts, not the highest.
    record(("gold_a", "silver.customer", 7, 1), ("gold_a", "silver.customer", 3, 2),
           ("gold_a", "silver.address", 5, 1), ("gold_b", "silver.customer", 9, 1))
    run_cache: dict = {}

    def ctx(job: str, cache: dict) -> JobContext:
        return JobContext(spark=spark, cfg=lake_cfg, run_id="run", job=job, log=lambda m: None, run_cache=cache)

    assert watermarks(ctx("gold_a", run_cache)) == {"silver.customer": 3, "silver.address": 5}
    record(("gold_b", "silver.customer", 10, 3))  # after the run's read
    assert watermarks(ctx("gold_b", run_cache)) == {"silver.customer": 9}
    assert watermarks(ctx("gold_c", run_cache)) == {}
    assert watermarks(ctx("gold_b", {})) == {"silver.customer": 10}  # the next run reads again


def test_an_input_moved_only_by_maintenance_advances_without_recomputing(spark, lake_cfg, monkeypatch):
    """Inputs.load reads an input's latest commits once: its version, and whether any after the watermark
    changed data (OPTIMIZE does not). More commits since than one read holds are read again, all of them."""
    import jobs.gold.common as common

    db = lake_cfg.database("silver")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {db}")
    name = f"{db}.looked_up"
    spark.sql(f"DROP TABLE IF EXISTS {name}")
    spark.sql(f"CREATE TABLE {name} (id BIGINT) USING delta")  # version 0
    spark.sql(f"INSERT INTO {name} VALUES (1)")  # 1
    spark.sql(f"INSERT INTO {name} VALUES (2)")  # 2
    spark.sql(f"OPTIMIZE {name}")  # 3
    monkeypatch.setattr(common, "HISTORY_PEEK", 2)
    reads = []
    real = common._history
    monkeypatch.setattr(common, "_history", lambda s, n, d: reads.append(d) or real(s, n, d))
    ctx = SimpleNamespace(spark=spark, table=lambda table_id: name)  # a table outside the model

    def look_up(last: int | None) -> tuple[int, bool]:
        reads.clear()
        inputs = Inputs(ctx, ["silver.looked_up"], last={} if last is None else {"silver.looked_up": last})
        return inputs._look_up("silver.looked_up")

    assert (look_up(3), reads) == ((3, False), [2])  # nothing since
    assert (look_up(2), reads) == ((3, False), [2])  # only the OPTIMIZE
    assert (look_up(1), reads) == ((3, True), [2])  # the insert of version 2, within the first read
    assert (look_up(0), reads) == ((3, True), [2, 3])  # three commits since: read again, all three
    assert (look_up(None), reads) == ((3, True), [2])  # no watermark
    assert (look_up(9), reads) == ((3, True), [2])  # recreated since: back to a lower version
