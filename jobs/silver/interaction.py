"""silver.interaction: contact-centre interactions (JSON Lines), latest delivered state per interaction_id."""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame

from jobs.silver import engine
from jobs.silver.conform import any_date, canonical, whole_number, yes_no
from lakedb.silver import CHANNELS, INTERACTION_OUTCOMES, INTERACTION_TYPES
from lakehouse_core.context import JobContext, JobResult

SOURCE = engine.Source("bronze.contact_center_interaction", {
    "interaction_id": ("Interaction_id", whole_number),
    "customer_id": ("customer_id", whole_number),
    "interaction_date": ("interaction_date", any_date),
    "interaction_type": ("interaction_type", lambda c: canonical(c, INTERACTION_TYPES)),
    "interaction_outcome": ("interaction_outcome", lambda c: canonical(c, INTERACTION_OUTCOMES)),
    "follow_up_required": ("follow_up_required", yes_no),
    "follow_up_date": ("follow_up_date", any_date),
    "interaction_channel": ("interaction_channel", lambda c: canonical(c, CHANNELS)),
})
ENTITY = engine.Entity(job="silver_interaction", table="silver.interaction", sources=(SOURCE,),
                       key=("interaction_id",), history="latest")


def conform(bronze: DataFrame) -> DataFrame:
    return engine.stage(bronze, SOURCE, ENTITY)


def run(ctx: JobContext) -> JobResult:
    return engine.run(ctx, ENTITY)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
