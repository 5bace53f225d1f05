"""Value domains and shapes of clean data (defects=0)."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date

from lakehouse_core.simulator import domains as d

from .checks import data_lines, landed_files, read_csv_dicts
from .conftest import SCALE


def _resent_lines(run, name: str) -> int:
    return sum(int(r["data_lines"]) for r in read_csv_dicts(run.truth / "files.csv")
               if r["file"].startswith(name + "/") and "_resend" in r["file"])


def _rows(run, name: str) -> list[list[str]]:
    out = []
    for f in landed_files(run.landing):
        if f.spec.name == name and "_resend" not in f.rel:
            out += [line.decode().split(",") for line in data_lines(f)]
    return out


def test_customers_have_valid_fields(clean):
    rows = _rows(clean, "crm/customer")
    assert len(rows) == clean.summary["customers"]
    assert clean.summary["initial_customers"] == round(11_000 * SCALE)
    last = clean.summary["batches"][-1]
    delivered = [int(r["customer_id"]) for r in read_csv_dicts(clean.truth / "customers.csv")
                 if r["customer_batch"] <= last]
    assert sorted(int(r[0]) for r in rows) == delivered
    assert {r[2] for r in rows} == {"M", "F"}
    for cid, dob, _gender, email, username, password, fname, lname in rows:
        assert date(1900, 1, 1) < date.fromisoformat(dob) < date(2008, 1, 1)
        assert len(email) <= 30 and re.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+", email) and email.count("@") == 1
        assert len(username) <= 20 and username.endswith(cid)
        assert 1 <= len(fname) <= 20 and 1 <= len(lname) <= 20
        assert d.PASSWORD_MIN <= len(password) <= d.PASSWORD_MAX
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and any(c in d.PASSWORD_SYMBOLS for c in password)
        assert not set(password) & set(",\"'\\ ;")
    assert len({r[5] for r in rows}) == len(rows)  # passwords are unique per customer
    assert len({r[3] for r in rows}) == len(rows)


def test_addresses_come_from_the_location_table(clean):
    rows = _rows(clean, "crm/The_Address")
    assert {tuple(r[:3]) for r in rows} <= set(d.LOCATIONS)
    keys = [tuple(r) for r in rows]
    assert len(set(keys)) == len(keys)
    per_customer = Counter(r[3] for r in rows)
    assert max(per_customer.values()) >= 2  # some customers have several addresses
    assert set(per_customer) == {r[0] for r in _rows(clean, "crm/customer")}


def test_phones_are_ten_digits_and_unique(clean):
    rows = _rows(clean, "crm/Customer_phone")
    assert all(re.fullmatch(r"[2-9]\d{9}", p) for p, _ in rows)
    assert len({p for p, _ in rows}) == len(rows)
    assert max(Counter(c for _, c in rows).values()) >= 2


def test_transactions_stay_in_their_domains(clean):
    for name in ("payments/The_transaction", "payments_v2/The_transaction"):
        rows = _rows(clean, name)
        assert len(rows) == clean.summary["rows"][name] - _resent_lines(clean, name)
        assert {r[2] for r in rows} <= set(d.CURRENCIES)
        assert {r[3] for r in rows} <= set(d.TRANSACTION_TYPES)
        assert {r[4] for r in rows} <= set(d.PAYMENT_METHODS)
        assert {r[5] for r in rows} <= set(d.PAYMENT_STATUSES)
        amounts = [r[1] for r in rows]
        assert all(re.fullmatch(r"\d+\.\d\d", a) and 10 <= float(a) <= 5000 for a in amounts)


def test_daily_batches_carry_activity_of_their_own_day(clean):
    """Transactions in batch k>1 are dated on the batch day, except re-sends of earlier rows."""
    behaviour = {(r["file"], int(r["line"])) for r in read_csv_dicts(clean.truth / "defects.csv")
                 if r["kind"] in ("status_update", "cross_system_resend")}
    checked = 0
    for f in landed_files(clean.landing):
        if f.spec.entity != "The_transaction" or "_resend" in f.rel:
            continue
        for line_no, raw in enumerate(data_lines(f), start=2):
            value = raw.decode().split(",")[7]
            if f.spec.system == "payments_v2":
                m, day, y = (int(x) for x in value.split("/"))
                tx_day = date(y, m, day)
            else:
                tx_day = date.fromisoformat(value)
            if f.batch == date(2025, 1, 1):
                assert date(2020, 1, 1) <= tx_day < f.batch
            elif (f.rel, line_no) in behaviour:
                assert tx_day < f.batch
            else:
                assert tx_day == f.batch
                checked += 1
    daily = sum(int(r["data_lines"]) for r in read_csv_dicts(clean.truth / "files.csv")
                if "The_transaction" in r["file"] and r["batch"] != "2025-01-01"
                and "_resend" not in r["file"])
    assert checked == daily - sum(1 for b in behaviour if "batch=2025-01-01" not in b[0])


def test_history_has_several_years_and_realistic_volumes(run_factory):
    run = run_factory("volumes", scale=0.2, days=1, seed=3, defects=0.0)
    n = run.summary["customers"]
    assert n == 2200
    tx = run.summary["rows"]["payments/The_transaction"] + run.summary["rows"]["payments_v2/The_transaction"]
    inter = run.summary["rows"]["contact_center/interaction"]
    assert 8 <= tx / n <= 13
    assert 2 <= inter / n <= 4
    years = Counter()
    for f in landed_files(run.landing):
        if f.spec.name == "payments/The_transaction":
            years.update(line.split(b",")[7][:4].decode() for line in data_lines(f))
    assert sorted(years) == ["2020", "2021", "2022", "2023", "2024"]


def test_interaction_values(clean):
    outcomes = Counter()
    for f in landed_files(clean.landing):
        if f.spec.entity == "interaction" and "_resend" not in f.rel:
            for line in data_lines(f):
                row = json.loads(line)
                assert row["interaction_type"] in d.INTERACTION_TYPES
                assert row["interaction_outcome"] in d.INTERACTION_OUTCOMES
                assert row["follow_up_required"] in d.FOLLOW_UP
                assert row["interaction_channel"] in d.CHANNELS
                assert isinstance(row["Interaction_id"], int) and isinstance(row["customer_id"], int)
                outcomes[row["interaction_outcome"]] += 1
    assert set(outcomes) == set(d.INTERACTION_OUTCOMES)


def test_interactions_have_one_to_three_distinct_agents(clean):
    pairs = _rows(clean, "contact_center/interaction_Agent_manger")
    per = Counter(i for i, _ in pairs)
    assert set(per.values()) <= {1, 2, 3} and Counter(per.values())[1] > len(per) * 0.6
    assert len(set(map(tuple, pairs))) == len(pairs)
    name = "contact_center/interaction"
    n_inter = clean.summary["rows"][name] - _resent_lines(clean, name)
    assert len(per) == n_inter
