"""Bronze from a database: incremental, exactly-once extracts of one table over JDBC.

The rows land in the same bronze table, with the same columns, as the file ingestion of the source
(values as text, `_source_file` the database and table, `_batch` the delivery day the database keeps), so
silver cannot tell where they came from. An environment switches a source to this job with a `sources:`
section (lakehouse_core/jdbc.py); elsewhere the job does nothing.

Incremental on a modification time: an extract reads the rows with mark < modified_at <= new mark, where
the new mark is the greatest modification time committed at least `lag_seconds` ago; a status change on an
old transaction moves its modified_at, so the row comes again with its new values. The read is split into
`num_partitions` parallel queries over the key range of exactly those rows.

Exactly-once: the bronze append carries Delta's txnAppId/txnVersion (the extract's sequence number) and the
new mark as commit metadata, and `ops.jdbc_watermark` is written after it. A run that stops between the two
is repaired by the next one from the bronze commit, so no row is lost or read twice.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import lakedb
from jobs.bronze.ingest import SECRET_LIKE
from lakedb.bronze import bronze_table
from lakedb.sources import Source, source
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.errors import ConfigError
from lakehouse_core.jdbc import JdbcSource, database_error, jdbc_source, quote_ident
from lakehouse_core.runner import utcnow

KEY = "__lakehouse_key"
BATCH = "__lakehouse_batch"
_MARK = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
_PG_MARK_FORMAT = "YYYY-MM-DD HH24:MI:SS.US"
_SPARK_MARK_FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"


@dataclass(frozen=True)
class Extract:
    """One committed extract: where the next one starts, and what it wrote."""

    version: int
    mark: str  # greatest modified_at extracted, UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'
    last_id: int | None = None
    rows: int | None = None
    partitions: int | None = None
    run_id: str | None = None
    bronze_version: int | None = None


@dataclass(frozen=True)
class Plan:
    """What the next extract will read: its row count, key range and new mark."""

    rows: int
    lo: int | None
    hi: int | None
    mark: str | None
    partitions: int


@dataclass(frozen=True)
class Columns:
    """The database table's columns as this source uses them (actual spellings)."""

    data: tuple[str, ...]  # read as text into bronze: contract columns and extras, never secrets
    key: str
    watermark: str
    batch: str | None


def checked_mark(mark: str) -> str:
    """Marks reach SQL as literals: only the one timestamp shape is accepted."""
    if not isinstance(mark, str) or not _MARK.match(mark):
        raise ValueError(f"not a watermark timestamp: {mark!r}")
    return mark


def resolve_columns(db_columns: list[str], src: Source, spec: JdbcSource) -> Columns:
    """Match the configured key, watermark and batch columns, and pick what bronze keeps."""
    lower = {}
    for c in db_columns:
        lower.setdefault(c.lower(), c)

    def find(name: str, what: str) -> str:
        found = name if name in db_columns else lower.get(name.lower())
        if found is None:
            raise ConfigError(f"{spec.table} on {spec.location} has no {what} column {name!r} "
                              f"(columns: {', '.join(db_columns)})")
        return found

    key = find(spec.partition_column, "partition")
    watermark = find(spec.watermark_column, "watermark")
    batch = find(spec.batch_column, "batch") if spec.batch_column else None
    contract = {c.lower() for c in src.columns}
    secrets = {c.lower() for c in src.secrets}
    data = tuple(
        c for c in db_columns
        if c not in (watermark, batch) and c.lower() not in secrets
        and (c.lower() in contract or not SECRET_LIKE.search(c))
    )
    return Columns(data=data, key=key, watermark=watermark, batch=batch)


def _window(cols: Columns, after: str | None, until: str) -> str:
    wm = quote_ident(cols.watermark)
    where = [f"{wm} <= {until}"]
    if after is not None:
        where.insert(0, f"{wm} > '{checked_mark(after)}'")
    return " AND ".join(where)


def bounds_sql(spec: JdbcSource, cols: Columns, after: str | None) -> str:
    """Row count, key range and new mark of the rows modified after `after`, up to `lag_seconds` ago."""
    key, wm = quote_ident(cols.key), quote_ident(cols.watermark)
    cap = f"now() - interval '{float(spec.lag_seconds)} seconds'"
    return (f"SELECT count(*) AS n, min({key}) AS lo, max({key}) AS hi, "
            f"to_char(max({wm}), '{_PG_MARK_FORMAT}') AS mark "
            f"FROM {spec.sql_table} WHERE {_window(cols, after, cap)}")


def extract_sql(spec: JdbcSource, cols: Columns, after: str | None, until: str) -> str:
    """The rows of one extract, every data column rendered as text by the database itself."""
    select = [f"{quote_ident(cols.key)} AS {KEY}"]
    select += [f"{quote_ident(c)}::text AS {quote_ident(c)}" for c in cols.data]
    if cols.batch:
        select.append(f"{quote_ident(cols.batch)}::date AS {BATCH}")
    until_sql = "'" + checked_mark(until) + "'"
    return f"SELECT {', '.join(select)} FROM {spec.sql_table} WHERE {_window(cols, after, until_sql)}"


