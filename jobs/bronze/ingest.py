"""Bronze: exactly-once, incremental ingestion of one landing source into its Delta table.

Like Auto Loader on open-source Spark: a ledger (`ops.ingested_file`) remembers every file taken, so a
rerun reads only new files. Every landing line becomes exactly one bronze row: parsed lines keep the
source's columns as text; lines that cannot be parsed are kept with a reason and the raw line.
Secret columns (the CRM's clear-text `Account_password`) are never written: dropped from parsed rows,
redacted from raw lines, and the raw line is kept only AES-GCM-sealed with the environment's key.

Exactly-once: one Delta commit per run appends all new files' rows; the ledger is written after it. A
crash between the two is repaired on the next run from the `_source_file` of rows already in bronze.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import MapType, StringType, StructField, StructType

import lakedb
from lakedb.bronze import bronze_table
from lakedb.sources import Source, source
from lakehouse_core.context import JobContext, JobResult, append_rows, local_frame
from lakehouse_core.fs import BATCH_FOLDER, FileInfo, batch_of, glob_escape, list_files, local_path, read_head
from lakehouse_core.jdbc import jdbc_source
from lakehouse_core.runner import utcnow
from lakehouse_core.secrets import secret_key

BOM = b"\xef\xbb\xbf"
REPLACEMENT = "\ufffd"
SECRET_LIKE = re.compile(r"pass|pwd|secret|token", re.IGNORECASE)
REDACTED = "<redacted>"
LINE_END = re.compile(rb"\r\n|\r|\n")
# Per-file values (batch day, counters) are looked up per row for up to this many files: the lookup scans them all.
LOOKUP_FILES = 64


@dataclass
class Header:
    """What the first line of a delimited file says, and how it maps onto the source's contract."""

    names: list[str]
    flags: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)  # contract column -> position in the file
    extras: list[tuple[int, str]] = field(default_factory=list)  # (position, name) not in the contract
    missing: list[str] = field(default_factory=list)

    @property
    def recognised(self) -> bool:
        return bool(self.index)


def parse_header(raw: bytes, src: Source) -> Header:
    flags = []
    if raw.startswith(BOM):
        flags.append("bom")
        raw = raw[len(BOM):]
    # The header ends where Spark's line reader ends a line: at "\r\n", "\n" or a lone "\r" (old Mac exports).
    end = LINE_END.search(raw)
    if end:
        flags.extend({b"\r\n": ["crlf"], b"\r": ["cr"]}.get(end.group(), []))
        raw = raw[:end.start()]
    text = raw.decode("utf-8", errors="replace")
    try:
        names = next(csv.reader([text]), []) if text else []
    except csv.Error:  # e.g. a NUL byte: not a header any source has, so never a reason to fail the job
        names = text.split(",")
    header = Header(names=names, flags=flags)
    by_exact = {n: i for i, n in reversed(list(enumerate(names)))}
    by_loose = {n.strip().lower(): i for i, n in reversed(list(enumerate(names)))}
    used = set()
    for c in src.columns:
        if c in by_exact:
            header.index[c] = by_exact[c]
        elif c.lower() in by_loose:
            header.index[c] = by_loose[c.lower()]
            if "renamed_columns" not in flags:
                flags.append("renamed_columns")
        else:
            header.missing.append(c)
        if c in header.index:
            used.add(header.index[c])
    # A file that names none of the source's key columns is not this source's data (wrong delimiter,
    # wrong file): every line is kept as unparseable rather than guessed at.
    if not any(k in header.index for k in src.keys):
        header.index = {}
        flags.append("unrecognised_header")
        return header
    header.extras = [(i, n) for i, n in enumerate(names) if i not in used]
    if header.extras:
        flags.append("extra_columns")
    if header.missing:
        flags.append("missing_columns")
    return header


