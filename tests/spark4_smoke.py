"""Smoke test for the Spark 4.x lane (run by `make test-spark4` in its own virtualenv).

Creates the lake database from the model, writes and reads a Delta table, and validates the manifest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyspark

from lakehouse_core.catalog import ensure_tables
from lakehouse_core.config import load_config
from lakehouse_core.session import delta_maven_coordinate, get_spark


def test_spark4_lake_database_and_delta_round_trip(tmp_path):
    assert pyspark.__version__.startswith("4."), pyspark.__version__
    assert delta_maven_coordinate().startswith("io.delta:delta-spark_2.13:4.")
    cfg = load_config("local", str(tmp_path))
    spark = get_spark(cfg, "spark4-smoke")
    try:
        created = ensure_tables(spark, cfg)
        assert "bronze.crm_customer" in created and "ops.run_log" in created
        # The model's CHECK constraints are created with the table, and Spark 4's Delta enforces them.
        keys = {r.key for r in spark.sql("SHOW TBLPROPERTIES silver.customer").collect()}
        assert {k for k in keys if k.startswith("delta.constraints.")} == {
            "delta.constraints.plausible_date", "delta.constraints.known_enum", "delta.constraints.valid_email"}
        try:
            spark.sql("INSERT INTO silver.customer (customer_id, gender, valid_from, is_current) VALUES (1, 'X', DATE'2024-01-01', true)")
            raise AssertionError("a row breaking a CHECK constraint was accepted")
        except Exception as e:  # noqa: BLE001 (the error class moved between Spark versions)
            assert "DELTA_VIOLATE_CONSTRAINT" in str(e), e
        assert {r[0] for r in spark.sql("SHOW DATABASES").collect()} >= {"bronze", "silver", "gold", "ops"}
        spark.createDataFrame([("a", 1), ("b", 2)], "k string, v int").write.format("delta") \
            .saveAsTable("ops.smoke")
        assert sorted(tuple(r) for r in spark.table("ops.smoke").collect()) == [("a", 1), ("b", 2)]
        assert spark.sql("DESCRIBE DETAIL ops.smoke").first().format == "delta"
    finally:
        spark.stop()


def test_spark4_plan_validates_the_manifest():
    exe = Path(sys.executable).parent / "lakehouse"
    out = subprocess.run([str(exe), "plan"], capture_output=True, text=True, env=os.environ, check=True)
    assert out.stdout.splitlines()[0].split()[1] == "bronze_crm_customer"
