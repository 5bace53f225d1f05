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
        col("flags", "ARRAY<STRING>",
            "File-level findings: bom, crlf, cr (lone carriage returns end lines), empty_file, extra_columns, "
            "missing_columns, renamed_columns, unrecognised_header, extra_sheets, unreadable_workbook."),
        col("run_id", "STRING", "Run that ingested the file."),
        col("ingested_at", "TIMESTAMP", "When the file was ingested."),
    ),
    keys=("file",),
)

GOLD_WATERMARK = Table(
    layer="ops",
    name="gold_watermark",
    comment="Gold's incremental state, append-only: a row per gold or ML job, input table and run that moved it, "
            "with the input's Delta version the job processed (for an ML job also model:<name>, the model version "
            "it used, and settings, a checksum of its settings). The latest row per (job, source_table) is the "
            "watermark: the next run reads the input's Change Data Feed after it; no row means a full build.",
    columns=(
        col("job", "STRING", "Gold or ML job name from conf/pipeline.yml.", nullable=False),
        col("source_table", "STRING", "Input table, layer.name (environment-independent), or an ML job's "
            "model:<name> or settings.", nullable=False),
        col("version", "BIGINT", "Last Delta version of source_table the job has processed."),
        col("run_id", "STRING", "Run that processed it."),
        col("updated_at", "TIMESTAMP", "When the watermark was written (UTC)."),
    ),
    keys=("job", "source_table", "updated_at"),
)

JDBC_WATERMARK = Table(
    layer="ops",
    name="jdbc_watermark",
    comment="High-water marks of incremental database extracts (jobs/bronze/jdbc.py): one row per extract "
            "that appended rows to bronze. The latest row per origin is where the next extract starts: rows "
            "modified after mark_modified_at.",
    columns=(
        col("source", "STRING", "Source id, system/entity (the bronze table's source).", nullable=False),
        col("origin", "STRING", "JDBC URL and schema.table read, without credentials; equals bronze "
            "`_source_file` of the rows.", nullable=False),
        col("extract_version", "BIGINT", "Sequence number of the extract for this origin; also the Delta "
            "txnVersion of its bronze append, which makes the append idempotent.", nullable=False),
        col("mark_modified_at", "TIMESTAMP", "High-water mark (UTC): the greatest modification time extracted. "
            "The next extract reads rows modified after it, so late updates of old rows are picked up."),
        col("last_id", "BIGINT", "Greatest key (partition column) value in this extract."),
        col("rows_extracted", "BIGINT", "Rows this extract appended to bronze."),
        col("partitions", "INT", "Parallel JDBC reads over the key range."),
        col("bronze_version", "BIGINT", "Delta version of the bronze commit holding the rows."),
        col("recovered", "BOOLEAN", "True if a later run wrote this row from the bronze commit, because the "
            "extracting run stopped between its bronze append and this table."),
        col("run_id", "STRING", "Run that extracted the rows."),
        col("recorded_at", "TIMESTAMP", "When this row was written (UTC)."),
    ),
    keys=("origin", "extract_version"),
)

QUARANTINE = Table(
    layer="ops",
    name="quarantine",
    comment="Records kept out of silver, one row per bronze row, with the rule it broke. Lines bronze could not "
            "parse are here too (rule = bronze's _corrupt_reason). Never holds a password: records are the "
            "bronze columns, which have none, and bronze's redacted raw line.",
    columns=(
        col("table", "STRING", "Silver table the record was meant for, layer.name.", nullable=False),
        col("source_table", "STRING", "Bronze table it came from, layer.name.", nullable=False),
        col("rule", "STRING", "The first rule it broke (declared order), or bronze's _corrupt_reason.",
            nullable=False),
        col("failed_rules", "ARRAY<STRING>", "Every rule it broke."),
        col("detected_in", "STRING", "bronze (unparseable line) or silver (broke a rule)."),
        col("batch", "DATE", "Delivery day (bronze _batch)."),
        col("source_file", "STRING", "Landing file (bronze _source_file)."),
        col("record", "STRING", "The bronze record as JSON {column: text}; {\"_raw_line\": ...} for unparseable lines."),
        col("run_id", "STRING", "Run that quarantined it."),
        col("quarantined_at", "TIMESTAMP", "When (UTC)."),
    ),
)

