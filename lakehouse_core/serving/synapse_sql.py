"""Synapse serverless SQL views over the gold Delta folders, generated from the lakedb model.

Power BI reads gold through these views (`bi.<table>`), never through Spark: serverless SQL is billed per
query and needs no running cluster. It reads Delta reader version 1 only, so gold tables must not use
deletion vectors, column mapping or v2 checkpoints; `model_readability_problems` and
`table_readability_problems` keep them that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import lakedb
from lakedb.model import Column, Table
from lakehouse_core.config import Config, valid_identifier
from lakehouse_core.serving import ServingError

STRING_TYPE = "VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8"
SIMPLE_TYPES = {
    "STRING": STRING_TYPE,
    "VARCHAR": STRING_TYPE,
    "BIGINT": "BIGINT",
    "LONG": "BIGINT",
    "INT": "INT",
    "INTEGER": "INT",
    "SMALLINT": "SMALLINT",
    "SHORT": "SMALLINT",
    "TINYINT": "TINYINT",
    "BYTE": "TINYINT",
    "DATE": "DATE",
    "TIMESTAMP": "DATETIME2(7)",
    "BOOLEAN": "BIT",
    "DOUBLE": "FLOAT",
    "FLOAT": "REAL",
}
# Serverless SQL returns nested Delta values (arrays, maps, structs) as JSON text.
NESTED_PREFIXES = ("ARRAY<", "MAP<", "STRUCT<")
DEFAULT_DATA_SOURCE = "gold_delta"
DEFAULT_SCHEMA = "bi"
DEFAULT_DATABASE = "lakehouse_serving"


def gold_tables() -> list[Table]:
    """The gold tables of the model, in declaration order (star schema, reports, ML outputs)."""
    return [t for t in lakedb.TABLES if t.layer == "gold"]


def serverless_database(cfg: Config) -> str:
    """The serverless SQL database holding the views (`serving.serverless_database`, optional)."""
    name = cfg.section("serving").get("serverless_database", DEFAULT_DATABASE)
    return valid_identifier(name, "serverless database name")


def serverless_server(cfg: Config) -> str:
    """The serverless SQL endpoint Power BI connects to; a placeholder when no workspace is configured."""
    explicit = cfg.section("serving").get("serverless_server")
    if explicit:
        return str(explicit)
    workspace = cfg.section("synapse").get("workspace") or "WORKSPACE"
    return f"{workspace}-ondemand.sql.azuresynapse.net"


def gold_folder(cfg: Config) -> str:
    """The folder holding one Delta folder per gold table (the gold database's location)."""
    return cfg.path("warehouse").rstrip("/") + "/" + valid_identifier(cfg.database("gold"), "database") + ".db/"


def tsql_type(spark_type: str) -> str:
    """The T-SQL type serverless SQL reads a Delta column of this Spark SQL type as."""
    t = re.sub(r"\s+", "", spark_type.upper())
    if t in SIMPLE_TYPES:
        return SIMPLE_TYPES[t]
    m = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", t)
    if m:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    if t == "DECIMAL":
        return "DECIMAL(10,0)"  # Spark's default precision and scale
    if t.startswith(NESTED_PREFIXES):
        return STRING_TYPE
    raise ServingError(f"no T-SQL type for Spark type {spark_type!r}: add it to lakehouse_core.serving.synapse_sql")


def quoted(name: str) -> str:
    """A bracket-quoted T-SQL identifier (some column names, like `key`, are reserved words)."""
    return "[" + name.replace("]", "]]") + "]"


def tsql_string(text: str) -> str:
    return "N'" + text.replace("'", "''") + "'"


def masked(column: Column) -> str:
    """The select-list expression of a column: masked when the model marks it as personal data."""
    c = quoted(column.name)
    if column.pii is None:
        return c
    if tsql_type(column.type) != STRING_TYPE:
        raise ServingError(f"column {column.name} is marked pii={column.pii} but is {column.type}, not STRING")
    if column.pii == "email":
        # First letter and the domain survive (a@x.com -> a***@x.com); anything without '@' is hidden whole.
        return (f"CASE WHEN CHARINDEX('@', {c}) > 1 "
                f"THEN LEFT({c}, 1) + '***@' + SUBSTRING({c}, CHARINDEX('@', {c}) + 1, 8000) "
                f"WHEN {c} IS NOT NULL THEN '***' END AS {c}")
    if column.pii == "phone":
        return f"CASE WHEN LEN({c}) > 4 THEN '******' + RIGHT({c}, 4) WHEN {c} IS NOT NULL THEN '***' END AS {c}"
    raise ServingError(f"column {column.name}: unknown pii kind {column.pii!r}")


def view_sql(t: Table, schema: str = DEFAULT_SCHEMA, data_source: str = DEFAULT_DATA_SOURCE) -> str:
    """`CREATE OR ALTER VIEW` reading one gold table's Delta folder with explicit column types."""
    select = ",\n".join(f"    {masked(c)}" for c in t.columns)
    with_ = ",\n".join(f"    {quoted(c.name)} {tsql_type(c.type)}" for c in t.columns)
    comment = " ".join(t.comment.split())
    return (
        f"-- {t.id}: {comment}\n"
        f"CREATE OR ALTER VIEW {quoted(schema)}.{quoted(t.name)} AS\n"
        f"SELECT\n{select}\n"
        f"FROM OPENROWSET(\n"
        f"    BULK '{t.name}/',\n"
        f"    DATA_SOURCE = '{data_source}',\n"
        f"    FORMAT = 'DELTA'\n"
        f") WITH (\n{with_}\n) AS [rows];\nGO\n"
    )


def synapse_views_sql(cfg: Config, tables: Iterable[Table] | None = None, schema: str = DEFAULT_SCHEMA) -> str:
    """The whole T-SQL script: database, data source over the gold folder, schema `bi`, one view per table."""
    tables = gold_tables() if tables is None else list(tables)
    database = serverless_database(cfg)
    schema = valid_identifier(schema, "schema")
    for t in tables:
        valid_identifier(t.name, "table")
    head = (
        "-- Synapse serverless SQL: one view per gold table over its Delta folder.\n"
        "-- Generated from the lakedb model by lakehouse_core.serving.synapse_sql; do not edit by hand.\n"
        f"-- Run on {serverless_server(cfg)} as a user who may read the storage account: the views read\n"
        "-- with the caller's Azure AD identity, so this script holds no key, token or password.\n"
        f"-- E-mail and phone columns are masked in the views (see Column.pii in lakedb).\n\n"
        f"IF DB_ID({tsql_string(database)}) IS NULL\n"
        f"    CREATE DATABASE {quoted(database)} COLLATE Latin1_General_100_BIN2_UTF8;\nGO\n"
        f"USE {quoted(database)};\nGO\n"
        f"IF NOT EXISTS (SELECT 1 FROM sys.external_data_sources WHERE name = {tsql_string(DEFAULT_DATA_SOURCE)})\n"
        f"    CREATE EXTERNAL DATA SOURCE {quoted(DEFAULT_DATA_SOURCE)} "
        f"WITH (LOCATION = {tsql_string(gold_folder(cfg))});\nGO\n"
        f"IF SCHEMA_ID({tsql_string(schema)}) IS NULL\n"
        f"    EXEC (N'CREATE SCHEMA {quoted(schema)}');\nGO\n"
    )
    if not tables:
        return head + "-- No gold tables are declared in lakedb yet.\n"
    return head + "\n" + "\n".join(view_sql(t, schema) for t in tables)


# --- Keeping gold readable by serverless SQL (Delta reader version 1) -------------------------------------

def _property_problems(name: str, props: dict[str, str], explicit_dv: bool) -> list[str]:
    problems = []
    dv = props.get("delta.enableDeletionVectors")
    if (dv or "").lower() == "true" or (explicit_dv and dv is None):
        problems.append(f"{name}: delta.enableDeletionVectors must be 'false' "
                        f"(is {dv!r}; serverless SQL cannot read deletion vectors)")
    mode = props.get("delta.columnMapping.mode")
    if mode is not None and mode.lower() != "none":
        problems.append(f"{name}: delta.columnMapping.mode is {mode!r}; serverless SQL reads only 'none'")
    if (props.get("delta.checkpointPolicy") or "").lower() == "v2":
        problems.append(f"{name}: delta.checkpointPolicy is 'v2'; serverless SQL reads only classic checkpoints")
    reader = props.get("delta.minReaderVersion")
    if reader is not None and reader.isdigit() and int(reader) > 1:
        problems.append(f"{name}: delta.minReaderVersion is {reader}; serverless SQL reads reader version 1 only")
    return problems


def model_readability_problems(tables: Iterable[Table] | None = None) -> list[str]:
    """What in the model would make a gold table unreadable by serverless SQL (empty list: all fine).

    Deletion vectors must be switched off explicitly: Databricks turns them on for new tables by default.
    """
    problems = []
    for t in gold_tables() if tables is None else tables:
        problems += _property_problems(t.id, t.properties, explicit_dv=True)
        for c in t.columns:
            try:
                masked(c)
                tsql_type(c.type)
            except ServingError as exc:
                problems.append(f"{t.id}: {exc}")
    return problems


def _normalized_location(path: str) -> str:
    return re.sub(r"^file:(//)?", "", path).rstrip("/")


def table_readability_problems(spark, cfg: Config, tables: Iterable[Table] | None = None) -> list[str]:
    """The same check against the real tables (SHOW TBLPROPERTIES), plus: each table sits in the folder
    the views read (`<gold folder>/<table>/`)."""
    from lakehouse_core.catalog import qualified, table_names

    problems = []
    gold = valid_identifier(cfg.database("gold"), "database")
    existing = table_names(spark, gold) if spark.catalog.databaseExists(gold) else set()
    for t in gold_tables() if tables is None else tables:
        name = qualified(cfg, t)
        if t.name not in existing:
            problems.append(f"{name}: does not exist (run the gold jobs first)")
            continue
        props = {row.key: row.value for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
        problems += _property_problems(name, props, explicit_dv=False)
        location = spark.sql(f"DESCRIBE DETAIL {name}").first()["location"]
        expected = gold_folder(cfg) + t.name
        if _normalized_location(location) != _normalized_location(expected):
            problems.append(f"{name}: stored at {location}, but the view reads {expected}/")
    return problems
