"""The pipeline end to end on one small simulated delivery, run once locally (the session's `pipeline_lake`) and
checked twice:

- the manifest tells the truth: every job reads and writes exactly the tables conf/pipeline.yml declares.
  Reads: the tables each job resolves through `ctx.table(...)` (the runner records them). Writes: Delta's
  own history, where the runner tags every commit of a job with `{"job": ..., "run_id": ...}` as userMetadata;
- cluster runs: a slice of the pipeline (bronze -> silver -> gold) submitted with spark-submit to a real Spark
  standalone cluster on loopback (a master and two workers from the Spark that pyspark ships) builds the same
  tables as the local run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

import lakedb
from lakehouse_core.config import load_config
from lakehouse_core.manifest import is_external
from lakehouse_core.session import _cached_jars, packages_for

pytestmark = pytest.mark.cluster

PROJECT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT / "scripts" / "spark_cluster.sh"
# A slice through every layer, kept small for the test budget: one bronze, one silver and one gold job.
SELECT = "+gold_dim_geography"
# Maintenance declares no reads or writes and makes no data change: tests/jobs/ops checks that on its own.
NO_DATA_CHANGE = {"OPTIMIZE", "VACUUM START", "VACUUM END"}
# Differ between any two runs by design: run ids, wall-clock times, and AES-GCM ciphertexts (random nonce).
VOLATILE = {"_run_id", "run_id", "_raw_line_sealed"}


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Start master + two workers; always stop them, even when starting failed half-way."""
    state = tmp_path_factory.mktemp("spark_cluster")
    env = {**os.environ, "SPARK_CLUSTER_DIR": str(state), "PYTHON": sys.executable, "WORKER_MEMORY": "1g",
           "WORKER_CORES": "1"}
    try:
        proc = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=240)
        logs = "".join(p.read_text()[-1500:] for p in sorted((state / "logs").glob("*.log")))
        assert proc.returncode == 0, f"cluster did not start: {proc.stderr}\n{logs}"
        yield proc.stdout.strip(), (state / "master.ui").read_text().strip()
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def comparable(df):
    cols = [f.name for f in df.schema.fields
            if f.name not in VOLATILE and not (f.dataType.typeName() == "timestamp" and f.name.endswith("_at"))]
    return [tuple(r) for r in df.select(cols).orderBy(*cols).collect()], cols


@pytest.fixture(scope="module")
def cluster_root(pipeline_lake):
    """The cluster run's root: the shared delivery's own folder, so that both runs read the same landing paths
    (`_source_file` agrees) and the cluster's lake (warehouse/, metastore) is a second one beside them."""
    return pipeline_lake.source_root


def observed_writes(spark, cfg, run_id: str) -> dict[str, set[str]]:
    """job -> tables with a data-changing commit tagged with that job in `run_id`."""
    out: dict[str, set[str]] = {}
    for t in lakedb.TABLES:
        name = f"{cfg.database(t.layer)}.{t.name}"
        if not spark.catalog.tableExists(name):
            continue
        for h in spark.sql(f"DESCRIBE HISTORY {name}").select("operation", "userMetadata").collect():
            tag = json.loads(h.userMetadata) if h.userMetadata else {}
            if tag.get("run_id") == run_id and h.operation not in NO_DATA_CHANGE:
                out.setdefault(tag["job"], set()).add(t.id)
    return out


