"""Customer segments: readable names from cluster averages, and the job's output table."""

from __future__ import annotations

from lakehouse_core.catalog import qualified
from ml import segments
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
