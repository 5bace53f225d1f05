"""gold.fact_transaction: silver transactions with the customer version of their day and a dated USD amount.

Recomputed rows: transactions that changed in silver, and all transactions of customers whose dimension
versions changed (their customer_sk or geography may move). A changed rate table recomputes everything;
only rows whose values differ are written.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.gold.common import Inputs, date_key, restrict, sync, union_keys
from lakedb.gold import REPORTING_CURRENCY
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.layout import rows_per_file

INPUTS = ("silver.transaction", "gold.dim_customer", "gold.ref_exchange_rate")
KEYS = ["source_system", "transaction_id"]


def rate_periods(rates: DataFrame) -> DataFrame:
    """Each rate with the period it applies to: [rate_date, next rate_date of the same currency)."""
    w = Window.partitionBy("currency").orderBy("rate_date")
    return rates.select("currency", "rate_date", "rate", F.lead("rate_date").over(w).alias("next_rate_date"))


def with_reporting_amount(tx: DataFrame, rates: DataFrame) -> DataFrame:
    """Adds fx_rate, fx_rate_date, reporting_currency and amount_reporting (rate as of transaction_date)."""
    r = F.broadcast(rate_periods(rates)).alias("r")
    t = tx.alias("t")
    on = ((F.col("t.currency") == F.col("r.currency")) & (F.col("r.rate_date") <= F.col("t.transaction_date"))
          & (F.col("r.next_rate_date").isNull() | (F.col("t.transaction_date") < F.col("r.next_rate_date"))))
    return t.join(r, on, "left").select(
        "t.*",
        F.col("r.rate").alias("fx_rate"),
        F.col("r.rate_date").alias("fx_rate_date"),
        F.lit(REPORTING_CURRENCY).alias("reporting_currency"),
        F.round(F.col("t.amount") * F.col("r.rate"), 2).cast("decimal(14,2)").alias("amount_reporting"),
    )


def customer_periods(dim_customer: DataFrame) -> DataFrame:
    """Dimension versions with the days they cover for fact lookups; the first version also covers the past."""
    w = Window.partitionBy("customer_id").orderBy("valid_from")
    return dim_customer.select(
        "customer_id", "customer_sk", "geography_sk",
        # null = open start: the first version also covers everything before it
        F.when(F.row_number().over(w) > 1, F.col("valid_from")).alias("from_day"),
        "valid_to")


def with_customer_version(facts: DataFrame, dim_customer: DataFrame, day: str) -> DataFrame:
    """Adds customer_sk and geography_sk of the customer's version in force on column `day`."""
    p = customer_periods(dim_customer).alias("p")
    f = facts.alias("f")
    on = ((F.col("f.customer_id") == F.col("p.customer_id"))
          & (F.col("p.from_day").isNull() | (F.col("p.from_day") <= F.col(f"f.{day}")))
          & (F.col("p.valid_to").isNull() | (F.col(f"f.{day}") < F.col("p.valid_to"))))
    return f.join(p, on, "left").select("f.*", "p.customer_sk", "p.geography_sk")


def fact_rows(tx: DataFrame, dim_customer: DataFrame, rates: DataFrame) -> DataFrame:
    """Rows of gold.fact_transaction for the silver transactions `tx`."""
    return (with_customer_version(with_reporting_amount(tx, rates), dim_customer, "transaction_date")
            .withColumn("date_key", date_key(F.col("transaction_date"))))


def changed_keys(inputs: Inputs, tx: DataFrame) -> DataFrame | None:
    """Keys of the transactions to recompute, or None for all of them."""
    if inputs.full or inputs.moved("gold.ref_exchange_rate"):
        return None
    customers = inputs.changed("gold.dim_customer", ["customer_id"])
    keys = inputs.changed("silver.transaction", KEYS)
    if customers is None or keys is None:
        return None
    return union_keys([keys, restrict(tx, customers).select(*KEYS)])


def run(ctx: JobContext) -> JobResult:
    inputs = Inputs.load(ctx, INPUTS)
    if inputs.unchanged():
        return JobResult(0, 0, 0, {"skipped": True})
    tx = inputs.snapshot("silver.transaction")
    scope = changed_keys(inputs, tx)
    rows = fact_rows(restrict(tx, scope), inputs.snapshot("gold.dim_customer"),
                     inputs.snapshot("gold.ref_exchange_rate"))
    written = sync(ctx.spark, ctx.table("gold.fact_transaction"), rows, keys=KEYS, scope=scope,
                   rows_per_file=rows_per_file(ctx.cfg))
    inputs.commit()
    return JobResult(None, written.total, 0, {"full": scope is None, **written.__dict__})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
