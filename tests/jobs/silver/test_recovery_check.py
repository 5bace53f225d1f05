"""When a silver job may skip looking for an interrupted attempt of itself (the check costs a scan of 4 ops tables)."""

from __future__ import annotations

import datetime as dt

from jobs.silver.engine import Mark, may_have_orphans
from lakehouse_core.context import JobContext

T = dt.datetime(2026, 11, 28, 3, 0)


def ctx(unclean, run_id="now"):
    return JobContext(spark=None, cfg=None, run_id=run_id, unclean_runs=unclean)


def marks(updated_at):
    return {"bronze.x": Mark(3, T, updated_at), "bronze.y": Mark(1, T, None)}


def test_outside_the_runner_nothing_is_known_so_it_checks():
    assert may_have_orphans(ctx(None), marks(T)) is True


def test_no_failed_or_dead_run_on_the_root_means_nothing_to_undo():
    assert may_have_orphans(ctx(()), marks(T)) is False
    assert may_have_orphans(ctx(()), {}) is False


def test_a_failed_run_before_the_last_success_was_undone_by_it():
    assert may_have_orphans(ctx((("old", T - dt.timedelta(hours=2)),)), marks(T)) is False


def test_a_failed_run_after_the_last_success_or_within_the_clock_skew_is_checked():
    assert may_have_orphans(ctx((("late", T + dt.timedelta(hours=1)),)), marks(T)) is True
    assert may_have_orphans(ctx((("close", T - dt.timedelta(minutes=4)),)), marks(T)) is True


def test_a_job_that_never_succeeded_checks_any_failed_run_but_not_the_current_one():
    assert may_have_orphans(ctx((("old", T - dt.timedelta(days=9)),)), {}) is True
    assert may_have_orphans(ctx((("now", T),), run_id="now"), {}) is False
    assert may_have_orphans(ctx((("undated", None),)), marks(T)) is True


def test_the_runners_reader_of_unclean_runs_is_called_on_first_use_only():
    calls = []
    c = ctx(lambda: calls.append(1) or (("late", T + dt.timedelta(hours=1)),))
    assert calls == []
    assert (may_have_orphans(c, marks(T)), may_have_orphans(c, marks(T)), calls) == (True, True, [1])
