"""Maintenance: OPTIMIZE with Z-order by key, VACUUM never below Delta's 168-hour safety default."""

from __future__ import annotations

import dataclasses

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
    assert result.detail["skipped"] == [t.id for t in lakedb.TABLES if t.layer == "ops" and t.name != "job_run"]
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
