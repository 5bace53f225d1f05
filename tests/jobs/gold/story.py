"""One small silver world taken through gold: a first delivery, a rerun, a second delivery, a full refresh.

Building gold costs Spark time, so the story runs once per test session (the `story` fixture in conftest)
and each test asserts one behaviour on what it recorded. Silver rows are written directly; the rates come
from a tiny CSV so each expected conversion can be checked by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import lakedb
import lakedb.gold
import lakedb.silver
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.config import Config, load_config
from lakehouse_core.context import JobResult
from lakehouse_core.manifest import load_manifest
from lakehouse_core.runner import Reporter, run_jobs

D = dt.date.fromisoformat
B1, B2 = D("2024-01-10"), D("2024-02-01")  # delivery days of the two batches

RATES_CSV = """currency,rate_date,reporting_currency,rate,source
USD,2023-01-01,USD,1.0,identity
EUR,2023-01-01,USD,1.10,test
EUR,2023-02-01,USD,1.20,test
GBP,2023-01-01,USD,1.25,test
"""

GOLD_TABLES = lakedb.gold.TABLES


def gold_cfg(root: Path, name: str = "g") -> Config:
    """A test environment of its own: paths under `root`, databases `<layer>_<name><pid>`."""
    raw = dict(load_config("local", str(root)).raw)
    raw["databases"] = {layer: f"{layer}_{name}{os.getpid()}" for layer in ("bronze", "silver", "gold", "ops")}
    raw["secrets"] = {"key_env": "LAKEHOUSE_SECRET_KEY", "generate_local_key": False}
    return Config(env="test", root=str(root), raw=raw)


def put(spark, cfg, table_id: str, batch: dt.date, rows: list[dict]) -> None:
    """Append rows to a silver table; unspecified columns are null, lineage columns name the batch."""
    t = lakedb.table(table_id)
    filled = [tuple({"_batch": batch, "_source_file": f"test/{batch}", "_run_id": f"silver-{batch}", **r}.get(c)
                    for c in t.column_names) for r in rows]
    spark.createDataFrame(filled, t.spark_schema()).write.format("delta").mode("append") \
        .saveAsTable(f"{cfg.database('silver')}.{t.name}")


def customer(cid, first, last, gender, dob, email, since=B1):
    return {"customer_id": cid, "first_name": first, "last_name": last, "gender": gender,
            "date_of_birth": D(dob) if dob else None, "email": email, "username": first.lower(),
            "row_hash": f"h{cid}", "valid_from": since, "is_current": True}


def address(cid, country, state, city, since=B1):
    return {"customer_id": cid, "country": country, "state_province": state, "city": city, "valid_from": since,
            "is_current": True}


def phone(cid, number, since=B1):
    return {"customer_id": cid, "phone": number, "valid_from": since, "is_current": True}


def tx(system, tid, cid, amount, currency, kind, method, status, day):
    return {"source_system": system, "transaction_id": tid, "customer_id": cid, "amount": Decimal(amount),
            "currency": currency, "transaction_type": kind, "payment_method": method, "payment_status": status,
            "transaction_date": D(day)}


def interaction(iid, cid, day, kind, outcome, follow_up, follow_up_day, channel):
    return {"interaction_id": iid, "customer_id": cid, "interaction_date": D(day), "interaction_type": kind,
            "interaction_outcome": outcome, "follow_up_required": follow_up,
            "follow_up_date": D(follow_up_day) if follow_up_day else None, "interaction_channel": channel}


def load_batch1(spark, cfg) -> None:
    put(spark, cfg, "silver.customer", B1, [
        customer(1, "Ann", "Lee", "F", "1990-05-01", "ann@x.com"),
        customer(2, "Bo", "Ng", "M", "1985-07-07", "bo@x.com"),
        customer(3, "Cy", "Fox", None, None, None),
        customer(4, "Di", "Roe", "F", "1990-01-01", "di@x.com"),
    ])
    put(spark, cfg, "silver.address", B1, [
        address(1, "US", "NY", "New York"), address(1, "US", "CA", "Los Angeles"),
        address(2, "UK", "England", "London"), address(4, "US", "NY", "New York"),
    ])
    put(spark, cfg, "silver.customer_phone", B1, [
        phone(1, "5550000001"), phone(1, "5550000002"), phone(2, "5550000003"), phone(4, "5550000004"),
    ])
    put(spark, cfg, "silver.transaction", B1, [
        tx("payments", 1, 1, "100.00", "USD", "Purchase", "Credit Card", "Completed", "2023-01-15"),
        tx("payments", 2, 1, "100.00", "EUR", "Purchase", "PayPal", "Completed", "2023-01-31"),
        tx("payments", 3, 1, "50.00", "EUR", "Refund", "PayPal", "Refunded", "2023-02-01"),
        tx("payments", 4, 2, "10.00", "GBP", "Purchase", "Debit Card", "Pending", "2023-03-05"),
        tx("payments_v2", 1, 2, "20.00", "USD", "Purchase", "Credit Card", "Completed", "2022-12-31"),
        tx("payments", 6, 4, "33.33", "EUR", "Purchase", "Credit Card", "Completed", "2024-01-08"),
    ])
    put(spark, cfg, "silver.interaction", B1, [
        interaction(1, 1, "2024-01-05", "Complaint", "Resolved", False, None, "Email"),
        interaction(2, 1, "2024-01-08", "Complaint", "Unresolved", True, "2024-01-07", "Phone"),
        interaction(3, 2, "2024-01-09", "Feedback", "Implemented", False, None, "Chat"),
        interaction(4, 4, "2024-01-09", "Support Request", "Pending", True, "2024-01-20", "Phone"),
    ])
    put(spark, cfg, "silver.interaction_agent", B1, [
        {"interaction_id": 1, "agent_id": 10}, {"interaction_id": 1, "agent_id": 11},
        {"interaction_id": 2, "agent_id": 10}, {"interaction_id": 3, "agent_id": 11},
        {"interaction_id": 4, "agent_id": 12},
    ])
    put(spark, cfg, "silver.agent", B1, [
        {"agent_id": 10, "first_name": "Al", "last_name": "Smith"},
        {"agent_id": 11, "first_name": "Bea", "last_name": "Jones"},
        {"agent_id": 13, "first_name": "Cal", "last_name": "Idle"},
    ])


def load_batch2(spark, cfg) -> None:
    """Customer 2 moves to Paris; their pending transaction completes; they buy once more after moving."""
    silver = cfg.database("silver")
    spark.sql(f"UPDATE {silver}.address SET valid_to = DATE'{B2}', is_current = false "
              "WHERE customer_id = 2 AND city = 'London'")
    put(spark, cfg, "silver.address", B2, [address(2, "FR", "Ile-de-France", "Paris", since=B2)])
    spark.sql(f"UPDATE {silver}.transaction SET payment_status = 'Completed', _batch = DATE'{B2}' "
              "WHERE source_system = 'payments' AND transaction_id = 4")
    put(spark, cfg, "silver.transaction", B2, [
        tx("payments", 7, 2, "5.00", "GBP", "Purchase", "Credit Card", "Completed", "2024-02-01")])


def run_gold(spark, cfg, run_id: str, full_refresh: bool = False, rates: str | None = None) -> dict[str, JobResult]:
    """Every gold job, run by the runner as `lakehouse run --select layer:gold` runs them (dependencies first,
    two at a time); `rates` replaces the shipped rate file."""
    manifest = load_manifest()
    if rates:
        job = manifest.jobs["gold_ref_exchange_rate"]
        manifest = dataclasses.replace(manifest, jobs={**manifest.jobs, job.name: dataclasses.replace(
            job, args={**job.args, "path": rates})})
    summary = run_jobs(spark, cfg, manifest, manifest.select("layer:gold"), run_id=run_id, full_refresh=full_refresh,
                       reporter=Reporter(quiet=True, stream=io.StringIO()))
    return {o.job: o.result for o in summary.outcomes}


def snapshot(spark, cfg) -> dict[str, set[tuple]]:
    """Every gold table's rows, as a set of tuples (date_dim excluded: it is a fixed calendar)."""
    out = {}
    for t in GOLD_TABLES:
        if t.name != "dim_date":
            out[t.id] = {tuple(r) for r in spark.table(f"{cfg.database('gold')}.{t.name}").collect()}
    return out


