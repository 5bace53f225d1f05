"""The silver engine: one run of one entity, from the bronze rows it has not seen to its silver table.

Steps, each accounted for per bronze table and batch in ops.batch_outcome (the conservation ledger):
1. read what bronze received since the last run: nothing if bronze's Delta version is the one in
   ops.silver_watermark, else the rows of the current snapshot ingested after the watermark's `_ingested_at`
   (file skipping on bronze's `_ingested_at` statistics; unlike the Change Data Feed this survives bronze's
   OPTIMIZE and VACUUM); the whole snapshot on the first run or with --full-refresh;
2. lines bronze could not parse -> quarantined with bronze's reason; rows of a re-sent file -> duplicates;
3. conform (types, trimming, canonical values) and check the table's rules: quarantine / warn / fail;
4. hold rows whose customer is unknown, release held rows whose customer has arrived;
5. absorb entity-specific duplicates (rows payments_v2 re-sent under new ids);
6. apply the rest in batch order (jobs.silver.history): MERGE into silver, or an append when every row
   written is new; count accepted and duplicates.

The job's last commit is its ops.silver_watermark row (under the runner, the ops rows of a layer's jobs are
committed together when the layer is done, the watermarks last: lakehouse_core.context.DeferredAppends).
An attempt that died before it (SIGKILL, a failure) is undone first: the silver table is restored to the
version before that attempt's commits (each carries its run id in Delta's userMetadata) and its ops rows are
taken back, so the rerun counts every row once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

import lakedb
from jobs.silver import expectations as ex
from jobs.silver import history as h
from jobs.silver.conform import text
from lakedb.model import Table
from lakedb.sources import source_of_bronze
from lakehouse_core.conflicts import retry_on_conflict
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.delta_log import current_version
from lakehouse_core.layout import (
    clustered,
    files_of_at_most,
    key_list,
    rows_per_file,
    whole_number_in,
    whole_numbers_sql,
)
from lakehouse_core.runner import utcnow

LINEAGE = ("_batch", "_source_file", "_run_id")
HISTORY = ("valid_from", "valid_to", "is_current")
STAGE_LINEAGE = ("_batch", "_source_file", "_source_table")
OUTCOMES = ("accepted", "quarantined", "duplicates", "held")

Parse = Callable[[Column], Column]


@dataclass(frozen=True)
class Source:
    """One bronze table feeding the entity: silver column -> (bronze column, parse function)."""

    bronze: str
    columns: dict[str, tuple[str, Parse]]
    constants: dict[str, str] = field(default_factory=dict)

    @property
    def landing_source(self) -> str:
        """The landing source name (system/entity) of the bronze table, as ops.ingested_file records it."""
        return source_of_bronze(self.bronze).name


@dataclass(frozen=True)
class Entity:
    """A silver table and how it is built: `key` identifies a row's subject, `member` (for sets) what it holds."""

    job: str
    table: str
    sources: tuple[Source, ...]
    key: tuple[str, ...]
    history: Literal["latest", "profile", "set", "accumulate"]
    member: tuple[str, ...] = ()
    # (ready rows, silver table) -> ready rows with `_absorbed`: duplicates only this entity can recognise.
    absorb: Callable[[DataFrame, DataFrame], DataFrame] | None = None

    @property
    def model(self) -> Table:
        return lakedb.table(self.table)

    @property
    def content(self) -> list[str]:
        return [c for c in self.model.column_names if c not in (*LINEAGE, *HISTORY, "row_hash")]


# ---------------------------------------------------------------- transforms (no I/O)

def stage(bronze: DataFrame, src: Source, entity: Entity) -> DataFrame:
    """Bronze rows -> silver columns (typed, repaired), `_src` (trimmed source text), lineage and the record."""
    model = entity.model
    values, texts = [], []
    for name in entity.content:
        typ = model.column(name).type
        if name in src.columns:
            column, parse = src.columns[name]
            values.append(parse(F.col(column)).cast(typ).alias(name))
            texts.append(text(F.col(column)).alias(name))
        elif name in src.constants:
            values.append(F.lit(src.constants[name]).cast(typ).alias(name))
            texts.append(F.lit(src.constants[name]).alias(name))
        else:
            values.append(F.lit(None).cast(typ).alias(name))
            texts.append(F.lit(None).cast("string").alias(name))
    bronze_cols = [c.name for c in lakedb.table(src.bronze).columns if not c.name.startswith("_")]
    corrupt = F.col("_corrupt_reason").isNotNull()
    # The record as it arrived; for an unparseable line, bronze's redacted raw line (no password either way).
    record = F.when(corrupt, F.to_json(F.struct(F.col("_raw_line").alias("_raw_line")))).otherwise(
        F.to_json(F.struct(*[F.col(c) for c in bronze_cols], F.col("_rescued_data"))))
    return bronze.select(*values, F.struct(*texts).alias("_src"), "_batch", "_source_file",
                         F.lit(src.bronze).alias("_source_table"), record.alias("_record"), "_corrupt_reason",
                         "_ingested_at")


