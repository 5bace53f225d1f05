"""Job `ml_segments`: KMeans customer segments on recency, frequency, monetary value and engagement.

Every customer with a transaction up to the latest transaction day gets a segment. Customers without one
for over a year form their own segment ("Inactive for over a year", segment_id -1): left in, they would
take most clusters (years of departed customers outnumber the live base). The others are clustered, and
each cluster gets a readable name from how its averages compare with theirs ("Loyal high spenders",
"Lapsed customers"). The model is registered as `customer_segments`; there is no ground truth to compare
versions on, so the newest one always becomes the champion (the run says so).

The champion is fit again only every `ml.segments_refit_every_days` days of data (default 7; 0: every run):
in between it assigns the day's customers, with the names its run logged, so segment ids stay put for the
week and a daily run skips the fit, the silhouette and registering a model.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import SQLTransformer, StandardScaler, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

import lakedb
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.runner import utcnow
from ml import tracking
from ml.churn import INPUT_TABLES, data_end_of
from ml.features import as_date, features_as_of
from ml.inputs import checksum, watched

MODEL_NAME = "customer_segments"
EXPERIMENT = "customer_segments"
SEGMENT_INPUTS = ("recency_days", "frequency_365", "monetary_365", "interactions_365")
DEFAULT_K = 5
LAPSED_DAYS = 90  # no transaction for a quarter: the churn label's own definition
HIGH, LOW = 1.25, 0.75  # a cluster average this far above / below the base average counts as high / low
INACTIVE_DAYS = 365
INACTIVE_ID, INACTIVE_NAME = -1, "Inactive for over a year"
REFIT_EVERY_DAYS = 7  # conf ml.segments_refit_every_days; 0: every run fits


def rfm(features: DataFrame) -> DataFrame:
    """The segmentation inputs of every customer from a `features_as_of` frame."""
    return features.select(
        "customer_id", F.col("features_as_of").alias("as_of"),
        F.col("recency_days").cast("int").alias("recency_days"),
        F.col("tx_count_365").cast("bigint").alias("frequency_365"),
        F.col("purchase_amount_365").cast("double").alias("monetary_365"),
        F.col("interaction_count_365").cast("bigint").alias("interactions_365"),
    )


def build_pipeline(k: int, seed: int = 42) -> Pipeline:
    """log1p (the inputs are heavy-tailed), standardise, KMeans; the cluster lands in `prediction`."""
    logs = ", ".join(f"log1p(greatest(nanvl(coalesce(CAST({c} AS DOUBLE), 0.0), 0.0), 0.0)) AS l_{c}"
                     for c in SEGMENT_INPUTS)
    return Pipeline(stages=[
        SQLTransformer(statement=f"SELECT *, {logs} FROM __THIS__"),
        VectorAssembler(inputCols=[f"l_{c}" for c in SEGMENT_INPUTS], outputCol="features_raw"),
        StandardScaler(inputCol="features_raw", outputCol="features", withMean=True, withStd=True),
        # The default `prediction` column: MLflow's pyfunc wrapper for Spark models reads that name.
        KMeans(k=k, seed=seed, featuresCol="features", maxIter=30),
    ])


def cluster_profiles(assigned: DataFrame) -> list[dict[str, Any]]:
    """Size and average inputs per cluster."""
    rows = assigned.groupBy("segment_id").agg(
        F.count("*").alias("customers"), *[F.avg(c).alias(c) for c in SEGMENT_INPUTS]).collect()
    return sorted((r.asDict() for r in rows), key=lambda r: r["segment_id"])


def segment_names(profiles: list[dict[str, Any]]) -> dict[int, str]:
    """Readable, distinct names from each cluster's averages against the customer-weighted base average."""
    total = sum(p["customers"] for p in profiles) or 1
    base = {c: sum(p[c] * p["customers"] for p in profiles) / total for c in SEGMENT_INPUTS}

    def level(p: dict[str, Any], c: str) -> str:
        if base[c] <= 0:
            return "mid"
        ratio = p[c] / base[c]
        return "high" if ratio >= HIGH else "low" if ratio <= LOW else "mid"

    def name(p: dict[str, Any]) -> str:
        if p["recency_days"] > LAPSED_DAYS:
            return "Lapsed customers"
        freq, money, contact = level(p, "frequency_365"), level(p, "monetary_365"), level(p, "interactions_365")
        if freq == "high" and money == "high":
            return "Loyal high spenders"
        if contact == "high":
            return "Support-heavy customers"
        if freq == "high":
            return "Frequent buyers"
        if money == "high":
            return "Big-ticket buyers"
        if freq == "low" and money == "low":
            return "Occasional low spenders"
        return "Steady regulars"

    names = {p["segment_id"]: name(p) for p in profiles}
    # Two clusters with the same description are told apart by value.
    for label in set(names.values()):
        same = sorted((p for p in profiles if names[p["segment_id"]] == label), key=lambda p: -p["monetary_365"])
        if len(same) == 2:
            names[same[0]["segment_id"]] += " (higher value)"
            names[same[1]["segment_id"]] += " (lower value)"
        elif len(same) > 2:
            for tier, p in enumerate(same, 1):
                names[p["segment_id"]] += f" (value tier {tier})"
    return names


