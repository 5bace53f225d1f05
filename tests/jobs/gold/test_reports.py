"""Each original report equals an independent Spark SQL computation over the same silver rows."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from .story import RATES_CSV

CURRENT_CUSTOMERS = "(SELECT * FROM {s}.customer WHERE is_current)"
# Every transaction with its USD amount at the latest rate on or before its day (null if none).
USD_TX = """(SELECT *, ROUND(amount * rate, 2) AS usd FROM (
               SELECT t.*, (SELECT max_by(r.rate, r.rate_date) FROM test_rates r
                            WHERE r.currency = t.currency AND r.rate_date <= t.transaction_date) AS rate
               FROM {s}.transaction t))"""
TOTALS = "COUNT(*), CAST(SUM(usd) AS DECIMAL(18,2)), 'USD', COUNT(*) - COUNT(usd)"

REPORTS = {
    "rpt_customers_by_country": f"""
        SELECT a.country, COUNT(DISTINCT c.customer_id) FROM {CURRENT_CUSTOMERS} c
        LEFT JOIN (SELECT * FROM {{s}}.address WHERE is_current) a ON a.customer_id = c.customer_id
        GROUP BY a.country""",
    "rpt_customers_multiple_addresses": f"""
        SELECT c.customer_id, c.first_name, c.last_name, COUNT(DISTINCT struct(a.country, a.state_province, a.city))
        FROM {CURRENT_CUSTOMERS} c JOIN {{s}}.address a ON a.customer_id = c.customer_id AND a.is_current
        GROUP BY c.customer_id, c.first_name, c.last_name
        HAVING COUNT(DISTINCT struct(a.country, a.state_province, a.city)) > 1""",
    "rpt_customers_multiple_phones": f"""
        SELECT c.customer_id, c.first_name, c.last_name, COUNT(DISTINCT p.phone)
        FROM {CURRENT_CUSTOMERS} c JOIN {{s}}.customer_phone p ON p.customer_id = c.customer_id AND p.is_current
        GROUP BY c.customer_id, c.first_name, c.last_name HAVING COUNT(DISTINCT p.phone) > 1""",
    "rpt_customers_by_birth_year": f"""
        SELECT YEAR(date_of_birth), COUNT(DISTINCT customer_id) FROM {CURRENT_CUSTOMERS} GROUP BY 1""",
    "rpt_customers_by_gender": f"SELECT gender, COUNT(DISTINCT customer_id) FROM {CURRENT_CUSTOMERS} GROUP BY 1",
    "rpt_transactions_by_customer": f"SELECT customer_id, {TOTALS} FROM {USD_TX} GROUP BY customer_id",
    "rpt_transactions_by_status": f"SELECT payment_status, {TOTALS} FROM {USD_TX} GROUP BY payment_status",
    "rpt_transactions_by_year": f"SELECT YEAR(transaction_date), {TOTALS} FROM {USD_TX} GROUP BY 1",
    "rpt_transactions_by_method_status": f"""
        SELECT payment_method, payment_status, {TOTALS} FROM {USD_TX} GROUP BY payment_method, payment_status""",
    "rpt_interactions_by_outcome": """
        SELECT interaction_outcome, COUNT(*), COUNT(DISTINCT customer_id) FROM {s}.interaction
        GROUP BY interaction_outcome""",
    "rpt_top_customers": f"""
        SELECT * FROM (
          SELECT RANK() OVER (ORDER BY n DESC) AS r, x.customer_id, c.first_name, c.last_name, n, amount, 'USD',
                 unconverted
          FROM (SELECT customer_id, COUNT(*) n, CAST(SUM(usd) AS DECIMAL(18,2)) amount,
                       COUNT(*) - COUNT(usd) unconverted FROM {USD_TX} GROUP BY customer_id) x
          LEFT JOIN {CURRENT_CUSTOMERS} c ON c.customer_id = x.customer_id)
        WHERE r <= 10""",
}


@pytest.fixture(scope="module")
def rates_view(spark):
    rows = [(r["currency"], r["rate_date"], Decimal(r["rate"])) for r in csv.DictReader(io.StringIO(RATES_CSV))]
    spark.createDataFrame(rows, "currency STRING, rate_date STRING, rate DECIMAL(18,8)") \
        .selectExpr("currency", "CAST(rate_date AS DATE) AS rate_date", "rate").createOrReplaceTempView("test_rates")
    yield
    spark.catalog.dropTempView("test_rates")


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_report_equals_independent_sql_over_silver(spark, gold_db, silver_db, rates_view, report):
    got = {tuple(r) for r in spark.table(f"{gold_db}.{report}").collect()}
    expected = {tuple(r) for r in spark.sql(REPORTS[report].format(s=silver_db)).collect()}
    assert got == expected
    assert got  # the story gives every report rows, so an empty pair cannot pass unnoticed


def test_customers_by_country_counts_customers_not_address_rows(spark, gold_db):
    got = {tuple(r) for r in spark.table(f"{gold_db}.rpt_customers_by_country").collect()}
    # Ann has two US addresses and counts once; Cy has none.
    assert got == {("US", 2), ("FR", 1), (None, 1)}
