"""gold.dim_agent: agents from the HR roster (SCD1), plus inferred members for agents only seen in assignments."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.common import Inputs, agent_sk, restrict, sync, union_keys
from lakehouse_core.context import JobContext, JobResult

INPUTS = ("silver.agent", "silver.interaction_agent")


def agents(roster: DataFrame, assignments: DataFrame) -> DataFrame:
    """Roster agents, and one inferred row (names null) per assigned agent missing from the roster."""
    known = roster.select(
        "agent_id", "first_name", "last_name",
        F.nullif(F.concat_ws(" ", "first_name", "last_name"), F.lit("")).alias("full_name"),
        F.lit(False).alias("is_inferred"))
    inferred = (assignments.select("agent_id").distinct().join(roster.select("agent_id"), "agent_id", "left_anti")
                .select("agent_id", F.lit(None).cast("string").alias("first_name"),
                        F.lit(None).cast("string").alias("last_name"), F.lit(None).cast("string").alias("full_name"),
                        F.lit(True).alias("is_inferred")))
    return known.unionByName(inferred).select(agent_sk(F.col("agent_id")).alias("agent_sk"), "*")


def run(ctx: JobContext) -> JobResult:
    inputs = Inputs.load(ctx, INPUTS)
    if inputs.unchanged():
        return JobResult(0, 0, 0, {"skipped": True})
    scope = union_keys(inputs.changed(t, ["agent_id"]) for t in INPUTS)
    roster, assignments = (restrict(inputs.snapshot(t), scope) for t in INPUTS)
    written = sync(ctx.spark, ctx.table("gold.dim_agent"), agents(roster, assignments), keys=["agent_sk"],
                   scope=scope)
    inputs.commit()
    return JobResult(None, written.total, 0, {"full": scope is None, **written.__dict__})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
