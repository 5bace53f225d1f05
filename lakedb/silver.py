"""Silver: validated, conformed, deduplicated entities with snake_case names and proper types.

Customer profile, addresses and phones keep SCD type 2 history (`valid_from`, `valid_to`, `is_current`):
`valid_from` is the delivery day (bronze `_batch`) a version arrived, `valid_to` the day the next version
arrived (exclusive), null while current.

Rules are expectations on the conformed row (silver columns plus `_batch`), checked by the silver jobs
(`jobs/silver/expectations.py`) before anything is written. Besides the silver columns an expression may use
what the engine adds: `_src.<column>`, the trimmed source text behind a silver column (null when empty), so
"given but unparseable" (`valid_id`, `valid_date`) and "not given" (`required_fields`) stay apart;
`_key_contents`, how many different contents the row's key has in its delivery (batch); and
`_customer_known`, whether silver.customer has the row's customer. Action `hold` keeps a row out of silver
in `ops.held_record` until the rule holds (a customer delivered later), then releases it. Repairs (trim,
case, digits-only phones) happen before the rules, so a repaired value never fails one.
"""

from __future__ import annotations

from lakedb.model import Rule, Table, col

# Accepted values, in source spelling (SOURCES.md). Conforming maps any case or padding onto these.
GENDERS = ("M", "F")
CURRENCIES = ("USD", "EUR", "GBP")
TRANSACTION_TYPES = ("Purchase", "Refund")
PAYMENT_METHODS = ("Credit Card", "Debit Card", "PayPal")
PAYMENT_STATUSES = ("Completed", "Refunded", "Pending")
INTERACTION_TYPES = ("Complaint", "Feedback", "Support Request")
INTERACTION_OUTCOMES = ("Resolved", "Implemented", "Unresolved", "Pending")
FOLLOW_UP = ("Yes", "No")
CHANNELS = ("Email", "Phone", "Chat")
EARLIEST_BIRTH = "1900-01-01"
EMAIL_PATTERN = "^[^@ ]+@[^@ ]+[.][^@ ]+$"


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join("'" + v + "'" for v in values)
    return f"{column} IN ({quoted})"


def _optional_in(column: str, values: tuple[str, ...]) -> str:
    return f"({column} IS NULL OR {_in(column, values)})"


def parsed(*columns: str) -> str:
    """True when every given source value parsed: a null silver value needs a null source value."""
    return " AND ".join(f"(_src.{c} IS NULL OR {c} IS NOT NULL)" for c in columns)


def given(*columns: str) -> str:
    return " AND ".join(f"_src.{c} IS NOT NULL" for c in columns)


def valid_id(*columns: str) -> Rule:
    return Rule("valid_id", parsed(*columns), "quarantine", f"{', '.join(columns)}, when given, is a whole number.")


def required_fields(*columns: str) -> Rule:
    return Rule("required_fields", given(*columns), "quarantine", f"{', '.join(columns)} must be given.")


def valid_date(*columns: str) -> Rule:
    return Rule("valid_date", parsed(*columns), "quarantine",
                f"{', '.join(columns)}, when given, is a real date as yyyy-MM-dd or M/d/yyyy.")


UNIQUE_KEY = Rule("unique_key", "_key_contents = 1", "quarantine",
                  "One delivery (batch) gives its key one content; two different rows for one key are both "
                  "kept out, since neither can be trusted over the other.")
CUSTOMER_KNOWN = Rule("customer_known", "_customer_known", "hold",
                      "The customer is in silver.customer; otherwise the row waits in ops.held_record and is "
                      "released by the run that brings its customer.")

SILVER_PROPERTIES = {"delta.enableChangeDataFeed": "true"}


def lineage() -> tuple:
    return (
        col("_batch", "DATE", "Delivery day of the bronze row this version came from."),
        col("_source_file", "STRING", "Landing file of the bronze row this version came from."),
        col("_run_id", "STRING", "Run that last wrote this row."),
    )


def history() -> tuple:
    return (
        col("valid_from", "DATE", "Delivery day this version became true.", nullable=False),
        col("valid_to", "DATE", "Delivery day a newer version replaced it (exclusive); null while current."),
        col("is_current", "BOOLEAN", "True for the version in force now.", nullable=False),
    )


