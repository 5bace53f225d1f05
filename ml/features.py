"""Churn features as of a cutoff day, and the churn label from the days after it.

The original platform's label was a threshold of its only feature, so its models "predicted" perfectly.
Here the two are separated in time: `features_as_of` first cuts every input to rows dated on or before the
cutoff and only then aggregates, and `labels` looks only at the `horizon_days` after the cutoff. A feature
can therefore never see the label's period (tests/ml/test_features.py appends future rows to prove it).

Profiles in gold are dated by their delivery day (`valid_from`), so at a cutoff before a customer's first
delivery the demographic columns are null rather than borrowed from the future.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakedb.gold import OPEN_OUTCOMES
from lakehouse_core.errors import LakehouseError

HORIZON_DAYS = 90
ACTIVE_DAYS = 90
# The sources' vocabularies (SOURCES.md); their order breaks ties for "most frequent".
PAYMENT_METHODS = ("Credit Card", "Debit Card", "PayPal")
CURRENCIES = ("EUR", "GBP", "USD")
CHANNELS = ("Email", "Phone", "Chat")
MAX_PREVIOUS_QUARTERS = 3

CATEGORICAL_FEATURES = ("preferred_channel", "main_payment_method", "main_currency")
NUMERIC_FEATURES = (
    "recency_days", "tenure_days",
    "tx_count_30", "tx_count_90", "tx_count_365", "activity_trend",
    "purchase_amount_30", "purchase_amount_90", "purchase_amount_365", "avg_purchase_amount_365",
    "refund_count_180", "refund_count_365", "pending_count_180", "payment_method_count",
    "interaction_count_90", "interaction_count_365", "complaint_count_180", "complaint_count_365",
    "unresolved_complaint_count_180", "unresolved_complaint_count_365", "days_since_interaction",
)
# Demographics are in the table for analysts but not model inputs: at historical cutoffs the lake does not
# know them yet (see the module docstring), so a model would learn nothing from them.
PROFILE_COLUMNS = ("gender", "age_years", "country")
FEATURE_COLUMNS = ("customer_id", "features_as_of", *NUMERIC_FEATURES, *CATEGORICAL_FEATURES, *PROFILE_COLUMNS)


class CutoffError(LakehouseError, ValueError):
    """A cutoff that the data cannot support (e.g. a label window that is not observed yet)."""


def as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def visible_as_of(df: DataFrame, date_column: str, cutoff: dt.date | str) -> DataFrame:
    """Rows dated on or before the cutoff day; rows without a date cannot be placed in time and are left out."""
    return df.where(F.col(date_column) <= F.lit(as_date(cutoff)))


def _days_before(cutoff: dt.date, date_column: str) -> Column:
    return F.datediff(F.lit(cutoff), F.col(date_column))


def _count_if(cond: Column) -> Column:
    return F.sum(F.when(cond, 1).otherwise(0))


def _sum_if(cond: Column, value: Column) -> Column:
    return F.sum(F.when(cond, value).otherwise(F.lit(0.0)))


def _most_frequent(values: tuple[str, ...], column: str) -> tuple[list[Column], Column]:
    """Per-value counts to aggregate, and the expression picking the most frequent value (ties: the first
    in `values`; null when none). One pass, no window: the domains are the sources' fixed vocabularies."""
    counts = [_count_if(F.col(column) == v).alias(f"_{column}_{i}") for i, v in enumerate(values)]
    cols = [F.col(f"_{column}_{i}") for i in range(len(values))]
    top = F.greatest(*cols) if len(cols) > 1 else cols[0]
    pick = F.when(top == 0, F.lit(None).cast("string"))
    for v, c in zip(values, cols, strict=True):
        pick = pick.when(c == top, F.lit(v))
    return counts, pick


def _drop_prefixed(df: DataFrame, prefix: str) -> DataFrame:
    return df.drop(*[c for c in df.columns if c.startswith(prefix)])