def redact_raw(line: Column, header: Header, src: Source) -> Column:
    if not src.secrets:
        return line
    n = len(header.names) or len(src.columns)
    positions = [header.index.get(s, src.columns.index(s)) for s in src.secrets]
    tokens = F.split(line, ",")

    def pick(x: Column, i: Column) -> Column:
        hit = F.lit(False)
        for p in positions:
            hit = hit | (i == p) | (i == F.size(tokens) - (n - p))
        return F.when(hit, F.lit(REDACTED)).otherwise(x)

    return F.array_join(F.transform(tokens, pick), ",")


def _non_utf8(text: Column) -> Column:
    # Invalid bytes become U+FFFD when the line is decoded as UTF-8.
    return F.decode(text.cast("binary"), "UTF-8").contains(REPLACEMENT)


def source_file() -> Column:
    """The file a row came from, named as the landing listing and the ledger name it.

    Spark gives `_metadata.file_path` URL-encoded ("a%20b.csv" for "a b.csv"). Decoding undoes it exactly once
    a literal "+" is protected (the decoder would read it as a space); names without escapes pass unchanged.
    """
    encoded = F.col("_metadata.file_path")
    return F.when(encoded.contains("%"), F.url_decode(F.regexp_replace(encoded, r"\+", "%2B"))).otherwise(encoded)


def _rescued(pairs: list[tuple[str, Column]]) -> Column:
    if not pairs:
        return F.lit(None).cast("string")
    js = F.to_json(F.struct(*[c.alias(name) for name, c in pairs]))
    return F.when(js == "{}", None).otherwise(js)


def _missing(names: list[str]) -> Column:
    return F.array(*[F.lit(n) for n in names]) if names else F.lit(None).cast("array<string>")


def read_csv_group(spark: SparkSession, src: Source, files: list[str], header: Header, key: str | None) -> DataFrame:
    """Read files that share one header line; every data line yields one row."""
    n = len(header.names)
    if not header.recognised:
        return finish(data_lines(spark, files), src, {}, reason=F.lit("expected_header"), raw=F.col("value"),
                      rescued=F.lit(None).cast("string"), missing=_missing(list(src.columns)), header=header,
                      key=key)
    schema = StructType([StructField(f"c{i}", StringType()) for i in range(n)]
                        + [StructField("_corrupt_record", StringType())])
    df = (spark.read.format("csv").schema(schema)
          .options(header="true", mode="PERMISSIVE", columnNameOfCorruptRecord="_corrupt_record",
                   enforceSchema="true", multiLine="false", encoding="UTF-8")
          .load([glob_escape(f) for f in files])
          .withColumn("_source_file", source_file()))
    values = {c: F.col(f"c{i}") for c, i in header.index.items()}
    corrupt = F.col("_corrupt_record")
    secret_pos = {header.index[s] for s in src.secrets if s in header.index}
    fields_text = F.concat_ws(",", *[F.lit(REDACTED) if i in secret_pos else F.coalesce(F.col(f"c{i}"), F.lit(""))
                                     for i in range(n)])
    any_bad_text = F.lit(False)
    for i in range(n):
        any_bad_text = any_bad_text | F.coalesce(F.col(f"c{i}").contains(REPLACEMENT), F.lit(False))
    quotes = F.length(corrupt) - F.length(F.regexp_replace(corrupt, '"', ""))
    reason = (F.when(corrupt.isNotNull() & corrupt.contains(REPLACEMENT), "utf8_encoding")
              .when(corrupt.isNotNull() & (quotes % 2 == 1), "balanced_quotes")
              .when(corrupt.isNotNull(), "column_count")
              .when(any_bad_text, "utf8_encoding"))
    raw = F.coalesce(corrupt, fields_text)
    extras = [(name or f"_c{i}", F.col(f"c{i}")) for i, name in header.extras]
    if src.secrets:
        extras = [(name, c) for name, c in extras if not SECRET_LIKE.search(name)]
    return finish(df, src, values, reason=reason, raw=raw, rescued=_rescued(extras),
                  missing=_missing(header.missing), header=header, key=key)