def partitions_for(rows: int, lo: int, hi: int, wanted: int) -> int:
    """Parallel reads: as configured, but never more than there are rows or keys."""
    return max(1, min(wanted, rows, hi - lo + 1))


def _col(name: str):
    return F.col("`" + name.replace("`", "``") + "`")


def to_bronze(extract: DataFrame, src: Source, *, origin: str, run_id: str, ingested_at: dt.datetime,
              extract_day: dt.date) -> DataFrame:
    """Bronze's columns from an extract whose columns are the table's, as text: the rows a file would give.

    Contract columns are matched like file headers (exact, else case-insensitively); other columns go to
    `_rescued_data`, absent ones to `_missing_columns`.
    """
    data = [c for c in extract.columns if c not in (KEY, BATCH)]
    lower: dict[str, str] = {}
    for c in data:
        lower.setdefault(c.lower(), c)
    found = {c: (c if c in data else lower.get(c.lower())) for c in src.kept_columns}
    used = {v for v in found.values() if v}
    secrets = {s.lower() for s in src.secrets}
    extras = [c for c in data if c not in used and c.lower() not in secrets and not SECRET_LIKE.search(c)]
    missing = [c for c, actual in found.items() if actual is None]
    rescued = F.lit(None).cast("string")
    if extras:
        js = F.to_json(F.struct(*[_col(c).cast("string").alias(c) for c in extras]))
        rescued = F.when(js != "{}", js)
    batch = _col(BATCH).cast("date") if BATCH in extract.columns else F.lit(None).cast("date")
    return extract.select(
        *[(_col(found[c]) if found[c] else F.lit(None)).cast("string").alias(c) for c in src.kept_columns],
        rescued.alias("_rescued_data"),
        (F.array(*[F.lit(c) for c in missing]) if missing else F.lit(None).cast("array<string>"))
        .alias("_missing_columns"),
        F.lit(None).cast("string").alias("_corrupt_reason"),
        F.lit(None).cast("string").alias("_raw_line"),
        F.lit(None).cast("string").alias("_raw_line_sealed"),
        F.lit(origin).alias("_source_file"),
        F.coalesce(batch, F.lit(extract_day)).alias("_batch"),
        F.lit(ingested_at).alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
    )


# --- I/O ---------------------------------------------------------------------------------------------------

def _reader(spark: SparkSession, spec: JdbcSource, password: str):
    return spark.read.format("jdbc").options(**spec.reader_options()).option("password", password)


def table_columns(spark: SparkSession, spec: JdbcSource, password: str) -> list[str]:
    """The table's columns (the first connection: a database that is down fails here)."""
    return _reader(spark, spec, password).option("dbtable", spec.sql_table).load().columns


def plan_extract(spark: SparkSession, spec: JdbcSource, password: str, cols: Columns, after: str | None) -> Plan:
    row = _reader(spark, spec, password).option("query", bounds_sql(spec, cols, after)).load().first()
    if not row.n:
        return Plan(0, None, None, None, 0)
    return Plan(row.n, row.lo, row.hi, row.mark, partitions_for(row.n, row.lo, row.hi, spec.num_partitions))


def read_extract(spark: SparkSession, spec: JdbcSource, password: str, cols: Columns, after: str | None,
                 plan: Plan) -> DataFrame:
    reader = _reader(spark, spec, password).option(
        "dbtable", f"({extract_sql(spec, cols, after, plan.mark)}) AS lakehouse_extract")
    if plan.partitions > 1:
        # Bounds only set the stride: rows outside [lo, hi] would still be read by the edge partitions.
        reader = reader.options(partitionColumn=KEY, lowerBound=str(plan.lo), upperBound=str(plan.hi + 1),
                                numPartitions=str(plan.partitions))
    return reader.load()


def latest_extract(spark: SparkSession, marks_table: str, origin: str) -> Extract | None:
    """The last extract recorded in ops.jdbc_watermark for this origin."""
    rows = (spark.table(marks_table).where(F.col("origin") == origin)
            .orderBy(F.desc("extract_version")).limit(1)
            .select("extract_version",
                    F.date_format(F.to_utc_timestamp("mark_modified_at", F.current_timezone()),
                                  _SPARK_MARK_FORMAT).alias("mark"),
                    "last_id", "rows_extracted", "partitions", "run_id", "bronze_version")
            .collect())
    if not rows:
        return None
    r = rows[0]
    return Extract(r.extract_version, r.mark, r.last_id, r.rows_extracted, r.partitions, r.run_id, r.bronze_version)