def versions(spark, cfg) -> dict[str, int]:
    return {t.id: spark.sql(f"DESCRIBE HISTORY {cfg.database('gold')}.{t.name} LIMIT 1").first()["version"]
            for t in GOLD_TABLES}


@dataclass
class Story:
    cfg: object
    after_batch1: dict = field(default_factory=dict)
    after_rerun: dict = field(default_factory=dict)
    after_batch2: dict = field(default_factory=dict)
    after_full_refresh: dict = field(default_factory=dict)
    versions_batch1: dict = field(default_factory=dict)
    versions_rerun: dict = field(default_factory=dict)
    rerun_results: dict = field(default_factory=dict)
    batch2_results: dict = field(default_factory=dict)
    full_refresh_results: dict = field(default_factory=dict)


def build_story(spark, root: Path) -> Story:
    """Batch 1, a rerun, batch 2, a full refresh: gold snapshots and job results after each."""
    cfg = gold_cfg(root)
    (root / "fx_rates.csv").write_text(RATES_CSV)
    # The ML tables stay absent: customer_360 must then carry nulls.
    ensure_tables(spark, cfg, [*lakedb.silver.TABLES, *lakedb.gold.TABLES, lakedb.table("ops.gold_watermark")])
    s = Story(cfg)
    load_batch1(spark, cfg)
    rates = str(root / "fx_rates.csv")
    run_gold(spark, cfg, "r1", rates=rates)
    s.after_batch1, s.versions_batch1 = snapshot(spark, cfg), versions(spark, cfg)
    s.rerun_results = run_gold(spark, cfg, "r2", rates=rates)
    s.after_rerun, s.versions_rerun = snapshot(spark, cfg), versions(spark, cfg)
    load_batch2(spark, cfg)
    s.batch2_results = run_gold(spark, cfg, "r3", rates=rates)
    s.after_batch2 = snapshot(spark, cfg)
    s.full_refresh_results = run_gold(spark, cfg, "r4", full_refresh=True, rates=rates)
    s.after_full_refresh = snapshot(spark, cfg)
    return s
