"""Maintenance: OPTIMIZE every table of the lake database (Z-ordered by its keys where possible), then VACUUM.

Appends and merges leave many small files; OPTIMIZE compacts them without changing data (dataChange=false).
VACUUM deletes files older than the retention, which ends time travel and breaks readers older than it, so
the retention comes from `maintenance.vacuum_retain_hours` in conf and is never below Delta's safety default
of 7 days (168 hours).
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


def file_bytes_for(spark: SparkSession, name: str, rows: int) -> int | None:
    """The bytes of `rows` rows of table `name` at its average row size; None for an empty table."""
    size = spark.sql(f"DESCRIBE DETAIL {name}").first()["sizeInBytes"] or 0
    count = spark.table(name).count()  # from the Delta log's statistics
    return max(1, size * rows // count) if count and size else None


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
    tables = tables_to_maintain(layers)
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
        files = spark.sql(f"DESCRIBE DETAIL {name}").first()["numFiles"] or 0
        if files <= 1:
            # Nothing to compact; Z-ordering one file would rewrite it for no gain (and every day again).
            metrics, used, done = ({"numFilesAdded": 0, "numFilesRemoved": 0}, [],
                                  f"{files} file{'' if files == 1 else 's'}, already compact")
        else:
            # A table with keys is a MERGE target: compacted into files of conf `tables.rows_per_file` rows,
            # not one large file that every later MERGE would rewrite (lakehouse_core.layout).
            max_bytes = file_bytes_for(spark, name, per_file) if per_file and t.keys else None
            metrics, used = optimize(spark, name, zorder_columns(t) if zorder else [], max_bytes)
            done = (f"optimized ({metrics.get('numFilesRemoved') or 0} files compacted into "
                    f"{metrics.get('numFilesAdded') or 0}{', Z-ordered by ' + ', '.join(used) if used else ''})")
        vacuum(spark, name, retain, listing)
        detail[t.id] = {**metrics, "zorder_by": used, "vacuum_retain_hours": retain}
        ctx.log(f"{t.id}: {done}, vacuumed files older than {retain} h")
    if missing:
        ctx.log(f"not created yet, skipped: {', '.join(missing)}")
    return JobResult(rows_read=0, rows_written=0, rows_quarantined=0,
                     detail={"tables": detail, "skipped": missing, "vacuum_retain_hours": hours})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
