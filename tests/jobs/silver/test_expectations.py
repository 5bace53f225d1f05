"""The expectations engine on a table declared for the test: warn counts, quarantine names, fail stops."""

from __future__ import annotations

import pytest

from jobs.silver import expectations as ex
from lakedb.model import Rule, Table, col
from lakehouse_core.errors import ContractViolation

TABLE = Table(
    layer="silver", name="thing", comment="A test table.",
    columns=(col("id", "BIGINT", "Id."), col("size", "INT", "Size."), col("_batch", "DATE", "Day.")),
    rules=(
        Rule("has_id", "id IS NOT NULL", "quarantine", "An id."),
        Rule("small", "size < 10", "warn", "Usually small."),
        Rule("positive", "size > 0", "quarantine", "Positive."),
        Rule("not_huge", "size < 1000", "fail", "Never huge."),
        Rule("parent_known", "true", "hold", "Held elsewhere."),
    ),
)


def test_rule_results_list_every_broken_rule_and_the_first_quarantine_reason(spark):
    df = spark.createDataFrame([(1, 5), (2, 50), (None, -1), (3, None), (4, 2000)], "id bigint, size int")
    got = ex.with_rule_results(df, ex.row_rules(TABLE)).orderBy("id").collect()
    assert [(r.id, r._failed, r._reason) for r in got] == [
        (None, ["has_id", "positive"], "has_id"),
        (1, [], None),
        (2, ["small"], None),
        (3, ["small", "positive", "not_huge"], "positive"),
        (4, ["small", "not_huge"], None),
    ]
    counts = ex.with_rule_results(df, ex.row_rules(TABLE)).agg(*ex.failure_counts(ex.row_rules(TABLE))).first()
    assert counts.asDict() == {"has_id": 1, "small": 3, "positive": 2, "not_huge": 2}


def test_a_broken_fail_rule_stops_the_run_naming_it():
    ex.raise_for_fail(TABLE, {"has_id": 3, "small": 9, "not_huge": 0})
    with pytest.raises(ContractViolation, match=r"silver.thing: rule not_huge \(fail\) broken by 2 row\(s\)"):
        ex.raise_for_fail(TABLE, {"not_huge": 2})
