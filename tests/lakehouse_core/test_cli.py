"""The `lakehouse` command line: one-line errors that write nothing, plan output, the run lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse_core import cli
from lakehouse_core.config import load_config
from lakehouse_core.runner import run_lock

PROJECT = Path(__file__).resolve().parents[2]

CYCLE = """jobs:
  a: {layer: bronze, entry: jobs.bronze.ingest, reads: [silver.customer], writes: [bronze.crm_customer]}
  b: {layer: silver, entry: jobs.bronze.ingest, reads: [bronze.crm_customer], writes: [silver.customer]}
"""
UNKNOWN_TABLE = """jobs:
  a: {layer: bronze, entry: jobs.bronze.ingest, writes: [bronze.nope]}
"""
UNKNOWN_DEPENDENCY = """jobs:
  a: {layer: bronze, entry: jobs.bronze.ingest, depends_on: [b]}
"""
BAD_YAML = "jobs:\n  a: {layer: bronze\n"


@pytest.fixture
def conf(tmp_path, monkeypatch):
    """A conf dir with the real local.yml; each test writes its own pipeline.yml."""
    d = tmp_path / "conf"
    d.mkdir()
    shutil.copy(PROJECT / "conf" / "local.yml", d / "local.yml")
    shutil.copy(PROJECT / "conf" / "pipeline.yml", d / "pipeline.yml")
    monkeypatch.setenv("LAKEHOUSE_CONF_DIR", str(d))
    monkeypatch.delenv("LAKEHOUSE_ROOT", raising=False)
    return d


@pytest.mark.parametrize("verb", ["run", "plan"])
@pytest.mark.parametrize("manifest, extra, reason", [
    (CYCLE, [], "the manifest has a cycle: "),
    (UNKNOWN_TABLE, [], "job a refers to unknown table 'bronze.nope' (not in lakedb)"),
    (UNKNOWN_DEPENDENCY, [], "job a depends on unknown job 'b'"),
    (BAD_YAML, [], "is not valid YAML: "),
    (None, ["--select", "no_such_job+"], "unknown job 'no_such_job' in --select"),
    (None, ["--env", "nowhere"], "unknown --env 'nowhere': no "),
])
def test_bad_input_gives_one_line_and_writes_nothing(conf, tmp_path, capsys, verb, manifest, extra, reason):
    if manifest is not None:
        (conf / "pipeline.yml").write_text(manifest)
    root = tmp_path / "lake"
    code = cli.main([verb, "--root", str(root), *extra])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"lakehouse {verb}: ") and reason in err
    assert err.count("\n") == 1
    assert not root.exists()


def test_an_unusable_root_is_refused_in_one_line(conf, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code = cli.main(["run", "--root", str(blocker / "lake")])
    err = capsys.readouterr().err
    assert (code, err.count("\n")) == (1, 1)
    assert err.startswith(f"lakehouse run: cannot create --root {blocker / 'lake'}: ")
    assert blocker.read_text() == "not a folder"


def test_plan_json_lists_the_selection_in_run_order(conf, capsys):
    assert cli.main(["plan", "--select", "+ops_maintenance", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    from lakehouse_core.manifest import load_manifest

    m = load_manifest()
    assert [p["job"] for p in plan] == list(m.order)
    assert plan[0] == {"job": m.order[0], "layer": m.jobs[m.order[0]].layer, "entry": m.jobs[m.order[0]].entry,
                       "reads": list(m.jobs[m.order[0]].reads), "writes": list(m.jobs[m.order[0]].writes)}


def test_a_second_run_on_the_same_root_is_refused_while_one_holds_it(tmp_path):
    root = tmp_path / "lake"
    cfg = load_config("local", str(root))
    env = {**os.environ, "LAKEHOUSE_CONF_DIR": str(PROJECT / "conf")}
    with run_lock(cfg):
        proc = subprocess.run([sys.executable, "-m", "lakehouse_core.cli", "run", "--root", str(root)],
                              capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"lakehouse run: another lakehouse run is using {root} (pid {os.getpid()} on ")
    assert proc.stderr.endswith("; wait for it to finish\n") and proc.stderr.count("\n") == 1
    assert sorted(p.name for p in root.iterdir()) == ["_run.lock"]  # the refused run wrote nothing
