"""Loads a source's landing files into a PostgreSQL table, batch by batch: the payment system's own database.

The table holds what the operational system would: typed columns, one row per key (a row re-sent in a later
batch is an update), `modified_at` set on insert and moved by a trigger whenever a row changes, and
`batch` the delivery day of the row's latest version. Each batch is one transaction; a ledger table
(`lakehouse_load_log`, next to the table) makes a rerun load nothing, and a file re-sent unchanged is not
applied again (it would undo later updates). Lines a database could not hold (unparseable, wrong types)
are kept with their reason in `lakehouse_load_reject`, never dropped silently.

Only the `psql` client is used (no Python driver): rows travel through `\\copy` from a temporary CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lakedb.sources import Source
from lakehouse_core.errors import ConfigError, LakehouseError
from lakehouse_core.fs import batch_of
from lakehouse_core.jdbc import quote_ident, split_table

# Database types of typed source columns; every other column is text.
PG_TYPES = {
    "Transaction_id": "bigint", "customer_id": "bigint", "amount": "numeric(12,2)", "Transaction_Date": "date",
}
_INT = re.compile(r"^-?\d{1,18}\Z")
_AMOUNT = re.compile(r"^-?\d{1,10}(\.\d{1,2})?\Z")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    dbname: str
    user: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """`postgres://user@host:port/db`; a password in the URL is refused (it belongs in the environment)."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.username:
            raise ConfigError(f"--target must look like postgres://user@host:port/database, got {url!r}")
        if parts.password is not None:
            raise ConfigError("--target must not carry a password: set LAKEHOUSE_PG_PASSWORD instead")
        db = parts.path.lstrip("/")
        if not re.match(r"^[A-Za-z0-9_.-]+$", db):
            raise ConfigError(f"--target names no database: {url!r}")
        return cls(parts.hostname, parts.port or 5432, db, unquote(parts.username))

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


def psql(target: Target, password: str, script: str) -> str:
    """Run `script` in one transaction; its unaligned output, or a one-line LakehouseError."""
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10", "PGAPPNAME": "lakehouse load"}
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-h", target.host,
           "-p", str(target.port), "-U", target.user, "-d", target.dbname, "-f", "-"]
    try:
        proc = subprocess.run(cmd, input=script, capture_output=True, text=True, env=env, timeout=3600)
    except FileNotFoundError:
        raise LakehouseError("the psql client is not installed (Debian: apt-get install postgresql-client)") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()), lines[0] if lines
                      else f"psql exited with {proc.returncode}")
        raise LakehouseError(f"cannot load into {target}: {reason.replace(password, '***')}"[:400])
    return proc.stdout


def ddl(src: Source, table: str) -> str:
    """The operational table, its modified_at trigger, and the loader's ledger and reject tables."""
    schema, name = split_table(table)
    t, s = f"{quote_ident(schema)}.{quote_ident(name)}", quote_ident(schema)
    cols = [f"{quote_ident(c)} {PG_TYPES.get(c, 'text')}" for c in src.columns]
    cols[src.columns.index(src.keys[0])] += " PRIMARY KEY"
    touch = quote_ident(f"{name}_touch")
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {t} (
  {', '.join(cols)},
  modified_at timestamptz NOT NULL DEFAULT now(),
  batch date NOT NULL
);
CREATE INDEX IF NOT EXISTS {quote_ident(f"{name}_modified_at")} ON {t} (modified_at);
CREATE OR REPLACE FUNCTION {s}.{touch}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.modified_at := now(); RETURN NEW; END $$;
CREATE OR REPLACE TRIGGER {touch} BEFORE UPDATE ON {t}
  FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION {s}.{touch}();
