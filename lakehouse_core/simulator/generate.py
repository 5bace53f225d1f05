"""Entry point: simulate the source systems and write N daily landing batches plus the ground truth.

Batch 1 (dated `start`) is the initial load: every customer who signed up from 2020 on and all activity up
to the day before `start`. Batch k > 1 (dated start + k - 1) carries that day's new customers and
activity, moves, new phones, agent changes, Pending -> Completed/Refunded status updates, and now and
then a whole earlier file re-sent unchanged. The truth (churn labels, planted defects, file inventory)
goes to `truth_dir` only.

Runs are reproducible and extendable: the same arguments give the same bytes, and a run with more days
rewrites nothing of the batches it shares with a shorter one (files with unchanged bytes are left alone),
so a lake can ingest batch by batch.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import date
from pathlib import Path

import numpy as np

from .contract import ENTITIES, ORPHAN_CUSTOMER_ID_BASE, V2_ID_OFFSET
from .defects import DEFECT_KINDS
from .landing import Landing, remove_stale
from .util import date_strings, day_date, int_strings
from .world import LABEL_WINDOW, World

TRUTH_FILES = ("truth.json", "churn_truth.csv", "defects.csv", "files.csv", "customers.csv",
               "cross_system_resends.csv")
DEFECT_COLUMNS = ("file", "line", "key", "entity", "kind", "handling", "reason", "column")
FILE_COLUMNS = ("file", "system", "entity", "batch", "data_lines", "bytes", "sha256")
BEHAVIOUR_ROW_KINDS = ("late_customer", "status_update", "cross_system_resend")


class SimulatorArgumentError(ValueError):
    """generate() was called with arguments it cannot honour."""


def generate(landing_dir: Path, truth_dir: Path, days: int, scale: float, seed: int, defects: float = 0.01,
             start: date = date(2025, 1, 1)) -> dict:
    """Write `days` daily batches under landing_dir and the ground truth under truth_dir; return a summary.

    Files of the simulated systems already under landing_dir that this run does not produce are removed,
    so the tree always matches the arguments.
    """
    t0 = time.perf_counter()
    landing_dir, truth_dir = Path(landing_dir), Path(truth_dir)
    _check_args(landing_dir, truth_dir, days, scale, seed, defects, start)
    world = World(seed=seed, scale=scale, days=days, start=start,
                  empty_phone_batch=Landing.empty_phone_batch(defects, days))
    tables = world.build()
    landing = Landing(world, defects, tables)
    landing.plan()
    landing_dir.mkdir(parents=True, exist_ok=True)
    landing.write(landing_dir)
    remove_stale(landing_dir, {f["file"] for f in landing.files})
    meta = _summary(world, defects, landing)
    _write_truth(truth_dir, world, landing, meta)
    return dict(meta, landing_dir=str(landing_dir), truth_dir=str(truth_dir),
                seconds=round(time.perf_counter() - t0, 3))


def _check_args(landing_dir: Path, truth_dir: Path, days, scale, seed, defects, start) -> None:
    if not isinstance(days, int) or days < 1:
        raise SimulatorArgumentError(f"days must be an int >= 1, got {days!r}")
    if not scale > 0:
        raise SimulatorArgumentError(f"scale must be > 0, got {scale!r}")
    if not isinstance(seed, int) or seed < 0:
        raise SimulatorArgumentError(f"seed must be an int >= 0, got {seed!r}")
    if not 0 <= defects <= 0.2:
        raise SimulatorArgumentError(f"defects must be a rate in [0, 0.2], got {defects!r}")
    if start < date(2021, 1, 1):
        raise SimulatorArgumentError(f"start must be 2021-01-01 or later (history starts 2020), got {start}")
    lr, tr = landing_dir.resolve(), truth_dir.resolve()
    if tr == lr or lr in tr.parents:
        raise SimulatorArgumentError(f"truth_dir {truth_dir} must not lie under landing_dir {landing_dir}")


def _summary(world: World, rate: float, landing: Landing) -> dict:
    rows = {spec.name: 0 for spec in ENTITIES}
    for f in landing.files:
        rows[f"{f['system']}/{f['entity']}"] += int(f["data_lines"])
    kinds = {k: 0 for k in DEFECT_KINDS}
    for r in landing.records:
        kinds[r[4]] += 1
    tl = world.timeline
    return {
        "seed": world.seed, "scale": world.scale, "days": world.days, "defects": rate,
        "start": world.start.isoformat(),
        "batches": [world.batch_date(k).isoformat() for k in range(1, world.days + 1)],
        "train_cutoff": day_date(tl.train_cutoff).isoformat(),
        "eval_cutoff": day_date(tl.eval_cutoff).isoformat(),
        "label_window_days": LABEL_WINDOW,
        "customers": int((world.row_batch <= world.days).sum()), "initial_customers": int(world.n0),
        "agents": int(len(world.agent_hire_batch)),
        "files": len(landing.files), "bytes": int(sum(int(f["bytes"]) for f in landing.files)),
        "rows": rows, "records_by_kind": kinds,
        "defective_rows": int(sum(v for k, v in kinds.items()
                                  if DEFECT_KINDS[k].scope == "row" and k not in BEHAVIOUR_ROW_KINDS)),
        "id_ranges": {"payments_transaction_id_from": 1, "payments_v2_transaction_id_from": V2_ID_OFFSET + 1,
                      "orphan_customer_id_from": ORPHAN_CUSTOMER_ID_BASE + 1},
    }


def _write_truth(truth: Path, world: World, landing: Landing, meta: dict) -> None:
    truth.mkdir(parents=True, exist_ok=True)
    tr = world.activity.truth
    order = np.lexsort((tr["cust"], tr["cutoff"]))
    _write_lines(truth / "churn_truth.csv", "customer_id,cutoff,hidden_probability,churned_in_90d", [
        int_strings(tr["cust"][order] + 1), date_strings(tr["cutoff"][order]),
        np.char.mod("%.6f", tr["probability"][order]).astype(object), int_strings(tr["churned"][order])])

    c = world.customers
    churn = world.activity.churn_day
    churn_s = np.where(churn < 10**7, date_strings(np.minimum(churn, world.end_day + 1000)), "")
    batch_s = np.array([world.batch_date(k).isoformat() for k in range(1, world.days + 2)], dtype=object)
    _write_lines(truth / "customers.csv", "customer_id,signup_date,churn_date,customer_batch,late", [
        int_strings(c.ids), date_strings(c.signup), churn_s.astype(object),
        batch_s[np.minimum(world.row_batch, world.days + 1) - 1],
        int_strings(world.late.astype(np.int64))])

    batch_of = {f["file"]: f["batch"] for f in landing.files}
    rank = {s.name: i for i, s in enumerate(ENTITIES)}
    records = sorted(landing.records, key=lambda r: (
        batch_of[r[0]], rank["/".join(r[0].split("/")[:2])], r[0], r[1] if r[1] != "" else 0, r[4]))
    _write_csv(truth / "defects.csv", DEFECT_COLUMNS, records)
    _write_csv(truth / "files.csv", FILE_COLUMNS, [tuple(f[c] for c in FILE_COLUMNS) for f in landing.files])
    _write_csv(truth / "cross_system_resends.csv",
               ("payments_v2_id", "payments_id", "payments_v2_file", "payments_v2_line", "payments_file",
                "payments_line"), landing.cross_system)
    meta = dict(meta, churn_truth_rows=int(len(order)), churn_rate_by_cutoff={
        day_date(cut).isoformat(): round(float(tr["churned"][tr["cutoff"] == cut].mean()), 4)
        for cut in sorted({int(x) for x in tr["cutoff"].tolist()})})
    (truth / "truth.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_lines(path: Path, header: str, cols: list[np.ndarray]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(header + "\n")
        fh.writelines(line + "\n" for line in map(",".join, zip(*[c.tolist() for c in cols], strict=True)))


def _write_csv(path: Path, header: tuple[str, ...], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
