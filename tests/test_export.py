"""`lakehouse export`: Synapse job definitions + pipeline and a Databricks bundle, checked against their
published shapes and against the manifest's dependencies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lakehouse_core import cli
from lakehouse_core.manifest import load_manifest

SIZES = {"Small": (4, "28g"), "Medium": (8, "56g"), "Large": (16, "112g"), "XLarge": (32, "224g"),
         "XXLarge": (64, "400g")}


@pytest.fixture(scope="module")
def manifest():
    return load_manifest()


def _export(target, out):
    assert cli.main(["export", target, "--out", str(out)]) == 0


def _assert_types(obj: dict, types: dict) -> None:
    for key, kind in types.items():
        assert key in obj, f"missing required key {key}"
        assert isinstance(obj[key], kind) and not (kind is int and isinstance(obj[key], bool)), key


def test_synapse_export_has_one_spark_job_definition_per_job(tmp_path, manifest):
    _export("synapse", tmp_path)
    sjds = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "sparkJobDefinition").glob("*.json")}
    assert sorted(sjds) == sorted(manifest.jobs)
    for name, sjd in sjds.items():
        job = manifest.jobs[name]
        assert sjd["name"] == name
        props = sjd["properties"]
        _assert_types(props, {"targetBigDataPool": dict, "requiredSparkVersion": str, "jobProperties": dict})
        assert props["targetBigDataPool"] == {"referenceName": "sparkpool35", "type": "BigDataPoolReference"}
        assert props["requiredSparkVersion"] == "3.5" and props["language"] == "python"
        jp = props["jobProperties"]
        _assert_types(jp, {"name": str, "file": str, "conf": dict, "args": list, "pyFiles": list, "files": list,
                           "driverMemory": str, "driverCores": int, "executorMemory": str, "executorCores": int,
                           "numExecutors": int})
        assert all(isinstance(v, str) for v in jp["conf"].values())
        assert all(isinstance(v, str) for v in jp["args"] + jp["pyFiles"] + jp["files"])
        artifacts = "abfss://lake@contosolake.dfs.core.windows.net/customer-lakehouse/_artifacts"
        assert jp["file"] == f"{artifacts}/{job.main_file}"
        assert jp["args"] == ["--job", name, "--env", "synapse"]
        assert jp["pyFiles"] == [f"{artifacts}/lakehouse_py_files.zip"]
        assert jp["files"] == [f"{artifacts}/conf/pipeline.yml", f"{artifacts}/conf/synapse.yml"]
        assert (jp["driverCores"], jp["driverMemory"]) == SIZES["Medium"]
        assert (jp["executorCores"], jp["executorMemory"], jp["numExecutors"]) == (*SIZES["Medium"], 2)
        assert jp["conf"]["spark.sql.session.timeZone"] == "UTC"
    # Every file a definition names is in the export's artifacts/ folder, ready to upload to artifacts_path.
    project = Path(cli.__file__).resolve().parents[1]
    for sjd in sjds.values():
        jp = sjd["properties"]["jobProperties"]
        for remote in [jp["file"], *jp["files"]]:
            local = tmp_path / "artifacts" / remote.removeprefix(artifacts + "/")
            origin = project / remote.removeprefix(artifacts + "/")
            assert local.read_text() == origin.read_text()


def test_synapse_pipeline_activities_depend_on_their_upstream_jobs(tmp_path, manifest):
    _export("synapse", tmp_path)
    (path,) = (tmp_path / "pipeline").glob("*.json")
    pipeline = json.loads(path.read_text())
    assert pipeline["name"] == path.stem == "customer_lakehouse"
    activities = pipeline["properties"]["activities"]
    assert [a["name"] for a in activities] == list(manifest.order)
    seen = set()
    for a in activities:
        assert a["type"] == "SparkJob"
        assert a["typeProperties"] == {"sparkJob": {"referenceName": a["name"], "type": "SparkJobDefinitionReference"}}
        assert all(d["dependencyConditions"] == ["Succeeded"] for d in a["dependsOn"])
        deps = [d["activity"] for d in a["dependsOn"]]
        assert set(deps) == manifest.upstream[a["name"]]
        assert set(deps) <= seen  # every dependency is an earlier activity: the order is a valid schedule
        assert len(a["name"]) <= 55
        seen.add(a["name"])


def test_databricks_bundle_has_a_wheel_task_per_job_following_the_manifest(tmp_path, manifest):
    _export("databricks", tmp_path)
    bundle = yaml.safe_load((tmp_path / "databricks.yml").read_text())
    assert bundle["bundle"] == {"name": "customer_lakehouse"}
    assert bundle["targets"]["dev"]["default"] is True
    assert bundle["targets"]["prod"]["workspace"]["host"].startswith("https://")
    assert bundle["artifacts"]["lakehouse_wheel"]["type"] == "whl"
    (job,) = bundle["resources"]["jobs"].values()
    assert job["max_concurrent_runs"] == 1
    (cluster,) = job["job_clusters"]
    assert cluster["new_cluster"]["spark_env_vars"] == {"LAKEHOUSE_SECRET_KEY": "{{secrets/lakehouse/lakehouse_secret_key}}"}
    tasks = job["tasks"]
    assert [t["task_key"] for t in tasks] == list(manifest.order)
    seen = set()
    for t in tasks:
        deps = [d["task_key"] for d in t.get("depends_on", [])]
        assert set(deps) == manifest.upstream[t["task_key"]] and set(deps) <= seen
        assert t["job_cluster_key"] == cluster["job_cluster_key"]
        assert t["python_wheel_task"] == {"package_name": "customer_lakehouse", "entry_point": "lakehouse",
                                          "parameters": ["run", "--select", t["task_key"], "--env", "databricks"]}
        assert [lib["whl"].endswith("dist/*.whl") for lib in t["libraries"]] == [True]
        seen.add(t["task_key"])


def test_wheel_task_parameters_select_exactly_their_job(manifest):
    # What a Databricks task runs is `lakehouse run --select <job>`: the selection must be that job alone.
    for name in manifest.order:
        assert manifest.select(name) == [name]


def test_generated_definitions_hold_no_secret_values(tmp_path):
    _export("synapse", tmp_path / "s")
    _export("databricks", tmp_path / "d")
    generated = [*tmp_path.glob("s/*/*.json"), tmp_path / "d" / "databricks.yml"]
    assert len(generated) > 2
    text = "".join(p.read_text() for p in generated).lower()
    for word in ("password", "sas=", "sig=", "accountkey", "client_secret"):
        assert word not in text