def committed_extract(spark: SparkSession, bronze: str, app_id: str, within: int = 100) -> Extract | None:
    """The last extract committed to bronze for `app_id`, from the metadata of the last `within` commits.

    A crash leaves at most one extract unrecorded, and it is the latest one; other commits of the table
    (maintenance) are few, so the recent history is enough and stays cheap to read as the log grows.
    """
    from delta.tables import DeltaTable

    rows = (DeltaTable.forName(spark, bronze).history(within)
            .where(F.get_json_object("userMetadata", "$.app_id") == app_id)
            .orderBy(F.desc("version")).limit(1)
            .select("version", "userMetadata", F.col("operationMetrics")["numOutputRows"].alias("rows"))
            .collect())
    if not rows:
        return None
    meta = json.loads(rows[0].userMetadata)
    return Extract(version=meta["version"], mark=meta["mark"], last_id=meta.get("last_id"),
                   rows=int(rows[0].rows or 0), partitions=meta.get("partitions"), run_id=meta.get("run_id"),
                   bronze_version=rows[0].version)


def record(spark: SparkSession, marks_table: str, src: Source, origin: str, e: Extract, recovered: bool) -> None:
    t = lakedb.table("ops.jdbc_watermark")
    row = spark.range(1).select(
        F.lit(src.name).alias("source"), F.lit(origin).alias("origin"),
        F.lit(e.version).cast("bigint").alias("extract_version"),
        # The mark is UTC text: the zone suffix keeps the instant whatever the session's time zone is.
        F.lit(checked_mark(e.mark) + "Z").cast("timestamp").alias("mark_modified_at"),
        F.lit(e.last_id).cast("bigint").alias("last_id"), F.lit(e.rows).cast("bigint").alias("rows_extracted"),
        F.lit(e.partitions).cast("int").alias("partitions"),
        F.lit(e.bronze_version).cast("bigint").alias("bronze_version"),
        F.lit(recovered).alias("recovered"), F.lit(e.run_id).cast("string").alias("run_id"),
        F.lit(utcnow()).alias("recorded_at"),
    ).select(*t.column_names)
    row.write.format("delta").mode("append").saveAsTable(marks_table)


def run(ctx: JobContext, source_name: str = "payments/The_transaction") -> JobResult:
    marks = ctx.table("ops.jdbc_watermark")
    spec = jdbc_source(ctx.cfg, source_name)
    if spec is None:
        return JobResult(detail={"skipped": f"{source_name} is read from landing files in this env"})
    spark, src = ctx.spark, source(source_name)
    target = bronze_table(src)
    bronze = ctx.table(target.id)
    if not (spark.catalog.tableExists(bronze) and spark.catalog.tableExists(marks)):
        # The runner creates what the manifest says a job writes; bronze is written here too.
        ensure_tables(spark, ctx.cfg, [target, lakedb.table("ops.jdbc_watermark")])
    app_id = f"lakehouse-jdbc:{spec.origin}"

    last = latest_extract(spark, marks, spec.origin)
    committed = committed_extract(spark, bronze, app_id)
    recovered = committed is not None and (last is None or committed.version > last.version)
    if recovered:
        ctx.log(f"recording extract {committed.version} of {spec.origin}: its run stopped after the bronze commit")
        record(spark, marks, src, spec.origin, committed, recovered=True)
        last = committed
    after = last.mark if last else None
    password = spec.password()
    try:
        cols = resolve_columns(table_columns(spark, spec, password), src, spec)
        plan = plan_extract(spark, spec, password, cols, after)
        ctx.log(f"{spec.origin}: {plan.rows} row(s) modified after {after or 'the beginning'}, "
                f"{plan.partitions} partition(s)")
        if plan.rows == 0:
            return JobResult(rows_read=0, rows_written=0, rows_quarantined=0,
                             detail={"origin": spec.origin, "mark": after, "recovered": recovered})
        extract = Extract(version=(last.version if last else 0) + 1, mark=plan.mark, last_id=plan.hi,
                          partitions=plan.partitions, run_id=ctx.run_id)
        now = utcnow()
        out = to_bronze(read_extract(spark, spec, password, cols, after, plan), src, origin=spec.origin,
                        run_id=ctx.run_id, ingested_at=now, extract_day=now.date())
        meta = {"app_id": app_id, **{k: v for k, v in asdict(extract).items() if k not in ("rows", "bronze_version")}}
        (out.select(*target.column_names).write.format("delta").mode("append")
         .option("txnAppId", app_id).option("txnVersion", extract.version)
         .option("userMetadata", json.dumps(meta, sort_keys=True))
         .saveAsTable(bronze))
    except Exception as exc:  # noqa: BLE001 - connection failures become one line; anything else propagates
        err = database_error(exc, spec)
        if err is None:
            raise
        raise err from None
    done = committed_extract(spark, bronze, app_id, within=5)
    if done is None or done.version != extract.version:
        raise RuntimeError(f"bronze has no commit for extract {extract.version} of {spec.origin}")
    record(spark, marks, src, spec.origin, done, recovered=False)
    written = done.rows if done.run_id == ctx.run_id else 0
    return JobResult(rows_read=written, rows_written=written, rows_quarantined=0,
                     detail={"origin": spec.origin, "extract_version": done.version, "mark": done.mark,
                             "partitions": plan.partitions, "recovered": recovered})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
