"""ops.gold_watermark: a job's last processed version per input, read once per run for all gold jobs."""

from __future__ import annotations

import datetime as dt

import lakedb
from jobs.gold.common import watermarks
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
