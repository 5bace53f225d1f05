"""The runner on toy jobs: recording in ops, resume after a failure, progress as JSON lines."""

from __future__ import annotations

import dataclasses
import io
import json
import textwrap

import pytest

from lakehouse_core.catalog import ensure_databases
from lakehouse_core.context import JobResult
from lakehouse_core.errors import JobFailed, LakehouseError
from lakehouse_core.manifest import load_manifest, parse_manifest
from lakehouse_core.runner import (
    JobOutcome,
    Reporter,
    RunSummary,
    parallel_by_layer,
    parallel_jobs,
    resume_plan,
    run_jobs,
    tables_written,
)

TOY_JOBS = """
    import threading
    import time
    from pathlib import Path

    from lakehouse_core.context import JobResult

    CALLS = []
    SEEN = {}
    RUNNING = []
    MOST_AT_ONCE = [0]
    PAIR = threading.Barrier(2, timeout=120)
    TRIO = threading.Barrier(3, timeout=60)


    PREFETCH_FAILS = []


    def prefetch(ctx):  # the runner calls it in the background as the run starts
        if PREFETCH_FAILS:
            raise RuntimeError("the prefetch failed")
        ctx.per_run("ahead", lambda: threading.current_thread().name)


    def run(ctx, rows, fail_if=None, pair=None, solo=False, record=False, ahead=False, trio=False):
        if ahead:  # what the module's prefetch read for the run (once it has started), else the job's own read
            deadline = time.monotonic() + 60
            while not PREFETCH_FAILS and "ahead" not in ctx.run_cache and time.monotonic() < deadline:
                time.sleep(0.05)
            SEEN[ctx.job] = ctx.per_run("ahead", lambda: "the job")
        if record:  # an ops row through the runner's buffer, after noting whose rows this job can read
            wm = ctx.table("ops.gold_watermark")
            SEEN[ctx.job] = sorted(r.job for r in ctx.spark.table(wm).collect())
            ctx.append_ops("ops.gold_watermark", [(ctx.job, "t", rows, ctx.run_id, None)], last=True)
        if solo:  # how many solo jobs run at the same time
            RUNNING.append(ctx.job)
            MOST_AT_ONCE[0] = max(MOST_AT_ONCE[0], len(RUNNING))
            time.sleep(1.0)
            RUNNING.remove(ctx.job)
        if trio:  # three such jobs get past the barrier only when they run at the same time
            TRIO.wait()
        if pair:  # two such jobs meet at a barrier: they get past it only when they run at the same time
            PAIR.wait()
            SEEN[ctx.job] = ctx.spark.conf.get("spark.databricks.delta.commitInfo.userMetadata")
            mine = ctx.spark.createDataFrame([(ctx.job,)], "job string")
            mine.createOrReplaceTempView("mine")
            PAIR.wait()
            SEEN[ctx.job + " view"] = ctx.spark.table("mine").first()[0]
            mine.write.format("delta").mode("append").saveAsTable(pair)  # a Delta commit from the job's thread
        CALLS.append(ctx.job)
        if fail_if and Path(fail_if).exists():
            raise RuntimeError("upstream file is corrupt\\nsecond line of the traceback text")
        ctx.log(f"{ctx.job} made {rows} rows")
        return JobResult(rows_read=rows, rows_written=rows, rows_quarantined=0)
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A module of toy jobs, importable under a unique name; returns it."""
    import importlib

    pkg = tmp_path / "toy_src"
    pkg.mkdir()
    name = f"toy_jobs_{tmp_path.name.replace('-', '_')}"
    (pkg / f"{name}.py").write_text(textwrap.dedent(TOY_JOBS))
    monkeypatch.syspath_prepend(str(pkg))
    return importlib.import_module(name)


