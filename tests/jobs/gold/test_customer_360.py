"""gold.customer_360: tenure, recency, frequency, money, service KPIs, and the ML tables when present."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from jobs.gold.customer_360 import customer_360

from .story import B1, B2, D

COLUMNS = ("customer_id", "first_name", "country", "customer_since", "first_transaction_date",
           "last_transaction_date", "transaction_count", "purchase_count", "monetary_value", "refund_count",
           "refund_amount", "pending_count", "reporting_currency", "interaction_count", "last_interaction_date",
           "complaint_count", "complaints_resolved", "complaint_resolution_rate", "open_follow_ups",
           "segment_name", "churn_probability", "churn_risk_band")


def test_one_row_per_current_customer_with_kpis(spark, gold_db):
    got = spark.table(f"{gold_db}.customer_360")
    assert {tuple(r) for r in got.select(*COLUMNS).collect()} == {
        # Completed purchases 100 + 110 USD; the EUR refund is 60 USD; one of two complaints resolved.
        (1, "Ann", "US", D("2023-01-15"), D("2023-01-15"), D("2023-02-01"), 3, 2, Decimal("210.00"), 1,
         Decimal("60.00"), 0, "USD", 2, D("2024-01-08"), 2, 1, 0.5, 1, None, None, None),
        # The 2022 purchase has no rate: counted, but not in the money (12.50 + 6.25).
        (2, "Bo", "FR", D("2022-12-31"), D("2022-12-31"), B2, 3, 3, Decimal("18.75"), 0,
         Decimal("0.00"), 0, "USD", 1, D("2024-01-09"), 0, 0, None, 0, None, None, None),
        (3, "Cy", None, B1, None, None, 0, 0, Decimal("0.00"), 0, Decimal("0.00"), 0, "USD", 0, None, 0, 0, None, 0,
         None, None, None),
        (4, "Di", "US", D("2024-01-08"), D("2024-01-08"), D("2024-01-08"), 1, 1, Decimal("40.00"), 0,
         Decimal("0.00"), 0, "USD", 1, D("2024-01-09"), 0, 0, None, 1, None, None, None),
    }
    keys = spark.sql(f"SELECT count_if(k.customer_sk = d.customer_sk AND d.is_current) FROM {gold_db}.customer_360 k "
                     f"JOIN {gold_db}.dim_customer d ON k.customer_id = d.customer_id").first()[0]
    assert keys == 4


def test_latest_churn_score_and_segment_are_joined_when_present(spark, gold_db):
    t = dt.datetime
    churn = spark.createDataFrame(
        [(1, 0.2, "medium", t(2024, 1, 1)), (1, 0.7, "high", t(2024, 2, 1)), (4, 0.05, "low", t(2024, 2, 1))],
        "customer_id BIGINT, churn_probability DOUBLE, risk_band STRING, scored_at TIMESTAMP")
    segment = spark.createDataFrame([(2, "Loyal high spenders", t(2024, 2, 1))],
                                    "customer_id BIGINT, segment_name STRING, assigned_at TIMESTAMP")
    got = customer_360(spark.table(f"{gold_db}.dim_customer"), spark.table(f"{gold_db}.fact_transaction"),
                       spark.table(f"{gold_db}.fact_interaction"), churn=churn, segment=segment)
    assert {tuple(r) for r in got.select("customer_id", "segment_name", "churn_probability",
                                         "churn_risk_band").collect()} == {
        (1, None, 0.7, "high"), (2, "Loyal high spenders", None, None), (3, None, None, None),
        (4, None, 0.05, "low"),
    }
