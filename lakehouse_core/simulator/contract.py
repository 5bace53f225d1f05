"""The landing contract as data: which files each source system drops, with which columns.

Paths are `<landing>/<system>/<entity>/batch=<YYYY-MM-DD>/<entity>_<YYYYMMDD>.<ext>`; a file re-sent
unchanged in a later batch keeps its original stem plus `_resend`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class EntitySpec:
    system: str
    entity: str
    fmt: str  # "csv" | "jsonl" | "xlsx"
    columns: tuple[str, ...]
    key: tuple[str, ...]
    date_format: str = "yyyy-MM-dd"  # Spark pattern of the date columns in this file

    @property
    def name(self) -> str:
        return f"{self.system}/{self.entity}"

    @property
    def ext(self) -> str:
        return self.fmt

    def folder(self, batch: date) -> str:
        return f"{self.system}/{self.entity}/batch={batch.isoformat()}"

    def file_name(self, batch: date, suffix: str = "") -> str:
        return f"{self.entity}_{batch.strftime('%Y%m%d')}{suffix}.{self.ext}"

    def relpath(self, batch: date, suffix: str = "") -> str:
        return f"{self.folder(batch)}/{self.file_name(batch, suffix)}"


TRANSACTION_COLUMNS = (
    "Transaction_id", "amount", "currency", "Transaction_type", "payment_method", "payment_status",
    "customer_id", "Transaction_Date",
)

CUSTOMER = EntitySpec(
    "crm", "customer", "csv",
    ("customer_id", "date_of_birth", "gender", "email", "username", "Account_password", "FName", "LName"),
    ("customer_id",),
)
ADDRESS = EntitySpec(
    "crm", "The_Address", "csv", ("country", "government", "city", "customer_id"),
    ("country", "government", "city", "customer_id"),
)
PHONE = EntitySpec("crm", "Customer_phone", "csv", ("phone", "customer_id"), ("phone", "customer_id"))
PAYMENTS = EntitySpec("payments", "The_transaction", "csv", TRANSACTION_COLUMNS, ("Transaction_id",))
PAYMENTS_V2 = EntitySpec(
    "payments_v2", "The_transaction", "csv", TRANSACTION_COLUMNS, ("Transaction_id",), date_format="M/d/yyyy",
)
INTERACTION = EntitySpec(
    "contact_center", "interaction", "jsonl",
    ("Interaction_id", "interaction_type", "interaction_outcome", "follow_up_required", "interaction_channel",
     "follow_up_date", "customer_id", "interaction_date"),
    ("Interaction_id",),
)
INTERACTION_AGENT = EntitySpec(
    "contact_center", "interaction_Agent_manger", "csv", ("interaction_id", "Agent_id"),
    ("interaction_id", "Agent_id"),
)
AGENT = EntitySpec("hr", "Agent", "xlsx", ("Agent_id", "FName", "LName"), ("Agent_id",))

# Write order within a batch; also the order of files.csv rows.
ENTITIES: tuple[EntitySpec, ...] = (
    CUSTOMER, ADDRESS, PHONE, PAYMENTS, PAYMENTS_V2, INTERACTION, INTERACTION_AGENT, AGENT,
)
ENTITY_BY_NAME = {spec.name: spec for spec in ENTITIES}

AGENT_SHEET = "Agent"

# Id ranges. payments ids count up from 1, payments_v2 ids from V2_ID_OFFSET + 1, so the two never meet.
V2_ID_OFFSET = 100_000_000
# customer_id values at or above this never exist: they are orphan_fk defects.
ORPHAN_CUSTOMER_ID_BASE = 90_000_000
