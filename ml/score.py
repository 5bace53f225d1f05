"""Job `ml_score_churn`: score every active customer with the champion churn model into gold.churn_score.

The model is whatever `models:/customer_churn@champion` is at run time, so a promotion by
`ml_train_churn` takes effect on the next scoring run and a refused one changes nothing. A run whose inputs,
champion and settings are those of the last scoring skips (`ml.inputs`). Features are
built as of the latest transaction day in the lake with the same code the model was trained on.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

import lakedb
from lakehouse_core.context import JobContext, JobResult
from lakehouse_core.errors import LakehouseError
from lakehouse_core.runner import utcnow
from ml import tracking
from ml.churn import EXPERIMENT, INPUT_TABLES, MODEL_NAME, data_end_of
from ml.features import active_customers, as_date, features_as_of
from ml.inputs import checksum, watched

DEFAULT_BANDS = {"medium": 0.2, "high": 0.5}


class NoChampionError(LakehouseError):
    """Scoring needs a champion model and the registry has none."""


def risk_band(probability: Column, medium: float, high: float) -> Column:
    """low below `medium`, high from `high`, medium between."""
    if not 0 <= medium <= high <= 1:
        raise ValueError(f"risk band thresholds must satisfy 0 <= medium <= high <= 1, got {medium}, {high}")
    return F.when(probability >= high, "high").when(probability >= medium, "medium").otherwise("low")


def score_frame(predictions: DataFrame, model_name: str, model_version: str, scored_at: dt.datetime,
                run_id: str, bands: dict[str, float] | None = None) -> DataFrame:
    """gold.churn_score rows from a Spark ML prediction frame of feature rows."""
    bands = {**DEFAULT_BANDS, **(bands or {})}
    p = vector_to_array("probability")[1]
    out = predictions.select(
        F.col("customer_id").cast("bigint").alias("customer_id"),
        p.alias("churn_probability"),
        risk_band(p, float(bands["medium"]), float(bands["high"])).alias("risk_band"),
        F.lit(model_name).alias("model_name"),
        F.lit(str(model_version)).alias("model_version"),
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
        F.col("features_as_of"),
        F.lit(run_id).alias("run_id"),
    )
    return out.select(*lakedb.table("gold.churn_score").column_names)


def replace_scores(spark, table: str, scores: DataFrame, scored: int) -> dict[str, int]:
    """The table's rows become `scores` (one per customer, cached; `scored` of them): one overwrite. Customers no
    longer active lose their stale score. Every row's scored_at moves on each scoring, so a MERGE would rewrite
    every file too, after joining the whole table with the scores."""
    before = spark.table(table).select("customer_id").localCheckpoint(eager=True)
    kept = scores.join(before, "customer_id", "left_semi").count()
    counts = {"inserted": scored - kept, "updated": kept, "deleted": before.count() - kept}
    # insertInto: an overwrite of the data only; the table's definition (comments, constraints) stays.
    scores.write.insertInto(table, overwrite=True)
    return counts


def run(ctx: JobContext, as_of: str | None = None) -> JobResult:
    import mlflow.spark

    settings = ctx.cfg.section("ml")
    model_name = settings.get("churn_model_name", MODEL_NAME)
    client, _ = tracking.connect(ctx.cfg, settings.get("churn_experiment", EXPERIMENT))
    champion = tracking.current_champion(client, model_name)
    if champion is None:
        raise NoChampionError(f"no version of model {model_name!r} has the alias {tracking.CHAMPION!r}: run "
                              f"ml_train_churn first")
    bands_conf = settings.get("risk_bands")
    watch = watched(ctx, INPUT_TABLES, {f"model:{model_name}": int(champion.version),
                                        "settings": checksum({"risk_bands": bands_conf, "as_of": as_of})})
    if watch.unchanged():
        ctx.log(f"inputs, {model_name} v{champion.version} and settings as at the last scoring: "
                "gold.churn_score unchanged")
        return JobResult(0, 0, 0, {"skipped": True, "model": model_name, "version": str(champion.version)})
    model = mlflow.spark.load_model(f"models:/{model_name}@{tracking.CHAMPION}")
    frames, lineage = tracking.read_pinned(ctx.spark, {t: ctx.table(t) for t in INPUT_TABLES}, watch.now)
    cutoff = as_date(as_of) if as_of else data_end_of(frames["gold.fact_transaction"])
    features = active_customers(features_as_of(frames["gold.fact_transaction"], frames["gold.fact_interaction"],
                                               frames["gold.dim_customer"], cutoff))
    t0 = time.perf_counter()
    scores = score_frame(model.transform(features), model_name, champion.version, utcnow(), ctx.run_id,
                         bands_conf).cache()
    scored = scores.count()
    changes = replace_scores(ctx.spark, ctx.table("gold.churn_score"), scores, scored)
    seconds = time.perf_counter() - t0
    bands = {r["risk_band"]: r["count"] for r in scores.groupBy("risk_band").count().collect()}
    scores.unpersist()
    watch.commit()
    ctx.log(f"scored {scored} active customers as of {cutoff} with {model_name} v{champion.version}: {bands}")
    detail: dict[str, Any] = {"model": model_name, "version": str(champion.version), "features_as_of": str(cutoff),
                              "bands": bands, "lineage": lineage, "seconds": round(seconds, 2), **changes}
    return JobResult(rows_read=scored, rows_written=changes["inserted"] + changes["updated"], detail=detail)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
