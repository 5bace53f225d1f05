"""Batch scoring with the champion into gold.churn_score."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.sql import functions as F

import lakedb
from lakehouse_core.catalog import qualified
from ml import score
from tests.ml.conftest import job_context, synthetic_customers


def test_risk_bands_split_at_the_configured_thresholds(spark):
    df = spark.createDataFrame([(0.0,), (0.19,), (0.2,), (0.49,), (0.5,), (1.0,)], "p double")
    got = [r[0] for r in df.select(score.risk_band(F.col("p"), 0.2, 0.5)).collect()]
    assert got == ["low", "low", "medium", "medium", "high", "high"]
    with pytest.raises(ValueError, match="0 <= medium <= high <= 1"):
        score.risk_band(F.col("p"), 0.6, 0.5)


def test_scoring_writes_one_row_per_active_customer_with_the_champion(spark, ml_lake, trained):
    _, out = trained
    result = score.run(job_context(spark, ml_lake, "ml_score_churn", run_id="s1"))
    table = spark.table(qualified(ml_lake, "gold.churn_score"))
    rows = table.collect()
    expected_schema = lakedb.table("gold.churn_score").spark_schema()
    assert [(f.name, f.dataType) for f in table.schema] == [(f.name, f.dataType) for f in expected_schema]
    txs = synthetic_customers()["gold.fact_transaction"]
    data_end = max(t["transaction_date"] for t in txs)
    active = {t["customer_id"] for t in txs if (data_end - t["transaction_date"]).days < 90}
    assert sorted(r.customer_id for r in rows) == sorted(active)
    assert (result.rows_written, result.detail["inserted"]) == (len(active), len(active))
    assert {(r.model_name, r.model_version, r.features_as_of, r.run_id) for r in rows} == {
        ("customer_churn", out.model_version, data_end, "s1")}
    assert all(0.0 <= r.churn_probability <= 1.0 for r in rows)
    assert all(r.risk_band == ("high" if r.churn_probability >= 0.5 else "medium" if r.churn_probability >= 0.2
                               else "low") for r in rows)
    assert result.detail["bands"] == {b: sum(r.risk_band == b for r in rows) for b in {r.risk_band for r in rows}}

    # Nothing moved: the next scoring skips and the table keeps every row as it was (its times of scoring too).
    again = score.run(job_context(spark, ml_lake, "ml_score_churn", run_id="s2"))
    assert (again.rows_written, again.detail) == (0, {"skipped": True, "model": "customer_churn",
                                                      "version": out.model_version})
    def now():  # a fresh read: a DataFrame keeps the table version it was made at
        return spark.table(qualified(ml_lake, "gold.churn_score")).collect()

    assert sorted(map(tuple, now())) == sorted(map(tuple, rows))
    # Other risk bands in conf: everything is scored again.
    banded = dataclasses.replace(ml_lake, raw={**ml_lake.raw, "ml": {**ml_lake.raw["ml"],
                                                                      "risk_bands": {"medium": 0.1, "high": 0.9}}})
    # A customer scored before and no longer active (here one made up) loses the stale score.
    name = qualified(ml_lake, "gold.churn_score")
    spark.sql(f"INSERT INTO {name} SELECT 999999999, 0.5, 'high', 'customer_churn', '1', scored_at, features_as_of, "
              f"'s0' FROM {name} LIMIT 1")
    third = score.run(job_context(spark, banded, "ml_score_churn", run_id="s3"))
    assert [third.detail[k] for k in ("inserted", "updated", "deleted")] == [0, len(rows), 1]
    last = spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").first()
    assert (last.operation, last.operationParameters["mode"]) == ("WRITE", "Overwrite")  # one commit, whole
    assert third.detail["bands"] == {b: sum(0.1 <= r.churn_probability < 0.9 if b == "medium" else
                                            r.churn_probability >= 0.9 if b == "high" else r.churn_probability < 0.1
                                            for r in rows) for b in third.detail["bands"]}
    assert ({r.run_id for r in now()}, len(now())) == ({"s3"}, len(rows))


def test_scoring_without_a_champion_fails_with_a_clear_reason(spark, tmp_path):
    from tests.conftest import make_cfg

    cfg = make_cfg(tmp_path, "nochampion")
    with pytest.raises(score.NoChampionError, match="no version of model 'customer_churn' has the alias "
                                                    "'champion': run ml_train_churn first"):
        score.run(job_context(spark, cfg, "ml_score_churn"))