def named_segments(assigned: DataFrame, names: dict[int, str], model_name: str, version: str,
                   assigned_at) -> DataFrame:
    """gold.customer_segment rows from the pipeline's output."""
    mapping = F.create_map(*[x for sid, n in sorted(names.items()) for x in (F.lit(sid), F.lit(n))])
    out = assigned.select(
        F.col("customer_id").cast("bigint").alias("customer_id"), F.col("segment_id").cast("int"),
        mapping[F.col("segment_id")].alias("segment_name"), *SEGMENT_INPUTS,
        F.lit(model_name).alias("model_name"), F.lit(str(version)).alias("model_version"), "as_of",
        F.lit(assigned_at).cast("timestamp").alias("assigned_at"))
    return out.select(*lakedb.table("gold.customer_segment").column_names)


def refit_reason(client, champion: Any, k: int, cutoff: dt.date, every: int) -> tuple[str | None, Any, str]:
    """(why the segments must be fit anew, or None; `champion`, the model's current champion version or None, when
    it keeps assigning them; in words).

    A champion fit on data ending fewer than `ml.segments_refit_every_days` days before today's, with today's k,
    keeps assigning: a day of data barely moves the clusters, and customers keep their segment ids for the week.
    """
    if every <= 0:
        return "ml.segments_refit_every_days is 0: every run fits", None, ""
    if champion is None:
        return "no champion yet", None, ""
    params = client.get_run(champion.run_id).data.params if champion.run_id else {}
    if "as_of" not in params or str(params.get("k")) != str(k):
        return f"version {champion.version} was fit with k={params.get('k')}, not {k}", None, ""
    days = (cutoff - as_date(params["as_of"])).days
    if not 0 <= days < every:
        return (f"the data ends {cutoff}, {days} days after version {champion.version}'s ({params['as_of']}; "
                f"ml.segments_refit_every_days {every})"), None, ""
    return None, champion, (f"not refit: the data ends {cutoff}, {days} day(s) after version {champion.version}'s "
                            f"({params['as_of']}), under ml.segments_refit_every_days {every}; it assigns the segments")


def champion_names(champion: Any) -> dict[int, str]:
    """The segment names the champion's run logged (segments.json), by segment id."""
    import mlflow

    profiles = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/segments.json")
    return {int(p["segment_id"]): p["segment_name"] for p in profiles}


def fit(ctx: JobContext, recent: DataFrame, k: int, seed: int, cutoff: dt.date, customers: int, clustered: int,
        lineage: dict[str, str], client, model_name: str, experiment_id: str
        ) -> tuple[DataFrame, list[dict[str, Any]], dict[int, str], str]:
    """Fit, name, log and register the segmentation; (clusters of `recent`, their profiles, names, version)."""
    import mlflow

    with mlflow.start_run(run_name=f"segments {ctx.run_id}", experiment_id=experiment_id):
        mlflow.set_tags({"job": ctx.job or "ml_segments", "lakehouse_run_id": ctx.run_id, "env": ctx.cfg.env})
        tracking.log_lineage(lineage)
        mlflow.log_params({"k": k, "seed": seed, "as_of": str(cutoff), "inputs": ",".join(SEGMENT_INPUTS),
                           "customers": customers, "clustered": clustered, "inactive_days": INACTIVE_DAYS})
        model = build_pipeline(k, seed).fit(recent)
        clusters = model.transform(recent).withColumnRenamed("prediction", "segment_id").cache()
        profiles = cluster_profiles(clusters)
        names = segment_names(profiles)
        if k > 1 and len(profiles) > 1:
            mlflow.log_metric("silhouette", ClusteringEvaluator(predictionCol="segment_id").evaluate(clusters))
        mlflow.log_metric("training_cost", model.stages[-1].summary.trainingCost)
        mlflow.log_dict([{**p, "segment_name": names[p["segment_id"]]} for p in profiles], "segments.json")
        example = recent.select(*SEGMENT_INPUTS).limit(5).toPandas().astype("float64")
        output = model.transform(recent.limit(5)).select("prediction").toPandas()
        info = tracking.log_spark_model(model, example, output, model_name)
        version = str(info.registered_model_version)
        tracking.apply_decision(client, model_name, version, tracking.Decision(
            True, f"promoted: version {version} is the newest segmentation (segments have no ground truth "
                  f"to compare versions on)"))
    return clusters, profiles, names, version


