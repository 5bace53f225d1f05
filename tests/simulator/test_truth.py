"""Ground truth: kept apart from landing, consistent with the landed activity, and learnable."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta

import numpy as np
import pytest

from lakehouse_core.simulator import SimulatorArgumentError, generate

from .checks import data_lines, landed_files, read_csv_dicts

TRUTH_FILES = ["churn_truth.csv", "cross_system_resends.csv", "customers.csv", "defects.csv", "files.csv",
               "truth.json"]


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    for s in np.unique(score):  # average ranks of ties
        tie = score == s
        ranks[tie] = ranks[tie].mean()
    pos = label == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def _tx_rows(run) -> dict[int, list[tuple[date, str, str]]]:
    """customer_id -> (date, type, status) of landed transactions (both systems, re-sent files excluded)."""
    out = defaultdict(list)
    for f in landed_files(run.landing):
        if f.spec.entity != "The_transaction" or "_resend" in f.rel:
            continue
        for line in data_lines(f):
            parts = line.decode().split(",")
            if f.spec.system == "payments":
                day = date.fromisoformat(parts[7])
            else:
                m, d_, y = (int(x) for x in parts[7].split("/"))
                day = date(y, m, d_)
            out[int(parts[6])].append((day, parts[3], parts[5]))
    return out


def _tx_days(run) -> dict[int, list[date]]:
    return {cid: [r[0] for r in rows] for cid, rows in _tx_rows(run).items()}


def test_truth_files_and_nothing_of_it_under_landing(dirty):
    assert sorted(p.name for p in dirty.truth.iterdir()) == TRUTH_FILES
    names = {p.name for p in dirty.landing.rglob("*")}
    assert not names & set(TRUTH_FILES)
    assert not any("truth" in n or "churn" in n for n in names)


def test_truth_json_states_the_cutoffs(dirty):
    meta = json.loads((dirty.truth / "truth.json").read_text())
    start = date(2025, 1, 1)
    train, evalc = date.fromisoformat(meta["train_cutoff"]), date.fromisoformat(meta["eval_cutoff"])
    assert evalc == train + timedelta(days=90)
    assert evalc == start - timedelta(days=120)
    assert evalc + timedelta(days=90) < start
    assert (meta["seed"], meta["scale"], meta["days"]) == (11, 0.03, 5)
    assert meta["rows"] == dirty.summary["rows"]
    assert meta["churn_truth_rows"] == len(read_csv_dicts(dirty.truth / "churn_truth.csv"))
    assert dirty.summary["train_cutoff"] == meta["train_cutoff"]


def test_churn_truth_matches_the_customers_and_their_activity(dirty):
    meta = json.loads((dirty.truth / "truth.json").read_text())
    customers = {r["customer_id"]: r for r in read_csv_dicts(dirty.truth / "customers.csv")}
    rows = read_csv_dicts(dirty.truth / "churn_truth.csv")
    assert list(rows[0]) == ["customer_id", "cutoff", "hidden_probability", "churned_in_90d"]
    assert {r["cutoff"] for r in rows} == {meta["train_cutoff"], meta["eval_cutoff"]}
    for r in rows:
        c = customers[r["customer_id"]]
        cutoff = date.fromisoformat(r["cutoff"])
        assert date.fromisoformat(c["signup_date"]) <= cutoff
        churn = date.fromisoformat(c["churn_date"]) if c["churn_date"] else None
        assert churn is None or churn > cutoff
        assert r["churned_in_90d"] == ("1" if churn and churn <= cutoff + timedelta(days=90) else "0")
        assert 0 < float(r["hidden_probability"]) < 1
    # Everyone alive at the cutoff is there, once.
    for cut in (meta["train_cutoff"], meta["eval_cutoff"]):
        cutoff = date.fromisoformat(cut)
        alive = {cid for cid, c in customers.items() if date.fromisoformat(c["signup_date"]) <= cutoff
                 and (not c["churn_date"] or date.fromisoformat(c["churn_date"]) > cutoff)}
        listed = [r["customer_id"] for r in rows if r["cutoff"] == cut]
        assert sorted(listed, key=int) == sorted(alive, key=int)


def test_churned_customers_stop_transacting(run_factory):
    run = run_factory("churn", scale=0.1, days=2, seed=8, defects=0.0)
    customers = read_csv_dicts(run.truth / "customers.csv")
    tx = _tx_days(run)
    churned = [c for c in customers if c["churn_date"]]
    assert len(churned) > len(customers) // 2
    for c in customers:
        days = tx[int(c["customer_id"])]
        assert min(days) == date.fromisoformat(c["signup_date"])  # first purchase on the signup day
        if c["churn_date"]:
            assert max(days) < date.fromisoformat(c["churn_date"])


def _observables(tx: dict[int, list[tuple[date, str, str]]], ids: list[int], cutoff: date) -> np.ndarray:
    """A few features the lake can compute from transactions up to the cutoff."""
    out = []
    for cid in ids:
        rows = [r for r in tx[cid] if r[0] <= cutoff]
        days = [r[0] for r in rows]
        tenure = (cutoff - min(days)).days
        recent = sum(1 for t in days if (cutoff - t).days < 90)
        earlier = sum(1 for t in days if 90 <= (cutoff - t).days < 360)
        last_180 = [r for r in rows if (cutoff - r[0]).days < 180]
        refunds = sum(1 for r in last_180 if r[1] == "Refund" or r[2] == "Refunded")
        pending = sum(1 for r in last_180 if r[2] == "Pending")
        out.append([1.0, np.log1p(recent), np.log1p(earlier), np.exp(-tenure / 120),
                    np.log1p((cutoff - max(days)).days), np.log1p(refunds), np.log1p(pending)])
    return np.array(out)


def _labels(tx, rows, cutoff: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    end = cutoff + timedelta(days=90)
    prob = np.array([float(r["hidden_probability"]) for r in rows])
    churned = np.array([int(r["churned_in_90d"]) for r in rows])
    proxy = np.array([int(not any(cutoff < t <= end for t in tx[int(r["customer_id"])])) for r in rows])
    return prob, churned, proxy


def test_churn_is_learnable_and_the_proxy_label_is_close(run_factory):
    """The proxy label (no transaction in the 90 days after the cutoff) mostly agrees with the true one;
    the hidden probability ranks it well, and a linear score on a few observables learnt at the
    training cutoff ranks the evaluation cutoff clearly better than chance, below the oracle."""
    run = run_factory("learn", scale=0.3, days=1, seed=21, defects=0.0)
    meta = json.loads((run.truth / "truth.json").read_text())
    tx, days = _tx_rows(run), _tx_days(run)
    truth = read_csv_dicts(run.truth / "churn_truth.csv")
    fitted = {}
    for name in ("train_cutoff", "eval_cutoff"):
        rows = [r for r in truth if r["cutoff"] == meta[name]]
        cutoff = date.fromisoformat(meta[name])
        x = _observables(tx, [int(r["customer_id"]) for r in rows], cutoff)
        fitted[name] = (x, *_labels(days, rows, cutoff))
    x_train, _, _, y_train = fitted["train_cutoff"]
    x_eval, prob, churned, proxy = fitted["eval_cutoff"]
    assert 0.15 < churned.mean() < 0.4
    assert (proxy == churned).mean() > 0.85
    oracle_true, oracle_proxy = _auc(prob, churned), _auc(prob, proxy)
    assert 0.8 < oracle_true < 0.92, oracle_true
    assert 0.75 < oracle_proxy < 0.9, oracle_proxy
    beta, *_ = np.linalg.lstsq(x_train, y_train.astype(float), rcond=None)
    learnt = _auc(x_eval @ beta, proxy)
    assert 0.65 < learnt < oracle_proxy, (learnt, oracle_proxy)


def test_arguments_are_checked(tmp_path):
    with pytest.raises(SimulatorArgumentError, match="days"):
        generate(tmp_path / "l", tmp_path / "t", days=0, scale=0.01, seed=1)
    with pytest.raises(SimulatorArgumentError, match="must not lie under landing_dir"):
        generate(tmp_path / "l", tmp_path / "l" / "truth", days=1, scale=0.01, seed=1)
    with pytest.raises(SimulatorArgumentError, match="defects"):
        generate(tmp_path / "l", tmp_path / "t", days=1, scale=0.01, seed=1, defects=0.9)


def test_regenerating_into_a_landing_dir_keeps_it_equal_to_the_run(tmp_path):
    """A second run into the same folders leaves exactly its own files: fewer days remove later batches."""
    generate(tmp_path / "l", tmp_path / "t", days=4, scale=0.01, seed=1)
    again = generate(tmp_path / "l", tmp_path / "t", days=2, scale=0.01, seed=1)
    batches = sorted(p.name for p in (tmp_path / "l" / "crm" / "customer").iterdir())
    assert batches == ["batch=2025-01-01", "batch=2025-01-02"]
    listed = sorted(r["file"] for r in read_csv_dicts(tmp_path / "t" / "files.csv"))
    root = tmp_path / "l"
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert listed == on_disk and again["files"] == len(on_disk) == 2 * 8
