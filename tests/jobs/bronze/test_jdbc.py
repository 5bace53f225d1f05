"""The payments database over JDBC, against a real PostgreSQL server started on loopback for this module.

The server comes from scripts/postgres.sh (Debian's `postgresql`, installed if missing); nothing is skipped:
if it cannot be installed or started, every test here fails. Each test has its own schema in the server
and its own lake database, and puts rows in the server the way production would: landing files through
the loader (`lakehouse load-postgres`), or SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import lakedb
from jobs.bronze import ingest, jdbc
from lakedb.bronze import bronze_table
from lakedb.sources import source
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.config import Config
from lakehouse_core.context import JobContext
from lakehouse_core.errors import ConfigError, LakehouseError
from lakehouse_core.jdbc import jdbc_source
from lakehouse_core.pgload import Target, landing_batches, load_landing
from tests.conftest import make_cfg
from tests.security.secrets_scan import find_clear_text

PROJECT = Path(__file__).resolve().parents[3]
SCRIPT = PROJECT / "scripts" / "postgres.sh"
PASSWORD_ENV = "LAKEHOUSE_PG_PASSWORD"
SRC = source("payments/The_transaction")
HEADER = "Transaction_id,amount,currency,Transaction_type,payment_method,payment_status,customer_id,Transaction_Date"
# Edge values as the files carry them: an empty customer_id, a lower-case currency, a padded enum.
BATCH_1 = (f"{HEADER}\n"
           "1,12.50,USD,Purchase,PayPal,Pending,7,2024-01-02\n"
           "2,100.00,EUR,Refund,Credit Card,Completed,,2024-01-03\n"
           "3,5.00,gbp, Purchase,Debit Card,Completed,9,2024-02-29\n")
# A new transaction, and the first one's status going from Pending to Completed.
BATCH_2 = (f"{HEADER}\n"
           "1,12.50,USD,Purchase,PayPal,Completed,7,2024-01-02\n"
           "4,75.25,USD,Purchase,PayPal,Pending,8,2025-01-01\n")
SOURCE_COLUMNS = list(SRC.columns)
_schemas = itertools.count()


@dataclass
class Server:
    port: int
    password: str
    env: dict

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/payments"

    @property
    def target(self) -> Target:
        return Target("127.0.0.1", self.port, "payments", "lakehouse")

    def sql(self, statement: str) -> list[str]:
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "lakehouse", "-d", "payments", "-c", statement],
            env={**os.environ, "PGPASSWORD": self.password}, capture_output=True, text=True, check=True)
        return out.stdout.splitlines()

    def pg_ctl(self, action: str) -> None:
        data = Path(self.env["LAKEHOUSE_PG_DIR"]) / "data"
        pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))[-1]
        subprocess.run(["runuser", "-u", "postgres", "--", str(pg_ctl), "-D", str(data), "-w", "-l",
                        str(data.parent / "server.log"), action], check=True, capture_output=True)

    @contextlib.contextmanager
    def down(self):
        self.pg_ctl("stop")
        try:
            yield
        finally:
            self.pg_ctl("start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres():
    """A throwaway server on a free loopback port, for the whole test session; stopped and deleted after."""
    port = _free_port()
    password = "pw-" + secrets.token_urlsafe(12)
    env = {**os.environ, "LAKEHOUSE_PG_PORT": str(port), "LAKEHOUSE_PG_DIR": f"/tmp/lakehouse-pg-test-{port}",
           PASSWORD_ENV: password}
    started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=900)
    assert started.returncode == 0, f"scripts/postgres.sh start failed:\n{started.stdout}\n{started.stderr}"
    assert started.stdout.strip() == f"jdbc:postgresql://127.0.0.1:{port}/payments"
    previous = os.environ.get(PASSWORD_ENV)
    os.environ[PASSWORD_ENV] = password
    try:
        yield Server(port, password, env)
    finally:
        if previous is None:
            os.environ.pop(PASSWORD_ENV, None)
        else:
            os.environ[PASSWORD_ENV] = previous
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


@dataclass
class Lake:
    """One test's lake database reading one test's table in the server."""

    cfg: Config
    table: str
    server: Server

    def land(self, batch: str, text: str, name: str | None = None) -> None:
        folder = Path(self.cfg.path("landing")) / SRC.name / f"batch={batch}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / (name or f"The_transaction_{batch.replace('-', '')}.csv")).write_text(text)

    def load(self) -> dict:
        return load_landing(self.server.target, self.server.password, Path(self.cfg.path("landing")), SRC,
                            self.table)

    def extract(self, spark, run_id: str):
        ctx = JobContext(spark=spark, cfg=self.cfg, run_id=run_id, job="bronze_payments_jdbc", log=lambda m: None)
        return jdbc.run(ctx, SRC.name)

    def bronze(self, spark):
        return spark.table(f"{self.cfg.database('bronze')}.payments_the_transaction")

    def marks(self, spark):
        return spark.table(f"{self.cfg.database('ops')}.jdbc_watermark")

    def rows(self, spark, *extra: str) -> set[tuple]:
        cols = [*SOURCE_COLUMNS, F.col("_batch").cast("string"), *extra]
        return {tuple(r) for r in self.bronze(spark).select(*cols).collect()}

    @property
    def origin(self) -> str:
        return f"{self.server.url}#{self.table.split('.')[0]}.The_transaction"


def with_jdbc_source(cfg: Config, url: str, table: str, overrides: dict | None = None) -> Config:
    raw = dict(cfg.raw)
    raw["sources"] = {"payments": {
        "kind": "jdbc", "url": url, "table": table, "user": "lakehouse", "password_env": PASSWORD_ENV,
        "partition_column": "Transaction_id", "watermark_column": "modified_at", "batch_column": "batch",
        "num_partitions": 2, **(overrides or {})}}
    return Config(env=cfg.env, root=cfg.root, raw=raw)


@pytest.fixture
def lake(lake_cfg, postgres) -> Lake:
    table = f't{os.getpid()}_{next(_schemas)}."The_transaction"'
    return Lake(with_jdbc_source(lake_cfg, postgres.url, table), table, postgres)


@pytest.mark.services
def test_initial_extract_writes_every_row_as_text_from_the_database(spark, lake):
    lake.land("2025-01-01", BATCH_1)
    lake.load()
    result = lake.extract(spark, "r1")

    assert lake.rows(spark, "_source_file", "_run_id", "_corrupt_reason", "_rescued_data", "_missing_columns") == {
        (*row, "2025-01-01", lake.origin, "r1", None, None, None) for row in (
            ("1", "12.50", "USD", "Purchase", "PayPal", "Pending", "7", "2024-01-02"),
            ("2", "100.00", "EUR", "Refund", "Credit Card", "Completed", None, "2024-01-03"),
            ("3", "5.00", "gbp", " Purchase", "Debit Card", "Completed", "9", "2024-02-29"))}
    newest = lake.server.sql(
        f"SELECT to_char(max(modified_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM {lake.table}")[0]
    marks = lake.marks(spark).select(
        "source", "origin", "extract_version", F.date_format("mark_modified_at", "yyyy-MM-dd HH:mm:ss.SSSSSS"),
        "last_id", "rows_extracted", "partitions", "recovered", "run_id").collect()
    assert [tuple(m) for m in marks] == [(SRC.name, lake.origin, 1, newest, 3, 3, 2, False, "r1")]
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (3, 3, 0)
    assert find_clear_text(Path(lake.cfg.root), {lake.server.password}) == []


@pytest.mark.services
def test_incremental_extract_takes_new_rows_and_late_status_changes_only(spark, lake):
    lake.land("2025-01-01", BATCH_1)
    lake.load()
    lake.extract(spark, "r1")
    lake.land("2025-01-02", BATCH_2)
    lake.load()
    # The payment system itself refunds an old transaction: only its modification time says so.
    lake.server.sql(f"UPDATE {lake.table} SET payment_status = 'Refunded' WHERE \"Transaction_id\" = 3")
    result = lake.extract(spark, "r2")

    assert {r[:-1] for r in lake.rows(spark, "_run_id") if r[-1] == "r2"} == {
        ("1", "12.50", "USD", "Purchase", "PayPal", "Completed", "7", "2024-01-02", "2025-01-02"),
        ("4", "75.25", "USD", "Purchase", "PayPal", "Pending", "8", "2025-01-01", "2025-01-02"),
        ("3", "5.00", "gbp", " Purchase", "Debit Card", "Refunded", "9", "2024-02-29", "2025-01-01")}
    assert [tuple(r) for r in lake.marks(spark).orderBy("extract_version")
            .select("extract_version", "last_id", "rows_extracted").collect()] == [(1, 3, 3), (2, 4, 3)]
    assert result.rows_written == 3


@pytest.mark.services
def test_a_rerun_with_nothing_new_in_the_database_adds_nothing(spark, lake):
    lake.land("2025-01-01", BATCH_1)
    lake.load()
    lake.extract(spark, "r1")
    assert lake.load()["batches"] == []  # the loader's own rerun changes nothing either
    again = lake.extract(spark, "r2")

    assert (again.rows_written, lake.bronze(spark).count(), lake.marks(spark).count()) == (0, 3, 1)
    assert spark.sql(f"DESCRIBE HISTORY {lake.cfg.database('bronze')}.payments_the_transaction").count() == 2


@pytest.mark.services
def test_a_database_that_is_down_fails_in_one_line_and_writes_nothing(spark, lake):
    lake.land("2025-01-01", BATCH_1)
    lake.load()
    with lake.server.down(), pytest.raises(LakehouseError) as err:
        lake.extract(spark, "r1")

    message = str(err.value)
    assert message.startswith(f"cannot read {lake.table} from 127.0.0.1:{lake.server.port}/payments as lakehouse: ")
    assert "refused" in message and "\n" not in message and lake.server.password not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert (lake.bronze(spark).count(), lake.marks(spark).count()) == (0, 0)


@pytest.mark.services
def test_a_wrong_password_fails_in_one_line_naming_the_cause(spark, lake, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    with pytest.raises(LakehouseError) as err:
        lake.extract(spark, "r1")
    assert str(err.value) == (f"cannot read {lake.table} from 127.0.0.1:{lake.server.port}/payments as lakehouse: "
                              'password authentication failed for user "lakehouse"')
    assert lake.bronze(spark).count() == 0


@pytest.mark.services
def test_bronze_rows_from_the_database_equal_those_from_the_files(spark, lake, tmp_path):
    files = make_cfg(Path(lake.cfg.root), f"files{os.getpid()}_{next(_schemas)}")  # same landing folder
    ensure_tables(spark, files, [bronze_table(SRC), lakedb.table("ops.ingested_file")])
    ctx = JobContext(spark=spark, cfg=files, run_id="f", job="bronze_payments_the_transaction", log=lambda m: None)
    for batch, text in (("2025-01-01", BATCH_1), ("2025-01-02", BATCH_2)):
        lake.land(batch, text)
        lake.load()
        lake.extract(spark, f"db{batch}")
        ingest.run(ctx, SRC.name)

    from_files = {tuple(r) for r in spark.table(f"{files.database('bronze')}.payments_the_transaction")
                  .select(*SOURCE_COLUMNS, F.col("_batch").cast("string")).collect()}
    assert lake.rows(spark) == from_files
    assert len(from_files) == 5


@pytest.mark.services
def test_a_run_that_stopped_after_its_bronze_commit_is_completed_without_duplicates(spark, lake):
    lake.land("2025-01-01", BATCH_1)
    lake.load()
    first = lake.extract(spark, "r1")
    # The run died after appending to bronze, before recording the mark.
    spark.sql(f"DELETE FROM {lake.cfg.database('ops')}.jdbc_watermark")
    again = lake.extract(spark, "r2")

    assert [tuple(r) for r in lake.marks(spark).select(
        "extract_version", "rows_extracted", "recovered", "run_id",
        F.date_format("mark_modified_at", "yyyy-MM-dd HH:mm:ss.SSSSSS")).collect()] == [
        (1, 3, True, "r1", first.detail["mark"])]
    assert (again.rows_written, again.detail["recovered"], lake.bronze(spark).count()) == (0, True, 3)


@pytest.mark.services
def test_the_loader_keeps_one_row_per_key_and_records_what_it_could_not_load(lake, postgres):
    first = (BATCH_1 + "C5,1.00,USD,Purchase,PayPal,Completed,1,2024-01-01\n"
             '6,"2.00,USD,Purchase,PayPal,Completed,1,2024-01-01\n'
             "7,3.00,USD,Purchase,PayPal,Completed,1,yesterday\n"
             "2,100.00,EUR,Refund,Credit Card,Refunded,,2024-01-03\n")
    lake.land("2025-01-01", first)
    lake.land("2025-01-02", first, name="The_transaction_20250101_resend.csv")
    summary = lake.load()

    assert [(b["batch"], b["inserted"], b["superseded_in_batch"], b["files_resent_unchanged"], b["rejected"])
            for b in summary["batches"]] == [
        ("2025-01-01", 3, 1, 0, {"balanced_quotes": 1, "type:Transaction_Date": 1, "type:Transaction_id": 1}),
        ("2025-01-02", 0, 0, 1, {})]
    # The later line of a key wins within a batch; the re-sent first file does not undo it.
    assert postgres.sql(f'SELECT "Transaction_id", payment_status, batch FROM {lake.table} ORDER BY 1') == [
        "1|Pending|2025-01-01", "2|Refunded|2025-01-01", "3|Completed|2025-01-01"]
    schema = lake.table.split(".")[0]
    assert postgres.sql(f"SELECT line, reason FROM {schema}.lakehouse_load_reject ORDER BY line") == [
        "5|type:Transaction_id", "6|balanced_quotes", "7|type:Transaction_Date"]


@pytest.mark.services
def test_the_loader_moves_modified_at_only_for_rows_that_changed(lake, postgres):
    lake.land("2025-01-01", BATCH_1)
    lake.load()
    before = postgres.sql(f'SELECT "Transaction_id", modified_at FROM {lake.table} ORDER BY 1')
    lake.land("2025-01-02", BATCH_2)
    summary = lake.load()
    after = postgres.sql(f'SELECT "Transaction_id", modified_at FROM {lake.table} ORDER BY 1')

    assert [(b["inserted"], b["updated"], b["unchanged"]) for b in summary["batches"]] == [(1, 1, 0)]
    assert [a == b for a, b in zip(after[:3], before, strict=True)] == [False, True, True]
    assert len(after) == 4


def test_the_loader_takes_batch_folders_in_day_order_and_names_those_that_name_no_day(tmp_path):
    folder = tmp_path / SRC.system / SRC.entity
    for name in ("batch=2025-01-02", "batch=2025-13-45", "batch=2025-01-01", "batch=2025-1-3"):
        (folder / name).mkdir(parents=True)
        (folder / name / "t.csv").write_text("Transaction_id\n1\n")
    (folder / "batch=2025-01-04").write_text("a file, not a folder")
    assert landing_batches(tmp_path, SRC) == (
        [(dt.date(2025, 1, 1), [folder / "batch=2025-01-01" / "t.csv"]),
         (dt.date(2025, 1, 2), [folder / "batch=2025-01-02" / "t.csv"])],
        ["batch=2025-1-3", "batch=2025-13-45"])


def test_partitions_never_outnumber_rows_or_keys():
    assert [jdbc.partitions_for(rows, lo, hi, 4) for rows, lo, hi in
            [(1, 7, 7), (3, 1, 3), (1000, 1, 2), (1000, 1, 1000), (2, 1, 1000)]] == [1, 3, 2, 4, 2]


def test_extract_sql_reads_only_the_window_with_every_column_as_text():
    spec = jdbc_source(with_jdbc_source(make_cfg(Path("/tmp/x"), "x"), "jdbc:postgresql://h:1/db",
                                        'public."The_transaction"'), SRC.name)
    cols = jdbc.resolve_columns([*SOURCE_COLUMNS, "modified_at", "batch", "card_token"], SRC, spec)
    sql = jdbc.extract_sql(spec, cols, "2025-01-01 10:00:00.000001", "2025-01-02 00:00:00.000000")
    assert sql == (
        'SELECT "Transaction_id" AS __lakehouse_key, '
        + ", ".join(f'"{c}"::text AS "{c}"' for c in SOURCE_COLUMNS)
        + ', "batch"::date AS __lakehouse_batch FROM "public"."The_transaction" '
        "WHERE \"modified_at\" > '2025-01-01 10:00:00.000001' AND \"modified_at\" <= '2025-01-02 00:00:00.000000'")
    with pytest.raises(ValueError):
        jdbc.extract_sql(spec, cols, "2025-01-01'; DROP TABLE x; --", "2025-01-02 00:00:00.000000")


def test_extra_and_missing_database_columns_are_rescued_and_flagged(spark):
    extract = spark.createDataFrame(
        [(1, "1", "9.99", "USD", "Purchase", "PayPal", "Completed", "2024-01-01", "gold", None)],
        "__lakehouse_key long, TRANSACTION_ID string, amount string, currency string, Transaction_type string, "
        "payment_method string, payment_status string, Transaction_Date string, loyalty_tier string, "
        "__lakehouse_batch date")
    import datetime as dt

    out = jdbc.to_bronze(extract, SRC, origin="jdbc:x#s.t", run_id="r", ingested_at=dt.datetime(2025, 1, 2),
                         extract_day=dt.date(2025, 1, 2))
    row = out.first().asDict()
    assert out.columns == lakedb.table("bronze.payments_the_transaction").column_names
    assert (row["Transaction_id"], row["customer_id"], row["_rescued_data"], row["_missing_columns"],
            row["_batch"], row["_source_file"]) == ("1", None, '{"loyalty_tier":"gold"}', ["customer_id"],
                                                    dt.date(2025, 1, 2), "jdbc:x#s.t")


def test_jdbc_settings_are_checked_and_files_envs_skip_the_job(lake_cfg):
    ok = with_jdbc_source(lake_cfg, "jdbc:postgresql://127.0.0.1:5432/payments", 'public."The_transaction"')
    assert jdbc_source(ok, "payments/The_transaction").origin == \
        "jdbc:postgresql://127.0.0.1:5432/payments#public.The_transaction"
    assert jdbc_source(ok, "payments_v2/The_transaction") is None
    for bad, reason in [({"url": "jdbc:postgresql://h:1/db?password=x"}, "must not carry a password"),
                        ({"table": "a.b.c"}, "invalid table name"), ({"num_partitions": 0}, "positive integer"),
                        ({"kind": "odbc"}, "kind must be files or jdbc")]:
        with pytest.raises(ConfigError, match=reason):
            jdbc_source(with_jdbc_source(lake_cfg, "jdbc:postgresql://127.0.0.1:5432/payments",
                                         'public."The_transaction"', bad), "payments/The_transaction")
    ctx = JobContext(spark=None, cfg=lake_cfg, run_id="r", log=lambda m: None)
    assert jdbc.run(ctx, SRC.name).detail == {"skipped": "payments/The_transaction is read from landing files in this env"}
    ctx.cfg = ok
    assert ingest.run(ctx, SRC.name).detail == {"skipped": "payments/The_transaction is read over JDBC in this env"}
