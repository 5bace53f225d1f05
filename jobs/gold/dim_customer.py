"""gold.dim_customer: SCD2 customer versions over profile, main address and phones, merged from silver's changes.

Silver keeps separate histories for the profile, the addresses and the phones; the dimension needs one
timeline. Every delivery day on which any of the three changed starts a version; each version takes the
profile, addresses and phones in force on that day. Consecutive versions that look the same are folded
into one. Only customers with a change in silver since the last run are recomputed.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.gold.common import Inputs, customer_sk, geography_sk, restrict, sync, union_keys
from lakehouse_core.context import JobContext, JobResult

INPUTS = ("silver.customer", "silver.address", "silver.customer_phone")
ATTRIBUTES = ("first_name", "last_name", "gender", "date_of_birth", "birth_year", "email", "username", "phone",
              "phone_count", "geography_sk", "country", "state_province", "city", "address_count")


def _in_force(alias: str, day: str = "valid_from_v") -> F.Column:
    """Rows of an SCD2 table (aliased `alias`) in force on `day`: valid_from <= day < valid_to, open end."""
    start, end = F.col(f"{alias}.valid_from"), F.col(f"{alias}.valid_to")
    return (start <= F.col(day)) & (end.isNull() | (F.col(day) < end))


def version_starts(customer: DataFrame, address: DataFrame, phone: DataFrame) -> DataFrame:
    """(customer_id, valid_from_v, valid_to_v): the days any history changed, from the first profile on."""
    points = None
    for df in (customer, address, phone):
        for c in ("valid_from", "valid_to"):
            p = df.select("customer_id", F.col(c).alias("day")).where(F.col("day").isNotNull())
            points = p if points is None else points.unionByName(p)
    first = customer.groupBy("customer_id").agg(F.min("valid_from").alias("first_day"))
    w = Window.partitionBy("customer_id").orderBy("day")
    return (points.distinct().join(first, "customer_id")
            .where(F.col("day") >= F.col("first_day"))
            .select("customer_id", F.col("day").alias("valid_from_v"),
                    F.lead("day").over(w).alias("valid_to_v")))


def customer_versions(customer: DataFrame, address: DataFrame, phone: DataFrame) -> DataFrame:
    """The rows of gold.dim_customer for every customer in `customer` (all their silver history)."""
    starts = version_starts(customer, address, phone)
    # A version exists only while a profile is in force (a closed, never replaced profile ends the customer).
    profile = starts.join(customer.alias("c"), "customer_id").where(_in_force("c")).select(
        "customer_id", "valid_from_v", "valid_to_v", "first_name", "last_name", "gender", "date_of_birth",
        F.year("date_of_birth").alias("birth_year"), "email", "username")

    addr = (starts.join(address.alias("a"), "customer_id").where(_in_force("a"))
            .select("customer_id", "valid_from_v", "country", "state_province", "city",
                    F.col("a.valid_from").alias("arrived")))
    main_addr_w = Window.partitionBy("customer_id", "valid_from_v").orderBy(
        F.col("arrived").desc(), "country", "state_province", "city")
    addr = (addr.withColumn("n", F.row_number().over(main_addr_w))
            .withColumn("address_count", F.count(F.lit(1)).over(Window.partitionBy("customer_id", "valid_from_v")))
            .where("n = 1")
            .select("customer_id", "valid_from_v",
                    geography_sk(F.col("country"), F.col("state_province"), F.col("city")).alias("geography_sk"),
                    "country", "state_province", "city", F.col("address_count").cast("int")))

    ph = (starts.join(phone.alias("p"), "customer_id").where(_in_force("p"))
          .select("customer_id", "valid_from_v", "phone", F.col("p.valid_from").alias("arrived")))
    main_phone_w = Window.partitionBy("customer_id", "valid_from_v").orderBy(F.col("arrived").desc(), "phone")
    ph = (ph.withColumn("n", F.row_number().over(main_phone_w))
          .withColumn("phone_count", F.count(F.lit(1)).over(Window.partitionBy("customer_id", "valid_from_v")))
          .where("n = 1")
          .select("customer_id", "valid_from_v", "phone", F.col("phone_count").cast("int")))

    versions = (profile.join(addr, ["customer_id", "valid_from_v"], "left")
                .join(ph, ["customer_id", "valid_from_v"], "left")
                .fillna({"address_count": 0, "phone_count": 0}))
    return fold_unchanged(versions)


def fold_unchanged(versions: DataFrame) -> DataFrame:
    """Merge consecutive versions with identical attributes (a change point that changed nothing visible)."""
    w = Window.partitionBy("customer_id").orderBy("valid_from_v")
    attrs = F.to_json(F.struct(*ATTRIBUTES))  # exact and null-aware, unlike a hash
    # A version whose predecessor ended before it started (a gap) also starts a new run.
    starts_run = (F.lag("attrs").over(w).isNull() | (F.lag("attrs").over(w) != F.col("attrs"))
                  | ~F.lag("valid_to_v").over(w).eqNullSafe(F.col("valid_from_v")))
    runs = (versions.withColumn("attrs", attrs)
            .withColumn("run", F.sum(starts_run.cast("int")).over(w)))
    return (runs.groupBy("customer_id", "run")
            .agg(F.min("valid_from_v").alias("valid_from"),
                 F.max_by("valid_to_v", "valid_from_v").alias("valid_to"),
                 *[F.first(c).alias(c) for c in ATTRIBUTES])
            .select(customer_sk(F.col("customer_id"), F.col("valid_from")).alias("customer_sk"),
                    "customer_id", *ATTRIBUTES, "valid_from", "valid_to",
                    F.col("valid_to").isNull().alias("is_current")))


def run(ctx: JobContext) -> JobResult:
    inputs = Inputs.load(ctx, INPUTS)
    if inputs.unchanged():
        ctx.log("no change in silver customer, address or phone since the last run")
        return JobResult(0, 0, 0, {"skipped": True})
    scope = union_keys(inputs.changed(t, ["customer_id"]) for t in INPUTS)
    customer, address, phone = (restrict(inputs.snapshot(t), scope) for t in INPUTS)
    if scope is not None:
        # The changed customers' rows, read once: customer_versions uses each input three to five times, and
        # each use would otherwise scan the whole silver table again to pick them out.
        customer, address, phone = (df.localCheckpoint(eager=True) for df in (customer, address, phone))
    written = sync(ctx.spark, ctx.table("gold.dim_customer"), customer_versions(customer, address, phone),
                   keys=["customer_sk"], scope=scope)
    inputs.commit()
    ctx.log(f"dim_customer: {written.inserted} inserted, {written.updated} updated, {written.deleted} deleted"
            + (" (full rebuild)" if scope is None else ""))
    return JobResult(None, written.total, 0, {"full": scope is None, **written.__dict__})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    raise SystemExit(main(__name__))
