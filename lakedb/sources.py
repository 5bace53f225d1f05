"""The landing contract: each source system's entities, as the operational systems spell them.

Bronze tables, the bronze ingestion job and the manifest's source names are derived from this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["csv", "jsonl", "xlsx"]


@dataclass(frozen=True)
class Source:
    system: str
    entity: str
    format: Format
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    description: str
    # Columns that must never be stored in clear text (dropped at ingestion, raw lines sealed).
    secrets: tuple[str, ...] = ()
    # Optional extra columns a format carries beyond the seed's table (e.g. interaction_date).
    sheet: str | None = None

    @property
    def name(self) -> str:
        """`system/entity`, the folder under landing/ and the manifest's source id."""
        return f"{self.system}/{self.entity}"

    @property
    def bronze_table(self) -> str:
        return f"{self.system}_{self.entity.lower()}"

    @property
    def kept_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.secrets)

    @property
    def extension(self) -> str:
        return {"csv": ".csv", "jsonl": ".jsonl", "xlsx": ".xlsx"}[self.format]


_TRANSACTION_COLUMNS = (
    "Transaction_id", "amount", "currency", "Transaction_type", "payment_method",
    "payment_status", "customer_id", "Transaction_Date",
)

SOURCES: tuple[Source, ...] = (
    Source(
        "crm", "customer", "csv",
        ("customer_id", "date_of_birth", "gender", "email", "username", "Account_password", "FName", "LName"),
        ("customer_id",),
        "CRM customer profiles.",
        secrets=("Account_password",),
    ),
    Source(
        "crm", "The_Address", "csv", ("country", "government", "city", "customer_id"),
        ("country", "government", "city", "customer_id"),
        "CRM customer addresses; `government` is the state or province.",
    ),
    Source(
        "crm", "Customer_phone", "csv", ("phone", "customer_id"), ("phone", "customer_id"),
        "CRM customer phone numbers.",
    ),
    Source(
        "payments", "The_transaction", "csv", _TRANSACTION_COLUMNS, ("Transaction_id",),
        "Payment system 1 transactions; dates yyyy-MM-dd.",
    ),
    Source(
        "payments_v2", "The_transaction", "csv", _TRANSACTION_COLUMNS, ("Transaction_id",),
        "Payment system 2 transactions; dates M/d/yyyy; re-sends some system-1 rows under new ids.",
    ),
    Source(
        "contact_center", "interaction", "jsonl",
        ("Interaction_id", "interaction_type", "interaction_outcome", "follow_up_required",
         "interaction_channel", "follow_up_date", "customer_id", "interaction_date"),
        ("Interaction_id",),
        "Contact-centre interactions (JSON Lines), with the day of contact.",
    ),
    Source(
        "contact_center", "interaction_Agent_manger", "csv", ("interaction_id", "Agent_id"),
        ("interaction_id", "Agent_id"),
        "Which agents handled which interaction (many-to-many).",
    ),
    Source(
        "hr", "Agent", "xlsx", ("Agent_id", "FName", "LName"), ("Agent_id",),
        "HR roster of contact-centre agents (Excel workbook).",
        sheet="Agent",
    ),
)

SOURCES_BY_NAME = {s.name: s for s in SOURCES}


def source(name: str) -> Source:
    try:
        return SOURCES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES_BY_NAME)}") from None


def source_of_bronze(table_id: str) -> Source:
    """The landing source a bronze table (`bronze.<name>`) is ingested from."""
    return next(s for s in SOURCES if f"bronze.{s.bronze_table}" == table_id)