def checked(staged: DataFrame, entity: Entity, resent: list[str]) -> DataFrame:
    """Staged rows with rule results and `_stage`: quarantined, duplicate (re-sent file) or kept."""
    corrupt = F.col("_corrupt_reason").isNotNull()
    resend = F.col("_source_file").isin(resent) if resent else F.lit(False)
    parsed = ~corrupt & ~resend
    identity = [*entity.key, *entity.member]
    contents = F.collect_set(F.when(parsed, h.content_hash(entity.content)))
    keyed = F.lit(True)
    for c in identity:
        keyed = keyed & F.col(c).isNotNull()
    # Rows without a usable key are valid_id's or required_fields' business, not a key conflict.
    key_contents = F.size(contents.over(Window.partitionBy(*identity, "_source_table", "_batch")))
    df = staged.withColumn("_key_contents", F.when(keyed, key_contents).otherwise(1))
    df = ex.with_rule_results(df, ex.row_rules(entity.model), checked=parsed)
    stage_ = (F.when(corrupt, "quarantined").when(resend, "duplicate")
              .when(F.col("_reason").isNotNull(), "quarantined").otherwise("kept"))
    return df.withColumn("_parsed", parsed).withColumn("_stage", stage_)


def quarantine_rows(df: DataFrame, table: str, run_id: str, at: dt.datetime) -> DataFrame:
    corrupt = F.col("_corrupt_reason").isNotNull()
    return df.where(F.col("_stage") == "quarantined").select(
        F.lit(table).alias("table"), F.col("_source_table").alias("source_table"),
        F.coalesce("_corrupt_reason", "_reason").alias("rule"),
        F.when(corrupt, F.array("_corrupt_reason")).otherwise(F.col("_failed")).alias("failed_rules"),
        F.when(corrupt, "bronze").otherwise("silver").alias("detected_in"),
        F.col("_batch").alias("batch"), F.col("_source_file").alias("source_file"), F.col("_record").alias("record"),
        F.lit(run_id).alias("run_id"), F.lit(at).alias("quarantined_at"))


def with_customer_known(rows: DataFrame, customers: DataFrame) -> DataFrame:
    known = customers.select("customer_id").distinct().withColumn("_customer_known", F.lit(True))
    return (rows.join(known, "customer_id", "left")
            .withColumn("_customer_known", F.coalesce("_customer_known", F.lit(False))))


# ---------------------------------------------------------------- I/O helpers

def read_bronze(spark: SparkSession, name: str, version: int, after: dt.datetime | None) -> DataFrame:
    """Bronze as of `version`, only rows ingested after `after` (all of them when it is None)."""
    df = spark.sql(f"SELECT * FROM {name} VERSION AS OF {version}")
    return df if after is None else df.where(F.col("_ingested_at") > F.lit(after))


@dataclass(frozen=True)
class Mark:
    version: int
    ingested_at: dt.datetime | None
    updated_at: dt.datetime | None  # when the job's last successful run recorded it


def watermarks(ctx: JobContext, job: str) -> dict[str, Mark]:
    """The job's watermark per bronze table. The silver jobs of a run share one read: a job's rows are written only
    by itself, once per run and after this read (the runner defers them), so the first read holds every job's."""
    def read() -> dict[str, dict[str, Mark]]:
        rows = (ctx.spark.table(ctx.table("ops.silver_watermark"))
                .groupBy("job", "source_table")
                .agg(F.max("version").alias("v"), F.max("ingested_at").alias("t"), F.max("updated_at").alias("u"))
                .collect())
        marks: dict[str, dict[str, Mark]] = defaultdict(dict)
        for r in rows:
            marks[r.job][r.source_table] = Mark(r.v, r.t, r.u)
        return marks

    return dict(ctx.per_run("silver_watermarks", read).get(job, {}))


