"""What every gold job shares: input versions and watermarks, Change Data Feed reads, diff-only MERGE.

The incremental contract of gold: a job records, per input table, the last Delta version it processed
(`ops.gold_watermark`). On the next run it reads only the inputs' changes since then (Change Data Feed),
recomputes the target rows those changes can affect, and writes only the rows whose values differ. When no
input moved it reads nothing and writes nothing; when recomputation yields the same values it writes
nothing either, so a rerun without new data leaves gold's data (and mostly its versions) untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce

from delta.tables import DeltaTable
from py4j.protocol import Py4JJavaError
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, LongType, ShortType
from pyspark.sql.utils import AnalysisException

import lakedb
from lakehouse_core.context import JobContext, local_frame
from lakehouse_core.delta_log import current_version, last_metrics
from lakehouse_core.layout import clustered, files_of_at_most, key_list, whole_numbers_sql

# Commits that rewrite files without changing rows (dataChange=false): no reason to recompute anything.
MAINTENANCE_OPERATIONS = frozenset({"OPTIMIZE", "VACUUM START", "VACUUM END"})


# Latest commits read when a job looks up its inputs: a day moves an input by a few versions.
HISTORY_PEEK = 8


def _history(spark: SparkSession, name: str, depth: int) -> list[dict]:
    """The table's latest `depth` commits (version, operation), newest first."""
    return [r.asDict() for r in spark.sql(f"DESCRIBE HISTORY {name} LIMIT {depth}").select("version", "operation")
            .collect()]


def table_exists(spark: SparkSession, name: str) -> bool:
    return spark.catalog.tableExists(name)


# ---------------------------------------------------------------- surrogate keys (deterministic)


def customer_sk(customer_id: Column, valid_from: Column) -> Column:
    return F.xxhash64(customer_id.cast("bigint"), valid_from.cast("date"))


def agent_sk(agent_id: Column) -> Column:
    return F.xxhash64(agent_id.cast("bigint"))


def geography_sk(country: Column, state_province: Column, city: Column) -> Column:
    # xxhash64 skips nulls, so (X, null, Y) and (X, Y, null) would collide; hash the JSON form instead.
    return F.xxhash64(F.to_json(F.struct(country.alias("c"), state_province.alias("s"), city.alias("t"))))


def date_key(day: Column) -> Column:
    """yyyymmdd as INT, the key of gold.dim_date."""
    return (F.year(day) * 10000 + F.month(day) * 100 + F.dayofmonth(day)).cast("int")


# ---------------------------------------------------------------- inputs and watermarks


def watermarks(ctx: JobContext) -> dict[str, int]:
    """The job's last processed version per input. The gold jobs of a run share one read of ops.gold_watermark:
    a job's rows are written only by itself, once per run and after this read (the runner defers them), so the
    first read holds every job's as they were when the run started."""
    def read() -> dict[str, dict[str, int]]:
        rows = (ctx.spark.table(ctx.table("ops.gold_watermark"))
                .groupBy("job", "source_table").agg(F.max_by("version", "updated_at").alias("version")).collect())
        marks: dict[str, dict[str, int]] = {}
        for r in rows:
            if r["version"] is not None:
                marks.setdefault(r["job"], {})[r["source_table"]] = int(r["version"])
        return marks

    return dict(ctx.per_run("gold_watermarks", read).get(ctx.job, {}))


