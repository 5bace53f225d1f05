"""JobContext.map_in_threads: a job's helper threads commit as the job does, in the job's job group; local_frame."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from lakehouse_core.catalog import ensure_databases
from lakehouse_core.context import JobContext, local_frame
from lakehouse_core.runner import USER_METADATA, commit_tag, job_session


def test_threads_of_a_job_tag_their_commits_with_the_job_and_keep_its_job_group(spark, lake_cfg):
    ensure_databases(spark, lake_cfg)
    session = job_session(spark, [])
    session.conf.set(USER_METADATA, commit_tag("toy", "run-t"))
    session.sparkContext.setJobGroup("toy", "lakehouse toy")
    ctx = JobContext(spark=session, cfg=lake_cfg, run_id="run-t", job="toy", log=lambda m: None)
    tables = [f"{lake_cfg.database('ops')}.threaded_{i}" for i in range(4)]

    def write(name: str) -> tuple[str, str | None]:
        session.createDataFrame([(name,)], "t string").write.format("delta").saveAsTable(name)
        return name, session.sparkContext.getLocalProperty("spark.jobGroup.id")

    try:
        assert ctx.map_in_threads(write, tables, workers=3) == [(t, "toy") for t in tables]
    finally:
        session.sparkContext.setJobGroup(None, None)  # the test session's thread goes on without a group
    assert spark.conf.get(USER_METADATA, None) is None
    for name in tables:
        commits = spark.sql(f"DESCRIBE HISTORY {name}").collect()
        assert [json.loads(c.userMetadata) for c in commits] == [{"job": "toy", "run_id": "run-t"}]


def test_the_first_failure_of_a_thread_is_raised_after_the_others_finished(spark, lake_cfg):
    ctx = JobContext(spark=spark, cfg=lake_cfg, run_id="run-t", job="toy", log=lambda m: None)
    done = []
    # Items 1 and 2 hold both workers until the release, so item 3 has not started when item 0 has failed:
    # it must still run, not be cancelled with the failure.
    released = threading.Event()

    def work(i: int) -> int:
        if i == 0:
            raise ValueError("report 0 failed")
        if i in (1, 2):
            released.wait(timeout=10)
        done.append(i)
        return i

    release = threading.Timer(0.5, released.set)
    release.start()
    with pytest.raises(ValueError, match="report 0 failed"):
        ctx.map_in_threads(work, [0, 1, 2, 3], workers=2)
    assert sorted(done) == [1, 2, 3]


def test_driver_rows_become_one_partition_per_ten_thousand_rows_at_most_the_default_parallelism(spark):
    schema = "name string, n bigint, at timestamp"
    rows = [("a", 1, dt.datetime(2025, 1, 1, 12)), ("b", None, None)]
    few = local_frame(spark, rows, schema)
    assert few.rdd.getNumPartitions() == 1
    assert [tuple(r) for r in few.collect()] == rows
    assert local_frame(spark, [], schema).collect() == []
    many = local_frame(spark, [(str(i), i, None) for i in range(10_001)], schema)
    assert (many.rdd.getNumPartitions(), many.count()) == (min(2, spark.sparkContext.defaultParallelism), 10_001)
