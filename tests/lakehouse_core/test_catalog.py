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
