"""gold.fact_transaction: dated USD conversion and the customer version valid on the transaction day."""

from __future__ import annotations

from decimal import Decimal

from .story import B1, B2, D

USD = "USD"


def test_amount_converts_at_latest_rate_on_or_before_its_day_with_customer_version_of_that_day(spark, gold_db):
    got = spark.sql(f"""
        SELECT f.source_system, f.transaction_id, f.customer_id, c.valid_from AS version_from, g.city, f.date_key,
               f.transaction_date, f.transaction_type, f.payment_method, f.payment_status, f.amount, f.currency,
               f.fx_rate, f.fx_rate_date, f.reporting_currency, f.amount_reporting
        FROM {gold_db}.fact_transaction f
        LEFT JOIN {gold_db}.dim_customer c ON f.customer_sk = c.customer_sk
        LEFT JOIN {gold_db}.dim_geography g ON f.geography_sk = g.geography_sk
    """)
    rate = Decimal
    assert {tuple(r) for r in got.collect()} == {
        ("payments", 1, 1, B1, "Los Angeles", 20230115, D("2023-01-15"), "Purchase", "Credit Card", "Completed",
         Decimal("100.00"), "USD", rate("1.00000000"), D("2023-01-01"), USD, Decimal("100.00")),
        # Last day of the January rate, then the first day of the February rate.
        ("payments", 2, 1, B1, "Los Angeles", 20230131, D("2023-01-31"), "Purchase", "PayPal", "Completed",
         Decimal("100.00"), "EUR", rate("1.10000000"), D("2023-01-01"), USD, Decimal("110.00")),
        ("payments", 3, 1, B1, "Los Angeles", 20230201, D("2023-02-01"), "Refund", "PayPal", "Refunded",
         Decimal("50.00"), "EUR", rate("1.20000000"), D("2023-02-01"), USD, Decimal("60.00")),
        # Dated before the customer's first delivery: the first version.
        ("payments", 4, 2, B1, "London", 20230305, D("2023-03-05"), "Purchase", "Debit Card", "Completed",
         Decimal("10.00"), "GBP", rate("1.25000000"), D("2023-01-01"), USD, Decimal("12.50")),
        # Same id in the other payment system; dated before any rate: kept, not converted.
        ("payments_v2", 1, 2, B1, "London", 20221231, D("2022-12-31"), "Purchase", "Credit Card", "Completed",
         Decimal("20.00"), "USD", None, None, USD, None),
        # 33.33 x 1.2 = 39.996, rounded half-up to cents.
        ("payments", 6, 4, B1, "New York", 20240108, D("2024-01-08"), "Purchase", "Credit Card", "Completed",
         Decimal("33.33"), "EUR", rate("1.20000000"), D("2023-02-01"), USD, Decimal("40.00")),
        # On the day of the move: the new version (valid_from is inclusive).
        ("payments", 7, 2, B2, "Paris", 20240201, D("2024-02-01"), "Purchase", "Credit Card", "Completed",
         Decimal("5.00"), "GBP", rate("1.25000000"), D("2023-01-01"), USD, Decimal("6.25")),
    }
