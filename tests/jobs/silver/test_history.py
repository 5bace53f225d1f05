"""Applying deliveries in batch order: latest state (SCD1), profile versions, address sets and phones (SCD2)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from jobs.silver import history as h

B1, B2, B3, B4, B5 = (dt.date(2025, 1, d) for d in range(1, 6))


def frame(spark, rows, schema, file="f.csv"):
    return (spark.createDataFrame(rows, schema).withColumn("_source_file", F.lit(file))
            .withColumn("_source_table", F.lit("bronze.t")))


def plain(rows):
    return sorted(tuple(v.isoformat() if isinstance(v, dt.date) else v for v in r) for r in rows)


def test_latest_applies_updates_in_batch_order_and_counts_repeats_as_duplicates(spark):
    current = frame(spark, [(1, "Pending", B1), (3, "Completed", B5)], "id long, status string, _batch date", "old.csv")
    incoming = frame(spark, [
        (1, "Pending", B2),     # the same again: duplicate
        (1, "Completed", B3),   # status update: applied
        (1, "Completed", B4),   # repeated: duplicate
        (2, "Refunded", B3),    # two versions of a new key, arriving out of order: the later wins
        (2, "Pending", B2),
        (3, "Pending", B2),     # older than what silver has: silver keeps its row
    ], "id long, status string, _batch date")
    got = h.latest(incoming, current, ["id"], ["id", "status"]).select("id", "status", "_batch", "_outcome", "_apply",
                                                                      "_stored")
    # _stored: silver holds the key (the applied row is an update, not an insert)
    assert plain(got.collect()) == [
        (1, "Completed", "2025-01-03", "accepted", True, True),
        (1, "Completed", "2025-01-04", "duplicate", False, True),
        (1, "Pending", "2025-01-02", "duplicate", False, True),
        (2, "Pending", "2025-01-02", "accepted", False, False),
        (2, "Refunded", "2025-01-03", "accepted", True, False),
        (3, "Pending", "2025-01-02", "accepted", False, True),
    ]


def test_profile_history_starts_a_version_at_each_change(spark):
    schema = "customer_id long, email string, _batch date"
    current = (frame(spark, [(1, "a@x.io", B1)], schema, "old.csv")
               .withColumn("valid_from", F.col("_batch")).withColumn("valid_to", F.lit(None).cast("date"))
               .withColumn("is_current", F.lit(True))
               .withColumn("row_hash", h.profile_hash(["customer_id", "email"])))
    incoming = frame(spark, [(1, "a@x.io", B2), (1, "b@x.io", B3), (1, "a@x.io", B4), (2, "z@x.io", B2)], schema)
    outcomes, hist = h.profile_history(incoming, current, ["customer_id"], ["customer_id", "email"])
    assert plain(outcomes.select("customer_id", "_batch", "_outcome").collect()) == [
        (1, "2025-01-02", "duplicate"), (1, "2025-01-03", "accepted"), (1, "2025-01-04", "accepted"),
        (2, "2025-01-02", "accepted")]
    assert plain(hist.select("customer_id", "email", "valid_from", "valid_to", "is_current").collect()) == [
        (1, "a@x.io", "2025-01-01", "2025-01-03", False),
        (1, "a@x.io", "2025-01-04", None, True),
        (1, "b@x.io", "2025-01-03", "2025-01-04", False),
        (2, "z@x.io", "2025-01-02", None, True)]
    cols = ["customer_id", "email", "valid_from", "valid_to", "is_current", "row_hash"]
    changes = h.diff(hist, current, ["customer_id", "valid_from"], ["row_hash", "valid_to", "is_current"], cols)
    assert plain(changes.select("customer_id", "valid_from", "valid_to", "_action").collect()) == [
        (1, "2025-01-01", "2025-01-03", "update"), (1, "2025-01-03", "2025-01-04", "insert"),
        (1, "2025-01-04", None, "insert"), (2, "2025-01-02", None, "insert")]


def test_a_move_closes_the_old_addresses_and_opens_the_new_one(spark):
    schema = "customer_id long, country string, state_province string, city string, _batch date"
    current = (frame(spark, [(1, "Egypt", "Giza", "Giza", B1), (1, "Egypt", None, "Cairo", B1),
                             (2, "France", "Bretagne", "Rennes", B1)], schema, "old.csv")
               .withColumn("valid_from", F.col("_batch")).withColumn("valid_to", F.lit(None).cast("date"))
               .withColumn("is_current", F.lit(True)))
    incoming = frame(spark, [
        (1, "Canada", "Ontario", "Toronto", B2),     # customer 1 moves
        (2, "France", "Bretagne", "Rennes", B2),     # customer 2 confirms: nothing changes
        (3, "Germany", "Hamburg", "Hamburg", B3),    # customer 3 moves, deliveries out of order
        (3, "Germany", "Berlin", "Berlin", B2),
    ], schema)
    member = ["country", "state_province", "city"]
    outcomes, hist = h.set_history(incoming, current, ["customer_id"], member)
    assert plain(outcomes.select("customer_id", "city", "_outcome").collect()) == [
        (1, "Toronto", "accepted"), (2, "Rennes", "duplicate"), (3, "Berlin", "accepted"), (3, "Hamburg", "accepted")]
    assert plain(hist.select("customer_id", "city", "state_province", "valid_from", "valid_to", "is_current")
                 .collect()) == [
        (1, "Cairo", None, "2025-01-01", "2025-01-02", False),
        (1, "Giza", "Giza", "2025-01-01", "2025-01-02", False),
        (1, "Toronto", "Ontario", "2025-01-02", None, True),
        (2, "Rennes", "Bretagne", "2025-01-01", None, True),
        (3, "Berlin", "Berlin", "2025-01-02", "2025-01-03", False),
        (3, "Hamburg", "Hamburg", "2025-01-03", None, True)]


def test_phones_accumulate_from_the_first_day_they_were_delivered(spark):
    schema = "customer_id long, phone string, _batch date"
    current = (frame(spark, [(1, "5550001111", B1)], schema, "old.csv")
               .withColumn("valid_from", F.col("_batch")))
    incoming = frame(spark, [(1, "5550002222", B2), (1, "5550001111", B2), (2, "5553334444", B3),
                             (2, "5553334444", B2)], schema)
    outcomes, hist = h.accumulating_history(incoming, current, ["customer_id"], ["phone"])
    assert plain(outcomes.select("customer_id", "phone", "_batch", "_outcome").collect()) == [
        (1, "5550001111", "2025-01-02", "duplicate"), (1, "5550002222", "2025-01-02", "accepted"),
        (2, "5553334444", "2025-01-02", "accepted"), (2, "5553334444", "2025-01-03", "duplicate")]
    assert plain(hist.select("customer_id", "phone", "valid_from", "valid_to", "is_current").collect()) == [
        (1, "5550001111", "2025-01-01", None, True), (1, "5550002222", "2025-01-02", None, True),
        (2, "5553334444", "2025-01-02", None, True)]
