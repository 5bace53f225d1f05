"""gold.dim_date: a fixed calendar, 2000-01-01 to 2035-12-31, built once (rebuilt only on --full-refresh)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.gold.common import date_key, sync
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.delta_log import current_version

FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2035, 12, 31)


def calendar(spark: SparkSession, first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY) -> DataFrame:
    """One row per day from `first` to `last`, with the attributes reports group by."""
    days = spark.range((last - first).days + 1).select(F.date_add(F.lit(first), F.col("id").cast("int")).alias("d"))
    dow = ((F.dayofweek("d") + 5) % 7 + 1)  # Spark: Sunday = 1; ISO: Monday = 1
    return days.select(
        date_key(F.col("d")).alias("date_key"),
        F.col("d").alias("date"),
        F.year("d").alias("year"),
        F.quarter("d").alias("quarter"),
        F.month("d").alias("month"),
        F.date_format("d", "MMMM").alias("month_name"),
        F.date_format("d", "yyyy-MM").alias("year_month"),
        F.dayofmonth("d").alias("day_of_month"),
        dow.alias("day_of_week"),
        F.date_format("d", "EEEE").alias("day_name"),
        F.weekofyear("d").alias("week_of_year"),
        (dow >= 6).alias("is_weekend"),
    )


def run(ctx: JobContext) -> JobResult:
    target = ctx.table("gold.dim_date")
    if not ctx.full_refresh and current_version(ctx.spark, target) > 0:
        ctx.log("dim_date is already built")
        return JobResult(0, 0, 0, {"skipped": True})
    written = sync(ctx.spark, target, calendar(ctx.spark), keys=["date_key"])
    return JobResult(None, written.total, 0, dict(written.__dict__))


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
