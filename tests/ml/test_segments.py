"""Customer segments: readable names from cluster averages, and the job's output table."""

from __future__ import annotations

import dataclasses
import datetime as dt

from pyspark.sql import functions as F

from lakehouse_core.catalog import qualified
from ml import segments, tracking
from tests.ml.conftest import job_context, synthetic_customers


def profile(sid, customers, recency, frequency, monetary, interactions):
    return {"segment_id": sid, "customers": customers, "recency_days": recency, "frequency_365": frequency,
            "monetary_365": monetary, "interactions_365": interactions}


def test_segment_names_describe_clusters_against_the_base_average():
    # Base averages (customer-weighted): recency 54, frequency 9.7, monetary 975, interactions 2.1.
    profiles = [profile(0, 100, 10, 20, 2000, 2), profile(1, 100, 200, 2, 100, 1), profile(2, 100, 20, 10, 1000, 5),
                profile(3, 100, 10, 5, 500, 1), profile(4, 50, 30, 12, 1300, 1), profile(5, 50, 30, 11, 1250, 2)]
    assert segments.segment_names(profiles) == {
        0: "Loyal high spenders", 1: "Lapsed customers", 2: "Support-heavy customers", 3: "Occasional low spenders",
        4: "Big-ticket buyers (higher value)", 5: "Big-ticket buyers (lower value)"}


def test_every_customer_gets_one_named_segment_from_the_registered_model(spark, ml_lake):
    result = segments.run(job_context(spark, ml_lake, "ml_segments", run_id="g1"), k=4)
    rows = spark.table(qualified(ml_lake, "gold.customer_segment")).collect()
    txs = synthetic_customers()["gold.fact_transaction"]
    as_of = max(t["transaction_date"] for t in txs)
    last = {}
    for t in txs:
        last[t["customer_id"]] = max(last.get(t["customer_id"], t["transaction_date"]), t["transaction_date"])
    inactive = {c for c, d in last.items() if (as_of - d).days >= 365}
    names = {r.segment_id: r.segment_name for r in rows}
    assert sorted(r.customer_id for r in rows) == sorted(last)
    assert {r.customer_id for r in rows if r.segment_id == -1} == inactive
    assert (len(names), len(set(names.values())), names[-1], result.rows_written) == (
        5, 5, "Inactive for over a year", len(last))
    assert {(r.model_name, r.model_version, r.as_of, r.segment_name == names[r.segment_id]) for r in rows} == {
        ("customer_segments", result.detail["version"], as_of, True)}
    assert result.detail["segments"] == {n: sum(r.segment_name == n for r in rows) for n in names.values()}
    # Names follow the written data: a "Lapsed" cluster's customers average more than 90 days since buying.
    for sid, name in names.items():
        recency = [r.recency_days for r in rows if r.segment_id == sid]
        assert (sid >= 0 and sum(recency) / len(recency) > 90) == name.startswith("Lapsed"), name


def test_the_champion_keeps_assigning_segments_until_the_data_is_a_week_newer(spark, ml_lake):
    table = qualified(ml_lake, "gold.customer_segment")

    def written():  # every column but the time of assignment
        return sorted(tuple(v for c, v in r.asDict().items() if c != "assigned_at") for r in spark.table(table).collect())

    first = segments.run(job_context(spark, ml_lake, "ml_segments", run_id="s1"))
    assert not first.detail["refit"].startswith("not refit")
    before = written()
    exact = sorted(tuple(r) for r in spark.table(table).collect())

    # Inputs, champion and settings as they were: nothing to do, the table keeps even its times of assignment.
    again = segments.run(job_context(spark, ml_lake, "ml_segments", run_id="s1b"))
    assert (again.rows_written, again.detail) == (0, {"skipped": True, "model": "customer_segments",
                                                      "version": first.detail["version"]})
    assert sorted(tuple(r) for r in spark.table(table).collect()) == exact

    # An input commits (a row added and taken back: its data as before): the job reads it, the champion assigns.
    contacts = qualified(ml_lake, "gold.fact_interaction")
    spark.table(contacts).limit(1).withColumn("interaction_id", F.lit(-1).cast("bigint")) \
        .write.format("delta").mode("append").saveAsTable(contacts)
    spark.sql(f"DELETE FROM {contacts} WHERE interaction_id = -1")
    second = segments.run(job_context(spark, ml_lake, "ml_segments", run_id="s2"))
    version, as_of = first.detail["version"], first.detail["as_of"]
    assert (second.detail["version"], second.detail["refit"]) == (version, (
        f"not refit: the data ends {as_of}, 0 day(s) after version {version}'s ({as_of}), "
        "under ml.segments_refit_every_days 7; it assigns the segments"))
    assert written() == before
    assert second.detail["segments"] == first.detail["segments"]

    # A week of data later the champion is fit again.
    client = tracking.configure(ml_lake, segments.EXPERIMENT)
    k = int(client.get_run(client.get_model_version("customer_segments", version).run_id).data.params["k"])
    day = dt.date.fromisoformat(as_of)
    champion = tracking.current_champion(client, "customer_segments")
    assert segments.refit_reason(client, champion, k, day + dt.timedelta(days=6), 7)[0] is None
    assert segments.refit_reason(client, champion, k, day + dt.timedelta(days=7), 7)[0] == (
        f"the data ends {day + dt.timedelta(days=7)}, 7 days after version {version}'s ({as_of}; "
        "ml.segments_refit_every_days 7)")

    # And every run with a refit period of 0.
    every_run = dataclasses.replace(ml_lake, raw={**ml_lake.raw, "ml": {**ml_lake.raw["ml"],
                                                                       "segments_refit_every_days": 0}})
    third = segments.run(job_context(spark, every_run, "ml_segments", run_id="s3"))
    assert (int(third.detail["version"]), third.detail["refit"]) == (
        int(version) + 1, "ml.segments_refit_every_days is 0: every run fits")
