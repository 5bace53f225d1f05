"""Column functions: bronze text to silver values, null when the text does not parse."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs.silver.conform import any_date, canonical, digits_only, exact_amount, lower_email, whole_number, yes_no
from lakedb.silver import PAYMENT_METHODS

D = dt.date


def test_any_date_reads_both_formats_and_rejects_impossible_dates(spark):
    df = spark.createDataFrame([(v,) for v in (
        "2024-02-29", " 2/29/2024 ", "12/31/2023", "2023-1-5", "2024-02-30", "2/30/2024", "2023-13-45", "13/45/2023",
        "0/0/0000", "20xx-01-01", "yesterday", "", None)], "raw string")
    got = [r.d for r in df.select(any_date("raw").alias("d")).collect()]
    assert got == [D(2024, 2, 29), D(2024, 2, 29), D(2023, 12, 31), D(2023, 1, 5)] + [None] * 9


def test_canonical_values_trim_case_and_digits(spark):
    df = spark.createDataFrame([
        (" PayPal ", "usd", " Ann.Lee@Example.COM ", "(555) 123-4567", " 00042 ", "12.5", "Yes "),
        ("paypal", "Eur", "bo@x.io", "555.123.4567", "C42", "-120.50", "no"),
        ("Cash", "JPY", "   ", "---", "", "1.234", "Maybe"),
    ], "method string, currency string, email string, phone string, id string, amount string, follow string")
    got = df.select(canonical("method", PAYMENT_METHODS).alias("method"),
                    canonical("currency", ("USD", "EUR", "GBP")).alias("currency"),
                    lower_email("email").alias("email"), digits_only("phone").alias("phone"),
                    whole_number("id").alias("id"), exact_amount("amount").alias("amount"),
                    yes_no("follow").alias("follow"))
    expected = spark.createDataFrame([
        ("PayPal", "USD", "ann.lee@example.com", "5551234567", 42, "12.50", True),
        ("PayPal", "EUR", "bo@x.io", "5551234567", None, "-120.50", False),
        ("Cash", "JPY", None, None, None, None, None),
    ], "method string, currency string, email string, phone string, id bigint, amount string, follow boolean") \
        .withColumn("amount", F.col("amount").cast("decimal(12,2)"))
    assert_df_equality(got, expected, ignore_nullable=True)
