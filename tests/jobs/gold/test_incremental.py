"""Gold is incremental: a rerun changes nothing, a new batch changes exactly the affected rows."""

from __future__ import annotations

import lakedb

from .story import B1, B2


def changed_keys(before: set[tuple], after: set[tuple], table_id: str) -> set[tuple]:
    """Keys of the rows that differ between two snapshots of a table (inserted, updated or deleted)."""
    t = lakedb.table(table_id)
    idx = [t.column_names.index(k) for k in t.keys]
    return {tuple(row[i] for i in idx) for row in before ^ after}


def test_rerun_without_new_data_writes_nothing(story):
    assert story.after_rerun == story.after_batch1
    assert story.versions_rerun == story.versions_batch1
    assert {name: r.rows_written for name, r in story.rerun_results.items()} == dict.fromkeys(story.rerun_results, 0)


def test_new_batch_changes_only_the_affected_rows(spark, story):
    sk = spark.sql(f"SELECT xxhash64(CAST(2 AS BIGINT), DATE'{B1}') AS v1, xxhash64(CAST(2 AS BIGINT), DATE'{B2}') AS v2,"
                   " xxhash64(to_json(named_struct('c', 'FR', 's', 'Ile-de-France', 't', 'Paris'))) AS paris").first()
    expected = {
        "gold.dim_geography": {(sk.paris,)},
        "gold.dim_customer": {(sk.v1,), (sk.v2,)},  # Bo's version closed, his Paris version opened
        "gold.fact_transaction": {("payments", 4), ("payments", 7)},  # status update, new purchase
        "gold.rpt_customers_by_country": {("UK",), ("FR",)},
        "gold.rpt_transactions_by_customer": {(2,)},
        "gold.rpt_transactions_by_status": {("Completed",), ("Pending",)},
        "gold.rpt_transactions_by_year": {(2024,)},
        "gold.rpt_transactions_by_method_status": {("Credit Card", "Completed"), ("Debit Card", "Pending"),
                                                   ("Debit Card", "Completed")},
        "gold.rpt_top_customers": {(2,)},
        "gold.customer_360": {(2,)},
    }
    got = {t: changed_keys(story.after_rerun[t], story.after_batch2[t], t) for t in story.after_batch2}
    assert got == {t: expected.get(t, set()) for t in story.after_batch2}


def test_full_refresh_rebuilds_the_same_gold(story):
    assert story.after_full_refresh == story.after_batch2
    assert {name: r.rows_written for name, r in story.full_refresh_results.items()} == \
        dict.fromkeys(story.full_refresh_results, 0)
