"""`export_bi`: the SQL script and the Power BI Project, written from the model."""

from __future__ import annotations

from lakehouse_core.config import load_config
from lakehouse_core.serving.export import SQL_FILE, export_bi
from lakehouse_core.serving.pbip import pbip_files
from lakehouse_core.serving.synapse_sql import synapse_views_sql


def test_export_writes_the_views_script_and_the_project(tmp_path):
    synapse = load_config("synapse")
    written = export_bi(load_config("local", str(tmp_path / "lake")), tmp_path / "bi")
    project = pbip_files(synapse)
    assert sorted(p.relative_to(tmp_path / "bi").as_posix() for p in written) == sorted(
        [SQL_FILE, *(f"powerbi/{rel}" for rel in project)])
    # A local environment exports for the Synapse workspace: its lake is the one serverless SQL can read.
    assert (tmp_path / "bi" / SQL_FILE).read_text() == synapse_views_sql(synapse)
    assert all((tmp_path / "bi" / "powerbi" / rel).read_text() == text for rel, text in project.items())


def test_export_of_one_target_writes_only_it_straight_into_the_folder(tmp_path):
    written = export_bi(load_config("synapse"), tmp_path, "powerbi")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(pbip_files(load_config("synapse")))
    assert [p.name for p in export_bi(load_config("synapse"), tmp_path / "sql", "synapse-sql")] == [SQL_FILE]