def data_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every non-blank line of each file, as text, whatever its bytes (a leading byte-order mark removed).

    For files whose first line names none of the source's keys: that line may be a foreign header (wrong
    delimiter) or already data (no header), so it is kept like every other line rather than guessed away.
    """
    value = F.col("value")
    value = F.when(value.startswith("\ufeff"), F.expr("substring(value, 2)")).otherwise(value)
    return (spark.read.text([glob_escape(f) for f in files])
            .select(value.alias("value"), source_file().alias("_source_file"))
            .where(F.trim("value") != ""))


def finish(df: DataFrame, src: Source, values: dict[str, Column], *, reason: Column, raw: Column,
           rescued: Column, missing: Column, header: Header, key: str | None) -> DataFrame:
    """Bronze's columns (without run metadata); a line that failed keeps only its redacted, sealed raw text."""
    # The reason is worked out once per row, in a projection of its own: used inline, Spark would evaluate it
    # again for every column below (a different expression each time after optimisation, so never shared).
    df = df.withColumn("_corrupt_reason", reason)
    reason = F.col("_corrupt_reason")
    failed = reason.isNotNull()
    cols = [F.when(~failed | reason.isin("utf8_encoding"), values[c]).cast("string").alias(c) if c in values
            else F.lit(None).cast("string").alias(c) for c in src.kept_columns]
    raw_line = F.when(failed, redact_raw(raw, header, src) if src.secrets else raw)
    sealed_line = (F.when(failed, F.base64(F.aes_encrypt(raw, F.lit(key), F.lit("GCM"))))
                   if src.secrets and key else F.lit(None).cast("string"))
    return df.select(
        *cols,
        rescued.alias("_rescued_data"),
        missing.alias("_missing_columns"),
        reason.alias("_corrupt_reason"),
        raw_line.alias("_raw_line"),
        sealed_line.alias("_raw_line_sealed"),
        F.col("_source_file"),
    )


def read_jsonl(spark: SparkSession, src: Source, files: list[str], key: str | None) -> DataFrame:
    """JSON Lines: each non-blank line must be one JSON object; extra keys are rescued, absent ones flagged."""
    lines = data_lines(spark, files)
    obj = F.from_json(F.col("value"), MapType(StringType(), StringType()))
    lines = lines.withColumn("_obj", obj)
    contract = F.array(*[F.lit(c) for c in src.columns])
    keys = F.map_keys("_obj")
    values = {c: F.col("_obj").getItem(c) for c in src.columns}
    reason = (F.when(_non_utf8(F.col("value")), "utf8_encoding")
              .when(F.col("_obj").isNull(), "valid_json"))
    missing_arr = F.array_except(contract, keys)  # in the contract's order
    # More keys than contract columns present: the object has extra keys. Checked first, so only such rows run
    # the (interpreted) map filter.
    has_extra = F.size("_obj") > F.lit(len(src.columns)) - F.size(missing_arr)
    extra = F.map_filter("_obj", lambda k, v: ~F.array_contains(contract, k))
    if src.secrets:
        extra = F.map_filter(extra, lambda k, v: ~k.rlike(SECRET_LIKE.pattern))
    rescued = F.when(has_extra & (F.size(extra) > 0), F.to_json(extra))
    missing = F.when(F.col("_obj").isNotNull() & (F.size(missing_arr) > 0), missing_arr)
    header = Header(names=list(src.columns), index={c: i for i, c in enumerate(src.columns)})
    return finish(lines, src, values, reason=reason, raw=F.col("value"), rescued=rescued, missing=missing,
                  header=header, key=key)


