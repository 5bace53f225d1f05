"""The Power BI Project generated from the model: files, TMDL tables, relationships, measures."""

from __future__ import annotations

import json
import re

import pytest

from lakedb.model import Table, col
from lakehouse_core.config import load_config
from lakehouse_core.serving.pbip import Relationship, pbip_files, relationships, star_tables, write_pbip

TYPES = {"STRING": "string", "BIGINT": "int64", "INT": "int64", "DATE": "dateTime", "BOOLEAN": "boolean",
         "DOUBLE": "double"}


def power_bi_type(spark_type: str) -> str:
    return "decimal" if spark_type.startswith("DECIMAL") else TYPES[spark_type]


def parse_tmdl(text: str) -> list[tuple[int, str]]:
    """(depth, text) per non-blank line; fails on anything but tabs in the indentation."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        indent = re.match(r"[ \t]*", line).group(0)
        assert set(indent) <= {"\t"}, f"line {number} is indented with spaces: {line!r}"
        out.append((len(indent), line.strip()))
    return out


def tmdl_objects(text: str) -> dict[str, dict]:
    """table -> {columns: {name: {property: value}}, measures: {name: expr}}, checking the nesting as it goes:
    every column, measure and partition sits one level under a table, every property one level under it."""
    tables: dict[str, dict] = {}
    table = obj = None
    body_depth = None  # a multi-line expression's body sits two levels below the line that opens it
    for depth, line in parse_tmdl(text):
        if body_depth is not None and depth >= body_depth:
            continue
        body_depth = None
        if line.startswith("///"):
            continue
        if depth == 0:
            assert line.startswith(("table ", "ref table ", "model ", "database", "relationship ", "expression ")), line
            table = tables.setdefault(line.split(" ", 1)[1], {"columns": {}, "measures": {}, "partitions": []}) \
                if line.startswith("table ") else None
            obj = None
        elif depth == 1:
            kind, _, rest = line.partition(" ")
            if kind in ("column", "measure", "partition"):
                assert table is not None, f"{kind} outside a table: {line}"
                if kind == "column":
                    obj = table["columns"].setdefault(rest, {})
                elif kind == "measure":
                    name, expr = rest.split(" = ", 1)
                    table["measures"][name] = expr
                    obj = {}
                else:
                    table["partitions"].append(rest)
                    obj = {}
        elif depth == 2:
            assert obj is not None, f"property outside an object: {line}"
            key, sep, value = line.partition(":")
            obj[key] = value.strip() if sep else True
            if line.endswith("="):
                body_depth = depth + 2
        else:
            raise AssertionError(f"unexpected depth {depth}: {line}")
    return tables


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return pbip_files(load_config("synapse"))


def test_project_has_the_pbip_semantic_model_and_report_files_and_is_reproducible(files, tmp_path):
    star = [t.name for t in star_tables()]
    assert {"dim_customer", "fact_transaction", "fact_interaction", "bridge_interaction_agent"} <= set(star)
    sm, rp = "CustomerLakehouse.SemanticModel", "CustomerLakehouse.Report"
    assert sorted(files) == sorted([
        ".gitignore", "CustomerLakehouse.pbip",
        f"{sm}/.platform", f"{sm}/definition.pbism", f"{sm}/definition/database.tmdl",
        f"{sm}/definition/model.tmdl", f"{sm}/definition/expressions.tmdl", f"{sm}/definition/relationships.tmdl",
        *(f"{sm}/definition/tables/{name}.tmdl" for name in star),
        f"{rp}/.platform", f"{rp}/definition.pbir", f"{rp}/definition/version.json",
        f"{rp}/definition/report.json", f"{rp}/definition/pages/pages.json",
        f"{rp}/definition/pages/overview/page.json",
    ])
    written = write_pbip(load_config("synapse"), tmp_path)
    assert {p.relative_to(tmp_path).as_posix(): p.read_text() for p in written} == files  # same bytes twice
    pbir = json.loads(files[f"{rp}/definition.pbir"])
    assert (tmp_path / rp / pbir["datasetReference"]["byPath"]["path"]).resolve() == (tmp_path / sm).resolve()
    assert json.loads(files["CustomerLakehouse.pbip"])["artifacts"] == [{"report": {"path": rp}}]
    assert json.loads(files[f"{sm}/definition.pbism"])["version"] == "4.2"
    assert parse_tmdl(files[f"{sm}/definition/model.tmdl"])[-len(star):] == [(0, f"ref table {n}") for n in star]


def test_every_star_table_has_its_columns_and_an_import_partition_from_its_view(files):
    for t in star_tables():
        text = files[f"CustomerLakehouse.SemanticModel/definition/tables/{t.name}.tmdl"]
        parsed = tmdl_objects(text)
        assert list(parsed) == [t.name]
        cols = parsed[t.name]["columns"]
        assert [(n, c["dataType"], c["sourceColumn"]) for n, c in cols.items()] == \
            [(c.name, power_bi_type(c.type), c.name) for c in t.columns]
        keys = set(t.keys) | set(t.references)
        assert {n for n in keys if cols[n]["summarizeBy"] != "none"} == set()
        assert parsed[t.name]["partitions"] == [f"{t.name} = m"]
        assert 'Source = Sql.Database(SynapseServer, SynapseDatabase),' in text
        assert f'Data = Source{{[Schema="bi",Item="{t.name}"]}}[Data]' in text
    amount = tmdl_objects(files["CustomerLakehouse.SemanticModel/definition/tables/fact_transaction.tmdl"])
    assert amount["fact_transaction"]["columns"]["amount_reporting"]["summarizeBy"] == "sum"


def test_relationships_are_the_model_references_between_star_tables(files):
    text = files["CustomerLakehouse.SemanticModel/definition/relationships.tmdl"]
    found = set()
    for block in text.strip().split("\n\n"):
        props = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:])
        found.add((props["fromColumn"], props["toColumn"], props.get("crossFilteringBehavior", "oneDirection"),
                   props.get("isActive", "true")))
    star = {t.id: t for t in star_tables()}
    expected_pairs = {(f"{t.name}.{c}", f"{star[ref].name}.{star[ref].keys[0]}")
                      for t in star.values() for c, ref in t.references.items() if ref in star}
    assert {(f, to) for f, to, _, _ in found} == expected_pairs
    assert {(f, to) for f, to, d, _ in found if d == "bothDirections"} == \
        {("bridge_interaction_agent.interaction_id", "fact_interaction.interaction_id")}
    # The customer's geography already filters transactions through dim_customer: the direct path is inactive.
    assert {(f, to) for f, to, _, active in found if active == "false"} == \
        {("fact_transaction.geography_sk", "dim_geography.geography_sk")}


def test_bridge_filters_its_fact_both_ways_and_a_second_filter_path_is_inactive():
    def t(name, refs=None):
        cols = [col(f"{name}_sk", "BIGINT", "key")] + [col(c, "BIGINT", "fk") for c in (refs or {})]
        return Table(layer="gold", name=name, comment=name, columns=tuple(cols), keys=(f"{name}_sk",),
                     references={c: f"gold.{target}" for c, target in (refs or {}).items()})

    tables = [
        t("fact_sale", {"dim_store_sk": "dim_store", "dim_city_sk": "dim_city"}),
        t("bridge_sale_agent", {"dim_agent_sk": "dim_agent", "fact_sale_sk": "fact_sale"}),
        t("dim_store", {"dim_city_sk": "dim_city"}),
        t("dim_city"), t("dim_agent"),
        t("rpt_elsewhere", {"fact_sale_sk": "fact_sale"}),  # not a star table: no relationship
    ]
    assert relationships(star_tables(tables)) == [
        Relationship("dim_store", "dim_city_sk", "dim_city", "dim_city_sk"),
        Relationship("fact_sale", "dim_store_sk", "dim_store", "dim_store_sk"),
        Relationship("fact_sale", "dim_city_sk", "dim_city", "dim_city_sk", active=False),
        Relationship("bridge_sale_agent", "dim_agent_sk", "dim_agent", "dim_agent_sk"),
        Relationship("bridge_sale_agent", "fact_sale_sk", "fact_sale", "fact_sale_sk", both_directions=True),
    ]


def test_facts_carry_the_basic_measures(files):
    def measures(table):
        text = files[f"CustomerLakehouse.SemanticModel/definition/tables/{table}.tmdl"]
        return tmdl_objects(text)[table]["measures"]

    assert measures("fact_transaction") == {
        "Transactions": "COUNTROWS(fact_transaction)",
        "'Amount (reporting currency)'": "SUM(fact_transaction[amount_reporting])",
        "Customers": "DISTINCTCOUNT(fact_transaction[customer_id])",
    }
    assert measures("fact_interaction") == {
        "Interactions": "COUNTROWS(fact_interaction)",
        "'Customers with interactions'": "DISTINCTCOUNT(fact_interaction[customer_id])",
        "'Resolution rate'": "DIVIDE(CALCULATE(COUNTROWS(fact_interaction), fact_interaction[is_resolved] = "
                             "TRUE()), COUNTROWS(fact_interaction))",
    }
    assert measures("dim_customer") == {}


def test_lineage_tags_are_unique_guids(files):
    tags = re.findall(r"lineageTag: (\S+)", "".join(v for k, v in files.items() if k.endswith(".tmdl")))
    assert len(tags) == len(set(tags))
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", t) for t in tags)
    n_objects = sum(1 + len(t.columns) for t in star_tables()) + 2 + 6  # tables, columns, parameters, measures
    assert len(tags) == n_objects


def test_server_and_database_are_tmdl_parameters_from_the_environment(files):
    text = files["CustomerLakehouse.SemanticModel/definition/expressions.tmdl"]
    assert [line for _, line in parse_tmdl(text) if line.startswith("expression")] == [
        'expression SynapseServer = "contoso-synapse-ondemand.sql.azuresynapse.net" meta '
        '[IsParameterQuery=true, Type="Text", IsParameterQueryRequired=true]',
        'expression SynapseDatabase = "lakehouse_serving" meta '
        '[IsParameterQuery=true, Type="Text", IsParameterQueryRequired=true]',
    ]
