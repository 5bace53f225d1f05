"""Maintenance: OPTIMIZE with Z-order by key, VACUUM never below Delta's 168-hour safety default."""

from __future__ import annotations

import dataclasses
import re

import pytest
from pyspark.sql import functions as F

import lakedb
from jobs.ops import maintenance
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import JobContext
from lakehouse_core.errors import ConfigError


def with_retention(cfg, hours):
    return dataclasses.replace(cfg, raw={**cfg.raw, "maintenance": {"vacuum_retain_hours": hours}})


@pytest.mark.parametrize("hours, reason", [
    (24, "maintenance.vacuum_retain_hours is 24: below Delta's safety default of 168 hours (7 days)"),
    (167, "maintenance.vacuum_retain_hours is 167: below Delta's safety default of 168 hours"),
    ("168", "maintenance.vacuum_retain_hours must be a whole number of hours, got '168'"),
    (True, "maintenance.vacuum_retain_hours must be a whole number of hours, got True"),
])
def test_a_retention_below_the_safety_default_is_refused_before_anything_runs(lake_cfg, hours, reason):
    # spark=None: the job must refuse before it touches Spark or any table.
    ctx = JobContext(spark=None, cfg=with_retention(lake_cfg, hours), run_id="r", log=lambda m: None)
    with pytest.raises(ConfigError) as err:
        maintenance.run(ctx, layers=["ops"])
    assert str(err.value).startswith(reason)


def test_unknown_layers_are_refused():
    with pytest.raises(ConfigError, match=r"^maintenance: unknown layer\(s\) 'platinum' \(known: "):
        maintenance.tables_to_maintain(["ops", "platinum"])


def test_zorder_uses_keys_with_statistics_only():
    job_run = lakedb.table("ops.job_run")
    assert maintenance.zorder_columns(job_run) == ["run_id", "job"]
    # Bronze collects statistics on ingestion columns only and has no keys: compaction without Z-order.
    assert maintenance.zorder_columns(lakedb.TABLES_BY_ID["bronze.crm_customer"]) == []
    assert maintenance.vacuum_sql("ops_x.job_run", 168) == "VACUUM ops_x.job_run RETAIN 168 HOURS"


def test_optimize_compacts_small_files_and_vacuum_keeps_recent_ones(spark, lake_cfg):
    job_run = lakedb.table("ops.job_run")
    ensure_tables(spark, lake_cfg, [job_run])
    name = f"{lake_cfg.database('ops')}.job_run"
    for i in range(3):  # three appends: three small files
        spark.createDataFrame([tuple({"run_id": f"r{i}", "job": "j"}.get(c) for c in job_run.column_names)],
                              job_run.spark_schema()).write.format("delta").mode("append").saveAsTable(name)
    ctx = JobContext(spark=spark, cfg=with_retention(lake_cfg, 200), run_id="m", log=lambda m: None)

    result = maintenance.run(ctx, layers=["ops"])

    assert result.detail["tables"] == {"ops.job_run": {"numFilesAdded": 1, "numFilesRemoved": 3,
                                                       "zorder_by": ["run_id", "job"], "vacuum_retain_hours": 200}}
    assert result.detail["not_created"] == [t.id for t in lakedb.TABLES if t.layer == "ops" and t.name != "job_run"]
    assert sorted(r.run_id for r in spark.table(name).collect()) == ["r0", "r1", "r2"]
    assert spark.sql(f"DESCRIBE DETAIL {name}").first().numFiles == 1
    history = spark.sql(f"DESCRIBE HISTORY {name}").orderBy("version").collect()
    # Beyond creating the table and the three appends, only commits that change no data.
    assert [h.operation for h in history[4:]] in (["OPTIMIZE"], ["OPTIMIZE", "VACUUM START", "VACUUM END"])
    optimize = [h for h in history if h.operation == "OPTIMIZE"]
    assert [h.operationParameters["zOrderBy"] for h in optimize] == ['["run_id","job"]']
    # Files removed by OPTIMIZE a moment ago are younger than the retention: VACUUM keeps them (time travel works).
    assert sorted(r.run_id for r in spark.read.format("delta").option("versionAsOf", 1).table(name).collect()) \
        == ["r0"]

    # Run again: one file is already compact, so no OPTIMIZE rewrites it (it would, Z-ordered, every day).
    again = maintenance.run(ctx, layers=["ops"])
    assert again.detail["tables"]["ops.job_run"] == {"numFilesAdded": 0, "numFilesRemoved": 0, "zorder_by": [],
                                                     "vacuum_retain_hours": 200}
    ops = [h.operation for h in spark.sql(f"DESCRIBE HISTORY {name}").collect()]
    assert ops.count("OPTIMIZE") == 1


