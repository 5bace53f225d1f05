"""Gold: the star schema, the original platform's reports, and customer KPIs.

Every gold table stays readable by Synapse serverless SQL and Power BI's Delta connector: no deletion
vectors, no column mapping (reader version 1). Dimensions and facts keep Change Data Feed on, so the jobs
downstream of them (and the serving layer) can read what changed.

Currency: `amount` always stays in its own `currency`; `amount_reporting` is the amount converted to the
reporting currency (USD) at the rate in `gold.ref_exchange_rate` as of the transaction date (the latest
monthly rate on or before it). Every total in gold sums `amount_reporting`, never `amount`.

Surrogate keys are deterministic (xxhash64 of the natural key, plus `valid_from` for SCD2 versions), so a
full rebuild and an incremental build give the same keys, and facts never need renumbering.
"""

from __future__ import annotations

from lakedb.model import Table, col

REPORTING_CURRENCY = "USD"
RESOLVED_OUTCOMES = ("Resolved", "Implemented")
OPEN_OUTCOMES = ("Unresolved", "Pending")

# Readable by Synapse serverless / Power BI: no deletion vectors, and no column mapping (never set).
GOLD_PROPERTIES = {"delta.enableDeletionVectors": "false"}
GOLD_CDF_PROPERTIES = {**GOLD_PROPERTIES, "delta.enableChangeDataFeed": "true"}

_CURRENT = "current customers (the is_current version of silver.customer), each counted once"


def _amount_columns() -> tuple:
    return (
        col("amount_reporting", "DECIMAL(18,2)",
            "Sum of the transactions' amounts converted to `reporting_currency` (each at its own dated rate); "
            "amounts of different currencies are never added unconverted."),
        col("reporting_currency", "STRING", "Currency of amount_reporting: USD."),
        col("unconverted_count", "BIGINT",
            "Transactions counted in transaction_count but left out of amount_reporting because no exchange "
            "rate was known on their date (0 when the rate table covers the data)."),
    )


# ---------------------------------------------------------------- reference and dimensions

REF_EXCHANGE_RATE = Table(
    layer="gold", name="ref_exchange_rate",
    comment="Dated exchange rates to the reporting currency (USD), monthly, 2019-2026, loaded from the CSV "
            "shipped in the package (lakehouse_core/resources/fx_rates.csv; see docs/exchange_rates.md). A "
            "transaction converts at the latest rate with rate_date on or before its transaction_date.",
    columns=(
        col("currency", "STRING", "ISO 4217 code converted from: USD, EUR or GBP.", nullable=False),
        col("rate_date", "DATE", "First day the rate applies (first day of a month).", nullable=False),
        col("reporting_currency", "STRING", "ISO 4217 code converted to: USD.", nullable=False),
        col("rate", "DECIMAL(18,8)", "Units of reporting_currency for one unit of currency.", nullable=False),
        col("source", "STRING", "Where the figure comes from (see docs/exchange_rates.md)."),
    ),
    keys=("currency", "rate_date"),
    properties=dict(GOLD_PROPERTIES),
)

DIM_DATE = Table(
    layer="gold", name="dim_date",
    comment="Calendar dimension, one row per day from 2000-01-01 to 2035-12-31 (ISO weeks, Monday = 1).",
    columns=(
        col("date_key", "INT", "Day as yyyymmdd, e.g. 20240131.", nullable=False),
        col("date", "DATE", "The day.", nullable=False),
        col("year", "INT", "Calendar year."),
        col("quarter", "INT", "Calendar quarter 1-4."),
        col("month", "INT", "Month 1-12."),
        col("month_name", "STRING", "Month name in English, e.g. January."),
        col("year_month", "STRING", "yyyy-MM, for monthly axes."),
        col("day_of_month", "INT", "Day of the month 1-31."),
        col("day_of_week", "INT", "ISO day of week: Monday = 1 ... Sunday = 7."),
        col("day_name", "STRING", "Day name in English, e.g. Monday."),
        col("week_of_year", "INT", "ISO week number."),
        col("is_weekend", "BOOLEAN", "True on Saturday and Sunday."),
    ),
    keys=("date_key",),
    properties=dict(GOLD_CDF_PROPERTIES),
)

