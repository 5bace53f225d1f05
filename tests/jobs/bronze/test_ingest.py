"""Bronze ingestion on small hand-written landing files: one behaviour per test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

import lakedb
from jobs.bronze import ingest
from lakedb.bronze import bronze_table
from lakedb.sources import source
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.context import DeferredAppends, JobContext

CUSTOMER_HEADER = "customer_id,date_of_birth,gender,email,username,Account_password,FName,LName"


def land(cfg, source: str, batch: str, name: str, data: bytes) -> Path:
    folder = Path(cfg.path("landing")) / source / f"batch={batch}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def ingest_source(spark, cfg, source_name: str, run_id: str = "r1"):
    src = source(source_name)
    ensure_tables(spark, cfg, [bronze_table(src), *(t for t in lakedb.TABLES if t.layer == "ops")])
    ctx = JobContext(spark=spark, cfg=cfg, run_id=run_id, job="t", log=lambda m: None)
    return ingest.run(ctx, source_name)


@pytest.fixture
def cfg(lake_cfg):
    return lake_cfg


def test_parsed_rows_keep_source_columns_and_drop_the_password(spark, cfg):
    land(cfg, "crm/customer", "2025-01-01", "customer_20250101.csv",
         f"{CUSTOMER_HEADER}\n1,1990-02-03,M,a@b.com,ann,S3cr3t!pw,Ann,Lee\n2,,F,c@d.com,bo,Pa55#word,Bo,Ng\n".encode())
    result = ingest_source(spark, cfg, "crm/customer")
    got = spark.table(f"{cfg.database('bronze')}.crm_customer").select(
        "customer_id", "date_of_birth", "gender", "email", "username", "FName", "LName", "_corrupt_reason",
        F.col("_batch").cast("string").alias("batch"))
    expected = spark.createDataFrame(
        [("1", "1990-02-03", "M", "a@b.com", "ann", "Ann", "Lee", None, "2025-01-01"),
         ("2", None, "F", "c@d.com", "bo", "Bo", "Ng", None, "2025-01-01")],
        got.schema)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    assert "Account_password" not in spark.table(f"{cfg.database('bronze')}.crm_customer").columns
    assert (result.rows_written, result.rows_quarantined) == (2, 0)


def test_malformed_lines_are_kept_with_reason_and_redacted_raw_line(spark, cfg):
    land(cfg, "crm/customer", "2025-01-01", "c.csv",
         (f"{CUSTOMER_HEADER}\n"
          "1,1990-02-03,M,a@b.com,ann,S3cr3t!pw,Ann,Lee\n"
          "2,1990-02-03,M,\"x@y.com,bob,Hidden#1,Bob,Ray\n"
          "3,1990-02-03,F,z@y.com,zed,Hidden#2,Zed,Fox,extra\n"
          "4,1990-02-03,F,w@y.com,wil,Hidden#3,Wil\n").encode()
         + b"5,1990-02-03,F,e@y.com,eve,Hidden#4,Ren\xe9e,Fox\n")
    ingest_source(spark, cfg, "crm/customer")
    got = (spark.table(f"{cfg.database('bronze')}.crm_customer").where("_corrupt_reason IS NOT NULL")
           .select("_corrupt_reason", "_raw_line").orderBy("_raw_line"))
    rows = [tuple(r) for r in got.collect()]
    assert rows == [
        ("balanced_quotes", "2,1990-02-03,M,\"x@y.com,bob,<redacted>,Bob,Ray"),
        ("column_count", "3,1990-02-03,F,z@y.com,zed,<redacted>,<redacted>,Fox,extra"),
        ("column_count", "4,1990-02-03,F,w@y.com,<redacted>,<redacted>,Wil"),
        ("utf8_encoding", "5,1990-02-03,F,e@y.com,eve,<redacted>,Ren\ufffde,Fox"),
    ]
    sealed = spark.table(f"{cfg.database('bronze')}.crm_customer").where("_corrupt_reason IS NOT NULL") \
        .where(F.col("_raw_line_sealed").isNull()).count()
    assert sealed == 0


def test_rerun_reads_nothing_and_a_new_batch_adds_exactly_its_rows(spark, cfg):
    land(cfg, "crm/Customer_phone", "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n5550002222,2\n")
    land(cfg, "crm/Customer_phone", "2025-01-02", "p2.csv", b"phone,customer_id\n5550003333,3\n")
    first = ingest_source(spark, cfg, "crm/Customer_phone", "r1")
    again = ingest_source(spark, cfg, "crm/Customer_phone", "r2")
    land(cfg, "crm/Customer_phone", "2025-01-03", "p3.csv", b"phone,customer_id\n5550004444,4\n5550005555,5\n")
    third = ingest_source(spark, cfg, "crm/Customer_phone", "r3")
    assert (first.rows_written, again.rows_written, third.rows_written) == (3, 0, 2)
    per_run = {r._run_id: r.n for r in spark.table(f"{cfg.database('bronze')}.crm_customer_phone")
               .groupBy("_run_id").agg(F.count("*").alias("n")).collect()}
    assert per_run == {"r1": 3, "r3": 2}


def test_extra_column_is_rescued_and_missing_column_flagged(spark, cfg):
    land(cfg, "crm/The_Address", "2025-01-01", "a.csv",
         b"country,city,customer_id,loyalty_tier\r\nEgypt,Cairo,1,gold\r\n")
    ingest_source(spark, cfg, "crm/The_Address")
    row = spark.table(f"{cfg.database('bronze')}.crm_the_address").first()
    assert (row.country, row.government, row.city, row.customer_id) == ("Egypt", None, "Cairo", "1")
    assert row._rescued_data == '{"loyalty_tier":"gold"}'
    assert row._missing_columns == ["government"]
    flags = spark.table(f"{cfg.database('ops')}.ingested_file").first().flags
    assert flags == ["crlf", "extra_columns", "missing_columns"]


def test_json_lines_parse_rescue_and_quarantine(spark, cfg):
    land(cfg, "contact_center/interaction", "2025-01-01", "i.jsonl",
         b'{"Interaction_id": 7, "interaction_type": "Complaint", "interaction_outcome": "Resolved", '
         b'"follow_up_required": "No", "interaction_channel": "Email", "follow_up_date": null, '
         b'"customer_id": 1, "interaction_date": "2024-12-31", "mood": "angry"}\n'
         b'{"Interaction_id": 8, "broken": \n'
         b'[1, 2]\n')
    result = ingest_source(spark, cfg, "contact_center/interaction")
    rows = spark.table(f"{cfg.database('bronze')}.contact_center_interaction").orderBy("_raw_line").collect()
    parsed = [r for r in rows if r._corrupt_reason is None]
    assert [(r.Interaction_id, r.customer_id, r.follow_up_date, r._rescued_data) for r in parsed] == [
        ("7", "1", None, '{"mood":"angry"}')]
    assert sorted((r._corrupt_reason, r._raw_line) for r in rows if r._corrupt_reason) == [
        ("valid_json", '[1, 2]'), ("valid_json", '{"Interaction_id": 8, "broken": ')]
    assert (result.rows_written, result.rows_quarantined) == (1, 2)


def test_json_lines_after_a_byte_order_mark_parse_and_absent_keys_are_flagged_in_contract_order(spark, cfg):
    land(cfg, "contact_center/interaction", "2025-01-01", "bom.jsonl",
         b'\xef\xbb\xbf{"Interaction_id": 9, "customer_id": 2}\n'
         b'{"interaction_date": "2025-01-01", "customer_id": 3, "Interaction_id": 10}\n')
    result = ingest_source(spark, cfg, "contact_center/interaction")
    rows = spark.table(f"{cfg.database('bronze')}.contact_center_interaction").orderBy("Interaction_id").collect()
    absent = ["interaction_type", "interaction_outcome", "follow_up_required", "interaction_channel",
              "follow_up_date"]
    assert [(r.Interaction_id, r.customer_id, r._corrupt_reason, r._missing_columns, r._rescued_data)
            for r in rows] == [("10", "3", None, absent, None), ("9", "2", None, absent + ["interaction_date"], None)]
    assert (result.rows_written, result.rows_quarantined) == (2, 0)


def test_empty_and_header_only_files_are_recorded_with_zero_rows(spark, cfg):
    land(cfg, "crm/Customer_phone", "2025-01-01", "empty.csv", b"")
    land(cfg, "crm/Customer_phone", "2025-01-01", "header.csv", b"phone,customer_id\n")
    ingest_source(spark, cfg, "crm/Customer_phone")
    got = {Path(r.file).name: (r.rows_read, r.flags) for r in
           spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    assert got == {"empty.csv": (0, ["empty_file"]), "header.csv": (0, [])}


def test_a_ledger_row_recovered_after_a_crash_equals_the_first_one(spark, cfg):
    land(cfg, "crm/The_Address", "2025-01-01", "a.csv",
         b"country,city,customer_id,loyalty_tier\r\nEgypt,Cairo,1,gold\r\n")
    ingest_source(spark, cfg, "crm/The_Address")
    ledger = f"{cfg.database('ops')}.ingested_file"
    cols = ["source", "file", "batch", "size_bytes", "rows_read", "rows_written", "rows_quarantined", "flags"]
    first = spark.table(ledger).select(*cols).collect()
    spark.sql(f"DELETE FROM {ledger}")  # the crash: bronze committed, the ledger row never did
    result = ingest_source(spark, cfg, "crm/The_Address", run_id="r2")
    assert result.detail == {"files_new": 0, "files_recovered": 1}
    assert spark.table(ledger).select(*cols).collect() == first
    assert first[0].flags == ["crlf", "extra_columns", "missing_columns"]
    assert spark.table(f"{cfg.database('bronze')}.crm_the_address").count() == 1


def test_under_the_runner_bronze_history_is_read_only_after_a_run_that_did_not_succeed(spark, cfg, monkeypatch):
    """Bronze ahead of the ledger is left by a run that failed or died. The runner knows those runs: without one
    since the source's last ledger entry (with none: ever) the table's history is not read; after one, the orphan
    is recovered."""
    src = "crm/Customer_phone"
    ensure_tables(spark, cfg, [bronze_table(source(src)), *(t for t in lakedb.TABLES if t.layer == "ops")])
    histories = []
    real = ingest.last_append_run
    monkeypatch.setattr(ingest, "last_append_run", lambda s, t: histories.append(t) or real(s, t))

    def run(run_id, unclean, deferred=None):
        ctx = JobContext(spark=spark, cfg=cfg, run_id=run_id, job="t", log=lambda m: None, layer="bronze",
                         unclean_runs=unclean, deferred=deferred)
        return ingest.run(ctx, src)

    land(cfg, src, "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n")
    assert run("r1", ()).detail == {"files_new": 1, "files_recovered": 0}
    assert histories == []  # a first load on a lake where no run ever failed: nothing to recover
    # A run that failed an hour before the ledger's last entry was repaired since: not a reason to look.
    an_hour_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
    assert run("r2", (("old", an_hour_ago),)).detail == {"files_new": 0, "files_recovered": 0}
    assert histories == []
    land(cfg, src, "2025-01-02", "p2.csv", b"phone,customer_id\n5550002222,2\n")
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert run("r3", (), DeferredAppends()).detail == {"files_new": 1, "files_recovered": 0}  # killed: no ledger row
    assert histories == []
    # r3 did not end `succeeded` (ops.run_log says `running`): its append is found and recorded, not read again.
    assert run("r4", (("old", an_hour_ago), ("r3", started))).detail == {"files_new": 0, "files_recovered": 1}
    assert len(histories) == 1
    bronze = spark.table(f"{cfg.database('bronze')}.crm_customer_phone")
    assert sorted((r.customer_id, r._run_id) for r in bronze.collect()) == [("1", "r1"), ("2", "r3")]


def test_a_first_load_killed_before_its_ledger_commit_is_recovered_by_the_next_run(spark, cfg, monkeypatch):
    """No ledger entry for the source yet, but a run that did not succeed: the history is read, the orphan found."""
    src = "crm/Customer_phone"
    ensure_tables(spark, cfg, [bronze_table(source(src)), *(t for t in lakedb.TABLES if t.layer == "ops")])
    histories = []
    real = ingest.last_append_run
    monkeypatch.setattr(ingest, "last_append_run", lambda s, t: histories.append(t) or real(s, t))
    land(cfg, src, "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n")
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    killed = JobContext(spark=spark, cfg=cfg, run_id="r1", job="t", log=lambda m: None, layer="bronze",
                        unclean_runs=(), deferred=DeferredAppends())  # its ledger rows never flushed
    assert ingest.run(killed, src).detail == {"files_new": 1, "files_recovered": 0}
    rerun = JobContext(spark=spark, cfg=cfg, run_id="r2", job="t", log=lambda m: None, layer="bronze",
                       unclean_runs=(("r1", started),))
    assert ingest.run(rerun, src).detail == {"files_new": 0, "files_recovered": 1}
    assert len(histories) == 1
    bronze = spark.table(f"{cfg.database('bronze')}.crm_customer_phone")
    assert [(r.customer_id, r._run_id) for r in bronze.collect()] == [("1", "r1")]
    ledger = spark.table(f"{cfg.database('ops')}.ingested_file").where(F.col("source") == src)
    assert [(Path(r.file).name, r.rows_written, r.run_id) for r in ledger.collect()] == [("p1.csv", 1, "r2")]


def test_two_runs_killed_before_their_ledger_commit_still_ingest_every_row_once(spark, cfg):
    """Under the runner the ledger rows wait for the run's end; a run killed before leaves bronze ahead of the
    ledger. The next run commits what it recovers at once, so a second kill (after its own append) loses nothing."""
    src = "crm/Customer_phone"
    ensure_tables(spark, cfg, [bronze_table(source(src)), *(t for t in lakedb.TABLES if t.layer == "ops")])

    def killed_run(run_id):  # rows handed to the runner's buffer, which is never flushed: the process died
        ctx = JobContext(spark=spark, cfg=cfg, run_id=run_id, job="t", log=lambda m: None, layer="bronze",
                         deferred=DeferredAppends())
        return ingest.run(ctx, src)

    land(cfg, src, "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n5550002222,2\n")
    assert killed_run("r1").rows_written == 2
    land(cfg, src, "2025-01-02", "p2.csv", b"phone,customer_id\n5550003333,3\n")
    second = killed_run("r2")
    assert (second.rows_written, second.detail["files_recovered"]) == (1, 1)
    land(cfg, src, "2025-01-03", "p3.csv", b"phone,customer_id\n5550004444,4\n")
    third = ingest_source(spark, cfg, src, "r3")
    assert (third.rows_written, third.detail) == (1, {"files_new": 1, "files_recovered": 1})
    bronze = spark.table(f"{cfg.database('bronze')}.crm_customer_phone")
    assert sorted((r.customer_id, r._run_id) for r in bronze.collect()) == [
        ("1", "r1"), ("2", "r1"), ("3", "r2"), ("4", "r3")]
    ledger = spark.table(f"{cfg.database('ops')}.ingested_file").where(F.col("source") == src)
    assert sorted((Path(r.file).name, r.rows_written, r.run_id) for r in ledger.collect()) == [
        ("p1.csv", 2, "r2"), ("p2.csv", 1, "r3"), ("p3.csv", 1, "r3")]


def test_files_whose_names_need_escaping_are_counted_and_never_read_twice(spark, cfg):
    # Spark names a file in `_metadata.file_path` URL-encoded ("a%20b"); the ledger has the name as listed ("a b").
    land(cfg, "crm/Customer_phone", "2025-01-01", "export 1+2 100%.csv",
         b"phone,customer_id\n5550001111,1\n5550002222,2\n")
    land(cfg, "crm/Customer_phone", "2025-01-01", "no header (copy).csv", b"5550003333,3\n5550004444,4\n5550005555,5\n")
    land(cfg, "contact_center/interaction", "2025-01-01", "calls #2 é.jsonl", b"[1]\n[2]\n")
    first = ingest_source(spark, cfg, "crm/Customer_phone")
    ingest_source(spark, cfg, "contact_center/interaction")
    ledger = f"{cfg.database('ops')}.ingested_file"
    got = {Path(r.file).name: (r.rows_read, r.rows_quarantined) for r in spark.table(ledger).collect()}
    assert got == {"export 1+2 100%.csv": (2, 0), "no header (copy).csv": (3, 3), "calls #2 é.jsonl": (2, 2)}
    assert (first.rows_written, first.rows_quarantined) == (2, 3)
    for table, name in (("crm_customer_phone", "crm/Customer_phone"), ("contact_center_interaction",
                                                                        "contact_center/interaction")):
        in_bronze = spark.table(f"{cfg.database('bronze')}.{table}").select("_source_file").distinct().collect()
        in_ledger = spark.table(ledger).where(F.col("source") == name).select("file").collect()
        assert sorted(r[0] for r in in_bronze) == sorted(r[0] for r in in_ledger)
    spark.sql(f"DELETE FROM {ledger} WHERE source = 'crm/Customer_phone'")  # a crash before the ledger commit
    again = ingest_source(spark, cfg, "crm/Customer_phone", run_id="r2")
    assert again.detail == {"files_new": 0, "files_recovered": 2}
    assert spark.table(f"{cfg.database('bronze')}.crm_customer_phone").count() == 5


def test_file_names_with_glob_characters_are_read_as_named(spark, cfg):
    # Spark treats the paths it is given as glob patterns: "p[1].csv" would mean "p1.csv".
    land(cfg, "crm/Customer_phone", "2025-01-01", "p[1].csv", b"phone,customer_id\n5550001111,1\n")
    land(cfg, "crm/Customer_phone", "2025-01-01", "p1.csv", b"phone,customer_id\n5550002222,2\n")
    land(cfg, "crm/Customer_phone", "2025-01-01", "q{a,b}*?.csv", b"phone,customer_id\n5550003333,3\n")
    land(cfg, "crm/Customer_phone", "2025-01-01", "r\\s.csv", b"phone,customer_id\n5550004444,4\n")
    land(cfg, "contact_center/interaction", "2025-01-01", "i[2].jsonl", b"[1]\n")
    land(cfg, "crm/customer", "2025-01-01", "c[3].csv", b"no;key;columns\n1;2;3\n")
    assert ingest_source(spark, cfg, "crm/Customer_phone").rows_written == 4
    ingest_source(spark, cfg, "contact_center/interaction")
    ingest_source(spark, cfg, "crm/customer")
    got = {Path(r.file).name: r.rows_read for r in spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    assert got == {"p[1].csv": 1, "p1.csv": 1, "q{a,b}*?.csv": 1, "r\\s.csv": 1, "i[2].jsonl": 1, "c[3].csv": 2}
    phones = spark.table(f"{cfg.database('bronze')}.crm_customer_phone").select("phone", "_source_file").collect()
    assert sorted((p, Path(f).name) for p, f in phones) == [
        ("5550001111", "p[1].csv"), ("5550002222", "p1.csv"), ("5550003333", "q{a,b}*?.csv"),
        ("5550004444", "r\\s.csv")]


def test_a_file_rewritten_in_place_is_not_read_again_but_named_each_run(spark, cfg):
    path = land(cfg, "crm/Customer_phone", "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n")
    ingest_source(spark, cfg, "crm/Customer_phone", "r1")
    path.write_bytes(b"phone,customer_id\n5550001111,1\n5550002222,2\n")
    logged: list[str] = []
    ctx = JobContext(spark=spark, cfg=cfg, run_id="r2", job="t", log=logged.append)
    result = ingest.run(ctx, "crm/Customer_phone")
    assert (result.rows_read, result.detail) == (0, {"files_new": 0, "files_recovered": 0,
                                                    "files_changed_after_ingestion": 1})
    assert logged[-1] == ("WARNING 1 file(s) changed size after they were ingested and are not read again; deliver "
                          f"new content under a new name: file:{path}")
    assert spark.table(f"{cfg.database('bronze')}.crm_customer_phone").count() == 1


def test_a_file_with_old_mac_line_ends_is_parsed_line_by_line(spark, cfg):
    land(cfg, "crm/Customer_phone", "2025-01-01", "mac.csv", b"phone,customer_id\r5550001111,1\r5550002222,2\r")
    land(cfg, "crm/Customer_phone", "2025-01-01", "nul.csv", b"\x00phone\x00\n5550003333,3\n")
    result = ingest_source(spark, cfg, "crm/Customer_phone")
    got = sorted((Path(r._source_file).name, r.phone, r.customer_id, r._corrupt_reason, r._raw_line) for r in
                 spark.table(f"{cfg.database('bronze')}.crm_customer_phone").collect())
    assert got == [("mac.csv", "5550001111", "1", None, None), ("mac.csv", "5550002222", "2", None, None),
                   ("nul.csv", None, None, "expected_header", "\x00phone\x00"),
                   ("nul.csv", None, None, "expected_header", "5550003333,3")]
    flags = {Path(r.file).name: r.flags for r in spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    assert flags == {"mac.csv": ["cr"], "nul.csv": ["unrecognised_header"]}
    assert (result.rows_written, result.rows_quarantined) == (2, 2)


def test_a_batch_folder_naming_no_real_day_falls_back_to_the_ingestion_day(spark, cfg):
    land(cfg, "crm/Customer_phone", "2025-13-45", "p.csv", b"phone,customer_id\n5550001111,1\n")
    land(cfg, "crm/Customer_phone", "2025-01-02", "q.csv", b"phone,customer_id\n5550002222,2\n")
    loose = Path(cfg.path("landing")) / "crm/Customer_phone/loose.csv"
    loose.write_bytes(b"phone,customer_id\n5550003333,3\n")
    spark.conf.set("spark.sql.ansi.enabled", "true")  # Spark 4's default: an invalid date fails a plain cast
    try:
        assert ingest_source(spark, cfg, "crm/Customer_phone").rows_written == 3
    finally:
        spark.conf.unset("spark.sql.ansi.enabled")
    ledger = {Path(r.file).name: (r.batch, r.ingested_at.date()) for r in
              spark.table(f"{cfg.database('ops')}.ingested_file").collect()}
    today = ledger["p.csv"][1]
    assert ledger == {"p.csv": (None, today), "q.csv": (dt.date(2025, 1, 2), today), "loose.csv": (None, today)}
    batches = {r.phone: r._batch for r in spark.table(f"{cfg.database('bronze')}.crm_customer_phone").collect()}
    assert batches == {"5550001111": today, "5550002222": dt.date(2025, 1, 2), "5550003333": today}


def test_the_batch_day_looked_up_per_file_equals_the_day_parsed_from_each_row(spark):
    files = ["file:/l/s/batch=2025-01-02/a.csv", "file:/l/s/batch=2025-13-45/b.csv", "file:/l/s/loose.csv",
             "file:/l/s/batch=2025-01-03/c%2Bd.csv"]
    df = spark.createDataFrame([(f,) for f in files], "_source_file string")
    at = dt.datetime(2026, 1, 5, 12, 0)
    parsed = ingest.with_ingestion_metadata(df, "r9", at)
    # The last file is not in the list: its row parses its path, beside the looked-up ones.
    looked_up = ingest.with_ingestion_metadata(df, "r9", at, files[:3])
    expected = spark.createDataFrame(
        [(f, d, at, "r9") for f, d in zip(files, [dt.date(2025, 1, 2), at.date(), at.date(), dt.date(2025, 1, 3)], strict=True)],
        "_source_file string, _batch date, _ingested_at timestamp, _run_id string")
    assert_df_equality(parsed, expected, ignore_nullable=True, ignore_row_order=True)
    assert_df_equality(looked_up, expected, ignore_nullable=True, ignore_row_order=True)


def test_the_append_counts_rows_per_file_as_it_writes(spark, tmp_path):
    rows = [("a", None), ("a", "column_count"), ("b", None), ("c", "utf8_encoding")]
    df = spark.createDataFrame(rows, "_source_file string, _corrupt_reason string")
    counted = ingest.CountedAppend(["a", "b", "c", "never-read"])
    counted.attach(df).write.format("delta").save(str(tmp_path / "t"))
    assert counted.counts() == {"a": (2, 1), "b": (1, 0), "c": (1, 1)}
    # A row from a file it was not told about: the counts are not trusted, and the caller reads the table back.
    stray = ingest.CountedAppend(["a", "b"])
    stray.attach(df).write.format("delta").mode("append").save(str(tmp_path / "t"))
    assert stray.counts() is None
    backlog = ingest.CountedAppend([f"f{i}" for i in range(ingest.CountedAppend.MAX_FILES + 1)])
    assert backlog.attach(df) is df and backlog.counts() is None


def test_without_observed_counts_the_ledger_is_counted_from_bronze(spark, cfg, monkeypatch):
    monkeypatch.setattr(ingest.CountedAppend, "counts", lambda self: None)
    land(cfg, "crm/Customer_phone", "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n\"5550002222,2\n")
    land(cfg, "crm/Customer_phone", "2025-01-01", "p2.csv", b"phone,customer_id\n5550003333,3\n")
    result = ingest_source(spark, cfg, "crm/Customer_phone")
    ledger = spark.table(f"{cfg.database('ops')}.ingested_file")
    got = {Path(r.file).name: (r.rows_read, r.rows_written, r.rows_quarantined) for r in ledger.collect()}
    assert got == {"p1.csv": (2, 1, 1), "p2.csv": (1, 1, 0)}
    assert (result.rows_written, result.rows_quarantined) == (2, 1)


def test_last_append_run_reads_a_new_table_from_its_history_and_data_from_any_write(spark, cfg):
    db = cfg.database("bronze")
    ensure_tables(spark, cfg, [bronze_table(source("crm/Customer_phone"))])
    spark.sql(f"ALTER TABLE {db}.crm_customer_phone SET TBLPROPERTIES ('team' = 'crm')")
    assert ingest.last_append_run(spark, f"{db}.crm_customer_phone") is None
    # A table whose only commit wrote rows (here CREATE TABLE AS SELECT, not an append): untagged data.
    spark.sql(f"CREATE TABLE {db}.ctas USING DELTA AS SELECT 'x' AS _source_file")
    assert ingest.last_append_run(spark, f"{db}.ctas") == ""
    spark.sql(f"CREATE TABLE {db}.ctas_empty USING DELTA AS SELECT 'x' AS _source_file WHERE false")
    assert ingest.last_append_run(spark, f"{db}.ctas_empty") is None
    land(cfg, "crm/Customer_phone", "2025-01-01", "p1.csv", b"phone,customer_id\n5550001111,1\n")
    ingest_source(spark, cfg, "crm/Customer_phone", run_id="r7")
    assert ingest.last_append_run(spark, f"{db}.crm_customer_phone") == ""  # not run by the runner: no tag
