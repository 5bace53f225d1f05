"""A Power BI Project (PBIP) over the gold star schema, generated from the lakedb model.

The semantic model (TMDL) imports each star table from its Synapse serverless view `bi.<table>` (see
`synapse_sql`), relates the tables as `Table.references` declare, and carries the basic measures. Every
lineageTag is a uuid5 of the object's name, so regenerating gives byte-identical files and clean diffs.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lakedb
from lakedb.model import Column, Table
from lakehouse_core.config import Config
from lakehouse_core.serving import ServingError
from lakehouse_core.serving.synapse_sql import DEFAULT_SCHEMA, serverless_database, serverless_server

DEFAULT_NAME = "CustomerLakehouse"
STAR_PREFIXES = ("dim_", "fact_", "bridge_")
NAMESPACE = uuid.UUID("6f1c1a52-3b0e-5c8e-9d1e-4c7a2b9e0d11")  # fixed: lineage tags must not change between runs
SERVER_PARAMETER = "SynapseServer"
DATABASE_PARAMETER = "SynapseDatabase"
# Columns whose numbers are ratios or scores: adding them up means nothing.
NON_ADDITIVE = re.compile(r"(rate|ratio|pct|percent|share|probability|score|weight|fx_rate)$")

_INTEGER = {"BIGINT", "LONG", "INT", "INTEGER", "SMALLINT", "SHORT", "TINYINT", "BYTE"}


def tag(*parts: str) -> str:
    """A deterministic GUID for a model object (lineageTag, relationship name, logicalId)."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def tmdl_name(name: str) -> str:
    """A TMDL object name: bare when it is a simple identifier, else single-quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return "'" + name.replace("'", "''") + "'"


def tmdl_data_type(spark_type: str) -> str:
    t = re.sub(r"\s+", "", spark_type.upper())
    if t in ("STRING", "VARCHAR") or t.startswith(("ARRAY<", "MAP<", "STRUCT<")):
        return "string"
    if t in _INTEGER:
        return "int64"
    if t.startswith("DECIMAL"):
        return "decimal"
    if t in ("DOUBLE", "FLOAT"):
        return "double"
    if t in ("DATE", "TIMESTAMP"):
        return "dateTime"
    if t == "BOOLEAN":
        return "boolean"
    raise ServingError(f"no Power BI data type for Spark type {spark_type!r}")


def star_tables(tables: Iterable[Table] | None = None) -> list[Table]:
    """The star schema's tables (dimensions, facts, bridges) among the gold tables."""
    tables = lakedb.TABLES if tables is None else tables
    return [t for t in tables if t.layer == "gold" and t.name.startswith(STAR_PREFIXES)]


# --- relationships ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Relationship:
    from_table: str
    from_column: str
    to_table: str
    to_column: str
    both_directions: bool = False
    active: bool = True

    @property
    def name(self) -> str:
        return tag("relationship", self.from_table, self.from_column, self.to_table, self.to_column)


def _target_column(source: Table, column: str, target: Table) -> str:
    if len(target.keys) == 1:
        return target.keys[0]
    raise ServingError(f"{source.id}.{column} references {target.id}, whose key is not one column: Power BI "
                       "relates tables on one unique column")


def _kind_order(t: Table) -> int:
    # Snowflake edges between dimensions first, then facts, then bridges: when two filter paths would
    # join the same tables, the later (more direct) relationship is the one made inactive.
    return next(i for i, p in enumerate(STAR_PREFIXES) if t.name.startswith(p))


