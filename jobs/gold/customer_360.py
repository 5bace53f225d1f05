"""gold.customer_360: one row per current customer with tenure, recency, frequency, money, service KPIs.

Recomputed from the dimension and the facts when any of them (or the ML tables) moved; when any customer's
figures differ, the table is rewritten in one commit. The ML tables (gold.churn_score, gold.customer_segment)
are optional: while they are not declared or not built, their columns stay null.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

import lakedb
from jobs.gold.common import Inputs, sync, table_exists, whole_at_most
from lakedb.gold import REPORTING_CURRENCY
from lakehouse_core.context import JobContext, JobResult

INPUTS = ("gold.dim_customer", "gold.fact_transaction", "gold.fact_interaction")
CHURN, SEGMENT = "gold.churn_score", "gold.customer_segment"
# Columns that order several scores/segments of one customer in time (the first one present is used).
TIME_COLUMNS = ("scored_at", "assigned_at", "features_as_of", "as_of")


def _sum_if(cond, value) -> F.Column:
    return F.sum(F.when(cond, value))


def transaction_kpis(fact: DataFrame) -> DataFrame:
    purchase = (F.col("transaction_type") == "Purchase") & (F.col("payment_status") == "Completed")
    refund = (F.col("transaction_type") == "Refund") | (F.col("payment_status") == "Refunded")
    return fact.groupBy("customer_id").agg(
        F.min("transaction_date").alias("first_transaction_date"),
        F.max("transaction_date").alias("last_transaction_date"),
        F.count(F.lit(1)).alias("transaction_count"),
        F.count(F.when(purchase, 1)).alias("purchase_count"),
        _sum_if(purchase, F.col("amount_reporting")).alias("monetary_value"),
        F.count(F.when(refund, 1)).alias("refund_count"),
        _sum_if(refund, F.col("amount_reporting")).alias("refund_amount"),
        F.count(F.when(F.col("payment_status") == "Pending", 1)).alias("pending_count"))


def interaction_kpis(fact: DataFrame) -> DataFrame:
    complaint = F.col("interaction_type") == "Complaint"
    return fact.groupBy("customer_id").agg(
        F.min("interaction_date").alias("first_interaction_date"),
        F.count(F.lit(1)).alias("interaction_count"),
        F.max("interaction_date").alias("last_interaction_date"),
        F.count(F.when(complaint, 1)).alias("complaint_count"),
        F.count(F.when(complaint & F.col("is_resolved"), 1)).alias("complaints_resolved"),
        F.count(F.when(F.col("is_follow_up_open"), 1)).alias("open_follow_ups"))


def latest_per_customer(df: DataFrame | None, wanted: dict[str, str]) -> DataFrame | None:
    """customer_id plus `wanted` columns ({ours: theirs}) from the latest row per customer; None if absent."""
    if df is None or "customer_id" not in df.columns:
        return None
    order = [c for c in TIME_COLUMNS if c in df.columns]
    if order:
        w = Window.partitionBy("customer_id").orderBy(*[F.col(c).desc_nulls_last() for c in order])
        df = df.withColumn("_n", F.row_number().over(w)).where("_n = 1")
    else:
        df = df.dropDuplicates(["customer_id"])
    return df.select("customer_id", *[
        (F.col(theirs) if theirs in df.columns else F.lit(None)).cast(_type(ours)).alias(ours)
        for ours, theirs in wanted.items()])


def _type(column: str) -> str:
    return lakedb.table("gold.customer_360").column(column).type


def customer_360(dim_customer: DataFrame, fact_tx: DataFrame, fact_int: DataFrame,
                 churn: DataFrame | None = None, segment: DataFrame | None = None) -> DataFrame:
    first_seen = dim_customer.groupBy("customer_id").agg(F.min("valid_from").alias("first_delivery"))
    out = (dim_customer.where(F.col("is_current"))
           .select("customer_id", "customer_sk", "first_name", "last_name", "gender", "birth_year", "country")
           .join(first_seen, "customer_id")
           .join(transaction_kpis(fact_tx), "customer_id", "left")
           .join(interaction_kpis(fact_int), "customer_id", "left"))
    for extra in (latest_per_customer(churn, {"churn_probability": "churn_probability",
                                              "churn_risk_band": "risk_band"}),
                  latest_per_customer(segment, {"segment_name": "segment_name"})):
        if extra is not None:
            out = out.join(extra, "customer_id", "left")
    for ours in ("churn_probability", "churn_risk_band", "segment_name"):
        if ours not in out.columns:
            out = out.withColumn(ours, F.lit(None).cast(_type(ours)))
    zero = {c: 0 for c in ("transaction_count", "purchase_count", "refund_count", "pending_count",
                           "interaction_count", "complaint_count", "complaints_resolved", "open_follow_ups")}
    return (out.fillna(zero)
            .withColumn("customer_since", F.least("first_delivery", "first_transaction_date",
                                                  "first_interaction_date"))
            .withColumn("monetary_value", F.coalesce("monetary_value", F.lit(0)).cast("decimal(18,2)"))
            .withColumn("refund_amount", F.coalesce("refund_amount", F.lit(0)).cast("decimal(18,2)"))
            .withColumn("reporting_currency", F.lit(REPORTING_CURRENCY))
            .withColumn("complaint_resolution_rate",
                        F.when(F.col("complaint_count") > 0,
                               F.col("complaints_resolved") / F.col("complaint_count")))
            .select(*lakedb.table("gold.customer_360").column_names))


def _optional(inputs: Inputs, table_id: str) -> DataFrame | None:
    return inputs.snapshot(table_id) if table_id in inputs.now else None


def run(ctx: JobContext) -> JobResult:
    optional = [t for t in (CHURN, SEGMENT) if t in lakedb.TABLES_BY_ID and table_exists(ctx.spark, ctx.table(t))]
    inputs = Inputs.load(ctx, [*INPUTS, *optional])
    if inputs.unchanged():
        return JobResult(0, 0, 0, {"skipped": True})
    rows = customer_360(*(inputs.snapshot(t) for t in INPUTS), churn=_optional(inputs, CHURN),
                        segment=_optional(inputs, SEGMENT))
    # No change feed, and a day's scores move customers across the whole key range: rewritten whole when it differs.
    written = sync(ctx.spark, ctx.table("gold.customer_360"), rows, keys=["customer_id"],
                   whole_at_most=whole_at_most("gold.customer_360"))
    inputs.commit()
    return JobResult(None, written.total, 0, {**written.__dict__, "ml_tables": optional})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
