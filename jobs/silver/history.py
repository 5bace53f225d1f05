"""Pure transforms that apply incoming rows to what silver holds: latest state (SCD1) or history (SCD2).

Every function takes the incoming rows (silver columns plus `_batch`, `_source_file`, `_source_table`) and
the current silver rows of the keys they touch, orders both per key by delivery day, and returns
- the incoming rows with `_outcome`: `accepted` (it started a version) or `duplicate` (it changed nothing);
- what to write: the rows to upsert (`latest`) or a diff of the history with `_action` insert/update/delete.
Ordering by `_batch`, never by arrival, is what makes batches processed together or out of order land
exactly as if they had come one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# Per key: earlier deliveries first; at the same day silver's row before an incoming one, so an incoming row
# equal to it is a duplicate and a different one replaces it.
ORDER = ("_batch", "_incoming", "_source_file", "_hash")


def content_hash(columns: Sequence[str]) -> Column:
    return F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in columns])))


def profile_hash(columns: Sequence[str]) -> Column:
    """SHA-256 of the attributes (the silver.customer row_hash)."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns])), 256)


def _outcome(dup: Column) -> Column:
    return F.when(dup, F.lit("duplicate")).otherwise(F.lit("accepted"))


def _events(incoming: DataFrame, current: DataFrame, key: Sequence[str], content: Sequence[str],
            hash_col: Column, day: str = "_batch") -> DataFrame:
    """Incoming rows and silver's rows as one sequence per key, each flagged `_dup` if equal to the one before."""
    inc = incoming.select(*key, *[c for c in content if c not in key], "_batch", "_source_file", "_source_table",
                          F.lit(True).alias("_incoming"))
    cur = current.select(*key, *[c for c in content if c not in key], F.col(day).alias("_batch"), "_source_file",
                         F.lit(None).cast("string").alias("_source_table"), F.lit(False).alias("_incoming"))
    rows = inc.unionByName(cur).withColumn("_hash", hash_col)
    w = Window.partitionBy(*key).orderBy(*ORDER)
    return rows.withColumn("_dup", F.coalesce(F.lag("_hash").over(w) == F.col("_hash"), F.lit(False)))


def latest(incoming: DataFrame, current: DataFrame, key: Sequence[str], content: Sequence[str]) -> DataFrame:
    """SCD1: incoming rows with `_outcome`, and `_apply` on the one per key that silver must take.

    The winner is the last row, in batch order, that differs from the one before it; nothing is applied
    when that row is silver's own (every later delivery repeated it, or was older). `_stored` says silver
    already holds a row of the key (applying the winner then updates it; otherwise it is a new row).
    """
    rows = _events(incoming, current, key, content, content_hash(content))
    start = F.struct(*[F.col(c) for c in ORDER])
    per_key = Window.partitionBy(*key)
    last_start = F.max(F.when(~F.col("_dup"), start)).over(per_key)
    return (rows.withColumn("_apply", ~F.col("_dup") & (start == last_start))
            .withColumn("_stored", F.max(~F.col("_incoming")).over(per_key))
            .where("_incoming")
            .withColumn("_outcome", _outcome(F.col("_dup")))
            .drop("_incoming", "_dup", "_hash"))


def profile_history(incoming: DataFrame, current: DataFrame, key: Sequence[str], content: Sequence[str]
                    ) -> tuple[DataFrame, DataFrame]:
    """SCD2 of one row per key (the customer profile): (incoming rows with `_outcome`, new history).

    A version starts at each delivery that differs from the version before it; it ends (`valid_to`) where
    the next one starts. A delivery of the same day from a later run replaces that day's version.
    """
    rows = _events(incoming, current, key, content, profile_hash(content), day="valid_from")
    outcomes = rows.where("_incoming").withColumn("_outcome", _outcome(F.col("_dup")))
    w = Window.partitionBy(*key).orderBy(*ORDER)
    starts = (rows.where(~F.col("_dup"))
              .withColumn("_next_day", F.lead("_batch").over(w))
              .where(F.col("_next_day").isNull() | (F.col("_next_day") != F.col("_batch"))))
    valid_to = F.lead("_batch").over(Window.partitionBy(*key).orderBy("_batch"))
    history = (starts.withColumn("valid_from", F.col("_batch")).withColumn("valid_to", valid_to)
               .withColumn("is_current", F.col("valid_to").isNull())
               .withColumn("row_hash", F.col("_hash")))
    return outcomes.drop("_incoming", "_dup", "_hash"), history


def _member_starts(incoming: DataFrame, history: DataFrame, current: DataFrame, row_id: Sequence[str]
                   ) -> DataFrame:
    """An incoming row is accepted when it starts a period silver did not have, once per identical row."""
    first = Window.partitionBy(*row_id[:-1], "_batch").orderBy("_source_file")
    new_starts = history.select(*row_id, F.lit(True).alias("_starts"))
    old_starts = current.select(*row_id, F.lit(True).alias("_had"))
    inc = incoming.withColumn("valid_from", F.col("_batch")).withColumn("_first", F.row_number().over(first) == 1)
    inc = null_safe_join(inc, new_starts, row_id)
    inc = null_safe_join(inc, old_starts, row_id)
    accepted = F.col("_first") & F.coalesce(F.col("_starts"), F.lit(False)) & F.col("_had").isNull()
    return inc.withColumn("_outcome", _outcome(~accepted)).drop("valid_from", "_first", "_starts", "_had")


