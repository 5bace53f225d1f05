"""Silver: validated, conformed, deduplicated entities with snake_case names and proper types.

Customer profile, addresses and phones keep SCD type 2 history (`valid_from`, `valid_to`, `is_current`):
`valid_from` is the delivery day (bronze `_batch`) a version arrived, `valid_to` the day the next version
arrived (exclusive), null while current.
"""

from __future__ import annotations

from lakedb.model import Table, col

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
    references={"interaction_id": "silver.interaction", "agent_id": "silver.agent"},
)

TABLES: tuple[Table, ...] = (CUSTOMER, ADDRESS, CUSTOMER_PHONE, TRANSACTION, INTERACTION, AGENT, INTERACTION_AGENT)
