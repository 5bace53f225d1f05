"""silver.interaction_agent: which agents handled which interaction (the source's interaction_Agent_manger)."""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame

from jobs.silver import engine
from jobs.silver.conform import whole_number
from lakehouse_core.context import JobContext, JobResult

SOURCE = engine.Source("bronze.contact_center_interaction_agent_manger", {
    "interaction_id": ("interaction_id", whole_number),
    "agent_id": ("Agent_id", whole_number),
})
ENTITY = engine.Entity(job="silver_interaction_agent", table="silver.interaction_agent", sources=(SOURCE,),
                       key=("interaction_id", "agent_id"), history="latest")


def conform(bronze: DataFrame) -> DataFrame:
    return engine.stage(bronze, SOURCE, ENTITY)


def run(ctx: JobContext) -> JobResult:
    return engine.run(ctx, ENTITY)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