CREATE TABLE IF NOT EXISTS {s}.lakehouse_load_log (
  file text PRIMARY KEY, sha256 text NOT NULL, target_table text NOT NULL, batch date, status text NOT NULL,
  lines int, rejected int, loaded_at timestamptz DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.lakehouse_load_reject (
  file text NOT NULL, line int NOT NULL, reason text NOT NULL, raw_line text, loaded_at timestamptz DEFAULT now(),
  PRIMARY KEY (file, line)
);
"""


@dataclass
class ParsedFile:
    path: str
    sha256: str
    rows: list[tuple[int, list[str | None]]] = field(default_factory=list)  # (line number, values by contract)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line number, reason, raw line)


def _invalid(column: str, value: str | None) -> bool:
    kind = PG_TYPES.get(column)
    if value is None or kind is None:
        return False
    if kind == "bigint":
        return not _INT.match(value)
    if kind.startswith("numeric"):
        return not _AMOUNT.match(value)
    if not _DATE.match(value):
        return True
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return True
    return False


def parse_file(path: Path, src: Source) -> ParsedFile:
    """Every data line of a landing CSV: a row the database can hold, or a reject with its reason."""
    data = path.read_bytes()
    out = ParsedFile(str(path), hashlib.sha256(data).hexdigest())
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    head = lines[0].rstrip(b"\r").decode("utf-8", "replace") if lines else ""
    names = next(csv.reader([head]), []) if head else []
    index = {n.strip().lower(): i for i, n in reversed(list(enumerate(names)))}
    where = {c: index.get(c.lower()) for c in src.columns}
    key = src.keys[0]
    for number, raw in enumerate(lines[1:], start=2):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            out.rejects.append((number, "utf8_encoding", raw.decode("utf-8", "replace")))
            continue
        if where.get(key) is None:
            out.rejects.append((number, "expected_header", text))
            continue
        if text.count('"') % 2:
            out.rejects.append((number, "balanced_quotes", text))
            continue
        fields = next(csv.reader([text]), [])
        if len(fields) != len(names):
            out.rejects.append((number, "column_count", text))
            continue
        values = [fields[i] if i is not None and fields[i] != "" else None for i in where.values()]
        bad = [c for c, v in zip(src.columns, values, strict=True) if _invalid(c, v)]
        if values[src.columns.index(key)] is None:
            out.rejects.append((number, f"required:{key}", text))
        elif bad:
            out.rejects.append((number, f"type:{bad[0]}", text))
        else:
            out.rows.append((number, values))
    return out


def _csv_file(rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        # An unquoted empty field is NULL to \copy; a text value is never empty here.
        w.writerow(["" if v is None else v for v in r])
    fh = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8")
    with fh:
        fh.write(buf.getvalue())
    return fh.name


def batch_script(src: Source, table: str, batch: dt.date, files: list[ParsedFile], rows_csv: str,
                 rejects_csv: str) -> str:
    """One batch: stage rows, upsert the latest version of each key, record files and rejects."""
    schema, name = split_table(table)
    t, s = f"{quote_ident(schema)}.{quote_ident(name)}", quote_ident(schema)
    key = quote_ident(src.keys[0])
    cols = [quote_ident(c) for c in src.columns]
    stage_cols = ", ".join(f"{quote_ident(c)} {PG_TYPES.get(c, 'text')}" for c in src.columns)
    non_key = [c for c in cols if c != key] + ["batch"]
    changed = f"({', '.join('t.' + c for c in non_key)}) IS DISTINCT FROM ({', '.join('EXCLUDED.' + c for c in non_key)})"
    log_rows = ",\n".join(
        f"  ({_lit(f.path)}, {_lit(f.sha256)}, {_lit(table)}, DATE '{batch}', 'loaded', {len(f.rows) + len(f.rejects)}, "
        f"{len(f.rejects)})" for f in files)
    return f"""
CREATE TEMP TABLE lakehouse_stage (file_no int, line int, {stage_cols}) ON COMMIT DROP;
CREATE TEMP TABLE lakehouse_stage_reject (file text, line int, reason text, raw_line text) ON COMMIT DROP;
\\copy lakehouse_stage FROM {_lit(rows_csv)} WITH (FORMAT csv)
\\copy lakehouse_stage_reject FROM {_lit(rejects_csv)} WITH (FORMAT csv)
WITH latest AS (
  SELECT DISTINCT ON ({key}) * FROM lakehouse_stage ORDER BY {key}, file_no DESC, line DESC
), up AS (
  INSERT INTO {t} AS t ({', '.join(cols)}, batch)
  SELECT {', '.join(cols)}, DATE '{batch}' FROM latest
  ON CONFLICT ({key}) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in non_key)}
  WHERE {changed}
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM latest) - count(*) AS unchanged,
       (SELECT count(*) FROM lakehouse_stage) - (SELECT count(*) FROM latest) AS superseded