def transaction_features(tx: DataFrame, cutoff: dt.date) -> DataFrame:
    """Recency, frequency, monetary value, activity trend, refunds and pending payments per customer."""
    d = _days_before(cutoff, "transaction_date")
    completed_purchase = (F.col("transaction_type") == "Purchase") & (F.col("payment_status") == "Completed")
    refund = (F.col("transaction_type") == "Refund") | (F.col("payment_status") == "Refunded")
    amount = F.coalesce(F.col("amount_reporting").cast("double"), F.lit(0.0))
    method_counts, main_method = _most_frequent(PAYMENT_METHODS, "payment_method")
    currency_counts, main_currency = _most_frequent(CURRENCIES, "currency")
    agg = tx.groupBy("customer_id").agg(
        F.min(d).alias("recency_days"),
        F.max(d).alias("tenure_days"),
        _count_if(d < 30).alias("tx_count_30"),
        _count_if(d < 90).alias("tx_count_90"),
        _count_if(d < 365).alias("tx_count_365"),
        _count_if((d >= 90) & (d < 180)).alias("_q1"),
        _count_if((d >= 180) & (d < 270)).alias("_q2"),
        _count_if((d >= 270) & (d < 360)).alias("_q3"),
        _sum_if((d < 30) & completed_purchase, amount).alias("purchase_amount_30"),
        _sum_if((d < 90) & completed_purchase, amount).alias("purchase_amount_90"),
        _sum_if((d < 365) & completed_purchase, amount).alias("purchase_amount_365"),
        _count_if((d < 365) & completed_purchase).alias("_purchases_365"),
        _count_if((d < 180) & refund).alias("refund_count_180"),
        _count_if((d < 365) & refund).alias("refund_count_365"),
        _count_if((d < 180) & (F.col("payment_status") == "Pending")).alias("pending_count_180"),
        *method_counts, *currency_counts,
    )
    # Trend: last quarter against the mean of up to three earlier quarters the customer was already there
    # for (a customer of 200 days has one full earlier quarter); > 0 means activity is falling.
    full = F.least(F.greatest(F.floor((F.col("tenure_days") - 90) / 90), F.lit(0)), F.lit(MAX_PREVIOUS_QUARTERS))
    previous = (F.when(full >= 1, F.col("_q1")).otherwise(0) + F.when(full >= 2, F.col("_q2")).otherwise(0)
                + F.when(full >= 3, F.col("_q3")).otherwise(0))
    trend = F.when(full > 0, F.log((previous / full + 1) / (F.col("tx_count_90") + 1))).otherwise(F.lit(0.0))
    avg_purchase = F.when(F.col("_purchases_365") > 0, F.col("purchase_amount_365") / F.col("_purchases_365"))
    methods_used = sum(F.when(F.col(f"_payment_method_{i}") > 0, 1).otherwise(0)
                       for i in range(len(PAYMENT_METHODS)))
    agg = agg.select("*", trend.alias("activity_trend"), avg_purchase.alias("avg_purchase_amount_365"),
                     methods_used.alias("payment_method_count"), main_method.alias("main_payment_method"),
                     main_currency.alias("main_currency"))
    return _drop_prefixed(agg, "_")


def interaction_features(interactions: DataFrame, cutoff: dt.date) -> DataFrame:
    """Contact-centre engagement, complaints and unresolved ones, preferred channel per customer."""
    d = _days_before(cutoff, "interaction_date")
    complaint = F.col("interaction_type") == "Complaint"
    unresolved = complaint & F.col("interaction_outcome").isin(*OPEN_OUTCOMES)
    channel_counts, main_channel = _most_frequent(CHANNELS, "interaction_channel")
    agg = interactions.groupBy("customer_id").agg(
        F.min(d).alias("days_since_interaction"),
        _count_if(d < 90).alias("interaction_count_90"),
        _count_if(d < 365).alias("interaction_count_365"),
        _count_if((d < 180) & complaint).alias("complaint_count_180"),
        _count_if((d < 365) & complaint).alias("complaint_count_365"),
        _count_if((d < 180) & unresolved).alias("unresolved_complaint_count_180"),
        _count_if((d < 365) & unresolved).alias("unresolved_complaint_count_365"),
        *channel_counts,
    )
    return _drop_prefixed(agg.select("*", main_channel.alias("preferred_channel")), "_")


