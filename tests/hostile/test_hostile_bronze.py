"""Hostile inputs beyond the simulator's defects, through bronze: no crash, every line accounted for,
and a reason a person can act on. All files land in one lake and are ingested once (module fixture)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import lakedb
from jobs.bronze import ingest
from lakedb.bronze import bronze_table
from lakedb.sources import source
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import JobContext
from tests.conftest import make_cfg

pytestmark = pytest.mark.hostile

PHONE = "crm/Customer_phone"
CUSTOMER = "crm/customer"
INTERACTION = "contact_center/interaction"
AGENT = "hr/Agent"
CUSTOMER_HEADER = "customer_id,date_of_birth,gender,email,username,Account_password,FName,LName"


def garbage(seed: int, lines: int) -> bytes:
    rng = random.Random(seed)
    alphabet = bytes(b for b in range(256) if b not in (10, 13))
    return b"\n".join(bytes(rng.choice(alphabet) for _ in range(60)) for _ in range(lines)) + b"\n"


def workbook(sheets: dict[str, list[list]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


HOSTILE: dict[str, tuple[str, bytes]] = {
    "zero_byte": (PHONE, b""),
    "header_only": (PHONE, b"phone,customer_id\n"),
    "huge_line": (PHONE, b"phone,customer_id\n" + b"9" * (10 * 1024 * 1024) + b"\n5550001111,1\n"),
    "binary_garbage": (PHONE, garbage(3, 20)),
    "wrong_delimiter": (PHONE, b"phone;customer_id\n5550001111;1\n5550002222;2\n"),
    "latin1": (CUSTOMER, (CUSTOMER_HEADER + "\n1,1990-01-01,F,r@x.com,renee,Pw#12345,Ren\xe9e,Dupr\xe9\n"
                          "2,1990-01-01,M,a@x.com,al,Pw#67890,Al,Smith\n").encode("latin-1")),
    "crlf_bom": (PHONE, b"\xef\xbb\xbfphone,customer_id\r\n5550001111,1\r\n5550002222,2\r\n"),
    "json_array": (INTERACTION, json.dumps([{"Interaction_id": 1, "customer_id": 2}, {"Interaction_id": 3}],
                                           indent=2).encode()),
    "column_renamed": (PHONE, b"phone_number,customer_id\n5550001111,1\n"),
    "extra_sheet": (AGENT, workbook({"Agent": [["Agent_id", "FName", "LName"], [1, "Ann", "Lee"], [2, "Bo", "Ng"]],
                                     "Notes": [["do not load"]]})),
    "not_a_workbook": (AGENT, b"this is not a zip file"),
}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    cfg = make_cfg(root, "hostile")
    paths = {}
    for name, (src, data) in HOSTILE.items():
        folder = Path(cfg.path("landing")) / src / "batch=2025-02-01"
        folder.mkdir(parents=True, exist_ok=True)
        ext = source(src).extension
        paths[name] = folder / f"{name}{ext}"
        paths[name].write_bytes(data)
    sources = sorted({src for src, _ in HOSTILE.values()})
    ensure_tables(spark, cfg, [bronze_table(source(s)) for s in sources]
                  + [t for t in lakedb.TABLES if t.layer == "ops"])
    for s in sources:
        ingest.run(JobContext(spark=spark, cfg=cfg, run_id="h1", job="t", log=lambda m: None), s)
    ledger = {Path(r.file).stem: r for r in spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    return cfg, paths, ledger


def rows(spark, cfg, name: str, src: str):
    table = f"{cfg.database('bronze')}.{source(src).bronze_table}"
    return spark.table(table).where(F.col("_source_file").endswith(f"/{name}{source(src).extension}")).collect()


def test_every_hostile_file_is_in_the_ledger(lake):
    _, _, ledger = lake
    assert sorted(ledger) == sorted(HOSTILE)


def test_zero_byte_and_header_only_files_have_no_rows(lake):
    _, _, ledger = lake
    assert (ledger["zero_byte"].rows_read, ledger["zero_byte"].flags) == (0, ["empty_file"])
    assert (ledger["header_only"].rows_read, ledger["header_only"].flags) == (0, [])


def test_ten_megabyte_line_is_kept_and_quarantined(spark, lake):
    cfg, _, ledger = lake
    got = sorted((r._corrupt_reason or "", len(r._raw_line or ""), r.phone) for r in rows(spark, cfg, "huge_line", PHONE))
    assert got == [("", 0, "5550001111"), ("column_count", 10 * 1024 * 1024, None)]
    assert (ledger["huge_line"].rows_written, ledger["huge_line"].rows_quarantined) == (1, 1)


def test_binary_garbage_is_quarantined_line_by_line(spark, lake):
    cfg, _, ledger = lake
    got = rows(spark, cfg, "binary_garbage", PHONE)
    assert [r._corrupt_reason for r in got] == ["expected_header"] * 20  # all 20 lines: none passes for a header
    assert ledger["binary_garbage"].flags == ["unrecognised_header"]


def test_wrong_delimiter_is_quarantined_with_the_header_reason(spark, lake):
    cfg, _, _ = lake
    got = sorted((r._corrupt_reason, r._raw_line) for r in rows(spark, cfg, "wrong_delimiter", PHONE))
    assert got == [("expected_header", "5550001111;1"), ("expected_header", "5550002222;2"),
                   ("expected_header", "phone;customer_id")]  # the foreign header too: the file is kept whole


def test_latin1_lines_are_flagged_as_not_utf8_and_redacted(spark, lake):
    cfg, _, _ = lake
    got = sorted((r.customer_id, r._corrupt_reason, r._raw_line) for r in rows(spark, cfg, "latin1", CUSTOMER))
    assert got == [("1", "utf8_encoding", "1,1990-01-01,F,r@x.com,renee,<redacted>,Ren\ufffde,Dupr\ufffd"),
                   ("2", None, None)]


def test_crlf_and_byte_order_mark_are_transparent(spark, lake):
    cfg, _, ledger = lake
    got = sorted((r.phone, r.customer_id, r._corrupt_reason) for r in rows(spark, cfg, "crlf_bom", PHONE))
    assert got == [("5550001111", "1", None), ("5550002222", "2", None)]
    assert ledger["crlf_bom"].flags == ["bom", "crlf"]


def test_json_array_file_is_quarantined_per_line(spark, lake):
    cfg, paths, _ = lake
    lines = [line for line in paths["json_array"].read_text().splitlines() if line.strip()]
    got = rows(spark, cfg, "json_array", INTERACTION)
    assert sorted(r._raw_line for r in got) == sorted(lines)
    assert {r._corrupt_reason for r in got} == {"valid_json"}


def test_renamed_column_is_rescued_and_flagged(spark, lake):
    cfg, _, ledger = lake
    got = [(r.phone, r.customer_id, r._rescued_data, r._missing_columns) for r in rows(spark, cfg, "column_renamed", PHONE)]
    assert got == [(None, "1", '{"phone_number":"5550001111"}', ["phone"])]
    assert ledger["column_renamed"].flags == ["extra_columns", "missing_columns"]


def test_workbook_extra_sheet_reads_the_roster_sheet(spark, lake):
    cfg, _, ledger = lake
    got = sorted((r.Agent_id, r.FName, r.LName) for r in rows(spark, cfg, "extra_sheet", AGENT))
    assert got == [("1", "Ann", "Lee"), ("2", "Bo", "Ng")]
    assert ledger["extra_sheet"].flags == ["extra_sheets"]


def test_unreadable_workbook_is_one_quarantined_row(spark, lake):
    cfg, _, _ = lake
    got = [(r._corrupt_reason, r._raw_line) for r in rows(spark, cfg, "not_a_workbook", AGENT)]
    assert got == [("readable_workbook", "BadZipFile: not a readable .xlsx workbook")]