def resent_files(ctx: JobContext, entity: Entity, after: dict[str, dt.datetime | None]) -> list[str]:
    """New files whose rows are exactly those of an earlier file of the same source (a file delivered again).

    `after`: per landing source this run reads, the ingestion time after which its bronze rows are new (None: all
    of them). A file is new when the ledger's ingestion time is later: the ledger row is written with the file's
    bronze rows' time, or later when a run recovers a file an interrupted one wrote, so every file among the rows
    read is new. Candidates share size and line count in the ledger; the rows of those few files then decide.
    """
    by_name = {s.landing_source: s for s in entity.sources if s.landing_source in after}
    if not by_name:
        return []
    ledger = (ctx.spark.table(ctx.table("ops.ingested_file")).where(F.col("source").isin(list(by_name)))
              .where(F.col("rows_read") > 0)
              .select("source", "file", "batch", "size_bytes", "rows_read", "ingested_at").collect())
    groups: dict[tuple, list] = defaultdict(list)
    for r in ledger:
        groups[(r.source, r.size_bytes, r.rows_read)].append(r)
    resent = []
    for (source, _, _), files in groups.items():
        since = after[source]
        new = {f.file for f in files if since is None or f.ingested_at > since}
        if len(files) < 2 or not new:
            continue
        src = by_name[source]
        prints = fingerprints(ctx, src, [f.file for f in files])
        order = sorted(files, key=lambda f: (f.file in new, f.batch or dt.date.min, f.file))
        seen: set = set()
        for f in order:
            fp = prints.get(f.file)
            if fp is None:
                continue
            if fp in seen and f.file in new:
                resent.append(f.file)
            seen.add(fp)
    return resent


def fingerprints(ctx: JobContext, src: Source, files: list[str]) -> dict[str, tuple]:
    cols = [c.name for c in lakedb.table(src.bronze).columns if c.name not in ("_source_file", "_batch",
                                                                              "_ingested_at", "_run_id")]
    row = F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in cols])))
    rows = (ctx.spark.table(ctx.table(src.bronze)).where(F.col("_source_file").isin(files))
            .groupBy("_source_file")
            .agg(F.count(F.lit(1)).alias("n"), F.sum(row.cast("decimal(38,0)")).alias("s"), F.bit_xor(row).alias("x"))
            .collect())
    return {r._source_file: (r.n, r.s, r.x) for r in rows}


def open_held(ctx: JobContext, entity: Entity, schema: StructType) -> DataFrame:
    held = ctx.spark.table(ctx.table("ops.held_record"))
    return (held.where((F.col("table") == entity.table) & F.col("released_run_id").isNull())
            .select(F.from_json("record", schema).alias("r")).select("r.*"))


def merge(spark: SparkSession, target: str, source: DataFrame, on: list[str], view: str,
          nullable: set[str], history: bool, prune: tuple[str, list[int]] | None = None) -> None:
    """MERGE by key: an upsert for latest state, or insert/update/delete actions for a history diff.

    `prune` is a whole-number key column and every value of it the source holds (`key_list`): they are also
    given as a literal IN list, so Delta skips the target files that cannot match (files are clustered by key).
    """
    source.createOrReplaceTempView(view)
    cond = " AND ".join(f"t.`{c}` {'<=>' if c in nullable else '='} s.`{c}`" for c in on)
    if prune and prune[1]:
        cond += " AND " + whole_numbers_sql(f"t.`{prune[0]}`", prune[1])
    cols = [c for c in source.columns if c != "_action"]
    if history:
        sets = ", ".join(f"t.`{c}` = s.`{c}`" for c in cols)
        names = ", ".join(f"`{c}`" for c in cols)
        values = ", ".join(f"s.`{c}`" for c in cols)
        clauses = (f"WHEN MATCHED AND s._action = 'delete' THEN DELETE "
                   f"WHEN MATCHED AND s._action = 'update' THEN UPDATE SET {sets} "
                   f"WHEN NOT MATCHED AND s._action = 'insert' THEN INSERT ({names}) VALUES ({values})")
    else:
        clauses = "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    try:
        spark.sql(f"MERGE INTO {target} t USING {view} s ON {cond} {clauses}")
    finally:
        spark.catalog.dropTempView(view)


