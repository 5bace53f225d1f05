"""Creates the lake database from the `lakedb` model, idempotently: databases, tables, comments, constraints."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.sql import SparkSession

import lakedb
from lakedb.model import Rule, Table, sql_string
from lakehouse_core.config import Config, valid_identifier
from lakehouse_core.errors import LakehouseError

DATABASE_COMMENTS = {
    "bronze": "Raw source records as they arrived, plus ingestion columns. Append-only.",
    "silver": "Validated, conformed, deduplicated entities with history (snake_case).",
    "gold": "Star schema, reports and KPIs for analysts and Power BI.",
    "ops": "Run log, job runs, ingestion ledger, data-quality results and quarantine.",
}


def qualified(cfg: Config, table: Table | str) -> str:
    """`database.table` for this environment (databases may be renamed per environment)."""
    t = lakedb.table(table) if isinstance(table, str) else table
    return f"{valid_identifier(cfg.database(t.layer), 'database')}.{valid_identifier(t.name, 'table')}"


def table_names(spark: SparkSession, db: str) -> set[str]:
    """The tables of an existing database, by name. SHOW TABLES reads names only; catalog.listTables also loads
    every table's metadata (seconds in a fresh process)."""
    return {r.tableName for r in spark.sql(f"SHOW TABLES IN {db}").collect() if not r.isTemporary}


def ensure_databases(spark: SparkSession, cfg: Config) -> None:
    existing = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    for layer in lakedb.LAYERS:
        db = valid_identifier(cfg.database(layer), "database")
        if db in existing:
            continue
        location = ""
        if cfg.spark.get("database_locations", True):
            location = f" LOCATION {sql_string(cfg.path('warehouse') + '/' + db + '.db')}"
        spark.sql(
            f"CREATE DATABASE IF NOT EXISTS {db} COMMENT {sql_string(DATABASE_COMMENTS[layer])}{location}"
        )


def constraint_property(rule: Rule) -> str:
    """The table property Delta keeps a CHECK constraint in."""
    return f"delta.constraints.{valid_identifier(rule.name, 'constraint').lower()}"


def create_table_sql(cfg: Config, t: Table) -> str:
    parts = [f"CREATE TABLE IF NOT EXISTS {qualified(cfg, t)} ({t.ddl_columns()}) USING DELTA"]
    if t.partition_by:
        parts.append(f"PARTITIONED BY ({', '.join(f'`{c}`' for c in t.partition_by)})")
    parts.append(f"COMMENT {sql_string(t.comment)}")
    # CHECK constraints go in with the table (Delta keeps them as `delta.constraints.*` properties): one commit
    # instead of one ALTER TABLE per constraint. _ensure_constraints adds any a table created earlier lacks.
    properties = dict(t.properties) | {constraint_property(r): r.expr for r in t.rules if r.constraint}
    if properties:
        props = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in sorted(properties.items()))
        parts.append(f"TBLPROPERTIES ({props})")
    return " ".join(parts)


def ensure_tables(spark: SparkSession, cfg: Config, tables: Iterable[Table] | None = None) -> list[str]:
    """Create missing tables, add columns the model gained, add missing CHECK constraints.

    Returns the tables it created. Existing data is never rewritten.
    """
    ensure_databases(spark, cfg)
    tables = list(lakedb.TABLES if tables is None else tables)
    existing: dict[str, set[str]] = {}
    app = spark.sparkContext.applicationId
    missing = []
    for t in tables:
        db = cfg.database(t.layer)
        if db not in existing:
            existing[db] = table_names(spark, db)
        name = qualified(cfg, t)
        if t.name not in existing[db]:
            missing.append(t)
        elif (app, name) not in _CHECKED:  # else compared with the model earlier in this application
            _evolve(spark, name, t)
            _ensure_constraints(spark, name, t)
            _CHECKED.add((app, name))

    locations = {db: database_location(spark, db) for db in {cfg.database(t.layer) for t in missing}}

    def create(t: Table) -> str:
        clear_interrupted_create(spark, cfg.database(t.layer), t.name, locations[cfg.database(t.layer)])
        spark.sql(create_table_sql(cfg, t))  # constraints included
        return qualified(cfg, t)

    # A CREATE is mostly waiting on the first commit's file writes: a few at once fill a new lake twice as fast.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="create-table") as pool:
        created = list(pool.map(create, missing))
    _CHECKED.update((app, name) for name in created)
    return created


FIRST_COMMIT = "00000000000000000000."


def database_location(spark: SparkSession, db: str) -> str | None:
    row = spark.sql(f"DESCRIBE DATABASE {db}").where("info_name = 'Location'").first()
    return row["info_value"] if row else None


def clear_interrupted_create(spark: SparkSession, db: str, name: str, location: str | None) -> None:
    """Remove what a CREATE TABLE killed halfway left in a managed table's folder, so it can be created again.

    Delta writes the table's first commit before the metastore learns of the table. A process killed in
    between leaves a folder the catalog does not know, and Spark then refuses to create the table there
    (DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION). A folder holding only that first commit has no data and is
    removed; anything more is left alone with a clear error. Local warehouses only (`location`: the database's).
    """
    url = urlparse(location) if location else None
    if url is None or url.scheme not in ("", "file"):
        return
    folder = Path(unquote(url.path)) / name
    if not folder.exists():
        return
    files = [f for f in folder.rglob("*") if f.is_file()]
    if all(f.parent.name in ("_delta_log", "_commits") and f.name.lstrip(".").startswith(FIRST_COMMIT)
           for f in files):
        shutil.rmtree(folder)
        return
    raise LakehouseError(f"{db}.{name} is not in the catalog but its folder {folder} holds data; register it "
                         f"(CREATE TABLE {db}.{name} USING DELTA LOCATION ...) or move the folder away")


# (Spark application id, table) already brought in line with the model by this process: a second run in the same
# session (demo, tests, benchmarks, notebooks) does not read every table's schema and properties again.
_CHECKED: set[tuple[str, str]] = set()


def _evolve(spark: SparkSession, name: str, t: Table) -> None:
    have = {f.name for f in spark.table(name).schema.fields}
    missing = [c for c in t.columns if c.name not in have]
    if missing:
        cols = ", ".join(f"`{c.name}` {c.type} COMMENT {sql_string(c.comment)}" for c in missing)
        spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({cols})")


def _ensure_constraints(spark: SparkSession, name: str, t: Table) -> None:
    wanted = [r for r in t.rules if r.constraint]
    if not wanted:
        return
    props = {row.key: row.value for row in spark.sql(f"SHOW TBLPROPERTIES {name}").collect()}
    for rule in wanted:
        if constraint_property(rule) not in props:
            spark.sql(f"ALTER TABLE {name} ADD CONSTRAINT {valid_identifier(rule.name)} CHECK ({rule.expr})")
