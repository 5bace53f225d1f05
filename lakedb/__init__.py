"""The lake database model: every table, declared once. See `lakedb.model` for the vocabulary."""

from __future__ import annotations

from lakedb import bronze, gold, ml, ops, silver
from lakedb.model import Column, Rule, Table
from lakedb.sources import SOURCES, Source

LAYERS = ("bronze", "silver", "gold", "ops")

TABLES: tuple[Table, ...] = (*bronze.TABLES, *silver.TABLES, *gold.TABLES, *ml.TABLES, *ops.TABLES)
TABLES_BY_ID: dict[str, Table] = {t.id: t for t in TABLES}


def table(table_id: str) -> Table:
    """The table declared as `layer.name`."""
    try:
        return TABLES_BY_ID[table_id]
    except KeyError:
        raise KeyError(f"no table {table_id!r} in the lake database model") from None


__all__ = ["LAYERS", "SOURCES", "TABLES", "TABLES_BY_ID", "Column", "Rule", "Source", "Table", "table"]
