"""The manifest without Spark: selection, ordering, validation and the Mermaid picture."""

from __future__ import annotations

import pytest

from lakehouse_core.errors import ManifestError
from lakehouse_core.manifest import load_manifest, parse_manifest

ENTRY = "jobs.bronze.ingest"  # any importable module: these tests never run a job


def job(layer, reads=(), writes=(), depends_on=()):
    return {"layer": layer, "entry": ENTRY, "reads": list(reads), "writes": list(writes),
            "depends_on": list(depends_on)}


def toy():
    """customer -> silver_customer -> gold_x; agent -> silver_agent -> gold_x; maint after every layer."""
    return {
        "bronze_customer": job("bronze", ["landing:crm/customer"], ["bronze.crm_customer", "ops.ingested_file"]),
        "bronze_agent": job("bronze", ["landing:hr/Agent"], ["bronze.hr_agent", "ops.ingested_file"]),
        "silver_customer": job("silver", ["bronze.crm_customer"], ["silver.customer"]),
        "silver_agent": job("silver", ["bronze.hr_agent"], ["silver.agent"]),
        "gold_x": job("gold", ["silver.customer", "silver.agent"], ["silver.transaction"]),
        "maint": job("ops", depends_on=["layer:bronze", "layer:silver", "layer:gold"]),
    }


def test_order_follows_tables_then_layers_then_manifest_order():
    m = parse_manifest(toy())
    assert m.order == ("bronze_customer", "bronze_agent", "silver_customer", "silver_agent", "gold_x", "maint")
    assert m.upstream["gold_x"] == {"silver_customer", "silver_agent"}
    assert m.upstream["maint"] == {"bronze_customer", "bronze_agent", "silver_customer", "silver_agent", "gold_x"}


@pytest.mark.parametrize("spec, expected", [
    (None, ["bronze_customer", "bronze_agent", "silver_customer", "silver_agent", "gold_x", "maint"]),
    ("silver_customer", ["silver_customer"]),
    ("+silver_customer", ["bronze_customer", "silver_customer"]),
    ("silver_customer+", ["silver_customer", "gold_x", "maint"]),
    ("+silver_agent+", ["bronze_agent", "silver_agent", "gold_x", "maint"]),
    ("layer:silver", ["silver_customer", "silver_agent"]),
    ("layer:ml", []),
    ("silver_agent, bronze_customer", ["bronze_customer", "silver_agent"]),
    ("layer:gold bronze_agent", ["bronze_agent", "gold_x"]),
])
def test_select_is_dbt_like_and_keeps_run_order(spec, expected):
    assert parse_manifest(toy()).select(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("nope+", "unknown job 'nope' in --select"),
    ("layer:platinum", "unknown layer 'platinum' in --select (known: bronze, silver, gold, ml, ops)"),
])
def test_select_rejects_unknown_names(spec, message):
    with pytest.raises(ManifestError) as err:
        parse_manifest(toy()).select(spec)
    assert str(err.value) == message


def _with(**changes):
    jobs = toy()
    for name, spec in changes.items():
        if spec is None:
            del jobs[name]
        else:
            jobs[name] = spec
    return jobs


@pytest.mark.parametrize("jobs, message", [
    (_with(bronze_customer=job("bronze", ["silver.customer"], ["bronze.crm_customer"])),
     "the manifest has a cycle: "),
    (_with(gold_x=job("gold", depends_on=["silver_nope"])), "job gold_x depends on unknown job 'silver_nope'"),
    (_with(gold_x=job("gold", depends_on=["layer:platinum"])), "job gold_x depends on unknown layer 'platinum'"),
    (_with(gold_x=job("gold", writes=["gold.nope"])), "job gold_x refers to unknown table 'gold.nope' (not in lakedb)"),
    (_with(gold_x=job("gold", reads=["landing:crm/nope"])), "job gold_x reads unknown source 'landing:crm/nope'"),
    (_with(silver_agent=None), "job gold_x reads silver.agent, which no job in the manifest writes"),
    (_with(gold_x=job("gold", writes=["silver.customer"])),
     "table silver.customer is written by both silver_customer and gold_x"),
    (_with(gold_x={**job("gold"), "entry": "jobs.gold.no_such_module"}),
     "job gold_x: entry module 'jobs.gold.no_such_module' not found"),
    (_with(gold_x={**job("gold"), "entry": "jobs/gold.py"}),
     "job gold_x: entry 'jobs/gold.py' is not a module name like jobs.bronze.ingest"),
    (_with(gold_x={**job("gold"), "schedule": "daily"}), "job gold_x: unknown key(s) schedule"),
    (_with(Gold=job("gold")), "invalid job name 'Gold': use lower_snake_case"),
    (_with(gold_x={**job("gold"), "exclusive": "ML Flow"}),
     "job gold_x: exclusive resource 'ML Flow' is not a lower_snake_case name"),
    (_with(gold_x={**job("gold"), "exclusive": {"mlflow": True}}), "job gold_x: exclusive must be a list of names"),
])
def test_invalid_manifests_are_refused_with_a_reason(jobs, message):
    with pytest.raises(ManifestError) as err:
        parse_manifest(jobs)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_bad_yaml_names_the_file_and_the_problem(tmp_path):
    path = tmp_path / "pipeline.yml"
    path.write_text("jobs:\n  a: [unclosed\n")
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(err.value).startswith(f"{path} is not valid YAML: ")
    assert "\n" not in str(err.value)


def test_mermaid_draws_sources_tables_by_layer_and_jobs():
    m = parse_manifest({
        "bronze_customer": job("bronze", ["landing:crm/customer"], ["bronze.crm_customer"]),
        "silver_customer": job("silver", ["bronze.crm_customer"], ["silver.customer"]),
        "maint": job("ops", depends_on=["silver_customer"]),
    })
    assert m.mermaid() == "\n".join([
        "flowchart LR",
        "  subgraph sources",
        '    t0>"crm/customer"]',
        "  end",
        "  subgraph bronze",
        '    t1[("bronze.crm_customer")]',
        "  end",
        "  subgraph silver",
        '    t2[("silver.customer")]',
        "  end",
        '  j0[["bronze_customer"]]:::job',
        "  t0 --> j0",
        "  j0 --> t1",
        '  j1[["silver_customer"]]:::job',
        "  t1 --> j1",
        "  j1 --> t2",
        '  j2[["maint"]]:::job',
        "  j1 -.-> j2",
        "  classDef job fill:#eef,stroke:#447",
    ]) + "\n"


def test_the_project_manifest_is_valid_and_maintenance_follows_every_data_job():
    m = load_manifest()
    # The jobs that log to MLflow hold its store alone; scoring, which only reads it, does not.
    assert {n: j.exclusive for n, j in m.jobs.items() if j.exclusive} == {"ml_train_churn": ("mlflow",),
                                                                          "ml_segments": ("mlflow",)}
    assert m.upstream["ops_maintenance"] == {n for n, j in m.jobs.items() if j.layer in ("bronze", "silver", "gold", "ml")}