FROM up \\gset r_
INSERT INTO {s}.lakehouse_load_reject (file, line, reason, raw_line)
SELECT file, line, reason, raw_line FROM lakehouse_stage_reject ON CONFLICT DO NOTHING;
INSERT INTO {s}.lakehouse_load_log (file, sha256, target_table, batch, status, lines, rejected) VALUES
{log_rows};
\\echo :r_inserted|:r_updated|:r_unchanged|:r_superseded
"""


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def landing_batches(landing: Path, src: Source) -> tuple[list[tuple[dt.date, list[Path]]], list[str]]:
    """(batch day, files) in delivery order, from <landing>/<system>/<entity>/batch=YYYY-MM-DD/; and the batch
    folders that name no real day (batch=2025-13-45), which have no day to be loaded as."""
    folder = landing / src.system / src.entity
    out, no_day = [], []
    for d in sorted(folder.glob("batch=*")) if folder.is_dir() else []:
        if not d.is_dir():
            continue
        day = batch_of(d.name)
        if day is None or d.name != f"batch={day.isoformat()}":
            no_day.append(d.name)
            continue
        files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
        if files:
            out.append((day, files))
    return out, no_day


def load_landing(target: Target, password: str, landing: Path, src: Source, table: str) -> dict:
    """Load every batch not loaded yet; returns a summary with per-batch counts and reject reasons."""
    if src.format != "csv":
        raise ConfigError(f"{src.name} is {src.format}; only CSV sources can be loaded into PostgreSQL")
    schema, _ = split_table(table)
    psql(target, password, ddl(src, table))
    known = {}
    for line in psql(target, password,
                     f"SELECT file, sha256 FROM {quote_ident(schema)}.lakehouse_load_log;").splitlines():
        file, _, sha = line.partition("|")
        known[file] = sha
    seen = set(known.values())
    summary: dict = {"target": str(target), "table": table, "batches": [], "rejected": {}}
    rejected: Counter = Counter()
    batches, no_day = landing_batches(landing, src)
    if no_day:
        summary["folders_not_loaded"] = {name: "the folder names no real day" for name in no_day}
    for batch, paths in batches:
        new = [p for p in paths if str(p) not in known]
        if not new:
            continue
        parsed, resent = [], []
        for p in new:
            f = parse_file(p, src)
            (resent if f.sha256 in seen else parsed).append(f)
            seen.add(f.sha256)
        rows = [[i, n, *values] for i, f in enumerate(parsed) for n, values in f.rows]
        rejects = [[f.path, n, reason, raw] for f in parsed for n, reason, raw in f.rejects]
        rows_csv, rejects_csv = _csv_file(rows), _csv_file(rejects)
        try:
            script = batch_script(src, table, batch, parsed, rows_csv, rejects_csv) if parsed else ""
            script += "".join(
                f"INSERT INTO {quote_ident(schema)}.lakehouse_load_log (file, sha256, target_table, batch, status) "
                f"VALUES ({_lit(f.path)}, {_lit(f.sha256)}, {_lit(table)}, DATE '{batch}', 'resent_unchanged');\n"
                for f in resent)
            result = psql(target, password, script).strip().splitlines()
        finally:
            os.unlink(rows_csv)
            os.unlink(rejects_csv)
        inserted, updated, unchanged, superseded = (int(x) for x in result[-1].split("|")) if parsed else (0,) * 4
        reasons = Counter(reason for f in parsed for _, reason, _ in f.rejects)
        rejected.update(reasons)
        summary["batches"].append({
            "batch": batch.isoformat(), "files": len(parsed), "files_resent_unchanged": len(resent),
            "inserted": inserted, "updated": updated, "unchanged": unchanged,
            "superseded_in_batch": superseded, "rejected": dict(sorted(reasons.items())),
        })
    summary["rejected"] = dict(sorted(rejected.items()))
    return summary