def append(spark: SparkSession, ctx: JobContext, table_id: str, rows: list[tuple]) -> None:
    """Ops rows of the job; under the runner they are committed with the run's others, the watermark last."""
    ctx.append_ops(table_id, rows, last=table_id == "ops.silver_watermark")


# A job's quarantined or held rows, up to this many, are collected and committed with the run's other ops rows (one
# commit per table and layer, not one per job); more (a first load's) are appended by Spark from where they are.
DEFER_ROWS = 10_000


def append_frame(ctx: JobContext, table_id: str, rows: DataFrame, n: int,
                 lock: threading.Lock | None = None) -> None:
    """The `n` rows of `rows` appended to the ops table `table_id` (its columns by name); `lock` is held while
    this job commits them itself."""
    rows = rows.select(*lakedb.table(table_id).column_names)
    if ctx.deferred is not None and n <= DEFER_ROWS:
        ctx.append_ops(table_id, [tuple(r) for r in rows.collect()])
        return
    with lock or contextlib.nullcontext():
        rows.write.format("delta").mode("append").saveAsTable(ctx.table(table_id))


# The silver jobs of a run run in threads of one driver; the catalog's check-then-create in CREATE OR REPLACE VIEW is
# not atomic, and two jobs creating the view at once made one of them fail with TABLE_OR_VIEW_ALREADY_EXISTS.
_VIEW_LOCK = threading.Lock()
# ops.held_record is written by every entity that holds rows: a release (MERGE) beside another job's hold (append)
# or release fails Delta's conflict check and runs again. One writer at a time in this driver: the other waits.
_HELD_LOCK = threading.Lock()


def ensure_conservation_view(ctx: JobContext, replace: bool = False) -> None:
    """The view `ops.conservation` over the ledger (created once; --full-refresh recreates it)."""
    with _VIEW_LOCK:
        _ensure_conservation_view(ctx, replace)


def _ensure_conservation_view(ctx: JobContext, replace: bool) -> None:
    name = f"{ctx.cfg.database('ops')}.conservation"
    if not replace and ctx.spark.catalog.tableExists(name):
        return
    ctx.spark.sql(f"""
        CREATE OR REPLACE VIEW {name}
        COMMENT 'Conservation per silver entity, bronze table and batch: bronze_rows = accepted + quarantined + duplicates + held.'
        AS SELECT substring_index(`table`, '.', -1) AS entity, substring_index(source_table, '.', -1) AS source,
                  batch, sum(bronze_rows) AS bronze_rows, sum(accepted) AS accepted, sum(quarantined) AS quarantined,
                  sum(duplicates) AS duplicates, sum(held) AS held,
                  sum(bronze_rows) = sum(accepted) + sum(quarantined) + sum(duplicates) + sum(held) AS balanced
           FROM {ctx.table('ops.batch_outcome')}
           GROUP BY `table`, source_table, batch""")


def reset(ctx: JobContext, entity: Entity) -> None:
    """--full-refresh: forget what the entity's earlier runs recorded; the rebuild records it again."""
    for table_id in ("ops.quarantine", "ops.held_record", "ops.batch_outcome"):
        name = ctx.table(table_id)
        retry_on_conflict(lambda n=name: ctx.spark.sql(f"DELETE FROM {n} WHERE `table` = '{entity.table}'"),
                          log=ctx.log, what=f"DELETE from {table_id}")


def _commit_run(row, job: str) -> str | None:
    """The run id in a commit's userMetadata when `job` made the commit (the runner tags every commit)."""
    try:
        tag = json.loads(row.userMetadata or "")
    except ValueError:
        return None
    return tag.get("run_id") if isinstance(tag, dict) and tag.get("job") == job else None


def may_have_orphans(ctx: JobContext, marks: dict[str, Mark]) -> bool:
    """False when no run that failed or died started after this job's last success: nothing to undo
    (JobContext.interrupted_since)."""
    return ctx.interrupted_since(max((m.updated_at for m in marks.values() if m.updated_at is not None),
                                     default=None))