DIM_GEOGRAPHY = Table(
    layer="gold", name="dim_geography",
    comment="Places customers live, one row per distinct (country, state_province, city) ever seen in "
            "silver.address. Rows are only added, never removed, so old facts keep their place.",
    columns=(
        col("geography_sk", "BIGINT", "Surrogate key: xxhash64 of (country, state_province, city), nulls told apart.", nullable=False),
        col("country", "STRING", "Country.", nullable=False),
        col("state_province", "STRING", "State or province (source `government`)."),
        col("city", "STRING", "City."),
    ),
    keys=("geography_sk",),
    properties=dict(GOLD_CDF_PROPERTIES),
)

DIM_CUSTOMER = Table(
    layer="gold", name="dim_customer",
    comment="Customers, SCD type 2 over profile, main address and phones: a new version starts on every "
            "delivery day that changed any of them (valid_from inclusive, valid_to exclusive, null while "
            "current). The main address is the latest-arrived current address (ties: smallest country, "
            "state, city); the main phone the latest-arrived current phone (ties: smallest number). E-mail "
            "and phone are personal data: BI views mask them.",
    columns=(
        col("customer_sk", "BIGINT", "Surrogate key of this version: xxhash64(customer_id, valid_from).",
            nullable=False),
        col("customer_id", "BIGINT", "CRM customer id (natural key).", nullable=False),
        col("first_name", "STRING", "First name."),
        col("last_name", "STRING", "Last name."),
        col("gender", "STRING", "M or F."),
        col("date_of_birth", "DATE", "Date of birth."),
        col("birth_year", "INT", "Year of birth."),
        col("email", "STRING", "E-mail address (personal data: masked in BI views).", pii="email"),
        col("username", "STRING", "CRM user name."),
        col("phone", "STRING", "Main phone of this version, 10 digits (personal data: masked in BI views).",
            pii="phone"),
        col("phone_count", "INT", "Phones the customer held during this version."),
        col("geography_sk", "BIGINT", "Main address of this version (gold.dim_geography); null if none."),
        col("country", "STRING", "Country of the main address."),
        col("state_province", "STRING", "State or province of the main address."),
        col("city", "STRING", "City of the main address."),
        col("address_count", "INT", "Addresses the customer held during this version."),
        col("valid_from", "DATE", "Delivery day this version became true.", nullable=False),
        col("valid_to", "DATE", "Delivery day the next version started (exclusive); null while current."),
        col("is_current", "BOOLEAN", "True for the version in force now.", nullable=False),
    ),
    keys=("customer_sk",),
    properties=dict(GOLD_CDF_PROPERTIES),
    references={"geography_sk": "gold.dim_geography"},
)

DIM_AGENT = Table(
    layer="gold", name="dim_agent",
    comment="Contact-centre agents (SCD1, latest roster name). Agents named in interaction assignments but "
            "missing from the roster are kept as inferred members (is_inferred, names null) so no "
            "assignment is lost.",
    columns=(
        col("agent_sk", "BIGINT", "Surrogate key: xxhash64(agent_id).", nullable=False),
        col("agent_id", "BIGINT", "Agent id from the HR roster (natural key).", nullable=False),
        col("first_name", "STRING", "First name."),
        col("last_name", "STRING", "Last name."),
        col("full_name", "STRING", "First and last name."),
        col("is_inferred", "BOOLEAN", "True when the agent appears in assignments but not in the roster."),
    ),
    keys=("agent_sk",),
    properties=dict(GOLD_CDF_PROPERTIES),
)

# ---------------------------------------------------------------- facts