def test_every_job_reads_and_writes_what_the_manifest_declares(spark, pipeline_lake):
    cfg, manifest, summary = pipeline_lake.cfg, pipeline_lake.manifest, pipeline_lake.summary
    assert [(o.job, o.status) for o in summary.outcomes] == [(o.job, "succeeded") for o in summary.outcomes]
    written = observed_writes(spark, cfg, summary.run_id)
    found, expected = {}, {}
    for o in summary.outcomes:
        job = manifest.jobs[o.job]
        tables_read = {r for r in job.reads if not is_external(r)}
        wrote = written.get(o.job, set())
        # A declared write may stay unwritten when the delivery gives it nothing (no quarantined agent, no
        # JDBC source): the job must still look it up. Writing an undeclared table is always a lie.
        found[o.job] = {"undeclared writes": sorted(wrote - set(job.writes)),
                        "declared writes neither written nor resolved": sorted(set(job.writes) - wrote - o.tables),
                        # A job that skips by design (JDBC source in a files env) says so in its result.
                        "wrote nothing": bool(job.writes) and not wrote and "skipped" not in o.result.detail,
                        "resolved beyond declared": sorted(o.tables - tables_read - set(job.writes)),
                        "declared reads never resolved": sorted(tables_read - o.tables)}
        expected[o.job] = {"undeclared writes": [], "declared writes neither written nor resolved": [],
                           "wrote nothing": False, "resolved beyond declared": [],
                           "declared reads never resolved": []}
    wrong = {j: {k: v for k, v in f.items() if v != expected[j][k]} for j, f in found.items() if f != expected[j]}
    assert not wrong, json.dumps(wrong, indent=1)
    assert set(written) <= set(found)  # no commit tagged with a job that did not run


def test_pipeline_submitted_to_a_standalone_cluster_builds_the_same_tables_as_local_mode(
        spark, pipeline_lake, cluster_root, cluster, tmp_path):
    local_cfg, manifest = pipeline_lake.cfg, pipeline_lake.manifest
    master_url, master_ui = cluster
    py_files = tmp_path / "lakehouse_py_files.zip"
    subprocess.run([sys.executable, str(PROJECT / "scripts" / "build_py_files.py"), str(py_files)], check=True,
                   capture_output=True)
    jars = _cached_jars(packages_for(local_cfg))
    assert jars, "the Delta jars are cached by the first local session"

    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", master_url, "--deploy-mode", "client",
           "--py-files", str(py_files), "--jars", ",".join(str(Path(j)) for j in jars),
           "--driver-memory", "1g", "--conf", "spark.executor.memory=512m", "--conf", "spark.cores.max=2",
           "--conf", f"spark.pyspark.python={sys.executable}", "--conf", "spark.ui.enabled=false",
           "--conf", "spark.sql.shuffle.partitions=2",
           str(PROJECT / "jobs" / "pipeline.py"), "--select", SELECT, "--root", str(cluster_root)]
    env = {**os.environ, "LAKEHOUSE_CONF_DIR": str(PROJECT / "conf"), "PYSPARK_PYTHON": sys.executable,
           "SPARK_HOME": str(spark_home())}
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]

    # It ran on the cluster: the master lists the application as finished, and both workers are alive.
    state = json.load(urllib.request.urlopen(f"{master_ui}/json/", timeout=10))
    assert [a["name"] for a in state["completedapps"]] == ["lakehouse pipeline"]
    assert [w["state"] for w in state["workers"]] == ["ALIVE", "ALIVE"]

    names = manifest.select(SELECT)
    cluster_cfg = load_config("local", str(cluster_root))
    compared = {}
    # Data tables only: ops tables (the file ledger, quarantine) also hold rows of jobs outside the slice.
    for table_id in sorted({t for n in names for t in manifest.jobs[n].writes if not t.startswith("ops.")}):
        t = lakedb.table(table_id)
        on_cluster, _ = comparable(spark.read.format("delta").load(
            str(cluster_root / "warehouse" / f"{cluster_cfg.database(t.layer)}.db" / t.name)))
        in_local, _ = comparable(spark.table(f"{local_cfg.database(t.layer)}.{t.name}"))
        assert on_cluster == in_local, f"{table_id} differs between the cluster and local mode"
        compared[table_id] = len(on_cluster)
    assert {t.split(".")[0] for t in compared} == {"bronze", "silver", "gold"}
    assert all(n > 0 for n in compared.values()), compared
