"""What a job receives and returns: a session, the environment, and where to find its tables."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

import lakedb
from lakehouse_core.catalog import qualified
from lakehouse_core.config import Config

T = TypeVar("T")
# Clock skew allowed between the drivers of two runs (ops.run_log's start times and the times jobs record).
CLOCK_SKEW = dt.timedelta(minutes=5)


def once(read: Callable[[], T]) -> Callable[[], T]:
    """`read`, called on the first call only (by whichever job thread comes first); later calls get its value."""
    lock, value = threading.Lock(), []

    def get() -> T:
        with lock:
            if not value:
                value.append(read())
            return value[0]
    return get


def activate(session: SparkSession) -> None:
    """Make `session` the JVM's active session on this thread. A job thread has none of its own, and Spark falls
    back to resolving tables through the plain session catalog (not Delta's) for some writes."""
    jvm = getattr(session, "_jvm", None)
    if jvm is not None:
        jvm.SparkSession.setActiveSession(session._jsparkSession)


# Rows per partition of a DataFrame made from driver-side rows (local_frame).
LOCAL_ROWS_PER_PARTITION = 10_000


def local_frame(spark: SparkSession, rows: list, schema: StructType | str) -> DataFrame:
    """A DataFrame of a few rows held by the driver, in one partition per LOCAL_ROWS_PER_PARTITION rows.

    `createDataFrame(rows)` spreads even one row over `spark.default.parallelism` partitions, and a write then
    runs a task per partition, empty ones included: an ops commit of a handful of rows took 0.41 s against
    0.26 s from one partition (median of 12 one-row appends on 2 cores, 2026-12-07).
    """
    slices = min(max(1, -(-len(rows) // LOCAL_ROWS_PER_PARTITION)), spark.sparkContext.defaultParallelism)
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, slices), schema)


def append_rows(spark: SparkSession, name: str, table_id: str, rows: list[tuple]) -> None:
    """Append rows (tuples in the model's column order) to the table `name` modelled by `table_id`: one commit."""
    if rows:
        local_frame(spark, rows, lakedb.table(table_id).spark_schema()).write.format("delta").mode("append") \
            .saveAsTable(name)


class DeferredAppends:
    """Ops rows the jobs of one run hand over, appended together: one commit per table, not one per job.

    Each ops commit costs about half a second however few its rows, and a run of small jobs made dozens.
    The runner flushes before a job of another layer starts (a later layer may read them), after a failure and
    at the end of the run. The tables are written side by side, those flushed `last` (a job's commit point, e.g.
    ops.silver_watermark) after all the others are: a process killed in between leaves an attempt without its
    commit point, which the job's next run undoes, never a commit point without the rows it vouches for.
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], list[tuple]] = {}
        self._last: set[str] = set()
        self._layers: set[str] = set()
        self._lock = threading.Lock()

    def add(self, name: str, table_id: str, rows: list[tuple], layer: str, last: bool = False) -> None:
        if not rows:
            return
        with self._lock:
            self._rows.setdefault((name, table_id), []).extend(rows)
            self._layers.add(layer)
            if last:
                self._last.add(name)

    def pending_from_other_layer(self, layer: str) -> bool:
        with self._lock:
            return bool(self._layers - {layer})

    def flush(self, spark: SparkSession) -> int:
        """Write everything pending with `spark`; returns the number of commits. Held locked: a job that starts
        meanwhile waits for the rows it may read."""
        with self._lock:
            first = [k for k in self._rows if k[0] not in self._last]
            last = [k for k in self._rows if k[0] in self._last]

            def write(key: tuple[str, str]) -> tuple[str, str]:
                activate(spark)
                append_rows(spark, key[0], key[1], self._rows[key])
                return key

            # Tables of one group are independent commits: written side by side, they cost about one commit's time.
            for group in (first, last):
                if not group:
                    continue
                with ThreadPoolExecutor(max_workers=min(len(group), 4), thread_name_prefix="lakehouse-ops") as pool:
                    futures = [pool.submit(write, k) for k in group]
                errors = []
                for future in futures:
                    if future.exception() is None:
                        del self._rows[future.result()]
                    else:
                        errors.append(future.exception())
                if errors:  # what was written is forgotten; the rest stays pending (and no `last` table is written)
                    raise errors[0]
            self._layers.clear()
            self._last.clear()
            return len(first) + len(last)


@dataclass
class JobResult:
    rows_read: int | None = None
    rows_written: int | None = None
    rows_quarantined: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobContext:
    spark: SparkSession
    cfg: Config
    run_id: str
    job: str = ""
    full_refresh: bool = False
    log: Callable[[str], None] = print
    # Earlier runs on this root that did not end `succeeded` (run id, start time), as ops.run_log has them during
    # this run (runs are serialised per root); None when the job is called outside the runner (nothing known:
    # assume any).
    # Only such a run can have left a job's writes half done, so a job may skip its recovery check without one.
    # The runner passes a function that reads them on first use (by the first job that asks).
    unclean_runs: tuple[tuple[str, Any], ...] | Callable[[], tuple[tuple[str, Any], ...]] | None = None
    layer: str = ""
    # The runner's buffer for ops rows (one commit per table and run); None outside the runner: written at once.
    deferred: DeferredAppends | None = None
    # Lookups the jobs of one run share (e.g. the bronze ledger as the run found it); a fresh dict per run.
    run_cache: dict[str, Any] = field(default_factory=dict)

    def table(self, table_id: str) -> str:
        """`layer.name` from the model → the environment's `database.table`."""
        return qualified(self.cfg, table_id)

    def earlier_unclean_runs(self) -> tuple[tuple[str, Any], ...] | None:
        """`unclean_runs`, read now if the runner passed a reader."""
        if callable(self.unclean_runs):
            self.unclean_runs = self.unclean_runs()
        return self.unclean_runs

    def interrupted_since(self, moment: dt.datetime | None) -> bool:
        """Whether a run that failed or died may have written after `moment` (the job's last recorded success;
        None: none recorded), so that the job must look for half-done writes.

        Every run writes ops.run_log before its first job and marks it `succeeded` last, so an interrupted
        attempt belongs to a run that did not end `succeeded`; one that started before the job's last success
        was recorded was repaired (or never wrote) by that run. Outside the runner nothing is known: True.
        """
        unclean = self.earlier_unclean_runs()
        if unclean is None:
            return True
        return any(run != self.run_id and (moment is None or started is None or started >= moment - CLOCK_SKEW)
                   for run, started in unclean)

    def per_run(self, key: str, read: Callable[[], T]) -> T:
        """`read()`, shared by the jobs of the run: the first job to ask calls it (a second one asking meanwhile
        waits for it), later ones get its value. Outside the runner each job has a cache of its own."""
        return self.run_cache.setdefault(key, once(read))()

    def map_in_threads(self, fn: Callable[[Any], Any], items: list, workers: int) -> list:
        """`fn` over `items`, up to `workers` at a time, in threads that act as the job's own: the job's session
        is their active one (its commit tag, its catalog) and their Spark jobs join the job's job group.
        Results in the order of `items`; the first failure is raised once the others finished."""
        spark = self.spark
        sc = spark.sparkContext
        group, description = sc.getLocalProperty("spark.jobGroup.id"), sc.getLocalProperty("spark.job.description")

        def call(item: Any) -> Any:
            activate(spark)
            if group:
                sc.setJobGroup(group, description or group)
            return fn(item)

        if workers <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        # Not pool.map: its iterator cancels the items not yet started as soon as one result raises,
        # so the other reports would be skipped, not finished. Leaving the pool waits for every future.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.job or "job") as pool:
            futures = [pool.submit(call, item) for item in items]
        return [future.result() for future in futures]

    def append_ops(self, table_id: str, rows: list[tuple], last: bool = False) -> None:
        """Append ops rows: with the run's other ops rows when the runner buffers them, else now.
        `last`: the job's commit point, written after its other ops rows."""
        if self.deferred is not None:
            self.deferred.add(self.table(table_id), table_id, rows, self.layer, last)
        else:
            append_rows(self.spark, self.table(table_id), table_id, rows)