def recover(ctx: JobContext, entity: Entity, target: str) -> list[str]:
    """Undo the writes of this job's interrupted attempts: runs that wrote but never recorded a watermark.

    Returns their run ids (normally none). The silver table goes back to the version before their commits;
    their quarantine, held, outcome and rule rows are deleted; rows they released are open again.
    """
    spark, job, table = ctx.spark, entity.job, entity.table
    quarantine, outcome, dq = ctx.table("ops.quarantine"), ctx.table("ops.batch_outcome"), ctx.table("ops.dq_result")
    held = ctx.table("ops.held_record") if ex.hold_rules(entity.model) else None  # only entities that hold rows
    history = spark.sql(f"DESCRIBE HISTORY {target} LIMIT 50").select("version", "userMetadata").collect()
    tagged = [(h.version, _commit_run(h, job)) for h in history]
    mine = F.col("table") == table
    written = (spark.table(quarantine).where(mine).select("run_id")
               .unionByName(spark.table(outcome).where(mine).select("run_id"))
               .unionByName(spark.table(dq).where(F.col("job") == job).select("run_id")))
    if held is not None:
        written = (written.unionByName(spark.table(held).where(mine).select(F.col("held_run_id").alias("run_id")))
                   .unionByName(spark.table(held).where(mine & F.col("released_run_id").isNotNull())
                                .select(F.col("released_run_id").alias("run_id"))))
    commits = sorted({r for _, r in tagged if r})
    if commits:
        written = written.unionByName(spark.createDataFrame([(r,) for r in commits], "run_id string"))
    finished = spark.table(ctx.table("ops.silver_watermark")).where(F.col("job") == job).select("run_id")
    orphans = sorted(r.run_id for r in written.distinct().join(finished, "run_id", "left_anti").collect())
    if not orphans:
        return []
    ctx.log(f"undoing {len(orphans)} interrupted attempt(s) of {job}: {', '.join(orphans)}")
    restore_to = None
    for version, run in tagged:  # newest first: the interrupted attempt's commits are the latest ones
        if run not in orphans:
            break
        restore_to = version - 1
    if restore_to is not None:
        spark.sql(f"RESTORE TABLE {target} TO VERSION AS OF {restore_to}")
    ids = ", ".join(f"'{r}'" for r in orphans)  # run ids are ours: yyyymmddThhmmss-hex
    deletes = [(quarantine, f"`table` = '{table}' AND run_id IN ({ids})"),
               (outcome, f"`table` = '{table}' AND run_id IN ({ids})"),
               (dq, f"job = '{job}' AND run_id IN ({ids})")]
    if held is not None:
        deletes.append((held, f"`table` = '{table}' AND held_run_id IN ({ids})"))
    for name, cond in deletes:
        retry_on_conflict(lambda n=name, c=cond: spark.sql(f"DELETE FROM {n} WHERE {c}"), log=ctx.log,
                          what=f"DELETE from {name}")
    if held is not None:
        retry_on_conflict(lambda: spark.sql(
            f"UPDATE {held} SET released_run_id = NULL, released_at = NULL "
            f"WHERE `table` = '{table}' AND released_run_id IN ({ids})"), log=ctx.log, what=f"UPDATE of {held}")
    return orphans


# ---------------------------------------------------------------- the run

