"""gold.dim_geography: every (country, state_province, city) ever in silver.address; rows are only added."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.common import Inputs, geography_sk, sync
from lakehouse_core.context import JobContext, JobResult

PLACE = ("country", "state_province", "city")


def geographies(address: DataFrame) -> DataFrame:
    """Distinct places of `address` rows with their surrogate key."""
    return (address.select(*PLACE).distinct()
            .select(geography_sk(F.col("country"), F.col("state_province"), F.col("city")).alias("geography_sk"),
                    *PLACE))


def run(ctx: JobContext) -> JobResult:
    inputs = Inputs.load(ctx, ["silver.address"])
    if inputs.unchanged():
        return JobResult(0, 0, 0, {"skipped": True})
    changed = inputs.changed("silver.address", list(PLACE))
    source = inputs.snapshot("silver.address") if changed is None else changed
    rows = geographies(source.where(F.col("country").isNotNull()))
    # Places are never removed (old facts keep theirs): the scope is just the rows offered.
    written = sync(ctx.spark, ctx.table("gold.dim_geography"), rows, keys=["geography_sk"], delete=False)
    inputs.commit()
    return JobResult(None, written.total, 0, dict(written.__dict__))


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
