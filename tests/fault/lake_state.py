"""A lake's content as order-free digests, for comparing a lake that went through faults with a clean one.

Each table is read by path and reduced to (rows, sum and xor of row hashes). What legitimately differs
between two runs of the same data is left out: run ids, timestamps of the run, the root's own path, and
the ciphertext of sealed raw lines (fresh nonce each time; whether a line is sealed still counts).
"""

from __future__ import annotations

import re
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import lakedb

VOLATILE = {"_run_id", "_ingested_at", "run_id", "ingested_at", "quarantined_at", "held_run_id", "held_at",
            "released_at", "recorded_at", "model_version", "scored_at", "assigned_at"}
# Spark 3.5's base64() breaks lines every 76 characters (\r\n, escaped once more inside a JSON record).
SEALED = r'(_raw_line_sealed\\*"\s*:\s*\\*")(?:[A-Za-z0-9+/=]|\\+[rn])*'
COMPARED_OPS = ("ops.quarantine", "ops.held_record", "ops.batch_outcome", "ops.ingested_file")


def table_path(root: Path, table_id: str) -> Path:
    layer, name = table_id.split(".")
    return root / "warehouse" / f"{layer}.db" / name


def read(spark: SparkSession, root: Path, table_id: str) -> DataFrame:
    return spark.read.format("delta").load(str(table_path(root, table_id)))


def bronze_rows_per_file(spark: SparkSession, root: Path) -> dict[str, int]:
    """landing file (relative to landing/) -> its rows in bronze, over every bronze table the lake has."""
    counts: dict[str, int] = {}
    for t in lakedb.TABLES:
        if t.layer == "bronze" and table_path(root, t.id).is_dir():
            for r in read(spark, root, t.id).groupBy("_source_file").count().collect():
                counts[r._source_file.split("/landing/", 1)[1]] = r["count"]
    return counts


def comparable(spark: SparkSession, root: Path, table_id: str) -> DataFrame:
    df = read(spark, root, table_id)
    if table_id == "ops.held_record":
        df = df.withColumn("released_run_id", F.col("released_run_id").isNotNull())
    if table_id == "ops.batch_outcome":  # one row per table, source and batch, whichever runs wrote it
        df = df.groupBy("table", "source_table", "batch").agg(
            *[F.sum(c).alias(c) for c in ("bronze_rows", "accepted", "quarantined", "duplicates", "held")])
    return df.drop(*VOLATILE)


def digest(df: DataFrame, root: Path) -> tuple[int, int, int]:
    text = F.to_json(F.struct(*[F.col(f"`{c}`") for c in sorted(df.columns)]))
    text = F.regexp_replace(F.regexp_replace(text, re.escape(str(root)), "ROOT"), SEALED, "$1*")
    h = F.xxhash64(text)
    row = df.agg(F.count(F.lit(1)), F.sum(h.cast("decimal(38,0)")), F.bit_xor(h)).first()
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def compared_tables() -> list[str]:
    return [t.id for t in lakedb.TABLES if t.layer in ("bronze", "silver", "gold")
            and t.id not in ("gold.churn_score", "gold.customer_segment")] + list(COMPARED_OPS)


def lake_state(spark: SparkSession, root: Path) -> dict[str, tuple[int, int, int] | None]:
    """Digest per table; None for a table the run's selection never created."""
    return {t: digest(comparable(spark, root, t), root) if table_path(root, t).is_dir() else None
            for t in compared_tables()}


def duplicate_keys(spark: SparkSession, root: Path) -> dict[str, int]:
    """Tables holding a key more than once: {table: keys that repeat}."""
    out = {}
    for t in lakedb.TABLES:
        if t.keys and table_path(root, t.id).is_dir():
            n = read(spark, root, t.id).groupBy(*t.keys).count().where("count > 1").count()
            if n:
                out[t.id] = n
    return out


def differences(a: dict, b: dict) -> dict:
    return {t: (a.get(t), b.get(t)) for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)}