def run(ctx: JobContext, entity: Entity) -> JobResult:
    spark, model, now = ctx.spark, entity.model, utcnow()
    target = ctx.table(entity.table)
    ctx.table("ops.quarantine")  # resolved (the run's record of the tables a job uses) even when nothing is rejected
    marks = watermarks(ctx, entity.job)  # an interrupted attempt never wrote one: recovery leaves them as they are
    if ctx.full_refresh:
        reset(ctx, entity)
    elif may_have_orphans(ctx, marks):
        recover(ctx, entity, target)
    rebuild = ctx.full_refresh or not marks
    holds = ex.hold_rules(model)

    versions, frames, after = {}, [], {}
    for src in entity.sources:
        name = ctx.table(src.bronze)
        versions[src.bronze] = current_version(spark, name)
        mark = None if rebuild else marks.get(src.bronze)
        if mark is not None and mark.version > versions[src.bronze]:
            ctx.log(f"{src.bronze} is older than the watermark (recreated?): reading all of it")
            mark = None
        if mark is not None and mark.version == versions[src.bronze]:
            continue
        after[src.landing_source] = mark.ingested_at if mark else None
        df = read_bronze(spark, name, versions[src.bronze], after[src.landing_source])
        frames.append(stage(df, src, entity))
    staged_cols = [*entity.content, *STAGE_LINEAGE]
    if not frames:
        if not holds or not _releasable(ctx, entity):
            ctx.log("no new bronze rows, nothing to release: silver unchanged")
            return JobResult(rows_read=0, rows_written=0, rows_quarantined=0)
        empty = stage(spark.table(ctx.table(entity.sources[0].bronze)).limit(0), entity.sources[0], entity)
        frames = [empty]
    staged = frames[0]
    for other in frames[1:]:
        staged = staged.unionByName(other)

    resent = resent_files(ctx, entity, after)
    if resent:
        ctx.log(f"{len(resent)} re-sent file(s): their rows are duplicates")

    rules = ex.row_rules(model)
    rows = checked(staged, entity, resent).persist()
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(("bronze_rows", *OUTCOMES), 0))
    failed: dict[str, int] = defaultdict(int)
    parsed_rows = 0
    last_ingested: dict[str, dt.datetime] = {}
    for r in (rows.groupBy("_source_table", "_batch")
              .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("_parsed").cast("long")).alias("parsed"),
                   F.max("_ingested_at").alias("ingested_at"),
                   F.sum((F.col("_stage") == "quarantined").cast("long")).alias("quarantined"),
                   F.sum((F.col("_stage") == "duplicate").cast("long")).alias("duplicates"),
                   *ex.failure_counts(rules))
              .collect()):
        c = counts[(r._source_table, r._batch)]
        c["bronze_rows"] += r.n
        c["quarantined"] += r.quarantined
        c["duplicates"] += r.duplicates
        parsed_rows += r.parsed
        last_ingested[r._source_table] = max(last_ingested.get(r._source_table, r.ingested_at), r.ingested_at)
        for rule in rules:
            failed[rule.name] += r[rule.name] or 0
    ex.raise_for_fail(model, failed)
    if not counts and (not holds or not _releasable(ctx, entity)):
        # Bronze moved (e.g. OPTIMIZE) without new rows: only the watermark advances.
        rows.unpersist()
        append(spark, ctx, "ops.silver_watermark", [(entity.job, src, v, None, 0, ctx.run_id, now)
                                                    for src, v in versions.items()])
        return JobResult(rows_read=0, rows_written=0, rows_quarantined=0)
    dq = [(ctx.run_id, entity.job, entity.table, rule.name, rule.action, parsed_rows, failed[rule.name], now)
          for rule in rules]

    quarantined = sum(c["quarantined"] for c in counts.values())
    if quarantined:
        append_frame(ctx, "ops.quarantine", quarantine_rows(rows, entity.table, ctx.run_id, now), quarantined)
    ready = rows.where(F.col("_stage") == "kept").select(*staged_cols)

    released = held_now = 0
    cands = None
    if holds:
        schema = StructType([ready.schema[c] for c in staged_cols])
        cands = (ready.withColumn("_was_held", F.lit(False))
                 .unionByName(open_held(ctx, entity, schema).withColumn("_was_held", F.lit(True))))
        cands = with_customer_known(cands, spark.table(ctx.table("silver.customer")))
        is_held = F.lit(False)
        for rule in holds:
            is_held = is_held | ex.broken(rule)
        # A checkpoint, not a cache: writing ops.held_record below would make Spark drop a cache whose plan
        # reads it, and recomputing would no longer see the rows being released.
        cands = cands.withColumn("_held", is_held).localCheckpoint(eager=True)
        checked_n, held_n = 0, 0
        for r in (cands.groupBy("_source_table", "_batch", "_was_held", "_held").count().collect()):
            checked_n += r["count"]
            held_n += r["count"] if r._held else 0
            c = counts[(r._source_table, r._batch)]
            if r._held and not r._was_held:
                c["held"] += r["count"]
                held_now += r["count"]
            elif r._was_held and not r._held:
                c["held"] -= r["count"]
                released += r["count"]
        dq += [(ctx.run_id, entity.job, entity.table, rule.name, rule.action, checked_n, held_n, now)
               for rule in holds]
        if held_now:
            _hold(ctx, entity, cands.where(F.col("_held") & ~F.col("_was_held")), held_now, staged_cols, now)
        if released:
            _release(ctx, entity, cands.where(~F.col("_held") & F.col("_was_held")), now)
        ready = cands.where(~F.col("_held")).select(*staged_cols)

    # A rebuild reads all of bronze: whatever silver holds is among `ready` again (and on a new lake, nothing).
    current_all = spark.createDataFrame([], model.spark_schema()) if rebuild else spark.table(target)
    absorbing = None
    if entity.absorb is not None:
        absorbing = entity.absorb(ready, current_all).persist()
        for r in absorbing.where("_absorbed").groupBy("_source_table", "_batch").count().collect():
            counts[(r._source_table, r._batch)]["duplicates"] += r["count"]
        ready = absorbing.where(~F.col("_absorbed")).drop("_absorbed")

    owner = list(entity.key)
    prune = None
    if rebuild:
        current = current_all
    else:
        # Few incoming ids: read only the target files that can hold them (files are clustered by key).
        prune_col = next((c for c in entity.key if model.column(c).type == "BIGINT"), None)
        ids = key_list(ready, prune_col) if prune_col else None
        prune = (prune_col, ids) if ids is not None else None
        held_keys = current_all.where(whole_number_in(prune_col, ids)) if prune else current_all
        current = held_keys.join(ready.select(*owner).distinct(), owner, "left_semi")
        if entity.history != "latest":
            # A history's transforms read silver's rows of the touched keys three or four times (periods, starts,
            # diff), and the counts below and the MERGE each again: read once. A checkpoint, like `cands` above.
            current = current.localCheckpoint(eager=True)
    outcomes, write, on, diffed = _apply(entity, ready, current, ctx.run_id, rebuild)
    outcomes = outcomes.persist()
    applied = F.col("_apply") if "_apply" in outcomes.columns else F.lit(False)
    stored = F.col("_stored") if "_stored" in outcomes.columns else F.lit(False)
    rows_written = updates = 0
    for r in outcomes.groupBy("_source_table", "_batch", "_outcome", applied.alias("_applied"),
                              stored.alias("_stored")).count().collect():
        counts[(r._source_table, r._batch)]["accepted" if r._outcome == "accepted" else "duplicates"] += r["count"]
        rows_written += r["count"] if r._applied else 0
        updates += r["count"] if r._applied and r._stored else 0
    if diffed:  # a history diff may close periods without any row being new: count what it changes
        write = write.persist()
        if rebuild:
            rows_written = write.count()
        else:
            actions = {r._action: r["count"] for r in write.groupBy("_action").count().collect()}
            rows_written = sum(actions.values())
            updates = rows_written - actions.get("insert", 0)
    if rebuild:
        # Files clustered by key: a later MERGE rewrites only the few files its keys fall in.
        with files_of_at_most(spark, rows_per_file(ctx.cfg)):
            clustered(write.select(*model.column_names), entity.key, on).write.insertInto(target, overwrite=True)
    elif rows_written and not updates:
        # Only rows silver does not hold (new ids, new periods): an append, without MERGE's join of the target.
        write.select(*model.column_names).write.insertInto(target)
    elif rows_written:
        nullable = {c.name for c in model.columns if c.nullable}
        merge(spark, target, write, on, f"silver_merge_{entity.job}", nullable, diffed, prune)

    append(spark, ctx, "ops.batch_outcome", [
        (ctx.run_id, entity.table, src, batch, c["bronze_rows"], c["accepted"], c["quarantined"], c["duplicates"],
         c["held"], now) for (src, batch), c in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))])
    append(spark, ctx, "ops.dq_result", dq)
    read_rows = sum(c["bronze_rows"] for c in counts.values())
    append(spark, ctx, "ops.silver_watermark", [
        (entity.job, src, version, last_ingested.get(src),
         sum(c["bronze_rows"] for (s, _), c in counts.items() if s == src), ctx.run_id, now)
        for src, version in versions.items()])
    ensure_conservation_view(ctx, replace=ctx.full_refresh)
    # Dependents first: unpersisting a cached plan re-plans every cached plan built on it (rows -> ... -> write).
    for df in (write, outcomes, absorbing, cands, rows):
        if df is not None:
            df.unpersist()
    totals = {k: sum(c[k] for c in counts.values()) for k in OUTCOMES}
    detail = {**totals, "released": released, "resent_files": len(resent), "rebuild": rebuild,
              "rules_failed": {k: v for k, v in failed.items() if v}}
    ctx.log(f"{entity.table}: {read_rows} bronze rows -> " + ", ".join(f"{v} {k}" for k, v in totals.items())
            + (f"; {released} released" if released else ""))
    return JobResult(rows_read=read_rows, rows_written=rows_written, rows_quarantined=totals["quarantined"],
                     detail=detail)


