"""gold.ref_exchange_rate: the shipped CSV is complete and checked; the table mirrors the file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from jobs.gold.ref_exchange_rate import ExchangeRateFileError, read_rates


def test_shipped_rates_give_every_month_2019_to_2026_for_each_currency():
    rows = read_rates()
    months = {dt.date(y, m, 1) for y in range(2019, 2027) for m in range(1, 13)}
    by_currency = {c: {r[1] for r in rows if r[0] == c} for c in ("USD", "EUR", "GBP")}
    assert by_currency == {"USD": months, "EUR": months, "GBP": months}
    assert len(rows) == 3 * 96
    assert {r[3] for r in rows if r[0] == "USD"} == {Decimal("1.0000")}
    assert {r[2] for r in rows} == {"USD"}


def test_a_broken_rate_file_fails_naming_the_line(tmp_path):
    path = tmp_path / "fx.csv"
    path.write_text("currency,rate_date,reporting_currency,rate,source\n"
                    "EUR,2024-01-01,USD,1.1,x\n"
                    "EUR,2024-02-01,USD,-1,x\n")
    with pytest.raises(ExchangeRateFileError, match=r"fx.csv:3: expected a positive rate"):
        read_rates(str(path))


def test_table_mirrors_the_rate_file(spark, gold_db):
    got = {tuple(r) for r in spark.table(f"{gold_db}.ref_exchange_rate").collect()}
    d = dt.date
    assert got == {
        ("USD", d(2023, 1, 1), "USD", Decimal("1.00000000"), "identity"),
        ("EUR", d(2023, 1, 1), "USD", Decimal("1.10000000"), "test"),
        ("EUR", d(2023, 2, 1), "USD", Decimal("1.20000000"), "test"),
        ("GBP", d(2023, 1, 1), "USD", Decimal("1.25000000"), "test"),
    }