def _cell(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return str(v)


def read_xlsx(spark: SparkSession, src: Source, files: list[FileInfo], key: str | None,
              flags: dict[str, list[str]]) -> DataFrame:
    """Excel workbooks are small rosters: parsed on the driver with openpyxl, one row per sheet row."""
    import openpyxl

    schema = StructType([StructField(c, StringType()) for c in src.kept_columns] + [
        StructField("_rescued_data", StringType()), StructField("_missing_columns", StringType()),
        StructField("_corrupt_reason", StringType()), StructField("_raw_line", StringType()),
        StructField("_raw_line_sealed", StringType()), StructField("_source_file", StringType())])
    rows = []
    for f in files:
        data = _read_bytes(spark, f.path)
        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is kept as one quarantined row
            rows.append(tuple([None] * len(src.kept_columns)) + (
                None, None, "readable_workbook", f"{type(exc).__name__}: not a readable .xlsx workbook",
                None, f.path))
            flags[f.path].append("unreadable_workbook")
            continue
        names = wb.sheetnames
        sheet = src.sheet if src.sheet in names else names[0]
        if len(names) > 1:
            flags[f.path].append("extra_sheets")
        it = wb[sheet].iter_rows(values_only=True)
        first = next(it, ())
        head = [(_cell(v) or "").strip() for v in first]
        header = parse_header(",".join(head).encode(), src)
        flags[f.path].extend(header.flags)
        if not header.recognised:  # the first row may be data: kept with the rest (see data_lines)
            it = itertools.chain([first], it)
        for values in it:
            cells = [_cell(v) for v in values]
            if all(c is None or c == "" for c in cells):
                continue
            if not header.recognised:
                raw = ",".join(c or "" for c in cells)
                rows.append(tuple([None] * len(src.kept_columns)) + (
                    None, None, "expected_header", raw, None, f.path))
                continue
            get = {c: (cells[i] if i < len(cells) else None) for c, i in header.index.items()}
            extras = {n: cells[i] for i, n in header.extras if i < len(cells) and cells[i] is not None
                      and not (src.secrets and SECRET_LIKE.search(n))}
            rows.append(tuple(get.get(c) for c in src.kept_columns) + (
                json.dumps(extras, sort_keys=True) if extras else None,
                json.dumps(header.missing) if header.missing else None,
                None, None, None, f.path))
        wb.close()
    df = local_frame(spark, rows, schema)
    return df.withColumn("_missing_columns", F.from_json("_missing_columns", "array<string>"))


def _read_bytes(spark: SparkSession, path: str) -> bytes:
    local = local_path(path)
    if local is not None:
        with open(local, "rb") as fh:
            return fh.read()
    return spark.read.format("binaryFile").load(glob_escape(path)).select("content").first()[0]


def with_ingestion_metadata(df: DataFrame, run_id: str, ingested_at: dt.datetime, paths: list[str] = ()) -> DataFrame:
    """Adds _batch, _ingested_at and _run_id.

    `_batch` is the day the file's batch=YYYY-MM-DD folder names, else the ingestion day (a folder such as
    batch=2025-13-45 too). For the files in `paths` the day is worked out here, once per file, and looked up per
    row (a regular expression per row cost more than the rest of the ingestion columns); other rows parse their path.
    """
    today = ingested_at.date()
    day = F.regexp_extract("_source_file", BATCH_FOLDER.pattern, 1)
    # try_cast: an impossible day gives null, also under ANSI mode (Spark 4's default).
    df = df.withColumn("_batch", F.when(day != "", day))
    batch = [F.expr("try_cast(_batch AS DATE)"), F.lit(today)]
    by_file = sorted(set(paths))
    if 0 < len(by_file) <= LOOKUP_FILES:
        batch.insert(0, F.create_map(*itertools.chain.from_iterable(
            (F.lit(p), F.lit(batch_of(p) or today)) for p in by_file))[F.col("_source_file")])
    return (df.withColumn("_batch", F.coalesce(*batch))
            .withColumn("_ingested_at", F.lit(ingested_at))
            .withColumn("_run_id", F.lit(run_id)))


def read_new_files(spark: SparkSession, src: Source, files: list[FileInfo], key: str | None
                   ) -> tuple[DataFrame | None, dict[str, list[str]]]:
    """One DataFrame with bronze's columns for `files`, and file-level flags per path."""
    flags: dict[str, list[str]] = defaultdict(list)
    nonempty = []
    for f in files:
        if f.size == 0:
            flags[f.path].append("empty_file")
        else:
            nonempty.append(f)
    if not nonempty:
        return None, flags
    if src.format == "xlsx":
        return read_xlsx(spark, src, nonempty, key, flags), flags
    if src.format == "jsonl":
        return read_jsonl(spark, src, [f.path for f in nonempty], key), flags
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    headers: dict[tuple[str, ...], Header] = {}
    for f in nonempty:
        header = parse_header(read_head(spark, f.path), src)
        flags[f.path].extend(header.flags)
        if not header.names:
            flags[f.path].append("empty_file")
            continue
        sig = tuple(header.names)
        groups[sig].append(f.path)
        headers[sig] = header
    frames = [read_csv_group(spark, src, paths, headers[sig], key) for sig, paths in groups.items()]
    if not frames:
        return None, flags
    out = frames[0]
    for other in frames[1:]:
        out = out.unionByName(other)
    return out, flags


def already_ingested(spark: SparkSession, ctx: JobContext, src: Source, table: str
                     ) -> tuple[dict[str, int | None], set[str]]:
    """(files in the ledger with their size then, files found in bronze but missing from the ledger after a crash).

    The ledger is read once. Bronze is scanned only for a run whose append has no ledger entry: a crash between
    the bronze commit and the ledger commit. Every run recovers before it appends, so only the latest append
    can be such an orphan; Delta's history names its run (the runner tags every commit with it).
    """
    rows = ledger(ctx).get(src.name, [])
    known = {r.file: r.size_bytes for r in rows}
    # Only a run that failed or died after the source's last ledger entry (with none: ever) can have left such an
    # append: under the runner, which knows those runs, the table's history is not read when there is none (the
    # usual case, a new lake's first load included).
    if not ctx.interrupted_since(max((r.ingested_at for r in rows), default=None)):
        return known, set()
    suspect = last_append_run(spark, table)
    if suspect is None or suspect in {r.run_id for r in rows}:  # no append yet, or the last one is in the ledger
        return known, set()
    bronze = spark.table(table)
    if suspect:
        bronze = bronze.where(F.col("_run_id") == suspect)
    elif rows:  # an untagged append (not written by the runner): everything since the last ledger entry
        bronze = bronze.where(F.col("_ingested_at") >= F.lit(max(r.ingested_at for r in rows)))
    in_bronze = {r._source_file for r in bronze.select("_source_file").distinct().collect()}
    return known, in_bronze - set(known)


def ledger(ctx: JobContext) -> dict[str, list]:
    """ops.ingested_file per source, read once per run: the bronze jobs of a run share one read.

    A source's rows are written only by its own job, once per run, so the run's first read holds every row an
    earlier run recorded for each source.
    """
    def read() -> dict[str, list]:
        by_source: dict[str, list] = defaultdict(list)
        for r in ctx.spark.table(ctx.table("ops.ingested_file")).select(
                "source", "file", "size_bytes", "run_id", "ingested_at").collect():
            by_source[r.source].append(r)
        return dict(by_source)

    # Two jobs starting together: the second waits for the first one's read.
    return ctx.per_run("bronze_ledger", read)


def prefetch(ctx: JobContext) -> None:
    """Called by the runner in the background while it records a run's start: the ledger the bronze jobs share."""
    ledger(ctx)


APPENDS = ("WRITE", "STREAMING UPDATE")
# Commits that change only the table's definition: a history of nothing else is an empty table's.
DEFINITION_ONLY = frozenset({"CREATE TABLE", "ADD CONSTRAINT", "DROP CONSTRAINT", "SET TBLPROPERTIES",
                             "UNSET TBLPROPERTIES", "ADD COLUMNS", "CHANGE COLUMN", "UPGRADE PROTOCOL"})
HISTORY_DEPTH = 50  # maintenance adds three commits a day; a run's append is always within the last few
HISTORY_FIRST = 4


def last_append_run(spark: SparkSession, table: str) -> str | None:
    """The run id of the table's latest append ('' when it is untagged); None when it has no append."""
    history = []
    for depth in (HISTORY_FIRST, HISTORY_DEPTH):  # the last few commits first: each is a file read
        history = spark.sql(f"DESCRIBE HISTORY {table} LIMIT {depth}").select(
            "version", "operation", "userMetadata").collect()
        if len(history) < depth or any(h.operation in APPENDS for h in history):
            break
    for h in history:
        if h.operation in APPENDS:
            try:
                return str(json.loads(h.userMetadata or "{}").get("run_id") or "")
            except ValueError:
                return ""
    if history and history[-1].version == 0 and all(h.operation in DEFINITION_ONLY for h in history):
        return None  # the whole history is in view and never added a row: no need to scan
    return None if spark.table(table).isEmpty() else ""


class CountedAppend:
    """Rows and quarantined rows per landing file, counted by the append itself (Spark's `observe`).

    Saves reading the new rows back from bronze. Spark delivers observed metrics to a listener after the write;
    if they are not there within `wait` seconds (a platform whose writer path does not report them), or do not
    add up to the rows written, `counts()` returns None and the caller counts from the table instead.
    """

    MAX_FILES = LOOKUP_FILES  # two counters per file in one aggregate: beyond this (a backlog), reading back is cheaper
    INDEX = "_counted_file_index"

    def __init__(self, paths: list[str], wait: float = 10.0) -> None:
        self.paths = sorted(set(paths))
        self.wait = wait
        self.observation: Observation | None = None

    def attach(self, df: DataFrame) -> DataFrame:
        if not self.paths or len(self.paths) > self.MAX_FILES:
            return df
        # The file's position is looked up once per row, then compared as an int by each file's two counters.
        df = df.withColumn(self.INDEX, F.create_map(*itertools.chain.from_iterable(
            (F.lit(p), F.lit(i)) for i, p in enumerate(self.paths)))[F.col("_source_file")])
        index, bad = F.col(self.INDEX), F.col("_corrupt_reason").isNotNull()
        metrics = [F.count(F.lit(1)).alias("rows")]
        for i in range(len(self.paths)):
            metrics += [F.count(F.when(index == i, 1)).alias(f"n{i}"),
                        F.count(F.when((index == i) & bad, 1)).alias(f"b{i}")]
        self.observation = Observation()
        return df.observe(self.observation, *metrics).drop(self.INDEX)

    def counts(self) -> dict[str, tuple[int, int]] | None:
        if self.observation is None:
            return None
        got: dict = {}
        # Observation.get blocks until the metrics arrive: wait on it from a daemon thread, for a bounded time.
        waiter = threading.Thread(target=lambda: got.update(self.observation.get), daemon=True,
                                  name="bronze-observed-counts")
        waiter.start()
        waiter.join(self.wait)
        if "rows" not in got:
            return None
        counts = {p: (int(got[f"n{i}"]), int(got[f"b{i}"])) for i, p in enumerate(self.paths)}
        if sum(n for n, _ in counts.values()) != got["rows"]:  # a row from a file not in the list: count again
            return None
        return {p: nb for p, nb in counts.items() if nb[0]}


def file_counts(spark: SparkSession, table: str, condition: Column) -> dict[str, tuple[int, int]]:
    rows = (spark.table(table).where(condition).groupBy("_source_file")
            .agg(F.count(F.lit(1)).alias("n"), F.count("_corrupt_reason").alias("bad")).collect())
    return {r._source_file: (r.n, r.bad) for r in rows}


def run(ctx: JobContext, source_name: str) -> JobResult:
    if jdbc_source(ctx.cfg, source_name) is not None:
        # This environment reads the source from its database, into the same table (jobs/bronze/jdbc.py).
        return JobResult(detail={"skipped": f"{source_name} is read over JDBC in this env"})
    spark = ctx.spark
    src = source(source_name)
    table = ctx.table(bronze_table(src).id)
    ledger_table = ctx.table("ops.ingested_file")
    landing = f"{ctx.cfg.path('landing')}/{src.name}"
    files = list_files(spark, landing)
    known, orphaned = already_ingested(spark, ctx, src, table)
    by_path = {f.path: f for f in files}
    ledger_rows = []
    now = utcnow()
    if orphaned:
        # A previous run committed rows but died before its ledger entry: record, never re-read.
        ctx.log(f"recovering the ledger for {len(orphaned)} file(s) ingested by an interrupted run")
        counts = file_counts(spark, table, F.col("_source_file").isin(sorted(orphaned)))
        # The file-level flags (bom, crlf, extra_columns, ...) come from the file, as on first reading it.
        still_there = [by_path[p] for p in sorted(orphaned) if p in by_path]
        _, recovered_flags = (read_new_files(spark, src, still_there, secret_key(ctx.cfg) if src.secrets else None)
                              if still_there else (None, {}))
        recovered = []
        for path in sorted(orphaned):
            n, bad = counts.get(path, (0, 0))
            f = by_path.get(path)
            recovered.append(_ledger_row(src, path, f, n, bad, recovered_flags.get(path, []), ctx.run_id, now))
        # Committed now, not with this run's own rows: once this run appends to bronze, its append is the latest
        # one, and only the latest append is checked against the ledger.
        append_rows(spark, ledger_table, "ops.ingested_file", recovered)
    new = [f for f in files if f.path not in known and f.path not in orphaned]
    ctx.log(f"{src.name}: {len(files)} file(s) in landing, {len(new)} new")
    # Like Auto Loader (without allowOverwrites), a file is read once: one rewritten in place is not read again.
    # It is not passed over in silence either: each run names it until it is delivered under a new name.
    changed = sorted(f.path for f in files if f.path in known and known[f.path] not in (None, f.size))
    if changed:
        more = " ..." if len(changed) > 5 else ""
        ctx.log(f"WARNING {len(changed)} file(s) changed size after they were ingested and are not read again; "
                f"deliver new content under a new name: {', '.join(changed[:5])}{more}")
    rows_written = rows_bad = 0
    if new:
        key = secret_key(ctx.cfg) if src.secrets else None
        df, flags = read_new_files(spark, src, new, key)
        if df is not None:
            target = lakedb.table(bronze_table(src).id)
            paths = [f.path for f in new]
            out = with_ingestion_metadata(df, ctx.run_id, now, paths).select(*target.column_names)
            counted = CountedAppend(paths)
            counted.attach(out).write.format("delta").mode("append").saveAsTable(table)
            counts = counted.counts()
            if counts is None:
                counts = file_counts(spark, table, F.col("_run_id") == ctx.run_id)
        else:
            counts = {}
        for f in new:
            n, bad = counts.get(f.path, (0, 0))
            rows_written += n - bad
            rows_bad += bad
            ledger_rows.append(_ledger_row(src, f.path, f, n, bad, flags.get(f.path, []), ctx.run_id, now))
    ctx.append_ops("ops.ingested_file", ledger_rows)  # after the bronze append, as its record
    return JobResult(rows_read=rows_written + rows_bad, rows_written=rows_written, rows_quarantined=rows_bad,
                     detail={"files_new": len(new), "files_recovered": len(orphaned),
                             **({"files_changed_after_ingestion": len(changed)} if changed else {})})


def _ledger_row(src: Source, path: str, f: FileInfo | None, n: int, bad: int, flags: list[str], run_id: str,
                now: dt.datetime) -> tuple:
    return (src.name, path, batch_of(path), f.size if f else None,
            f.modified_at if f else None, n, n - bad, bad, sorted(set(flags)), run_id, now)


if __name__ == "__main__":
    from lakehouse_core.submit import main

    sys.exit(main(__name__))
