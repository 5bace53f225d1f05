"""What a Delta table's log says about its latest commit: the version a read now sees, and what it changed.

Both read only the transaction log (DESCRIBE HISTORY ... LIMIT 1), never the data.
"""

from __future__ import annotations

from pyspark.sql import SparkSession


def current_version(spark: SparkSession, name: str) -> int:
    """The table's latest Delta version."""
    return int(spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").first()["version"])


def last_metrics(spark: SparkSession, name: str) -> dict[str, str]:
    """The latest commit's operationMetrics (e.g. numTargetRowsInserted of a MERGE, numOutputRows of a write)."""
    return spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").first()["operationMetrics"] or {}