FACT_TRANSACTION = Table(
    layer="gold", name="fact_transaction",
    comment="One row per transaction of silver.transaction (source_system, transaction_id). `amount` stays in "
            "`currency`; `amount_reporting` = amount x fx_rate, rounded half-up to cents, in USD, with the "
            "latest rate on or before transaction_date (null, with fx_rate null, when no rate is known). "
            "customer_sk is the dim_customer version valid on transaction_date (the first version when the "
            "transaction predates the customer's first delivery).",
    columns=(
        col("source_system", "STRING", "payments or payments_v2.", nullable=False),
        col("transaction_id", "BIGINT", "Transaction id within its source system.", nullable=False),
        col("customer_sk", "BIGINT", "Customer version valid on the transaction date (gold.dim_customer)."),
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("geography_sk", "BIGINT", "Customer's main address on the transaction date (gold.dim_geography)."),
        col("date_key", "INT", "Transaction day as yyyymmdd (gold.dim_date).", nullable=False),
        col("transaction_date", "DATE", "Day of the transaction.", nullable=False),
        col("transaction_type", "STRING", "Purchase or Refund."),
        col("payment_method", "STRING", "Credit Card, Debit Card or PayPal."),
        col("payment_status", "STRING", "Completed, Refunded or Pending (latest delivered)."),
        col("amount", "DECIMAL(12,2)", "Amount in `currency`, as delivered.", nullable=False),
        col("currency", "STRING", "ISO 4217 code of `amount`.", nullable=False),
        col("fx_rate", "DECIMAL(18,8)", "Rate used: units of reporting_currency per unit of currency."),
        col("fx_rate_date", "DATE", "rate_date of the rate used (gold.ref_exchange_rate)."),
        col("reporting_currency", "STRING", "USD.", nullable=False),
        col("amount_reporting", "DECIMAL(14,2)", "amount x fx_rate in reporting_currency; null if no rate."),
    ),
    keys=("source_system", "transaction_id"),
    properties=dict(GOLD_CDF_PROPERTIES),
    references={"customer_sk": "gold.dim_customer", "geography_sk": "gold.dim_geography",
                "date_key": "gold.dim_date"},
)

FACT_INTERACTION = Table(
    layer="gold", name="fact_interaction",
    comment="One row per contact-centre interaction. Agents are in gold.bridge_interaction_agent (an "
            "interaction may have several). Resolved means outcome Resolved or Implemented; a follow-up is "
            "open when required and the outcome is Unresolved or Pending.",
    columns=(
        col("interaction_id", "BIGINT", "Interaction id.", nullable=False),
        col("customer_sk", "BIGINT", "Customer version valid on the interaction date (gold.dim_customer)."),
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("date_key", "INT", "Interaction day as yyyymmdd (gold.dim_date); null if the day is unknown."),
        col("interaction_date", "DATE", "Day of contact."),
        col("interaction_type", "STRING", "Complaint, Feedback or Support Request."),
        col("interaction_outcome", "STRING", "Resolved, Implemented, Unresolved or Pending."),
        col("interaction_channel", "STRING", "Email, Phone or Chat."),
        col("follow_up_required", "BOOLEAN", "Whether a follow-up is required."),
        col("follow_up_date", "DATE", "Planned follow-up day, if any."),
        col("follow_up_date_key", "INT", "follow_up_date as yyyymmdd (gold.dim_date)."),
        col("is_resolved", "BOOLEAN", "Outcome is Resolved or Implemented."),
        col("is_follow_up_open", "BOOLEAN", "Follow-up required and outcome Unresolved or Pending."),
        col("agent_count", "INT", "Agents assigned (rows in gold.bridge_interaction_agent)."),
    ),
    keys=("interaction_id",),
    properties=dict(GOLD_CDF_PROPERTIES),
    references={"customer_sk": "gold.dim_customer", "date_key": "gold.dim_date"},
)

