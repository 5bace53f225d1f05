"""silver.customer: conforming CRM profiles, their rules, and SCD2 versions."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from jobs.silver import customer, engine

D = dt.date
HEAD = ("customer_id", "date_of_birth", "gender", "email", "username", "FName", "LName")


def bronze_rows(spark, rows, batch="2025-01-01"):
    """Parsed bronze rows of crm_customer (source columns as text) delivered on `batch`."""
    cols = [*HEAD, "_corrupt_reason", "_raw_line", "_rescued_data", "_source_file", "_batch", "_ingested_at"]
    types = {"_batch": "date", "_ingested_at": "timestamp"}
    return spark.createDataFrame(
        [(*r, None, None, None, "f.csv", D.fromisoformat(batch), dt.datetime(2025, 1, 2)) for r in rows],
        ", ".join(f"{c} {types.get(c, 'string')}" for c in cols))


def test_conform_repairs_padding_case_and_both_date_formats(spark):
    got = customer.conform(bronze_rows(spark, [
        ("1", "1990-02-03", " m ", " Ann.Lee@Example.COM ", "ann", " Ann ", "Lee"),
        ("2", "2/3/1990", "F", "bo@x.io", "bo", "Bo", "Ng\t"),
        (" 3 ", "1990-02-30", "", None, "", "Cy", "Do"),
        ("C4", "yesterday", "X", "e.x.io", "ed", "Ed", "Fa"),
    ])).select("customer_id", "date_of_birth", "gender", "email", "username", "first_name", "last_name")
    expected = spark.createDataFrame([
        (1, D(1990, 2, 3), "M", "ann.lee@example.com", "ann", "Ann", "Lee"),
        (2, D(1990, 2, 3), "F", "bo@x.io", "bo", "Bo", "Ng"),
        (3, None, None, None, None, "Cy", "Do"),
        (None, None, "X", "e.x.io", "ed", "Ed", "Fa"),
    ], got.schema)
    assert_df_equality(got, expected, ignore_nullable=True)


def test_rules_quarantine_each_defect_under_its_own_name(spark):
    staged = customer.conform(bronze_rows(spark, [
        ("1", "1990-02-03", "M", "a@b.io", "a", "A", "B"),
        ("C2", "1990-02-03", "M", "c@b.io", "c", "C", "B"),
        ("", "1990-02-03", "M", "d@b.io", "d", "D", "B"),
        ("4", "2023-13-45", "F", "e@b.io", "e", "E", "B"),
        ("5", "2030-01-01", "F", "f@b.io", "f", "F", "B"),
        ("6", "1990-02-03", "X", "g@b.io", "g", "G", "B"),
        ("7", "1990-02-03", "F", "h.b.io", "h", "H", "B"),
        ("8", "1990-02-03", "F", "i@b.io", "i", "I", "B"),
        ("8", "1990-02-03", "F", "i@b.io", "i", "I", "Other"),
        ("9", "1899-12-31", "F", None, "j", "J", None),
    ]))
    rows = engine.checked(staged, customer.ENTITY, resent=[])
    got = [(r.customer_id, r._stage, r._reason, r._failed) for r in rows.orderBy("_record").collect()]
    assert got == [
        (None, "quarantined", "required_fields", ["required_fields"]),
        (1, "kept", None, []),
        (4, "quarantined", "valid_date", ["valid_date"]),
        (5, "quarantined", "plausible_date", ["plausible_date"]),
        (6, "quarantined", "known_enum", ["known_enum"]),
        (7, "quarantined", "valid_email", ["valid_email"]),
        (8, "quarantined", "unique_key", ["unique_key"]),
        (8, "quarantined", "unique_key", ["unique_key"]),
        (9, "quarantined", "plausible_date", ["plausible_date", "complete_profile"]),
        (None, "quarantined", "valid_id", ["valid_id"]),
    ]
    records = engine.quarantine_rows(rows, "silver.customer", "r1", dt.datetime(2025, 1, 2)).where(
        "rule = 'valid_id'").select("table", "source_table", "record", "detected_in").collect()
    assert [tuple(r) for r in records] == [("silver.customer", "bronze.crm_customer", (
        '{"customer_id":"C2","date_of_birth":"1990-02-03","gender":"M","email":"c@b.io","username":"c",'
        '"FName":"C","LName":"B"}'), "silver")]