def _apply(entity: Entity, ready: DataFrame, current: DataFrame, run_id: str, rebuild: bool
           ) -> tuple[DataFrame, DataFrame, list[str], bool]:
    """(incoming rows with `_outcome`, rows to write, MERGE key, whether they are a history diff)."""
    columns = entity.model.column_names
    run = F.lit(run_id).alias("_run_id")
    if entity.history == "latest":
        rows = h.latest(ready, current, entity.key, entity.content)
        write = rows.where("_apply").select(*[c for c in columns if c != "_run_id"], run)
        return rows, write.select(*columns), list(entity.key), False
    if entity.history == "profile":
        outcomes, hist = h.profile_history(ready, current, entity.key, entity.content)
        row_id, compare = [*entity.key, "valid_from"], ["row_hash", "valid_to", "is_current"]
    elif entity.history == "set":
        outcomes, hist = h.set_history(ready, current, entity.key, entity.member)
        row_id, compare = [*entity.key, *entity.member, "valid_from"], ["valid_to", "is_current"]
    else:
        outcomes, hist = h.accumulating_history(ready, current, entity.key, entity.member)
        row_id, compare = [*entity.key, *entity.member, "valid_from"], ["valid_to", "is_current"]
    hist = hist.withColumn("_run_id", F.lit(run_id))
    if rebuild:
        return outcomes, hist.select(*columns), row_id, True
    return outcomes, h.diff(hist, current, row_id, compare, columns), row_id, True


