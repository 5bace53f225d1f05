"""silver.customer_phone: digits-only phone numbers; phones accumulate (a new one never closes the others)."""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame

from jobs.silver import engine
from jobs.silver.conform import digits_only, whole_number
from lakehouse_core.context import JobContext, JobResult

SOURCE = engine.Source("bronze.crm_customer_phone", {
    "customer_id": ("customer_id", whole_number),
    "phone": ("phone", digits_only),
})
ENTITY = engine.Entity(job="silver_customer_phone", table="silver.customer_phone", sources=(SOURCE,),
                       key=("customer_id",), member=("phone",), history="accumulate")


def conform(bronze: DataFrame) -> DataFrame:
    return engine.stage(bronze, SOURCE, ENTITY)


def run(ctx: JobContext) -> JobResult:
    return engine.run(ctx, ENTITY)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
