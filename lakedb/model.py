"""The table model: every table of the lake database is declared once, here, as data.

DDL, constraints, the data dictionary, the Power BI exports and the data-quality checks are all derived
from these declarations; nothing else spells a column list by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Layer = Literal["bronze", "silver", "gold", "ops"]
Action = Literal["warn", "quarantine", "hold", "fail"]
PII_KINDS = (None, "email", "phone")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str
    nullable: bool = True
    # Personal data that BI-facing views mask: "email" or "phone" (see lakehouse_core.serving).
    pii: str | None = None

    def __post_init__(self) -> None:
        if self.pii not in PII_KINDS:
            raise ValueError(f"column {self.name}: pii must be one of {PII_KINDS}, not {self.pii!r}")


@dataclass(frozen=True)
class Rule:
    """A data-quality expectation: `expr` is a Spark SQL boolean that is true for a good row.

    Actions follow Delta Live Tables' expectations: `warn` keeps the row and counts it, `quarantine`
    keeps it out of the table (in `ops.quarantine` with the rule's name), `fail` stops the run.
    `constraint=True` also adds the expression as a Delta CHECK constraint on the table.
    """

    name: str
    expr: str
    action: Action
    description: str
    constraint: bool = False


@dataclass(frozen=True)
class Table:
    layer: Layer
    name: str
    comment: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    # For silver/gold ERD: column -> "layer.table" it references.
    references: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.layer}.{self.name} declares a column twice")
        for col in (*self.keys, *self.partition_by, *self.references):
            if col not in names:
                raise ValueError(f"{self.layer}.{self.name}: {col} is not a declared column")

    @property
    def id(self) -> str:
        """Logical name, `layer.table`, independent of the environment's database names."""
        return f"{self.layer}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.id} has no column {name}")

    def ddl_columns(self) -> str:
        return ", ".join(
            f"`{c.name}` {c.type}{'' if c.nullable else ' NOT NULL'} COMMENT {sql_string(c.comment)}"
            for c in self.columns
        )

    def spark_schema(self):
        from pyspark.sql.types import _parse_datatype_string

        return _parse_datatype_string(", ".join(f"`{c.name}` {c.type}" for c in self.columns))


def sql_string(text: str) -> str:
    """A SQL string literal (single quotes doubled, backslashes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def col(name: str, type_: str, comment: str, nullable: bool = True, pii: str | None = None) -> Column:
    return Column(name, type_, comment, nullable, pii)