BRIDGE_INTERACTION_AGENT = Table(
    layer="gold", name="bridge_interaction_agent",
    comment="Which agents handled which interaction (many-to-many). `weight` = 1 / agents on the "
            "interaction, so weighted sums over agents add up to the interaction count.",
    columns=(
        col("interaction_id", "BIGINT", "Interaction (gold.fact_interaction).", nullable=False),
        col("agent_sk", "BIGINT", "Agent (gold.dim_agent).", nullable=False),
        col("agent_id", "BIGINT", "Agent id.", nullable=False),
        col("weight", "DOUBLE", "1 / number of agents on the interaction."),
    ),
    keys=("interaction_id", "agent_sk"),
    properties=dict(GOLD_CDF_PROPERTIES),
    references={"interaction_id": "gold.fact_interaction", "agent_sk": "gold.dim_agent"},
)

# ---------------------------------------------------------------- the original platform's reports


def _report(name: str, comment: str, columns: tuple, keys: tuple[str, ...], references=None) -> Table:
    return Table(layer="gold", name=name, comment=comment, columns=columns, keys=keys,
                 properties=dict(GOLD_PROPERTIES), references=references or {})


RPT_CUSTOMERS_BY_COUNTRY = _report(
    "rpt_customers_by_country",
    f"Report: customers per country. Counts distinct {_CURRENT} per country of their current addresses "
    "(not address rows): a customer with current addresses in two countries counts once in each; country "
    "null = customers with no current address.",
    (col("country", "STRING", "Country; null for customers without a current address."),
     col("customer_count", "BIGINT", "Distinct current customers with a current address there.")),
    ("country",))

RPT_CUSTOMERS_MULTIPLE_ADDRESSES = _report(
    "rpt_customers_multiple_addresses",
    f"Report: customers with several addresses. One row per {_CURRENT} holding two or more distinct current "
    "addresses (country, state_province, city).",
    (col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
     col("first_name", "STRING", "First name."),
     col("last_name", "STRING", "Last name."),
     col("address_count", "BIGINT", "Distinct current addresses (>= 2).")),
    ("customer_id",))

RPT_CUSTOMERS_MULTIPLE_PHONES = _report(
    "rpt_customers_multiple_phones",
    f"Report: customers with several phones. One row per {_CURRENT} holding two or more distinct current "
    "phone numbers.",
    (col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
     col("first_name", "STRING", "First name."),
     col("last_name", "STRING", "Last name."),
     col("phone_count", "BIGINT", "Distinct current phone numbers (>= 2).")),
    ("customer_id",))

RPT_CUSTOMERS_BY_BIRTH_YEAR = _report(
    "rpt_customers_by_birth_year",
    f"Report: customers per birth year. Counts {_CURRENT}; birth_year null = date of birth unknown.",
    (col("birth_year", "INT", "Year of birth; null if unknown."),
     col("customer_count", "BIGINT", "Distinct current customers born that year.")),
    ("birth_year",))

RPT_CUSTOMERS_BY_GENDER = _report(
    "rpt_customers_by_gender",
    f"Report: customers per gender. Counts {_CURRENT}; gender null = not given.",
    (col("gender", "STRING", "M, F, or null if not given."),
     col("customer_count", "BIGINT", "Distinct current customers of that gender.")),
    ("gender",))

_TX_RULE = ("Counts every transaction of gold.fact_transaction (purchases and refunds, every status, once "
            "each after silver's deduplication of re-sent rows); amounts are summed in the reporting "
            "currency only.")

RPT_TRANSACTIONS_BY_CUSTOMER = _report(
    "rpt_transactions_by_customer",
    f"Report: transactions and amount per customer. {_TX_RULE} Only customers with transactions.",
    (col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
     col("transaction_count", "BIGINT", "Transactions of the customer."),
     *_amount_columns()),
    ("customer_id",))