def manifest(toy, fail_flag=None):
    def job(layer, rows, depends_on=(), fail=False):
        args = {"rows": rows, **({"fail_if": str(fail_flag)} if fail else {})}
        return {"layer": layer, "entry": toy.__name__, "args": args, "depends_on": list(depends_on)}

    # a and d are independent; b fails; e depends only on a, c on b: both come after b in run order.
    return parse_manifest({
        "a": job("bronze", 1), "d": job("bronze", 2), "b": job("silver", 3, ["a"], fail=True),
        "e": job("gold", 4, ["a"]), "c": job("gold", 5, ["b"]),
    })


def job_runs(spark, cfg, run_id):
    rows = spark.table(f"{cfg.database('ops')}.job_run").where(f"run_id = '{run_id}'") \
        .select("job", "status", "rows_written", "error").collect()
    return sorted(tuple(r) for r in rows)


def test_resume_runs_the_failed_job_and_every_job_after_it(spark, lake_cfg, toy, tmp_path):
    flag = tmp_path / "corrupt"
    flag.touch()
    m = manifest(toy, flag)
    assert m.order == ("a", "d", "b", "e", "c")
    quiet = Reporter(quiet=True, stream=io.StringIO())
    with pytest.raises(JobFailed, match="^job b failed: RuntimeError: upstream file is corrupt$"):
        run_jobs(spark, lake_cfg, m, list(m.order), reporter=quiet, run_id="run-1")
    assert job_runs(spark, lake_cfg, "run-1") == [
        ("a", "succeeded", 1, None), ("b", "failed", None, "RuntimeError: upstream file is corrupt"),
        ("c", "skipped", None, "not run: b failed"), ("d", "succeeded", 2, None),
        ("e", "skipped", None, "not run: b failed")]

    plan = resume_plan(spark, lake_cfg, m)
    assert (plan.jobs, plan.run_id, plan.full_refresh) == (["b", "e", "c"], "run-1", False)

    flag.unlink()
    toy.CALLS.clear()
    run_jobs(spark, lake_cfg, m, plan.jobs, command="resume", reporter=quiet, run_id="run-2")
    assert toy.CALLS == ["b", "e", "c"]
    assert [tuple(r) for r in spark.table(f"{lake_cfg.database('ops')}.run_log").orderBy("started_at")
            .select("run_id", "command", "status", "failed_job", "planned_jobs").collect()] == [
        ("run-1", "run", "failed", "b", ["a", "d", "b", "e", "c"]),
        ("run-2", "resume", "succeeded", None, ["b", "e", "c"])]
    assert resume_plan(spark, lake_cfg, m).jobs == []


def test_json_log_has_one_event_per_line_for_schedulers(spark, lake_cfg, toy):
    m = manifest(toy)
    out = io.StringIO()
    run_jobs(spark, lake_cfg, m, ["a", "d"], reporter=Reporter(fmt="json", stream=out), run_id="run-j")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e.get("job")) for e in events] == [
        ("run_started", None), ("job_started", "a"), ("job_progress", "a"), ("job_ended", "a"),
        ("job_started", "d"), ("job_progress", "d"), ("job_ended", "d"), ("run_ended", None)]
    assert all(e["at"].endswith("Z") for e in events)
    assert events[0]["jobs"] == ["a", "d"] and events[0]["run_id"] == "run-j"
    assert events[2]["message"] == "a made 1 rows"
    assert {k: events[3][k] for k in ("status", "rows_read", "rows_written", "rows_quarantined", "error")} == {
        "status": "succeeded", "rows_read": 1, "rows_written": 1, "rows_quarantined": 0, "error": None}
    assert events[-1]["status"] == "succeeded"
    assert [(j["job"], j["status"], j["rows_written"]) for j in events[-1]["jobs"]] == [
        ("a", "succeeded", 1), ("d", "succeeded", 2)]