def profile_as_of(dim_customer: DataFrame, cutoff: dt.date) -> DataFrame:
    """The profile version in force at the cutoff: the latest one delivered on or before it."""
    latest = dim_customer.groupBy("customer_id").agg(
        F.max(F.struct("valid_from", "gender", "date_of_birth", "country")).alias("p"))
    age = F.floor(F.months_between(F.lit(cutoff), F.col("p.date_of_birth")) / 12).cast("int")
    return latest.select("customer_id", F.col("p.gender").alias("gender"), age.alias("age_years"),
                         F.col("p.country").alias("country"))


def features_as_of(fact_transaction: DataFrame, fact_interaction: DataFrame, dim_customer: DataFrame,
                   cutoff: dt.date | str) -> DataFrame:
    """One row per customer with a transaction on or before `cutoff`, built from rows dated up to it only.

    Every input is filtered at the cutoff before anything else happens, so rows dated after it (the label's
    period, later deliveries) cannot change a single value.
    """
    cutoff = as_date(cutoff)
    tx = visible_as_of(fact_transaction, "transaction_date", cutoff)
    interactions = visible_as_of(fact_interaction, "interaction_date", cutoff)
    profiles = visible_as_of(dim_customer, "valid_from", cutoff)
    interaction_zero = {c: 0 for c in ("interaction_count_90", "interaction_count_365", "complaint_count_180",
                                       "complaint_count_365", "unresolved_complaint_count_180",
                                       "unresolved_complaint_count_365")}
    out = (transaction_features(tx, cutoff)
           .join(interaction_features(interactions, cutoff), "customer_id", "left")
           .join(profile_as_of(profiles, cutoff), "customer_id", "left")
           .fillna(interaction_zero)
           .fillna({"preferred_channel": "none"})
           .withColumn("features_as_of", F.lit(cutoff)))
    return out.select(*FEATURE_COLUMNS)


def labels(fact_transaction: DataFrame, cutoff: dt.date | str, horizon_days: int = HORIZON_DAYS,
           active_days: int = ACTIVE_DAYS) -> DataFrame:
    """`label` = 1 if a customer active before the cutoff made no transaction in (cutoff, cutoff + horizon].

    Active = at least one transaction in the `active_days` up to and including the cutoff day; customers
    who only appear after the cutoff have nothing to be scored on and get no label.
    """
    cutoff = as_date(cutoff)
    d = _days_before(cutoff, "transaction_date")
    window = fact_transaction.where(
        (F.col("transaction_date") > F.lit(cutoff - dt.timedelta(days=active_days)))
        & (F.col("transaction_date") <= F.lit(cutoff + dt.timedelta(days=horizon_days))))
    return window.groupBy("customer_id").agg(
        _count_if(d >= 0).alias("_before"), _count_if(d < 0).alias("_after"),
    ).where("_before > 0").select("customer_id", F.when(F.col("_after") == 0, 1).otherwise(0).alias("label"))


def active_customers(features: DataFrame, active_days: int = ACTIVE_DAYS) -> DataFrame:
    """The feature rows of customers who transacted in the `active_days` up to the cutoff (who can churn)."""
    return features.where(F.col("recency_days") < active_days)


def labelled_features(fact_transaction: DataFrame, fact_interaction: DataFrame, dim_customer: DataFrame,
                      cutoff: dt.date | str, horizon_days: int = HORIZON_DAYS) -> DataFrame:
    """Features at the cutoff joined with the label of the following `horizon_days` (active customers only)."""
    feats = active_customers(features_as_of(fact_transaction, fact_interaction, dim_customer, cutoff))
    return feats.join(labels(fact_transaction, cutoff, horizon_days), "customer_id", "inner")


def check_label_window(cutoff: dt.date | str, data_end: dt.date, horizon_days: int = HORIZON_DAYS) -> None:
    """Refuse a cutoff whose label window runs past the data: its 'no transaction' labels would be unproven."""
    end = as_date(cutoff) + dt.timedelta(days=horizon_days)
    if end > data_end:
        raise CutoffError(f"label window of cutoff {as_date(cutoff)} ends {end}, after the last transaction day "
                          f"{data_end} in the lake: choose an earlier cutoff (conf ml.eval_cutoff)")
