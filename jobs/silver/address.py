"""silver.address: customer addresses, SCD2 of each customer's address set (a later delivery is a move)."""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame

from jobs.silver import engine
from jobs.silver.conform import text, whole_number
from lakehouse_core.context import JobContext, JobResult

SOURCE = engine.Source("bronze.crm_the_address", {
    "customer_id": ("customer_id", whole_number),
    "country": ("country", text),
    "state_province": ("government", text),
    "city": ("city", text),
})
ENTITY = engine.Entity(job="silver_address", table="silver.address", sources=(SOURCE,), key=("customer_id",),
                       member=("country", "state_province", "city"), history="set")


def conform(bronze: DataFrame) -> DataFrame:
    return engine.stage(bronze, SOURCE, ENTITY)


def run(ctx: JobContext) -> JobResult:
    return engine.run(ctx, ENTITY)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
