"""Bronze: the sources' columns exactly as they arrived (all strings), plus ingestion columns."""

from __future__ import annotations

from lakedb.model import Column, Table, col
from lakedb.sources import SOURCES, Source

INGESTION_COLUMNS: tuple[Column, ...] = (
    col("_rescued_data", "STRING", "Unexpected columns of the file, as a JSON object {column: value}; null if none."),
    col("_missing_columns", "ARRAY<STRING>", "Contract columns the file lacked (their values are null here)."),
    col("_corrupt_reason", "STRING",
        "Null for a parsed line; else the expectation the line broke: balanced_quotes, column_count, "
        "utf8_encoding, valid_json, expected_header (the file's header names no key column: wrong delimiter, "
        "no header or wrong file; every line is kept, the first too), readable_workbook. "
        "Such rows are bronze's quarantine."),
    col("_raw_line", "STRING",
        "The raw line of an unparseable record (secret fields redacted); null for parsed rows."),
    col("_raw_line_sealed", "STRING",
        "For sources with secrets: the unparseable raw line, AES-GCM encrypted with the environment's key "
        "(base64), so nothing is lost and nothing is readable without the key."),
    col("_source_file", "STRING", "Full path of the landing file the row came from, as listed (not URL-encoded): "
        "the `file` of its row in ops.ingested_file.", nullable=False),
    col("_batch", "DATE", "Delivery day, from the batch=YYYY-MM-DD folder.", nullable=False),
    col("_ingested_at", "TIMESTAMP", "When this run wrote the row.", nullable=False),
    col("_run_id", "STRING", "The lakehouse run that ingested the row.", nullable=False),
)

BRONZE_PROPERTIES = {
    "delta.enableChangeDataFeed": "true",
    "delta.appendOnly": "true",
    # Statistics only on ingestion columns: they drive file skipping, and raw text never reaches _delta_log.
    "delta.dataSkippingStatsColumns": "_source_file,_batch,_ingested_at,_run_id",
}


def bronze_table(src: Source) -> Table:
    secrets = f" `{'`, `'.join(src.secrets)}` is dropped at ingestion and never stored." if src.secrets else ""
    columns = tuple(
        col(c, "STRING", f"Source column `{c}` of {src.system}.{src.entity}, as it arrived (text).")
        for c in src.kept_columns
    )
    return Table(
        layer="bronze",
        name=src.bronze_table,
        comment=f"{src.description} Raw, append-only, one row per landing line.{secrets}",
        columns=columns + INGESTION_COLUMNS,
        properties=dict(BRONZE_PROPERTIES),
    )


TABLES: tuple[Table, ...] = tuple(bronze_table(s) for s in SOURCES)
