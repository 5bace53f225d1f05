"""The landing tree follows the contract: folders, file names, headers and formats."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from openpyxl import load_workbook

from lakehouse_core.simulator.contract import AGENT_SHEET, ENTITIES, V2_ID_OFFSET

from .checks import data_lines, header, landed_files, read_csv_dicts
from .conftest import DAYS

START = date(2025, 1, 1)
BATCHES = [START + timedelta(days=k) for k in range(DAYS)]

EXPECTED_HEADERS = {
    "crm/customer": ["customer_id", "date_of_birth", "gender", "email", "username", "Account_password",
                     "FName", "LName"],
    "crm/The_Address": ["country", "government", "city", "customer_id"],
    "crm/Customer_phone": ["phone", "customer_id"],
    "payments/The_transaction": ["Transaction_id", "amount", "currency", "Transaction_type", "payment_method",
                                 "payment_status", "customer_id", "Transaction_Date"],
    "payments_v2/The_transaction": ["Transaction_id", "amount", "currency", "Transaction_type",
                                    "payment_method", "payment_status", "customer_id", "Transaction_Date"],
    "contact_center/interaction_Agent_manger": ["interaction_id", "Agent_id"],
}
JSON_KEYS = ["Interaction_id", "interaction_type", "interaction_outcome", "follow_up_required",
             "interaction_channel", "follow_up_date", "customer_id", "interaction_date"]


def test_every_entity_has_its_file_in_every_batch(clean):
    for spec in ENTITIES:
        for b in BATCHES:
            folder = clean.landing / spec.system / spec.entity / f"batch={b.isoformat()}"
            main = folder / f"{spec.entity}_{b.strftime('%Y%m%d')}.{spec.fmt}"
            assert main.is_file(), main
            others = sorted(p.name for p in folder.iterdir() if p != main)
            assert all(re.fullmatch(rf"{spec.entity}_\d{{8}}_resend\.{spec.fmt}", n) for n in others), others


def test_only_contract_folders_under_landing(clean):
    systems = sorted(p.name for p in clean.landing.iterdir())
    assert systems == ["contact_center", "crm", "hr", "payments", "payments_v2"]
    entities = sorted(f"{s.name}/{e.name}" for s in clean.landing.iterdir() for e in s.iterdir())
    assert entities == sorted(spec.name for spec in ENTITIES)


def test_csv_headers_use_source_spelling(clean):
    for f in landed_files(clean.landing):
        if f.spec.name in EXPECTED_HEADERS:
            assert header(f) == EXPECTED_HEADERS[f.spec.name], f.rel


def test_payments_dates_are_iso_and_v2_dates_are_month_day_year(clean):
    iso = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    mdy = re.compile(r"^([1-9]|1[0-2])/([1-9]|[12]\d|3[01])/\d{4}$")
    seen = {"payments": 0, "payments_v2": 0}
    for f in landed_files(clean.landing):
        if f.spec.entity != "The_transaction":
            continue
        for line in data_lines(f):
            value = line.decode().split(",")[7]
            assert (iso if f.spec.system == "payments" else mdy).match(value), (f.rel, value)
            seen[f.spec.system] += 1
    assert seen["payments"] == clean.summary["rows"]["payments/The_transaction"]
    assert seen["payments_v2"] == clean.summary["rows"]["payments_v2/The_transaction"]


def test_payment_systems_use_disjoint_id_ranges(clean):
    ids = {"payments": set(), "payments_v2": set()}
    for f in landed_files(clean.landing):
        if f.spec.entity == "The_transaction":
            ids[f.spec.system] |= {int(line.split(b",")[0]) for line in data_lines(f)}
    assert min(ids["payments"]) == 1 and max(ids["payments"]) < V2_ID_OFFSET
    assert min(ids["payments_v2"]) == V2_ID_OFFSET + 1
    assert ids["payments"].isdisjoint(ids["payments_v2"])


def test_interactions_are_json_lines_with_the_source_keys(clean):
    n = 0
    for f in landed_files(clean.landing):
        if f.spec.entity != "interaction":
            continue
        for line in data_lines(f):
            row = json.loads(line)
            keys = [k for k in JSON_KEYS if k in row]
            assert list(row) == keys
            assert set(JSON_KEYS) - set(row) <= {"follow_up_date"}
            if row["follow_up_required"] == "No":
                assert row.get("follow_up_date") is None
            else:
                assert date.fromisoformat(row["follow_up_date"]) > date.fromisoformat(row["interaction_date"])
            n += 1
    assert n == clean.summary["rows"]["contact_center/interaction"]


def test_agent_roster_is_an_xlsx_with_sheet_agent(clean):
    files = sorted((clean.landing / "hr" / "Agent").glob("batch=*/*.xlsx"))
    assert len(files) == DAYS
    total = 0
    for path in files:
        wb = load_workbook(path, read_only=True)
        assert wb.sheetnames == [AGENT_SHEET]
        rows = list(wb[AGENT_SHEET].iter_rows(values_only=True))
        assert rows[0] == ("Agent_id", "FName", "LName")
        assert all(isinstance(r[0], int) and r[1] and r[2] for r in rows[1:])
        total += len(rows) - 1
    first = list(load_workbook(files[0], read_only=True)[AGENT_SHEET].iter_rows(values_only=True))[1:]
    assert [r[0] for r in first] == [1, 2, 3, 4, 5]  # max(5, 100 * scale) agents in the initial load
    assert total == clean.summary["rows"]["hr/Agent"]


def test_files_csv_matches_the_tree(dirty):
    listed = read_csv_dicts(dirty.truth / "files.csv")
    on_disk = {f.rel: f for f in landed_files(dirty.landing)}
    assert sorted(r["file"] for r in listed) == sorted(on_disk)
    for r in listed:
        f = on_disk[r["file"]]
        assert int(r["bytes"]) == len(f.raw), r["file"]
        assert r["batch"] == f.batch.isoformat()
        if f.spec.fmt == "xlsx":
            rows = list(load_workbook(dirty.landing / r["file"], read_only=True)[AGENT_SHEET].iter_rows())
            assert int(r["data_lines"]) == len(rows) - 1
        else:
            assert int(r["data_lines"]) == len(data_lines(f)), r["file"]
    resent = dirty.summary["records_by_kind"]["resent_file"]
    assert len(listed) == dirty.summary["files"] == DAYS * len(ENTITIES) + resent
