"""silver.transaction: both payment systems, updates in batch order, re-sends absorbed, unknown customers held."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from jobs.silver import engine, transaction
from lakehouse_core.context import DeferredAppends

D = dt.date
PAYMENTS, V2 = "bronze.payments_the_transaction", "bronze.payments_v2_the_transaction"


def tx(id_, status, cust="5", amount="120.50", currency="usd", day="2024-12-30", method=" PayPal "):
    return dict(Transaction_id=id_, amount=amount, currency=currency, Transaction_type="Purchase",
                payment_method=method, payment_status=status, customer_id=cust, Transaction_Date=day)


def known_customers(lake, *ids, batch="2025-01-01"):
    """Customers already in silver (as silver_customer would have put them)."""
    lake.silver_customers(ids, batch)


def test_both_systems_conform_and_updates_apply_in_batch_order_with_resends_absorbed(spark, lake):
    known_customers(lake, 5)
    # Delivered out of order: batch 2 (the update and payments_v2's copy) lands in bronze before batch 1.
    lake.bronze(PAYMENTS, [tx("1", "Completed")], batch="2025-01-02")
    lake.bronze(V2, [tx("100000001", "Completed", day="12/30/2024"), tx("100000002", "Pending", day="1/2/2025")],
                batch="2025-01-02")
    lake.bronze(PAYMENTS, [tx("1", "Pending"), tx("1", "Pending")], batch="2025-01-01")
    result = lake.run(transaction)
    got = lake.table("silver.transaction").drop("_source_file", "_run_id")
    expected = spark.createDataFrame([
        ("payments", 1, 5, "120.50", "USD", "Purchase", "PayPal", "Completed", D(2024, 12, 30), D(2025, 1, 2)),
        ("payments_v2", 100000002, 5, "120.50", "USD", "Purchase", "PayPal", "Pending", D(2025, 1, 2), D(2025, 1, 2)),
    ], "source_system string, transaction_id bigint, customer_id bigint, amount string, currency string, "
       "transaction_type string, payment_method string, payment_status string, transaction_date date, _batch date")
    expected = expected.withColumn("amount", expected.amount.cast("decimal(12,2)"))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    assert lake.rows("ops.batch_outcome", "source_table", "batch", "bronze_rows", "accepted", "duplicates", "held") == [
        (PAYMENTS, "2025-01-01", 2, 1, 1, 0), (PAYMENTS, "2025-01-02", 1, 1, 0, 0), (V2, "2025-01-02", 2, 1, 1, 0)]
    assert (result.rows_read, result.rows_written) == (5, 2)

    version = lake.spark.sql(f"DESCRIBE HISTORY {lake.name('silver.transaction')} LIMIT 1").first().version
    again = lake.run(transaction)
    assert (again.rows_read, again.rows_written) == (0, 0)
    assert lake.spark.sql(f"DESCRIBE HISTORY {lake.name('silver.transaction')} LIMIT 1").first().version == version


def test_a_transaction_of_an_unknown_customer_is_held_until_its_customer_arrives(lake):
    known_customers(lake, 5)
    lake.bronze(PAYMENTS, [tx("1", "Completed"), tx("2", "Completed", cust="6")], batch="2025-01-01")
    first = lake.run(transaction)
    assert lake.rows("silver.transaction", "transaction_id") == [(1,)]
    assert lake.rows("ops.held_record", "key", "parent_id", "batch", "released_run_id") == [
        ('{"source_system":"payments","transaction_id":2}', 6, "2025-01-01", None)]
    assert lake.rows("ops.conservation", "entity", "batch", "bronze_rows", "accepted", "held", "balanced",
                     where="entity = 'transaction'") == [
        ("transaction", "2025-01-01", 2, 1, 1, True)]

    known_customers(lake, 6, batch="2025-01-02")
    second = lake.run(transaction)
    assert lake.rows("silver.transaction", "transaction_id", "customer_id", "_batch") == [
        (1, 5, "2025-01-01"), (2, 6, "2025-01-01")]
    assert lake.rows("ops.held_record", "parent_id", "released_run_id") == [(6, "run2")]
    assert lake.rows("ops.conservation", "entity", "batch", "bronze_rows", "accepted", "held", "balanced",
                     where="entity = 'transaction'") == [
        ("transaction", "2025-01-01", 2, 2, 0, True)]
    assert (first.detail["held"], second.rows_read, second.detail["released"]) == (1, 0, 1)
    # The released row has a new id: appended, no MERGE.
    assert lake.spark.sql(f"DESCRIBE HISTORY {lake.name('silver.transaction')} LIMIT 1").first().operation == "WRITE"


@pytest.mark.parametrize("deferred, defer_rows, before_flush", [(False, None, 2), (True, None, 0), (True, 0, 2)],
                         ids=["written-at-once", "with-the-runs-ops-rows", "by-spark-beyond-the-limit"])
def test_quarantined_and_held_rows_are_recorded_alike_however_they_are_committed(lake, monkeypatch, deferred,
                                                                                 defer_rows, before_flush):
    if defer_rows is not None:
        monkeypatch.setattr(engine, "DEFER_ROWS", defer_rows)
    known_customers(lake, 5)
    lake.bronze(PAYMENTS, [tx("1", "Completed"), tx("2", "Completed", cust="6"), tx("x", "Completed")],
                batch="2025-01-01")
    buffer = DeferredAppends() if deferred else None
    result = lake.run(transaction, deferred=buffer)
    # Under the runner, the job's one quarantined and one held row wait for the run's ops commits (up to DEFER_ROWS).
    assert len(lake.rows("ops.quarantine", "run_id")) + len(lake.rows("ops.held_record", "held_run_id")) == before_flush
    if buffer is not None:
        buffer.flush(lake.spark)
    assert lake.rows("ops.quarantine", "source_table", "rule", "detected_in", "batch", "run_id") == [
        (PAYMENTS, "valid_id", "silver", "2025-01-01", "run1")]
    assert lake.rows("ops.held_record", "key", "parent_id", "batch", "held_run_id", "released_run_id") == [
        ('{"source_system":"payments","transaction_id":2}', 6, "2025-01-01", "run1", None)]
    assert lake.rows("ops.conservation", "entity", "batch", "bronze_rows", "accepted", "quarantined", "held",
                     "balanced", where="entity = 'transaction'") == [("transaction", "2025-01-01", 3, 1, 1, 1, True)]
    assert (result.rows_quarantined, result.detail["held"]) == (1, 1)


def test_a_file_delivered_again_in_a_later_run_adds_nothing_and_a_new_file_of_the_same_size_does(lake):
    known_customers(lake, 5)
    first = [tx("1", "Completed"), tx("2", "Pending")]
    lake.bronze(PAYMENTS, first, batch="2025-01-01", file="file:/landing/p/a.csv", size_bytes=100)
    assert lake.run(transaction).detail["resent_files"] == 0
    # The next run's only new file is a byte copy of the first: its rows are duplicates, silver is unchanged.
    lake.bronze(PAYMENTS, first, batch="2025-01-02", file="file:/landing/p/b.csv", size_bytes=100)
    again = lake.run(transaction)
    assert (again.detail["resent_files"], again.detail["duplicates"], again.rows_written) == (1, 2, 0)
    # Same size and line count, other rows: not a copy.
    lake.bronze(PAYMENTS, [tx("2", "Completed"), tx("3", "Pending")], batch="2025-01-03",
                file="file:/landing/p/c.csv", size_bytes=100)
    third = lake.run(transaction)
    assert (third.detail["resent_files"], third.detail["accepted"]) == (0, 2)
    assert lake.rows("silver.transaction", "transaction_id", "payment_status", "_source_file") == [
        (1, "Completed", "file:/landing/p/a.csv"), (2, "Completed", "file:/landing/p/c.csv"),
        (3, "Pending", "file:/landing/p/c.csv")]
