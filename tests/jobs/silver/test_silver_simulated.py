"""Silver on simulated sources with defects (3 daily batches): conservation per entity and batch, every
planted defect handled as the manifest says (row by row), and a rerun that changes nothing."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import lakedb
from jobs.silver import address, agent, customer, customer_phone, interaction, interaction_agent, transaction
from lakedb.silver import (
    CHANNELS,
    CURRENCIES,
    GENDERS,
    INTERACTION_OUTCOMES,
    INTERACTION_TYPES,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    TRANSACTION_TYPES,
)
from lakedb.sources import SOURCES
from lakehouse_core.context import JobContext
from lakehouse_core.simulator.contract import ENTITY_BY_NAME, ORPHAN_CUSTOMER_ID_BASE
from lakehouse_core.simulator.defects import DEFECT_KINDS, QUARANTINED_BRONZE, QUARANTINED_SILVER

SILVER_JOBS = (customer, address, customer_phone, agent, interaction_agent, transaction, interaction)
# Source column of a padded enum -> (silver column, accepted values).
ENUMS = {"gender": ("gender", GENDERS), "currency": ("currency", CURRENCIES),
         "Transaction_type": ("transaction_type", TRANSACTION_TYPES),
         "payment_method": ("payment_method", PAYMENT_METHODS), "payment_status": ("payment_status", PAYMENT_STATUSES),
         "interaction_type": ("interaction_type", INTERACTION_TYPES),
         "interaction_outcome": ("interaction_outcome", INTERACTION_OUTCOMES),
         "interaction_channel": ("interaction_channel", CHANNELS), "follow_up_required": ("follow_up_required", None)}


@dataclass
class Sim:
    cfg: object
    truth: Path
    versions_before_rerun: dict[str, int]
    versions_after_rerun: dict[str, int]
    rerun_rows: int


def run_silver(spark, cfg, run_id: str) -> list:
    return [m.run(JobContext(spark=spark, cfg=cfg, run_id=run_id, job=m.ENTITY.job, log=lambda m: None))
            for m in SILVER_JOBS]


def silver_versions(spark, cfg) -> dict[str, int]:
    return {t.name: spark.sql(f"DESCRIBE HISTORY {cfg.database('silver')}.{t.name} LIMIT 1").first().version
            for t in lakedb.silver.TABLES}


@pytest.fixture(scope="module")
def sim(spark, pipeline_lake) -> Sim:
    """The session's simulated lake (tests/conftest.py: 3 daily batches at scale 0.02, seed 11, 3% defects,
    every job run once), then every silver job once more with no new bronze rows."""
    cfg = pipeline_lake.cfg
    before = silver_versions(spark, cfg)
    rerun = run_silver(spark, cfg, "r2")
    return Sim(cfg, Path(cfg.path("truth")), before, silver_versions(spark, cfg), sum(r.rows_read for r in rerun))


def table(spark, sim, table_id):
    layer, name = table_id.split(".")
    return spark.table(f"{sim.cfg.database(layer)}.{name}")


def rel(path: str) -> str:
    return path.split("/landing/", 1)[1]


def truth(sim, name) -> list[dict]:
    with open(sim.truth / name, newline="") as fh:
        return list(csv.DictReader(fh))


def test_conservation_holds_for_every_entity_and_batch(spark, sim):
    rows = table(spark, sim, "ops.conservation").collect()
    assert {r.entity for r in rows} == {t.name for t in lakedb.silver.TABLES}
    assert [r for r in rows if not r.balanced] == []
    bronze = Counter()
    for src in SOURCES:
        for r in table(spark, sim, f"bronze.{src.bronze_table}").groupBy("_batch").count().collect():
            bronze[(src.bronze_table, r._batch)] = r["count"]
    assert {(r.source, r.batch): r.bronze_rows for r in rows} == dict(bronze)
    quarantined = Counter((r.table.split(".")[1], r.source_table.split(".")[1], r.batch)
                          for r in table(spark, sim, "ops.quarantine").collect())
    held = Counter((r.table.split(".")[1], r.source_table.split(".")[1], r.batch)
                   for r in table(spark, sim, "ops.held_record").where("released_run_id IS NULL").collect())
    assert {k: v for k, v in (((r.entity, r.source, r.batch), r.quarantined) for r in rows) if v} == dict(quarantined)
    assert {k: v for k, v in (((r.entity, r.source, r.batch), r.held) for r in rows) if v} == dict(held)


def test_every_defect_in_the_manifest_is_handled_as_it_says(spark, sim):
    defects = truth(sim, "defects.csv")
    resent = {d["file"]: d for d in defects if d["kind"] == "resent_file"}
    assert resent, "the simulator re-sends a file in batch 3"
    quarantine = table(spark, sim, "ops.quarantine").collect()

    # Quarantined by silver: the same (file, key, rule) multiset as the manifest, nothing more.
    def key_of(q):
        record = json.loads(q.record)
        spec = ENTITY_BY_NAME["/".join(rel(q.source_file).split("/")[:2])]
        return "|".join(record.get(c) or "" for c in spec.key)

    got = Counter((rel(q.source_file), key_of(q), q.rule) for q in quarantine if q.detected_in == "silver")
    want = Counter((d["file"], d["key"], d["reason"]) for d in defects if d["handling"] == QUARANTINED_SILVER)
    assert got == want

    # Quarantined by bronze: every unparseable line carried over with bronze's reason; a re-sent file has the
    # same bad lines as its original.
    bronze_bad = Counter()
    for src in SOURCES:
        for r in (table(spark, sim, f"bronze.{src.bronze_table}").where("_corrupt_reason IS NOT NULL")
                  .groupBy("_source_file", "_corrupt_reason").count().collect()):
            bronze_bad[(rel(r._source_file), r._corrupt_reason)] = r["count"]
    assert Counter((rel(q.source_file), q.rule) for q in quarantine if q.detected_in == "bronze") == bronze_bad
    want_bad = Counter(d["file"] for d in defects if d["handling"] == QUARANTINED_BRONZE)
    for copy in resent:
        want_bad[copy] = want_bad[original_of(copy)]
    got_bad = Counter()
    for (f, _), n in bronze_bad.items():
        got_bad[f] += n
    assert got_bad == +want_bad

    held = [(rel(h.source_file), str(list(json.loads(h.key).values())[-1]), h) for h in
            table(spark, sim, "ops.held_record").collect()]
    open_held = Counter((f, k) for f, k, h in held if h.released_run_id is None)
    silver_tx = {(r.source_system, str(r.transaction_id)): r for r in table(spark, sim, "silver.transaction").collect()}
    silver_int = {str(r.interaction_id): r for r in table(spark, sim, "silver.interaction").collect()}

    def silver_row(d):
        if d["entity"] == "The_transaction":
            return silver_tx.get((d["file"].split("/")[0], d["key"]))
        return silver_int.get(d["key"])

    # Held: rows of customers that never exist stay held; a late customer's rows reach silver once the
    # customer has been delivered (here the customer job runs first in the same run), else they wait.
    assert Counter((d["file"], d["key"]) for d in defects if d["kind"] == "orphan_fk") == Counter(
        (f, k) for f, k, h in held if h.released_run_id is None and h.parent_id >= ORPHAN_CUSTOMER_ID_BASE)
    late = [d for d in defects if d["kind"] == "late_customer"]
    assert late and all(silver_row(d) is not None or (d["file"], d["key"]) in open_held for d in late)

    # Repaired: the row is in silver (or held for its customer) with the value normalised.
    customers = {r.customer_id: r for r in table(spark, sim, "silver.customer").collect()}
    phones = {(r.customer_id, r.phone) for r in table(spark, sim, "silver.customer_phone").collect()}
    held_records = {(f, k): json.loads(h.record) for f, k, h in held}
    checked = Counter()
    for d in defects:
        kind = d["kind"]
        if DEFECT_KINDS[kind].handling != "repaired" or DEFECT_KINDS[kind].scope != "row":
            continue
        if d["entity"] == "customer":
            row = customers[int(d["key"])].asDict()
        elif d["entity"] == "Customer_phone":
            number, cust = d["key"].split("|")
            assert (int(cust), "".join(ch for ch in number if ch.isdigit())) in phones, d
            checked[kind] += 1
            continue
        else:
            found = silver_row(d)
            row = found.asDict() if found else held_records[(d["file"], d["key"])]
        if kind == "mixed_case_email":
            assert row["email"] == row["email"].lower() and "@" in row["email"], d
        elif kind == "padded_name":
            assert row["first_name"] == row["first_name"].strip() and row["last_name"] == row["last_name"].strip(), d
        else:  # lowercase_currency, padded_enum
            column, values = ENUMS[d["column"]]
            assert (row[column] in (True, False)) if values is None else (row[column] in values), d
        checked[kind] += 1
    assert set(checked) == {k for k, v in DEFECT_KINDS.items() if v.handling == "repaired" and v.scope == "row"}

    # Behaviour: status updates applied, payments_v2 copies absorbed, re-sent files change nothing.
    copies = {r["payments_v2_id"]: r for r in truth(sim, "cross_system_resends.csv")}
    for d in defects:
        if d["kind"] == "status_update":
            row = silver_row(d)
            assert row is not None and row.payment_status != "Pending" and row._batch.isoformat() in d["file"], d
        elif d["kind"] == "cross_system_resend":
            assert silver_row(d) is None, d
            if (d["file"], d["key"]) in held_records:  # waiting for its customer, like the row it copies
                original = copies[d["key"]]
                assert (original["payments_file"], original["payments_id"]) in held_records, d
    silver_files = {rel(r._source_file) for t in lakedb.silver.TABLES
                    for r in table(spark, sim, t.id).select("_source_file").distinct().collect()}
    assert not silver_files & set(resent)
    covered = {"resent_file", "status_update", "cross_system_resend", "orphan_fk", "late_customer"}
    row_kinds = {d["kind"] for d in defects if DEFECT_KINDS[d["kind"]].scope == "row"}
    assert row_kinds <= covered | {k for k, v in DEFECT_KINDS.items() if v.handling in (
        "repaired", QUARANTINED_SILVER, QUARANTINED_BRONZE)}


def test_a_rerun_with_no_new_bronze_rows_changes_no_silver_table(sim):
    assert sim.rerun_rows == 0
    assert sim.versions_after_rerun == sim.versions_before_rerun


def original_of(resend: str) -> str:
    """`x/batch=2025-01-03/The_transaction_20250102_resend.csv` -> `x/batch=2025-01-02/The_transaction_20250102.csv`."""
    name = Path(resend).name.replace("_resend", "")
    stamp = Path(name).stem.rsplit("_", 1)[1]
    return f"{resend.split('/batch=')[0]}/batch={stamp[:4]}-{stamp[4:6]}-{stamp[6:]}/{name}"
