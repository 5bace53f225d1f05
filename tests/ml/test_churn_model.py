"""The churn training job: tracked in MLflow, registered, and promoted only when it beats the champion."""

from __future__ import annotations

from ml import churn, tracking
from ml.tracking import champion_decision
from tests.ml.conftest import job_context

EVALUATION = "the evaluation period 2024-10-02 + 90 days (167 customers)"


def test_champion_rule_promotes_only_a_model_that_beats_the_champion():
    got = [champion_decision("4", 0.81, None, None, "E"), champion_decision("4", 0.81, "3", 0.80, "E"),
           champion_decision("4", 0.80, "3", 0.80, "E"), champion_decision("4", 0.79, "3", 0.80, "E"),
           champion_decision("4", 0.8008, "3", 0.80, "E", min_gain=0.001),
           champion_decision("4", 0.79, "3", None, "E", "KeyError: f_x")]
    assert [(d.promote, d.reason) for d in got] == [
        (True, "promoted: no champion yet, version 4 (ROC AUC 0.8100 on E) becomes champion"),
        (True, "promoted: version 4 ROC AUC 0.8100 beats champion version 3's 0.8000 on E"),
        (False, "not promoted: version 4 ROC AUC 0.8000 does not beat champion version 3's 0.8000 on E; the "
                "champion stays"),
        (False, "not promoted: version 4 ROC AUC 0.7900 does not beat champion version 3's 0.8000 on E; the "
                "champion stays"),
        (False, "not promoted: version 4 ROC AUC 0.8008 does not beat champion version 3's 0.8000 by more than "
                "0.001 on E; the champion stays"),
        (True, "promoted: champion version 3 could not be evaluated on E (KeyError: f_x); version 4 (ROC AUC "
               "0.7900) replaces it"),
    ]


def test_a_better_model_replaces_a_worse_champion(trained):
    before, out = trained
    auc = out.chosen.metrics["roc_auc"]
    assert (before, out.model_version, out.decision.promote) == ("1", "2", True)
    assert out.champion_auc < 0.5 < auc
    assert out.decision.reason == (f"promoted: version 2 ROC AUC {auc:.4f} beats champion version 1's "
                                   f"{out.champion_auc:.4f} by more than 0.001 on {EVALUATION}")


def test_retraining_on_the_same_data_does_not_promote(spark, ml_lake, trained):
    _, first = trained
    again = churn.train(job_context(spark, ml_lake, "ml_train_churn", run_id="r2"))
    client = tracking.configure(ml_lake, churn.EXPERIMENT)
    auc = first.chosen.metrics["roc_auc"]
    assert (again.model_version, again.decision.promote, again.chosen.metrics["roc_auc"]) == ("3", False, auc)
    assert again.decision.reason == (f"not promoted: version 3 ROC AUC {auc:.4f} does not beat champion version "
                                     f"2's {auc:.4f} by more than 0.001 on {EVALUATION}; the champion stays")
    assert str(client.get_model_version_by_alias(churn.MODEL_NAME, "champion").version) == "2"
    assert client.get_model_version("customer_churn", "3").tags["promotion_decision"] == again.decision.reason


def test_training_run_records_lineage_metrics_plots_and_the_model(ml_lake, trained):
    _, out = trained
    client = tracking.configure(ml_lake, churn.EXPERIMENT)
    run = client.get_run(out.mlflow_run_id)
    gold = ml_lake.database("gold")
    assert {k: v for k, v in run.data.params.items() if k.startswith("data.")} == {
        "data.gold.fact_transaction": f"{gold}.fact_transaction@v1",
        "data.gold.fact_interaction": f"{gold}.fact_interaction@v1",
        "data.gold.dim_customer": f"{gold}.dim_customer@v1"}
    assert (run.data.params["train_cutoff"], run.data.params["eval_cutoff"]) == ("2024-07-04", "2024-10-02")
    assert {"eval_roc_auc", "eval_pr_auc", "eval_log_loss", "eval_top_decile_lift", "val_roc_auc",
            "lr_eval_roc_auc", "gbt_eval_roc_auc", "champion_eval_roc_auc", "promoted"} <= set(run.data.metrics)
    assert run.data.tags["promotion_decision"] == out.decision.reason
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert (artifacts >= {"feature_importance.csv", "training_summary.json", "model"},
            plots) == (True, {"plots/roc_curve.png", "plots/pr_curve.png"})
    version = client.get_model_version(churn.MODEL_NAME, out.model_version)
    from mlflow.models import get_model_info

    info = get_model_info(f"models:/{churn.MODEL_NAME}/{version.version}")
    assert (version.run_id, info.signature.inputs.input_names(), info.saved_input_example_info is not None) == (
        out.mlflow_run_id, list(churn.MODEL_INPUTS), True)


def test_the_daily_run_scores_with_the_champion_until_the_data_moves_a_week(spark, ml_lake, trained, monkeypatch):
    import datetime as dt

    ctx = job_context(spark, ml_lake, "ml_train_churn", run_id="r9")
    client = tracking.configure(ml_lake, churn.EXPERIMENT)
    latest = tracking.latest_version(client, churn.MODEL_NAME).version
    champion = client.get_model_version_by_alias(churn.MODEL_NAME, "champion").version
    keeps = f"the champion, version {champion}, keeps scoring"
    result = churn.run(ctx)
    assert (result.rows_read, result.detail) == (0, {"model": "customer_churn", "skipped": (
        f"not retrained: the gold inputs are those version {latest} was trained on; {keeps}")})
    assert tracking.latest_version(client, churn.MODEL_NAME).version == latest  # nothing was trained

    end = trained[1].cutoffs.data_end
    settings = churn._settings(ctx, {})
    monkeypatch.setattr(tracking, "current_version", lambda spark, table: 99)  # the gold tables moved on
    monkeypatch.setattr(churn, "data_end_of", lambda df: end + dt.timedelta(days=6))
    assert churn.retrain_reason(ctx, settings) == (None, (
        f"not retrained: the data ends {end + dt.timedelta(days=6)}, 6 day(s) after version {latest}'s ({end}), "
        f"under ml.retrain_every_days 7; {keeps}"))
    monkeypatch.setattr(churn, "data_end_of", lambda df: end + dt.timedelta(days=7))
    assert churn.retrain_reason(ctx, settings) == (
        f"the data ends {end + dt.timedelta(days=7)}, 7 days after version {latest}'s ({end}; "
        "ml.retrain_every_days 7)", "")
    assert churn.retrain_reason(ctx, {**settings, "retrain_every_days": 0}) == (
        "ml.retrain_every_days is 0: every run trains", "")