def test_quiet_text_shows_only_failures_and_the_summary_table():
    out = io.StringIO()
    r = Reporter(quiet=True, stream=out)
    r.event("job_started", job="a", text="[1/2] a (bronze): ...")
    r.event("job_progress", job="a", message="m", text="    m")
    r.event("run_failed", job="b", text="job b failed: boom")
    summary = RunSummary("r", [JobOutcome("a", "bronze", "succeeded", 1.25, JobResult(10, 1234, 2)),
                               JobOutcome("b", "silver", "failed", 0.5, error="boom"),
                               JobOutcome("c", "gold", "skipped")], "failed")
    r.event("run_ended", text=summary.table())
    assert out.getvalue() == "\n".join([
        "job b failed: boom",
        "job  layer   status     rows read  rows written  quarantined  seconds",
        "---  ------  ---------  ---------  ------------  -----------  -------",
        "a    bronze  succeeded         10         1,234            2      1.2",
        "b    silver  failed                                               0.5",
        "c    gold    skipped                                                 ",
    ]) + "\n"


def test_parallel_runs_independent_jobs_at_once_each_in_its_own_session(spark, lake_cfg, toy):
    out = f"{lake_cfg.database('ops')}.toy_out"
    ensure_databases(spark, lake_cfg)
    spark.sql(f"CREATE TABLE {out} (job STRING) USING delta")
    pair = {"layer": "bronze", "entry": toy.__name__, "args": {"rows": 1, "pair": out}}
    m = parse_manifest({
        "a": pair, "d": pair,
        "e": {"layer": "gold", "entry": toy.__name__, "args": {"rows": 4}, "depends_on": ["a", "d"]},
    })
    toy.CALLS.clear()
    summary = run_jobs(spark, lake_cfg, m, list(m.order), reporter=Reporter(quiet=True, stream=io.StringIO()),
                       run_id="run-p", parallel=2)
    assert [(o.job, o.status) for o in summary.outcomes] == [("a", "succeeded"), ("d", "succeeded"),
                                                             ("e", "succeeded")]
    assert toy.CALLS[-1] == "e" and sorted(toy.CALLS[:2]) == ["a", "d"]
    # Each job's commits carry its own name, and its temp views are its own.
    assert {k: (v if "view" in k else json.loads(v)) for k, v in toy.SEEN.items()} == {
        "a": {"job": "a", "run_id": "run-p"}, "d": {"job": "d", "run_id": "run-p"}, "a view": "a", "d view": "d"}
    assert spark.conf.get("spark.databricks.delta.commitInfo.userMetadata", None) is None
    commits = spark.sql(f"DESCRIBE HISTORY {out}").where("operation = 'WRITE'").collect()
    assert sorted(json.loads(c.userMetadata)["job"] for c in commits) == ["a", "d"]
    assert sorted(r.job for r in spark.table(out).collect()) == ["a", "d"]
    assert job_runs(spark, lake_cfg, "run-p") == [("a", "succeeded", 1, None), ("d", "succeeded", 1, None),
                                                 ("e", "succeeded", 4, None)]


@pytest.mark.parametrize("fails", [False, True])
def test_a_job_module_prefetch_reads_ahead_for_the_run_and_its_failure_is_left_to_the_job(spark, lake_cfg, toy,
                                                                                          fails):
    m = parse_manifest({"a": {"layer": "bronze", "entry": toy.__name__, "args": {"rows": 1, "ahead": True}}})
    toy.SEEN.clear()
    toy.PREFETCH_FAILS[:] = [True] if fails else []
    summary = run_jobs(spark, lake_cfg, m, ["a"], reporter=Reporter(quiet=True, stream=io.StringIO()))
    assert [(o.job, o.status) for o in summary.outcomes] == [("a", "succeeded")]
    assert toy.SEEN == {"a": "the job" if fails else "lakehouse-prefetch"}


