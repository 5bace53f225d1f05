"""The lake database model: complete, consistent, and the data dictionary derived from it is current."""

from __future__ import annotations

from pathlib import Path

import lakedb
from lakedb.docs import data_dictionary
from lakedb.sources import SOURCES

ROOT = Path(__file__).resolve().parents[2]


def test_every_table_and_column_has_a_comment():
    missing = [f"{t.id}.{c.name}" for t in lakedb.TABLES for c in t.columns if not c.comment.strip()]
    missing += [t.id for t in lakedb.TABLES if not t.comment.strip()]
    assert missing == []


def test_table_ids_are_unique_and_in_known_layers():
    ids = [t.id for t in lakedb.TABLES]
    assert len(ids) == len(set(ids))
    assert {t.layer for t in lakedb.TABLES} <= set(lakedb.LAYERS)


def test_references_point_at_declared_tables():
    dangling = [(t.id, c, target) for t in lakedb.TABLES for c, target in t.references.items()
                if target not in lakedb.TABLES_BY_ID]
    assert dangling == []


def test_bronze_has_one_table_per_source_without_secrets():
    bronze = {t.name: t for t in lakedb.TABLES if t.layer == "bronze"}
    for src in SOURCES:
        assert set(src.kept_columns) <= set(bronze[src.bronze_table].column_names)
        assert not set(src.secrets) & set(bronze[src.bronze_table].column_names)


def test_rule_names_are_unique_per_table_and_actions_known():
    for t in lakedb.TABLES:
        names = [r.name for r in t.rules]
        assert len(names) == len(set(names)), t.id
        assert {r.action for r in t.rules} <= {"warn", "quarantine", "hold", "fail"}, t.id


def test_pipeline_diagrams_are_current():
    from lakehouse_core.cli import pipeline_doc, readme_with_diagram
    from lakehouse_core.manifest import load_manifest

    manifest = load_manifest()
    assert (ROOT / "docs" / "pipeline.md").read_text() == pipeline_doc(manifest), "run `make docs` and commit"
    readme = (ROOT / "README.md").read_text()
    assert "```mermaid\n" + manifest.mermaid() + "```" in readme, "run `make docs` and commit README.md"
    assert readme_with_diagram(readme, manifest) == readme


def test_data_dictionary_is_current():
    committed = (ROOT / "docs" / "data_dictionary.md").read_text()
    assert committed == data_dictionary(), "run `make docs` and commit docs/data_dictionary.md"
