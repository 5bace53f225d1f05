"""gold.agent_performance: per-agent counts, resolution rate, overdue against the data's latest day."""

from __future__ import annotations

from .story import D


def test_every_agent_with_handled_resolved_open_and_overdue(spark, gold_db):
    got = spark.table(f"{gold_db}.agent_performance").drop("agent_sk")
    as_of = D("2024-01-09")
    assert {tuple(r) for r in got.collect()} == {
        # agent_id, full_name, handled, resolved, rate, complaints, open, overdue, as_of
        (10, "Al Smith", 2, 1, 0.5, 2, 1, 1, as_of),  # interaction 2: follow-up due 2024-01-07, still open
        (11, "Bea Jones", 2, 2, 1.0, 1, 0, 0, as_of),
        (12, None, 1, 0, 0.0, 0, 1, 0, as_of),  # inferred agent; follow-up due after as_of
        (13, "Cal Idle", 0, 0, None, 0, 0, 0, as_of),
    }