def test_a_table_with_keys_is_compacted_into_files_of_about_rows_per_file(spark, lake_cfg):
    job_run = lakedb.table("ops.job_run")
    ensure_tables(spark, lake_cfg, [job_run])
    name = f"{lake_cfg.database('ops')}.job_run"
    for part in range(8):  # eight appends of 125 rows: eight small files
        rows = [tuple({"run_id": f"r{(i * 7919) % 1000:04d}", "job": "j"}.get(c) for c in job_run.column_names)
                for i in range(part * 125, (part + 1) * 125)]
        spark.createDataFrame(rows, job_run.spark_schema()).coalesce(1).write.format("delta").mode("append") \
            .saveAsTable(name)
    cfg = with_retention(lake_cfg, 200)
    cfg = dataclasses.replace(cfg, raw={**cfg.raw, "tables": {"rows_per_file": 250}})

    result = maintenance.run(JobContext(spark=spark, cfg=cfg, run_id="m", log=lambda m: None), layers=["ops"])

    # Not one file of 1,000 rows, which a MERGE of one key would rewrite whole: about 1,000 / 250 files, each a
    # range of the Z-ordered key.
    files = sorted(r["count"] for r in spark.table(name).groupBy(F.input_file_name()).count().collect())
    assert result.detail["tables"]["ops.job_run"]["numFilesRemoved"] == 8
    assert sum(files) == 1000
    assert 3 <= len(files) <= 5 and max(files) <= 400, files
    assert spark.conf.get(maintenance.MAX_FILE_SIZE, None) is None  # restored


@pytest.mark.parametrize("key, value, reason", [
    ("every_days", -1, "maintenance.every_days must be a whole number of at least 0, got -1"),
    ("every_days", "7", "maintenance.every_days must be a whole number of at least 0, got '7'"),
    ("every_days", 1.5, "maintenance.every_days must be a whole number of at least 0, got 1.5"),
    ("parallel_tables", 0, "maintenance.parallel_tables must be a whole number of at least 1, got 0"),
    ("parallel_tables", True, "maintenance.parallel_tables must be a whole number of at least 1, got True"),
])
def test_schedule_and_parallelism_settings_are_checked_before_anything_runs(lake_cfg, key, value, reason):
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "maintenance": {key: value}})
    ctx = JobContext(spark=None, cfg=cfg, run_id="r", log=lambda m: None)
    with pytest.raises(ConfigError, match=f"^{re.escape(reason)}$"):
        maintenance.run(ctx, layers=["ops"])


def record_maintenance(spark, cfg, run_id, days_ago, detail):
    """An ops.job_run row of ops_maintenance that succeeded `days_ago` days ago (UTC, like every conf)."""
    job_run = lakedb.table("ops.job_run")
    ensure_tables(spark, cfg, [job_run])
    row = {"run_id": run_id, "job": "ops_maintenance", "layer": "ops", "status": "succeeded", "detail": detail}
    (spark.createDataFrame([tuple(row.get(c) for c in job_run.column_names)], job_run.spark_schema())
     .withColumn("started_at", F.expr(f"current_timestamp() - INTERVAL {days_ago} DAYS"))
     .write.format("delta").mode("append").saveAsTable(f"{cfg.database('ops')}.job_run"))


