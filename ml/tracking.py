"""MLflow plumbing shared by the ML jobs: where tracking lives, data lineage, and the champion rule.

Locally the tracking store is SQLite and the artifacts a folder, both under the lakehouse root (conf
`mlflow.tracking_uri`, `mlflow.artifact_location`); on a cluster conf points at the platform's server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.config import Config, is_remote
from lakehouse_core.delta_log import current_version

CHAMPION = "champion"
# Pinned so that logging a model never starts a second Spark to infer them (that costs ~30 s a model).
PIP_REQUIREMENTS = ("pyspark==3.5.5", "mlflow==2.22.1")


def _sqlalchemy_compat() -> None:
    """MLflow 2.22 imports `FallbackAsyncAdaptedQueuePool`, which SQLAlchemy 2.1 removed.

    The name is only used to map an optional pool-class setting, so aliasing it is enough for the SQLite
    store; drop this once constraints.txt pins SQLAlchemy < 2.1 or MLflow is upgraded.
    """
    import sqlalchemy.pool as pool

    if not hasattr(pool, "FallbackAsyncAdaptedQueuePool"):
        pool.FallbackAsyncAdaptedQueuePool = pool.AsyncAdaptedQueuePool


def connect(cfg: Config, experiment: str):
    """Point MLflow at the environment's tracking store and find (or create) the experiment: (client, its id).

    Jobs pass the id to every `mlflow.start_run`: the active experiment is process-wide, and a job that reads the
    registry may run beside one that logs (the runner keeps apart only the jobs that write, manifest `exclusive`).
    """
    _sqlalchemy_compat()
    import mlflow

    settings = cfg.section("mlflow")
    uri = settings.get("tracking_uri") or f"sqlite:///{cfg.path('mlflow')}/mlflow.db"
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(settings.get("registry_uri") or uri)
    name = f"{settings.get('experiment_prefix') or ''}{experiment}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return mlflow.MlflowClient(), found.experiment_id
    location = settings.get("artifact_location")
    if location and not is_remote(location):
        Path(location).mkdir(parents=True, exist_ok=True)
        location = Path(location).resolve().as_uri()
    return mlflow.MlflowClient(), mlflow.create_experiment(
        name, artifact_location=f"{location}/{experiment}" if location else None)


def configure(cfg: Config, experiment: str):
    """`connect`, and the experiment made the active one (for notebooks and tests: one thread, fluent calls)."""
    import mlflow

    client, experiment_id = connect(cfg, experiment)
    mlflow.set_experiment(experiment_id=experiment_id)
    return client


def read_pinned(spark: SparkSession, tables: dict[str, str], versions: dict[str, int] | None = None
                ) -> tuple[dict[str, DataFrame], dict[str, str]]:
    """Read each `logical id -> qualified name` at its current Delta version (or at `versions[id]`, already
    looked up); also return the lineage.

    Pinning the version makes the logged lineage exactly the data the model saw, even if a writer commits
    while the job runs.
    """
    frames, lineage = {}, {}
    for table_id, name in tables.items():
        version = (versions or {}).get(table_id)
        version = current_version(spark, name) if version is None else version
        frames[table_id] = spark.sql(f"SELECT * FROM {name} VERSION AS OF {version}")
        lineage[table_id] = pinned(name, version)
    return frames, lineage


def pinned(name: str, version: int) -> str:
    """How lineage names a table at a version (`db.table@v12`): logged by training, compared by the retrain check."""
    return f"{name}@v{version}"


def log_lineage(lineage: dict[str, str]) -> None:
    """Table names and Delta versions as params (searchable) and tags."""
    import mlflow

    for table_id, pinned in lineage.items():
        mlflow.log_param(f"data.{table_id}", pinned)
        mlflow.set_tag(f"data.{table_id}", pinned)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def champion_decision(new_version: str, new_auc: float, champion_version: str | None,
                      champion_auc: float | None, evaluation: str, error: str | None = None,
                      min_gain: float = 0.0) -> Decision:
    """Move `champion` only to a model that beats it on the same evaluation data by more than `min_gain`.

    Anything else is a tie and keeps the champion (retraining on unchanged data must not churn versions).
    `champion_auc` None with a champion means it could not be scored on today's features (`error` says
    why): an unusable champion is replaced.
    """
    if champion_version is None:
        return Decision(True, f"promoted: no champion yet, version {new_version} (ROC AUC {new_auc:.4f} on "
                              f"{evaluation}) becomes champion")
    if champion_auc is None:
        return Decision(True, f"promoted: champion version {champion_version} could not be evaluated on "
                              f"{evaluation} ({error}); version {new_version} (ROC AUC {new_auc:.4f}) replaces it")
    margin = f" by more than {min_gain:g}" if min_gain > 0 else ""
    if new_auc - champion_auc > min_gain:
        return Decision(True, f"promoted: version {new_version} ROC AUC {new_auc:.4f} beats champion version "
                              f"{champion_version}'s {champion_auc:.4f}{margin} on {evaluation}")
    return Decision(False, f"not promoted: version {new_version} ROC AUC {new_auc:.4f} does not beat champion "
                           f"version {champion_version}'s {champion_auc:.4f}{margin} on {evaluation}; the "
                           f"champion stays")


def current_champion(client, model_name: str) -> Any | None:
    """The model version holding the `champion` alias, or None (no model, or no alias yet)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def latest_version(client, model_name: str) -> Any | None:
    """The newest registered version of `model_name` (promoted or not), or None."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version), default=None)


def apply_decision(client, model_name: str, version: str, decision: Decision) -> None:
    """Record the decision on the run and the model version; move the alias if it says so."""
    import mlflow

    mlflow.set_tag("promotion_decision", decision.reason)
    mlflow.set_tag("promoted", str(decision.promote).lower())
    client.set_model_version_tag(model_name, version, "promotion_decision", decision.reason)
    if decision.promote:
        client.set_registered_model_alias(model_name, CHAMPION, version)


def log_spark_model(model, input_example, output_example, model_name: str):
    """Log a fitted Spark ML pipeline with signature and input example, registered as `model_name`."""
    import warnings

    import mlflow.spark
    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # "integer columns cannot hold missing values": ours (cluster ids) never do
        warnings.filterwarnings("ignore", message=".*[Ii]nteger column", category=UserWarning)
        signature = infer_signature(input_example, output_example)
    return mlflow.spark.log_model(model, artifact_path="model", signature=signature, input_example=input_example,
                                  registered_model_name=model_name, pip_requirements=list(PIP_REQUIREMENTS))
