"""silver.customer: CRM profiles, SCD2 (a changed profile starts a new version). No password: bronze drops it."""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame

from jobs.silver import engine
from jobs.silver.conform import any_date, canonical, lower_email, text, whole_number
from lakedb.silver import GENDERS
from lakehouse_core.context import JobContext, JobResult

SOURCE = engine.Source("bronze.crm_customer", {
    "customer_id": ("customer_id", whole_number),
    "date_of_birth": ("date_of_birth", any_date),
    "gender": ("gender", lambda c: canonical(c, GENDERS)),
    "email": ("email", lower_email),
    "username": ("username", text),
    "first_name": ("FName", text),
    "last_name": ("LName", text),
})
ENTITY = engine.Entity(job="silver_customer", table="silver.customer", sources=(SOURCE,), key=("customer_id",),
                       history="profile")


def conform(bronze: DataFrame) -> DataFrame:
    return engine.stage(bronze, SOURCE, ENTITY)


def run(ctx: JobContext) -> JobResult:
    return engine.run(ctx, ENTITY)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
