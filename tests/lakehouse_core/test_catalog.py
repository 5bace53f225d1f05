"""Creating the lake database survives a CREATE TABLE that was killed halfway."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

import lakedb
from lakehouse_core.catalog import ensure_databases, ensure_tables
from lakehouse_core.errors import LakehouseError


def table_folder(spark, db: str, name: str) -> Path:
    location = spark.sql(f"DESCRIBE DATABASE {db}").where("info_name = 'Location'").first()["info_value"]
    return Path(urlparse(location).path) / name


def test_a_table_folder_left_by_a_killed_create_is_cleared_and_the_table_created(spark, lake_cfg):
    ensure_databases(spark, lake_cfg)
    db, t = lake_cfg.database("ops"), lakedb.table("ops.dq_result")
    log = table_folder(spark, db, t.name) / "_delta_log"
    (log / "_commits").mkdir(parents=True)
    (log / "00000000000000000000.json").write_text('{"commitInfo":{"operation":"CREATE TABLE"}}\n')
    (log / ".00000000000000000000.json.crc").write_bytes(b"x")
    assert ensure_tables(spark, lake_cfg, [t]) == [f"{db}.{t.name}"]
    assert spark.table(f"{db}.{t.name}").columns == t.column_names


def test_a_table_folder_with_data_is_never_removed(spark, lake_cfg):
    ensure_databases(spark, lake_cfg)
    db, t = lake_cfg.database("ops"), lakedb.table("ops.dq_result")
    folder = table_folder(spark, db, t.name)
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"data")
    with pytest.raises(LakehouseError, match=f"{db}.dq_result is not in the catalog but its folder {folder} holds "
                                             "data"):
        ensure_tables(spark, lake_cfg, [t])
    assert (folder / "part-00000.parquet").read_bytes() == b"data"


def constraints(spark, name: str) -> dict[str, str]:
    return {r.key.removeprefix("delta.constraints."): r.value
            for r in spark.sql(f"SHOW TBLPROPERTIES {name}").collect() if r.key.startswith("delta.constraints.")}


def test_a_new_table_is_created_with_every_check_constraint_of_the_model_and_enforces_them(spark, lake_cfg):
    t = lakedb.table("silver.customer")
    name = f"{lake_cfg.database('silver')}.customer"
    assert ensure_tables(spark, lake_cfg, [t]) == [name]
    assert constraints(spark, name) == {r.name.lower(): r.expr for r in t.rules if r.constraint}
    assert len(constraints(spark, name)) == 3
    with pytest.raises(Exception, match="DELTA_VIOLATE_CONSTRAINT_WITH_VALUES"):
        spark.sql(f"INSERT INTO {name} (customer_id, gender, valid_from, is_current) VALUES (1, 'X', DATE'2024-01-01', true)")


def test_a_table_created_without_its_constraints_gets_them_added(spark, lake_cfg):
    ensure_databases(spark, lake_cfg)
    t = lakedb.table("silver.customer")
    name = f"{lake_cfg.database('silver')}.customer"
    spark.sql(f"CREATE TABLE {name} ({t.ddl_columns()}) USING DELTA")
    assert constraints(spark, name) == {}
    assert ensure_tables(spark, lake_cfg, [t]) == []
    assert set(constraints(spark, name)) == {"plausible_date", "known_enum", "valid_email"}  # ALTER reformats them