def test_parallel_failure_lets_running_jobs_finish_and_starts_nothing_after_it(spark, lake_cfg, toy, tmp_path):
    flag = tmp_path / "corrupt"
    flag.touch()
    m = manifest(toy, flag)
    quiet = Reporter(quiet=True, stream=io.StringIO())
    with pytest.raises(JobFailed, match="^job b failed: RuntimeError: upstream file is corrupt$"):
        run_jobs(spark, lake_cfg, m, list(m.order), reporter=quiet, run_id="run-pf", parallel=2)
    # e needs only a, so it may run beside b; c needs b and never starts.
    runs = job_runs(spark, lake_cfg, "run-pf")
    assert [r for r in runs if r[0] != "e"] == [
        ("a", "succeeded", 1, None), ("b", "failed", None, "RuntimeError: upstream file is corrupt"),
        ("c", "skipped", None, "not run: b failed"), ("d", "succeeded", 2, None)]
    e_status = next(r[1] for r in runs if r[0] == "e")
    assert e_status in ("succeeded", "skipped")
    plan = resume_plan(spark, lake_cfg, m)
    assert plan.jobs == [j for j in ("b", "e", "c") if j != "e" or e_status == "skipped"]


def test_parallel_never_runs_two_jobs_holding_one_resource_at_once_and_runs_the_others_beside(spark, lake_cfg, toy):
    out = f"{lake_cfg.database('ops')}.toy_exclusive"
    ensure_databases(spark, lake_cfg)
    spark.sql(f"CREATE TABLE {out} (job STRING) USING delta")
    solo = {"layer": "ml", "entry": toy.__name__, "args": {"rows": 1, "solo": True}, "exclusive": ["mlflow"]}
    m = parse_manifest({
        "m1": solo, "m2": solo, "m3": solo,
        # w holds the resource too and r does not: they meet at the barrier only if they run at the same time.
        "w": {"layer": "ml", "entry": toy.__name__, "args": {"rows": 1, "pair": out}, "exclusive": ["mlflow"]},
        "r": {"layer": "ml", "entry": toy.__name__, "args": {"rows": 1, "pair": out}},
        "b": {"layer": "bronze", "entry": toy.__name__, "args": {"rows": 2}}})
    toy.RUNNING.clear()
    summary = run_jobs(spark, lake_cfg, m, list(m.order), reporter=Reporter(quiet=True, stream=io.StringIO()),
                       run_id="run-ml", parallel=3)
    assert [(o.job, o.status) for o in summary.outcomes] == [("b", "succeeded"), ("m1", "succeeded"),
                                                             ("m2", "succeeded"), ("m3", "succeeded"),
                                                             ("w", "succeeded"), ("r", "succeeded")]
    assert toy.MOST_AT_ONCE == [1]
    assert sorted(r.job for r in spark.table(out).collect()) == ["r", "w"]


def test_a_layer_can_run_more_jobs_at_once_than_the_others(spark, lake_cfg, toy):
    def job(layer, **args):
        return {"layer": layer, "entry": toy.__name__, "args": {"rows": 1, **args}}

    # Three bronze jobs meet at a barrier (each waits for the other two); the silver ones never run three at once.
    m = parse_manifest({**{f"b{i}": job("bronze", trio=True) for i in range(3)},
                        **{f"s{i}": job("silver", solo=True) for i in range(3)}})
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "runner": {
        "parallel_jobs": 2, "parallel_jobs_by_layer": {"bronze": 3}}})
    out = io.StringIO()
    summary = run_jobs(spark, cfg, m, list(m.order), reporter=Reporter(stream=out), run_id="run-layers")
    assert [(o.job, o.status) for o in summary.outcomes] == [(n, "succeeded") for n in m.order]
    assert toy.MOST_AT_ONCE == [2]
    assert out.getvalue().splitlines()[0].endswith(", 2 at a time, bronze 3")


