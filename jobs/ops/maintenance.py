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
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import lakedb
from lakedb.model import Table
from lakehouse_core.catalog import qualified
from lakehouse_core.config import Config, whole_number
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.errors import ConfigError
from lakehouse_core.layout import rows_per_file
from lakehouse_core.session import conf_set

JOB = "ops_maintenance"
EVERY_DAYS = 7  # weekly, as VACUUM's 7-day retention frees nothing sooner
PARALLEL_TABLES = 4  # tables inspected and vacuumed at a time (conf maintenance.parallel_tables)
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
    return whole_number(cfg.section("maintenance").get("every_days", EVERY_DAYS), "maintenance.every_days", 0)


def parallel_tables(cfg: Config) -> int:
    """conf `maintenance.parallel_tables`: tables inspected and vacuumed at a time. Each is a few small Spark jobs,
    mostly the driver's time, so several at once keep two cores busy."""
    return whole_number(cfg.section("maintenance").get("parallel_tables", PARALLEL_TABLES),
                        "maintenance.parallel_tables", 1)


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


# Delta lists files for VACUUM with Spark's partition-discovery parallelism (default 10,000 tasks), which costs
# minutes on a small cluster for a table of a few files: set to the cluster's parallelism for the VACUUMs.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


@dataclass
class Plan:
    """One table's maintenance, as inspected: its files, rows (tables with keys), and whether to compact it."""

    table: Table
    name: str
    retain: int
    files: int
    size: int
    rows: int | None
    need: int
    compact: bool


def inspect(spark: SparkSession, t: Table, name: str, retain: int, per_file: int | None) -> Plan | None:
    """The table's plan; None for a table not created yet."""
    if not spark.catalog.tableExists(name):
        return None
    info = spark.sql(f"DESCRIBE DETAIL {name}").first()
    files, size = info["numFiles"] or 0, info["sizeInBytes"] or 0
    # A table with keys is a MERGE target: compacted into files of conf `tables.rows_per_file` rows, not one
    # large file that every later MERGE would rewrite (lakehouse_core.layout).
    rows = spark.table(name).count() if per_file and t.keys and files > 1 else None  # from the log's stats
    need, slack = files_needed(rows, per_file if t.keys else None)
    # A table within its files' slack is left as it is: Z-ordering rewrites the whole table for no gain.
    return Plan(t, name, retain, files, size, rows, need, compact=files > need + slack)


def run(ctx: JobContext, layers: list[str] | tuple[str, ...] = lakedb.LAYERS, zorder: bool = True) -> JobResult:
    spark = ctx.spark
    hours = vacuum_retain_hours(ctx.cfg)  # before touching anything
    every = every_days(ctx.cfg)
    workers = parallel_tables(ctx.cfg)
    tables = tables_to_maintain(layers)
    go, why = due(ctx, every)
    ctx.log(why)
    if not go:
        return JobResult(rows_read=0, rows_written=0, rows_quarantined=0,
                         detail={"maintained": False, "skipped": why, "every_days": every})
    listing = int(ctx.cfg.section("maintenance").get("vacuum_listing_parallelism")
                  or spark.sparkContext.defaultParallelism)
    per_file = rows_per_file(ctx.cfg)
    # Names come from the model and pass qualified()'s identifier check before reaching SQL.
    found = ctx.map_in_threads(lambda t: inspect(spark, t, qualified(ctx.cfg, t), retention_for(t, hours), per_file),
                               tables, workers)
    plans = [p for p in found if p is not None]
    missing = [t.id for t, p in zip(tables, found, strict=True) if p is None]
    detail: dict[str, dict] = {}
    done: dict[str, str] = {}
    for p in plans:  # one at a time: the file size it writes is a session setting
        if p.compact:
            max_bytes = max(1, p.size * per_file // p.rows) if p.rows and p.size and per_file else None
            metrics, used = optimize(spark, p.name, zorder_columns(p.table) if zorder else [], max_bytes)
            done[p.table.id] = (f"optimized ({metrics.get('numFilesRemoved') or 0} files compacted into "
                                f"{metrics.get('numFilesAdded') or 0}"
                                f"{', Z-ordered by ' + ', '.join(used) if used else ''})")
        else:
            metrics, used = {"numFilesAdded": 0, "numFilesRemoved": 0}, []
            done[p.table.id] = f"{p.files} file{'' if p.files == 1 else 's'} for {p.need}, already compact"
        detail[p.table.id] = {**metrics, "zorder_by": used, "vacuum_retain_hours": p.retain}
    with conf_set(spark, LISTING_PARALLELISM, listing):
        def clean(p: Plan) -> None:
            spark.sql(vacuum_sql(p.name, p.retain)).collect()
            ctx.log(f"{p.table.id}: {done[p.table.id]}, vacuumed files older than {p.retain} h")

        ctx.map_in_threads(clean, plans, workers)
    if missing:
        ctx.log(f"not created yet, skipped: {', '.join(missing)}")
    return JobResult(rows_read=0, rows_written=0, rows_quarantined=0,
                     detail={"maintained": True, "reason": why, "tables": detail, "not_created": missing,
                             "vacuum_retain_hours": hours, "every_days": every})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
