"""`ops`: what ran, what it did, what was rejected and why."""

from __future__ import annotations

from lakedb.model import Table, col

RUN_LOG = Table(
    layer="ops",
    name="run_log",
    comment="One row per `lakehouse run` (or single-job spark-submit): who, what was selected, outcome.",
    columns=(
        col("run_id", "STRING", "Unique id of the run.", nullable=False),
        col("env", "STRING", "Environment name (conf/<env>.yml)."),
        col("command", "STRING", "What started the run (run, demo, submit)."),
        col("selection", "STRING", "The --select expression, or null for everything."),
        col("full_refresh", "BOOLEAN", "Whether --full-refresh was given."),
        col("planned_jobs", "ARRAY<STRING>", "Jobs the run planned, in run order."),
        col("started_at", "TIMESTAMP", "Start time (UTC)."),
        col("ended_at", "TIMESTAMP", "End time (UTC); null while running or if the process died."),
        col("status", "STRING", "running, succeeded or failed."),
        col("failed_job", "STRING", "The job that failed, if any."),
        col("error", "STRING", "One-line reason of the failure."),
        col("host", "STRING", "Machine the driver ran on."),
        col("version", "STRING", "Package version."),
    ),
    keys=("run_id",),
)

JOB_RUN = Table(
    layer="ops",
    name="job_run",
    comment="One row per job execution within a run: timing, rows, outcome.",
    columns=(
        col("run_id", "STRING", "The run (ops.run_log.run_id).", nullable=False),
        col("job", "STRING", "Job name from conf/pipeline.yml.", nullable=False),
        col("layer", "STRING", "bronze, silver, gold, ml or ops."),
        col("started_at", "TIMESTAMP", "Job start (UTC)."),
        col("ended_at", "TIMESTAMP", "Job end (UTC)."),
        col("seconds", "DOUBLE", "Wall time of the job in seconds."),
        col("status", "STRING", "succeeded, failed or skipped."),
        col("rows_read", "BIGINT", "Rows the job read from its inputs (where it counts them)."),
        col("rows_written", "BIGINT", "Rows the job wrote or changed in its outputs."),
        col("rows_quarantined", "BIGINT", "Rows the job kept out of its outputs, with a reason."),
        col("error", "STRING", "One-line reason of a failure."),
        col("detail", "STRING", "JSON with job-specific figures."),
    ),
    keys=("run_id", "job"),
)

INGESTED_FILE = Table(
    layer="ops",
    name="ingested_file",
    comment="Bronze ledger: one row per landing file ingested, with its row counts. A file listed here is "
            "never read again.",
    columns=(
        col("source", "STRING", "Source id, system/entity.", nullable=False),
        col("file", "STRING", "Full path of the landing file.", nullable=False),
        col("batch", "DATE", "Delivery day of the file."),
        col("size_bytes", "BIGINT", "File size when ingested."),
        col("modified_at", "TIMESTAMP", "File modification time when ingested."),
        col("rows_read", "BIGINT", "Data lines (or JSON lines, or sheet rows) in the file."),
        col("rows_written", "BIGINT", "Rows that parsed and were written to bronze as data."),
        col("rows_quarantined", "BIGINT", "Rows kept in bronze as unparseable, with _corrupt_reason."),
        col("flags", "ARRAY<STRING>", "File-level findings: bom, crlf, empty_file, extra_columns, missing_columns."),
        col("run_id", "STRING", "Run that ingested the file."),
        col("ingested_at", "TIMESTAMP", "When the file was ingested."),
    ),
    keys=("file",),
)

TABLES: tuple[Table, ...] = (RUN_LOG, JOB_RUN, INGESTED_FILE)