RPT_TRANSACTIONS_BY_STATUS = _report(
    "rpt_transactions_by_status",
    f"Report: transactions and amount per payment status. {_TX_RULE}",
    (col("payment_status", "STRING", "Completed, Refunded or Pending."),
     col("transaction_count", "BIGINT", "Transactions with that status."),
     *_amount_columns()),
    ("payment_status",))

RPT_TRANSACTIONS_BY_YEAR = _report(
    "rpt_transactions_by_year",
    f"Report: transactions and amount per calendar year of transaction_date. {_TX_RULE}",
    (col("year", "INT", "Calendar year of the transaction date.", nullable=False),
     col("transaction_count", "BIGINT", "Transactions dated that year."),
     *_amount_columns()),
    ("year",))

RPT_TRANSACTIONS_BY_METHOD_STATUS = _report(
    "rpt_transactions_by_method_status",
    f"Report: transactions and amount per payment method and payment status. {_TX_RULE}",
    (col("payment_method", "STRING", "Credit Card, Debit Card or PayPal."),
     col("payment_status", "STRING", "Completed, Refunded or Pending."),
     col("transaction_count", "BIGINT", "Transactions with that method and status."),
     *_amount_columns()),
    ("payment_method", "payment_status"))

RPT_INTERACTIONS_BY_OUTCOME = _report(
    "rpt_interactions_by_outcome",
    "Report: interactions per outcome. Counts every interaction of gold.fact_interaction once (not once per "
    "agent); customer_count = distinct customers with such an interaction.",
    (col("interaction_outcome", "STRING", "Resolved, Implemented, Unresolved or Pending."),
     col("interaction_count", "BIGINT", "Interactions with that outcome."),
     col("customer_count", "BIGINT", "Distinct customers with an interaction of that outcome.")),
    ("interaction_outcome",))

TOP_CUSTOMERS_LIMIT = 10

RPT_TOP_CUSTOMERS = _report(
    "rpt_top_customers",
    f"Report: top customers by transaction count. Customers ranked by transaction_count (RANK, so ties "
    f"share a rank); every customer with rank <= {TOP_CUSTOMERS_LIMIT} is listed, so ties may give more "
    f"than {TOP_CUSTOMERS_LIMIT} rows. {_TX_RULE}",
    (col("customer_rank", "INT", "1 = most transactions; tied customers share a rank.", nullable=False),
     col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
     col("first_name", "STRING", "Current first name."),
     col("last_name", "STRING", "Current last name."),
     col("transaction_count", "BIGINT", "Transactions of the customer."),
     *_amount_columns()),
    ("customer_id",))

# ---------------------------------------------------------------- KPIs

CUSTOMER_360 = Table(
    layer="gold", name="customer_360",
    comment="One row per current customer: profile, tenure, recency, frequency, monetary value, refunds, "
            "complaints and their resolution, open follow-ups, and the ML segment and churn score when those "
            "tables exist (null otherwise). Tenure and recency are stored as dates (customer_since, "
            "last_transaction_date) so that a row changes only when that customer's data changes; compute "
            "day counts at query time. Money is in the reporting currency (USD).",
    columns=(
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("customer_sk", "BIGINT", "Current version in gold.dim_customer."),
        col("first_name", "STRING", "First name."),
        col("last_name", "STRING", "Last name."),
        col("gender", "STRING", "M or F."),
        col("birth_year", "INT", "Year of birth."),
        col("country", "STRING", "Country of the main current address."),
        col("customer_since", "DATE",
            "Tenure start: earliest of first delivery of the customer, first transaction, first interaction."),
        col("first_transaction_date", "DATE", "Day of the first transaction."),
        col("last_transaction_date", "DATE", "Recency: day of the latest transaction; null if none."),
        col("transaction_count", "BIGINT", "Frequency: all transactions."),
        col("purchase_count", "BIGINT", "Purchases with status Completed."),
        col("monetary_value", "DECIMAL(18,2)", "Sum of amount_reporting of completed purchases (USD)."),
        col("refund_count", "BIGINT", "Transactions of type Refund or with status Refunded."),
        col("refund_amount", "DECIMAL(18,2)", "Sum of amount_reporting of those refunds (USD)."),
        col("pending_count", "BIGINT", "Transactions with status Pending."),
        col("reporting_currency", "STRING", "Currency of monetary_value and refund_amount: USD."),
        col("interaction_count", "BIGINT", "All interactions."),
        col("last_interaction_date", "DATE", "Day of the latest interaction; null if none."),
        col("complaint_count", "BIGINT", "Interactions of type Complaint."),
        col("complaints_resolved", "BIGINT", "Complaints with outcome Resolved or Implemented."),
        col("complaint_resolution_rate", "DOUBLE", "complaints_resolved / complaint_count; null if none."),
        col("open_follow_ups", "BIGINT", "Interactions needing a follow-up whose outcome is Unresolved/Pending."),
        col("segment_name", "STRING", "Current segment (gold.customer_segment), null until the ML job ran."),
        col("churn_probability", "DOUBLE", "Latest churn score (gold.churn_score), null until scored."),
        col("churn_risk_band", "STRING", "Band of churn_probability from gold.churn_score."),
    ),
    keys=("customer_id",),
    properties=dict(GOLD_PROPERTIES),
    references={"customer_sk": "gold.dim_customer"},
)

