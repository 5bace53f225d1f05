"""Churn features and labels: nothing after the cutoff reaches a feature; labels come from the window after it."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from ml.churn import choose_cutoffs
from ml.features import CutoffError, features_as_of, labels
from tests.ml.conftest import gold_frame, interaction, numbered, profile, tx

D = dt.date
CUTOFF = D(2024, 6, 30)


def history() -> dict[str, list]:
    return {
        "gold.fact_transaction": numbered([
            tx(1, D(2023, 9, 1), 100.0), tx(1, D(2024, 6, 1), 40.0, method="PayPal"),
            tx(1, D(2024, 6, 30), 60.0, method="PayPal", status="Pending"),
            tx(2, D(2024, 1, 15), 80.0, "Refund", "Refunded", currency="EUR"),
            tx(3, D(2024, 6, 20), 30.0),
        ], "transaction_id"),
        "gold.fact_interaction": numbered([
            interaction(1, D(2024, 5, 1), "Complaint", "Unresolved", "Chat"),
            interaction(1, D(2024, 6, 2), "Feedback", "Resolved", "Phone"),
            interaction(1, D(2024, 6, 3), "Complaint", "Resolved", "Chat"),
            interaction(2, None, "Complaint", "Pending", "Email"),  # no date: cannot be placed before the cutoff
        ], "interaction_id"),
        "gold.dim_customer": [profile(1, D(2024, 1, 1), "F", D(1990, 7, 1), "Canada"),
                              profile(2, D(2025, 1, 1), "M")],
    }


def future() -> dict[str, list]:
    """Rows dated after the cutoff, for known and new customers: the label's period and later deliveries."""
    return {
        "gold.fact_transaction": [tx(1, D(2024, 7, 1), 999.0, tid=101), tx(3, D(2024, 9, 1), 5.0, "Refund", tid=102),
                                  tx(4, D(2024, 7, 5), 10.0, tid=103)]
                                 + [tx(2, D(2024, 8, 1) + dt.timedelta(days=i), 1.0, tid=200 + i) for i in range(50)],
        "gold.fact_interaction": [interaction(3, D(2024, 7, 2), "Complaint", "Unresolved", "Phone", iid=101),
                                  interaction(1, D(2024, 12, 1), "Complaint", "Pending", "Email", iid=102)],
        "gold.dim_customer": [profile(1, D(2024, 8, 1), "M", D(1990, 7, 1), "Egypt"), profile(3, D(2024, 7, 1))],
    }


def frames(spark, data: dict[str, list]):
    return [gold_frame(spark, t, data[t]) for t in ("gold.fact_transaction", "gold.fact_interaction",
                                                     "gold.dim_customer")]


@pytest.fixture(scope="module")
def history_features(spark):
    """Features at CUTOFF of the hand-built history, computed once for the tests below."""
    return sorted(features_as_of(*frames(spark, history()), CUTOFF).collect())


def test_features_at_a_cutoff_ignore_every_row_dated_after_it(spark, tmp_path, history_features):
    data = history()
    for table_id, rows in future().items():
        data[table_id] += rows
    for table_id, rows in data.items():
        gold_frame(spark, table_id, rows).write.parquet(str(tmp_path / table_id))
    inputs = [spark.read.parquet(str(tmp_path / t)) for t in
              ("gold.fact_transaction", "gold.fact_interaction", "gold.dim_customer")]
    after = features_as_of(*inputs, CUTOFF)

    assert sorted(after.collect()) == history_features
    # And the reason: every input scan is cut at the cutoff before anything is aggregated.
    plan = after._jdf.queryExecution().executedPlan().toString()
    for column in ("transaction_date", "interaction_date", "valid_from"):
        assert f"LessThanOrEqual({column},2024-06-30)" in plan, column