def test_maintenance_waits_every_days_after_the_last_run_that_maintained(spark, lake_cfg):
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw,
                                             "maintenance": {"vacuum_retain_hours": 168, "every_days": 7}})
    ctx = JobContext(spark=spark, cfg=cfg, run_id="now", job="ops_maintenance", log=lambda m: None)
    assert maintenance.due(ctx, 7) == (True, "due: no earlier maintenance recorded")

    record_maintenance(spark, cfg, "r8", 8, '{"maintained": true}')
    at8 = spark.sql(f"SELECT date_format(max(started_at), 'yyyy-MM-dd HH:mm') FROM {cfg.database('ops')}.job_run") \
        .first()[0]
    assert maintenance.due(ctx, 7) == (True, f"due: last maintained {at8}, 8 day(s) ago, maintenance.every_days 7")

    # A later run that was not due, or one that failed, does not count as maintained; the one 2 days ago does.
    record_maintenance(spark, cfg, "r1", 1, '{"maintained": false, "skipped": "not due"}')
    record_maintenance(spark, cfg, "r2", 2, None)  # as written before the schedule: detail without `maintained`
    at2 = spark.sql(f"SELECT date_format(started_at, 'yyyy-MM-dd HH:mm'), date_add(to_date(started_at), 7) "
                    f"FROM {cfg.database('ops')}.job_run WHERE run_id = 'r2'").first()
    result = maintenance.run(ctx, layers=["ops"])
    reason = (f"not due: last maintained {at2[0]}, 2 day(s) ago, under maintenance.every_days 7; next on {at2[1]} "
              "(--full-refresh maintains now)")
    assert result.detail == {"maintained": False, "skipped": reason, "every_days": 7}
    assert spark.sql(f"DESCRIBE HISTORY {cfg.database('ops')}.job_run").where("operation = 'OPTIMIZE'").count() == 0

    assert maintenance.due(dataclasses.replace(ctx, full_refresh=True), 7) == (True, "due: --full-refresh")
    assert maintenance.due(ctx, 0) == (True, "due: maintenance.every_days is 0 (every run)")
    assert maintenance.due(ctx, 2) == (True, f"due: last maintained {at2[0]}, 2 day(s) ago, maintenance.every_days 2")

    forced = maintenance.run(dataclasses.replace(ctx, full_refresh=True), layers=["ops"])
    assert forced.detail["maintained"] is True and forced.detail["reason"] == "due: --full-refresh"
    assert forced.detail["tables"]["ops.job_run"]["numFilesRemoved"] == 3


def test_a_keyed_table_with_no_more_files_than_its_rows_need_is_not_rewritten(spark, lake_cfg):
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "tables": {"rows_per_file": 100},
                                        "maintenance": {"vacuum_retain_hours": 168, "every_days": 0}})
    job_run = lakedb.table("ops.job_run")
    ensure_tables(spark, cfg, [job_run])
    name = f"{cfg.database('ops')}.job_run"
    rows = [tuple({"run_id": f"r{i:03d}", "job": "j"}.get(c) for c in job_run.column_names) for i in range(400)]
    spark.createDataFrame(rows, job_run.spark_schema()).repartition(5).write.format("delta").mode("append") \
        .saveAsTable(name)  # 5 files for 4 rows' worth: within the slack (4 // 4 = 1)
    ctx = JobContext(spark=spark, cfg=cfg, run_id="m", job="ops_maintenance", log=lambda m: None)

    assert maintenance.files_needed(400, 100) == (4, 1)
    assert maintenance.run(ctx, layers=["ops"]).detail["tables"]["ops.job_run"]["numFilesRemoved"] == 0

    spark.createDataFrame(rows[:1], job_run.spark_schema()).write.format("delta").mode("append").saveAsTable(name)
    # 6 files for 401 rows (5 needed, slack 1): still compact
    assert maintenance.run(ctx, layers=["ops"]).detail["tables"]["ops.job_run"]["numFilesRemoved"] == 0
    spark.createDataFrame(rows[:1], job_run.spark_schema()).write.format("delta").mode("append").saveAsTable(name)
    assert maintenance.run(ctx, layers=["ops"]).detail["tables"]["ops.job_run"]["numFilesRemoved"] == 7