def _releasable(ctx: JobContext, entity: Entity) -> bool:
    held = (ctx.spark.table(ctx.table("ops.held_record"))
            .where((F.col("table") == entity.table) & F.col("released_run_id").isNull())
            .select(F.col("parent_id").alias("customer_id")))
    customers = ctx.spark.table(ctx.table("silver.customer")).select("customer_id")
    return held.join(customers, "customer_id", "left_semi").limit(1).count() > 0


def _hold(ctx: JobContext, entity: Entity, rows: DataFrame, n: int, cols: list[str], now: dt.datetime) -> None:
    rule = ex.hold_rules(entity.model)[0].name
    rows = rows.select(
        F.lit(entity.table).alias("table"), F.col("_source_table").alias("source_table"), F.lit(rule).alias("rule"),
        F.to_json(F.struct(*[F.col(k) for k in entity.key])).alias("key"), F.col("customer_id").alias("parent_id"),
        F.col("_batch").alias("batch"), F.col("_source_file").alias("source_file"),
        F.to_json(F.struct(*[F.col(c) for c in cols])).alias("record"),
        F.lit(ctx.run_id).alias("held_run_id"), F.lit(now).alias("held_at"),
        F.lit(None).cast("string").alias("released_run_id"), F.lit(None).cast("timestamp").alias("released_at"))
    append_frame(ctx, "ops.held_record", rows, n, lock=_HELD_LOCK)


def _release(ctx: JobContext, entity: Entity, rows: DataFrame, now: dt.datetime) -> None:
    view = f"silver_release_{entity.job}"
    rows.select(F.col("customer_id").alias("parent_id")).distinct().createOrReplaceTempView(view)
    try:
        # Jobs of this driver take turns (_HELD_LOCK); a writer elsewhere can still win the race: then it runs again.
        with _HELD_LOCK:
            retry_on_conflict(lambda: ctx.spark.sql(f"""
                MERGE INTO {ctx.table('ops.held_record')} t USING {view} s
                ON t.`table` = '{entity.table}' AND t.released_run_id IS NULL AND t.parent_id = s.parent_id
                WHEN MATCHED THEN UPDATE SET released_run_id = '{ctx.run_id}', released_at = timestamp'{now.isoformat(sep=" ")}'"""),
                log=ctx.log, what="release MERGE into ops.held_record")
    finally:
        ctx.spark.catalog.dropTempView(view)
