"""Defect vocabulary shared by the simulator and the lake, and the row-level defect injectors.

`DEFECT_KINDS` is the single table of what can be wrong with landed data and what the lake must do about
it. The simulator records every defect it plants in `truth/defects.csv` with these kinds, handlings and
reasons; the lake imports the same table to name its quarantine reasons and to check itself against
the truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import domains as d
from .contract import ORPHAN_CUSTOMER_ID_BASE, EntitySpec
from .util import date_string


class DefectKind(NamedTuple):
    handling: str  # what the lake does with it
    reason: str  # the rule / repair name the lake reports
    scope: str  # "row" (one line) or "file"
    example: str


REPAIRED = "repaired"
QUARANTINED_BRONZE = "quarantined_bronze"
QUARANTINED_SILVER = "quarantined_silver"

DEFECT_KINDS: dict[str, DefectKind] = {
    # Fixed by silver: the value is right once normalised.
    "lowercase_currency": DefectKind(REPAIRED, "upper_currency", "row", "usd"),
    "padded_enum": DefectKind(REPAIRED, "trim_enum", "row", "' PayPal ', ' Completed'"),
    "mixed_case_email": DefectKind(REPAIRED, "lower_email", "row", "John.Doe@Example.COM"),
    "formatted_phone": DefectKind(REPAIRED, "digits_only_phone", "row", "(555) 123-4567, 555-123-4567"),
    "padded_name": DefectKind(REPAIRED, "trim_name", "row", "' John '"),
    # Quarantined by bronze: the line cannot be parsed.
    "malformed_csv": DefectKind(QUARANTINED_BRONZE, "balanced_quotes", "row", 'an unbalanced " in a field'),
    "wrong_column_count": DefectKind(QUARANTINED_BRONZE, "column_count", "row",
                                     "one field too many or too few"),
    "non_utf8": DefectKind(QUARANTINED_BRONZE, "utf8_encoding", "row", "Latin-1 byte 0xE9 in a name"),
    "malformed_json": DefectKind(QUARANTINED_BRONZE, "valid_json", "row", "a JSON line cut short"),
    # Quarantined by silver: parsed, but breaks a rule (reason = the rule name).
    "non_numeric_id": DefectKind(QUARANTINED_SILVER, "valid_id", "row", "C1042"),
    "unparseable_date": DefectKind(QUARANTINED_SILVER, "valid_date", "row", "2023-13-45, yesterday"),
    "impossible_date": DefectKind(QUARANTINED_SILVER, "plausible_date", "row",
                                  "birth in the future or before 1900; transaction after its batch day"),
    "negative_amount": DefectKind(QUARANTINED_SILVER, "positive_amount", "row", "-120.50"),
    "unknown_currency": DefectKind(QUARANTINED_SILVER, "known_currency", "row", "JPY, XXX"),
    "unknown_enum": DefectKind(QUARANTINED_SILVER, "known_enum", "row", "payment_method Cash, gender X"),
    "missing_required": DefectKind(QUARANTINED_SILVER, "required_fields", "row",
                                   "empty customer_id or amount"),
    "invalid_email": DefectKind(QUARANTINED_SILVER, "valid_email", "row", "john.doe.example.com"),
    "pk_conflict": DefectKind(QUARANTINED_SILVER, "unique_key", "row",
                              "two rows with one key and different content in one file (both recorded)"),
    # Referential: held until the customer is known.
    "orphan_fk": DefectKind("held", "customer_known", "row", "customer_id that never exists"),
    "late_customer": DefectKind("held_then_released", "customer_known", "row",
                                "customer row arrives one batch after the transaction"),
    # File level (line is empty).
    "extra_column": DefectKind("rescued", "expected_columns", "file", "unexpected column loyalty_tier"),
    "missing_column": DefectKind("flagged", "expected_columns", "file", "The_Address without government"),
    "empty_file": DefectKind("ingested_empty", "non_empty_file", "file", "zero bytes, no header"),
    "bom": DefectKind(REPAIRED, "strip_bom", "file", "UTF-8 byte-order mark"),
    "crlf": DefectKind(REPAIRED, "normalize_line_endings", "file", "Windows line ends"),
    # Behaviour, not defects: recorded so the lake's tests can use them.
    "resent_file": DefectKind("deduplicated", "file_checksum", "file", "an earlier file re-sent unchanged"),
    "status_update": DefectKind("updated", "latest_record", "row", "Pending re-sent as Completed/Refunded"),
    "cross_system_resend": DefectKind("deduplicated", "cross_system_duplicate", "row",
                                      "payments row re-sent by payments_v2 under a new id"),
}

BEHAVIOUR_KINDS = ("late_customer", "resent_file", "status_update", "cross_system_resend")
FILE_DEFECT_KINDS = ("extra_column", "missing_column", "empty_file", "bom", "crlf")
# Kinds planted on rows at random, per entity (entity folder name). The Agent workbook gets none.
ROW_KINDS_BY_ENTITY: dict[str, tuple[str, ...]] = {
    "customer": ("padded_enum", "mixed_case_email", "padded_name", "malformed_csv", "wrong_column_count",
                 "non_utf8", "non_numeric_id", "unparseable_date", "impossible_date", "unknown_enum",
                 "missing_required", "invalid_email", "pk_conflict"),
    "The_Address": ("malformed_csv", "wrong_column_count", "non_numeric_id", "missing_required"),
    "Customer_phone": ("formatted_phone", "malformed_csv", "wrong_column_count", "non_numeric_id",
                       "missing_required"),
    "The_transaction": ("lowercase_currency", "padded_enum", "malformed_csv", "wrong_column_count",
                        "non_numeric_id", "unparseable_date", "impossible_date", "negative_amount",
                        "unknown_currency", "unknown_enum", "missing_required", "pk_conflict", "orphan_fk"),
    "interaction": ("padded_enum", "malformed_json", "non_numeric_id", "unparseable_date", "impossible_date",
                    "unknown_enum", "missing_required", "pk_conflict", "orphan_fk"),
    "interaction_Agent_manger": ("malformed_csv", "wrong_column_count", "non_numeric_id", "missing_required"),
}
RANDOM_ROW_KINDS = tuple(sorted({k for kinds in ROW_KINDS_BY_ENTITY.values() for k in kinds}))

EXTRA_COLUMN = "loyalty_tier"
EXTRA_COLUMN_VALUES = ("Bronze", "Silver", "Gold")
MISSING_COLUMN = {"The_Address": "government"}

ENUM_DOMAINS: dict[str, tuple[str, ...]] = {
    "gender": d.GENDERS, "currency": d.CURRENCIES, "Transaction_type": d.TRANSACTION_TYPES,
    "payment_method": d.PAYMENT_METHODS, "payment_status": d.PAYMENT_STATUSES,
    "interaction_type": d.INTERACTION_TYPES, "interaction_outcome": d.INTERACTION_OUTCOMES,
    "follow_up_required": d.FOLLOW_UP, "interaction_channel": d.CHANNELS,
}
UNKNOWN_ENUM_VALUES = {
    "gender": ("X", "U"), "Transaction_type": ("Chargeback",), "payment_method": ("Cash", "Bitcoin"),
    "payment_status": ("Failed",), "interaction_type": ("Inquiry",), "interaction_outcome": ("Escalated",),
    "interaction_channel": ("Fax", "SMS"), "follow_up_required": ("Maybe",),
}
PADDED_ENUM_COLUMNS = ("gender", "Transaction_type", "payment_method", "payment_status", "interaction_type",
                       "interaction_outcome", "interaction_channel", "follow_up_required")
ID_COLUMNS = {
    "customer": ("customer_id",), "The_Address": ("customer_id",), "Customer_phone": ("customer_id",),
    "The_transaction": ("Transaction_id", "customer_id"), "interaction": ("Interaction_id", "customer_id"),
    "interaction_Agent_manger": ("interaction_id", "Agent_id"),
}
REQUIRED_COLUMNS = {
    "customer": ("customer_id",), "The_Address": ("customer_id",), "Customer_phone": ("customer_id",),
    "The_transaction": ("customer_id", "amount"), "interaction": ("customer_id",),
    "interaction_Agent_manger": ("Agent_id",),
}
DATE_COLUMNS = ("date_of_birth", "Transaction_Date", "interaction_date")
UNPARSEABLE_DATES = {"iso": ("2023-13-45", "yesterday", "2024-02-30", "20xx-01-01"),
                     "mdy": ("13/45/2023", "yesterday", "2/30/2024", "0/0/0000")}
UNKNOWN_CURRENCIES = ("JPY", "XXX", "CAD")


@dataclass
class RowContext:
    """What an injector needs to know about the file it is damaging."""

    spec: EntitySpec
    columns: tuple[str, ...]  # as written in this file (an extra or missing column changes it)
    batch_day: int
    rng: np.random.Generator

    @property
    def json(self) -> bool:
        return self.spec.fmt == "jsonl"

    @property
    def date_fmt(self) -> str:
        return "mdy" if self.spec.date_format == "M/d/yyyy" else "iso"

    def get(self, fields: list, col: str) -> str | None:
        v = fields[self.columns.index(col)]
        if not self.json:
            return v
        return None if v is None or v == "null" else (json.loads(v) if v.startswith('"') else v)

    def set(self, fields: list, col: str, value: str | None, number: bool = False) -> None:
        if self.json:
            value = "null" if value is None else (value if number else json.dumps(value, ensure_ascii=False))
        fields[self.columns.index(col)] = value

    def pick(self, options):
        return options[int(self.rng.integers(0, len(options)))]

    def present(self, cols) -> list[str]:
        return [c for c in cols if c in self.columns]


@dataclass
class Injected:
    fields: list  # the row as written (for the key and the line)
    column: str = ""
    truncate: bool = False  # cut the rendered line short (malformed_json)


def _mixed_case_email(email: str) -> str:
    local, _, domain = email.partition("@")
    name, dot, tld = domain.rpartition(".")
    parts = [p[:1].upper() + p[1:] for p in local.split(".")]
    out = ".".join(parts) + "@" + name[:1].upper() + name[1:] + dot + tld.upper()
    return out if out != email else email.upper()


def _pad(value: str, rng: np.random.Generator) -> str:
    return (" " + value + " ", " " + value, value + " ")[int(rng.integers(0, 3))]


def inject(kind: str, fields: list, ctx: RowContext) -> Injected:
    """Damage one row in place according to `kind` and say what was written."""
    f = list(fields)
    rng = ctx.rng
    ent = ctx.spec.entity
    col = ""
    if kind == "lowercase_currency":
        col = "currency"
        ctx.set(f, col, ctx.get(f, col).lower())
    elif kind == "padded_enum":
        col = ctx.pick(ctx.present(PADDED_ENUM_COLUMNS))
        ctx.set(f, col, _pad(ctx.get(f, col), rng))
    elif kind == "mixed_case_email":
        col = "email"
        ctx.set(f, col, _mixed_case_email(ctx.get(f, col)))
    elif kind == "formatted_phone":
        col = "phone"
        p = ctx.get(f, col)
        style = int(rng.integers(0, 3))
        styles = (f"({p[:3]}) {p[3:6]}-{p[6:]}", f"{p[:3]}-{p[3:6]}-{p[6:]}", f"{p[:3]}.{p[3:6]}.{p[6:]}")
        ctx.set(f, col, styles[style])
    elif kind == "padded_name":
        col = ctx.pick(("FName", "LName"))
        ctx.set(f, col, _pad(ctx.get(f, col), rng))
    elif kind == "malformed_csv":
        # An opening quote that never closes; a line-based parser sees the rest of the line as one field.
        n = len(ctx.columns)
        j = int(rng.integers(1, n - 1)) if n > 2 else 0
        col = ctx.columns[j]
        f[j] = '"' + f[j]
    elif kind == "wrong_column_count":
        if rng.random() < 0.5:
            f.append(f[-1])
            col = "+1 field"
        else:
            f.pop()
            col = "-1 field"
    elif kind == "non_utf8":
        col = ctx.pick(("FName", "LName"))
        name = ctx.pick(d.ACCENTED_NAMES)
        ctx.set(f, col, name.encode("latin-1").decode("utf-8", "surrogateescape"))
    elif kind == "malformed_json":
        return Injected(fields=f, column="line", truncate=True)
    elif kind == "non_numeric_id":
        col = ctx.pick(ID_COLUMNS[ent])
        v = ctx.get(f, col)
        ctx.set(f, col, ctx.pick((f"C{v}", f"{v}A", f"ID-{v}")))
    elif kind == "unparseable_date":
        col = ctx.pick(ctx.present(DATE_COLUMNS))
        ctx.set(f, col, ctx.pick(UNPARSEABLE_DATES[ctx.date_fmt]))
    elif kind == "impossible_date":
        col = ctx.pick(ctx.present(DATE_COLUMNS))
        if col == "date_of_birth":
            future = rng.random() < 0.5
            bad = ctx.batch_day + int(rng.integers(30, 3650)) if future else int(rng.integers(-30000, -25600))
        else:
            bad = ctx.batch_day + int(rng.integers(1, 61))
        ctx.set(f, col, date_string(bad, ctx.date_fmt))
    elif kind == "negative_amount":
        col = "amount"
        ctx.set(f, col, "-" + ctx.get(f, col))
    elif kind == "unknown_currency":
        col = "currency"
        ctx.set(f, col, ctx.pick(UNKNOWN_CURRENCIES))
    elif kind == "unknown_enum":
        col = ctx.pick(ctx.present(tuple(UNKNOWN_ENUM_VALUES)))
        ctx.set(f, col, ctx.pick(UNKNOWN_ENUM_VALUES[col]))
    elif kind == "missing_required":
        col = ctx.pick(REQUIRED_COLUMNS[ent])
        ctx.set(f, col, None if ctx.json else "")
    elif kind == "invalid_email":
        col = "email"
        e = ctx.get(f, col)
        ctx.set(f, col, e.replace("@", ".") if rng.random() < 0.7 else e.split("@")[0] + "@")
    elif kind == "orphan_fk":
        col = "customer_id"
        ctx.set(f, col, str(ORPHAN_CUSTOMER_ID_BASE + int(rng.integers(1, 9_000_000))), number=True)
    elif kind == "pk_conflict":
        col = ctx.spec.key[0]  # the first of the pair keeps its content; see conflict_copy
    else:
        raise ValueError(f"not a row-level random defect kind: {kind!r}")
    return Injected(fields=f, column=col)


def conflict_copy(fields: list, ctx: RowContext) -> Injected:
    """The second row of a pk_conflict pair: same key, one non-key column changed to another valid value."""
    f = list(fields)
    ent = ctx.spec.entity
    if ent == "The_transaction":
        col = "amount"
        cents = int(round(float(ctx.get(f, col)) * 100))
        step = int(ctx.rng.integers(100, 5000))
        other = cents + step if cents < 250000 else cents - step
        ctx.set(f, col, f"{other // 100}.{other % 100:02d}")
    elif ent == "customer":
        col = "LName"
        current = ctx.get(f, col)
        ctx.set(f, col, ctx.pick([n for n in d.LAST_NAMES if n != current]))
    elif ent == "interaction":
        col = "interaction_outcome"
        current = ctx.get(f, col)
        ctx.set(f, col, ctx.pick([o for o in d.INTERACTION_OUTCOMES if o != current]))
    else:
        raise ValueError(f"pk_conflict is not planted on {ent}")
    return Injected(fields=f, column=col)