@pytest.mark.parametrize(("runner", "requested", "expected"), [
    ({"parallel_jobs": 2, "parallel_jobs_by_layer": {"bronze": 4}}, None, (2, {"bronze": 4})),
    ({"parallel_jobs": 2, "parallel_jobs_by_layer": {"bronze": 4}}, 1, (1, {})),  # --parallel: one number for all
    ({}, None, (1, {})),
    ({"parallel_jobs_by_layer": {"bronze": 0}}, None, "runner.parallel_jobs_by_layer.bronze must be a whole number"),
    ({"parallel_jobs_by_layer": [4]}, None, "runner.parallel_jobs_by_layer must map layer names to numbers"),
])
def test_parallel_settings_are_read_from_conf_unless_given(lake_cfg, runner, requested, expected):
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "runner": runner})
    if isinstance(expected, str):
        with pytest.raises(LakehouseError, match=expected):
            parallel_by_layer(cfg, requested)
        return
    assert (parallel_jobs(cfg, requested), parallel_by_layer(cfg, requested)) == expected


def job_run_commits(spark, cfg) -> list[int]:
    """Rows added by each commit to ops.job_run, oldest first."""
    history = spark.sql(f"DESCRIBE HISTORY {cfg.database('ops')}.job_run").where("operation = 'WRITE'")
    return [int(r.operationMetrics["numOutputRows"]) for r in history.orderBy("version").collect()]


@pytest.mark.parametrize(("every", "commits"), [(30, [3]), (0, [1, 1, 1])])
def test_job_results_are_recorded_together_unless_asked_for_one_commit_each(spark, lake_cfg, toy, every, commits):
    m = parse_manifest({n: {"layer": "bronze", "entry": toy.__name__, "args": {"rows": i}}
                        for i, n in enumerate(("a", "b", "c"), 1)})
    cfg = dataclasses.replace(lake_cfg, raw={**lake_cfg.raw, "runner": {"parallel_jobs": 1,
                                                                        "record_every_seconds": every}})
    run_jobs(spark, cfg, m, list(m.order), reporter=Reporter(quiet=True, stream=io.StringIO()), run_id="r")
    assert job_runs(spark, cfg, "r") == [("a", "succeeded", 1, None), ("b", "succeeded", 2, None),
                                         ("c", "succeeded", 3, None)]
    assert job_run_commits(spark, cfg) == commits


def test_a_failure_records_the_results_waiting_with_it_before_the_run_ends(spark, lake_cfg, toy, tmp_path):
    flag = tmp_path / "corrupt"
    flag.touch()
    m = manifest(toy, flag)
    with pytest.raises(JobFailed):
        run_jobs(spark, lake_cfg, m, list(m.order), reporter=Reporter(quiet=True, stream=io.StringIO()),
                 run_id="run-f")
    # a and d wait; b's failure writes them with it; the skipped jobs follow in a second commit.
    assert job_run_commits(spark, lake_cfg) == [3, 2]


def test_ops_rows_of_a_layer_are_committed_together_before_the_next_layer_starts(spark, lake_cfg, toy):
    wm = ["ops.gold_watermark"]  # where the toy jobs record: created by the run because they declare it
    m = parse_manifest({
        "a": {"layer": "bronze", "entry": toy.__name__, "args": {"rows": 1, "record": True}, "writes": wm},
        "d": {"layer": "bronze", "entry": toy.__name__, "args": {"rows": 2, "record": True}, "writes": wm},
        "b": {"layer": "silver", "entry": toy.__name__, "args": {"rows": 3, "record": True}, "depends_on": ["a"],
              "writes": wm},
        "e": {"layer": "gold", "entry": toy.__name__, "args": {"rows": 4, "record": True}, "depends_on": ["b"],
              "writes": wm},
    })
    run_jobs(spark, lake_cfg, m, ["a", "d", "b", "e"], reporter=Reporter(quiet=True, stream=io.StringIO()),
             run_id="r", parallel=1)
    assert {j: toy.SEEN[j] for j in "adbe"} == {"a": [], "d": [], "b": ["a", "d"], "e": ["a", "b", "d"]}
    history = spark.sql(f"DESCRIBE HISTORY {lake_cfg.database('ops')}.gold_watermark").where("operation = 'WRITE'")
    assert [int(r.operationMetrics["numOutputRows"]) for r in history.orderBy("version").collect()] == [2, 1, 1]