@dataclass
class Inputs:
    """A job's input tables: their versions now and at the job's last run, and their changes in between.

    `changed(t, cols)` gives the distinct `cols` of rows that changed in `t` since the watermark, or None
    when the job must treat everything as changed (first run, --full-refresh, history not readable).
    """

    ctx: JobContext
    table_ids: Sequence[str]
    now: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    data_moved: set[str] = field(default_factory=set)
    _cached: list[DataFrame] = field(default_factory=list)

    @classmethod
    def load(cls, ctx: JobContext, table_ids: Iterable[str], state: dict[str, int] | None = None) -> Inputs:
        """`state`: pseudo-inputs beside the tables (name -> whole number, e.g. an ML job's model version), moved
        when their number differs from the watermark's."""
        ids = list(table_ids)
        inputs = cls(ctx, ids)
        if not ctx.full_refresh:
            inputs.last = watermarks(ctx)
        for t in ids:
            inputs.now[t], moved = inputs._look_up(t)
            if moved:
                inputs.data_moved.add(t)
        for key, value in (state or {}).items():
            inputs.now[key] = int(value)
            if inputs.last.get(key) != int(value):
                inputs.data_moved.add(key)
        return inputs

    def _look_up(self, table_id: str) -> tuple[int, bool]:
        """The input's current version, and whether commits after the watermark changed data (OPTIMIZE and VACUUM
        commits do not): one read of its latest commits, a second only when more than HISTORY_PEEK came since."""
        name, last = self.ctx.table(table_id), self.last.get(table_id)
        history = _history(self.ctx.spark, name, HISTORY_PEEK)
        now = history[0]["version"]
        if last is None or last > now:
            return now, True
        if now - last > len(history):
            history = _history(self.ctx.spark, name, now - last)
        return now, any(h["operation"] not in MAINTENANCE_OPERATIONS for h in history if h["version"] > last)

    @property
    def full(self) -> bool:
        """True when this run must rebuild: no watermark at all (first run) or --full-refresh."""
        return self.ctx.full_refresh or not self.last

    def moved(self, table_id: str | None = None) -> bool:
        """Whether the data of `table_id` (or of any input) changed since the last run, or an input is new."""
        if table_id:
            return table_id in self.data_moved
        return bool(self.data_moved) or set(self.last) != set(self.now)

    def unchanged(self) -> bool:
        """True when the job has nothing to do: not a rebuild, and no input's data changed since the last run.

        Versions that moved only by maintenance (OPTIMIZE, VACUUM) still advance the watermark.
        """
        if self.full or self.moved():
            return False
        self.commit()
        return True

    def snapshot(self, table_id: str) -> DataFrame:
        """The table as this run processes it.

        The current version, not `VERSION AS OF now`: runs of a lake are serialised (one run per root), so
        they are the same, and a time-travel read rebuilds Delta's snapshot state on every reference.
        """
        return self.ctx.spark.table(self.ctx.table(table_id))

    def changed(self, table_id: str, cols: Sequence[str]) -> DataFrame | None:
        if self.full or table_id not in self.last or self.last[table_id] > self.now[table_id]:
            return None
        start, end = self.last[table_id] + 1, self.now[table_id]
        spark = self.ctx.spark
        if start > end:
            return spark.createDataFrame([], spark.table(self.ctx.table(table_id)).select(*cols).schema)
        try:
            keys = (spark.read.format("delta").option("readChangeFeed", "true")
                    .option("startingVersion", start).option("endingVersion", end)
                    .table(self.ctx.table(table_id)).select(*cols).distinct().cache())
            keys.count()  # read now: a change feed that is gone (log cleaned, files vacuumed) falls back below
        except (AnalysisException, CapturedException, Py4JJavaError) as exc:
            self.ctx.log(f"{table_id}: change feed of versions {start}-{end} not readable "
                         f"({str(exc).strip().splitlines()[0][:200]}); recomputing from the whole table")
            return None
        self._cached.append(keys)
        return keys

    def commit(self) -> None:
        """Record the versions processed (one appended row per input that moved); call after the writes."""
        ctx = self.ctx
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        # Under the runner, committed with the run's other ops rows (a run killed first recomputes the same rows).
        ctx.append_ops("ops.gold_watermark", [(ctx.job, t, v, ctx.run_id, now) for t, v in self.now.items()
                                              if ctx.full_refresh or self.last.get(t) != v], last=True)
        for df in self._cached:
            df.unpersist()
        self._cached.clear()


# ---------------------------------------------------------------- writing only what differs


def _all_equal(left: Callable[[str], Column], right: Callable[[str], Column], cols: Sequence[str]) -> Column:
    """Every column of `cols` equal on both sides, nulls equal to nulls (`<=>`)."""
    return reduce(lambda a, b: a & b, [left(c).eqNullSafe(right(c)) for c in cols])


def _aliased(alias: str) -> Callable[[str], Column]:
    return lambda c: F.col(f"{alias}.`{c}`")


