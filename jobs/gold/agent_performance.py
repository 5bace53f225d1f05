"""gold.agent_performance: per agent, interactions handled, resolution rate, open and overdue follow-ups."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.common import Inputs, sync, whole_at_most
from lakehouse_core.context import JobContext, JobResult

INPUTS = ("gold.dim_agent", "gold.fact_interaction", "gold.bridge_interaction_agent")


def agent_performance(dim_agent: DataFrame, fact: DataFrame, bridge: DataFrame) -> DataFrame:
    """Every agent (zero counts when idle); overdue is judged against the latest interaction day in `fact`."""
    as_of = fact.agg(F.max("interaction_date").alias("as_of_date"))
    handled = bridge.select("agent_sk", "interaction_id").distinct().join(fact, "interaction_id").crossJoin(as_of)
    open_ = F.col("is_follow_up_open")
    stats = handled.groupBy("agent_sk").agg(
        F.count(F.lit(1)).alias("interactions_handled"),
        F.count(F.when(F.col("is_resolved"), 1)).alias("interactions_resolved"),
        F.count(F.when(F.col("interaction_type") == "Complaint", 1)).alias("complaints_handled"),
        F.count(F.when(open_, 1)).alias("follow_ups_open"),
        F.count(F.when(open_ & (F.col("follow_up_date") < F.col("as_of_date")), 1)).alias("follow_ups_overdue"))
    zero = {c: 0 for c in ("interactions_handled", "interactions_resolved", "complaints_handled",
                           "follow_ups_open", "follow_ups_overdue")}
    return (dim_agent.select("agent_sk", "agent_id", "full_name")
            .join(stats, "agent_sk", "left").fillna(zero).crossJoin(as_of)
            .withColumn("resolution_rate", F.when(F.col("interactions_handled") > 0,
                                                  F.col("interactions_resolved") / F.col("interactions_handled"))))


def run(ctx: JobContext) -> JobResult:
    inputs = Inputs.load(ctx, INPUTS)
    if inputs.unchanged():
        return JobResult(0, 0, 0, {"skipped": True})
    rows = agent_performance(*(inputs.snapshot(t) for t in INPUTS))
    written = sync(ctx.spark, ctx.table("gold.agent_performance"), rows, keys=["agent_sk"],
                   whole_at_most=whole_at_most("gold.agent_performance"))
    inputs.commit()
    return JobResult(None, written.total, 0, dict(written.__dict__))


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
