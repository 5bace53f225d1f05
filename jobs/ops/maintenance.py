"""Maintenance: OPTIMIZE the tables of the lake database that gathered small files (Z-ordered by their keys where
possible), then VACUUM every table; on its own schedule, not every run.

Appends and merges leave many small files; OPTIMIZE compacts them without changing data (dataChange=false).
VACUUM deletes files older than the retention, which ends time travel and breaks readers older than it, so
the retention comes from `maintenance.vacuum_retain_hours` in conf and is never below Delta's safety default
of 7 days (168 hours).

`lakehouse run` runs this job last in every run, but it does its work only when due: conf
`maintenance.every_days` (default 7) calendar days (UTC) after the last run that maintained, read from
ops.job_run; `--full-refresh` or `every_days: 0` make it due. Otherwise it records that it was not due and why.
On a maintenance day a table is compacted only when it holds more files than its rows need (a Z-order rewrites
the whole table, so one already compact is left as it is).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable

from pyspark.sql import SparkSession

import lakedb
from lakedb.model import Table
from lakehouse_core.catalog import qualified
from lakehouse_core.config import Config
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.errors import ConfigError
from lakehouse_core.layout import rows_per_file
from lakehouse_core.session import conf_set

JOB = "ops_maintenance"
EVERY_DAYS = 7  # weekly, as VACUUM's 7-day retention frees nothing sooner
MIN_RETAIN_HOURS = 168  # Delta's default delta.deletedFileRetentionDuration: 7 days
MAX_ZORDER_COLUMNS = 2  # Z-ordering loses its effect with every extra column
_INTERVAL = re.compile(r"^\s*interval\s+(\d+)\s+(hour|hours|day|days|week|weeks)\s*$", re.IGNORECASE)
_HOURS = {"hour": 1, "day": 24, "week": 168}


def vacuum_retain_hours(cfg: Config) -> int:
    """The configured VACUUM retention; refuses anything Delta's safety check would call unsafe."""
    hours = cfg.section("maintenance").get("vacuum_retain_hours", MIN_RETAIN_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise ConfigError(f"maintenance.vacuum_retain_hours must be a whole number of hours, got {hours!r}")
    if hours < MIN_RETAIN_HOURS:
        raise ConfigError(f"maintenance.vacuum_retain_hours is {hours}: below Delta's safety default of "
                          f"{MIN_RETAIN_HOURS} hours (7 days) VACUUM could delete files that readers and time "
                          "travel still need; refusing")
    return hours


def every_days(cfg: Config) -> int:
    """conf `maintenance.every_days`: days between maintenance runs; 0 maintains on every run."""
    days = cfg.section("maintenance").get("every_days", EVERY_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ConfigError(f"maintenance.every_days must be a whole number of days, 0 or more, got {days!r}")
    return days


def due(ctx: JobContext, every: int) -> tuple[bool, str]:
    """Whether this run maintains, and why (or why not): `every` days after the last run of this job that
    maintained and succeeded (ops.job_run), by the session's calendar (UTC in every conf)."""
    if ctx.full_refresh:
        return True, "due: --full-refresh"
    if every == 0:
        return True, "due: maintenance.every_days is 0 (every run)"
    spark, name = ctx.spark, ctx.table("ops.job_run")
    if not spark.catalog.tableExists(name):
        return True, "due: no earlier maintenance recorded"
    from pyspark.sql import functions as F

    maintained = (F.col("job") == (ctx.job or JOB)) & (F.col("status") == "succeeded") & \
        (F.coalesce(F.get_json_object("detail", "$.maintained"), F.lit("true")) != "false")
    last = (spark.table(name).where(maintained).agg(F.max("started_at").alias("at"))
            .select("at", F.datediff(F.current_date(), F.to_date("at")).alias("days"),
                    F.date_add(F.to_date("at"), every).alias("next")).first())
    if last is None or last["at"] is None:
        return True, "due: no earlier maintenance recorded"
    when = f"last maintained {last['at']:%Y-%m-%d %H:%M}, {last['days']} day(s) ago"
    if last["days"] >= every:
        return True, f"due: {when}, maintenance.every_days {every}"
    return False, (f"not due: {when}, under maintenance.every_days {every}; next on {last['next']} "
                   "(--full-refresh maintains now)")


def tables_to_maintain(layers: Iterable[str]) -> list[Table]:
    """The model's tables of `layers`, in model order."""
    layers = list(layers)
    unknown = [layer for layer in layers if layer not in lakedb.LAYERS]
    if unknown:
        raise ConfigError(f"maintenance: unknown layer(s) {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(lakedb.LAYERS)})")
    return [t for t in lakedb.TABLES if t.layer in layers]


def zorder_columns(t: Table) -> list[str]:
    """Key columns that Z-ordering can use: not partition columns, and with file statistics collected."""
    stats = t.properties.get("delta.dataSkippingStatsColumns")
    with_stats = set(stats.split(",")) if stats else set(t.column_names[:32])  # Delta's default: first 32
    return [k for k in t.keys if k not in t.partition_by and k in with_stats][:MAX_ZORDER_COLUMNS]


def retention_for(t: Table, hours: int) -> int:
    """A table that keeps files longer than the conf says wins: Delta refuses a shorter VACUUM on it."""
    m = _INTERVAL.match(t.properties.get("delta.deletedFileRetentionDuration", ""))
    table_hours = int(m.group(1)) * _HOURS[m.group(2).lower().rstrip("s")] if m else 0
    return max(hours, table_hours)


def optimize_sql(name: str, zorder: list[str]) -> str:
    return f"OPTIMIZE {name}" + (f" ZORDER BY ({', '.join(f'`{c}`' for c in zorder)})" if zorder else "")


def vacuum_sql(name: str, hours: int) -> str:
    return f"VACUUM {name} RETAIN {int(hours)} HOURS"


MAX_FILE_SIZE = "spark.databricks.delta.optimize.maxFileSize"


def files_needed(rows: int | None, per_file: int | None) -> tuple[int, int]:
    """(files the table's rows need, files above that it may hold before it is compacted again).

    A table with keys is written in files of about `tables.rows_per_file` rows; any other table fits one file at
    these sizes (Delta's default target is 1 GB). The slack, a quarter, keeps a table OPTIMIZE left a file or two
    above the exact number (it splits by bytes, not rows) from being rewritten whole on every maintenance day.
    """
    need = max(1, -(-rows // per_file)) if rows and per_file else 1
    return need, need // 4


def optimize(spark: SparkSession, name: str, zorder: list[str], max_file_bytes: int | None = None
             ) -> tuple[dict, list[str]]:
    """OPTIMIZE with Z-ordering, or without it on a runtime that cannot Z-order; returns (metrics, zorder used).

    `max_file_bytes`: the largest file it writes (Delta's default is 1 GB); the conf is restored afterwards.
    """
    with conf_set(spark, MAX_FILE_SIZE, max_file_bytes or None):
        try:
            row = spark.sql(optimize_sql(name, zorder)).collect()
        except Exception as exc:  # noqa: BLE001 - only a runtime without ZORDER falls back; anything else raised
            if not zorder or "zorder" not in str(exc).lower().replace(" ", "").replace("-", ""):
                raise
            row, zorder = spark.sql(optimize_sql(name, [])).collect(), []
    metrics = row[0]["metrics"].asDict() if row and "metrics" in row[0].asDict() else {}
    return {k: metrics.get(k) for k in ("numFilesAdded", "numFilesRemoved")}, zorder


LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


def vacuum(spark: SparkSession, name: str, hours: int, listing_parallelism: int) -> None:
    """VACUUM, listing the table's files in `listing_parallelism` tasks.

    Delta lists files for VACUUM with Spark's partition-discovery parallelism (default 10,000 tasks), which
    costs minutes on a small cluster for a table of a few files; the conf is restored afterwards.
    """
    with conf_set(spark, LISTING_PARALLELISM, listing_parallelism):
        spark.sql(vacuum_sql(name, hours)).collect()


def run(ctx: JobContext, layers: list[str] | tuple[str, ...] = lakedb.LAYERS, zorder: bool = True) -> JobResult:
    spark = ctx.spark
    hours = vacuum_retain_hours(ctx.cfg)  # before touching anything
    every = every_days(ctx.cfg)
    tables = tables_to_maintain(layers)
    go, why = due(ctx, every)
    ctx.log(why)
    if not go:
        return JobResult(rows_read=0, rows_written=0, rows_quarantined=0,
                         detail={"maintained": False, "skipped": why, "every_days": every})
    listing = int(ctx.cfg.section("maintenance").get("vacuum_listing_parallelism")
                  or spark.sparkContext.defaultParallelism)
    per_file = rows_per_file(ctx.cfg)
    detail: dict[str, dict] = {}
    missing = []
    for t in tables:
        # Names come from the model and pass qualified()'s identifier check before reaching SQL.
        name = qualified(ctx.cfg, t)
        if not spark.catalog.tableExists(name):
            missing.append(t.id)
            continue
        retain = retention_for(t, hours)
        info = spark.sql(f"DESCRIBE DETAIL {name}").first()
        files, size = info["numFiles"] or 0, info["sizeInBytes"] or 0
        # A table with keys is a MERGE target: compacted into files of conf `tables.rows_per_file` rows, not one
        # large file that every later MERGE would rewrite (lakehouse_core.layout).
        rows = spark.table(name).count() if per_file and t.keys and files > 1 else None  # from the log's stats
        need, slack = files_needed(rows, per_file if t.keys else None)
        if files <= need + slack:
            # Nothing to compact; Z-ordering would rewrite the whole table for no gain (and every time again).
            metrics, used, done = ({"numFilesAdded": 0, "numFilesRemoved": 0}, [],
                                  f"{files} file{'' if files == 1 else 's'} for {need}, already compact")
        else:
            max_bytes = max(1, size * per_file // rows) if rows and size and per_file else None
            metrics, used = optimize(spark, name, zorder_columns(t) if zorder else [], max_bytes)
            done = (f"optimized ({metrics.get('numFilesRemoved') or 0} files compacted into "
                    f"{metrics.get('numFilesAdded') or 0}{', Z-ordered by ' + ', '.join(used) if used else ''})")
        vacuum(spark, name, retain, listing)
        detail[t.id] = {**metrics, "zorder_by": used, "vacuum_retain_hours": retain}
        ctx.log(f"{t.id}: {done}, vacuumed files older than {retain} h")
    if missing:
        ctx.log(f"not created yet, skipped: {', '.join(missing)}")
    return JobResult(rows_read=0, rows_written=0, rows_quarantined=0,
                     detail={"maintained": True, "reason": why, "tables": detail, "not_created": missing,
                             "vacuum_retain_hours": hours, "every_days": every})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
