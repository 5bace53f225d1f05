"""Scheduler artefacts from the manifest: Azure Synapse (Spark job definitions + a pipeline) and Databricks (a bundle).

Both follow the manifest: one unit per job, dependencies from `Manifest.upstream`, so the platform's
scheduler runs what `lakehouse run` would, in parallel where the graph allows. Settings come from the
target's section of `conf/<target>.yml`; nothing secret is written (secrets stay in Key Vault / secret scopes).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from lakehouse_core import __version__
from lakehouse_core.config import Config, conf_dir, load_config
from lakehouse_core.errors import ConfigError
from lakehouse_core.manifest import Manifest, load_manifest

TARGETS = ("synapse", "databricks")
PY_FILES_ZIP = "lakehouse_py_files.zip"
DIST_NAME = "customer_lakehouse"  # the wheel's normalised distribution name (setup.py: customer-lakehouse)

# Synapse node sizes as Synapse Studio writes them into a Spark job definition: (cores, memory).
SYNAPSE_SIZES = {
    "Small": (4, "28g"), "Medium": (8, "56g"), "Large": (16, "112g"), "XLarge": (32, "224g"),
    "XXLarge": (64, "400g"),
}
SYNAPSE_NAME_MAX = 55  # longest activity name a Synapse / Data Factory pipeline accepts
SYNAPSE_MAX_ACTIVITIES = 80
_SYNAPSE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]*\Z")
_TASK_KEY = re.compile(r"^[\w-]{1,100}\Z")


def export(target: str, cfg: Config, out: Path) -> list[Path]:
    """Write `target`'s artefacts under `out`; returns the files written."""
    if target not in TARGETS:
        raise ConfigError(f"unknown export target {target!r} (known: {', '.join(TARGETS)})")
    if not cfg.section(target):
        cfg = load_config(target)  # e.g. `--env local` (the default): take conf/<target>.yml
    manifest = load_manifest()
    files = synapse_files(manifest, cfg) if target == "synapse" else databricks_files(manifest, cfg, out)
    written = []
    for rel, content in files.items():
        path = Path(out) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written


def _setting(cfg: Config, target: str, key: str, default: Any = None) -> Any:
    value = cfg.section(target).get(key, default)
    if value is None:
        raise ConfigError(f"conf/{cfg.env}.yml has no {target}.{key}")
    return value


# --- Azure Synapse ------------------------------------------------------------------------------------------

def synapse_spark_job_definition(manifest: Manifest, cfg: Config, name: str) -> dict:
    """One job as a Synapse SparkJobDefinition (REST API shape: properties.targetBigDataPool, jobProperties)."""
    job = manifest.jobs[name]
    artifacts = str(_setting(cfg, "synapse", "artifacts_path")).rstrip("/")
    driver_cores, driver_memory = _size(_setting(cfg, "synapse", "driver_size", "Medium"))
    executor_cores, executor_memory = _size(_setting(cfg, "synapse", "executor_size", "Medium"))
    executors = int(_setting(cfg, "synapse", "executors", 2))
    conf = {str(k): str(v) for k, v in (cfg.spark.get("conf") or {}).items()}
    conf.update({
        "spark.dynamicAllocation.enabled": "false",
        "spark.dynamicAllocation.minExecutors": str(executors),
        "spark.dynamicAllocation.maxExecutors": str(executors),
        # `files` land in the driver's working directory; conf_dir() reads pipeline.yml and <env>.yml there.
        "spark.yarn.appMasterEnv.LAKEHOUSE_CONF_DIR": ".",
    })
    return {
        "name": name,
        "properties": {
            "description": job.description or f"lakehouse job {name}",
            "targetBigDataPool": {"referenceName": str(_setting(cfg, "synapse", "spark_pool")),
                                  "type": "BigDataPoolReference"},
            "requiredSparkVersion": str(_setting(cfg, "synapse", "spark_version", "3.5")),
            "language": "python",
            "jobProperties": {
                "name": name,
                "file": f"{artifacts}/{job.main_file}",
                "conf": conf,
                "args": ["--job", name, "--env", cfg.env],
                "jars": [],
                "pyFiles": [f"{artifacts}/{PY_FILES_ZIP}"],
                "files": [f"{artifacts}/conf/pipeline.yml", f"{artifacts}/conf/{cfg.env}.yml"],
                "archives": [],
                "driverMemory": driver_memory,
                "driverCores": driver_cores,
                "executorMemory": executor_memory,
                "executorCores": executor_cores,
                "numExecutors": executors,
            },
        },
    }


def synapse_pipeline(manifest: Manifest, cfg: Config, names: list[str]) -> dict:
    """A pipeline of SparkJob activities whose dependsOn (Succeeded) follow the manifest's dependencies."""
    if len(names) > SYNAPSE_MAX_ACTIVITIES:
        raise ConfigError(f"{len(names)} jobs exceed the {SYNAPSE_MAX_ACTIVITIES} activities a Synapse pipeline "
                          "may hold")
    activities = []
    for name in names:
        deps = sorted(manifest.upstream[name], key=manifest.order.index)
        activities.append({
            "name": name,
            "type": "SparkJob",
            "dependsOn": [{"activity": d, "dependencyConditions": ["Succeeded"]} for d in deps],
            "policy": {"timeout": "0.12:00:00", "retry": 0, "retryIntervalInSeconds": 30,
                       "secureOutput": False, "secureInput": False},
            "userProperties": [],
            "typeProperties": {"sparkJob": {"referenceName": name, "type": "SparkJobDefinitionReference"}},
        })
    return {
        "name": _setting(cfg, "synapse", "pipeline_name", DIST_NAME),
        "properties": {
            "description": f"customer lakehouse {__version__}: the jobs of conf/pipeline.yml in dependency order",
            "activities": activities,
            "concurrency": 1,  # one run of the pipeline at a time, like `lakehouse run`'s lock
            "annotations": [],
        },
    }


