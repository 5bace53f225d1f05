"""gold.fact_interaction and gold.bridge_interaction_agent, from silver's changes.

Recomputed: interactions that changed in silver, interactions whose agent assignments changed, and all
interactions of customers whose dimension versions changed. Only rows whose values differ are written.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.common import Inputs, agent_sk, date_key, restrict, sync, union_keys
from jobs.gold.fact_transaction import with_customer_version
from lakedb.gold import OPEN_OUTCOMES, RESOLVED_OUTCOMES
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.layout import rows_per_file

INPUTS = ("silver.interaction", "silver.interaction_agent", "gold.dim_customer")


def bridge_rows(assignments: DataFrame) -> DataFrame:
    """Rows of gold.bridge_interaction_agent: one per (interaction, agent), weight 1 / agents on it."""
    pairs = assignments.select("interaction_id", "agent_id").distinct()
    counts = pairs.groupBy("interaction_id").agg(F.count(F.lit(1)).alias("n"))
    return pairs.join(counts, "interaction_id").select(
        "interaction_id", agent_sk(F.col("agent_id")).alias("agent_sk"), "agent_id",
        (F.lit(1.0) / F.col("n")).alias("weight"))


def fact_rows(interactions: DataFrame, assignments: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """Rows of gold.fact_interaction for the silver interactions given."""
    agents = assignments.select("interaction_id", "agent_id").distinct().groupBy("interaction_id") \
        .agg(F.count(F.lit(1)).cast("int").alias("agent_count"))
    outcome = F.col("interaction_outcome")
    return (with_customer_version(interactions, dim_customer, "interaction_date")
            .join(agents, "interaction_id", "left")
            .select(
                "interaction_id", "customer_sk", "customer_id",
                date_key(F.col("interaction_date")).alias("date_key"),
                "interaction_date", "interaction_type", "interaction_outcome", "interaction_channel",
                "follow_up_required", "follow_up_date",
                date_key(F.col("follow_up_date")).alias("follow_up_date_key"),
                outcome.isin(*RESOLVED_OUTCOMES).alias("is_resolved"),
                (F.coalesce(F.col("follow_up_required"), F.lit(False)) & outcome.isin(*OPEN_OUTCOMES))
                .alias("is_follow_up_open"),
                F.coalesce(F.col("agent_count"), F.lit(0)).alias("agent_count")))


def changed_ids(inputs: Inputs, interactions: DataFrame) -> DataFrame | None:
    """interaction_ids to recompute, or None for all of them."""
    customers = inputs.changed("gold.dim_customer", ["customer_id"])
    if customers is None:
        return None
    return union_keys([inputs.changed("silver.interaction", ["interaction_id"]),
                       inputs.changed("silver.interaction_agent", ["interaction_id"]),
                       restrict(interactions, customers).select("interaction_id")])


def run(ctx: JobContext) -> JobResult:
    inputs = Inputs.load(ctx, INPUTS)
    if inputs.unchanged():
        return JobResult(0, 0, 0, {"skipped": True})
    interactions = inputs.snapshot("silver.interaction")
    scope = changed_ids(inputs, interactions)
    assignments = restrict(inputs.snapshot("silver.interaction_agent"), scope)
    facts = fact_rows(restrict(interactions, scope), assignments, inputs.snapshot("gold.dim_customer"))
    per_file = rows_per_file(ctx.cfg)  # new interactions each day: their MERGE skips the files of older ones
    written = sync(ctx.spark, ctx.table("gold.fact_interaction"), facts, keys=["interaction_id"], scope=scope,
                   rows_per_file=per_file)
    bridged = sync(ctx.spark, ctx.table("gold.bridge_interaction_agent"), bridge_rows(assignments),
                   keys=["interaction_id", "agent_sk"], scope=scope, rows_per_file=per_file)
    inputs.commit()
    return JobResult(None, written.total + bridged.total, 0,
                     {"full": scope is None, "fact": written.__dict__, "bridge": bridged.__dict__})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