def test_feature_values_for_hand_built_customers(history_features):
    columns = ("customer_id", "recency_days", "tenure_days", "tx_count_30", "tx_count_90", "tx_count_365",
               "purchase_amount_30", "purchase_amount_365", "refund_count_180", "pending_count_180",
               "payment_method_count", "main_payment_method", "main_currency", "complaint_count_180",
               "unresolved_complaint_count_180", "days_since_interaction", "preferred_channel", "gender",
               "age_years", "country")
    got = [tuple(r[c] for c in columns) for r in history_features]
    assert got == [
        (1, 0, 303, 2, 2, 3, 40.0, 140.0, 0, 1, 2, "PayPal", "USD", 2, 1, 27, "Chat", "F", 33, "Canada"),
        (2, 167, 167, 0, 0, 1, 0.0, 0.0, 1, 0, 1, "Credit Card", "EUR", 0, 0, None, "none", None, None, None),
        (3, 10, 10, 1, 1, 1, 30.0, 30.0, 0, 0, 1, "Credit Card", "USD", 0, 0, None, "none", None, None, None),
    ]


def test_activity_trend_compares_the_last_quarter_with_earlier_full_quarters(spark):
    # Customer 1 (300 days old): 1 transaction in the last quarter, 4 in each of the two full quarters before,
    # and 1 in a quarter it was only partly there for, which must not count: log((8 / 2 + 1) / (1 + 1)).
    # Customer 2 (150 days old): no earlier quarter is complete, so the trend is 0 whatever the counts.
    days = {1: (5, 100, 110, 120, 130, 190, 200, 210, 220, 300), 2: (1, 2, 150)}
    rows = [tx(c, CUTOFF - dt.timedelta(days=d)) for c, ds in days.items() for d in ds]
    data = {"gold.fact_transaction": numbered(rows, "transaction_id"), "gold.fact_interaction": [],
            "gold.dim_customer": []}
    feats = features_as_of(*frames(spark, data), CUTOFF)
    got = {r.customer_id: round(r.activity_trend, 9) for r in feats.collect()}
    assert got == {1: round(math.log(5 / 2), 9), 2: 0.0}


def test_label_is_churn_when_no_transaction_in_the_90_days_after_the_cutoff(spark):
    c = CUTOFF
    rows = [
        tx(1, c), tx(1, c + dt.timedelta(days=1)),               # back the next day: 0
        tx(2, c - dt.timedelta(days=89)), tx(2, c + dt.timedelta(days=90)),   # last day of the window: 0
        tx(3, c - dt.timedelta(days=10)), tx(3, c + dt.timedelta(days=91)),   # only after the window: 1
        tx(4, c - dt.timedelta(days=30)),                        # never again: 1
        tx(5, c - dt.timedelta(days=90)), tx(5, c + dt.timedelta(days=5)),    # not active before the cutoff
        tx(6, c + dt.timedelta(days=3)),                         # new after the cutoff: no label
    ]
    got = sorted(tuple(r) for r in labels(gold_frame(spark, "gold.fact_transaction", numbered(rows, "transaction_id")),
                                          c).collect())
    assert got == [(1, 0), (2, 0), (3, 1), (4, 1)]


def test_cutoffs_default_to_the_latest_observed_label_windows():
    got = choose_cutoffs(D(2025, 1, 5))
    assert (got.history, got.train, got.eval) == (
        (D(2024, 4, 10), D(2024, 1, 11), D(2023, 10, 13), D(2023, 7, 15), D(2023, 4, 16), D(2023, 1, 16)),
        D(2024, 7, 9), D(2024, 10, 7))


def test_cutoffs_whose_label_window_is_not_observed_yet_are_refused():
    with pytest.raises(CutoffError, match="label window of cutoff 2024-12-01 ends 2025-03-01, after the last"):
        choose_cutoffs(D(2025, 1, 5), eval_cutoff="2024-12-01")
    with pytest.raises(CutoffError, match="would overlap the evaluation period"):
        choose_cutoffs(D(2025, 1, 5), train_cutoff="2024-08-01", eval_cutoff="2024-10-01")