def run(ctx: JobContext, k: int | None = None, as_of: str | None = None) -> JobResult:
    import mlflow

    settings = ctx.cfg.section("ml")
    asked = k is not None or as_of is not None
    k = int(k or settings.get("segments_k", DEFAULT_K))
    seed = int(settings.get("seed", 42))
    every = int(settings.get("segments_refit_every_days", REFIT_EVERY_DAYS))
    model_name = settings.get("segments_model_name", MODEL_NAME)
    client, experiment_id = tracking.connect(ctx.cfg, settings.get("segments_experiment", EXPERIMENT))
    current = tracking.current_champion(client, model_name)
    model_key = f"model:{model_name}"
    watch = watched(ctx, INPUT_TABLES, {model_key: int(current.version) if current is not None else -1,
                                        "settings": checksum({"k": k, "seed": seed, "refit_every_days": every,
                                                              "asked": asked, "as_of": as_of})})
    if watch.unchanged():
        ctx.log(f"inputs, {model_name} v{current.version} and settings as at the last run: "
                "gold.customer_segment unchanged")
        return JobResult(0, 0, 0, {"skipped": True, "model": model_name, "version": str(current.version)})
    frames, lineage = tracking.read_pinned(ctx.spark, {t: ctx.table(t) for t in INPUT_TABLES}, watch.now)
    cutoff = as_date(as_of) if as_of else data_end_of(frames["gold.fact_transaction"])
    inputs = rfm(features_as_of(frames["gold.fact_transaction"], frames["gold.fact_interaction"],
                                frames["gold.dim_customer"], cutoff)).cache()
    recent = inputs.where(F.col("recency_days") < INACTIVE_DAYS).cache()
    customers, clustered = inputs.count(), recent.count()
    if clustered == 0:  # nobody bought within a year: cluster everyone rather than fit on nothing
        recent, clustered = inputs, customers
    k = max(1, min(k, clustered))

    reason, champion, kept = ("k or as_of given as job arguments: fit as asked", None, "") if asked else \
        refit_reason(client, current, k, cutoff, every)
    clusters = None
    if champion is not None:
        names = champion_names(champion)
        model = mlflow.spark.load_model(f"models:/{model_name}/{champion.version}")
        clusters = model.transform(recent).withColumnRenamed("prediction", "segment_id").cache()
        profiles = cluster_profiles(clusters)
        unnamed = sorted({p["segment_id"] for p in profiles} - names.keys())
        if unnamed:  # a cluster empty when the champion was fit has members now: its name is unknown
            clusters.unpersist()
            clusters, reason = None, f"version {champion.version} has no name for segment(s) {unnamed}"
        else:
            version, reason = str(champion.version), kept
            ctx.log(kept)
    if clusters is None:
        ctx.log(f"fitting segments: {reason}")
        clusters, profiles, names, version = fit(ctx, recent, k, seed, cutoff, customers, clustered, lineage,
                                                 client, model_name, experiment_id)
    names = {**names, INACTIVE_ID: INACTIVE_NAME}

    inactive = inputs.where(F.col("recency_days") >= INACTIVE_DAYS) if clustered < customers else None
    assigned = clusters.select(*inputs.columns, "segment_id")
    if inactive is not None:
        assigned = assigned.unionByName(inactive.withColumn("segment_id", F.lit(INACTIVE_ID)))
    rows = named_segments(assigned, names, model_name, version, utcnow())
    rows.write.insertInto(ctx.table("gold.customer_segment"), overwrite=True)
    for df in (inputs, recent, clusters):
        df.unpersist()
    watch.now[model_key] = int(version)  # the version that assigned them (a fit registers a new one)
    watch.commit()
    sizes = {names[p["segment_id"]]: p["customers"] for p in profiles}
    if clustered < customers:
        sizes[INACTIVE_NAME] = customers - clustered
    ctx.log(f"{customers} customers in {len(sizes)} segments as of {cutoff}: {sizes}")
    return JobResult(rows_read=customers, rows_written=customers,
                     detail={"model": model_name, "version": version, "as_of": str(cutoff), "segments": sizes,
                             "refit": reason, "lineage": lineage})


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