def _ambiguous(edges: list[tuple[str, str]]) -> bool:
    """True if a filter can flow from one table to another along two different paths."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)

    def count_paths(node: str, seen: frozenset[str], counts: dict[str, int]) -> None:
        for nxt in graph.get(node, ()):
            if nxt in seen:
                continue
            counts[nxt] = counts.get(nxt, 0) + 1
            count_paths(nxt, seen | {nxt}, counts)

    for start in graph:
        counts: dict[str, int] = {}
        count_paths(start, frozenset({start}), counts)
        if any(n > 1 for n in counts.values()):
            return True
    return False


def relationships(tables: Iterable[Table]) -> list[Relationship]:
    """Many-to-one relationships from `Table.references` between star tables.

    A bridge filters the fact it points at in both directions (dimension -> bridge -> fact); a relationship
    that would open a second filter path between two tables is kept but inactive, as Power BI requires.
    """
    tables = list(tables)
    by_id = {t.id: t for t in tables}
    candidates = []
    for t in sorted(tables, key=_kind_order):
        targets = [(c, by_id[ref]) for c, ref in t.references.items() if ref in by_id]
        bridge_to = None
        if t.name.startswith("bridge_") and targets:
            facts = [c for c, target in targets if target.name.startswith("fact_")]
            bridge_to = facts[0] if facts else targets[0][0]
        for column, target in targets:
            candidates.append(Relationship(t.name, column, target.name, _target_column(t, column, target),
                                           both_directions=column == bridge_to))
    out, edges = [], []
    for r in candidates:
        new = [(r.to_table, r.from_table)] + ([(r.from_table, r.to_table)] if r.both_directions else [])
        if _ambiguous(edges + new):
            out.append(Relationship(r.from_table, r.from_column, r.to_table, r.to_column, False, active=False))
        else:
            edges += new
            out.append(r)
    return out


# --- measures ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    table: str
    name: str
    expression: str
    format_string: str
    description: str


def _plural(fact: Table) -> str:
    noun = fact.name.removeprefix("fact_").replace("_", " ")
    return (noun if noun.endswith("s") else noun + "s").capitalize()


def measures(tables: Iterable[Table]) -> list[Measure]:
    """Basic measures on each fact, from the columns it has: row count, reporting-currency amount,
    distinct customers, and resolution rate."""
    out: list[Measure] = []
    customers_named = False
    for t in tables:
        if not t.name.startswith("fact_"):
            continue
        f, plural = tmdl_name(t.name), _plural(t)
        out.append(Measure(t.name, plural, f"COUNTROWS({f})", "#,##0", f"Rows of {t.name}."))
        cols = set(t.column_names)
        if "amount_reporting" in cols:
            out.append(Measure(t.name, "Amount (reporting currency)", f"SUM({f}[amount_reporting])", "#,##0.00",
                               "Sum of amount_reporting: amounts converted to the reporting currency, never "
                               "mixed currencies."))
        if "customer_id" in cols:
            name = f"Customers with {plural.lower()}" if customers_named else "Customers"
            customers_named = True
            out.append(Measure(t.name, name, f"DISTINCTCOUNT({f}[customer_id])", "#,##0",
                               f"Distinct customers in {t.name}."))
        if "is_resolved" in cols:
            out.append(Measure(t.name, "Resolution rate",
                               f"DIVIDE(CALCULATE(COUNTROWS({f}), {f}[is_resolved] = TRUE()), COUNTROWS({f}))",
                               "0.0%", "Share of interactions resolved (outcome Resolved or Implemented)."))
    return out


# --- TMDL text ---------------------------------------------------------------------------------------------

def _description(text: str, depth: int) -> str:
    return "\t" * depth + "/// " + " ".join(text.split()) + "\n"


def _summarize_by(t: Table, c: Column, keyish: set[str]) -> str:
    """`sum` only for additive numbers of facts and bridges; keys, attributes and ratios are never summed."""
    dtype = tmdl_data_type(c.type)
    if t.name.startswith("dim_") or dtype not in ("int64", "decimal", "double"):
        return "none"
    if c.name in keyish or NON_ADDITIVE.search(c.name):
        return "none"
    if c.name.endswith(("_id", "_key", "_sk")) or c.name in ("year", "quarter", "month", "birth_year"):
        return "none"
    return "sum"


def table_tmdl(t: Table, model_name: str, rels: list[Relationship], table_measures: list[Measure]) -> str:
    """`definition/tables/<table>.tmdl`: columns, measures, and an import partition from the view."""
    from_columns = {r.from_column for r in rels if r.from_table == t.name}
    keyish = set(t.keys) | from_columns | {r.to_column for r in rels if r.to_table == t.name}
    is_date_table = t.name == "dim_date" and "date" in t.column_names
    lines = [_description(t.comment, 0), f"table {tmdl_name(t.name)}\n",
             f"\tlineageTag: {tag(model_name, t.name)}\n"]
    if is_date_table:
        lines.append("\tdataCategory: Time\n")
    for m in table_measures:
        lines += ["\n", _description(m.description, 1), f"\tmeasure {tmdl_name(m.name)} = {m.expression}\n",
                  f"\t\tformatString: {m.format_string}\n", f"\t\tlineageTag: {tag(model_name, t.name, 'measure', m.name)}\n"]
    for c in t.columns:
        dtype = tmdl_data_type(c.type)
        lines += ["\n", _description(c.comment, 1), f"\tcolumn {tmdl_name(c.name)}\n", f"\t\tdataType: {dtype}\n"]
        # Foreign keys on facts and bridges are for relationships, not for people; lineage columns neither.
        if (c.name in from_columns and not t.name.startswith("dim_")) or c.name.startswith("_"):
            lines.append("\t\tisHidden\n")
        if is_date_table and c.name == "date":
            lines.append("\t\tisKey\n")
        if dtype == "decimal":
            lines.append("\t\tformatString: #,##0.00\n")
        elif dtype == "dateTime" and c.type.upper() == "DATE":
            lines.append("\t\tformatString: yyyy-mm-dd\n")
        lines += [f"\t\tlineageTag: {tag(model_name, t.name, 'column', c.name)}\n",
                  f"\t\tsummarizeBy: {_summarize_by(t, c, keyish)}\n",
                  f"\t\tsourceColumn: {c.name}\n"]
    lines += [
        "\n",
        f"\tpartition {tmdl_name(t.name)} = m\n",
        "\t\tmode: import\n",
        "\t\tsource =\n",
        "\t\t\t\tlet\n",
        f"\t\t\t\t\tSource = Sql.Database({SERVER_PARAMETER}, {DATABASE_PARAMETER}),\n",
        f"\t\t\t\t\tData = Source{{[Schema=\"{DEFAULT_SCHEMA}\",Item=\"{t.name}\"]}}[Data]\n",
        "\t\t\t\tin\n",
        "\t\t\t\t\tData\n",
    ]
    return "".join(lines)


def relationships_tmdl(rels: list[Relationship]) -> str:
    blocks = []
    for r in rels:
        lines = [f"relationship {r.name}\n"]
        if r.both_directions:
            lines.append("\tcrossFilteringBehavior: bothDirections\n")
        if not r.active:
            lines.append("\tisActive: false\n")
        lines += [f"\tfromColumn: {tmdl_name(r.from_table)}.{tmdl_name(r.from_column)}\n",
                  f"\ttoColumn: {tmdl_name(r.to_table)}.{tmdl_name(r.to_column)}\n"]
        blocks.append("".join(lines))
    return "\n".join(blocks)


def _parameter(name: str, value: str, model_name: str) -> str:
    literal = '"' + value.replace('"', '""') + '"'
    return (f"expression {name} = {literal} meta [IsParameterQuery=true, Type=\"Text\", "
            f"IsParameterQueryRequired=true]\n"
            f"\tlineageTag: {tag(model_name, 'expression', name)}\n\n"
            f"\tannotation PBI_ResultType = Text\n")


def model_tmdl(tables: list[Table]) -> str:
    refs = "".join(f"ref table {tmdl_name(t.name)}\n" for t in tables)
    return ("model Model\n"
            "\tculture: en-US\n"
            "\tdefaultPowerBIDataSourceVersion: powerBI_V3\n"
            "\tsourceQueryCulture: en-US\n\n"
            f"{refs}")


# --- the project folder ------------------------------------------------------------------------------------

def _json(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def _platform(kind: str, name: str) -> str:
    return _json({
        "$schema": "https://developer.microsoft.com/json-schemas/fabric/gitIntegration/platformProperties/2.0.0/schema.json",
        "metadata": {"type": kind, "displayName": name},
        "config": {"version": "2.0", "logicalId": tag("item", kind, name)},
    })


def pbip_files(cfg: Config, name: str = DEFAULT_NAME, tables: Iterable[Table] | None = None) -> dict[str, str]:
    """Relative path -> text of every file of the project (pure: nothing is written)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ServingError(f"invalid Power BI project name {name!r}: letters, digits, _ and - only")
    star = star_tables(tables)
    rels = relationships(star)
    ms = measures(star)
    sm, rp = f"{name}.SemanticModel", f"{name}.Report"
    files = {
        f"{name}.pbip": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/pbip/pbipProperties/1.0.0/schema.json",
            "version": "1.0",
            "artifacts": [{"report": {"path": rp}}],
            "settings": {"enableAutoRecovery": True},
        }),
        ".gitignore": "**/.pbi/localSettings.json\n**/.pbi/cache.abf\n",
        f"{sm}/.platform": _platform("SemanticModel", name),
        f"{sm}/definition.pbism": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/item/semanticModel/definitionProperties/1.0.0/schema.json",
            "version": "4.2",
            "settings": {},
        }),
        f"{sm}/definition/database.tmdl": "database\n\tcompatibilityLevel: 1567\n",
        f"{sm}/definition/model.tmdl": model_tmdl(star),
        f"{sm}/definition/expressions.tmdl": (
            _parameter(SERVER_PARAMETER, serverless_server(cfg), name) + "\n"
            + _parameter(DATABASE_PARAMETER, serverless_database(cfg), name)),
        f"{rp}/.platform": _platform("Report", name),
        f"{rp}/definition.pbir": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/item/report/definitionProperties/2.0.0/schema.json",
            "version": "4.0",
            "datasetReference": {"byPath": {"path": f"../{sm}"}},
        }),
        f"{rp}/definition/version.json": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/item/report/definition/versionMetadata/1.0.0/schema.json",
            "version": "2.0.0",
        }),
        f"{rp}/definition/report.json": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/item/report/definition/report/1.0.0/schema.json",
            "themeCollection": {},
            "layoutOptimization": "None",
        }),
        f"{rp}/definition/pages/pages.json": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/item/report/definition/pagesMetadata/1.0.0/schema.json",
            "pageOrder": ["overview"],
            "activePageName": "overview",
        }),
        f"{rp}/definition/pages/overview/page.json": _json({
            "$schema": "https://developer.microsoft.com/json-schemas/fabric/item/report/definition/page/1.0.0/schema.json",
            "name": "overview",
            "displayName": "Overview",
            "displayOption": "FitToPage",
            "height": 720,
            "width": 1280,
        }),
    }
    if rels:
        files[f"{sm}/definition/relationships.tmdl"] = relationships_tmdl(rels)
    for t in star:
        files[f"{sm}/definition/tables/{t.name}.tmdl"] = table_tmdl(
            t, name, rels, [m for m in ms if m.table == t.name])
    return files


def write_pbip(cfg: Config, out_dir: Path | str, name: str = DEFAULT_NAME,
               tables: Iterable[Table] | None = None) -> list[Path]:
    """Write the Power BI Project under `out_dir`; returns the files written, sorted."""
    out = Path(out_dir)
    written = []
    for rel, text in sorted(pbip_files(cfg, name, tables).items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