def _null_safe_join(left: DataFrame, right: DataFrame, cols: Sequence[str], how: str) -> DataFrame:
    return left.join(right, _all_equal(left.__getitem__, right.__getitem__, cols), how)


@dataclass
class Written:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.deleted

    def __add__(self, other: Written) -> Written:
        return Written(self.inserted + other.inserted, self.updated + other.updated, self.deleted + other.deleted)


def sync(spark: SparkSession, target: str, rows: DataFrame, keys: Sequence[str],
         scope: DataFrame | None = None, delete: bool = True, rows_per_file: int = 0,
         whole_at_most: int = 0) -> Written:
    """Make `target` hold `rows` for the part of the table `scope` covers, writing only differences.

    `rows` is the complete new content of that part. `scope` is a DataFrame of some target columns
    (e.g. the customer_ids recomputed); target rows matching it but absent from `rows` are deleted.
    `scope=None` means the whole table. Rows equal in every column are not touched, and when nothing
    differs no commit is made.

    `rows_per_file` > 0 (conf `tables.rows_per_file`, for tables a day's MERGE updates a few rows of): the first
    write is clustered by `keys` in files of at most that many rows, and the MERGE condition lists the changed
    keys, so it rewrites only the files they fall in (lakehouse_core.layout).

    `whole_at_most` > 0 (`whole_at_most(table_id)`: tables without a change feed), with no `scope`: when a row
    differs, the table is rewritten whole in one commit instead of a MERGE (which reads the table's state, joins,
    rewrites and commits). A table and new content of at most that many rows each are compared on the driver,
    larger ones in Spark (and, without `delete`, still merged: the rows absent from `rows` must stay).
    """
    current = spark.table(target)
    cols = current.columns
    rows = rows.select(*cols)
    if current_version(spark, target) == 0:  # never written (just created): nothing to compare with
        with files_of_at_most(spark, rows_per_file):
            (clustered(rows, keys) if rows_per_file else rows).write.format("delta").mode("append").saveAsTable(target)
        return Written(inserted=int(last_metrics(spark, target).get("numOutputRows", 0)))
    # Computed once, without lineage: the comparison below uses the rows twice, and Catalyst's constraint
    # inference over a many-column null-safe join on top of a deep plan costs minutes.
    rows = rows.localCheckpoint(eager=True)
    if whole_at_most and scope is None:
        written = _rewrite_if_small(spark, target, rows, cols, keys, delete, whole_at_most)
        if written is not None:
            return written
        if delete:
            return _rewrite(target, rows, current, cols, keys)
    if scope is not None:
        current = _null_safe_join(current, scope.distinct(), scope.columns, "left_semi")
    upserts = _null_safe_join(rows, current, cols, "left_anti").withColumn("_op", F.lit("upsert"))
    changes = upserts
    if delete:
        gone = _null_safe_join(current, rows, keys, "left_anti").withColumn("_op", F.lit("delete"))
        changes = upserts.unionByName(gone)
    # Materialised without lineage: a cached plan that reads the target would be recomputed by Delta's
    # cache refresh after the MERGE commit, and the MERGE must not see its own output as source anyway.
    changes = changes.localCheckpoint(eager=True)
    if changes.isEmpty():
        return Written()
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    whole = [k for k in keys if isinstance(current.schema[k].dataType, (LongType, IntegerType, ShortType))]
    ids = key_list(changes, whole[0]) if rows_per_file and whole else None
    if ids:  # every key of the source is listed: Delta skips the files that cannot hold one
        on += " AND " + whole_numbers_sql(f"t.`{whole[0]}`", ids)
    assignments = {f"`{c}`": f"s.`{c}`" for c in cols}
    (DeltaTable.forName(spark, target).alias("t").merge(changes.alias("s"), on)
     .whenMatchedDelete(condition="s._op = 'delete'")
     .whenMatchedUpdate(set=assignments)
     .whenNotMatchedInsert(condition="s._op = 'upsert'", values=assignments)
     .execute())
    metrics = last_metrics(spark, target)
    return Written(int(metrics.get("numTargetRowsInserted", 0)), int(metrics.get("numTargetRowsUpdated", 0)),
                   int(metrics.get("numTargetRowsDeleted", 0)))


