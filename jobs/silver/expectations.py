"""Expectations, the way Delta Live Tables has them, driven by the rules of the `lakedb` table model.

`warn` keeps the row and counts it, `quarantine` keeps it out (the caller writes it to ops.quarantine),
`fail` stops the run with the rule's name, `hold` keeps it aside until the rule holds (ops.held_record).
A rule is broken when its expression is false or null.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakedb.model import Rule, Table
from lakehouse_core.errors import ContractViolation

ROW_ACTIONS = ("warn", "quarantine", "fail")


def broken(rule: Rule) -> Column:
    return ~F.coalesce(F.expr(rule.expr), F.lit(False))


def row_rules(table: Table) -> list[Rule]:
    """The rules checked row by row, before holding, in declared order."""
    return [r for r in table.rules if r.action in ROW_ACTIONS]


def hold_rules(table: Table) -> list[Rule]:
    return [r for r in table.rules if r.action == "hold"]


def with_rule_results(df: DataFrame, rules: Iterable[Rule], checked: Column | None = None) -> DataFrame:
    """Adds `_failed` (every broken rule, declared order) and `_reason` (the first broken quarantine rule).

    Rows where `checked` is false get no results (e.g. lines bronze could not parse).
    """
    rules = list(rules)
    names = F.array(*[F.when(broken(r), F.lit(r.name)) for r in rules]) if rules else F.array().cast("array<string>")
    failed = F.filter(names, lambda n: n.isNotNull())
    if checked is not None:
        failed = F.when(checked, failed).otherwise(F.array().cast("array<string>"))
    quarantine = [r.name for r in rules if r.action == "quarantine"]
    first = F.filter("_failed", lambda n: n.isin(quarantine)) if quarantine else F.array().cast("array<string>")
    return (df.withColumn("_failed", failed)
            .withColumn("_reason", F.when(F.size(first) > 0, first.getItem(0))))


def failure_counts(rules: Iterable[Rule]) -> list[Column]:
    """Aggregates counting the rows that broke each rule, named after the rule."""
    return [F.sum(F.array_contains("_failed", r.name).cast("long")).alias(r.name) for r in rules]


def raise_for_fail(table: Table, failed: dict[str, int]) -> None:
    """Stop the run if a `fail` rule was broken: a ContractViolation naming the rule."""
    for r in table.rules:
        if r.action == "fail" and failed.get(r.name, 0):
            raise ContractViolation(f"{table.id}: rule {r.name} (fail) broken by {failed[r.name]} row(s): "
                                    f"{r.description}")
