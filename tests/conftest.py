"""One SparkSession for the whole test session: local[2], few shuffle partitions, UI off, Delta on.

Each test that touches tables gets its own databases (suffix per test) and its own folders under
`tmp_path`, so tests never see each other's data while sharing one JVM and one Derby metastore.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
from pathlib import Path

import pytest

from lakehouse_core.config import Config, load_config

_counter = itertools.count()


@pytest.fixture(scope="session")
def session_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="session")
def spark(session_root):
    from lakehouse_core.session import get_spark

    os.environ.setdefault("LAKEHOUSE_SECRET_KEY", "test-key-0123456789abcdef0123456")
    cfg = load_config("local", str(session_root))
    cfg.raw["spark"]["conf"].update({"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
                                     "spark.driver.memory": "2g"})
    # The PostgreSQL JDBC driver for tests/jobs/bronze/test_jdbc.py: fetched once, cached with Delta's jars.
    cfg.raw["spark"]["packages"] = ["org.postgresql:postgresql:42.7.4"]
    session = get_spark(cfg, "lakehouse-tests")
    yield session
    session.stop()


def make_cfg(root: Path, suffix: str) -> Config:
    """A test environment: paths under `root`, databases named `<layer>_<suffix>`."""
    base = load_config("local", str(root))
    raw = dict(base.raw)
    raw["databases"] = {layer: f"{layer}_{suffix}" for layer in ("bronze", "silver", "gold", "ops")}
    raw["secrets"] = {"key_env": "LAKEHOUSE_SECRET_KEY", "generate_local_key": False}
    raw["runner"] = {"parallel_jobs": 1}  # one by one, unless a test asks for more
    return Config(env="test", root=str(root), raw=raw)


@pytest.fixture
def lake_cfg(tmp_path, spark) -> Config:
    """A fresh, empty lake database for one test."""
    return make_cfg(tmp_path, f"t{os.getpid()}_{next(_counter)}")


@dataclasses.dataclass(frozen=True)
class PipelineLake:
    cfg: Config
    manifest: object
    summary: object  # the runner's RunSummary (its run_id tags every commit of the run)
    source_root: Path  # landing/ and _truth/ of the simulated delivery


@pytest.fixture(scope="session")
def pipeline_lake(spark, tmp_path_factory) -> PipelineLake:
    """One simulated delivery (3 daily batches, 3% planted defects) through every job of the manifest but
    maintenance, as `lakehouse run` does it (two jobs at a time), once per test session.

    Shared by the tests that need a whole lake built from the simulator: the manifest-truth and
    standalone-cluster checks (tests/cluster), bronze's and silver's conservation and defect handling, gold's reports
    against independent SQL. A test may rerun jobs on it only to check that the rerun changes nothing (silver's
    and bronze's idempotence). The landing files live outside the lake root so that a second lake (the cluster
    run's) can read the very same paths.
    """
    from lakehouse_core.manifest import load_manifest
    from lakehouse_core.runner import Reporter, run_jobs
    from lakehouse_core.simulator import generate

    source = tmp_path_factory.mktemp("pipeline_src")
    generate(source / "landing", source / "_truth", days=3, scale=0.02, seed=11, defects=0.03)
    cfg = make_cfg(tmp_path_factory.mktemp("pipeline_lake"), f"e2e{os.getpid()}")
    paths = {**cfg.raw["paths"], "landing": str(source / "landing"), "truth": str(source / "_truth")}
    cfg = dataclasses.replace(cfg, raw={**cfg.raw, "paths": paths, "runner": {"parallel_jobs": 2}})
    manifest = load_manifest()
    names = [n for n in manifest.order if manifest.jobs[n].entry != "jobs.ops.maintenance"]
    summary = run_jobs(spark, cfg, manifest, names, run_id="local-run",
                       reporter=Reporter(quiet=True, stream=io.StringIO()))
    failed = [(o.job, o.status) for o in summary.outcomes if o.status != "succeeded"]
    assert not failed, f"the shared simulated pipeline run failed: {failed}"
    return PipelineLake(cfg, manifest, summary, source)
