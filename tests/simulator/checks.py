"""An independent reader of the landing tree: it finds defects from the raw bytes alone, so the tests can
compare what it sees with what the simulator says it planted."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from lakehouse_core.simulator import domains as d
from lakehouse_core.simulator.contract import ENTITIES, ORPHAN_CUSTOMER_ID_BASE, EntitySpec

EMAIL_RE = re.compile(r"^[a-z0-9._]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
AMOUNT_RE = re.compile(r"^\d+\.\d{2}$")
LOCATIONS = set(d.LOCATIONS)
ENUMS = {
    "gender": d.GENDERS, "Transaction_type": d.TRANSACTION_TYPES, "payment_method": d.PAYMENT_METHODS,
    "payment_status": d.PAYMENT_STATUSES, "interaction_type": d.INTERACTION_TYPES,
    "interaction_outcome": d.INTERACTION_OUTCOMES, "follow_up_required": d.FOLLOW_UP,
    "interaction_channel": d.CHANNELS,
}
ID_COLUMNS = ("customer_id", "Transaction_id", "Interaction_id", "interaction_id", "Agent_id")


@dataclass
class Landed:
    spec: EntitySpec
    rel: str
    batch: date
    raw: bytes


def read_csv_dicts(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def landed_files(landing: Path) -> list[Landed]:
    out = []
    for spec in ENTITIES:
        for path in sorted((landing / spec.system / spec.entity).glob("batch=*/*")):
            batch = date.fromisoformat(path.parent.name.split("=")[1])
            out.append(Landed(spec, path.relative_to(landing).as_posix(), batch, path.read_bytes()))
    return out


def data_lines(f: Landed) -> list[bytes]:
    """Physical data lines (header and line ends removed)."""
    if not f.raw:
        return []
    raw = f.raw[3:] if f.raw.startswith(b"\xef\xbb\xbf") else f.raw
    lines = raw.split(b"\n")
    assert lines[-1] == b"", f"{f.rel} does not end with a newline"
    lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines[:-1]]
    return lines if f.spec.fmt == "jsonl" else lines[1:]


def header(f: Landed) -> list[str]:
    raw = f.raw[3:] if f.raw.startswith(b"\xef\xbb\xbf") else f.raw
    return raw.split(b"\n", 1)[0].rstrip(b"\r").decode().split(",")


def _parse_date(value: str, fmt: str) -> date | None:
    try:
        return datetime.strptime(value, fmt).date()
    except ValueError:
        return None


def classify_value(col: str, value, f: Landed, customer_ids: set[int]) -> str | None:
    """The defect kind a single field shows, or None when it is clean."""
    if value is None or value == "":
        return "missing_required" if col in ("customer_id", "amount", "Agent_id") else None
    if col in ID_COLUMNS:
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            v = int(value)
            if col == "customer_id" and f.spec.entity in ("The_transaction", "interaction"):
                if v >= ORPHAN_CUSTOMER_ID_BASE:
                    return "orphan_fk"
                assert v in customer_ids, f"{f.rel}: customer {v} unknown but below the orphan range"
            return None
        return "non_numeric_id"
    if col == "amount":
        if value.startswith("-"):
            return "negative_amount"
        assert AMOUNT_RE.match(value) and 10 <= float(value) <= 5000, f"{f.rel}: bad amount {value!r}"
        return None
    if col == "currency":
        if value in d.CURRENCIES:
            return None
        return "lowercase_currency" if value.upper() in d.CURRENCIES else "unknown_currency"
    if col in ENUMS:
        if value in ENUMS[col]:
            return None
        return "padded_enum" if value.strip() in ENUMS[col] else "unknown_enum"
    if col in ("date_of_birth", "Transaction_Date", "interaction_date", "follow_up_date"):
        fmt = "%m/%d/%Y" if f.spec.date_format == "M/d/yyyy" else "%Y-%m-%d"
        parsed = _parse_date(value, fmt)
        if parsed is None:
            return "unparseable_date"
        if col == "date_of_birth" and not (date(1900, 1, 1) <= parsed <= f.batch):
            return "impossible_date"
        if col in ("Transaction_Date", "interaction_date") and parsed > f.batch:
            return "impossible_date"
        return None
    if col == "email":
        if EMAIL_RE.match(value):
            assert len(value) <= d.EMAIL_MAX
            return None
        return "mixed_case_email" if EMAIL_RE.match(value.lower()) else "invalid_email"
    if col in ("FName", "LName"):
        if value != value.strip():
            return "padded_name"
        assert value.isascii() and value.isalpha() and len(value) <= d.NAME_MAX, f"{f.rel}: name {value!r}"
        return None
    if col == "phone":
        if value.isdigit():
            assert len(value) == 10 and value[0] != "0", f"{f.rel}: phone {value!r}"
            return None
        return "formatted_phone" if len(re.sub(r"\D", "", value)) == 10 else "bad_phone"
    return None


def classify_file(f: Landed, customer_ids: set[int]) -> dict[int, set[str]]:
    """line number -> defect kinds seen on that line (only lines with at least one)."""
    found: dict[int, set[str]] = defaultdict(set)
    if f.spec.fmt == "xlsx" or not f.raw:
        return found
    first = 1 if f.spec.fmt == "jsonl" else 2
    cols = f.spec.columns if f.spec.fmt == "jsonl" else header(f)
    keys: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    for line_no, raw in enumerate(data_lines(f), start=first):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            found[line_no].add("non_utf8")
            continue
        if f.spec.fmt == "jsonl":
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                found[line_no].add("malformed_json")
                continue
            values = [(c, row.get(c)) for c in cols]
        else:
            if text.count('"') % 2:
                found[line_no].add("malformed_csv")
                continue
            assert '"' not in text, f"{f.rel}:{line_no} quoted field"
            fields = text.split(",")
            if len(fields) != len(cols):
                found[line_no].add("wrong_column_count")
                continue
            values = list(zip(cols, fields, strict=True))
        row_map = dict(values)
        if "country" in row_map and "government" in row_map:
            assert (row_map["country"], row_map["government"], row_map["city"]) in LOCATIONS
        for col, value in values:
            kind = classify_value(col, value, f, customer_ids)
            if kind:
                found[line_no].add(kind)
        if len(f.spec.key) == 1:
            keys[str(row_map.get(f.spec.key[0]))].append((line_no, raw))
    for rows in keys.values():
        if len(rows) > 1 and len({r for _, r in rows}) > 1:
            for line_no, _ in rows:
                found[line_no].add("pk_conflict")
    return found