def test_deferred_ops_rows_write_each_table_once_and_commit_points_last(monkeypatch):
    from lakehouse_core import context

    written = []
    monkeypatch.setattr(context, "append_rows", lambda spark, name, table_id, rows: written.append((name, rows)))
    deferred = context.DeferredAppends()
    deferred.add("ops.wm", "ops.silver_watermark", [("j1",)], "silver", last=True)
    deferred.add("ops.outcome", "ops.batch_outcome", [("j2", 1)], "silver")
    deferred.add("ops.wm", "ops.silver_watermark", [("j2",)], "silver", last=True)
    deferred.add("ops.dq", "ops.dq_result", [], "silver")
    assert (deferred.pending_from_other_layer("silver"), deferred.pending_from_other_layer("gold")) == (False, True)
    assert deferred.flush(None) == 2
    assert written == [("ops.outcome", [("j2", 1)]), ("ops.wm", [("j1",), ("j2",)])]
    assert (deferred.flush(None), deferred.pending_from_other_layer("gold")) == (0, False)


def test_deferred_tables_are_written_side_by_side_and_a_failure_keeps_the_commit_points_back(monkeypatch):
    import threading

    from lakehouse_core import context

    both = threading.Barrier(2, timeout=30)  # passed only when the two tables are being written at the same time
    written = []

    def append(spark, name, table_id, rows):
        if name != "ops.wm":
            both.wait()
        if name == "ops.dq" and rows == [("bad",)]:
            raise RuntimeError("commit failed")
        written.append((name, rows))

    monkeypatch.setattr(context, "append_rows", append)
    deferred = context.DeferredAppends()
    deferred.add("ops.wm", "ops.silver_watermark", [("j1",)], "silver", last=True)
    deferred.add("ops.outcome", "ops.batch_outcome", [("j1", 1)], "silver")
    deferred.add("ops.dq", "ops.dq_result", [("bad",)], "silver")
    with pytest.raises(RuntimeError, match="commit failed"):
        deferred.flush(None)
    assert written == [("ops.outcome", [("j1", 1)])]  # no commit point without the rows it vouches for
    deferred.add("ops.outcome", "ops.batch_outcome", [("j2", 1)], "silver")
    deferred._rows[("ops.dq", "ops.dq_result")] = [("ok",)]
    assert deferred.flush(None) == 3
    assert sorted(written[1:3]) == [("ops.dq", [("ok",)]), ("ops.outcome", [("j2", 1)])]
    assert written[3:] == [("ops.wm", [("j1",)])]


def test_a_run_creates_the_tables_its_jobs_write_the_ops_tables_they_read_and_the_run_record():
    m = load_manifest()
    assert [t.id for t in tables_written(m, m.select("layer:bronze"))] == [
        "bronze.crm_customer", "bronze.crm_the_address", "bronze.crm_customer_phone", "bronze.payments_the_transaction",
        "bronze.payments_v2_the_transaction", "bronze.contact_center_interaction",
        "bronze.contact_center_interaction_agent_manger", "bronze.hr_agent",
        "ops.run_log", "ops.job_run", "ops.ingested_file", "ops.jdbc_watermark"]
    # silver.customer reads bronze.crm_customer (not created: its own job's) and ops.ingested_file (created).
    assert [t.id for t in tables_written(m, ["silver_customer"])] == [
        "silver.customer", "ops.run_log", "ops.job_run", "ops.ingested_file", "ops.quarantine", "ops.dq_result",
        "ops.silver_watermark", "ops.batch_outcome"]
