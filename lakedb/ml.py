"""Tables written by the ML jobs: churn scores and customer segments (gold, read by gold.customer_360).

Both stay readable by Synapse serverless and Power BI (no deletion vectors), like the rest of gold.
"""

from __future__ import annotations

from lakedb.model import Table, col

ML_PROPERTIES = {"delta.enableDeletionVectors": "false"}

RISK_BANDS = ("low", "medium", "high")

CHURN_SCORE = Table(
    layer="gold", name="churn_score",
    comment="Latest churn score of every active customer (a transaction in the 90 days up to features_as_of): "
            "the probability of no transaction in the 90 days after features_as_of, from the registered "
            "model `customer_churn` with alias `champion`. Rewritten whole on every scoring run; "
            "customers no longer active are removed (their last transaction is too old to score).",
    columns=(
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("churn_probability", "DOUBLE", "P(no transaction in the 90 days after features_as_of), 0..1.",
            nullable=False),
        col("risk_band", "STRING", "low, medium or high, from churn_probability and the thresholds in "
            "conf `ml.risk_bands` (defaults: medium from 0.2, high from 0.5).", nullable=False),
        col("model_name", "STRING", "Registered MLflow model that scored the row.", nullable=False),
        col("model_version", "STRING", "Version of that model (the champion at scoring time).", nullable=False),
        col("scored_at", "TIMESTAMP", "When the scoring run wrote the row (UTC).", nullable=False),
        col("features_as_of", "DATE", "Cutoff of the features: the latest transaction day in the lake.",
            nullable=False),
        col("run_id", "STRING", "Pipeline run that wrote the row (ops.run_log)."),
    ),
    keys=("customer_id",),
    properties=dict(ML_PROPERTIES),
    references={"customer_id": "gold.dim_customer"},
)

CUSTOMER_SEGMENT = Table(
    layer="gold", name="customer_segment",
    comment="Customer segment of every customer with a transaction up to as_of: KMeans over recency, "
            "frequency, monetary value (USD) and contact-centre engagement (registered model "
            "`customer_segments`) of those who bought within 365 days, with a readable name per cluster; the "
            "others are segment -1, 'Inactive for over a year'. Rewritten on every run.",
    columns=(
        col("customer_id", "BIGINT", "CRM customer id.", nullable=False),
        col("segment_id", "INT", "KMeans cluster index (stable only within one model version); -1 = no "
            "transaction for over a year.", nullable=False),
        col("segment_name", "STRING", "Readable name of the cluster, e.g. 'Loyal high spenders'.",
            nullable=False),
        col("recency_days", "INT", "Days from the last transaction to as_of."),
        col("frequency_365", "BIGINT", "Transactions in the 365 days up to as_of."),
        col("monetary_365", "DOUBLE", "Completed purchases in the 365 days up to as_of, USD."),
        col("interactions_365", "BIGINT", "Contact-centre interactions in the 365 days up to as_of."),
        col("model_name", "STRING", "Registered MLflow model that assigned the segment.", nullable=False),
        col("model_version", "STRING", "Version of that model.", nullable=False),
        col("as_of", "DATE", "Cutoff of the features: the latest transaction day in the lake.", nullable=False),
        col("assigned_at", "TIMESTAMP", "When the run wrote the row (UTC).", nullable=False),
    ),
    keys=("customer_id",),
    properties=dict(ML_PROPERTIES),
    references={"customer_id": "gold.dim_customer"},
)

TABLES: tuple[Table, ...] = (CHURN_SCORE, CUSTOMER_SEGMENT)