def synapse_files(manifest: Manifest, cfg: Config) -> dict[str, str]:
    """Synapse's Git layout: sparkJobDefinition/<job>.json and pipeline/<name>.json."""
    names = list(manifest.order)
    for name in names:
        if len(name) > SYNAPSE_NAME_MAX or not _SYNAPSE_NAME.match(name):
            raise ConfigError(f"job name {name!r} is not a valid Synapse activity name (at most "
                              f"{SYNAPSE_NAME_MAX} letters, digits, _ - or space)")
    files = {f"sparkJobDefinition/{n}.json": _json(synapse_spark_job_definition(manifest, cfg, n)) for n in names}
    pipeline = synapse_pipeline(manifest, cfg, names)
    files[f"pipeline/{pipeline['name']}.json"] = _json(pipeline)
    # What the definitions point at under synapse.artifacts_path (with dist/lakehouse_py_files.zip beside it).
    project = Path(__file__).resolve().parent.parent
    for main_file in sorted({manifest.jobs[n].main_file for n in names}):
        files[f"artifacts/{main_file}"] = (project / main_file).read_text()
    for conf_file in ("pipeline.yml", f"{cfg.env}.yml"):
        files[f"artifacts/conf/{conf_file}"] = (conf_dir() / conf_file).read_text()
    return files


def _size(name: str) -> tuple[int, str]:
    try:
        return SYNAPSE_SIZES[name]
    except KeyError:
        raise ConfigError(f"unknown Synapse node size {name!r} (known: {', '.join(SYNAPSE_SIZES)})") from None


def _json(obj: dict) -> str:
    return json.dumps(obj, indent=2) + "\n"


# --- Databricks -----------------------------------------------------------------------------------------------

def databricks_bundle(manifest: Manifest, cfg: Config, out: Path) -> dict:
    """A Databricks Asset Bundle: one job whose Python wheel tasks and depends_on follow the manifest."""
    names = list(manifest.order)
    for name in names:
        if not _TASK_KEY.match(name):
            raise ConfigError(f"job name {name!r} is not a valid Databricks task_key")
    bundle_name = str(_setting(cfg, "databricks", "bundle_name", DIST_NAME))
    project = Path(__file__).resolve().parent.parent
    wheel_dir = Path(os.path.relpath(project, Path(out).resolve())).as_posix()
    scope = str(_setting(cfg, "databricks", "secret_scope", "lakehouse"))
    key_env = str(cfg.section("secrets").get("key_env", "LAKEHOUSE_SECRET_KEY"))
    tasks = []
    for name in names:
        task: dict[str, Any] = {"task_key": name}
        deps = sorted(manifest.upstream[name], key=manifest.order.index)
        if deps:
            task["depends_on"] = [{"task_key": d} for d in deps]
        task.update({
            "job_cluster_key": "lakehouse",
            "python_wheel_task": {
                "package_name": DIST_NAME,
                "entry_point": "lakehouse",
                "parameters": ["run", "--select", name, "--env", cfg.env],
            },
            "libraries": [{"whl": f"{wheel_dir}/dist/*.whl"}],
        })
        tasks.append(task)
    host = str(_setting(cfg, "databricks", "workspace_host"))
    return {
        "bundle": {"name": bundle_name},
        "artifacts": {"lakehouse_wheel": {"type": "whl", "path": wheel_dir,
                                          "build": "python -m pip wheel --no-deps -w dist ."}},
        "resources": {"jobs": {bundle_name: {
            "name": bundle_name,
            "max_concurrent_runs": 1,
            "job_clusters": [{"job_cluster_key": "lakehouse", "new_cluster": {
                "spark_version": str(_setting(cfg, "databricks", "spark_version")),
                "node_type_id": str(_setting(cfg, "databricks", "node_type_id")),
                "num_workers": int(_setting(cfg, "databricks", "num_workers", 2)),
                # A reference to a secret scope, resolved by Databricks at cluster start: not a secret.
                "spark_env_vars": {key_env: f"{{{{secrets/{scope}/{key_env.lower()}}}}}"},
            }}],
            "tasks": tasks,
        }}},
        "targets": {
            "dev": {"mode": "development", "default": True, "workspace": {"host": host}},
            "prod": {"mode": "production", "workspace": {"host": host}},
        },
    }


def databricks_files(manifest: Manifest, cfg: Config, out: Path) -> dict[str, str]:
    header = ("# Databricks Asset Bundle generated by `lakehouse export databricks` from conf/pipeline.yml.\n"
              "# Deploy: databricks bundle validate && databricks bundle deploy -t dev; run: databricks bundle run\n")
    return {"databricks.yml": header + yaml.safe_dump(databricks_bundle(manifest, cfg, out), sort_keys=False,
                                                      width=120)}