AGENT_PERFORMANCE = Table(
    layer="gold", name="agent_performance",
    comment="One row per agent of gold.dim_agent: interactions handled (each counted fully for every agent "
            "on it), resolution rate (Resolved or Implemented), complaints, open and overdue follow-ups. "
            "Overdue = open with follow_up_date before as_of_date, the latest interaction_date in "
            "gold.fact_interaction (the data's today, so reruns agree).",
    columns=(
        col("agent_sk", "BIGINT", "Agent (gold.dim_agent).", nullable=False),
        col("agent_id", "BIGINT", "Agent id.", nullable=False),
        col("full_name", "STRING", "First and last name."),
        col("interactions_handled", "BIGINT", "Distinct interactions the agent worked on."),
        col("interactions_resolved", "BIGINT", "Of those, outcome Resolved or Implemented."),
        col("resolution_rate", "DOUBLE", "interactions_resolved / interactions_handled; null if none."),
        col("complaints_handled", "BIGINT", "Handled interactions of type Complaint."),
        col("follow_ups_open", "BIGINT", "Handled interactions with an open follow-up."),
        col("follow_ups_overdue", "BIGINT", "Open follow-ups with follow_up_date before as_of_date."),
        col("as_of_date", "DATE", "Reference day for overdue: latest interaction_date in the facts."),
    ),
    keys=("agent_sk",),
    properties=dict(GOLD_PROPERTIES),
    references={"agent_sk": "gold.dim_agent"},
)

REPORTS: tuple[Table, ...] = (
    RPT_CUSTOMERS_BY_COUNTRY, RPT_CUSTOMERS_MULTIPLE_ADDRESSES, RPT_CUSTOMERS_MULTIPLE_PHONES,
    RPT_CUSTOMERS_BY_BIRTH_YEAR, RPT_CUSTOMERS_BY_GENDER, RPT_TRANSACTIONS_BY_CUSTOMER,
    RPT_TRANSACTIONS_BY_STATUS, RPT_TRANSACTIONS_BY_YEAR, RPT_TRANSACTIONS_BY_METHOD_STATUS,
    RPT_INTERACTIONS_BY_OUTCOME, RPT_TOP_CUSTOMERS,
)

TABLES: tuple[Table, ...] = (
    REF_EXCHANGE_RATE, DIM_DATE, DIM_GEOGRAPHY, DIM_CUSTOMER, DIM_AGENT,
    FACT_TRANSACTION, FACT_INTERACTION, BRIDGE_INTERACTION_AGENT,
    *REPORTS, CUSTOMER_360, AGENT_PERFORMANCE,
)