# Rows up to which a gold table without a change feed is compared on the driver and rewritten whole (sync).
SMALL_TABLE_ROWS = 5_000


def whole_at_most(table_id: str) -> int:
    """sync's `whole_at_most` for a gold table: 0 (always MERGE) for one with a change feed, whose readers get
    the rows that changed; a rewrite would show them every row removed and added again."""
    return 0 if lakedb.table(table_id).properties.get("delta.enableChangeDataFeed") == "true" else SMALL_TABLE_ROWS


def _rewrite_if_small(spark: SparkSession, target: str, rows: DataFrame, cols: list[str], keys: Sequence[str],
                      delete: bool, limit: int) -> Written | None:
    """sync of a small table, on the driver; None when either side has more than `limit` rows, or a key twice
    (`_rewrite` or the MERGE then says which)."""
    if rows.count() > limit:  # `rows` is materialised: counted from its blocks
        return None
    new = rows.collect()
    old = spark.table(target).select(*cols).limit(limit + 1).collect()
    if len(old) > limit:
        return None
    new_by = {tuple(r[k] for k in keys): tuple(r) for r in new}
    old_by = {tuple(r[k] for k in keys): tuple(r) for r in old}
    if len(new_by) < len(new) or len(old_by) < len(old):
        return None
    written = Written(inserted=len(new_by.keys() - old_by.keys()),
                      updated=sum(new_by[k] != old_by[k] for k in new_by.keys() & old_by.keys()),
                      deleted=len(old_by.keys() - new_by.keys()) if delete else 0)
    if written.total:
        content = list(new_by.values()) if delete else list({**old_by, **new_by}.values())
        # insertInto: an overwrite of the data only; the table's definition (comments, constraints) stays.
        local_frame(spark, content, rows.schema).write.insertInto(target, overwrite=True)
    return written


def _rewrite(target: str, rows: DataFrame, current: DataFrame, cols: list[str], keys: Sequence[str]) -> Written:
    """sync of a whole table without a change feed: compared in one pass (a full join on the keys) and, when a row
    differs, overwritten with `rows` in one commit. A MERGE would join the changes with the table and rewrite each
    file holding a changed key, which for a day's changes spread over the whole key range is every file, in more
    passes. A key twice in `rows` is refused (a MERGE would have inserted both rows of a new one)."""
    twice = rows.groupBy(*keys).count().where("count > 1").limit(1).collect()
    if twice:
        key = ", ".join(f"{k}={twice[0][k]!r}" for k in keys)
        raise ValueError(f"{target}: the new content has {twice[0]['count']} rows of key ({key}); keys are unique")
    new, old = rows.withColumn("_new", F.lit(True)).alias("n"), current.withColumn("_old", F.lit(True)).alias("o")
    n, o = _aliased("n"), _aliased("o")
    kind = (F.when(F.col("o._old").isNull(), "inserted").when(F.col("n._new").isNull(), "deleted")
            .when(~_all_equal(n, o, cols), "updated"))
    on = _all_equal(n, o, keys)
    counts = {r["kind"]: r["count"] for r in new.join(old, on, "full_outer").select(kind.alias("kind"))
              .where("kind IS NOT NULL").groupBy("kind").count().collect()}
    written = Written(counts.get("inserted", 0), counts.get("updated", 0), counts.get("deleted", 0))
    if written.total:
        # insertInto: an overwrite of the data only; the table's definition (comments, constraints) stays.
        rows.write.insertInto(target, overwrite=True)
    return written


def union_keys(frames: Iterable[DataFrame | None]) -> DataFrame | None:
    """Union of changed-key frames, materialised; None (= everything) if any of them is None."""
    frames = list(frames)
    if any(f is None for f in frames):
        return None
    # Computed once, here: a scope is used by every input it restricts and again by sync, and each use would
    # otherwise read the change feeds and run the distinct anew.
    return reduce(lambda a, b: a.unionByName(b), frames).distinct().localCheckpoint(eager=True)


def restrict(df: DataFrame, scope: DataFrame | None) -> DataFrame:
    """`df` limited to the rows whose scope columns appear in `scope` (all rows when scope is None)."""
    return df if scope is None else df.join(scope, list(scope.columns), "left_semi")
