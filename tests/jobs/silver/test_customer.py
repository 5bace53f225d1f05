"""silver.customer: conforming CRM profiles, their rules, and SCD2 versions."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from jobs.silver import customer

D = dt.date
HEAD = ("customer_id", "date_of_birth", "gender", "email", "username", "FName", "LName")


def bronze_rows(spark, rows, batch="2025-01-01"):
    cols = [*HEAD, "_corrupt_reason", "_raw_line", "_rescued_data", "_source_file", "_batch"]
    return spark.createDataFrame([(*r, None, None, None, "f.csv", D.fromisoformat(batch)) for r in rows],
                                 ", ".join(f"{c} {'date' if c == '_batch' else 'string'}" for c in cols))


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


def test_rules_quarantine_each_defect_under_its_own_name(lake):
    lake.bronze("bronze.crm_customer", [
        dict(customer_id="1", date_of_birth="1990-02-03", gender="M", email="a@b.io", FName="A", LName="B"),
        dict(customer_id="C2", date_of_birth="1990-02-03", gender="M", email="c@b.io", FName="C", LName="B"),
        dict(customer_id="", date_of_birth="1990-02-03", gender="M", email="d@b.io", FName="D", LName="B"),
        dict(customer_id="4", date_of_birth="2023-13-45", gender="F", email="e@b.io", FName="E", LName="B"),
        dict(customer_id="5", date_of_birth="2030-01-01", gender="F", email="f@b.io", FName="F", LName="B"),
        dict(customer_id="6", date_of_birth="1990-02-03", gender="X", email="g@b.io", FName="G", LName="B"),
        dict(customer_id="7", date_of_birth="1990-02-03", gender="F", email="h.b.io", FName="H", LName="B"),
        dict(customer_id="8", date_of_birth="1990-02-03", gender="F", email="i@b.io", FName="I", LName="B"),
        dict(customer_id="8", date_of_birth="1990-02-03", gender="F", email="i@b.io", FName="I", LName="Other"),
        dict(_corrupt_reason="malformed_csv", _raw_line='9,1990-02-03,F,"j@b.io,jo,<redacted>,J,B'),
    ])
    result = lake.run(customer)
    assert lake.rows("silver.customer", "customer_id", "first_name", "is_current") == [(1, "A", True)]
    assert lake.rows("ops.quarantine", "rule", "detected_in", "batch") == [
        ("known_enum", "silver", "2025-01-01"), ("malformed_csv", "bronze", "2025-01-01"),
        ("plausible_date", "silver", "2025-01-01"), ("required_fields", "silver", "2025-01-01"),
        ("unique_key", "silver", "2025-01-01"), ("unique_key", "silver", "2025-01-01"),
        ("valid_date", "silver", "2025-01-01"), ("valid_email", "silver", "2025-01-01"),
        ("valid_id", "silver", "2025-01-01")]
    assert lake.rows("ops.quarantine", "record", where="rule = 'valid_id'") == [
        ('{"customer_id":"C2","date_of_birth":"1990-02-03","gender":"M","email":"c@b.io","FName":"C","LName":"B"}',)]
    assert lake.rows("ops.dq_result", "rule", "action", "rows_checked", "rows_failed") == [
        ("complete_profile", "warn", 9, 0), ("known_enum", "quarantine", 9, 1), ("plausible_date", "quarantine", 9, 1),
        ("required_fields", "quarantine", 9, 1), ("unique_key", "quarantine", 9, 2), ("valid_date", "quarantine", 9, 1),
        ("valid_email", "quarantine", 9, 1), ("valid_id", "quarantine", 9, 1)]
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (10, 1, 9)