CUSTOMER = Table(
    layer="silver", name="customer",
    comment="Customer profiles, SCD2: one row per version of a customer's profile. The CRM's password "
            "never reaches silver.",
    columns=(
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("date_of_birth", "DATE", "Date of birth."),
        col("gender", "STRING", "M or F."),
        col("email", "STRING", "E-mail address, trimmed and lower-cased."),
        col("username", "STRING", "CRM user name."),
        col("first_name", "STRING", "First name (source FName), trimmed."),
        col("last_name", "STRING", "Last name (source LName), trimmed."),
        col("row_hash", "STRING", "SHA-256 of the profile's attributes; a new version starts when it changes."),
        *history(), *lineage(),
    ),
    keys=("customer_id", "valid_from"),
    properties=dict(SILVER_PROPERTIES),
    rules=(
        valid_id("customer_id"),
        required_fields("customer_id"),
        valid_date("date_of_birth"),
        Rule("plausible_date",
             f"date_of_birth IS NULL OR (date_of_birth >= DATE'{EARLIEST_BIRTH}' AND date_of_birth <= _batch)",
             "quarantine", f"Born on or after {EARLIEST_BIRTH} and not after the delivery day.", constraint=True),
        Rule("known_enum", _optional_in("gender", GENDERS), "quarantine", "gender is M or F.", constraint=True),
        Rule("valid_email", f"email IS NULL OR email RLIKE '{EMAIL_PATTERN}'", "quarantine",
             "E-mail looks like name@domain.tld (after trimming and lower-casing).", constraint=True),
        UNIQUE_KEY,
        Rule("complete_profile", "email IS NOT NULL AND first_name IS NOT NULL AND last_name IS NOT NULL",
             "warn", "A profile without e-mail or name is kept, and counted."),
    ),
)

ADDRESS = Table(
    layer="silver", name="address",
    comment="Customer addresses, SCD2. The address rows a batch delivers for a customer are that customer's "
            "address set from that day: earlier current addresses not in it are closed (a move).",
    columns=(
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("country", "STRING", "Country, trimmed.", nullable=False),
        col("state_province", "STRING", "State or province (source `government`)."),
        col("city", "STRING", "City, trimmed."),
        *history(), *lineage(),
    ),
    keys=("customer_id", "country", "state_province", "city", "valid_from"),
    properties=dict(SILVER_PROPERTIES),
    rules=(
        valid_id("customer_id"),
        required_fields("customer_id", "country"),
        Rule("located", "city IS NOT NULL AND state_province IS NOT NULL", "warn",
             "An address without city or state/province (e.g. a file without `government`) is kept, and counted."),
    ),
    references={"customer_id": "silver.customer"},
)

CUSTOMER_PHONE = Table(
    layer="silver", name="customer_phone",
    comment="Customer phone numbers (10 digits, digits only), SCD2: a phone is current from the day it "
            "arrived; customers may hold several at once.",
    columns=(
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("phone", "STRING", "Phone number, 10 digits.", nullable=False),
        *history(), *lineage(),
    ),
    keys=("customer_id", "phone", "valid_from"),
    properties=dict(SILVER_PROPERTIES),
    rules=(
        valid_id("customer_id"),
        required_fields("customer_id", "phone"),
        Rule("valid_phone", "phone RLIKE '^[0-9]{10}$'", "quarantine",
             "Ten digits once punctuation is removed ('(555) 123-4567' is repaired to 5551234567).",
             constraint=True),
    ),
    references={"customer_id": "silver.customer"},
)

TRANSACTION = Table(
    layer="silver", name="transaction",
    comment="Payment transactions from both payment systems, one row per (source_system, transaction_id), "
            "latest delivered state. Rows re-sent by payments_v2 under new ids are absorbed as duplicates.",
    columns=(
        col("source_system", "STRING", "payments or payments_v2.", nullable=False),
        col("transaction_id", "BIGINT", "Transaction id within its source system.", nullable=False),
        col("customer_id", "BIGINT", "Paying customer.", nullable=False),
        col("amount", "DECIMAL(12,2)", "Amount in `currency`, exact.", nullable=False),
        col("currency", "STRING", "ISO 4217 code: USD, EUR or GBP.", nullable=False),
        col("transaction_type", "STRING", "Purchase or Refund."),
        col("payment_method", "STRING", "Credit Card, Debit Card or PayPal."),
        col("payment_status", "STRING", "Completed, Refunded or Pending (latest delivered)."),
        col("transaction_date", "DATE", "Day of the transaction (from yyyy-MM-dd or M/d/yyyy).", nullable=False),
        *lineage(),
    ),
    keys=("source_system", "transaction_id"),
    partition_by=(),
    properties=dict(SILVER_PROPERTIES),
    rules=(
        valid_id("transaction_id", "customer_id"),
        required_fields("transaction_id", "customer_id", "amount", "currency", "transaction_date"),
        valid_date("transaction_date"),
        Rule("plausible_date", "transaction_date IS NULL OR transaction_date <= _batch", "quarantine",
             "A transaction is not dated after the day it was delivered.", constraint=True),
        Rule("positive_amount", "amount > 0", "quarantine",
             "amount is a number with at most 2 decimals, greater than 0 (refunds are positive amounts of type "
             "Refund).", constraint=True),
        Rule("known_currency", _in("currency", CURRENCIES), "quarantine", "currency is USD, EUR or GBP.",
             constraint=True),
        Rule("known_enum", " AND ".join((_optional_in("transaction_type", TRANSACTION_TYPES),
                                         _optional_in("payment_method", PAYMENT_METHODS),
                                         _optional_in("payment_status", PAYMENT_STATUSES))),
             "quarantine", "transaction_type, payment_method and payment_status are from their lists.",
             constraint=True),
        UNIQUE_KEY,
        CUSTOMER_KNOWN,
        Rule("typical_amount", "amount BETWEEN 10 AND 5000", "warn",
             "The source systems' amounts are 10-5000; others are kept, and counted."),
    ),
    references={"customer_id": "silver.customer"},
)

