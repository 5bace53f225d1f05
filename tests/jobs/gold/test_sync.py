"""gold.common.sync: a clustered first write and MERGEs that touch one file; tables without a change feed rewritten
whole."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from jobs.gold.common import SMALL_TABLE_ROWS, Written, sync, whole_at_most
from lakehouse_core.catalog import ensure_databases


def last_merge(spark, name: str) -> dict:
    row = spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").first()
    assert row.operation == "MERGE"
    return row.operationMetrics


def merge_conditions(monkeypatch) -> list[str]:
    """The conditions of the MERGEs sync makes from now on."""
    seen, merge = [], DeltaTable.merge

    def spy(self, source, condition):
        seen.append(condition)
        return merge(self, source, condition)

    monkeypatch.setattr(DeltaTable, "merge", spy)
    return seen


def test_a_change_to_one_key_rewrites_only_the_file_that_holds_it(spark, lake_cfg, tmp_path, monkeypatch):
    ensure_databases(spark, lake_cfg)
    name = f"{lake_cfg.database('gold')}.sync_layout"
    spark.sql(f"CREATE TABLE {name} (id BIGINT, v STRING) USING delta LOCATION '{tmp_path / 'sync_layout'}'")
    rows = spark.range(1000).select(((F.col("id") * 7919) % 1000).alias("id"), F.lit("a").alias("v"))

    assert sync(spark, name, rows, keys=["id"], rows_per_file=100) == Written(inserted=1000)
    files = spark.sql(f"DESCRIBE DETAIL {name}").first().numFiles
    assert files >= 10

    # Key 500 changes and key 1000 is new; the scope is those two keys.
    conditions = merge_conditions(monkeypatch)
    scope = spark.createDataFrame([(500,), (1000,)], "id bigint")
    new = spark.createDataFrame([(500, "b"), (1000, "c")], "id bigint, v string")
    assert sync(spark, name, new, keys=["id"], scope=scope, rows_per_file=100) == Written(inserted=1, updated=1)

    # The keys are listed in the condition (Delta skips the files whose id range holds none of them) ...
    assert conditions == ["t.`id` <=> s.`id` AND t.`id` IN (500, 1000)"]
    # ... and one file of at most 100 rows held key 500: it alone is rewritten.
    m = last_merge(spark, name)
    assert m["numTargetFilesRemoved"] == "1"
    assert int(m["numTargetRowsCopied"]) < 100
    expected = spark.range(1001).select(F.col("id"), F.when(F.col("id") == 500, "b").when(F.col("id") == 1000, "c")
                                        .otherwise("a").alias("v"))
    assert_df_equality(spark.table(name), expected, ignore_row_order=True, ignore_nullable=True)


def test_without_a_file_size_the_merge_lists_no_keys(spark, lake_cfg, tmp_path, monkeypatch):
    ensure_databases(spark, lake_cfg)
    name = f"{lake_cfg.database('gold')}.sync_plain"
    spark.sql(f"CREATE TABLE {name} (id BIGINT, v STRING) USING delta LOCATION '{tmp_path / 'sync_plain'}'")
    sync(spark, name, spark.range(1000).select("id", F.lit("a").alias("v")).repartition(3), keys=["id"])
    conditions = merge_conditions(monkeypatch)

    new = spark.createDataFrame([(500, "b")], "id bigint, v string")
    assert sync(spark, name, new, keys=["id"], scope=new.select("id")) == Written(updated=1)
    assert conditions == ["t.`id` <=> s.`id`"]
    assert last_merge(spark, name)["numTargetRowsUpdated"] == "1"


def test_a_small_table_is_compared_on_the_driver_and_rewritten_whole_in_one_commit(spark, lake_cfg, tmp_path):
    ensure_databases(spark, lake_cfg)
    name = f"{lake_cfg.database('gold')}.sync_small"
    spark.sql(f"CREATE TABLE {name} (id BIGINT NOT NULL, v STRING, n BIGINT) USING delta "
              f"COMMENT 'a small report' LOCATION '{tmp_path / 'sync_small'}'")
    spark.sql(f"ALTER TABLE {name} ADD CONSTRAINT n_not_negative CHECK (n >= 0)")
    schema = "id bigint, v string, n bigint"

    def content():
        return sorted(tuple(r) for r in spark.table(name).collect())

    def last_commit():
        row = spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").first()
        return row.version, row.operation, row.operationParameters.get("mode")

    first = spark.createDataFrame([(1, "a", 1), (2, "b", 2), (3, "c", 3)], schema)
    assert sync(spark, name, first, keys=["id"], whole_at_most=10) == Written(inserted=3)
    version = last_commit()[0]
    assert sync(spark, name, first, keys=["id"], whole_at_most=10) == Written()
    assert last_commit()[0] == version  # nothing differs: no commit

    # 2 changes, 4 is new, 1 stays, 3 is gone: one commit that rewrites the table, its definition kept.
    second = spark.createDataFrame([(1, "a", 1), (2, "B", 2), (4, "d", 4)], schema)
    assert sync(spark, name, second, keys=["id"], whole_at_most=10) == Written(inserted=1, updated=1, deleted=1)
    assert last_commit() == (version + 1, "WRITE", "Overwrite")
    assert content() == [(1, "a", 1), (2, "B", 2), (4, "d", 4)]
    detail = spark.sql(f"DESCRIBE DETAIL {name}").first()
    assert (detail.description, detail.properties.get("delta.constraints.n_not_negative")) == (
        "a small report", "n >= 0")

    # Without deletes, rows absent from the new content stay.
    fifth = spark.createDataFrame([(5, "e", 5)], schema)
    assert sync(spark, name, fifth, keys=["id"], delete=False, whole_at_most=10) == Written(inserted=1)
    assert content() == [(1, "a", 1), (2, "B", 2), (4, "d", 4), (5, "e", 5)]

    # More rows than `whole_at_most` (here the table's four): compared in Spark, and rewritten whole all the same.
    assert sync(spark, name, second, keys=["id"], whole_at_most=3) == Written(deleted=1)
    assert last_commit()[1:] == ("WRITE", "Overwrite")
    assert content() == [(1, "a", 1), (2, "B", 2), (4, "d", 4)]
    third = spark.createDataFrame([(1, "a", 1), (2, "b", 2), (6, None, 6)], schema)
    assert sync(spark, name, third, keys=["id"], whole_at_most=2) == Written(inserted=1, updated=1, deleted=1)
    assert last_commit()[1:] == ("WRITE", "Overwrite")
    assert content() == [(1, "a", 1), (2, "b", 2), (6, None, 6)]
    assert sync(spark, name, third, keys=["id"], whole_at_most=2) == Written()  # a null equals a null
    assert last_commit()[0] == version + 4

    # A key twice in the new content is refused, and the table is left as it was.
    twice = spark.createDataFrame([(1, "a", 1), (2, "b", 2), (2, "c", 3)], schema)
    with pytest.raises(ValueError, match=r"has 2 rows of key \(id=2\); keys are unique$"):
        sync(spark, name, twice, keys=["id"], whole_at_most=2)
    assert last_commit()[0] == version + 4

    # Without deletes, a larger table is merged: the rows absent from the new content stay.
    assert sync(spark, name, fifth, keys=["id"], delete=False, whole_at_most=2) == Written(inserted=1)
    assert last_commit()[1] == "MERGE"
    assert content() == [(1, "a", 1), (2, "b", 2), (5, "e", 5), (6, None, 6)]
    detail = spark.sql(f"DESCRIBE DETAIL {name}").first()
    assert (detail.description, detail.properties.get("delta.constraints.n_not_negative")) == (
        "a small report", "n >= 0")


def test_only_gold_tables_without_a_change_feed_are_rewritten_whole():
    assert whole_at_most("gold.fact_transaction") == 0
    assert whole_at_most("gold.rpt_transactions_by_status") == SMALL_TABLE_ROWS