def null_safe_join(left: DataFrame, right: DataFrame, on: Sequence[str], how: str = "left") -> DataFrame:
    """`left` joined to `right` on `on`, nulls equal to nulls; a left_semi join keeps only `left`'s columns."""
    r = right.select(*[F.col(c).alias(f"_r_{c}") for c in on],
                     *([] if how == "left_semi" else [c for c in right.columns if c not in on]))
    cond = None
    for c in on:
        eq = left[c].eqNullSafe(r[f"_r_{c}"])
        cond = eq if cond is None else cond & eq
    joined = left.join(r, cond, how)
    return joined if how == "left_semi" else joined.drop(*[f"_r_{c}" for c in on])


def set_history(incoming: DataFrame, current: DataFrame, owner: Sequence[str], member: Sequence[str]
                ) -> tuple[DataFrame, DataFrame]:
    """SCD2 of a set per owner (a customer's addresses): the rows a delivery brings are the whole set from
    that day, so a member missing from a later delivery is closed there (a move).

    Silver's periods are turned back into the sets delivered on each day they start or end, merged with the
    incoming deliveries (same day: union), and cut again into periods: one per unbroken run of deliveries
    holding the member.
    """
    cur = current.select(*owner, *member, "valid_from", "valid_to", "_source_file")
    days = (cur.select(*owner, F.col("valid_from").alias("_day"))
            .unionByName(cur.where(F.col("valid_to").isNotNull()).select(*owner, F.col("valid_to").alias("_day")))
            .distinct())
    delivered = (cur.join(days, list(owner))
            .where((F.col("valid_from") <= F.col("_day"))
                   & (F.col("valid_to").isNull() | (F.col("_day") < F.col("valid_to"))))
            .select(*owner, *member, F.col("_day").alias("_batch"), "_source_file", F.lit(False).alias("_incoming")))
    inc = incoming.select(*owner, *member, "_batch", "_source_file", F.lit(True).alias("_incoming"))
    deliveries = (delivered.unionByName(inc)
                  .groupBy(*owner, *member, "_batch")
                  .agg(F.min_by("_source_file", "_incoming").alias("_source_file")))
    idx = F.dense_rank().over(Window.partitionBy(*owner).orderBy("_batch"))
    run = F.row_number().over(Window.partitionBy(*owner, *member).orderBy("_batch"))
    deliveries = deliveries.withColumn("_idx", idx).withColumn("_island", F.col("_idx") - run)
    periods = (deliveries.groupBy(*owner, *member, "_island")
               .agg(F.min("_batch").alias("valid_from"), F.max("_idx").alias("_last"),
                    F.min_by("_source_file", "_batch").alias("_source_file")))
    next_day = deliveries.select(*owner, (F.col("_idx") - 1).alias("_last"), F.col("_batch").alias("valid_to")).distinct()
    history = (periods.join(next_day, [*owner, "_last"], "left")
               .withColumn("is_current", F.col("valid_to").isNull())
               .withColumn("_batch", F.col("valid_from"))
               .drop("_island", "_last"))
    row_id = [*owner, *member, "valid_from"]
    return _member_starts(incoming, history, current, row_id), history


def accumulating_history(incoming: DataFrame, current: DataFrame, owner: Sequence[str], member: Sequence[str]
                         ) -> tuple[DataFrame, DataFrame]:
    """A set that only grows (a customer's phones): each member is current from the first day it was delivered."""
    cur = current.select(*owner, *member, F.col("valid_from").alias("_batch"), "_source_file",
                         F.lit(False).alias("_incoming"))
    inc = incoming.select(*owner, *member, "_batch", "_source_file", F.lit(True).alias("_incoming"))
    first = F.min_by(F.struct("_batch", "_source_file"), F.struct("_batch", "_incoming", "_source_file"))
    history = (cur.unionByName(inc).groupBy(*owner, *member).agg(first.alias("_first"))
               .select(*owner, *member, F.col("_first._batch").alias("valid_from"),
                       F.lit(None).cast("date").alias("valid_to"), F.lit(True).alias("is_current"),
                       F.col("_first._batch").alias("_batch"), F.col("_first._source_file").alias("_source_file")))
    row_id = [*owner, *member, "valid_from"]
    return _member_starts(incoming, history, current, row_id), history


def diff(history: DataFrame, current: DataFrame, row_id: Sequence[str], compare: Sequence[str],
         columns: Sequence[str]) -> DataFrame:
    """The recomputed history against silver's rows: `_action` insert, update or delete (unchanged rows dropped).

    `columns` are the silver table's columns; row-id columns are filled from silver's row for deletes.
    """
    rid = F.to_json(F.struct(*[F.col(c) for c in row_id]))
    new = history.select(*columns).withColumn("_rid", rid).withColumn("_new", F.lit(True))
    old = current.select(F.to_json(F.struct(*[F.col(c) for c in row_id])).alias("_rid"),
                         *[F.col(c).alias(f"_old_{c}") for c in {*row_id, *compare}], F.lit(True).alias("_old"))
    both = new.join(old, "_rid", "full")
    changed = None
    for c in compare:
        ne = ~F.col(c).eqNullSafe(F.col(f"_old_{c}"))
        changed = ne if changed is None else changed | ne
    action = (F.when(F.col("_new").isNull(), "delete").when(F.col("_old").isNull(), "insert")
              .when(changed, "update"))
    out = both.withColumn("_action", action).where(F.col("_action").isNotNull())
    for c in row_id:
        out = out.withColumn(c, F.coalesce(F.col(c), F.col(f"_old_{c}")))
    return out.select(*columns, "_action")
