"""Planted defects: every kind appears, each is recorded exactly where the raw file shows it."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict

from lakehouse_core.simulator import DEFECT_KINDS
from lakehouse_core.simulator.defects import FILE_DEFECT_KINDS, RANDOM_ROW_KINDS

from .checks import classify_file, data_lines, header, landed_files, read_csv_dicts

BEHAVIOUR_ROW = {"late_customer", "status_update", "cross_system_resend"}


def _records(run) -> list[dict]:
    return read_csv_dicts(run.truth / "defects.csv")


def _customer_ids(run) -> set[int]:
    return {int(r["customer_id"]) for r in read_csv_dicts(run.truth / "customers.csv")}


def test_defect_vocabulary_is_one_table():
    handlings = {k: v.handling for k, v in DEFECT_KINDS.items()}
    assert handlings["lowercase_currency"] == "repaired"
    assert handlings["malformed_csv"] == "quarantined_bronze"
    assert handlings["negative_amount"] == "quarantined_silver"
    assert handlings["orphan_fk"] == "held"
    assert handlings["late_customer"] == "held_then_released"
    assert handlings["extra_column"] == "rescued"
    assert handlings["missing_column"] == "flagged"
    assert handlings["empty_file"] == "ingested_empty"
    assert handlings["resent_file"] == "deduplicated"
    assert handlings["status_update"] == "updated"
    reasons = {k: v.reason for k, v in DEFECT_KINDS.items() if v.handling == "quarantined_silver"}
    assert reasons == {
        "non_numeric_id": "valid_id", "unparseable_date": "valid_date", "impossible_date": "plausible_date",
        "negative_amount": "positive_amount", "unknown_currency": "known_currency",
        "unknown_enum": "known_enum",
        "missing_required": "required_fields", "invalid_email": "valid_email", "pk_conflict": "unique_key",
    }


def test_every_kind_is_recorded(dirty):
    counts = Counter(r["kind"] for r in _records(dirty))
    assert sorted(counts) == sorted(DEFECT_KINDS)
    for kind in FILE_DEFECT_KINDS:
        assert counts[kind] == 1, kind
    assert counts["pk_conflict"] % 2 == 0  # both rows of each pair


def test_records_carry_the_vocabulary(dirty):
    rows = _records(dirty)
    assert list(rows[0]) == ["file", "line", "key", "entity", "kind", "handling", "reason", "column"]
    for r in rows:
        kind = DEFECT_KINDS[r["kind"]]
        assert (r["handling"], r["reason"]) == (kind.handling, kind.reason)
        assert (r["line"] == "") == (kind.scope == "file"), r
        assert not r["file"].startswith("/") and "\\" not in r["file"]


def test_recorded_row_defects_are_exactly_what_the_files_show(dirty):
    """An independent parser finds every planted row defect at the recorded line, and nothing else."""
    customers = _customer_ids(dirty)
    recorded: dict[tuple[str, int], set[str]] = defaultdict(set)
    for r in _records(dirty):
        if r["line"] and r["kind"] not in BEHAVIOUR_ROW:
            recorded[(r["file"], int(r["line"]))].add(r["kind"])
    resent = {r["file"] for r in _records(dirty) if r["kind"] == "resent_file"}
    seen: dict[tuple[str, int], set[str]] = {}
    for f in landed_files(dirty.landing):
        if f.rel in resent:
            continue
        for line, kinds in classify_file(f, customers).items():
            seen[(f.rel, line)] = kinds
    assert seen == dict(recorded)
    assert all(len(k) == 1 for k in seen.values())


def test_recorded_lines_show_their_defect(dirty):
    """Spot checks of the raw text at a recorded line, kind by kind."""
    by_kind = defaultdict(list)
    for r in _records(dirty):
        if r["line"]:
            by_kind[r["kind"]].append(r)
    files = {f.rel: f for f in landed_files(dirty.landing)}

    def line_of(r) -> bytes:
        f = files[r["file"]]
        first = 1 if f.spec.fmt == "jsonl" else 2
        return data_lines(f)[int(r["line"]) - first]

    def field(r, col):
        raw = line_of(r)
        f = files[r["file"]]
        if f.spec.fmt == "jsonl":
            return json.loads(raw).get(col)
        return dict(zip(header(f), raw.decode().split(","), strict=True))[col]

    for r in by_kind["negative_amount"]:
        assert float(field(r, "amount")) < 0
    for r in by_kind["lowercase_currency"]:
        assert field(r, "currency") in ("usd", "eur", "gbp")
    for r in by_kind["unknown_currency"]:
        assert field(r, "currency") in ("JPY", "XXX", "CAD")
    for r in by_kind["non_utf8"]:
        raw = line_of(r)
        assert any(b in raw for b in (b"\xe9", b"\xe8", b"\xf4", b"\xfc", b"\xeb", b"\xe7"))
    for r in by_kind["malformed_csv"]:
        assert line_of(r).count(b'"') == 1
    for r in by_kind["malformed_json"]:
        assert line_of(r).startswith(b'{"Interaction_id": ') and not line_of(r).endswith(b"}")
    for r in by_kind["formatted_phone"]:
        assert not field(r, "phone").isdigit()
    for r in by_kind["mixed_case_email"]:
        email = field(r, "email")
        assert email != email.lower() and "@" in email
    for r in by_kind["invalid_email"]:
        email = field(r, "email")
        assert "@" not in email or email.endswith("@")
    for r in by_kind["orphan_fk"]:
        assert int(field(r, "customer_id")) >= 90_000_000
    for r in by_kind["padded_name"] + by_kind["padded_enum"]:
        value = field(r, r["column"])
        assert value != value.strip()
    for r in by_kind["missing_required"]:
        assert field(r, r["column"]) in ("", None)
    for r in by_kind["pk_conflict"]:
        key_col = files[r["file"]].spec.key[0]
        assert str(field(r, key_col)) == r["key"]


def test_row_defect_rate_is_near_the_requested_rate(run_factory):
    run = run_factory("rate", scale=0.2, days=3, seed=5, defects=0.02)
    rows = sum(v for k, v in run.summary["rows"].items() if k != "hr/Agent")
    planted = sum(1 for r in _records(run) if r["kind"] in RANDOM_ROW_KINDS and r["kind"] != "pk_conflict")
    planted += sum(1 for r in _records(run) if r["kind"] == "pk_conflict") // 2
    assert 0.015 < planted / rows < 0.025, planted / rows
    assert run.summary["defective_rows"] == sum(
        1 for r in _records(run) if r["line"] and r["kind"] not in BEHAVIOUR_ROW)


def test_no_defects_when_rate_is_zero_but_behaviour_remains(clean):
    kinds = Counter(r["kind"] for r in _records(clean))
    assert set(kinds) == {"late_customer", "status_update", "cross_system_resend", "resent_file"}
    customers = _customer_ids(clean)
    resent = {r["file"] for r in _records(clean) if r["kind"] == "resent_file"}
    for f in landed_files(clean.landing):
        if f.rel not in resent and f.spec.fmt != "xlsx":
            assert classify_file(f, customers) == {}, f.rel
            assert not f.raw.startswith(b"\xef\xbb\xbf") and b"\r" not in f.raw, f.rel


def test_file_level_defects_show_in_the_files(dirty):
    recs = {r["kind"]: r for r in _records(dirty) if r["line"] == ""}
    files = {f.rel: f for f in landed_files(dirty.landing)}
    assert header(files[recs["extra_column"]["file"]])[-1] == "loyalty_tier"
    assert header(files[recs["missing_column"]["file"]]) == ["country", "city", "customer_id"]
    assert files[recs["empty_file"]["file"]].raw == b""
    assert files[recs["bom"]["file"]].raw.startswith(b"\xef\xbb\xbf")
    crlf = files[recs["crlf"]["file"]].raw
    assert crlf.count(b"\r\n") == crlf.count(b"\n") >= 1
    resent = {r["file"] for r in _records(dirty) if r["kind"] == "resent_file"}
    others = [f for rel, f in files.items()
              if rel not in (recs["bom"]["file"], recs["crlf"]["file"], *resent) and f.spec.fmt != "xlsx"]
    assert not any(f.raw.startswith(b"\xef\xbb\xbf") or b"\r\n" in f.raw for f in others)


def test_resent_files_are_byte_copies_of_an_earlier_file(dirty):
    files = {f.rel: f for f in landed_files(dirty.landing)}
    resent = [r["file"] for r in _records(dirty) if r["kind"] == "resent_file"]
    assert len(resent) >= 1
    for rel in resent:
        folder, name = rel.rsplit("/", 1)
        stem = name.replace("_resend", "")
        ymd = stem.rsplit("_", 1)[1].split(".")[0]
        original_batch = f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}"
        original = folder.rsplit("/", 1)[0] + f"/batch={original_batch}/{stem}"
        assert files[rel].raw == files[original].raw
        assert original_batch < files[rel].batch.isoformat()


def test_status_updates_resend_a_pending_row_with_a_new_status(dirty):
    rows_by_id = defaultdict(list)
    files = {f.rel: f for f in landed_files(dirty.landing)}
    resent = {r["file"] for r in _records(dirty) if r["kind"] == "resent_file"}
    for f in files.values():
        if f.spec.entity == "The_transaction" and f.rel not in resent:
            for line_no, raw in enumerate(data_lines(f), start=2):
                fields = raw.decode().split(",")
                rows_by_id[fields[0]].append((f.batch, line_no, f.rel, fields))
    updates = [r for r in _records(dirty) if r["kind"] == "status_update"]
    assert updates
    for r in updates:
        versions = sorted(rows_by_id[r["key"]])
        assert len(versions) == 2
        (b0, _, _, before), (b1, line, rel, after) = versions
        assert (rel, line) == (r["file"], int(r["line"])) and b0 < b1
        assert before[5] == "Pending" and after[5] in ("Completed", "Refunded")
        assert before[:5] + before[6:] == after[:5] + after[6:]


def test_cross_system_resends_repeat_a_payments_row_under_a_v2_id(dirty):
    files = {f.rel: f for f in landed_files(dirty.landing)}
    xs = read_csv_dicts(dirty.truth / "cross_system_resends.csv")
    assert len(xs) == sum(1 for r in _records(dirty) if r["kind"] == "cross_system_resend") > 0
    for x in xs:
        v2 = data_lines(files[x["payments_v2_file"]])[int(x["payments_v2_line"]) - 2].decode().split(",")
        p1 = data_lines(files[x["payments_file"]])[int(x["payments_line"]) - 2].decode().split(",")
        assert (v2[0], p1[0]) == (x["payments_v2_id"], x["payments_id"])
        assert v2[1:7] == p1[1:7]
        m, d_, y = (int(p) for p in v2[7].split("/"))
        assert f"{y:04d}-{m:02d}-{d_:02d}" == p1[7]


def test_late_customers_arrive_one_batch_after_their_first_transaction(dirty):
    customers = {r["customer_id"]: r for r in read_csv_dicts(dirty.truth / "customers.csv")}
    files = {f.rel: f for f in landed_files(dirty.landing)}
    late = [r for r in _records(dirty) if r["kind"] == "late_customer"]
    assert late
    for r in late:
        f = files[r["file"]]
        if f.spec.fmt == "jsonl":
            cid = str(json.loads(data_lines(f)[int(r["line"]) - 1])["customer_id"])
        else:
            cid = data_lines(f)[int(r["line"]) - 2].decode().split(",")[6]
        c = customers[cid]
        assert c["late"] == "1" and c["customer_batch"] > f.batch.isoformat()
        batch = c["customer_batch"]
        row_file = f"crm/customer/batch={batch}/customer_{batch.replace('-', '')}.csv"
        ids = [line.split(b",")[0].decode() for line in data_lines(files[row_file])]
        assert cid in ids


def test_defects_csv_is_plain_csv(dirty):
    text = (dirty.truth / "defects.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert all(len(r) == 8 for r in rows)
