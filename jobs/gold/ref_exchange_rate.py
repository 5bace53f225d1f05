"""gold.ref_exchange_rate: the dated exchange rates shipped with the package (resources/fx_rates.csv).

The CSV is the reference; the table mirrors it exactly, and a rerun with an unchanged file writes nothing.
A malformed CSV fails the job with the line at fault: a silently wrong rate would corrupt every total.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from importlib import resources

import lakedb
from jobs.gold.common import sync, whole_at_most
from lakedb.gold import REPORTING_CURRENCY
from lakehouse_core.context import JobContext, JobResult, local_frame
from lakehouse_core.errors import LakehouseError

RATES_RESOURCE = "resources/fx_rates.csv"  # inside the lakehouse_core package (also from a zip or wheel)
COLUMNS = ("currency", "rate_date", "reporting_currency", "rate", "source")


class ExchangeRateFileError(LakehouseError):
    """The shipped exchange-rate CSV does not follow its documented format."""


def rates_text(path: str | None = None) -> tuple[str, str]:
    """(name, text) of the rate file: `path` if given, else the copy shipped in the package."""
    if path:
        with open(path, encoding="utf-8") as fh:
            return path, fh.read()
    res = resources.files("lakehouse_core").joinpath(RATES_RESOURCE)
    return f"lakehouse_core/{RATES_RESOURCE}", res.read_text(encoding="utf-8")


def read_rates(path: str | None = None) -> list[tuple]:
    """Rows of the rate file, typed and checked (one rate per currency and day, positive, to USD)."""
    path, text = rates_text(path)
    rows, seen = [], set()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ExchangeRateFileError(f"{path}: header must be {','.join(COLUMNS)}, got {reader.fieldnames}")
    for n, rec in enumerate(reader, start=2):
        try:
            day = dt.date.fromisoformat(rec["rate_date"])
            rate = Decimal(rec["rate"])
        except (ValueError, InvalidOperation):
            raise ExchangeRateFileError(f"{path}:{n}: bad rate_date or rate in {rec}") from None
        if rate <= 0 or rec["reporting_currency"] != REPORTING_CURRENCY or len(rec["currency"]) != 3:
            raise ExchangeRateFileError(f"{path}:{n}: expected a positive rate of a 3-letter currency to "
                                        f"{REPORTING_CURRENCY}, got {rec}")
        if (rec["currency"], day) in seen:
            raise ExchangeRateFileError(f"{path}:{n}: second rate for {rec['currency']} on {day}")
        seen.add((rec["currency"], day))
        rows.append((rec["currency"], day, rec["reporting_currency"], rate, rec["source"] or None))
    return rows


def run(ctx: JobContext, path: str | None = None) -> JobResult:
    rows = read_rates(path)
    df = local_frame(ctx.spark, rows, lakedb.table("gold.ref_exchange_rate").spark_schema())
    written = sync(ctx.spark, ctx.table("gold.ref_exchange_rate"), df, keys=["currency", "rate_date"],
                   whole_at_most=whole_at_most("gold.ref_exchange_rate"))
    ctx.log(f"ref_exchange_rate: {len(rows)} rates, {written.total} rows changed")
    return JobResult(len(rows), written.total, 0, dict(written.__dict__))


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
