"""Small gold data for the ML tests: rows built by hand, and a few hundred synthetic customers.

The synthetic customers behave like the simulator's in miniature: unhappy customers complain (often left
unresolved) and leave sooner, so a model has something real to learn in seconds.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import functions as F

import lakedb
from lakehouse_core.catalog import ensure_tables, qualified
from lakehouse_core.context import JobContext
from tests.conftest import make_cfg

SYNTH_START = dt.date(2023, 1, 1)
SYNTH_END = dt.date(2024, 12, 31)
DELIVERY_DAY = dt.date(2025, 1, 1)  # profiles arrive with the first batch, after every training cutoff
ML_TABLES = ("gold.fact_transaction", "gold.fact_interaction", "gold.dim_customer", "gold.churn_score",
             "gold.customer_segment", "ops.gold_watermark")


def gold_frame(spark, table_id: str, rows: list[dict[str, Any]]):
    """A DataFrame with the gold table's exact schema; columns a row does not give are null."""
    t = lakedb.table(table_id)
    return spark.createDataFrame([tuple(r.get(c) for c in t.column_names) for r in rows], t.spark_schema())


def tx(customer_id: int, day: dt.date, amount: float = 50.0, ttype: str = "Purchase", status: str = "Completed",
       method: str = "Credit Card", currency: str = "USD", tid: int | None = None) -> dict[str, Any]:
    return {"source_system": "payments", "transaction_id": tid, "customer_id": customer_id,
            "date_key": int(day.strftime("%Y%m%d")), "transaction_date": day, "transaction_type": ttype,
            "payment_method": method, "payment_status": status, "amount": Decimal(f"{amount:.2f}"),
            "currency": currency, "reporting_currency": "USD", "amount_reporting": Decimal(f"{amount:.2f}")}


def interaction(customer_id: int, day: dt.date | None, itype: str = "Feedback", outcome: str = "Resolved",
                channel: str = "Email", iid: int | None = None) -> dict[str, Any]:
    return {"interaction_id": iid, "customer_id": customer_id, "interaction_date": day,
            "interaction_type": itype, "interaction_outcome": outcome, "interaction_channel": channel,
            "is_resolved": outcome in ("Resolved", "Implemented")}


def profile(customer_id: int, valid_from: dt.date, gender: str = "F", dob: dt.date = dt.date(1990, 1, 1),
            country: str = "Canada") -> dict[str, Any]:
    return {"customer_sk": customer_id * 100_000 + valid_from.toordinal() % 100_000, "customer_id": customer_id,
            "gender": gender, "date_of_birth": dob, "country": country, "valid_from": valid_from,
            "is_current": True}


def numbered(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    for i, r in enumerate(rows, 1):
        if r.get(key) is None:
            r[key] = i
    return rows


def synthetic_customers(n: int = 260, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Transactions, interactions and profiles of `n` customers from 2023 to the end of 2024."""
    rng = random.Random(seed)
    txs, contacts, profiles = [], [], []
    span = (SYNTH_END - SYNTH_START).days
    for cid in range(1, n + 1):
        signup = SYNTH_START + dt.timedelta(days=rng.randrange(0, span - 150))
        unhappy = rng.random() < 0.35
        lifetime = rng.expovariate(0.006 if unhappy else 0.0006)
        last = min(SYNTH_END, signup + dt.timedelta(days=int(lifetime)))
        day = signup
        while day <= last:
            refund = rng.random() < (0.12 if unhappy else 0.02)
            txs.append(tx(cid, day, round(rng.uniform(10, 300), 2), "Refund" if refund else "Purchase",
                          "Pending" if rng.random() < 0.03 else "Completed",
                          rng.choice(("Credit Card", "Debit Card", "PayPal")), rng.choice(("USD", "EUR"))))
            day += dt.timedelta(days=1 + int(rng.expovariate(1 / 14)))
        day = signup + dt.timedelta(days=int(rng.expovariate(1 / 40)))
        while day <= last:
            complaint = rng.random() < (0.7 if unhappy else 0.15)
            open_case = complaint and rng.random() < (0.7 if unhappy else 0.2)
            contacts.append(interaction(cid, day, "Complaint" if complaint else "Feedback",
                                        "Unresolved" if open_case else "Resolved",
                                        rng.choice(("Chat", "Phone")) if unhappy else rng.choice(("Email", "Phone"))))
            day += dt.timedelta(days=1 + int(rng.expovariate(1 / (30 if unhappy else 120))))
        profiles.append(profile(cid, DELIVERY_DAY, rng.choice("MF")))
    return {"gold.fact_transaction": numbered(txs, "transaction_id"),
            "gold.fact_interaction": numbered(contacts, "interaction_id"),
            "gold.dim_customer": profiles}


def write_gold(spark, cfg, data: dict[str, list[dict[str, Any]]]) -> None:
    for table_id, rows in data.items():
        gold_frame(spark, table_id, rows).write.insertInto(qualified(cfg, table_id))


def job_context(spark, cfg, job: str, run_id: str = "r1") -> JobContext:
    return JobContext(spark=spark, cfg=cfg, run_id=run_id, job=job, log=lambda m: None)


@pytest.fixture(scope="session")
def ml_lake(spark, tmp_path_factory):
    """A lake with synthetic gold data and an empty model registry, shared by the ML job tests."""
    cfg = make_cfg(tmp_path_factory.mktemp("ml_lake"), f"ml{os.getpid()}")
    cfg.raw["ml"] = {"grid": "small", "training_snapshots": 1}
    ensure_tables(spark, cfg, [lakedb.table(t) for t in ML_TABLES])
    write_gold(spark, cfg, synthetic_customers())
    return cfg


def register_reversed_champion(spark, cfg) -> str:
    """A deliberately bad champion: the small logistic regression fitted on inverted labels."""
    import mlflow

    from ml import churn, tracking

    client = tracking.configure(cfg, churn.EXPERIMENT)
    frames, _ = tracking.read_pinned(spark, {t: qualified(cfg, t) for t in churn.INPUT_TABLES})
    cutoffs = churn.choose_cutoffs(churn.data_end_of(frames["gold.fact_transaction"]))
    train = churn.labelled(frames, cutoffs.train, cutoffs.horizon_days).withColumn("label", 1.0 - F.col("label"))
    model = churn.build_pipeline(churn.GRIDS["small"][0]).fit(train)
    with mlflow.start_run(run_name="reversed champion"):
        output = model.transform(train.limit(2)).select("prediction").toPandas()
        info = tracking.log_spark_model(model, churn.input_example(train, 2), output, churn.MODEL_NAME)
    client.set_registered_model_alias(churn.MODEL_NAME, tracking.CHAMPION, info.registered_model_version)
    return str(info.registered_model_version)


@pytest.fixture(scope="session")
def trained(spark, ml_lake):
    """The first real training run, against a reversed champion: (champion version before, outcome)."""
    from ml import churn

    before = register_reversed_champion(spark, ml_lake)
    return before, churn.train(job_context(spark, ml_lake, "ml_train_churn"))
