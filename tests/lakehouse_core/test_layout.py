"""lakehouse_core.layout: MERGE targets clustered by key in small files, and the key lists that prune MERGEs."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.sql import functions as F

from lakehouse_core.errors import ConfigError
from lakehouse_core.layout import (
    MAX_RECORDS_PER_FILE,
    clustered,
    files_of_at_most,
    key_list,
    rows_per_file,
    whole_number_in,
)


def test_whole_number_in_keeps_the_rows_whose_key_is_listed(spark):
    df = spark.createDataFrame([(1,), (2,), (3,), (None,), (5_000_000_000,)], "customer_id long")
    kept = lambda ids: sorted(r[0] for r in df.where(whole_number_in("customer_id", ids)).collect())  # noqa: E731
    assert kept([3, 1, 5_000_000_000]) == [1, 3, 5_000_000_000]
    assert kept([4]) == []
    assert kept([]) == []  # no keys: no rows (and no `IN ()`, which SQL does not parse)
    assert kept(key_list(df.where("customer_id < 3"), "customer_id")) == [1, 2]
    assert key_list(df, "customer_id") is None  # a null key: no list (an IN list would never match it)


def test_clustered_files_hold_disjoint_key_ranges_of_at_most_the_given_rows(spark, tmp_path):
    # Keys in scrambled order, so a plain write would mix them in every file.
    df = spark.range(1000).select(((F.col("id") * 7919) % 1000).alias("id"), F.lit("x").alias("v"))
    with files_of_at_most(spark, 150):
        clustered(df, ["id"]).write.format("delta").save(str(tmp_path / "t"))

    files = (spark.read.format("delta").load(str(tmp_path / "t")).groupBy(F.input_file_name().alias("f"))
             .agg(F.min("id").alias("lo"), F.max("id").alias("hi"), F.count(F.lit(1)).alias("n"))
             .orderBy("lo").collect())
    assert sum(f.n for f in files) == 1000
    assert max(f.n for f in files) <= 150
    assert len(files) >= 7  # 1000 rows / 150
    assert all(a.hi < b.lo for a, b in zip(files, files[1:], strict=False))  # each file a key range of its own


@pytest.mark.parametrize("value, expected", [(None, 0), (0, 0), (50_000, 50_000)])
def test_rows_per_file_comes_from_conf(lake_cfg, value, expected):
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "tables": {"rows_per_file": value}})
    assert rows_per_file(cfg) == expected


@pytest.mark.parametrize("value", ["50000", -1, True, 2.5])
def test_rows_per_file_that_is_not_a_whole_number_is_refused(lake_cfg, value):
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "tables": {"rows_per_file": value}})
    with pytest.raises(ConfigError, match=r"tables.rows_per_file must be a whole number >= 0"):
        rows_per_file(cfg)


def test_insert_into_within_files_of_at_most_keeps_files_small_and_the_conf_is_restored(spark, tmp_path):
    spark.sql(f"CREATE TABLE layout_insert (id BIGINT) USING delta LOCATION '{tmp_path / 'layout_insert'}'")
    try:
        with files_of_at_most(spark, 100):
            # insertInto drops writer options: without the conf this would be one file of 1,000 rows.
            clustered(spark.range(1000), ["id"]).write.insertInto("layout_insert", overwrite=True)
        assert spark.conf.get(MAX_RECORDS_PER_FILE, None) is None
        counts = [r["count"] for r in spark.table("layout_insert").groupBy(F.input_file_name()).count().collect()]
        assert (sum(counts), max(counts)) == (1000, 100)
    finally:
        spark.sql("DROP TABLE layout_insert")