DQ_RESULT = Table(
    layer="ops",
    name="dq_result",
    comment="Data-quality results: per run, job and rule of the table model, the rows checked and the rows "
            "that broke it (warn: kept; quarantine: in ops.quarantine; hold: in ops.held_record).",
    columns=(
        col("run_id", "STRING", "The run.", nullable=False),
        col("job", "STRING", "Job that checked the rule.", nullable=False),
        col("table", "STRING", "Table whose rule it is, layer.name.", nullable=False),
        col("rule", "STRING", "Rule name (lakedb).", nullable=False),
        col("action", "STRING", "warn, quarantine, hold or fail."),
        col("rows_checked", "BIGINT", "Rows the rule was evaluated on."),
        col("rows_failed", "BIGINT", "Rows for which it was false or null."),
        col("checked_at", "TIMESTAMP", "When (UTC)."),
    ),
    keys=("run_id", "job", "table", "rule"),
)

HELD_RECORD = Table(
    layer="ops",
    name="held_record",
    comment="Rows held back from silver because their parent (the customer) is not known yet. Each run "
            "re-checks the open ones; a row is released, into silver, by the run that finds its parent.",
    columns=(
        col("table", "STRING", "Silver table the row is meant for, layer.name.", nullable=False),
        col("source_table", "STRING", "Bronze table it came from, layer.name.", nullable=False),
        col("rule", "STRING", "The hold rule (customer_known).", nullable=False),
        col("key", "STRING", "The row's key as JSON."),
        col("parent_id", "BIGINT", "Id of the missing parent (customer_id)."),
        col("batch", "DATE", "Delivery day (bronze _batch)."),
        col("source_file", "STRING", "Landing file."),
        col("record", "STRING", "The conformed row as JSON; released rows are read back from it."),
        col("held_run_id", "STRING", "Run that held it."),
        col("held_at", "TIMESTAMP", "When (UTC)."),
        col("released_run_id", "STRING", "Run that released it into silver; null while held."),
        col("released_at", "TIMESTAMP", "When (UTC)."),
    ),
)

SILVER_WATERMARK = Table(
    layer="ops",
    name="silver_watermark",
    comment="Silver's incremental state, append-only: the latest row per job and source_table holds the last "
            "bronze Delta version the job has processed; the next run reads bronze's Change Data Feed after it. "
            "No row means the job has not run yet (full build).",
    columns=(
        col("job", "STRING", "Silver job name from conf/pipeline.yml.", nullable=False),
        col("source_table", "STRING", "Bronze table, layer.name.", nullable=False),
        col("version", "BIGINT", "Last Delta version of source_table processed.", nullable=False),
        col("ingested_at", "TIMESTAMP", "Latest bronze _ingested_at processed: where reading resumes if the "
            "Change Data Feed after `version` is no longer available (files vacuumed)."),
        col("rows_read", "BIGINT", "Bronze rows this run read."),
        col("run_id", "STRING", "Run that processed it."),
        col("updated_at", "TIMESTAMP", "When (UTC)."),
    ),
)

BATCH_OUTCOME = Table(
    layer="ops",
    name="batch_outcome",
    comment="Conservation ledger, one row per silver run, table, bronze table and batch, with what became of "
            "the bronze rows (changes in this run; `held` is negative when rows are released). Summed per "
            "entity and batch by the view ops.conservation: bronze_rows = accepted + quarantined + duplicates "
            "+ held.",
    columns=(
        col("run_id", "STRING", "The run.", nullable=False),
        col("table", "STRING", "Silver table, layer.name.", nullable=False),
        col("source_table", "STRING", "Bronze table, layer.name.", nullable=False),
        col("batch", "DATE", "Delivery day (bronze _batch)."),
        col("bronze_rows", "BIGINT", "Bronze rows of the batch this run read."),
        col("accepted", "BIGINT", "Rows that started a new version in silver (new, changed or released)."),
        col("quarantined", "BIGINT", "Rows kept out with a reason (ops.quarantine)."),
        col("duplicates", "BIGINT", "Rows that changed nothing: exact duplicates, rows of re-sent files, rows "
            "re-sent by payments_v2 under new ids, rows silver already had."),
        col("held", "BIGINT", "Rows held for a missing customer, minus rows released."),
        col("recorded_at", "TIMESTAMP", "When (UTC)."),
    ),
)

TABLES: tuple[Table, ...] = (RUN_LOG, JOB_RUN, INGESTED_FILE, GOLD_WATERMARK, JDBC_WATERMARK, QUARANTINE, DQ_RESULT,
                             HELD_RECORD, SILVER_WATERMARK, BATCH_OUTCOME)
