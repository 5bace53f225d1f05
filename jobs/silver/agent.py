"""silver.agent: the HR roster's agents, latest delivered name per agent_id."""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame

from jobs.silver import engine
from jobs.silver.conform import text, whole_number
from lakehouse_core.context import JobContext, JobResult

SOURCE = engine.Source("bronze.hr_agent", {
    "agent_id": ("Agent_id", whole_number),
    "first_name": ("FName", text),
    "last_name": ("LName", text),
})
ENTITY = engine.Entity(job="silver_agent", table="silver.agent", sources=(SOURCE,), key=("agent_id",),
                       history="latest")


def conform(bronze: DataFrame) -> DataFrame:
    return engine.stage(bronze, SOURCE, ENTITY)


def run(ctx: JobContext) -> JobResult:
    return engine.run(ctx, ENTITY)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