INTERACTION = Table(
    layer="silver", name="interaction",
    comment="Contact-centre interactions, one row per interaction_id, latest delivered state.",
    columns=(
        col("interaction_id", "BIGINT", "Interaction id.", nullable=False),
        col("customer_id", "BIGINT", "Customer contacted.", nullable=False),
        col("interaction_date", "DATE", "Day of contact."),
        col("interaction_type", "STRING", "Complaint, Feedback or Support Request."),
        col("interaction_outcome", "STRING", "Resolved, Implemented, Unresolved or Pending."),
        col("follow_up_required", "BOOLEAN", "Whether a follow-up is required (source Yes/No)."),
        col("follow_up_date", "DATE", "Planned follow-up day, if any."),
        col("interaction_channel", "STRING", "Email, Phone or Chat."),
        *lineage(),
    ),
    keys=("interaction_id",),
    properties=dict(SILVER_PROPERTIES),
    rules=(
        valid_id("interaction_id", "customer_id"),
        required_fields("interaction_id", "customer_id"),
        valid_date("interaction_date", "follow_up_date"),
        Rule("plausible_date", "interaction_date IS NULL OR interaction_date <= _batch", "quarantine",
             "A contact is not dated after the day it was delivered.", constraint=True),
        Rule("known_enum", " AND ".join((_optional_in("interaction_type", INTERACTION_TYPES),
                                         _optional_in("interaction_outcome", INTERACTION_OUTCOMES),
                                         _optional_in("interaction_channel", CHANNELS),
                                         parsed("follow_up_required"))),
             "quarantine", "Type, outcome, channel and follow_up_required (Yes/No) are from their lists."),
        UNIQUE_KEY,
        CUSTOMER_KNOWN,
        Rule("follow_up_dated", "follow_up_date IS NULL OR follow_up_date >= interaction_date", "warn",
             "A follow-up is not planned before the contact; others are kept, and counted."),
    ),
    references={"customer_id": "silver.customer"},
)

AGENT = Table(
    layer="silver", name="agent",
    comment="Contact-centre agents from the HR roster, latest delivered name (SCD1).",
    columns=(
        col("agent_id", "BIGINT", "Agent id.", nullable=False),
        col("first_name", "STRING", "First name."),
        col("last_name", "STRING", "Last name."),
        *lineage(),
    ),
    keys=("agent_id",),
    properties=dict(SILVER_PROPERTIES),
    rules=(valid_id("agent_id"), required_fields("agent_id"), UNIQUE_KEY),
)

INTERACTION_AGENT = Table(
    layer="silver", name="interaction_agent",
    comment="Which agents handled which interaction (many-to-many bridge).",
    columns=(
        col("interaction_id", "BIGINT", "Interaction id.", nullable=False),
        col("agent_id", "BIGINT", "Agent id.", nullable=False),
        *lineage(),
    ),
    keys=("interaction_id", "agent_id"),
    properties=dict(SILVER_PROPERTIES),
    rules=(valid_id("interaction_id", "agent_id"), required_fields("interaction_id", "agent_id")),
    references={"interaction_id": "silver.interaction", "agent_id": "silver.agent"},
)

TABLES: tuple[Table, ...] = (CUSTOMER, ADDRESS, CUSTOMER_PHONE, TRANSACTION, INTERACTION, AGENT, INTERACTION_AGENT)
