"""Small helpers of the silver engine."""

from __future__ import annotations

from jobs.silver.engine import key_list, whole_number_in


def test_whole_number_in_keeps_the_rows_whose_key_is_listed(spark):
    df = spark.createDataFrame([(1,), (2,), (3,), (None,), (5_000_000_000,)], "customer_id long")
    kept = lambda ids: sorted(r[0] for r in df.where(whole_number_in("customer_id", ids)).collect())  # noqa: E731
    assert kept([3, 1, 5_000_000_000]) == [1, 3, 5_000_000_000]
    assert kept([4]) == []
    assert kept([]) == []  # no keys: no rows (and no `IN ()`, which SQL does not parse)
    assert kept(key_list(df.where("customer_id < 3"), "customer_id")) == [1, 2]
